"""The reach controller without ROS: a goal and joint states in, one step result out.

As MoveIt Servo's ``Servo`` beside its ``ServoNode``: ``ReachLoop`` owns the semantics (goal frames and
orientation modes, the workspace gate, pause and hold, safety limits, the singularity guard, the
status code), and the node only converts messages, keeps time and publishes. Every behaviour here is
unit-tested without DDS.

Each ``step`` answers the newest arm observation with a ``StepResult``: the command to publish (a twist,
or joint targets on a joint interface), whether it is a hold, a typed status code, the interventions of
the limits, warnings for the log, and the goal's distance, angle and whether it is reached.

Under the limited execution the loop plans one period ahead, as a real-time interface needs: the answer to the
joint state of step k carries the motion of the period from k to k + 1, decided by an earlier answer and sent
again, the new motion from k + 1 to k + 2, and a smooth halt after it (``PlannedMotion``), all sampled at 1 kHz.
A receiver that gets an answer a period late, or misses some, still has motion that continues the last, down to
rest; the loop counts periods by the answered states' stamps and continues from what the receiver did, so late
or skipped answers never break the trajectory.
Controllers see the arm where it will be when their command starts (the commanded state at k + 1). When the
measured arm strays from the commanded motion (a reset, a halt elsewhere) the plan starts again from the
measured state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from ikrl_ros.core import validation
from ikrl_ros.core.controllers import ArmObservation, ReachController, ReachState
from ikrl_ros.core.execution import Command, Execution, JointTargets, MotionExecutor, Twist
from ikrl_ros.core.robot import Workspace
from ikrl_ros.core.rotations import GRIPPER_DOWN, angle_between, top_down, yaw_of
from ikrl_ros.core.safety import Intervention, InterventionKind, SingularityGuard
from ikrl_ros.core.trajectory import MotionState
from ikrl_ros.core.workspace import orientation_reachable


class StatusCode(enum.IntEnum):
    """MoveIt Servo's status codes (``~/status``)."""

    INVALID = -1
    NO_WARNING = 0
    DECELERATE_FOR_SINGULARITY = 1
    HALT_FOR_SINGULARITY = 2
    LEAVING_SINGULARITY = 3
    DECELERATE_FOR_COLLISION = 4
    HALT_FOR_COLLISION = 5
    JOINT_BOUND = 6


STATUS_PRIORITY = (
    StatusCode.NO_WARNING,
    StatusCode.LEAVING_SINGULARITY,
    StatusCode.DECELERATE_FOR_SINGULARITY,
    StatusCode.DECELERATE_FOR_COLLISION,
    StatusCode.JOINT_BOUND,
    StatusCode.HALT_FOR_SINGULARITY,
    StatusCode.HALT_FOR_COLLISION,
    StatusCode.INVALID,
)
"""When one step has several, the later in this tuple is reported."""

ORIENTATION_MODES = ("auto", "top_down", "track", "ignore")
CARTESIAN_OUTPUTS = ("twist", "joint")
INTERFACE_RATE = 1000.0
"""Hz: the rate a real arm's interface runs at (libfranka, ros2_control on the Panda); planned motion is sampled
at it."""
COMMIT_PERIODS = 2
"""Periods of motion decided before they start: an answer may come up to a period late (after the next period
began) and the motion it decides still continues what the arm is doing."""
MAX_FALLBACK_PERIODS = 15
"""A halt from any speed within the limits takes fewer periods (0.6 s)."""
RESYNC_TOLERANCE = 0.008
"""rad: the measured joints may differ from the commanded motion this much at rest (plus the motors' lag in
motion, ``RESYNC_LAG``) before the plan starts again from the measured state; below the strict arm's tolerance
for where a stream may start (``strict_arm.START_TOLERANCE``), so a plan started again is always taken up."""
MOVING_SPEED = 0.05
"""rad/s: a joint faster than this is moving (the commanded motion, or the arm as measured)."""
RESYNC_LAG = (0.1, 0.005)
"""s, s²: the lag allowed in motion per rad/s of commanded speed and per rad/s² of acceleration (the simulated
Panda lags its commands by up to 0.02 rad when reaching across the workspace)."""


def worst(first: StatusCode, second: StatusCode) -> StatusCode:
    """The status of higher priority (``STATUS_PRIORITY``)."""
    return second if STATUS_PRIORITY.index(second) > STATUS_PRIORITY.index(first) else first


@dataclass(frozen=True)
class ReachLoopSettings:
    """The semantics a user chooses (the reach controller's parameters of the same names)."""

    orientation: str = "auto"
    clamp_out_of_workspace: bool = True
    goal_tolerance: float = 0.05
    goal_angle_tolerance: float = 0.05
    cartesian_output: str = "twist"
    world_offset: np.ndarray = field(default_factory=lambda: np.zeros(3))
    """Position of the base frame in ``world``: goals stamped ``world`` are shifted by it."""

    def __post_init__(self) -> None:
        if self.orientation not in ORIENTATION_MODES:
            raise ValueError(f"orientation must be one of {ORIENTATION_MODES}, got {self.orientation!r}")
        if self.cartesian_output not in CARTESIAN_OUTPUTS:
            raise ValueError(f"cartesian_output must be one of {CARTESIAN_OUTPUTS}, got {self.cartesian_output!r}")


@dataclass(frozen=True)
class Goal:
    """An accepted goal in the base frame; ``rotation`` None means position only."""

    position: np.ndarray
    rotation: np.ndarray | None
    source: str


@dataclass(frozen=True)
class PlannedMotion:
    """Control periods of commanded motion sampled at ``INTERFACE_RATE``, from the answered state's time: the
    periods already decided by earlier answers (``decided``: the one under way and ``COMMIT_PERIODS`` − 1 more),
    the new one (``following``), and a smooth halt after it to rest (``fallback``, whole periods: what the arm does
    if the next answers come late or never), so every plan ends at rest."""

    decided: tuple[MotionState, ...]
    following: MotionState
    fallback: MotionState | None
    """None when the new period already ends at rest."""
    resynchronised: bool
    """The plan started again from the measured state at this step."""

    @property
    def end_of_current(self) -> MotionState:
        """The commanded state one period after the answered state (what a single-point interface is sent)."""
        return _last(self.decided[0])

    def samples(self) -> MotionState:
        """All periods as one array of samples (periods × period × rate)."""
        parts = [*self.decided, self.following] + ([self.fallback] if self.fallback is not None else [])
        return _joined(parts)


MOTION_FIELDS = ("position", "velocity", "acceleration")


def moving(velocities: np.ndarray) -> bool:
    """Whether any joint moves faster than ``MOVING_SPEED``."""
    return bool(np.any(np.abs(velocities) > MOVING_SPEED))


def _last(samples: MotionState) -> MotionState:
    return MotionState(samples.position[-1], samples.velocity[-1], samples.acceleration[-1])


def _joined(parts: list[MotionState]) -> MotionState:
    return MotionState(*(np.vstack([getattr(part, key) for part in parts]) for key in MOTION_FIELDS))


def _resting(state: MotionState, count: int) -> MotionState:
    return MotionState(*(np.tile(getattr(state, key), (count, 1)) for key in MOTION_FIELDS))


SINGULAR_CREEP = 0.1
"""Beyond the guard's stop threshold, motion along the singular direction keeps this fraction of its speed (the
joint-step limit bounds the joint motion it takes), so goals inside the badly conditioned band are reached slowly
instead of never."""
SINGULAR_CREEP_LIMIT = 2.0
"""× the stop threshold: above this condition number motion along the singular direction halts."""


@dataclass(frozen=True)
class StepResult:
    """One control step's outcome."""

    command: Command | None
    """None: nothing to command yet (a joint interface before the first joint state)."""
    holding: bool
    status: StatusCode
    interventions: tuple[Intervention, ...] = ()
    warnings: tuple[str, ...] = ()
    distance: float | None = None
    angle: float | None = None
    reached: bool = False
    state: ReachState | None = None
    motion: PlannedMotion | None = None
    """Limited execution: the planned motion the command stands for (joint interfaces send it whole)."""


class ReachLoop:
    """Goal tracking for one arm with one controller under one set of limits."""

    def __init__(
        self,
        controller: ReachController,
        executor: MotionExecutor,
        guard: SingularityGuard,
        workspace: Workspace,
        settings: ReachLoopSettings,
    ) -> None:
        self.controller, self.executor, self.guard = controller, executor, guard
        self.kinematics = executor.kinematics
        self.arm = self.kinematics.arm
        self.workspace, self.settings = workspace, settings
        self.orientation_mode, self.orientation_warning = effective_orientation(
            settings.orientation, controller.reaches_orientation
        )
        self.publishes_joints = controller.commands_joints or settings.cartesian_output == "joint"
        """Whether commands (and so holds) go to a joint interface rather than as twists."""
        # Every Cartesian command is guarded, as MoveIt Servo guards every twist: near a singularity a twist turns
        # into fast joint motion. Joint-target controllers bound every joint step instead.
        self.guard_singularities = not controller.commands_joints
        self.goal: Goal | None = None
        self.goal_changed = False
        self.observation: ArmObservation | None = None
        self.paused = False
        self.samples_per_period = round(executor.period * INTERFACE_RATE)
        self.decided: list[MotionState] = []
        """Limited execution: the samples of the periods from the answered state on, decided earlier."""
        self.sent: dict[int, tuple[MotionState, MotionState]] = {}
        """Periods sent and not yet under way, by index: the state each starts from, and its samples."""
        self.period_index = 0
        self.last_stamp_ns: int | None = None
        self.resyncs = 0
        self.resync_reason: str | None = None
        self.braking_for_lag = False
        """Limited execution: the arm lags a moving command beyond the tolerance; the command brakes to rest."""

    # --- inputs ------------------------------------------------------------------------------
    def observe(self, positions: np.ndarray, velocities: np.ndarray) -> ArmObservation:
        """Take a joint state (``Arm.joint_names`` order): the end-effector pose and Jacobian for the next step."""
        self.observation = ArmObservation.from_joints(self.kinematics, positions, velocities)
        return self.observation

    def set_goal(
        self, point: list[float], frame_id: str, source: str, quaternion: list[float] | None = None
    ) -> tuple[Goal, str | None]:
        """Accept a goal (clamped into the workspace if so configured); returns it and a warning, if any.
        Raises ``validation.InvalidInput`` (the message names the problem) and keeps the previous goal."""
        position = validation.goal_in_base_frame(point, frame_id, self.settings.world_offset, self.arm.base_frame)
        position, warning = validation.admit_goal(position, self.workspace, self.settings.clamp_out_of_workspace)
        # The base frame and world differ by a translation only: the orientation needs no transform.
        goal = Goal(position, self.goal_orientation(quaternion), source)
        self.goal, self.goal_changed = goal, True
        return goal, warning

    def goal_orientation(self, quaternion: list[float] | None) -> np.ndarray | None:
        """The goal rotation the orientation mode asks for; without a quaternion, the current one (or its yaw)."""
        if self.orientation_mode == "ignore":
            return None
        current = self.observation.ee_rotation if self.observation is not None else GRIPPER_DOWN
        if quaternion is None:
            return current if self.orientation_mode == "track" else top_down(yaw_of(current))
        rotation = validation.goal_orientation(quaternion)
        return rotation if self.orientation_mode == "track" else top_down(yaw_of(rotation))

    def set_paused(self, paused: bool) -> str:
        """MoveIt Servo's pause: holding and not tracking (the goal is kept) until resumed; returns a reply. Under
        the limited execution the plan carries on through the pause (a smooth halt, then a smooth start)."""
        was_paused, self.paused = self.paused, paused
        if paused:
            if not was_paused and not self.executor.limited:
                self.executor.reset()
            return "already paused: holding" if was_paused else "paused: holding, goal tracking stopped until resumed"
        if not was_paused:
            return "not paused: tracking"
        self.replan(restart_motion=not self.executor.limited)
        return "resumed goal tracking"

    def replan(self, restart_motion: bool = True) -> None:
        """Plan the current goal again from wherever the arm is now (after activation or a pause); with
        ``restart_motion`` the commanded motion starts again from the measured arm."""
        if restart_motion:
            self.executor.reset()
            self.decided, self.sent = [], {}
        self.goal_changed = self.goal is not None

    # --- output ------------------------------------------------------------------------------
    def hold(self) -> Command | None:
        """The hold on the commanded interface: a zero twist, or the joints where holding began (None before the
        first joint state, when a joint interface has nothing to hold). Under the limited execution: the commanded
        state (``halt_plan`` is the smooth halt that leads there)."""
        if not self.publishes_joints:
            return Twist(np.zeros(3))
        if self.executor.limited:
            if self.executor.state is None and self.observation is None:
                return None
            state = self.executor.state
            return JointTargets(state.position if state is not None else self.observation.joint_positions)
        if self.executor.hold_positions is None and self.observation is None:
            return None
        q = self.observation.joint_positions if self.observation is not None else self.executor.hold_positions
        return JointTargets(self.executor.hold(q).targets)

    def halt_plan(self) -> PlannedMotion:
        """Limited execution, without a new joint state (deactivation, shutdown): the plan's next period,
        decelerating to rest."""
        self.synchronise(None)
        return self._advance(self.executor.hold(self.executor.state.position), False)

    # --- limited execution: the plan ---------------------------------------------------------
    def synchronise(self, stamp_ns: int | None) -> bool:
        """Find the periods that start at the answered state (``stamp_ns``: its stamp; None: the next period) in
        what was sent, and check the measured arm against the start of the one under way; when the state lies
        beyond what was sent, or the arm strayed, start the plan again at rest where the arm is. Returns whether
        it did."""
        elapsed = 1
        if stamp_ns is not None and self.last_stamp_ns is not None:
            elapsed = max(1, round((stamp_ns - self.last_stamp_ns) / 1e9 / self.executor.period))
        if stamp_ns is not None:
            self.last_stamp_ns = stamp_ns
        self.period_index += elapsed
        decided = [self._sent_period(self.period_index + offset) for offset in range(COMMIT_PERIODS)]
        had_plan = bool(self.sent)
        self.sent = {index: period for index, period in self.sent.items() if index >= self.period_index}
        self.sent.update(
            {self.period_index + offset: period for offset, period in enumerate(decided) if period is not None}
        )
        observation = self.observation
        deviation = None
        self.braking_for_lag = False
        if all(period is not None for period in decided):
            start = decided[0][0]
            lag_per_speed, lag_per_acceleration = RESYNC_LAG
            allowed = (
                RESYNC_TOLERANCE
                + lag_per_speed * np.abs(start.velocity)
                + lag_per_acceleration * np.abs(start.acceleration)
            )
            deviation = np.abs(observation.joint_positions - start.position)
            # While the command moves the interface may still be following it (a contact holding the arm back):
            # started again where the arm is measured, the plan would step the command by the lag within one sample.
            # The command brakes to rest instead, and the plan starts again where the arm then stands.
            self.braking_for_lag = not np.all(deviation <= allowed) and moving(start.velocity)
            if np.all(deviation <= allowed) or self.braking_for_lag:
                self.decided = [samples for _, samples in decided]
                self.executor.start_from(_last(self.decided[-1]))
                return False
        # A receiver that did not follow the plan has stopped (a strict arm) or holds: start again at rest where the
        # arm is; a receiver still stopping refuses it until it stands.
        rest = MotionState.at_rest(observation.joint_positions)
        self.executor.start_from(rest)
        self.decided = [_resting(rest, self.samples_per_period)] * COMMIT_PERIODS
        self.sent = {self.period_index + offset: (rest, self.decided[offset]) for offset in range(COMMIT_PERIODS)}
        if deviation is not None:
            self.resyncs += 1
            joint = int(np.argmax(deviation))
            self.resync_reason = (
                f"the arm strayed from the commanded motion ({self.arm.joint_names[joint]} "
                f"{deviation[joint]:.4f} rad away): planning again from where it is"
            )
        elif had_plan:
            self.resyncs += 1
            self.resync_reason = "answers missed for longer than the plan reached: planning again from where the arm is"
        return True

    def _sent_period(self, index: int) -> tuple[MotionState, MotionState] | None:
        """The period sent for ``index`` (its start state and samples); past the end of a plan that came to rest,
        the arm resting there."""
        if index in self.sent:
            return self.sent[index]
        if not self.sent or index < max(self.sent):
            return None
        end = _last(self.sent[max(self.sent)][1])
        return (end, _resting(end, self.samples_per_period)) if end.resting else None

    def _advance(self, execution: Execution, resynchronised: bool) -> PlannedMotion:
        """The plan after ``execution`` (the new period, after the decided ones) and its fallback halt, remembered
        by the periods they start at."""
        following = self.executor.samples(self.samples_per_period)
        first_new = self.period_index + COMMIT_PERIODS
        self.sent = {index: period for index, period in self.sent.items() if index < first_new}
        self.sent[first_new] = (_last(self.decided[-1]), following)
        generator, state, fallback = self.executor.generator, self.executor.state, []
        while not state.resting and len(fallback) < MAX_FALLBACK_PERIODS:
            start, state = state, generator.halt(state)
            fallback.append(generator.samples(self.samples_per_period))
            self.sent[first_new + len(fallback)] = (start, fallback[-1])
        tail = _joined(fallback) if fallback else None
        return PlannedMotion(tuple(self.decided), following, tail, resynchronised)

    def planning_observation(self) -> ArmObservation:
        """Where controllers see the arm: at the commanded state one period ahead (limited), else as measured."""
        if not self.executor.limited:
            return self.observation
        state = self.executor.state
        return ArmObservation.from_joints(self.kinematics, state.position, state.velocity)

    def step(self, stamp_ns: int | None = None) -> StepResult:
        """The command answering the newest observation (call ``observe`` first); ``stamp_ns``, the observation's
        stamp, counts the periods since the last answer (None: one)."""
        limited = self.executor.limited and self.observation is not None
        resynchronised = self.synchronise(stamp_ns) if limited else False
        if self.goal is None or self.observation is None:
            if not limited:
                return StepResult(self.hold(), True, StatusCode.NO_WARNING)
            motion = self._advance(self.executor.hold(self.executor.state.position), resynchronised)
            return StepResult(self.command_of(motion), True, StatusCode.NO_WARNING, motion=motion)
        warnings: list[str] = []
        if resynchronised and self.resync_reason:
            warnings.append(self.resync_reason)
            self.resync_reason = None
        if self.goal_changed:
            warning = self.drop_unreachable_orientation()
            if warning:
                warnings.append(warning)
        planning = self.planning_observation()
        state = planning.reach_state(self.goal.position, self.goal.rotation)
        status, interventions, motion = StatusCode.NO_WARNING, (), None
        if self.paused or self.braking_for_lag:
            if limited:
                motion = self._advance(self.executor.hold(state.joint_positions), resynchronised)
                command, holding = self.command_of(motion), True
            else:
                command, holding = self.hold(), True
        else:
            command, holding, status, interventions, more, execution = self.command_step(state, planning)
            warnings += more
            if limited:
                motion = self._advance(execution, resynchronised)
                command = self.command_of(motion) if isinstance(command, JointTargets) else command
        measured = self.observation
        distance = float(np.linalg.norm(self.goal.position - measured.ee_position))
        reached = distance <= self.settings.goal_tolerance
        angle = None
        if self.goal.rotation is not None:
            angle = angle_between(measured.ee_rotation, self.goal.rotation)
            reached = reached and angle <= self.settings.goal_angle_tolerance
        return StepResult(
            command, holding, status, interventions, tuple(warnings), distance, angle, reached, state, motion
        )

    def command_of(self, motion: PlannedMotion) -> Command:
        """What the output interface is sent for a plan: joint targets one period ahead (with the whole plan in
        ``StepResult.motion``), or the tip's twist there on a Cartesian interface."""
        end = motion.end_of_current
        if self.publishes_joints:
            return JointTargets(end.position)
        _, _, jacobian = self.kinematics.ee_pose_and_jacobian(end.position)
        twist = jacobian @ end.velocity
        return Twist(twist[:3], twist[3:] if self.orientation_mode != "ignore" else None)

    def command_step(
        self, state: ReachState, planning: ArmObservation
    ) -> tuple[Command | None, bool, StatusCode, tuple[Intervention, ...], list[str], Execution | None]:
        """One controller step, limited, guarded and converted for the output interface (with the execution it
        led to, under the limited execution or on a joint interface)."""
        if self.goal_changed:
            self.controller.set_goal(self.goal.position, state)
            self.goal_changed = False
        command = self.controller.compute(state)
        if not command.is_finite():
            warning = f"controller '{self.controller.name}' produced a non-finite command; commanding zero motion"
            return self._invalid(state, warning)
        status = StatusCode.NO_WARNING
        if isinstance(command, Twist):
            twist, notes = self.executor.limit_twist(state.ee_position, command)
            if self.guard_singularities:
                twist, guard_status, guard_notes = self.guarded(state, twist, planning)
                status, notes = worst(status, guard_status), notes + guard_notes
            if not self.publishes_joints and not self.executor.limited:
                return twist, twist.is_zero(), status, tuple(notes), [], None
            execution = self.executor.execute_limited(state.joint_positions, twist)
        else:
            execution = self.executor.execute(state.joint_positions, command)
            notes = []
        if not np.all(np.isfinite(execution.targets)):
            warning = f"controller '{self.controller.name}' led to non-finite joint targets; commanding zero motion"
            self.executor.reset()
            return self._invalid(state, warning)
        interventions = tuple(notes) + execution.interventions
        if any(note.kind == InterventionKind.JOINT_BOUND for note in interventions):
            status = worst(status, StatusCode.JOINT_BOUND)
        if execution.collision != "clear":
            collision_status = (
                StatusCode.HALT_FOR_COLLISION if execution.collision == "halt" else StatusCode.DECELERATE_FOR_COLLISION
            )
            status = worst(status, collision_status)
        return JointTargets(execution.targets), execution.holding, status, interventions, [], execution

    def _invalid(
        self, state: ReachState, warning: str
    ) -> tuple[Command | None, bool, StatusCode, tuple[Intervention, ...], list[str], Execution | None]:
        """A controller's non-finite output: a hold (a smooth halt under the limited execution)."""
        if not self.executor.limited:
            return self.hold(), True, StatusCode.INVALID, (), [warning], None
        if self.executor.state is None:
            self.executor.start_from(MotionState.at_rest(state.joint_positions))
        execution = self.executor.hold(state.joint_positions)
        return JointTargets(execution.targets), True, StatusCode.INVALID, (), [warning], execution

    def guarded(
        self, state: ReachState, twist: Twist, planning: ArmObservation
    ) -> tuple[Twist, StatusCode, list[Intervention]]:
        """Servo's singularity guard on a twist.

        The next posture is predicted from the whole twist (6×n Jacobian, as the condition number it watches)
        and the linear part is scaled. The rotation is left to its speed limit and the joint-step limit: a
        top-down correction can raise the condition number, and halting it would keep the wrist from ever
        turning out of the badly conditioned posture.
        """
        angular = np.zeros(3) if twist.angular is None else twist.angular
        displacement = np.concatenate([twist.linear, angular]) * self.executor.period
        q_next = state.joint_positions + np.linalg.pinv(planning.jacobian) @ displacement
        scale, condition = self.guard.scale(state.joint_positions, q_next)
        if scale < 1.0:
            creep = SINGULAR_CREEP if condition < SINGULAR_CREEP_LIMIT * self.guard.stop else 0.0
            kept = max(scale, creep)
            note = Intervention(
                InterventionKind.SINGULARITY,
                f"near a singularity (condition number {condition:.1f}): speed along the singular direction "
                f"× {kept:.2f}",
            )
            status = StatusCode.HALT_FOR_SINGULARITY if scale == 0.0 else StatusCode.DECELERATE_FOR_SINGULARITY
            return self.toward_singularity_scaled(twist, displacement, planning.jacobian, kept), status, [note]
        if condition > self.guard.slowdown:
            return twist, StatusCode.LEAVING_SINGULARITY, []  # badly conditioned, but moving away: not slowed
        return twist, StatusCode.NO_WARNING, []

    def toward_singularity_scaled(
        self, twist: Twist, displacement: np.ndarray, jacobian: np.ndarray, scale: float
    ) -> Twist:
        """The twist with only its part along the singular direction scaled: the task direction of the Jacobian's
        smallest singular value, the one a pseudo-inverse turns into fast joint motion. Scaling the whole twist
        would halt the arm for good wherever every way on raises the condition number; the rest of the twist
        moves the arm on, and out of the badly conditioned posture."""
        singular_direction = np.linalg.svd(jacobian)[0][:, -1]
        along = float(singular_direction @ displacement)
        kept = (displacement - (1.0 - scale) * along * singular_direction) / self.executor.period
        return Twist(kept[:3], None if twist.angular is None else kept[3:])

    def drop_unreachable_orientation(self) -> str | None:
        """Position first: an orientation IK cannot reach at the goal from the current posture is dropped for
        this goal (checked once per new goal, in the control step, so a flood of goals costs no IK solves)."""
        goal = self.goal
        if goal.rotation is None or orientation_reachable(
            self.kinematics, goal.position, goal.rotation, self.observation.joint_positions
        ):
            return None
        self.goal = Goal(goal.position, None, goal.source)
        return (
            f"{goal.source}: the arm cannot take that orientation at this position from its posture; reaching the "
            "position, orientation free"
        )


def effective_orientation(requested: str, reaches_orientation: bool) -> tuple[str, str | None]:
    """The orientation mode in use and a warning: ``auto`` becomes top_down or ignore by what the controller can
    do; an explicit mode a position-only controller cannot honour becomes ignore, with a warning."""
    if reaches_orientation:
        return ("top_down" if requested == "auto" else requested), None
    if requested not in ("auto", "ignore"):
        return "ignore", (
            "the controller reaches positions only: goal orientations are ignored (a pose policy such as "
            "policy_path:=sac_workspace_pose, a classical or hybrid controller honours them)"
        )
    return "ignore", None
