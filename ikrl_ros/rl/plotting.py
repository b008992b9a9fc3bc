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
    with path.open() as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) if r[k] != "" else float("nan") for r in rows] for k in (rows[0] if rows else {})}


def run_label(run_dir: str | Path) -> str:
    """'ALGO ENV' from the run's config.json, else the directory name."""
    cfg = Path(run_dir) / "config.json"
    if cfg.is_file():
        meta = json.loads(cfg.read_text())
        her = meta.get("config", {}).get("her_strategy", "none")
        return f"{meta['algo'].upper()} {meta['env_id']}{'' if her == 'none' else ' + HER'}"
    return Path(run_dir).name


def plot_runs(
    run_dirs: Sequence[str | Path], out: str | Path, labels: Sequence[str] | None = None, title: str | None = None
) -> Path:
    """Two panels, one line per run; returns the PNG path."""
    fig, (ax_s, ax_r) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for i, run in enumerate(run_dirs):
        data = read_progress(run)
        label = labels[i] if labels and i < len(labels) else run_label(run)
        ax_s.plot(data.get("step", []), [100 * s for s in data.get("success_rate", [])], marker=".", label=label)
        ax_r.plot(data.get("step", []), data.get("mean_reward", []), marker=".", label=label)
    ax_s.set(xlabel="environment steps", ylabel="success rate (%)", ylim=(-2, 102))
    ax_r.set(xlabel="environment steps", ylabel="mean episode reward")
    for ax in (ax_s, ax_r):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
