"""numpy ↔ ROS messages for the commands the nodes publish (construction only)."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import PointStamped, TwistStamped
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from ikrl_ros.core.execution import Twist
from ikrl_ros.core.reach_loop import INTERFACE_RATE, PlannedMotion
from ikrl_ros.core.trajectory import MotionState

JOINT_COMMAND_TYPES = {
    "joint_state": (JointState, "joint_command"),
    "joint_trajectory": (JointTrajectory, "joint_trajectory"),
    "float64_multi_array": (Float64MultiArray, "commands"),
}
"""joint_command_type → (message type, topic): ours, ros2_control's JointTrajectoryController, its
forward_position_controller."""


def twist_message(twist: Twist, stamp: Time, frame_id: str) -> TwistStamped:
    """A ``TwistStamped``; a twist without an angular part has zero angular velocity."""
    message = TwistStamped()
    message.header.stamp, message.header.frame_id = stamp, frame_id
    linear, angular = message.twist.linear, message.twist.angular
    linear.x, linear.y, linear.z = (float(v) for v in twist.linear)
    if twist.angular is not None:
        angular.x, angular.y, angular.z = (float(v) for v in twist.angular)
    return message


def joint_command_message(
    kind: str, positions: np.ndarray, names: list[str], stamp: Time, period_ns: int
) -> JointState | JointTrajectory | Float64MultiArray:
    """Position targets as the ``joint_command_type`` ``kind`` carries them; a trajectory's one point is due one
    control period (``period_ns``) from its stamp."""
    values = [float(v) for v in positions]
    if kind == "float64_multi_array":
        return Float64MultiArray(data=values)  # no header: ros2_control's layout
    if kind == "joint_trajectory":
        message = JointTrajectory(joint_names=names)
        message.header.stamp = stamp
        due = Duration(sec=period_ns // 1_000_000_000, nanosec=period_ns % 1_000_000_000)
        message.points = [JointTrajectoryPoint(positions=values, time_from_start=due)]
        return message
    message = JointState(name=names, position=values)
    message.header.stamp = stamp
    return message


def point_message(position: np.ndarray, stamp: Time, frame_id: str) -> PointStamped:
    message = PointStamped()
    message.header.stamp, message.header.frame_id = stamp, frame_id
    message.point.x, message.point.y, message.point.z = (float(v) for v in position)
    return message


def planned_motion_message(
    kind: str, motion: PlannedMotion, names: list[str], stamp: Time
) -> JointState | JointTrajectory | Float64MultiArray:
    """Limited execution: a trajectory carries both planned periods at 1 kHz (positions, velocities,
    accelerations, times from the answered state's stamp); the single-point interfaces get the commanded state one
    period ahead (``JointState`` with its velocities)."""
    end = motion.end_of_current
    if kind != "joint_trajectory":
        message = joint_command_message(kind, end.position, names, stamp, 0)
        if isinstance(message, JointState):
            message.velocity = [float(v) for v in end.velocity]
        return message
    return samples_message(motion.samples(), names, stamp)


def samples_message(
    samples: MotionState, names: list[str], stamp: Time, with_derivatives: bool = True
) -> JointTrajectory:
    """1 kHz samples (rows) as a trajectory due from ``stamp``, one point per millisecond; without
    ``with_derivatives`` positions only (a position interface's stream)."""
    message = JointTrajectory(joint_names=names)
    message.header.stamp = stamp
    step_ns = round(1e9 / INTERFACE_RATE)
    for index, (position, velocity, acceleration) in enumerate(
        zip(samples.position, samples.velocity, samples.acceleration, strict=True), start=1
    ):
        due = index * step_ns
        point = JointTrajectoryPoint(
            positions=position.tolist(), time_from_start=Duration(sec=due // 1_000_000_000, nanosec=due % 1_000_000_000)
        )
        if with_derivatives:
            point.velocities, point.accelerations = velocity.tolist(), acceleration.tolist()
        message.points.append(point)
    return message
