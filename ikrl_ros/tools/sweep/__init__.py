"""``ikrl sweep SPEC.yaml``: hyperparameter sweeps and multi-seed runs on Ray Tune (docs/sweep.md).

Local by default (a fresh Ray on this machine); ``--address auto|ray://host:port`` runs the same sweep on an
existing cluster. A sweep directory that already holds Tune's experiment state is resumed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from ikrl_ros.tools.command import SubParsers, run_subcommand
from ikrl_ros.tools.report import write_section
from ikrl_ros.tools.sweep.results import best_command, markdown, plot, write_csv
from ikrl_ros.tools.sweep.spec import SpecError, load_spec

RESULTS_CSV, RESULTS_MD, BEST, PLOT = "results.csv", "results.md", "best.txt", "curves.png"


def _command(args: argparse.Namespace) -> str:
    """The invocation as a user would type it (recorded with the results)."""
    parts = ["ikrl", "sweep", args.spec]
    for flag in ("out", "address", "cpus", "cpus_per_trial", "max_concurrent", "doc"):
        value = getattr(args, flag)
        if value is not None:
            parts += [f"--{flag.replace('_', '-')}", str(value)]
    return shlex.join(parts)


def cmd_sweep(args: argparse.Namespace) -> int:
    try:
        spec = load_spec(args.spec)
        if args.address and args.cpus is not None:
            raise SpecError("--cpus sizes a local Ray; a cluster given by --address has its own CPUs")
        for flag in ("cpus", "cpus_per_trial", "max_concurrent"):
            value = getattr(args, flag)
            if value is not None and value <= 0:
                raise SpecError(f"--{flag.replace('_', '-')} must be positive, got {value}")
        out = Path(args.out or f"runs/sweeps/{spec.name}").absolute()
        from ikrl_ros.tools.sweep import runner

        if args.report_only and not (out / runner.SPEC_COPY).exists():
            raise SpecError(f"{out} holds no sweep to report on")
        resumed = runner.prepare_out(spec, out)
    except SpecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    cpus_per_trial = args.cpus_per_trial or spec.cpus_per_trial
    if args.address:
        cpus, max_concurrent = f"cluster at {args.address}", args.max_concurrent
    else:
        local_cpus = args.cpus or os.cpu_count() or 1
        cpus = str(local_cpus)
        max_concurrent = args.max_concurrent or max(1, int(local_cpus // cpus_per_trial))
    if args.report_only:
        try:
            rows = runner.run(spec, out, cpus_per_trial, max_concurrent, report_only=True)
        except SpecError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        totals = runner.session_totals(out)
    else:
        print(f"[sweep] {spec.name}: {spec.trials} configurations × {len(spec.seeds)} seeds, output {out}", flush=True)
        start, started = time.perf_counter(), time.time()
        runner.init_ray(args.address, args.cpus)
        rows = runner.run(spec, out, cpus_per_trial, max_concurrent)
        totals = runner.record_session(out, _command(args), time.perf_counter() - start, cpus, started)

    text = markdown(spec, rows, totals["command"] or _command(args), runner.machine_facts(totals))
    write_csv(out / RESULTS_CSV, spec, rows)
    plot(out / PLOT, spec, rows)
    (out / RESULTS_MD).write_text(text)
    best = rows[0] if rows and rows[0].metrics else None
    if best is not None:
        (out / BEST).write_text(best_command(spec, best) + "\n")
    if args.doc:
        doc = Path(args.doc)
        figure = doc.parent / "figures" / f"sweep_{spec.name}.png"
        figure.parent.mkdir(parents=True, exist_ok=True)
        figure.write_bytes((out / PLOT).read_bytes())
        link = os.path.relpath(figure, doc.parent)
        write_section(doc, f"sweep:{spec.name}", f"{text}\n![learning curves of the sweep's configurations]({link})")
    print(text)
    how = "rewritten from the sweep directory" if args.report_only else "resumed" if resumed else "done"
    print(f"[sweep] {how}; results in {out}: {RESULTS_MD}, {RESULTS_CSV}, {BEST}, {PLOT}")
    return 0 if best is not None else 1


def add_subcommands(subparsers: SubParsers) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="hyperparameter sweep over seeds on Ray Tune (Optuna + ASHA), local or on a cluster",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("spec", help="sweep spec (YAML), e.g. sweeps/workspace_sac.yaml; see docs/sweep.md")
    p.add_argument("--out", help="sweep directory (default runs/sweeps/<name>); on a cluster a path every node sees")
    p.add_argument("--address", help="an existing Ray cluster: 'auto' (on one of its nodes) or ray://host:port")
    p.add_argument("--cpus", type=int, help="CPUs of the local Ray (default: all cores of this machine)")
    p.add_argument("--cpus-per-trial", type=float, help="CPUs reserved per trial (default: the spec's, 1)")
    p.add_argument("--max-concurrent", type=int, help="trials at once (default: local CPUs / CPUs per trial)")
    p.add_argument("--report-only", action="store_true", help="only rewrite the outputs from the sweep directory")
    p.add_argument("--doc", help="also write the results into the <!-- sweep:NAME --> block of this markdown file")
    p.set_defaults(func=cmd_sweep)


def main(argv: list[str] | None = None) -> int:
    """``ikrl sweep ARGS`` without the rest of the CLI (``ikrl figures`` runs it so)."""
    return run_subcommand("sweep", add_subcommands, argv)
