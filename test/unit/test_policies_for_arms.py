"""A policy belongs to an arm: `ikrl train --robot` trains one for a URDF or a shipped arm, its checkpoint records
the arm, evaluation rebuilds that arm, and a controller for another arm refuses it. The nodes' robot parameters
name the arm and derive the defaults from it (test/integration/test_parameters.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic_arm import PACKAGE, arm_urdf, write_arm

from ikrl_ros.core.arm_sim import ArmSim
from ikrl_ros.core.controllers import LearnedPolicyController
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.policy_spec import PolicyError, check_policy_arm
from ikrl_ros.core.robot import load_arm
from ikrl_ros.core.workspace import START_SPREAD, sample_start_posture
from ikrl_ros.rl.checkpoint import load_checkpoint, load_policy, save_checkpoint
from ikrl_ros.rl.controller_factory import POLICY_DIR, ControllerSettings, make_controller, resolve_policy_path
from ikrl_ros.tools import learning_commands


@pytest.fixture
def arm_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return write_arm(tmp_path / "src" / PACKAGE, arm_urdf())


def identity_of(urdf: Path) -> dict:
    return ArmKinematics(load_arm(str(urdf), "base", "tool")).identity()


def test_the_chain_hash_follows_the_geometry_not_the_file(arm_path: Path, tmp_path: Path) -> None:
    same_chain = write_arm(tmp_path / "copy" / PACKAGE, arm_urdf(velocity='velocity="1.5"', extra="<!-- a note -->"))
    longer = write_arm(
        tmp_path / "longer" / PACKAGE, arm_urdf().replace('<origin xyz="0 0 0.2"/>', '<origin xyz="0 0 0.25"/>', 1)
    )
    assert identity_of(same_chain) == identity_of(arm_path), "other limits and comments: the same chain"
    assert identity_of(longer)["chain_hash"] != identity_of(arm_path)["chain_hash"], "a longer link: another chain"
    shipped = {name: ArmKinematics(load_arm(name)).identity()["chain_hash"] for name in ("panda", "xarm6", "ur5")}
    assert len(set(shipped.values())) == 3


def test_a_policy_for_another_arm_is_refused_and_an_unrecorded_arm_is_the_panda(arm_path: Path) -> None:
    panda = ArmKinematics(load_arm()).identity()
    check_policy_arm(None, panda)  # panda-gym's policies and checkpoints from before arms were recorded
    check_policy_arm(dict(panda), panda)
    with pytest.raises(PolicyError, match="trained for the arm 'panda', this controller drives 'six'.*joint names"):
        check_policy_arm(None, identity_of(arm_path))
    moved = {**panda, "chain_hash": "0" * 16}
    with pytest.raises(PolicyError, match="kinematic chains"):
        check_policy_arm(moved, panda)
    with pytest.raises(PolicyError, match="tip frames"):
        check_policy_arm({**panda, "tip_frame": "panda_hand"}, panda)


def train(argv: list[str]) -> int:
    from ikrl_ros.tools import command

    parser = command.build_parser(learning_commands.add_subcommands)
    args = parser.parse_args(argv)
    return args.func(args)


def test_ikrl_train_robot_trains_that_arm_records_it_and_eval_rebuilds_it(
    arm_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = ["train", "--robot", str(arm_path), "--base-frame", "base", "--tip-frame", "tool", "--out", str(out)]
    assert train([*argv, "--steps", "600", "--eval-every", "600", "--eval-episodes", "2", "--no-progress"]) == 0
    meta = json.loads(torch.load(out / "policy.pt", weights_only=True)["meta"])
    assert meta["algo"] == "sac" and meta["env_id"] == "IkrlReachLimited-v0", "the shipped workspace recipe"
    assert meta["config"]["goal_relative_inputs"] is True and meta["config"]["smoothness_temporal"] == 3.0
    assert meta["env_kwargs"] == {"robot": str(arm_path.resolve()), "base_frame": "base", "tip_frame": "tool"}
    assert meta["arm"] == identity_of(arm_path)
    capsys.readouterr()
    assert train(["eval", str(out / "policy.pt"), "--episodes", "2"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["episodes"] == 2

    policy = load_policy(out / "policy.pt")
    LearnedPolicyController(policy, ArmKinematics(load_arm(str(arm_path), "base", "tool")))
    with pytest.raises(PolicyError, match="trained for the arm 'six', this controller drives 'panda'"):
        LearnedPolicyController(policy, ArmKinematics(load_arm()))
    with pytest.raises(PolicyError, match="trained for the arm 'panda'"):
        LearnedPolicyController(load_policy(POLICY_DIR / "sac_workspace.pt"), ArmKinematics(load_arm("xarm6")))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--robot", "nope"], "unknown robot 'nope'"),
        (["--robot", "/nowhere/arm.urdf"], "does not exist"),
        (["--algo", "sac", "--base-frame", "base"], "go with --robot"),
        ([], "--algo is required"),
        (["--robot", "ur5", "--env", "PandaReach-v3"], "workspace environments"),
    ],
)
def test_bad_robot_arguments_are_refused_before_training(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train(["train", *argv, "--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_shipped_policy_names_resolve_in_the_arms_folder() -> None:
    assert resolve_policy_path("sac_workspace", "sac") == POLICY_DIR / "sac_workspace.pt"
    assert resolve_policy_path("sac_workspace", "sac", "ur5") == POLICY_DIR / "ur5" / "sac_workspace.pt"
    assert resolve_policy_path("", "td3", "xarm6") == POLICY_DIR / "xarm6" / "td3_workspace.pt"
    assert resolve_policy_path("runs/x/policy.pt", "sac", "ur5") == Path("runs/x/policy.pt")
    with pytest.raises(ValueError, match="no shipped policy ddpg_workspace for the arm 'ur5'"):
        make_controller(ControllerSettings("ddpg"), ArmKinematics(load_arm("ur5")))


def test_under_strict_a_shipped_name_means_its_limited_version_and_the_execution_must_match(tmp_path: Path) -> None:
    assert resolve_policy_path("sac_workspace", "sac", limited=True) == POLICY_DIR / "sac_workspace_limited.pt"
    assert resolve_policy_path("", "sac", "ur5", True) == POLICY_DIR / "ur5" / "sac_workspace_limited.pt"
    assert resolve_policy_path("runs/x/policy.pt", "sac", limited=True) == Path("runs/x/policy.pt")
    kinematics = ArmKinematics(load_arm())
    unlimited = POLICY_DIR / "sac_workspace.pt"
    with pytest.raises(ValueError, match="trained without limits .IkrlReach-v0.: it needs strict: false"):
        make_controller(ControllerSettings("sac", str(unlimited), limited=True), kinematics)
    meta, payload = load_checkpoint(unlimited)
    relabelled = tmp_path / "limited.pt"
    save_checkpoint(relabelled, {**meta, "env_id": "IkrlReachLimited-v0"}, payload["policy"])
    with pytest.raises(ValueError, match="trained under the limited execution .IkrlReachLimited-v0.: it needs strict"):
        make_controller(ControllerSettings("sac", str(relabelled)), kinematics)


def test_the_generic_simulator_follows_a_trajectory_along_its_substeps() -> None:
    arm = load_arm("xarm6")
    sim = ArmSim(arm)
    try:
        start = sim.arm_positions()
        goal = start + 0.05
        sim.step_along(np.linspace(start, goal, sim.substeps + 1)[1:])
        assert np.all(sim.arm_positions() - start > 0.01), "the motors followed the targets within the period"
        assert np.allclose(sim.last_arm_targets(), goal)
        for _ in range(10):
            sim.step()
        assert np.allclose(sim.arm_positions(), goal, atol=2e-3)
        with pytest.raises(ValueError, match="sub-step targets"):
            sim.step_along(np.zeros((3, arm.dof)))
        sim.show_goal(np.array([0.3, 0.0, 0.3]))
        position, rotation = ArmKinematics(arm).ee_pose(sim.arm_positions())
        x, y, z, w = sim.ee_orientation_xyzw()
        assert abs(np.dot([x, y, z, w], [x, y, z, w]) - 1.0) < 1e-9
        assert np.allclose(sim.ee_position_base(), position, atol=1e-4)
    finally:
        sim.close()


def test_joints_with_more_than_a_turn_start_within_a_quarter_turn_each_way_of_neutral() -> None:
    """A ±2π base joint drawn over half its range would start the arm facing backwards, a posture the stack never
    drives it to and no local controller leaves; such joints are drawn within one turn, the others as before."""
    kinematics = ArmKinematics(load_arm("xarm6"))
    rng = np.random.default_rng(0)
    starts = np.array([sample_start_posture(rng, kinematics) for _ in range(200)])
    wide = kinematics.upper_limits - kinematics.lower_limits > 2 * np.pi
    assert wide.any()
    offsets = np.abs(starts - kinematics.neutral)
    assert np.all(offsets[:, wide] <= START_SPREAD * np.pi + 1e-9)
    assert offsets[:, wide].max() > 0.8 * START_SPREAD * np.pi, "still spread over that quarter turn"
