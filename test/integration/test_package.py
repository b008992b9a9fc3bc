"""The ROS 2 user's path: colcon build, ament index, installed launch/config files, and the launch file itself."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from ikrl_ros.nodes.parameters import (
    BridgeParameters,
    ReachControllerParameters,
    TrainNodeParameters,
    check_value,
    constraints,
    spec_of,
)

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_FILES = ["package.xml", "setup.py", "setup.cfg", "resource", "ikrl_ros", "launch", "config"]


@pytest.fixture(scope="module")
def installed_share(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``colcon build`` of the package in a fresh workspace; returns its share directory via ament_index."""
    colcon = shutil.which("colcon") or shutil.which("colcon", path=str(Path(sys.executable).parent))
    if colcon is None:
        pytest.skip("colcon is not installed in this environment")
    workspace = tmp_path_factory.mktemp("ws")
    source = workspace / "src" / "ikrl_ros"
    source.mkdir(parents=True)
    for name in PACKAGE_FILES:
        target = ROOT / name
        (shutil.copytree if target.is_dir() else shutil.copy)(target, source / name)
    build = subprocess.run(
        [colcon, "build", "--base-paths", "src"], cwd=workspace, capture_output=True, text=True, timeout=600
    )
    assert build.returncode == 0, build.stdout + build.stderr
    query = (
        f". {workspace}/install/setup.bash && {sys.executable} -c "
        "\"from ament_index_python.packages import get_package_share_directory as g; print(g('ikrl_ros'))\""
    )
    found = subprocess.run(["bash", "-c", query], capture_output=True, text=True, timeout=60)
    assert found.returncode == 0, found.stderr
    return Path(found.stdout.strip().splitlines()[-1])


def test_colcon_installs_package_xml_launch_and_config(installed_share: Path) -> None:
    assert (installed_share / "package.xml").is_file()
    assert (installed_share / "launch" / "reach.launch.py").is_file()
    assert (installed_share / "config" / "reach.yaml").is_file()
    assert (installed_share / "config" / "train.yaml").is_file()
    assert (installed_share / "config" / "ikrl.rviz").is_file()
    assert (installed_share / "launch" / "train.launch.py").is_file()
    assert list(
        (installed_share.parent.parent).glob("lib/python*/site-packages/ikrl_ros/policies/sac_panda_reach.pt")
    ), "shipped policies are package data"
    prefix = installed_share.parent.parent
    for executable in ("panda_bridge", "reach_controller", "ikrl"):
        assert os.access(prefix / "lib" / "ikrl_ros" / executable, os.X_OK), f"lib/ikrl_ros/{executable} missing"


def launch_file_names(path: Path) -> tuple[set[str], set[str]]:
    """Executables (``executable=...``) and share files (string pieces of PathJoinSubstitution) a launch file names."""
    tree = ast.parse(path.read_text())
    executables = {
        keyword.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for keyword in node.keywords
        if keyword.arg == "executable" and isinstance(keyword.value, ast.Constant)
    }
    share_parts = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "PathJoinSubstitution":
            parts = [element.value for element in node.args[0].elts if isinstance(element, ast.Constant)]
            share_parts.add("/".join(parts))
    return executables, share_parts


@pytest.mark.parametrize("launch_file", ["reach.launch.py", "train.launch.py"])
def test_everything_the_launch_file_names_is_installed(installed_share: Path, launch_file: str) -> None:
    executables, files = launch_file_names(installed_share / "launch" / launch_file)
    assert executables and executables <= {
        "panda_bridge",
        "reach_controller",
        "train_node",
        "robot_state_publisher",
        "rviz2",
    }
    prefix = installed_share.parent.parent
    for executable in executables - {"robot_state_publisher", "rviz2"}:  # those two come from ROS 2 itself
        assert os.access(prefix / "lib" / "ikrl_ros" / executable, os.X_OK)
    assert files, "the launch file should name its config files"
    for relative in files:
        assert (installed_share / relative).is_file(), f"launch file names {relative}, not installed"


def test_urdf_for_rviz_points_at_existing_meshes() -> None:
    import re

    from ikrl_ros.core.robot_description import urdf_for_rviz

    meshes = re.findall(r'filename="file://([^"]+)"', urdf_for_rviz())
    assert meshes and all(Path(mesh).is_file() for mesh in meshes)
    assert "package://" not in urdf_for_rviz()


def test_config_declares_only_parameters_the_nodes_know() -> None:
    """Every key in the config files is a field of the node's parameter set (a typo would be silently ignored),
    every value has the field's type and passes its checks, every parameter but a derived one is there, and a
    comment says only the unit and the allowed values (the meaning is the field's description, nowhere else)."""
    for config_file, node_name, parameter_set in (
        ("reach.yaml", "panda_bridge", BridgeParameters),
        ("reach.yaml", "reach_controller", ReachControllerParameters),
        ("train.yaml", "train_node", TrainNodeParameters),
    ):
        text = (ROOT / "config" / config_file).read_text()
        config = yaml.safe_load(text)[f"/**/{node_name}"]["ros__parameters"]  # /**/: the file applies in any namespace
        for key, value in config.items():
            check_value(parameter_set, key, value)
        specs = {item.name: spec_of(item) for item in fields(parameter_set)}
        assert set(config) == {name for name, spec in specs.items() if spec.derived is None}, node_name
        for line in text.splitlines():
            key, _, comment = line.strip().lstrip("# ").partition("  # ")
            name = key.partition(":")[0]
            if comment and name in specs:
                rules = ", ".join(part for part in (specs[name].unit, constraints(specs[name])) if part)
                rules += "; unset, it is derived" if specs[name].derived is not None else ""
                assert comment == rules, f"{config_file}: {name}'s comment is more than its unit and allowed values"
