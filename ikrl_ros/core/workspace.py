"""Where users send goals: reachable goals and start postures across the arm's admitted workspace.

ROS-free and torch-free. The training environments (``ikrl_ros.rl.workspace_env``) and the workspace
benchmark share these definitions, so a policy is trained on exactly the goals the node admits.
"""

from __future__ import annotations

import numpy as np

from ikrl_ros.core.collision import SCENE_THRESHOLD, SELF_THRESHOLD, CollisionModel
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import Workspace
from ikrl_ros.core.rotations import exp_map, top_down

POSE_GOAL_YAW = 1.2
"""Pose goals: the gripper down, turned up to this far (rad) about the vertical ..."""
POSE_GOAL_TILT = 0.4
"""... and tilted up to this far (rad) about a horizontal axis: what pick-and-place users send."""

START_SPREAD = 0.5
"""Random start postures: each joint within half its half-range of the neutral posture."""
START_LINK_CLEARANCE = 0.05
"""Random start postures keep every joint frame from the third on this far (m) above the table."""
START_EE_MIN_HEIGHT = 0.03
"""... and the grasp target this high, so the fingertips start clear of the table."""


def sample_reachable_goal(
    rng: np.random.Generator, kinematics: ArmKinematics, workspace: Workspace | None = None
) -> np.ndarray:
    """A goal uniform over the admitted workspace (box ∩ reach sphere; the arm's by default) for which IK
    converges."""
    workspace = workspace or kinematics.arm.workspace
    while True:
        goal = rng.uniform(workspace.box_min, workspace.box_max)
        if workspace.contains(goal) and kinematics.solve_ik(goal, restarts=4, seed=int(rng.integers(2**31))).converged:
            return goal


def sample_reachable_goals(
    count: int, seed: int, kinematics: ArmKinematics, workspace: Workspace | None = None
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
    rng: np.random.Generator, kinematics: ArmKinematics, workspace: Workspace | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A pose goal (position, rotation) across the workspace that 6-D IK reaches exactly."""
    workspace = workspace or kinematics.arm.workspace
    while True:
        position, rotation = rng.uniform(workspace.box_min, workspace.box_max), sample_goal_rotation(rng)
        if (
            workspace.contains(position)
            and kinematics.solve_ik(
                position, restarts=2, seed=int(rng.integers(2**31)), goal_rotation=rotation
            ).converged
        ):
            return position, rotation


def sample_reachable_poses(count: int, seed: int, kinematics: ArmKinematics) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` reproducible pose goals across the workspace (the pose benchmark's sequence)."""
    rng = np.random.default_rng(seed)
    return [sample_reachable_pose(rng, kinematics) for _ in range(count)]


def orientation_reachable(
    kinematics: ArmKinematics, position: np.ndarray, rotation: np.ndarray, q_seed: np.ndarray
) -> bool:
    """Whether IK from the current posture ``q_seed`` reaches ``rotation`` at ``position``.

    Position comes first: a controller chasing an orientation the arm cannot take at the goal (or not
    from its current posture, for local controllers) runs its wrist into the joint limits and then
    misses the position too. Such goals are reached as positions, the orientation left free.
    """
    return kinematics.solve_ik(
        position, q_init=q_seed, restarts=0, goal_rotation=rotation, max_iterations=100
    ).converged


def sample_start_posture(
    rng: np.random.Generator,
    kinematics: ArmKinematics,
    spread: float = START_SPREAD,
    collision: CollisionModel | None = None,
) -> np.ndarray:
    """Joint positions uniform around neutral, end effector in the safety box, links above the table (and, with a
    collision model, outside the collision check's thresholds: a start the limited execution does not slow).

    Each joint is drawn within ``spread`` × half its range of neutral (clipped to the limits). Wider
    draws include "flipped" postures (joints 1 and 3 both near ±170°) from which a straight
    Cartesian move needs a joint beyond its limit: no local controller, learned or numerical, leaves
    them, and the stack never produces them (its posture term keeps the arm near neutral).
    """
    arm = kinematics.arm
    box_min, box_max = arm.safety_box_min, arm.safety_box_max
    lower, upper = kinematics.sampling_range(0.01)
    # A joint with more than a turn of range is drawn within one turn of it (half a turn each way at most): a
    # base joint of ±2π would otherwise start the arm facing backwards, a posture the stack never drives it to.
    half_range = spread * np.minimum((upper - lower) / 2, np.pi)
    while True:
        q = np.clip(arm.neutral + rng.uniform(-half_range, half_range), lower, upper)
        ee = kinematics.ee_position(q)
        if np.any(ee < box_min) or np.any(ee > box_max) or ee[2] < START_EE_MIN_HEIGHT:
            continue
        if not np.all(kinematics.joint_origins(q)[2:, 2] > START_LINK_CLEARANCE):
            continue
        if collision is None:
            return q
        clearance = collision.clearance(q)
        if clearance.scene >= SCENE_THRESHOLD and clearance.self_ >= SELF_THRESHOLD:
            return q
