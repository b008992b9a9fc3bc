"""Learned policies deployed: the shipped checkpoints drive the arm through ROS exactly as in panda-gym."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import panda_gym  # noqa: F401  (registers the environments)
import pytest
import torch
from conftest import wait_for_log

from ikrl_ros.core.panda_model import DISTANCE_THRESHOLD, EPISODE_STEPS, world_to_base
from ikrl_ros.rl.checkpoint import load_policy
from ikrl_ros.rl.controller_factory import resolve_policy_path, shipped_policy_path
from ikrl_ros.tools.goal_runner import GOAL_TOPICS, connected_runner
from ikrl_ros.tools.stack import reach_stack, start_node

EPISODES = 20


def gym_episodes(policy_path: Path, seeds: range) -> tuple[np.ndarray, list[int | None]]:
    """Goals and steps-to-success of the policy in its own gym environment (None: not reached in 50 steps)."""
    policy = load_policy(policy_path)
    env = gym.make(policy.env_id)
    goals, steps = [], []
    for seed in seeds:
        observation, _ = env.reset(seed=seed)
        goals.append(world_to_base(observation["desired_goal"].astype(float)))
        reached = None
        for step in range(1, EPISODE_STEPS + 1):
            observation, _, terminated, truncated, _ = env.step(policy.act(observation))
            if terminated:
                reached = step
                break
            if truncated:
                break
        steps.append(reached)
    env.close()
    return np.array(goals), steps


@pytest.mark.parametrize(
    ("algo", "policy"),
    [
        ("ddpg", "ddpg_panda_reach"),
        ("td3", "td3_panda_reach"),
        ("sac", "sac_panda_reach"),
        ("sac", "sac_panda_reach_joints"),
    ],
    ids=["ddpg", "td3", "sac", "sac-joint-space"],
)
def test_shipped_policy_through_ros_equals_the_gym_result(tmp_path: Path, algo: str, policy: str) -> None:
    goals, gym_steps = gym_episodes(resolve_policy_path(policy, algo), range(EPISODES))
    # The gym task has goals down to table height: mirror it exactly (no 1 cm workspace floor here).
    controller = {
        "controller": algo,
        "policy_path": policy,
        "sync_mode": "lockstep",
        "workspace_min": "[0.2, -0.5, 0.0]",
    }
    # panda-gym's own Cartesian execution (PyBullet IK each step) makes the bridge step exactly as gym does.
    bridge = {"sync_mode": "lockstep", "cartesian_execution": "pybullet_ik"}
    with reach_stack(tmp_path, bridge=bridge, controller=controller), connected_runner() as runner:
        outcomes = [
            runner.run_episode(
                goal, GOAL_TOPICS[i % 2], EPISODE_STEPS, DISTANCE_THRESHOLD, stop_error=DISTANCE_THRESHOLD
            )
            for i, goal in enumerate(goals)
        ]
    ros_steps = [outcome.steps_to_reach for outcome in outcomes]
    assert sum(step is not None for step in ros_steps) >= 0.95 * EPISODES
    # Lockstep makes the ROS run deterministic: same successes, and even the same step of success.
    assert ros_steps == gym_steps, f"{algo}: steps to success through ROS {ros_steps}, in gym {gym_steps}"


def write_checkpoint_with_wrong_observation_size(path: Path) -> None:
    """A real shipped checkpoint whose metadata and input layer claim 7 observation values instead of 6."""
    import json

    payload = torch.load(shipped_policy_path("sac"), map_location="cpu", weights_only=True)
    meta = json.loads(payload["meta"])
    meta["obs_dim"] = 7
    payload["meta"] = json.dumps(meta)
    torch.save(payload, path)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"controller": "sac", "policy_path": "/nonexistent/policy.pt"}, "no such checkpoint file"),
        (
            {"controller": "td3", "policy_path": str(shipped_policy_path("sac"))},
            "holds a sac policy, but the controller is 'td3'",
        ),
        ({"controller": "sac", "policy_path": "TRUNCATED"}, "corrupt or truncated checkpoint"),
        ({"controller": "sac", "policy_path": "WRONG_SIZE"}, "cannot load policy"),
    ],
)
def test_bad_checkpoints_stop_the_node_before_it_commands(tmp_path: Path, parameters: dict, message: str) -> None:
    if parameters["policy_path"] == "TRUNCATED":
        data = shipped_policy_path("sac").read_bytes()
        (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
        parameters = {**parameters, "policy_path": str(tmp_path / "cut.pt")}
    if parameters["policy_path"] == "WRONG_SIZE":
        write_checkpoint_with_wrong_observation_size(tmp_path / "wrong.pt")
        parameters = {**parameters, "policy_path": str(tmp_path / "wrong.pt")}
    log = tmp_path / "controller.log"
    process = start_node("ikrl_ros.nodes.reach_controller_node", parameters, log)
    assert process.wait(60) == 2, log.read_text()
    assert wait_for_log(log, message), log.read_text()
    assert "up," not in log.read_text(), "the node must not come up"
