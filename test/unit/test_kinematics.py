"""Pinocchio kinematics against PyBullet's own link states, and the DLS IK solver."""

from __future__ import annotations

import time

import numpy as np
import pybullet
import pytest

from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.panda_gym_task import sample_goals_world
from ikrl_ros.core.robot import load_arm
from ikrl_ros.core.rotations import angle_between, top_down
from ikrl_ros.core.workspace import sample_reachable_poses

ARM = load_arm()
ARM_JOINTS = range(7)
EE_LINK = 11


@pytest.fixture(scope="module")
def kinematics() -> ArmKinematics:
    return ArmKinematics(ARM)


@pytest.fixture(scope="module")
def bullet_panda():
    client = pybullet.connect(pybullet.DIRECT)
    body = pybullet.loadURDF(ARM.urdf, useFixedBase=True, physicsClientId=client)
    yield client, body
    pybullet.disconnect(client)


def test_forward_kinematics_and_velocity_match_pybullet(kinematics: ArmKinematics, bullet_panda) -> None:
    client, body = bullet_panda
    rng = np.random.default_rng(0)
    worst_position = worst_velocity = 0.0
    for _ in range(1000):
        q = rng.uniform(kinematics.lower_limits, kinematics.upper_limits)
        dq = rng.uniform(-2.0, 2.0, size=7)
        for joint in ARM_JOINTS:
            pybullet.resetJointState(body, joint, q[joint], dq[joint], physicsClientId=client)
        link = pybullet.getLinkState(
            body, EE_LINK, computeLinkVelocity=True, computeForwardKinematics=True, physicsClientId=client
        )
        worst_position = max(worst_position, float(np.abs(kinematics.ee_position(q) - np.array(link[4])).max()))
        worst_velocity = max(worst_velocity, float(np.abs(kinematics.ee_velocity(q, dq) - np.array(link[6])).max()))
    assert worst_position < 1e-6
    assert worst_velocity < 1e-4


def test_ik_reaches_panda_gym_goals_to_a_tenth_of_a_millimetre(kinematics: ArmKinematics) -> None:
    goals = ARM.world_to_base(sample_goals_world(500, seed=3))
    started = time.perf_counter()
    results = [kinematics.solve_ik(goal) for goal in goals]
    per_solve_ms = (time.perf_counter() - started) / len(goals) * 1e3
    print(f"IK: {per_solve_ms:.3f} ms per solve from the neutral pose")
    for goal, result in zip(goals, results, strict=True):
        assert result.converged, f"IK did not converge for {goal}"
        assert np.linalg.norm(kinematics.ee_position(result.joint_positions) - goal) < 1e-4
        assert np.all(result.joint_positions >= kinematics.lower_limits)
        assert np.all(result.joint_positions <= kinematics.upper_limits)


def test_ik_reaches_goals_sampled_anywhere_in_joint_space(kinematics: ArmKinematics) -> None:
    rng = np.random.default_rng(7)
    goals = [
        kinematics.ee_position(q) for q in rng.uniform(kinematics.lower_limits, kinematics.upper_limits, size=(300, 7))
    ]
    errors = np.array([kinematics.solve_ik(goal).error for goal in goals])
    assert np.mean(errors < 1e-4) >= 0.99


def test_ik_reports_unreachable_goals_instead_of_pretending(kinematics: ArmKinematics) -> None:
    result = kinematics.solve_ik(np.array([2.0, 0.0, 0.3]), restarts=2)
    assert not result.converged
    assert result.error > 0.9


def test_pose_ik_reaches_random_reachable_poses_to_a_hundredth_of_a_millimetre_and_a_ten_thousandth_of_a_radian() -> (
    None
):
    """6-D IK on 100 pose goals sampled as the pose benchmark samples them (each reachable by construction)."""
    kinematics = ArmKinematics(ARM)
    for position, rotation in sample_reachable_poses(100, seed=41, kinematics=kinematics):
        result = kinematics.solve_ik(position, goal_rotation=rotation)
        reached_position, reached_rotation = kinematics.ee_pose(result.joint_positions)
        assert result.converged
        assert np.linalg.norm(reached_position - position) < 1e-5
        assert angle_between(reached_rotation, rotation) < 1e-4
        assert np.all(result.joint_positions >= kinematics.lower_limits) and np.all(
            result.joint_positions <= kinematics.upper_limits
        )


def test_position_stays_exact_when_the_orientation_is_unreachable() -> None:
    """Position is the primary task: a top-down grasp at the edge of the reach is impossible, the position is not."""
    kinematics = ArmKinematics(ARM)
    position = np.array([0.84, -0.069, 0.214])  # near the reach sphere: no top-down solution there
    result = kinematics.solve_ik(position, goal_rotation=top_down(0.0), restarts=3)
    assert not result.converged and result.angle_error > 0.1
    assert result.error < 1e-4, f"position missed by {result.error * 1000:.2f} mm"
