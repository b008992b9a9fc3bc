"""Update rules: terminal transitions do not bootstrap, non-terminal ones do."""

import numpy as np
import pytest
import torch

from ikrl_ros.rl.algorithms import make_agent
from ikrl_ros.rl.config import make_config


@pytest.mark.parametrize("algo", ["ddpg", "td3", "sac"])
def test_terminal_transitions_do_not_bootstrap(algo):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    agent = make_agent(make_config(algo, normalize_obs=False, tau=0.5), 12, 3, np.ones(3, np.float32))
    x = rng.normal(size=(128, 12)).astype(np.float32)
    a = rng.uniform(-1, 1, (128, 3)).astype(np.float32)

    def q_after_training(done: float) -> float:
        batch = {"x": x, "x_next": x, "a": a, "r": -np.ones(128, np.float32), "done": np.full(128, done, np.float32)}
        for _ in range(600):
            agent.update(batch)
        with torch.no_grad():
            return float(agent.critic(torch.from_numpy(x), torch.from_numpy(a)).mean())

    assert abs(q_after_training(1.0) + 1.0) < 0.15  # Q = r: the episode ended here
    assert q_after_training(0.0) < -2.0  # Q = r + gamma Q(next): drifts towards -1 / (1 - gamma) = -20
