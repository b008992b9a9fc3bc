"""Reach environments that match deployment: the whole workspace, consecutive goals, no early end.

``IkrlReach-v0`` (Cartesian displacement actions) and ``IkrlReachJoints-v0`` (joint displacement
actions) differ from panda-gym's PandaReach where users meet the reach controller:

- goals are drawn from the controller's admitted workspace (box ∩ reach sphere), IK-reachable;
- an episode starts where the previous one ended (probability ``continue_probability``), else from
  a random posture whose end effector lies in the safety box, so the policy learns to go from any
  pose to any goal, one goal after another;
- episodes never end on success: the policy is paid for arriving *and* staying;
- a dense reward with coarse and fine terms rewards the last millimetres (``reach_reward``);
- an action is executed as the ROS stack executes it: the controller's safety limits, then
  the bridge's Cartesian step (damped least squares with the posture term) or joint targets.

The ``IkrlReachLimited*-v0`` variants execute as the stack does with ``strict: true`` (``core.execution``'s
limited execution): the jerk-limited generator within the arm's velocity, acceleration and jerk limits and the
collision check against the table and the arm itself; actions are targets approached within the limits, and the
observation carries the commanded velocities and the joint state the dynamics need (``core.policy_spec``).

Kinematics only (Pinocchio): the bridge's PyBullet position control follows the commanded motion within a
control period, so the kinematic step is what the arm does, at a small fraction of the cost.
Every figure reported for these policies is measured on the PyBullet bridge through ROS.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from ikrl_ros.core.collision import shared_collision_model
from ikrl_ros.core.control import CONTROL_PERIOD, JOINT_LIMIT_MARGIN, MAX_CARTESIAN_SPEED, MAX_JOINT_STEP
from ikrl_ros.core.execution import MotionExecutor, limited_generator
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.policy_spec import POSITION_GOAL_DIM, WORKSPACE_TASK, PolicySpec, is_limited
from ikrl_ros.core.robot import DEFAULT_ROBOT, Workspace, load_arm
from ikrl_ros.core.safety import CartesianLimits, JointLimits
from ikrl_ros.core.workspace import sample_reachable_goal, sample_reachable_pose, sample_start_posture

WORKSPACE_ENV_IDS = {
    "IkrlReach-v0": ("ee", "linear"),
    "IkrlReachJoints-v0": ("joints", "signed_square"),
    "IkrlReachPose-v0": ("pose", "linear"),
    "IkrlReachLimited-v0": ("ee", "cubic"),
    "IkrlReachLimitedJoints-v0": ("joints", "signed_square"),
    "IkrlReachLimitedPose-v0": ("pose", "signed_square"),
}
"""Id → (control type, action map). Joint actions need ~0.001 rad for a millimetre: the signed-square map
gives the policy that resolution at an action of ~0.14 instead of 0.02. Limited variants aim 0.25 m (or rad)
away at a full action, a millimetre is a 0.004 fraction: the cubic map gives it at an action of 0.08, and unlike
signed-square its inverse has a finite slope at zero, so a smooth policy does not stall millimetres short."""
EPISODE_STEPS = 50
"""2 s at 25 Hz: enough to cross the workspace (≤ 1.2 m at 5 cm per step) and settle."""
POSE_EPISODE_STEPS = 75
"""3 s for pose goals: a half turn at 0.05 rad per step alone takes 63 steps."""
LIMITED_EPISODE_STEPS = {"ee": 75, "joints": 75, "pose": 100}
"""Limited variants: one second more, for the acceleration limits."""
LIMITED_GOAL_FLOOR = 0.03
"""m: limited variants draw goals at least this high, where a hand pointing down clears the table by more than
the collision check's 2 cm threshold."""
SUCCESS_THRESHOLD = 0.005
"""Evaluation success radius (m); the reward itself has no threshold."""
ANGLE_SUCCESS_THRESHOLD = 0.05
"""Pose goals: evaluation success also needs the orientation within this angle (rad)."""
ANGLE_PER_METRE = 10.0
"""Pose reward: an angle error counts like a position error 10× smaller (0.05 rad ↔ 5 mm)."""

COARSE_SCALE = 0.2
"""Linear term: −d / 0.2 m, a gradient everywhere in the workspace."""
FINE_SCALES = (0.01, 0.001)
"""Exponential terms 0.5 (1 − exp(−d / s)): steep at centimetres and at millimetres."""


def reach_reward(achieved: np.ndarray, desired: np.ndarray) -> np.ndarray:
    """Dense precision reward of position goals, 0 at the goal (``distance_reward`` of the distance)."""
    return distance_reward(np.linalg.norm(np.asarray(achieved) - np.asarray(desired), axis=-1))


def distance_reward(distance: np.ndarray) -> np.ndarray:
    """−d/0.2 − Σ 0.5 (1 − exp(−d/s)) for s in 10 mm, 1 mm (d in metres), 0 at d = 0.

    At 1 mm it is −0.37, at 5 mm −0.72, at 5 cm −1.25: most of its range lies in the last
    centimetre, where panda-gym's 5 cm sparse reward is flat.
    """
    reward = -np.asarray(distance, dtype=float) / COARSE_SCALE
    for scale in FINE_SCALES:
        reward -= 0.5 * (1.0 - np.exp(-distance / scale))
    return reward.astype(np.float32)


def pose_errors(achieved: np.ndarray, desired: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances (m) and angles (rad) between batches of poses [position, 6-D rotation]."""
    achieved, desired = np.asarray(achieved, dtype=float), np.asarray(desired, dtype=float)
    distance = np.linalg.norm(achieved[..., :3] - desired[..., :3], axis=-1)
    a1, a2, d1, d2 = achieved[..., 3:6], achieved[..., 6:9], desired[..., 3:6], desired[..., 6:9]
    # trace(Raᵀ Rd) = Σ columns' dot products; the third columns are the cross products of the first two.
    trace = np.sum(a1 * d1, -1) + np.sum(a2 * d2, -1) + np.sum(np.cross(a1, a2) * np.cross(d1, d2), -1)
    return distance, np.arccos(np.clip((trace - 1.0) / 2.0, -1.0, 1.0))


class WorkspaceReachTask:
    """Goal functions in panda-gym's shape (``is_success``, ``compute_reward``), vectorised for HER.

    Position goals (3 values) or pose goals (3 + 6); a pose's angle error is rewarded like a position
    error ``ANGLE_PER_METRE`` times smaller.
    """

    terminal_on_success = False
    """Relabelled successes are not terminal: the episode goes on and the policy must stay."""

    def __init__(
        self, distance_threshold: float = SUCCESS_THRESHOLD, angle_threshold: float = ANGLE_SUCCESS_THRESHOLD
    ) -> None:
        self.distance_threshold, self.angle_threshold = distance_threshold, angle_threshold

    def errors(self, achieved: np.ndarray, desired: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if np.shape(desired)[-1] == POSITION_GOAL_DIM:
            return np.linalg.norm(np.asarray(achieved) - np.asarray(desired), axis=-1), None
        return pose_errors(achieved, desired)

    def is_success(self, achieved: np.ndarray, desired: np.ndarray) -> np.ndarray:
        distance, angle = self.errors(achieved, desired)
        close = distance <= self.distance_threshold
        return close if angle is None else close & (angle <= self.angle_threshold)

    def compute_reward(self, achieved: np.ndarray, desired: np.ndarray, info: Any = None) -> np.ndarray:
        distance, angle = self.errors(achieved, desired)
        reward = distance_reward(distance)
        return reward if angle is None else reward + distance_reward(angle / ANGLE_PER_METRE)


class WorkspaceReachEnv(gym.Env):
    """An arm reaching consecutive goals across its workspace, as the ROS stack executes actions."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        control_type: str = "ee",
        action_map: str = "linear",
        continue_probability: float = 0.8,
        robot: str = DEFAULT_ROBOT,
        limited: bool = False,
        base_frame: str | None = None,
        tip_frame: str | None = None,
        joint_limits: str | None = None,
    ) -> None:
        if not 0.0 <= continue_probability <= 1.0:
            raise ValueError(f"continue_probability must be in [0, 1], got {continue_probability}")
        arm = load_arm(robot, base_frame, tip_frame, joint_limits)
        self.policy_spec = PolicySpec(
            WORKSPACE_TASK, control_type, action_map, arm.dof, arm.base_position_in_world, limited
        )
        self.limited = limited
        self.control_type, self.action_map = control_type, action_map
        self.continue_probability = continue_probability
        self.kinematics = ArmKinematics(arm)
        self.arm_identity = self.kinematics.identity()
        self.task = WorkspaceReachTask()
        bounds = self.kinematics.datasheet_limits_with_margin if limited else self.kinematics.limits_with_margin
        joint_limits = JointLimits(*bounds(JOINT_LIMIT_MARGIN), MAX_JOINT_STEP)
        self.executor = MotionExecutor(
            self.kinematics,
            CartesianLimits(MAX_CARTESIAN_SPEED, arm.safety_box_min, arm.safety_box_max),
            joint_limits,
            CONTROL_PERIOD,
            limited_generator(joint_limits, self.kinematics, CONTROL_PERIOD) if limited else None,
            shared_collision_model(arm) if limited else None,
        )
        workspace = arm.workspace
        if limited:
            floor = np.array(
                [workspace.box_min[0], workspace.box_min[1], max(workspace.box_min[2], LIMITED_GOAL_FLOOR)]
            )
            workspace = Workspace(floor, workspace.box_max, workspace.reach_center, workspace.reach_radius)
        self.workspace = workspace
        obs_dim, goal_dim, act_dim = self.policy_spec.obs_dim, self.policy_spec.goal_dim, self.policy_spec.act_dim
        goal_space = gym.spaces.Box(-10.0, 10.0, (goal_dim,), np.float32)
        self.observation_space = gym.spaces.Dict(
            {
                "observation": gym.spaces.Box(-10.0, 10.0, (obs_dim,), np.float32),
                "achieved_goal": goal_space,
                "desired_goal": goal_space,
            }
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, (act_dim,), np.float32)
        self._q: np.ndarray | None = None
        self.goal = np.zeros(goal_dim, np.float32)

    @property
    def q(self) -> np.ndarray | None:
        """The arm's joint positions; setting them (a new start, a caller placing the arm) releases any hold."""
        return self._q

    @q.setter
    def q(self, positions: np.ndarray) -> None:
        self._q = positions
        self.executor.reset()

    def compute_reward(self, achieved: np.ndarray, desired: np.ndarray, info: Any = None) -> np.ndarray:
        return self.task.compute_reward(achieved, desired, info)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """A new goal; the arm stays where it is unless this is a seeded reset or a random restart."""
        super().reset(seed=seed)
        if seed is not None or self.q is None or self.np_random.random() >= self.continue_probability:
            self.q = self._random_start()
        if self.control_type == "pose":
            self.goal = self.policy_spec.goal(*sample_reachable_pose(self.np_random, self.kinematics, self.workspace))
        else:
            self.goal = self.policy_spec.goal(
                sample_reachable_goal(self.np_random, self.kinematics, self.workspace), None
            )
        return self._observation(), {}

    def _random_start(self) -> np.ndarray:
        """Position tasks: a random posture (end effector in the safety box). Pose tasks: the posture IK
        finds for a random pose goal, as the arm stands after pose goals (gripper roughly down); from an
        arbitrary posture a straight Cartesian turn runs the wrist into its joint limits."""
        if self.control_type != "pose":
            return sample_start_posture(self.np_random, self.kinematics, collision=self.executor.collision)
        position, rotation = sample_reachable_pose(self.np_random, self.kinematics, self.workspace)
        return self.kinematics.solve_ik(
            position, goal_rotation=rotation, seed=int(self.np_random.integers(2**31))
        ).joint_positions

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        assert self.q is not None, "call reset() first"
        execution = self.executor.execute(self.q, self.policy_spec.command(action, self.q))
        self._q = execution.targets
        observation = self._observation()
        reward = float(self.compute_reward(observation["achieved_goal"], self.goal))
        success = bool(self.task.is_success(observation["achieved_goal"], self.goal))
        info = {"is_success": success, "collision": execution.collision} if self.limited else {"is_success": success}
        return observation, reward, False, False, info

    @property
    def joint_velocities(self) -> np.ndarray:
        state = self.executor.state
        return np.zeros(self.kinematics.dof) if state is None else state.velocity

    def _observation(self) -> dict[str, np.ndarray]:
        position, rotation, jacobian = self.kinematics.ee_pose_and_jacobian(self.q)
        twist = jacobian @ self.joint_velocities
        return self.policy_spec.observe(
            self.q, position, rotation, twist[:3], self.goal.copy(), self.joint_velocities, twist[3:]
        )


def register_workspace_envs() -> None:
    """Register the workspace ids with gymnasium (idempotent)."""
    for env_id, (control_type, action_map) in WORKSPACE_ENV_IDS.items():
        if env_id not in gym.registry:
            limited = is_limited(env_id)
            steps = POSE_EPISODE_STEPS if control_type == "pose" else EPISODE_STEPS
            gym.register(
                id=env_id,
                entry_point="ikrl_ros.rl.workspace_env:WorkspaceReachEnv",
                kwargs={"control_type": control_type, "action_map": action_map, "limited": limited},
                max_episode_steps=LIMITED_EPISODE_STEPS[control_type] if limited else steps,
            )
