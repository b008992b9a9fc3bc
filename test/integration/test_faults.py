"""Fault injection with real processes over DDS: nodes killed and restarted, goal floods, signals."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import spin_until
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PointStamped, PoseStamped, TwistStamped
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState

from ikrl_ros.core.timing import rss_mib
from ikrl_ros.nodes.ros_common import ns_from_time, publish_at_rate, xyz
from ikrl_ros.tools.stack import FORGIVING, start_node, stop_node

PERIOD = 0.04  # 25 Hz controller and bridge


class Observer:
    """Everything the test needs to see of the stack, with wall-clock receipt times (and header stamps, for
    timings that must not include this process's own delays)."""

    def __init__(self, node) -> None:
        self.node = node
        self.commands: list[tuple[float, np.ndarray]] = []
        self.command_stamps: list[int] = []
        self.states: list[float] = []
        self.state_stamps: list[int] = []
        self.poses: list[tuple[float, np.ndarray]] = []
        self.pose_stamps: list[int] = []
        self.diagnostics: list[tuple[float, DiagnosticStatus]] = []
        self.markers: list[np.ndarray] = []
        node.create_subscription(TwistStamped, "cartesian_cmd", self._on_command, 100)
        node.create_subscription(JointState, "joint_states", self._on_state, 100)
        node.create_subscription(PoseStamped, "ee_pose", self._on_pose, 100)
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 100)
        node.create_subscription(
            PointStamped, "goal_marker", lambda m: self.markers.append(np.array(xyz(m.point))), 100
        )
        self.goal_pub = node.create_publisher(PoseStamped, "goal_pose", 10)

    def _on_command(self, message: TwistStamped) -> None:
        self.commands.append((time.monotonic(), np.array(xyz(message.twist.linear))))
        self.command_stamps.append(ns_from_time(message.header.stamp))

    def _on_state(self, message: JointState) -> None:
        self.states.append(time.monotonic())
        self.state_stamps.append(ns_from_time(message.header.stamp))

    def _on_pose(self, message: PoseStamped) -> None:
        self.poses.append((time.monotonic(), np.array(xyz(message.pose.position))))
        self.pose_stamps.append(ns_from_time(message.header.stamp))

    def now_ns(self) -> int:
        return self.node.get_clock().now().nanoseconds

    def _on_diagnostics(self, message: DiagnosticArray) -> None:
        for status in message.status:
            self.diagnostics.append((time.monotonic(), status))

    def send_goal(self, goal, publisher=None) -> None:
        """``goal`` as a PoseStamped, on ``goal_pose`` or through ``publisher``."""
        message = PoseStamped()
        message.header.frame_id = "panda_link0"
        message.pose.position.x, message.pose.position.y, message.pose.position.z = (float(v) for v in goal)
        message.pose.orientation.w = 1.0  # an all-zero quaternion is refused as unset
        (publisher or self.goal_pub).publish(message)

    def spin(self, seconds: float) -> None:
        spin_until(self.node, lambda: False, seconds)

    def ee(self) -> np.ndarray:
        return self.poses[-1][1]

    def command_goal(self, goal, timeout: float = 10.0) -> None:
        """Send ``goal`` until the controller echoes it on ``goal_marker`` (the first message can race discovery)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.send_goal(goal)
            if spin_until(self.node, lambda: bool(self.markers) and np.allclose(self.markers[-1], goal), 0.2):
                return
        raise AssertionError(f"the controller never accepted {goal}")

    def reach(self, goal, timeout: float = 10.0) -> bool:
        """Send ``goal`` (again until the controller echoes it) and wait until the arm is within 1 cm."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.send_goal(goal)
            self.spin(0.3)
            if self.poses and np.linalg.norm(self.ee() - np.asarray(goal)) < 0.01:
                return True
        return False


@pytest.fixture
def observer(ros_node) -> Observer:
    return Observer(ros_node)


@pytest.fixture
def stack(tmp_path: Path, observer: Observer):
    """Bridge (real time, 25 Hz) and cartesian_p controller, up and moving the arm; tests may replace either."""
    processes = {
        "bridge": start_node(
            "ikrl_ros.nodes.bridge_node", {"command_timeout": 0.1, **FORGIVING}, tmp_path / "bridge.log"
        ),
        "controller": start_node(
            "ikrl_ros.nodes.reach_controller_node",
            {"controller": "cartesian_p", **FORGIVING},
            tmp_path / "controller.log",
        ),
    }
    try:
        assert spin_until(
            observer.node, lambda: bool(observer.poses) and observer.goal_pub.get_subscription_count() > 0, 30
        )
        observer.spin(0.5)
        assert observer.reach([0.5, 0.15, 0.3]), "the stack is up and moving"
        yield processes
    finally:
        for process in processes.values():
            stop_node(process)


def test_killed_bridge_gives_zero_commands_and_the_controller_resumes_after_restart(
    tmp_path: Path, observer: Observer, stack: dict
) -> None:
    bridge = stack["bridge"]
    observer.command_goal([0.45, -0.15, 0.1])  # a far goal: the controller is commanding motion when the bridge dies
    assert spin_until(observer.node, lambda: np.linalg.norm(observer.commands[-1][1]) > 0.05, 5.0)

    bridge.send_signal(signal.SIGKILL)
    bridge.wait()
    observer.spin(0.5)
    last_state = observer.states[-1]
    zero_times = [t for t, c in observer.commands if t > last_state and np.all(c == 0.0)]
    assert zero_times, "no zero command after the bridge died"
    # Watchdog: stale after two control periods without a state, zero at the next tick of the 25 Hz loop. By
    # header stamps (the bridge's at publishing the last state, the controller's at publishing the zero), so this
    # process's own delays do not count; 0.1 s more for a timer that runs late on a loaded machine (a watchdog on
    # a 0.25 s timeout would still fail).
    last_stamp = observer.state_stamps[-1]
    commands = zip(observer.command_stamps, observer.commands, strict=True)
    zero_stamps = [stamp for stamp, (_, c) in commands if stamp > last_stamp and np.all(c == 0.0)]
    assert zero_stamps, "no zero command stamped after the last state"
    zero_after = (zero_stamps[0] - last_stamp) / 1e9
    assert zero_after <= 3 * PERIOD + 0.1, f"zero command {zero_after:.3f} s after the last state (by stamps)"
    assert all(np.all(c == 0.0) for t, c in observer.commands if t >= zero_times[0])
    # The 1 Hz report may fall between the last state and the watchdog's verdict; the change itself is published
    # at once, and the node stays in error while no state comes.
    after = [s for t, s in observer.diagnostics if t > last_state and s.name.endswith("reach_controller")]
    assert any(s.level == DiagnosticStatus.ERROR and "joint states stale" in s.message for s in after)
    assert after[-1].level == DiagnosticStatus.ERROR

    bridge = stack["bridge"] = start_node("ikrl_ros.nodes.bridge_node", FORGIVING, tmp_path / "bridge_restarted.log")
    assert spin_until(observer.node, lambda: observer.states[-1] > last_state + 0.5, 30), "restarted bridge publishes"
    assert observer.reach([0.6, 0.1, 0.25]), "the controller resumes by itself and reaches the next goal"
    assert any(np.linalg.norm(c) > 0.05 for t, c in observer.commands if t > zero_times[-1]), "non-zero commands again"


def test_killed_controller_leaves_the_arm_held_by_the_bridge(tmp_path: Path, observer: Observer, stack: dict) -> None:
    controller = stack["controller"]
    observer.command_goal([0.7, -0.1, 0.1])
    assert spin_until(observer.node, lambda: np.linalg.norm(observer.commands[-1][1]) > 0.05, 5.0), "not moving"
    controller.send_signal(signal.SIGKILL)
    controller.wait()
    killed, killed_ns = time.monotonic(), observer.now_ns()
    # Counted in bridge steps (each advances the simulation one control period), so a bridge slowed by a loaded
    # machine gets the same simulated time: the hold begins after command_timeout (0.1 s, at most 3 steps); an
    # arm moving at up to 1.25 m/s then needs about 0.25 s of braking (panda-gym's motor forces, 7 steps) before
    # it rests. From then on, for 1 s of simulated time: no drift.
    settle, watch = 11, 25

    def after_kill() -> list[np.ndarray]:
        return [p for stamp, (_, p) in zip(observer.pose_stamps, observer.poses, strict=True) if stamp > killed_ns]

    def bridge_reports() -> list[DiagnosticStatus]:
        return [s for t, s in observer.diagnostics if t > killed and s.name.endswith("panda_bridge")]

    def held_and_reported() -> bool:
        return len(after_kill()) >= settle + watch and any("holding position" in s.message for s in bridge_reports())

    spin_until(observer.node, held_and_reported, 20.0)
    window = np.array(after_kill()[settle : settle + watch])
    assert len(window) == watch, f"{len(window)} poses"
    drift = np.linalg.norm(window - window[0], axis=1).max()
    assert drift < 1e-3, f"end effector drifted {drift * 1000:.2f} mm while held"
    holding = bridge_reports()
    # The first report after the kill may be a periodic one from the 0.1 s before the hold began.
    assert any("holding position" in status.message for status in holding), [status.message for status in holding]


class StampLog:
    """Header stamps of every joint state and command, in a history deep enough that none is lost while the test
    thread publishes a flood instead of spinning."""

    def __init__(self, node) -> None:
        self.states: list[int] = []
        self.commands: list[int] = []
        deep = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
        node.create_subscription(
            JointState, "joint_states", lambda m: self.states.append(ns_from_time(m.header.stamp)), deep
        )
        node.create_subscription(
            TwistStamped, "cartesian_cmd", lambda m: self.commands.append(ns_from_time(m.header.stamp)), deep
        )

    def window(self, start_ns: int, end_ns: int) -> tuple[int, int]:
        """(joint states stamped within the window, how many of them a command followed before the next state)."""
        states = sorted(self.states)
        commands = np.sort(np.array(self.commands))
        inside = [i for i, stamp in enumerate(states) if start_ns <= stamp <= end_ns]
        answered = 0
        for i in inside:
            following = states[i + 1] if i + 1 < len(states) else np.iinfo(np.int64).max
            first = np.searchsorted(commands, states[i], side="right")
            answered += bool(first < len(commands) and commands[first] <= following)
        return len(inside), answered


FLOOD_RATE = 1000.0
FLOOD_SECONDS = 5.0


class Window:
    """One FLOOD_SECONDS stretch of goals at FLOOD_RATE through ``publish_goal(index, goal)``: goals sent, span in
    ROS time (the clock the nodes stamp with)."""

    def __init__(self, observer: Observer, publish_goal) -> None:
        rng = np.random.default_rng(0)
        self.start_ns = observer.now_ns()
        self.sent = publish_at_rate(
            lambda i: publish_goal(i, rng.uniform([0.45, -0.15, 0.05], [0.75, 0.15, 0.3])), FLOOD_RATE, FLOOD_SECONDS
        )
        self.end_ns = observer.now_ns()


def test_goal_flood_keeps_the_rate_follows_the_latest_goal_and_bounded_memory(
    tmp_path: Path, observer: Observer, stack: dict
) -> None:
    """5 s of goals at 1 kHz, against a baseline in the same run: 5 s of the same publishing loop with one goal in
    100 sent to the controller and the rest to a topic nobody subscribes to (this process's cost of the flood and a
    moving arm, without the flood's delivery). By header stamps, kept in a history nothing is lost from: the joint
    states the bridge stamped in each window, and how many of them the controller answered before the next came.

    The flood costs CPU in both nodes: an IK check of the new goal's orientation every control step, and every
    accepted goal echoed to the bridge as ``goal_marker``. Where CPU is short the whole loop slows (on a quiet
    2-core machine too: 105-110 of 125 states), so the rate is judged against the baseline, and by the share of
    states answered, which does not depend on how fast the bridge could step."""
    controller = stack["controller"]
    stamps = StampLog(observer.node)
    dead_end = observer.node.create_publisher(PoseStamped, "ikrl_test_nobody_listens", 10)
    observer.spin(0.5)
    memory_before = rss_mib(controller.pid)
    baseline = Window(observer, lambda i, goal: observer.send_goal(goal, None if i % 100 == 0 else dead_end))
    observer.spin(0.5)
    flood = Window(observer, lambda _, goal: observer.send_goal(goal))
    final_goal = np.array([0.62, 0.12, 0.22])
    observer.send_goal(final_goal)
    # Reaching the last goal is the subject, not how fast the loaded machine gets there: up to 20 s.
    reached = spin_until(
        observer.node,
        lambda: np.allclose(observer.markers[-1], final_goal) and np.linalg.norm(observer.ee() - final_goal) < 0.005,
        20.0,
    )
    memory_after = rss_mib(controller.pid)
    states, answered = stamps.window(flood.start_ns, flood.end_ns)
    baseline_states, baseline_answered = stamps.window(baseline.start_ns, baseline.end_ns)
    report = (
        f"flood: {flood.sent} goals, {answered} of {states} joint states answered;"
        f" baseline: {baseline.sent} goals, {baseline_answered} of {baseline_states} answered"
        f" (nominal {FLOOD_SECONDS / PERIOD:.0f} states)"
    )
    print(report)
    # This process may not get the CPU for the full rate on a loaded machine; half of it is still a flood.
    assert min(flood.sent, baseline.sent) >= 0.5 * FLOOD_RATE * FLOOD_SECONDS, report
    assert baseline_states >= 10, f"the stack was not stepping before the flood: {report}"
    # Bounds for a loaded machine, where the flood's CPU is CPU the loop does not get. On a 2-core machine with two
    # busy loops and other test sessions beside this one: down to 0.2 of the baseline's states in the flood, and
    # 0.68 of them answered where the baseline answered 0.92. A stack stalled by the flood steps not at all.
    assert states >= 0.1 * baseline_states, f"the loop stalled under the flood: {report}"
    # The controller answers each state it gets, except states reaching it in a burst after it was descheduled,
    # which it thins to the control rate; the baseline shows how often the machine's load alone does that. A
    # controller that stops answering while goals pour in (or answers only now and then) fails.
    assert answered / states >= 0.5 * baseline_answered / baseline_states, f"the controller fell behind: {report}"
    assert reached and np.allclose(observer.markers[-1], final_goal), "the controller follows the latest goal"
    assert memory_after - memory_before < 30, f"controller memory grew {memory_after - memory_before:.1f} MiB"
    assert controller.poll() is None


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signals_give_a_zero_command_and_exit_code_0(observer: Observer, stack: dict, signum: int) -> None:
    bridge, controller = stack["bridge"], stack["controller"]
    observer.command_goal([0.75, -0.15, 0.1])
    assert spin_until(observer.node, lambda: np.linalg.norm(observer.commands[-1][1]) > 0.05, 5.0)
    controller.send_signal(signum)
    assert controller.wait(10) == 0
    observer.spin(0.3)
    assert np.all(observer.commands[-1][1] == 0.0), "the last command before exit is zero"
    bridge.send_signal(signum)
    assert bridge.wait(10) == 0
