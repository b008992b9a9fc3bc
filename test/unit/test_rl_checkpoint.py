"""Checkpoints: save -> load gives identical actions; corrupt, unsafe and mismatched files are refused."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from ikrl_ros.rl.algorithms import make_agent
from ikrl_ros.rl.checkpoint import (
    CheckpointError,
    export_policy,
    load_checkpoint,
    load_policy,
    make_meta,
    save_checkpoint,
)
from ikrl_ros.rl.config import config_from_dict, make_config
from ikrl_ros.rl.envs import EnvInfo

INFO = EnvInfo("PandaReach-v3", obs_dim=6, goal_dim=3, act_dim=3, action_scale=(1.0, 1.0, 1.0), max_episode_steps=50)


def trained_looking_agent(algo: str, seed: int = 0):
    """An agent with non-trivial weights and normaliser statistics."""
    torch.manual_seed(seed)
    agent = make_agent(make_config(algo), INFO.input_dim, INFO.act_dim, np.ones(3, np.float32))
    rng = np.random.default_rng(seed)
    agent.normalizer.update(rng.normal(0.3, 0.2, (500, INFO.input_dim)).astype(np.float32))
    batch = {
        "x": rng.normal(size=(64, 12)).astype(np.float32),
        "x_next": rng.normal(size=(64, 12)).astype(np.float32),
        "a": rng.uniform(-1, 1, (64, 3)).astype(np.float32),
        "r": -np.ones(64, np.float32),
        "done": np.zeros(64, np.float32),
    }
    for _ in range(5):
        agent.update(batch)
    return agent


def save_agent(agent, path, step=123, **meta_overrides):
    state = agent.state_dict()
    meta = {**make_meta(agent.algo, agent.config, INFO, step), **meta_overrides}
    save_checkpoint(path, meta, {"normalizer": state.pop("normalizer"), "actor": state.pop("actor")}, state)


@pytest.mark.parametrize("algo", ["ddpg", "td3", "sac"])
def test_save_load_identical_actions(tmp_path, algo):
    agent = trained_looking_agent(algo)
    path = tmp_path / "ckpt.pt"
    save_agent(agent, path)
    policy = load_policy(path)
    x = np.random.default_rng(1).normal(0.3, 0.3, (32, 12)).astype(np.float32)
    expected = agent.act(x, explore=False)
    np.testing.assert_array_equal(policy.act(x), expected)
    # A single observation takes a different (matrix-vector) kernel: equal up to float rounding.
    np.testing.assert_allclose(policy.act(x[0]), expected[0], atol=1e-6)
    obs = {"observation": x[0, :6], "achieved_goal": x[0, 6:9], "desired_goal": x[0, 9:]}
    np.testing.assert_array_equal(policy.act(obs), policy.act(x[0]))  # dict observation
    assert (policy.algo, policy.env_id, policy.obs_dim, policy.goal_dim, policy.act_dim) == (
        algo,
        "PandaReach-v3",
        6,
        3,
        3,
    )
    np.testing.assert_array_equal(policy.action_scale, np.ones(3))
    assert [e["key"] for e in policy.observation_layout] == ["observation", "achieved_goal", "desired_goal"]
    with pytest.raises(ValueError, match="expects 12"):
        policy.act(np.zeros(9, np.float32))
    # A policy-only export is smaller and acts identically.
    small = tmp_path / "policy.pt"
    export_policy(path, small)
    assert "training" not in torch.load(small, weights_only=True)
    assert small.stat().st_size < path.stat().st_size
    np.testing.assert_array_equal(load_policy(small).act(x), expected)


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.pt"
    save_agent(trained_looking_agent("td3"), path)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_policy(tmp_path / "nope.pt")


def test_corrupt_file_refused(tmp_path):
    path = tmp_path / "garbage.pt"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_policy(path)


def test_truncated_file_refused(tmp_path, good):
    data = good.read_bytes()
    path = tmp_path / "truncated.pt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_policy(path)


def test_unknown_algorithm_refused(tmp_path):
    path = tmp_path / "ppo.pt"
    save_agent(trained_looking_agent("td3"), path, algo="ppo")
    with pytest.raises(CheckpointError, match="unknown algorithm 'ppo'"):
        load_policy(path)


def test_missing_metadata_keys_refused(tmp_path, good):
    payload = torch.load(good, weights_only=True)
    meta = json.loads(payload["meta"])
    del meta["env_id"], meta["action_scale"]
    payload["meta"] = json.dumps(meta)
    path = tmp_path / "nometa.pt"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=r"lacks required keys \['env_id', 'action_scale'\]"):
        load_policy(path)
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="not an ikrl_ros checkpoint"):
        load_policy(path)


def test_control_type_is_read_from_the_metadata_never_from_the_name(tmp_path):
    path = tmp_path / "joints.pt"  # an id without "Joints" whose actions command the joints
    save_agent(trained_looking_agent("td3"), path, env_id="MyArmReach-v0", control_type="joints")
    assert load_policy(path).control_type == "joints"
    save_agent(trained_looking_agent("td3"), path, env_id="MyArmJointsReach-v0", control_type="ee")
    assert load_policy(path).control_type == "ee"


def test_checkpoint_without_control_type_refused(tmp_path, good):
    payload = torch.load(good, weights_only=True)
    meta = json.loads(payload["meta"])
    del meta["control_type"]
    for env_id in ("IkrlReachJoints-v0", "MyArmReach-v0"):
        payload["meta"] = json.dumps({**meta, "env_id": env_id})
        path = tmp_path / "undeclared.pt"
        torch.save(payload, path)
        with pytest.raises(CheckpointError, match="metadata lacks 'control_type'"):
            load_policy(path)
    save_agent(trained_looking_agent("td3"), path, control_type="wrist")
    with pytest.raises(CheckpointError, match="control_type 'wrist' is not one of"):
        load_policy(path)


def test_shipped_policies_have_their_control_type(tmp_path):
    """Workspace policies declare it; the panda-gym ones predate the field and get it from a fixed table by their
    exact id (an export writes it into the metadata)."""
    policies = sorted((Path(__file__).resolve().parents[2] / "ikrl_ros" / "policies").glob("*.pt"))
    assert len(policies) >= 10
    for path in policies:
        expected = "joints" if "joints" in path.stem else "pose" if "pose" in path.stem else "ee"
        assert load_checkpoint(path)[0]["control_type"] == expected, path.name
    legacy = policies[0].parent / "sac_panda_reach_joints.pt"
    assert "control_type" not in json.loads(torch.load(legacy, weights_only=True)["meta"])
    export_policy(legacy, tmp_path / "exported.pt")
    assert json.loads(torch.load(tmp_path / "exported.pt", weights_only=True)["meta"])["control_type"] == "joints"


def test_wrong_observation_size_refused(tmp_path, good):
    with pytest.raises(CheckpointError, match="obs_dim is 6 in the checkpoint, expected 7"):
        load_policy(good, obs_dim=7)
    with pytest.raises(CheckpointError, match="trained on PandaReach-v3, expected PandaReachJoints-v3"):
        load_policy(good, env_id="PandaReachJoints-v3")
    path = tmp_path / "lying.pt"  # metadata declares sizes its weights do not have
    save_agent(trained_looking_agent("td3"), path, obs_dim=7)
    with pytest.raises(CheckpointError, match="weights do not match the declared sizes"):
        load_policy(path)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_executing_pickle_refused(tmp_path, good):
    marker = tmp_path / "pwned"
    payload = torch.load(good, weights_only=True)
    payload["policy"]["extra"] = _Exploit(marker)
    path = tmp_path / "evil.pt"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="objects other than tensors"):
        load_checkpoint(path)
    assert not marker.exists()


def test_checkpoint_from_before_a_field_existed_rebuilds_as_it_was_trained(tmp_path):
    """A stored config without the newer fields gets their legacy values, not today's defaults."""
    agent = trained_looking_agent("sac")
    path = tmp_path / "old.pt"
    old_config = {
        key: value
        for key, value in agent.config.to_dict().items()
        if key not in ("critic_layer_norm", "final_lr_fraction", "policy_delay")
    }
    save_agent(agent, path, config=old_config)
    meta, _ = load_checkpoint(path)
    config = config_from_dict("sac", meta["config"])
    assert (config.critic_layer_norm, config.final_lr_fraction, config.policy_delay) == (False, 1.0, 1)
    x = np.random.default_rng(3).normal(size=(5, 12)).astype(np.float32)
    np.testing.assert_array_equal(load_policy(path).act(x), agent.act(x, explore=False))


def test_layer_normalised_critics_and_their_config_survive_a_round_trip(tmp_path):
    config = make_config("sac", critic_layer_norm=True, policy_delay=2, final_lr_fraction=0.1)
    agent = make_agent(config, INFO.input_dim, INFO.act_dim, np.ones(3, np.float32))
    assert any(isinstance(layer, torch.nn.LayerNorm) for layer in agent.critic.net)
    save_agent(agent, tmp_path / "ln.pt")
    meta, payload = load_checkpoint(tmp_path / "ln.pt")
    assert config_from_dict("sac", meta["config"]) == config
    restored = make_agent(config, INFO.input_dim, INFO.act_dim, np.ones(3, np.float32))
    restored.load_state_dict({**payload["policy"], **payload["training"]})
    for original, loaded in zip(agent.critic.parameters(), restored.critic.parameters(), strict=True):
        assert torch.equal(original, loaded)
