"""ROS-free learning core of ikrl_ros: DDPG, TD3 and SAC with Hindsight Experience Replay.

Imports only ``ikrl_ros.core``. Modules: `config` (hyperparameter dataclasses), `networks`, `replay`
(HER), `algorithms`, `trainer` (`train()`), `checkpoint` (`load_policy()`, `CheckpointError`),
`evaluation`, `plotting`, `envs` and `workspace_env` (the training tasks), `controller_factory`
(classical or learned controllers by name). Heavy modules (torch) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "train": "trainer",
    "TrainResult": "trainer",
    "Progress": "trainer",
    "load_policy": "checkpoint",
    "Policy": "checkpoint",
    "CheckpointError": "checkpoint",
    "evaluate": "evaluation",
    "make_config": "config",
    "DDPGConfig": "config",
    "TD3Config": "config",
    "SACConfig": "config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
