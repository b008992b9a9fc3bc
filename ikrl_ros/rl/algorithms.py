"""DDPG, TD3 and SAC for goal-conditioned environments (flat input x = [observation, achieved, goal]).

DDPG is TD3 with one critic, no policy delay and no target-policy smoothing (see `DDPGConfig`).
`update` returns losses as detached tensors: converting them with `.item()` on every gradient step
would cost time for nothing, so the trainer only does it when it logs.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from ikrl_ros.rl.config import BaseConfig, SACConfig, TD3Config
from ikrl_ros.rl.networks import CriticEnsemble, DeterministicActor, Normalizer, SquashedGaussianActor


def _adam(params: Any, lr: float) -> torch.optim.Adam:
    """Adam with the fused CPU kernel: one op for all parameters instead of several per tensor."""
    return torch.optim.Adam(params, lr=lr, fused=True)


@torch.no_grad()
def polyak_update(target: list[torch.Tensor], source: list[torch.Tensor], tau: float) -> None:
    """Soft target update, in place: target <- (1 - tau) target + tau source (one fused op for all tensors)."""
    torch._foreach_lerp_(target, source, tau)


def _set_requires_grad(params: list[torch.Tensor], flag: bool) -> None:
    for param in params:
        param.requires_grad_(flag)


class OffPolicyAgent:
    """State and update rule shared by the actor-critic algorithms."""

    algo = ""

    def __init__(
        self,
        config: BaseConfig,
        in_dim: int,
        act_dim: int,
        action_scale: np.ndarray,
        goal_dim: int = 3,
        device: str | torch.device = "cpu",
    ) -> None:
        self.config, self.act_dim = config, act_dim
        self.device = torch.device(device)
        """Where networks, optimiser state and batches live; replay and environments stay in host memory."""
        self.action_scale = np.asarray(action_scale, np.float32)
        self.normalizer = make_normalizer(config, in_dim, goal_dim).to(self.device)
        self.in_dim = self.normalizer.out_dim
        """Width of the networks' input: the flat observation plus any goal-relative features."""
        self.actor = self._make_actor().to(self.device)
        self.critic = CriticEnsemble(
            config.n_critics, self.in_dim, act_dim, config.hidden_sizes, config.critic_layer_norm
        ).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_opt = _adam(self.actor.parameters(), config.actor_lr)
        self.critic_opt = _adam(self.critic.parameters(), config.critic_lr)
        self.n_updates = 0
        # Parameter lists cached once: walking the module tree on every update costs measurable time.
        self._critic_params = list(self.critic.parameters())
        self._critic_target_params = list(self.critic_target.parameters())

    def _make_actor(self) -> nn.Module:
        raise NotImplementedError

    @torch.inference_mode()
    def act(self, x: np.ndarray, explore: bool) -> np.ndarray:
        """Actions for a batch of flat inputs; with exploration noise if `explore`."""
        xt = self.normalizer(torch.as_tensor(x, dtype=torch.float32).to(self.device))
        return self._act(xt, explore).cpu().numpy()

    def _optimizers(self) -> list[tuple[torch.optim.Optimizer, float]]:
        """Each optimiser with its configured learning rate."""
        return [(self.actor_opt, self.config.actor_lr), (self.critic_opt, self.config.critic_lr)]

    def set_learning_rate_fraction(self, fraction: float) -> None:
        """Scale every configured learning rate by `fraction` (the trainer's linear decay)."""
        for optimizer, base_lr in self._optimizers():
            for group in optimizer.param_groups:
                group["lr"] = base_lr * fraction

    def _act(self, x: torch.Tensor, explore: bool) -> torch.Tensor:
        raise NotImplementedError

    def update(self, batch: dict[str, np.ndarray], learn_statistics: bool = False) -> dict[str, torch.Tensor]:
        """One gradient step on a replay batch; returns detached losses. With `learn_statistics`, the input
        normaliser first absorbs the batch's inputs (their features computed once, for both)."""
        x, x_next, a, r, done = (self._tensor(batch[key]) for key in ("x", "x_next", "a", "r", "done"))
        features = self.normalizer.features(x)
        if learn_statistics:
            self.normalizer.update_features(features)
        x, x_next = self.normalizer.normalize(features), self.normalizer(x_next)
        losses = self._update(x, a, r, done, x_next)
        self.n_updates += 1
        return losses

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(self.device, non_blocking=True)

    def _update(
        self, x: torch.Tensor, a: torch.Tensor, r: torch.Tensor, done: torch.Tensor, x_next: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _critic_step(self, x: torch.Tensor, a: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Regress every critic on the shared target y (sum of per-critic MSEs)."""
        critic_loss = (self.critic(x, a) - y).pow(2).mean(1).sum()
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()
        return critic_loss.detach()

    def _mean_action(self, x: torch.Tensor) -> torch.Tensor:
        """The action the deployed policy takes at ``x`` (differentiable)."""
        raise NotImplementedError

    def _smoothness(self, x: torch.Tensor, x_next: torch.Tensor, mean: torch.Tensor) -> torch.Tensor | float:
        """CAPS regularisers of the actor loss (``mean`` = ``_mean_action(x)``): actions of consecutive states and
        of nearby inputs kept close; 0 when both weights are 0."""
        config, loss = self.config, 0.0
        if config.smoothness_temporal:
            loss = loss + config.smoothness_temporal * (mean - self._mean_action(x_next)).pow(2).sum(-1).mean()
        if config.smoothness_spatial:
            nearby = x + config.smoothness_noise * torch.randn_like(x)
            loss = loss + config.smoothness_spatial * (mean - self._mean_action(nearby)).pow(2).sum(-1).mean()
        return loss

    def _actor_step(self, loss: torch.Tensor) -> None:
        self.actor_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.actor_opt.step()

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume training (tensors and plain containers only)."""
        return {
            "normalizer": self.normalizer.state_dict(),
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "actor_opt": self.actor_opt.state_dict(),
            "critic_opt": self.critic_opt.state_dict(),
            "n_updates": torch.tensor(self.n_updates),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.normalizer.load_state_dict(state["normalizer"])
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.n_updates = int(state["n_updates"])


class TD3(OffPolicyAgent):
    """TD3: clipped double-Q, delayed actor updates, target-policy smoothing. DDPG via its config."""

    algo = "td3"
    config: TD3Config

    def __init__(
        self,
        config: TD3Config,
        in_dim: int,
        act_dim: int,
        action_scale: np.ndarray,
        goal_dim: int = 3,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(config, in_dim, act_dim, action_scale, goal_dim, device)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self._actor_params = list(self.actor.parameters())
        self._actor_target_params = list(self.actor_target.parameters())
        self._scale = torch.as_tensor(self.action_scale, device=self.device)

    def _make_actor(self) -> nn.Module:
        return DeterministicActor(self.in_dim, self.act_dim, self.config.hidden_sizes, self.action_scale)

    def _mean_action(self, x: torch.Tensor) -> torch.Tensor:
        return self.actor(x)

    def _act(self, x: torch.Tensor, explore: bool) -> torch.Tensor:
        a = self.actor(x)
        if explore:
            a = (a + self.config.action_noise * self._scale * torch.randn_like(a)).clamp(-self._scale, self._scale)
        return a

    def _update(
        self, x: torch.Tensor, a: torch.Tensor, r: torch.Tensor, done: torch.Tensor, x_next: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        config = self.config
        with torch.no_grad():
            a_next = self.actor_target(x_next)
            if config.target_noise > 0:
                noise = (config.target_noise * torch.randn_like(a_next)).clamp(
                    -config.target_noise_clip, config.target_noise_clip
                )
                a_next = (a_next + noise * self._scale).clamp(-self._scale, self._scale)
            q_next = self.critic_target(x_next, a_next).min(0).values
            y = r + config.gamma * (1.0 - done) * q_next
        losses = {"critic_loss": self._critic_step(x, a, y)}
        if self.n_updates % config.policy_delay == 0:
            _set_requires_grad(self._critic_params, False)  # the actor loss needs no critic gradients
            action = self.actor(x)
            actor_loss = -self.critic(x, action)[0].mean() + self._smoothness(x, x_next, action)
            self._actor_step(actor_loss)
            _set_requires_grad(self._critic_params, True)
            polyak_update(self._actor_target_params, self._actor_params, config.tau)
            polyak_update(self._critic_target_params, self._critic_params, config.tau)
            losses["actor_loss"] = actor_loss.detach()
        return losses

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "actor_target": self.actor_target.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.actor_target.load_state_dict(state["actor_target"])


class DDPG(TD3):
    algo = "ddpg"


class SAC(OffPolicyAgent):
    """SAC with twin soft Q-functions and automatic tuning of the entropy temperature alpha."""

    algo = "sac"
    config: SACConfig

    def __init__(
        self,
        config: SACConfig,
        in_dim: int,
        act_dim: int,
        action_scale: np.ndarray,
        goal_dim: int = 3,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(config, in_dim, act_dim, action_scale, goal_dim, device)
        self.log_alpha = torch.tensor(float(np.log(config.init_alpha)), requires_grad=True, device=self.device)
        self.alpha_opt = _adam([self.log_alpha], config.alpha_lr)
        self.target_entropy = -float(act_dim) if config.target_entropy is None else config.target_entropy

    def _make_actor(self) -> nn.Module:
        return SquashedGaussianActor(self.in_dim, self.act_dim, self.config.hidden_sizes, self.action_scale)

    def _optimizers(self) -> list[tuple[torch.optim.Optimizer, float]]:
        return [*super()._optimizers(), (self.alpha_opt, self.config.alpha_lr)]

    def _act(self, x: torch.Tensor, explore: bool) -> torch.Tensor:
        return self.actor(x)[0] if explore else self.actor.deterministic(x)

    def _mean_action(self, x: torch.Tensor) -> torch.Tensor:
        return self.actor.deterministic(x)

    def _update(
        self, x: torch.Tensor, a: torch.Tensor, r: torch.Tensor, done: torch.Tensor, x_next: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        config = self.config
        alpha = self.log_alpha.detach().exp()
        with torch.no_grad():
            a_next, logp_next = self.actor(x_next)
            q_next = self.critic_target(x_next, a_next).min(0).values - alpha * logp_next
            y = r + config.gamma * (1.0 - done) * q_next
        critic_loss = self._critic_step(x, a, y)
        losses = {"critic_loss": critic_loss, "alpha": alpha}
        if self.n_updates % config.policy_delay == 0:
            losses["actor_loss"] = self._actor_and_temperature_step(x, x_next, alpha)
        polyak_update(self._critic_target_params, self._critic_params, config.tau)
        return losses

    def _actor_and_temperature_step(self, x: torch.Tensor, x_next: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        _set_requires_grad(self._critic_params, False)
        a_pi, logp = self.actor(x)
        actor_loss = (alpha * logp - self.critic(x, a_pi).min(0).values).mean()
        if self.config.smoothness_temporal or self.config.smoothness_spatial:
            actor_loss = actor_loss + self._smoothness(x, x_next, self._mean_action(x))
        self._actor_step(actor_loss)
        _set_requires_grad(self._critic_params, True)
        if self.config.auto_alpha:  # log alpha rises while the entropy (-logp) is below its target, falls above it
            alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()
            self.alpha_opt.zero_grad(set_to_none=True)
            alpha_loss.backward()
            self.alpha_opt.step()
        return actor_loss.detach()

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "alpha_opt": self.alpha_opt.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.alpha_opt.load_state_dict(state["alpha_opt"])


AGENTS: dict[str, type[OffPolicyAgent]] = {"ddpg": DDPG, "td3": TD3, "sac": SAC}


def make_agent(
    config: BaseConfig,
    in_dim: int,
    act_dim: int,
    action_scale: np.ndarray,
    goal_dim: int = 3,
    device: str | torch.device = "cpu",
) -> OffPolicyAgent:
    """Instantiate the agent class matching `config.algo`; `in_dim` = observation + 2 × `goal_dim`."""
    return AGENTS[config.algo](config, in_dim, act_dim, action_scale, goal_dim, device)  # type: ignore[arg-type]


def resolve_device(name: str) -> torch.device:
    """The torch device `name` names, refusing one this machine lacks with a message that says why."""
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"unknown device {name!r}: {error}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        reason = "torch was built without CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
        raise ValueError(f"device {name!r} requested but CUDA is not available ({reason}, torch {torch.__version__})")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device {name!r}: only 'cpu' and 'cuda' are supported")
    return device


def make_normalizer(config: BaseConfig, in_dim: int, goal_dim: int) -> Normalizer:
    """The input features and normaliser that `config` asks for (shared by training and deployment)."""
    return Normalizer(
        in_dim,
        clip=config.obs_clip,
        enabled=config.normalize_obs,
        goal_relative_dim=goal_dim if config.goal_relative_inputs else 0,
    )
