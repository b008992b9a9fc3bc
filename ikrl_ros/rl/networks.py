"""Neural networks: input normaliser, deterministic and squashed-Gaussian actors, critic ensembles."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ikrl_ros.core.policy_spec import POSE_GOAL_DIM

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, layer_norm: bool = False) -> nn.Sequential:
    """ReLU multilayer perceptron with a linear output layer; with `layer_norm`, each hidden layer is
    normalised before its ReLU."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width), *_norm(width, layer_norm), nn.ReLU()]
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


def _norm(width: int, layer_norm: bool) -> list[nn.Module]:
    """A layer normalisation without learned scale and shift (none if not asked for): in an ensemble the
    members must not share affine parameters, and the next linear layer learns them anyway."""
    return [nn.LayerNorm(width, elementwise_affine=False)] if layer_norm else []


GOAL_RELATIVE_SCALES = (0.02, 0.002)
"""Metres: tanh((goal − achieved) / s) resolves centimetres and millimetres that a normalised raw
position (std ≈ 0.2 m) would squeeze into a few thousandths."""


ANGLE_RELATIVE_SCALES = tuple(10.0 * scale for scale in GOAL_RELATIVE_SCALES)
"""Radians, for pose goals: 0.2 and 0.02 rad, the position scales at the pose reward's 10 rad per metre."""


def goal_relative_features(x: torch.Tensor, goal_dim: int) -> torch.Tensor:
    """[obs, achieved, goal] → [obs, achieved, goal, relative features], computed inside the network after
    hindsight relabelling, so relabelled goals get their own relative inputs.

    Position goals (3): goal − achieved and its tanh per scale. Pose goals (3 + 6-D rotation): the same
    for the position, then the relative rotation R_goal·R_achievedᵀ (9), its sin(angle)·axis vector and
    that vector's tanh per angle scale.
    """
    achieved, goal = x[..., -2 * goal_dim : -goal_dim], x[..., -goal_dim:]
    delta = goal[..., :3] - achieved[..., :3]
    features = [x, delta, *(torch.tanh(delta / scale) for scale in GOAL_RELATIVE_SCALES)]
    if goal_dim == POSE_GOAL_DIM:
        relative = _rotation_from_6d(goal[..., 3:]) @ _rotation_from_6d(achieved[..., 3:]).transpose(-1, -2)
        axis_sine = 0.5 * torch.stack(
            [
                relative[..., 2, 1] - relative[..., 1, 2],
                relative[..., 0, 2] - relative[..., 2, 0],
                relative[..., 1, 0] - relative[..., 0, 1],
            ],
            dim=-1,
        )
        features += [
            relative.flatten(-2),
            axis_sine,
            *(torch.tanh(axis_sine / scale) for scale in ANGLE_RELATIVE_SCALES),
        ]
    return torch.cat(features, dim=-1)


def _rotation_from_6d(columns: torch.Tensor) -> torch.Tensor:
    """Rotation matrices from their first two columns (the 6-D representation), third = cross product."""
    first, second = columns[..., :3], columns[..., 3:]
    return torch.stack([first, second, torch.linalg.cross(first, second)], dim=-1)


def feature_dim(input_dim: int, goal_relative_dim: int) -> int:
    """Width of the network input after the optional goal-relative features."""
    if not goal_relative_dim:
        return input_dim
    extra = 3 * (1 + len(GOAL_RELATIVE_SCALES))
    if goal_relative_dim == POSE_GOAL_DIM:
        extra += 9 + 3 * (1 + len(ANGLE_RELATIVE_SCALES))
    return input_dim + extra


class Normalizer(nn.Module):
    """Input features and their running mean/std, kept as buffers so they travel with checkpoints.

    With ``goal_relative_dim`` > 0 the flat input first gains ``goal_relative_features``. Statistics
    accumulate in float64 (exact over millions of samples); `mean`/`std` are float32 copies used in
    the forward pass. With `enabled=False` the normalisation is the identity.
    """

    def __init__(
        self, input_dim: int, clip: float = 5.0, enabled: bool = True, eps: float = 1e-2, goal_relative_dim: int = 0
    ) -> None:
        super().__init__()
        self.clip, self.enabled, self.eps = clip, enabled, eps
        self.goal_relative_dim = goal_relative_dim
        self.out_dim = dim = feature_dim(input_dim, goal_relative_dim)
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("sum_mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("sum_m2", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return goal_relative_features(x, self.goal_relative_dim) if self.goal_relative_dim else x

    @torch.no_grad()
    def update(self, x: np.ndarray) -> None:
        """Merge a batch of raw inputs, as features (Chan et al. parallel variance)."""
        if self.enabled and len(x):
            self.update_features(self.features(torch.as_tensor(x, dtype=torch.float64, device=self.sum_mean.device)))

    @torch.no_grad()
    def update_features(self, features: torch.Tensor) -> None:
        """Merge a batch of already computed features (the trainer's, which the networks see next)."""
        if not self.enabled or len(features) == 0:
            return
        batch = features.reshape(-1, self.mean.numel()).double()
        batch_count = batch.shape[0]
        batch_mean = batch.mean(0)
        batch_m2 = ((batch - batch_mean) ** 2).sum(0)
        total = self.count + batch_count
        delta = batch_mean - self.sum_mean
        self.sum_m2 += batch_m2 + delta**2 * self.count * batch_count / total
        self.sum_mean += delta * batch_count / total
        self.count.copy_(total)
        self.mean.copy_(self.sum_mean.float())
        self.std.copy_((self.sum_m2 / total).sqrt().clamp_min(self.eps).float())

    def normalize(self, features: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return features
        return ((features - self.mean) / self.std).clamp(-self.clip, self.clip)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalize(self.features(x))


class DeterministicActor(nn.Module):
    """a = scale * tanh(MLP(x)), the DDPG/TD3 actor."""

    def __init__(
        self, in_dim: int, act_dim: int, hidden: Sequence[int], action_scale: np.ndarray, layer_norm: bool = False
    ) -> None:
        super().__init__()
        self.net = mlp(in_dim, hidden, act_dim, layer_norm)
        self.register_buffer("action_scale", torch.as_tensor(action_scale, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(x)) * self.action_scale

    def deterministic(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)


class SquashedGaussianActor(nn.Module):
    """SAC actor: a = scale * tanh(u), u ~ N(mu(x), sigma(x)); log-probabilities include the tanh Jacobian."""

    def __init__(
        self, in_dim: int, act_dim: int, hidden: Sequence[int], action_scale: np.ndarray, layer_norm: bool = False
    ) -> None:
        super().__init__()
        self.net = mlp(in_dim, hidden, 2 * act_dim, layer_norm)
        self.register_buffer("action_scale", torch.as_tensor(action_scale, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample a reparameterised action and its log-probability."""
        mu, log_std = self.net(x).chunk(2, dim=-1)
        std = log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).exp()
        u = mu + std * torch.randn_like(mu)
        a = torch.tanh(u)
        # log N(u) - sum log(1 - tanh(u)^2), the latter written stably as 2 (log 2 - u - softplus(-2u)).
        log_prob = (-0.5 * ((u - mu) / std) ** 2 - std.log() - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_prob -= (2 * (math.log(2) - u - nn.functional.softplus(-2 * u))).sum(-1)
        return a * self.action_scale, log_prob

    def deterministic(self, x: torch.Tensor) -> torch.Tensor:
        mu, _ = self.net(x).chunk(2, dim=-1)
        return torch.tanh(mu) * self.action_scale


class EnsembleLinear(nn.Module):
    """`n` independent linear layers evaluated with one batched matmul (one op for all critics)."""

    def __init__(self, n: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)  # same init as nn.Linear
        self.weight = nn.Parameter(torch.empty(n, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n, 1, out_dim).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class CriticEnsemble(nn.Module):
    """`n` Q-networks Q_i(x, a) -> tensor of shape (n, batch)."""

    def __init__(self, n: int, in_dim: int, act_dim: int, hidden: Sequence[int], layer_norm: bool = False) -> None:
        super().__init__()
        self.n = n
        dims = [in_dim + act_dim, *hidden]
        layers: list[nn.Module] = []
        for d_in, d_out in zip(dims[:-1], dims[1:], strict=True):
            layers += [EnsembleLinear(n, d_in, d_out), *_norm(d_out, layer_norm), nn.ReLU()]
        layers.append(EnsembleLinear(n, dims[-1], 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        xa = torch.cat([x, a], dim=-1).expand(self.n, -1, -1)
        return self.net(xa).squeeze(-1)
