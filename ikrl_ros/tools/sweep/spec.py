"""The sweep spec (a YAML file): what to train, the search space over trainer config fields, the metric, the budget.

Everything is checked here, before Ray starts, so a typo costs a message and exit code 2, not a cluster
allocation: unknown keys, config fields the algorithm does not have, values of the wrong type, empty or
inverted ranges, log ranges through zero, an unknown metric, algorithm or environment.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ikrl_ros.rl.config import CONFIGS, make_config

METRICS: dict[str, str] = {
    "median_final_distance": "min",
    "success_rate": "max",
    "mean_reward": "max",
}
"""Evaluation figures the trainer reports (``Progress``) and whether smaller or larger is better."""

METRIC_NOTES: dict[str, str] = {
    "median_final_distance": "median distance (m) to the goal at the end of the evaluation episodes",
    "success_rate": "fraction of evaluation goals within the environment's tolerance (IkrlReach*: 5 mm)",
    "mean_reward": "mean undiscounted evaluation return",
}

DISTRIBUTIONS = ("choice", "uniform", "loguniform", "int")
"""``choice: [a, b, ...]``, ``uniform: [low, high]``, ``loguniform: [low, high]``, ``int: [low, high]`` (inclusive)."""

SEARCHERS = ("optuna", "random")
SCHEDULERS = ("asha", "none")

TOP_LEVEL_KEYS = {
    "name": "sweep name: the default output directory is runs/sweeps/<name>",
    "algo": f"algorithm, one of {sorted(CONFIGS)}",
    "env": "gymnasium id of a goal-conditioned environment (as `ikrl train --env`)",
    "env_kwargs": "environment keyword arguments (as `ikrl train --env-kwarg`)",
    "steps": "environment steps per seed of a configuration that is not stopped early",
    "report_every": "steps between evaluations; each is one report to Tune (one ASHA rung candidate)",
    "eval_episodes": "evaluation goals per evaluation (seeded 0..n-1, the same for every trial)",
    "n_envs": "environments stepped in parallel inside one training run (as `ikrl train --n-envs`)",
    "seeds": "number of seeds per configuration (0..n-1) or an explicit list",
    "fixed": "config fields set for every trial (as `--set`)",
    "search": "config fields searched: {field: {choice|uniform|loguniform|int: ...}}",
    "points_to_evaluate": "configurations tried first (e.g. the shipped settings), each {field: value} over `search`",
    "metric": f"what is optimised, one of {sorted(METRICS)}",
    "trials": "configurations to try (the budget)",
    "time_budget_s": "optional wall-time budget of the whole sweep in seconds",
    "searcher": f"how configurations are proposed, one of {list(SEARCHERS)}",
    "scheduler": "early stopping: {type: asha|none, grace_period: steps, reduction_factor: r}",
    "cpus_per_trial": "CPUs reserved per trial (a trial trains its seeds one after another)",
    "seed": "seed of the searcher (Optuna's TPE sampler)",
    "startup_trials": "random configurations before Optuna's TPE models the results (its n_startup_trials, 10)",
    "tensorboard": "write TensorBoard logs in every seed's run directory",
}


class SpecError(ValueError):
    """A sweep spec that cannot run; the message names the file and the key."""


@dataclass(frozen=True)
class Param:
    """One searched config field."""

    key: str
    kind: str
    values: tuple[Any, ...]
    """(low, high) for ranges, the options for ``choice``."""

    @property
    def encoded(self) -> bool:
        """Choices that are lists (e.g. hidden_sizes) travel through Tune/Optuna as JSON strings."""
        return self.kind == "choice" and any(isinstance(v, (list, tuple, dict)) for v in self.values)

    def decode(self, value: Any) -> Any:
        return json.loads(value) if self.encoded else value


@dataclass(frozen=True)
class SweepSpec:
    name: str
    algo: str
    env: str
    steps: int
    metric: str
    search: tuple[Param, ...]
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    report_every: int = 0
    eval_episodes: int = 50
    n_envs: int = 2
    seeds: tuple[int, ...] = (0, 1)
    fixed: dict[str, Any] = field(default_factory=dict)
    points_to_evaluate: tuple[dict[str, Any], ...] = ()
    trials: int = 8
    time_budget_s: float | None = None
    searcher: str = "optuna"
    scheduler: str = "asha"
    grace_period: int = 0
    reduction_factor: float = 2.0
    cpus_per_trial: float = 1.0
    seed: int = 0
    startup_trials: int = 10
    tensorboard: bool = True
    source: str = ""
    """The spec file's text, kept so a resumed sweep can check it is the same sweep."""

    @property
    def mode(self) -> str:
        return METRICS[self.metric]

    def report_steps(self) -> list[int]:
        """Step counts after which every seed is evaluated and the trial reports to Tune."""
        return [*range(self.report_every, self.steps, self.report_every), self.steps]

    def overrides(self, params: dict[str, Any]) -> dict[str, Any]:
        """Config overrides of a trial: the fixed ones plus its (decoded) searched values."""
        decoded = {p.key: p.decode(params[p.key]) for p in self.search if p.key in params}
        return {**self.fixed, **decoded}


def _fail(where: str, message: str) -> SpecError:
    return SpecError(f"{where}: {message}")


def _field_kinds(algo: str) -> dict[str, Any]:
    """Config field name -> its default (the type a value must have)."""
    return {f.name: f.default for f in dataclasses.fields(CONFIGS[algo])}


def _check_value(where: str, key: str, value: Any, default: Any) -> None:
    """A value must have the type of the field's default (ints are fine for float fields)."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
        want = "true or false"
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        want = "an integer"
    elif isinstance(default, float) or default is None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) or (default is None and value is None)
        want = "a number"
    elif isinstance(default, tuple):
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ok = ok and len(value) > 0
        want = "a non-empty list of integers"
    else:
        ok = isinstance(value, type(default))
        want = f"a {type(default).__name__}"
    if not ok:
        raise _fail(where, f"{key}: {value!r} is not {want}")


def _check_config(where: str, algo: str, overrides: dict[str, Any]) -> None:
    """The trainer config's own checks (tau in (0, 1], her_strategy, ...) on a concrete set of values."""
    try:
        make_config(algo, **overrides)
    except (TypeError, ValueError) as e:
        raise _fail(where, f"{overrides} is not a valid {algo} config: {e}") from None


def _param(where: str, key: str, entry: Any, default: Any) -> Param:
    if not isinstance(entry, dict) or len(entry) != 1:
        raise _fail(where, f"expected one of {{{'|'.join(DISTRIBUTIONS)}: ...}}, got {entry!r}")
    kind, values = next(iter(entry.items()))
    if kind not in DISTRIBUTIONS:
        raise _fail(where, f"unknown distribution {kind!r}; expected one of {list(DISTRIBUTIONS)}")
    if not isinstance(values, list):
        raise _fail(f"{where}.{kind}", f"expected a list, got {values!r}")
    if kind == "choice":
        if not values:
            raise _fail(f"{where}.choice", "empty list of choices")
        for v in values:
            _check_value(f"{where}.choice", key, v, default)
        if len({json.dumps(v) for v in values}) != len(values):
            raise _fail(f"{where}.choice", f"repeated choices in {values}")
        return Param(key, kind, tuple(values))
    if len(values) != 2:
        raise _fail(f"{where}.{kind}", f"expected [low, high], got {values!r}")
    low, high = values
    if kind == "int":
        if isinstance(default, bool) or not isinstance(default, int):
            raise _fail(f"{where}.int", f"{key} is not an integer field (default {default!r})")
    elif isinstance(default, bool) or not (isinstance(default, float) or default is None):
        raise _fail(f"{where}.{kind}", f"{key} is not a float field (default {default!r}); use choice")
    for v in values:
        _check_value(f"{where}.{kind}", key, v, default)
    if not low < high:
        raise _fail(f"{where}.{kind}", f"low {low} must be below high {high}")
    if kind == "loguniform" and low <= 0:
        raise _fail(f"{where}.loguniform", f"a log range needs low > 0, got {low}")
    return Param(key, kind, (low, high))


def _in_space(param: Param, value: Any) -> bool:
    if param.kind == "choice":
        return any(json.dumps(value) == json.dumps(v) for v in param.values)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if param.kind == "int" and not isinstance(value, int):
        return False
    return param.values[0] <= value <= param.values[1]


def _positive_int(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _fail(where, f"expected a positive integer, got {value!r}")
    return value


def _check_env_kwargs(where: str, env: str, env_kwargs: dict) -> None:
    """Build the environment once with the kwargs, so a wrong one is refused here rather than in every trial."""
    from ikrl_ros.rl.envs import make_env

    try:
        make_env(env, **env_kwargs).close()
    except (TypeError, ValueError) as error:
        raise _fail(where, f"{env} does not take {env_kwargs!r}: {error}") from error


def _env_exists(env_id: str) -> bool:
    import gymnasium as gym
    import panda_gym  # noqa: F401  (registers the Panda* environments)

    from ikrl_ros.rl.workspace_env import register_workspace_envs

    register_workspace_envs()
    return env_id in gym.registry


def parse_spec(data: Any, source: str = "spec", name: str = "sweep") -> SweepSpec:
    """Check a parsed spec and build the sweep; raises SpecError naming the offending key."""
    if not isinstance(data, dict):
        raise _fail(source, "a sweep spec is a mapping of keys (see docs/sweep.md)")
    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise _fail(source, f"unknown key {unknown[0]!r}; known keys: {', '.join(TOP_LEVEL_KEYS)}")
    for required in ("algo", "env", "steps", "search", "metric"):
        if required not in data:
            raise _fail(source, f"missing key {required!r} ({TOP_LEVEL_KEYS[required]})")
    algo = data["algo"]
    if algo not in CONFIGS:
        raise _fail(f"{source}: algo", f"unknown algorithm {algo!r}; expected one of {sorted(CONFIGS)}")
    env = data["env"]
    if not isinstance(env, str) or not _env_exists(env):
        raise _fail(f"{source}: env", f"unknown environment {env!r} (not a registered gymnasium id)")
    metric = data["metric"]
    if metric not in METRICS:
        raise _fail(f"{source}: metric", f"unknown metric {metric!r}; expected one of {sorted(METRICS)}")
    sweep_name = data.get("name", name)
    if not isinstance(sweep_name, str) or not sweep_name or "/" in sweep_name:
        raise _fail(f"{source}: name", f"expected a plain name, got {sweep_name!r}")

    n_envs = _positive_int(f"{source}: n_envs", data.get("n_envs", 2))
    steps = _positive_int(f"{source}: steps", data["steps"])
    default_report = max(n_envs, steps // 4 // n_envs * n_envs)  # a quarter of the run, on an evaluation step
    report_every = _positive_int(f"{source}: report_every", data.get("report_every", default_report))
    for key, value in (("steps", steps), ("report_every", report_every)):
        if value % n_envs:
            raise _fail(f"{source}: {key}", f"{value} is not a multiple of n_envs={n_envs} (evaluations fall there)")
    if report_every > steps:
        raise _fail(f"{source}: report_every", f"{report_every} exceeds steps={steps}")
    eval_episodes = _positive_int(f"{source}: eval_episodes", data.get("eval_episodes", 50))

    seeds_value = data.get("seeds", 2)
    if isinstance(seeds_value, list):
        if not seeds_value or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds_value):
            raise _fail(f"{source}: seeds", f"expected a non-empty list of integers >= 0, got {seeds_value!r}")
        if len(set(seeds_value)) != len(seeds_value):
            raise _fail(f"{source}: seeds", f"repeated seeds in {seeds_value}")
        seeds = tuple(seeds_value)
    else:
        seeds = tuple(range(_positive_int(f"{source}: seeds", seeds_value)))

    env_kwargs = data.get("env_kwargs") or {}
    if not isinstance(env_kwargs, dict):
        raise _fail(f"{source}: env_kwargs", f"expected a mapping, got {env_kwargs!r}")
    _check_env_kwargs(f"{source}: env_kwargs", env, env_kwargs)

    kinds = _field_kinds(algo)
    fixed = data.get("fixed") or {}
    if not isinstance(fixed, dict):
        raise _fail(f"{source}: fixed", f"expected a mapping of config fields, got {fixed!r}")
    for key, value in fixed.items():
        if key not in kinds:
            raise _fail(f"{source}: fixed.{key}", f"unknown {algo} config field; known: {', '.join(kinds)}")
        _check_value(f"{source}: fixed", key, value, kinds[key])

    search = data["search"]
    if not isinstance(search, dict) or not search:
        raise _fail(f"{source}: search", "expected a non-empty mapping {field: {distribution: ...}}")
    params = []
    for key, entry in search.items():
        if key not in kinds:
            raise _fail(f"{source}: search.{key}", f"unknown {algo} config field; known: {', '.join(kinds)}")
        if key in fixed:
            raise _fail(f"{source}: search.{key}", "is also in fixed; a field is either fixed or searched")
        params.append(_param(f"{source}: search.{key}", key, entry, kinds[key]))
    # Every choice and every range end must make a valid config with the fixed values (tau <= 1, ...).
    for p in params:
        for v in p.values:
            _check_config(f"{source}: search.{p.key}", algo, {**fixed, p.key: v})

    points = data.get("points_to_evaluate") or []
    if not isinstance(points, list):
        raise _fail(f"{source}: points_to_evaluate", f"expected a list of mappings, got {points!r}")
    by_key = {p.key: p for p in params}
    for i, point in enumerate(points):
        where = f"{source}: points_to_evaluate[{i}]"
        if not isinstance(point, dict) or set(point) != set(by_key):
            raise _fail(where, f"must give a value for exactly the searched fields {sorted(by_key)}")
        for key, value in point.items():
            if not _in_space(by_key[key], value):
                raise _fail(where, f"{key}={value!r} is outside the search space {by_key[key].values}")
        _check_config(where, algo, {**fixed, **point})

    scheduler = data.get("scheduler") or {"type": "none"}
    if not isinstance(scheduler, dict) or scheduler.get("type") not in SCHEDULERS:
        raise _fail(f"{source}: scheduler", f"expected {{type: {'|'.join(SCHEDULERS)}, ...}}, got {scheduler!r}")
    extra = sorted(set(scheduler) - {"type", "grace_period", "reduction_factor"})
    if extra:
        raise _fail(f"{source}: scheduler", f"unknown key {extra[0]!r}; known: type, grace_period, reduction_factor")
    grace = _positive_int(f"{source}: scheduler.grace_period", scheduler.get("grace_period", report_every))
    if grace > steps or grace % report_every:
        raise _fail(
            f"{source}: scheduler.grace_period", f"{grace} must be a multiple of report_every and at most steps"
        )
    factor = scheduler.get("reduction_factor", 2)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 1:
        raise _fail(f"{source}: scheduler.reduction_factor", f"expected a number > 1, got {factor!r}")

    searcher = data.get("searcher", "optuna")
    if searcher not in SEARCHERS:
        raise _fail(f"{source}: searcher", f"unknown searcher {searcher!r}; expected one of {list(SEARCHERS)}")
    trials = _positive_int(f"{source}: trials", data.get("trials", 8))
    time_budget = data.get("time_budget_s")
    if time_budget is not None and (
        isinstance(time_budget, bool) or not isinstance(time_budget, (int, float)) or time_budget <= 0
    ):
        raise _fail(f"{source}: time_budget_s", f"expected a positive number of seconds, got {time_budget!r}")
    cpus = data.get("cpus_per_trial", 1)
    if isinstance(cpus, bool) or not isinstance(cpus, (int, float)) or cpus <= 0:
        raise _fail(f"{source}: cpus_per_trial", f"expected a positive number, got {cpus!r}")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise _fail(f"{source}: seed", f"expected an integer, got {seed!r}")
    startup_trials = _positive_int(f"{source}: startup_trials", data.get("startup_trials", 10))
    tensorboard = data.get("tensorboard", True)
    if not isinstance(tensorboard, bool):
        raise _fail(f"{source}: tensorboard", f"expected true or false, got {tensorboard!r}")

    return SweepSpec(
        name=sweep_name,
        algo=algo,
        env=env,
        steps=steps,
        metric=metric,
        search=tuple(params),
        env_kwargs=dict(env_kwargs),
        report_every=report_every,
        eval_episodes=eval_episodes,
        n_envs=n_envs,
        seeds=seeds,
        fixed=dict(fixed),
        points_to_evaluate=tuple(dict(p) for p in points),
        trials=trials,
        time_budget_s=None if time_budget is None else float(time_budget),
        searcher=searcher,
        scheduler=scheduler["type"],
        grace_period=grace,
        reduction_factor=float(factor),
        cpus_per_trial=float(cpus),
        seed=seed,
        startup_trials=startup_trials,
        tensorboard=tensorboard,
    )


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a spec file; the sweep's default name is the file's stem."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise SpecError(f"{path}: cannot read the spec ({e.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: not valid YAML: {e}") from None
    return dataclasses.replace(parse_spec(data, str(path), path.stem), source=text)
