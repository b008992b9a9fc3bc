"""numpy ↔ ROS messages for the commands the nodes publish (construction only)."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import PointStamped, TwistStamped
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from ikrl_ros.core.execution import Twist

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
