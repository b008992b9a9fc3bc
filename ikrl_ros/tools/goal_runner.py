"""Send goals to a running reach stack the way RViz does, and measure how each one is reached.

Used by the demo (``ikrl demo``), the end-to-end tests and the benchmarks. Progress is read from
the bridge's ``ee_pose`` stamps: control periods of simulated time in lockstep (or with the bridge's
``publish_clock``), of wall time in realtime, where they equal simulated time only at ``real_time_factor`` 1.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped, PoseStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Header, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from ikrl_ros.core.robot import Arm, load_arm
from ikrl_ros.core.validation import InvalidInput, arm_state_from_joint_state
from ikrl_ros.nodes.ros_common import CONTROL_PERIOD_NS, ns_from_time, xyz

GOAL_TOPICS = ("goal_pose", "clicked_point")


@dataclass(frozen=True)
class GoalOutcome:
    """How one goal went: ``steps_to_reach`` is None when it was never within ``tolerance``."""

    goal: np.ndarray
    topic: str
    steps_to_reach: int | None
    final_error: float
    path: np.ndarray
    orientations: np.ndarray
    """Ground-truth grasp-target quaternions (x, y, z, w) along the path."""
    start_ns: int
    end_ns: int
    """The goal's window in the bridge's stamps (sim time in lockstep), to pick its recorded joint states."""

    @property
    def reached(self) -> bool:
        return self.steps_to_reach is not None


class GoalRunner(Node):
    """A test/demo client: publishes goals on ``goal_pose`` or ``clicked_point``, watches ``ee_pose``."""

    def __init__(self, namespace: str = "", arm: Arm | None = None, record_motion: bool = False) -> None:
        super().__init__("ikrl_goal_runner", namespace=namespace)
        self.arm = arm or load_arm()
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.goal_pose_pub = self.create_publisher(PoseStamped, "goal_pose", reliable)
        self.clicked_point_pub = self.create_publisher(PointStamped, "clicked_point", reliable)
        self.poses: list[tuple[int, np.ndarray, np.ndarray]] = []
        """(stamp, position, quaternion xyzw) of every ``ee_pose``."""
        self.accepted_goals: list[np.ndarray] = []
        self.arm_states: list[tuple[int, np.ndarray]] = []
        """(stamp, arm joint positions) as the bridge published them, for replay and rendering."""
        self.create_subscription(
            JointState,
            "joint_states",
            self._on_joint_state,
            QoSProfile(depth=500, reliability=ReliabilityPolicy.RELIABLE),
        )
        self.create_subscription(
            PoseStamped, "ee_pose", self._on_ee_pose, QoSProfile(depth=500, reliability=ReliabilityPolicy.RELIABLE)
        )
        self.reset_client = self.create_client(Trigger, "panda_bridge/reset")
        self.reset_stamps: list[int] = []
        latched = QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
        )
        self.create_subscription(
            Header, "panda_bridge/reset_stamp", lambda m: self.reset_stamps.append(ns_from_time(m.stamp)), latched
        )
        self.create_subscription(
            PointStamped, "goal_marker", lambda m: self.accepted_goals.append(np.array(xyz(m.point))), reliable
        )
        self.joint_targets: list[tuple[int, np.ndarray]] = []
        """``record_motion``: (stamp, positions) of the bridge's joint targets, what its motors were told."""
        self.interface_samples: list[tuple[int, np.ndarray]] = []
        """``record_motion``: (stamp, samples × joints) of the 1 kHz stream the arm's interface executed."""
        self.reflexes: list[tuple[int, str]] = []
        """``record_motion``: (newest ee_pose stamp on arrival, text) of the strict bridge's reflexes."""
        if record_motion:
            deep = QoSProfile(depth=500, reliability=ReliabilityPolicy.RELIABLE)
            self.create_subscription(JointState, "panda_bridge/joint_targets", self._on_joint_targets, deep)
            self.create_subscription(
                JointTrajectory, "panda_bridge/interface_samples", self._on_interface_samples, deep
            )
            self.create_subscription(String, "panda_bridge/reflex", self._on_reflex, reliable)

    def _on_joint_targets(self, message: JointState) -> None:
        self.joint_targets.append((ns_from_time(message.header.stamp), np.array(message.position)))

    def _on_interface_samples(self, message: JointTrajectory) -> None:
        positions = np.array([point.positions for point in message.points])
        self.interface_samples.append((ns_from_time(message.header.stamp), positions))

    def _on_reflex(self, message: String) -> None:
        self.reflexes.append((self.poses[-1][0] if self.poses else 0, message.data))

    def _on_ee_pose(self, message: PoseStamped) -> None:
        q = message.pose.orientation
        self.poses.append(
            (ns_from_time(message.header.stamp), np.array(xyz(message.pose.position)), np.array([q.x, q.y, q.z, q.w]))
        )

    def _on_joint_state(self, message: JointState) -> None:
        try:
            arm = arm_state_from_joint_state(self.arm, message.name, message.position, message.velocity)
        except InvalidInput:
            return
        self.arm_states.append((ns_from_time(message.header.stamp), arm.position))

    def controller_diagnostics(self) -> dict[str, str]:
        """A dict that holds the reach controller's latest ``/diagnostics`` values while this node spins."""
        latest: dict[str, str] = {}

        def on_diagnostics(message: DiagnosticArray) -> None:
            for status in message.status:
                if status.name.endswith("reach_controller"):
                    latest.clear()
                    latest.update({pair.key: pair.value for pair in status.values})

        self.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
        return latest

    def spin_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            rclpy.spin_once(self, timeout_sec=0.01)

    def wait_for_stack(self, timeout: float = 30.0) -> None:
        """Block until the bridge publishes and the controller listens to both goal topics."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rclpy.spin_once(self, timeout_sec=0.05)
            if (
                self.poses
                and self.goal_pose_pub.get_subscription_count()
                and self.clicked_point_pub.get_subscription_count()
            ):
                # Matching is seen from our side first; give the controller's side a moment, or the first goal
                # can be lost.
                self.spin_for(0.5)
                return
        raise TimeoutError("the reach stack did not come up: no ee_pose, or nobody subscribes to the goal topics")

    def publish_goal(
        self, goal: np.ndarray, topic: str, frame_id: str | None = None, quaternion: np.ndarray | None = None
    ) -> None:
        """A goal as RViz sends it; ``goal_pose`` carries ``quaternion`` (x, y, z, w), by default yaw 0."""
        if topic == "goal_pose":
            message = PoseStamped()
            message.pose.position.x, message.pose.position.y, message.pose.position.z = (float(v) for v in goal)
            o = message.pose.orientation
            o.x, o.y, o.z, o.w = (0.0, 0.0, 0.0, 1.0) if quaternion is None else (float(v) for v in quaternion)
            publisher = self.goal_pose_pub
        else:
            message = PointStamped()
            message.point.x, message.point.y, message.point.z = (float(v) for v in goal)
            publisher = self.clicked_point_pub
        message.header.stamp = self.get_clock().now().to_msg()
        message.header.frame_id = self.arm.base_frame if frame_id is None else frame_id
        publisher.publish(message)

    def run_goal(
        self,
        goal: np.ndarray,
        topic: str,
        budget_steps: int = 50,
        tolerance: float = 0.05,
        stop_error: float = 0.0,
        expected: np.ndarray | None = None,
        quaternion: np.ndarray | None = None,
    ) -> GoalOutcome:
        """Send one goal and follow ``ee_pose`` for ``budget_steps`` control periods of sim time.

        Steps are counted from the newest state seen when the goal was sent, so DDS latency counts
        against the controller. ``stop_error`` > 0 ends the goal early once the error is that small.
        Errors are measured to ``expected`` (default: the goal), e.g. the goal clamped to the workspace.
        """
        self.spin_for(0.0)
        start_ns = self.poses[-1][0]
        self.publish_goal(goal, topic, quaternion=quaternion)
        self._confirm_acceptance(goal, topic, quaternion)
        return self._follow(
            goal, topic, start_ns, budget_steps, tolerance, stop_error, goal if expected is None else expected
        )

    def run_episode(
        self, goal: np.ndarray, topic: str, budget_steps: int = 50, tolerance: float = 0.05, stop_error: float = 0.0
    ) -> GoalOutcome:
        """A panda-gym episode through ROS: goal accepted, arm reset to neutral, ``budget_steps`` from there.

        With a lockstep bridge this reproduces ``env.reset(); env.step(...)`` of the gym environment.
        """
        self.publish_goal(goal, topic)
        self._confirm_acceptance(goal, topic)
        start_ns = self.reset_arm()
        return self._follow(goal, topic, start_ns, budget_steps, tolerance, stop_error, goal)

    def reset_arm(self, timeout: float = 10.0) -> int:
        """Call the bridge's ``~/reset``; returns the sim time (ns) of the neutral state it published."""
        if not self.reset_client.wait_for_service(timeout_sec=timeout):
            raise TimeoutError("the bridge's reset service is not available")
        self.spin_for(0.0)
        before = max([*(pose[0] for pose in self.poses[-1:]), *self.reset_stamps[-1:]], default=-1)
        future = self.reset_client.call_async(Trigger.Request())
        deadline = time.monotonic() + timeout
        while not future.done() and time.monotonic() < deadline:
            rclpy.spin_once(self, timeout_sec=0.01)
        if not future.done() or not future.result().success:
            raise TimeoutError("the bridge did not reset")
        # The reset's stamp is later than every state before it (and than an earlier, latched reset's).
        while time.monotonic() < deadline:
            if self.reset_stamps and self.reset_stamps[-1] > before:
                return self.reset_stamps[-1]
            rclpy.spin_once(self, timeout_sec=0.01)
        raise TimeoutError("the bridge reset but its reset_stamp did not arrive")

    def _follow(
        self,
        goal: np.ndarray,
        topic: str,
        start_ns: int,
        budget_steps: int,
        tolerance: float,
        stop_error: float,
        target: np.ndarray,
        timeout: float = 30.0,
    ) -> GoalOutcome:
        end_ns = start_ns + budget_steps * CONTROL_PERIOD_NS
        steps_to_reach: int | None = None
        path: list[np.ndarray] = []
        orientations: list[np.ndarray] = []
        error = float("nan")
        index = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rclpy.spin_once(self, timeout_sec=0.01)
            for stamp_ns, position, orientation in self.poses[index:]:
                if stamp_ns <= start_ns:
                    continue
                if stamp_ns > end_ns:
                    return GoalOutcome(
                        goal, topic, steps_to_reach, error, np.array(path), np.array(orientations), start_ns, stamp_ns
                    )
                path.append(position)
                orientations.append(orientation)
                error = float(np.linalg.norm(position - target))
                if steps_to_reach is None and error <= tolerance:
                    steps_to_reach = round((stamp_ns - start_ns) / CONTROL_PERIOD_NS)
                if stop_error > 0 and error <= stop_error:
                    return GoalOutcome(
                        goal, topic, steps_to_reach, error, np.array(path), np.array(orientations), start_ns, stamp_ns
                    )
            index = len(self.poses)
        raise TimeoutError(f"goal {goal.tolist()}: the bridge stopped publishing ee_pose")

    def _confirm_acceptance(
        self, goal: np.ndarray, topic: str, quaternion: np.ndarray | None = None, timeout: float = 2.0
    ) -> None:
        """Wait for the controller's ``goal_marker`` echo; resend once if the goal got lost in discovery."""
        count = len(self.accepted_goals)
        for attempt in range(2):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                rclpy.spin_once(self, timeout_sec=0.005)
                if len(self.accepted_goals) > count:
                    return
            if attempt == 0:
                self.publish_goal(goal, topic, quaternion=quaternion)
        raise TimeoutError(f"the reach controller did not accept goal {goal.tolist()} sent on {topic}")


@contextmanager
def connected_runner(namespace: str = "", arm: Arm | None = None, record_motion: bool = False) -> Iterator[GoalRunner]:
    """An rclpy context and a ``GoalRunner`` (for ``arm``, default the Panda; ``record_motion``: with the bridge's
    command streams and reflexes) that has seen the stack come up; both torn down afterwards."""
    rclpy.init()
    runner = GoalRunner(namespace, arm, record_motion)
    try:
        runner.wait_for_stack()
        yield runner
    finally:
        runner.destroy_node()
        rclpy.try_shutdown()


def format_table(outcomes: list[GoalOutcome], tolerance: float, base_frame: str | None = None) -> str:
    """The per-goal table the demo prints."""
    frame = base_frame or load_arm().base_frame
    lines = [
        f"| # | goal in {frame} (m) | sent on | reached (≤ {tolerance * 1000:g} mm) | steps | final error (mm) |",
        "|---|---|---|---|---|---|",
    ]
    for index, outcome in enumerate(outcomes, 1):
        goal = ", ".join(f"{v:.3f}" for v in outcome.goal)
        steps = "-" if outcome.steps_to_reach is None else str(outcome.steps_to_reach)
        lines.append(
            f"| {index} | ({goal}) | {outcome.topic} | {'yes' if outcome.reached else 'NO'} | {steps} | "
            f"{outcome.final_error * 1000:.2f} |"
        )
    return "\n".join(lines)
