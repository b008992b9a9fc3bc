"""Safe, atomic checkpoints and the deployable `Policy`.

File format (one `torch.save` file, loaded with `weights_only=True` so it can hold only tensors and
plain containers, never pickled classes or code):

    {"meta": <JSON string>, "policy": {"normalizer": state_dict, "actor": state_dict},
     "training": {...}}          # optional: critics, targets, optimisers, RNG (resume only)

`meta` holds the format version, algorithm, hyperparameters, environment id and sizes, action scale,
observation layout and training step. Policy files for deployment are checkpoints without
"training" (a few hundred kB).
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ikrl_ros.core.policy_spec import CONTROL_TYPES
from ikrl_ros.rl.algorithms import make_normalizer
from ikrl_ros.rl.config import CONFIGS, BaseConfig, config_from_dict
from ikrl_ros.rl.envs import KEYS, EnvInfo
from ikrl_ros.rl.networks import DeterministicActor, Normalizer, SquashedGaussianActor

FORMAT = "ikrl_ros.rl.checkpoint"
VERSION = 1
CONTROL_TYPES_BEFORE_METADATA = {"PandaReach-v3": "ee", "PandaReachJoints-v3": "joints"}
"""Control types of the panda-gym tasks whose shipped policies (ikrl_ros/policies/*_panda_reach*.pt) carry no
``control_type``: a checkpoint of one of these tasks without it gets the task's. Every other one must declare it."""
REQUIRED_META = (
    "format",
    "version",
    "algo",
    "env_id",
    "config",
    "obs_dim",
    "goal_dim",
    "act_dim",
    "action_scale",
    "max_episode_steps",
    "step",
)


class CheckpointError(Exception):
    """A checkpoint that is missing, corrupt, unsafe or does not match what the caller expects."""


def atomic_write(path: str | os.PathLike[str], write: Any) -> None:
    """Call `write(file_object)` on a temp file in the target directory, fsync, then os.replace.

    A crash at any point leaves either the old file or the new one, never a partial file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)  # mkstemp creates 0600; policies are shared package data
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_meta(algo: str, config: BaseConfig, info: EnvInfo, step: int, **extra: Any) -> dict[str, Any]:
    """Metadata dict (JSON-serialisable) describing a checkpoint."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "algo": algo,
        "env_id": info.env_id,
        "config": config.to_dict(),
        "obs_dim": info.obs_dim,
        "goal_dim": info.goal_dim,
        "act_dim": info.act_dim,
        "action_scale": list(info.action_scale),
        "control_type": info.control_type,
        "action_map": info.action_map,
        "env_kwargs": info.env_kwargs,
        **({"arm": info.arm} if info.arm is not None else {}),
        "max_episode_steps": info.max_episode_steps,
        "observation_layout": info.layout(),
        "observation_notes": info.notes(),
        "step": int(step),
        **extra,
    }


def save_checkpoint(
    path: str | os.PathLike[str],
    meta: dict[str, Any],
    policy_state: dict[str, Any],
    training_state: dict[str, Any] | None = None,
) -> None:
    """Atomically write a checkpoint; omit `training_state` for a small deployable policy file."""
    payload: dict[str, Any] = {"meta": json.dumps(meta), "policy": policy_state}
    if training_state is not None:
        payload["training"] = training_state
    atomic_write(path, lambda f: torch.save(payload, f))


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read and validate a checkpoint; returns (meta, payload). Raises CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; a cut-off one loses its directory
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint (not a complete torch zip archive)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        detail = next((ln.strip() for ln in str(e).splitlines() if "nsupported" in ln), "")
        raise CheckpointError(
            f"{path}: refused, the file contains objects other than tensors and plain "
            f"containers (possibly code); only weights-only checkpoints are loaded. {detail}"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as e:
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("meta"), str) or "policy" not in payload:
        raise CheckpointError(f"{path}: not an ikrl_ros checkpoint (needs 'meta' JSON and 'policy' entries)")
    try:
        meta = json.loads(payload["meta"])
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: metadata is not valid JSON ({e})") from None
    missing = [key for key in REQUIRED_META if key not in meta]
    if missing:
        raise CheckpointError(f"{path}: metadata lacks required keys {missing}")
    if meta["format"] != FORMAT or meta["version"] != VERSION:
        raise CheckpointError(
            f"{path}: unsupported format {meta['format']!r} version {meta['version']!r} "
            f"(this code reads {FORMAT!r} version {VERSION})"
        )
    if meta["algo"] not in CONFIGS:
        raise CheckpointError(f"{path}: unknown algorithm {meta['algo']!r}; expected one of {sorted(CONFIGS)}")
    meta["control_type"] = _control_type(meta, path)
    policy = payload["policy"]
    if not isinstance(policy, dict) or not {"actor", "normalizer"} <= set(policy):
        raise CheckpointError(f"{path}: 'policy' entry lacks 'actor'/'normalizer' weights")
    return meta, payload


def _control_type(meta: dict[str, Any], path: Path) -> str:
    """The checkpoint's declared control type, never guessed from its name (a panda-gym task's checkpoint that
    declares none: see `CONTROL_TYPES_BEFORE_METADATA`)."""
    control_type = meta.get("control_type", CONTROL_TYPES_BEFORE_METADATA.get(meta["env_id"]))
    if control_type is None:
        raise CheckpointError(
            f"{path}: metadata lacks 'control_type' (one of {list(CONTROL_TYPES)}), so what its actions command "
            f"(end-effector or joint displacements) is unknown; re-export it with export_policy(..., control_type=...)"
        )
    if control_type not in CONTROL_TYPES:
        raise CheckpointError(f"{path}: control_type {control_type!r} is not one of {list(CONTROL_TYPES)}")
    return control_type


def check_compatible(meta: dict[str, Any], info: EnvInfo, path: str | os.PathLike[str] = "checkpoint") -> None:
    """Refuse a checkpoint whose environment sizes differ from `info`."""
    for name in ("obs_dim", "goal_dim", "act_dim"):
        if int(meta[name]) != getattr(info, name):
            raise CheckpointError(
                f"{path}: {name} is {meta[name]} in the checkpoint but {getattr(info, name)} "
                f"in {info.env_id} (checkpoint trained on {meta['env_id']})"
            )


def build_actor(algo: str, config: BaseConfig, in_dim: int, act_dim: int, action_scale: np.ndarray) -> nn.Module:
    cls = SquashedGaussianActor if algo == "sac" else DeterministicActor
    return cls(in_dim, act_dim, config.hidden_sizes, action_scale)


class Policy:
    """Deterministic deployed actor: numpy observation in, numpy action out (CPU, no gradients).

    `act` accepts the env's dict observation or a flat vector laid out as `observation_layout`
    (observation, achieved_goal, desired_goal), single or batched.
    """

    def __init__(self, meta: dict[str, Any], normalizer: Normalizer, actor: nn.Module) -> None:
        self.meta = meta
        self.algo: str = meta["algo"]
        self.env_id: str = meta["env_id"]
        self.obs_dim, self.goal_dim, self.act_dim = int(meta["obs_dim"]), int(meta["goal_dim"]), int(meta["act_dim"])
        self.input_dim = self.obs_dim + 2 * self.goal_dim
        self.action_scale = np.asarray(meta["action_scale"], np.float32)
        self.observation_layout: list[dict[str, Any]] = meta.get("observation_layout", [])
        self.control_type: str = meta["control_type"]
        """What the actions command: 'ee' (end-effector displacements), 'joints' or 'pose' (see core.workspace)."""
        self.action_map: str = meta.get("action_map", "linear")
        self.env_kwargs: dict[str, Any] = meta.get("env_kwargs", {})
        self.arm: dict[str, Any] | None = meta.get("arm")
        """The arm it was trained for (``ArmKinematics.identity``); None: the Panda (panda-gym, older checkpoints)."""
        """What the environment was made with beyond its id: evaluate the policy on the same task."""
        self.step: int = int(meta["step"])
        self._normalizer, self._actor = normalizer.eval(), actor.eval()

    def flatten(self, observation: dict[str, np.ndarray] | np.ndarray) -> np.ndarray:
        if isinstance(observation, dict):
            flat = np.concatenate([np.asarray(observation[key], np.float32) for key in KEYS], axis=-1)
        else:
            flat = np.asarray(observation, np.float32)
        if flat.shape[-1] != self.input_dim:
            raise ValueError(
                f"observation has {flat.shape[-1]} values, the policy expects {self.input_dim} "
                f"(observation {self.obs_dim} + achieved_goal {self.goal_dim} + desired_goal {self.goal_dim})"
            )
        return flat

    def act(self, observation: dict[str, np.ndarray] | np.ndarray) -> np.ndarray:
        """Deterministic action(s) in [-action_scale, action_scale]."""
        x = torch.from_numpy(self.flatten(observation))
        with torch.inference_mode():
            return self._actor.deterministic(self._normalizer(x)).numpy()


def policy_from_payload(meta: dict[str, Any], payload: dict[str, Any], path: str | os.PathLike[str]) -> Policy:
    try:
        config = config_from_dict(meta["algo"], meta["config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: invalid hyperparameters for {meta['algo']}: {e}") from None
    in_dim = int(meta["obs_dim"]) + 2 * int(meta["goal_dim"])
    normalizer = make_normalizer(config, in_dim, int(meta["goal_dim"]))
    actor = build_actor(
        meta["algo"], config, normalizer.out_dim, int(meta["act_dim"]), np.asarray(meta["action_scale"])
    )
    try:
        normalizer.load_state_dict(payload["policy"]["normalizer"])
        actor.load_state_dict(payload["policy"]["actor"])
    except (RuntimeError, KeyError, TypeError, AttributeError) as e:
        raise CheckpointError(
            f"{path}: weights do not match the declared sizes (input {in_dim} = obs "
            f"{meta['obs_dim']} + 2 x goal {meta['goal_dim']}, action {meta['act_dim']}, "
            f"hidden {list(config.hidden_sizes)}): {str(e).splitlines()[0]}"
        ) from None
    return Policy(meta, normalizer, actor)


def load_policy(
    path: str | os.PathLike[str], env_id: str | None = None, obs_dim: int | None = None, goal_dim: int | None = None
) -> Policy:
    """Load a policy (or full checkpoint) for inference; optional expectations are checked."""
    meta, payload = load_checkpoint(path)
    if env_id is not None and meta["env_id"] != env_id:
        raise CheckpointError(f"{path}: trained on {meta['env_id']}, expected {env_id}")
    for name, want in (("obs_dim", obs_dim), ("goal_dim", goal_dim)):
        if want is not None and int(meta[name]) != want:
            raise CheckpointError(f"{path}: {name} is {meta[name]} in the checkpoint, expected {want}")
    return policy_from_payload(meta, payload, path)


def export_policy(checkpoint: str | os.PathLike[str], out: str | os.PathLike[str], **extra_meta: Any) -> Policy:
    """Write a deployable copy of `checkpoint` without training state (small, still weights-only)."""
    meta, payload = load_checkpoint(checkpoint)
    policy = policy_from_payload(meta, payload, checkpoint)
    meta = {**meta, **extra_meta}
    meta.pop("numpy_rng", None)
    save_checkpoint(out, meta, payload["policy"])
    return policy
