"""One path from a command to joint motion: the bridge, the controller's joint output and the training
environments all execute commands here, so a policy is trained exactly as it is deployed.

A command is a twist (SI units, base frame), joint velocities, or absolute joint targets.
``MotionExecutor.execute`` turns it into the motion of one control period under the limits. A twist is limited
in speed and by the safety box and turned into joint motion by the damped-least-squares step (posture term,
active joint limits); joint velocities and targets are checked against the position limits and the box.

With a ``JointMotionGenerator`` (the limited execution, on by default in every node and environment) the
executor owns the commanded state — positions, velocities, accelerations — and each period continues it within
the velocity, acceleration and jerk limits: a twist or joint velocities become a velocity to follow, joint
targets a goal to reach at rest, and a missing or zero command a smooth halt. With a collision model, motion that
closes in on the scene or on the arm itself is slowed and stopped before contact (``core.collision``), judged at
where the arm would come to rest. Without a generator (``strict: false``) the targets are stepped as panda-gym's
motors accept them, and a missing or zero command holds the joints where holding began.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ikrl_ros.core.collision import CLEAR, DECELERATE, HALT, Clearance, CollisionModel, CollisionThresholds
from ikrl_ros.core.kinematics import POSTURE_GAIN, ArmKinematics
from ikrl_ros.core.safety import (
    CartesianLimits,
    Intervention,
    InterventionKind,
    JointLimits,
    box_excess,
    cartesian_joint_targets,
    limit_angular,
    limit_cartesian,
    limit_joint_targets,
)
from ikrl_ros.core.trajectory import JointMotionGenerator, MotionState

DEFAULT_THRESHOLDS = CollisionThresholds()
POSTURE_TRAVEL = 0.01
"""m per period (0.25 m/s): below this tip travel the posture pull fades with it (limited execution)."""
POSTURE_STEP = 0.01
"""rad per period: the most the posture pull moves any joint (limited execution)."""
SLIDING_SPEED = 0.05
"""rad/s: below this joint speed motion stopped for a collision may slide along the obstacle."""
RETREAT_SPEED = 0.05
"""m/s: how fast the arm backs out of the stop margin it coasted into."""
GRADIENT_STEP = 1e-4
"""rad: joint offset of the numerical clearance gradient."""
ROTATION_TRAVEL_RADIUS = 0.1
"""m per rad: a turn of the tip counts as travel of a point this far out (a hand's size)."""


@dataclass(frozen=True)
class Twist:
    """End-effector velocity in the base frame: linear (m/s) and angular (rad/s); ``angular`` None leaves the
    orientation free (position-only control)."""

    linear: np.ndarray
    angular: np.ndarray | None = None

    def is_zero(self) -> bool:
        return not np.any(self.linear != 0.0) and (self.angular is None or not np.any(self.angular != 0.0))

    def is_finite(self) -> bool:
        return bool(np.all(np.isfinite(self.linear)) and (self.angular is None or np.all(np.isfinite(self.angular))))


@dataclass(frozen=True)
class JointTargets:
    """Absolute position targets of the arm's joints (``Arm.joint_names`` order)."""

    positions: np.ndarray

    def is_finite(self) -> bool:
        return bool(np.all(np.isfinite(self.positions)))


@dataclass(frozen=True)
class JointVelocities:
    """Joint velocities (rad/s, ``Arm.joint_names`` order): what a joint-space policy commands."""

    velocities: np.ndarray

    def is_zero(self) -> bool:
        return not np.any(self.velocities != 0.0)

    def is_finite(self) -> bool:
        return bool(np.all(np.isfinite(self.velocities)))


Command = Twist | JointVelocities | JointTargets


@dataclass(frozen=True)
class Execution:
    """The joint targets of one period (its end state under the limited execution), what limited them, and whether
    they are a hold."""

    targets: np.ndarray
    interventions: tuple[Intervention, ...]
    holding: bool
    state: MotionState | None = None
    """Limited execution: the commanded state at the end of the period (``targets`` is its position)."""
    collision: str = CLEAR
    """``core.collision``'s status of the motion: clear, decelerate or halt."""
    clearance: Clearance | None = None


class MotionExecutor:
    """Commands → one period of joint motion under one set of limits."""

    def __init__(
        self,
        kinematics: ArmKinematics,
        cartesian: CartesianLimits,
        joints: JointLimits,
        period: float,
        generator: JointMotionGenerator | None = None,
        collision: CollisionModel | None = None,
        thresholds: CollisionThresholds = DEFAULT_THRESHOLDS,
    ) -> None:
        self.kinematics, self.cartesian, self.joints, self.period = kinematics, cartesian, joints, period
        self.generator, self.collision, self.thresholds = generator, collision, thresholds
        self.hold_positions: np.ndarray | None = None
        self.state: MotionState | None = None
        """Limited execution: the commanded state the next period starts from (None: from the arm, at rest)."""

    @property
    def limited(self) -> bool:
        return self.generator is not None

    def reset(self) -> None:
        """Forget the latched hold and the commanded state (the arm was moved by something else: a reset, a new
        episode, a resynchronisation)."""
        self.hold_positions = None
        self.state = None

    def start_from(self, state: MotionState) -> None:
        """Continue from ``state`` (the arm's measured motion when the commanded one was lost)."""
        self.hold_positions, self.state = None, state

    def limit_twist(self, ee_position: np.ndarray, twist: Twist) -> tuple[Twist, list[Intervention]]:
        """The twist within the speed limits and with its one-period target inside the safety box; under the limited
        execution the linear and angular speeds are limited in norm, not only per axis."""
        linear, notes = limit_cartesian(twist.linear, ee_position, self.period, self.cartesian)
        angular = twist.angular
        if angular is not None:
            angular, angular_notes = limit_angular(angular, self.cartesian)
            notes += angular_notes
        if self.limited:
            linear, linear_note = _norm_limited(linear, self.cartesian.max_speed, "linear", "m/s")
            angular, angular_note = _norm_limited(angular, self.cartesian.max_angular_speed, "angular", "rad/s")
            notes += linear_note + angular_note
        return (twist if not notes else Twist(linear, angular)), notes

    def hold(self, q: np.ndarray) -> Execution:
        """Hold: where the arm was when holding began, or under the limited execution a smooth halt."""
        if self.limited:
            self._start(q)
            return self._generate(self.state, None, ())
        if self.hold_positions is None:
            self.hold_positions = np.array(q, dtype=float)
        return Execution(self.hold_positions, (), True)

    def execute(self, q: np.ndarray, command: Command | None) -> Execution:
        """The motion that carries out ``command`` for one period from the measured joints ``q`` (under the limited
        execution: from the commanded state, ``q`` only where there is none yet)."""
        if command is None or (not isinstance(command, JointTargets) and command.is_zero()):
            return self.hold(q)
        start = self._start(q)
        if isinstance(command, JointTargets):
            return self._execute_joint_targets(start, command.positions)
        if isinstance(command, JointVelocities):
            return self._execute_velocities(start, command.velocities, [])
        twist, notes = self.limit_twist(self.kinematics.ee_position(start), command)
        execution = self.execute_limited(q, twist)
        return Execution(
            execution.targets,
            tuple(notes) + execution.interventions,
            execution.holding,
            execution.state,
            execution.collision,
            execution.clearance,
        )

    def execute_limited(self, q: np.ndarray, twist: Twist) -> Execution:
        """``execute`` for a twist already within ``limit_twist`` (the reach loop guards it in between); a twist the
        limits made zero holds."""
        if twist.is_zero():
            return self.hold(q)
        start = self._start(q)
        targets, notes = cartesian_joint_targets(
            twist.linear,
            start,
            self.period,
            self.kinematics,
            self.joints,
            self.cartesian,
            twist.angular,
            self.posture_gain(start, twist) if self.limited else POSTURE_GAIN,
        )
        if not self.limited:
            self.hold_positions = None
            return Execution(targets, tuple(notes), False)
        return self._execute_velocities(start, (targets - start) / self.period, notes, checked=True)

    def coast(self) -> Execution:
        """Limited execution: one period continuing the commanded velocity (how a plan started again from the
        measured motion spends the period already under way)."""
        state = self.state
        if not np.any(state.velocity):
            return self._generate(state, None, ())
        return self._generate(state, state.velocity, ())

    def posture_gain(self, start: np.ndarray, twist: Twist) -> float:
        """The posture pull of a Cartesian step under the limited execution: full only while the tip travels at
        least ``POSTURE_TRAVEL`` per period, and never more than ``POSTURE_STEP`` on any joint. Null-space motion
        is invisible at the tip only while every joint follows its share exactly; under acceleration limits the
        joints lag unequally, and a large pull while the tip creeps would move the tip off its course."""
        travel = float(np.linalg.norm(twist.linear)) * self.period
        if twist.angular is not None:
            travel = max(travel, float(np.linalg.norm(twist.angular)) * self.period * ROTATION_TRAVEL_RADIUS)
        largest_offset = float(np.abs(self.kinematics.toward_neutral(start)).max())
        gain = POSTURE_GAIN * min(1.0, travel / POSTURE_TRAVEL)
        return gain if largest_offset == 0.0 else min(gain, POSTURE_STEP / largest_offset)

    # --- limited execution -------------------------------------------------------------------------
    def _start(self, q: np.ndarray) -> np.ndarray:
        """Where this period starts: the commanded state's position (limited), else the measured joints."""
        if not self.limited:
            return np.asarray(q, dtype=float)
        if self.state is None:
            self.state = MotionState.at_rest(q)
        return self.state.position

    def _execute_joint_targets(self, start: np.ndarray, targets: np.ndarray) -> Execution:
        if not self.limited:
            limited, notes = limit_joint_targets(targets, start, self.joints, self.kinematics, self.cartesian)
            self.hold_positions = None
            return Execution(limited, tuple(notes), False)
        # A joint goal may lie several periods away: only the position limits and the box apply to it; the
        # generator takes it there within the velocity, acceleration and jerk limits.
        lower, upper = self.joints.lower, self.joints.upper
        bounded = np.clip(targets, lower, upper)
        notes = []
        if not np.array_equal(bounded, targets):
            names = [self.kinematics.arm.joint_names[i] for i in np.flatnonzero(bounded != targets)]
            notes.append(
                Intervention(InterventionKind.JOINT_BOUND, f"joint targets beyond the limits (with margin) for {names}")
            )
        if box_leaving(self.kinematics, bounded, start, self.cartesian):
            notes.append(_BOX_HOLD)
            return self._generate(self.state, None, tuple(notes))
        return self._generate(self.state, bounded, tuple(notes), goal=True)

    def _execute_velocities(
        self, start: np.ndarray, velocities: np.ndarray, notes: list[Intervention], checked: bool = False
    ) -> Execution:
        """Follow joint velocities; unless ``checked`` (a Cartesian step already was), their one-period target is
        checked like joint targets (position limits with margin, step size, safety box)."""
        if not checked:
            target, more = limit_joint_targets(
                start + velocities * self.period, start, self.joints, self.kinematics, self.cartesian
            )
            velocities, notes = (target - start) / self.period, notes + more
        if not np.any(velocities):
            return self._generate(self.state, None, tuple(notes))
        return self._generate(self.state, velocities, tuple(notes))

    def _generate(
        self, state: MotionState, target: np.ndarray | None, notes: tuple[Intervention, ...], goal: bool = False
    ) -> Execution:
        """One period of the generator toward ``target`` (a joint goal if ``goal``, else a velocity; None: halt),
        after the collision check."""
        generator = self.generator
        step = lambda wanted: (  # noqa: E731
            generator.halt(state)
            if wanted is None
            else generator.toward_position(state, wanted)
            if goal
            else generator.toward_velocity(state, wanted)
        )
        following = step(target)
        collision, clearance = CLEAR, None
        if self.collision is not None and target is not None:
            clearance = self.collision.clearance(state.position)
            after = self.collision.clearance(self.stopping_point(following))
            scale, collision = self.stopping_scale(clearance, after)
            if collision != CLEAR:
                # Servo's slow-down of the whole motion while the arm moves; at a crawl, slide along the obstacle (the
                # part of the motion that closes in removed) instead of stalling against it.
                velocity = (following.position - state.position) / self.period if goal else np.asarray(target)
                if float(np.abs(state.velocity).max()) > SLIDING_SPEED:
                    following = generator.toward_velocity(state, velocity * scale)
                else:
                    following = generator.toward_velocity(state, self.sliding(state.position, velocity, clearance, 0.0))
        self.state = following
        holding = target is None
        return Execution(following.position, notes, holding, following, collision, clearance)

    def stopping_scale(self, now: Clearance, stop: Clearance) -> tuple[float, str]:
        """Servo's collision scale judged where the arm would come to rest (``stop``), so that braking within the
        limits starts early enough: full speed while that stays outside the thresholds, slowed in proportion inside
        them, and the approach halted once it would end inside the stop margin. Motion that does not close in is
        never slowed (``now`` vs ``stop`` per channel)."""
        margin, scales = self.thresholds.stop_margin, []
        for channel, threshold in (("scene", self.thresholds.scene), ("self_", self.thresholds.self_)):
            before, after = getattr(now, channel), getattr(stop, channel)
            if after >= before or after >= threshold:
                scales.append(1.0)
            else:
                scales.append(float(np.clip((after - margin) / (threshold - margin), 0.0, 1.0)))
        scale = min(scales)
        return scale, CLEAR if scale == 1.0 else HALT if scale == 0.0 else DECELERATE

    def sliding(self, q: np.ndarray, velocity: np.ndarray, clearance: Clearance, scale: float) -> np.ndarray:
        """``velocity`` with its component toward the nearest obstacle scaled by ``scale`` (0 at a halt): the
        component along the gradient of the smaller clearance (scene or self) in joint space."""
        scene_margin = clearance.scene - self.thresholds.scene
        self_margin = clearance.self_ - self.thresholds.self_
        channel = "scene" if scene_margin <= self_margin else "self_"
        gradient = np.zeros_like(q)
        for joint in range(len(q)):
            nudged = q.copy()
            nudged[joint] += GRADIENT_STEP
            gradient[joint] = (
                getattr(self.collision.clearance(nudged), channel) - getattr(clearance, channel)
            ) / GRADIENT_STEP
        norm = float(gradient @ gradient)
        if norm == 0.0:
            return velocity
        approach = float(velocity @ gradient)
        if approach < 0.0:
            velocity = velocity - (1.0 - scale) * approach / norm * gradient
        if getattr(clearance, channel) < self.thresholds.stop_margin:
            # Inside the stop margin (the limits let the arm coast into it): back out at RETREAT_SPEED.
            velocity = velocity + RETREAT_SPEED / norm * gradient
        return velocity

    def stopping_point(self, state: MotionState) -> np.ndarray:
        """Roughly where the arm comes to rest from ``state`` at the generator's deceleration (the jerk ramps
        counted once): the posture a collision check must clear."""
        generator = self.generator
        speed = np.abs(state.velocity)
        acceleration, jerk = generator.max_acceleration, generator.max_jerk
        distance = speed**2 / (2.0 * acceleration) + speed * acceleration / jerk
        return np.clip(state.position + np.sign(state.velocity) * distance, generator.lower, generator.upper)

    def samples(self, count: int) -> MotionState:
        """The last period's commanded motion at ``count`` instants (1 kHz: count = period × 1000)."""
        return self.generator.samples(count)


def limited_generator(joints: JointLimits, kinematics: ArmKinematics, period: float) -> JointMotionGenerator:
    """The arm's jerk-limited generator, inside the joint limits with their margin."""
    return JointMotionGenerator(kinematics.arm.joint_limits, joints.lower, joints.upper, period)


_BOX_HOLD = Intervention(
    InterventionKind.BOX_HOLD, "joint targets would take the end effector out of the safety box; holding"
)


def box_leaving(kinematics: ArmKinematics, targets: np.ndarray, current: np.ndarray, box: CartesianLimits) -> bool:
    """Whether ``targets`` put the end effector farther out of the safety box than it is at ``current``."""
    return box_excess(kinematics.ee_position(targets), box) > box_excess(kinematics.ee_position(current), box)


def _norm_limited(
    vector: np.ndarray | None, limit: float, what: str, unit: str
) -> tuple[np.ndarray | None, list[Intervention]]:
    if vector is None:
        return None, []
    norm = float(np.linalg.norm(vector))
    if norm <= limit:
        return vector, []
    kind = InterventionKind.SPEED if what == "linear" else InterventionKind.ANGULAR_SPEED
    return vector * (limit / norm), [Intervention(kind, f"{what} speed {norm:.3g} {unit} above {limit:g} {unit}")]
