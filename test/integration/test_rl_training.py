"""End-to-end training on PandaReach-v3: every algorithm with and without HER, learning, stopping, exact resume,
resume after SIGKILL."""

import csv
import logging
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ikrl_ros.rl.algorithms import make_agent
from ikrl_ros.rl.checkpoint import CheckpointError, load_checkpoint, load_policy
from ikrl_ros.rl.config import make_config
from ikrl_ros.rl.envs import env_info, make_env
from ikrl_ros.rl.evaluation import evaluate
from ikrl_ros.rl.trainer import (
    CSV_FIELDS,
    RunState,
    learn,
    make_replay,
    read_training_checkpoint,
    restore_training_state,
    save_training_state,
    train,
)

REPO = Path(__file__).resolve().parents[2]
QUICK = dict(learning_starts=100, batch_size=64)


@pytest.mark.parametrize("her", ["future", "none"])
@pytest.mark.parametrize("algo", ["ddpg", "td3", "sac"])
def test_short_run_has_finite_losses_and_loadable_policy(tmp_path, algo, her):
    config = make_config(algo, her_strategy=her, **QUICK)
    progress = []
    result = train(
        config,
        steps=300,
        seed=1,
        out_dir=tmp_path,
        n_envs=2,
        eval_every=300,
        eval_episodes=2,
        checkpoint_every=0,
        tensorboard=False,
        progress_bar=False,
        progress_callback=progress.append,
    )
    assert result.step == 300 and not result.stopped
    assert len(progress) == 1 and progress[0].step == 300
    assert math.isfinite(progress[0].critic_loss) and math.isfinite(progress[0].actor_loss)
    meta, payload = load_checkpoint(result.checkpoint)
    assert meta["step"] == 300 and meta["algo"] == algo and meta["config"]["her_strategy"] == her
    assert meta["control_type"] == "ee"
    # The normaliser learnt from exactly the batches of the gradient steps (what the networks see), nothing else.
    updates = int(payload["training"]["n_updates"])
    assert updates > 0 and float(payload["policy"]["normalizer"]["count"]) == updates * QUICK["batch_size"]
    policy = load_policy(result.policy)
    action = policy.act(np.zeros(policy.input_dim, np.float32))
    assert action.shape == (3,) and np.all(np.abs(action) <= 1)


def test_should_stop_ends_with_a_checkpoint(tmp_path):
    calls = iter(range(10**6))
    result = train(
        make_config("ddpg", **QUICK),
        steps=10_000,
        out_dir=tmp_path,
        eval_every=0,
        checkpoint_every=0,
        tensorboard=True,
        progress_bar=False,
        should_stop=lambda: next(calls) >= 50,
    )
    assert result.stopped and result.step == 100  # 50 iterations x 2 envs
    assert load_checkpoint(result.checkpoint)[0]["step"] == 100
    assert any((tmp_path / "tb").iterdir())


def test_stop_during_a_long_evaluation_ends_it_promptly_with_a_checkpoint(tmp_path):
    polls = 0

    def should_stop() -> bool:
        """False for the 50 iterations up to step 100 and the first 3 evaluation episodes, then True."""
        nonlocal polls
        polls += 1
        return polls > 50 + 3

    started = time.monotonic()
    result = train(
        make_config("ddpg", **QUICK),
        steps=10_000,
        out_dir=tmp_path,
        eval_every=100,
        eval_episodes=1_000,  # over a minute to finish
        checkpoint_every=0,
        tensorboard=False,
        progress_bar=False,
        should_stop=should_stop,
    )
    assert time.monotonic() - started < 30
    assert result.stopped and result.step == 100 and polls == 54
    assert result.history == [], "an evaluation cut short is not reported"
    assert load_checkpoint(result.checkpoint)[0]["step"] == 100
    assert (tmp_path / "progress.csv").read_text().strip() == ",".join(CSV_FIELDS)


def test_resume_restores_its_checkpoints_replay_and_drops_a_newer_orphan(tmp_path, caplog):
    """A kill after the replay of step 300 is written but before its checkpoint leaves replay_300.npz next to the
    checkpoint of step 200: the resume must take replay_200.npz, which is kept until checkpoint 300 is in place."""
    run = dict(out_dir=tmp_path, eval_every=0, checkpoint_every=100, tensorboard=False, progress_bar=False)
    config = make_config("td3", buffer_size=1_000, **QUICK)
    train(config, steps=200, **run)
    assert sorted(p.name for p in tmp_path.glob("replay_*.npz")) == ["replay_200.npz"]
    with np.load(tmp_path / "replay_200.npz") as saved:
        saved_replay = dict(saved)
    saved_size = int(saved_replay["size"])
    assert 0 < saved_size <= 200  # finished episodes of 2 envs x 100 steps
    (tmp_path / "replay_300.npz").write_bytes(b"cut off by a kill")

    with caplog.at_level(logging.WARNING, logger="ikrl_ros.rl.trainer"):
        result = train(config, steps=300, **run)
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert result.start_step == 200 and result.step == 300
    assert sorted(p.name for p in tmp_path.glob("replay_*.npz")) == ["replay_300.npz"]
    with np.load(tmp_path / "replay_300.npz") as resumed:
        # Episodes are appended to the restored ring (1,000 transitions, not yet full): the saved ones come first.
        np.testing.assert_array_equal(resumed["obs"][:saved_size], saved_replay["obs"][:saved_size])
        assert int(resumed["size"]) > saved_size


@pytest.mark.parametrize("algo", ["td3", "sac"])
def test_training_state_round_trip_is_exact(tmp_path, algo):
    """Networks, Adam moments, replay contents and position, counters and both RNGs come back identical, so the
    next gradient step is the same as if the run had not stopped."""
    env = make_env("PandaReach-v3")
    info = env_info(env)
    config = make_config(algo, hidden_sizes=(16,), batch_size=32, buffer_size=400)

    def fresh(seed: int):
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        agent = make_agent(config, info.input_dim, info.act_dim, np.ones(3, np.float32))
        return agent, make_replay(config, info, env, rng), rng

    agent, buffer, rng = fresh(0)
    episodes = np.random.default_rng(1)
    for length in episodes.integers(1, 51, 15):  # about 380 transitions into 400: the ring wraps
        states = episodes.normal(size=(length + 1, 9)).astype(np.float32)
        actions = episodes.uniform(-1, 1, (length, 3)).astype(np.float32)
        buffer.add_episode(states[:, :6], states[:, 6:], np.zeros((length, 3), np.float32), actions)
    learn(agent, buffer, config.batch_size, 5)
    state = RunState(step=1234, episodes=15, wall_time=12.5, train_time=10.25, seed=3, update_credit=0.5)
    save_training_state(tmp_path, agent, buffer, info, state, rng)

    restored_agent, restored_buffer, restored_rng = fresh(99)
    meta, payload, restored_config = read_training_checkpoint(tmp_path, config, info)
    assert restored_config == config
    assert restore_training_state(tmp_path, meta, payload, restored_agent, restored_buffer, restored_rng) == state
    env.close()

    optimisers = ["actor_opt", "critic_opt"] + (["alpha_opt"] if algo == "sac" else [])
    for name in optimisers:
        saved, loaded = getattr(agent, name).state_dict()["state"], getattr(restored_agent, name).state_dict()["state"]
        assert saved.keys() == loaded.keys() and len(saved) > 0
        for param_id, moments in saved.items():
            assert set(moments) == {"step", "exp_avg", "exp_avg_sq"}
            for key, value in moments.items():
                assert torch.equal(loaded[param_id][key], value), f"{name} {param_id} {key}"
    for name, value in buffer.state_dict().items():
        np.testing.assert_array_equal(getattr(restored_buffer, name), value, err_msg=name)
    assert (restored_buffer.ptr, len(restored_buffer)) == (buffer.ptr, len(buffer))
    assert restored_agent.n_updates == agent.n_updates == 5

    # The next gradient step: same torch noise, same replay draws, same result.
    torch_rng = torch.get_rng_state()  # the saved one, restored
    after_resume = learn(restored_agent, restored_buffer, config.batch_size, 1)[0]
    torch.set_rng_state(torch_rng)
    uninterrupted = learn(agent, buffer, config.batch_size, 1)[0]
    for name, loss in uninterrupted.items():
        assert torch.equal(after_resume[name], loss), name
    for original, resumed in zip(agent.actor.parameters(), restored_agent.actor.parameters(), strict=True):
        assert torch.equal(original, resumed)


def test_resume_refuses_another_algorithm(tmp_path):
    train(make_config("ddpg", **QUICK), steps=20, out_dir=tmp_path, eval_every=0, tensorboard=False, progress_bar=False)
    with pytest.raises(CheckpointError, match="holds a ddpg run on PandaReach-v3"):
        train(
            make_config("sac", **QUICK), steps=40, out_dir=tmp_path, eval_every=0, tensorboard=False, progress_bar=False
        )


def test_ddpg_her_learns_to_reach(tmp_path):
    """Default DDPG + HER: >= 80 % of 50 seeded goals after 2,000 steps (seeds 0-7 measured 92-100 %)."""
    result = train(
        make_config("ddpg"),
        steps=2_000,
        seed=0,
        out_dir=tmp_path,
        eval_every=2_000,
        eval_episodes=50,
        checkpoint_every=0,
        tensorboard=False,
        progress_bar=False,
    )
    assert result.history[-1].success_rate >= 0.8, result.history
    env = make_env("PandaReach-v3")  # the shipped-policy path agrees with the trainer's evaluation
    policy = load_policy(result.policy)
    assert evaluate(policy.act, env, 50).success_rate == result.history[-1].success_rate
    env.close()


def test_resume_after_sigkill(tmp_path):
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "ikrl_ros.tools.learning_commands",
        "train",
        "--algo",
        "td3",
        "--steps",
        "100000",
        "--out",
        str(out),
        "--checkpoint-every",
        "400",
        "--eval-every",
        "400",
        "--eval-episodes",
        "2",
        "--no-tensorboard",
        "--no-progress",
        "--set",
        "learning_starts=100",
        "--set",
        "batch_size=64",
    ]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    ckpt = out / "checkpoint.pt"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if ckpt.exists() and load_checkpoint(ckpt)[0]["step"] >= 1200:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read().decode()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    saved = load_checkpoint(ckpt)[0]["step"]  # intact despite the kill (atomic replace)
    assert saved >= 1200 and saved % 400 == 0
    result = train(
        make_config("td3", learning_starts=100, batch_size=64),
        steps=saved + 400,
        out_dir=out,
        eval_every=400,
        eval_episodes=2,
        checkpoint_every=400,
        tensorboard=False,
        progress_bar=False,
    )
    assert result.start_step == saved and result.step == saved + 400
    with (out / "progress.csv").open() as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == list(range(400, saved + 401, 400))  # rows after the checkpoint were dropped, none lost
