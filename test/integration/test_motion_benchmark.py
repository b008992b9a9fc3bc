"""The workspace suite's motion columns, through ROS in real time: the 1 kHz stream the bridge executed, its joint
states and targets, reflexes and clearance, per goal."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import load_arm
from ikrl_ros.core.workspace import sample_reachable_goals
from ikrl_ros.tools.bench_workspace import motion_row, run_entry, summary_row

GOALS = sample_reachable_goals(3, 11, ArmKinematics(load_arm()))


def test_the_default_strict_stack_moves_within_the_limits_and_the_forgiving_one_does_not(tmp_path: Path) -> None:
    strict = run_entry("ik", GOALS, 4.0, tmp_path / "strict")
    forgiving = run_entry("ik", GOALS, 4.0, tmp_path / "forgiving", strict=False)
    for result in (strict, forgiving):
        assert all(r["final_error"] < 0.005 for r in result["records"]), summary_row("ik", result)
    motions = [r["motion"] for r in strict["records"]]
    assert all(max(m[stream].values()) <= 1.0 + 1e-6 for m in motions for stream in ("motion", "command", "interface"))
    assert sum(m["reflexes"] for m in motions) == 0 and sum(m["collision_states"] for m in motions) == 0
    assert all(m["time_optimal"] > 0.0 for m in motions)
    # Without strict the motors are told a new position every period: a 1 kHz interface sees it as a step.
    held = [r["motion"]["interface"] for r in forgiving["records"]]
    assert all(peaks["velocity"] > 5.0 for peaks in held)
    row = motion_row("ik", strict)
    assert "| ik | True | 0 / 0 / 0 of 3 |" in row, row
    assert np.isfinite(float(row.rstrip(" |").rsplit("|", 1)[1]))
