"""The reach controller as a drop-in for ros2_control and MoveIt Servo users: joint command interfaces
(JointState, JointTrajectory, Float64MultiArray), Cartesian policies executed as joint targets,
Servo's ``~/status`` codes and ``~/pause`` service. Every test starts real nodes as processes."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from conftest import spin_until, wait_for_log
from geometry_msgs.msg import TwistStamped
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, Int8
from std_srvs.srv import SetBool
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import load_arm
from ikrl_ros.core.workspace import sample_reachable_goals
from ikrl_ros.tools.goal_runner import GOAL_TOPICS, GoalRunner, connected_runner
from ikrl_ros.tools.stack import FORGIVING, reach_stack, start_node, stop_node

ARM = load_arm()
ARM_JOINT_NAMES = ARM.joint_names
JOINT_NAMES = ARM.all_joint_names
NEUTRAL_JOINT_POSITIONS = ARM.neutral
LOCKSTEP = {"sync_mode": "lockstep", **FORGIVING}
JOINT_TOPICS = {
    "joint_state": (JointState, "joint_command"),
    "joint_trajectory": (JointTrajectory, "joint_trajectory"),
    "float64_multi_array": (Float64MultiArray, "commands"),
}


def record(node, message_type, topic: str) -> list:
    messages: list = []
    node.create_subscription(message_type, topic, messages.append, 100)
    return messages


@pytest.mark.parametrize("joint_command_type", ["joint_trajectory", "float64_multi_array"])
def test_ik_reaches_goals_to_a_millimetre_on_each_ros2_control_interface(
    tmp_path: Path, joint_command_type: str
) -> None:
    """``ik`` through the bridge in lockstep, its targets sent as JointTrajectory or Float64MultiArray only."""
    goals = sample_reachable_goals(6, 31, ArmKinematics(ARM))
    controller = {"controller": "ik", "orientation": "ignore", "joint_command_type": joint_command_type, **LOCKSTEP}
    with reach_stack(tmp_path, bridge=LOCKSTEP, controller=controller) as processes, connected_runner() as runner:
        used = record(runner, *JOINT_TOPICS[joint_command_type])
        others = [record(runner, *JOINT_TOPICS[other]) for other in JOINT_TOPICS if other != joint_command_type]
        outcomes = [
            runner.run_goal(goal, GOAL_TOPICS[index % 2], budget_steps=60, stop_error=2e-4)
            for index, goal in enumerate(goals)
        ]
        assert all(process.poll() is None for process in processes), "a node died during the run"
    errors = np.array([outcome.final_error for outcome in outcomes])
    assert np.all(errors < 1e-3), f"final errors (mm): {np.round(errors * 1000, 3)}"
    assert used and not any(others), "targets must go out on the chosen interface only"
    if joint_command_type == "joint_trajectory":
        message = used[-1]
        assert list(message.joint_names) == list(ARM_JOINT_NAMES) and len(message.points) == 1
        assert message.points[0].time_from_start.sec == 0 and message.points[0].time_from_start.nanosec == 40_000_000
    else:
        assert len(used[-1].data) == 7
    assert "command rejected" not in (tmp_path / "panda_bridge.log").read_text()


def test_a_learned_cartesian_policy_runs_on_a_joint_interface(tmp_path: Path) -> None:
    """``cartesian_output: joint``: the shipped Cartesian workspace policy reaches goals with no ``cartesian_cmd``."""
    goals = sample_reachable_goals(6, 32, ArmKinematics(ARM))
    controller = {
        "controller": "sac",
        "policy_path": "sac_workspace",
        "cartesian_output": "joint",
        "joint_command_type": "joint_trajectory",
        **LOCKSTEP,
    }
    with reach_stack(tmp_path, bridge=LOCKSTEP, controller=controller) as processes, connected_runner() as runner:
        twists = record(runner, TwistStamped, "cartesian_cmd")
        trajectories = record(runner, JointTrajectory, "joint_trajectory")
        errors = np.array(
            [
                runner.run_goal(goal, GOAL_TOPICS[index % 2], budget_steps=75).final_error
                for index, goal in enumerate(goals)
            ]
        )
        assert all(process.poll() is None for process in processes), "a node died during the run"
    assert np.all(errors < 0.05), f"final errors (mm): {np.round(errors * 1000, 1)}"
    assert trajectories and not twists


class StatusProbe:
    """Plays the bridge for a realtime controller: crafted joint states in, ``~/status`` codes out."""

    def __init__(self, node) -> None:
        self.node = node
        self.codes: list[int] = []
        node.create_subscription(Int8, "reach_controller/status", lambda m: self.codes.append(m.data), 100)
        self.joint_pub = node.create_publisher(JointState, "joint_states", 10)
        from geometry_msgs.msg import PointStamped

        self.goal_pub = node.create_publisher(PointStamped, "clicked_point", 10)
        self.point_type = PointStamped

    def state(self, arm_positions: np.ndarray) -> None:
        message = JointState()
        message.header.stamp = self.node.get_clock().now().to_msg()
        message.name = list(JOINT_NAMES)
        message.position = [float(v) for v in arm_positions] + [0.0, 0.0]
        message.velocity = [0.0] * 9
        self.joint_pub.publish(message)

    def goal(self, point, frame: str = "panda_link0") -> None:
        message = self.point_type()
        message.header.frame_id = frame
        message.point.x, message.point.y, message.point.z = (float(v) for v in point)
        self.goal_pub.publish(message)

    def codes_for(self, arm_positions: np.ndarray, seconds: float = 0.6) -> list[int]:
        """Feed the same state at 25 Hz for ``seconds``; the codes published meanwhile."""
        start = len(self.codes)
        for _ in range(int(seconds * 25)):
            self.state(arm_positions)
            spin_until(self.node, lambda: False, 0.04)
        return self.codes[start:]


def test_status_codes_follow_moveit_servo(tmp_path: Path, ros_node) -> None:
    """Deterministic: no simulator, the probe feeds fixed joint states, so every step sees the same posture.

    The singularity guard's thresholds are set around the neutral posture's condition number (10.87, 6×7
    Jacobian): slowdown 10.0, stop 12.0. At neutral, moving out toward (0.7, 0, 0.2) raises the condition
    number (to 11.6 after one step), so the twist is slowed (scale 0.56, code 1); moving in toward
    (0.3, 0, 0.2) lowers it (code 3, leaving). With the elbow opened (joint 4 at -1.6, condition 12.9 > stop)
    moving out halts (2).
    ``joint_limit_margin`` 0.3 with joint 7 fed at 2.8 rad (URDF limit 2.967, so 2.667 with the margin):
    the DLS step's joint 7 target stays beyond 2.667 and is clamped (6, which outranks 3). A goal in
    an unknown frame is refused (-1). Without a goal the controller holds with no warning (0).
    """
    probe = StatusProbe(ros_node)
    parameters = {
        "controller": "cartesian_p",
        "orientation": "ignore",
        "cartesian_output": "joint",
        "joint_command_type": "float64_multi_array",
        "singularity_slowdown": 10.0,
        "singularity_stop": 12.0,
        "joint_limit_margin": 0.3,
        **FORGIVING,
    }
    log = tmp_path / "controller.log"
    process = start_node("ikrl_ros.nodes.reach_controller_node", parameters, log)
    neutral = np.array(NEUTRAL_JOINT_POSITIONS[:7], dtype=float)
    try:

        def ready() -> bool:
            return bool(probe.codes) and probe.goal_pub.get_subscription_count() > 0

        deadline = time.monotonic() + 30
        while not ready() and time.monotonic() < deadline:
            probe.codes_for(neutral, 0.2)
        assert ready(), "controller did not come up"
        assert set(probe.codes_for(neutral, 0.4)) == {0}, "no goal: holding without a warning"
        probe.goal([0.7, 0.0, 0.2])
        assert probe.codes_for(neutral)[-5:] == [1] * 5, "approaching a singularity: decelerating"
        probe.goal([0.3, 0.0, 0.2])
        assert probe.codes_for(neutral)[-5:] == [3] * 5, "leaving a singularity"
        stretched = neutral.copy()
        stretched[3] = -1.6
        probe.goal([0.85, 0.0, 0.2])
        assert probe.codes_for(stretched)[-5:] == [2] * 5, "at the stop threshold: halted"
        wrist_at_bound = neutral.copy()
        wrist_at_bound[6] = 2.8
        probe.goal([0.3, 0.0, 0.2])
        assert probe.codes_for(wrist_at_bound)[-5:] == [6] * 5, "joint target clamped at its bound"
        start = len(probe.codes)
        probe.goal([0.5, 0.0, 0.2], frame="map")
        probe.codes_for(wrist_at_bound, 0.3)
        assert -1 in probe.codes[start:], "a refused goal is reported as invalid"
        assert wait_for_log(log, "goal frame 'map' is not supported")
    finally:
        assert stop_node(process) == 0


def call_pause(runner: GoalRunner, pause: bool, timeout: float = 10.0) -> SetBool.Response:
    client = runner.create_client(SetBool, "reach_controller/pause")
    assert client.wait_for_service(timeout_sec=timeout), "no ~/pause service"
    future = client.call_async(SetBool.Request(data=pause))
    deadline = time.monotonic() + timeout
    while not future.done() and time.monotonic() < deadline:
        rclpy.spin_once(runner, timeout_sec=0.01)
    assert future.done(), "~/pause did not answer"
    return future.result()


def next_states(runner: GoalRunner, count: int, timeout: float = 30.0) -> np.ndarray:
    """The end-effector positions of the next ``count`` states the bridge publishes."""
    start = len(runner.poses)
    assert spin_until(runner, lambda: len(runner.poses) >= start + count, timeout), "the bridge stopped stepping"
    return np.array([position for _, position, _ in runner.poses[start : start + count]])


def test_pause_holds_and_resume_tracks_again(tmp_path: Path) -> None:
    """Lockstep, cartesian_p on Float64MultiArray: paused, the controller still answers every state (so the
    lockstep bridge steps) with a hold and keeps publishing status 0; resumed, it reaches the goal."""
    goal = np.array([0.45, 0.25, 0.35])
    controller = {
        "controller": "cartesian_p",
        "orientation": "ignore",
        "cartesian_output": "joint",
        "joint_command_type": "float64_multi_array",
        **LOCKSTEP,
    }
    with reach_stack(tmp_path, bridge=LOCKSTEP, controller=controller) as processes, connected_runner() as runner:
        codes: list[int] = []
        runner.create_subscription(Int8, "reach_controller/status", lambda m: codes.append(m.data), 100)
        answer = call_pause(runner, True)
        assert answer.success and "paused" in answer.message
        runner.publish_goal(goal, "clicked_point")
        runner._confirm_acceptance(goal, "clicked_point")
        held = next_states(runner, 20)
        assert np.abs(held - held[0]).max() < 1e-3, "paused: the arm must hold"
        assert np.linalg.norm(held[-1] - goal) > 0.1
        assert codes and set(codes[-10:]) == {0}
        answer = call_pause(runner, False)
        assert answer.success and "resumed" in answer.message
        moving = next_states(runner, 40)
        assert np.linalg.norm(moving[-1] - goal) < 1e-3, (
            f"resumed: {np.linalg.norm(moving[-1] - goal) * 1000:.2f} mm from the goal"
        )
        assert call_pause(runner, True).success
        paused_again = next_states(runner, 15)
        assert np.abs(paused_again - paused_again[0]).max() < 1e-3
        assert all(process.poll() is None for process in processes)


def test_the_bridge_validates_trajectory_and_array_commands(tmp_path: Path, ros_node) -> None:
    """Malformed commands on ``joint_trajectory`` and ``commands`` are refused with a specific warning; arm held."""
    log = tmp_path / "bridge.log"
    bridge = start_node("ikrl_ros.nodes.bridge_node", FORGIVING, log)
    poses: list[np.ndarray] = []
    from geometry_msgs.msg import PoseStamped

    ros_node.create_subscription(
        PoseStamped,
        "ee_pose",
        lambda m: poses.append(np.array([m.pose.position.x, m.pose.position.y, m.pose.position.z])),
        100,
    )
    trajectory_pub = ros_node.create_publisher(JointTrajectory, "joint_trajectory", 10)
    array_pub = ros_node.create_publisher(Float64MultiArray, "commands", 10)
    neutral = [float(v) for v in NEUTRAL_JOINT_POSITIONS[:7]]
    bad_trajectories = [
        (JointTrajectory(joint_names=list(ARM_JOINT_NAMES)), "joint_trajectory: joint trajectory has no points"),
        (
            JointTrajectory(
                joint_names=list(ARM_JOINT_NAMES[:6]), points=[JointTrajectoryPoint(positions=neutral[:6])]
            ),
            "joint command is missing arm joints ['panda_joint7']",
        ),
        (
            JointTrajectory(
                joint_names=list(ARM_JOINT_NAMES), points=[JointTrajectoryPoint(positions=[float("nan")] * 7)]
            ),
            "joint command positions contains non-finite values",
        ),
    ]
    bad_arrays = [
        (
            Float64MultiArray(data=neutral[:6]),
            f"commands has 6 values, expected 7 (positions of {', '.join(ARM_JOINT_NAMES)}, in that order)",
        ),
        (Float64MultiArray(data=neutral + [0.0, 0.0]), "commands has 9 values, expected 7"),
        (Float64MultiArray(data=[float("inf")] * 7), "commands positions contains non-finite values"),
    ]
    try:
        assert spin_until(
            ros_node,
            lambda: len(poses) > 5 and trajectory_pub.get_subscription_count() and array_pub.get_subscription_count(),
            30,
        )
        spin_until(ros_node, lambda: False, 0.5)
        start = len(poses)
        for message, warning in bad_trajectories + bad_arrays:
            for _ in range(5):
                (trajectory_pub if isinstance(message, JointTrajectory) else array_pub).publish(message)
                spin_until(ros_node, lambda: False, 0.04)
            assert wait_for_log(log, warning), f"expected warning '{warning}'"
            spin_until(ros_node, lambda: False, 1.05)  # warnings of one kind (numbers aside) are logged once a second
        assert np.abs(np.array(poses[start:]) - poses[start]).max() < 1e-3, "refused commands must not move the arm"
        moved = list(neutral)
        moved[0] = 0.05
        for _ in range(25):
            array_pub.publish(Float64MultiArray(data=moved))
            spin_until(ros_node, lambda: False, 0.04)
        assert np.abs(poses[-1] - poses[start]).max() > 0.01, (
            "a valid Float64MultiArray must move the arm (so the check above can fail)"
        )
    finally:
        assert stop_node(bridge) == 0


def lifecycle_call(node, service_type, name: str, request, timeout: float = 20.0):
    client = node.create_client(service_type, f"reach_controller/{name}")
    assert client.wait_for_service(timeout_sec=timeout), f"no reach_controller/{name} service"
    future = client.call_async(request)
    assert spin_until(node, future.done, timeout), f"reach_controller/{name} did not answer"
    node.destroy_client(client)
    return future.result()


def transition(node, transition_id: int) -> bool:
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState

    return lifecycle_call(
        node, ChangeState, "change_state", ChangeState.Request(transition=Transition(id=transition_id))
    ).success


def lifecycle_state(node) -> str:
    from lifecycle_msgs.srv import GetState

    return lifecycle_call(node, GetState, "get_state", GetState.Request()).current_state.label


def test_a_bad_policy_fails_configure_cleanly_and_the_node_waits_unconfigured(tmp_path: Path, ros_node) -> None:
    """``autostart: false``: configure with a missing checkpoint fails (reason logged), the process stays up
    and unconfigured, commands nothing, and the shutdown transition ends it with exit code 0."""
    from lifecycle_msgs.msg import Transition

    log = tmp_path / "controller.log"
    twists = record(ros_node, TwistStamped, "cartesian_cmd")
    process = start_node(
        "ikrl_ros.nodes.reach_controller_node",
        {"controller": "sac", "policy_path": str(tmp_path / "missing.pt"), "autostart": False, **FORGIVING},
        log,
    )
    try:
        assert lifecycle_state(ros_node) == "unconfigured"
        assert not transition(ros_node, Transition.TRANSITION_CONFIGURE), "configure must fail on a missing policy"
        assert wait_for_log(log, "configure failed, staying unconfigured:")
        assert lifecycle_state(ros_node) == "unconfigured" and process.poll() is None
        assert not twists and "up," not in log.read_text()
        assert transition(ros_node, Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
        assert process.wait(20) == 0
    finally:
        stop_node(process)


def test_lifecycle_configure_activate_deactivate_hold_and_resume(tmp_path: Path) -> None:
    """Lockstep stack, ik with ``autostart: false``: configure (inactive: silent), activate (commands), deactivate
    (publishes the hold and stops answering: the lockstep bridge no longer steps, even with a goal sent), activate
    again (reaches the goal), deactivate and cleanup (unconfigured)."""
    from lifecycle_msgs.msg import Transition

    goal = np.array([0.45, -0.25, 0.35])
    controller = {"controller": "ik", "orientation": "ignore", "autostart": False, **LOCKSTEP}
    with reach_stack(tmp_path, bridge=LOCKSTEP, controller=controller) as processes:
        rclpy.init()
        runner = GoalRunner()
        try:
            holds = record(runner, JointState, "joint_command")
            assert lifecycle_state(runner) == "unconfigured"
            assert transition(runner, Transition.TRANSITION_CONFIGURE) and lifecycle_state(runner) == "inactive"
            runner.wait_for_stack()
            runner.spin_for(1.0)
            assert not holds, "an inactive node must not command"
            assert transition(runner, Transition.TRANSITION_ACTIVATE) and lifecycle_state(runner) == "active"
            next_states(runner, 5)
            assert holds, "active without a goal: the hold is commanded every step"
            assert transition(runner, Transition.TRANSITION_DEACTIVATE) and lifecycle_state(runner) == "inactive"
            runner.spin_for(1.0)
            last_arm = runner.arm_states[-1][1]
            np.testing.assert_allclose(holds[-1].position, last_arm, atol=2e-3, err_msg="deactivate publishes the hold")
            runner.publish_goal(goal, "clicked_point")
            runner._confirm_acceptance(goal, "clicked_point")  # goals are taken while inactive, tracked once active
            count, stopped_at = len(holds), runner.poses[-1][1]
            runner.spin_for(1.5)
            assert len(holds) == count and np.linalg.norm(runner.poses[-1][1] - stopped_at) < 1e-4, (
                "inactive: no commands, the arm stays"
            )
            assert np.linalg.norm(stopped_at - goal) > 0.05
            assert transition(runner, Transition.TRANSITION_ACTIVATE)
            reached = next_states(runner, 40)
            assert np.linalg.norm(reached[-1] - goal) < 1e-3, (
                f"active again: {np.linalg.norm(reached[-1] - goal) * 1000:.2f} mm from the goal"
            )
            assert transition(runner, Transition.TRANSITION_DEACTIVATE) and transition(
                runner, Transition.TRANSITION_CLEANUP
            )
            assert lifecycle_state(runner) == "unconfigured"
            assert all(process.poll() is None for process in processes)
        finally:
            runner.destroy_node()
            rclpy.try_shutdown()
