"""``ikrl bench reach --suite workspace``: every controller as users run it.

Both nodes with the launch defaults (``config/reach.yaml``: real time, the bridge's ``dls_ik``
Cartesian execution, the controller answering each joint state), goals published one after
another on ``goal_pose`` / ``clicked_point`` across the controller's whole admitted workspace,
``--goal-seconds`` of real time each, the arm starting every goal wherever the last one left it.

Per goal, from the bridge's ground-truth ``ee_pose``: the final error, the first time within 5 cm
and within 5 mm, and "stays" — the largest distance after first coming within 5 mm. Each controller
runs in its own process with its own ``ROS_DOMAIN_ID``; ``--parallel`` stacks run at once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ikrl_ros.core.collision import STOP_MARGIN, CollisionModel, shared_collision_model
from ikrl_ros.core.control import CONTROL_PERIOD
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.motion_quality import QUANTITIES, GoalMotion, LimitPeaks, stream_peaks, time_optimal_duration, window
from ikrl_ros.core.reach_loop import INTERFACE_RATE
from ikrl_ros.core.robot import DEFAULT_ROBOT, Arm, load_arm, shipped_robots
from ikrl_ros.core.rotations import angle_between, matrix_to_quaternion, quaternion_to_matrix
from ikrl_ros.core.workspace import sample_reachable_goals, sample_reachable_poses
from ikrl_ros.rl.controller_factory import ControllerSettings, resolve_policy_path
from ikrl_ros.tools.report import write_section

if TYPE_CHECKING:
    from ikrl_ros.tools.goal_runner import GoalRunner

THRESHOLDS = (0.05, 0.01, 0.005, 0.001)
REACHED = 0.005
"""Time to reach and "stays" are measured from the first sample within 5 mm."""
ENTRIES: dict[str, ControllerSettings] = {
    "sac_workspace": ControllerSettings("sac", policy_path="sac_workspace"),
    "td3_workspace": ControllerSettings("td3", policy_path="td3_workspace"),
    "ddpg_workspace": ControllerSettings("ddpg", policy_path="ddpg_workspace"),
    "sac_workspace_joints": ControllerSettings("sac", policy_path="sac_workspace_joints"),
    "sac_workspace_pose": ControllerSettings("sac", policy_path="sac_workspace_pose"),
    "hybrid": ControllerSettings("hybrid", policy_path="sac_workspace"),
    "cartesian_p": ControllerSettings("cartesian_p"),
    "ik": ControllerSettings("ik"),
    "pybullet_ik": ControllerSettings("pybullet_ik"),
    "sac_panda_reach": ControllerSettings("sac", policy_path="sac_panda_reach"),
}
"""Benchmark entries: the shipped workspace policies, hybrid, the classical controllers, and the study's
PandaReach-v3 policy for comparison (trained in panda-gym's cube from the neutral pose)."""
POSE_ENTRIES: dict[str, ControllerSettings] = {
    "sac_workspace_pose": ControllerSettings("sac", policy_path="sac_workspace_pose"),
    "hybrid_pose": ControllerSettings("hybrid", policy_path="sac_workspace_pose"),
    "cartesian_p": ControllerSettings("cartesian_p"),
    "ik": ControllerSettings("ik"),
}
"""Pose-suite entries, all with ``orientation: track``: the pose policy, it with the classical finisher, the
classical controllers."""
POSE_THRESHOLDS = ((0.001, 0.01), (0.005, 0.05))


@dataclass
class GoalRecord:
    goal: list[float]
    final_error: float
    time_to_5cm: float | None
    time_to_reach: float | None
    """Seconds to the first sample within 5 mm; None if never."""
    stays: float | None
    """Largest distance (m) after first coming within 5 mm; None if never."""


CLASSICAL_ENTRIES = ("cartesian_p", "ik", "pybullet_ik")
"""Entries that run on any arm; the others need that arm's shipped policy (``hybrid`` its sac_workspace)."""


def entries_for(robot: str, strict: bool = False) -> list[str]:
    """The workspace entries ``robot`` can run (under ``strict``): its shipped policies (their limited versions) and
    the classical controllers."""
    learned = [
        name
        for name, settings in ENTRIES.items()
        if settings.policy_path and resolve_policy_path(settings.policy_path, settings.name, robot, strict).is_file()
    ]
    return [n for n in ENTRIES if n in learned or n in CLASSICAL_ENTRIES]


def record(goal: np.ndarray, path: np.ndarray) -> GoalRecord:
    """Metrics of one goal from its end-effector path (one sample per control period)."""
    errors = np.linalg.norm(path - goal, axis=1)

    def first_within(threshold: float) -> int | None:
        hits = np.flatnonzero(errors <= threshold)
        return int(hits[0]) if len(hits) else None

    near, reached = first_within(THRESHOLDS[0]), first_within(REACHED)
    return GoalRecord(
        goal=goal.tolist(),
        final_error=float(errors[-1]),
        time_to_5cm=None if near is None else (near + 1) * CONTROL_PERIOD,
        time_to_reach=None if reached is None else (reached + 1) * CONTROL_PERIOD,
        stays=None if reached is None else float(errors[reached:].max()),
    )


def pose_record(goal: np.ndarray, rotation: np.ndarray, path: np.ndarray, orientations: np.ndarray) -> dict[str, float]:
    """Final position (m) and angle (rad) error of one pose goal."""
    return {
        "final_error": float(np.linalg.norm(path[-1] - goal)),
        "final_angle": angle_between(quaternion_to_matrix(orientations[-1]), rotation),
    }


def run_entry(
    name: str,
    goals: np.ndarray,
    goal_seconds: float,
    log_dir: Path,
    rotations: np.ndarray | None = None,
    robot: str = DEFAULT_ROBOT,
    strict: bool = True,
) -> dict[str, object]:
    """One controller on all goals (poses when ``rotations`` are given), in real time through ROS, both nodes
    driving ``robot`` (``strict``: the limited execution and the strict bridge); returns the records and its
    diagnostics."""
    from ikrl_ros.tools.goal_runner import GOAL_TOPICS, connected_runner
    from ikrl_ros.tools.stack import FORGIVING, reach_stack

    settings = (ENTRIES if rotations is None else POSE_ENTRIES)[name]
    controller = {
        "robot": robot,
        "controller": settings.name,
        "policy_path": settings.policy_path,
        **({} if rotations is None else {"orientation": "track"}),
        **({} if strict else FORGIVING),
    }
    steps = round(goal_seconds / CONTROL_PERIOD)
    records = []
    arm = load_arm(robot)
    collision = shared_collision_model(arm)
    with (
        reach_stack(log_dir, bridge={"robot": robot, **({} if strict else FORGIVING)}, controller=controller),
        connected_runner(arm=arm, record_motion=True) as runner,
    ):
        latest = runner.controller_diagnostics()
        for index, goal in enumerate(goals):
            if rotations is None:
                outcome = runner.run_goal(goal, GOAL_TOPICS[index % 2], budget_steps=steps, tolerance=REACHED)
                records.append(asdict(record(goal, outcome.path)))
            else:
                outcome = runner.run_goal(
                    goal,
                    "goal_pose",
                    budget_steps=steps,
                    tolerance=REACHED,
                    quaternion=matrix_to_quaternion(rotations[index]),
                )
                records.append(pose_record(goal, rotations[index], outcome.path, outcome.orientations))
            records[-1]["motion"] = asdict(motion_record(runner, outcome.start_ns, outcome.end_ns - 1, arm, collision))
        runner.spin_for(1.2)  # one more diagnostics message, covering the whole run
    return {"name": name, "records": records, "diagnostics": dict(latest)}


def motion_record(runner: GoalRunner, start_ns: int, end_ns: int, arm: Arm, collision: CollisionModel) -> GoalMotion:
    """One goal's window (bridge stamps in (start_ns, end_ns]) against the arm's datasheet limits."""
    inside = window(runner.arm_states, start_ns, end_ns, lead=0)
    closest = [min(c.scene, c.self_) for c in map(collision.clearance, inside)]
    limits = arm.joint_limits
    return GoalMotion(
        motion=stream_peaks(window(runner.arm_states, start_ns, end_ns), CONTROL_PERIOD, limits),
        command=stream_peaks(window(runner.joint_targets, start_ns, end_ns), CONTROL_PERIOD, limits),
        interface=stream_peaks(window(runner.interface_samples, start_ns, end_ns), 1.0 / INTERFACE_RATE, limits),
        reflexes=sum(start_ns < stamp <= end_ns for stamp, _ in runner.reflexes),
        collision_states=sum(distance <= STOP_MARGIN for distance in closest),
        min_clearance=float(min(closest)),
        time_optimal=time_optimal_duration(inside[0], inside[-1], limits),
    )


def summary_row(name: str, result: dict[str, object]) -> str:
    records = result["records"]
    final = np.array([r["final_error"] for r in records])
    reach_times = [r["time_to_reach"] for r in records if r["time_to_reach"] is not None]
    stays = [r["stays"] for r in records if r["stays"] is not None]
    diagnostics = result["diagnostics"]
    cells = [f"{np.mean(final <= t) * 100:.1f} %" for t in THRESHOLDS]
    return (
        f"| {name} | "
        + " | ".join(cells)
        + f" | {np.median(final) * 1e3:.2f} | {np.percentile(final, 95) * 1e3:.1f}"
        + f" | {np.median(stays) * 1e3 if stays else float('nan'):.2f}"
        + f" / {np.max(stays) * 1e3 if stays else float('nan'):.1f}"
        + f" | {np.median(reach_times) if reach_times else float('nan'):.2f}"
        + f" | {diagnostics.get('state_age_p99_ms', 'n/a')}"
        + f" | {diagnostics.get('missed_periods', 'n/a')} of {diagnostics.get('control_steps', 'n/a')} |"
    )


def motion_row(name: str, result: dict[str, object]) -> str:
    """One entry's motion against the limits: goals with any sample over a limit per stream, the 1 kHz stream's
    peaks, reflexes, collision states, clearance, and how long reaching took against the time-optimal motion."""
    motions = [r["motion"] for r in result["records"] if "motion" in r]
    if not motions:
        return f"| {name} | " + " | ".join(["n/a"] * 6) + " |"

    def over(stream: str) -> int:
        return sum(LimitPeaks(**m[stream]).over for m in motions)

    peaks = [max(m["interface"][quantity] for m in motions) for quantity in QUANTITIES]
    ratios = [
        r["time_to_reach"] / r["motion"]["time_optimal"]
        for r in result["records"]
        if r.get("time_to_reach") is not None and "motion" in r and r["motion"]["time_optimal"] > 0.0
    ]
    return (
        f"| {name} | {result['diagnostics'].get('strict', 'n/a')} | {over('motion')} / {over('command')} / "
        f"{over('interface')} of {len(motions)} | "
        + " / ".join(f"{peak:.2f}" for peak in peaks)
        + f" | {sum(m['reflexes'] for m in motions)} | {sum(m['collision_states'] for m in motions)}"
        + f" | {min(m['min_clearance'] for m in motions) * 1e3:.1f}"
        + f" | {np.median(ratios) if ratios else float('nan'):.2f} |"
    )


MOTION_HEADER = (
    "| controller | strict | goals over a limit: motion 25 Hz / command 25 Hz / interface 1 kHz "
    "| interface 1 kHz peaks × limit: velocity / acceleration / jerk | reflexes | collision states "
    "| min clearance (mm) | median time to 5 mm ÷ time-optimal |",
    "|---|---|---|---|---|---|---|---|",
)
MOTION_NOTE = (
    "Motion against the arm's datasheet limits (velocity, acceleration, jerk; finite differences as libfranka "
    "computes them): *motion* is the bridge's joint states, *command* the joint targets its motors were told, both "
    "at the 25 Hz control rate; *interface* the 1 kHz stream the arm's interface executed (with `strict`, the "
    "samples the strict bridge checked; without, the targets held over each period, as a 1 kHz position interface "
    "takes them). Reflexes: raised by the strict bridge. Collision states: joint states within 2 mm of the table, "
    "the floor or another link (Coal, the URDF's collision meshes). Time-optimal: Ruckig's jerk-limited motion at "
    "the full limits from the goal's first posture to its last."
)


def pose_row(name: str, result: dict[str, object]) -> str:
    records = result["records"]
    final = np.array([r["final_error"] for r in records])
    angle = np.array([r["final_angle"] for r in records])
    cells = [f"{np.mean((final <= d) & (angle <= a)) * 100:.1f} %" for d, a in POSE_THRESHOLDS]
    return (
        f"| {name} | "
        + " | ".join(cells)
        + f" | {np.median(final) * 1e3:.2f} / {np.percentile(final, 95) * 1e3:.1f}"
        + f" | {np.median(angle):.4f} / {np.percentile(angle, 95):.3f}"
        + f" | {result['diagnostics'].get('missed_periods', 'n/a')}"
        + f" of {result['diagnostics'].get('control_steps', 'n/a')} |"
    )


def pose_report(args: argparse.Namespace, results: dict[str, dict[str, object]], goals: np.ndarray) -> str:
    lines = [
        "## Pose suite: consecutive pose goals across the workspace, real time, launch defaults + `orientation: track`"
        + ("" if args.strict else " + `strict: false`"),
        "",
        f"Measured by `{args.command}` on {platform.machine()}, {os.cpu_count()} cores, {args.parallel} stacks at a "
        "time. "
        f"{len(goals)} pose goals (seed {args.seed}): positions uniform over the admitted workspace, orientations "
        "gripper down, "
        "turned up to ±1.2 rad about the vertical and tilted up to 0.4 rad, each pose reachable by 6-D IK; published "
        "one after "
        f"another on `goal_pose` with their quaternion, {args.goal_seconds:g} s of real time each, from wherever the "
        "last goal "
        "left the arm. Errors are ground truth (`ee_pose`) at the end of each goal's window. " + args.load + ".",
        "",
        "| controller | within 1 mm and 0.01 rad | within 5 mm and 0.05 rad | position error median / p95 (mm) "
        "| angle error median / p95 (rad) | missed periods |",
        "|---|---|---|---|---|---|",
        *(pose_row(name, result) for name, result in results.items()),
    ]
    return "\n".join(lines) + "\n"


def admitted_workspace(robot: str) -> str:
    """The reach controller's default goal region for ``robot``, in words."""
    workspace = load_arm(robot).workspace
    low, high = (
        ", ".join(f"{v:g}".replace("-", "−") for v in corner) for corner in (workspace.box_min, workspace.box_max)
    )
    return f"box [{low}]–[{high}] m ∩ {workspace.reach_radius:g} m reach sphere, IK-reachable"


def report(args: argparse.Namespace, results: dict[str, dict[str, object]], goals: np.ndarray) -> str:
    arm = load_arm(args.robot)
    lines = [
        "## Workspace suite: consecutive goals across the workspace, real time, launch defaults"
        + ("" if args.strict else " but `strict: false`")
        + ("" if args.robot == DEFAULT_ROBOT else f": {arm.name} ({arm.dof} DoF)"),
        "",
        f"Measured by `{args.command}` on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, "
        f"{args.parallel} stacks at a time. {len(goals)} goals (seed {args.seed}) uniform over the reach controller's "
        "admitted "
        f"workspace ({admitted_workspace(args.robot)}, in `{arm.base_frame}`), published one "
        "after another "
        f"on `goal_pose` / `clicked_point`, {args.goal_seconds:g} s of real time each; the arm starts every goal "
        "where the last left it "
        "(the first from the neutral pose). Both nodes run with `config/reach.yaml` as `ros2 launch ikrl_ros "
        "reach.launch.py` "
        "starts them. Errors are ground truth (`ee_pose`) at the end of each goal's window. " + args.load + ".",
        "",
        "| controller | final ≤ 5 cm | ≤ 1 cm | ≤ 5 mm | ≤ 1 mm | median final (mm) | p95 final (mm) "
        "| stays: worst after 5 mm, median / max (mm) | median time to 5 mm (s) | state age p99 (ms) | missed periods "
        "|",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *(summary_row(name, result) for name, result in results.items()),
        "",
        "Stays: after first coming within 5 mm, the largest distance until the next goal (a policy that hovers or "
        "wanders shows it here). State age: the answered joint state's stamp → command published, from the "
        "controller's `/diagnostics`.",
        "",
        *MOTION_HEADER,
        *(motion_row(name, result) for name, result in results.items()),
        "",
        MOTION_NOTE,
    ]
    return "\n".join(lines) + "\n"


def run_suite(args: argparse.Namespace) -> int:
    """Run the entries as child processes (own ROS domain each), ``--parallel`` at a time; write the report."""
    out_dir = Path(args.log_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = POSE_ENTRIES if args.poses else ENTRIES
    everything = args.robot == DEFAULT_ROBOT and not args.strict
    names = args.controllers or (list(entries) if everything or args.poses else entries_for(args.robot, args.strict))
    unknown = sorted((set(names) | set(args.rerun or [])) - set(entries))
    if unknown:
        print(f"error: unknown entries {unknown}; choose from {list(entries)}", file=sys.stderr)
        return 2
    kinematics = ArmKinematics(load_arm(args.robot))
    if args.poses:
        poses = sample_reachable_poses(args.goals, args.seed, kinematics)
        goals = np.array([position for position, _ in poses])
        np.save(out_dir / "rotations.npy", np.array([rotation for _, rotation in poses]))
    else:
        goals = sample_reachable_goals(args.goals, args.seed, kinematics)
    np.save(out_dir / "goals.npy", goals)
    # --rerun: run these entries again and report them with the other entries' results already in out_dir.
    to_run = args.rerun or names
    pending = [(names.index(name), name) for name in to_run]
    running: list[tuple[str, subprocess.Popen]] = []
    failed = []
    loads: list[float] = []
    while pending or running:
        while pending and len(running) < args.parallel:
            index, name = pending.pop(0)
            env = {
                **os.environ,
                "ROS_DOMAIN_ID": str(args.domain_base + index),
                "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
            }
            command = [
                sys.executable,
                "-m",
                "ikrl_ros.tools.bench_workspace",
                "--entry",
                name,
                "--goal-seconds",
                str(args.goal_seconds),
                "--log-dir",
                str(out_dir),
            ]
            command += ["--poses"] if args.poses else []
            command += ["--robot", args.robot] + ([] if args.strict else ["--no-strict"])
            print(f"[bench workspace] {name}: started", flush=True)
            running.append((name, subprocess.Popen(command, env=env)))
        for name, process in list(running):
            if process.poll() is not None:
                running.remove((name, process))
                print(f"[bench workspace] {name}: exit {process.returncode}", flush=True)
                if process.returncode != 0:
                    failed.append(name)
        loads.append(os.getloadavg()[0])
        time.sleep(1.0)
    reported = [name for name in names if name not in failed and (out_dir / name / "result.json").exists()]
    results = {name: json.loads((out_dir / name / "result.json").read_text()) for name in reported}
    args.load = (
        f"1-minute load average during the run: mean {np.mean(loads):.1f}, max {np.max(loads):.1f} "
        f"({os.cpu_count()} cores)"
    )
    if args.rerun:
        args.load += (
            f"; rows rerun by this command: {', '.join(args.rerun)}, the others from the run before it in "
            f"{out_dir} (same goals)"
        )
    text = (pose_report if args.poses else report)(args, results, goals)
    marker = (
        ("pose" if args.poses else "workspace")
        + ("" if args.robot == DEFAULT_ROBOT else f"-{args.robot}")
        + ("" if args.strict else "-no-strict")
    )
    write_section(Path(args.out), marker, text)
    if args.readme:
        write_section(Path(args.readme), marker, text)
    print(text)
    return 1 if failed else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--goals", type=int, default=200, help="consecutive goals per controller (default: %(default)s)"
    )
    parser.add_argument(
        "--poses", action="store_true", help="the pose suite: pose goals, orientation 'track', its own entries"
    )
    parser.add_argument("--goal-seconds", type=float, default=3.0, help="real time per goal (default: %(default)s)")
    parser.add_argument(
        "--robot",
        default=DEFAULT_ROBOT,
        choices=shipped_robots(),
        help="the shipped arm both nodes drive; another than the Panda runs the entries it has policies for and the "
        "classical ones, and writes its own report section (default: %(default)s)",
    )
    parser.add_argument(
        "--no-strict",
        dest="strict",
        action="store_false",
        help="both nodes with strict: false (panda-gym's motors and the policies trained without limits); the default "
        "is the launch default, strict",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the goal sequence (default: %(default)s)")
    parser.add_argument("--controllers", nargs="*", help=f"entries to run (default: all of {list(ENTRIES)})")
    parser.add_argument("--parallel", type=int, default=2, help="stacks running at once (default: %(default)s)")
    parser.add_argument(
        "--rerun",
        nargs="+",
        metavar="ENTRY",
        help="run only these entries again; the report keeps the other entries' results from --log-dir",
    )
    parser.add_argument(
        "--domain-base",
        type=int,
        default=120,
        help="ROS_DOMAIN_ID of the first entry; the others count up (clear of the tests' 140..191)",
    )
    parser.add_argument(
        "--out", default="docs/benchmark.md", help="report; its workspace section is replaced (default: %(default)s)"
    )
    parser.add_argument(
        "--readme", default="README.md", help="also replace the workspace section of this file ('' for none)"
    )
    parser.add_argument(
        "--log-dir", default="out/bench-workspace", help="node logs, goals and per-entry results (default: %(default)s)"
    )


def main(argv: list[str] | None = None) -> int:
    """Child mode (``--entry``): run one controller on the saved goals and write its result.json."""
    parser = argparse.ArgumentParser(prog="ikrl bench reach --suite workspace", description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--entry", help=argparse.SUPPRESS)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.entry is None:
        args.command = " ".join(["ikrl bench reach --suite workspace", *argv])
        return run_suite(args)
    log_dir = Path(args.log_dir)
    goals = np.load(log_dir / "goals.npy")
    rotations = np.load(log_dir / "rotations.npy") if args.poses else None
    result = run_entry(args.entry, goals, args.goal_seconds, log_dir / args.entry, rotations, args.robot, args.strict)
    (log_dir / args.entry / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
