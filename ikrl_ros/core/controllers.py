"""Reach controllers behind one interface: observation in, command out, no ROS.

A controller answers each control step with either a Cartesian action (panda-gym's end-effector
action in [-1, 1]^3, i.e. a displacement of 0.05 m per unit per control period) or seven joint
position targets. The learned policies implement the same interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ikrl_ros.core.kinematics import PandaKinematics
from ikrl_ros.core.panda_model import EE_STEP_PER_ACTION, JOINT_STEP_PER_ACTION, ROTATION_STEP_PER_ACTION, base_to_world
from ikrl_ros.core.rotations import exp_map, matrix_to_quaternion, rotation_error
from ikrl_ros.core.workspace import action_to_displacement_fraction, policy_observation, pose_goal


@dataclass(frozen=True)
class ReachState:
    """What a controller sees each step; positions and rotations in ``panda_link0``."""

    joint_positions: np.ndarray
    joint_velocities: np.ndarray
    ee_position: np.ndarray
    ee_velocity: np.ndarray
    goal: np.ndarray
    ee_rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    goal_rotation: np.ndarray | None = None
    """Desired orientation of the grasp target; None = position only."""

    def gym_observation(self) -> dict[str, np.ndarray]:
        """panda-gym's PandaReach observation dict, in its world frame and float32."""
        ee_world = base_to_world(self.ee_position)
        return {
            "observation": np.concatenate([ee_world, self.ee_velocity]).astype(np.float32),
            "achieved_goal": ee_world.astype(np.float32),
            "desired_goal": base_to_world(self.goal).astype(np.float32),
        }

    def workspace_observation(self, control_type: str) -> dict[str, np.ndarray]:
        """The workspace policies' observation (``IkrlReach*-v0``), in ``panda_link0``; a pose policy given a
        position-only goal keeps the current orientation."""
        observation = policy_observation(control_type, self.joint_positions, self.ee_position, self.ee_rotation)
        if control_type == "pose":
            goal = pose_goal(self.goal, self.ee_rotation if self.goal_rotation is None else self.goal_rotation)
        else:
            goal = self.goal.astype(np.float32)
        return {**observation, "desired_goal": goal}


@dataclass(frozen=True)
class ArmObservation:
    """What one joint state tells about the arm: joints, and the end effector's position and Jacobian."""

    joint_positions: np.ndarray
    joint_velocities: np.ndarray
    ee_position: np.ndarray
    jacobian: np.ndarray
    """6×7 Jacobian [linear; angular] in ``panda_link0`` (the singularity guard needs all of it)."""
    ee_rotation: np.ndarray

    @classmethod
    def from_joints(cls, kinematics: PandaKinematics, q: np.ndarray, dq: np.ndarray) -> ArmObservation:
        position, rotation, jacobian = kinematics.ee_pose_and_jacobian(q)
        return cls(q, dq, position, jacobian, rotation)

    def reach_state(self, goal: np.ndarray, goal_rotation: np.ndarray | None = None) -> ReachState:
        """The controller's view: end-effector velocity J·q̇, as PyBullet reports it, and the goal."""
        velocity = self.jacobian[:3] @ self.joint_velocities
        return ReachState(
            self.joint_positions,
            self.joint_velocities,
            self.ee_position,
            velocity,
            goal,
            self.ee_rotation,
            goal_rotation,
        )


@dataclass(frozen=True)
class CartesianAction:
    """panda-gym end-effector action (×0.05 m is the displacement per control period), and optionally
    an angular one (×0.05 rad about the base axes per period); None leaves the orientation free."""

    action: np.ndarray
    angular: np.ndarray | None = None


@dataclass(frozen=True)
class JointTargets:
    """Absolute position targets for ``panda_joint1..7``."""

    positions: np.ndarray


Command = CartesianAction | JointTargets


class ReachController(Protocol):
    """The interface every reach controller (classical or learned) implements."""

    name: str
    commands_joints: bool
    """Whether its commands (and so its hold) go to the joint interface rather than the Cartesian one."""
    reaches_orientation: bool
    """Whether it turns the grasp target to ``ReachState.goal_rotation`` (else it reaches positions only)."""

    def set_goal(self, goal: np.ndarray, state: ReachState) -> None:
        """Called when a new goal is accepted, with the state at that moment."""

    def compute(self, state: ReachState) -> Command:
        """The command for this control step."""


class CartesianPController:
    """Proportional Cartesian step toward the goal, clipped to the action limit.

    With gain 1 the step is exactly the remaining displacement whenever it fits in one action,
    which is the analytic optimum of panda-gym's end-effector task.
    """

    name = "cartesian_p"
    commands_joints = False
    reaches_orientation = True

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain

    def set_goal(self, goal: np.ndarray, state: ReachState) -> None:
        """Stateless: nothing to prepare."""

    def compute(self, state: ReachState) -> CartesianAction:
        action = self.gain * (state.goal - state.ee_position) / EE_STEP_PER_ACTION
        angular = None
        if state.goal_rotation is not None:
            angular = np.clip(
                self.gain * rotation_error(state.ee_rotation, state.goal_rotation) / ROTATION_STEP_PER_ACTION, -1.0, 1.0
            )
        return CartesianAction(np.clip(action, -1.0, 1.0), angular)


class NumericalIKController:
    """Numerical IK (DLS, from the current posture) for a Cartesian waypoint, approached in joint space.

    Each step the waypoint moves at most ``max_cartesian_step`` (panda-gym's 5 cm) along the straight
    line to the goal (and turns at most ``max_rotation_step`` toward a goal orientation), and the joint
    targets at most ``max_joint_step`` toward its IK solution. The straight line keeps the end effector
    inside any convex workspace that holds both ends (a joint space interpolation to one far solution
    can dip through the table); at the goal the waypoint is the goal itself, so the precision is the
    IK solver's.
    """

    name = "ik"
    commands_joints = True
    reaches_orientation = True

    def __init__(
        self,
        kinematics: PandaKinematics,
        max_joint_step: float = 0.08,
        max_cartesian_step: float = EE_STEP_PER_ACTION,
        max_rotation_step: float = 2 * ROTATION_STEP_PER_ACTION,
    ) -> None:
        self.kinematics = kinematics
        self.max_joint_step = max_joint_step
        self.max_cartesian_step = max_cartesian_step
        self.max_rotation_step = max_rotation_step

    def set_goal(self, goal: np.ndarray, state: ReachState) -> None:
        """Waypoints are computed each step from the goal: nothing to prepare."""

    def solve(self, target: np.ndarray, q_seed: np.ndarray, rotation: np.ndarray | None = None) -> np.ndarray:
        """Joint positions that put the end effector at ``target`` (with ``rotation``, if given), near ``q_seed``."""
        return self.kinematics.solve_ik(target, q_init=q_seed, restarts=0, goal_rotation=rotation).joint_positions

    def compute(self, state: ReachState) -> JointTargets:
        waypoint = state.ee_position + np.clip(
            state.goal - state.ee_position, -self.max_cartesian_step, self.max_cartesian_step
        )
        waypoint_rotation = None
        if state.goal_rotation is not None:
            turn = rotation_error(state.ee_rotation, state.goal_rotation)
            angle = float(np.linalg.norm(turn))
            if angle > self.max_rotation_step:
                turn *= self.max_rotation_step / angle
            waypoint_rotation = exp_map(turn) @ state.ee_rotation
        step = self.solve(waypoint, state.joint_positions, waypoint_rotation) - state.joint_positions
        largest = float(np.abs(step).max())
        if largest > self.max_joint_step:
            # Scaled as a whole, not clipped per joint: the end effector keeps heading for the waypoint.
            step *= self.max_joint_step / largest
        return JointTargets(state.joint_positions + step)


PANDA_EE_LINK = 11
"""``panda_grasptarget`` in PyBullet's link numbering of ``panda.urdf`` (panda-gym's ``ee_link``)."""

REACH_OBSERVATION_SIZE = 6
"""panda-gym PandaReach ``observation``: end-effector position and velocity (gripper blocked)."""
GOAL_SIZE = 3


class PolicyError(ValueError):
    """A checkpoint that cannot drive this robot: wrong task, sizes or action space."""


WORKSPACE_ENV_PREFIX = "IkrlReach"
"""Environment ids of the workspace policies (``IkrlReach-v0``, ``IkrlReachJoints-v0``)."""


class ActorPolicy(Protocol):
    """What the learned controller needs of a trained actor (``ikrl_ros.rl.checkpoint.Policy`` is one)."""

    env_id: str
    algo: str
    control_type: str
    action_map: str
    action_scale: float
    obs_dim: int
    goal_dim: int
    act_dim: int

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray: ...


class LearnedPolicyController:
    """A trained DDPG/TD3/SAC actor behind the controller interface.

    ``reaches_orientation`` is set per policy (pose policies only).

    The checkpoint's own metadata decides everything: its environment says which observation to
    build (panda-gym's PandaReach*-v3 in its world frame, or the workspace tasks' IkrlReach*-v0 in
    ``panda_link0``), its ``control_type`` whether actions are end-effector displacements
    (3 values, × 0.05 m) or joint displacements (7 values, × 0.05 rad added to the current joint
    angles), and its sizes must match the observation this node builds.
    """

    def __init__(self, policy: ActorPolicy) -> None:
        self.workspace_task = policy.env_id.startswith(WORKSPACE_ENV_PREFIX)
        if not (policy.env_id.startswith("PandaReach") or self.workspace_task):
            raise PolicyError(
                f"policy was trained on {policy.env_id}; only PandaReach and IkrlReach variants drive the reach "
                "controller"
            )
        self.commands_joints = policy.control_type == "joints"
        """Joint-space policy: actions move the joints, not the end effector."""
        self.reaches_orientation = policy.control_type == "pose"
        """Pose policy: twist actions toward a position and an orientation."""
        if self.workspace_task:
            expected_obs, expected_goal, expected_actions = {"ee": (3, 3, 3), "joints": (7, 3, 7), "pose": (9, 9, 6)}[
                policy.control_type
            ]
        else:
            expected_obs, expected_goal, expected_actions = (
                REACH_OBSERVATION_SIZE,
                GOAL_SIZE,
                7 if self.commands_joints else 3,
            )
        if policy.obs_dim != expected_obs or policy.goal_dim != expected_goal:
            raise PolicyError(
                f"policy expects observation {policy.obs_dim} + goal {policy.goal_dim} values; for {policy.env_id} the "
                f"reach controller builds {expected_obs} + {expected_goal}"
            )
        if policy.act_dim != expected_actions:
            raise PolicyError(
                f"policy for {policy.env_id} outputs {policy.act_dim} actions, expected {expected_actions}"
            )
        self.policy = policy
        self.name = policy.algo

    def set_goal(self, goal: np.ndarray, state: ReachState) -> None:
        """The policy is goal-conditioned: nothing to prepare."""

    def compute(self, state: ReachState) -> Command:
        if self.workspace_task:
            observation = state.workspace_observation(self.policy.control_type)
        else:
            observation = state.gym_observation()
        fraction = action_to_displacement_fraction(
            self.policy.act(observation) / self.policy.action_scale, self.policy.action_map
        )
        if self.commands_joints:
            return JointTargets(state.joint_positions + JOINT_STEP_PER_ACTION * fraction)
        if self.reaches_orientation:
            return CartesianAction(fraction[:3], fraction[3:])
        return CartesianAction(fraction)


class HybridController:
    """Learned control far from the goal, a classical controller within ``switch_radius``.

    The policy was trained to get within panda-gym's 5 cm; the classical step then takes the last
    centimetres with the precision of IK.
    """

    def __init__(self, far: ReachController, near: ReachController, switch_radius: float) -> None:
        self.far, self.near, self.switch_radius = far, near, switch_radius
        self.name = f"hybrid({far.name}+{near.name})"
        # A mixed pair still sends Cartesian commands far from the goal, so it holds on the Cartesian interface.
        self.commands_joints = far.commands_joints and near.commands_joints
        # The classical half finishes the orientation even after a position-only policy.
        self.reaches_orientation = near.reaches_orientation

    def set_goal(self, goal: np.ndarray, state: ReachState) -> None:
        self.far.set_goal(goal, state)
        self.near.set_goal(goal, state)

    def compute(self, state: ReachState) -> Command:
        close = np.linalg.norm(state.goal - state.ee_position) <= self.switch_radius
        return (self.near if close else self.far).compute(state)


class PyBulletIKController(NumericalIKController):
    """PyBullet's own ``calculateInverseKinematics`` (position only) in place of the DLS solver.

    A separate, kinematics-only PyBullet instance holds the same URDF with its base at
    ``panda_link0``; waypoints and joint steps work exactly as for ``ik``.
    """

    name = "pybullet_ik"

    def __init__(self, kinematics: PandaKinematics, max_joint_step: float = 0.08, iterations: int = 100) -> None:
        super().__init__(kinematics, max_joint_step)
        import pybullet

        from ikrl_ros.core.kinematics import PANDA_URDF

        self._pybullet = pybullet
        self._client = pybullet.connect(pybullet.DIRECT)
        self._body = pybullet.loadURDF(PANDA_URDF, useFixedBase=True, physicsClientId=self._client)
        self._iterations = iterations

    def solve(self, target: np.ndarray, q_seed: np.ndarray, rotation: np.ndarray | None = None) -> np.ndarray:
        for joint, angle in enumerate(q_seed):
            self._pybullet.resetJointState(self._body, joint, float(angle), physicsClientId=self._client)
        # Seeded with the current posture, like our DLS solver, but without its posture term:
        # PyBullet's null-space options trade away accuracy (0.3 mm median here).
        orientation = {} if rotation is None else {"targetOrientation": matrix_to_quaternion(rotation).tolist()}
        solution = self._pybullet.calculateInverseKinematics(
            self._body,
            PANDA_EE_LINK,
            target.tolist(),
            maxNumIterations=self._iterations,
            residualThreshold=1e-6,
            physicsClientId=self._client,
            **orientation,
        )
        return self.kinematics.clamp_to_limits(np.array(solution[:7]))
