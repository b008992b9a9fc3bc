"""The workspace training environments: goals, starts, no early end, reward, execution as deployed."""

from __future__ import annotations

import numpy as np
import pytest

from ikrl_ros.core.control import CONTROL_PERIOD
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import load_arm
from ikrl_ros.core.safety import cartesian_joint_targets
from ikrl_ros.core.workspace import sample_start_posture
from ikrl_ros.rl.envs import env_info, goal_functions, make_env
from ikrl_ros.rl.workspace_env import SUCCESS_THRESHOLD, WorkspaceReachEnv, reach_reward

ARM = load_arm()
DEFAULT_WORKSPACE = ARM.workspace
SAFETY_BOX_MIN, SAFETY_BOX_MAX = ARM.safety_box_min, ARM.safety_box_max


def exact_cartesian_action(observation: dict[str, np.ndarray]) -> np.ndarray:
    """The analytic optimum: the remaining displacement, clipped to the action limit."""
    return np.clip((observation["desired_goal"] - observation["achieved_goal"]) / 0.05, -1.0, 1.0)


def test_goals_lie_in_the_admitted_workspace_and_are_reachable() -> None:
    env = WorkspaceReachEnv()
    kinematics = ArmKinematics(ARM)
    env.reset(seed=0)
    goals = []
    for _ in range(100):
        goal = env.reset()[0]["desired_goal"].astype(float)
        assert DEFAULT_WORKSPACE.contains(goal, slack=1e-6)
        assert kinematics.solve_ik(goal).error < 1e-4
        goals.append(goal)
    goals = np.array(goals)
    # Spread over the workspace, not panda-gym's 30 cm cube.
    assert np.ptp(goals[:, 1]) > 0.7 and np.ptp(goals[:, 0]) > 0.45 and np.ptp(goals[:, 2]) > 0.5


def test_random_starts_keep_the_end_effector_in_the_safety_box_and_links_above_the_table() -> None:
    kinematics = ArmKinematics(ARM)
    rng = np.random.default_rng(3)
    for _ in range(100):
        q = sample_start_posture(rng, kinematics)
        ee = kinematics.ee_position(q)
        assert np.all(ee >= SAFETY_BOX_MIN) and np.all(ee <= SAFETY_BOX_MAX)
        assert np.all(kinematics.joint_origins(q)[2:, 2] > 0.05)


def test_episodes_continue_where_the_last_ended_and_never_end_on_success() -> None:
    env = make_env("IkrlReach-v0")
    env.unwrapped.continue_probability = 1.0
    observation, _ = env.reset(seed=5)
    for _ in range(3):
        terminated = truncated = False
        steps = 0
        while not (terminated or truncated):
            observation, _, terminated, truncated, info = env.step(exact_cartesian_action(observation))
            steps += 1
        # At the goal long before the end, yet the episode ran its full length and was truncated, not terminated.
        assert info["is_success"] and not terminated and truncated and steps == env_info(env).max_episode_steps
        end = observation["achieved_goal"].copy()
        observation, _ = env.reset()
        np.testing.assert_array_equal(observation["achieved_goal"], end)
    assert not env_info(env).terminal_on_success


def test_seeded_resets_are_reproducible_random_starts() -> None:
    first, second = WorkspaceReachEnv(), WorkspaceReachEnv()
    a, b = first.reset(seed=11)[0], second.reset(seed=11)[0]
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.allclose(first.reset(seed=12)[0]["achieved_goal"], a["achieved_goal"])


def test_reward_is_zero_at_the_goal_and_steepest_in_the_last_millimetres() -> None:
    goal = np.zeros(3)
    distances = np.array([0.0, 0.0005, 0.001, 0.005, 0.05, 0.5])
    rewards = reach_reward(np.outer(distances, [1.0, 0.0, 0.0]), goal)
    assert rewards[0] == 0.0 and np.all(np.diff(rewards) < 0)
    np.testing.assert_allclose(rewards[2:5], [-0.369, -0.718, -1.247], atol=0.001)  # as documented in reach_reward
    # Half of the reward's range down to 5 cm is spent in the first 5 mm.
    assert rewards[3] < rewards[4] / 2


def test_hindsight_goal_functions_are_vectorised_and_non_terminal() -> None:
    env = make_env("IkrlReachJoints-v0")
    compute_reward, is_success = goal_functions(env)
    achieved = np.zeros((4, 3))
    desired = np.array([[0, 0, 0], [0.004, 0, 0], [0.006, 0, 0], [0.1, 0, 0]])
    np.testing.assert_array_equal(is_success(achieved, desired), [True, True, False, False])
    assert compute_reward(achieved, desired, {}).shape == (4,)
    assert SUCCESS_THRESHOLD == 0.005


def test_cartesian_actions_execute_as_the_bridge_does() -> None:
    env = WorkspaceReachEnv("ee")
    env.reset(seed=2)
    q = env.q.copy()
    action = np.array([0.3, -0.5, 0.2])
    env.step(action)
    expected, _ = cartesian_joint_targets(
        action * 1.25, q, CONTROL_PERIOD, env.kinematics, env.executor.joints, env.executor.cartesian
    )
    np.testing.assert_array_equal(env.q, expected)
    np.testing.assert_allclose(
        env.kinematics.ee_position(env.q) - env.kinematics.ee_position(q), action * 0.05, atol=1e-5
    )


def test_joint_actions_respect_the_deployed_joint_limits() -> None:
    env = WorkspaceReachEnv("joints")
    env.reset(seed=4)
    for _ in range(200):
        before = env.q.copy()
        env.step(np.ones(7))
        assert np.all(np.abs(env.q - before) <= 0.05 + 1e-12)
        limits = env.executor.joints
        assert np.all(env.q >= limits.lower - 1e-12) and np.all(env.q <= limits.upper + 1e-12)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_cartesian_execution_does_not_drift_over_consecutive_goals(seed: int) -> None:
    """The exact Cartesian controller, executed by the bridge's DLS step, reaches 300 consecutive goals to 1 mm."""
    env = make_env("IkrlReach-v0")
    observation, _ = env.reset(seed=seed)
    errors = []
    for _ in range(300):
        for _ in range(50):
            observation, *_ = env.step(exact_cartesian_action(observation))
        errors.append(np.linalg.norm(observation["desired_goal"] - observation["achieved_goal"]))
        observation, _ = env.reset()
    assert max(errors) < 1e-3, f"{sum(e >= 1e-3 for e in errors)} of 300 goals missed by more than 1 mm"


def test_placing_the_arm_releases_a_hold() -> None:
    """A zero action holds where the arm is; after the arm is placed elsewhere, a zero action holds there."""
    import gymnasium as gym

    from ikrl_ros.rl.workspace_env import register_workspace_envs

    register_workspace_envs()
    env = gym.make("IkrlReach-v0").unwrapped
    env.reset(seed=1)
    env.step(np.zeros(3))
    placed = env.q + 0.05
    env.q = placed
    env.step(np.zeros(3))
    np.testing.assert_array_equal(env.q, placed)
