"""Training under faults: killed at a random moment and resumed, and a checkpoint write killed half-way."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from ikrl_ros.rl.checkpoint import load_checkpoint, load_policy
from ikrl_ros.rl.envs import make_env
from ikrl_ros.rl.evaluation import evaluate

STEPS = 2_000
"""DDPG + HER reaches >= 80 % of 50 seeded goals in 2,000 steps uninterrupted (test_rl_training)."""


def train_command(out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ikrl_ros.tools.learning_commands",
        "train",
        "--algo",
        "ddpg",
        "--steps",
        str(STEPS),
        "--seed",
        "0",
        "--out",
        str(out),
        "--checkpoint-every",
        "250",
        "--eval-every",
        str(STEPS),
        "--eval-episodes",
        "5",
        "--no-tensorboard",
        "--no-progress",
    ]


def test_training_killed_at_a_random_moment_resumes_and_still_learns(tmp_path: Path) -> None:
    out = tmp_path / "run"
    process = subprocess.Popen(train_command(out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoint = out / "checkpoint.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline:  # learning has begun
        time.sleep(0.05)
    delay = random.uniform(0.0, 4.0)  # then a random moment, possibly during a checkpoint write
    print(f"killing the training {delay:.2f} s after its first checkpoint")
    time.sleep(delay)
    assert process.poll() is None, process.stderr.read().decode()
    os.kill(process.pid, signal.SIGKILL)
    process.wait(30)
    killed_at = load_checkpoint(checkpoint)[0]["step"]  # the last checkpoint is intact
    assert 0 < killed_at < STEPS

    resumed = subprocess.run(train_command(out), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert load_checkpoint(checkpoint)[0]["step"] == STEPS
    env = make_env("PandaReach-v3")
    success = evaluate(load_policy(out / "policy.pt").act, env, 50).success_rate
    env.close()
    assert success >= 0.8, (
        f"killed {delay:.2f} s after the first checkpoint, resumed from step {killed_at}: {success:.0%} success"
    )


KILL_DURING_WRITE = """
import os, signal, sys
from ikrl_ros.rl.checkpoint import atomic_write
data = open(sys.argv[2], "rb").read()
def write(file):
    file.write(data[: len(data) // 2])
    file.flush()
    os.kill(os.getpid(), signal.SIGKILL)  # the process dies half-way through the checkpoint
atomic_write(sys.argv[1], write)
"""


def test_checkpoint_write_killed_half_way_never_replaces_the_last_good_one(tmp_path: Path) -> None:
    good = Path(__file__).resolve().parent.parent / "ikrl_ros" / "policies" / "sac_panda_reach.pt"
    target = tmp_path / "checkpoint.pt"
    target.write_bytes(good.read_bytes())
    newer = tmp_path / "newer.pt"
    newer.write_bytes(good.read_bytes() * 2)
    run = subprocess.run(
        [sys.executable, "-c", KILL_DURING_WRITE, str(target), str(newer)], capture_output=True, timeout=120
    )
    assert run.returncode == -signal.SIGKILL
    assert target.read_bytes() == good.read_bytes(), "the good checkpoint was replaced by a partial one"
    assert load_checkpoint(target)[0]["algo"] == "sac"
