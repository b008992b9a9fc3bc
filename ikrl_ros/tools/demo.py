"""The main job: the reach stack as separate processes over DDS, goals sent as RViz sends them.

Prints a per-goal table and writes it, an animation (GIF, PyBullet TinyRenderer) and a plot of the
end-effector paths to the output folder.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from ikrl_ros.core.control import CONTROL_PERIOD
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import DEFAULT_ROBOT, load_arm, shipped_robots
from ikrl_ros.core.workspace import sample_reachable_goals
from ikrl_ros.tools.command import SubParsers, run_subcommand
from ikrl_ros.tools.goal_runner import GOAL_TOPICS, GoalOutcome, connected_runner, format_table
from ikrl_ros.tools.render import plot_paths, render_animation
from ikrl_ros.tools.stack import FORGIVING, reach_stack

GOAL_SECONDS = 3.0
"""Each goal gets 3 s, then the next is sent from wherever the arm is (as a user clicking in RViz)."""
REACHED = 0.005

ANIMATION_FRAME_STRIDE = 2
"""Every second control period: a 12.5 fps GIF of real time, small enough to view anywhere."""


def run_demo(
    controller: str,
    goal_count: int,
    seed: int,
    out_dir: Path,
    sync_mode: str,
    strict: bool = True,
    robot: str = DEFAULT_ROBOT,
) -> tuple[list[GoalOutcome], list[tuple[int, np.ndarray]]]:
    """Bring the stack up, send ``goal_count`` workspace goals one after another, alternating RViz's two goal topics.

    Returns each goal's outcome and the arm states the bridge published (for the animation).
    """
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    arm = load_arm(robot)
    goals = sample_reachable_goals(goal_count, seed, ArmKinematics(arm))
    shared = {"robot": robot, "sync_mode": sync_mode, **({} if strict else FORGIVING)}
    with (
        reach_stack(
            out_dir / "logs",
            bridge=shared,
            controller={"controller": controller, **shared},
        ),
        connected_runner(arm=arm) as runner,
    ):
        outcomes = [
            runner.run_goal(goal, GOAL_TOPICS[index % 2], round(GOAL_SECONDS / CONTROL_PERIOD), REACHED)
            for index, goal in enumerate(goals)
        ]
        return outcomes, list(runner.arm_states)


def animation_frames(
    outcomes: list[GoalOutcome], arm_states: list[tuple[int, np.ndarray]]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The recorded arm states inside each goal's window, with that goal, thinned to the animation rate."""
    joints, goals = [], []
    for outcome in outcomes:
        window = [arm for stamp, arm in arm_states if outcome.start_ns < stamp <= outcome.end_ns]
        for arm in window[::ANIMATION_FRAME_STRIDE]:
            joints.append(arm)
            goals.append(outcome.goal)
    return joints, goals


def add_subcommands(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the reach demo: bridge + controller over DDS, goals as RViz sends them"
    )
    parser.add_argument(
        "--controller",
        default="sac",
        help="cartesian_p, ik, pybullet_ik, ddpg, td3, sac or hybrid (default: %(default)s, shipped workspace policy)",
    )
    parser.add_argument("--goals", type=int, default=8, help="number of goals (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the goal sequence (default: %(default)s)")
    parser.add_argument(
        "--sync-mode",
        choices=("realtime", "lockstep"),
        default="realtime",
        help="bridge and controller synchronisation (default: %(default)s)",
    )
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default: %(default)s)")
    parser.add_argument("--no-animation", action="store_true", help="skip the GIF (rendering takes a few seconds)")
    parser.add_argument(
        "--robot",
        default=DEFAULT_ROBOT,
        choices=shipped_robots(),
        help="the shipped arm both nodes drive (ikrl robots; default: %(default)s)",
    )
    parser.add_argument(
        "--no-strict",
        dest="strict",
        action="store_false",
        help="both nodes with strict:=false: panda-gym's motors, which accept any target, and the policies trained "
        "without limits (the default is the launch default: motion within the arm's limits, a strict bridge)",
    )
    parser.set_defaults(func=demo_command)


def demo_command(args: argparse.Namespace) -> int:
    out_dir = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    outcomes, arm_states = run_demo(
        args.controller, args.goals, args.seed, out_dir, args.sync_mode, args.strict, args.robot
    )
    run_time = time.monotonic() - started
    arm = load_arm(args.robot)
    table = format_table(outcomes, REACHED, arm.base_frame)
    reached = sum(outcome.reached for outcome in outcomes)
    summary = (
        f"{arm.name}, controller {args.controller}, {args.sync_mode}: {reached}/{len(outcomes)} consecutive "
        "workspace goals reached within "
        f"{REACHED * 1000:g} mm in {GOAL_SECONDS:g} s; median final error "
        f"{np.median([o.final_error for o in outcomes]) * 1000:.2f} mm; {run_time:.1f} s wall time"
    )
    if args.strict:
        reflexes = (out_dir / "logs" / "panda_bridge.log").read_text().count("]: reflex: ")
        summary += f"; strict: {reflexes} reflexes raised by the bridge"
    (out_dir / "goals.md").write_text(f"{table}\n\n{summary}\n")
    plot_paths(
        [o.path for o in outcomes],
        [o.goal for o in outcomes],
        [o.reached for o in outcomes],
        out_dir / "paths.png",
        f"End-effector paths, {arm.name}, controller {args.controller} ({reached}/{len(outcomes)} goals reached)",
        arm.base_frame,
    )
    if not args.no_animation:
        render_animation(*animation_frames(outcomes, arm_states), out_dir / "reach.gif", arm=arm)
    print(table)
    print(summary)
    print(f"output folder: {out_dir} (goals.md, paths.png{'' if args.no_animation else ', reach.gif'}, logs/)")
    return 0 if reached == len(outcomes) else 1


def main(argv: list[str] | None = None) -> int:
    """``python -m ikrl_ros.tools.demo ARGS`` is ``ikrl demo ARGS``."""
    return run_subcommand("demo", add_subcommands, argv)


if __name__ == "__main__":
    raise SystemExit(main())
