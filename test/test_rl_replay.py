"""HER relabelling on hand-built episodes, with the real PandaReach reward and success functions."""

import numpy as np
import pytest

from ikrl_ros.rl.envs import goal_functions, make_env
from ikrl_ros.rl.replay import HerReplayBuffer

T = 50


@pytest.fixture(scope="module")
def goal_fns():
    env = make_env("PandaReach-v3")
    yield goal_functions(env)
    env.close()


def build_buffer(goal_fns, strategy: str, lengths=(10, 7)) -> HerReplayBuffer:
    """Episodes whose achieved goal at time j is (episode, j * 0.03, 0): goal -> (episode, index) is unique."""
    buf = HerReplayBuffer(6, 3, 3, T, 10 * T, *goal_fns, strategy=strategy, k=4, rng=np.random.default_rng(0))
    for ep, L in enumerate(lengths):
        j = np.arange(L + 1, dtype=np.float32)
        ag = np.stack([np.full(L + 1, ep, np.float32), 0.03 * j, np.zeros(L + 1, np.float32)], axis=1)
        obs = np.concatenate([ag, np.stack([j, np.full(L + 1, ep), np.zeros(L + 1)], 1)], axis=1)
        goal = np.tile(np.array([ep, 5.0, 5.0], np.float32), (L, 1))  # never reached
        buf.add_episode(obs, ag, goal, np.zeros((L, 3), np.float32))
    return buf


def decode(batch):
    x, xn = batch["x"], batch["x_next"]
    t, ep = x[:, 3].astype(int), x[:, 4].astype(int)  # obs = [achieved (3), t, episode, 0]
    goal = x[:, 9:12]
    return ep, t, goal, xn


@pytest.mark.parametrize("strategy", ["future", "final", "episode"])
def test_relabelled_goals_come_from_the_same_episode(goal_fns, strategy):
    lengths = (10, 7)
    buf = build_buffer(goal_fns, strategy, lengths)
    assert len(buf) == sum(lengths)
    batch = buf.sample(4000)
    ep, t, goal, xn = decode(batch)
    her = batch["relabelled"]
    assert 0.75 < her.mean() < 0.85  # k = 4 -> 80 % relabelled
    # Un-relabelled transitions keep the episode's own goal.
    np.testing.assert_array_equal(
        goal[~her], np.stack([ep[~her], np.full((~her).sum(), 5.0), np.full((~her).sum(), 5.0)], 1)
    )
    # Relabelled goals are achieved goals of the same episode; recover their time index j.
    assert np.all(goal[her, 0] == ep[her]) and np.all(goal[her, 2] == 0)
    j = np.rint(goal[her, 1] / 0.03).astype(int)
    np.testing.assert_allclose(goal[her, 1], 0.03 * j, atol=1e-6)
    L = np.asarray(lengths)[ep[her]]
    if strategy == "future":
        assert np.all((j >= t[her] + 1) & (j <= L))
        assert len(np.unique(j - t[her])) > 3  # genuinely sampled, not always the next step
    elif strategy == "final":
        assert np.all(j == L)
    else:
        assert np.all((j >= 1) & (j <= L)) and np.any(j <= t[her])  # past goals too
    # Next input pairs the next achieved goal with the same goal.
    np.testing.assert_array_equal(xn[:, 9:12], goal)
    np.testing.assert_array_equal(xn[:, 3], t + 1)


@pytest.mark.parametrize("strategy", ["future", "final", "episode", "none"])
def test_rewards_and_termination_match_the_env(goal_fns, strategy):
    compute_reward, is_success = goal_fns
    batch = build_buffer(goal_fns, strategy).sample(2000)
    ag_next, goal = batch["x_next"][:, 6:9], batch["x"][:, 9:12]
    np.testing.assert_array_equal(batch["r"], compute_reward(ag_next, goal, {}))
    np.testing.assert_array_equal(batch["done"], is_success(ag_next, goal).astype(np.float32))
    if strategy == "none":
        assert not batch["relabelled"].any() and np.all(batch["r"] == -1) and not batch["done"].any()
    else:
        # Reaching the relabelled goal ends that (hindsight) episode: reward 0 and no bootstrap.
        assert batch["done"].any()
        np.testing.assert_array_equal(batch["done"] == 1, batch["r"] == 0)


def test_replay_wraps_around_and_round_trips(goal_fns):
    buf = build_buffer(goal_fns, "future", lengths=(10,) * 25)  # 25 episodes into 10 slots
    assert buf.n_episodes == 10 and len(buf) == 100
    other = HerReplayBuffer(6, 3, 3, T, 10 * T, *goal_fns)
    other.load_state_dict({k: np.array(v) for k, v in buf.state_dict().items()})
    assert len(other) == len(buf) and other.ptr == buf.ptr


def test_inconsistent_episode_is_rejected(goal_fns):
    buf = HerReplayBuffer(6, 3, 3, T, 10 * T, *goal_fns)
    with pytest.raises(ValueError, match="inconsistent episode"):
        buf.add_episode(np.zeros((5, 6)), np.zeros((5, 3)), np.zeros((3, 3)), np.zeros((4, 3)))
