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


def build_buffer(
    goal_fns, strategy: str, lengths=(10, 7), capacity: int = 10 * T, max_steps: int = T
) -> HerReplayBuffer:
    """Episodes whose achieved goal at time j is (episode, j * 0.03, 0): goal -> (episode, index) is unique."""
    buf = HerReplayBuffer(6, 3, 3, max_steps, capacity, *goal_fns, strategy=strategy, k=4, rng=np.random.default_rng(0))
    for ep, length in enumerate(lengths):
        buf.add_episode(*numbered_episode(ep, length))
    return buf


def numbered_episode(ep: int, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """obs = [achieved (3), t, episode, 0], achieved = (episode, 0.03 t, 0), an unreachable goal, zero actions."""
    j = np.arange(length + 1, dtype=np.float32)
    ag = np.stack([np.full(length + 1, ep, np.float32), 0.03 * j, np.zeros(length + 1, np.float32)], axis=1)
    obs = np.concatenate([ag, np.stack([j, np.full(length + 1, ep), np.zeros(length + 1)], 1)], axis=1)
    goal = np.tile(np.array([ep, 5.0, 5.0], np.float32), (length, 1))  # never reached
    return obs, ag, goal, np.zeros((length, 3), np.float32)


def decode(batch):
    x, xn = batch["x"], batch["x_next"]
    t, ep = x[:, 3].astype(int), x[:, 4].astype(int)  # obs = [achieved (3), t, episode, 0]
    goal = x[:, 9:12]
    return ep, t, goal, xn


@pytest.mark.parametrize("wrapped", [False, True], ids=["in-order", "episode-across-the-ring-end"])
@pytest.mark.parametrize("strategy", ["future", "final", "episode"])
def test_relabelled_goals_come_from_the_same_episode(goal_fns, strategy, wrapped):
    if wrapped:  # 23 transitions: episodes 0 and 1 are evicted, episode 2 runs over the end of the ring
        lengths = (10, 7, 9, 8)
        buf = build_buffer(goal_fns, strategy, lengths, capacity=23, max_steps=10)
        assert buf.ptr == (10 + 7 + 9 + 8) % 23 and len(buf) == 9 + 8 and buf.n_episodes == 2
    else:
        lengths = (10, 7)
        buf = build_buffer(goal_fns, strategy, lengths)
        assert len(buf) == sum(lengths)
    batch = buf.sample(4000)
    ep, t, goal, xn = decode(batch)
    if wrapped:
        assert set(np.unique(ep)) == {2, 3}
    # Every stored transition is drawn, the evicted ones never.
    assert len({(e, s) for e, s in zip(ep, t, strict=True)}) == len(buf)
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
    episode_length = np.asarray(lengths)[ep[her]]
    if strategy == "future":
        assert np.all((j >= t[her] + 1) & (j <= episode_length))
        assert len(np.unique(j - t[her])) > 3  # genuinely sampled, not always the next step
    elif strategy == "final":
        assert np.all(j == episode_length)
    else:
        assert np.all((j >= 1) & (j <= episode_length)) and np.any(j <= t[her])  # past goals too
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


def test_capacity_counts_transitions_however_short_the_episodes(goal_fns):
    """100 transitions hold 33 three-step episodes (99 transitions), not 100 // 50 = 2 episode slots."""
    buf = build_buffer(goal_fns, "future", lengths=(3,) * 40, capacity=100)
    assert len(buf) == 99 and buf.n_episodes == 33
    episodes_seen = np.unique(decode(buf.sample(4000))[0])
    np.testing.assert_array_equal(episodes_seen, np.arange(7, 40))  # the oldest 7 were evicted whole


def test_full_buffer_keeps_the_newest_whole_episodes(goal_fns):
    buf = build_buffer(goal_fns, "future", lengths=(10,) * 25, capacity=95)  # 250 transitions into 95
    assert len(buf) == 90 and buf.n_episodes == 9
    np.testing.assert_array_equal(np.unique(decode(buf.sample(2000))[0]), np.arange(16, 25))


def test_state_dict_round_trip_restores_contents_and_position(goal_fns):
    buf = build_buffer(goal_fns, "future", lengths=(10, 4, 9, 6) * 3, capacity=57)
    other = HerReplayBuffer(6, 3, 3, T, 57, *goal_fns, rng=np.random.default_rng(5))
    other.load_state_dict({name: np.array(value) for name, value in buf.state_dict().items()})
    for name, value in buf.state_dict().items():
        np.testing.assert_array_equal(getattr(other, name), value, err_msg=name)
    assert (other.ptr, len(other), other.n_episodes) == (buf.ptr, len(buf), buf.n_episodes)
    buf.rng = np.random.default_rng(5)
    expected, restored = buf.sample(500), other.sample(500)  # same draws, same batch
    for name, value in expected.items():
        np.testing.assert_array_equal(restored[name], value, err_msg=name)


def test_state_of_another_capacity_is_refused(goal_fns):
    state = build_buffer(goal_fns, "future").state_dict()
    smaller = HerReplayBuffer(6, 3, 3, T, 5 * T, *goal_fns)
    with pytest.raises(ValueError, match="replay array 'obs' has shape"):
        smaller.load_state_dict(state)


def test_capacity_below_one_episode_is_refused(goal_fns):
    with pytest.raises(ValueError, match="capacity 49 transitions is smaller than one episode"):
        HerReplayBuffer(6, 3, 3, T, T - 1, *goal_fns)


def test_inconsistent_episode_is_rejected(goal_fns):
    buf = HerReplayBuffer(6, 3, 3, T, 10 * T, *goal_fns)
    with pytest.raises(ValueError, match="inconsistent episode"):
        buf.add_episode(np.zeros((5, 6)), np.zeros((5, 3)), np.zeros((3, 3)), np.zeros((4, 3)))
