"""Rotations as 3×3 matrices: quaternions (ROS's x, y, z, w order), rotation vectors, angles, top-down grasps.

ROS-free and numpy-only. The grasp target ``panda_grasptarget`` points its z axis out of the fingers;
"gripper down" is a half turn about x (quaternion (1, 0, 0, 0)), which is the orientation panda-gym
commands and very nearly the neutral pose's.
"""

from __future__ import annotations

import numpy as np

GRIPPER_DOWN = np.diag([1.0, -1.0, -1.0])
"""``panda_grasptarget`` pointing straight down with yaw 0 (x forward): Rx(π)."""


def quaternion_to_matrix(quaternion_xyzw: np.ndarray) -> np.ndarray:
    """Rotation matrix of a unit quaternion (x, y, z, w)."""
    x, y, z, w = np.asarray(quaternion_xyzw, dtype=float)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_to_quaternion(rotation: np.ndarray) -> np.ndarray:
    """Unit quaternion (x, y, z, w) with w ≥ 0 of a rotation matrix (Shepperd's method, stable for all angles)."""
    m = np.asarray(rotation, dtype=float)
    trace = np.trace(m)
    candidates = [trace, m[0, 0], m[1, 1], m[2, 2]]
    largest = int(np.argmax(candidates))
    if largest == 0:
        s = 2.0 * np.sqrt(1.0 + trace)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4]
    elif largest == 1:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [s / 4, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif largest == 2:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 1] + m[1, 0]) / s, s / 4, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, s / 4, (m[1, 0] - m[0, 1]) / s]
    q = np.array(q)
    q /= np.linalg.norm(q)
    return q if q[3] >= 0 else -q


def exp_map(rotation_vector: np.ndarray) -> np.ndarray:
    """The rotation by |v| radians about v (Rodrigues)."""
    v = np.asarray(rotation_vector, dtype=float)
    angle = float(np.linalg.norm(v))
    k = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    if angle < 1e-9:
        return np.eye(3) + k
    k /= angle
    return np.eye(3) + np.sin(angle) * k + (1.0 - np.cos(angle)) * (k @ k)


def log_map(rotation: np.ndarray) -> np.ndarray:
    """Rotation vector (axis × angle, angle in [0, π]) of a rotation matrix; exact near 0 and near π."""
    m = np.asarray(rotation, dtype=float)
    cos_angle = np.clip((np.trace(m) - 1.0) / 2.0, -1.0, 1.0)
    angle = float(np.arccos(cos_angle))
    skew = np.array([m[2, 1] - m[1, 2], m[0, 2] - m[2, 0], m[1, 0] - m[0, 1]])
    if angle < 1e-6:
        return skew / 2.0
    if angle > np.pi - 1e-4:
        # sin(angle) ≈ 0: the symmetric part is I cos(angle) + (1 − cos(angle)) k kᵀ; take k from its largest
        # column and its sign from the (tiny) skew part.
        outer = ((m + m.T) / 2.0 - cos_angle * np.eye(3)) / (1.0 - cos_angle)
        largest = int(np.argmax(np.diag(outer)))
        axis = outer[:, largest] / np.sqrt(outer[largest, largest])
        if np.dot(axis, skew) < 0:
            axis = -axis
        return axis * angle
    return skew / (2.0 * np.sin(angle)) * angle


def rotation_error(current: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Rotation vector, in the base frame, that turns ``current`` into ``goal`` (goal = exp(e) · current)."""
    return log_map(goal @ current.T)


def angle_between(a: np.ndarray, b: np.ndarray) -> float:
    """The smallest rotation angle (rad) between two orientations."""
    return float(np.arccos(np.clip((np.trace(a.T @ b) - 1.0) / 2.0, -1.0, 1.0)))


def yaw_of(rotation: np.ndarray) -> float:
    """Heading of the x axis in the base's x-y plane: the yaw RViz's "2D Goal Pose" sets."""
    return float(np.arctan2(rotation[1, 0], rotation[0, 0]))


def top_down(yaw: float) -> np.ndarray:
    """Gripper pointing straight down, turned by ``yaw`` about the vertical."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ GRIPPER_DOWN
