"""``panda_bridge``: the PyBullet Panda (panda-gym's PandaReach physics) behind standard ROS 2 topics.

Publishes ``joint_states`` and ``ee_pose`` once per control period (0.04 s of sim time), takes
``cartesian_cmd`` (TwistStamped, m/s in ``panda_link0``) or ``joint_command`` (JointState
positions), ``joint_trajectory``
(trajectory_msgs/JointTrajectory, ros2_control's JointTrajectoryController input: the first point's
positions) or ``commands`` (std_msgs/Float64MultiArray, forward_position_controller's input: the 7
positions in ``panda_joint1..7`` order), and holds the arm where it is when commands stop.
``goal_marker`` (PointStamped)
places panda-gym's goal sphere, as the reach controller publishes each goal it accepts.

Cartesian commands are executed by ``cartesian_execution``:
- ``dls_ik`` (default): our damped-least-squares step with the posture term and active joint limits
  (``safety.cartesian_joint_targets``), then the same joint and box checks as ``joint_command``;
  consecutive goals anywhere in the workspace keep the arm near its neutral posture;
- ``pybullet_ik``: panda-gym's own end-effector control (PyBullet IK each step, no posture term),
  which reproduces ``gym.make("PandaReach-v3")`` bit for bit but lets the redundant arm drift over
  consecutive goals.

Sync modes (``sync_mode``):
- ``realtime``: a steady-clock timer steps the simulation every ``0.04 / real_time_factor`` s with
  the newest command that is younger than ``command_timeout``.
- ``lockstep``: the bridge steps as soon as the command answering its last published state arrives
  (the command's stamp equals the state's stamp); if none arrives within ``lockstep_timeout`` it
  publishes the same state again. ``commands`` carries no stamp: in lockstep each one is taken as
  the answer to the current state. Simulation then runs as fast as the controller answers and every
  run is reproducible.
"""

from __future__ import annotations

import time

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped, PoseStamped, TwistStamped
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock as ClockMessage
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, Header, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from ikrl_ros.core import validation
from ikrl_ros.core.collision import STOP_MARGIN, shared_collision_model
from ikrl_ros.core.control import CONTROL_PERIOD, MAX_CARTESIAN_SPEED
from ikrl_ros.core.execution import Command, Execution, JointTargets, Twist, limited_generator
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.motion_check import JointStreamMonitor, TwistStreamMonitor
from ikrl_ros.core.motion_quality import held_stream
from ikrl_ros.core.sim import simulate
from ikrl_ros.core.strict_arm import INTERFACE_RATE, REFLEX, PeriodMotion, StrictInterface
from ikrl_ros.core.trajectory import MotionState
from ikrl_ros.core.validation import TrajectorySamples
from ikrl_ros.nodes.messages import samples_message
from ikrl_ros.nodes.parameters import BridgeParameters, declare_parameters, motion_executor
from ikrl_ros.nodes.ros_common import (
    CONTROL_PERIOD_NS,
    ThrottledWarnings,
    diagnostics,
    ns_from_time,
    run_node,
    time_from_ns,
    xyz,
)


class PandaBridge(Node):
    """Owns one simulated arm (``core.sim.simulate``) and converts between it and ROS messages."""

    def __init__(self) -> None:
        super().__init__("panda_bridge")
        self.params = declare_parameters(self, BridgeParameters)
        self.arm = self.params.arm()
        for line in self.arm.defaulted:
            self.get_logger().warning(f"{self.arm.name}: {line}")
        self.kinematics = ArmKinematics(self.arm)
        self.motion = motion_executor(self.params, self.kinematics)

        self.sim = simulate(self.arm)
        self.strict = self.strict_interface() if self.params.strict else None
        self.pending_target: tuple[np.ndarray, np.ndarray | None] | None = None
        self.state_times: dict[int, int] = {}
        """Stamps (ns) of the recent joint states → their sim time: trajectories count from the state they answer."""
        self.reflexes = 0
        self.refused_commands = 0
        self.collision_states = 0
        self.min_clearance = np.inf
        self.sim_time_ns = 0
        self.wall_anchor_ns: int | None = None
        self.pending: Command | None = None
        self.pending_received = -np.inf
        self.hold_reason: str | None = None
        self.command_timed_out = False
        self.awaiting_answer_since = time.monotonic()
        self.rejected_commands = 0
        self.reported_hold_reason: str | None = None
        self.safety_interventions = 0
        self.steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.warnings = ThrottledWarnings(self)

        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        # Reliable publishers are compatible with both reliable and best-effort (sensor data) subscribers.
        self.joint_state_pub = self.create_publisher(JointState, "joint_states", reliable)
        # The joint targets each period applied, after every limit: what the motors were told.
        self.joint_targets_pub = self.create_publisher(JointState, "~/joint_targets", reliable)
        # The 1 kHz stream the arm's interface executed each period (for the motion-quality benchmark).
        self.interface_samples_pub = self.create_publisher(JointTrajectory, "~/interface_samples", reliable)
        self.ee_pose_pub = self.create_publisher(PoseStamped, "ee_pose", reliable)
        self.clock_pub = self.create_publisher(ClockMessage, "/clock", reliable) if self.uses_sim_time() else None
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", reliable)
        self.create_subscription(TwistStamped, "cartesian_cmd", self.on_cartesian_cmd, reliable)
        self.create_subscription(JointState, "joint_command", self.on_joint_command, reliable)
        self.create_subscription(JointTrajectory, "joint_trajectory", self.on_joint_trajectory, reliable)
        self.create_subscription(Float64MultiArray, "commands", self.on_commands, reliable)
        self.create_subscription(PointStamped, "goal_marker", self.on_goal_marker, reliable)
        self.create_service(Trigger, "~/reset", self.on_reset)
        self.create_service(Trigger, "~/recover", self.on_recover)
        self.reflex_pub = self.create_publisher(String, "~/reflex", reliable)
        latched = QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
        )
        self.reset_stamp_pub = self.create_publisher(Header, "~/reset_stamp", latched)

        if self.params.sync_mode == "realtime":
            self.create_timer(CONTROL_PERIOD / self.params.real_time_factor, self.realtime_tick, clock=self.steady)
        else:
            self.create_timer(self.params.lockstep_timeout / 4, self.lockstep_watchdog, clock=self.steady)
        self.create_timer(1.0, self.publish_diagnostics, clock=self.steady)
        self.publish_state()
        self.get_logger().info(
            f"{self.arm.name} bridge up: {self.params.sync_mode} timing, control period {CONTROL_PERIOD} s"
        )

    # --- commands in -------------------------------------------------------------------------
    def on_cartesian_cmd(self, message: TwistStamped) -> None:
        try:
            velocity, angular = validation.cartesian_twist(
                xyz(message.twist.linear), xyz(message.twist.angular), message.header.frame_id, self.arm.base_frame
            )
        except validation.InvalidInput as error:
            self.reject(str(error))
            return
        self.accept(Twist(velocity, angular), message.header.stamp)

    def on_joint_command(self, message: JointState) -> None:
        try:
            targets = validation.arm_targets_from_joint_command(self.arm, message.name, message.position)
            velocities = None
            if self.strict is not None and len(message.velocity) == len(message.name):
                velocities = validation.arm_targets_from_joint_command(self.arm, message.name, message.velocity)
        except validation.InvalidInput as error:
            self.reject(str(error))
            return
        self.pending_target = (targets, velocities)
        self.accept(JointTargets(targets), message.header.stamp)

    def on_joint_trajectory(self, message: JointTrajectory) -> None:
        """ros2_control's JointTrajectoryController interface. Strict: the whole trajectory, followed by time from
        the state its stamp names; else the positions due one control period after the stamp."""
        times = [point.time_from_start.sec + point.time_from_start.nanosec * 1e-9 for point in message.points]
        try:
            if self.strict is not None:
                samples = validation.joint_trajectory_samples(
                    self.arm,
                    message.joint_names,
                    times,
                    [point.positions for point in message.points],
                    [point.velocities for point in message.points],
                    [point.accelerations for point in message.points],
                )
            else:
                targets = validation.arm_targets_from_joint_trajectory(
                    self.arm, message.joint_names, [point.positions for point in message.points], times, CONTROL_PERIOD
                )
        except validation.InvalidInput as error:
            self.reject(f"joint_trajectory: {error}")
            return
        if self.strict is None:
            self.accept(JointTargets(targets), message.header.stamp)
            return
        self.accept(None, message.header.stamp, samples)

    def on_commands(self, message: Float64MultiArray) -> None:
        """ros2_control's forward_position_controller interface: one position per arm joint, in order, no stamp."""
        try:
            targets = validation.arm_targets_from_array(self.arm, message.data)
        except validation.InvalidInput as error:
            self.reject(str(error))
            return
        self.pending_target = (targets, None)
        self.accept(JointTargets(targets), None)

    def on_goal_marker(self, message: PointStamped) -> None:
        """Place the simulator's goal sphere where the reach controller's goal is (base frame)."""
        try:
            goal = validation.goal_in_base_frame(
                xyz(message.point), message.header.frame_id, self.arm.base_position_in_world, self.arm.base_frame
            )
        except validation.InvalidInput as error:
            self.warnings.warn(f"goal_marker ignored: {error}")
            return
        self.sim.show_goal(self.arm.base_to_world(goal))

    def reject(self, reason: str) -> None:
        self.rejected_commands += 1
        self.warnings.warn(f"command rejected: {reason}")

    def accept(self, command: Command | None, stamp: Time | None, trajectory: TrajectorySamples | None = None) -> None:
        """``stamp`` None: a message type without a header (``commands``), fresh when it arrives and, in
        lockstep, the answer to the current state. ``trajectory``: a strict joint trajectory (``command`` None),
        kept and followed by time from the state its stamp names."""
        if stamp is None:
            if self.params.sync_mode == "realtime":
                self.pending, self.pending_received = command, time.monotonic()
            else:
                self.advance(command)
            return
        if self.params.sync_mode == "realtime":
            try:
                warning = validation.check_stamp(
                    ns_from_time(stamp), self.get_clock().now().nanoseconds, round(self.params.max_stamp_future * 1e9)
                )
            except validation.InvalidInput as error:
                self.reject(f"command {error}")
                return
            if warning:
                self.warnings.warn(f"command {warning}")
            if trajectory is not None:
                self.strict.receive_trajectory(self.sim_time_of(stamp), trajectory)
            else:
                self.pending, self.pending_received = command, time.monotonic()
        elif ns_from_time(stamp) == self.sim_time_ns:
            if trajectory is not None:
                self.strict.receive_trajectory(self.sim_time_ns, trajectory)
            self.advance(command)
        # A lockstep command answering an older state is late: the state it saw is gone, so it is dropped.

    def sim_time_of(self, stamp: Time) -> int:
        """Sim time (ns) of a command's stamp: that of the state it answers; a zero stamp means now; another stamp
        is placed by its distance from the newest state's."""
        stamp_ns = ns_from_time(stamp)
        if stamp_ns in self.state_times:
            return self.state_times[stamp_ns]
        if stamp_ns == 0 or not self.state_times:
            return self.sim_time_ns
        newest = max(self.state_times)
        return self.state_times[newest] + (stamp_ns - newest)

    # --- stepping ----------------------------------------------------------------------------
    def realtime_tick(self) -> None:
        fresh = time.monotonic() - self.pending_received <= self.params.command_timeout
        self.advance(self.pending if fresh else None)

    def lockstep_watchdog(self) -> None:
        if time.monotonic() - self.awaiting_answer_since > self.params.lockstep_timeout:
            self.get_logger().warning(
                "lockstep: no command answered the last state; publishing it again", throttle_duration_sec=5.0
            )
            self.publish_state()

    def advance(self, command: Command | None) -> None:
        """Apply one command (or hold) within the safety limits, step one control period, publish the new state."""
        if self.strict is not None:
            self.advance_strict(command)
            return
        q = self.sim.arm_positions()
        if isinstance(command, Twist) and self.params.cartesian_execution == "pybullet_ik" and not command.is_zero():
            execution = self.pybullet_ik_step(command)
        else:
            execution = self.motion.execute(q, command)
            self.sim.apply_joint_targets(execution.targets)
        self.safety_interventions += self.warnings.safety(execution.interventions)
        self.command_timed_out = execution.holding and command is None
        if not execution.holding:
            self.hold_reason = None
        elif command is None:
            self.hold_reason = f"no command within command_timeout ({self.params.command_timeout} s)"
        elif isinstance(command, Twist) and not command.is_zero():
            self.hold_reason = "command limited to zero by the safety limits"
        else:
            self.hold_reason = "zero command"
        self.sim.step()
        self.sim_time_ns += CONTROL_PERIOD_NS
        stamp = self.publish_state(execution.targets)
        self.publish_interface_samples(stamp, None, held=execution.targets)
        if self.hold_reason != self.reported_hold_reason:  # report the watchdog's change at once, not at 1 Hz
            self.reported_hold_reason = self.hold_reason
            self.publish_diagnostics()

    def advance_strict(self, command: Command | None) -> None:
        """One period of the strict arm: the newest trajectory, else a fresh target or twist, checked at 1 kHz."""
        target = self.pending_target if isinstance(command, JointTargets) else None
        twist = command if isinstance(command, Twist) else None
        period = self.strict.step(self.sim_time_ns, target, twist, self.sim.arm_positions())
        self.sim.step_along(period.samples.position[1 :: len(period.samples.position) // self.sim.substeps])
        self.sim_time_ns += CONTROL_PERIOD_NS
        self.report_period(period)
        end = period.samples.position[-1]
        stamp = self.publish_state(end, period.samples.velocity[-1])
        self.publish_interface_samples(stamp, period.samples)

    def publish_interface_samples(
        self, stamp: Time, samples: MotionState | None, held: np.ndarray | None = None
    ) -> None:
        """The period's 1 kHz stream, for whoever listens: the strict arm's checked ``samples``, or without ``strict``
        the ``held`` targets over the period (positions only), as a 1 kHz position interface would take them."""
        if not self.interface_samples_pub.get_subscription_count():
            return
        if samples is None:
            stream = held_stream(held[None], round(CONTROL_PERIOD * INTERFACE_RATE))
            samples = MotionState(stream, stream, stream)
        self.interface_samples_pub.publish(
            samples_message(samples, list(self.arm.joint_names), stamp, with_derivatives=held is None)
        )

    def report_period(self, period: PeriodMotion) -> None:
        """Reflexes, refusals, holds and collision states of one strict period, for the log and ``/diagnostics``."""
        if period.reflex is not None:
            self.reflexes += 1
            text = period.reflex.text()
            self.get_logger().error(f"reflex: {text}; stopping, call ~/recover at rest to move again")
            self.reflex_pub.publish(String(data=text))
        if period.refused is not None:
            self.refused_commands += 1
            self.warnings.warn(period.refused)
        clearance = shared_collision_model(self.arm).clearance(period.samples.position[-1])
        closest = min(clearance.scene, clearance.self_)
        self.min_clearance = min(self.min_clearance, closest)
        self.collision_states += closest <= STOP_MARGIN
        previous = self.hold_reason
        self.command_timed_out = period.mode != "following" and period.mode != REFLEX
        if period.mode == "following":
            self.hold_reason = None
        elif period.mode == REFLEX:
            self.hold_reason = f"reflex {self.strict.reflex.text() if self.strict.reflex else ''}: call ~/recover"
        else:
            self.hold_reason = f"no command within command_timeout ({self.params.command_timeout} s): {period.mode}"
        if self.hold_reason != previous or period.reflex is not None:
            self.reported_hold_reason = self.hold_reason
            self.publish_diagnostics()

    def on_recover(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        """Franka's error recovery: after a reflex, at rest, the arm takes commands again."""
        if self.strict is None:
            response.success, response.message = True, "strict is off: no reflexes to recover from"
            return response
        response.success, response.message = self.strict.recover()
        self.get_logger().info(f"~/recover: {response.message}")
        return response

    def strict_interface(self) -> StrictInterface:
        lower, upper = self.kinematics.datasheet_limits_with_margin(0.0)
        joints = self.motion.joints
        return StrictInterface(
            JointStreamMonitor(self.arm, lower, upper),
            TwistStreamMonitor(self.arm.linear_limits, self.arm.angular_limits, CONTROL_PERIOD),
            limited_generator(joints, self.kinematics, CONTROL_PERIOD),
            self.motion,
            self.sim.arm_positions(),
        )

    def pybullet_ik_step(self, twist: Twist) -> Execution:
        """panda-gym's own end-effector control (PyBullet IK each step), after the twist's limits."""
        twist, notes = self.motion.limit_twist(self.sim.ee_position_base(), twist)
        if twist.angular is not None and np.any(twist.angular != 0.0):
            self.warnings.warn(
                "cartesian_cmd: angular velocity is ignored with cartesian_execution 'pybullet_ik' "
                "(panda-gym's position-only control)"
            )
        # panda-gym action = displacement / 0.05 m = velocity / 1.25 m/s; dividing by exactly 1.25
        # returns a float32 policy action bit for bit, so the bridge reproduces gym trajectories.
        self.sim.apply_ee_action(twist.linear / MAX_CARTESIAN_SPEED)
        self.motion.reset()
        return Execution(self.sim.last_arm_targets(), tuple(notes), False)

    def on_reset(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        """Back to the neutral pose. Sim time moves on one period so no answer to the old state applies."""
        self.sim.reset()
        self.pending, self.pending_received, self.pending_target = None, -np.inf, None
        self.motion.reset()
        if self.strict is not None:
            self.strict.reset(self.sim.arm_positions())
        self.sim_time_ns += CONTROL_PERIOD_NS
        stamp = self.publish_state()
        # The neutral state's stamp, typed, for clients that count control periods from it; it is published
        # before the answer, and its stamp is later than every state before the reset.
        self.reset_stamp_pub.publish(Header(stamp=stamp, frame_id=self.arm.base_frame))
        response.success = True
        response.message = (
            f"{self.arm.name} reset to the neutral pose; its state is stamped {ns_from_time(stamp) / 1e9:.3f} s"
        )
        return response

    # --- state out ---------------------------------------------------------------------------
    def uses_sim_time(self) -> bool:
        """Lockstep has one time base, the simulation's: every stamp, and /clock. Realtime stamps wall time unless
        ``publish_clock`` makes the bridge the /clock source for nodes with use_sim_time."""
        return self.params.sync_mode == "lockstep" or self.params.publish_clock

    def stamp(self) -> Time:
        """Sim time, or in realtime the wall clock; strict, on the simulation's period grid (the wall time the
        simulation started at plus its sim time): consecutive states are exactly one period apart, as a hardware
        interface stamps them, so a controller counts periods by stamps whatever the timer's jitter."""
        if self.uses_sim_time():
            return time_from_ns(self.sim_time_ns)
        if self.strict is None:
            return self.get_clock().now().to_msg()
        if self.wall_anchor_ns is None:
            self.wall_anchor_ns = self.get_clock().now().nanoseconds - self.sim_time_ns
        return time_from_ns(self.wall_anchor_ns + self.sim_time_ns)

    def publish_state(self, applied_targets: np.ndarray | None = None, velocities: np.ndarray | None = None) -> Time:
        """Joint states, the end-effector pose and the joint targets that led to them (with the commanded velocities
        when strict), one stamp; returns it."""
        stamp = self.stamp()
        self.state_times[ns_from_time(stamp)] = self.sim_time_ns
        if len(self.state_times) > 64:
            del self.state_times[min(self.state_times)]
        if self.clock_pub is not None:
            self.clock_pub.publish(ClockMessage(clock=time_from_ns(self.sim_time_ns)))
        joints = self.sim.joint_snapshot()
        joint_state = JointState()
        joint_state.header.stamp = stamp
        joint_state.header.frame_id = self.arm.base_frame
        joint_state.name = list(self.arm.all_joint_names)
        joint_state.position = joints.position.tolist()
        joint_state.velocity = joints.velocity.tolist()
        joint_state.effort = joints.effort.tolist()
        self.joint_state_pub.publish(joint_state)
        if applied_targets is not None:
            targets = JointState(name=list(self.arm.joint_names), position=[float(v) for v in applied_targets])
            if velocities is not None:
                targets.velocity = [float(v) for v in velocities]
            targets.header.stamp = stamp
            self.joint_targets_pub.publish(targets)

        pose = PoseStamped()
        pose.header.stamp = stamp
        pose.header.frame_id = self.arm.base_frame
        position, orientation = self.sim.ee_position_base(), self.sim.ee_orientation_xyzw()
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = position.tolist()
        (pose.pose.orientation.x, pose.pose.orientation.y, pose.pose.orientation.z, pose.pose.orientation.w) = (
            orientation.tolist()
        )
        self.ee_pose_pub.publish(pose)
        self.awaiting_answer_since = time.monotonic()
        return stamp

    def publish_diagnostics(self) -> None:
        timed_out = self.hold_reason is not None and self.command_timed_out
        reflex = self.strict is not None and self.strict.reflex is not None
        self.diagnostics_pub.publish(
            diagnostics(
                self,
                "error" if reflex else "warn" if timed_out else "ok",
                f"holding position: {self.hold_reason}" if self.hold_reason else "following commands",
                {
                    "sync_mode": self.params.sync_mode,
                    "cartesian_execution": self.params.cartesian_execution,
                    "sim_time": f"{self.sim_time_ns / 1e9:.3f}",
                    "steps": self.sim.steps,
                    "rejected_commands": self.rejected_commands,
                    "warnings": self.warnings.count,
                    "safety_interventions": self.safety_interventions,
                    "strict": self.strict is not None,
                    "reflexes": self.reflexes,
                    "refused commands": self.refused_commands,
                    "collision states": self.collision_states,
                    "min clearance m": f"{self.min_clearance:.4f}",
                },
                self.stamp(),
            )
        )

    def on_shutdown(self) -> None:
        self.sim.close()


def main(args: list[str] | None = None) -> None:
    raise SystemExit(run_node(PandaBridge, args))


if __name__ == "__main__":
    main()
