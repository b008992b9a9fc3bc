"""An arm from a bare URDF: the chain base → tip, locked extra joints, limits, derived workspace, ``package://``
meshes, and the refusals that name what is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from synthetic_arm import PACKAGE, arm_urdf, cube_stl

from ikrl_ros.core.arm_sim import ArmSim
from ikrl_ros.core.collision import CollisionModel
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import RobotDescriptionError, load_arm
from ikrl_ros.core.robot_description import (
    WORKSPACE_FLOOR,
    arm_from_robot_description,
    arm_from_urdf,
)
from ikrl_ros.core.workspace import sample_reachable_goals


@pytest.fixture
def package_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A description package unpacked as ROS stacks have them: PACKAGE/urdf/arm.urdf and PACKAGE/meshes/link.stl."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "src" / PACKAGE
    (root / "urdf").mkdir(parents=True)
    (root / "meshes").mkdir()
    (root / "meshes" / "link.stl").write_text(cube_stl(0.08))
    (root / "urdf" / "arm.urdf").write_text(arm_urdf())
    return root


def test_the_arm_is_the_chain_from_base_to_tip_and_the_rest_is_locked(package_tree: Path) -> None:
    arm = load_arm(str(package_tree / "urdf" / "arm.urdf"), "base", "tool")
    assert arm.name == "six" and arm.joint_names == tuple(f"j{i}" for i in range(1, 7))
    assert arm.locked_joints == {"finger_a_joint": 0.0, "finger_b_joint": 0.02}  # 0, else mid-range
    np.testing.assert_allclose(arm.joint_limits.velocity, [2.0] * 6)
    np.testing.assert_allclose(arm.joint_limits.acceleration, [4.0] * 6)  # defaulted: 2/s × velocity
    assert any(line.startswith("acceleration limits of") for line in arm.defaulted)
    assert any(line.startswith("Cartesian limits") for line in arm.defaulted)
    np.testing.assert_allclose(arm.neutral, 0.0)  # mid-range; the continuous joint at 0
    kinematics = ArmKinematics(arm)
    assert kinematics.continuous.tolist() == [False] * 5 + [True]
    # The package:// mesh resolved from the URDF's ancestors, into a cached copy with absolute paths.
    assert arm.urdf.startswith(str(package_tree.parents[1] / "cache"))
    assert f'filename="{package_tree / "meshes" / "link.stl"}"' in Path(arm.urdf).read_text()


def test_a_derived_workspace_admits_reachable_goals_above_the_base(package_tree: Path) -> None:
    arm = load_arm(str(package_tree / "urdf" / "arm.urdf"), "base", "tool")
    kinematics = ArmKinematics(arm)
    workspace = arm.workspace
    assert workspace.box_min[2] == WORKSPACE_FLOOR
    np.testing.assert_allclose(workspace.reach_center, [0, 0, 0.3])  # the second joint's origin
    goals = sample_reachable_goals(10, 0, kinematics)
    assert all(workspace.contains(goal) for goal in goals)
    table = arm.scene[0]
    assert table.mounted_links == ("base",) and table.box_max[2] == 0.0
    assert np.all(arm.safety_box_min <= workspace.box_min) and np.all(arm.safety_box_max >= workspace.box_max)
    assert ("base", "l1") in arm.disabled_collisions  # adjacent
    CollisionModel(arm)  # the derived scene and pairs name real links


def test_the_simulator_loads_the_resolved_copy_and_agrees_with_pinocchio(package_tree: Path) -> None:
    arm = load_arm(str(package_tree / "urdf" / "arm.urdf"), "base", "tool")
    kinematics, sim = ArmKinematics(arm), ArmSim(arm)
    try:
        rng = np.random.default_rng(1)
        for _ in range(5):
            q = rng.uniform(*kinematics.sampling_range())
            for index, angle in zip(sim.joint_indices, q, strict=False):
                sim.client.resetJointState(sim.body, index, float(angle))
            position, rotation = sim.ee_pose_base()
            expected_position, expected_rotation = kinematics.ee_pose(q)
            np.testing.assert_allclose(position, expected_position, atol=1e-6)
            np.testing.assert_allclose(rotation, expected_rotation, atol=1e-6)
        sim.reset()
        for _ in range(10):
            sim.step()
        locked = sim.joint_snapshot().position[arm.dof :]
        np.testing.assert_allclose(locked, [0.0, 0.02], atol=1e-3)  # the fingers held
    finally:
        sim.close()


def test_package_uris_resolve_through_ros_package_path_and_the_ament_index(
    package_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "arm.urdf").write_text(arm_urdf())
    with pytest.raises(RobotDescriptionError, match=f"cannot resolve package://{PACKAGE}/meshes/link.stl"):
        load_arm(str(elsewhere / "arm.urdf"), "base", "tool")
    monkeypatch.setenv("ROS_PACKAGE_PATH", str(package_tree.parent))
    assert (
        str(package_tree / "meshes")
        in Path(arm_from_urdf(str(elsewhere / "arm.urdf"), "base", "tool").urdf).read_text()
    )
    monkeypatch.delenv("ROS_PACKAGE_PATH")
    prefix = tmp_path / "install"
    (prefix / "share" / "ament_index" / "resource_index" / "packages").mkdir(parents=True)
    (prefix / "share" / "ament_index" / "resource_index" / "packages" / PACKAGE).write_text("")
    shutil.copytree(package_tree, prefix / "share" / PACKAGE)
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    assert (
        str(prefix / "share" / PACKAGE)
        in Path(arm_from_urdf(str(elsewhere / "arm.urdf"), "base", "tool").urdf).read_text()
    )
    monkeypatch.delenv("AMENT_PREFIX_PATH")
    # A Python wheel's ament prefix (cmeel.prefix, as example-robot-data installs) in any site folder on sys.path.
    site = tmp_path / "site"
    shutil.copytree(prefix, site / "cmeel.prefix")
    monkeypatch.syspath_prepend(str(site))
    assert (
        str(site / "cmeel.prefix" / "share" / PACKAGE)
        in Path(arm_from_urdf(str(elsewhere / "arm.urdf"), "base", "tool").urdf).read_text()
    )


def test_the_urdf_as_a_string_is_an_arm(package_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROS_PACKAGE_PATH", str(package_tree.parent))
    text = (package_tree / "urdf" / "arm.urdf").read_text()
    arm = arm_from_robot_description(text, "base", "tool")
    from_file = load_arm(str(package_tree / "urdf" / "arm.urdf"), "base", "tool")
    assert arm.joint_names == from_file.joint_names
    q = np.linspace(-1, 1, 6)
    np.testing.assert_allclose(ArmKinematics(arm).ee_position(q), ArmKinematics(from_file).ee_position(q))
    with pytest.raises(RobotDescriptionError, match="must be the URDF's XML"):
        arm_from_robot_description("arm.urdf", "base", "tool")


def test_a_moveit_joint_limits_file_sets_the_limits(package_tree: Path, tmp_path: Path) -> None:
    limits = tmp_path / "joint_limits.yaml"
    entries = "\n".join(
        f"  j{i}: {{has_velocity_limits: true, max_velocity: 1.5, has_acceleration_limits: true, "
        f"max_acceleration: 7.0, has_jerk_limits: true, max_jerk: 700.0}}"
        for i in range(1, 7)
    )
    limits.write_text(f"default_velocity_scaling_factor: 0.1\njoint_limits:\n{entries}\n  finger_a_joint: {{}}\n")
    arm = load_arm(str(package_tree / "urdf" / "arm.urdf"), "base", "tool", str(limits))
    np.testing.assert_allclose(arm.joint_limits.velocity, [1.5] * 6)
    np.testing.assert_allclose(arm.joint_limits.acceleration, [7.0] * 6)
    np.testing.assert_allclose(arm.joint_limits.jerk, [700.0] * 6)
    assert not any("acceleration limits of" in line or "jerk limits of" in line for line in arm.defaulted)
    # Velocity from the file where the URDF has none (a continuous joint without <limit>).
    no_velocity = package_tree / "urdf" / "no_velocity.urdf"
    no_velocity.write_text(arm_urdf().replace('<limit effort="50" velocity="2"/>', ""))
    with pytest.raises(RobotDescriptionError, match="joint 'j6' .* has no velocity limit"):
        load_arm(str(no_velocity), "base", "tool")
    np.testing.assert_allclose(load_arm(str(no_velocity), "base", "tool", str(limits)).joint_limits.velocity, 1.5)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("joint_limits:\n  j1: {max_speed: 1.0}\n", r"joint 'j1' has unknown entries \['max_speed'\]"),
        ("joint_limits:\n  jx: {max_velocity: 1.0}\n", "joint 'jx' is not in the URDF"),
        ("joint_limits:\n  j1: {has_velocity_limits: true, max_velocity: 0}\n", "max_velocity is not positive"),
        ("limits: {}\n", "no 'joint_limits' mapping"),
    ],
)
def test_bad_joint_limits_files_are_refused(package_tree: Path, tmp_path: Path, content: str, message: str) -> None:
    limits = tmp_path / "joint_limits.yaml"
    limits.write_text(content)
    with pytest.raises(RobotDescriptionError, match=message):
        load_arm(str(package_tree / "urdf" / "arm.urdf"), "base", "tool", str(limits))


@pytest.mark.parametrize(
    ("urdf", "base", "tip", "message"),
    [
        ("<robot><link name='a'></robot>", "base", "tool", "malformed URDF"),
        ("<robt/>", "base", "tool", r"root element is <robt>, not <robot>"),
        (arm_urdf(), "base", "nowhere", "tip_frame 'nowhere' is not a link"),
        (arm_urdf(), "floor", "tool", "base_frame 'floor' is not a link"),
        (arm_urdf(), "l1", "camera", "tip_frame 'camera' is not below base_frame 'l1'.*different branches"),
        (arm_urdf(), "l1", "tool", r"has 5 movable joints .*at least 6 are needed"),
        (arm_urdf(last_joint="prismatic"), "base", "tool", "joint 'j6' between base and tool is prismatic"),
        (arm_urdf().replace('lower="-2.5" upper="2.5" ', "", 1), "base", "tool", "'j1' .* needs <limit lower"),
        (arm_urdf(mesh="meshes/missing.stl"), "base", "tool", "mesh 'meshes/missing.stl' does not exist"),
        (arm_urdf(velocity=""), "base", "tool", "joint 'j1' .* has no velocity limit: its <limit> needs velocity"),
        (arm_urdf(extra='<joint name="bad" type="fixed"><parent link="l6"/></joint>'), "base", "tool", "needs a name"),
    ],
)
def test_bad_urdfs_are_refused_with_the_reason(
    package_tree: Path, urdf: str, base: str, tip: str, message: str
) -> None:
    path = package_tree / "urdf" / "bad.urdf"
    path.write_text(urdf)
    with pytest.raises(RobotDescriptionError, match=message):
        load_arm(str(path), base, tip)


def test_frames_are_required_for_a_urdf_and_fixed_for_a_description(package_tree: Path) -> None:
    with pytest.raises(RobotDescriptionError, match="needs base_frame and tip_frame"):
        load_arm(str(package_tree / "urdf" / "arm.urdf"))
    with pytest.raises(RobotDescriptionError, match="described with tip_frame 'panda_grasptarget', not 'panda_hand'"):
        load_arm("panda", tip_frame="panda_hand")
    with pytest.raises(RobotDescriptionError, match="go with a URDF"):
        load_arm("panda", joint_limits="limits.yaml")
    assert load_arm("panda", "panda_link0", "panda_grasptarget").urdf == load_arm("panda").urdf
