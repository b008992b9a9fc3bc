"""Where users send goals: reachable goals and start postures across the reach controller's workspace.

ROS-free and torch-free. The training environments (``ikrl_ros.rl.workspace_env``), the learned
controller and the workspace benchmark share these definitions, so a policy is trained on exactly
the goals the node admits, and observes exactly what the node builds.
"""

from __future__ import annotations

import numpy as np

from ikrl_ros.core.kinematics import PandaKinematics
from ikrl_ros.core.panda_model import NEUTRAL_JOINT_POSITIONS, SAFETY_BOX_MAX, SAFETY_BOX_MIN
from ikrl_ros.core.rotations import exp_map, top_down
from ikrl_ros.core.validation import DEFAULT_WORKSPACE, Workspace

CONTROL_TYPES = ("ee", "joints", "pose")
"""``ee``: Cartesian displacement actions (× 0.05 m); ``joints``: joint displacement actions (× 0.05 rad);
``pose``: Cartesian twist actions (× 0.05 m and × 0.05 rad about the base axes) toward pose goals."""

POSE_GOAL_YAW = 1.2
"""Pose goals: the gripper down, turned up to this far (rad) about the vertical ..."""
POSE_GOAL_TILT = 0.4
"""... and tilted up to this far (rad) about a horizontal axis: what pick-and-place users send."""

ACTION_MAPS = ("linear", "signed_square")
"""How a policy's action a ∈ [-1, 1] becomes the displacement fraction: ``a``, or ``a·|a|`` — the same full
speed, with half the action range spent on the slowest quarter of speeds, where the last millimetres are."""

START_SPREAD = 0.5
"""Random start postures: each joint within half its half-range of the neutral posture."""
START_LINK_CLEARANCE = 0.05
"""Random start postures keep every joint frame from the third on this far (m) above the table."""
START_EE_MIN_HEIGHT = 0.03
"""... and the grasp target this high, so the fingertips start clear of the table."""


def sample_reachable_goal(
    rng: np.random.Generator, kinematics: PandaKinematics, workspace: Workspace = DEFAULT_WORKSPACE
) -> np.ndarray:
    """A goal uniform over the admitted workspace (box ∩ reach sphere) for which IK converges."""
    while True:
        goal = rng.uniform(workspace.box_min, workspace.box_max)
        if workspace.contains(goal) and kinematics.solve_ik(goal, restarts=4, seed=int(rng.integers(2**31))).converged:
            return goal


def sample_reachable_goals(
    count: int, seed: int, kinematics: PandaKinematics, workspace: Workspace = DEFAULT_WORKSPACE
) -> np.ndarray:
    """``count`` reproducible goals across the workspace (the workspace benchmark's goal sequence)."""
    rng = np.random.default_rng(seed)
    return np.array([sample_reachable_goal(rng, kinematics, workspace) for _ in range(count)])


def sample_goal_rotation(rng: np.random.Generator) -> np.ndarray:
    """A grasp orientation: top-down with a yaw within ±1.2 rad, tilted up to 0.4 rad."""
    tilt_axis = rng.uniform(-np.pi, np.pi)
    tilt = rng.uniform(0.0, POSE_GOAL_TILT) * np.array([np.cos(tilt_axis), np.sin(tilt_axis), 0.0])
    return exp_map(tilt) @ top_down(rng.uniform(-POSE_GOAL_YAW, POSE_GOAL_YAW))


def sample_reachable_pose(
    rng: np.random.Generator, kinematics: PandaKinematics, workspace: Workspace = DEFAULT_WORKSPACE
) -> tuple[np.ndarray, np.ndarray]:
    """A pose goal (position, rotation) across the workspace that 6-D IK reaches exactly."""
    while True:
        position, rotation = rng.uniform(workspace.box_min, workspace.box_max), sample_goal_rotation(rng)
        if (
            workspace.contains(position)
            and kinematics.solve_ik(
                position, restarts=2, seed=int(rng.integers(2**31)), goal_rotation=rotation
            ).converged
        ):
            return position, rotation


def sample_reachable_poses(count: int, seed: int, kinematics: PandaKinematics) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` reproducible pose goals across the workspace (the pose benchmark's sequence)."""
    rng = np.random.default_rng(seed)
    return [sample_reachable_pose(rng, kinematics) for _ in range(count)]


def orientation_reachable(
    kinematics: PandaKinematics, position: np.ndarray, rotation: np.ndarray, q_seed: np.ndarray
) -> bool:
    """Whether IK from the current posture ``q_seed`` reaches ``rotation`` at ``position``.

    Position comes first: a controller chasing an orientation the arm cannot take at the goal (or not
    from its current posture, for local controllers) runs its wrist into the joint limits and then
    misses the position too. Such goals are reached as positions, the orientation left free.
    """
    return kinematics.solve_ik(
        position, q_init=q_seed, restarts=0, goal_rotation=rotation, max_iterations=100
    ).converged


def rotation_features(rotation: np.ndarray) -> np.ndarray:
    """The continuous 6-D representation of a rotation: its first two columns (Zhou et al. 2019)."""
    return np.asarray(rotation)[:, :2].T.reshape(6)


def sample_start_posture(
    rng: np.random.Generator,
    kinematics: PandaKinematics,
    box_min: np.ndarray = SAFETY_BOX_MIN,
    box_max: np.ndarray = SAFETY_BOX_MAX,
    spread: float = START_SPREAD,
) -> np.ndarray:
    """Joint positions uniform around neutral, end effector in the safety box, links above the table.

    Each joint is drawn within ``spread`` × half its range of neutral (clipped to the limits). Wider
    draws include "flipped" postures (joints 1 and 3 both near ±170°) from which a straight
    Cartesian move needs a joint beyond its limit: no local controller, learned or numerical, leaves
    them, and the stack never produces them (its posture term keeps the arm near neutral).
    """
    lower, upper = kinematics.limits_with_margin(0.01)
    half_range = spread * (upper - lower) / 2
    while True:
        q = np.clip(NEUTRAL_JOINT_POSITIONS + rng.uniform(-half_range, half_range), lower, upper)
        ee = kinematics.ee_position(q)
        if np.any(ee < box_min) or np.any(ee > box_max) or ee[2] < START_EE_MIN_HEIGHT:
            continue
        if np.all(kinematics.joint_origins(q)[2:, 2] > START_LINK_CLEARANCE):
            return q


def action_to_displacement_fraction(action: np.ndarray, action_map: str) -> np.ndarray:
    """The fraction of the full step (0.05 m or 0.05 rad per period) that ``action`` commands, per axis."""
    action = np.clip(np.asarray(action, dtype=float), -1.0, 1.0)
    if action_map == "linear":
        return action
    if action_map == "signed_square":
        return action * np.abs(action)
    raise ValueError(f"action map must be one of {ACTION_MAPS}, got {action_map!r}")


def policy_observation(
    control_type: str, joint_positions: np.ndarray, ee_position: np.ndarray, ee_rotation: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """The workspace policies' observation, goal excluded (``panda_link0``, float32).

    Cartesian policies see the end-effector position; joint-space policies the seven joint angles
    (they must learn the kinematics); pose policies the end-effector pose (position and 6-D
    rotation), which is also their achieved goal. The goal-relative inputs are computed inside the
    network from ``achieved_goal`` and ``desired_goal``, so hindsight relabelling stays valid.
    """
    if control_type not in CONTROL_TYPES:
        raise ValueError(f"control type must be one of {CONTROL_TYPES}, got {control_type!r}")
    if control_type == "pose":
        pose = np.concatenate([ee_position, rotation_features(ee_rotation)])
        return {"observation": pose.astype(np.float32), "achieved_goal": pose.astype(np.float32)}
    observation = ee_position if control_type == "ee" else joint_positions
    return {"observation": np.asarray(observation, np.float32), "achieved_goal": np.asarray(ee_position, np.float32)}


def pose_goal(position: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """A pose policy's desired goal: position and 6-D rotation (float32)."""
    return np.concatenate([position, rotation_features(rotation)]).astype(np.float32)
