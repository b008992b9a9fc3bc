"""Every shipped arm: its description loads, Pinocchio and PyBullet agree on its tip, position control holds a
target, its workspace yields goals IK reaches, and ``ikrl robots`` lists it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from ikrl_ros.core.arm_sim import ArmSim
from ikrl_ros.core.collision import CollisionModel, adjacent_links
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import load_arm, shipped_robots
from ikrl_ros.core.robot_description import urdf_for_rviz
from ikrl_ros.core.workspace import sample_reachable_goals
from ikrl_ros.tools import robots

ARMS = shipped_robots()


def test_at_least_three_arms_besides_the_panda_one_of_them_six_dof() -> None:
    others = [load_arm(name) for name in ARMS if name != "panda"]
    assert len(others) >= 3 and any(arm.dof == 6 for arm in others)


@pytest.mark.parametrize("name", ARMS)
def test_the_description_is_consistent_with_its_urdf(name: str) -> None:
    arm = load_arm(name)
    kinematics = ArmKinematics(arm)
    assert kinematics.dof == arm.dof >= 6
    assert np.all(kinematics.neutral >= kinematics.lower_limits) and np.all(
        kinematics.neutral <= kinematics.upper_limits
    )
    assert arm.workspace.contains(kinematics.ee_position(arm.neutral))
    model = CollisionModel(arm)
    clearance = model.clearance(arm.neutral)
    assert clearance.scene > 0.0 and clearance.self_ > 0.0, clearance
    adjacent = adjacent_links(arm, set(model.link_of[: len(model.link_of) - len(arm.scene)]))
    assert adjacent <= set(arm.disabled_collisions)


@pytest.mark.parametrize("name", ARMS)
def test_pinocchio_and_pybullet_agree_and_position_control_reaches_a_target(name: str) -> None:
    arm = load_arm(name)
    kinematics, sim = ArmKinematics(arm), ArmSim(arm)
    try:
        rng = np.random.default_rng(0)
        for _ in range(10):
            q = rng.uniform(*kinematics.sampling_range())
            for index, angle in zip(sim.joint_indices, q, strict=False):
                sim.client.resetJointState(sim.body, index, float(angle))
            position, rotation = sim.ee_pose_base()
            expected_position, expected_rotation = kinematics.ee_pose(q)
            np.testing.assert_allclose(position, expected_position, atol=1e-6)
            np.testing.assert_allclose(rotation, expected_rotation, atol=1e-6)
        sim.reset()
        np.testing.assert_allclose(sim.arm_positions(), arm.neutral, atol=1e-12)
        target = kinematics.clamp_to_limits(arm.neutral + rng.uniform(-0.15, 0.15, arm.dof), 0.01)
        sim.apply_joint_targets(target)
        for _ in range(50):  # 2 s
            sim.step()
        np.testing.assert_allclose(sim.arm_positions(), target, atol=2e-3)
        np.testing.assert_allclose(sim.last_arm_targets(), target)
        np.testing.assert_allclose(
            sim.joint_snapshot().position[arm.dof :], list(arm.locked_joints.values()), atol=1e-3
        )
        np.testing.assert_allclose(sim.ee_position_base(), kinematics.ee_position(sim.arm_positions()), atol=1e-6)
    finally:
        sim.close()


@pytest.mark.parametrize("name", ARMS)
def test_workspace_goals_are_reached_by_ik(name: str) -> None:
    kinematics = ArmKinematics(load_arm(name))
    for goal in sample_reachable_goals(20, 0, kinematics):
        result = kinematics.solve_ik(goal)
        assert result.error < 1e-4, (goal, result)


def test_rviz_gets_file_uris_for_meshes_that_were_package_uris() -> None:
    urdf = urdf_for_rviz("ur5")
    meshes = re.findall(r'<mesh filename="([^"]+)"', urdf)
    assert meshes and all(m.startswith("file://") and Path(m.removeprefix("file://")).is_file() for m in meshes)


def test_ikrl_robots_lists_the_shipped_arms_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert robots.main(["--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [entry["name"] for entry in entries] == ARMS
    assert all(tuple(entry) == robots.JSON_KEYS and Path(entry["urdf"]).is_file() for entry in entries)
    by_name = {entry["name"]: entry for entry in entries}
    assert (
        by_name["ur5"]["dof"] == 6
        and by_name["ur5"]["tip_frame"] == "tool0"
        and sorted(by_name["ur5"]["policies"]) == ["sac_workspace", "sac_workspace_limited"]
    )
    assert "sac_workspace" in by_name["panda"]["policies"]
    assert robots.main([]) == 0
    assert "xarm6: 6 DoF, link_base → link6" in capsys.readouterr().out
