"""``ikrl bench classical``: kinematics and numerical-IK timings, and the classical controllers end to end over ROS."""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.panda_gym_task import DISTANCE_THRESHOLD, EPISODE_STEPS, sample_goals_world
from ikrl_ros.core.robot import load_arm


def time_per_call_us(function, inputs: list, repeats: int = 3) -> float:
    """Best-of-``repeats`` mean wall time per call, in microseconds."""
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        for value in inputs:
            function(value)
        best = min(best, (time.perf_counter() - started) / len(inputs))
    return best * 1e6


def kinematics_rows(samples: int, seed: int) -> list[str]:
    kinematics = ArmKinematics(load_arm())
    rng = np.random.default_rng(seed)
    configurations = list(rng.uniform(*kinematics.sampling_range(), size=(samples, kinematics.dof)))
    fk = time_per_call_us(kinematics.ee_position, configurations)
    fk_jacobian = time_per_call_us(kinematics.ee_position_and_jacobian, configurations)
    goals = load_arm().world_to_base(sample_goals_world(samples, seed))
    solve_times, errors, iterations = [], [], []
    for goal in goals:
        started = time.perf_counter()
        result = kinematics.solve_ik(goal)
        solve_times.append(time.perf_counter() - started)
        errors.append(result.error)
        iterations.append(result.iterations)
    solve_ms = np.array(solve_times) * 1e3
    return [
        "| quantity | value |",
        "|---|---|",
        f"| FK of panda_grasptarget (Python call into Pinocchio) | {fk:.1f} µs |",
        f"| FK + 3×7 Jacobian | {fk_jacobian:.1f} µs |",
        f"| DLS IK from the neutral pose, {samples} PandaReach goals: converged (< 1e-5 m) | "
        f"{np.mean(np.array(errors) < 1e-5) * 100:.1f} % |",
        f"| IK solve time median / p99 / max | {np.median(solve_ms):.3f} / {np.percentile(solve_ms, 99):.3f} / "
        f"{solve_ms.max():.3f} ms |",
        f"| IK iterations median / max | {np.median(iterations):.0f} / {max(iterations)} |",
        f"| IK final error max | {max(errors):.2e} m |",
    ]


def stack_rows(goal_count: int, seed: int, log_dir: Path) -> list[str]:

    from ikrl_ros.tools.goal_runner import GOAL_TOPICS, connected_runner
    from ikrl_ros.tools.stack import FORGIVING, reach_stack

    goals = load_arm().world_to_base(sample_goals_world(goal_count, seed))
    rows = [
        f"| controller | reached ≤ 5 cm in {EPISODE_STEPS} steps | steps to 5 cm (median / max) | final error to the "
        "admitted goal (median / p95 / max) | wall time |",
        "|---|---|---|---|---|",
    ]
    for controller in ("cartesian_p", "ik"):
        started = time.monotonic()
        stack = reach_stack(
            log_dir / controller,
            bridge={"sync_mode": "lockstep", **FORGIVING},
            controller={"controller": controller, "sync_mode": "lockstep", **FORGIVING},
        )
        with stack, connected_runner() as runner:
            outcomes = [
                runner.run_goal(
                    goal,
                    GOAL_TOPICS[i % 2],
                    EPISODE_STEPS,
                    DISTANCE_THRESHOLD,
                    expected=load_arm().workspace.clamp(goal),
                )
                for i, goal in enumerate(goals)
            ]
        steps = [o.steps_to_reach for o in outcomes if o.reached] or [float("nan")]
        errors_mm = np.array([o.final_error for o in outcomes]) * 1e3
        rows.append(
            f"| {controller} | {len(steps)}/{len(outcomes)} | {np.median(steps):.0f} / {max(steps)} | "
            f"{np.median(errors_mm):.3f} / {np.percentile(errors_mm, 95):.3f} / {errors_mm.max():.3f} mm | "
            f"{time.monotonic() - started:.1f} s |"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ikrl bench classical", description="time kinematics and IK, run the classical controllers through ROS"
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=1000,
        help="configurations/goals for the kinematics timings (default: %(default)s)",
    )
    parser.add_argument(
        "--goals", type=int, default=100, help="goals per controller through ROS (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    parser.add_argument(
        "--out", type=Path, default=Path("docs/classical.md"), help="markdown report (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    command = " ".join(["ikrl bench classical", *(argv or [])])
    lines = [
        "# Classical baselines: kinematics, numerical IK, and the reach stack over ROS 2",
        "",
        f"Measured by `{command}` on {platform.machine()} with {os.cpu_count()} cores, Python "
        f"{platform.python_version()}.",
        "",
        "## Kinematics and IK (ROS-free core)",
        "",
        *kinematics_rows(args.samples, args.seed),
        "",
        f"## End to end over DDS, lockstep, {args.goals} goals from PandaReach's goal box (seed {args.seed})",
        "",
        "Bridge and controller are separate processes; goals alternate between `goal_pose` and `clicked_point`. "
        "Steps are counted from the state the bridge had published when the goal was sent, so DDS latency counts. "
        "Goals below z = 1 cm are clamped to it (the fingertips would touch the table); errors are measured to the "
        "admitted goal.",
        "",
        *stack_rows(args.goals, args.seed, Path("out/bench-classical")),
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0
