"""Through ROS: consecutive goals across the whole workspace, the bridge's DLS Cartesian execution,
a shipped workspace policy, and a real-time loop that answers the newest joint state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import spin_until
from geometry_msgs.msg import TwistStamped
from sensor_msgs.msg import JointState

from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import load_arm
from ikrl_ros.core.workspace import sample_reachable_goals
from ikrl_ros.tools.goal_runner import GOAL_TOPICS, connected_runner
from ikrl_ros.tools.stack import FORGIVING, reach_stack, start_node, stop_node

LOCKSTEP = {"sync_mode": "lockstep", **FORGIVING}


def consecutive_final_errors(
    tmp_path: Path,
    controller: dict[str, object],
    goal_count: int,
    seed: int,
    steps: int = 50,
    mode: dict[str, object] = LOCKSTEP,
) -> np.ndarray:
    """Final error of each goal, sent one after another without reset, ``steps`` control periods each (lockstep;
    ``mode`` forgiving unless told otherwise)."""
    goals = sample_reachable_goals(goal_count, seed, ArmKinematics(load_arm()))
    with (
        reach_stack(tmp_path, bridge=mode, controller={**controller, **mode}) as processes,
        connected_runner() as runner,
    ):
        errors = [
            runner.run_goal(goal, GOAL_TOPICS[index % 2], budget_steps=steps).final_error
            for index, goal in enumerate(goals)
        ]
        assert all(process.poll() is None for process in processes), "a node died during the run"
    return np.array(errors)


def test_cartesian_p_through_the_dls_bridge_reaches_50_consecutive_workspace_goals_to_a_millimetre(
    tmp_path: Path,
) -> None:
    """Position goals (issue 8): the bridge's DLS execution over consecutive goals. Turning the gripper as well
    (orientation auto → top_down) is test_pose_stack.py's subject; with it, a goal needing a large wrist turn
    can take longer than these 50 steps (the workspace benchmark gives 75)."""
    errors = consecutive_final_errors(tmp_path, {"controller": "cartesian_p", "orientation": "ignore"}, 50, seed=21)
    assert np.all(errors < 1e-3), (
        f"{np.sum(errors >= 1e-3)} goals beyond 1 mm: {np.round(errors[errors >= 1e-3] * 1000, 2)} mm"
    )


def test_the_shipped_workspace_policy_reaches_consecutive_workspace_goals(tmp_path: Path) -> None:
    errors = consecutive_final_errors(
        tmp_path, {"controller": "sac", "policy_path": "sac_workspace"}, 30, seed=22, steps=75
    )
    assert np.sum(errors <= 0.01) >= 29, f"final errors (mm): {np.round(errors * 1000, 1)}"


def test_the_launch_default_policy_reaches_consecutive_workspace_goals_within_the_limits(tmp_path: Path) -> None:
    """``strict`` (the default): the shipped limited policy through the strict bridge, which stops on any reflex."""
    errors = consecutive_final_errors(tmp_path, {}, 20, seed=24, steps=75, mode={"sync_mode": "lockstep"})
    assert np.sum(errors <= 0.005) >= 19, f"final errors (mm): {np.round(errors * 1000, 1)}"
    bridge_log = (tmp_path / "panda_bridge.log").read_text()
    assert "reflex" not in bridge_log and "loaded sac policy" in (tmp_path / "reach_controller.log").read_text()


def test_the_realtime_controller_answers_each_state_as_it_arrives(tmp_path: Path) -> None:
    """Launch defaults in real time but ``strict: false``: every command leaves within milliseconds of the state it
    answers. (A strict bridge stamps its states on its period grid, as a hardware interface does, so their age on the
    wall clock also counts how far its timer runs late.)"""
    goals = sample_reachable_goals(3, 23, ArmKinematics(load_arm()))
    stack = reach_stack(tmp_path, bridge=FORGIVING, controller={"controller": "cartesian_p", **FORGIVING})
    with stack, connected_runner() as runner:
        diagnostics = runner.controller_diagnostics()
        for index, goal in enumerate(goals):
            runner.run_goal(goal, GOAL_TOPICS[index % 2], budget_steps=25)
        runner.spin_for(1.2)
    # With a free-running timer the answered state would wait for the next tick, half a period (20 ms) on average:
    # latency (state taken to command out) minus compute time shows that wait free of the CPU the machine has left.
    values = {key: float(diagnostics[key]) for key in ("latency_p50_ms", "compute_p50_ms", "state_age_p50_ms")}
    values["latency_p99_ms"] = float(diagnostics["latency_p99_ms"])
    assert values["latency_p50_ms"] - values["compute_p50_ms"] < 5.0, diagnostics
    # Absolute times against what the loop allows, not against an idle machine's (2-5 ms): the median answer acts
    # on a state younger than one period, and even the slowest 1 % leave before the watchdog's timeout (two).
    assert values["state_age_p50_ms"] < 40.0 and values["latency_p99_ms"] < 80.0, diagnostics
    assert int(diagnostics["control_steps"]) >= 60, diagnostics


@pytest.mark.parametrize("controller", ["ik", "cartesian_p"])
def test_the_hold_goes_out_on_the_interface_the_controller_commands(tmp_path: Path, ros_node, controller: str) -> None:
    """No goal: a joint-space controller holds with the current joint positions, a Cartesian one with a zero twist."""
    twists: list[TwistStamped] = []
    joint_commands: list[JointState] = []
    ros_node.create_subscription(TwistStamped, "cartesian_cmd", twists.append, 50)
    ros_node.create_subscription(JointState, "joint_command", joint_commands.append, 50)
    bridge = start_node("ikrl_ros.nodes.bridge_node", FORGIVING, tmp_path / "bridge.log")
    node = start_node(
        "ikrl_ros.nodes.reach_controller_node", {"controller": controller, **FORGIVING}, tmp_path / "controller.log"
    )
    try:
        holding = (lambda: len(joint_commands) >= 5) if controller == "ik" else (lambda: len(twists) >= 5)
        assert spin_until(ros_node, holding, 30), "no hold command"
    finally:
        assert stop_node(node) == 0 and stop_node(bridge) == 0
    if controller == "ik":
        assert not twists, "a joint-space controller must not command the Cartesian interface"
        np.testing.assert_allclose(joint_commands[-1].position, [0.00, 0.41, 0.00, -1.85, 0.00, 2.26, 0.79], atol=0.02)
    else:
        assert not joint_commands and all(
            t.twist.linear.x == t.twist.linear.y == t.twist.linear.z == 0.0 for t in twists
        )
