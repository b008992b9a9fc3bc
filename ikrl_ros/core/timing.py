"""Bounded rolling statistics of a control loop's timing (compute time, latency, period jitter)."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np


class RollingSamples:
    """The last ``size`` samples of one quantity; memory stays bounded however long the node runs."""

    def __init__(self, size: int = 2000) -> None:
        self.samples: deque[float] = deque(maxlen=size)

    def add(self, value: float) -> None:
        self.samples.append(value)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.samples, q)) if self.samples else float("nan")

    def __len__(self) -> int:
        return len(self.samples)


class LoopTiming:
    """Timing of a fixed-rate (or event-driven) control loop, in milliseconds."""

    def __init__(self, nominal_period: float, size: int = 2000) -> None:
        self.nominal_period_ms = nominal_period * 1e3
        self.compute_ms = RollingSamples(size)
        """From the start of a control step to the command's publication."""
        self.latency_ms = RollingSamples(size)
        """From the reception of the joint state a command used to the command's publication."""
        self.state_age_ms = RollingSamples(size)
        """Age of that joint state by its stamp when the command leaves (transport included)."""
        self.period_ms = RollingSamples(size)
        self.missed_periods = 0
        self.steps = 0
        self._last_tick: float | None = None

    def tick(self, now: float) -> None:
        """Start of a timer-driven step (``now`` in seconds, monotonic)."""
        if self._last_tick is not None:
            period = (now - self._last_tick) * 1e3
            self.period_ms.add(period)
            self.missed_periods += max(0, round(period / self.nominal_period_ms) - 1)
        self._last_tick = now

    def step_done(self, started: float, state_received: float, now: float, state_age_ms: float | None = None) -> None:
        self.steps += 1
        self.compute_ms.add((now - started) * 1e3)
        self.latency_ms.add((now - state_received) * 1e3)
        if state_age_ms is not None:
            self.state_age_ms.add(state_age_ms)

    def summary(self) -> dict[str, str]:
        jitter = RollingSamples()
        for period in self.period_ms.samples:
            jitter.add(abs(period - self.nominal_period_ms))
        return {
            "control_steps": str(self.steps),
            "compute_p50_ms": f"{self.compute_ms.percentile(50):.3f}",
            "compute_p99_ms": f"{self.compute_ms.percentile(99):.3f}",
            "latency_p50_ms": f"{self.latency_ms.percentile(50):.3f}",
            "latency_p99_ms": f"{self.latency_ms.percentile(99):.3f}",
            "state_age_p50_ms": f"{self.state_age_ms.percentile(50):.3f}",
            "state_age_p99_ms": f"{self.state_age_ms.percentile(99):.3f}",
            "period_p50_ms": f"{self.period_ms.percentile(50):.3f}",
            "jitter_p99_ms": f"{jitter.percentile(99):.3f}",
            "jitter_max_ms": f"{max(jitter.samples, default=float('nan')):.3f}",
            "missed_periods": str(self.missed_periods),
        }


def rss_mib(pid: int) -> float:
    """Resident memory of a process (Linux ``/proc``), for leak checks."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class AnswerCredit:
    """Realtime decimation of a state stream to at most ``rate`` answers per second on average.

    Each state earns (time since the previous state) × rate of credit, and is answered once the credit
    reaches ½ (spending 1). States at ``rate`` are all answered whatever their jitter; faster streams are
    thinned to ``rate`` on average; the cap stops bursts after a gap.
    """

    CAP = 1.5

    def __init__(self, rate: float) -> None:
        self.rate, self.credit, self.previous = rate, self.CAP, -np.inf

    def answer(self, received: float) -> bool:
        """Whether the state received at ``received`` (monotonic seconds) is answered."""
        self.credit = min(self.credit + (received - self.previous) * self.rate, self.CAP)
        self.previous = received
        if self.credit < 0.5:
            return False
        self.credit -= 1.0
        return True
