"""``reach_controller``: the ROS shell of ``core.reach_loop.ReachLoop`` (goals as RViz sends them in, commands out).

Goals arrive on ``goal_pose`` (PoseStamped, RViz "2D Goal Pose") or ``clicked_point`` (PointStamped, RViz
"Publish Point"). Each joint state is answered as it arrives (``realtime``: at most ``control_rate`` per
second) with ``cartesian_cmd`` (TwistStamped) or joint position targets on the interface
``joint_command_type`` chooses: ``joint_command`` (JointState), ``joint_trajectory`` (ros2_control's
JointTrajectoryController) or ``commands`` (Float64MultiArray, its forward_position_controller).
MoveIt Servo's conventions: ``~/status`` (Servo's codes) every control step, ``~/pause`` (SetBool).
The node does lifecycle, QoS, decimation, time stamps and message conversion; the loop does the rest.
"""

from __future__ import annotations

import time

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped, PoseStamped, TwistStamped
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64, Int8
from std_srvs.srv import SetBool
from visualization_msgs.msg import MarkerArray

from ikrl_ros.core import validation
from ikrl_ros.core.controllers import LearnedPolicyController
from ikrl_ros.core.execution import Command, Twist
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.reach_loop import PlannedMotion, StatusCode, StepResult
from ikrl_ros.core.robot import Workspace
from ikrl_ros.core.timing import AnswerCredit, LoopTiming
from ikrl_ros.nodes.markers import reach_markers
from ikrl_ros.nodes.messages import (
    JOINT_COMMAND_TYPES,
    joint_command_message,
    planned_motion_message,
    point_message,
    twist_message,
)
from ikrl_ros.nodes.parameters import ReachControllerParameters, controller_settings, declare_parameters, reach_loop
from ikrl_ros.nodes.ros_common import EntitySnapshot, ThrottledWarnings, diagnostics, ns_from_time, run_node, xyz
from ikrl_ros.rl.controller_factory import make_controller

MARKER_PERIOD = 0.1


class ReachControllerNode(LifecycleNode):
    """Goal in, command out, once per received joint state (``realtime``: at most ``control_rate`` per second).

    A managed (lifecycle) node: parameters are declared and validated at construction (read-only: a bad
    value ends the process with exit code 2, whatever ``autostart`` says); ``configure`` loads the controller
    (a bad policy fails the transition, the reason logged, and the node stays unconfigured); ``activate``
    starts commanding; ``deactivate`` publishes the hold and stops; ``cleanup`` drops the controller and its
    topics; ``shutdown`` holds and ends the process. With ``autostart`` (default) the node configures and
    activates itself, and a failed configure is a start-up error (exit code 2), as an unmanaged node.
    """

    def __init__(self) -> None:
        super().__init__("reach_controller")
        self.params = declare_parameters(self, ReachControllerParameters)
        self.configured = self.active = self.finished = False
        self.configure_error: str | None = None
        # What exists before configure (parameter and lifecycle services...) survives cleanup; the rest is torn down.
        self.base_entities = EntitySnapshot(self)
        if self.params.autostart:
            if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                raise ValueError(self.configure_error or "configure transition failed")
            if self.trigger_activate() != TransitionCallbackReturn.SUCCESS:
                raise RuntimeError("activate transition failed")
        else:
            self.get_logger().info(
                "reach controller unconfigured: waiting for lifecycle transitions (reach_controller/change_state)"
            )

    def setup(self) -> None:
        """The configure transition: load the controller and its limits, reset the loop state, create the
        interfaces."""
        self.load_controller()
        self.reset_loop_state()
        self.create_interfaces()
        self.get_logger().info(f"reach controller '{self.params.controller}' up, {self.params.sync_mode} mode")

    def load_controller(self) -> None:
        """The arm, its limits, the controller the parameters name and the reach loop around them."""
        self.arm = self.params.arm()
        for line in self.arm.defaulted:
            self.get_logger().warning(f"{self.arm.name}: {line}")
        self.kinematics = ArmKinematics(self.arm)
        controller = make_controller(controller_settings(self.params), self.kinematics)
        if isinstance(controller, LearnedPolicyController):
            policy = controller.policy
            self.get_logger().info(
                f"loaded {policy.algo} policy for {self.arm.name} (trained {policy.step} steps on {policy.env_id})"
            )
        self.loop = reach_loop(self.params, controller, self.kinematics)
        if self.loop.orientation_warning:
            self.get_logger().warning(f"controller '{self.params.controller}': {self.loop.orientation_warning}")

    def reset_loop_state(self) -> None:
        """No state yet; fresh timing, warnings and counters."""
        self.state_stamp = Time()
        self.state_received = -np.inf
        self.last_marker_time = -np.inf
        self.steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.warnings = ThrottledWarnings(self)
        self.timing = LoopTiming(1.0 / self.params.control_rate)
        self.safety_interventions = 0
        self.status = ("warn", "waiting for joint states and a goal")
        self.status_kind = "starting"
        self.answer_credit = AnswerCredit(self.params.control_rate)

    def create_interfaces(self) -> None:
        """Publishers, subscriptions, services and timers; QoS chosen per topic."""
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.cartesian_pub = self.create_publisher(TwistStamped, "cartesian_cmd", reliable)
        joint_type, joint_topic = JOINT_COMMAND_TYPES[self.params.joint_command_type]
        self.joint_pub = self.create_publisher(joint_type, joint_topic, reliable)
        self.status_pub = self.create_publisher(Int8, "~/status", reliable)
        self.create_service(SetBool, "~/pause", self.on_pause)
        self.goal_marker_pub = self.create_publisher(PointStamped, "goal_marker", reliable)
        self.distance_pub = self.create_publisher(Float64, "~/goal_distance", reliable)
        self.angle_pub = self.create_publisher(Float64, "~/goal_angle_error", reliable)
        self.reached_pub = self.create_publisher(Bool, "~/goal_reached", reliable)
        self.marker_pub = self.create_publisher(MarkerArray, "~/markers", reliable)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", reliable)
        # Joint states are sensor data: only the newest matters, and best effort also matches reliable publishers.
        # In lockstep every state must be answered, so there they are received reliably.
        joint_state_qos = reliable if self.params.sync_mode == "lockstep" else qos_profile_sensor_data
        self.create_subscription(JointState, "joint_states", self.on_joint_state, joint_state_qos)
        self.create_subscription(PoseStamped, "goal_pose", self.on_goal_pose, reliable)
        self.create_subscription(PointStamped, "clicked_point", self.on_clicked_point, reliable)
        if self.params.sync_mode == "realtime":
            self.create_timer(1.0 / self.params.control_rate, self.watchdog, clock=self.steady)
        self.create_timer(1.0, self.publish_diagnostics, clock=self.steady)

    def teardown(self) -> None:
        """Destroy everything ``setup`` created (after a failed configure, on cleanup and on shutdown)."""
        self.base_entities.destroy_newer(self)
        self.configured = self.active = False

    # --- lifecycle transitions ------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.configure_error = None
        try:
            self.setup()
        except Exception as error:  # any failure leaves the node unconfigured, and says why
            self.configure_error = str(error)
            self.get_logger().error(f"configure failed, staying unconfigured: {error}")
            self.teardown()
            return TransitionCallbackReturn.FAILURE
        self.configured = True
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.active = True
        self.loop.replan()
        self.get_logger().info("active: commanding")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.publish_hold()
        self.active = False
        self.set_status("warn", "inactive (lifecycle): held, not commanding", "inactive")
        self.get_logger().info("inactive: hold published, commanding stopped")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.teardown()
        self.get_logger().info("cleaned up: unconfigured")
        return super().on_cleanup(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.active:
            self.publish_hold()
        self.teardown()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState | None = None) -> TransitionCallbackReturn | None:
        """The lifecycle shutdown transition (hold, tear down, end the process), and ``run_node``'s exit hook
        (called without a state on SIGINT/SIGTERM: the final hold, when active)."""
        if self.active:
            self.publish_hold()
        if state is None:
            return None
        if self.configured:
            self.teardown()
        self.finished = True
        return TransitionCallbackReturn.SUCCESS

    def is_finished(self) -> bool:
        """After the lifecycle shutdown transition (finalized) the process exits (``run_node``)."""
        return self.finished

    # --- inputs ------------------------------------------------------------------------------
    def on_goal_pose(self, message: PoseStamped) -> None:
        q = message.pose.orientation
        self.set_goal(xyz(message.pose.position), message.header.frame_id, "goal_pose", [q.x, q.y, q.z, q.w])

    def on_clicked_point(self, message: PointStamped) -> None:
        self.set_goal(xyz(message.point), message.header.frame_id, "clicked_point")

    def set_goal(self, point: list[float], frame_id: str, topic: str, quaternion: list[float] | None = None) -> None:
        try:
            goal, warning = self.loop.set_goal(point, frame_id, topic, quaternion)
        except validation.InvalidInput as error:
            self.warnings.warn(f"{topic}: {error}")
            self.publish_status(StatusCode.INVALID)
            return
        if warning:
            self.warnings.warn(f"{topic}: {warning}")
        self.goal_marker_pub.publish(point_message(goal.position, self.stamp(), self.arm.base_frame))
        self.get_logger().info(
            f"new goal from {topic}: {np.round(goal.position, 4).tolist()} in {self.arm.base_frame}",
            throttle_duration_sec=1.0,
        )

    def on_joint_state(self, message: JointState) -> None:
        try:
            arm = validation.arm_state_from_joint_state(
                self.arm,
                message.name,
                message.position,
                message.velocity,
                self.params.allow_extra_joints,
                self.kinematics.continuous,
            )
            stamp_warning = validation.check_stamp(
                ns_from_time(message.header.stamp),
                self.get_clock().now().nanoseconds,
                round(self.params.max_stamp_future * 1e9),
            )
        except validation.InvalidInput as error:
            self.warnings.warn(f"joint_states: {error}")
            self.publish_status(StatusCode.INVALID)
            return
        if stamp_warning and self.params.sync_mode == "realtime":  # lockstep stamps are sim time, 0 its first instant
            self.warnings.warn(f"joint_states: message {stamp_warning}")
        self.loop.observe(arm.position, arm.velocity)
        self.state_stamp = message.header.stamp
        self.state_received = time.monotonic()
        # Answer the state at once, so the command acts on the state it was computed from; in realtime
        # at most control_rate times per second on average (states from a faster driver are thinned).
        if self.params.sync_mode == "realtime" and not self.answer_credit.answer(self.state_received):
            return
        if not self.active:
            return
        self.timing.tick(self.state_received)
        self.control_step()

    # --- control -----------------------------------------------------------------------------
    def watchdog(self) -> None:
        """Realtime: without fresh joint states, hold (and say why) until they come back."""
        if not self.active:
            return
        if self.loop.observation is None:
            self.set_status("warn", "no joint states received yet: holding", "no_state")
            self.publish_hold()
            return
        age = time.monotonic() - self.state_received
        if age > self.params.joint_state_timeout:
            self.set_status(
                "error",
                f"joint states stale ({age:.2f} s old, timeout {self.params.joint_state_timeout:.3f} s): holding",
                "stale",
            )
            self.publish_hold(watchdog=True)

    def control_step(self) -> None:
        started = time.monotonic()
        result = self.loop.step(ns_from_time(self.state_stamp))
        for warning in result.warnings:
            self.warnings.warn(warning)
        self.safety_interventions += self.warnings.safety(result.interventions)
        self.publish_command(result.command, result.motion, self.state_stamp)
        if result.state is None:
            self.set_status("ok", "no goal: holding" + (" (paused)" if self.loop.paused else ""), "idle")
            self.publish_status(result.status)
            return
        self.timing.step_done(started, self.state_received, time.monotonic(), self.state_age_ms())
        self.publish_goal_feedback(result)
        self.publish_markers(result)
        self.publish_status(result.status)

    def publish_goal_feedback(self, result: StepResult) -> None:
        self.distance_pub.publish(Float64(data=result.distance))
        away = f"{result.distance * 1000:.1f} mm"
        if result.angle is not None:
            self.angle_pub.publish(Float64(data=result.angle))
            away += f", {result.angle:.3f} rad"
        self.reached_pub.publish(Bool(data=result.reached))
        if self.loop.paused:
            self.set_status("ok", f"paused (~/pause): holding, goal {away} away", "paused")
        else:
            self.set_status("ok", f"tracking goal, {away} away", "tracking")

    def publish_status(self, code: StatusCode) -> None:
        self.status_pub.publish(Int8(data=int(code)))

    def on_pause(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        """MoveIt Servo's ~/pause_servo: true holds and stops tracking (the goal is kept), false resumes."""
        was_paused = self.loop.paused
        response.message = self.loop.set_paused(bool(request.data))
        if was_paused != self.loop.paused:
            self.get_logger().info(f"{response.message} (~/pause)")
        response.success = True
        return response

    def stamp(self) -> Time:
        """One time base per mode: lockstep stamps everything (commands, markers, diagnostics) with the sim time
        of the state being answered; realtime with this node's clock (wall, or /clock with use_sim_time)."""
        return self.state_stamp if self.params.sync_mode == "lockstep" else self.get_clock().now().to_msg()

    def publish_command(
        self, command: Command | None, motion: PlannedMotion | None = None, answered: Time | None = None
    ) -> None:
        """A twist on ``cartesian_cmd`` or joint motion on the joint_command_type interface; None: nothing yet. A
        planned motion (limited execution) is stamped with the joint state it answers (``answered``; else now)."""
        if isinstance(command, Twist):
            self.publish_twist(command)
        elif motion is not None:
            stamp = answered if answered is not None else self.get_clock().now().to_msg()
            self.joint_pub.publish(
                planned_motion_message(self.params.joint_command_type, motion, list(self.arm.joint_names), stamp)
            )
        elif command is not None:
            self.publish_joint_targets(command.positions)

    def publish_hold(self, watchdog: bool = False) -> None:
        """The hold: under the limited execution on a joint interface, the plan's next period of a smooth halt
        (none from the watchdog: without joint states the plan's own fallback and the arm's stop halt it)."""
        if self.loop.executor.limited and self.loop.publishes_joints and self.loop.observation is not None:
            if watchdog:
                return
            motion = self.loop.halt_plan()
            stamp = self.state_stamp if self.params.sync_mode == "lockstep" else None
            self.publish_command(self.loop.command_of(motion), motion, stamp)
            return
        self.publish_command(self.loop.hold())

    def publish_twist(self, twist: Twist) -> None:
        self.cartesian_pub.publish(twist_message(twist, self.stamp(), self.arm.base_frame))

    def state_age_ms(self) -> float | None:
        """Age of the answered joint state by its stamp, on this node's clock (wall, or /clock with use_sim_time);
        None if unstamped, and in lockstep, where the stamp is the answer's own time."""
        stamp_ns = ns_from_time(self.state_stamp)
        if self.params.sync_mode == "lockstep":
            return None
        return (self.get_clock().now().nanoseconds - stamp_ns) / 1e6 if stamp_ns else None

    def publish_joint_targets(self, positions: np.ndarray) -> None:
        """Position targets of the arm's joints on the joint_command_type interface."""
        period_ns = round(1e9 / self.params.control_rate)
        self.joint_pub.publish(
            joint_command_message(
                self.params.joint_command_type, positions, list(self.arm.joint_names), self.stamp(), period_ns
            )
        )

    # --- monitoring --------------------------------------------------------------------------
    def publish_markers(self, result: StepResult) -> None:
        """RViz markers of the goal, the end effector and the tolerance, at most every ``MARKER_PERIOD``."""
        now = time.monotonic()
        if now - self.last_marker_time < MARKER_PERIOD:
            return
        self.last_marker_time = now
        self.marker_pub.publish(
            reach_markers(result.state, self.stamp(), self.params.goal_tolerance, self.arm.base_frame)
        )

    def set_status(self, level: str, message: str, kind: str) -> None:
        """Record the node's state; a change of kind (e.g. tracking → stale) is published at once."""
        changed = kind != self.status_kind
        self.status, self.status_kind = (level, message), kind
        if changed:
            self.publish_diagnostics()

    def publish_diagnostics(self) -> None:
        level, message = self.status
        goal = "none" if self.loop.goal is None else str(np.round(self.loop.goal.position, 4).tolist())
        self.diagnostics_pub.publish(
            diagnostics(
                self,
                level,
                message,
                {
                    "robot": self.arm.name,
                    "controller": self.params.controller,
                    "strict": self.params.strict,
                    "workspace": workspace_text(self.loop.workspace, self.arm.base_frame),
                    "orientation": self.loop.orientation_mode,
                    "sync_mode": self.params.sync_mode,
                    "paused": self.loop.paused,
                    "goal": goal,
                    "safety_interventions": self.safety_interventions,
                    "warnings": self.warnings.count,
                    **self.timing.summary(),
                },
                self.stamp(),
            )
        )


def workspace_text(workspace: Workspace, frame: str) -> str:
    """The admitted goal region in words: box corners and reach sphere, in the base frame."""
    low, high = (np.round(corner, 3).tolist() for corner in (workspace.box_min, workspace.box_max))
    center = np.round(workspace.reach_center, 3).tolist()
    return f"box {low} to {high} m in {frame}, within {workspace.reach_radius:g} m of {center}"


def main(args: list[str] | None = None) -> None:
    raise SystemExit(run_node(ReachControllerNode, args))


if __name__ == "__main__":
    main()
