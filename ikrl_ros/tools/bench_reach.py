"""``ikrl bench reach [--suite cube]``: the study's reproduction, on panda-gym's 100 seeded cube goals.

``--suite workspace`` runs ``ikrl_ros.tools.bench_workspace`` instead: consecutive goals across the whole
workspace in real time with the launch defaults, the headline figures.

Three measurements per controller:
1. direct: the controller closing the loop on panda-gym's simulator (``PandaReachSim``, the same
   classes ``gym.make("PandaReach-v3")`` steps; the tests show them bit-identical) — accuracy,
   steps, and compute time per control step (observation + controller);
2. through ROS 2: bridge and controller as separate processes over DDS in lockstep, one
   panda-gym episode per goal (reset, then 50 steps);
3. timing in real time: the controller answering each joint state (latency from reception to
   publication) and on its own timer (period jitter, missed periods), at 25 Hz and at 100 Hz.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import panda_gym  # noqa: F401  (registers the environments)

from ikrl_ros.core.control import CONTROL_PERIOD, MAX_CARTESIAN_SPEED
from ikrl_ros.core.execution import Twist
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.panda_gym_task import EPISODE_STEPS
from ikrl_ros.core.robot import load_arm
from ikrl_ros.core.sim import PandaReachSim, observe
from ikrl_ros.rl.controller_factory import (
    CLASSICAL_CONTROLLERS,
    LEARNED_CONTROLLERS,
    ControllerSettings,
    make_controller,
)
from ikrl_ros.tools.report import write_section

THRESHOLDS = (0.05, 0.01, 0.001)


def seeded_goals(count: int) -> np.ndarray:
    """The goals of ``env.reset(seed=i)``, i = 0..count-1, in ``panda_link0`` (what ``ikrl eval`` uses)."""
    env = gym.make("PandaReach-v3")
    goals = [load_arm().world_to_base(env.reset(seed=seed)[0]["desired_goal"].astype(float)) for seed in range(count)]
    env.close()
    return np.array(goals)


JOINT_POLICY = "sac_panda_reach_joints"
"""The cube suite's joint-space entry, picked by name."""


def settings_for(name: str) -> ControllerSettings:
    """Cube-suite entries: controller names with the PandaReach-v3 policies, plus ``joints`` (SAC, joint space)."""
    if name == "joints":
        return ControllerSettings("sac", policy_path=JOINT_POLICY)
    if name in LEARNED_CONTROLLERS:
        return ControllerSettings(name, policy_path=f"{name}_panda_reach")
    if name == "hybrid":
        return ControllerSettings(name, policy_path="sac_panda_reach")
    return ControllerSettings(name)


@dataclass
class Episodes:
    """Final distances and steps to 5 cm (None: never) of one controller on all goals."""

    final: list[float] = field(default_factory=list)
    steps: list[int | None] = field(default_factory=list)
    compute_ms: list[float] = field(default_factory=list)

    def success(self, threshold: float) -> float:
        """Final distance within ``threshold`` after the whole episode."""
        return float(np.mean(np.array(self.final) <= threshold))

    def reached(self) -> float:
        """panda-gym's success: within 5 cm at some step (v3 would end the episode there)."""
        return float(np.mean([step is not None for step in self.steps]))

    def steps_median(self) -> float:
        reached = [s for s in self.steps if s is not None]
        return float(np.median(reached)) if reached else float("nan")


def direct_episodes(name: str, goals: np.ndarray) -> Episodes:
    """Episodes on panda-gym's simulator without ROS; compute time covers observation + controller."""
    arm = load_arm()
    kinematics = ArmKinematics(arm)
    controller = make_controller(settings_for(name), kinematics)
    sim = PandaReachSim(arm)
    result = Episodes()
    for goal in goals:
        sim.reset()
        sim.show_goal(arm.base_to_world(goal))
        state = observe(sim, kinematics, goal)
        controller.set_goal(goal, state)
        reached = None
        for step in range(1, EPISODE_STEPS + 1):
            started = time.perf_counter()
            command = controller.compute(observe(sim, kinematics, goal))
            result.compute_ms.append((time.perf_counter() - started) * 1e3)
            if isinstance(command, Twist):
                sim.apply_ee_action(command.linear / MAX_CARTESIAN_SPEED)
            else:
                sim.apply_joint_targets(kinematics.clamp_to_limits(command.positions))
            sim.step()
            if reached is None and np.linalg.norm(sim.ee_position_base() - goal) <= THRESHOLDS[0]:
                reached = step
        result.final.append(float(np.linalg.norm(sim.ee_position_base() - goal)))
        result.steps.append(reached)
    sim.close()
    return result


def node_parameters(name: str) -> dict[str, object]:
    """reach_controller parameters for a benchmark entry; goals mirror the gym task (no 1 cm floor)."""
    settings = settings_for(name)
    return {"controller": settings.name, "policy_path": settings.policy_path, "workspace_min": "[0.2, -0.5, 0.0]"}


def ros_episodes(name: str, goals: np.ndarray, log_dir: Path) -> Episodes:
    from ikrl_ros.tools.goal_runner import GOAL_TOPICS, connected_runner
    from ikrl_ros.tools.stack import FORGIVING, reach_stack

    result = Episodes()
    # panda-gym's own Cartesian execution: this suite reproduces the study, step for step as in gym.
    stack = reach_stack(
        log_dir,
        bridge={"sync_mode": "lockstep", "cartesian_execution": "pybullet_ik", **FORGIVING},
        controller={**node_parameters(name), "sync_mode": "lockstep", **FORGIVING},
    )
    with stack, connected_runner() as runner:
        for index, goal in enumerate(goals):
            outcome = runner.run_episode(goal, GOAL_TOPICS[index % 2], EPISODE_STEPS, THRESHOLDS[0])
            result.final.append(outcome.final_error)
            result.steps.append(outcome.steps_to_reach)
    return result


def realtime_timing(name: str, rate: float, goals: np.ndarray, seconds: float, log_dir: Path) -> dict[str, str]:
    """Run the stack in real time with states at ``rate`` Hz; return the controller's timing diagnostics."""
    from ikrl_ros.tools.goal_runner import GOAL_TOPICS, connected_runner
    from ikrl_ros.tools.stack import FORGIVING, reach_stack

    bridge = {
        "sync_mode": "realtime",
        "real_time_factor": rate * CONTROL_PERIOD,
        "command_timeout": max(0.1, 3.0 / rate),
        **FORGIVING,
    }
    controller = {
        **node_parameters(name),
        "sync_mode": "realtime",
        "control_rate": rate,
        "joint_state_timeout": max(0.1, 3.0 / rate),
        **FORGIVING,
    }
    with reach_stack(log_dir, bridge=bridge, controller=controller), connected_runner() as runner:
        latest = runner.controller_diagnostics()
        deadline = time.monotonic() + seconds
        index = 0
        while time.monotonic() < deadline:
            runner.publish_goal(goals[index % len(goals)], GOAL_TOPICS[index % 2])
            runner.spin_for(1.0)
            index += 1
        runner.spin_for(1.2)  # one more diagnostics message, covering the whole run
    return dict(latest)


def run_benchmark(args: argparse.Namespace) -> str:
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    names = [*LEARNED_CONTROLLERS, "joints", *CLASSICAL_CONTROLLERS, "hybrid"]
    if args.controllers:
        names = [name for name in names if name in args.controllers]
    goals = seeded_goals(args.goals)
    log_dir = Path(args.log_dir)
    rows_direct, rows_ros, rows_timing = [], [], []
    chart: dict[str, Episodes] = {}
    for name in names:
        print(f"[bench] {name}: direct episodes", flush=True)
        direct = direct_episodes(name, goals)
        chart[name] = direct
        compute = np.array(direct.compute_ms)
        rows_direct.append(
            f"| {name} | {direct.reached() * 100:.0f} % | "
            + " | ".join(f"{direct.success(t) * 100:.0f} %" for t in THRESHOLDS)
            + f" | {np.median(direct.final) * 1e3:.2f} | {np.percentile(direct.final, 95) * 1e3:.2f}"
            + f" | {direct.steps_median():.0f}"
            + f" | {np.median(compute):.3f} / {np.percentile(compute, 99):.3f} |"
        )
        if not args.skip_ros:
            print(f"[bench] {name}: through ROS (lockstep)", flush=True)
            ros = ros_episodes(name, goals, log_dir / name / "lockstep")
            same = sum(
                (a is None) == (b is None) and (da <= THRESHOLDS[0]) == (db <= THRESHOLDS[0])
                for a, b, da, db in zip(direct.steps, ros.steps, direct.final, ros.final, strict=True)
            )
            rows_ros.append(
                f"| {name} | {ros.reached() * 100:.0f} % | "
                + " | ".join(f"{ros.success(t) * 100:.0f} %" for t in THRESHOLDS)
                + f" | {np.median(ros.final) * 1e3:.2f} | {np.percentile(ros.final, 95) * 1e3:.2f}"
                + f" | {ros.steps_median():.0f}"
                + f" | {same}/{len(goals)} |"
            )
        if not args.skip_timing:
            cells = []
            for rate in (25.0, 100.0):
                print(f"[bench] {name}: real-time timing at {rate:g} Hz", flush=True)
                timing = realtime_timing(name, rate, goals, args.timing_seconds, log_dir / name / f"realtime{rate:g}")
                cells.append(
                    f"{timing.get('latency_p50_ms', 'n/a')} / {timing.get('latency_p99_ms', 'n/a')} | "
                    f"{timing.get('state_age_p99_ms', 'n/a')} | "
                    f"{timing.get('jitter_p99_ms', 'n/a')} / {timing.get('jitter_max_ms', 'n/a')} "
                    f"({timing.get('missed_periods', 'n/a')} missed of {timing.get('control_steps', 'n/a')})"
                )
            rows_timing.append(f"| {name} | " + " | ".join(cells) + " |")

    header = "reached 5 cm | " + " | ".join(
        f"final ≤ {t * 100:g} cm" if t >= 0.01 else f"final ≤ {t * 1000:g} mm" for t in THRESHOLDS
    )
    lines = [
        "## The study's reproduction: panda-gym's cube, each goal from the neutral pose",
        "",
        f"Measured by `{args.command}` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, torch on CPU with one thread. Goals: `env.reset(seed=i)` of "
        "PandaReach-v3, "
        f"i = 0..{args.goals - 1}. Every episode starts at the neutral pose and runs {EPISODE_STEPS} steps (0.04 s "
        "each) "
        'without early termination. "Reached 5 cm" is panda-gym\'s success (within 5 cm at some step; v3 ends the '
        'episode there); the "final" columns are the distance after all 50 steps, i.e. whether the controller also '
        "stays there and how precisely. Direct runs use no safety layer; through ROS the controller's safety limits "
        "apply.",
        "",
        "Controllers: `ddpg`, `td3`, `sac` — the shipped policies (PandaReach-v3 + HER); "
        + ("`joints` — the shipped joint-space policy (PandaReachJoints-v3); " if "joints" in names else "")
        + "`cartesian_p` — proportional Cartesian step; "
        + "`ik` — our damped-least-squares IK (Pinocchio) approached in joint space; "
        "`pybullet_ik` — PyBullet's `calculateInverseKinematics`, approached the same way; `hybrid` — SAC beyond 5 "
        "cm, `cartesian_p` within.",
        "",
        "### Direct (panda-gym's simulator, no ROS)",
        "",
        f"| controller | {header} | median final (mm) | p95 final (mm) | median steps to 5 cm | compute per step "
        "median / p99 (ms) |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows_direct,
        "",
        "Compute per step: Pinocchio observation (FK + Jacobian) plus the controller (policy inference for learned "
        "ones).",
    ]
    if rows_ros:
        ros_table = [
            f"| controller | {header} | median final (mm) | p95 final (mm) | median steps to 5 cm | same outcome per "
            "goal as direct |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows_ros,
        ]
        lines += [
            "",
            "### Through ROS 2 (bridge and controller as separate processes, Fast DDS, lockstep)",
            "",
            *ros_table,
        ]
        args.readme_text = "\n".join(
            [
                f"`{args.command}` (full report: [docs/benchmark.md](docs/benchmark.md)): panda-gym's {args.goals} "
                "seeded "
                "PandaReach-v3 goals, each episode from the neutral pose, 50 steps of 0.04 s, through ROS 2 in "
                "lockstep with "
                "panda-gym's own Cartesian execution; learned entries are the PandaReach-v3 policies of the study's "
                "reproduction.",
                "",
                *ros_table,
            ]
        )
    if rows_timing:
        lines += [
            "",
            f"### Real-time timing (bridge in real time, {args.timing_seconds:g} s per run)",
            "",
            "The controller answers each joint state as it arrives (the launch default). Latency: joint state "
            "received → "
            "command published. State age: the answered state's stamp → command published (DDS transport included). "
            "Jitter: |interval between answered states − nominal period|; missed = periods without an answer.",
            "",
            "| controller | 25 Hz latency p50 / p99 (ms) | 25 Hz state age p99 (ms) | 25 Hz jitter p99 / max (ms) | "
            "100 Hz latency p50 / p99 (ms) | 100 Hz state age p99 (ms) | 100 Hz jitter p99 / max (ms) |",
            "|---|---|---|---|---|---|---|",
            *rows_timing,
        ]
    figure_path = Path(args.figure)
    plot_chart(chart, figure_path)
    lines += ["", f"![success rates]({os.path.relpath(figure_path, Path(args.out).parent)})", ""]
    return "\n".join(lines)


def plot_chart(results: dict[str, Episodes], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    width = 0.25
    for offset, threshold in enumerate(THRESHOLDS):
        label = f"≤ {threshold * 100:g} cm" if threshold >= 0.01 else f"≤ {threshold * 1000:g} mm"
        left.bar(
            np.arange(len(names)) + (offset - 1) * width,
            [results[n].success(threshold) * 100 for n in names],
            width,
            label=label,
        )
    left.set_xticks(range(len(names)), names, rotation=30)
    left.set_ylabel("success (%)")
    left.legend()
    left.set_title("Final distance within threshold (direct)")
    right.boxplot([np.array(results[n].final) * 1e3 for n in names], tick_labels=names)
    right.set_yscale("log")
    right.set_ylabel("final distance (mm)")
    right.tick_params(axis="x", rotation=30)
    right.set_title("Final distance per goal")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--goals", type=int, default=100, help="seeded goals (default: %(default)s)")
    parser.add_argument("--controllers", nargs="*", help="subset to run (default: all)")
    parser.add_argument("--skip-ros", action="store_true", help="only the direct episodes")
    parser.add_argument("--skip-timing", action="store_true", help="no real-time latency/jitter runs")
    parser.add_argument(
        "--timing-seconds", type=float, default=8.0, help="length of each real-time run (default: %(default)s)"
    )
    parser.add_argument("--out", default="docs/benchmark.md", help="markdown report (default: %(default)s)")
    parser.add_argument("--figure", default="docs/figures/benchmark.png", help="chart (default: %(default)s)")
    parser.add_argument("--log-dir", default="out/bench-reach", help="node logs (default: %(default)s)")
    parser.add_argument(
        "--readme", default="README.md", help="also replace the cube section of this file ('' for none)"
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(argv or [])
    if argv[:2] == ["--suite", "workspace"]:
        from ikrl_ros.tools import bench_workspace

        return bench_workspace.main(argv[2:])
    command = " ".join(["ikrl bench reach", *argv])
    if argv[:2] == ["--suite", "cube"]:
        argv = argv[2:]
    parser = argparse.ArgumentParser(
        prog="ikrl bench reach [--suite cube|workspace]", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.command = command
    args.readme_text = ""
    report = run_benchmark(args)
    write_section(Path(args.out), "cube", report)
    if args.readme and args.readme_text:
        write_section(Path(args.readme), "cube", args.readme_text)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
