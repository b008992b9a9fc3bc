"""Train the shipped policies with the `ikrl train` CLI, evaluate them on 100 seeded goals, and install
them with a JSON manifest into the checkout's ikrl_ros/policies/ (run from the checkout's root).

    python -m ikrl_ros.tools.ship_policies [--algos ddpg td3 sac] [--env PandaReach-v3] [--steps 20000]
    python -m ikrl_ros.tools.ship_policies --env IkrlReach-v0 --steps 100000 --set goal_relative_inputs=true
    python -m ikrl_ros.tools.ship_policies --robot xarm6 --algos sac --steps 200000   # into policies/xarm6/
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ikrl_ros.core.robot import DEFAULT_ROBOT, shipped_robots
from ikrl_ros.rl.controller_factory import policy_folder
from ikrl_ros.rl.plotting import plot_runs
from ikrl_ros.tools.report import write_section

POLICY_SOURCES = Path("ikrl_ros") / "policies"
"""The shipped policies in the checkout (the working directory): what the wheel and colcon install as package data."""

SUFFIX = {
    "PandaReach-v3": "panda_reach",
    "PandaReachJoints-v3": "panda_reach_joints",
    "IkrlReach-v0": "workspace",
    "IkrlReachJoints-v0": "workspace_joints",
    "IkrlReachPose-v0": "workspace_pose",
    "IkrlReachLimited-v0": "workspace_limited",
    "IkrlReachLimitedJoints-v0": "workspace_joints_limited",
    "IkrlReachLimitedPose-v0": "workspace_pose_limited",
}
"""Environment → the shipped name's suffix (the limited ones end in ``controller_factory.LIMITED_SUFFIX``, the name a
strict controller resolves a shipped name to)."""


def run_cli(args: list[str]) -> dict:
    """Run `python -m ikrl_ros.tools.learning_commands ARGS` and parse its final JSON line."""
    out = subprocess.run(
        [sys.executable, "-m", "ikrl_ros.tools.learning_commands", *args], check=True, stdout=subprocess.PIPE, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def ship(
    algo: str,
    env_id: str,
    steps: int,
    seed: int,
    runs: Path,
    overrides: list[str],
    eval_every: int,
    policies: Path,
    resume: bool = False,
    robot: str = DEFAULT_ROBOT,
) -> dict:
    """Train ``algo`` on ``env_id`` for ``robot``, evaluate it and install it with its manifest in ``policies``
    (a robot other than the Panda: in its folder there)."""
    prefix = "" if robot == DEFAULT_ROBOT else f"{robot}_"
    out = runs / f"{prefix}{algo}_{SUFFIX[env_id]}_s{seed}"  # commands run in the repository root
    name = f"{algo}_{SUFFIX[env_id]}"
    policies = policy_folder(robot, policies)
    earlier = json.loads((policies / f"{name}.json").read_text()) if resume else None
    train_args = [
        "train",
        "--algo",
        algo,
        "--env",
        env_id,
        "--her",
        "--steps",
        str(steps),
        "--seed",
        str(seed),
        "--out",
        str(out),
        *([] if resume else ["--no-resume"]),
        "--no-progress",
        "--eval-every",
        str(eval_every),
        *(f"--set={o}" for o in overrides),
        *([] if robot == DEFAULT_ROBOT else ["--robot", robot]),
    ]
    t0 = time.perf_counter()
    trained = run_cli(train_args)
    elapsed = time.perf_counter() - t0
    target = policies / f"{name}.pt"
    policies.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(trained["policy"], target)
    evaluation = run_cli(["eval", str(target), "--episodes", "100"])
    manifest = {
        "policy": target.name,
        "robot": robot,
        "algo": algo,
        "env_id": env_id,
        "her": "future (k=4)",
        "seed": seed,
        "overrides": overrides,
        "steps": trained["step"],
        "command": "ikrl " + " ".join(train_args),
        "equivalent_command": "python -m ikrl_ros.tools.learning_commands " + " ".join(train_args),
        "train_time_s": trained["train_time"],
        "wall_time_s": round(elapsed + (earlier["wall_time_s"] if earlier else 0.0), 1),
        **({"resumed_from": {"steps": earlier["steps"], "command": earlier["command"]}} if earlier else {}),
        "evaluation": {
            "episodes": 100,
            "goal_seeds": "0..99",
            "success_rate": evaluation["success_rate"],
            "median_final_distance_m": round(evaluation["median_final_distance"], 4),
            "mean_reward": round(evaluation["mean_reward"], 3),
            "command": f"ikrl eval {target} --episodes 100",
        },
        "size_bytes": target.stat().st_size,
        "machine": f"{platform.processor() or platform.machine()}, torch threads 1",
    }
    (policies / f"{name}.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def write_table(doc: Path, policies: Path) -> None:
    """Summarise every manifest in ``policies`` between the ship markers of docs/training.md."""
    if not doc.exists() or "<!-- ship:begin -->" not in doc.read_text():
        return
    rows = [
        "| policy | env | steps | training s | success (100 goals) | median final distance | size |",
        "|---|---|---|---|---|---|---|",
    ]
    for path in sorted(policies.glob("*.json")) + sorted(policies.glob("*/*.json")):
        m = json.loads(path.read_text())
        e = m["evaluation"]
        rows.append(
            f"| `{path.relative_to(policies).with_suffix('.pt')}` | {m['env_id']} | {m['steps']:,} | "
            f"{m['train_time_s']:.0f} | "
            f"{e['success_rate']:.0%} | {e['median_final_distance_m'] * 1000:.1f} mm | "
            f"{m['size_bytes'] / 1024:.0f} kB |"
        )
    write_section(doc, "ship", "\n".join(rows))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--algos", nargs="+", default=["ddpg", "td3", "sac"])
    p.add_argument("--env", default="PandaReach-v3", choices=sorted(SUFFIX))
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument(
        "--robot", default=DEFAULT_ROBOT, choices=shipped_robots(), help="the arm (not the Panda: the workspace task)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs", type=Path, default=Path("runs") / "shipped", help="relative to the repository")
    p.add_argument(
        "--policies",
        type=Path,
        default=POLICY_SOURCES,
        help="where policies and manifests go (default: %(default)s: the checkout's, not the installed package's)",
    )
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="hyperparameter override passed to ikrl train"
    )
    p.add_argument("--eval-every", type=int, default=1_000, help="steps between the training run's evaluations")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the earlier run in RUNS to --steps (its manifest notes both commands)",
    )
    p.add_argument(
        "--table-only", action="store_true", help="train nothing: rewrite docs/training.md's table from the manifests"
    )
    args = p.parse_args(argv)
    if args.robot != DEFAULT_ROBOT and not args.env.startswith("IkrlReach"):
        p.error(f"--robot {args.robot} trains the workspace tasks (--env IkrlReach-v0, ...), not {args.env}")
    for algo in [] if args.table_only else args.algos:
        m = ship(
            algo,
            args.env,
            args.steps,
            args.seed,
            args.runs,
            args.set,
            args.eval_every,
            args.policies,
            args.resume,
            args.robot,
        )
        print(
            f"{m['policy']}: success {m['evaluation']['success_rate']:.2%}, median final distance "
            f"{m['evaluation']['median_final_distance_m'] * 1000:.1f} mm, {m['train_time_s']} s",
            flush=True,
        )
    if not args.table_only and args.robot == DEFAULT_ROBOT:
        write_curves(args.runs, args.env, args.algos, args.seed)
    write_table(Path("docs/training.md"), args.policies)
    return 0


def write_curves(runs: Path, env_id: str, algos: list[str], seed: int) -> None:
    """Learning curves of the runs just shipped, one line per algorithm, to docs/figures/shipped_<task>.png."""
    suffix = SUFFIX[env_id]
    run_dirs = [runs / f"{algo}_{suffix}_s{seed}" for algo in algos]
    print(plot_runs(run_dirs, Path("docs/figures") / f"shipped_{suffix}.png", [a.upper() for a in algos], env_id))


if __name__ == "__main__":
    sys.exit(main())
