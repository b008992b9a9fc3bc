"""Orientation maths, property-tested: quaternion ↔ matrix, exp/log maps, angles, yaw and top-down grasps."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ikrl_ros.core.rotations import (
    GRIPPER_DOWN,
    angle_between,
    exp_map,
    log_map,
    matrix_to_quaternion,
    quaternion_to_matrix,
    rotation_error,
    top_down,
    yaw_of,
)

unit = st.floats(-1.0, 1.0, allow_nan=False)
quaternions = (
    st.tuples(unit, unit, unit, unit)
    .filter(lambda q: np.linalg.norm(q) > 0.1)
    .map(lambda q: np.array(q) / np.linalg.norm(q))
)
rotation_vectors = st.tuples(unit, unit, unit).map(lambda v: np.array(v) * np.pi / np.sqrt(3))


@given(quaternions)
def test_quaternion_round_trip_and_orthonormal(q: np.ndarray) -> None:
    m = quaternion_to_matrix(q)
    np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(m) > 0.999
    back = matrix_to_quaternion(m)
    assert min(np.abs(back - q).max(), np.abs(back + q).max()) < 1e-7  # q and −q are the same rotation


@given(rotation_vectors)
def test_log_inverts_exp_up_to_a_half_turn(v: np.ndarray) -> None:
    rotation = exp_map(v)
    np.testing.assert_allclose(exp_map(log_map(rotation)), rotation, atol=1e-6)
    assert abs(angle_between(np.eye(3), rotation) - min(np.linalg.norm(v), np.pi)) < 1e-6


@given(
    st.tuples(unit, unit, unit).filter(lambda v: np.linalg.norm(v) > 0.1),
    st.sampled_from([0.0, 1e-7, 1e-5, 1e-4, 1e-3]),
)
def test_log_is_exact_at_and_near_a_half_turn(axis: tuple[float, float, float], below_pi: float) -> None:
    rotation = exp_map(np.array(axis) / np.linalg.norm(axis) * (np.pi - below_pi))
    # arccos near −1 loses digits: up to ~2e-7 a ten-thousandth of a radian below a half turn.
    np.testing.assert_allclose(exp_map(log_map(rotation)), rotation, atol=1e-6)


@given(quaternions, quaternions)
def test_rotation_error_turns_current_into_goal(a: np.ndarray, b: np.ndarray) -> None:
    current, goal = quaternion_to_matrix(a), quaternion_to_matrix(b)
    error = rotation_error(current, goal)
    np.testing.assert_allclose(exp_map(error) @ current, goal, atol=1e-6)
    assert abs(np.linalg.norm(error) - angle_between(current, goal)) < 1e-6
    assert abs(angle_between(current, goal) - angle_between(goal, current)) < 1e-9


@given(st.floats(-3.1, 3.1))
def test_top_down_points_the_gripper_down_with_the_given_yaw(yaw: float) -> None:
    rotation = top_down(yaw)
    np.testing.assert_allclose(rotation[:, 2], [0.0, 0.0, -1.0], atol=1e-12)
    assert abs(yaw_of(rotation) - yaw) < 1e-9


def test_rviz_2d_goal_pose_yaw_and_gripper_down() -> None:
    """RViz's "2D Goal Pose" sends a yaw-only quaternion; yaw 0 top-down is panda-gym's (1, 0, 0, 0)."""
    yaw = 0.7
    rviz = np.array([0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2)])
    assert abs(yaw_of(quaternion_to_matrix(rviz)) - yaw) < 1e-12
    np.testing.assert_allclose(matrix_to_quaternion(GRIPPER_DOWN), [1.0, 0.0, 0.0, 0.0], atol=1e-12)


@settings(max_examples=50)
@given(quaternions)
def test_frames_compose_like_ros_transforms(q: np.ndarray) -> None:
    """A pose in 'world' with the base translated (not rotated) has the same orientation in panda_link0."""
    m = quaternion_to_matrix(q)
    np.testing.assert_allclose(quaternion_to_matrix(matrix_to_quaternion(np.eye(3) @ m)), m, atol=1e-9)
