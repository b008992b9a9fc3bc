"""Where users send goals: reachable goals and start postures across the reach controller's workspace.

ROS-free and torch-free. The training environments (``ikrl_ros.rl.workspace_env``), the learned
controller and the workspace benchmark share these definitions, so a policy is trained on exactly
the goals the node admits, and observes exactly what the node builds.
"""

from __future__ import annotations

import numpy as np

from ikrl_ros.kinematics import PandaKinematics
from ikrl_ros.panda_model import NEUTRAL_JOINT_POSITIONS, SAFETY_BOX_MAX, SAFETY_BOX_MIN
from ikrl_ros.validation import DEFAULT_WORKSPACE, Workspace

CONTROL_TYPES = ("ee", "joints")
"""``ee``: Cartesian displacement actions (× 0.05 m); ``joints``: joint displacement actions (× 0.05 rad)."""

ACTION_MAPS = ("linear", "signed_square")
"""How a policy's action a ∈ [-1, 1] becomes the displacement fraction: ``a``, or ``a·|a|`` — the same full
speed, with half the action range spent on the slowest quarter of speeds, where the last millimetres are."""

START_SPREAD = 0.5
"""Random start postures: each joint within half its half-range of the neutral posture."""
START_LINK_CLEARANCE = 0.05
"""Random start postures keep every joint frame from the third on this far (m) above the table."""
START_EE_MIN_HEIGHT = 0.03
"""... and the grasp target this high, so the fingertips start clear of the table."""


def sample_reachable_goal(rng: np.random.Generator, kinematics: PandaKinematics, workspace: Workspace = DEFAULT_WORKSPACE) -> np.ndarray:
    """A goal uniform over the admitted workspace (box ∩ reach sphere) for which IK converges."""
    while True:
        goal = rng.uniform(workspace.box_min, workspace.box_max)
        if workspace.contains(goal) and kinematics.solve_ik(goal, restarts=4, seed=int(rng.integers(2**31))).converged:
            return goal


def sample_reachable_goals(count: int, seed: int, kinematics: PandaKinematics, workspace: Workspace = DEFAULT_WORKSPACE) -> np.ndarray:
    """``count`` reproducible goals across the workspace (the workspace benchmark's goal sequence)."""
    rng = np.random.default_rng(seed)
    return np.array([sample_reachable_goal(rng, kinematics, workspace) for _ in range(count)])


def sample_start_posture(
    rng: np.random.Generator,
    kinematics: PandaKinematics,
    box_min: np.ndarray = SAFETY_BOX_MIN,
    box_max: np.ndarray = SAFETY_BOX_MAX,
    spread: float = START_SPREAD,
) -> np.ndarray:
    """Joint positions uniform around the neutral posture whose end effector lies in the safety box, links above the table.

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


def policy_observation(control_type: str, joint_positions: np.ndarray, ee_position: np.ndarray) -> dict[str, np.ndarray]:
    """The workspace policies' observation, goal excluded (``panda_link0``, float32).

    Cartesian policies see the end-effector position; joint-space policies the seven joint angles
    (they must learn the kinematics). The goal-relative inputs are computed inside the network from
    ``achieved_goal`` and ``desired_goal``, so hindsight relabelling stays valid.
    """
    if control_type not in CONTROL_TYPES:
        raise ValueError(f"control type must be one of {CONTROL_TYPES}, got {control_type!r}")
    observation = ee_position if control_type == "ee" else joint_positions
    return {"observation": np.asarray(observation, np.float32), "achieved_goal": np.asarray(ee_position, np.float32)}
