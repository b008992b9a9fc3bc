"""Parameters as data: descriptors carry ranges and choices, bad values are refused by name, and a parameter
query returns the value the node uses (real rclpy nodes in this process)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields

import pytest
import rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter

from ikrl_ros.nodes.parameters import (
    BridgeParameters,
    ParameterError,
    ReachControllerParameters,
    TrainNodeParameters,
    declare_parameters,
)


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


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"control_rate": 0.0}, r"'control_rate' must be within \[1.0, 1000.0\]"),
        ({"orientation": "sideways"}, r"'orientation' must be one of"),
        ({"workspace_min": [0.1, 0.2]}, r"'workspace_min' must have 3 elements"),
        ({"workspace_min": [0.9, 0.0, 0.0]}, r"'workspace_min' .* must be below 'workspace_max'"),
        ({"singularity_slowdown": 40.0}, r"'singularity_slowdown' \(40.0\) must be below 'singularity_stop'"),
        ({"base_position_in_world": [0.0, float("nan"), 0.0]}, r"'base_position_in_world' must be finite"),
        ({"controller": "magic"}, r"'controller' must be one of"),
        ({"control_rate": 50}, r"'control_rate' must be a float \(in YAML write 2.0, not 2\)"),
        ({"max_cartesian_speed": 2.0}, r"'max_cartesian_speed' must be within \[0.001, 1.25\]"),
    ],
)
def test_bad_values_are_refused_by_name(context: None, overrides: dict[str, object], message: str) -> None:
    node = node_with(overrides)
    try:
        with pytest.raises(ParameterError, match=message):
            declare_parameters(node, ReachControllerParameters)
    finally:
        node.destroy_node()


def test_a_set_after_start_up_is_refused(context: None) -> None:
    node = node_with({})
    try:
        declare_parameters(node, BridgeParameters)
        result = node.set_parameters([Parameter("real_time_factor", value=2.0)])[0]
        assert not result.successful and node.get_parameter("real_time_factor").value == 1.0
    finally:
        node.destroy_node()
