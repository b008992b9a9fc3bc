"""The contract between a policy and the arm: sizes, observation, and what an action commands.

One ``PolicySpec`` per task and control type, used by the training environments (their spaces and
action execution), the learned controller (observation and command) and the checkpoint check, so the
three cannot disagree:

- workspace tasks (``IkrlReach*-v0``, base frame): ``ee`` observes the tip position and commands a
  linear twist; ``joints`` observes the joint angles and commands joint targets; ``pose`` observes the
  tip pose (position + 6-D rotation) and commands a twist with an angular part;
- their limited variants (``IkrlReachLimited*-v0``, executed within the arm's limits): the same, plus the
  tip's commanded twist and the joint velocities (and the joint angles for ``ee`` and ``pose``), and actions
  that are targets approached within the limits (``CONTROL_TYPES``): under velocity, acceleration and jerk
  limits where the arm will be depends on how it moves now, and how fast the tip can change course on the
  posture;
- panda-gym's PandaReach (``PandaReach*-v3``, its world frame): observes the tip position and velocity;
  ``ee`` commands a linear twist, ``joints`` joint targets.

An action a ∈ [-1, 1] per axis becomes a fraction of the full step (``action_map``: ``a`` or ``a·|a|``),
and the fraction × the unit speeds of ``core.control`` is the SI command.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ikrl_ros.core.control import (
    ANGULAR_BRAKING_DECELERATION,
    BRAKING_DECELERATION,
    CONTROL_PERIOD,
    JOINT_REACH_PER_ACTION,
    JOINT_STEP_PER_ACTION,
    MAX_ANGULAR_SPEED,
    MAX_CARTESIAN_SPEED,
    REACH_PER_ACTION,
    TURN_PER_ACTION,
    braked,
)
from ikrl_ros.core.execution import Command, JointTargets, Twist
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import DEFAULT_ROBOT, load_arm

CONTROL_TYPES = ("ee", "joints", "pose")
"""``ee``: Cartesian displacements; ``joints``: joint displacements; ``pose``: Cartesian displacements and
rotations (about the base axes) toward pose goals. PandaReach and the workspace tasks: one period's displacement
(× 0.05 m or rad). Limited workspace tasks: targets ``REACH_PER_ACTION`` (or the joint and turn scales) away at a
full action, approached within the arm's limits: a Cartesian target as a braked twist (``control.braked``), a
joint target by the jerk-limited generator, time-optimally, at rest on arrival."""
ACTION_MAPS = ("linear", "signed_square", "cubic")
"""How a policy's action a ∈ [-1, 1] becomes the displacement fraction: ``a``; ``a·|a|`` — the same full
speed, with half the action range spent on the slowest quarter of speeds; or ``c·a + (1 − c)·a³``
(``CUBIC_LINEAR_SHARE``) — linear near zero, so that the action that corrects a small error is proportional to
it. Under ``a·|a|`` that action is the error's square root, whose slope at zero no smooth network has: its
corrections then shrink with the square of the error and a policy stalls millimetres short."""
CUBIC_LINEAR_SHARE = 0.05
"""``cubic``'s slope at zero: 0.05 × the full step (12.5 mm per unit action for the limited tasks' 0.25 m), rising
to the full step at a full action. Near the goal an action error of 0.02 then misses by 0.25 mm; at 0.2 (one
unlimited step per unit action) the same policy settled at twice the final error."""
POSITION_GOAL_DIM = 3
POSE_GOAL_DIM = 9
"""A pose goal: position and the 6-D rotation (``pose_goal``)."""
WORKSPACE_TASK = "workspace"
PANDA_GYM_TASK = "panda_gym"
WORKSPACE_ENV_PREFIX = "IkrlReach"
LIMITED_ENV_PREFIX = "IkrlReachLimited"
PANDA_GYM_ENV_PREFIX = "PandaReach"


class PolicyError(ValueError):
    """A checkpoint that cannot drive this robot: wrong task, sizes or action space."""


def check_policy_arm(recorded: dict | None, identity: dict) -> None:
    """Refuse a policy trained for another arm: its joints, frames or kinematic chain differ from this one's.

    A policy that records no arm was trained on the Panda (panda-gym's tasks, checkpoints from before arms were
    recorded): it is checked as the shipped Panda's.
    """
    if recorded is None:
        recorded = ArmKinematics(load_arm(DEFAULT_ROBOT)).identity()
    for key, what in ARM_IDENTITY_KEYS.items():
        if recorded.get(key) != identity[key]:
            raise PolicyError(
                f"policy was trained for the arm '{recorded.get('name')}', this controller drives "
                f"'{identity['name']}': {what} differ ({recorded.get(key)} vs {identity[key]}); train one for this "
                "arm with `ikrl train --robot ...`"
            )


ARM_IDENTITY_KEYS = {
    "joint_names": "joint names",
    "base_frame": "base frames",
    "tip_frame": "tip frames",
    "chain_hash": "kinematic chains (hash of tip poses)",
}


def task_of(env_id: str) -> str:
    """Which task family an environment id belongs to; the one place environment ids are interpreted."""
    if env_id.startswith(WORKSPACE_ENV_PREFIX):
        return WORKSPACE_TASK
    if env_id.startswith(PANDA_GYM_ENV_PREFIX):
        return PANDA_GYM_TASK
    raise PolicyError(
        f"policy was trained on {env_id}; only {PANDA_GYM_ENV_PREFIX} and {WORKSPACE_ENV_PREFIX} variants drive the "
        "reach controller"
    )


def rotation_features(rotation: np.ndarray) -> np.ndarray:
    """The continuous 6-D representation of a rotation: its first two columns (Zhou et al. 2019)."""
    return np.asarray(rotation)[:, :2].T.reshape(6)


def pose_goal(position: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """A pose policy's desired goal: position and 6-D rotation (float32)."""
    return np.concatenate([position, rotation_features(rotation)]).astype(np.float32)


def action_to_displacement_fraction(action: np.ndarray, action_map: str) -> np.ndarray:
    """The fraction of the full step (0.05 m or 0.05 rad per period) that ``action`` commands, per axis."""
    action = np.clip(np.asarray(action, dtype=float), -1.0, 1.0)
    if action_map == "linear":
        return action
    if action_map == "signed_square":
        return action * np.abs(action)
    if action_map == "cubic":
        return CUBIC_LINEAR_SHARE * action + (1.0 - CUBIC_LINEAR_SHARE) * action**3
    raise ValueError(f"action map must be one of {ACTION_MAPS}, got {action_map!r}")


@dataclass(frozen=True)
class PolicySpec:
    """Sizes, observation and action meaning of one task and control type for an arm of ``dof`` joints."""

    task: str
    control_type: str
    action_map: str
    dof: int
    world_offset: np.ndarray
    """panda-gym's tasks observe in its world frame: the base frame's position there."""
    limited: bool = False
    """Trained under the limited execution (``IkrlReachLimited*-v0``): targets approached within the limits,
    velocities and the joint state observed."""

    def __post_init__(self) -> None:
        if self.control_type not in CONTROL_TYPES:
            raise ValueError(f"control type must be one of {CONTROL_TYPES}, got {self.control_type!r}")
        if self.action_map not in ACTION_MAPS:
            raise ValueError(f"action map must be one of {ACTION_MAPS}, got {self.action_map!r}")
        if self.task == PANDA_GYM_TASK and self.control_type == "pose":
            raise PolicyError("panda-gym's PandaReach has no pose control")

    @property
    def obs_dim(self) -> int:
        if self.task == PANDA_GYM_TASK:
            return 6
        if self.limited:
            return {"ee": 6 + 2 * self.dof, "joints": 2 * self.dof, "pose": 15 + 2 * self.dof}[self.control_type]
        return {"ee": 3, "joints": self.dof, "pose": 9}[self.control_type]

    @property
    def goal_dim(self) -> int:
        return POSE_GOAL_DIM if self.control_type == "pose" else POSITION_GOAL_DIM

    @property
    def act_dim(self) -> int:
        return {"ee": 3, "joints": self.dof, "pose": 6}[self.control_type]

    @property
    def commands_joints(self) -> bool:
        return self.control_type == "joints"

    @property
    def reaches_orientation(self) -> bool:
        return self.control_type == "pose"

    def goal(self, position: np.ndarray, rotation: np.ndarray | None) -> np.ndarray:
        """The desired goal vector; a pose policy needs a rotation (the caller's current one for position goals)."""
        if self.task == PANDA_GYM_TASK:
            return (np.asarray(position, dtype=float) + self.world_offset).astype(np.float32)
        if self.control_type == "pose":
            return pose_goal(position, rotation)
        return np.asarray(position, np.float32)

    def observe(
        self,
        joint_positions: np.ndarray,
        ee_position: np.ndarray,
        ee_rotation: np.ndarray,
        ee_velocity: np.ndarray,
        desired_goal: np.ndarray,
        joint_velocities: np.ndarray | None = None,
        ee_angular_velocity: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """The observation dict (float32) the policy was trained on; ``desired_goal`` from ``goal``. Velocities
        absent are zero (an arm at rest).

        Goal-relative inputs are computed inside the network from ``achieved_goal`` and ``desired_goal``,
        so hindsight relabelling stays valid.
        """
        if self.task == PANDA_GYM_TASK:
            ee_world = np.asarray(ee_position, dtype=float) + self.world_offset
            observation, achieved = np.concatenate([ee_world, ee_velocity]), ee_world
        elif not self.limited:
            if self.control_type == "pose":
                observation = achieved = np.concatenate([ee_position, rotation_features(ee_rotation)])
            else:
                observation, achieved = (ee_position if self.control_type == "ee" else joint_positions), ee_position
        else:
            angular = np.zeros(3) if ee_angular_velocity is None else ee_angular_velocity
            joint_speed = np.zeros(self.dof) if joint_velocities is None else joint_velocities
            achieved = ee_position
            joint_state = np.concatenate([joint_positions, joint_speed])
            if self.control_type == "pose":
                achieved = np.concatenate([ee_position, rotation_features(ee_rotation)])
                observation = np.concatenate([achieved, ee_velocity, angular, joint_state])
            elif self.control_type == "ee":
                observation = np.concatenate([ee_position, ee_velocity, joint_state])
            else:
                observation = joint_state
        return {
            "observation": np.asarray(observation, np.float32),
            "achieved_goal": np.asarray(achieved, np.float32),
            "desired_goal": np.asarray(desired_goal, np.float32),
        }

    def command(self, action: np.ndarray, joint_positions: np.ndarray) -> Command:
        """The SI command an action stands for."""
        fraction = action_to_displacement_fraction(action, self.action_map)
        if not self.limited:
            if self.control_type == "joints":
                return JointTargets(joint_positions + JOINT_STEP_PER_ACTION * fraction)
            if self.control_type == "pose":
                return Twist(fraction[:3] * MAX_CARTESIAN_SPEED, fraction[3:] * MAX_ANGULAR_SPEED)
            return Twist(fraction * MAX_CARTESIAN_SPEED)
        if self.control_type == "joints":
            return JointTargets(joint_positions + JOINT_REACH_PER_ACTION * fraction)
        linear = braked(fraction[:3] * REACH_PER_ACTION, 1.0, CONTROL_PERIOD, MAX_CARTESIAN_SPEED, BRAKING_DECELERATION)
        if self.control_type == "pose":
            turn = fraction[3:] * TURN_PER_ACTION
            return Twist(linear, braked(turn, 1.0, CONTROL_PERIOD, MAX_ANGULAR_SPEED, ANGULAR_BRAKING_DECELERATION))
        return Twist(linear)

    def check(self, env_id: str, obs_dim: int, goal_dim: int, act_dim: int) -> None:
        """Refuse a checkpoint whose sizes do not match what this spec builds and executes."""
        if (obs_dim, goal_dim) != (self.obs_dim, self.goal_dim):
            raise PolicyError(
                f"policy expects observation {obs_dim} + goal {goal_dim} values; for {env_id} the reach controller "
                f"builds {self.obs_dim} + {self.goal_dim}"
            )
        if act_dim != self.act_dim:
            raise PolicyError(f"policy for {env_id} outputs {act_dim} actions, expected {self.act_dim}")


def policy_spec(env_id: str, control_type: str, action_map: str, dof: int, world_offset: np.ndarray) -> PolicySpec:
    """The spec of a policy trained on ``env_id``."""
    return PolicySpec(
        task_of(env_id), control_type, action_map, dof, np.asarray(world_offset, dtype=float), is_limited(env_id)
    )


def is_limited(env_id: str) -> bool:
    """Whether ``env_id`` is a limited-execution workspace task (``IkrlReachLimited*-v0``)."""
    return env_id.startswith(LIMITED_ENV_PREFIX)
