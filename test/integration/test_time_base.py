"""One time base per sync mode: lockstep stamps everything in sim time and publishes /clock; realtime stamps wall
time. Real bridge and controller processes over DDS."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import TwistStamped
from rosgraph_msgs.msg import Clock
from visualization_msgs.msg import MarkerArray

from ikrl_ros.nodes.ros_common import ns_from_time
from ikrl_ros.tools.goal_runner import connected_runner
from ikrl_ros.tools.stack import FORGIVING, reach_stack

SIM_TIME_CEILING_NS = 3_600 * 1_000_000_000
"""A fresh simulation's clock is far below an hour; wall time (since 1970) is far above it."""


def collect(runner, message_type, topic: str, into: list) -> None:
    runner.create_subscription(message_type, topic, into.append, 50)


def test_lockstep_stamps_everything_in_sim_time_and_publishes_clock(tmp_path: Path) -> None:
    stack = reach_stack(
        tmp_path,
        bridge={"sync_mode": "lockstep", **FORGIVING},
        controller={"controller": "cartesian_p", "sync_mode": "lockstep", "orientation": "ignore", **FORGIVING},
    )
    with stack, connected_runner() as runner:
        clocks: list[Clock] = []
        commands: list[TwistStamped] = []
        markers: list[MarkerArray] = []
        diagnostics: list[DiagnosticArray] = []
        collect(runner, Clock, "/clock", clocks)
        collect(runner, TwistStamped, "cartesian_cmd", commands)
        collect(runner, MarkerArray, "reach_controller/markers", markers)
        collect(runner, DiagnosticArray, "/diagnostics", diagnostics)
        outcome = runner.run_goal(np.array([0.5, 0.1, 0.3]), "clicked_point", budget_steps=40, tolerance=0.001)
        runner.spin_for(1.5)  # diagnostics come at 1 Hz
    assert outcome.reached
    assert clocks, "lockstep publishes /clock"
    state_stamps = {stamp for stamp, _ in runner.arm_states}
    assert all(0 < ns_from_time(c.clock) < SIM_TIME_CEILING_NS for c in clocks)
    assert commands and all(ns_from_time(c.header.stamp) in state_stamps for c in commands), (
        "answers carry the state's stamp"
    )
    marker_stamps = [ns_from_time(m.header.stamp) for array in markers for m in array.markers]
    assert marker_stamps and max(marker_stamps) < SIM_TIME_CEILING_NS, "markers in sim time"
    diagnostic_stamps = [ns_from_time(d.header.stamp) for d in diagnostics]
    assert diagnostic_stamps and max(diagnostic_stamps) < SIM_TIME_CEILING_NS, "diagnostics in sim time (both nodes)"


def test_realtime_stamps_wall_time_without_clock(tmp_path: Path) -> None:
    with reach_stack(tmp_path, bridge=FORGIVING, controller=FORGIVING) as _, connected_runner() as runner:
        clocks: list[Clock] = []
        collect(runner, Clock, "/clock", clocks)
        runner.spin_for(1.0)
    now_ns = time.time_ns()
    stamps = [stamp for stamp, _ in runner.arm_states]
    assert stamps and all(abs(stamp - now_ns) < 10_000_000_000 for stamp in stamps), "joint states in wall time"
    assert not clocks, "no /clock in realtime unless publish_clock"
