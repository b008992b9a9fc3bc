"""`ikrl bench-algorithms`: our SAC + HER against Stable-Baselines3 SAC + HER and sb3-contrib CrossQ + HER, in one
run on one machine, on IkrlReach-v0 with one evaluation.

    ikrl bench-algorithms --steps 60000 --seeds 0 --eval-every 5000   # about 50 min on 2 shared cores, per seed
    ikrl bench-algorithms --steps 1040 --eval-every 520 --eval-episodes 1 --crossq-critic-width 64   # < 1 min

Every run is evaluated every `--eval-every` environment steps by `ikrl_ros.rl.evaluation.evaluate` on the held-out
goals of `ikrl eval` (goal i from env.reset(seed=i), deterministic actions, `--eval-episodes` of them), and its
seconds are training seconds (collection and learning; model construction and evaluation excluded). A run ends at
shipped quality (>= 99 % within 5 mm and a median final distance <= 0.5 mm) or after `--steps`.

- ours: `ikrl_ros.rl.trainer.train` with the shipped workspace policy's command (ikrl_ros/policies/sac_workspace.json:
  its hyperparameter overrides, HER settings, number of environments), whatever the trainer and environment are now.
- SB3 SAC: rl-baselines3-zoo's goal-conditioned reach entry (hyperparams/sac.yml, FetchReach): MultiInputPolicy,
  net [64, 64], batch 256, gamma 0.95, lr 1e-3, buffer 1e6, 1,000 warm-up steps, auto entropy, HER future k = 4,
  VecNormalize (observations and rewards); one environment, one gradient step per step (SB3's defaults).
- CrossQ: sb3-contrib's defaults (batch renormalisation, no target network, policy delay 3, actor [256, 256]) with
  the same goal-conditioned fields as the SAC entry (rl-baselines3-zoo's crossq.yml has no goal-conditioned entry).
  Its critic width is `--crossq-critic-width`, 256 by default: sb3-contrib's default [1024, 1024] (the paper's
  [2048, 2048]) is 16 (64) times the hidden-layer work per update, hours per run at one torch thread; the table
  states the width used. sb3-contrib 2.9 has no MultiInputPolicy for CrossQ, so its policy and replay samples see
  the dict observation flattened.

Writes OUT/algorithms.md (the table, also printed), OUT/results.json and OUT/<algorithm>_s<seed>/evaluations.csv
(for ours beside the trainer's own run files).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ikrl_ros.tools.command import SubParsers

SHIPPED_MANIFEST = Path(__file__).resolve().parents[1] / "policies" / "sac_workspace.json"
"""The shipped position policy's manifest: its `command` is how ours is trained here."""
TARGET_SUCCESS = 0.95
SHIPPED_SUCCESS, SHIPPED_MEDIAN_M = 0.99, 0.0005
ALGORITHMS = ("ours", "sb3-sac", "crossq")
SB3_INSTALL = "pip install stable-baselines3==2.9.2 sb3-contrib==2.9.2  (both in requirements.txt)"
ZOO_GOAL_REACH: dict[str, Any] = dict(
    buffer_size=1_000_000, batch_size=256, gamma=0.95, learning_rate=1e-3, learning_starts=1_000, ent_coef="auto"
)
"""rl-baselines3-zoo's SAC entry for goal-conditioned reach (FetchReach), HER and normalisation set apart."""
HER_KWARGS = dict(goal_selection_strategy="future", n_sampled_goal=4)
DESCRIPTION = "ours vs SB3 SAC and CrossQ (+ HER) on IkrlReach-v0: samples and seconds to 95 % and to shipped quality"


@dataclass
class Evaluation:
    step: int
    train_time: float
    success_rate: float
    median_final_distance: float

    @property
    def shipped_quality(self) -> bool:
        return self.success_rate >= SHIPPED_SUCCESS and self.median_final_distance <= SHIPPED_MEDIAN_M


@dataclass
class RunResult:
    algorithm: str
    seed: int
    settings: str
    evaluations: list[Evaluation] = field(default_factory=list)

    def first(self, reached: Callable[[Evaluation], bool]) -> Evaluation | None:
        return next((e for e in self.evaluations if reached(e)), None)

    @property
    def target(self) -> Evaluation | None:
        return self.first(lambda e: e.success_rate >= TARGET_SUCCESS)

    @property
    def shipped(self) -> Evaluation | None:
        return self.first(lambda e: e.shipped_quality)

    @property
    def last(self) -> Evaluation:
        return self.evaluations[-1]


class EvaluationLog:
    """Collects a run's evaluations, says when it has reached shipped quality, and writes its evaluations.csv."""

    def __init__(self, result: RunResult, out: Path) -> None:
        self.result, self.path = result, out / "evaluations.csv"
        out.mkdir(parents=True, exist_ok=True)

    def add(self, evaluation: Evaluation) -> bool:
        """Record `evaluation`; True once the run may stop (shipped quality reached)."""
        self.result.evaluations.append(evaluation)
        rows = [asdict(e) for e in self.result.evaluations]
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(
            f"[{self.result.algorithm} s{self.result.seed}] step {evaluation.step:,}: "
            f"{evaluation.success_rate:.0%} within 5 mm, median {evaluation.median_final_distance * 1000:.2f} mm, "
            f"{evaluation.train_time:.1f} s",
            flush=True,
        )
        return evaluation.shipped_quality


# ----------------------------------------------------------------------------- ours
def shipped_training_arguments(manifest: Path = SHIPPED_MANIFEST) -> argparse.Namespace:
    """The shipped policy's `ikrl train` command, parsed by `ikrl train`'s own parser."""
    from ikrl_ros.tools import command, learning_commands

    words = shlex.split(json.loads(manifest.read_text())["command"])
    args = command.build_parser(learning_commands.add_subcommands).parse_args(words[1:])
    learning_commands.apply_robot_recipe(args)
    return args


def run_ours(
    shipped: argparse.Namespace, seed: int, steps: int, eval_every: int, eval_episodes: int, out: Path
) -> RunResult:
    """Our trainer with the settings of the shipped policy's command `shipped`."""
    from ikrl_ros.rl.config import make_config
    from ikrl_ros.rl.trainer import Progress, train
    from ikrl_ros.tools import learning_commands

    overrides = learning_commands.train_overrides(shipped)
    settings = f"`{SHIPPED_MANIFEST.name}`: {overrides or 'defaults'}, {shipped.n_envs} envs"
    log = EvaluationLog(RunResult("ours", seed, settings), out)
    done = False

    def record(progress: Progress) -> None:
        nonlocal done
        done = log.add(
            Evaluation(progress.step, progress.train_time, progress.success_rate, progress.median_final_distance)
        )

    train(
        make_config(shipped.algo, **overrides),
        env_id=shipped.env,
        steps=steps,
        seed=seed,
        out_dir=out,
        n_envs=shipped.n_envs,
        eval_every=eval_every,
        eval_episodes=eval_episodes,
        checkpoint_every=0,
        resume=False,
        save_replay=False,
        tensorboard=False,
        progress_bar=False,
        progress_callback=record,
        should_stop=lambda: done,
        env_kwargs=dict(shipped.env_kwarg or []),
    )
    return log.result


# ----------------------------------------------------------------------------- Stable-Baselines3 and sb3-contrib
def sb3_missing() -> str | None:
    """Why the SB3 rows cannot run (None when stable-baselines3 and sb3-contrib import)."""
    try:
        import sb3_contrib  # noqa: F401
        import stable_baselines3  # noqa: F401
    except ImportError as e:
        return f"{e.name} is not installed ({SB3_INSTALL})"
    return None


def flat_goal_crossq() -> tuple[type, type]:
    """CrossQ's policy and SB3's HER buffer for a dict-observation goal env, seen flat in ikrl's `KEYS` order.

    CrossQ concatenates observations and next observations for one joint critic pass, which dict observations
    do not allow; flattening at the policy's input and at the replay's output keeps HER's relabelling as it is.
    """
    import torch
    from gymnasium import spaces
    from sb3_contrib.crossq.policies import CrossQPolicy
    from stable_baselines3 import HerReplayBuffer
    from stable_baselines3.common.type_aliases import ReplayBufferSamples

    from ikrl_ros.rl.envs import KEYS

    class FlatGoalCrossQPolicy(CrossQPolicy):
        def __init__(self, observation_space: spaces.Dict, *args: Any, **kwargs: Any) -> None:
            parts = [observation_space[key] for key in KEYS]
            flat = spaces.Box(
                np.concatenate([p.low for p in parts]), np.concatenate([p.high for p in parts]), dtype=np.float32
            )
            super().__init__(flat, *args, **kwargs)
            self.goal_sizes = [p.shape[0] for p in parts]

        def obs_to_tensor(self, observation: Any) -> tuple[Any, bool]:
            if isinstance(observation, dict):
                observation = np.concatenate(
                    [
                        np.asarray(observation[k], np.float32).reshape(-1, n)
                        for k, n in zip(KEYS, self.goal_sizes, strict=True)
                    ],
                    -1,
                )
            return super().obs_to_tensor(observation)

    class FlatHerReplayBuffer(HerReplayBuffer):
        def sample(self, batch_size: int, env: Any = None) -> ReplayBufferSamples:
            s = super().sample(batch_size, env)
            obs, next_obs = (torch.cat([o[k] for k in KEYS], dim=-1) for o in (s.observations, s.next_observations))
            return ReplayBufferSamples(obs, s.actions, next_obs, s.dones, s.rewards, s.discounts)

    return FlatGoalCrossQPolicy, FlatHerReplayBuffer


def run_sb3(
    algorithm: str,
    shipped: argparse.Namespace,
    seed: int,
    steps: int,
    eval_every: int,
    eval_episodes: int,
    out: Path,
    critic_width: int,
) -> RunResult:
    """SB3's SAC or sb3-contrib's CrossQ on the environment of the shipped policy's command `shipped`."""
    import torch
    from sb3_contrib import CrossQ
    from stable_baselines3 import SAC, HerReplayBuffer
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from ikrl_ros.rl.envs import KEYS, make_env
    from ikrl_ros.rl.evaluation import evaluate
    from ikrl_ros.rl.trainer import TRAINING_SEED_OFFSET

    torch.set_num_threads(1)
    env_kwargs = dict(shipped.env_kwarg or [])
    env = VecNormalize(DummyVecEnv([lambda: make_env(shipped.env, **env_kwargs)]), gamma=ZOO_GOAL_REACH["gamma"])
    eval_env = make_env(shipped.env, **env_kwargs)
    common = dict(ZOO_GOAL_REACH, replay_buffer_kwargs=HER_KWARGS, seed=seed, device="cpu")
    if algorithm == "sb3-sac":
        model = SAC(
            "MultiInputPolicy",
            env,
            replay_buffer_class=HerReplayBuffer,
            policy_kwargs=dict(net_arch=[64, 64]),
            **common,
        )
        settings = "rl-zoo FetchReach: net [64, 64], HER future k=4, VecNormalize, 1 env"
    else:
        policy, buffer = flat_goal_crossq()
        model = CrossQ(
            policy,
            env,
            replay_buffer_class=buffer,
            policy_kwargs=dict(net_arch=dict(pi=[256, 256], qf=[critic_width, critic_width])),
            **common,
        )
        settings = f"sb3-contrib defaults, critic [{critic_width}, {critic_width}], rl-zoo goal-reach fields"
    env.seed(TRAINING_SEED_OFFSET + 1_000 * seed)  # training goals apart from the evaluation's, as ours
    sizes = [eval_env.observation_space[k].shape[0] for k in KEYS]

    def act(flat: np.ndarray) -> np.ndarray:
        parts = np.split(flat, np.cumsum(sizes)[:-1], axis=-1)
        obs = env.normalize_obs(dict(zip(KEYS, parts, strict=True)))
        return model.predict(obs, deterministic=True)[0]

    log = EvaluationLog(RunResult(algorithm, seed, settings), out)

    class PeriodicEvaluation(BaseCallback):
        """Evaluates every `eval_every` steps and at the end; the clock stops while it does."""

        def _on_training_start(self) -> None:
            self.started, self.evaluating, self.last_evaluated = time.perf_counter(), 0.0, 0

        def evaluate_now(self) -> bool:
            began = time.perf_counter()
            result = evaluate(act, eval_env, eval_episodes)
            self.last_evaluated = self.num_timesteps
            train_time = began - self.started - self.evaluating
            done = log.add(
                Evaluation(self.num_timesteps, train_time, result.success_rate, result.median_final_distance)
            )
            self.evaluating += time.perf_counter() - began
            return done

        def _on_step(self) -> bool:
            return self.num_timesteps % eval_every != 0 or not self.evaluate_now()

        def _on_training_end(self) -> None:
            if self.num_timesteps != self.last_evaluated:
                self.evaluate_now()

    try:
        model.learn(total_timesteps=steps, callback=PeriodicEvaluation())
    finally:
        env.close()
        eval_env.close()
    return log.result


# ----------------------------------------------------------------------------- table
def median_or_none(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


@dataclass
class Row:
    """One algorithm's runs summarised over seeds (medians over the seeds that reached a level)."""

    algorithm: str
    settings: str
    seeds: int
    target_steps: float | None
    target_seconds: float | None
    target_hits: int
    shipped_steps: float | None
    shipped_seconds: float | None
    shipped_hits: int
    final_success: float
    final_median_mm: float
    steps_run: float
    seconds_run: float

    @classmethod
    def of(cls, runs: list[RunResult]) -> Row:
        targets = [r.target for r in runs if r.target]
        shipped = [r.shipped for r in runs if r.shipped]
        return cls(
            runs[0].algorithm,
            runs[0].settings,
            len(runs),
            median_or_none([e.step for e in targets]),
            median_or_none([e.train_time for e in targets]),
            len(targets),
            median_or_none([e.step for e in shipped]),
            median_or_none([e.train_time for e in shipped]),
            len(shipped),
            statistics.median(r.last.success_rate for r in runs),
            statistics.median(r.last.median_final_distance for r in runs) * 1000,
            statistics.median(r.last.step for r in runs),
            statistics.median(r.last.train_time for r in runs),
        )


def reached(value: float | None, hits: int, seeds: int, unit: str, ran: float) -> str:
    if value is None:
        return f"not in {ran:,.0f}" if unit == "" else f"not in {ran:.1f} s"
    text = f"{value:,.0f}" if unit == "" else f"{value:.1f} s"
    return text if hits == seeds else f"{text} ({hits}/{seeds} seeds)"


def ratio(value: float | None, ran: float, ours: float | None, ours_ran: float) -> str:
    """value / ours; a run that never got there counts its whole budget, which makes the ratio a bound."""
    if value is not None and ours is not None:
        return f"{value / ours:.2f}x"
    if ours is not None:
        return f"> {ran / ours:.2f}x"
    if value is not None:
        return f"< {value / ours_ran:.2f}x"
    return "-"


def table(results: list[RunResult], header: str) -> str:
    rows = [
        Row.of([r for r in results if r.algorithm == a]) for a in ALGORITHMS if any(r.algorithm == a for r in results)
    ]
    lines = [
        header,
        "",
        "| algorithm | samples to >= 95 % within 5 mm | seconds to it | samples to shipped quality | seconds to it | "
        "final success | final median distance | samples run | training seconds | settings |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.algorithm} | {reached(row.target_steps, row.target_hits, row.seeds, '', row.steps_run)} | "
            f"{reached(row.target_seconds, row.target_hits, row.seeds, ' s', row.seconds_run)} | "
            f"{reached(row.shipped_steps, row.shipped_hits, row.seeds, '', row.steps_run)} | "
            f"{reached(row.shipped_seconds, row.shipped_hits, row.seeds, ' s', row.seconds_run)} | "
            f"{row.final_success:.0%} | {row.final_median_mm:.2f} mm | {row.steps_run:,.0f} | {row.seconds_run:.1f} | "
            f"{row.settings} |"
        )
    ours = next((row for row in rows if row.algorithm == "ours"), None)
    if ours is not None:
        lines += [
            "",
            "Ratios to ours (> or <: one of the two never got there in its budget, which counts in full, so a bound; "
            "-: neither did):",
            "",
            "| algorithm | samples to 95 % | seconds to 95 % | samples to shipped quality | seconds to shipped "
            "quality |",
            "|---|---|---|---|---|",
        ]
        for row in rows:
            if row is not ours:
                cells = [
                    ratio(row.target_steps, row.steps_run, ours.target_steps, ours.steps_run),
                    ratio(row.target_seconds, row.seconds_run, ours.target_seconds, ours.seconds_run),
                    ratio(row.shipped_steps, row.steps_run, ours.shipped_steps, ours.steps_run),
                    ratio(row.shipped_seconds, row.seconds_run, ours.shipped_seconds, ours.seconds_run),
                ]
                lines.append(f"| {row.algorithm} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def machine() -> str:
    import torch

    versions = [f"torch {torch.__version__}"]
    for name in ("stable_baselines3", "sb3_contrib"):
        try:
            versions.append(f"{name} {__import__(name).__version__}")
        except ImportError:
            pass
    return f"{platform.machine()}, {os.cpu_count()} cores, one torch thread, {', '.join(versions)}"


def load_average() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--algorithms", nargs="+", choices=ALGORITHMS, default=list(ALGORITHMS))
    p.add_argument("--steps", type=int, default=60_000, help="environment steps per run at most")
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--eval-every", type=int, default=5_000, help="environment steps between evaluations")
    p.add_argument("--eval-episodes", type=int, default=100, help="held-out goals (seeds 0..n-1, as `ikrl eval`)")
    p.add_argument("--crossq-critic-width", type=int, default=256, help="CrossQ critic hidden width")
    p.add_argument("--out", type=Path, default=Path("runs/bench/algorithms"))


def command_line(a: argparse.Namespace) -> str:
    """The command that reproduces `a`, for the table's header."""
    return shlex.join(
        [
            "ikrl",
            "bench-algorithms",
            "--algorithms",
            *a.algorithms,
            "--steps",
            str(a.steps),
            "--seeds",
            *map(str, a.seeds),
            "--eval-every",
            str(a.eval_every),
            "--eval-episodes",
            str(a.eval_episodes),
            "--crossq-critic-width",
            str(a.crossq_critic_width),
            "--out",
            str(a.out),
        ]
    )


def run_benchmark(a: argparse.Namespace) -> int:
    algorithms = list(a.algorithms)
    missing = sb3_missing()
    if missing and set(algorithms) - {"ours"}:
        print(f"skipping SB3 SAC and CrossQ: {missing}", flush=True)
        algorithms = [x for x in algorithms if x == "ours"]
    shipped = shipped_training_arguments()
    load_before = load_average()
    results: list[RunResult] = []
    for seed in a.seeds:
        for algorithm in algorithms:
            out = a.out / f"{algorithm}_s{seed}"
            if algorithm == "ours":
                results.append(run_ours(shipped, seed, a.steps, a.eval_every, a.eval_episodes, out))
            else:
                results.append(
                    run_sb3(
                        algorithm, shipped, seed, a.steps, a.eval_every, a.eval_episodes, out, a.crossq_critic_width
                    )
                )
            write_report(a, shipped.env, results, load_before, missing)
    print(write_report(a, shipped.env, results, load_before, missing), flush=True)
    return 0


def write_report(
    a: argparse.Namespace, env_id: str, results: list[RunResult], load_before: str, missing: str | None
) -> str:
    """OUT/algorithms.md and OUT/results.json for the runs so far (rewritten after each, so a long run that is
    interrupted still leaves its table)."""
    header = (
        f"Produced by `{command_line(a)}` on {time.strftime('%Y-%m-%d %H:%M')} ({machine()}; load average "
        f"1/5/15 min {load_before} before, {load_average()} after). {env_id}, HER; every run evaluated every "
        f"{a.eval_every:,} steps on the {a.eval_episodes} held-out goals of `ikrl eval`; seeds {a.seeds} (medians "
        f"over seeds); a run ends at shipped quality (>= {SHIPPED_SUCCESS:.0%} within 5 mm, median <= "
        f"{SHIPPED_MEDIAN_M * 1000} mm) or after {a.steps:,} steps; seconds are training seconds (evaluation "
        "excluded)." + (f" Skipped SB3 SAC and CrossQ: {missing}." if missing else "")
    )
    text = table(results, header)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "algorithms.md").write_text(text)
    (a.out / "results.json").write_text(
        json.dumps({"command": command_line(a), "results": [asdict(r) for r in results]}, indent=1)
    )
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ikrl bench-algorithms", description=DESCRIPTION)
    add_arguments(p)
    return run_benchmark(p.parse_args(argv))


def add_subcommands(subparsers: SubParsers) -> None:
    """Register `ikrl bench-algorithms`."""
    p = subparsers.add_parser("bench-algorithms", help=DESCRIPTION, description=DESCRIPTION)
    add_arguments(p)
    p.set_defaults(func=run_benchmark)


if __name__ == "__main__":
    sys.exit(main())
