"""The shared input checks, including property tests over arbitrary floats."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikrl_ros.core import validation
from ikrl_ros.core.robot import Workspace, load_arm
from ikrl_ros.core.validation import InvalidInput

ARM = load_arm()
ARM_JOINT_NAMES = ARM.joint_names
JOINT_NAMES = ARM.all_joint_names
BASE_POSITION_IN_WORLD = ARM.base_position_in_world
BASE_FRAME = ARM.base_frame
DEFAULT_WORKSPACE = ARM.workspace

any_float = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)
NEUTRAL = [0.0, 0.41, 0.0, -1.85, 0.0, 2.26, 0.79, 0.0, 0.0]


@given(st.lists(any_float, min_size=3, max_size=3), st.sampled_from(["panda_link0", "world"]))
@settings(max_examples=300, deadline=None)
def test_a_goal_is_either_refused_or_finite_and_inside_the_workspace(point: list[float], frame: str) -> None:
    try:
        goal = validation.goal_in_base_frame(point, frame, BASE_POSITION_IN_WORLD, BASE_FRAME)
        admitted, _ = validation.admit_goal(goal, DEFAULT_WORKSPACE, clamp=True)
    except InvalidInput as error:
        assert "non-finite" in str(error)
        assert not np.all(np.isfinite(point))
        return
    assert np.all(np.isfinite(admitted))
    assert DEFAULT_WORKSPACE.contains(admitted)


@pytest.mark.parametrize("frame", ["map", "", "panda_hand", "odom/../world", "wörld"])
def test_goals_in_frames_without_a_transform_are_refused(frame: str) -> None:
    with pytest.raises(InvalidInput, match="not supported"):
        validation.goal_in_base_frame([0.5, 0.0, 0.2], frame, BASE_POSITION_IN_WORLD, BASE_FRAME)


def test_world_goals_are_shifted_by_the_configured_offset() -> None:
    goal = validation.goal_in_base_frame([0.0, 0.1, 0.2], "world", BASE_POSITION_IN_WORLD, BASE_FRAME)
    np.testing.assert_allclose(goal, [0.6, 0.1, 0.2])


def test_out_of_workspace_goals_are_rejected_or_clamped_with_a_warning() -> None:
    far = np.array([1.5, 0.0, 0.2])
    with pytest.raises(InvalidInput, match="outside the workspace; rejected"):
        validation.admit_goal(far, DEFAULT_WORKSPACE, clamp=False)
    clamped, warning = validation.admit_goal(far, DEFAULT_WORKSPACE, clamp=True)
    assert "clamped" in warning and DEFAULT_WORKSPACE.contains(clamped)
    inside = np.array([0.6, 0.0, 0.2])
    assert validation.admit_goal(inside, DEFAULT_WORKSPACE, clamp=False) == (inside, None)


def test_workspace_that_cannot_hold_any_goal_is_refused() -> None:
    with pytest.raises(ValueError, match="do not intersect"):
        Workspace(np.array([5.0, 5.0, 5.0]), np.array([6.0, 6.0, 6.0]), np.zeros(3), 0.8)


def test_joint_states_in_any_order_give_the_arm_in_canonical_order() -> None:
    names = list(reversed(JOINT_NAMES))
    positions = list(reversed(NEUTRAL))
    state = validation.arm_state_from_joint_state(ARM, names, positions, [0.0] * 9)
    np.testing.assert_allclose(state.position, NEUTRAL[:7])


@pytest.mark.parametrize(
    ("names", "position", "velocity", "message"),
    [
        (list(JOINT_NAMES[:-1]) + ["panda_joint1"], NEUTRAL, [0.0] * 9, "duplicated"),
        (list(JOINT_NAMES[1:]), NEUTRAL[1:], [0.0] * 8, "missing arm joints"),
        (list(JOINT_NAMES) + ["wheel"], NEUTRAL + [0.0], [0.0] * 10, "unknown joint names"),
        (list(JOINT_NAMES), NEUTRAL[:-1], [0.0] * 9, "9 names but 8 positions"),
        (list(JOINT_NAMES), NEUTRAL, [], "9 names but 0 velocities"),
        (list(JOINT_NAMES), [float("nan")] + NEUTRAL[1:], [0.0] * 9, "non-finite"),
        (list(JOINT_NAMES), NEUTRAL, [float("inf")] + [0.0] * 8, "non-finite"),
        ([], [], [], "missing arm joints"),
    ],
)
def test_malformed_joint_states_are_refused_with_the_reason(names, position, velocity, message) -> None:
    with pytest.raises(InvalidInput, match=message):
        validation.arm_state_from_joint_state(ARM, names, position, velocity)


def test_extra_joints_are_accepted_when_allowed() -> None:
    state = validation.arm_state_from_joint_state(
        ARM, list(JOINT_NAMES) + ["wheel"], NEUTRAL + [3.0], [0.0] * 10, allow_extra_joints=True
    )
    np.testing.assert_allclose(state.position, NEUTRAL[:7])


@given(st.lists(any_float, min_size=7, max_size=7))
@settings(max_examples=200, deadline=None)
def test_joint_commands_are_finite_or_refused(positions: list[float]) -> None:
    try:
        targets = validation.arm_targets_from_joint_command(ARM, list(ARM_JOINT_NAMES), positions)
    except InvalidInput:
        assert not np.all(np.isfinite(positions))
        return
    assert np.all(np.isfinite(targets))


def test_joint_commands_must_name_exactly_the_arm_joints() -> None:
    with pytest.raises(InvalidInput, match="not arm joints"):
        validation.arm_targets_from_joint_command(ARM, list(ARM_JOINT_NAMES) + ["panda_finger_joint1"], [0.0] * 8)
    with pytest.raises(InvalidInput, match="missing arm joints"):
        validation.arm_targets_from_joint_command(ARM, list(ARM_JOINT_NAMES[:6]), [0.0] * 6)
    with pytest.raises(InvalidInput, match="7 names but 6 positions"):
        validation.arm_targets_from_joint_command(ARM, list(ARM_JOINT_NAMES), [0.0] * 6)


@given(st.lists(any_float, min_size=3, max_size=3), st.lists(any_float, min_size=3, max_size=3))
@settings(max_examples=300, deadline=None)
def test_cartesian_commands_are_finite_or_refused(linear: list[float], angular: list[float]) -> None:
    try:
        velocity, angular_velocity = validation.cartesian_twist(linear, angular, "panda_link0", BASE_FRAME)
    except InvalidInput:
        assert not (np.all(np.isfinite(linear)) and np.all(np.isfinite(angular)))
        return
    assert np.all(np.isfinite(velocity)) and np.all(np.isfinite(angular_velocity))


def test_cartesian_commands_need_a_known_frame() -> None:
    with pytest.raises(InvalidInput, match="frame '<empty>'"):
        validation.cartesian_twist([0.1, 0.0, 0.0], [0.0] * 3, "", BASE_FRAME)


@given(st.lists(any_float, min_size=4, max_size=4))
@settings(max_examples=300, deadline=None)
def test_goal_quaternions_are_unit_rotations_or_refused(quaternion: list[float]) -> None:
    try:
        rotation = validation.goal_orientation(quaternion)
    except InvalidInput as error:
        length = np.linalg.norm(quaternion) if np.all(np.isfinite(quaternion)) else np.nan
        assert not np.isfinite(length) or abs(length - 1.0) > 0.01, str(error)
        return
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-9)


@pytest.mark.parametrize(
    ("quaternion", "message"),
    [
        ([0.0, 0.0, 0.0, 0.0], "is zero"),
        ([float("nan"), 0.0, 0.0, 1.0], "non-finite"),
        ([0.0, 0.0, 0.0, 2.0], "length 2, not 1"),
    ],
)
def test_invalid_goal_quaternions_are_named(quaternion: list[float], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        validation.goal_orientation(quaternion)


@given(st.integers(min_value=0, max_value=2**63 - 1), st.integers(min_value=0, max_value=2**63 - 1))
@settings(max_examples=300, deadline=None)
def test_stamps_in_the_future_or_at_zero_are_named(stamp_ns: int, now_ns: int) -> None:
    future = now_ns > 0 and stamp_ns - now_ns > 500_000_000
    try:
        warning = validation.check_stamp(stamp_ns, now_ns, max_future_ns=500_000_000)
    except InvalidInput as error:
        assert future and stamp_ns != 0 and "in the future" in str(error)
        return
    assert not future or stamp_ns == 0
    assert (warning is not None and "unstamped" in warning) == (stamp_ns == 0)


def test_odd_frame_names_are_quoted_back_exactly() -> None:
    for frame in ("\\x00", "a" * 500, "panda_link0 ", "PANDA_LINK0", "/panda_link0/"):
        with pytest.raises(InvalidInput) as error:
            validation.goal_in_base_frame([0.5, 0.0, 0.2], frame, BASE_POSITION_IN_WORLD, BASE_FRAME)
        assert f"'{frame}'" in str(error.value)


@pytest.mark.parametrize(
    ("position", "velocity"), [(NEUTRAL[:3] + [40.0] + NEUTRAL[4:], [0.0] * 9), (NEUTRAL, [1e39] + [0.0] * 8)]
)
def test_implausible_joint_readings_are_refused(position: list[float], velocity: list[float]) -> None:
    with pytest.raises(InvalidInput, match="implausible"):
        validation.arm_state_from_joint_state(ARM, list(JOINT_NAMES), position, velocity)


def test_joint_trajectories_give_the_point_due_within_one_period_by_name() -> None:
    names = list(reversed(ARM_JOINT_NAMES))
    points = [[float(i) / 10 for i in range(7)], [0.5] * 7, [9.0] * 7]
    targets = validation.arm_targets_from_joint_trajectory(ARM, names, points, [0.02, 0.04, 0.08], 0.04)
    np.testing.assert_array_equal(targets, [0.5] * 7)
    first = validation.arm_targets_from_joint_trajectory(ARM, names, points[:1], [0.5], 0.04)
    np.testing.assert_array_equal(first, [0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    with pytest.raises(InvalidInput, match="joint trajectory has no points"):
        validation.arm_targets_from_joint_trajectory(ARM, ARM_JOINT_NAMES, [], [], 0.04)
    with pytest.raises(InvalidInput, match="missing arm joints"):
        validation.arm_targets_from_joint_trajectory(ARM, ARM_JOINT_NAMES[:6], [[0.0] * 6], [0.04], 0.04)


def test_whole_joint_trajectories_are_reordered_and_checked() -> None:
    names = list(reversed(ARM_JOINT_NAMES))
    rows = [[float(i) for i in range(7)], [float(i) + 1 for i in range(7)]]
    samples = validation.joint_trajectory_samples(ARM, names, [0.001, 0.002], rows, rows, [[], []])
    np.testing.assert_array_equal(samples.positions[0], [6, 5, 4, 3, 2, 1, 0])
    np.testing.assert_array_equal(samples.velocities[1], [7, 6, 5, 4, 3, 2, 1])
    assert samples.accelerations is None
    with pytest.raises(InvalidInput, match="increase strictly"):
        validation.joint_trajectory_samples(ARM, names, [0.002, 0.002], rows, [[], []], [[], []])
    with pytest.raises(InvalidInput, match="one value per joint name"):
        validation.joint_trajectory_samples(ARM, names, [0.001, 0.002], rows, [[0.0], [0.0]], [[], []])
    with pytest.raises(InvalidInput, match="finite"):
        validation.joint_trajectory_samples(ARM, names, [0.001, 0.002], [rows[0], [np.nan] * 7], [[], []], [[], []])


@given(st.lists(any_float, min_size=0, max_size=10))
@settings(max_examples=200, deadline=None)
def test_position_arrays_are_seven_finite_values_or_refused(data: list[float]) -> None:
    try:
        targets = validation.arm_targets_from_array(ARM, data)
    except InvalidInput as error:
        assert (
            len(data) != 7
            and f"commands has {len(data)} values, expected 7" in str(error)
            or "non-finite" in str(error)
        )
        return
    assert len(data) == 7 and np.all(np.isfinite(targets))
