"""`ikrl bench-algorithms`: ours, SB3 SAC and CrossQ trained end to end on IkrlReach-v0 with one evaluation schedule,
and the table's levels and ratios."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ikrl_ros.tools.bench_algorithms import SB3_INSTALL, Evaluation, RunResult, sb3_missing, table

REPO = Path(__file__).resolve().parents[2]
STEPS, EVAL_EVERY = 1_040, 520
"""Past SB3's 1,000 warm-up steps, so that HER samples reach SAC's and CrossQ's learners."""
GRAIN = 16
"""Ours steps all its environments at once, so its evaluations fall on the first multiple of their number."""


def table_rows(text: str) -> dict[str, list[str]]:
    """The first markdown table's rows by their first cell."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| algorithm"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.setdefault(cells[0], cells)
        elif rows and not line.startswith("|"):
            break
    return rows


@pytest.mark.skipif(
    importlib.util.find_spec("stable_baselines3") is None or importlib.util.find_spec("sb3_contrib") is None,
    reason=f"stable-baselines3 / sb3-contrib not installed: {SB3_INSTALL}",
)
def test_all_three_train_on_one_evaluation_schedule_and_the_table_has_their_rows(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    command = [
        *(sys.executable, "-m", "ikrl_ros.tools.cli", "bench-algorithms"),
        *("--steps", str(STEPS), "--eval-every", str(EVAL_EVERY), "--eval-episodes", "1", "--seeds", "3"),
        *("--crossq-critic-width", "64"),
        *("--out", str(out)),
    ]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]

    written = (out / "algorithms.md").read_text()
    assert written in proc.stdout
    rows = table_rows(written)
    assert list(rows) == ["ours", "sb3-sac", "crossq"]
    for cells in rows.values():
        assert STEPS <= int(cells[7].replace(",", "")) < STEPS + GRAIN, cells  # every run got its whole budget
    for algorithm in ("sb3-sac", "crossq"):  # a row in the table and one in the ratios
        assert sum(line.startswith(f"| {algorithm} |") for line in written.splitlines()) == 2, written

    results = json.loads((out / "results.json").read_text())["results"]
    for run in results:
        steps = [e["step"] for e in run["evaluations"]]
        assert len(steps) == 2 and EVAL_EVERY <= steps[0] < EVAL_EVERY + GRAIN and STEPS <= steps[1], steps
        assert all(0.0 <= e["success_rate"] <= 1.0 and e["median_final_distance"] > 0 for e in run["evaluations"])
        assert 0 < run["evaluations"][0]["train_time"] < run["evaluations"][1]["train_time"]
        with (out / f"{run['algorithm']}_s3" / "evaluations.csv").open() as f:
            assert [int(r["step"]) for r in csv.DictReader(f)] == steps


def test_sb3_is_reported_as_installed_or_with_how_to_install_it() -> None:
    missing = sb3_missing()
    assert missing is None or SB3_INSTALL in missing


def run(algorithm: str, *evaluations: tuple[int, float, float, float]) -> RunResult:
    return RunResult(algorithm, 0, "settings", [Evaluation(*e) for e in evaluations])


def test_levels_are_the_first_evaluations_reaching_them_and_ratios_bound_runs_that_never_did() -> None:
    ours = run("ours", (10_000, 20.0, 0.96, 0.002), (20_000, 40.0, 0.99, 0.0005))
    slower = run("sb3-sac", (30_000, 90.0, 0.97, 0.001), (60_000, 200.0, 1.0, 0.0009))
    text = table([slower, ours], "header")
    rows = table_rows(text)
    assert list(rows) == ["ours", "sb3-sac"]
    assert rows["ours"][1:5] == ["10,000", "20.0 s", "20,000", "40.0 s"]
    assert rows["sb3-sac"][1:7] == ["30,000", "90.0 s", "not in 60,000", "not in 200.0 s", "100%", "0.90 mm"]
    assert "| sb3-sac | 3.00x | 4.50x | > 3.00x | > 5.00x |" in text
    short_of_shipped = run("ours", (10_000, 20.0, 0.96, 0.002), (20_000, 40.0, 0.98, 0.0004))
    faster = run("crossq", (5_000, 30.0, 0.99, 0.0004))
    assert "| crossq | 0.50x | 1.50x | < 0.25x | < 0.75x |" in table([short_of_shipped, faster], "header")
