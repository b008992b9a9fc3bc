"""One Tune trial = one configuration trained over all its seeds, reported after every evaluation.

Why one trial per configuration (not per seed): ASHA must compare configurations, and a single seed's
evaluation is too noisy to stop a configuration on. So the trial trains its seeds in report-sized chunks,
``train(..., steps=target, resume=True)`` per seed, and reports the mean and standard deviation over the
seeds at each target step. Each seed's directory is an ordinary ``ikrl train`` run (checkpoint, replay,
progress.csv, TensorBoard, policy.pt), and the trainer resumes it from its own checkpoint; the Tune
checkpoint holds only the last reported step. A chunk costs the re-creation of the environments and a
checkpoint round trip (about a second), small against a chunk of training.

Each seed's evaluation at each report step is also appended to the trial's evaluations.jsonl the moment
that seed's chunk ends (flushed to disk): a sweep killed half-way through a chunk does not retrain the
seeds that had finished it, and the results table does not depend on progress.csv surviving a kill.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ikrl_ros.tools.sweep.spec import METRICS, SweepSpec

TRIALS_DIR = "trials"
TRIAL_FILE = "trial.json"
EVALUATIONS = "evaluations.jsonl"


def seed_dir(out: Path, trial_id: str, seed: int) -> Path:
    return out / TRIALS_DIR / trial_id / f"seed_{seed}"


def evaluation_at(run_dir: Path, step: int) -> dict[str, float]:
    """The evaluation row of `step` in a run's progress.csv (what the trainer wrote, nothing recomputed)."""
    with (run_dir / "progress.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if int(r["step"]) == step]
    if not rows:
        raise RuntimeError(f"{run_dir}/progress.csv has no evaluation at step {step}")
    return {k: float(rows[-1][k]) for k in (*METRICS, "train_time")}


def record_evaluation(trial_root: Path, step: int, seed: int, row: dict[str, float]) -> None:
    with (trial_root / EVALUATIONS).open("a") as f:
        f.write(json.dumps({"step": step, "seed": seed, **row}) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_evaluations(trial_root: Path) -> dict[tuple[int, int], dict[str, float]]:
    """(step, seed) -> evaluation row; a line cut off by a kill is ignored."""
    rows: dict[tuple[int, int], dict[str, float]] = {}
    path = trial_root / EVALUATIONS
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        rows[(entry.pop("step"), entry.pop("seed"))] = entry
    return rows


def aggregate(per_seed: list[dict[str, float]]) -> dict[str, float]:
    """Mean and sample standard deviation (0 for one seed) of every metric over the seeds."""
    out: dict[str, float] = {}
    for key in METRICS:
        values = np.array([row[key] for row in per_seed])
        out[key] = float(values.mean())
        out[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    out["train_time"] = float(sum(row["train_time"] for row in per_seed))
    return out


def run_trial(config: dict[str, Any], spec: SweepSpec, out: str) -> None:
    """The Tune function trainable (runs in a Ray worker; `out` is the sweep directory every node sees)."""
    from ray import tune

    from ikrl_ros.rl.config import make_config
    from ikrl_ros.rl.trainer import train

    logging.getLogger("ray.train").setLevel(logging.WARNING)  # not one "checkpoint created" line per report
    trial_id = tune.get_context().get_trial_id()
    overrides = spec.overrides(config)
    trial_root = Path(out) / TRIALS_DIR / trial_id
    trial_root.mkdir(parents=True, exist_ok=True)
    (trial_root / TRIAL_FILE).write_text(json.dumps({"trial_id": trial_id, "overrides": overrides}, indent=2))
    algo_config = make_config(spec.algo, **overrides)

    done = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            done = int(json.loads((Path(d) / "reported.json").read_text())["step"])

    recorded = read_evaluations(trial_root)
    for target in spec.report_steps():
        if target <= done:
            continue
        per_seed = []
        for seed in spec.seeds:
            if (target, seed) in recorded:
                per_seed.append(recorded[(target, seed)])
                continue
            run_dir = seed_dir(Path(out), trial_id, seed)
            train(
                algo_config,
                env_id=spec.env,
                steps=target,
                seed=seed,
                out_dir=run_dir,
                n_envs=spec.n_envs,
                eval_every=spec.report_every,
                eval_episodes=spec.eval_episodes,
                checkpoint_every=spec.report_every,
                resume=True,
                tensorboard=spec.tensorboard,
                progress_bar=False,
                env_kwargs=dict(spec.env_kwargs),
            )
            per_seed.append(evaluation_at(run_dir, target))
            record_evaluation(trial_root, target, seed, per_seed[-1])
        metrics = {"step": target, **aggregate(per_seed), "seeds": len(spec.seeds)}
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "reported.json").write_text(json.dumps({"step": target}))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))
