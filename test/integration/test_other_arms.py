"""Arms besides the Panda through ROS: both nodes with ``robot:=NAME`` simulate and drive that arm, joint states carry
its joint names, and a policy trained for another arm stops the controller before it commands anything."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import spin_until, wait_for_log
from sensor_msgs.msg import JointState

from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import load_arm
from ikrl_ros.core.workspace import sample_reachable_goals
from ikrl_ros.rl.controller_factory import POLICY_DIR
from ikrl_ros.tools.goal_runner import GOAL_TOPICS, connected_runner
from ikrl_ros.tools.stack import FORGIVING, reach_stack, start_node

LOCKSTEP = {"sync_mode": "lockstep", **FORGIVING}


def final_errors(tmp_path: Path, robot: str, controller: dict, goal_count: int, seed: int, steps: int) -> np.ndarray:
    """Consecutive workspace goals of ``robot``, both nodes driving it (lockstep), final error of each."""
    arm = load_arm(robot)
    goals = sample_reachable_goals(goal_count, seed, ArmKinematics(arm))
    with (
        reach_stack(
            tmp_path, bridge={"robot": robot, **LOCKSTEP}, controller={"robot": robot, **controller, **LOCKSTEP}
        ) as processes,
        connected_runner(arm=arm) as runner,
    ):
        latest = runner.controller_diagnostics()
        names: list[list[str]] = []
        runner.create_subscription(JointState, "joint_states", lambda m: names.append(list(m.name)), 10)
        errors = [
            runner.run_goal(goal, GOAL_TOPICS[index % 2], budget_steps=steps).final_error
            for index, goal in enumerate(goals)
        ]
        spin_until(runner, lambda: names and latest, 5.0)
        assert names[-1] == list(arm.all_joint_names), "joint_states carry the URDF's joint names"
        assert latest["robot"] == robot
        low = np.round(arm.workspace.box_min, 3).tolist()
        assert latest["workspace"].startswith(f"box {low} to "), "diagnostics say the admitted workspace"
        assert all(process.poll() is None for process in processes), "a node died during the run"
    return np.array(errors)


@pytest.mark.parametrize("robot", ["xarm6", "ur5", "iiwa7"])
def test_ik_drives_each_shipped_arm_to_consecutive_goals_to_a_millimetre(tmp_path: Path, robot: str) -> None:
    errors = final_errors(tmp_path, robot, {"controller": "ik"}, 8, seed=31, steps=50)
    assert np.all(errors < 1e-3), f"{robot}: final errors (mm) {np.round(errors * 1000, 2)}"


@pytest.mark.parametrize("robot", ["xarm6", "ur5", "iiwa7"])
def test_each_arms_shipped_policy_reaches_its_workspace_goals(tmp_path: Path, robot: str) -> None:
    """``policy_path: sac_workspace`` names that arm's shipped policy (``policies/ROBOT/``), not the Panda's."""
    errors = final_errors(tmp_path, robot, {"controller": "sac", "policy_path": "sac_workspace"}, 12, seed=32, steps=75)
    assert np.sum(errors <= 0.005) >= 11, f"{robot}: final errors (mm) {np.round(errors * 1000, 1)}"


def test_a_policy_for_another_arm_stops_the_controller(tmp_path: Path) -> None:
    log = tmp_path / "controller.log"
    process = start_node(
        "ikrl_ros.nodes.reach_controller_node",
        {"robot": "xarm6", "controller": "sac", "policy_path": str(POLICY_DIR / "sac_workspace.pt"), **FORGIVING},
        log,
    )
    assert process.wait(60) == 2, log.read_text()
    assert wait_for_log(log, "trained for the arm 'panda', this controller drives 'xarm6'"), log.read_text()
    assert "up," not in log.read_text(), "the node must not come up"


def test_a_bad_robot_stops_both_nodes_with_the_reason(tmp_path: Path) -> None:
    for module, log in (("bridge_node", "bridge.log"), ("reach_controller_node", "controller.log")):
        process = start_node(f"ikrl_ros.nodes.{module}", {"robot": "/nowhere/arm.urdf"}, tmp_path / log)
        assert process.wait(60) == 2, (tmp_path / log).read_text()
        assert wait_for_log(tmp_path / log, "parameter 'robot': URDF /nowhere/arm.urdf does not exist")
