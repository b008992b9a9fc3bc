"""The measurements behind the workspace tasks' design choices, as `ikrl train` runs; table into docs/training.md.

    ikrl bench design            # runs what runs/design/ does not hold yet, then writes the table

Each pair differs in one choice, everything else equal (seed 0, evaluation on 50 seeded goals with
random starts every 5,000 steps, success within 5 mm after 2 s):
- goal-relative inputs on / off, SAC on IkrlReach-v0, 30,000 steps, 2 × 64 units;
- signed-square / linear action map, SAC on IkrlReachJoints-v0, 20,000 steps, 2 × 256 units.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

from ikrl_ros.tools.report import write_section

RUNS = Path("runs/design")
DOC = Path("docs/training.md")
COMMON = [
    "--seed",
    "0",
    "--eval-every",
    "5000",
    "--checkpoint-every",
    "5000",
    "--no-progress",
    "--no-tensorboard",
    "--no-resume",
]
CARTESIAN = ["--algo", "sac", "--env", "IkrlReach-v0", "--steps", "30000", "--set", "hidden_sizes=[64,64]"]
JOINTS = [
    "--algo",
    "sac",
    "--env",
    "IkrlReachJoints-v0",
    "--steps",
    "20000",
    "--set",
    "hidden_sizes=[256,256]",
    "--set",
    "goal_relative_inputs=true",
]
RUNS_BY_NAME = {
    "sac_relative": ("goal-relative inputs", "IkrlReach-v0", [*CARTESIAN, "--set", "goal_relative_inputs=true"]),
    "sac_no_relative": ("raw inputs only", "IkrlReach-v0", CARTESIAN),
    "joints_signed_square": ("signed-square action map", "IkrlReachJoints-v0", JOINTS),
    "joints_linear": ("linear action map", "IkrlReachJoints-v0", [*JOINTS, "--env-kwarg", "action_map=linear"]),
}


def last_row(name: str) -> dict[str, str] | None:
    path = RUNS / name / "progress.csv"
    if not path.exists():
        return None
    with path.open() as f:
        rows = list(csv.DictReader(f))
    return rows[-1] if rows else None


def command(name: str) -> list[str]:
    return ["ikrl", "train", *RUNS_BY_NAME[name][2], *COMMON, "--out", f"runs/design/{name}"]


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="ikrl bench design", description=__doc__.splitlines()[0]).parse_args(argv)
    for name, (_, _, args) in RUNS_BY_NAME.items():
        steps = int(args[args.index("--steps") + 1])
        row = last_row(name)
        if row is None or int(row["step"]) < steps:
            subprocess.run(
                [sys.executable, "-m", "ikrl_ros.tools.learning_commands", *command(name)[1:]],
                check=True,
                stdout=subprocess.DEVNULL,
            )
    lines = [
        "| choice | task | steps | success within 5 mm | median final distance | training s | command |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, (choice, env_id, _) in RUNS_BY_NAME.items():
        row = last_row(name)
        lines.append(
            f"| {choice} | {env_id} | {int(row['step']):,} | {float(row['success_rate']):.0%} | "
            f"{float(row['median_final_distance']) * 1000:.1f} mm "
            f"| {float(row['train_time']):.0f} | `{' '.join(command(name))}` |"
        )
    write_section(DOC, "design", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
