"""Pose goals through ROS: orientation tracked numerically and by the shipped pose policy, top-down grasps,
the angle feedback, and invalid quaternions refused before they reach a command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import spin_until, wait_for_log
from geometry_msgs.msg import PoseStamped, TwistStamped
from std_msgs.msg import Float64

from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import load_arm
from ikrl_ros.core.rotations import angle_between, matrix_to_quaternion, quaternion_to_matrix
from ikrl_ros.core.workspace import sample_reachable_poses
from ikrl_ros.tools.goal_runner import connected_runner
from ikrl_ros.tools.stack import FORGIVING, reach_stack, start_node, stop_node

LOCKSTEP = {"sync_mode": "lockstep", **FORGIVING}


def pose_errors(
    tmp_path: Path, controller: dict[str, object], count: int, seed: int, steps: int = 75
) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Final position and angle errors of consecutive pose goals sent on goal_pose (lockstep), and the
    controller's last ~/goal_angle_error."""
    poses = sample_reachable_poses(count, seed, ArmKinematics(load_arm()))
    reported: list[float] = []
    with reach_stack(tmp_path, bridge=LOCKSTEP, controller={**controller, **LOCKSTEP}), connected_runner() as runner:
        runner.create_subscription(Float64, "reach_controller/goal_angle_error", lambda m: reported.append(m.data), 100)
        distances, angles = [], []
        for position, rotation in poses:
            outcome = runner.run_goal(
                position, "goal_pose", budget_steps=steps, quaternion=matrix_to_quaternion(rotation)
            )
            distances.append(outcome.final_error)
            angles.append(angle_between(quaternion_to_matrix(outcome.orientations[-1]), rotation))
    return np.array(distances), np.array(angles), reported


def test_ik_tracks_30_consecutive_pose_goals_to_a_millimetre_and_a_hundredth_of_a_radian(tmp_path: Path) -> None:
    distances, angles, reported = pose_errors(tmp_path, {"controller": "ik", "orientation": "track"}, 30, seed=31)
    assert np.all(distances < 1e-3) and np.all(angles < 0.01), (
        f"mm: {np.round(distances * 1e3, 2)}, rad: {np.round(angles, 4)}"
    )
    assert reported and reported[-1] < 0.01, "~/goal_angle_error must report the remaining angle"


def test_the_shipped_pose_policy_reaches_pose_goals(tmp_path: Path) -> None:
    distances, angles, _ = pose_errors(
        tmp_path, {"controller": "sac", "policy_path": "sac_workspace_pose", "orientation": "track"}, 20, seed=32
    )
    within = (distances <= 0.005) & (angles <= 0.05)
    assert np.sum(within) >= 18, f"mm: {np.round(distances * 1e3, 1)}, rad: {np.round(angles, 3)}"


def test_top_down_points_the_gripper_down_with_the_goal_yaw(tmp_path: Path) -> None:
    """RViz's 2D Goal Pose: a yaw-only quaternion (and z = 0, admitted at 1 cm) → gripper vertical, that yaw."""
    goals = [(np.array([0.5, 0.2, 0.0]), 0.8), (np.array([0.4, -0.3, 0.3]), -1.1), (np.array([0.65, 0.0, 0.15]), 0.3)]
    with (
        reach_stack(tmp_path, bridge=LOCKSTEP, controller={"controller": "cartesian_p", **LOCKSTEP}),
        connected_runner() as runner,
    ):
        for position, yaw in goals:
            quaternion = np.array([0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2)])
            outcome = runner.run_goal(
                position,
                "goal_pose",
                budget_steps=75,
                quaternion=quaternion,
                expected=np.maximum(position, [0, -1, 0.01]),
            )
            rotation = quaternion_to_matrix(outcome.orientations[-1])
            assert np.arccos(np.clip(-rotation[2, 2], -1.0, 1.0)) < 0.01, "the gripper axis must point straight down"
            assert abs(np.arctan2(rotation[1, 0], rotation[0, 0]) - yaw) < 0.01
            assert outcome.final_error < 1e-3


def test_invalid_quaternions_are_refused_with_a_warning_and_never_commanded(tmp_path: Path, ros_node) -> None:
    log = tmp_path / "controller.log"
    bridge = start_node("ikrl_ros.nodes.bridge_node", FORGIVING, tmp_path / "bridge.log")
    node = start_node(
        "ikrl_ros.nodes.reach_controller_node", {"controller": "cartesian_p", "orientation": "track", **FORGIVING}, log
    )
    twists: list[TwistStamped] = []
    ros_node.create_subscription(TwistStamped, "cartesian_cmd", twists.append, 100)
    goal_pub = ros_node.create_publisher(PoseStamped, "goal_pose", 10)
    try:
        assert spin_until(ros_node, lambda: len(twists) > 5 and goal_pub.get_subscription_count() > 0, 30), (
            "stack did not come up"
        )
        spin_until(ros_node, lambda: False, 0.5)
        for quaternion, warning in (
            ([0.0, 0.0, 0.0, 0.0], "goal orientation quaternion is zero"),
            ([float("nan"), 0.0, 0.0, 1.0], "goal orientation quaternion contains non-finite values"),
            ([0.0, 0.0, 0.0, 3.0], "has length 3, not 1"),
        ):
            message = PoseStamped()
            message.header.frame_id = "panda_link0"
            message.pose.position.x, message.pose.position.y, message.pose.position.z = 0.45, 0.2, 0.3
            o = message.pose.orientation
            o.x, o.y, o.z, o.w = quaternion
            count = len(twists)
            goal_pub.publish(message)
            assert wait_for_log(log, warning), f"expected warning '{warning}'"
            spin_until(ros_node, lambda: False, 0.3)
            moving = [
                t
                for t in twists[count:]
                if any(
                    v != 0.0
                    for v in (
                        t.twist.linear.x,
                        t.twist.linear.y,
                        t.twist.linear.z,
                        t.twist.angular.x,
                        t.twist.angular.y,
                        t.twist.angular.z,
                    )
                )
            ]
            assert not moving, f"an invalid quaternion {quaternion} reached a command"
    finally:
        assert stop_node(node) == 0 and stop_node(bridge) == 0
