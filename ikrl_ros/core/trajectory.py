"""Jerk-limited joint motion: every command becomes the next state of a trajectory within the arm's limits.

Between every controller and every output runs one online trajectory generator (Ruckig, as MoveIt Servo's
smoothing plugin): from the commanded state (position, velocity, acceleration) of this period it computes the
state one control period later, within the velocity, acceleration and jerk limits (scaled by ``LIMIT_SCALE``
for headroom) and braking in time for the position limits. A velocity command (twists, joint velocities)
is followed with Ruckig's velocity interface, a joint goal with its position interface (time-optimal, at
rest on arrival); a hold decelerates to rest. Consecutive states therefore join into one continuous,
jerk-limited trajectory whatever the commands do, which is what a real arm's interface demands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ruckig import ControlInterface, InputParameter, OutputParameter, Result, Ruckig, RuckigError, Synchronization

from ikrl_ros.core.robot import MotionLimits

LIMIT_SCALE = 0.85
"""Commands use this fraction of the datasheet's velocity, acceleration and jerk limits: the margin covers
interpolation between control periods and the simulated motors' tracking."""
BRAKING_SAFETY = 0.8
"""A joint starts braking for its position limit while this fraction of its deceleration would still stop it."""
REST_VELOCITY = 1e-9
"""rad/s: below this a decelerated joint counts as at rest."""


@dataclass(frozen=True)
class MotionState:
    """Joint positions (rad), velocities (rad/s) and accelerations (rad/s²) at one instant."""

    position: np.ndarray
    velocity: np.ndarray
    acceleration: np.ndarray

    @classmethod
    def at_rest(cls, position: np.ndarray) -> MotionState:
        position = np.array(position, dtype=float)
        return cls(position, np.zeros_like(position), np.zeros_like(position))

    @property
    def resting(self) -> bool:
        return bool(np.all(np.abs(self.velocity) <= REST_VELOCITY) and np.all(self.acceleration == 0.0))


class JointMotionGenerator:
    """One control period of a jerk-limited trajectory, toward a velocity, a position, or rest."""

    def __init__(
        self,
        limits: MotionLimits,
        lower: np.ndarray,
        upper: np.ndarray,
        period: float,
        scale: float = LIMIT_SCALE,
    ) -> None:
        if not 0.0 < scale <= 1.0:
            raise ValueError(f"limit scale must be in (0, 1], got {scale}")
        self.max_velocity = np.asarray(limits.velocity, dtype=float) * scale
        self.max_acceleration = np.asarray(limits.acceleration, dtype=float) * scale
        self.max_jerk = np.asarray(limits.jerk, dtype=float) * scale
        self.lower, self.upper, self.period = np.asarray(lower, float), np.asarray(upper, float), period
        self.dof = len(self.max_velocity)
        self._ruckig = Ruckig(self.dof, period)
        self._output = OutputParameter(self.dof)
        self._last: tuple[MotionState, MotionState | None] | None = None
        """The last period computed: its end state, and None if it was spent at rest (else Ruckig's trajectory)."""

    # --- commands ------------------------------------------------------------------------------
    def toward_velocity(self, state: MotionState, velocity: np.ndarray) -> MotionState:
        """The next state on the way to joint velocity ``velocity`` (scaled as a whole into the velocity limits, so
        the tip keeps its direction). A joint that could no longer stop before its position limit after one more
        period at that velocity brakes to rest at the limit instead."""
        velocity = np.asarray(velocity, dtype=float)
        ratio = float(np.max(np.abs(velocity) / self.max_velocity))
        if ratio > 1.0:
            velocity = velocity / ratio
        braking = self.must_brake(state, velocity)
        return self._next(state, velocity=velocity, braking=braking)

    def toward_position(self, state: MotionState, position: np.ndarray) -> MotionState:
        """The next state of the time-optimal motion to rest at ``position`` (clipped into the position limits)."""
        return self._next(state, position=np.clip(position, self.lower, self.upper))

    def halt(self, state: MotionState) -> MotionState:
        """The next state of decelerating to rest, within the limits (a smooth stop, never a velocity step)."""
        if state.resting:
            self._last = (state, None)
            return state
        zero = np.zeros(self.dof)
        return self._next(state, velocity=zero, braking=np.zeros(self.dof, bool))

    # --- limits --------------------------------------------------------------------------------
    def must_brake(self, state: MotionState, velocity: np.ndarray) -> np.ndarray:
        """Per joint: whether moving at ``velocity`` for one more period leaves too little room to stop before the
        position limit it heads for (the room taken as the distance left less one period at the faster of the
        current and commanded speeds; the stop as a full-deceleration ramp with its jerk phase)."""
        heading_up = velocity > 0.0
        room = np.where(heading_up, self.upper - state.position, state.position - self.lower)
        speed = np.maximum(np.abs(velocity), np.abs(state.velocity))
        deceleration = BRAKING_SAFETY * self.max_acceleration
        stopping = speed**2 / (2.0 * deceleration) + speed * self.max_acceleration / self.max_jerk
        return (velocity != 0.0) & (room - speed * self.period <= stopping)

    def stopping_positions(self, state: MotionState) -> np.ndarray:
        """Where each joint comes to rest if the motion halts now."""
        rest, steps = state, 0
        while not rest.resting and steps < 10_000:
            rest, steps = self.halt(rest), steps + 1
        return rest.position

    # --- Ruckig --------------------------------------------------------------------------------
    def _next(
        self,
        state: MotionState,
        position: np.ndarray | None = None,
        velocity: np.ndarray | None = None,
        braking: np.ndarray | None = None,
    ) -> MotionState:
        """One period toward ``position`` (all joints in step) or ``velocity`` (each joint on its own; joints
        flagged ``braking`` go to rest at the limit they head for)."""
        request = InputParameter(self.dof)
        request.current_position = state.position.tolist()
        request.current_velocity = np.clip(state.velocity, -self.max_velocity, self.max_velocity).tolist()
        request.current_acceleration = np.clip(
            state.acceleration, -self.max_acceleration, self.max_acceleration
        ).tolist()
        request.max_velocity = self.max_velocity.tolist()
        request.max_acceleration = self.max_acceleration.tolist()
        request.max_jerk = self.max_jerk.tolist()
        request.target_velocity = [0.0] * self.dof
        request.target_acceleration = [0.0] * self.dof
        if position is not None:
            request.control_interface = ControlInterface.Position
            request.synchronization = Synchronization.Time
            request.target_position = position.tolist()
        else:
            limit = np.where(velocity > 0.0, self.upper, self.lower)
            request.per_dof_control_interface = [
                ControlInterface.Position if brake else ControlInterface.Velocity for brake in braking
            ]
            request.synchronization = Synchronization.No
            request.target_position = np.where(braking, limit, state.position).tolist()
            request.target_velocity = np.where(braking, 0.0, velocity).tolist()
        result = self._update(request)
        if result not in (Result.Working, Result.Finished) and position is not None:
            # Synchronising all joints can fail for nearly degenerate inputs; each joint on its own cannot.
            request.synchronization = Synchronization.No
            result = self._update(request)
        if result not in (Result.Working, Result.Finished):
            raise RuntimeError(f"trajectory generation failed ({result}) from {state}")
        out = self._output
        following = MotionState(np.array(out.new_position), np.array(out.new_velocity), np.array(out.new_acceleration))
        if result == Result.Finished and position is not None:
            following = MotionState.at_rest(position)  # arrived: exactly there, exactly at rest
        elif result == Result.Finished and not np.any(velocity):
            following = MotionState.at_rest(following.position)
        self._last = (following, following)
        return following

    def samples(self, count: int) -> MotionState:
        """The last computed period at ``count`` evenly spaced instants (its end last): arrays of count × joints,
        what a 1 kHz interface receives (count = period × 1000)."""
        if self._last is None:
            raise RuntimeError("no period computed yet")
        end, moving = self._last
        if moving is None:
            tile = lambda values: np.tile(values, (count, 1))  # noqa: E731
            return MotionState(tile(end.position), tile(end.velocity), tile(end.acceleration))
        # Ruckig keeps its trajectory while the inputs continue its own output (a steady target): the period then
        # ends at ``time`` on a trajectory calculated earlier, not at one period from its start.
        begin = self._output.time - self.period
        states = [self._output.trajectory.at_time(begin + self.period * (i + 1) / count) for i in range(count - 1)]
        positions = np.array([state[0] for state in states] + [end.position.tolist()])
        velocities = np.array([state[1] for state in states] + [end.velocity.tolist()])
        accelerations = np.array([state[2] for state in states] + [end.acceleration.tolist()])
        shape = (count, -1)
        return MotionState(positions.reshape(shape), velocities.reshape(shape), accelerations.reshape(shape))

    def _update(self, request: InputParameter) -> Result:
        try:
            return self._ruckig.update(request, self._output)
        except RuckigError:
            return Result.Error


def quintic_samples(
    start: MotionState, end: MotionState, duration: float, rate: float = 1000.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Positions, velocities, accelerations and jerks (samples × joints) of the quintic through ``start`` and
    ``end`` (positions, velocities and accelerations at both ends) at ``rate``: how a JointTrajectoryController
    or a 1 kHz interface interpolates two points that carry all three."""
    times = np.arange(1, round(duration * rate) + 1) / rate
    p0, v0, a0 = start.position, start.velocity, start.acceleration
    p1, v1, a1 = end.position, end.velocity, end.acceleration
    T = duration  # noqa: N806 (the formula's symbol)
    c3 = (20 * (p1 - p0) - (8 * v1 + 12 * v0) * T - (3 * a0 - a1) * T**2) / (2 * T**3)
    c4 = (30 * (p0 - p1) + (14 * v1 + 16 * v0) * T + (3 * a0 - 2 * a1) * T**2) / (2 * T**4)
    c5 = (12 * (p1 - p0) - (6 * v1 + 6 * v0) * T - (a0 - a1) * T**2) / (2 * T**5)
    t = times[:, None]
    position = p0 + v0 * t + a0 / 2 * t**2 + c3 * t**3 + c4 * t**4 + c5 * t**5
    velocity = v0 + a0 * t + 3 * c3 * t**2 + 4 * c4 * t**3 + 5 * c5 * t**4
    acceleration = a0 + 6 * c3 * t + 12 * c4 * t**2 + 20 * c5 * t**3
    jerk = 6 * c3 + 24 * c4 * t + 60 * c5 * t**2
    return position, velocity, acceleration, jerk
