"""Namespaces and remapping, as ``ros2 launch ikrl_ros reach.launch.py namespace:=...`` and ``--ros-args -r``
use them: two reach stacks on one DDS domain, each under its own namespace, each arm driven only by the
goals sent into its namespace; a remapped command topic; a params file honoured under a namespace."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import rclpy
from conftest import wait_for_log

from ikrl_ros.tools.goal_runner import GoalRunner
from ikrl_ros.tools.resources import share_path
from ikrl_ros.tools.stack import FORGIVING, ros_args, stop_node

LOCKSTEP = {"sync_mode": "lockstep", **FORGIVING}
SERVO_TWIST_TOPIC = "servo_node/delta_twist_cmds"
"""MoveIt Servo's twist input, relative: a stack remapped to it sends and takes its twists there."""


def start_in_namespace(
    module: str,
    namespace: str,
    parameters: dict,
    log_path: Path,
    remaps: tuple[str, ...] = (),
    params_file: Path | None = None,
) -> subprocess.Popen:
    """One node as ``python -m <module> --ros-args ... -r __ns:=<namespace> [-r from:=to ...]``."""
    arguments = ros_args(parameters, params_file) + ["-r", f"__ns:={namespace}"]
    for remap in remaps:
        arguments += ["-r", remap]
    with open(log_path, "w") as log:
        return subprocess.Popen([sys.executable, "-u", "-m", module, *arguments], stdout=log, stderr=subprocess.STDOUT)


@contextmanager
def namespaced_stack(
    log_dir: Path, namespace: str, remaps: tuple[str, ...] = ()
) -> Iterator[tuple[subprocess.Popen, subprocess.Popen]]:
    """Bridge and cartesian_p controller in lockstep under ``namespace``, with the package's params file."""
    params_file = share_path("config", "reach.yaml")
    controller = {"controller": "cartesian_p", "orientation": "ignore", **LOCKSTEP}
    processes = (
        start_in_namespace(
            "ikrl_ros.nodes.bridge_node", namespace, LOCKSTEP, log_dir / "bridge.log", remaps, params_file
        ),
        start_in_namespace(
            "ikrl_ros.nodes.reach_controller_node",
            namespace,
            controller,
            log_dir / "controller.log",
            remaps,
            params_file,
        ),
    )
    try:
        yield processes
    finally:
        for process in reversed(processes):
            assert stop_node(process) == 0, f"a node under {namespace} did not exit cleanly"


def catch_up(runner: GoalRunner) -> np.ndarray:
    """Handle what queued for ``runner`` while the other runner was spun; returns its arm's latest position.
    (``run_goal`` starts counting from the newest pose received: a backlog would count as the goal's steps.)"""
    runner.spin_for(0.6)
    return runner.poses[-1][1]


def test_two_namespaced_stacks_on_one_domain_each_follow_only_their_own_goals(tmp_path: Path) -> None:
    """/arm1 plain, /arm2 with its twists remapped to MoveIt Servo's topic (on both of its nodes)."""
    (tmp_path / "arm1").mkdir()
    (tmp_path / "arm2").mkdir()
    goal1, goal2 = np.array([0.5, 0.2, 0.3]), np.array([0.45, -0.25, 0.2])
    with (
        namespaced_stack(tmp_path / "arm1", "/arm1") as arm1,
        namespaced_stack(tmp_path / "arm2", "/arm2", (f"cartesian_cmd:={SERVO_TWIST_TOPIC}",)) as arm2,
    ):
        rclpy.init()
        try:
            runner1, runner2 = GoalRunner("/arm1"), GoalRunner("/arm2")
            runner1.wait_for_stack()
            runner2.wait_for_stack()
            arm2_start = catch_up(runner2)
            catch_up(runner1)
            first = runner1.run_goal(goal1, "goal_pose", budget_steps=50)
            assert first.final_error < 1e-3, f"/arm1: {first.final_error * 1000:.2f} mm from its goal"
            assert np.linalg.norm(catch_up(runner2) - arm2_start) < 1e-3, "/arm2 moved for /arm1's goal"
            assert not runner2.accepted_goals, "/arm2's controller took /arm1's goal"

            second = runner2.run_goal(goal2, "clicked_point", budget_steps=50)
            assert second.final_error < 1e-3, f"/arm2: {second.final_error * 1000:.2f} mm from its goal"
            assert np.linalg.norm(catch_up(runner1) - goal1) < 1e-3, "/arm1 left its goal for /arm2's"
            assert len(runner1.accepted_goals) == 1, "/arm1's controller took /arm2's goal"

            topics = dict(runner1.get_topic_names_and_types())
            nodes = set(runner1.get_node_names_and_namespaces())
        finally:
            rclpy.try_shutdown()
        assert all(process.poll() is None for process in (*arm1, *arm2)), "a node died during the run"
    for name in (
        "joint_states",
        "ee_pose",
        "cartesian_cmd",
        "goal_pose",
        "clicked_point",
        "reach_controller/goal_distance",
    ):
        assert f"/arm1/{name}" in topics, f"/arm1/{name} missing from {sorted(topics)}"
    assert f"/arm2/{SERVO_TWIST_TOPIC}" in topics and "/arm2/cartesian_cmd" not in topics, "the remap applies"
    unqualified = {"/joint_states", "/ee_pose", "/cartesian_cmd", "/goal_pose", "/clicked_point", "/goal_marker"}
    assert not unqualified & set(topics), f"topics outside the namespaces: {sorted(unqualified & set(topics))}"
    for namespace in ("/arm1", "/arm2"):
        assert {("panda_bridge", namespace), ("reach_controller", namespace)} <= nodes, sorted(nodes)


def test_the_params_file_applies_to_nodes_started_under_a_namespace(tmp_path: Path) -> None:
    """A user's copy of config/reach.yaml (controller cartesian_p, both nodes in lockstep) given to nodes under
    /arm1, as ``reach.launch.py namespace:=arm1 params_file:=...`` does: its values, not the defaults, apply."""
    text = share_path("config", "reach.yaml").read_text()
    edited = text.replace("    controller: sac ", "    controller: cartesian_p ").replace(
        "sync_mode: realtime ", "sync_mode: lockstep "
    )
    assert edited.count("controller: cartesian_p") == 1 and edited.count("sync_mode: lockstep") == 2, (
        "config/reach.yaml changed its layout: update this test's edits"
    )
    params_file = tmp_path / "my_reach.yaml"
    params_file.write_text(edited)
    logs = tmp_path / "bridge.log", tmp_path / "controller.log"
    processes = [
        start_in_namespace(module, "/arm1", {}, log, params_file=params_file)
        for module, log in zip(
            ("ikrl_ros.nodes.bridge_node", "ikrl_ros.nodes.reach_controller_node"), logs, strict=True
        )
    ]
    try:
        assert wait_for_log(logs[0], "bridge up", 30) and wait_for_log(logs[1], "reach controller '", 30)
    finally:
        for process in processes:
            stop_node(process)
    assert "bridge up: lockstep timing" in logs[0].read_text(), logs[0].read_text()
    assert "reach controller 'cartesian_p' up, lockstep mode" in logs[1].read_text(), logs[1].read_text()
