"""Deterministic evaluation on a fixed, seeded set of goals (goal i comes from env.reset(seed=first_seed + i))."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from ikrl_ros.rl.envs import flatten


@dataclass
class EvalResult:
    success_rate: float
    """Fraction of episodes that ended within the success threshold (NaN if none ran)."""
    mean_reward: float
    """Mean undiscounted episode return."""
    median_final_distance: float
    """Median distance (m) between achieved and desired goal at the end of the episode."""
    final_distances: list[float] = field(default_factory=list)
    successes: list[bool] = field(default_factory=list)
    interrupted: bool = False
    """True if `should_stop` ended the evaluation before all its episodes: the figures cover fewer goals."""

    def summary(self) -> dict[str, float]:
        return {
            "success_rate": self.success_rate,
            "mean_reward": self.mean_reward,
            "median_final_distance": self.median_final_distance,
            "episodes": len(self.successes),
        }


def evaluate(
    act: Callable[[np.ndarray], np.ndarray],
    env: gym.Env,
    episodes: int = 50,
    first_seed: int = 0,
    should_stop: Callable[[], bool] | None = None,
) -> EvalResult:
    """Run `episodes` episodes with the deterministic action function `act(flat_obs[1, D]) -> action[1, A]`.

    `should_stop()` is polled before every episode, so that a stop request does not wait for a long evaluation.
    """
    distances, successes, returns = [], [], []
    interrupted = False
    for i in range(episodes):
        if should_stop is not None and should_stop():
            interrupted = True
            break
        obs, info = env.reset(seed=first_seed + i)
        episode_return, done = 0.0, False
        while not done:
            action = act(flatten(obs)[None])[0]
            obs, reward, terminated, truncated, info = env.step(action)
            episode_return += float(reward)
            done = terminated or truncated
        distances.append(float(np.linalg.norm(obs["achieved_goal"] - obs["desired_goal"])))
        successes.append(bool(info.get("is_success", terminated)))
        returns.append(episode_return)
    if not successes:
        return EvalResult(float("nan"), float("nan"), float("nan"), interrupted=interrupted)
    return EvalResult(
        float(np.mean(successes)),
        float(np.mean(returns)),
        float(np.median(distances)),
        distances,
        successes,
        interrupted,
    )
