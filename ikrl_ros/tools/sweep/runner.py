"""Ray Tune around the trial: a local Ray by default or a cluster by address, Optuna proposals, ASHA early
stopping, and a restore from Tune's experiment state when the sweep directory already holds one."""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from pathlib import Path
from typing import Any

from ikrl_ros.tools.sweep.results import TrialRow, collect, format_value
from ikrl_ros.tools.sweep.spec import SpecError, SweepSpec
from ikrl_ros.tools.sweep.trial import TRIALS_DIR, run_trial

EXPERIMENT = "tune"
"""Tune's experiment directory inside the sweep directory (its state, per-trial results, Tune checkpoints)."""
SPEC_COPY = "spec.yaml"
SESSIONS = "sessions.json"


def prepare_out(spec: SweepSpec, out: Path) -> bool:
    """Create the sweep directory or check it holds this very sweep; True if it is to be resumed."""
    copy = out / SPEC_COPY
    if copy.exists():
        if copy.read_text() != spec.source:
            raise SpecError(
                f"{out} holds a sweep with another spec ({copy}); a resumed sweep must keep its spec: "
                "choose another --out or delete that directory"
            )
    else:
        out.mkdir(parents=True, exist_ok=True)
        copy.write_text(spec.source)
    return (out / EXPERIMENT).exists()


def _tune_space(spec: SweepSpec) -> dict[str, Any]:
    from ray import tune

    space: dict[str, Any] = {}
    for p in spec.search:
        if p.kind == "choice":
            space[p.key] = tune.choice([json.dumps(v) for v in p.values] if p.encoded else list(p.values))
        elif p.kind == "uniform":
            space[p.key] = tune.uniform(*p.values)
        elif p.kind == "loguniform":
            space[p.key] = tune.loguniform(*p.values)
        else:  # int, inclusive of high
            space[p.key] = tune.randint(p.values[0], p.values[1] + 1)
    return space


def _encoded_points(spec: SweepSpec) -> list[dict[str, Any]]:
    by_key = {p.key: p for p in spec.search}
    return [
        {k: json.dumps(v) if by_key[k].encoded else v for k, v in point.items()} for point in spec.points_to_evaluate
    ]


def _progress_callback(spec: SweepSpec) -> Any:
    from ray import tune

    class ProgressLines(tune.Callback):
        """One compact line per report and per finished trial, printed by the driver."""

        def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
            metric, std = result[spec.metric], result[f"{spec.metric}_std"]
            params = ", ".join(f"{p.key}={format_value(trial.config.get(p.key))}" for p in spec.search)
            print(
                f"[sweep] trial {trial.trial_id} step {result['step']:,}/{spec.steps:,}: {spec.metric} "
                f"{metric:.4g} ± {std:.2g} over {len(spec.seeds)} seeds ({params})",
                flush=True,
            )

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            step = (trial.last_result or {}).get("step", 0)
            how = "finished" if step >= spec.steps else f"stopped early at step {step:,}"
            done = sum(t is trial or t.status in ("TERMINATED", "ERROR") for t in trials)
            print(f"[sweep] trial {trial.trial_id} {how} ({done}/{spec.trials} trials done)", flush=True)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            print(f"[sweep] trial {trial.trial_id} failed: see {trial.path}/error.txt", flush=True)

    return ProgressLines()


def _trainable(spec: SweepSpec, out: Path, cpus_per_trial: float) -> Any:
    from ray import tune

    return tune.with_resources(tune.with_parameters(run_trial, spec=spec, out=str(out)), {"cpu": cpus_per_trial})


def _error_text(error: BaseException | None) -> str | None:
    if error is None:
        return None
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else type(error).__name__)[:160]


def init_ray(address: str | None, cpus: int | None) -> None:
    """A fresh local Ray sized to `cpus` (never an existing one by accident), or the cluster at `address`."""
    import ray

    # Tune's own console output (experiment boxes, a TensorBoard hint into Ray's temporary directory) gives
    # way to the compact ProgressLines; verbose=0 with the classic reporter prints nothing.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    quiet = {"logging_level": logging.ERROR, "log_to_driver": True}
    if address:
        ray.init(address=address, **quiet)
    else:
        ray.init(address="local", num_cpus=cpus or os.cpu_count() or 1, include_dashboard=False, **quiet)


def _new_tuner(spec: SweepSpec, out: Path, trainable: Any, max_concurrent: int | None) -> Any:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if spec.searcher == "optuna":
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        search_alg: Any = OptunaSearch(
            points_to_evaluate=_encoded_points(spec) or None,
            sampler=optuna.samplers.TPESampler(seed=spec.seed, n_startup_trials=spec.startup_trials),
        )
    else:
        from ray.tune.search.basic_variant import BasicVariantGenerator

        search_alg = BasicVariantGenerator(points_to_evaluate=_encoded_points(spec) or None, random_state=spec.seed)
    scheduler: Any = (
        ASHAScheduler(
            time_attr="step", max_t=spec.steps, grace_period=spec.grace_period, reduction_factor=spec.reduction_factor
        )
        if spec.scheduler == "asha"
        else FIFOScheduler()
    )
    return tune.Tuner(
        trainable,
        param_space=_tune_space(spec),
        tune_config=tune.TuneConfig(
            metric=spec.metric,
            mode=spec.mode,
            search_alg=search_alg,
            scheduler=scheduler,
            num_samples=spec.trials,
            max_concurrent_trials=max_concurrent,
            time_budget_s=spec.time_budget_s,
        ),
        run_config=tune.RunConfig(
            name=EXPERIMENT,
            storage_path=str(out),
            verbose=0,
            callbacks=[_progress_callback(spec)],
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            failure_config=tune.FailureConfig(max_failures=0),
        ),
    )


def run(
    spec: SweepSpec, out: Path, cpus_per_trial: float, max_concurrent: int | None, report_only: bool = False
) -> list[TrialRow]:
    """Run (or resume) the sweep on the Ray that `init_ray` started, or with `report_only` just read the
    experiment's results; return the ranked rows."""
    import ray
    from ray import tune

    experiment = out / EXPERIMENT
    trainable = _trainable(spec, out, cpus_per_trial)
    if tune.Tuner.can_restore(str(experiment)):
        if not report_only:
            print(f"[sweep] resuming {experiment} (finished trials are kept)", flush=True)
        tuner = tune.Tuner.restore(str(experiment), trainable, resume_unfinished=True, resume_errored=True)
    elif report_only:
        raise SpecError(f"{experiment} holds no Tune experiment to report on")
    else:
        tuner = _new_tuner(spec, out, trainable, max_concurrent)
    results = tuner.get_results() if report_only else tuner.fit()
    trials = []
    for result in results:
        metrics = result.metrics or {}
        trial_id = metrics.get("trial_id") or Path(result.path).name
        trials.append((trial_id, result.config or {}, int(metrics.get("step", 0)), _error_text(result.error)))
    if ray.is_initialized():
        ray.shutdown()
    return collect(spec, out, trials)


def record_session(out: Path, command: str, wall_time: float, cpus: str, started: float) -> dict[str, Any]:
    """Append this invocation to out/sessions.json and return `session_totals`.

    A resumed sweep has several sessions; one that found everything done (only rewrote the outputs) did
    not train and does not count towards the sweep's wall time.
    """
    trained = any(p.stat().st_mtime >= started for p in out.glob(f"{TRIALS_DIR}/*/seed_*/progress.csv"))
    path = out / SESSIONS
    sessions = json.loads(path.read_text()) if path.exists() else []
    ended = time.strftime("%Y-%m-%d %H:%M")
    sessions.append(
        {"command": command, "wall_time_s": round(wall_time, 1), "ray_cpus": cpus, "trained": trained, "ended": ended}
    )
    path.write_text(json.dumps(sessions, indent=2))
    return session_totals(out)


def session_totals(out: Path) -> dict[str, Any]:
    """Sessions that trained: how many, the first one's command, their summed wall time, their Ray CPUs."""
    path = out / SESSIONS
    counted = [s for s in (json.loads(path.read_text()) if path.exists() else []) if s["trained"]]
    return {
        "sessions": len(counted),
        "command": counted[0].get("command") if counted else None,
        "wall_time_s": sum(s["wall_time_s"] for s in counted),
        "ray_cpus": ", ".join(dict.fromkeys(s["ray_cpus"] for s in counted)) or "none",
    }


def machine_facts(totals: dict[str, Any]) -> str:
    import optuna
    import ray

    sessions = totals["sessions"]
    resumed = f" in {sessions} sessions (resumed)" if sessions > 1 else ""
    minutes = totals["wall_time_s"] / 60
    return (
        f"Ray {ray.__version__}, Optuna {optuna.__version__}, Ray CPUs: {totals['ray_cpus']}, on "
        f"{platform.machine()} with {os.cpu_count()} cores; sweep wall time {minutes:.1f} min{resumed}."
    )
