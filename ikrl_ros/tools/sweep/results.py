"""The sweep's outputs: results table (CSV + markdown) ranked by the metric, the best configuration as a
ready ``ikrl train`` command, and learning curves per configuration.

Every figure is a trainer evaluation (the seeds' progress.csv rows, as each trial recorded them in its
evaluations.jsonl); Tune supplies which trials exist, their configurations, how far each got and whether
it failed.
"""

from __future__ import annotations

import csv
import json
import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ikrl_ros.tools.sweep.spec import METRIC_NOTES, METRICS, SweepSpec
from ikrl_ros.tools.sweep.trial import TRIAL_FILE, TRIALS_DIR, aggregate, read_evaluations, seed_dir


@dataclass
class TrialRow:
    trial_id: str
    params: dict[str, Any]
    """Decoded searched values."""
    step: int
    """Last reported step (0 if the trial never reported)."""
    metrics: dict[str, float]
    """Mean and std over seeds at `step` (empty if never reported)."""
    history: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    error: str | None = None
    given: bool = False
    """One of the spec's points_to_evaluate (e.g. the shipped settings)."""

    def status(self, steps: int) -> str:
        if self.error:
            return f"error: {self.error}"
        if self.step >= steps:
            return "completed"
        return f"stopped early at {self.step:,}" if self.step else "no evaluation"


def collect(spec: SweepSpec, out: Path, trials: list[tuple[str, dict[str, Any], int, str | None]]) -> list[TrialRow]:
    """Rows from (trial id, Tune config, last reported step, error), ranked: finished trials by the metric,
    then early-stopped ones by how far they got and the metric, failed ones last."""
    given = [{k: _plain(v) for k, v in p.items()} for p in spec.points_to_evaluate]
    rows = []
    for trial_id, config, step, error in trials:
        decoded = {p.key: p.decode(config[p.key]) for p in spec.search if p.key in config}
        if any(decoded.get(p.key) is None for p in spec.search):  # Tune may not keep a never-run trial's config
            trial_file = out / TRIALS_DIR / trial_id / TRIAL_FILE
            overrides = json.loads(trial_file.read_text())["overrides"] if trial_file.exists() else {}
            decoded = {p.key: overrides[p.key] for p in spec.search if p.key in overrides}
        recorded = read_evaluations(out / TRIALS_DIR / trial_id)
        history = []
        for target in spec.report_steps():
            if target > step or any((target, s) not in recorded for s in spec.seeds):
                break
            history.append((target, aggregate([recorded[(target, s)] for s in spec.seeds])))
        metrics = history[-1][1] if history else {}
        is_given = {k: _plain(v) for k, v in decoded.items()} in given
        rows.append(TrialRow(trial_id, decoded, step, metrics, history, error, is_given))
    sign = 1.0 if spec.mode == "min" else -1.0

    def key(row: TrialRow) -> tuple[int, int, float]:
        if row.error or not row.metrics:
            return (2, 0, 0.0)
        return (0 if row.step >= spec.steps else 1, -row.step, sign * row.metrics[spec.metric])

    return sorted(rows, key=key)


def _plain(value: Any) -> Any:
    """Lists and tuples compare equal (YAML gives lists, configs hold tuples)."""
    return list(value) if isinstance(value, (list, tuple)) else value


def format_value(value: Any) -> str:
    """4 significant digits for floats (learning rates), JSON-like for the rest."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    return str(value)


def _cell(metric: str, metrics: dict[str, float]) -> str:
    if not metrics:
        return "–"
    mean, std = metrics[metric], metrics[f"{metric}_std"]
    if metric == "median_final_distance":
        return f"{1000 * mean:.2f} ± {1000 * std:.2f}"
    if metric == "success_rate":
        return f"{100 * mean:.1f} ± {100 * std:.1f}"
    return f"{mean:.1f} ± {std:.1f}"


HEADERS = {
    "median_final_distance": "median final distance (mm)",
    "success_rate": "success (%)",
    "mean_reward": "mean return",
}


def best_command(spec: SweepSpec, row: TrialRow) -> str:
    """`ikrl train` with the best configuration's settings, ready to run (floats to 4 significant digits)."""
    parts = ["ikrl", "train", "--algo", spec.algo, "--env", spec.env, "--steps", str(spec.steps), "--seed", "0"]
    parts += ["--out", f"runs/{spec.name}_best"]
    if spec.n_envs != 2:
        parts += ["--n-envs", str(spec.n_envs)]
    for key, value in spec.env_kwargs.items():
        parts += ["--env-kwarg", f"{key}={format_value(value)}"]
    for key, value in {**spec.fixed, **row.params}.items():
        parts += ["--set", f"{key}={format_value(value)}"]
    return shlex.join(parts)


def write_csv(path: Path, spec: SweepSpec, rows: list[TrialRow]) -> None:
    keys = [p.key for p in spec.search]
    stats = [f"{m}{suffix}" for m in METRICS for suffix in ("", "_std")]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["rank", "trial", *keys, "step", *stats, "train_time_s", "status", "given", "run_dirs"])
        for rank, row in enumerate(rows, 1):
            dirs = " ".join(str(seed_dir(path.parent, row.trial_id, s)) for s in spec.seeds)
            values = [row.metrics.get(s, math.nan) for s in stats]
            train_time = row.metrics.get("train_time", math.nan)
            writer.writerow(
                [rank, row.trial_id, *[format_value(row.params.get(k)) for k in keys], row.step, *values]
                + [train_time, row.status(spec.steps), row.given, dirs]
            )


def markdown(spec: SweepSpec, rows: list[TrialRow], command: str, facts: str) -> str:
    """The results section: what was run, the ranked table, the best command."""
    keys = [p.key for p in spec.search]
    others = [m for m in METRICS if m != spec.metric]
    scheduler = (
        f"ASHA on the step count (grace period {spec.grace_period:,} steps, reduction factor {spec.reduction_factor:g})"
        if spec.scheduler == "asha"
        else "no early stopping"
    )
    searcher = (
        f"Optuna TPE (seed {spec.seed}; modelling after {min(spec.startup_trials, spec.trials)} start-up trials: "
        "the given points, then random ones)"
        if spec.searcher == "optuna"
        else "random search"
    )
    seeds = ", ".join(map(str, spec.seeds))
    lines = [
        f"### Sweep `{spec.name}`: {spec.algo.upper()} on {spec.env}, up to {spec.steps:,} steps × {len(spec.seeds)} "
        "seeds per configuration",
        "",
        f"Measured by `{command}`. {spec.trials} configurations proposed by {searcher}, {scheduler}; "
        f"metric: {METRIC_NOTES[spec.metric]} ({spec.mode}imised), on {spec.eval_episodes} seeded evaluation goals "
        f"every {spec.report_every:,} steps, mean ± sample std over seeds {seeds}. Fixed: "
        + (", ".join(f"`{k}={format_value(v)}`" for k, v in spec.fixed.items()) or "nothing")
        + f"; other fields at the {spec.algo} defaults. {facts}",
        "",
        "| rank | trial | "
        + " | ".join(f"`{k}`" for k in keys)
        + " | steps | **"
        + HEADERS[spec.metric]
        + "** | "
        + " | ".join(HEADERS[m] for m in others)
        + " | status |",
        "|" + "---|" * (len(keys) + 5 + len(others)),
    ]
    for rank, row in enumerate(rows, 1):
        trial = f"{row.trial_id} †" if row.given else row.trial_id
        cells = [str(rank), trial, *[format_value(row.params.get(k)) for k in keys], f"{row.step:,}"]
        cells += [f"**{_cell(spec.metric, row.metrics)}**", *[_cell(m, row.metrics) for m in others]]
        lines.append("| " + " | ".join(cells + [row.status(spec.steps)]) + " |")
    if any(row.given for row in rows):
        lines += ["", "† given first in the spec's `points_to_evaluate`."]
    if rows and rows[0].metrics:
        lines += ["", "Best configuration, as a training command:", "", "```bash", best_command(spec, rows[0]), "```"]
    return "\n".join(lines) + "\n"


def plot(path: Path, spec: SweepSpec, rows: list[TrialRow]) -> None:
    """The metric against steps, one line (mean) and band (± std over seeds) per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scale = 1000.0 if spec.metric == "median_final_distance" else 100.0 if spec.metric == "success_rate" else 1.0
    fig, ax = plt.subplots(figsize=(9, 5 + 0.16 * len(rows)))
    colors = plt.get_cmap("tab20").colors
    for rank, row in enumerate(rows, 1):
        if not row.history:
            continue
        steps = [s for s, _ in row.history]
        mean = [scale * m[spec.metric] for _, m in row.history]
        std = [scale * m[f"{spec.metric}_std"] for _, m in row.history]
        label = f"#{rank} {row.trial_id}: " + ", ".join(f"{k}={format_value(v)}" for k, v in row.params.items())
        color = colors[(rank - 1) % len(colors)]
        (line,) = ax.plot(steps, mean, marker="o", color=color, lw=2.5 if rank == 1 else 1.2, label=label)
        low = [m - s for m, s in zip(mean, std, strict=True)]
        high = [m + s for m, s in zip(mean, std, strict=True)]
        ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.15)
    if spec.metric == "median_final_distance":
        ax.set_yscale("log")
    ax.set_xlabel("environment steps per seed")
    ax.set_ylabel(HEADERS[spec.metric])
    ax.set_title(f"sweep {spec.name}: {spec.algo} on {spec.env}, mean ± std over {len(spec.seeds)} seeds")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
