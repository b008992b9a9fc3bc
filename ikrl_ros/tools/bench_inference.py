"""Single-observation inference latency of the shipped policies (what the 25-100 Hz reach controller pays).

ikrl bench inference [--calls 20000]   # or: ikrl bench inference
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ikrl_ros.rl.controller_factory import POLICY_DIR
from ikrl_ros.tools.report import write_section

MARKER = "bench_inference"


def latency_us(act, obs, calls: int) -> np.ndarray:
    for _ in range(500):  # warm-up
        act(obs)
    t = np.empty(calls)
    for i in range(calls):
        t0 = time.perf_counter_ns()
        act(obs)
        t[i] = time.perf_counter_ns() - t0
    return t / 1e3


def main(argv: list[str] | None = None) -> int:
    import torch

    from ikrl_ros.rl.checkpoint import load_policy

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=20_000)
    p.add_argument("--doc", type=Path, default=Path("docs/training.md"))
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    rows = ["| policy | input | p50 (us) | p99 (us) | max (us) |", "|---|---|---|---|---|"]
    for path in sorted(POLICY_DIR.glob("*.pt")):
        policy = load_policy(path)
        rng = np.random.default_rng(0)
        flat = rng.normal(0, 0.2, policy.input_dim).astype(np.float32)
        as_dict = {e["key"]: flat[e["start"] : e["start"] + e["size"]] for e in policy.observation_layout}
        for kind, obs in (("dict", as_dict), ("flat", flat)):
            t = latency_us(policy.act, obs, a.calls)
            rows.append(
                f"| {path.name} | {kind} | {np.percentile(t, 50):.0f} | {np.percentile(t, 99):.0f} | {t.max():.0f} |"
            )
    print("\n".join(rows))
    if a.doc.exists() and f"<!-- {MARKER}:begin -->" in a.doc.read_text():
        cmd = "ikrl bench inference " + " ".join(argv if argv is not None else sys.argv[1:])
        text = "\n".join(["", f"`{cmd.strip()}` ({a.calls:,} calls each, one torch thread):", "", *rows])
        write_section(a.doc, MARKER, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
