"""`ikrl sweep`: spec checks before anything starts, a tiny real sweep on a local Ray, and resuming a killed one.

The sweeps run `ikrl sweep` as a subprocess (a real Ray on this machine, real training of IkrlReach-v0):
2 configurations × 2 seeds × 400 steps with tiny networks.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from ikrl_ros.rl.checkpoint import load_policy
from ikrl_ros.tools.cli import build_parser, main
from ikrl_ros.tools.sweep.spec import SpecError, parse_spec

REPO = Path(__file__).resolve().parents[2]

TINY = {
    "name": "tiny",
    "algo": "sac",
    "env": "IkrlReach-v0",
    "steps": 400,
    "report_every": 200,
    "eval_episodes": 2,
    "seeds": 2,
    "fixed": {"hidden_sizes": [16, 16], "batch_size": 64, "learning_starts": 100},
    "search": {"actor_lr": {"loguniform": [1.0e-4, 1.0e-2]}},
    "metric": "median_final_distance",
    "trials": 2,
    "scheduler": {"type": "none"},
    "tensorboard": False,
}


def write_spec(tmp_path: Path, spec: dict, name: str = "tiny.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec))
    return path


def with_change(key: str, value: object) -> dict:
    """TINY with one (dotted) key replaced."""
    spec = json.loads(json.dumps(TINY))
    *parents, last = key.split(".")
    node = spec
    for part in parents:
        node = node[part]
    node[last] = value
    return spec


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({**TINY, "serach": {}}, "unknown key 'serach'"),
        (with_change("search", {"learning_rate": {"loguniform": [1e-4, 1e-3]}}), "search.learning_rate: unknown sac"),
        (with_change("search", {"action_noise": {"int": [1, 3]}}), "search.action_noise: unknown sac config field"),
        (with_change("fixed.hidden_size", [8]), "fixed.hidden_size: unknown sac config field"),
        (with_change("search.actor_lr", {"loguniform": [1e-2, 1e-4]}), "low 0.01 must be below high 0.0001"),
        (with_change("search.actor_lr", {"uniform": [1e-3, 1e-3]}), "low 0.001 must be below high 0.001"),
        (with_change("search.actor_lr", {"loguniform": [0.0, 1e-3]}), "a log range needs low > 0, got 0.0"),
        (with_change("search", {"her_k": {"choice": []}}), "search.her_k.choice: empty list of choices"),
        (with_change("search", {"her_k": {"choice": [4.5]}}), "her_k: 4.5 is not an integer"),
        (with_change("search", {"her_k": {"uniform": [2, 8]}}), "her_k is not a float field"),
        (
            with_change("search", {"tau": {"uniform": [0.01, 1.5]}}),
            "'tau': 1.5} is not a valid sac config: need 0 < tau <= 1",
        ),
        (with_change("search", {"tau": {"normal": [0.0, 1.0]}}), "unknown distribution 'normal'"),
        (with_change("search", {"batch_size": {"choice": [64, 128]}}), "search.batch_size: is also in fixed"),
        (with_change("metric", "accuracy"), "metric: unknown metric 'accuracy'"),
        (with_change("algo", "ppo"), "algo: unknown algorithm 'ppo'"),
        (with_change("env", "IkrlReach-v9"), "env: unknown environment 'IkrlReach-v9'"),
        (with_change("steps", 401), "steps: 401 is not a multiple of n_envs=2"),
        (with_change("report_every", 800), "report_every: 800 exceeds steps=400"),
        ({**TINY, "points_to_evaluate": [{"actor_lr": 0.5}]}, "actor_lr=0.5 is outside the search space"),
        ({**TINY, "scheduler": {"type": "hyperband"}}, "scheduler: expected {type: asha|none"),
        ({k: v for k, v in TINY.items() if k != "metric"}, "missing key 'metric'"),
        (with_change("seeds", [0, -1]), "seeds: expected a non-empty list of integers >= 0"),
        ({**TINY, "env_kwargs": {"bogus": 1}}, "env_kwargs: IkrlReach-v0 does not take {'bogus': 1}"),
    ],
)
def test_bad_specs_are_refused_with_the_key_named(spec: dict, message: str) -> None:
    with pytest.raises(SpecError) as excinfo:
        parse_spec(spec, "tiny.yaml")
    assert message in str(excinfo.value)


def test_cli_refuses_a_bad_spec_before_anything_starts(tmp_path, capsys) -> None:
    spec = write_spec(tmp_path, with_change("search.actor_lr", {"loguniform": [-1.0, 1e-3]}))
    out = tmp_path / "sweep"
    assert main(["sweep", str(spec), "--out", str(out)]) == 2
    assert "search.actor_lr.loguniform: a log range needs low > 0, got -1.0" in capsys.readouterr().err
    assert not out.exists()  # no directory, no Ray, no trial


def test_cli_refuses_cpus_with_a_cluster_address(tmp_path, capsys) -> None:
    out = tmp_path / "sweep"
    assert main(["sweep", str(write_spec(tmp_path, TINY)), "--out", str(out), "--address", "auto", "--cpus", "2"]) == 2
    assert "--cpus sizes a local Ray" in capsys.readouterr().err
    assert not out.exists()


def test_a_sweep_directory_keeps_its_spec(tmp_path, capsys) -> None:
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "spec.yaml").write_text("name: another\n")
    assert main(["sweep", str(write_spec(tmp_path, TINY)), "--out", str(out)]) == 2
    assert "holds a sweep with another spec" in capsys.readouterr().err


def sweep_command(spec: Path, out: Path, cpus: int) -> list[str]:
    return [sys.executable, "-m", "ikrl_ros.tools.cli", "sweep", str(spec), "--out", str(out), "--cpus", str(cpus)]


def sweep_env() -> dict[str, str]:
    """Ray's workers import the package from this checkout, as the sweep process does."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO), "OMP_NUM_THREADS": "1"}


def read_table(out: Path) -> list[dict[str, str]]:
    with (out / "results.csv").open() as f:
        return list(csv.DictReader(f))


def progress_rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "progress.csv").open() as f:
        return list(csv.DictReader(f))


def test_tiny_sweep_ranks_configurations_over_seeds(tmp_path) -> None:
    out = tmp_path / "sweep"
    start = time.monotonic()
    run = subprocess.run(
        sweep_command(write_spec(tmp_path, TINY), out, cpus=2),
        env=sweep_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.monotonic() - start
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    print(f"tiny sweep (2 configurations x 2 seeds x 400 steps, Ray start included): {elapsed:.1f} s")

    rows = read_table(out)
    assert len(rows) == 2 and {r["status"] for r in rows} == {"completed"}
    assert float(rows[0]["median_final_distance"]) <= float(rows[1]["median_final_distance"])
    assert "[sweep] trial" in run.stdout  # progress lines while it ran
    for row in rows:
        dirs = [Path(d) for d in row["run_dirs"].split()]
        assert [d.name for d in dirs] == ["seed_0", "seed_1"]
        finals = []
        for run_dir in dirs:  # every seed is an ordinary `ikrl train` run directory
            assert [int(r["step"]) for r in progress_rows(run_dir)] == [200, 400]
            assert load_policy(run_dir / "policy.pt").step == 400 and (run_dir / "checkpoint.pt").exists()
            finals.append(float(progress_rows(run_dir)[-1]["median_final_distance"]))
        assert float(row["median_final_distance"]) == pytest.approx(np.mean(finals))
        assert float(row["median_final_distance_std"]) == pytest.approx(np.std(finals, ddof=1))
        trial = json.loads((dirs[0].parent / "trial.json").read_text())
        assert trial["overrides"]["hidden_sizes"] == [16, 16]
        assert f"{trial['overrides']['actor_lr']:.4g}" == row["actor_lr"]

    best = (out / "best.txt").read_text().strip()
    assert best in (out / "results.md").read_text()
    args = build_parser().parse_args(shlex.split(best)[1:])  # a ready `ikrl train` command
    assert (args.command, args.algo, args.env, args.steps) == ("train", "sac", "IkrlReach-v0", 400)
    assert dict(args.set) == {"hidden_sizes": [16, 16], "batch_size": 64, "learning_starts": 100,
                              "actor_lr": float(rows[0]["actor_lr"])}  # fmt: skip
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (out / "results.md").read_text()
    assert "| 1 | " + rows[0]["trial"] in table and "median final distance (mm)" in table


def test_a_killed_sweep_resumes_without_rerunning_finished_trials(tmp_path) -> None:
    spec, out = write_spec(tmp_path, TINY), tmp_path / "sweep"
    first = subprocess.Popen(
        sweep_command(spec, out, cpus=1),  # one trial at a time: the second is under way when the first is done
        env=sweep_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    finished, seen = None, []
    try:
        assert first.stdout is not None
        for line in first.stdout:
            seen.append(line)
            words = line.split()
            if finished is None and line.startswith("[sweep] trial") and words[3] == "finished":
                finished = words[2]
            elif finished and line.startswith("[sweep] trial") and words[2] != finished and "step" in words:
                break  # the second trial has reported its first evaluation
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the sweep and the Ray it started, as a killed job
        first.wait()
    assert finished is not None, "".join(seen)[-3000:]
    done_dirs = [out / "trials" / finished / f"seed_{s}" for s in (0, 1)]
    before = {d: ((d / "policy.pt").stat().st_mtime_ns, (d / "progress.csv").read_text()) for d in done_dirs}

    second = subprocess.run(
        sweep_command(spec, out, cpus=1), env=sweep_env(), capture_output=True, text=True, timeout=300
    )
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "resuming" in second.stdout
    after = {d: ((d / "policy.pt").stat().st_mtime_ns, (d / "progress.csv").read_text()) for d in done_dirs}
    assert after == before  # the finished trial was not trained again

    rows = read_table(out)
    assert len(rows) == 2 and {r["status"] for r in rows} == {"completed"} and finished in {r["trial"] for r in rows}
    for row in rows:  # resumed or not, each seed was evaluated (so trained) once per report step
        lines = (out / "trials" / row["trial"] / "evaluations.jsonl").read_text().splitlines()
        keys = sorted((entry["step"], entry["seed"]) for entry in map(json.loads, lines))
        assert keys == [(200, 0), (200, 1), (400, 0), (400, 1)]
    sessions = json.loads((out / "sessions.json").read_text())
    assert [s["trained"] for s in sessions] == [True]  # the killed session never wrote its record
