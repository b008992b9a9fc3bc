"""The layering rules of the package and of its tests, checked on every import (README, "Layout").

core (ROS-free robot, simulation, controllers, safety) <- rl (ROS-free learning) <- nodes (rclpy shells)
<- tools (CLI, demo, benchmarks). A layer imports only the layers to its left, and the installed
package imports nothing of the checkout (benchmark scripts, tests) around it. Every file in test/unit
runs without DDS: it imports nothing of ROS or of the nodes layer, no tool that starts nodes, and no
package module that pulls those in when imported.

An import is an ``import``/``from`` statement at any depth (module level, functions, methods, ``try``,
``if TYPE_CHECKING``) or an ``importlib.import_module``/``__import__`` call with a literal name (an f-string
counts by its literal dotted prefix). The checker tests itself on synthetic sources first.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "ikrl_ros"
TESTS = Path(__file__).resolve().parents[1]
UNIT_TESTS = TESTS / "unit"
LAYERS = ("core", "rl", "nodes", "tools")
ALLOWED = {layer: set(LAYERS[: i + 1]) for i, layer in enumerate(LAYERS)}
ROS_FREE_LAYERS = ("core", "rl")

ROS_MODULES = frozenset({"rcl", "message_filters", "cv_bridge", "image_geometry", "tf_transformations"})
ROS_PREFIXES = ("rclpy", "rcl_", "rcutils", "rpyutils", "rmw", "rosidl", "ros2", "rosbag2", "launch", "ament", "tf2")
ROS_SUFFIXES = ("_msgs", "_srvs", "_actions", "_interfaces")
DDS_TOOLS = ("ikrl_ros.tools.stack", "ikrl_ros.tools.goal_runner")
"""Tools that start nodes or join the ROS graph; a unit test must not use them."""
NODE_COMMANDS = ("ros2", "launch_test")
"""Command lines (first word) that start ROS processes."""

REACHES_ABOVE_THE_PACKAGE = frozenset({"tools/resources.py", "tools/bench_training.py"})
"""Package files allowed to build paths above ``ikrl_ros/``: the checkout fallback for editable installs
(launch/ and config/ beside it) and the import root handed to SB3's interpreter. Empty it as they go."""

IMPORT_FUNCTIONS = ("import_module", "__import__")


def is_ros(module: str) -> bool:
    """rclpy, rcl, rmw, rosidl, launch, ament, ros2 tools and every interface package (``*_msgs``, ``*_srvs``...)."""
    top = module.split(".")[0]
    return top in ROS_MODULES or top.startswith(ROS_PREFIXES) or top.endswith(ROS_SUFFIXES)


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "ikrl_ros" and parts[1] in LAYERS else None


def walk(tree: ast.AST, into_functions: bool = True) -> Iterator[ast.AST]:
    """Every node of ``tree``; without ``into_functions``, only what runs when the module is imported."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if into_functions or not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                stack.append(child)


def literal_module(node: ast.expr) -> str | None:
    """The module an import call names: a string, or the complete dotted prefix of an f-string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        prefix = str(node.values[0].value).rpartition(".")[0]
        return prefix or None
    return None


def imports_in(tree: ast.AST, into_functions: bool = True) -> set[str]:
    """Every module ``tree`` imports, by statement or by an import call; relative ones keep their leading dots.
    ``from a.b import c`` gives ``a.b`` and ``a.b.c`` (``c`` may be a module)."""
    nodes = list(walk(tree, into_functions))
    callers = set(IMPORT_FUNCTIONS)  # names that import_module is bound to (``from importlib import import_module``)
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module == "importlib":
            callers.update(alias.asname or alias.name for alias in node.names if alias.name == "import_module")
    modules: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            if base != "ikrl_ros" and node.module is not None:
                modules.add(base)
            separator = "" if base.endswith(".") else "."
            modules.update(f"{base}{separator}{alias.name}" for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call):
            function = node.func
            name = function.id if isinstance(function, ast.Name) else getattr(function, "attr", None)
            arguments = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "name")]
            if name in callers and arguments and (module := literal_module(arguments[0])):
                modules.add(module)
    return modules


def imports_of(path: Path, into_functions: bool = True) -> set[str]:
    return imports_in(ast.parse(path.read_text(), str(path)), into_functions)


def layer_violations(layer: str, modules: set[str]) -> list[str]:
    """What ``modules`` break of ``layer``'s rules: relative or upward imports, package modules in no layer,
    and anything of ROS in a ROS-free layer."""
    problems = []
    for module in sorted(modules):
        if module.startswith("."):
            problems.append(f"relative import {module} (the package uses absolute imports only)")
        elif module.split(".")[0] == "ikrl_ros":
            target = layer_of(module)
            if target is None:
                problems.append(f"{module} is in no layer")
            elif target not in ALLOWED[layer]:
                problems.append(f"{module} is in {target}, above {layer}")
        elif layer in ROS_FREE_LAYERS and is_ros(module):
            problems.append(f"{module} is ROS, and {layer} is ROS-free")
    return problems


def module_file(module: str) -> Path | None:
    """The package file of ``module``, or of its longest prefix that is a module (``a.b.Name`` -> ``a/b.py``)."""
    parts = module.split(".")
    while len(parts) > 1 and parts[0] == "ikrl_ros":
        base = PACKAGE.parent.joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        parts.pop()
    return None


@functools.cache
def import_time_closure(module: str) -> frozenset[str]:
    """Every module that importing ``module`` imports, following package modules (parent ``__init__`` included)."""
    seen: set[str] = set()
    pending = [module]
    visited: set[Path] = set()
    while pending:
        current = pending.pop()
        seen.add(current)
        parts = current.split(".")
        files = [module_file(".".join(parts[:i])) for i in range(2, len(parts) + 1)]
        files = [PACKAGE / "__init__.py", *files] if parts[0] == "ikrl_ros" else []
        for path in files:
            if path is not None and path not in visited:
                visited.add(path)
                pending.extend(imports_of(path, into_functions=False) - seen)
    return frozenset(seen)


def joins_the_ros_graph(module: str) -> bool:
    """ROS itself, the nodes layer, or a tool that starts nodes."""
    in_a_dds_tool = any(module == tool or module.startswith(f"{tool}.") for tool in DDS_TOOLS)
    return is_ros(module) or layer_of(module) == "nodes" or in_a_dds_tool


def outermost(modules: Iterable[str]) -> list[str]:
    """``modules`` without those inside another of them (``a.b`` and ``a.b.C`` give ``a.b``), sorted."""
    names = set(modules)
    return sorted(m for m in names if not any(m.startswith(f"{other}.") for other in names))


def decorated_as_fixture(function: ast.FunctionDef) -> bool:
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if (target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)) == "fixture":
            return True
    return False


def dds_fixtures(conftest: Path) -> set[str]:
    """The fixtures of ``conftest`` that import ROS (a node, an rclpy context)."""
    tree = ast.parse(conftest.read_text(), str(conftest))
    return {
        node.name
        for node in walk(tree)
        if isinstance(node, ast.FunctionDef)
        and decorated_as_fixture(node)
        and any(joins_the_ros_graph(m) for m in imports_in(node))
    }


def unit_test_violations(source: str, filename: str, fixtures: set[str], strings: bool = True) -> list[str]:
    """Why a test file with ``source`` would join the ROS graph: what it imports (anywhere in it, or through the
    modules it imports), DDS ``fixtures`` it requests and, with ``strings``, node modules, ROS commands or DDS
    fixtures it names in a string."""
    tree = ast.parse(source, filename)
    modules = imports_in(tree)
    problems = [f"imports {module}" for module in outermost(m for m in modules if joins_the_ros_graph(m))]
    for module in sorted(m for m in modules if m.split(".")[0] == "ikrl_ros" and not joins_the_ros_graph(m)):
        pulled = outermost(m for m in import_time_closure(module) if joins_the_ros_graph(m))
        if pulled:
            problems.append(f"imports {module}, and importing it imports {pulled}")
    for node in walk(tree):
        if strings and isinstance(node, ast.Constant) and isinstance(node.value, str):
            words = node.value.split()
            if node.value.startswith("ikrl_ros.nodes") or (words and words[0] in NODE_COMMANDS):
                problems.append(f"names {node.value!r}, which starts ROS processes")
            elif node.value in fixtures:
                problems.append(f"names the DDS fixture {node.value!r}")
        elif isinstance(node, ast.arg) and node.arg in fixtures:
            problems.append(f"requests the DDS fixture {node.arg!r}")
    return problems


def reaches_above_the_package(relative: Path, text: str) -> bool:
    """Whether the file at ``relative`` (inside ikrl_ros/) builds a path above ikrl_ros/ from its own location:
    ``parents[k]`` with k >= its depth, or as many chained ``.parent`` plus one."""
    depth = len(relative.parts)  # parents[depth - 1] is ikrl_ros/
    indices = [int(k) for k in re.findall(r"\.parents\[(\d+)\]", text)]
    chains = [chain.count(".parent") for chain in re.findall(r"(?:\.parent(?![\w\[]))+", text)]
    return any(k >= depth for k in indices) or any(n > depth for n in chains)


def package_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def unit_test_files() -> list[Path]:
    return sorted(UNIT_TESTS.rglob("*.py"))


DDS_FIXTURES = dds_fixtures(TESTS / "conftest.py")


# --- the checker on synthetic sources: each must be caught, so the checks below cannot pass by missing imports


NESTED_SOURCES = {
    "function": "def f():\n    from geometry_msgs.msg import Pose\n    return Pose\n",
    "method": "class A:\n    def m(self):\n        import geometry_msgs.msg\n",
    "try": "try:\n    import geometry_msgs.msg\nexcept ImportError:\n    pass\n",
    "type_checking": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from geometry_msgs.msg import Pose\n",
    "deep": (
        "async def f():\n    with open('x'):\n        for _ in []:\n"
        "            yield [lambda: __import__('geometry_msgs.msg') for _ in range(2)]\n"
    ),
    "import_module": "import importlib\ndef f():\n    return importlib.import_module('geometry_msgs.msg')\n",
    "aliased": "from importlib import import_module as load\ndef f():\n    return load(name='geometry_msgs.msg')\n",
    "f_string": "import importlib\ndef f(kind):\n    return importlib.import_module(f'geometry_msgs.{kind}')\n",
}


@pytest.mark.parametrize("where", NESTED_SOURCES)
def test_the_checker_finds_an_interface_import_at_any_depth(where: str) -> None:
    modules = imports_in(ast.parse(NESTED_SOURCES[where]))
    assert any(m.startswith("geometry_msgs") for m in modules), modules
    assert layer_violations("core", modules) and layer_violations("rl", modules), "a ROS-free layer must refuse it"
    assert not layer_violations("nodes", modules), "nodes may import interface packages"
    assert unit_test_violations(NESTED_SOURCES[where], where, set()), "a unit test must refuse it"


def test_the_checker_refuses_a_nested_geometry_msgs_import_in_core_and_passes_a_clean_module() -> None:
    nested = "import numpy as np\n\ndef pose(x):\n    from geometry_msgs.msg import Pose\n    return Pose()\n"
    assert layer_violations("core", imports_in(ast.parse(nested))) == [
        "geometry_msgs.msg is ROS, and core is ROS-free",
        "geometry_msgs.msg.Pose is ROS, and core is ROS-free",
    ]
    clean = "import numpy as np\n\ndef f():\n    from ikrl_ros.core import kinematics\n    return kinematics\n"
    assert imports_in(ast.parse(clean)) == {"numpy", "ikrl_ros.core", "ikrl_ros.core.kinematics"}
    assert layer_violations("core", imports_in(ast.parse(clean))) == []
    upward = "def f():\n    from ikrl_ros.nodes.ros_common import xyz\n"
    assert layer_violations("rl", imports_in(ast.parse(upward))) == [
        "ikrl_ros.nodes.ros_common is in nodes, above rl",
        "ikrl_ros.nodes.ros_common.xyz is in nodes, above rl",
    ]
    assert layer_violations("core", imports_in(ast.parse("from . import sim\n"))) == [
        "relative import .sim (the package uses absolute imports only)"
    ]


def test_import_time_imports_leave_out_function_bodies() -> None:
    source = "import numpy\ntry:\n    import yaml\nexcept ImportError:\n    yaml = None\ndef f():\n    import rclpy\n"
    assert imports_in(ast.parse(source), into_functions=False) == {"numpy", "yaml"}
    assert "rclpy" in import_time_closure("ikrl_ros.tools.goal_runner"), "a node class imports rclpy with its module"
    assert not any(joins_the_ros_graph(m) for m in import_time_closure("ikrl_ros.core.kinematics"))


@pytest.mark.parametrize(
    "module",
    ["rclpy.node", "rcl_interfaces.msg", "builtin_interfaces.msg", "geometry_msgs.msg", "std_srvs.srv", "rosidl_parser"]
    + ["launch", "launch_ros.actions", "launch_testing", "ament_index_python.packages", "tf2_ros", "control_msgs"],
)
def test_is_ros_knows_ros_packages(module: str) -> None:
    assert is_ros(module)


@pytest.mark.parametrize("module", ["numpy", "torch", "pybullet", "gymnasium", "panda_gym", "yaml", "ikrl_ros.core"])
def test_is_ros_leaves_other_packages_alone(module: str) -> None:
    assert not is_ros(module)


UNIT_TEST_SOURCES = {
    "stack": "def test_x(tmp_path):\n    from ikrl_ros.tools.stack import reach_stack\n",
    "goal_runner": "from ikrl_ros.tools import goal_runner\n",
    "nodes": "from ikrl_ros.nodes.ros_common import xyz\n",
    "rclpy": "def test_x():\n    import rclpy\n    rclpy.init()\n",
    "node_module": "import subprocess, sys\nsubprocess.run([sys.executable, '-m', 'ikrl_ros.nodes.bridge_node'])\n",
    "ros2_cli": "import subprocess\nsubprocess.run(['ros2', 'topic', 'list'])\n",
    "fixture": "def test_x(ros_node):\n    pass\n",
    "usefixtures": "import pytest\n@pytest.mark.usefixtures('ros_node')\ndef test_x():\n    pass\n",
}


@pytest.mark.parametrize("case", UNIT_TEST_SOURCES)
def test_the_checker_refuses_a_unit_test_that_would_join_the_ros_graph(case: str) -> None:
    assert "ros_node" in DDS_FIXTURES, f"conftest's DDS fixtures, as found: {DDS_FIXTURES}"
    assert unit_test_violations(UNIT_TEST_SOURCES[case], case, DDS_FIXTURES)


def test_the_checker_passes_a_ros_free_unit_test() -> None:
    source = (
        "from ikrl_ros.rl.config import make_config\nfrom ikrl_ros.core import validation\n\n"
        "def test_x(tmp_path):\n    pass\n"
    )
    assert unit_test_violations(source, "clean", DDS_FIXTURES) == []


def test_reaching_above_the_package_counts_the_file_depth() -> None:
    assert reaches_above_the_package(Path("tools/x.py"), "ROOT = Path(__file__).resolve().parents[2]")
    assert not reaches_above_the_package(Path("tools/x.py"), "HERE = Path(__file__).resolve().parents[1]")
    assert not reaches_above_the_package(Path("tools/sweep/x.py"), "PKG = Path(__file__).parents[2]")
    assert reaches_above_the_package(Path("tools/x.py"), "ROOT = Path(__file__).parent.parent.parent")
    assert not reaches_above_the_package(Path("tools/x.py"), "PKG = Path(__file__).parent.parent")


# --- the package


def test_every_module_lives_in_a_layer() -> None:
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert loose == [], f"modules outside core/rl/nodes/tools: {loose}"
    assert len(package_files()) > 20, "the package was not found"


@pytest.mark.parametrize("path", package_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_go_downward(path: Path) -> None:
    relative = path.relative_to(PACKAGE)
    if len(relative.parts) == 1:
        return  # ikrl_ros/__init__.py
    problems = layer_violations(relative.parts[0], imports_of(path))
    assert not problems, f"{relative} ({relative.parts[0]}): {problems}"


@pytest.mark.parametrize("path", package_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_package_does_not_reach_into_the_checkout(path: Path) -> None:
    relative = path.relative_to(PACKAGE)
    text = path.read_text()
    for outside in ("benchmarks/", "sys.path.insert", "sys.path.append", '"test"'):
        assert outside not in text, f"{relative} refers to {outside!r} outside the installed package"
    assert not reaches_above_the_package(relative, text) or str(relative) in REACHES_ABOVE_THE_PACKAGE, (
        f"{relative} builds a path above ikrl_ros/"
    )


def test_the_allowances_to_reach_above_name_existing_files() -> None:
    assert all((PACKAGE / name).is_file() for name in REACHES_ABOVE_THE_PACKAGE), REACHES_ABOVE_THE_PACKAGE


# --- the unit tests


def test_the_unit_tests_are_found() -> None:
    assert Path(__file__).resolve() in unit_test_files() and len(unit_test_files()) > 5


@pytest.mark.parametrize("path", unit_test_files(), ids=lambda p: str(p.relative_to(UNIT_TESTS)))
def test_a_unit_test_does_not_join_the_ros_graph(path: Path) -> None:
    """Nothing of ROS or of the nodes layer, no tool that starts nodes; package modules only if importing them
    imports none of that (lazy imports inside a tool's functions are the functions' business)."""
    this_file = path == Path(__file__).resolve()  # its synthetic sources and names are data, not commands
    problems = unit_test_violations(path.read_text(), str(path), DDS_FIXTURES, strings=not this_file)
    assert not problems, f"{path.relative_to(TESTS)}: {problems}"
