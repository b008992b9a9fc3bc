"""The jerk-limited generator: any command sequence joins into one trajectory within the limits, at 1 kHz."""

from __future__ import annotations

import numpy as np
import pytest

from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import load_arm
from ikrl_ros.core.trajectory import LIMIT_SCALE, JointMotionGenerator, MotionState, quintic_samples

PERIOD = 0.04
SAMPLES = 40  # 1 kHz


@pytest.fixture(scope="module")
def arm():
    return load_arm()


@pytest.fixture()
def generator(arm):
    lower, upper = ArmKinematics(arm).limits_with_margin(0.01)
    return JointMotionGenerator(arm.joint_limits, lower, upper, PERIOD)


def finite_differences(positions: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    velocity = np.diff(positions, axis=0) / dt
    acceleration = np.diff(velocity, axis=0) / dt
    return velocity, acceleration, np.diff(acceleration, axis=0) / dt


def test_random_commands_stay_within_the_limits_at_1khz_and_inside_the_position_limits(arm, generator):
    rng = np.random.default_rng(3)
    state = MotionState.at_rest(arm.neutral)
    positions = [state.position]
    for _ in range(1500):
        pick = rng.random()
        if pick < 0.4:
            state = generator.toward_velocity(state, rng.uniform(-4, 4, arm.dof))
        elif pick < 0.7:
            state = generator.toward_position(state, rng.uniform(generator.lower, generator.upper))
        else:
            state = generator.halt(state)
        positions.extend(generator.samples(SAMPLES).position)
        assert np.all(state.position >= generator.lower - 1e-12) and np.all(state.position <= generator.upper + 1e-12)
    velocity, acceleration, jerk = finite_differences(np.array(positions), PERIOD / SAMPLES)
    limits = arm.joint_limits
    assert np.max(np.abs(velocity) / limits.velocity) <= LIMIT_SCALE + 1e-6
    assert np.max(np.abs(acceleration) / limits.acceleration) <= LIMIT_SCALE + 1e-6
    assert np.max(np.abs(jerk) / limits.jerk) <= LIMIT_SCALE + 1e-6


def test_a_joint_driven_into_its_limit_brakes_to_rest_before_it(arm, generator):
    for direction in (1.0, -1.0):
        state = MotionState.at_rest(arm.neutral)
        for _ in range(150):
            state = generator.toward_velocity(state, np.full(arm.dof, 5.0 * direction))
        limit = generator.upper if direction > 0 else generator.lower
        assert state.resting
        np.testing.assert_allclose(state.position, limit, atol=1e-9)


def test_a_joint_goal_is_reached_exactly_and_at_rest_in_finite_time(arm, generator):
    goal = arm.neutral + np.array([0.5, -0.3, 0.4, 0.6, -0.5, 0.3, 1.0])
    state, periods = MotionState.at_rest(arm.neutral), 0
    while not state.resting or periods == 0:
        state, periods = generator.toward_position(state, goal), periods + 1
        assert periods < 100
    np.testing.assert_array_equal(state.position, goal)
    assert 10 < periods < 60  # 1 rad on joint 7 at 85 % of 2.61 rad/s is ≥ 0.45 s = 12 periods


def test_a_velocity_is_reached_and_held_and_a_halt_comes_to_rest_without_a_step(arm, generator):
    wanted = np.array([0.3, -1.5, 0.1, 0.2, -0.3, 0.2, 0.4])
    state = MotionState.at_rest(arm.neutral)
    for _ in range(15):
        state = generator.toward_velocity(state, wanted)
    np.testing.assert_allclose(state.velocity, wanted, atol=1e-9)
    speeds = []
    while not state.resting:
        state = generator.halt(state)
        speeds.append(np.abs(state.velocity).max())
        assert len(speeds) < 20
    assert len(speeds) >= 2 and speeds[0] > 0.0  # decelerated over periods, not stopped at once
    assert generator.halt(state) is state  # at rest it stays exactly where it is


def test_a_velocity_beyond_the_limits_is_scaled_as_a_whole_keeping_its_direction(arm, generator):
    wanted = np.array([10.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    state = MotionState.at_rest(np.zeros(arm.dof) + arm.neutral)
    for _ in range(20):
        state = generator.toward_velocity(state, wanted)
    np.testing.assert_allclose(state.velocity[1] / state.velocity[0], 0.5, rtol=1e-9)
    assert state.velocity[0] == pytest.approx(LIMIT_SCALE * arm.joint_limits.velocity[0])


def test_quintic_interpolation_matches_its_end_points():
    start = MotionState(np.zeros(2), np.array([0.1, 0.0]), np.array([1.0, -1.0]))
    end = MotionState(np.array([0.01, -0.002]), np.array([0.3, -0.1]), np.array([0.0, 2.0]))
    position, velocity, acceleration, _ = quintic_samples(start, end, PERIOD)
    assert len(position) == SAMPLES
    np.testing.assert_allclose(position[-1], end.position, atol=1e-12)
    np.testing.assert_allclose(velocity[-1], end.velocity, atol=1e-10)
    np.testing.assert_allclose(acceleration[-1], end.acceleration, atol=1e-8)


def test_a_steady_target_samples_each_period_where_it_is_on_the_trajectory(arm, generator):
    """Ruckig keeps its trajectory while the inputs continue its own output: each period's samples must still start
    where the last period ended, not at the trajectory's beginning."""
    state = MotionState.at_rest(arm.neutral)
    goal = arm.neutral + 0.5
    for _ in range(6):
        before = state.position
        state = generator.toward_position(state, goal)
        samples = generator.samples(SAMPLES).position
        assert np.abs(samples[0] - before).max() < 0.01
        assert np.allclose(samples[-1], state.position)
