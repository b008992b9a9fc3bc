"""The main job end to end: `ikrl demo` as a user runs it, with its table, path plot and animation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio


def test_demo_reaches_its_goals_and_writes_table_plot_and_animation(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "ikrl_ros.tools.cli",
            "demo",
            "--goals",
            "3",
            "--sync-mode",
            "lockstep",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "controller sac" in run.stdout and "3/3 consecutive workspace goals reached" in run.stdout
    assert f"output folder: {out}" in run.stdout
    table = (out / "goals.md").read_text()
    assert table.count("| yes |") == 3 and "goal_pose" in table and "clicked_point" in table
    assert (out / "paths.png").stat().st_size > 10_000
    frames = imageio.mimread(out / "reach.gif")
    assert len(frames) > 10 and frames[0].shape[:2] == (240, 320)
    assert any((frame != frames[0]).any() for frame in frames[1:]), "the arm should move in the animation"
