"""Goal-conditioned environment helpers: creation, sizes, flat observation layout, reward functions."""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from ikrl_ros.core.policy_spec import PANDA_GYM_TASK, PolicyError, task_of

KEYS = ("observation", "achieved_goal", "desired_goal")
"""Order of the dict entries in the flat network input (the 'expected observation layout')."""

PANDA_NOTES = (
    "panda-gym world frame (metres, the Panda base is at (-0.6, 0, 0)): observation = end-effector "
    "position (3) + end-effector linear velocity (3, m/s); achieved_goal = end-effector position; "
    "desired_goal = goal position. Control period 0.04 s."
)
WORKSPACE_NOTES = (
    "the arm's base frame (metres): observation = end-effector position (3, 'ee' control), the arm's joint "
    "angles (rad, 'joints' control) or the end-effector pose (position + 6-D rotation, 'pose' control); "
    "achieved_goal = end-effector position (pose); desired_goal = goal position (pose). Control period 0.04 s; "
    "episodes continue from the previous one and never end on success."
)


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence C-level stdout (PyBullet prints its argv on every connect), keeping tqdm/console clean.

    C stdio buffers that output when stdout is a pipe, so it is flushed into /dev/null before the
    real stdout comes back (otherwise it would appear at exit, after a command's JSON result).
    """
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    fd = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
            libc.fflush(None)
    finally:
        os.dup2(fd, 1)
        os.close(fd)


def resolve_env_id(env_id: str, reward: str | None = None) -> str:
    """Apply a 'sparse'/'dense' reward choice to a panda-gym id (PandaReach-v3 + dense -> PandaReachDense-v3)."""
    if reward is None:
        return env_id
    if reward not in ("sparse", "dense"):
        raise ValueError(f"reward must be 'sparse' or 'dense', got {reward!r}")
    name, _, version = env_id.rpartition("-")
    base = name.removesuffix("Dense")
    return f"{base}{'Dense' if reward == 'dense' else ''}-{version}"


def make_env(env_id: str, **env_kwargs: Any) -> gym.Env:
    """gym.make with panda-gym's and the workspace environments registered, PyBullet's console output suppressed."""
    import panda_gym  # noqa: F401  (registers the Panda* environments)

    from ikrl_ros.rl.workspace_env import register_workspace_envs

    register_workspace_envs()

    with _quiet_stdout():
        return gym.make(env_id, **env_kwargs)


@dataclass(frozen=True)
class EnvInfo:
    """Sizes and semantics of a goal-conditioned environment, as recorded in checkpoints."""

    env_id: str
    obs_dim: int
    goal_dim: int
    act_dim: int
    action_scale: tuple[float, ...]
    max_episode_steps: int
    control_type: str = "ee"
    """'ee' (end-effector displacement actions) or 'joints' (joint displacement actions)."""
    terminal_on_success: bool = True
    """panda-gym v3 ends an episode on success; the workspace environments never do."""
    action_map: str = "linear"
    """How an action becomes a displacement fraction: 'linear' (panda-gym) or 'signed_square' (a·|a|)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments the environment was made with beyond its registration (``ikrl train --env-kwarg``)."""
    arm: dict[str, Any] | None = None
    """The arm's ``ArmKinematics.identity``; None: panda-gym's Panda, whose environments do not state it."""

    @property
    def input_dim(self) -> int:
        return self.obs_dim + 2 * self.goal_dim

    def layout(self) -> list[dict[str, Any]]:
        """Slices of the flat input vector, in order."""
        sizes = (self.obs_dim, self.goal_dim, self.goal_dim)
        starts = np.cumsum((0,) + sizes[:-1])
        return [
            {"key": key, "start": int(start), "size": size}
            for key, start, size in zip(KEYS, starts, sizes, strict=True)
        ]

    def notes(self) -> str:
        try:
            task = task_of(self.env_id)
        except PolicyError:
            return ""
        return PANDA_NOTES if task == PANDA_GYM_TASK else WORKSPACE_NOTES


def env_info(env: gym.Env) -> EnvInfo:
    space = env.observation_space
    if not isinstance(space, gym.spaces.Dict) or set(KEYS) - set(space.spaces):
        raise ValueError(f"{env.spec.id if env.spec else env} is not goal-conditioned (needs dict keys {KEYS})")
    act = env.action_space
    if not isinstance(act, gym.spaces.Box) or not np.allclose(act.low, -act.high):
        raise ValueError("only symmetric Box action spaces are supported")
    max_steps = env.spec.max_episode_steps if env.spec is not None else None
    if not max_steps:
        raise ValueError("the environment needs a time limit (max_episode_steps)")
    unwrapped = env.unwrapped
    robot = getattr(unwrapped, "robot", None)  # panda-gym keeps it on its robot
    control_type = getattr(unwrapped, "control_type", None) or getattr(robot, "control_type", "ee")
    return EnvInfo(
        env_id=env.spec.id,
        obs_dim=int(space["observation"].shape[0]),
        goal_dim=int(space["desired_goal"].shape[0]),
        act_dim=int(act.shape[0]),
        action_scale=tuple(float(h) for h in act.high),
        max_episode_steps=int(max_steps),
        control_type=str(control_type),
        terminal_on_success=bool(getattr(getattr(unwrapped, "task", None), "terminal_on_success", True)),
        action_map=str(getattr(unwrapped, "action_map", "linear")),
        arm=getattr(unwrapped, "arm_identity", None),
    )


def goal_functions(env: gym.Env) -> tuple[Callable[..., np.ndarray], Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """The env's own vectorised `compute_reward(achieved, desired, info)` and `is_success(achieved, desired)`."""
    unwrapped = env.unwrapped
    task = getattr(unwrapped, "task", None)
    if task is None or not hasattr(task, "is_success"):
        raise ValueError("the environment must expose task.is_success (panda-gym style)")
    return unwrapped.compute_reward, task.is_success


def flatten(obs: dict[str, np.ndarray]) -> np.ndarray:
    """Concatenate a (possibly batched) dict observation in `KEYS` order, as float32."""
    return np.concatenate([np.asarray(obs[key], np.float32) for key in KEYS], axis=-1)
