"""One path from a command to joint motion: the bridge, the controller's joint output and the training
environments all execute commands here, so a policy is trained exactly as it is deployed.

A command is a twist (SI units, base frame) or absolute joint targets. ``MotionExecutor.execute`` turns it
into the joint targets of one control period under the limits: a twist is limited in speed and by the
safety box, executed by the damped-least-squares step (posture term, active joint limits), and then
checked like joint targets (position limits, step size, safety box). A missing or zero command holds the
joints where they were when holding began, so repeated holds do not creep with the measured positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.safety import (
    CartesianLimits,
    Intervention,
    JointLimits,
    cartesian_joint_targets,
    limit_angular,
    limit_cartesian,
    limit_joint_targets,
)


@dataclass(frozen=True)
class Twist:
    """End-effector velocity in the base frame: linear (m/s) and angular (rad/s); ``angular`` None leaves the
    orientation free (position-only control)."""

    linear: np.ndarray
    angular: np.ndarray | None = None

    def is_zero(self) -> bool:
        return not np.any(self.linear != 0.0) and (self.angular is None or not np.any(self.angular != 0.0))

    def is_finite(self) -> bool:
        return bool(np.all(np.isfinite(self.linear)) and (self.angular is None or np.all(np.isfinite(self.angular))))


@dataclass(frozen=True)
class JointTargets:
    """Absolute position targets of the arm's joints (``Arm.joint_names`` order)."""

    positions: np.ndarray

    def is_finite(self) -> bool:
        return bool(np.all(np.isfinite(self.positions)))


Command = Twist | JointTargets


@dataclass(frozen=True)
class Execution:
    """The joint targets of one period, what limited them, and whether they are a hold."""

    targets: np.ndarray
    interventions: tuple[Intervention, ...]
    holding: bool


class MotionExecutor:
    """Commands → joint targets under one set of limits; holds latch until the next motion command."""

    def __init__(
        self, kinematics: ArmKinematics, cartesian: CartesianLimits, joints: JointLimits, period: float
    ) -> None:
        self.kinematics, self.cartesian, self.joints, self.period = kinematics, cartesian, joints, period
        self.hold_positions: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the latched hold (the arm was moved by something else: a reset, a new episode)."""
        self.hold_positions = None

    def limit_twist(self, ee_position: np.ndarray, twist: Twist) -> tuple[Twist, list[Intervention]]:
        """The twist within the speed limits and with its one-period target inside the safety box."""
        linear, notes = limit_cartesian(twist.linear, ee_position, self.period, self.cartesian)
        angular = twist.angular
        if angular is not None:
            angular, angular_notes = limit_angular(angular, self.cartesian)
            notes += angular_notes
        return (twist if not notes else Twist(linear, angular)), notes

    def hold(self, q: np.ndarray) -> Execution:
        """Hold where the arm was when holding began."""
        if self.hold_positions is None:
            self.hold_positions = np.array(q, dtype=float)
        return Execution(self.hold_positions, (), True)

    def execute(self, q: np.ndarray, command: Command | None) -> Execution:
        """The joint targets that carry out ``command`` from the measured joints ``q`` for one period."""
        if isinstance(command, JointTargets):
            targets, notes = limit_joint_targets(command.positions, q, self.joints, self.kinematics, self.cartesian)
            self.hold_positions = None
            return Execution(targets, tuple(notes), False)
        if command is None or command.is_zero():
            return self.hold(q)
        twist, notes = self.limit_twist(self.kinematics.ee_position(q), command)
        execution = self.execute_limited(q, twist)
        return Execution(execution.targets, tuple(notes) + execution.interventions, execution.holding)

    def execute_limited(self, q: np.ndarray, twist: Twist) -> Execution:
        """``execute`` for a twist already within ``limit_twist`` (the reach loop guards it in between); a twist the
        limits made zero holds."""
        if twist.is_zero():
            return self.hold(q)
        targets, notes = cartesian_joint_targets(
            twist.linear, q, self.period, self.kinematics, self.joints, self.cartesian, twist.angular
        )
        self.hold_positions = None
        return Execution(targets, tuple(notes), False)
