"""``ikrl soak``: random goals through the ROS graph in real time, with a fault injected every minute.

Faults cycle through: bridge killed (SIGKILL) and restarted, controller killed and restarted, a
1 kHz goal flood, and a burst of malformed messages on every input topic. The report counts goals
sent, reached and missed (with the fault that was active), crashes (a node exiting on its own),
memory of each node at start and end, and the period jitter of the controller's commands.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import TwistStamped
from sensor_msgs.msg import JointState

from ikrl_ros.core.control import CONTROL_PERIOD
from ikrl_ros.core.panda_gym_task import DISTANCE_THRESHOLD, sample_goals_world
from ikrl_ros.core.robot import load_arm
from ikrl_ros.core.timing import rss_mib
from ikrl_ros.nodes.ros_common import publish_at_rate
from ikrl_ros.tools.command import SubParsers, run_subcommand
from ikrl_ros.tools.goal_runner import GoalRunner
from ikrl_ros.tools.stack import start_node, stop_node

FAULTS = ("kill_bridge", "kill_controller", "goal_flood", "malformed_burst")
NODES = {"panda_bridge": "ikrl_ros.nodes.bridge_node", "reach_controller": "ikrl_ros.nodes.reach_controller_node"}


@dataclass
class Incarnation:
    """One run of one node between its start and its end."""

    name: str
    process: subprocess.Popen
    memory_start: float = float("nan")
    memory_end: float = float("nan")


class Soak:
    def __init__(self, controller: str, log_dir: Path) -> None:
        self.controller_parameters = {"controller": controller}
        self.log_dir = log_dir
        self.incarnations: list[Incarnation] = []
        self.running: dict[str, Incarnation] = {}
        self.crashes: list[str] = []
        self.timing: list[dict[str, float]] = []
        self.runner = GoalRunner()
        self.runner.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 100)
        self.joint_pub = self.runner.create_publisher(JointState, "joint_states", 10)
        self.bad_twist_pub = self.runner.create_publisher(TwistStamped, "cartesian_cmd", 10)
        self.bad_joint_command_pub = self.runner.create_publisher(JointState, "joint_command", 10)

    def _on_diagnostics(self, message: DiagnosticArray) -> None:
        """The controller's own loop timing (rolling over its last 2,000 periods) from each 1 Hz report."""
        for status in message.status:
            values = {pair.key: pair.value for pair in status.values}
            if status.name.endswith("reach_controller") and values.get("period_p50_ms", "nan") != "nan":
                self.timing.append(
                    {
                        key: float(values[key])
                        for key in (
                            "period_p50_ms",
                            "jitter_p99_ms",
                            "jitter_max_ms",
                            "missed_periods",
                            "control_steps",
                        )
                    }
                )

    def start(self, name: str) -> None:
        parameters = self.controller_parameters if name == "reach_controller" else {}
        index = sum(1 for i in self.incarnations if i.name == name)
        process = start_node(NODES[name], parameters, self.log_dir / f"{name}_{index}.log")
        incarnation = Incarnation(name, process)
        self.incarnations.append(incarnation)
        self.running[name] = incarnation

    def sample_memory(self) -> None:
        for incarnation in self.running.values():
            if incarnation.process.poll() is None:
                memory = rss_mib(incarnation.process.pid)
                if np.isnan(incarnation.memory_start):
                    incarnation.memory_start = memory
                incarnation.memory_end = memory

    def check_crashes(self) -> None:
        for name, incarnation in list(self.running.items()):
            code = incarnation.process.poll()
            if code is not None:
                self.crashes.append(f"{name} exited with code {code}")
                self.start(name)

    def kill_and_restart(self, name: str, downtime: float = 2.0) -> None:
        self.sample_memory()  # the victim's memory just before it dies
        incarnation = self.running.pop(name)
        incarnation.process.send_signal(signal.SIGKILL)
        incarnation.process.wait()
        self.runner.spin_for(downtime)
        self.start(name)

    def goal_flood(self, seconds: float = 3.0) -> None:
        rng = np.random.default_rng()
        publish_at_rate(
            lambda _: self.runner.publish_goal(rng.uniform([0.45, -0.15, 0.05], [0.75, 0.15, 0.3]), "goal_pose"),
            1000.0,
            seconds,
        )

    def malformed_burst(self) -> None:
        nan, inf = float("nan"), float("inf")
        for _ in range(20):
            self.runner.publish_goal(np.array([nan, 0.0, 0.2]), "goal_pose")
            self.runner.publish_goal(np.array([0.5, inf, 0.2]), "clicked_point")
            self.runner.publish_goal(np.array([0.5, 0.0, 0.2]), "goal_pose", frame_id="map")
            self.runner.publish_goal(np.array([9.0, 0.0, 0.2]), "clicked_point")
            state = JointState(name=list(load_arm().all_joint_names[:5]), position=[0.0] * 9, velocity=[0.0] * 2)
            self.joint_pub.publish(state)
            twist = TwistStamped()
            twist.header.frame_id = load_arm().base_frame
            twist.twist.linear.x = nan
            self.bad_twist_pub.publish(twist)
            self.bad_joint_command_pub.publish(JointState(name=[load_arm().joint_names[0]], position=[inf]))
            self.runner.spin_for(0.01)

    def inject(self, fault: str) -> None:
        if fault == "kill_bridge":
            self.kill_and_restart("panda_bridge")
        elif fault == "kill_controller":
            self.kill_and_restart("reach_controller")
        elif fault == "goal_flood":
            self.goal_flood()
        else:
            self.malformed_burst()


def total_across_restarts(values: list[float]) -> float:
    """Sum of a per-incarnation cumulative counter that starts again from 0 when the node restarts."""
    total, previous = 0.0, 0.0
    for value in values:
        if value < previous:
            total += previous
        previous = value
    return total + previous


def run_soak(args: argparse.Namespace) -> str:
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    rclpy.init()
    soak = Soak(args.controller, log_dir)
    outcomes: Counter[str] = Counter()
    goals = load_arm().world_to_base(sample_goals_world(100_000, args.seed))
    try:
        soak.start("panda_bridge")
        soak.start("reach_controller")
        soak.runner.wait_for_stack(60)
        started = time.monotonic()
        next_fault = started + args.fault_every
        fault_index = 0
        active_fault = "none"
        goal_index = 0
        while time.monotonic() - started < args.duration:
            soak.check_crashes()
            soak.sample_memory()
            if time.monotonic() >= next_fault:
                active_fault = FAULTS[fault_index % len(FAULTS)]
                print(f"[soak] {time.monotonic() - started:7.1f} s: injecting {active_fault}", flush=True)
                soak.inject(active_fault)
                fault_index += 1
                next_fault += args.fault_every
            goal = goals[goal_index]
            goal_index += 1
            soak.runner.publish_goal(goal, ("goal_pose", "clicked_point")[goal_index % 2])
            deadline = time.monotonic() + args.goal_seconds
            reached = False
            while time.monotonic() < deadline:
                soak.runner.spin_for(0.05)
                if soak.runner.poses and np.linalg.norm(soak.runner.poses[-1][1] - goal) <= DISTANCE_THRESHOLD:
                    reached = True
                    break
            soak.runner.spin_for(max(0.0, deadline - time.monotonic()))
            outcomes["reached" if reached else f"missed during {active_fault}"] += 1
            if reached:
                active_fault = "none"
            del soak.runner.poses[:-10]  # keep memory of the soak client itself bounded
            del soak.runner.arm_states[:]
        soak.sample_memory()
        soak.check_crashes()
    finally:
        for incarnation in soak.running.values():
            stop_node(incarnation.process)
        soak.runner.destroy_node()
        rclpy.try_shutdown()

    sent = sum(outcomes.values())
    if not soak.timing:
        raise RuntimeError("no timing diagnostics arrived from the reach controller during the soak")
    missed_periods = total_across_restarts([t["missed_periods"] for t in soak.timing])
    control_steps = total_across_restarts([t["control_steps"] for t in soak.timing])
    period_p50 = np.median([t["period_p50_ms"] for t in soak.timing])
    jitter_p99 = max(t["jitter_p99_ms"] for t in soak.timing)
    jitter_max = max(t["jitter_max_ms"] for t in soak.timing)
    lines = [
        "# Soak test: random goals in real time with a fault every minute",
        "",
        f"Measured by `ikrl soak --duration {args.duration:g} --fault-every {args.fault_every:g} --controller "
        f"{args.controller}` "
        f"on {platform.machine()}, {os.cpu_count()} cores. Bridge real time at 25 Hz, controller timer at 25 Hz; "
        f"a goal every {args.goal_seconds:g} s (reached = within {DISTANCE_THRESHOLD * 100:g} cm before the next "
        "goal); "
        f"faults in turn: {', '.join(FAULTS)}.",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| goals sent | {sent} |",
        f"| reached | {outcomes['reached']} ({outcomes['reached'] / max(sent, 1) * 100:.1f} %) |",
        *(f"| {reason} | {count} |" for reason, count in sorted(outcomes.items()) if reason != "reached"),
        f"| faults injected | {fault_index} |",
        "| crashes (a node exiting by itself) | "
        f"{len(soak.crashes)}{': ' + '; '.join(soak.crashes) if soak.crashes else ''} |",
        f"| controller loop period, median | {period_p50:.2f} ms (nominal {CONTROL_PERIOD * 1e3:g} ms) |",
        f"| period jitter p99 (worst rolling window of 2,000 periods) / max | {jitter_p99:.2f} / {jitter_max:.2f} ms |",
        f"| missed control periods | {missed_periods:.0f} of {control_steps + missed_periods:.0f} |",
        "",
        "Memory (RSS) of each node incarnation, at its first and last sample:",
        "",
        "| node | incarnation | start (MiB) | end (MiB) |",
        "|---|---|---|---|",
    ]
    counts: Counter[str] = Counter()
    for incarnation in soak.incarnations:
        lines.append(
            f"| {incarnation.name} | {counts[incarnation.name]} | {incarnation.memory_start:.1f} | "
            f"{incarnation.memory_end:.1f} |"
        )
        counts[incarnation.name] += 1
    return "\n".join(lines) + "\n"


def add_subcommands(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser("soak", help="long real-time run with injected faults (reliability benchmark)")
    parser.add_argument("--duration", type=float, default=1800.0, help="seconds (default: %(default)s)")
    parser.add_argument("--fault-every", type=float, default=60.0, help="seconds between faults (default: %(default)s)")
    parser.add_argument("--goal-seconds", type=float, default=3.0, help="seconds per goal (default: %(default)s)")
    parser.add_argument(
        "--controller", default="sac", help="reach controller (default: %(default)s, the shipped policy)"
    )
    parser.add_argument("--seed", type=int, default=0, help="goal sequence seed (default: %(default)s)")
    parser.add_argument("--out", default="docs/soak.md", help="report (default: %(default)s)")
    parser.add_argument("--log-dir", default="out/soak", help="node logs (default: %(default)s)")
    parser.set_defaults(func=soak_command)


def soak_command(args: argparse.Namespace) -> int:
    report = run_soak(args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(report)
    print(report)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m ikrl_ros.tools.soak ARGS`` is ``ikrl soak ARGS``."""
    return run_subcommand("soak", add_subcommands, argv)


if __name__ == "__main__":
    raise SystemExit(main())
