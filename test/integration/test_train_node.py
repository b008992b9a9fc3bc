"""The training node over real DDS: progress messages, a final checkpoint on shutdown (SIGINT, SIGTERM), resume."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from conftest import spin_until
from diagnostic_msgs.msg import DiagnosticStatus

from ikrl_ros.rl.checkpoint import load_checkpoint
from ikrl_ros.tools.stack import start_node, stop_node


def progress_values(message: DiagnosticStatus) -> dict[str, str]:
    return {pair.key: pair.value for pair in message.values}


def test_train_node_publishes_progress_and_checkpoints_on_shutdown(tmp_path: Path, ros_node) -> None:
    out_dir = tmp_path / "run"
    parameters = {
        "algo": "ddpg",
        "steps": 100_000,
        "eval_every": 200,
        "eval_episodes": 3,
        "checkpoint_every": 100_000,
        "out_dir": str(out_dir),
    }
    process = start_node("ikrl_ros.nodes.train_node", parameters, tmp_path / "train.log")
    progress: list[DiagnosticStatus] = []
    ros_node.create_subscription(DiagnosticStatus, "train_node/progress", progress.append, 10)
    # learning starts after 500 steps (DDPGConfig.learning_starts); wait for an evaluation past it
    assert spin_until(ros_node, lambda: len(progress) >= 3, 120), (tmp_path / "train.log").read_text()
    values = progress_values(progress[-1])
    assert int(values["step"]) >= 600 and values["total_steps"] == "100000"
    assert 0.0 <= float(values["success_rate"]) <= 1.0
    assert float(values["critic_loss"]) == float(values["critic_loss"]), "critic loss should be a number by now"

    assert stop_node(process, timeout=60) == 0, (tmp_path / "train.log").read_text()
    meta, _ = load_checkpoint(out_dir / "checkpoint.pt")
    assert meta["step"] >= int(values["step"]), "the final checkpoint is written at shutdown, not at checkpoint_every"

    resumed = start_node(
        "ikrl_ros.nodes.train_node", {**parameters, "steps": meta["step"] + 200}, tmp_path / "resume.log"
    )
    assert resumed.wait(120) == 0, (tmp_path / "resume.log").read_text()
    meta_after, _ = load_checkpoint(out_dir / "checkpoint.pt")
    assert meta_after["step"] == meta["step"] + 200


def test_train_node_refuses_bad_parameters(tmp_path: Path) -> None:
    process = start_node("ikrl_ros.nodes.train_node", {"algo": "ppo"}, tmp_path / "train.log")
    assert process.wait(60) == 2
    assert "parameter 'algo' must be one of" in (tmp_path / "train.log").read_text()


def test_train_node_exits_promptly_on_sigterm_during_a_long_evaluation(tmp_path: Path) -> None:
    """SIGTERM (a supervisor's or ``docker stop``'s signal) arrives while the node evaluates 100,000 goals: the
    evaluation stops, the final checkpoint is written and the node exits cleanly within seconds."""
    out_dir = tmp_path / "run"
    parameters = {
        "algo": "ddpg",
        "steps": 100_000,
        "eval_every": 200,
        "eval_episodes": 100_000,  # hours
        "checkpoint_every": 100,
        "out_dir": str(out_dir),
    }
    log = tmp_path / "train.log"
    process = start_node("ikrl_ros.nodes.train_node", parameters, log)
    checkpoint = out_dir / "checkpoint.pt"
    try:
        deadline = time.monotonic() + 120
        while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpoint.exists() and process.poll() is None, log.read_text()
        # Step 100 is checkpointed; step 200 (the evaluation) follows in a fraction of a second.
        time.sleep(2.0)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            returncode = process.wait(30)
        except subprocess.TimeoutExpired:
            returncode = None
        exit_seconds = time.monotonic() - signalled
    finally:
        stop_node(process, timeout=5)
    assert returncode == 0, log.read_text()
    assert exit_seconds < 10, f"exited {exit_seconds:.1f} s after SIGTERM"
    meta, _ = load_checkpoint(checkpoint)
    assert meta["step"] == 200, "the final checkpoint holds the step at which the evaluation was stopped"
    assert load_checkpoint(out_dir / "policy.pt")[0]["step"] == 200
