"""Trained as deployed: the real bridge node and the training environment execute one command sequence identically.

The bridge runs as its own process (lockstep, so every command answers a known state); each period the test reads
the joint state the bridge published, sends the next action's command, and steps the training environment from
that same state with the same action. The joint targets the bridge applied (``~/joint_targets``) must equal the
environment's next joint positions.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from conftest import spin_until
from geometry_msgs.msg import TwistStamped
from sensor_msgs.msg import JointState

from ikrl_ros.core.robot import load_arm
from ikrl_ros.nodes.ros_common import ns_from_time
from ikrl_ros.rl.workspace_env import register_workspace_envs
from ikrl_ros.tools.stack import FORGIVING, start_node, stop_node

STEPS = 40


class LockstepDriver:
    """Answers each published joint state with one command and records the targets the bridge applied."""

    def __init__(self, node) -> None:
        self.node = node
        self.states: dict[int, np.ndarray] = {}
        self.targets: dict[int, np.ndarray] = {}
        arm = load_arm()
        self.dof = arm.dof
        node.create_subscription(JointState, "joint_states", self.on_state, 100)
        node.create_subscription(
            JointState,
            "panda_bridge/joint_targets",
            lambda m: self.targets.__setitem__(ns_from_time(m.header.stamp), np.array(m.position)),
            100,
        )
        self.twist_pub = node.create_publisher(TwistStamped, "cartesian_cmd", 10)
        self.joint_pub = node.create_publisher(JointState, "joint_command", 10)
        self.names = list(arm.joint_names)
        self.frame = arm.base_frame

    def on_state(self, message: JointState) -> None:
        self.states[ns_from_time(message.header.stamp)] = np.array(message.position[: self.dof])

    def newest(self) -> int:
        return max(self.states)

    def send_twist(self, stamp_ns: int, linear: np.ndarray, angular: np.ndarray) -> None:
        message = TwistStamped()
        message.header.stamp.sec, message.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        message.header.frame_id = self.frame
        message.twist.linear.x, message.twist.linear.y, message.twist.linear.z = (float(v) for v in linear)
        message.twist.angular.x, message.twist.angular.y, message.twist.angular.z = (float(v) for v in angular)
        self.twist_pub.publish(message)

    def send_joints(self, stamp_ns: int, positions: np.ndarray) -> None:
        message = JointState(name=self.names, position=[float(v) for v in positions])
        message.header.stamp.sec, message.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        self.joint_pub.publish(message)


@pytest.mark.parametrize("env_id", ["IkrlReach-v0", "IkrlReachPose-v0", "IkrlReachJoints-v0"])
def test_bridge_and_training_env_execute_commands_identically(tmp_path: Path, ros_node, env_id: str) -> None:
    register_workspace_envs()
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    rng = np.random.default_rng(3)
    # Full-speed and fine actions, some that the speed, joint-step and box limits change.
    actions = np.clip(rng.normal(0.0, 0.7, size=(STEPS, env.action_space.shape[0])), -1.0, 1.0)
    arm = load_arm()
    # The training environment executes under the reach controller's limits: the bridge gets the same box.
    limits = {
        "safety_box_min": str(arm.safety_box_min.tolist()),
        "safety_box_max": str(arm.safety_box_max.tolist()),
    }
    bridge = start_node(
        "ikrl_ros.nodes.bridge_node",
        {"sync_mode": "lockstep", "lockstep_timeout": 5.0, **limits, **FORGIVING},
        tmp_path / "bridge.log",
    )
    try:
        driver = LockstepDriver(ros_node)
        assert spin_until(
            ros_node,
            lambda: bool(driver.states) and driver.twist_pub.get_subscription_count() > 0,
            30,
        ), "bridge did not come up"
        compared = 0
        for action in actions:
            stamp = driver.newest()
            q = driver.states[stamp]
            command = env.policy_spec.command(action, q)
            if env.policy_spec.commands_joints:
                driver.send_joints(stamp, command.positions)
            else:
                angular = np.zeros(3) if command.angular is None else command.angular
                driver.send_twist(stamp, command.linear, angular)
            env.q = q.copy()
            env.step(action)
            assert spin_until(ros_node, lambda s=stamp: driver.newest() > s and driver.newest() in driver.targets, 10)
            applied = driver.targets[driver.newest()]
            np.testing.assert_allclose(applied, env.q, rtol=0.0, atol=1e-9)
            compared += 1
        assert compared == STEPS
        moved = np.abs(driver.states[driver.newest()] - arm.neutral).max()
        assert moved > 0.05, "the command sequence barely moved the arm: nothing was compared"
    finally:
        assert stop_node(bridge) == 0
