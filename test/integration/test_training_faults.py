"""Training under faults: killed mid-run and resumed without loss, and a checkpoint write killed half-way."""

from __future__ import annotations

import json
import os
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
CHECKPOINT_EVERY = 250
KILL_FROM_STEP = 500
"""The kill comes once a checkpoint of at least this step exists: learning (from step 500) has begun."""


def train_command(out: Path, steps: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ikrl_ros.tools.learning_commands",
        "train",
        "--algo",
        "ddpg",
        "--steps",
        str(steps),
        "--seed",
        "0",
        "--out",
        str(out),
        "--checkpoint-every",
        str(CHECKPOINT_EVERY),
        "--eval-every",
        str(STEPS),
        "--eval-episodes",
        "5",
        "--no-tensorboard",
        "--no-progress",
    ]


def test_training_killed_mid_run_resumes_without_loss_and_still_learns(tmp_path: Path) -> None:
    out = tmp_path / "run"
    # Far more steps than are ever taken: the process is certainly still training when it is killed (the step
    # budget only sets when the run ends; everything before is the same as for a run of STEPS).
    process = subprocess.Popen(train_command(out, 1_000_000), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoint = out / "checkpoint.pt"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if checkpoint.exists() and load_checkpoint(checkpoint)[0]["step"] >= KILL_FROM_STEP:
                break
            time.sleep(0.02)
        assert process.poll() is None, process.stderr.read().decode()
        os.kill(process.pid, signal.SIGKILL)  # possibly in the middle of writing the next replay or checkpoint
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
    killed_at = load_checkpoint(checkpoint)[0]["step"]  # the last checkpoint is intact
    assert KILL_FROM_STEP <= killed_at < STEPS and killed_at % CHECKPOINT_EVERY == 0
    assert (out / f"replay_{killed_at}.npz").is_file(), "the replay of the last checkpoint survives the kill"

    resumed = subprocess.run(train_command(out, STEPS), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "empty" not in resumed.stderr, resumed.stderr  # no "resuming with an empty replay buffer"
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert (summary["start_step"], summary["step"]) == (killed_at, STEPS)
    assert load_checkpoint(checkpoint)[0]["step"] == STEPS
    assert sorted(path.name for path in out.glob("replay_*.npz")) == [f"replay_{STEPS}.npz"]
    env = make_env("PandaReach-v3")
    success = evaluate(load_policy(out / "policy.pt").act, env, 50).success_rate
    env.close()
    assert success >= 0.8, f"resumed from step {killed_at}: {success:.0%} success"


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
    good = Path(__file__).resolve().parents[2] / "ikrl_ros" / "policies" / "sac_panda_reach.pt"
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
