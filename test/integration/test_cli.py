"""The `ikrl` CLI: one convention for every subcommand module, no import back into the CLI, and the commands the
README and docs show still parse."""

from __future__ import annotations

import argparse
import ast
import re
import shlex
from pathlib import Path

import pytest

from ikrl_ros.tools import command
from ikrl_ros.tools.cli import SUBCOMMAND_MODULES, build_parser

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "ikrl_ros" / "tools"
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def subparsers_of(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("module", SUBCOMMAND_MODULES, ids=lambda m: m.__name__)
def test_every_subcommand_module_registers_parsers_that_set_func_and_runs_alone(module) -> None:
    parser = command.build_parser(module.add_subcommands)
    subcommands = subparsers_of(parser)
    assert subcommands, f"{module.__name__}.add_subcommands registered nothing"
    for name, subparser in subcommands.items():
        assert callable(subparser.get_default("func")), f"ikrl {name} sets no func"
    assert callable(getattr(module, "main", None)), f"{module.__name__} has no main(argv)"


def imported(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def test_no_tool_imports_the_cli_and_the_convention_module_imports_no_tool() -> None:
    for path in TOOLS.rglob("*.py"):
        if path.name != "cli.py":
            assert "ikrl_ros.tools.cli" not in imported(path), f"{path.relative_to(ROOT)} imports the CLI back"
    tools = sorted(m for m in imported(TOOLS / "command.py") if m.startswith("ikrl_ros"))
    assert not tools, f"command.py imports {tools}: a tool importing command would import it back"


def documented_commands() -> tuple[list[str], set[str]]:
    """Full command lines in the documents' code blocks, and every subcommand named in inline code."""
    lines, names = [], set()
    for document in DOCUMENTS:
        text = document.read_text()
        names.update(re.findall(r"`ikrl ([a-z]+)", text))
        for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.DOTALL):
            for line in block.replace("\\\n", " ").splitlines():
                if line.strip().startswith("ikrl "):
                    lines.append(line.split("#")[0].strip())
    return lines, names


def test_the_commands_of_the_readme_and_docs_parse() -> None:
    lines, names = documented_commands()
    parser = build_parser()
    assert lines and names >= {"train", "eval", "plot", "bench", "figures", "sweep", "soak"}
    assert names <= set(subparsers_of(parser)), f"documented but unknown: {names - set(subparsers_of(parser))}"
    for line in lines:
        args = parser.parse_args(shlex.split(line)[1:])
        assert callable(args.func), line
