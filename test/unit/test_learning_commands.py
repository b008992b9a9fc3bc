"""The `ikrl` train/eval/plot/bench subcommands (tools layer) and the shipped policies."""

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ikrl_ros.rl.checkpoint import load_policy
from ikrl_ros.rl.envs import make_env, resolve_env_id
from ikrl_ros.rl.evaluation import evaluate
from ikrl_ros.tools import learning_commands as commands

POLICIES = Path(__file__).resolve().parents[2] / "ikrl_ros" / "policies"


def test_subcommands_register_on_a_foreign_parser():
    parser = argparse.ArgumentParser(prog="ikrl")
    commands.add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        [
            "train",
            "--algo",
            "td3",
            "--no-her",
            "--steps",
            "10",
            "--out",
            "x",
            "--set",
            "hidden_sizes=[32,32]",
            "--reward",
            "dense",
        ]
    )
    assert args.func is commands.cmd_train and not args.her and args.set == [("hidden_sizes", [32, 32])]
    assert parser.parse_args(["eval", "p.pt"]).episodes == 100


def test_reward_switch():
    assert resolve_env_id("PandaReach-v3", "dense") == "PandaReachDense-v3"
    assert resolve_env_id("PandaReachJointsDense-v3", "sparse") == "PandaReachJoints-v3"
    assert resolve_env_id("PandaReach-v3", None) == "PandaReach-v3"


def test_train_eval_plot_cli(tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        commands.main(
            [
                "train",
                "--algo",
                "sac",
                "--steps",
                "200",
                "--out",
                str(out),
                "--eval-every",
                "100",
                "--eval-episodes",
                "2",
                "--no-progress",
                "--no-tensorboard",
                "--set",
                "learning_starts=50",
                "--set",
                "batch_size=32",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["step"] == 200 and Path(summary["policy"]).is_file()
    assert commands.main(["eval", summary["policy"], "--episodes", "3"]) == 0
    ev = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert ev["episodes"] == 3 and ev["algo"] == "sac" and 0 <= ev["success_rate"] <= 1
    png = tmp_path / "curves.png"
    assert commands.main(["plot", str(out), str(out), "--out", str(png), "--labels", "a", "b"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    assert commands.main(["eval", str(tmp_path / "bad.pt")]) == 2
    assert "corrupt or truncated" in capsys.readouterr().err


@pytest.mark.parametrize(
    "manifest",
    sorted(POLICIES.glob("*.json")) + sorted(POLICIES.glob("*/*.json")),
    ids=lambda p: str(p.relative_to(POLICIES).with_suffix("")),
)
def test_shipped_policy_matches_its_manifest(manifest):
    """Every shipped policy, the Panda's and each other arm's (in its folder), evaluates as its manifest says."""
    m = json.loads(manifest.read_text())
    path = manifest.parent / m["policy"]
    assert path.stat().st_size < 2 * 1024 * 1024
    policy = load_policy(path, env_id=m["env_id"])
    assert policy.algo == m["algo"] and policy.step == m["steps"]
    env = make_env(m["env_id"], **policy.env_kwargs)
    res = evaluate(policy.act, env, 100)
    env.close()
    # The manifest's evaluation is reproducible (deterministic actions, seeded goals and starts).
    assert res.success_rate == pytest.approx(m["evaluation"]["success_rate"], abs=0.01)
    assert res.median_final_distance == pytest.approx(m["evaluation"]["median_final_distance_m"], abs=5e-4)
    if m["env_id"].startswith("PandaReach"):
        assert res.success_rate >= 0.99  # panda-gym's 5 cm success


TINY_TRAIN = ["--eval-episodes", "2", "--no-progress", "--no-tensorboard", "--set", "learning_starts=50"]
TINY_TRAIN += ["--set", "batch_size=32", "--set", "hidden_sizes=[16]"]


def test_resumed_run_says_so_on_its_first_line(tmp_path, capsys):
    out = str(tmp_path / "run")
    common = ["train", "--algo", "sac", "--out", out, "--eval-every", "100", "--n-envs", "3", *TINY_TRAIN]
    assert commands.main([*common, "--steps", "150"]) == 0
    fresh = capsys.readouterr().out.strip().splitlines()
    assert len(fresh) == 1 and json.loads(fresh[0])["step"] == 150  # 50 iterations of 3 environments
    assert commands.main([*common, "--steps", "300"]) == 0
    resumed = capsys.readouterr().out.strip().splitlines()
    assert resumed[0] == "resumed from step 150"
    assert json.loads(resumed[-1])["start_step"] == 150 and json.loads(resumed[-1])["step"] == 300


def test_explicit_cpu_device_trains_and_checkpoints_on_the_host(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--algo", "td3", "--out", str(out), "--steps", "120", "--eval-every", "120", "--device", "cpu"]
    assert commands.main([*args, *TINY_TRAIN]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["step"] == 120
    assert load_policy(out / "policy.pt").act(np.zeros(12, np.float32)).shape == (3,)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_refused_before_anything_starts(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--algo", "sac", "--out", str(out), "--steps", "100", "--device", "cuda", *TINY_TRAIN]
    assert commands.main(args) == 2
    error = capsys.readouterr().err
    assert "device 'cuda' requested but CUDA is not available" in error, error
    assert not (out / "checkpoint.pt").exists()


def test_unknown_device_is_refused(tmp_path, capsys):
    args = ["train", "--algo", "sac", "--out", str(tmp_path / "run"), "--device", "tpu", *TINY_TRAIN]
    assert commands.main(args) == 2
    assert "device 'tpu'" in capsys.readouterr().err
