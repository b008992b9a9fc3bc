"""The README's parameter tables and ``config/*.yaml``, generated from the parameter dataclasses.

The dataclasses in ``parameters.py`` are the only place a parameter is described; these files are
rendered from them, so they cannot disagree (``test_parameter_docs`` fails when they do):

    python -m ikrl_ros.nodes.parameter_docs README.md config          # rewrite the tables and the config files
    python -m ikrl_ros.nodes.parameter_docs --check README.md config  # exit 1 when they differ
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import Field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from ikrl_ros.nodes.parameters import (
    BridgeParameters,
    ReachControllerParameters,
    SafetyParameters,
    TrainNodeParameters,
    constraints,
    default_of,
    field_named,
    spec_of,
)

NODES: dict[str, type] = {
    "panda_bridge": BridgeParameters,
    "reach_controller": ReachControllerParameters,
    "train_node": TrainNodeParameters,
}
SHARED: dict[type, tuple[str, ...]] = {SafetyParameters: ("panda_bridge", "reach_controller")}
"""Parameter sets several nodes extend, and those nodes: one table for all of them, a default column per node."""

CONFIG_FILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "reach.yaml": (
        "the reach stack (ros2 launch ikrl_ros reach.launch.py params_file:=...)",
        ("panda_bridge", "reach_controller"),
    ),
    "train.yaml": ("train_node (ros2 launch ikrl_ros train.launch.py params_file:=...)", ("train_node",)),
}
COMMAND = "python -m ikrl_ros.nodes.parameter_docs README.md config"


def own_fields(parameter_set: type) -> list[Field]:
    """The fields ``parameter_set`` adds to the parameter sets it extends (a node default keeps a field shared)."""
    inherited = {item.name for base in parameter_set.__mro__[1:] if is_dataclass(base) for item in fields(base)}
    return [item for item in fields(parameter_set) if item.name not in inherited]


def yaml_value(value: Any) -> str:
    """``value`` in YAML flow notation that reads back as the same value and type (the type ROS declares)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return f"[{', '.join(yaml_value(item) for item in value)}]"
    if isinstance(value, float):
        text = repr(value)
        mantissa, _, exponent = text.partition("e")
        return text if "." in mantissa or not exponent else f"{mantissa}.0e{exponent}"  # YAML 1.1 floats need a dot
    if isinstance(value, str) and (value == "" or yaml.safe_load(value) != value):
        return f'"{value}"'
    return str(value)


def markdown_default(item: Field) -> str:
    spec, value = spec_of(item), default_of(item)
    text = f"`{value}`" if isinstance(value, str) and value else yaml_value(value)
    text = f"{text} {spec.unit}" if spec.unit else text
    return f"{text} (derived)" if spec.derived is not None else text


def cell(text: str) -> str:
    return text.replace("|", "\\|") if text else "-"


def allowed(item: Field) -> str:
    spec = spec_of(item)
    return " \\| ".join(f"`{choice}`" for choice in spec.choices) if spec.choices else cell(constraints(spec))


def parameter_table(parameter_set: type) -> str:
    """Markdown table of the parameters ``parameter_set`` declares itself (shared sets have their own table)."""
    rows = ["| parameter | default | allowed | meaning |", "|---|---|---|---|"]
    for item in own_fields(parameter_set):
        spec = spec_of(item)
        rows.append(f"| `{item.name}` | {cell(markdown_default(item))} | {allowed(item)} | {cell(spec.description)} |")
    return "\n".join(rows)


def shared_table(shared: type, nodes: tuple[str, ...]) -> str:
    """Markdown table of a parameter set several nodes extend, with each node's default."""
    rows = [
        f"| parameter | {' | '.join(f'`{node}` default' for node in nodes)} | allowed | meaning |",
        "|---|" + "---|" * (len(nodes) + 2),
    ]
    for item in fields(shared):
        defaults = [markdown_default(field_named(NODES[node], item.name)) for node in nodes]
        spec = spec_of(item)
        rows.append(
            f"| `{item.name}` | {' | '.join(cell(d) for d in defaults)} | {allowed(item)} | {cell(spec.description)} |"
        )
    return "\n".join(rows)


def readme_blocks() -> dict[str, str]:
    """Marker → table: ``<!-- parameters:NAME:begin -->`` … ``<!-- parameters:NAME:end -->`` in the README."""
    blocks = {f"parameters:{node}": parameter_table(parameter_set) for node, parameter_set in NODES.items()}
    for shared, nodes in SHARED.items():
        blocks[f"parameters:{shared.__name__}"] = shared_table(shared, nodes)
    return blocks


def replace_block(text: str, marker: str, content: str) -> str:
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    if text.count(begin) != 1 or text.count(end) != 1:
        raise ValueError(f"the README needs exactly one '{begin}' … '{end}' block")
    head, rest = text.split(begin)
    return f"{head}{begin}\n{content}\n{end}{rest.split(end)[1]}"


def readme_with_tables(text: str) -> str:
    for marker, table in readme_blocks().items():
        text = replace_block(text, marker, table)
    return text


def yaml_comment(item: Field) -> str:
    spec = spec_of(item)
    comment = ", ".join(part for part in (spec.unit, constraints(spec)) if part)
    return f"{comment}; unset, it is derived" if spec.derived is not None else comment


def yaml_lines(items: list[Field]) -> list[str]:
    """``name: default  # unit, allowed values``, aligned; a derived default is commented out, so it is derived."""
    entries = [(f"{item.name}: {yaml_value(default_of(item))}", yaml_comment(item), item) for item in items]
    width = max(len(entry) for entry, _, _ in entries)
    lines = []
    for entry, comment, item in entries:
        prefix = "# " if spec_of(item).derived is not None else ""
        padded = f"{prefix}{entry}".ljust(width)
        lines.append(f"    {padded}  # {comment}" if comment else f"    {prefix}{entry}")
    return lines


def node_yaml(node: str) -> list[str]:
    """One node's section: its own parameters, then each shared set it extends (with this node's defaults)."""
    parameter_set = NODES[node]
    lines = [f"/**/{node}:  # any namespace", "  ros__parameters:", *yaml_lines(own_fields(parameter_set))]
    for shared, users in SHARED.items():
        if node in users:
            names = {item.name for item in fields(shared)}
            lines.append(f"    # {shared.__name__}, shared with {', '.join(user for user in users if user != node)}")
            lines += yaml_lines([item for item in fields(parameter_set) if item.name in names])
    return lines


def config_yaml(file_name: str) -> str:
    """A params file that sets every parameter of its nodes to its default, in any namespace."""
    what, nodes = CONFIG_FILES[file_name]
    header = [
        f"# Parameters of {what}, each at its default.",
        f"# Generated from ikrl_ros/nodes/parameters.py by `{COMMAND}`.",
        '# Comments: unit and allowed values; meanings: README "Interface" or `ros2 param describe <node> <name>`.',
    ]
    sections = ["\n".join(node_yaml(node)) for node in nodes]
    return "\n".join(header) + "\n" + "\n\n".join(sections) + "\n"


def generated_files(readme: Path, config_dir: Path) -> dict[Path, str]:
    """Every generated file and its content."""
    files = {readme: readme_with_tables(readme.read_text())}
    files.update({config_dir / name: config_yaml(name) for name in CONFIG_FILES})
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("readme", type=Path)
    parser.add_argument("config_dir", type=Path)
    parser.add_argument("--check", action="store_true", help="only report the files that differ (exit code 1)")
    args = parser.parse_args(argv)
    stale = []
    for path, content in generated_files(args.readme, args.config_dir).items():
        if path.read_text() != content:
            stale.append(path)
            if not args.check:
                path.write_text(content)
    for path in stale:
        print(f"{path}: {'differs from the parameter dataclasses' if args.check else 'rewritten'}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
