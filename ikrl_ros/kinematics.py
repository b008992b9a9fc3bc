"""Pinocchio kinematics of the Panda's end effector, and a damped-least-squares IK solver.

The model is built from the very URDF PyBullet simulates (``pybullet_data/franka_panda/panda.urdf``),
reduced to the seven arm joints: the fingers do not move ``panda_grasptarget``. All positions are in
``panda_link0``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pinocchio as pin
import pybullet_data

from ikrl_ros.panda_model import EE_FRAME, FINGER_JOINT_NAMES, NEUTRAL_JOINT_POSITIONS

PANDA_URDF = os.path.join(pybullet_data.getDataPath(), "franka_panda", "panda.urdf")


@dataclass(frozen=True)
class IKResult:
    """Outcome of one IK solve; ``error`` is the remaining end-effector distance in metres."""

    joint_positions: np.ndarray
    error: float
    iterations: int
    converged: bool


class PandaKinematics:
    """Forward kinematics, Jacobian and numerical IK of ``panda_grasptarget`` for the 7 arm joints."""

    def __init__(self, urdf_path: str = PANDA_URDF) -> None:
        full_model = pin.buildModelFromUrdf(urdf_path)
        finger_ids = [full_model.getJointId(name) for name in FINGER_JOINT_NAMES]
        self.model = pin.buildReducedModel(full_model, finger_ids, pin.neutral(full_model))
        self.data = self.model.createData()
        self.frame_id = self.model.getFrameId(EE_FRAME)
        self.lower_limits = self.model.lowerPositionLimit.copy()
        self.upper_limits = self.model.upperPositionLimit.copy()

    def ee_position(self, q: np.ndarray) -> np.ndarray:
        """End-effector position in ``panda_link0``."""
        pin.framesForwardKinematics(self.model, self.data, q)
        return self.data.oMf[self.frame_id].translation.copy()

    def jacobian(self, q: np.ndarray) -> np.ndarray:
        """3×7 linear Jacobian of the end effector, expressed in ``panda_link0``."""
        jac = pin.computeFrameJacobian(self.model, self.data, q, self.frame_id, pin.LOCAL_WORLD_ALIGNED)
        return jac[:3]

    def ee_position_and_jacobian(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both at the cost of one kinematics pass (``computeFrameJacobian`` updates the placements)."""
        jac = pin.computeFrameJacobian(self.model, self.data, q, self.frame_id, pin.LOCAL_WORLD_ALIGNED)
        return self.data.oMf[self.frame_id].translation.copy(), jac[:3]

    def ee_velocity(self, q: np.ndarray, dq: np.ndarray) -> np.ndarray:
        """End-effector linear velocity J(q)·q̇, as PyBullet reports the link velocity."""
        return self.jacobian(q) @ dq

    def limits_with_margin(self, margin: float) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper joint limits shrunk by ``margin`` radians (the safety limits)."""
        return self.lower_limits + margin, self.upper_limits - margin

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
        **options: float,
    ) -> IKResult:
        """IK from ``q_init`` (neutral by default), retried from random postures if it stalls.

        Damped least squares can stall against a joint limit; a few deterministic restarts
        recover almost every reachable goal. The best attempt is returned either way.
        """
        best = self._solve_from(goal, q_init, tolerance, **options)
        rng = np.random.default_rng(seed)
        for _ in range(restarts):
            if best.converged:
                break
            attempt = self._solve_from(goal, rng.uniform(self.lower_limits, self.upper_limits), tolerance, **options)
            if attempt.error < best.error:
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
        posture_gain: float = 0.05,
    ) -> IKResult:
        """Damped least squares on the 3×7 Jacobian, joint limits enforced at every iteration.

        The four redundant degrees of freedom are pulled gently toward the neutral posture
        (null-space term), which keeps solutions away from joint limits and close to where
        panda-gym starts, so consecutive goals give consecutive postures.
        """
        q = self.clamp_to_limits(
            NEUTRAL_JOINT_POSITIONS.copy() if q_init is None else np.asarray(q_init, dtype=float), limit_margin
        )
        lower, upper = self.limits_with_margin(limit_margin)
        error = np.inf
        for iteration in range(1, max_iterations + 1):
            position, jac = self.ee_position_and_jacobian(q)
            residual = goal - position
            error = float(np.linalg.norm(residual))
            if error < tolerance:
                return IKResult(q, error, iteration - 1, True)
            q = np.clip(q + self._limited_step(q, jac, residual, damping, posture_gain, lower, upper), lower, upper)
        error = float(np.linalg.norm(goal - self.ee_position(q)))
        return IKResult(q, error, max_iterations, error < tolerance)

    def cartesian_step(self, q: np.ndarray, displacement: np.ndarray, iterations: int = 10) -> np.ndarray:
        """Joint targets that move the end effector by ``displacement`` from posture ``q``.

        How the bridge executes a Cartesian command (and the training environment simulates it): a
        few damped-least-squares iterations seeded with the current joints, with the posture term
        and joint limits. panda-gym's per-step PyBullet IK lacks the posture term, so over many
        consecutive goals the redundant arm drifts into postures it cannot leave; this step keeps
        pulling the four spare degrees of freedom back toward the neutral posture instead.
        """
        target = self.ee_position(q) + np.asarray(displacement, dtype=float)
        # The posture pull once per period (5 % of the way to neutral in the null space); repeated in
        # every iteration its second-order effect on the end effector keeps the solve from converging.
        pulled = self._solve_from(target, q, tolerance=0.0, max_iterations=1).joint_positions
        return self._solve_from(target, pulled, tolerance=1e-6, max_iterations=iterations, posture_gain=0.0).joint_positions

    def joint_origins(self, q: np.ndarray) -> np.ndarray:
        """Positions (7×3, ``panda_link0``) of the seven arm joints' frames: where the links are."""
        pin.forwardKinematics(self.model, self.data, q)
        return np.array([self.data.oMi[j].translation for j in range(1, self.model.njoints)])

    @staticmethod
    def _limited_step(
        q: np.ndarray, jac: np.ndarray, residual: np.ndarray, damping: float, posture_gain: float, lower: np.ndarray, upper: np.ndarray
    ) -> np.ndarray:
        """One DLS step with the posture term, joints that would cross a limit taken out (active set).

        Clamping after the step would lose the clamped joint's share of the motion, stall the solve
        and move the end effector off the commanded line; locking the joint and solving again with
        the others keeps the motion on the line while any free joint can provide it.
        """
        free = np.ones(7)
        posture = posture_gain * (NEUTRAL_JOINT_POSITIONS - q)
        step = np.zeros(7)
        for _ in range(7):
            locked_jac = jac * free
            pseudo_inverse = locked_jac.T @ np.linalg.inv(locked_jac @ locked_jac.T + (damping**2) * np.eye(3))
            null_space = np.eye(7) - pseudo_inverse @ locked_jac
            step = pseudo_inverse @ residual + null_space @ (free * posture)
            crossing = free.astype(bool) & (((q + step < lower) & (step < 0)) | ((q + step > upper) & (step > 0)))
            if not crossing.any():
                break
            free[crossing] = 0.0
        return step * free

    def condition_number(self, q: np.ndarray) -> float:
        """Condition number of the linear Jacobian: large near singular postures."""
        singular_values = np.linalg.svd(self.jacobian(q), compute_uv=False)
        return float(singular_values[0] / max(singular_values[-1], 1e-12))
