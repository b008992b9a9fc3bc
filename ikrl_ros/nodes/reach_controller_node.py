"""``reach_controller``: drives the Panda's end effector to goal positions sent as RViz sends them.

Goals arrive on ``goal_pose`` (PoseStamped, RViz "2D Goal Pose") or ``clicked_point``
(PointStamped, RViz "Publish Point"); their orientation is used as the ``orientation`` parameter says.
Each joint state is answered as it arrives: it becomes the observation the controller's task uses
(end-effector pose from Pinocchio, plus the goal), a controller chosen by the ``controller`` parameter
computes the step, and the node
publishes ``cartesian_cmd`` (TwistStamped) or joint position targets on the interface
``joint_command_type`` chooses: ``joint_command`` (JointState), ``joint_trajectory``
(trajectory_msgs/JointTrajectory, ros2_control's JointTrajectoryController) or ``commands``
(std_msgs/Float64MultiArray, ros2_control's forward_position_controller). With ``cartesian_output:
joint`` the Cartesian controllers' twists are turned into joint targets here (the bridge's DLS step),
so a ros2_control stack without MoveIt Servo runs them too.

MoveIt Servo's conventions: ``~/status`` (std_msgs/Int8, Servo's codes) every control step, and
``~/pause`` (std_srvs/SetBool) to hold and resume.

A zero twist means "hold": it is what the node sends with no goal, with stale or missing joint
states, and on shutdown.
"""

from __future__ import annotations

import time

import numpy as np
from builtin_interfaces.msg import Duration, Time
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped, PoseStamped, TwistStamped
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64, Float64MultiArray, Int8
from std_srvs.srv import SetBool
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint
from visualization_msgs.msg import MarkerArray

from ikrl_ros.core import validation
from ikrl_ros.core.controllers import ArmObservation, CartesianAction, LearnedPolicyController, ReachState
from ikrl_ros.core.kinematics import PandaKinematics
from ikrl_ros.core.panda_model import (
    ARM_JOINT_NAMES,
    BASE_FRAME,
    CONTROL_PERIOD,
    MAX_ANGULAR_SPEED,
    MAX_CARTESIAN_SPEED,
    SHOULDER_POSITION,
)
from ikrl_ros.core.rotations import GRIPPER_DOWN, angle_between, top_down, yaw_of
from ikrl_ros.core.safety import (
    JOINT_LIMIT_NOTE,
    SingularityGuard,
    cartesian_joint_targets,
    limit_angular,
    limit_cartesian,
    limit_joint_targets,
)
from ikrl_ros.core.timing import LoopTiming
from ikrl_ros.core.workspace import orientation_reachable
from ikrl_ros.nodes.markers import reach_markers
from ikrl_ros.nodes.parameters import ReachControllerParameters, declare_parameters, safety_limits
from ikrl_ros.nodes.ros_common import ThrottledWarnings, diagnostics, ns_from_time, run_node, xyz
from ikrl_ros.rl.controller_factory import ControllerSettings, make_controller

JOINT_COMMAND_TYPES = {
    "joint_state": (JointState, "joint_command"),
    "joint_trajectory": (JointTrajectory, "joint_trajectory"),
    "float64_multi_array": (Float64MultiArray, "commands"),
}
"""joint_command_type → (message type, topic): ours, ros2_control's JointTrajectoryController, its
forward_position_controller."""
# ~/status codes: MoveIt Servo's StatusCode values (4 and 5, collisions, are not checked here).
STATUS_INVALID = -1
STATUS_NO_WARNING = 0
STATUS_DECELERATE_FOR_SINGULARITY = 1
STATUS_HALT_FOR_SINGULARITY = 2
STATUS_LEAVING_SINGULARITY = 3
STATUS_JOINT_BOUND = 6
STATUS_PRIORITY = (
    STATUS_NO_WARNING,
    STATUS_LEAVING_SINGULARITY,
    STATUS_DECELERATE_FOR_SINGULARITY,
    STATUS_JOINT_BOUND,
    STATUS_HALT_FOR_SINGULARITY,
    STATUS_INVALID,
)
"""When one step has several, the later in this tuple is reported."""
MARKER_PERIOD = 0.1
MAX_ANSWER_CREDIT = 1.5
"""Realtime decimation: each state earns (time since the previous state) × control_rate of credit, and is
answered once the credit reaches ½ (spending 1). States at control_rate are all answered whatever their
jitter; faster streams are thinned to control_rate on average; the cap stops bursts after a gap."""


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
        self.base_entities = self.entity_sets()
        if self.params.autostart:
            if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                raise ValueError(self.configure_error or "configure transition failed")
            if self.trigger_activate() != TransitionCallbackReturn.SUCCESS:
                raise RuntimeError("activate transition failed")
        else:
            self.get_logger().info(
                "reach controller unconfigured: waiting for lifecycle transitions (reach_controller/change_state)"
            )

    def entity_sets(self) -> tuple[set, set, set, set]:
        return set(self.publishers), set(self.subscriptions), set(self.timers), set(self.services)

    def setup(self) -> None:
        """The configure transition: load the controller and its limits, reset the loop state, create the
        interfaces."""
        self.load_controller()
        self.reset_loop_state()
        self.create_interfaces()
        self.get_logger().info(f"reach controller '{self.params.controller}' up, {self.params.sync_mode} mode")

    def load_controller(self) -> None:
        """The admitted workspace, the safety limits and the controller the parameters name."""
        self.workspace = validation.Workspace(
            np.array(self.params.workspace_min),
            np.array(self.params.workspace_max),
            SHOULDER_POSITION,
            self.params.reach_radius,
        )

        self.kinematics = PandaKinematics()
        self.cartesian_limits, self.joint_limits = safety_limits(self.params, self.kinematics)
        self.singularity_guard = SingularityGuard(
            self.kinematics, self.params.singularity_slowdown, self.params.singularity_stop
        )
        self.controller = make_controller(self.controller_settings(), self.kinematics)
        # Every Cartesian command (cartesian_p, Cartesian policies, hybrid's Cartesian steps), as MoveIt Servo guards
        # every twist: near a singularity a twist turns into fast joint motion. Joint-target controllers bound
        # every joint step instead, and a guard there would freeze them whenever the way to the goal passes a
        # badly conditioned posture (it did, re-orienting the wrist).
        self.guard_singularities = not self.controller.commands_joints
        if isinstance(self.controller, LearnedPolicyController):
            policy = self.controller.policy
            self.get_logger().info(f"loaded {policy.algo} policy (trained {policy.step} steps on {policy.env_id})")
        self.orientation_mode = self.effective_orientation()
        # Everything goes out as joint targets: joint-space controllers, and Cartesian ones with
        # cartesian_output 'joint'.
        self.publishes_joints = self.controller.commands_joints or self.params.cartesian_output == "joint"

    def reset_loop_state(self) -> None:
        """No goal, no state yet; fresh timing, warnings and counters."""
        self.goal: np.ndarray | None = None
        self.goal_rotation: np.ndarray | None = None
        self.goal_topic = ""
        self.goal_changed = False
        self.arm: ArmObservation | None = None
        self.state_stamp = Time()
        self.state_received = -np.inf
        self.last_marker_time = -np.inf
        self.steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.warnings = ThrottledWarnings(self)
        self.timing = LoopTiming(1.0 / self.params.control_rate)
        self.safety_interventions = 0
        self.status = ("warn", "waiting for joint states and a goal")
        self.status_kind = "starting"
        self.step_code = STATUS_NO_WARNING
        self.paused = False
        self.latched_hold: np.ndarray | None = None
        """Joint positions held while paused (or on a zero twist with cartesian_output 'joint'): no creeping hold."""
        self.answer_credit = MAX_ANSWER_CREDIT

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
        publishers, subscriptions, timers, services = self.base_entities
        for timer in set(self.timers) - timers:
            self.destroy_timer(timer)
        for subscription in set(self.subscriptions) - subscriptions:
            self.destroy_subscription(subscription)
        for service in set(self.services) - services:
            self.destroy_service(service)
        for publisher in set(self.publishers) - publishers:
            self.destroy_publisher(publisher)
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
        self.latched_hold = None
        self.goal_changed = self.goal is not None  # plan again from wherever the arm is now
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

    def controller_settings(self) -> ControllerSettings:
        p = self.params
        return ControllerSettings(
            p.controller,
            p.policy_path,
            p.hybrid_policy,
            p.hybrid_near,
            p.hybrid_switch_radius,
            p.cartesian_p_gain,
            p.ik_max_joint_step,
        )

    # --- inputs ------------------------------------------------------------------------------
    def on_goal_pose(self, message: PoseStamped) -> None:
        q = message.pose.orientation
        self.set_goal(xyz(message.pose.position), message.header.frame_id, "goal_pose", [q.x, q.y, q.z, q.w])

    def on_clicked_point(self, message: PointStamped) -> None:
        self.set_goal(xyz(message.point), message.header.frame_id, "clicked_point")

    def effective_orientation(self) -> str:
        """The orientation mode in use: ``auto`` becomes top_down or ignore by what the controller can do; an
        explicit mode a position-only controller cannot honour becomes ignore, with a warning."""
        if self.controller.reaches_orientation:
            return "top_down" if self.params.orientation == "auto" else self.params.orientation
        if self.params.orientation not in ("auto", "ignore"):
            self.get_logger().warning(
                f"controller '{self.params.controller}' reaches positions only: goal orientations are ignored "
                "(a pose policy such as policy_path:=sac_workspace_pose, a classical or hybrid controller honours them)"
            )
        return "ignore"

    def goal_orientation(self, quaternion: list[float] | None) -> np.ndarray | None:
        """The goal rotation the orientation mode asks for; without a quaternion, the current one (or its yaw)."""
        if self.orientation_mode == "ignore":
            return None
        current = self.arm.ee_rotation if self.arm is not None else GRIPPER_DOWN
        if quaternion is None:
            return current if self.orientation_mode == "track" else top_down(yaw_of(current))
        rotation = validation.goal_orientation(quaternion)
        return rotation if self.orientation_mode == "track" else top_down(yaw_of(rotation))

    def set_goal(self, point: list[float], frame_id: str, topic: str, quaternion: list[float] | None = None) -> None:
        try:
            goal = validation.goal_in_base_frame(point, frame_id, np.array(self.params.base_position_in_world))
            goal, warning = validation.admit_goal(goal, self.workspace, self.params.out_of_workspace == "clamp")
            # panda_link0 and world differ by a translation only: the orientation needs no transform.
            goal_rotation = self.goal_orientation(quaternion)
        except validation.InvalidInput as error:
            self.warnings.warn(f"{topic}: {error}")
            self.publish_status(STATUS_INVALID)
            return
        if warning:
            self.warnings.warn(f"{topic}: {warning}")
        self.goal, self.goal_rotation, self.goal_changed, self.goal_topic = goal, goal_rotation, True, topic
        marker = PointStamped()
        marker.header.stamp, marker.header.frame_id = self.stamp(), BASE_FRAME
        marker.point.x, marker.point.y, marker.point.z = (float(v) for v in goal)
        self.goal_marker_pub.publish(marker)
        self.get_logger().info(
            f"new goal from {topic}: {np.round(goal, 4).tolist()} in {BASE_FRAME}", throttle_duration_sec=1.0
        )

    def on_joint_state(self, message: JointState) -> None:
        try:
            arm = validation.arm_state_from_joint_state(
                message.name, message.position, message.velocity, self.params.allow_extra_joints
            )
            stamp_warning = validation.check_stamp(
                ns_from_time(message.header.stamp),
                self.get_clock().now().nanoseconds,
                round(self.params.max_stamp_future * 1e9),
            )
        except validation.InvalidInput as error:
            self.warnings.warn(f"joint_states: {error}")
            self.publish_status(STATUS_INVALID)
            return
        if (
            stamp_warning and self.params.sync_mode == "realtime"
        ):  # in lockstep, stamps are sim time and 0 is its first instant
            self.warnings.warn(f"joint_states: message {stamp_warning}")
        self.arm = ArmObservation.from_joints(self.kinematics, arm.position, arm.velocity)
        self.state_stamp = message.header.stamp
        previous, self.state_received = self.state_received, time.monotonic()
        # Answer the state at once, so the command acts on the state it was computed from; in realtime
        # at most control_rate times per second on average (states from a faster driver are thinned).
        if self.params.sync_mode == "realtime":
            self.answer_credit = min(
                self.answer_credit + (self.state_received - previous) * self.params.control_rate, MAX_ANSWER_CREDIT
            )
            if self.answer_credit < 0.5:
                return
            self.answer_credit -= 1.0
        if not self.active:
            return
        self.timing.tick(self.state_received)
        self.control_step()

    # --- control -----------------------------------------------------------------------------
    def watchdog(self) -> None:
        """Realtime: without fresh joint states, hold (and say why) until they come back."""
        if not self.active:
            return
        if self.arm is None:
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
            self.publish_hold()

    def control_step(self) -> None:
        self.step_code = STATUS_NO_WARNING
        if self.goal is None:
            self.set_status("ok", "no goal: holding" + (" (paused)" if self.paused else ""), "idle")
            self.publish_hold()
            self.publish_status(self.step_code)
            return
        started = time.monotonic()
        if self.goal_changed:
            self.drop_unreachable_orientation()
        state = self.arm.reach_state(self.goal, self.goal_rotation)
        if self.paused:
            self.hold_in_place(state)
        else:
            self.command_step(state)
        self.timing.step_done(started, self.state_received, time.monotonic(), self.state_age_ms())
        distance = float(np.linalg.norm(self.goal - state.ee_position))
        self.distance_pub.publish(Float64(data=distance))
        reached = distance <= self.params.goal_tolerance
        away = f"{distance * 1000:.1f} mm"
        if self.goal_rotation is not None:
            angle = angle_between(state.ee_rotation, self.goal_rotation)
            self.angle_pub.publish(Float64(data=angle))
            reached = reached and angle <= self.params.goal_angle_tolerance
            away += f", {angle:.3f} rad"
        self.reached_pub.publish(Bool(data=reached))
        if self.paused:
            self.set_status("ok", f"paused (~/pause): holding, goal {away} away", "paused")
        else:
            self.set_status("ok", f"tracking goal, {away} away", "tracking")
        self.publish_markers(state)
        self.publish_status(self.step_code)

    def command_step(self, state: ReachState) -> None:
        """One controller step, limited and sent on the configured interface."""
        if self.goal_changed:
            self.controller.set_goal(self.goal, state)
            self.goal_changed = False
        command = self.controller.compute(state)
        if isinstance(command, CartesianAction):
            angular_request = np.zeros(3) if command.angular is None else np.clip(command.angular, -1.0, 1.0)
            velocity, angular = self.safe_twist(
                state, np.clip(command.action, -1.0, 1.0) * MAX_CARTESIAN_SPEED, angular_request * MAX_ANGULAR_SPEED
            )
            if self.finite_or_zero(velocity, "velocity") and self.finite_or_zero(angular, "angular velocity"):
                if self.params.cartesian_output == "joint":
                    self.publish_twist_as_joint_targets(state, velocity, angular)
                else:
                    self.publish_cartesian(velocity, angular)
        else:
            targets = self.safe_joint_targets(state, command.positions)
            if self.finite_or_zero(targets, "joint targets"):
                self.latched_hold = None
                self.publish_joint_targets(targets)

    def publish_twist_as_joint_targets(self, state: ReachState, velocity: np.ndarray, angular: np.ndarray) -> None:
        """cartesian_output 'joint': the bridge's DLS step (same limits) here; a zero twist holds, as in the bridge."""
        if not (np.any(velocity != 0.0) or np.any(angular != 0.0)):
            self.hold_in_place(state)
            return
        targets, notes = cartesian_joint_targets(
            velocity,
            state.joint_positions,
            CONTROL_PERIOD,
            self.kinematics,
            self.joint_limits,
            self.cartesian_limits,
            angular,
        )
        self.note_joint_limits(notes)
        self.safety_interventions += self.warnings.safety(notes)
        if self.finite_or_zero(targets, "joint targets"):
            self.latched_hold = None
            self.publish_joint_targets(targets)

    def hold_in_place(self, state: ReachState) -> None:
        """Hold where the arm was when holding began (joint interfaces), or a zero twist."""
        if not self.publishes_joints:
            self.publish_cartesian(np.zeros(3))
            return
        if self.latched_hold is None:
            self.latched_hold = state.joint_positions.copy()
        self.publish_joint_targets(self.latched_hold)

    def flag(self, code: int) -> None:
        """Raise this step's ~/status code to ``code`` if it ranks higher (STATUS_PRIORITY)."""
        if STATUS_PRIORITY.index(code) > STATUS_PRIORITY.index(self.step_code):
            self.step_code = code

    def note_joint_limits(self, notes: list[str]) -> None:
        if any(note.startswith(JOINT_LIMIT_NOTE) for note in notes):
            self.flag(STATUS_JOINT_BOUND)

    def publish_status(self, code: int) -> None:
        self.status_pub.publish(Int8(data=code))

    def on_pause(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        """MoveIt Servo's ~/pause_servo: true holds and stops tracking (the goal is kept), false resumes."""
        was_paused, self.paused = self.paused, bool(request.data)
        if self.paused:
            response.message = (
                "already paused: holding"
                if was_paused
                else "paused: holding, goal tracking stopped until ~/pause false"
            )
            if not was_paused:
                self.latched_hold = None
                self.get_logger().info("paused through ~/pause: holding")
        else:
            response.message = "resumed goal tracking" if was_paused else "not paused: tracking"
            if was_paused:
                self.latched_hold = None
                self.goal_changed = self.goal is not None  # the controller plans again from where the arm is now
                self.get_logger().info("resumed through ~/pause")
        response.success = True
        return response

    def drop_unreachable_orientation(self) -> None:
        """Position first: an orientation IK cannot reach at the goal from the current posture is dropped for
        this goal. Checked here, once per new goal at the control rate, not in the goal callback: a flood of
        goals must not cost an IK solve each."""
        if self.goal_rotation is not None and not orientation_reachable(
            self.kinematics, self.goal, self.goal_rotation, self.arm.joint_positions
        ):
            self.warnings.warn(
                f"{self.goal_topic}: the arm cannot take that orientation at this position from its posture; reaching "
                "the position, orientation free"
            )
            self.goal_rotation = None

    def finite_or_zero(self, command: np.ndarray, what: str) -> bool:
        """Last line of defence: a non-finite command (a policy fed a pathological state) becomes a zero command."""
        if np.all(np.isfinite(command)):
            return True
        self.flag(STATUS_INVALID)
        self.warnings.warn(f"controller '{self.params.controller}' produced non-finite {what}; commanding zero motion")
        self.publish_hold()
        return False

    def safe_twist(self, state: ReachState, velocity: np.ndarray, angular: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Speed, box and singularity limits on the twist; every intervention is reported.

        The singularity guard predicts the next posture from the whole twist (6×7 Jacobian, as the condition
        number it watches) and scales the linear part. The rotation is left to its speed limit and the joint-step
        limit: scaling it too (as MoveIt Servo, which is jogged by hand) froze cartesian_p for 100 consecutive
        goals in the workspace suite — the top-down correction raised the condition number, so every goal's
        whole twist was halted and the wrist never turned out of the badly conditioned posture.
        """
        velocity, notes = limit_cartesian(velocity, state.ee_position, CONTROL_PERIOD, self.cartesian_limits)
        angular, angular_notes = limit_angular(angular, self.cartesian_limits)
        notes += angular_notes
        if self.guard_singularities:
            twist = np.concatenate([velocity, angular]) * CONTROL_PERIOD
            q_next = state.joint_positions + np.linalg.pinv(self.arm.jacobian) @ twist  # 6×7, from this state
            scale, condition = self.singularity_guard.scale(state.joint_positions, q_next)
            if scale < 1.0:
                notes.append(f"near a singularity (condition number {condition:.1f}): speed × {scale:.2f}")
                velocity = velocity * scale
                self.flag(STATUS_HALT_FOR_SINGULARITY if scale == 0.0 else STATUS_DECELERATE_FOR_SINGULARITY)
            elif condition > self.singularity_guard.slowdown:
                self.flag(STATUS_LEAVING_SINGULARITY)  # badly conditioned, but moving away: not slowed
        self.safety_interventions += self.warnings.safety(notes)
        return velocity, angular

    def safe_joint_targets(self, state: ReachState, targets: np.ndarray) -> np.ndarray:
        """Joint limits, step size and safety box."""
        targets, notes = limit_joint_targets(
            targets, state.joint_positions, self.joint_limits, self.kinematics, self.cartesian_limits
        )
        self.note_joint_limits(notes)
        self.safety_interventions += self.warnings.safety(notes)
        return targets

    def stamp(self) -> Time:
        """One time base per mode: lockstep stamps everything (commands, markers, diagnostics) with the sim time
        of the state being answered; realtime with this node's clock (wall, or /clock with use_sim_time)."""
        return self.state_stamp if self.params.sync_mode == "lockstep" else self.get_clock().now().to_msg()

    def publish_cartesian(self, velocity: np.ndarray, angular: np.ndarray | None = None) -> None:
        message = TwistStamped()
        message.header.stamp = self.stamp()
        message.header.frame_id = BASE_FRAME
        message.twist.linear.x, message.twist.linear.y, message.twist.linear.z = (float(v) for v in velocity)
        if angular is not None:
            message.twist.angular.x, message.twist.angular.y, message.twist.angular.z = (float(v) for v in angular)
        self.cartesian_pub.publish(message)

    def publish_hold(self) -> None:
        """Hold on the interface the controller commands: a zero twist, or the joint positions where holding
        began (latched, so repeated holds do not creep with the measured positions)."""
        if not self.publishes_joints:
            self.publish_cartesian(np.zeros(3))
        elif self.latched_hold is not None or self.arm is not None:
            if self.latched_hold is None:
                self.latched_hold = self.arm.joint_positions.copy()
            self.publish_joint_targets(self.latched_hold)

    def state_age_ms(self) -> float | None:
        """Age of the answered joint state by its stamp, on this node's clock (wall, or /clock with use_sim_time);
        None if unstamped, and in lockstep, where the stamp is the answer's own time."""
        stamp_ns = ns_from_time(self.state_stamp)
        if self.params.sync_mode == "lockstep":
            return None
        return (self.get_clock().now().nanoseconds - stamp_ns) / 1e6 if stamp_ns else None

    def publish_joint_targets(self, positions: np.ndarray) -> None:
        """Position targets for panda_joint1..7 on the joint_command_type interface."""
        if self.params.joint_command_type == "float64_multi_array":
            message = Float64MultiArray(data=[float(v) for v in positions])  # no header: ros2_control's layout
        elif self.params.joint_command_type == "joint_trajectory":
            message = JointTrajectory()
            message.header.stamp = self.stamp()
            message.joint_names = list(ARM_JOINT_NAMES)
            period_ns = round(1e9 / self.params.control_rate)
            point = JointTrajectoryPoint(
                positions=[float(v) for v in positions],
                time_from_start=Duration(sec=period_ns // 1_000_000_000, nanosec=period_ns % 1_000_000_000),
            )
            message.points = [point]
        else:
            message = JointState()
            message.header.stamp = self.stamp()
            message.name = list(ARM_JOINT_NAMES)
            message.position = positions.tolist()
        self.joint_pub.publish(message)

    # --- monitoring --------------------------------------------------------------------------
    def publish_markers(self, state: ReachState) -> None:
        """RViz markers of the goal, the end effector and the tolerance, at most every ``MARKER_PERIOD``."""
        now = time.monotonic()
        if now - self.last_marker_time < MARKER_PERIOD:
            return
        self.last_marker_time = now
        self.marker_pub.publish(reach_markers(state, self.stamp(), self.params.goal_tolerance))

    def set_status(self, level: str, message: str, kind: str) -> None:
        """Record the node's state; a change of kind (e.g. tracking → stale) is published at once."""
        changed = kind != self.status_kind
        self.status, self.status_kind = (level, message), kind
        if changed:
            self.publish_diagnostics()

    def publish_diagnostics(self) -> None:
        level, message = self.status
        goal = "none" if self.goal is None else str(np.round(self.goal, 4).tolist())
        self.diagnostics_pub.publish(
            diagnostics(
                self,
                level,
                message,
                {
                    "controller": self.params.controller,
                    "orientation": self.orientation_mode,
                    "sync_mode": self.params.sync_mode,
                    "paused": self.paused,
                    "goal": goal,
                    "safety_interventions": self.safety_interventions,
                    "warnings": self.warnings.count,
                    **self.timing.summary(),
                },
                self.stamp(),
            )
        )


def main(args: list[str] | None = None) -> None:
    raise SystemExit(run_node(ReachControllerNode, args))


if __name__ == "__main__":
    main()
