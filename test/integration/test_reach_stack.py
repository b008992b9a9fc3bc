"""The reach stack end to end: bridge and controller as separate processes over DDS, goals sent as RViz sends them."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
import rclpy.duration
from conftest import spin_until, wait_for_log
from geometry_msgs.msg import PointStamped, PoseStamped, TwistStamped
from sensor_msgs.msg import JointState

from ikrl_ros.core.panda_gym_task import EPISODE_STEPS, sample_goals_world
from ikrl_ros.core.robot import load_arm
from ikrl_ros.nodes.ros_common import xyz
from ikrl_ros.tools.goal_runner import GOAL_TOPICS, GoalOutcome, GoalRunner, connected_runner
from ikrl_ros.tools.stack import FORGIVING, reach_stack, start_node, stop_node

ARM = load_arm()
JOINT_NAMES = ARM.all_joint_names
NEUTRAL_JOINT_POSITIONS = ARM.neutral
DEFAULT_WORKSPACE = ARM.workspace
HOLD_STEPS = 10
"""Control periods each goal is held after it was reached, before the next goal."""


def held_errors(runner: GoalRunner, outcome: GoalOutcome, target: np.ndarray, steps: int = HOLD_STEPS) -> np.ndarray:
    """Distances to ``target`` of the next ``steps`` states after ``outcome`` ended, the goal unchanged."""
    assert spin_until(runner, lambda: sum(stamp > outcome.end_ns for stamp, _, _ in runner.poses) >= steps, 10), (
        "the bridge stopped stepping"
    )
    held = [position for stamp, position, _ in runner.poses if stamp > outcome.end_ns][:steps]
    return np.linalg.norm(np.array(held) - target, axis=1)


@pytest.mark.parametrize(("controller", "max_final_error"), [("cartesian_p", 5e-3), ("ik", 1e-3)])
def test_each_controller_reaches_50_panda_gym_goals_in_lockstep(
    tmp_path: Path, controller: str, max_final_error: float
) -> None:
    """Each goal is followed until it is reached to a fifth of ``max_final_error`` (or the 50-step budget
    ends), then held for 10 more steps: every goal must stay within 1 mm while the controller holds it."""
    goals = ARM.world_to_base(sample_goals_world(50, seed=123))
    stack = reach_stack(
        tmp_path,
        bridge={"sync_mode": "lockstep", **FORGIVING},
        controller={"controller": controller, "sync_mode": "lockstep", **FORGIVING},
    )
    with stack as processes:
        with connected_runner() as runner:
            outcomes, holds = [], []
            for index, goal in enumerate(goals):
                # The controller tracks the goal clamped into its workspace (z >= 1 cm: fingertips off the table).
                target = DEFAULT_WORKSPACE.clamp(goal)
                outcome = runner.run_goal(
                    goal,
                    GOAL_TOPICS[index % 2],
                    EPISODE_STEPS,
                    tolerance=0.05,
                    stop_error=max_final_error / 5,
                    expected=target,
                )
                outcomes.append(outcome)
                holds.append(held_errors(runner, outcome, target))
        assert all(process.poll() is None for process in processes), "a node died during the run"
    for index, (outcome, held) in enumerate(zip(outcomes, holds, strict=True)):
        assert outcome.reached and outcome.steps_to_reach <= EPISODE_STEPS, (
            f"{controller} missed {outcome.goal}: {outcome.final_error}, {len(outcome.path)} states, index {index}"
        )
        assert outcome.final_error < max_final_error, (
            f"{controller}: {outcome.final_error * 1000:.2f} mm at {outcome.goal}"
        )
        assert held.max() <= 1e-3, (
            f"{controller}, goal {index} {outcome.goal}: {outcome.final_error * 1000:.2f} mm when followed, then "
            f"held at {np.round(held * 1000, 2)} mm"
        )
    assert np.linalg.norm(outcomes[-1].path[-1] - outcomes[-1].goal) < 0.05


class ControllerProbe:
    """Plays the bridge for a controller in realtime mode: publishes joint states, records its commands."""

    def __init__(self, node) -> None:
        self.node = node
        self.commands: list[np.ndarray] = []
        node.create_subscription(
            TwistStamped, "cartesian_cmd", lambda m: self.commands.append(np.array(xyz(m.twist.linear))), 100
        )
        self.joint_pub = node.create_publisher(JointState, "joint_states", 10)
        self.goal_pose_pub = node.create_publisher(PoseStamped, "goal_pose", 10)
        self.clicked_point_pub = node.create_publisher(PointStamped, "clicked_point", 10)

    def joint_state(self, names=JOINT_NAMES, position=None, velocity=None, stamp_offset: float | None = 0.0) -> None:
        """A joint state stamped now + ``stamp_offset`` seconds (None: unstamped)."""
        message = JointState()
        if stamp_offset is not None:
            message.header.stamp = (
                self.node.get_clock().now() + rclpy.duration.Duration(seconds=stamp_offset)
            ).to_msg()
        message.name = list(names)
        message.position = [
            float(v) for v in (list(NEUTRAL_JOINT_POSITIONS) + [0.0, 0.0] if position is None else position)
        ]
        message.velocity = [0.0] * len(message.name) if velocity is None else [float(v) for v in velocity]
        self.joint_pub.publish(message)

    def goal(self, point, frame: str = "panda_link0", topic: str = "goal_pose") -> None:
        if topic == "goal_pose":
            message = PoseStamped()
            message.pose.position.x, message.pose.position.y, message.pose.position.z = (float(v) for v in point)
            message.pose.orientation.w = 1.0
        else:
            message = PointStamped()
            message.point.x, message.point.y, message.point.z = (float(v) for v in point)
        message.header.frame_id = frame
        (self.goal_pose_pub if topic == "goal_pose" else self.clicked_point_pub).publish(message)

    def wait_ready(self) -> None:
        """Until the controller listens to us and commands (zero), plus time for its side of discovery."""

        def ready() -> bool:
            return (
                bool(self.commands)
                and self.goal_pose_pub.get_subscription_count() > 0
                and self.clicked_point_pub.get_subscription_count() > 0
            )

        assert spin_until(self.node, ready, 30), "controller did not come up"
        self.run(0.5)

    def run(self, seconds: float, feed_valid_states: bool = True) -> list[np.ndarray]:
        """Spin for ``seconds`` (feeding valid neutral joint states at 50 Hz) and return the commands received."""
        start = len(self.commands)
        for _ in range(int(seconds * 50)):
            if feed_valid_states:
                self.joint_state()
            spin_until(self.node, lambda: False, 0.02)
        return self.commands[start:]


@pytest.fixture(scope="module")
def controller_log(tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("controller") / "reach_controller.log"
    process = start_node(
        "ikrl_ros.nodes.reach_controller_node",
        {"controller": "cartesian_p", "out_of_workspace": "reject", **FORGIVING},
        log,
    )
    yield log
    assert stop_node(process) == 0


BAD_GOALS = [
    ([float("nan"), 0.0, 0.2], "panda_link0", "goal position contains non-finite values"),
    ([0.5, float("inf"), 0.2], "panda_link0", "goal position contains non-finite values"),
    ([0.5, 0.0, 0.2], "map", "goal frame 'map' is not supported"),
    ([0.5, 0.0, 0.2], "", "goal frame '<empty>' is not supported"),
    ([3.0, 0.0, 0.2], "panda_link0", "is outside the workspace; rejected"),
    ([0.5, 0.0, -0.3], "world", "is outside the workspace; rejected"),
]


def test_bad_goals_are_refused_with_a_warning_and_never_commanded(controller_log: Path, ros_node) -> None:
    probe = ControllerProbe(ros_node)
    probe.wait_ready()
    for index, (point, frame, warning) in enumerate(BAD_GOALS):
        probe.goal(point, frame, GOAL_TOPICS[index % 2])
        commands = probe.run(0.4)
        assert wait_for_log(controller_log, warning), f"expected warning '{warning}'"
        assert commands and all(np.all(c == 0.0) for c in commands), (
            f"a command moved after the bad goal {point} in '{frame}'"
        )
    probe.goal([0.45, 0.1, 0.3], "panda_link0", "clicked_point")
    commands = probe.run(0.4)
    assert any(np.linalg.norm(c) > 0.1 for c in commands), (
        "a valid goal must be commanded (so the checks above can fail)"
    )


BAD_JOINT_STATES = [
    (dict(names=JOINT_NAMES[1:], position=[0.0] * 8, velocity=[0.0] * 8), "missing arm joints ['panda_joint1']"),
    (
        dict(names=list(JOINT_NAMES) + ["wheel_joint"], position=[0.0] * 10, velocity=[0.0] * 10),
        "unknown joint names ['wheel_joint']",
    ),
    (dict(names=JOINT_NAMES, position=[0.0] * 8, velocity=[0.0] * 9), "9 names but 8 positions"),
    (dict(names=JOINT_NAMES, position=[0.0] * 9, velocity=[0.0] * 3), "9 names but 3 velocities"),
    (
        dict(names=JOINT_NAMES, position=[float("nan")] * 9, velocity=[0.0] * 9),
        "joint positions contains non-finite values",
    ),
    (dict(names=list(JOINT_NAMES[:8]) + ["panda_joint1"], position=[0.0] * 9, velocity=[0.0] * 9), "duplicated"),
    (dict(stamp_offset=30.0), "s in the future: the publisher's clock and this node's disagree"),
]


def test_malformed_joint_states_are_refused_and_the_controller_stops(controller_log: Path, ros_node) -> None:
    probe = ControllerProbe(ros_node)
    probe.wait_ready()
    probe.goal([0.5, -0.1, 0.25], "panda_link0")
    assert any(np.linalg.norm(c) > 0.1 for c in probe.run(0.6)), "controller should track the valid goal first"
    for kwargs, warning in BAD_JOINT_STATES:
        for _ in range(15):
            probe.joint_state(**kwargs)
            spin_until(ros_node, lambda: False, 0.02)
        assert wait_for_log(controller_log, warning), f"expected warning '{warning}'"
    # Only malformed states for 0.3 s: the last valid one is stale, so commands must have gone to zero.
    commands = probe.run(0.3, feed_valid_states=False)
    assert commands and all(np.all(np.isfinite(c)) for c in probe.commands)
    assert np.all(commands[-1] == 0.0), "stale joint states must give a zero command"
    assert any(np.linalg.norm(c) > 0.1 for c in probe.run(0.4)), "valid states must bring the controller back"


def test_states_faster_than_the_control_rate_are_thinned_to_it(controller_log: Path, ros_node) -> None:
    """The probe feeds states at up to 50 Hz; a 25 Hz controller answers 25 of them per second."""
    probe = ControllerProbe(ros_node)
    probe.wait_ready()
    probe.goal([0.5, 0.1, 0.25], "panda_link0")
    started = time.monotonic()
    commands = probe.run(2.0)
    elapsed = time.monotonic() - started
    assert 100 / elapsed > 30, "the probe must feed states faster than the control rate for this test to mean anything"
    assert 0.8 * 25 * elapsed <= len(commands) <= 1.1 * 25 * elapsed, (
        f"{len(commands)} commands in {elapsed:.2f} s at 25 Hz"
    )


def test_unstamped_joint_states_are_used_with_a_warning(controller_log: Path, ros_node) -> None:
    probe = ControllerProbe(ros_node)
    probe.wait_ready()
    probe.goal([0.5, -0.1, 0.25], "panda_link0")
    commands = []
    for _ in range(20):
        probe.joint_state(stamp_offset=None)
        commands += probe.run(0.02, feed_valid_states=False)
    assert wait_for_log(
        controller_log, "joint_states: message is unstamped (stamp 0); its age is judged by arrival time"
    )
    assert any(np.linalg.norm(c) > 0.1 for c in commands), "an unstamped but fresh state still drives the arm"


def test_controller_publishes_zero_on_shutdown(tmp_path: Path, ros_node) -> None:
    log = tmp_path / "controller.log"
    process = start_node("ikrl_ros.nodes.reach_controller_node", {"controller": "cartesian_p", **FORGIVING}, log)
    probe = ControllerProbe(ros_node)
    probe.wait_ready()
    probe.goal([0.5, 0.1, 0.25], "panda_link0")
    assert any(np.linalg.norm(c) > 0.1 for c in probe.run(0.6))
    count = len(probe.commands)
    assert stop_node(process) == 0
    spin_until(ros_node, lambda: False, 0.5)
    assert len(probe.commands) > count and np.all(probe.commands[-1] == 0.0), "the last command must be zero"


def test_invalid_parameters_stop_the_node_at_start_up(tmp_path: Path) -> None:
    log = tmp_path / "controller.log"
    process = start_node("ikrl_ros.nodes.reach_controller_node", {"controller": "magic"}, log)
    assert process.wait(30) == 2
    assert "parameter 'controller' must be one of" in log.read_text()
