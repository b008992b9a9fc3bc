"""Facts about the simulated Franka Panda and panda-gym's PandaReach task, shared by every module.

Everything here mirrors panda-gym v3 (``panda_gym/envs/robots/panda.py``, ``tasks/reach.py``,
``pybullet.py``) so that a policy trained in panda-gym sees the same numbers through ROS.
"""

from __future__ import annotations

import numpy as np

ARM_JOINT_NAMES: tuple[str, ...] = tuple(f"panda_joint{i}" for i in range(1, 8))
FINGER_JOINT_NAMES: tuple[str, ...] = ("panda_finger_joint1", "panda_finger_joint2")
JOINT_NAMES: tuple[str, ...] = ARM_JOINT_NAMES + FINGER_JOINT_NAMES

BASE_FRAME = "panda_link0"
"""The ROS frame of every pose the nodes publish and of goals they accept without an offset."""
WORLD_FRAME = "world"
"""panda-gym's world frame; the robot base sits at ``BASE_POSITION_IN_WORLD`` in it."""
EE_FRAME = "panda_grasptarget"
"""panda-gym's end effector (PyBullet link 11): 0.105 m past ``panda_hand``."""

BASE_POSITION_IN_WORLD = np.array([-0.6, 0.0, 0.0])
NEUTRAL_JOINT_POSITIONS = np.array([0.00, 0.41, 0.00, -1.85, 0.00, 2.26, 0.79])

PHYSICS_TIMESTEP = 1.0 / 500.0
SUBSTEPS_PER_CONTROL = 20
CONTROL_PERIOD = PHYSICS_TIMESTEP * SUBSTEPS_PER_CONTROL
"""0.04 s: one panda-gym ``env.step``."""

EE_STEP_PER_ACTION = 0.05
"""Metres of end-effector displacement per unit action and control period (panda-gym's scaling)."""
JOINT_STEP_PER_ACTION = 0.05
"""Radians of joint displacement per unit action and control period (panda-gym's joint control)."""
MAX_CARTESIAN_SPEED = EE_STEP_PER_ACTION / CONTROL_PERIOD
"""1.25 m/s: the Cartesian speed of a unit action, the limit of the ``cartesian_cmd`` interface."""

ROTATION_STEP_PER_ACTION = 0.05
"""Radians of end-effector rotation per unit angular action and control period (pose policies)."""
MAX_ANGULAR_SPEED = ROTATION_STEP_PER_ACTION / CONTROL_PERIOD
"""1.25 rad/s: the angular speed of a unit angular action, the default limit of ``cartesian_cmd``'s angular part."""

WORKSPACE_MIN = np.array([0.2, -0.5, 0.01])
"""Default goal box lower corner in ``panda_link0``; z ≥ 1 cm keeps the fingertips (6 mm below the
grasp target with the hand pointing down) off the table, which would otherwise block the goal."""
WORKSPACE_MAX = np.array([0.85, 0.5, 0.7])
SHOULDER_POSITION = np.array([0.0, 0.0, 0.333])
REACH_RADIUS = 0.855
"""Franka's specified reach from the shoulder; covers all of panda-gym's goal box (farthest corner 0.834 m)."""

SAFETY_BOX_MIN = np.array([0.1, -0.6, 0.0])
"""The reach controller's default safety box (``panda_link0``): commanded end-effector targets stay inside."""
SAFETY_BOX_MAX = np.array([0.95, 0.6, 0.8])
JOINT_LIMIT_MARGIN = 0.01
"""Default margin (rad) inside the URDF limits that joint targets keep."""
MAX_JOINT_STEP = 0.1
"""Default largest joint-target change per control period (rad), 2.5 rad/s."""

GOAL_LOW_WORLD = np.array([-0.15, -0.15, 0.0])
GOAL_HIGH_WORLD = np.array([0.15, 0.15, 0.3])
DISTANCE_THRESHOLD = 0.05
EPISODE_STEPS = 50


def world_to_base(point_world: np.ndarray) -> np.ndarray:
    """panda-gym world coordinates → ``panda_link0`` (the base is translated, not rotated)."""
    return np.asarray(point_world, dtype=float) - BASE_POSITION_IN_WORLD


def base_to_world(point_base: np.ndarray) -> np.ndarray:
    """``panda_link0`` coordinates → panda-gym world coordinates."""
    return np.asarray(point_base, dtype=float) + BASE_POSITION_IN_WORLD


def sample_goals_world(count: int, seed: int) -> np.ndarray:
    """Goals drawn uniformly from panda-gym's PandaReach goal box, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    return rng.uniform(GOAL_LOW_WORLD, GOAL_HIGH_WORLD, size=(count, 3))
