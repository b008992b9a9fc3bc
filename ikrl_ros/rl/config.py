"""Hyperparameters, one dataclass per algorithm.

Defaults are tuned for speed on PandaReach(-Joints)-v3 with HER on a 2-core CPU: small networks, a
few parallel environments, and fewer but larger gradient steps than Stable-Baselines3 (see
docs/training.md for the measurements behind them).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

HER_STRATEGIES = ("future", "final", "episode", "none")


@dataclass
class BaseConfig:
    """Settings shared by all off-policy algorithms."""

    algo: ClassVar[str] = ""

    gamma: float = 0.95
    """Discount factor; 0.95 (as in the study) keeps sparse-reward values in [-20, 0]."""
    tau: float = 0.05
    """Polyak factor of the soft target update (target <- (1 - tau) target + tau online)."""
    actor_lr: float = 1e-3
    """Adam learning rate of the actor."""
    critic_lr: float = 1e-3
    """Adam learning rate of the critic(s)."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layer widths of actor and critic MLPs; small nets train fastest on a CPU."""
    batch_size: int = 256
    """Transitions per gradient step."""
    buffer_size: int = 100_000
    """Replay capacity in transitions; the oldest whole episodes make room for new ones."""
    learning_starts: int = 500
    """Environment steps of uniformly random actions before learning begins."""
    updates_per_step: float = 0.5
    """Gradient steps per environment transition (update-to-data ratio); SB3 uses 1."""
    n_critics: int = 2
    """Number of Q-networks; the target uses their minimum (clipped double-Q)."""
    her_strategy: str = "future"
    """Goal relabelling: 'future', 'final', 'episode', or 'none' (plain replay)."""
    her_k: int = 4
    """Relabelled goals per real goal: a fraction k / (k + 1) of each batch is relabelled."""
    normalize_obs: bool = True
    """Normalise inputs with a running mean/std (stored in the checkpoint for deployment)."""
    obs_clip: float = 5.0
    """Normalised inputs are clipped to [-obs_clip, obs_clip]."""
    goal_relative_inputs: bool = False
    """Add goal − achieved and its tanh at 2 cm and 2 mm scales to the network input (precision reaching)."""
    critic_layer_norm: bool = False
    """Layer-normalise the critics' hidden layers (steadier values at high learning rates; the actor is unchanged)."""
    smoothness_temporal: float = 0.0
    """CAPS temporal smoothness (Mysore et al. 2021): weight of ‖π(s) − π(s′)‖² between consecutive states in the actor
    loss. Where an action takes effect over several periods (the limited execution's acceleration limits), a policy
    without it learns to chatter around the goal with full actions; 0 leaves the loss as it was."""
    smoothness_spatial: float = 0.0
    """CAPS spatial smoothness: weight of ‖π(s) − π(s̃)‖², s̃ the normalised input plus N(0, ``smoothness_noise``²)."""
    smoothness_noise: float = 0.05
    """Standard deviation of the spatial smoothness perturbation, in normalised input units."""
    final_lr_fraction: float = 1.0
    """Learning rates fall linearly over the run's steps to this fraction of their value (1 keeps them constant);
    a small final step size lets the last updates settle the millimetres instead of jittering around them."""

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        if self.her_strategy not in HER_STRATEGIES:
            raise ValueError(f"her_strategy must be one of {HER_STRATEGIES}, got {self.her_strategy!r}")
        if not 0.0 < self.tau <= 1.0 or not 0.0 <= self.gamma < 1.0:
            raise ValueError("need 0 < tau <= 1 and 0 <= gamma < 1")
        if self.n_critics < 1 or self.batch_size < 1 or self.updates_per_step <= 0:
            raise ValueError("n_critics, batch_size and updates_per_step must be positive")
        if not 0.0 <= self.final_lr_fraction <= 1.0:
            raise ValueError(f"final_lr_fraction must be in [0, 1], got {self.final_lr_fraction}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (tuples become lists)."""
        values = dataclasses.asdict(self)
        values["hidden_sizes"] = list(self.hidden_sizes)
        return values


@dataclass
class TD3Config(BaseConfig):
    """Twin Delayed DDPG (Fujimoto et al. 2018)."""

    algo: ClassVar[str] = "td3"

    action_noise: float = 0.2
    """Std of Gaussian exploration noise, as a fraction of the action range."""
    policy_delay: int = 2
    """Actor and target networks are updated once every `policy_delay` critic updates."""
    target_noise: float = 0.2
    """Std of the target-policy smoothing noise."""
    target_noise_clip: float = 0.5
    """Target-policy smoothing noise is clipped to +-this value."""


@dataclass
class DDPGConfig(TD3Config):
    """DDPG (Lillicrap et al. 2016) = TD3 with one critic, no policy delay, no target smoothing."""

    algo: ClassVar[str] = "ddpg"

    n_critics: int = 1
    policy_delay: int = 1
    target_noise: float = 0.0
    target_noise_clip: float = 0.0


@dataclass
class SACConfig(BaseConfig):
    """Soft Actor-Critic with automatic entropy tuning (Haarnoja et al. 2018)."""

    algo: ClassVar[str] = "sac"

    init_alpha: float = 0.1
    """Initial entropy temperature."""
    auto_alpha: bool = True
    """Tune alpha so that the policy's entropy approaches `target_entropy`; False keeps alpha at `init_alpha`."""
    alpha_lr: float = 1e-3
    """Adam learning rate of log(alpha)."""
    target_entropy: float | None = None
    """Entropy target; None means -action_dim (the usual heuristic)."""
    policy_delay: int = 1
    """Actor and temperature are updated once every `policy_delay` critic updates (as TD3 delays its actor)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.policy_delay < 1:
            raise ValueError(f"policy_delay must be at least 1, got {self.policy_delay}")


CONFIGS: dict[str, type[BaseConfig]] = {"ddpg": DDPGConfig, "td3": TD3Config, "sac": SACConfig}


def make_config(algo: str, **overrides: Any) -> BaseConfig:
    """Build the config for `algo` with field overrides; unknown fields raise TypeError."""
    try:
        cls = CONFIGS[algo]
    except KeyError:
        raise ValueError(f"unknown algorithm {algo!r}; expected one of {sorted(CONFIGS)}") from None
    names = {config_field.name for config_field in dataclasses.fields(cls)}
    unknown = set(overrides) - names
    if unknown:
        raise TypeError(f"unknown {algo} hyperparameters: {sorted(unknown)}")
    return cls(**overrides)


LEGACY_VALUES: dict[str, Any] = {"critic_layer_norm": False, "final_lr_fraction": 1.0, "policy_delay": 1}
"""What a checkpoint written before a field existed was trained with: the field, absent from its stored
hyperparameters, takes this value rather than today's default, so old checkpoints rebuild and resume as they ran."""


def config_from_dict(algo: str, values: dict[str, Any]) -> BaseConfig:
    """Inverse of `BaseConfig.to_dict` (used when loading checkpoints); fields the dict lacks take `LEGACY_VALUES`."""
    legacy = {name: value for name, value in LEGACY_VALUES.items() if name not in values}
    return make_config(algo, **legacy, **values)


__all__ = [
    "BaseConfig",
    "TD3Config",
    "DDPGConfig",
    "SACConfig",
    "CONFIGS",
    "HER_STRATEGIES",
    "LEGACY_VALUES",
    "make_config",
    "config_from_dict",
]
