"""Training benchmark: ikrl_ros vs Stable-Baselines3 on panda-gym reach tasks, side by side.

    ikrl bench training --sb3-python /tmp/sb3venv/bin/python   # or: ikrl bench training ...

Every run is a fresh subprocess: ours with this interpreter, SB3 with `--sb3-python` (SB3 is a
benchmark-only extra in its own virtualenv, never a dependency of ikrl_ros). Both are evaluated by
the same `ikrl_ros.rl.evaluation.evaluate` on goals seeded 0..49 every 1,000 steps with
deterministic actions, and "seconds" are training seconds (evaluation excluded). SB3 uses the
settings of the reference measurement: batch 256, [256, 256, 256], gamma 0.95, lr 1e-3, tau 0.05,
buffer 100k, 1,000 warm-up steps, HER future k=4, other arguments at SB3 defaults.
Results go to runs/bench/results.json, learning curves to docs/figures/, tables into docs/training.md.

    ikrl bench training --suites workspace --sb3-python /tmp/sb3venv/bin/python

runs the workspace comparison instead (results in runs/bench/workspace_results.json, its own section of
docs/training.md): our SAC + HER with the shipped workspace settings against SB3's SAC + HER at SB3's
own defaults (only the HER replay set), on IkrlReach-v0, both evaluated every 2,000 steps on the
same 50 seeded goals; the target is >= 95 % of goals within 5 mm after 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ikrl_ros.tools.report import write_section

PACKAGE_DIR = Path(__file__).resolve().parents[1]
"""This ikrl_ros package's folder, wherever it is installed: SB3's interpreter imports the same evaluation code."""

EVAL_EVERY, EVAL_EPISODES, TARGET = 1_000, 50, 0.95
MARKER, WORKSPACE_MARKER = "bench_training", "bench_training_workspace"
WORKSPACE_ENV, WORKSPACE_EVAL_EVERY, WORKSPACE_MAX_STEPS = "IkrlReach-v0", 2_000, 100_000
WORKSPACE_OURS = {"goal_relative_inputs": True}
"""The shipped workspace policies' settings (ikrl_ros/policies/*_workspace.json): our defaults, goal-relative inputs."""


# ----------------------------------------------------------------------------- workers (subprocesses)
def worker_ours(a: argparse.Namespace) -> dict[str, Any]:
    from ikrl_ros.rl.config import make_config
    from ikrl_ros.rl.trainer import train

    config = make_config(a.algo, her_strategy="future" if a.her else "none", **json.loads(a.overrides))
    t0 = time.perf_counter()
    r = train(
        config,
        env_id=a.env,
        steps=a.max_steps,
        seed=a.seed,
        out_dir=a.out,
        n_envs=2,
        eval_every=a.eval_every,
        eval_episodes=EVAL_EPISODES,
        checkpoint_every=0,
        resume=False,
        target_success=TARGET if a.stop else None,
        save_replay=False,
        tensorboard=False,
        progress_bar=False,
    )
    return {
        "target_step": r.target_step,
        "target_time": r.target_train_time,
        "steps": r.step,
        "train_time": r.train_time,
        "wall_time": time.perf_counter() - t0,
        "final_success": r.history[-1].success_rate,
        "best_success": max(p.success_rate for p in r.history),
        "final_median_distance": r.history[-1].median_final_distance,
    }


def worker_sb3(a: argparse.Namespace) -> dict[str, Any]:
    import csv

    import numpy as np
    import torch
    from stable_baselines3 import DDPG, SAC, TD3, HerReplayBuffer
    from stable_baselines3.common.callbacks import BaseCallback

    from ikrl_ros.rl.envs import KEYS, make_env
    from ikrl_ros.rl.evaluation import evaluate

    torch.set_num_threads(1)
    env, eval_env = make_env(a.env), make_env(a.env)
    sizes = [eval_env.observation_space[k].shape[0] for k in KEYS]
    cls = {"ddpg": DDPG, "td3": TD3, "sac": SAC}[a.algo]
    kwargs: dict[str, Any] = dict(seed=a.seed)
    if not a.sb3_defaults:  # the reference measurement's settings (REFERENCE.md)
        kwargs.update(
            batch_size=256,
            gamma=0.95,
            learning_rate=1e-3,
            tau=0.05,
            buffer_size=100_000,
            learning_starts=1_000,
            policy_kwargs=dict(net_arch=[256, 256, 256]),
        )
    if a.her:
        kwargs.update(
            replay_buffer_class=HerReplayBuffer,
            replay_buffer_kwargs=dict(n_sampled_goal=4, goal_selection_strategy="future"),
        )
    model = cls("MultiInputPolicy", env, **kwargs)

    def act(x: np.ndarray) -> np.ndarray:
        parts = np.split(x, np.cumsum(sizes)[:-1], axis=1)
        return model.predict(dict(zip(KEYS, parts, strict=True)), deterministic=True)[0]

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    state: dict[str, Any] = {"eval_time": 0.0, "target_step": None, "target_time": None}

    class Eval(BaseCallback):
        def _on_training_start(self) -> None:
            state["t0"] = time.perf_counter()

        def _on_step(self) -> bool:
            if self.num_timesteps % a.eval_every:
                return True
            t = time.perf_counter()
            train_time = t - state["t0"] - state["eval_time"]
            ev = evaluate(act, eval_env, EVAL_EPISODES)
            rows.append(
                {
                    "step": self.num_timesteps,
                    "wall_time": t - state["t0"],
                    "train_time": train_time,
                    "success_rate": ev.success_rate,
                    "mean_reward": ev.mean_reward,
                    "median_final_distance": ev.median_final_distance,
                }
            )
            state["eval_time"] += time.perf_counter() - t
            if ev.success_rate >= TARGET and state["target_step"] is None:
                state["target_step"], state["target_time"] = self.num_timesteps, train_time
                return not a.stop
            return True

    t0 = time.perf_counter()
    model.learn(total_timesteps=a.max_steps, callback=Eval())
    with (out / "progress.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return {
        "target_step": state["target_step"],
        "target_time": state["target_time"],
        "steps": rows[-1]["step"],
        "train_time": rows[-1]["train_time"],
        "wall_time": time.perf_counter() - t0,
        "final_success": rows[-1]["success_rate"],
        "best_success": max(r["success_rate"] for r in rows),
        "final_median_distance": rows[-1]["median_final_distance"],
    }


def random_baseline(env_id: str, episodes: int = EVAL_EPISODES) -> float:
    """Success rate of uniformly random actions on the evaluation goals (the 'no learning' level)."""
    import numpy as np

    from ikrl_ros.rl.envs import make_env
    from ikrl_ros.rl.evaluation import evaluate

    env = make_env(env_id)
    rng = np.random.default_rng(0)
    res = evaluate(lambda x: rng.uniform(-1, 1, (1, env.action_space.shape[0])), env, episodes)
    env.close()
    return res.success_rate


# ----------------------------------------------------------------------------- driver
def worker_environment(runs: Path) -> dict[str, str]:
    """This environment, with ikrl_ros importable by SB3's interpreter (its own virtualenv) and one torch thread.

    PYTHONPATH gets a folder holding only a link to this package, not the folder it is installed in: that is
    our site-packages when pip-installed, whose torch and gymnasium would shadow the SB3 environment's own.
    """
    folder = runs / "import"
    link = folder / "ikrl_ros"
    folder.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and link.resolve() != PACKAGE_DIR:
        link.unlink()
    if not link.is_symlink():
        link.symlink_to(PACKAGE_DIR, target_is_directory=True)
    python_path = [str(folder.resolve()), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(python_path), "OMP_NUM_THREADS": "1"}


def run(
    impl: str,
    algo: str,
    env: str,
    her: bool,
    seed: int,
    max_steps: int,
    stop: bool,
    runs: Path,
    sb3_python: str,
    eval_every: int = EVAL_EVERY,
    overrides: dict[str, Any] | None = None,
    sb3_defaults: bool = False,
) -> dict[str, Any]:
    tag = f"{impl}_{algo}_{env}_{'her' if her else 'noher'}_s{seed}"
    python = sb3_python if impl == "sb3" else sys.executable
    cmd = [
        python,
        "-m",
        "ikrl_ros.tools.bench_training",
        "--worker",
        impl,
        "--algo",
        algo,
        "--env",
        env,
        "--seed",
        str(seed),
        "--max-steps",
        str(max_steps),
        "--out",
        str(runs / tag),
        "--her" if her else "--no-her",
        "--stop" if stop else "--no-stop",
        "--eval-every",
        str(eval_every),
        "--overrides",
        json.dumps(overrides or {}),
        "--sb3-defaults" if sb3_defaults else "--no-sb3-defaults",
    ]
    proc = subprocess.run(
        cmd,
        stdout=subprocess.PIPE,
        text=True,
        env=worker_environment(runs),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{tag} failed (exit {proc.returncode})")
    res = fill_target(
        {
            "impl": impl,
            "algo": algo,
            "env": env,
            "her": her,
            "seed": seed,
            "run_dir": str(runs / tag),
            **json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1]),
        }
    )
    print(json.dumps(res), flush=True)
    return res


def fill_target(res: dict[str, Any]) -> dict[str, Any]:
    """For runs that were not stopped at the target, find the first evaluation >= TARGET in progress.csv."""
    import csv

    if res["target_step"] is None:
        with (Path(res["run_dir"]) / "progress.csv").open() as f:
            hit = next((r for r in csv.DictReader(f) if float(r["success_rate"]) >= TARGET), None)
        if hit is not None:
            res["target_step"], res["target_time"] = int(hit["step"]), float(hit["train_time"])
    return res


def fmt_target(rs: list[dict[str, Any]]) -> tuple[str, str]:
    """'median (min-max)' of steps and seconds to the target over seeds; runs that never got there count."""
    hit = [r for r in rs if r["target_step"] is not None]
    if not hit:
        return f"not reached in {rs[0]['steps']:,}", "-"
    steps = [r["target_step"] for r in hit]
    secs = [r["target_time"] for r in hit]
    miss = "" if len(hit) == len(rs) else f" ({len(rs) - len(hit)}/{len(rs)} never)"
    if len(rs) == 1:
        return f"{steps[0]:,}", f"{secs[0]:.1f}"
    return (
        f"{statistics.median(steps):,.0f} ({min(steps):,}-{max(steps):,}){miss}",
        f"{statistics.median(secs):.1f} ({min(secs):.1f}-{max(secs):.1f})",
    )


def write_docs(
    results: list[dict[str, Any]], baselines: dict[str, float], command: str, doc: Path, figures: Path
) -> None:
    from ikrl_ros.rl.plotting import plot_runs

    def group(**kw: Any) -> list[dict[str, Any]]:
        return [r for r in results if all(r[k] == v for k, v in kw.items())]

    lines = [
        "",
        f"Produced by `{command}` on {time.strftime('%Y-%m-%d')} "
        "(2 CPU cores, one torch thread; median over seeds, range in parentheses; seconds are training "
        "seconds to the first evaluation at >= 95 %, evaluation excluded).",
        "",
        "### PandaReach-v3, sparse reward, HER (future, k = 4): ours vs Stable-Baselines3",
        "",
        "| algorithm | ours: steps | ours: seconds | SB3: steps | SB3: seconds | speed-up (time) |",
        "|---|---|---|---|---|---|",
    ]
    for algo in ("ddpg", "td3", "sac"):
        ours, sb3 = (
            group(impl="ours", algo=algo, env="PandaReach-v3", her=True),
            group(impl="sb3", algo=algo, env="PandaReach-v3", her=True),
        )
        if not ours:
            continue
        o_steps, o_secs = fmt_target(ours)
        s_steps, s_secs = fmt_target(sb3) if sb3 else ("-", "-")
        o_t = [r["target_time"] for r in ours if r["target_time"]]
        s_t = [r["target_time"] for r in sb3 if r["target_time"]]
        speed = f"{statistics.median(s_t) / statistics.median(o_t):.1f}x" if o_t and s_t else "-"
        lines.append(f"| {algo.upper()} | {o_steps} | {o_secs} | {s_steps} | {s_secs} | {speed} |")
    lines += [
        "",
        "### Other settings (ours)",
        "",
        "| environment | HER | algorithm | steps to 95 % | seconds to 95 % | success at the end (per seed) |",
        "|---|---|---|---|---|---|",
    ]
    for env, her in (
        ("PandaReach-v3", False),
        ("PandaReachDense-v3", True),
        ("PandaReachDense-v3", False),
        ("PandaReachJoints-v3", True),
    ):
        for algo in ("ddpg", "td3", "sac"):
            rs = group(impl="ours", algo=algo, env=env, her=her)
            if rs:
                steps, secs = fmt_target(rs)
                fin = ", ".join(f"{r['final_success']:.0%} at {r['steps']:,}" for r in rs)
                lines.append(f"| {env} | {'yes' if her else 'no'} | {algo.upper()} | {steps} | {secs} | {fin} |")
    sb3_noher = [r for r in results if r["impl"] == "sb3" and not r["her"]]
    for r in sb3_noher:
        steps, secs = fmt_target([r])
        lines.append(
            f"| {r['env']} (SB3) | no | {r['algo'].upper()} | {steps} | {secs} | "
            f"{r['final_success']:.0%} at {r['steps']:,} (best {r['best_success']:.0%}) |"
        )
    lines += [
        "",
        "Random actions on the same 50 goals: " + ", ".join(f"{k} {v:.0%}" for k, v in baselines.items()) + ".",
        "",
    ]

    figures.mkdir(parents=True, exist_ok=True)
    for name, sel, title in (
        ("reach_her_ours_vs_sb3", dict(env="PandaReach-v3", her=True), "PandaReach-v3 + HER (sparse)"),
        ("reach_no_her", dict(env="PandaReach-v3", her=False), "PandaReach-v3 without HER (sparse)"),
        ("reach_dense", dict(env="PandaReachDense-v3"), "PandaReachDense-v3 with / without HER"),
        ("reach_joints_her", dict(env="PandaReachJoints-v3", her=True), "PandaReachJoints-v3 + HER"),
    ):
        rs = [r for r in group(**sel) if r["seed"] == min(x["seed"] for x in group(**sel))]
        if rs:
            labels = [f"{r['impl']} {r['algo'].upper()}{' + HER' if r['her'] else ''}" for r in rs]
            plot_runs([r["run_dir"] for r in rs], figures / f"{name}.png", labels, title)
            lines.append(f"![{title}](figures/{name}.png)")
    write_section(doc, MARKER, "\n".join(lines))


def run_workspace_suite(a: argparse.Namespace, argv: list[str] | None) -> int:
    """Ours (shipped workspace settings) vs SB3 (its defaults), SAC + HER on IkrlReach-v0, to >= 95 % within 5 mm."""
    command = "ikrl bench training " + " ".join(argv if argv is not None else sys.argv[1:])
    results_path = a.runs / "workspace_results.json"
    if not a.docs_only:
        a.runs.mkdir(parents=True, exist_ok=True)
        results = []
        for impl in ("ours", "sb3"):
            for seed in a.seeds if impl == "ours" else (a.sb3_seeds or a.seeds):
                results.append(
                    run(
                        impl,
                        "sac",
                        WORKSPACE_ENV,
                        True,
                        seed,
                        WORKSPACE_MAX_STEPS,
                        True,
                        a.runs,
                        a.sb3_python,
                        WORKSPACE_EVAL_EVERY,
                        WORKSPACE_OURS if impl == "ours" else None,
                        sb3_defaults=True,
                    )
                )
                results_path.write_text(json.dumps({"results": results, "command": command}, indent=1))
    saved = json.loads(results_path.read_text())
    write_workspace_docs(saved["results"], saved["command"], a.doc, a.figures)
    return 0


def write_workspace_docs(results: list[dict[str, Any]], command: str, doc: Path, figures: Path) -> None:
    from ikrl_ros.rl.plotting import plot_runs

    lines = [
        "",
        f"Produced by `{command}` on {time.strftime('%Y-%m-%d')} (2 CPU cores, one torch "
        "thread). SAC + HER (future, k = 4) on IkrlReach-v0; evaluation every 2,000 steps on the same 50 seeded "
        "goals (random start posture, 2 s); target: >= 95 % of goals within 5 mm. Ours: the shipped workspace "
        f"settings ({WORKSPACE_OURS}, other fields at our defaults). SB3 2.9: `SAC('MultiInputPolicy', env, "
        "replay_buffer_class=HerReplayBuffer, replay_buffer_kwargs=dict(n_sampled_goal=4, "
        "goal_selection_strategy='future'))`, everything else at SB3's defaults.",
        "",
        "| implementation | seed | steps to target | training seconds to target | success at the end | median final "
        "distance at the end | steps run |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        steps, secs = fmt_target([r])
        lines.append(
            f"| {r['impl']} | {r['seed']} | {steps} | {secs} | {r['final_success']:.0%} | "
            f"{r['final_median_distance'] * 1000:.2f} mm | {r['steps']:,} |"
        )
    figures.mkdir(parents=True, exist_ok=True)
    plot_runs(
        [r["run_dir"] for r in results],
        figures / "workspace_ours_vs_sb3.png",
        [f"{r['impl']} SAC + HER, seed {r['seed']}" for r in results],
        "IkrlReach-v0: success within 5 mm",
    )
    lines += ["", "![IkrlReach-v0, ours vs SB3](figures/workspace_ours_vs_sb3.png)"]
    write_section(doc, WORKSPACE_MARKER, "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sb3-python", default="/tmp/sb3venv/bin/python", help="interpreter with stable-baselines3")
    p.add_argument("--algos", nargs="+", default=["ddpg", "td3", "sac"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--sb3-seeds", nargs="+", type=int, help="default: --seeds")
    p.add_argument(
        "--suites",
        nargs="+",
        default=["her", "noher", "dense", "joints"],
        choices=["her", "noher", "dense", "joints", "workspace"],
        help="'workspace' runs alone: IkrlReach-v0, ours vs SB3 at its defaults",
    )
    p.add_argument("--runs", type=Path, default=Path("runs/bench"))
    p.add_argument("--doc", type=Path, default=Path("docs/training.md"))
    p.add_argument("--figures", type=Path, default=Path("docs/figures"))
    p.add_argument("--no-docs", action="store_true")
    p.add_argument("--docs-only", action="store_true", help="rebuild docs from RUNS/results.json, run nothing")
    # worker mode (internal)
    p.add_argument("--worker", choices=["ours", "sb3"], help=argparse.SUPPRESS)
    p.add_argument("--algo", help=argparse.SUPPRESS)
    p.add_argument("--env", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    p.add_argument("--max-steps", type=int, help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--her", action=argparse.BooleanOptionalAction, default=True, help=argparse.SUPPRESS)
    p.add_argument("--stop", action=argparse.BooleanOptionalAction, default=True, help=argparse.SUPPRESS)
    p.add_argument("--eval-every", type=int, default=EVAL_EVERY, help=argparse.SUPPRESS)
    p.add_argument("--overrides", default="{}", help=argparse.SUPPRESS)
    p.add_argument("--sb3-defaults", action=argparse.BooleanOptionalAction, default=False, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        print(json.dumps((worker_ours if a.worker == "ours" else worker_sb3)(a)))
        return 0

    if "workspace" in a.suites:
        return run_workspace_suite(a, argv)
    results_path = a.runs / "results.json"
    if a.docs_only:
        saved = json.loads(results_path.read_text())
        write_docs([fill_target(r) for r in saved["results"]], saved["random"], saved["command"], a.doc, a.figures)
        return 0
    command = "ikrl bench training " + " ".join(argv if argv is not None else sys.argv[1:])
    a.runs.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    plan: list[tuple[str, str, str, bool, int, int, bool]] = []
    for algo in a.algos:
        if "her" in a.suites:
            plan += [("ours", algo, "PandaReach-v3", True, s, 20_000, True) for s in a.seeds]
            plan += [("sb3", algo, "PandaReach-v3", True, s, 20_000, True) for s in (a.sb3_seeds or a.seeds)]
        if "noher" in a.suites:
            plan += [("ours", algo, "PandaReach-v3", False, a.seeds[0], 10_000, False)]
        if "dense" in a.suites:
            plan += [("ours", algo, "PandaReachDense-v3", her, a.seeds[0], 10_000, True) for her in (True, False)]
        if "joints" in a.suites:
            plan += [("ours", algo, "PandaReachJoints-v3", True, s, 30_000, True) for s in a.seeds]
    if "noher" in a.suites:
        plan += [("sb3", "ddpg", "PandaReach-v3", False, a.seeds[0], 10_000, False)]
    for impl, algo, env, her, seed, max_steps, stop in plan:
        results.append(run(impl, algo, env, her, seed, max_steps, stop, a.runs, a.sb3_python))
        results_path.write_text(json.dumps(results, indent=1))
    baselines = {env: random_baseline(env) for env in sorted({r["env"] for r in results})}
    results_path.write_text(json.dumps({"results": results, "random": baselines, "command": command}, indent=1))
    if not a.no_docs:
        write_docs(results, baselines, command, a.doc, a.figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
