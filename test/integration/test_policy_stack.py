"""Learned policies deployed: the shipped checkpoints drive the arm through ROS exactly as in panda-gym."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import panda_gym  # noqa: F401  (registers the environments)
import pytest
from conftest import wait_for_log

from ikrl_ros.core.panda_gym_task import DISTANCE_THRESHOLD, EPISODE_STEPS
from ikrl_ros.core.robot import load_arm
from ikrl_ros.rl.algorithms import make_normalizer
from ikrl_ros.rl.checkpoint import build_actor, load_checkpoint, load_policy, save_checkpoint
from ikrl_ros.rl.config import config_from_dict
from ikrl_ros.rl.controller_factory import resolve_policy_path, shipped_policy_path
from ikrl_ros.tools.goal_runner import GOAL_TOPICS, connected_runner
from ikrl_ros.tools.stack import FORGIVING, reach_stack, start_node

ARM = load_arm()
EPISODES = 20


def gym_episodes(policy_path: Path, seeds: range) -> tuple[np.ndarray, list[int | None]]:
    """Goals and steps-to-success of the policy in its own gym environment (None: not reached in 50 steps)."""
    policy = load_policy(policy_path)
    env = gym.make(policy.env_id)
    goals, steps = [], []
    for seed in seeds:
        observation, _ = env.reset(seed=seed)
        goals.append(ARM.world_to_base(observation["desired_goal"].astype(float)))
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
        **FORGIVING,
    }
    # panda-gym's own Cartesian execution (PyBullet IK each step) makes the bridge step exactly as gym does.
    bridge = {"sync_mode": "lockstep", "cartesian_execution": "pybullet_ik", **FORGIVING}
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


def write_checkpoint(path: Path, weights_match: bool = True, **sizes: object) -> None:
    """The shipped sac workspace checkpoint with ``sizes`` (obs_dim, act_dim, env_id...) changed in its
    metadata. ``weights_match``: fresh networks of exactly those sizes, so the file loads as a policy and only
    the reach controller's own checks can refuse it; otherwise the shipped weights stay, and no longer fit."""
    meta, payload = load_checkpoint(shipped_policy_path("sac"))
    meta = {**meta, **sizes}
    meta["action_scale"] = [1.0] * int(meta["act_dim"])
    weights = payload["policy"]
    if weights_match:
        config = config_from_dict(meta["algo"], meta["config"])
        normalizer = make_normalizer(config, int(meta["obs_dim"]) + 2 * int(meta["goal_dim"]), int(meta["goal_dim"]))
        actor = build_actor(
            meta["algo"], config, normalizer.out_dim, int(meta["act_dim"]), np.asarray(meta["action_scale"])
        )
        weights = {"normalizer": normalizer.state_dict(), "actor": actor.state_dict()}
    save_checkpoint(path, meta, weights)
    if weights_match:
        load_policy(path)  # raises CheckpointError unless the file is a valid policy of the declared sizes


BAD_CHECKPOINTS = {
    "observation-size": (
        dict(obs_dim=4),
        "policy expects observation 4 + goal 3 values; for IkrlReach-v0 the reach controller builds 3 + 3",
    ),
    "action-size": (dict(act_dim=4), "policy for IkrlReach-v0 outputs 4 actions, expected 3"),
    "other-task": (
        dict(env_id="PandaPush-v3"),
        "policy was trained on PandaPush-v3; only PandaReach and IkrlReach variants drive the reach controller",
    ),
}


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"controller": "sac", "policy_path": "/nonexistent/policy.pt"}, "no such checkpoint file"),
        (
            {"controller": "td3", "policy_path": str(shipped_policy_path("sac"))},
            "holds a sac policy, but the controller is 'td3'",
        ),
        ({"controller": "sac", "policy_path": "TRUNCATED"}, "corrupt or truncated checkpoint"),
        (
            {"controller": "sac", "policy_path": "WEIGHTS_DO_NOT_FIT"},
            "weights do not match the declared sizes (input 10",
        ),
        *(({"controller": "sac", "policy_path": case}, message) for case, (_, message) in BAD_CHECKPOINTS.items()),
    ],
    ids=["missing", "other-algorithm", "truncated", "weights-do-not-fit", *BAD_CHECKPOINTS],
)
def test_bad_checkpoints_stop_the_node_before_it_commands(tmp_path: Path, parameters: dict, message: str) -> None:
    """Each case reaches the check it names: the size and task cases are loadable policies (consistent weights)
    that only the reach controller's checks refuse."""
    path = tmp_path / "policy.pt"
    if parameters["policy_path"] == "TRUNCATED":
        data = shipped_policy_path("sac").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif parameters["policy_path"] == "WEIGHTS_DO_NOT_FIT":
        write_checkpoint(path, weights_match=False, obs_dim=4)
    elif parameters["policy_path"] in BAD_CHECKPOINTS:
        write_checkpoint(path, **BAD_CHECKPOINTS[parameters["policy_path"]][0])
    if path.exists():
        parameters = {**parameters, "policy_path": str(path)}
    log = tmp_path / "controller.log"
    process = start_node("ikrl_ros.nodes.reach_controller_node", {**parameters, **FORGIVING}, log)
    assert process.wait(60) == 2, log.read_text()
    assert wait_for_log(log, message), log.read_text()
    assert "up," not in log.read_text(), "the node must not come up"
