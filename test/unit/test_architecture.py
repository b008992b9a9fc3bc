"""The layering rules of the package, checked on every import statement (README, "Layout").

core (ROS-free robot, simulation, controllers, safety) <- rl (ROS-free learning) <- nodes (rclpy shells)
<- tools (CLI, demo, benchmarks). A layer imports only the layers to its left, and the installed
package imports nothing of the checkout (benchmark scripts, tests) around it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "ikrl_ros"
LAYERS = ("core", "rl", "nodes", "tools")
ALLOWED = {layer: set(LAYERS[: i + 1]) for i, layer in enumerate(LAYERS)}
ROS_MODULES = ("rclpy", "launch", "launch_ros", "ament_index_python", "builtin_interfaces", "rcl_interfaces", "rosidl")


def is_ros(module: str) -> bool:
    """rclpy, launch, ament and every interface package (``*_msgs``, ``*_srvs``, ``*_interfaces``)."""
    top = module.split(".")[0]
    return top in ROS_MODULES or top.endswith(("_msgs", "_srvs", "_interfaces"))


def imported_modules(path: Path) -> set[str]:
    """Every absolute module an file imports (relative imports are not used in this package)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import; the package uses absolute imports only"
            assert node.module is not None
            if node.module == "ikrl_ros":
                modules.update(f"ikrl_ros.{alias.name}" for alias in node.names)
            else:
                modules.add(node.module)
    return modules


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "ikrl_ros" and parts[1] in LAYERS else None


def package_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_lives_in_a_layer() -> None:
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert loose == [], f"modules outside core/rl/nodes/tools: {loose}"


@pytest.mark.parametrize("path", package_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_go_downward(path: Path) -> None:
    relative = path.relative_to(PACKAGE)
    if len(relative.parts) == 1:
        return  # ikrl_ros/__init__.py
    layer = relative.parts[0]
    modules = imported_modules(path)
    for module in modules:
        if module.startswith("ikrl_ros"):
            target = layer_of(module)
            assert target is not None, f"{relative} imports {module}, which is in no layer"
            assert target in ALLOWED[layer], f"{relative} ({layer}) imports {module} ({target})"
    if layer in ("core", "rl"):
        ros = sorted(m for m in modules if m.split(".")[0] in ROS_MODULES)
        assert (
            layer == "core" and ros == ["ament_index_python.packages"] and relative.name == "resources.py" or not ros
        ), f"{relative}: the {layer} layer is ROS-free, but it imports {ros}"


@pytest.mark.parametrize("path", package_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_package_does_not_reach_into_the_checkout(path: Path) -> None:
    text = path.read_text()
    for outside in ("benchmarks/", "sys.path.insert", "sys.path.append", '"test"'):
        assert outside not in text, f"{path.relative_to(PACKAGE)} refers to {outside!r} outside the installed package"
    # Paths above the package: only the checkout fallback for editable installs (launch/ and config/ beside it)
    # and the import root handed to SB3's interpreter (it imports this same package from there).
    reaching_out = re.findall(r"parents\[([2-9])\]", text)
    allowed = {"tools/resources.py", "tools/bench_training.py"}
    assert not reaching_out or str(path.relative_to(PACKAGE)) in allowed, f"{path.relative_to(PACKAGE)} reaches above"


UNIT_TESTS = {
    "core": ("test_kinematics.py", "test_rotations.py", "test_safety.py", "test_validation.py", "test_controllers.py"),
    "rl": (
        "test_rl_algorithms.py",
        "test_rl_checkpoint.py",
        "test_rl_replay.py",
        "test_rl_training.py",
        "test_workspace_env.py",
    ),
}
"""Tests of the ROS-free layers; the others run nodes (and the tools that start them) over DDS."""


@pytest.mark.parametrize(("layer", "name"), [(layer, name) for layer, names in UNIT_TESTS.items() for name in names])
def test_tests_of_a_layer_import_that_layer(layer: str, name: str) -> None:
    modules = imported_modules(next(Path(__file__).parents[1].rglob(name)))
    above = sorted(m for m in modules if layer_of(m) not in (None, *ALLOWED[layer]))
    assert not above, f"{name} tests {layer} but imports {above}"
    ros = sorted(m for m in modules if is_ros(m))
    assert not ros, f"{name} tests the ROS-free {layer} layer but imports {ros}"
