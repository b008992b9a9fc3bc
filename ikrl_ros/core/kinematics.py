"""Pinocchio kinematics of an arm's tip frame, and a damped-least-squares IK solver.

The model is built from the URDF the simulator loads, reduced to the arm's controlled joints (locked
joints such as fingers do not move the tip). Positions and Jacobians are in the arm's base frame;
joint vectors are angles in ``Arm.joint_names`` order (a continuous joint's angle becomes Pinocchio's
(cos, sin) pair inside this module only).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pinocchio as pin

from ikrl_ros.core.robot import Arm, RobotDescriptionError
from ikrl_ros.core.rotations import angle_between, exp_map, rotation_error


@dataclass(frozen=True)
class IKResult:
    """Outcome of one IK solve: the remaining end-effector distance (m) and, for pose goals, angle (rad)."""

    joint_positions: np.ndarray
    error: float
    iterations: int
    converged: bool
    angle_error: float = 0.0


ORIENTATION_TOLERANCE = 1e-4
"""rad: pose goals count as solved when the grasp target's orientation is this close (and the position)."""
ORIENTATION_DAMPING = 5e-3
"""Damping of the orientation task, whose null-space-projected Jacobian is often nearly singular."""
POSTURE_GAIN = 0.05
"""Each solver iteration (and each Cartesian step) pulls the redundancy this fraction of the way to neutral."""
MAX_ITERATION_STEP = 0.3
"""rad: a solver iteration moves no joint further (the whole step is scaled down), so a nearly
singular orientation task cannot throw the posture across the joint space."""
CHAIN_HASH_SCALES = (0.0, 0.3, 0.7, 1.1)
"""rad: the joint angles (alternating in sign along the chain) at which ``identity`` samples the tip's pose."""


class ArmKinematics:
    """Forward kinematics, Jacobians and numerical IK of the arm's tip frame over its controlled joints."""

    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        try:
            full_model = pin.buildModelFromUrdf(arm.urdf)
        except (RuntimeError, ValueError) as error:
            raise RobotDescriptionError(f"robot '{arm.name}': cannot parse URDF {arm.urdf}: {error}") from None
        names = list(full_model.names)
        missing = [name for name in (*arm.joint_names, *arm.locked_joints) if name not in names]
        if missing:
            raise RobotDescriptionError(f"robot '{arm.name}': joints {missing} are not in {arm.urdf}")
        kept = set(arm.joint_names)
        locked_ids = [j for j in range(1, full_model.njoints) if names[j] not in kept]
        reference = pin.neutral(full_model)
        for name, value in arm.locked_joints.items():
            joint = full_model.joints[full_model.getJointId(name)]
            if joint.nq == 1:
                reference[joint.idx_q] = value
            else:  # a continuous joint: (cos, sin) of its angle
                reference[joint.idx_q : joint.idx_q + 2] = np.cos(value), np.sin(value)
        self.model = pin.buildReducedModel(full_model, locked_ids, reference)
        self.data = self.model.createData()
        model_joints = [self.model.names[j] for j in range(1, self.model.njoints)]
        if model_joints != list(arm.joint_names):
            raise RobotDescriptionError(
                f"robot '{arm.name}': joints must be listed base to tip as the URDF chains them: {model_joints}"
            )
        for frame in (arm.base_frame, arm.tip_frame):
            if not self.model.existFrame(frame):
                raise RobotDescriptionError(f"robot '{arm.name}': frame '{frame}' is not in {arm.urdf}")
        self.frame_id = self.model.getFrameId(arm.tip_frame)
        base_id = self.model.getFrameId(arm.base_frame)
        if self.model.frames[base_id].parentJoint != 0:
            raise RobotDescriptionError(f"robot '{arm.name}': base frame '{arm.base_frame}' moves with the joints")
        self.dof = self.model.nv
        continuous = [j for j in range(1, self.model.njoints) if self.model.joints[j].nq == 2]
        self.continuous = np.zeros(self.dof, bool)
        self.continuous[[self.model.joints[j].idx_v for j in continuous]] = True
        lower = np.full(self.dof, -np.inf)
        upper = np.full(self.dof, np.inf)
        for j in range(1, self.model.njoints):
            joint = self.model.joints[j]
            if joint.nq == 1:
                lower[joint.idx_v] = self.model.lowerPositionLimit[joint.idx_q]
                upper[joint.idx_v] = self.model.upperPositionLimit[joint.idx_q]
        self.lower_limits, self.upper_limits = lower, upper
        self.datasheet_lower, self.datasheet_upper = lower, upper
        if arm.position_limits is not None:
            # A description's limits (a datasheet's) only tighten the URDF's; the limited execution keeps to them.
            self.datasheet_lower = np.maximum(lower, arm.position_limits[0])
            self.datasheet_upper = np.minimum(upper, arm.position_limits[1])
        self.neutral = arm.neutral
        pin.framesForwardKinematics(self.model, self.data, pin.neutral(self.model))
        base = self.data.oMf[base_id]
        # The base frame is fixed in Pinocchio's world; at the URDF root (the usual case) nothing is transformed.
        self.base_inverse = None if base.isIdentity() else base.inverse()

    def identity(self) -> dict[str, object]:
        """What a policy trained on this arm records: names, frames and a hash of the kinematic chain.

        The hash is taken over tip poses at fixed joint angles, rounded to 1e-6: the same chain from another copy
        of the URDF (other meshes, comments, limits) hashes alike, a different geometry does not.
        """
        poses = []
        for scale in CHAIN_HASH_SCALES:
            signs = np.where(np.arange(self.dof) % 2 == 0, 1.0, -1.0)
            position, rotation = self.ee_pose(scale * signs)
            poses.append(np.concatenate([position, rotation.ravel()]))
        rounded = np.round(np.concatenate(poses), 6) + 0.0  # + 0.0: no negative zeros
        digest = hashlib.sha256(rounded.tobytes() + ",".join(self.arm.joint_names).encode()).hexdigest()[:16]
        return {
            "name": self.arm.name,
            "joint_names": list(self.arm.joint_names),
            "base_frame": self.arm.base_frame,
            "tip_frame": self.arm.tip_frame,
            "chain_hash": digest,
        }

    def _configuration(self, q: np.ndarray) -> np.ndarray:
        """Pinocchio's configuration of joint angles ``q`` (continuous joints as (cos, sin))."""
        if not self.continuous.any():
            return q
        config = []
        for j in range(1, self.model.njoints):
            angle = q[self.model.joints[j].idx_v]
            config.extend([np.cos(angle), np.sin(angle)] if self.model.joints[j].nq == 2 else [angle])
        return np.array(config)

    def sampling_range(self, margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Joint limits shrunk by ``margin``, with a continuous joint's range taken as one turn (to draw postures)."""
        lower, upper = self.limits_with_margin(margin)
        return np.where(self.continuous, -np.pi, lower), np.where(self.continuous, np.pi, upper)

    def toward_neutral(self, q: np.ndarray) -> np.ndarray:
        """The joint motion to the neutral posture; a continuous joint takes the shorter way round."""
        offset = self.neutral - q
        if self.continuous.any():
            offset = np.where(self.continuous, (offset + np.pi) % (2 * np.pi) - np.pi, offset)
        return offset

    def ee_position(self, q: np.ndarray) -> np.ndarray:
        """Tip position in the base frame."""
        return self.ee_pose(q)[0]

    def ee_pose(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tip position and rotation matrix in the base frame."""
        pin.framesForwardKinematics(self.model, self.data, self._configuration(q))
        return self._in_base(self.data.oMf[self.frame_id])

    def _in_base(self, placement: pin.SE3) -> tuple[np.ndarray, np.ndarray]:
        if self.base_inverse is not None:
            placement = self.base_inverse * placement
        return placement.translation.copy(), placement.rotation.copy()

    def jacobian(self, q: np.ndarray) -> np.ndarray:
        """3×n linear Jacobian of the tip, expressed in the base frame."""
        return self.full_jacobian(q)[:3]

    def full_jacobian(self, q: np.ndarray) -> np.ndarray:
        """6×n Jacobian [linear; angular] of the tip in the base frame's axes (MoveIt Servo's)."""
        jac = pin.computeFrameJacobian(
            self.model, self.data, self._configuration(q), self.frame_id, pin.LOCAL_WORLD_ALIGNED
        )
        if self.base_inverse is not None:
            rotation = self.base_inverse.rotation
            jac = np.vstack([rotation @ jac[:3], rotation @ jac[3:]])
        return jac

    def ee_position_and_jacobian(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both at the cost of one kinematics pass (``computeFrameJacobian`` updates the placements)."""
        position, _, jac = self.ee_pose_and_jacobian(q)
        return position, jac[:3]

    def ee_pose_and_jacobian(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Position, rotation and the 6×n Jacobian from one kinematics pass."""
        jac = self.full_jacobian(q)
        return (*self._in_base(self.data.oMf[self.frame_id]), jac)

    def ee_velocity(self, q: np.ndarray, dq: np.ndarray) -> np.ndarray:
        """End-effector linear velocity J(q)·q̇, as PyBullet reports the link velocity."""
        return self.jacobian(q) @ dq

    def limits_with_margin(self, margin: float) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper joint limits shrunk by ``margin`` radians (the safety limits)."""
        return self.lower_limits + margin, self.upper_limits - margin

    def datasheet_limits_with_margin(self, margin: float) -> tuple[np.ndarray, np.ndarray]:
        """The description's (datasheet) position limits, within the URDF's, shrunk by ``margin``: the limited
        execution's and the strict arm's."""
        return self.datasheet_lower + margin, self.datasheet_upper - margin

    def clamp_to_limits(self, q: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Joint positions clipped into the URDF limits shrunk by ``margin`` radians."""
        return np.clip(q, *self.limits_with_margin(margin))

    def solve_ik(
        self,
        goal: np.ndarray,
        q_init: np.ndarray | None = None,
        tolerance: float = 1e-5,
        restarts: int = 10,
        seed: int = 0,
        goal_rotation: np.ndarray | None = None,
        **options: float,
    ) -> IKResult:
        """IK from ``q_init`` (neutral by default), retried from random postures if it stalls.

        With ``goal_rotation`` the orientation is solved too, as a secondary task: a pose whose
        orientation the arm cannot take at that position still gets the position exactly.
        Damped least squares can stall against a joint limit; a few deterministic restarts
        recover almost every reachable goal. The best attempt is returned either way.
        """
        best = self._solve_from(goal, q_init, tolerance, goal_rotation=goal_rotation, **options)
        rng = np.random.default_rng(seed)
        for _ in range(restarts):
            if best.converged:
                break
            attempt = self._solve_from(
                goal,
                rng.uniform(*self.sampling_range()),
                tolerance,
                goal_rotation=goal_rotation,
                **options,
            )
            if (attempt.error, attempt.angle_error) < (best.error, best.angle_error):
                best = attempt
        return best

    def _solve_from(
        self,
        goal: np.ndarray,
        q_init: np.ndarray | None,
        tolerance: float,
        max_iterations: int = 200,
        damping: float = 1e-3,
        limit_margin: float = 1e-3,
        posture_gain: float = POSTURE_GAIN,
        goal_rotation: np.ndarray | None = None,
    ) -> IKResult:
        """Damped least squares, joint limits enforced at every iteration.

        Position first; the orientation (if any) in the position task's null space; the remaining
        redundancy pulled gently toward the neutral posture, which keeps solutions away from joint
        limits and close to where panda-gym starts, so consecutive goals give consecutive postures.
        """
        q = self.clamp_to_limits(
            self.neutral.copy() if q_init is None else np.asarray(q_init, dtype=float), limit_margin
        )
        lower, upper = self.limits_with_margin(limit_margin)
        error = angle_error = np.inf
        for iteration in range(1, max_iterations + 1):
            position, rotation, jac = self.ee_pose_and_jacobian(q)
            residual = goal - position
            error = float(np.linalg.norm(residual))
            rotation_residual = None if goal_rotation is None else rotation_error(rotation, goal_rotation)
            angle_error = 0.0 if rotation_residual is None else float(np.linalg.norm(rotation_residual))
            if error < tolerance and angle_error < ORIENTATION_TOLERANCE:
                return IKResult(q, error, iteration - 1, True, angle_error)
            posture = posture_gain * self.toward_neutral(q)
            step = _limited_step(q, jac, residual, rotation_residual, damping, posture, lower, upper)
            q = np.clip(q + step, lower, upper)
        position, rotation = self.ee_pose(q)
        error = float(np.linalg.norm(goal - position))
        angle_error = 0.0 if goal_rotation is None else angle_between(rotation, goal_rotation)
        return IKResult(
            q, error, max_iterations, error < tolerance and angle_error < ORIENTATION_TOLERANCE, angle_error
        )

    def cartesian_step(
        self,
        q: np.ndarray,
        displacement: np.ndarray,
        rotation: np.ndarray | None = None,
        iterations: int = 10,
        posture_gain: float = POSTURE_GAIN,
    ) -> np.ndarray:
        """Joint targets that move the end effector by ``displacement`` (and turn it by the rotation
        vector ``rotation``, in the base frame) from posture ``q``.

        How the bridge executes a Cartesian command (and the training environment simulates it): a
        few damped-least-squares iterations seeded with the current joints, with the posture term
        and joint limits. panda-gym's per-step PyBullet IK lacks the posture term, so over many
        consecutive goals the redundant arm drifts into postures it cannot leave; this step keeps
        pulling the spare degrees of freedom back toward the neutral posture instead. Without a
        rotation the orientation is free (position-only commands, as panda-gym's).
        """
        position, current_rotation = self.ee_pose(q)
        target = position + np.asarray(displacement, dtype=float)
        goal_rotation = None if rotation is None else exp_map(rotation) @ current_rotation
        # The posture pull once per period (5 % of the way to neutral in the null space); repeated in
        # every iteration its second-order effect on the end effector keeps the solve from converging.
        pulled = self._solve_from(
            target, q, tolerance=0.0, max_iterations=1, goal_rotation=goal_rotation, posture_gain=posture_gain
        ).joint_positions
        return self._solve_from(
            target, pulled, tolerance=1e-6, max_iterations=iterations, posture_gain=0.0, goal_rotation=goal_rotation
        ).joint_positions

    def joint_origins(self, q: np.ndarray) -> np.ndarray:
        """Positions (n×3, base frame) of the arm joints' frames: where the links are."""
        pin.forwardKinematics(self.model, self.data, self._configuration(q))
        return np.array([self._in_base(self.data.oMi[j])[0] for j in range(1, self.model.njoints)])

    def condition_number(self, q: np.ndarray) -> float:
        """Condition number of the 6×n Jacobian, as MoveIt Servo computes it (its thresholds 17 and 30 are for this
        one, not for the 3×n linear Jacobian's): large near singular postures."""
        singular_values = np.linalg.svd(self.full_jacobian(q), compute_uv=False)
        return float(singular_values[0] / max(singular_values[-1], 1e-12))


def _damped_pseudo_inverse(jac: np.ndarray, damping: float) -> np.ndarray:
    return jac.T @ np.linalg.inv(jac @ jac.T + (damping**2) * np.eye(len(jac)))


def _limited_step(
    q: np.ndarray,
    jac: np.ndarray,
    residual: np.ndarray,
    rotation_residual: np.ndarray | None,
    damping: float,
    posture: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
) -> np.ndarray:
    """One prioritised DLS step: position, then orientation (if any) in its null space, then posture;
    joints that would cross a limit are taken out and the step solved again (active set).

    Clamping after the step would lose the clamped joint's share of the motion, stall the solve and
    move the end effector off the commanded line; locking the joint and solving again with the others
    keeps the motion on the line while any free joint can provide it.
    """
    dof = len(q)
    free = np.ones(dof)
    step = np.zeros(dof)
    for _ in range(dof):
        position_jac = jac[:3] * free
        position_inverse = _damped_pseudo_inverse(position_jac, damping)
        step = position_inverse @ residual
        null_space = np.eye(dof) - position_inverse @ position_jac
        if rotation_residual is not None:
            projected = (jac[3:] * free) @ null_space
            projected_inverse = _damped_pseudo_inverse(projected, ORIENTATION_DAMPING)
            step = step + null_space @ (projected_inverse @ (rotation_residual - (jac[3:] * free) @ step))
            null_space = null_space - projected_inverse @ projected
        step = step + null_space @ (free * posture)
        largest = np.abs(step).max()
        if largest > MAX_ITERATION_STEP:
            step = step * (MAX_ITERATION_STEP / largest)
        crossing = free.astype(bool) & (((q + step < lower) & (step < 0)) | ((q + step > upper) & (step > 0)))
        if not crossing.any():
            break
        free[crossing] = 0.0
    return step * free
