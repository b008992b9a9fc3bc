"""Replay buffer with Hindsight Experience Replay (Andrychowicz et al. 2017), sized in transitions.

Storage is a ring of `capacity` transitions (`[capacity, dim]` float32 arrays). Episodes are stored
contiguously (indices taken modulo the capacity) and evicted whole, oldest first, so the buffer always
holds between `capacity - max_episode_steps + 1` and `capacity` transitions once it is full, however
short the episodes are. Each transition records where its episode starts and how long it is, so the
"future", "final" and "episode" goals of a transition are found by index arithmetic, without Python loops.
Transitions are sampled uniformly.

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

TRANSITION_ARRAYS = (
    "obs",
    "achieved",
    "goal",
    "actions",
    "next_obs",
    "next_achieved",
    "episode_start",
    "episode_length",
)
"""The per-transition arrays of `HerReplayBuffer.state_dict` (besides the write position and size)."""


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
        if capacity < max_episode_steps:
            raise ValueError(
                f"replay capacity {capacity} transitions is smaller than one episode ({max_episode_steps} steps)"
            )
        self.obs_dim, self.goal_dim, self.act_dim = obs_dim, goal_dim, act_dim
        self.max_episode_steps = max_episode_steps
        self.capacity = capacity
        self.compute_reward, self.is_success = compute_reward, is_success
        self.strategy, self.k = strategy, k
        self.terminal_on_success = terminal_on_success
        self.her_ratio = 0.0 if strategy == "none" else k / (k + 1.0)
        self.rng = rng if rng is not None else np.random.default_rng()
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.achieved = np.zeros((capacity, goal_dim), np.float32)
        self.goal = np.zeros((capacity, goal_dim), np.float32)
        self.actions = np.zeros((capacity, act_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_achieved = np.zeros((capacity, goal_dim), np.float32)
        self.episode_start = np.zeros(capacity, np.int64)
        """Ring index of the first transition of each transition's episode."""
        self.episode_length = np.zeros(capacity, np.int64)
        """Length of each transition's episode (0 where nothing is stored)."""
        self.ptr = 0
        """Where the next episode is written."""
        self.size = 0
        """Stored transitions: the oldest is at (ptr - size) mod capacity."""

    def __len__(self) -> int:
        """Number of stored transitions."""
        return self.size

    @property
    def n_episodes(self) -> int:
        stored = self._stored_indices()
        return int(np.count_nonzero(stored == self.episode_start[stored]))

    def _stored_indices(self) -> np.ndarray:
        return (self.ptr - self.size + np.arange(self.size)) % self.capacity

    def add_episode(self, obs: np.ndarray, achieved: np.ndarray, goal: np.ndarray, actions: np.ndarray) -> None:
        """Store one episode of `length` steps: obs/achieved have length + 1 rows (with the last state), goal/actions
        `length` rows. The oldest whole episodes are evicted to make room."""
        length = len(actions)
        if (
            not 1 <= length <= self.max_episode_steps
            or len(obs) != length + 1
            or len(achieved) != length + 1
            or len(goal) != length
        ):
            raise ValueError(
                f"inconsistent episode: {length} actions, {len(obs)} obs, {len(achieved)} achieved, {len(goal)} goals"
            )
        while self.size + length > self.capacity:  # evict the oldest episode whole: its goals refer to all of it
            oldest = (self.ptr - self.size) % self.capacity
            self.size -= int(self.episode_length[oldest])
        index = (self.ptr + np.arange(length)) % self.capacity
        self.obs[index], self.next_obs[index] = obs[:-1], obs[1:]
        self.achieved[index], self.next_achieved[index] = achieved[:-1], achieved[1:]
        self.goal[index], self.actions[index] = goal, actions
        self.episode_start[index], self.episode_length[index] = self.ptr, length
        self.ptr = (self.ptr + length) % self.capacity
        self.size += length

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """A batch of flat inputs x=[obs, achieved, goal], actions, rewards, done flags and next inputs."""
        if self.size == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        index = (self.ptr - self.size + self.rng.integers(0, self.size, batch_size)) % self.capacity
        goal = self.goal[index]
        her = self.rng.random(batch_size) < self.her_ratio
        if her.any():
            her_index = index[her]
            start, length = self.episode_start[her_index], self.episode_length[her_index]
            t = (her_index - start) % self.capacity  # step within the episode
            # Offset (within the episode) of the transition whose next achieved goal becomes the goal.
            if self.strategy == "future":  # reached at t+1 .. length, i.e. after this action
                offset = t + (self.rng.random(len(her_index)) * (length - t)).astype(np.int64)
            elif self.strategy == "final":
                offset = length - 1
            else:  # "episode": any achieved goal of the episode after its first action
                offset = (self.rng.random(len(her_index)) * length).astype(np.int64)
            goal[her] = self.next_achieved[(start + offset) % self.capacity]
        next_achieved = self.next_achieved[index]
        reward = np.asarray(self.compute_reward(next_achieved, goal, {}), np.float32)
        if self.terminal_on_success:
            done = np.asarray(self.is_success(next_achieved, goal), np.float32)
        else:
            done = np.zeros(batch_size, np.float32)
        return {
            "x": np.concatenate([self.obs[index], self.achieved[index], goal], axis=1),
            "a": self.actions[index],
            "r": reward,
            "done": done,
            "x_next": np.concatenate([self.next_obs[index], next_achieved, goal], axis=1),
            "relabelled": her,
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        """Arrays needed to restore the buffer exactly (saved with np.savez, loaded without pickle)."""
        return {
            **{name: getattr(self, name) for name in TRANSITION_ARRAYS},
            "ptr": np.asarray(self.ptr),
            "size": np.asarray(self.size),
        }

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for name in TRANSITION_ARRAYS:
            if state[name].shape != getattr(self, name).shape:
                raise ValueError(
                    f"replay array {name!r} has shape {state[name].shape}, expected {getattr(self, name).shape}"
                )
        ptr, size = int(state["ptr"]), int(state["size"])
        if not (0 <= ptr < self.capacity and 0 <= size <= self.capacity):
            raise ValueError(f"replay position {ptr} / size {size} outside the capacity {self.capacity}")
        for name in TRANSITION_ARRAYS:
            getattr(self, name)[...] = state[name]
        self.ptr, self.size = ptr, size
