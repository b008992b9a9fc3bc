"""Learning curves (success rate and mean episode reward vs environment steps) from progress.csv files."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display on robots and CI
import matplotlib.pyplot as plt  # noqa: E402


def read_progress(run_dir: str | Path) -> dict[str, list[float]]:
    """Columns of run_dir/progress.csv as float lists (empty cells become NaN)."""
    path = Path(run_dir) / "progress.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no progress.csv (is {run_dir} a training output directory?)")
    with path.open() as file:
        rows = list(csv.DictReader(file))
    columns = rows[0] if rows else {}
    return {column: [float(row[column]) if row[column] != "" else float("nan") for row in rows] for column in columns}


def run_label(run_dir: str | Path) -> str:
    """'ALGO ENV' from the run's config.json, else the directory name."""
    config_path = Path(run_dir) / "config.json"
    if config_path.is_file():
        meta = json.loads(config_path.read_text())
        her = meta.get("config", {}).get("her_strategy", "none")
        return f"{meta['algo'].upper()} {meta['env_id']}{'' if her == 'none' else ' + HER'}"
    return Path(run_dir).name


def plot_runs(
    run_dirs: Sequence[str | Path], out: str | Path, labels: Sequence[str] | None = None, title: str | None = None
) -> Path:
    """Two panels, one line per run; returns the PNG path."""
    fig, (success_axes, reward_axes) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for i, run in enumerate(run_dirs):
        data = read_progress(run)
        label = labels[i] if labels and i < len(labels) else run_label(run)
        success_percent = [100 * rate for rate in data.get("success_rate", [])]
        success_axes.plot(data.get("step", []), success_percent, marker=".", label=label)
        reward_axes.plot(data.get("step", []), data.get("mean_reward", []), marker=".", label=label)
    success_axes.set(xlabel="environment steps", ylabel="success rate (%)", ylim=(-2, 102))
    reward_axes.set(xlabel="environment steps", ylabel="mean episode reward")
    for ax in (success_axes, reward_axes):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
