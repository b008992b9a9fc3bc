"""The motion-quality measures: limit peaks of streams, held position streams, the time-optimal yardstick, windows."""

from __future__ import annotations

import numpy as np
import pytest

from ikrl_ros.core.control import CONTROL_PERIOD
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.motion_quality import held_stream, stream_peaks, time_optimal_duration, window
from ikrl_ros.core.robot import load_arm
from ikrl_ros.core.trajectory import JointMotionGenerator, MotionState

ARM = load_arm()
LOWER, UPPER = ArmKinematics(ARM).datasheet_limits_with_margin(0.0)
LIMITS = ARM.joint_limits
SAMPLES_PER_PERIOD = round(CONTROL_PERIOD * 1000)


def generated_stream(start: np.ndarray, goal: np.ndarray, scale: float) -> np.ndarray:
    """The 1 kHz samples of the jerk-limited generator from rest at ``start`` to rest at ``goal``."""
    generator = JointMotionGenerator(LIMITS, LOWER, UPPER, CONTROL_PERIOD, scale)
    state, rows = MotionState.at_rest(start), [np.tile(start, (3, 1))]
    for _ in range(200):
        state = generator.toward_position(state, goal)
        rows.append(generator.samples(SAMPLES_PER_PERIOD).position)
        if state.resting:
            break
    return np.vstack(rows)


def test_a_generated_trajectory_stays_within_the_limits_and_a_held_target_does_not() -> None:
    start = np.array(ARM.neutral)
    goal = start + np.array([0.6, -0.4, 0.5, 0.3, -0.5, 0.4, 0.6])
    peaks = stream_peaks(generated_stream(start, goal, 0.85), 1e-3, LIMITS)
    assert not peaks.over
    assert 0.5 < peaks.velocity <= 0.86 and peaks.jerk <= 0.86
    # The same motion's period ends as one target per period, held at 1 kHz: each step lands within one sample.
    ends = generated_stream(start, goal, 0.85)[3 + SAMPLES_PER_PERIOD - 1 :: SAMPLES_PER_PERIOD]
    held = stream_peaks(held_stream(np.vstack([start, ends]), SAMPLES_PER_PERIOD), 1e-3, LIMITS)
    assert held.over and held.velocity > 10.0 and held.acceleration > 1000.0


def test_peaks_are_ratios_to_each_joints_limit() -> None:
    positions = np.zeros((2, 7))
    positions[1, 4] = 2.61 * 0.5 * 1e-3  # joint 5 at half its 2.61 rad/s
    peaks = stream_peaks(positions, 1e-3, LIMITS)
    assert peaks.velocity == pytest.approx(0.5)
    assert peaks.acceleration == 0.0 and peaks.jerk == 0.0  # too few samples to difference twice


def test_held_stream_repeats_each_target_for_its_period() -> None:
    stream = held_stream(np.array([[0.0, 1.0], [2.0, 3.0]]), 4)
    assert stream.shape == (8, 2)
    assert np.array_equal(stream[:4], np.tile([0.0, 1.0], (4, 1))) and np.array_equal(stream[4:], [[2.0, 3.0]] * 4)


def test_time_optimal_duration_matches_the_generator_at_the_full_limits() -> None:
    start = np.array(ARM.neutral)
    goal = start + np.array([1.0, 0.2, -0.3, 0.4, 0.0, 0.2, -1.0])
    duration = time_optimal_duration(start, goal, LIMITS)
    generated = (len(generated_stream(start, goal, 1.0)) - 3) / 1000.0
    assert duration == pytest.approx(generated, abs=CONTROL_PERIOD)
    assert time_optimal_duration(start, start, LIMITS) == 0.0
    assert time_optimal_duration(start, start + (goal - start) / 4, LIMITS) < duration


def test_a_window_continues_from_the_rows_before_it() -> None:
    stream = [(10, np.array([1.0])), (20, np.array([2.0])), (30, np.array([[3.0], [3.5]])), (40, np.array([4.0]))]
    assert window(stream, 20, 40).ravel().tolist() == [1.0, 2.0, 3.0, 3.5, 4.0]
    assert window(stream, 20, 40, lead=1).ravel().tolist() == [2.0, 3.0, 3.5, 4.0]
    assert window(stream, 20, 30, lead=0).ravel().tolist() == [3.0, 3.5]
    assert window(stream, 40, 50, lead=0).size == 0
