"""The reach controller without ROS: a goal and joint states in, one step result out.

As MoveIt Servo's ``Servo`` beside its ``ServoNode``: ``ReachLoop`` owns the semantics (goal frames and
orientation modes, the workspace gate, pause and hold, safety limits, the singularity guard, the
status code), and the node only converts messages, keeps time and publishes. Every behaviour here is
unit-tested without DDS.

Each ``step`` answers the newest arm observation with a ``StepResult``: the command to publish (a twist,
or joint targets on a joint interface), whether it is a hold, a typed status code, the interventions of
the limits, warnings for the log, and the goal's distance, angle and whether it is reached.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from ikrl_ros.core import validation
from ikrl_ros.core.controllers import ArmObservation, ReachController, ReachState
from ikrl_ros.core.execution import Command, JointTargets, MotionExecutor, Twist
from ikrl_ros.core.robot import Workspace
from ikrl_ros.core.rotations import GRIPPER_DOWN, angle_between, top_down, yaw_of
from ikrl_ros.core.safety import Intervention, InterventionKind, SingularityGuard
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
        """MoveIt Servo's pause: holding and not tracking (the goal is kept) until resumed; returns a reply."""
        was_paused, self.paused = self.paused, paused
        if paused:
            if not was_paused:
                self.executor.reset()
            return "already paused: holding" if was_paused else "paused: holding, goal tracking stopped until resumed"
        if not was_paused:
            return "not paused: tracking"
        self.executor.reset()
        self.replan()
        return "resumed goal tracking"

    def replan(self) -> None:
        """Plan the current goal again from wherever the arm is now (after activation or a pause)."""
        self.executor.reset()
        self.goal_changed = self.goal is not None

    # --- output ------------------------------------------------------------------------------
    def hold(self) -> Command | None:
        """The hold on the commanded interface: a zero twist, or the joints where holding began (None before the
        first joint state, when a joint interface has nothing to hold)."""
        if not self.publishes_joints:
            return Twist(np.zeros(3))
        if self.executor.hold_positions is None and self.observation is None:
            return None
        q = self.observation.joint_positions if self.observation is not None else self.executor.hold_positions
        return JointTargets(self.executor.hold(q).targets)

    def step(self) -> StepResult:
        """The command answering the newest observation (call ``observe`` first)."""
        if self.goal is None or self.observation is None:
            return StepResult(self.hold(), True, StatusCode.NO_WARNING)
        warnings: list[str] = []
        if self.goal_changed:
            warning = self.drop_unreachable_orientation()
            if warning:
                warnings.append(warning)
        state = self.observation.reach_state(self.goal.position, self.goal.rotation)
        status, interventions = StatusCode.NO_WARNING, ()
        if self.paused:
            command, holding = self.hold(), True
        else:
            command, holding, status, interventions, more = self.command_step(state)
            warnings += more
        distance = float(np.linalg.norm(self.goal.position - state.ee_position))
        reached = distance <= self.settings.goal_tolerance
        angle = None
        if self.goal.rotation is not None:
            angle = angle_between(state.ee_rotation, self.goal.rotation)
            reached = reached and angle <= self.settings.goal_angle_tolerance
        return StepResult(command, holding, status, interventions, tuple(warnings), distance, angle, reached, state)

    def command_step(
        self, state: ReachState
    ) -> tuple[Command | None, bool, StatusCode, tuple[Intervention, ...], list[str]]:
        """One controller step, limited, guarded and converted for the output interface."""
        if self.goal_changed:
            self.controller.set_goal(self.goal.position, state)
            self.goal_changed = False
        command = self.controller.compute(state)
        if not command.is_finite():
            warning = f"controller '{self.controller.name}' produced a non-finite command; commanding zero motion"
            return self.hold(), True, StatusCode.INVALID, (), [warning]
        status = StatusCode.NO_WARNING
        if isinstance(command, Twist):
            twist, notes = self.executor.limit_twist(state.ee_position, command)
            if self.guard_singularities:
                twist, guard_status, guard_notes = self.guarded(state, twist)
                status, notes = worst(status, guard_status), notes + guard_notes
            if not self.publishes_joints:
                return twist, twist.is_zero(), status, tuple(notes), []
            execution = self.executor.execute_limited(state.joint_positions, twist)
        else:
            execution = self.executor.execute(state.joint_positions, command)
            notes = []
        if not np.all(np.isfinite(execution.targets)):
            warning = f"controller '{self.controller.name}' led to non-finite joint targets; commanding zero motion"
            self.executor.reset()
            return self.hold(), True, StatusCode.INVALID, (), [warning]
        interventions = tuple(notes) + execution.interventions
        if any(note.kind == InterventionKind.JOINT_BOUND for note in interventions):
            status = worst(status, StatusCode.JOINT_BOUND)
        return JointTargets(execution.targets), execution.holding, status, interventions, []

    def guarded(self, state: ReachState, twist: Twist) -> tuple[Twist, StatusCode, list[Intervention]]:
        """Servo's singularity guard on a twist.

        The next posture is predicted from the whole twist (6×n Jacobian, as the condition number it watches)
        and the linear part is scaled. The rotation is left to its speed limit and the joint-step limit: a
        top-down correction can raise the condition number, and halting it would keep the wrist from ever
        turning out of the badly conditioned posture.
        """
        angular = np.zeros(3) if twist.angular is None else twist.angular
        displacement = np.concatenate([twist.linear, angular]) * self.executor.period
        q_next = state.joint_positions + np.linalg.pinv(self.observation.jacobian) @ displacement
        scale, condition = self.guard.scale(state.joint_positions, q_next)
        if scale < 1.0:
            note = Intervention(
                InterventionKind.SINGULARITY,
                f"near a singularity (condition number {condition:.1f}): speed × {scale:.2f}",
            )
            status = StatusCode.HALT_FOR_SINGULARITY if scale == 0.0 else StatusCode.DECELERATE_FOR_SINGULARITY
            return Twist(twist.linear * scale, twist.angular), status, [note]
        if condition > self.guard.slowdown:
            return twist, StatusCode.LEAVING_SINGULARITY, []  # badly conditioned, but moving away: not slowed
        return twist, StatusCode.NO_WARNING, []

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
