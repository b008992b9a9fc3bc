"""How a recorded motion stands against the arm's limits: the measures of the workspace suite's motion columns.

A stream of joint positions sampled every ``sample_time`` (the joint states at the control rate, the joint targets
the motors were told, or the 1 kHz stream an interface receives) has velocities, accelerations and jerks as its
finite differences, as libfranka computes them from a commanded stream; ``stream_peaks`` gives the largest of each
as a multiple of the arm's limit. ``held_stream`` is what a 1 kHz position interface makes of one target per
control period (the position held until the next, so the step lands within one sample);
``time_optimal_duration`` is the time of the fastest jerk-limited motion between two postures at rest (Ruckig),
the yardstick of how fast a reach could be within the limits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ruckig import InputParameter, Result, Ruckig, Trajectory

from ikrl_ros.core.motion_check import TOLERANCE
from ikrl_ros.core.robot import MotionLimits

QUANTITIES = ("velocity", "acceleration", "jerk")


@dataclass(frozen=True)
class LimitPeaks:
    """The largest |velocity|, |acceleration| and |jerk| of a stream over all joints and samples, each divided by
    that joint's limit (1.0: at the limit)."""

    velocity: float
    acceleration: float
    jerk: float

    @property
    def worst(self) -> float:
        return max(self.velocity, self.acceleration, self.jerk)

    @property
    def over(self) -> bool:
        """Whether any sample is beyond a limit (past the round-off slack the strict arm allows)."""
        return self.worst > 1.0 + TOLERANCE


def stream_peaks(positions: np.ndarray, sample_time: float, limits: MotionLimits) -> LimitPeaks:
    """Peaks of the finite differences of ``positions`` (samples × joints) against ``limits``; quantities that need
    more samples than the stream has count as 0."""
    positions = np.asarray(positions, dtype=float)
    peaks = []
    differences = positions
    for quantity in QUANTITIES:
        differences = np.diff(differences, axis=0) / sample_time
        limit = np.asarray(getattr(limits, quantity), dtype=float)
        peaks.append(float((np.abs(differences) / limit).max()) if len(differences) else 0.0)
    return LimitPeaks(*peaks)


def held_stream(targets: np.ndarray, samples_per_period: int) -> np.ndarray:
    """The 1 kHz stream of a position interface given one target per period: each target from the period's first
    sample on, held to its end."""
    return np.repeat(np.asarray(targets, dtype=float), samples_per_period, axis=0)


def time_optimal_duration(start: np.ndarray, end: np.ndarray, limits: MotionLimits) -> float:
    """Seconds of the time-optimal jerk-limited motion from rest at ``start`` to rest at ``end`` within ``limits``
    (all joints arriving together, as Ruckig plans it)."""
    dof = len(start)
    request = InputParameter(dof)
    request.current_position = np.asarray(start, dtype=float).tolist()
    request.target_position = np.asarray(end, dtype=float).tolist()
    request.current_velocity = request.current_acceleration = [0.0] * dof
    request.target_velocity = request.target_acceleration = [0.0] * dof
    request.max_velocity = np.asarray(limits.velocity, dtype=float).tolist()
    request.max_acceleration = np.asarray(limits.acceleration, dtype=float).tolist()
    request.max_jerk = np.asarray(limits.jerk, dtype=float).tolist()
    trajectory = Trajectory(dof)
    result = Ruckig(dof).calculate(request, trajectory)
    if result not in (Result.Working, Result.Finished):
        raise RuntimeError(f"no time-optimal trajectory from {start} to {end} ({result})")
    return float(trajectory.duration)


LEAD_SAMPLES = 3
"""Samples before a window that its differences continue from: a step where two goals meet is counted."""


@dataclass(frozen=True)
class GoalMotion:
    """One goal's motion against the limits: the arm's joint states and the motors' targets at the control rate, the
    1 kHz stream its interface executed, the strict arm's reflexes, collision states and the yardstick duration."""

    motion: LimitPeaks
    command: LimitPeaks
    interface: LimitPeaks
    reflexes: int
    collision_states: int
    """Joint states within ``collision.STOP_MARGIN`` of the scene or of another link (or in contact)."""
    min_clearance: float
    """m: the smallest scene or self distance over the goal's joint states."""
    time_optimal: float
    """s: the time-optimal jerk-limited motion from the goal's first to its last posture (``time_optimal_duration``)."""


def window(stream: list[tuple[int, np.ndarray]], start_ns: int, end_ns: int, lead: int = LEAD_SAMPLES) -> np.ndarray:
    """The rows of a stamped stream in (start_ns, end_ns], after the last ``lead`` rows before it (block entries,
    e.g. a period's 1 kHz samples, contribute their rows in order)."""
    before = [rows for stamp, rows in stream if stamp <= start_ns]
    inside = [rows for stamp, rows in stream if start_ns < stamp <= end_ns]
    lead_rows = np.vstack([np.atleast_2d(rows) for rows in before])[-lead:] if before and lead else None
    rows = [np.atleast_2d(rows) for rows in inside]
    if lead_rows is not None:
        rows.insert(0, lead_rows)
    return np.vstack(rows) if rows else np.empty((0, 0))
