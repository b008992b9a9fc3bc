"""Reach controllers behind one interface: the controller's view of the arm in, an SI command out, no ROS.

A controller answers each control step with a ``Twist`` (m/s and rad/s in the base frame), ``JointVelocities``
or absolute ``JointTargets``; the learned policies implement the same interface through their ``PolicySpec``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ikrl_ros.core.control import (
    ANGULAR_BRAKING_DECELERATION,
    BRAKING_DECELERATION,
    CONTROL_PERIOD,
    EE_STEP_PER_ACTION,
    MAX_ANGULAR_SPEED,
    MAX_CARTESIAN_SPEED,
    ROTATION_STEP_PER_ACTION,
    braked,
)
from ikrl_ros.core.execution import Command, JointTargets, Twist
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.policy_spec import PolicySpec, check_policy_arm, policy_spec
from ikrl_ros.core.rotations import exp_map, matrix_to_quaternion, rotation_error


@dataclass(frozen=True)
class ReachState:
    """What a controller sees each step; positions and rotations in the base frame."""

    joint_positions: np.ndarray
    joint_velocities: np.ndarray
    ee_position: np.ndarray
    ee_velocity: np.ndarray
    goal: np.ndarray
    ee_rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    goal_rotation: np.ndarray | None = None
    """Desired orientation of the tip; None = position only."""
    ee_angular_velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))


@dataclass(frozen=True)
class ArmObservation:
    """What one joint state tells about the arm: joints, and the end effector's position and Jacobian."""

    joint_positions: np.ndarray
    joint_velocities: np.ndarray
    ee_position: np.ndarray
    jacobian: np.ndarray
    """6×n Jacobian [linear; angular] in the base frame (the singularity guard needs all of it)."""
    ee_rotation: np.ndarray

    @classmethod
    def from_joints(cls, kinematics: ArmKinematics, q: np.ndarray, dq: np.ndarray) -> ArmObservation:
        position, rotation, jacobian = kinematics.ee_pose_and_jacobian(q)
        return cls(q, dq, position, jacobian, rotation)

    def reach_state(self, goal: np.ndarray, goal_rotation: np.ndarray | None = None) -> ReachState:
        """The controller's view: end-effector twist J·q̇ (its linear part as PyBullet reports it), and the goal."""
        twist = self.jacobian @ self.joint_velocities
        return ReachState(
            self.joint_positions,
            self.joint_velocities,
            self.ee_position,
            twist[:3],
            goal,
            self.ee_rotation,
            goal_rotation,
            twist[3:],
        )


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
    """Proportional Cartesian velocity toward the goal, clipped per axis to the interface's speed, or with
    ``braking`` limited in norm and braked to what an acceleration-limited arm can stop from (``braked``).

    With gain 1 the velocity covers exactly the remaining displacement in one control period whenever
    that is within the speed (and braking) limits, which is the analytic optimum of panda-gym's end-effector task.
    """

    name = "cartesian_p"
    commands_joints = False
    reaches_orientation = True

    def __init__(
        self,
        gain: float = 1.0,
        period: float = CONTROL_PERIOD,
        max_speed: float = MAX_CARTESIAN_SPEED,
        max_angular_speed: float = MAX_ANGULAR_SPEED,
        braking: bool = False,
    ) -> None:
        self.gain, self.period, self.max_speed, self.max_angular_speed = gain, period, max_speed, max_angular_speed
        self.braking = braking

    def set_goal(self, goal: np.ndarray, state: ReachState) -> None:
        """Stateless: nothing to prepare."""

    def compute(self, state: ReachState) -> Twist:
        turn = None if state.goal_rotation is None else rotation_error(state.ee_rotation, state.goal_rotation)
        if self.braking:
            linear = braked(
                state.goal - state.ee_position, self.gain, self.period, self.max_speed, BRAKING_DECELERATION
            )
            angular = None
            if turn is not None:
                angular = braked(turn, self.gain, self.period, self.max_angular_speed, ANGULAR_BRAKING_DECELERATION)
            return Twist(linear, angular)
        linear = np.clip(self.gain * (state.goal - state.ee_position) / self.period, -self.max_speed, self.max_speed)
        angular = None
        if turn is not None:
            angular = np.clip(self.gain * turn / self.period, -self.max_angular_speed, self.max_angular_speed)
        return Twist(linear, angular)


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
        kinematics: ArmKinematics,
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
    arm: dict | None
    """The arm it was trained for (``ArmKinematics.identity``); None: the Panda, before checkpoints recorded it."""

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray: ...


class LearnedPolicyController:
    """A trained DDPG/TD3/SAC actor behind the controller interface.

    The checkpoint's own metadata decides everything through its ``PolicySpec``: which observation to build
    (panda-gym's PandaReach*-v3 in its world frame, or the workspace tasks' IkrlReach*-v0 in the base frame),
    what its actions command (a twist, a twist with an angular part, or joint targets), and the sizes the
    checkpoint must have.
    """

    def __init__(self, policy: ActorPolicy, kinematics: ArmKinematics) -> None:
        check_policy_arm(policy.arm, kinematics.identity())
        arm = kinematics.arm
        self.spec: PolicySpec = policy_spec(
            policy.env_id, policy.control_type, policy.action_map, arm.dof, arm.base_position_in_world
        )
        self.spec.check(policy.env_id, policy.obs_dim, policy.goal_dim, policy.act_dim)
        self.commands_joints = self.spec.commands_joints
        self.reaches_orientation = self.spec.reaches_orientation
        self.policy = policy
        self.name = policy.algo

    def set_goal(self, goal: np.ndarray, state: ReachState) -> None:
        """The policy is goal-conditioned: nothing to prepare."""

    def compute(self, state: ReachState) -> Command:
        # A pose policy given a position-only goal keeps the current orientation.
        rotation = state.ee_rotation if state.goal_rotation is None else state.goal_rotation
        observation = self.spec.observe(
            state.joint_positions,
            state.ee_position,
            state.ee_rotation,
            state.ee_velocity,
            self.spec.goal(state.goal, rotation),
            state.joint_velocities,
            state.ee_angular_velocity,
        )
        return self.spec.command(self.policy.act(observation) / self.policy.action_scale, state.joint_positions)


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
    """PyBullet's own ``calculateInverseKinematics`` in place of the DLS solver.

    A separate, kinematics-only PyBullet instance holds the arm's URDF with its base at the base frame;
    waypoints and joint steps work exactly as for ``ik``.
    """

    name = "pybullet_ik"

    def __init__(self, kinematics: ArmKinematics, max_joint_step: float = 0.08, iterations: int = 100) -> None:
        super().__init__(kinematics, max_joint_step)
        import pybullet

        arm = kinematics.arm
        if kinematics.base_inverse is not None:
            raise ValueError(f"pybullet_ik needs the base frame at the URDF's root; '{arm.base_frame}' is not")
        self._pybullet = pybullet
        self._client = pybullet.connect(pybullet.DIRECT)
        self._body = pybullet.loadURDF(arm.urdf, useFixedBase=True, physicsClientId=self._client)
        joints = [
            pybullet.getJointInfo(self._body, j, physicsClientId=self._client)
            for j in range(pybullet.getNumJoints(self._body, physicsClientId=self._client))
        ]
        by_name = {info[1].decode(): info[0] for info in joints}
        self._joint_ids = [by_name[name] for name in arm.joint_names]
        self._tip_link = next(info[0] for info in joints if info[12].decode() == arm.tip_frame)
        # calculateInverseKinematics answers for every movable joint, in joint-index order.
        movable = [info[1].decode() for info in joints if info[2] != pybullet.JOINT_FIXED]
        self._solution_index = [movable.index(name) for name in arm.joint_names]
        self._iterations = iterations

    def solve(self, target: np.ndarray, q_seed: np.ndarray, rotation: np.ndarray | None = None) -> np.ndarray:
        for joint, angle in zip(self._joint_ids, q_seed, strict=True):
            self._pybullet.resetJointState(self._body, joint, float(angle), physicsClientId=self._client)
        # Seeded with the current posture, like our DLS solver, but without its posture term:
        # PyBullet's null-space options trade away accuracy (0.3 mm median here).
        orientation = {} if rotation is None else {"targetOrientation": matrix_to_quaternion(rotation).tolist()}
        solution = self._pybullet.calculateInverseKinematics(
            self._body,
            self._tip_link,
            target.tolist(),
            maxNumIterations=self._iterations,
            residualThreshold=1e-6,
            physicsClientId=self._client,
            **orientation,
        )
        return self.kinematics.clamp_to_limits(np.array(solution)[self._solution_index])
