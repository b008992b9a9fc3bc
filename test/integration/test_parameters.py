"""Parameters as data: descriptors carry ranges and choices, bad values are refused by name, the two nodes'
safety parameters are one definition, and a parameter query returns the value the node uses (real rclpy nodes
in this process)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest
import rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter
from synthetic_arm import PACKAGE, arm_urdf, write_arm

from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import load_arm
from ikrl_ros.nodes.parameters import (
    BridgeParameters,
    ParameterError,
    ReachControllerParameters,
    SafetyParameters,
    TrainNodeParameters,
    arm_of,
    check_value,
    declare_parameters,
    default_of,
    default_state_timeout,
    field_named,
    safety_limits,
    spec_of,
)

NODE_SETS = (BridgeParameters, ReachControllerParameters)
SAME_NAME_OTHER_INPUT = {"sync_mode", "max_stamp_future"}
"""Parameters both nodes declare that are not shared: each describes what that node does in a mode, or with
the messages it receives (the bridge's commands, the controller's joint states)."""


@pytest.fixture
def context() -> Iterator[None]:
    rclpy.init()
    try:
        yield
    finally:
        rclpy.try_shutdown()


def node_with(overrides: dict[str, object]) -> Node:
    return Node("parameter_test", parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])


@pytest.mark.parametrize("parameter_set", [BridgeParameters, ReachControllerParameters, TrainNodeParameters])
def test_every_parameter_is_described_read_only_and_numbers_have_ranges(context: None, parameter_set: type) -> None:
    node = node_with({})
    try:
        values = declare_parameters(node, parameter_set)
        for item in fields(parameter_set):
            described = node.describe_parameter(item.name)
            assert described.description and described.read_only, item.name
            spec = spec_of(item)
            assert not spec.unit or described.description.endswith(f"(unit: {spec.unit})"), item.name
            value = getattr(values, item.name)
            if isinstance(value, float):
                assert described.floating_point_range, f"{item.name} has no range"
                assert (
                    described.floating_point_range[0].from_value <= value <= described.floating_point_range[0].to_value
                )
            elif isinstance(value, int) and not isinstance(value, bool):
                assert described.integer_range, f"{item.name} has no range"
            assert node.get_parameter(item.name).value == value, f"{item.name}: the query differs from the value in use"
    finally:
        node.destroy_node()


@pytest.mark.parametrize(("rate", "timeout"), [(25.0, 0.08), (50.0, 0.08), (5.0, 0.4)])
def test_the_derived_watchdog_timeout_is_what_a_query_returns(context: None, rate: float, timeout: float) -> None:
    node = node_with({"control_rate": rate})
    try:
        values = declare_parameters(node, ReachControllerParameters)
        assert values.joint_state_timeout == pytest.approx(timeout)
        assert node.get_parameter("joint_state_timeout").value == pytest.approx(timeout)
    finally:
        node.destroy_node()


def test_an_explicit_watchdog_timeout_wins_over_the_derived_one(context: None) -> None:
    node = node_with({"control_rate": 5.0, "joint_state_timeout": 1.5})
    try:
        assert declare_parameters(node, ReachControllerParameters).joint_state_timeout == 1.5
    finally:
        node.destroy_node()


SAFETY_CASES = [
    ({"max_cartesian_speed": 2.0}, r"'max_cartesian_speed' must be within \[0.001, 1.25\]"),
    ({"safety_box_max": [-0.99, 0.6, 0.8]}, r"'safety_box_min' .* must be below 'safety_box_max'"),
    ({"safety_box_min": [0.0, 0.0, 11.0]}, r"'safety_box_min' must be within \[-10.0, 10.0\]"),
]
CONTROLLER_CASES = [
    ({"control_rate": 0.0}, r"'control_rate' must be within \[1.0, 1000.0\]"),
    ({"orientation": "sideways"}, r"'orientation' must be one of"),
    ({"workspace_min": [0.1, 0.2]}, r"'workspace_min' must have 3 elements"),
    ({"workspace_min": [0.9, 0.0, 0.0]}, r"'workspace_min' .* must be below 'workspace_max'"),
    ({"singularity_slowdown": 40.0}, r"'singularity_slowdown' \(40.0\) must be below 'singularity_stop'"),
    ({"base_position_in_world": [0.0, float("nan"), 0.0]}, r"'base_position_in_world' must be finite"),
    ({"controller": "magic"}, r"'controller' must be one of"),
    ({"control_rate": 50}, r"'control_rate' must be a float \(in YAML write 2.0, not 2\)"),
]


@pytest.mark.parametrize(
    ("parameter_set", "overrides", "message"),
    [(ReachControllerParameters, *case) for case in CONTROLLER_CASES + SAFETY_CASES]
    + [(BridgeParameters, *case) for case in SAFETY_CASES],
)
def test_bad_values_are_refused_by_name(
    context: None, parameter_set: type, overrides: dict[str, object], message: str
) -> None:
    node = node_with(overrides)
    try:
        with pytest.raises(ParameterError, match=message):
            declare_parameters(node, parameter_set)
    finally:
        node.destroy_node()


def test_the_nodes_share_their_safety_parameters_and_declare_nothing_else_twice() -> None:
    """One description and one set of rules per shared field; a node's own default is the only difference."""
    both = {item.name for item in fields(BridgeParameters)} & {item.name for item in fields(ReachControllerParameters)}
    shared = {item.name for item in fields(SafetyParameters)}
    assert both == shared | SAME_NAME_OTHER_INPUT
    for name in shared:
        base = spec_of(field_named(SafetyParameters, name))
        # A node's own default may come with its own derivation (the bridge's wider box); the rest is one spec.
        specs = [spec_of(field_named(parameter_set, name)) for parameter_set in NODE_SETS]
        assert all(replace(spec, derived=None) == replace(base, derived=None) for spec in specs), name
    differing = {
        name
        for name in shared
        if default_of(field_named(BridgeParameters, name)) != default_of(field_named(ReachControllerParameters, name))
    }
    assert differing == {"safety_box_min", "safety_box_max"}


def test_safety_limits_are_the_parameters() -> None:
    kinematics = ArmKinematics(load_arm())
    params = BridgeParameters(max_joint_step=0.2, joint_limit_margin=0.05, max_angular_speed=2.0)
    cartesian, joints = safety_limits(params, kinematics)
    assert cartesian.max_speed == params.max_cartesian_speed and cartesian.max_angular_speed == 2.0
    assert cartesian.box_min.tolist() == params.safety_box_min and cartesian.box_max.tolist() == params.safety_box_max
    lower, upper = kinematics.limits_with_margin(0.05)
    assert np.array_equal(joints.lower, lower) and np.array_equal(joints.upper, upper) and joints.max_step == 0.2


def test_the_derived_default_is_the_declared_default() -> None:
    """The dataclass default (what the docs show) is what ``default_state_timeout`` gives for the defaults."""
    values = {item.name: default_of(item) for item in fields(ReachControllerParameters)}
    assert default_state_timeout(values) == values["joint_state_timeout"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("control_rate", 25, r"'control_rate' must be a float \(in YAML write 2.0, not 2\)"),
        ("workspace_min", [0, 0, 0], r"'workspace_min' must be a list"),
        ("autostart", 1, r"'autostart' must be a bool"),
        ("controller", "magic", r"'controller' must be one of"),
        ("control_rat", 25.0, r"'control_rat' is not a parameter of ReachControllerParameters"),
    ],
)
def test_params_file_values_are_checked_by_the_same_rules(name: str, value: object, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        check_value(ReachControllerParameters, name, value)


def test_a_set_after_start_up_is_refused(context: None) -> None:
    node = node_with({})
    try:
        declare_parameters(node, BridgeParameters)
        result = node.set_parameters([Parameter("real_time_factor", value=2.0)])[0]
        assert not result.successful and node.get_parameter("real_time_factor").value == 1.0
    finally:
        node.destroy_node()


def test_the_robot_parameters_name_the_arm_and_its_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    arm_path = write_arm(tmp_path / "src" / PACKAGE, arm_urdf())
    values = {"robot": "ur5", "robot_description": "", "base_frame": "", "tip_frame": "", "joint_limits": ""}
    ur5 = load_arm("ur5")
    assert arm_of(values).joint_names == ur5.joint_names
    assert ReachControllerParameters.__dataclass_fields__["workspace_min"].metadata["parameter"].derived(values) == (
        ur5.workspace.box_min.tolist()
    )
    bridge_min = BridgeParameters.__dataclass_fields__["safety_box_min"].metadata["parameter"].derived(values)
    assert bridge_min[2] == -0.01 and bridge_min[0] < ur5.safety_box_min[0], "the bridge's wider second line"
    urdf = {**values, "robot": str(arm_path)}
    with pytest.raises(ParameterError, match="parameter 'robot':.*base_frame"):
        arm_of(urdf)
    assert arm_of({**urdf, "base_frame": "base", "tip_frame": "tool"}).dof == 6
    monkeypatch.setenv("ROS_PACKAGE_PATH", str(arm_path.parents[2]))  # the XML's package:// meshes
    xml = {**values, "robot_description": arm_path.read_text(), "base_frame": "base", "tip_frame": "tool"}
    assert arm_of(xml).joint_names == tuple(f"j{i}" for i in range(1, 7))
    with pytest.raises(ParameterError, match="parameter 'robot_description'"):
        arm_of({**values, "robot_description": "<robot"})
    with pytest.raises(ParameterError, match="'pybullet_ik' is panda-gym's control of its Panda"):
        BridgeParameters(robot="ur5", cartesian_execution="pybullet_ik")


def test_the_train_node_trains_another_arm_on_the_workspace_tasks_only() -> None:
    assert TrainNodeParameters(env_id="IkrlReach-v0", robot="ur5").env_kwargs() == {"robot": "ur5"}
    assert TrainNodeParameters().env_kwargs() == {}
    with pytest.raises(ParameterError, match="PandaReach-v3 is panda-gym's Panda"):
        TrainNodeParameters(robot="ur5")
    with pytest.raises(ParameterError, match="parameter 'robot': URDF /nowhere.urdf does not exist"):
        TrainNodeParameters(env_id="IkrlReach-v0", robot="/nowhere.urdf")
