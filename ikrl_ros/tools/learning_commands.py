"""`ikrl` subcommands for learning: train, eval, plot, bench.

`add_subcommands(subparsers)` registers them (the convention in `ikrl_ros.tools.command`);
`python -m ikrl_ros.tools.learning_commands ...` runs them without the ROS side.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from ikrl_ros.core.policy_spec import WORKSPACE_ENV_PREFIX, is_limited
from ikrl_ros.core.robot import URDF_SUFFIXES, load_arm
from ikrl_ros.rl.config import CONFIGS, HER_STRATEGIES
from ikrl_ros.tools.command import SubParsers, run


def _parse_override(text: str) -> tuple[str, Any]:
    """'key=value' with a JSON value ('batch_size=256', 'hidden_sizes=[64,64]'); bare words stay strings."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.replace("-", "_"), json.loads(value)
    except json.JSONDecodeError:
        return key.replace("-", "_"), value


def train_overrides(args: argparse.Namespace) -> dict:
    """The hyperparameter overrides an `ikrl train` command line gives: its `--set`s and HER flags."""
    overrides = dict(args.set or [])
    if not args.her:
        overrides["her_strategy"] = "none"
    elif args.her_strategy:
        overrides["her_strategy"] = args.her_strategy
    if args.her_k is not None:
        overrides["her_k"] = args.her_k
    return overrides


PANDA_GYM_ENV = "PandaReach-v3"
DEFAULT_STEPS = 5_000
WORKSPACE_ENV = "IkrlReachLimited-v0"
ROBOT_RECIPE = {"algo": "sac", "env": WORKSPACE_ENV, "steps": 150_000}
"""What ``ikrl train --robot`` trains unless told otherwise: the shipped ``sac_workspace_limited`` recipe, under the
execution the nodes run by default (``strict``)."""
ROBOT_RECIPE_OVERRIDES = (("goal_relative_inputs", True),)
LIMITED_RECIPE_OVERRIDES = (("smoothness_temporal", 3.0), ("smoothness_spatial", 3.0), ("final_lr_fraction", 0.1))
"""Added under the limited execution: CAPS smoothness (without it the policy learns to chatter around the goal with
full actions) and a learning rate that decays to a tenth, so that the last updates settle the millimetres."""


def apply_robot_recipe(args: argparse.Namespace) -> None:
    """``--robot`` (a shipped arm or a URDF) becomes the workspace environment's arm; options left unset take
    ``ROBOT_RECIPE``. Without ``--robot``, ``--algo`` is required and the Panda is trained as before."""
    if args.robot is None:
        if args.base_frame or args.tip_frame or args.joint_limits:
            raise ValueError("--base-frame, --tip-frame and --joint-limits go with --robot")
        if args.algo is None:
            raise ValueError("--algo is required (or give --robot for the shipped workspace recipe)")
        args.env, args.steps = args.env or PANDA_GYM_ENV, args.steps or DEFAULT_STEPS
        return
    for key, value in ROBOT_RECIPE.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if not args.env.startswith(WORKSPACE_ENV_PREFIX):
        raise ValueError(f"--robot trains the workspace environments ({WORKSPACE_ENV_PREFIX}*), not {args.env}")
    robot = args.robot
    if robot.endswith(URDF_SUFFIXES) or robot.endswith((".yaml", ".yml")):
        robot = str(Path(robot).resolve())  # evaluation and the nodes find it from anywhere
    given = {"robot": robot, "base_frame": args.base_frame, "tip_frame": args.tip_frame}
    if args.joint_limits:
        given["joint_limits"] = str(Path(args.joint_limits).resolve())
    load_arm(robot, args.base_frame, args.tip_frame, given.get("joint_limits"))  # a bad arm fails here, named
    args.env_kwarg = [*(args.env_kwarg or []), *((k, v) for k, v in given.items() if v is not None)]
    named = {key for key, _ in args.set or []}
    recipe = ROBOT_RECIPE_OVERRIDES + (LIMITED_RECIPE_OVERRIDES if is_limited(args.env) else ())
    args.set = [*((k, v) for k, v in recipe if k not in named), *(args.set or [])]


def cmd_train(args: argparse.Namespace) -> int:
    from ikrl_ros.rl.algorithms import resolve_device
    from ikrl_ros.rl.config import make_config
    from ikrl_ros.rl.envs import resolve_env_id
    from ikrl_ros.rl.trainer import train

    try:
        apply_robot_recipe(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    config = make_config(args.algo, **train_overrides(args))
    try:
        resolve_device(args.device)
    except ValueError as error:  # e.g. cuda asked for on a machine without CUDA
        print(f"error: {error}", file=sys.stderr)
        return 2

    def announce_start(step: int) -> None:
        if step > 0:
            print(f"resumed from step {step}", flush=True)

    result = train(
        config,
        env_id=resolve_env_id(args.env, args.reward),
        steps=args.steps,
        seed=args.seed,
        out_dir=args.out,
        n_envs=args.n_envs,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        checkpoint_every=args.checkpoint_every,
        resume=not args.no_resume,
        target_success=args.target_success,
        save_replay=not args.no_replay,
        tensorboard=not args.no_tensorboard,
        progress_bar=not args.no_progress,
        env_kwargs=dict(args.env_kwarg or []),
        device=args.device,
        start_callback=announce_start,
    )
    last = result.history[-1] if result.history else None
    print(
        json.dumps(
            {
                "out": str(result.out_dir),
                "start_step": result.start_step,
                "step": result.step,
                "wall_time": round(result.wall_time, 2),
                "train_time": round(result.train_time, 2),
                "target_step": result.target_step,
                "success_rate": last.success_rate if last else None,
                "median_final_distance": last.median_final_distance if last else None,
                "checkpoint": str(result.checkpoint),
                "policy": str(result.policy),
            }
        )
    )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from ikrl_ros.rl.checkpoint import CheckpointError, load_policy
    from ikrl_ros.rl.envs import make_env
    from ikrl_ros.rl.evaluation import evaluate

    try:
        policy = load_policy(args.checkpoint)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    env = make_env(args.env, **dict(args.env_kwarg or [])) if args.env else make_env(policy.env_id, **policy.env_kwargs)
    try:
        res = evaluate(policy.act, env, args.episodes, args.first_seed)
    finally:
        env.close()
    print(
        json.dumps(
            {
                "checkpoint": args.checkpoint,
                "env_id": args.env or policy.env_id,
                "algo": policy.algo,
                "trained_steps": policy.step,
                "first_seed": args.first_seed,
                **res.summary(),
            }
        )
    )
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from ikrl_ros.rl.plotting import plot_runs

    print(plot_runs(args.run_dirs, args.out, args.labels, args.title))
    return 0


BENCHMARKS = ("reach", "classical", "training", "design", "inference")
"""``ikrl bench WHAT`` runs ``ikrl_ros.tools.bench_WHAT``; they write reports under the working directory."""


def cmd_bench(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"ikrl_ros.tools.bench_{args.what}")
    return int(module.main(args.bench_args) or 0)


def add_subcommands(subparsers: SubParsers) -> None:
    """Register train/eval/plot/bench on an `argparse` subparsers object."""
    p = subparsers.add_parser(
        "train",
        help="train DDPG/TD3/SAC (+HER) on a panda-gym reach task",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--algo", choices=sorted(CONFIGS), help="required unless --robot is given (then: sac)")
    p.add_argument(
        "--env",
        help=f"gymnasium id of a goal-conditioned environment (default: {PANDA_GYM_ENV}; with --robot: "
        f"{WORKSPACE_ENV})",
    )
    p.add_argument("--reward", choices=("sparse", "dense"), help="switch the panda-gym id's reward type")
    p.add_argument("--her", action=argparse.BooleanOptionalAction, default=True, help="hindsight experience replay")
    p.add_argument("--her-strategy", choices=[s for s in HER_STRATEGIES if s != "none"], help="default: future")
    p.add_argument("--her-k", type=int, help="relabelled goals per real one (default 4)")
    p.add_argument(
        "--steps",
        type=int,
        help=f"total environment steps, all envs (default: {DEFAULT_STEPS:,}; with --robot: {ROBOT_RECIPE['steps']:,})",
    )
    p.add_argument(
        "--robot",
        help="the arm: a shipped robot (ikrl robots) or a URDF; trains the shipped workspace recipe for it (SAC, "
        "HER, goal-relative inputs) unless --algo/--env/--steps/--set say otherwise",
    )
    p.add_argument("--base-frame", help="with a URDF --robot: the frame goals are given in")
    p.add_argument("--tip-frame", help="with a URDF --robot: the frame that reaches the goals")
    p.add_argument(
        "--joint-limits", help="with a URDF --robot: MoveIt's joint_limits.yaml (velocity, acceleration, jerk)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output directory (resumed if it holds a checkpoint)")
    p.add_argument(
        "--n-envs", type=int, default=2, help="environments stepped side by side, one batched actor call for all"
    )
    p.add_argument("--device", default="cpu", help="where the networks learn: cpu or cuda (cuda:N)")
    p.add_argument("--eval-every", type=int, default=1_000)
    p.add_argument("--eval-episodes", type=int, default=50)
    p.add_argument("--checkpoint-every", type=int, default=1_000)
    p.add_argument("--target-success", type=float, help="stop at the first evaluation reaching this rate")
    p.add_argument(
        "--set",
        type=_parse_override,
        action="append",
        metavar="KEY=VALUE",
        help="override a hyperparameter, e.g. --set batch_size=256 --set hidden_sizes=[64,64]",
    )
    p.add_argument(
        "--env-kwarg",
        type=_parse_override,
        action="append",
        metavar="KEY=VALUE",
        help="environment keyword argument, e.g. --env-kwarg action_map=linear (recorded in the checkpoint)",
    )
    p.add_argument("--no-resume", action="store_true", help="start afresh even if OUT has a checkpoint")
    p.add_argument("--no-replay", action="store_true", help="do not save the replay buffer with checkpoints")
    p.add_argument("--no-tensorboard", action="store_true")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("eval", help="success rate and final distance of a checkpoint on seeded goals")
    p.add_argument("checkpoint")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--first-seed", type=int, default=0, help="goal i uses env seed first_seed + i")
    p.add_argument("--env", help="evaluate on another environment id than the one trained on")
    p.add_argument(
        "--env-kwarg",
        type=_parse_override,
        action="append",
        metavar="KEY=VALUE",
        help="with --env: its keyword arguments (without --env, the checkpoint's own are used)",
    )
    p.set_defaults(func=cmd_eval)

    p = subparsers.add_parser("plot", help="learning curves of training runs to a PNG")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--labels", nargs="*", help="one legend label per run")
    p.add_argument("--title")
    p.set_defaults(func=cmd_plot)

    p = subparsers.add_parser(
        "bench", help="benchmarks: reach (learned vs classical), classical, training (vs SB3), inference"
    )
    p.add_argument("what", choices=BENCHMARKS)
    p.add_argument("bench_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_bench)


def main(argv: list[str] | None = None) -> int:
    """``ikrl train|eval|plot|bench ...`` without importing the ROS side of the CLI."""
    return run(argv, add_subcommands)


if __name__ == "__main__":
    sys.exit(main())
