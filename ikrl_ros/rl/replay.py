"""Episode-aware replay buffer with Hindsight Experience Replay (Andrychowicz et al. 2017).

Storage is one row per episode (`[episodes, max_steps(+1), dim]` float32 arrays), so the "future",
"final" and "episode" goals of a transition are found by index arithmetic, without Python loops.
Transitions are sampled uniformly (episodes weighted by their length).

Rewards *and termination* are recomputed for every sampled transition from the goal it is paired
with: reward = env.compute_reward(achieved_{t+1}, goal), done = env.is_success(achieved_{t+1}, goal).
panda-gym v3 terminates an episode exactly when the goal is reached, so under a relabelled goal g'
the same transition would have ended the episode iff achieved_{t+1} is within the threshold of g';
such transitions must not bootstrap (their value is the final reward), whatever the original episode
did. Environments that never end on success (``terminal_on_success=False``, the workspace tasks)
bootstrap every transition. Time-limit truncation never marks a transition done, so truncated episodes always bootstrap.
(Stable-Baselines3 instead copies the original episode's flag, which treats relabelled successes as
non-terminal and relabelled copies of the real success step as terminal.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ikrl_ros.rl.config import HER_STRATEGIES

RewardFn = Callable[[np.ndarray, np.ndarray, dict[str, Any]], np.ndarray]
SuccessFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class HerReplayBuffer:
    """Replay of whole episodes; `sample` relabels a fraction k/(k+1) of goals (none if strategy='none')."""

    def __init__(
        self,
        obs_dim: int,
        goal_dim: int,
        act_dim: int,
        max_episode_steps: int,
        capacity: int,
        compute_reward: RewardFn,
        is_success: SuccessFn,
        strategy: str = "future",
        k: int = 4,
        rng: np.random.Generator | None = None,
        terminal_on_success: bool = True,
    ) -> None:
        if strategy not in HER_STRATEGIES:
            raise ValueError(f"unknown HER strategy {strategy!r}; expected one of {HER_STRATEGIES}")
        self.obs_dim, self.goal_dim, self.act_dim = obs_dim, goal_dim, act_dim
        self.T = max_episode_steps
        self.n_slots = max(1, capacity // max_episode_steps)
        self.compute_reward, self.is_success = compute_reward, is_success
        self.strategy, self.k = strategy, k
        self.terminal_on_success = terminal_on_success
        self.her_ratio = 0.0 if strategy == "none" else k / (k + 1.0)
        self.rng = rng if rng is not None else np.random.default_rng()
        E, T = self.n_slots, self.T
        self.obs = np.zeros((E, T + 1, obs_dim), np.float32)
        self.ag = np.zeros((E, T + 1, goal_dim), np.float32)
        self.goal = np.zeros((E, T, goal_dim), np.float32)
        self.actions = np.zeros((E, T, act_dim), np.float32)
        self.lengths = np.zeros(E, np.int64)
        self.ptr = 0
        self._cum = np.zeros(E, np.int64)

    def __len__(self) -> int:
        """Number of stored transitions."""
        return int(self._cum[-1])

    @property
    def n_episodes(self) -> int:
        return int(np.count_nonzero(self.lengths))

    def add_episode(self, obs: np.ndarray, ag: np.ndarray, goal: np.ndarray, actions: np.ndarray) -> None:
        """Store one episode of length L: obs/ag have L+1 rows (incl. the last state), goal/actions L rows."""
        L = len(actions)
        if not 1 <= L <= self.T or len(obs) != L + 1 or len(ag) != L + 1 or len(goal) != L:
            raise ValueError(
                f"inconsistent episode: {L} actions, {len(obs)} obs, {len(ag)} achieved, {len(goal)} goals"
            )
        e = self.ptr
        self.obs[e, : L + 1] = obs
        self.ag[e, : L + 1] = ag
        self.goal[e, :L] = goal
        self.actions[e, :L] = actions
        self.lengths[e] = L
        self.ptr = (e + 1) % self.n_slots
        np.cumsum(self.lengths, out=self._cum)

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """A batch of flat inputs x=[obs, achieved, goal], actions, rewards, done flags and next inputs."""
        n = len(self)
        if n == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        flat = self.rng.integers(0, n, batch_size)
        e = np.searchsorted(self._cum, flat, side="right")
        t = flat - (self._cum[e] - self.lengths[e])
        L = self.lengths[e]
        goal = self.goal[e, t]
        her = self.rng.random(batch_size) < self.her_ratio
        if her.any():
            eh, th, Lh = e[her], t[her], L[her]
            if self.strategy == "future":  # an achieved goal at t+1 .. L (after this action)
                j = th + 1 + (self.rng.random(len(eh)) * (Lh - th)).astype(np.int64)
            elif self.strategy == "final":
                j = Lh
            else:  # "episode": any achieved goal of the episode after its first action
                j = 1 + (self.rng.random(len(eh)) * Lh).astype(np.int64)
            goal[her] = self.ag[eh, j]
        ag_next = self.ag[e, t + 1]
        reward = np.asarray(self.compute_reward(ag_next, goal, {}), np.float32)
        if self.terminal_on_success:
            done = np.asarray(self.is_success(ag_next, goal), np.float32)
        else:
            done = np.zeros(batch_size, np.float32)
        return {
            "x": np.concatenate([self.obs[e, t], self.ag[e, t], goal], axis=1),
            "a": self.actions[e, t],
            "r": reward,
            "done": done,
            "x_next": np.concatenate([self.obs[e, t + 1], ag_next, goal], axis=1),
            "relabelled": her,
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        """Arrays needed to restore the buffer exactly (saved with np.savez, loaded without pickle)."""
        return {
            "obs": self.obs,
            "ag": self.ag,
            "goal": self.goal,
            "actions": self.actions,
            "lengths": self.lengths,
            "ptr": np.asarray(self.ptr),
        }

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for name in ("obs", "ag", "goal", "actions", "lengths"):
            if state[name].shape != getattr(self, name).shape:
                raise ValueError(
                    f"replay array {name!r} has shape {state[name].shape}, expected {getattr(self, name).shape}"
                )
            getattr(self, name)[...] = state[name]
        self.ptr = int(state["ptr"])
        np.cumsum(self.lengths, out=self._cum)
