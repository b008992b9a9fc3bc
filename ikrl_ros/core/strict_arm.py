"""The strict simulated arm's command interface, without ROS: command streams in, each control period's motion out
as 1 kHz samples, checked as libfranka checks a real Panda's.

Commands:
- a joint trajectory (the reach controller's output: positions, velocities and accelerations every 1 ms, stamped
  with the joint state it answers) is followed by time, as a JointTrajectoryController follows it; a newer one
  replaces an older one from the instant it covers. Points further apart are interpolated (quintic through
  positions, velocities and accelerations; missing ones estimated), and a trajectory that starts after the
  current instant is joined from the current commanded state;
- joint targets one period ahead (``joint_command``, ``commands``) are joined the same way, one period at a time;
- a twist is executed by the bridge's own limited execution (``core.execution``), its stream checked against the
  Cartesian velocity and acceleration limits.

Every sample the arm is to execute passes ``JointStreamMonitor`` first. A violation raises a reflex: the sample
is not executed, the arm decelerates to rest within the limits, and it takes no commands until ``recover``
(franka's error recovery) is asked, at rest. Without a fresh command the arm decelerates to rest (the watchdog's
smooth halt); a stream that then starts again must begin where the arm stands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ikrl_ros.core.execution import MotionExecutor, Twist
from ikrl_ros.core.motion_check import JointStreamMonitor, TwistStreamMonitor, Violation
from ikrl_ros.core.trajectory import JointMotionGenerator, MotionState, quintic_samples
from ikrl_ros.core.validation import TrajectorySamples

INTERFACE_RATE = 1000
"""Hz: samples per second of commanded motion (a Panda's control interface)."""
START_TOLERANCE = 0.01
"""rad: a stream starting from rest may begin this far from where the arm stands (the motors' tracking error a
controller sees in the measured joints); farther is refused."""
CONTINUITY = 1e-6
"""rad: a stream whose first sample lies this close to the commanded state continues it."""
FOLLOWING, HALTING, AT_REST, REFLEX = "following", "halting", "at rest", "reflex"


@dataclass(frozen=True)
class PeriodMotion:
    """One control period of commanded motion: samples at 1 kHz (its end last), what produced it, and news."""

    samples: MotionState
    mode: str
    """``FOLLOWING`` a command, ``HALTING`` or ``AT_REST`` without one, or stopping after a ``REFLEX``."""
    source: str
    reflex: Violation | None = None
    """A reflex raised in this period."""
    refused: str | None = None
    """Why a command was not taken up (it does not continue from where the arm stands)."""


@dataclass
class _Trajectory:
    origin_ns: int
    samples: TrajectorySamples


class StrictInterface:
    """Commands → checked 1 kHz motion, one control period at a time."""

    def __init__(
        self,
        monitor: JointStreamMonitor,
        twist_monitor: TwistStreamMonitor,
        stopper: JointMotionGenerator,
        executor: MotionExecutor,
        position: np.ndarray,
    ) -> None:
        self.monitor, self.twist_monitor, self.stopper, self.executor = monitor, twist_monitor, stopper, executor
        self.period = stopper.period
        self.count = round(self.period * INTERFACE_RATE)
        self.sample_times = np.arange(1, self.count + 1) / INTERFACE_RATE
        self.trajectories: list[_Trajectory] = []
        self.reflex: Violation | None = None
        self.reset(position)

    def reset(self, position: np.ndarray) -> None:
        """At rest at ``position`` (start, the bridge's reset): no command, no reflex."""
        self.executed = MotionState.at_rest(position)
        self.monitor.restart(self.executed.position)
        self.twist_monitor.restart()
        self.trajectories.clear()
        self.reflex, self.following = None, False

    def receive_trajectory(self, origin_ns: int, samples: TrajectorySamples) -> None:
        """A trajectory whose times count from ``origin_ns`` (sim time): it replaces older ones from its start."""
        self.trajectories = [*self.trajectories[-3:], _Trajectory(origin_ns, samples)]

    def recover(self) -> tuple[bool, str]:
        """Franka's error recovery: clears a reflex once the arm is at rest."""
        if self.reflex is None:
            return True, "no reflex to recover from"
        if not self.executed.resting:
            return False, "still stopping after the reflex: ask again at rest"
        text = self.reflex.text()
        self.reflex = None
        self.monitor.restart(self.executed.position)
        self.twist_monitor.restart()
        self.trajectories.clear()
        return True, f"recovered from {text}"

    # --- one period --------------------------------------------------------------------------
    def step(
        self,
        start_ns: int,
        target: tuple[np.ndarray, np.ndarray | None] | None = None,
        twist: Twist | None = None,
        measured: np.ndarray | None = None,
    ) -> PeriodMotion:
        """The period from sim time ``start_ns``: the newest trajectory covering it, else ``target`` (positions and
        optional velocities one period ahead) or ``twist`` (fresh commands, or None), else a halt."""
        if self.reflex is not None:
            return self._stop(REFLEX, "reflex")
        planned, source = self._trajectory_window(start_ns), "joint_trajectory"
        if planned is None and target is not None:
            planned, source = self._joined(target[0], target[1]), "joint targets"
        if planned is None and twist is not None:
            violation = self.twist_monitor.check(twist.linear, twist.angular)
            if violation is not None:
                return self._raise(violation)
            planned, source = self._twist_window(twist, measured), "cartesian_cmd"
        if planned is None:
            if self.executed.resting:
                self.twist_monitor.restart()
            return self._stop(HALTING, "no command")
        if self.executed.resting and measured is not None and self._starts_where_the_arm_stands(planned, measured):
            # At rest a stream may start where the arm stands as measured (libfranka's rule for a new motion): the
            # command moves onto the arm, which a contact may hold away from where it was commanded to rest.
            self.following = False
        if not self.following:
            offset = float(np.abs(planned.position[0] - self.executed.position).max())
            if measured is not None and self.executed.resting:
                offset = min(offset, float(np.abs(planned.position[0] - measured).max()))
            if not self.executed.resting or offset > START_TOLERANCE:
                where = "the arm is still stopping" if not self.executed.resting else f"it starts {offset:.4f} rad away"
                return self._stop(
                    HALTING, "no command", refused=f"{source} does not continue the arm's motion: {where}"
                )
            self.monitor.restart(planned.position[0])
        violation = self.monitor.check(planned.position)
        if violation is not None:
            return self._raise(violation)
        self.following = True
        self.executed = _last(planned)
        return PeriodMotion(planned, FOLLOWING, source)

    def _starts_where_the_arm_stands(self, planned: MotionState, measured: np.ndarray) -> bool:
        """A stream that starts at rest at the measured arm rather than where the command rests."""
        start = planned.position[0]
        continues = float(np.abs(start - self.executed.position).max()) <= CONTINUITY
        return not continues and float(np.abs(start - measured).max()) <= START_TOLERANCE

    def _raise(self, violation: Violation) -> PeriodMotion:
        self.reflex = violation
        return self._stop(REFLEX, "reflex", reflex=violation)

    def _stop(
        self, mode: str, source: str, reflex: Violation | None = None, refused: str | None = None
    ) -> PeriodMotion:
        """Decelerate to rest within the limits from the last executed state (or stay at rest)."""
        self.following = False
        self.stopper.halt(self.executed)
        samples = self.stopper.samples(self.count)
        self.monitor.accept(samples.position)
        self.executed = _last(samples)
        resting = self.executed.resting
        return PeriodMotion(samples, AT_REST if resting and mode == HALTING else mode, source, reflex, refused)

    # --- sources -----------------------------------------------------------------------------
    def _trajectory_window(self, start_ns: int) -> MotionState | None:
        """The newest trajectory that reaches past this period and does not start after it, at this period."""
        for trajectory in reversed(self.trajectories):
            offset = (start_ns - trajectory.origin_ns) / 1e9
            window = offset + self.sample_times
            times = trajectory.samples.times
            if times[-1] < window[-1] - 1e-9 or times[0] > window[-1] + 1e-9:
                continue
            return self._interpolate(trajectory.samples, window, offset)
        return None

    def _interpolate(self, samples: TrajectorySamples, window: np.ndarray, offset: float) -> MotionState:
        """The trajectory at ``window`` times, piecewise quintic, joined from the executed state before its first
        point."""
        times = samples.times
        velocities = (
            samples.velocities if samples.velocities is not None else np.gradient(samples.positions, times, axis=0)
        )
        accelerations = samples.accelerations if samples.accelerations is not None else np.zeros_like(velocities)
        knots = [MotionState(p, v, a) for p, v, a in zip(samples.positions, velocities, accelerations, strict=True)]
        knot_times = list(times)
        if window[0] < times[0] - 1e-9:
            knots.insert(0, self.executed)
            knot_times.insert(0, offset)
        positions, speeds, accels = [], [], []
        for t in window:
            index = int(np.searchsorted(knot_times, t - 1e-9))
            if index < len(knot_times) and abs(knot_times[index] - t) <= 1e-9:
                state = knots[index]
                positions.append(state.position), speeds.append(state.velocity), accels.append(state.acceleration)
                continue
            before, after = knots[index - 1], knots[index]
            span = knot_times[index] - knot_times[index - 1]
            p, v, a, _ = quintic_samples(before, after, span, rate=1.0 / (t - knot_times[index - 1]))
            positions.append(p[0]), speeds.append(v[0]), accels.append(a[0])
        return MotionState(np.array(positions), np.array(speeds), np.array(accels))

    def _joined(self, positions: np.ndarray, velocities: np.ndarray | None) -> MotionState:
        """Targets one period ahead, joined from the executed state (quintic, at rest in acceleration)."""
        if velocities is None:
            velocities = (positions - self.executed.position) / self.period
        end = MotionState(positions, velocities, np.zeros_like(positions))
        p, v, a, _ = quintic_samples(self.executed, end, self.period, rate=INTERFACE_RATE)
        return MotionState(p, v, a)

    def _twist_window(self, twist: Twist, measured: np.ndarray | None) -> MotionState:
        """A twist through the bridge's own limited execution, continuing the executed motion."""
        self.executor.start_from(self.executed)
        self.executor.execute(self.executed.position if measured is None else measured, twist)
        return self.executor.samples(self.count)


def _last(samples: MotionState) -> MotionState:
    return MotionState(samples.position[-1], samples.velocity[-1], samples.acceleration[-1])
