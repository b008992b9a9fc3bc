"""Pinocchio kinematics against PyBullet's own link states, and the DLS IK solver."""

from __future__ import annotations

import time

import numpy as np
import pybullet
import pytest

from ikrl_ros.kinematics import PANDA_URDF, PandaKinematics
from ikrl_ros.panda_model import sample_goals_world, world_to_base

ARM_JOINTS = range(7)
EE_LINK = 11


@pytest.fixture(scope="module")
def kinematics() -> PandaKinematics:
    return PandaKinematics()


@pytest.fixture(scope="module")
def bullet_panda():
    client = pybullet.connect(pybullet.DIRECT)
    body = pybullet.loadURDF(PANDA_URDF, useFixedBase=True, physicsClientId=client)
    yield client, body
    pybullet.disconnect(client)


def test_forward_kinematics_and_velocity_match_pybullet(kinematics: PandaKinematics, bullet_panda) -> None:
    client, body = bullet_panda
    rng = np.random.default_rng(0)
    worst_position = worst_velocity = 0.0
    for _ in range(1000):
        q = rng.uniform(kinematics.lower_limits, kinematics.upper_limits)
        dq = rng.uniform(-2.0, 2.0, size=7)
        for joint in ARM_JOINTS:
            pybullet.resetJointState(body, joint, q[joint], dq[joint], physicsClientId=client)
        link = pybullet.getLinkState(body, EE_LINK, computeLinkVelocity=True, computeForwardKinematics=True, physicsClientId=client)
        worst_position = max(worst_position, float(np.abs(kinematics.ee_position(q) - np.array(link[4])).max()))
        worst_velocity = max(worst_velocity, float(np.abs(kinematics.ee_velocity(q, dq) - np.array(link[6])).max()))
    assert worst_position < 1e-6
    assert worst_velocity < 1e-4


def test_ik_reaches_panda_gym_goals_to_a_tenth_of_a_millimetre(kinematics: PandaKinematics) -> None:
    goals = world_to_base(sample_goals_world(500, seed=3))
    started = time.perf_counter()
    results = [kinematics.solve_ik(goal) for goal in goals]
    per_solve_ms = (time.perf_counter() - started) / len(goals) * 1e3
    print(f"IK: {per_solve_ms:.3f} ms per solve from the neutral pose")
    for goal, result in zip(goals, results):
        assert result.converged, f"IK did not converge for {goal}"
        assert np.linalg.norm(kinematics.ee_position(result.joint_positions) - goal) < 1e-4
        assert np.all(result.joint_positions >= kinematics.lower_limits)
        assert np.all(result.joint_positions <= kinematics.upper_limits)


def test_ik_reaches_goals_sampled_anywhere_in_joint_space(kinematics: PandaKinematics) -> None:
    rng = np.random.default_rng(7)
    goals = [kinematics.ee_position(q) for q in rng.uniform(kinematics.lower_limits, kinematics.upper_limits, size=(300, 7))]
    errors = np.array([kinematics.solve_ik(goal).error for goal in goals])
    assert np.mean(errors < 1e-4) >= 0.99


def test_ik_reports_unreachable_goals_instead_of_pretending(kinematics: PandaKinematics) -> None:
    result = kinematics.solve_ik(np.array([2.0, 0.0, 0.3]), restarts=2)
    assert not result.converged
    assert result.error > 0.9
