"""The launch files without a ROS 2 installation, and their parameter logic where `launch` is importable.

The first part reads launch/*.launch.py with `ast` (launch and launch_ros are not on PyPI, so the
project venv cannot import them): documented arguments, executables, node names against the params
files, and the params-file-decides rule (a launch argument that shares a name with a params-file key
defaults to empty). The second part, skipped without `launch`/`launch_ros`, generates the launch
descriptions and checks the parameters each node would really be started with, and runs the
required-node handlers in a real LaunchService.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LAUNCH_FILES = {"reach.launch.py": "reach.yaml", "train.launch.py": "train.yaml"}
PACKAGE = "ikrl_ros"
SIM_TIME = "use_sim_time"  # a parameter every node has without declaring it


def parse(launch_file: str) -> ast.Module:
    return ast.parse((ROOT / "launch" / launch_file).read_text())


def calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == name
    ]


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def constant(tree: ast.Module, node: ast.expr | None):
    """A literal, or a module-level NAME = literal, or None."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        for statement in tree.body:
            if isinstance(statement, ast.Assign) and any(getattr(t, "id", None) == node.id for t in statement.targets):
                return ast.literal_eval(statement.value)
    return None


def declared_arguments(tree: ast.Module) -> dict[str, ast.expr | None]:
    """DeclareLaunchArgument name -> its default_value expression."""
    return {call.args[0].value: keyword(call, "default_value") for call in calls(tree, "DeclareLaunchArgument")}


def documented_arguments(tree: ast.Module) -> set[str]:
    """The names listed in the docstring's 'Arguments:' section (one indented line each)."""
    docstring = ast.get_docstring(tree) or ""
    match = re.search(r"^Arguments:\n((?:[ \t]+\S.*\n?)+)", docstring, re.MULTILINE)
    assert match, "the module docstring should have an 'Arguments:' section"
    return {line.split()[0] for line in match.group(1).splitlines()}


def ikrl_nodes(tree: ast.Module) -> list[ast.Call]:
    return [call for call in calls(tree, "Node") if constant(tree, keyword(call, "package")) == PACKAGE]


def console_scripts() -> set[str]:
    setup = ast.parse((ROOT / "setup.py").read_text())
    entry_points = next(keyword(call, "entry_points") for call in calls(setup, "setup"))
    scripts = ast.literal_eval(entry_points)["console_scripts"]
    return {script.split("=")[0].strip() for script in scripts}


def params_file_keys(config: str) -> dict[str, set[str]]:
    return {
        node.removeprefix("/**/"): set(section["ros__parameters"])
        for node, section in yaml.safe_load((ROOT / "config" / config).read_text()).items()
    }


@pytest.mark.parametrize("launch_file", sorted(LAUNCH_FILES))
def test_the_docstring_documents_exactly_the_declared_arguments(launch_file: str) -> None:
    tree = parse(launch_file)
    declared, documented = set(declared_arguments(tree)), documented_arguments(tree)
    assert declared, "no DeclareLaunchArgument found"
    assert declared - documented == set(), "declared but not documented in the docstring"
    assert documented - declared == set(), "documented in the docstring but not declared"


@pytest.mark.parametrize("launch_file", sorted(LAUNCH_FILES))
def test_this_packages_nodes_are_console_scripts_named_as_in_the_params_file(launch_file: str) -> None:
    tree = parse(launch_file)
    nodes = ikrl_nodes(tree)
    assert nodes
    sections = params_file_keys(LAUNCH_FILES[launch_file])
    for node in nodes:
        executable, name = constant(tree, keyword(node, "executable")), constant(tree, keyword(node, "name"))
        assert executable in console_scripts(), f"{executable} is not a console_script in setup.py"
        # Without a fixed node name matching a section of the params file, its parameters would not apply.
        assert name in sections, f"node name {name!r} has no section in config/{LAUNCH_FILES[launch_file]}"
    assert {constant(tree, keyword(node, "name")) for node in nodes} == set(sections), (
        "a params file section no node uses"
    )


@pytest.mark.parametrize("launch_file", sorted(LAUNCH_FILES))
def test_the_files_the_launch_file_names_exist(launch_file: str) -> None:
    tree = parse(launch_file)
    named = {
        "/".join(e.value for e in call.args[0].elts if isinstance(e, ast.Constant))
        for call in calls(tree, "PathJoinSubstitution")
    }
    assert f"config/{LAUNCH_FILES[launch_file]}" in named, "params_file should default to the installed config file"
    for relative in named:
        assert (ROOT / relative).is_file(), relative


@pytest.mark.parametrize("launch_file", sorted(LAUNCH_FILES))
def test_arguments_for_params_file_keys_default_to_empty_so_the_params_file_decides(launch_file: str) -> None:
    tree = parse(launch_file)
    keys = set().union(*params_file_keys(LAUNCH_FILES[launch_file]).values()) | {SIM_TIME}
    overriding = {name: default for name, default in declared_arguments(tree).items() if name in keys}
    assert len(overriding) >= 3, "expected launch arguments that override params-file keys"
    for name, default in overriding.items():
        assert isinstance(default, ast.Constant) and default.value == "", (
            f"{name} must default to '' (its default would override the params file)"
        )


@pytest.mark.parametrize("launch_file", sorted(LAUNCH_FILES))
def test_nodes_are_made_at_launch_time_from_the_given_arguments(launch_file: str) -> None:
    """The nodes come from the OpaqueFunction's function (it sees which arguments were given), none directly."""
    tree = parse(launch_file)
    functions = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
    opaque = calls(functions["generate_launch_description"], "OpaqueFunction")
    assert len(opaque) == 1 and not calls(functions["generate_launch_description"], "Node")
    setup = functions[keyword(opaque[0], "function").id]
    assert calls(setup, "Node") and len(calls(setup, "Node")) == len(calls(tree, "Node"))


def test_nodes_of_other_packages_are_checked_before_anything_starts() -> None:
    tree = parse("reach.launch.py")
    others = {
        (constant(tree, keyword(c, "package")), constant(tree, keyword(c, "executable"))) for c in calls(tree, "Node")
    } - {(PACKAGE, e) for e in console_scripts()}
    assert others == {("robot_state_publisher", "robot_state_publisher"), ("rviz2", "rviz2")}
    assert set(constant(tree, ast.Name(id="RVIZ_EXECUTABLES"))) == others


# --- with launch and launch_ros (a ROS 2 installation) ------------------------------------------


@pytest.fixture
def load_launch_file():
    # launch.actions, not launch: `python -m pytest` puts the repository on sys.path, where the
    # launch/ folder alone imports as an (empty) namespace package.
    pytest.importorskip("launch.actions", reason="launch comes only with a ROS 2 installation, not from PyPI")
    pytest.importorskip("launch_ros.actions", reason="launch_ros comes only with a ROS 2 installation, not from PyPI")

    def load(launch_file: str):
        spec = importlib.util.spec_from_file_location(launch_file.replace(".", "_"), ROOT / "launch" / launch_file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


def generate(module, **arguments: str):
    """The launch file's entities for ``arguments`` (as `ros2 launch ... name:=value` gives them)."""
    from launch.actions import DeclareLaunchArgument, OpaqueFunction

    from launch import LaunchContext

    context = LaunchContext()
    context.launch_configurations.update(arguments)
    entities = []
    for entity in module.generate_launch_description().entities:
        if isinstance(entity, DeclareLaunchArgument):
            entity.execute(context)  # sets the default of an argument not given
        elif isinstance(entity, OpaqueFunction):
            entities += entity.execute(context) or []
    return context, entities


def started_with(context, entities) -> dict[str, tuple[list[str], dict]]:
    """node name -> (its --params-file arguments, the parameters of the launch-generated override files)."""
    from launch.substitutions import TextSubstitution
    from launch.utilities import perform_substitutions
    from launch_ros.actions import Node

    result = {}
    for node in (e for e in entities if isinstance(e, Node)):
        node._perform_substitutions(context)  # what Node.execute does before starting the process
        parts = [
            perform_substitutions(context, part) if all(isinstance(s, TextSubstitution) for s in part) else None
            for part in node.cmd
        ]
        files = [parts[i + 1] for i, part in enumerate(parts[:-1]) if part == "--params-file"]
        overrides: dict = {}
        for path in files[1:]:
            assert Path(path).name.startswith("launch_params_"), path
            for section in yaml.safe_load(Path(path).read_text()).values():
                overrides.update(section["ros__parameters"])
            os.unlink(path)
        result[node.node_name.rsplit("/", 1)[-1]] = (files, overrides)  # "/name" or "<node_namespace_unspecified>/name"
    return result


@pytest.fixture
def reach_params(tmp_path: Path) -> Path:
    config = yaml.safe_load((ROOT / "config" / "reach.yaml").read_text())
    config["/**/reach_controller"]["ros__parameters"].update(controller="ik", sync_mode="lockstep")
    config["/**/panda_bridge"]["ros__parameters"].update(sync_mode="lockstep")
    path = tmp_path / "my_reach.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_without_arguments_the_params_file_decides(load_launch_file, reach_params: Path) -> None:
    nodes = started_with(*generate(load_launch_file("reach.launch.py"), params_file=str(reach_params)))
    assert set(nodes) == {"panda_bridge", "reach_controller"}
    for name, (files, overrides) in nodes.items():
        assert files[0] == str(reach_params), name
        assert overrides == {}, f"{name} gets overrides nobody asked for"


def test_given_arguments_override_the_params_file(load_launch_file, reach_params: Path) -> None:
    module = load_launch_file("reach.launch.py")
    nodes = started_with(
        *generate(module, params_file=str(reach_params), controller="cartesian_p", policy_path="sac_workspace")
    )
    files, overrides = nodes["reach_controller"]
    assert files[0] == str(reach_params) and len(files) == 2, "the overrides come after the params file"
    assert overrides == {"controller": "cartesian_p", "policy_path": "sac_workspace"}
    assert nodes["panda_bridge"][1] == {}
    nodes = started_with(*generate(module, params_file=str(reach_params), use_sim_time="True", sync_mode="realtime"))
    assert nodes["reach_controller"][1] == {"use_sim_time": True, "sync_mode": "realtime"}
    assert nodes["panda_bridge"][1] == {
        "publish_clock": True,
        "sync_mode": "realtime",
    }  # the bridge is the /clock source
    assert nodes["reach_controller"][1]["use_sim_time"] is True, "a real boolean, not the string 'True'"
    nodes = started_with(*generate(module, params_file=str(reach_params), robot="ur5"))
    assert nodes["reach_controller"][1] == nodes["panda_bridge"][1] == {"robot": "ur5"}, "one arm for both nodes"
    nodes = started_with(*generate(module, params_file=str(reach_params), sync_mode="lockstep"))
    assert nodes["reach_controller"][1] == {"use_sim_time": True, "sync_mode": "lockstep"}, "lockstep: sim time"
    assert nodes["panda_bridge"][1] == {"publish_clock": True, "sync_mode": "lockstep"}


def test_bad_arguments_and_missing_rviz_fail_before_any_node(
    load_launch_file, reach_params: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load_launch_file("reach.launch.py")
    with pytest.raises(module.LaunchArgumentError, match="use_sim_time"):
        generate(module, params_file=str(reach_params), use_sim_time="maybe")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path))  # an ament index without robot_state_publisher and rviz2
    with pytest.raises(module.LaunchArgumentError, match="robot_state_publisher.*rviz2.*No node was started"):
        generate(module, params_file=str(reach_params), rviz="true")
    nodes = started_with(*generate(module, params_file=str(reach_params), start_bridge="false"))
    assert set(nodes) == {"reach_controller"}


def test_train_arguments_override_only_when_given(load_launch_file, tmp_path: Path) -> None:
    module = load_launch_file("train.launch.py")
    params = tmp_path / "train.yaml"
    params.write_text((ROOT / "config" / "train.yaml").read_text())
    assert started_with(*generate(module, params_file=str(params)))["train_node"] == ([str(params)], {})
    files, overrides = started_with(*generate(module, params_file=str(params), algo="td3", steps="500"))["train_node"]
    assert files[0] == str(params) and overrides == {"algo": "td3", "steps": 500}
    with pytest.raises(module.LaunchArgumentError, match="steps"):
        generate(module, params_file=str(params), steps="lots")


@pytest.mark.parametrize("launch_file", sorted(LAUNCH_FILES))
@pytest.mark.parametrize(("code", "launch_return_code"), [(3, 1), (0, 0)])
def test_a_required_process_exit_ends_the_launch_with_its_verdict(
    load_launch_file, launch_file: str, code: int, launch_return_code: int
) -> None:
    """A real LaunchService: the required process exits, the other (sleeping 60 s) is stopped, and the
    launch returns 1 for a non-zero exit code, 0 otherwise."""
    import time

    from launch.actions import ExecuteProcess

    from launch import LaunchDescription, LaunchService

    module = load_launch_file(launch_file)
    failing = ExecuteProcess(
        cmd=[sys.executable, "-c", f"import time; time.sleep(0.5); raise SystemExit({code})"], name="required"
    )
    bystander = ExecuteProcess(cmd=[sys.executable, "-c", "import time; time.sleep(60)"], name="bystander")
    service = LaunchService()
    service.include_launch_description(LaunchDescription([*module.required_node_handlers(failing), failing, bystander]))
    started = time.monotonic()
    assert service.run() == launch_return_code
    assert time.monotonic() - started < 30, "the bystander was not stopped"
