"""Update rules: bootstrapping, TD3's delay and smoothing, DDPG, Polyak targets, SAC's temperature, and the
input normaliser fed with exactly what the networks see."""

import numpy as np
import pytest
import torch

from ikrl_ros.rl.algorithms import make_agent, polyak_update, resolve_device
from ikrl_ros.rl.config import make_config
from ikrl_ros.rl.envs import goal_functions, make_env
from ikrl_ros.rl.networks import goal_relative_features
from ikrl_ros.rl.replay import HerReplayBuffer
from ikrl_ros.rl.trainer import learn, learning_rate_fraction

TINY = dict(normalize_obs=False, hidden_sizes=(8,))
"""Small networks: the update rules, not learning, are under test."""


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


def random_batch(seed: int = 0, size: int = 32) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x": rng.normal(size=(size, 12)).astype(np.float32),
        "x_next": rng.normal(size=(size, 12)).astype(np.float32),
        "a": rng.uniform(-1, 1, (size, 3)).astype(np.float32),
        "r": -np.ones(size, np.float32),
        "done": np.zeros(size, np.float32),
    }


def tiny_agent(algo: str, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    return make_agent(make_config(algo, **{**TINY, **overrides}), 12, 3, np.ones(3, np.float32))


def snapshot(module: torch.nn.Module) -> list[torch.Tensor]:
    return [param.detach().clone() for param in module.parameters()]


def changed(before: list[torch.Tensor], module: torch.nn.Module) -> bool:
    return any(not torch.equal(old, param) for old, param in zip(before, module.parameters(), strict=True))


def test_polyak_update_moves_the_target_a_fraction_tau_toward_the_source():
    target = [torch.tensor([1.0, -2.0]), torch.tensor([[0.0, 8.0]])]
    polyak_update(target, [torch.tensor([3.0, 2.0]), torch.tensor([[4.0, 0.0]])], tau=0.25)
    assert target[0].tolist() == [1.5, -1.0] and target[1].tolist() == [[1.0, 6.0]]


@pytest.mark.parametrize("algo", ["ddpg", "td3", "sac"])
def test_targets_are_polyak_averages_of_the_online_networks(algo):
    agent = tiny_agent(algo, tau=0.25)
    pairs = [(agent.critic_target, agent.critic)]
    if algo != "sac":
        pairs.append((agent.actor_target, agent.actor))
    for seed in range(2):  # online and target networks differ from here on; TD3's next update is a delayed one
        agent.update(random_batch(seed))
    targets_before = [snapshot(target) for target, _ in pairs]
    agent.update(random_batch(2))
    for (target, online), before in zip(pairs, targets_before, strict=True):
        for target_param, online_param, old in zip(target.parameters(), online.parameters(), before, strict=True):
            assert not torch.equal(target_param, old)
            torch.testing.assert_close(target_param, 0.25 * online_param + 0.75 * old, rtol=0, atol=1e-6)


def test_td3_updates_actor_and_targets_once_every_policy_delay_critic_updates():
    agent = tiny_agent("td3", policy_delay=3)
    assert agent.critic.n == 2
    updated = []
    for update in range(7):
        before = {name: snapshot(getattr(agent, name)) for name in ("actor", "critic", "actor_target", "critic_target")}
        losses = agent.update(random_batch(update))
        moved = {name: changed(params, getattr(agent, name)) for name, params in before.items()}
        assert moved["critic"], "every update trains the critics"
        assert moved["actor"] == moved["actor_target"] == moved["critic_target"] == ("actor_loss" in losses)
        updated.append(moved["actor"])
    assert updated == [True, False, False, True, False, False, True]


def test_ddpg_is_one_critic_every_step_and_no_target_smoothing():
    agent = tiny_agent("ddpg")
    assert agent.critic.n == agent.critic_target.n == 1
    for update in range(3):  # no delay: the actor learns on every critic update
        before = snapshot(agent.actor)
        assert "actor_loss" in agent.update(random_batch(update))
        assert changed(before, agent.actor)

    def critic_after_update(algo: str, noise_seed: int) -> list[torch.Tensor]:
        """Identical agents and batch; only the global torch RNG (target-policy noise) differs."""
        twin = tiny_agent(algo)
        torch.manual_seed(noise_seed)
        twin.update(random_batch())
        return snapshot(twin.critic)

    for old, new in zip(critic_after_update("ddpg", 1), critic_after_update("ddpg", 2), strict=True):
        assert torch.equal(old, new), "DDPG's critic target must not depend on random noise"
    td3_critics = critic_after_update("td3", 1), critic_after_update("td3", 2)
    assert any(not torch.equal(old, new) for old, new in zip(*td3_critics, strict=True)), "TD3 smooths its target"


def mean_policy_entropy(agent, x: np.ndarray) -> float:
    with torch.no_grad():
        return float(-agent.actor(torch.from_numpy(x))[1].mean())


@pytest.mark.parametrize("target_entropy", [20.0, -100.0])
def test_sac_temperature_moves_toward_the_target_entropy(target_entropy):
    agent = tiny_agent("sac", init_alpha=0.1, target_entropy=target_entropy, alpha_lr=0.01)
    batch = random_batch()
    entropy = mean_policy_entropy(agent, batch["x"])
    assert -100.0 < entropy < 20.0  # a 3-D tanh-Gaussian with unit-scale std: a few nats
    alphas = []
    for _ in range(10):
        agent.update(batch)
        alphas.append(float(agent.log_alpha.detach().exp()))
    # Entropy below its target: alpha (the entropy bonus) grows; above: it shrinks; monotonically either way.
    direction = np.sign(target_entropy - entropy)
    assert np.all(direction * np.diff([0.1, *alphas]) > 0), alphas


def test_sac_fixed_temperature_stays():
    agent = tiny_agent("sac", init_alpha=0.3, auto_alpha=False, target_entropy=20.0, alpha_lr=0.01)
    for seed in range(5):
        losses = agent.update(random_batch(seed))
        assert float(losses["alpha"]) == pytest.approx(0.3)
    assert float(agent.log_alpha.detach()) == pytest.approx(np.log(0.3), abs=1e-7)


@pytest.fixture(scope="module")
def reach_goal_functions():
    env = make_env("PandaReach-v3")
    yield goal_functions(env)
    env.close()


@pytest.mark.parametrize("goal_relative", [False, True])
def test_normalizer_learns_exactly_the_relabelled_batches_the_networks_train_on(reach_goal_functions, goal_relative):
    """Desired goals sit at (5, 5, 5), achieved goals within 0.3 m of the origin: with 80 % of goals relabelled
    to achieved ones, the goal statistics the networks need are far from those of the desired goals."""
    buffer = HerReplayBuffer(6, 3, 3, 10, 200, *reach_goal_functions, rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    for _ in range(12):
        achieved = rng.uniform(0.0, 0.3, (11, 3)).astype(np.float32)
        obs = np.concatenate([achieved, rng.normal(size=(11, 3)).astype(np.float32)], axis=1)
        buffer.add_episode(obs, achieved, np.full((10, 3), 5.0, np.float32), np.zeros((10, 3), np.float32))
    agent = make_agent(make_config("td3", hidden_sizes=(8,), goal_relative_inputs=goal_relative), 12, 3, np.ones(3))

    buffer.rng = np.random.default_rng(7)
    learn(agent, buffer, batch_size=64, gradient_steps=10)
    buffer.rng = np.random.default_rng(7)  # the same draws again: the batches the networks trained on
    seen = np.concatenate([buffer.sample(64)["x"] for _ in range(10)])
    features = goal_relative_features(torch.from_numpy(seen).double(), 3).numpy() if goal_relative else seen

    assert int(agent.normalizer.count) == len(seen) == 640
    np.testing.assert_allclose(agent.normalizer.mean.numpy(), features.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(agent.normalizer.std.numpy(), np.maximum(features.std(0), 1e-2), rtol=1e-4)
    goal_mean = agent.normalizer.mean.numpy()[9:12]
    assert np.all((goal_mean > 0.5) & (goal_mean < 2.0)), goal_mean  # ~0.2 x 5 + 0.8 x 0.15, not 5


def test_sac_policy_delay_updates_actor_and_temperature_every_other_step():
    agent = tiny_agent("sac", policy_delay=2)
    batch = random_batch()
    actor, alpha = snapshot(agent.actor), float(agent.log_alpha.detach())
    assert "actor_loss" in agent.update(batch)  # update 0: critic, actor and temperature
    assert changed(actor, agent.actor) and float(agent.log_alpha.detach()) != alpha
    actor, alpha, critic = snapshot(agent.actor), float(agent.log_alpha.detach()), snapshot(agent.critic)
    assert "actor_loss" not in agent.update(batch)  # update 1: the critic only
    assert (
        not changed(actor, agent.actor) and float(agent.log_alpha.detach()) == alpha and changed(critic, agent.critic)
    )


def test_learning_rates_decay_linearly_to_their_final_fraction():
    config = make_config("sac", actor_lr=1e-3, critic_lr=2e-3, alpha_lr=4e-3, final_lr_fraction=0.1)
    assert learning_rate_fraction(config, 0, 1000) == 1.0
    assert learning_rate_fraction(config, 500, 1000) == pytest.approx(0.55)
    assert learning_rate_fraction(config, 2000, 1000) == pytest.approx(0.1)
    agent = make_agent(config, 12, 3, np.ones(3, np.float32))
    agent.set_learning_rate_fraction(0.5)
    rates = [group["lr"] for opt in (agent.actor_opt, agent.critic_opt, agent.alpha_opt) for group in opt.param_groups]
    assert rates == pytest.approx([5e-4, 1e-3, 2e-3])
    with pytest.raises(ValueError, match="final_lr_fraction"):
        make_config("sac", final_lr_fraction=1.5)


def test_device_names_are_checked():
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="only 'cpu' and 'cuda'"):
        resolve_device("meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda:0")


@pytest.mark.parametrize("algo", ["td3", "sac"])
def test_temporal_smoothness_brings_the_actions_of_consecutive_states_together(algo):
    """CAPS: with its weight the actor learns close actions for x and x_next; without it, the loss is as before."""
    batch = random_batch(5, 64)

    def action_gap(**overrides) -> float:
        agent = tiny_agent(algo, seed=1, policy_delay=1, **overrides)
        for _ in range(60):
            agent.update(batch)
        return float(np.abs(agent.act(batch["x"], False) - agent.act(batch["x_next"], False)).mean())

    assert action_gap(smoothness_temporal=50.0) < 0.5 * action_gap()


def test_spatial_smoothness_flattens_the_policy_around_each_input():
    batch = random_batch(6, 64)

    def sensitivity(**overrides) -> float:
        agent = tiny_agent("sac", seed=2, **overrides)
        for _ in range(200):
            agent.update(batch)
        nearby = batch["x"] + 0.5 * np.random.default_rng(0).normal(size=batch["x"].shape).astype(np.float32)
        return float(np.abs(agent.act(batch["x"], False) - agent.act(nearby, False)).mean())

    assert sensitivity(smoothness_spatial=50.0, smoothness_noise=0.5) < 0.5 * sensitivity()
