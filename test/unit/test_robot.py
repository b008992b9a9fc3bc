"""The arm as data: the Panda's description, refusals of bad descriptions, and n-DoF kinematics on another arm."""

from __future__ import annotations

import ast
import copy
import re
import tokenize
from pathlib import Path

import numpy as np
import pytest

from ikrl_ros.core import validation
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import RobotDescriptionError, arm_from_description, load_arm, shipped_robots

PACKAGE = Path(__file__).resolve().parents[2] / "ikrl_ros"

SIX_DOF_URDF = """<?xml version="1.0"?>
<robot name="six">
  <link name="base"/>
  {links}
  <link name="tool"/>
  <joint name="tool_joint" type="fixed"><parent link="l6"/><child link="tool"/><origin xyz="0 0 0.1"/></joint>
</robot>
"""
AXES = ["0 0 1", "0 1 0", "0 1 0", "0 0 1", "0 1 0", "0 0 1"]

LIMITS = {
    "velocity": [2.0] * 6,
    "acceleration": [10.0] * 6,
    "jerk": [1000.0] * 6,
    "cartesian": {
        "linear": {"velocity": 1.0, "acceleration": 5.0, "jerk": 500.0},
        "angular": {"velocity": 2.0, "acceleration": 10.0, "jerk": 1000.0},
    },
}


def six_dof_description(tmp_path: Path, **changes) -> dict:
    """A 6-DoF arm whose last joint is continuous, in a scratch URDF."""
    links, parent = [], "base"
    for i, axis in enumerate(AXES, start=1):
        kind = "continuous" if i == 6 else "revolute"
        limit = "" if kind == "continuous" else '<limit lower="-2.5" upper="2.5" effort="10" velocity="2"/>'
        links.append(
            f'<link name="l{i}"/><joint name="j{i}" type="{kind}"><parent link="{parent}"/><child link="l{i}"/>'
            f'<origin xyz="0 0 {0.2 if i in (2, 3) else 0.1}"/><axis xyz="{axis}"/>{limit}</joint>'
        )
        parent = f"l{i}"
    (tmp_path / "six.urdf").write_text(SIX_DOF_URDF.format(links="\n".join(links)))
    description = {
        "name": "six",
        "urdf": "six.urdf",
        "base_frame": "base",
        "tip_frame": "tool",
        "joints": [f"j{i}" for i in range(1, 7)],
        "neutral": [0.0, 0.5, 0.8, 0.0, 0.5, 0.0],
        "limits": copy.deepcopy(LIMITS),
        "workspace": {
            "box_min": [0.05, -0.3, 0.1],
            "box_max": [0.4, 0.3, 0.6],
            "reach_center": [0, 0, 0.3],
            "reach_radius": 0.5,
        },
        "safety_box": {"min": [-0.6, -0.6, 0.0], "max": [0.6, 0.6, 0.9]},
    }
    description.update(changes)
    return description


def test_the_panda_is_one_description() -> None:
    arm = load_arm("panda")
    assert "panda" in shipped_robots()
    assert arm.dof == 7 and arm.joint_names[0] == "panda_joint1" and arm.tip_frame == "panda_grasptarget"
    assert arm.all_joint_names[-2:] == ("panda_finger_joint1", "panda_finger_joint2")
    np.testing.assert_array_equal(arm.neutral, [0.00, 0.41, 0.00, -1.85, 0.00, 2.26, 0.79])
    np.testing.assert_array_equal(arm.joint_limits.acceleration, [15, 7.5, 10, 12.5, 15, 20, 20])
    np.testing.assert_array_equal(arm.base_position_in_world, [-0.6, 0.0, 0.0])
    kinematics = ArmKinematics(arm)
    # Franka's datasheet position limits (the limited execution keeps to them), tighter than the URDF's.
    np.testing.assert_array_equal(kinematics.datasheet_upper[[3, 5]], [-0.0698, 3.7525])
    np.testing.assert_array_equal(kinematics.datasheet_lower[[1, 5]], [-1.7628, -0.0175])
    # panda-gym's neutral grasp target, checked against Pinocchio (REFERENCE.md).
    np.testing.assert_allclose(kinematics.ee_position(arm.neutral), [0.6384, 0.0, 0.1974], atol=1e-4)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"joints": ["j1", "j2"]}, "'neutral' must be 2 finite numbers"),
        ({"tip_frame": "nowhere"}, "frame 'nowhere' is not in"),
        ({"joints": [f"j{i}" for i in (2, 1, 3, 4, 5, 6)]}, "base to tip"),
        ({"urdf": "missing.urdf"}, "does not exist"),
        ({"joints": ["j1", "j2", "j3", "j4", "j5", "jx"]}, r"joints \['jx'\] are not in"),
        ({"limits": {**LIMITS, "position": {"lower": [0.0] * 6}}}, "exactly 'lower' and 'upper'"),
        ({"limits": {**LIMITS, "position": {"lower": [1.0] * 6, "upper": [0.0] * 6}}}, "must be below the upper"),
    ],
)
def test_bad_descriptions_are_refused_with_the_reason(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(RobotDescriptionError, match=message):
        ArmKinematics(arm_from_description(six_dof_description(tmp_path, **change), tmp_path))


def test_a_missing_entry_is_named(tmp_path: Path) -> None:
    description = six_dof_description(tmp_path)
    del description["limits"]["jerk"]
    with pytest.raises(RobotDescriptionError, match="lacks the entry 'jerk'"):
        arm_from_description(description, tmp_path)
    with pytest.raises(RobotDescriptionError, match="unknown robot 'nope'"):
        load_arm("nope")


def test_the_panda_scene_is_panda_gyms_table_and_plane_in_the_base_frame() -> None:
    arm = load_arm("panda")
    table, plane = arm.scene
    assert (table.name, table.mounted_links, plane.name, plane.mounted_links) == (
        "table",
        ("panda_link0",),
        "plane",
        (),
    )
    # create_table(1.1, 0.7, 0.4, x_offset=-0.3) and create_plane(-0.4), in the world, seen from the base at x = -0.6.
    np.testing.assert_allclose(arm.base_to_world(table.center), [-0.3, 0.0, -0.2], atol=1e-12)
    np.testing.assert_allclose(table.size, [1.1, 0.7, 0.4])
    np.testing.assert_allclose(arm.base_to_world(plane.center), [0.0, 0.0, -0.41], atol=1e-12)
    assert ("panda_leftfinger", "panda_rightfinger") in arm.disabled_collisions
    assert all(pair == tuple(sorted(pair)) for pair in arm.disabled_collisions)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"scene": {"name": "table"}}, "'scene' must be a list"),
        ({"scene": [{"min": [0, 0, 0], "max": [1, 1, 1]}]}, r"'scene\[0\]' must be a box with a name"),
        ({"scene": [{"name": "t", "min": [0, 0, 0], "max": [1, 1]}]}, "'scene.t.max' must be 3 finite numbers"),
        ({"scene": [{"name": "t", "min": [0, 0, 1], "max": [1, 1, 1]}]}, "scene box 't' min .* must be below max"),
        ({"scene": [{"name": "t", "min": [0, 0, 0], "max": [1, 1, 1], "size": 1}]}, r"unknown entries \['size'\]"),
        ({"scene": [{"name": "t", "min": [0, 0, 0], "max": [1, 1, 1], "mounted": "base"}]}, "'scene.t.mounted' must"),
        ({"scene": [{"name": "t", "min": [0, 0, 0], "max": [1, 1, 1]}] * 2}, r"scene box names are duplicated"),
        ({"disabled_collisions": [["l1", "l2"]]}, "'disabled_collisions' must map reasons"),
        ({"disabled_collisions": {"never": [["l1", "l2"]]}}, "reason 'never' is not one of"),
        ({"disabled_collisions": {"always": [["l1"]]}}, "'disabled_collisions.always' entry \\['l1'\\] must be two"),
        ({"disabled_collisions": {"adjacent": [["l1", "l2"]], "always": [["l2", "l1"]]}}, "lists a pair twice"),
    ],
)
def test_bad_scenes_and_disabled_collisions_are_refused(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(RobotDescriptionError, match=message):
        arm_from_description(six_dof_description(tmp_path, **change), tmp_path)


def test_six_dof_kinematics_with_a_continuous_joint(tmp_path: Path) -> None:
    arm = arm_from_description(six_dof_description(tmp_path), tmp_path)
    kinematics = ArmKinematics(arm)
    assert kinematics.dof == 6 and kinematics.continuous.tolist() == [False] * 5 + [True]
    assert np.isinf(kinematics.upper_limits[5]) and kinematics.upper_limits[0] == 2.5
    rng = np.random.default_rng(0)
    q = rng.uniform(-1.0, 1.0, 6)
    jac = kinematics.full_jacobian(q)
    assert jac.shape == (6, 6)
    for joint in range(6):  # the Jacobian's linear rows are the position's derivatives
        dq = np.zeros(6)
        dq[joint] = 1e-6
        numeric = (kinematics.ee_position(q + dq) - kinematics.ee_position(q - dq)) / 2e-6
        np.testing.assert_allclose(jac[:3, joint], numeric, atol=1e-6)
    # The continuous joint reads any angle: a full turn is the same posture.
    np.testing.assert_allclose(kinematics.ee_pose(q)[1], kinematics.ee_pose(q + [0, 0, 0, 0, 0, 2 * np.pi])[1])
    goal = kinematics.ee_position(rng.uniform(-0.8, 0.8, 6))
    result = kinematics.solve_ik(goal)
    assert result.converged and result.error < 1e-5
    state = validation.arm_state_from_joint_state(
        arm, arm.joint_names, [0, 0, 0, 0, 0, 9.0], [0.0] * 6, continuous=kinematics.continuous
    )
    assert state.position[5] == 9.0
    with pytest.raises(validation.InvalidInput, match="implausible"):
        validation.arm_state_from_joint_state(
            arm, arm.joint_names, [9.0, 0, 0, 0, 0, 0], [0.0] * 6, continuous=kinematics.continuous
        )


def code_without_text(path: Path) -> str:
    """A module's code with its comments and string literals (docstrings included) removed."""
    with path.open("rb") as source:
        kept = [
            token.string
            for token in tokenize.tokenize(source.readline)
            if token.type not in (tokenize.COMMENT, tokenize.STRING, tokenize.ENCODING)
        ]
    return " ".join(kept)


def test_nothing_outside_the_robot_description_assumes_the_panda() -> None:
    """No module but the robot description (and panda-gym's Panda and task) assumes seven joints or Panda names."""
    allowed = {"core/robot.py", "core/sim.py", "core/panda_gym_task.py"}
    seven = re.compile(r"range \( 7 \)|np \. (ones|zeros|eye) \( 7 \)|\[ : 7 \]|PANDA_EE_LINK|panda_joint")
    strings = re.compile(r"[\"']panda_(joint|link|finger|hand|grasptarget)")
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = str(path.relative_to(PACKAGE))
        if relative in allowed:
            continue
        found = seven.search(code_without_text(path))
        assert not found, f"{relative} assumes the Panda: {found.group(0)}"
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        literals = [
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
        ]
        named = [text for text in literals if strings.search(repr(text))]
        assert not named, f"{relative} names Panda frames or joints in code: {named[:3]}"


def test_continuous_joints_return_to_neutral_the_short_way(tmp_path: Path) -> None:
    kinematics = ArmKinematics(arm_from_description(six_dof_description(tmp_path), tmp_path))
    wound = kinematics.neutral + np.array([0.1, 0, 0, 0, 0, 4 * np.pi + 0.2])
    np.testing.assert_allclose(kinematics.toward_neutral(wound), [-0.1, 0, 0, 0, 0, -0.2], atol=1e-12)
