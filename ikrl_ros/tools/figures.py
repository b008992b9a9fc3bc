"""``ikrl figures``: rerun every benchmark that writes a marked block of README.md or docs/, in one command.

Every figure in the README and docs sits between ``<!-- NAME:begin -->`` / ``<!-- NAME:end -->`` markers (or
is a whole report file) written by one benchmark; this runs them from the checkout's root, one after
another, so nothing competes for the cores during real-time runs. ``--only`` picks some, ``--list`` shows
what each rewrites and roughly how long it takes on 2 cores. Shipped policies are not retrained (that is
``python -m ikrl_ros.tools.ship_policies``, hours); their table is rewritten from their manifests.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ikrl_ros.tools.command import SubParsers, run_subcommand


@dataclass(frozen=True)
class Figure:
    name: str
    module: str
    """``ikrl_ros.tools.<module>``, whose ``main(argv)`` runs it (see ``ikrl_ros.tools.command``)."""
    argv: tuple[str, ...]
    writes: str
    minutes: float
    """Rough wall time on the 2-core development machine, for planning."""
    markers: tuple[str, ...] = ()
    """The ``<!-- NAME:begin -->`` blocks it rewrites (whole-file reports have none)."""


OTHER_ARMS = ("xarm6", "ur5", "iiwa7")
"""The shipped arms besides the Panda: a workspace suite each (their shipped policy and ``ik``)."""

FIGURES = (
    Figure(
        "workspace",
        "bench_reach",
        ("--suite", "workspace", "--goals", "100", "--parallel", "3", "--log-dir", "out/bench-workspace-strict"),
        "README + docs/benchmark.md",
        25,
        ("workspace",),
    ),
    Figure(
        "workspace_no_strict",
        "bench_reach",
        ("--suite", "workspace", "--no-strict", "--parallel", "3"),
        "README + docs/benchmark.md",
        90,
        ("workspace-no-strict",),
    ),
    Figure(
        "pose",
        "bench_reach",
        ("--suite", "workspace", "--poses", "--no-strict", "--goals", "100", "--parallel", "2"),
        "README + docs/benchmark.md",
        25,
        ("pose-no-strict",),
    ),
    Figure("cube", "bench_reach", ("--suite", "cube"), "README + docs/benchmark.md", 40, ("cube",)),
    *(
        Figure(
            f"workspace_{robot}{'_no_strict' if strict else ''}",
            "bench_reach",
            ("--suite", "workspace", "--robot", robot, "--controllers", "sac_workspace", "ik", "--goals", "100")
            + ("--log-dir", f"out/bench-workspace-{robot}", *strict),
            "README + docs/benchmark.md",
            6,
            (f"workspace-{robot}{'-no-strict' if strict else ''}",),
        )
        for robot in OTHER_ARMS
        for strict in ((), ("--no-strict",))
    ),
    Figure("arms", "robots", ("--readme", "README.md"), "README (from the manifests)", 0.1, ("arms",)),
    Figure("classical", "bench_classical", (), "docs/classical.md", 5),
    Figure("design", "bench_design", (), "docs/training.md (reuses finished runs/design)", 25, ("design",)),
    Figure("ship", "ship_policies", ("--table-only",), "docs/training.md (from the manifests)", 0.1, ("ship",)),
    Figure("inference", "bench_inference", (), "docs/training.md", 2, ("bench_inference",)),
    Figure("training", "bench_training", (), "docs/training.md (needs --sb3-python)", 120, ("bench_training",)),
    Figure(
        "training_workspace",
        "bench_training",
        ("--suites", "workspace", "--seeds", "0"),
        "docs/training.md (needs --sb3-python)",
        30,
        ("bench_training_workspace",),
    ),
    Figure("soak", "soak", (), "docs/soak.md", 32),
    Figure(
        "sweep",
        "sweep",
        ("sweeps/workspace_sac.yaml", "--cpus", "1", "--doc", "docs/sweep.md"),
        "docs/sweep.md (a finished sweep only rewrites its outputs)",
        30,
        ("sweep:workspace_sac",),
    ),
)
BY_NAME = {figure.name: figure for figure in FIGURES}
NEEDS_SB3 = ("training", "training_workspace")


def command_line(figure: Figure, sb3_python: str | None) -> list[str]:
    extra = ["--sb3-python", sb3_python] if figure.name in NEEDS_SB3 and sb3_python else []
    return [*figure.argv, *extra]


def run(figure: Figure, sb3_python: str | None) -> int:
    """The figure's tool by its ``main(argv)``, imported here only: figures imports no tool module up front."""
    module = importlib.import_module(f"ikrl_ros.tools.{figure.module}")
    return int(module.main(command_line(figure, sb3_python)) or 0)


def add_subcommands(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "figures", help="rerun every benchmark that writes README/docs figures", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--only", nargs="+", choices=sorted(BY_NAME), help="these figures only (default: all)")
    parser.add_argument("--skip", nargs="+", choices=sorted(BY_NAME), default=[], help="all but these")
    parser.add_argument("--sb3-python", help="interpreter with stable-baselines3 (training comparisons)")
    parser.add_argument("--list", action="store_true", help="print what would run, and stop")
    parser.set_defaults(func=regenerate)


def main(argv: list[str] | None = None) -> int:
    """``python -m ikrl_ros.tools.figures ARGS`` is ``ikrl figures ARGS``."""
    return run_subcommand("figures", add_subcommands, argv)


def regenerate(args: argparse.Namespace) -> int:
    chosen = [BY_NAME[name] for name in args.only] if args.only else [f for f in FIGURES if f.name not in args.skip]
    if not Path("README.md").is_file() or not Path("docs").is_dir():
        print("error: run `ikrl figures` from the checkout's root (README.md and docs/ are rewritten)", file=sys.stderr)
        return 2
    missing_sb3 = [f.name for f in chosen if f.name in NEEDS_SB3 and not args.sb3_python]
    if missing_sb3 and not args.list:
        print(f"error: {', '.join(missing_sb3)} need --sb3-python (or --skip them)", file=sys.stderr)
        return 2
    for figure in chosen:
        print(f"{figure.name:20s} ~{figure.minutes:g} min  ikrl_ros.tools.{figure.module} "
              f"{' '.join(command_line(figure, args.sb3_python))}  -> {figure.writes}")  # fmt: skip
    if args.list:
        return 0
    failed = []
    for figure in chosen:
        start = time.monotonic()
        print(f"[figures] {figure.name} ...", flush=True)
        code = run(figure, args.sb3_python)
        print(f"[figures] {figure.name}: exit {code} after {(time.monotonic() - start) / 60:.1f} min", flush=True)
        if code != 0:
            failed.append(figure.name)
    if failed:
        print(f"[figures] failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
