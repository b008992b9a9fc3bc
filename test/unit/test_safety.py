"""Safety limits as pure functions: speed, workspace box, joint limits, singularity slowdown."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import load_arm
from ikrl_ros.core.safety import (
    CartesianLimits,
    InterventionKind,
    JointLimits,
    SingularityGuard,
    limit_cartesian,
    limit_joint_targets,
)

ARM = load_arm()
NEUTRAL_JOINT_POSITIONS = ARM.neutral

LIMITS = CartesianLimits(1.25, np.array([0.1, -0.6, 0.0]), np.array([0.95, 0.6, 0.8]))
PERIOD = 0.04
coordinate = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(st.lists(coordinate, min_size=3, max_size=3), st.lists(st.floats(-2.0, 2.0), min_size=3, max_size=3))
@settings(max_examples=400, deadline=None)
def test_limited_commands_respect_speed_and_never_leave_the_box(velocity: list[float], ee: list[float]) -> None:
    ee = np.array(ee)
    limited, notes = limit_cartesian(np.array(velocity), ee, PERIOD, LIMITS)
    assert np.all(np.abs(limited) <= LIMITS.max_speed + 1e-12)
    target = ee + limited * PERIOD
    inside_before = np.all((ee >= LIMITS.box_min) & (ee <= LIMITS.box_max))
    if inside_before:
        assert np.all(target >= LIMITS.box_min - 1e-9) and np.all(target <= LIMITS.box_max + 1e-9)
    else:  # from outside, no axis moves farther out
        distance_before = np.maximum(LIMITS.box_min - ee, 0) + np.maximum(ee - LIMITS.box_max, 0)
        distance_after = np.maximum(LIMITS.box_min - target, 0) + np.maximum(target - LIMITS.box_max, 0)
        assert np.all(distance_after <= distance_before + 1e-9)
    assert bool(notes) == (not np.array_equal(limited, np.array(velocity)))


def test_safe_commands_pass_bit_for_bit() -> None:
    velocity = np.array([0.3, -0.2, 0.1], dtype=float)
    limited, notes = limit_cartesian(velocity, np.array([0.5, 0.0, 0.3]), PERIOD, LIMITS)
    assert notes == [] and np.array_equal(limited, velocity)


def test_joint_targets_are_clamped_inside_the_margin_and_step_limited() -> None:
    kinematics = ArmKinematics(ARM)
    limits = JointLimits(*kinematics.limits_with_margin(0.05), max_step=3.0)
    targets = NEUTRAL_JOINT_POSITIONS.copy()
    targets[6] = 3.1  # beyond panda_joint7's 2.9671 rad (the wrist turns about the end effector's axis)
    clamped, notes = limit_joint_targets(targets, NEUTRAL_JOINT_POSITIONS, limits, kinematics, LIMITS)
    assert clamped[6] == pytest.approx(limits.upper[6])
    assert notes[0].kind == InterventionKind.JOINT_BOUND and "panda_joint7" in notes[0].text
    unchanged, notes = limit_joint_targets(
        NEUTRAL_JOINT_POSITIONS + 0.01, NEUTRAL_JOINT_POSITIONS, limits, kinematics, LIMITS
    )
    assert notes == [] and np.array_equal(unchanged, NEUTRAL_JOINT_POSITIONS + 0.01)

    jump = NEUTRAL_JOINT_POSITIONS.copy()
    jump[0] = 2.5  # a 2.5 rad jump of the base joint in one period
    slow = JointLimits(limits.lower, limits.upper, max_step=0.1)
    stepped, notes = limit_joint_targets(jump, NEUTRAL_JOINT_POSITIONS, slow, kinematics, LIMITS)
    assert stepped[0] == pytest.approx(0.1)
    assert notes[0].kind == InterventionKind.JOINT_STEP and "joint step" in notes[0].text


def test_joint_targets_that_leave_the_safety_box_hold_the_arm() -> None:
    kinematics = ArmKinematics(ARM)
    limits = JointLimits(*kinematics.limits_with_margin(0.01), max_step=3.0)
    down = NEUTRAL_JOINT_POSITIONS.copy()
    down[1] = 1.6  # shoulder forward: the hand would dive through the table (z < 0)
    assert kinematics.ee_position(down)[2] < 0.0
    held, notes = limit_joint_targets(down, NEUTRAL_JOINT_POSITIONS, limits, kinematics, LIMITS)
    assert np.array_equal(held, NEUTRAL_JOINT_POSITIONS)
    assert notes[-1].kind == InterventionKind.BOX_HOLD and "out of the safety box" in notes[-1].text


def stretched_posture(elbow: float) -> np.ndarray:
    """The arm reaching far out and up (x ≈ 0.84–0.88 m): the elbow (joint 4) nearly straight."""
    q = NEUTRAL_JOINT_POSITIONS.copy()
    q[1], q[3], q[5] = 1.0, elbow, 2.26
    return q


def test_singularity_guard_with_moveit_servos_thresholds_on_the_6x7_jacobian() -> None:
    """The shipped thresholds (17, 30) act across the workspace: neutral is well below, a stretched arm above."""
    kinematics = ArmKinematics(ARM)
    guard = SingularityGuard(kinematics, slowdown=17.0, stop=30.0)
    assert 10.0 < kinematics.condition_number(NEUTRAL_JOINT_POSITIONS) < 12.0
    assert guard.scale(NEUTRAL_JOINT_POSITIONS, NEUTRAL_JOINT_POSITIONS + 0.01)[0] == 1.0
    worse, better = stretched_posture(-0.3), stretched_posture(-0.07)
    assert kinematics.condition_number(worse) > kinematics.condition_number(better) > 30.0
    assert guard.scale(better, worse)[0] == 0.0, "beyond the stop threshold, motion toward the singularity halts"
    assert guard.scale(worse, better)[0] == 1.0, "leaving the singularity is never blocked"
    with pytest.raises(ValueError):
        SingularityGuard(kinematics, slowdown=30.0, stop=17.0)


def test_singularity_guard_ramps_linearly_between_the_thresholds() -> None:
    kinematics = ArmKinematics(ARM)
    q = stretched_posture(-0.07)
    condition = kinematics.condition_number(q)
    toward = stretched_posture(-0.3)
    for slowdown, stop in ((condition - 10.0, condition + 10.0), (condition - 1.0, condition + 3.0)):
        scale, now = SingularityGuard(kinematics, slowdown, stop).scale(q, toward)
        assert now == pytest.approx(condition)
        assert scale == pytest.approx((stop - condition) / (stop - slowdown))
    assert SingularityGuard(kinematics, condition + 1.0, condition + 2.0).scale(q, toward)[0] == 1.0, "below: full"
