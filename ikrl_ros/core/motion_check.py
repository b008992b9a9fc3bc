"""The strict arm's checks of command streams, as libfranka checks them: at the interface's 1 kHz, against the
datasheet's limits, with a typed ``Violation`` that names the limit and the joint.

``JointStreamMonitor`` sees every commanded joint position the arm executes, sample by sample; velocity,
acceleration and jerk are their finite differences over the 1 ms sample time, so a stream that steps, or
changes velocity or acceleration too abruptly anywhere — inside a period or where two periods meet — is caught
where it happens. ``TwistStreamMonitor`` checks a Cartesian velocity stream at its rate: norms against the
Cartesian velocity limits, changes against the acceleration limits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ikrl_ros.core.robot import Arm, MotionLimits

TOLERANCE = 1e-6
"""Relative slack on every limit: round-off of a stream exactly at a limit is not a violation."""
REFLEX_NAMES = {
    "position": "joint_position_limits_violation",
    "velocity": "joint_velocity_violation",
    "acceleration": "joint_motion_generator_acceleration_discontinuity",
    "jerk": "joint_motion_generator_jerk_discontinuity",
    "linear velocity": "cartesian_motion_generator_velocity_limits_violation",
    "linear acceleration": "cartesian_motion_generator_acceleration_discontinuity",
    "angular velocity": "cartesian_motion_generator_velocity_limits_violation",
    "angular acceleration": "cartesian_motion_generator_acceleration_discontinuity",
}
"""libfranka's names for the reflex each violated limit raises."""
UNITS = {
    "position": "rad",
    "velocity": "rad/s",
    "acceleration": "rad/s²",
    "jerk": "rad/s³",
    "linear velocity": "m/s",
    "linear acceleration": "m/s²",
    "angular velocity": "rad/s",
    "angular acceleration": "rad/s²",
}


@dataclass(frozen=True)
class Violation:
    """One limit a command stream broke: which quantity, on which joint (or axis group), by how much."""

    quantity: str
    joint: str
    value: float
    limit: float

    @property
    def reflex(self) -> str:
        return REFLEX_NAMES[self.quantity]

    def text(self) -> str:
        unit = UNITS[self.quantity]
        return f"{self.reflex}: {self.joint} {self.quantity} {self.value:.4g} {unit} beyond the limit {self.limit:.4g}"


class JointStreamMonitor:
    """Checks commanded joint positions sample by sample; keeps the last three accepted samples for continuity."""

    def __init__(self, arm: Arm, lower: np.ndarray, upper: np.ndarray, sample_time: float = 1e-3) -> None:
        self.names = arm.joint_names
        self.limits: MotionLimits = arm.joint_limits
        self.lower, self.upper, self.sample_time = np.asarray(lower, float), np.asarray(upper, float), sample_time
        self.history: np.ndarray | None = None

    def restart(self, position: np.ndarray) -> None:
        """A stream starts at rest at ``position`` (after a stop, a reset or a recovery)."""
        self.history = np.tile(np.asarray(position, dtype=float), (3, 1))

    def accept(self, positions: np.ndarray) -> None:
        """Samples the arm executed without checking (its own stops, generated within the limits)."""
        self.history = np.vstack([self.history, positions])[-3:]

    def check(self, positions: np.ndarray) -> Violation | None:
        """The first violation in ``positions`` (samples × joints) continuing the accepted stream; None if it is
        within every limit, and then it is accepted."""
        positions = np.asarray(positions, dtype=float)
        outside = (positions < self.lower - TOLERANCE) | (positions > self.upper + TOLERANCE)
        if outside.any():
            sample, joint = np.argwhere(outside)[0]
            value = positions[sample, joint]
            limit = self.lower[joint] if value < self.lower[joint] else self.upper[joint]
            return Violation("position", self.names[joint], float(value), float(limit))
        stream = np.vstack([self.history, positions])
        velocity = np.diff(stream, axis=0) / self.sample_time
        acceleration = np.diff(velocity, axis=0) / self.sample_time
        jerk = np.diff(acceleration, axis=0) / self.sample_time
        for quantity, values, limit in (
            ("velocity", velocity[2:], self.limits.velocity),
            ("acceleration", acceleration[1:], self.limits.acceleration),
            ("jerk", jerk, self.limits.jerk),
        ):
            ratio = np.abs(values) / limit
            if ratio.max() > 1.0 + TOLERANCE:
                sample, joint = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
                return Violation(quantity, self.names[joint], float(abs(values[sample, joint])), float(limit[joint]))
        self.history = stream[-3:]
        return None


class TwistStreamMonitor:
    """Checks a Cartesian velocity stream at its rate: norms within the velocity limits, changes per period within
    the acceleration limits (a zero twist before the first)."""

    def __init__(self, linear: MotionLimits, angular: MotionLimits, period: float) -> None:
        self.linear_limits, self.angular_limits, self.period = linear, angular, period
        self.last = np.zeros(6)

    def restart(self) -> None:
        self.last = np.zeros(6)

    def check(self, linear: np.ndarray, angular: np.ndarray | None) -> Violation | None:
        twist = np.concatenate([linear, np.zeros(3) if angular is None else angular])
        change = (twist - self.last) / self.period
        groups = (("linear", slice(0, 3), self.linear_limits), ("angular", slice(3, 6), self.angular_limits))
        for group, part, limits in groups:
            speed = float(np.linalg.norm(twist[part]))
            if speed > float(limits.velocity) * (1.0 + TOLERANCE):
                return Violation(f"{group} velocity", "tip", speed, float(limits.velocity))
            rate = float(np.linalg.norm(change[part]))
            if rate > float(limits.acceleration) * (1.0 + TOLERANCE):
                return Violation(f"{group} acceleration", "tip", rate, float(limits.acceleration))
        self.last = twist
        return None
