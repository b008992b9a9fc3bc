"""Safety limits applied to every command, in the controller and again in the bridge.

A command that would exceed a limit is changed to the nearest safe one, and the change is reported as
a typed ``Intervention``; it is never executed as sent. Near a singular posture Cartesian motion slows
down and then stops, as MoveIt Servo does, but motion that leaves the singularity is never blocked.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from ikrl_ros.core.control import MAX_ANGULAR_SPEED
from ikrl_ros.core.kinematics import POSTURE_GAIN, ArmKinematics


class InterventionKind(enum.Enum):
    """Which limit changed a command."""

    SPEED = "speed"
    ANGULAR_SPEED = "angular_speed"
    SAFETY_BOX = "safety_box"
    JOINT_BOUND = "joint_bound"
    JOINT_STEP = "joint_step"
    BOX_HOLD = "box_hold"
    CARTESIAN_STEP_SLOWED = "cartesian_step_slowed"
    SINGULARITY = "singularity"


@dataclass(frozen=True)
class Intervention:
    """One change a limit made to a command: its kind, and a sentence for the log."""

    kind: InterventionKind
    text: str


@dataclass(frozen=True)
class CartesianLimits:
    """Per-axis linear and angular speed limits and a box the end-effector target must stay in (base frame)."""

    max_speed: float
    box_min: np.ndarray
    box_max: np.ndarray
    max_angular_speed: float = MAX_ANGULAR_SPEED

    def __post_init__(self) -> None:
        if not self.max_speed > 0:
            raise ValueError(f"maximum Cartesian speed must be positive, got {self.max_speed}")
        if not self.max_angular_speed > 0:
            raise ValueError(f"maximum angular speed must be positive, got {self.max_angular_speed}")
        if np.any(self.box_min >= self.box_max):
            raise ValueError(f"safety box min {self.box_min.tolist()} must be below max {self.box_max.tolist()}")


def limit_cartesian(
    velocity: np.ndarray, ee_position: np.ndarray, period: float, limits: CartesianLimits
) -> tuple[np.ndarray, list[Intervention]]:
    """The velocity clipped to the speed limit and so that ``ee + v·period`` stays in the box.

    From outside the box only motion back toward it remains. The input array is returned
    untouched when no limit applies, so safe commands pass bit for bit.
    """
    notes = []
    limited = np.clip(velocity, -limits.max_speed, limits.max_speed)
    if not np.array_equal(limited, velocity):
        notes.append(
            Intervention(
                InterventionKind.SPEED, f"speed {np.abs(velocity).max():.3g} m/s above {limits.max_speed:g} m/s"
            )
        )
    target = ee_position + limited * period
    inside = np.clip(target, limits.box_min, limits.box_max)
    # Moving back toward the box from outside is always allowed.
    outside_low, outside_high = ee_position < limits.box_min, ee_position > limits.box_max
    inside = np.where(outside_low, np.maximum(target, ee_position), inside)
    inside = np.where(outside_high, np.minimum(target, ee_position), inside)
    if not np.array_equal(inside, target):
        notes.append(
            Intervention(InterventionKind.SAFETY_BOX, f"target {np.round(target, 3).tolist()} leaves the safety box")
        )
        # Only the offending axes change, so the others keep their exact values.
        limited = np.where(inside != target, (inside - ee_position) / period, limited)
    return (velocity if not notes else limited), notes


def limit_angular(angular_velocity: np.ndarray, limits: CartesianLimits) -> tuple[np.ndarray, list[Intervention]]:
    """The angular velocity (rad/s) clipped per axis to the limit; returned untouched when within it."""
    limited = np.clip(angular_velocity, -limits.max_angular_speed, limits.max_angular_speed)
    if np.array_equal(limited, angular_velocity):
        return angular_velocity, []
    return limited, [
        Intervention(
            InterventionKind.ANGULAR_SPEED,
            f"angular speed {np.abs(angular_velocity).max():.3g} rad/s above {limits.max_angular_speed:g} rad/s",
        )
    ]


@dataclass(frozen=True)
class JointLimits:
    """Joint position limits (URDF limits shrunk by a margin) and the largest target step per control period."""

    lower: np.ndarray
    upper: np.ndarray
    max_step: float

    def __post_init__(self) -> None:
        if not self.max_step > 0:
            raise ValueError(f"maximum joint step must be positive, got {self.max_step}")
        if np.any(self.lower >= self.upper):
            raise ValueError("joint limit margin leaves no room between the lower and upper limits")


def limit_joint_targets(
    targets: np.ndarray, current: np.ndarray, limits: JointLimits, kinematics: ArmKinematics, box: CartesianLimits
) -> tuple[np.ndarray, list[Intervention]]:
    """Joint targets within the position limits, at most ``max_step`` from ``current``, and with the
    end effector they lead to inside the safety box (or no farther out than it is now)."""
    notes = []
    limited = np.clip(targets, limits.lower, limits.upper)
    if not np.array_equal(limited, targets):
        joints = [kinematics.arm.joint_names[i] for i in np.flatnonzero(limited != targets)]
        notes.append(
            Intervention(InterventionKind.JOINT_BOUND, f"joint targets beyond the limits (with margin) for {joints}")
        )
    stepped = np.clip(limited, current - limits.max_step, current + limits.max_step)
    if not np.array_equal(stepped, limited):
        notes.append(
            Intervention(
                InterventionKind.JOINT_STEP,
                f"joint step {np.abs(limited - current).max():.3g} rad above {limits.max_step:g} rad per period",
            )
        )
    if box_excess(kinematics.ee_position(stepped), box) > box_excess(kinematics.ee_position(current), box):
        notes.append(
            Intervention(
                InterventionKind.BOX_HOLD, "joint targets would take the end effector out of the safety box; holding"
            )
        )
        stepped = current.copy()
    return (targets if not notes else stepped), notes


def cartesian_joint_targets(
    velocity: np.ndarray,
    current: np.ndarray,
    period: float,
    kinematics: ArmKinematics,
    limits: JointLimits,
    box: CartesianLimits,
    angular_velocity: np.ndarray | None = None,
    posture_gain: float = POSTURE_GAIN,
) -> tuple[np.ndarray, list[Intervention]]:
    """Joint targets that execute a (limited) Cartesian twist for one period: the bridge's Cartesian mode.

    Without an angular velocity (or with a zero one) the orientation is left free, as in panda-gym's
    position-only control; with one, the end effector also turns by ``angular_velocity × period``.

    The damped-least-squares step (posture term, active joint limits) is scaled down as a whole when
    a joint would move more than ``max_step`` (so the end effector keeps its direction), then passes
    the same joint and box checks as a joint command: a step that would leave the box holds.
    """
    turning = angular_velocity is not None and np.any(angular_velocity != 0.0)
    targets = kinematics.cartesian_step(
        current, velocity * period, angular_velocity * period if turning else None, posture_gain=posture_gain
    )
    notes = []
    largest = float(np.abs(targets - current).max())
    if largest > limits.max_step:
        notes.append(
            Intervention(
                InterventionKind.CARTESIAN_STEP_SLOWED,
                f"Cartesian step needs {largest:.3g} rad on one joint, above {limits.max_step:g} rad per period: "
                "slowed down",
            )
        )
        targets = current + (targets - current) * (limits.max_step / largest)
    targets, more = limit_joint_targets(targets, current, limits, kinematics, box)
    return targets, notes + more


def box_excess(point: np.ndarray, box: CartesianLimits) -> float:
    """How far (m, summed over axes) ``point`` lies outside the safety box; 0 inside."""
    return float(np.sum(np.maximum(box.box_min - point, 0.0) + np.maximum(point - box.box_max, 0.0)))


@dataclass(frozen=True)
class SingularityGuard:
    """Scale motion down as the Jacobian condition number rises from ``slowdown`` to ``stop``."""

    kinematics: ArmKinematics
    slowdown: float
    stop: float

    def __post_init__(self) -> None:
        if not 1.0 <= self.slowdown < self.stop:
            raise ValueError(f"singularity thresholds need 1 <= slowdown < stop, got {self.slowdown} and {self.stop}")

    def scale(self, q: np.ndarray, q_next: np.ndarray) -> tuple[float, float]:
        """(speed scale in [0, 1], condition number now) for a step from ``q`` toward ``q_next``."""
        now = self.kinematics.condition_number(q)
        if now <= self.slowdown or self.kinematics.condition_number(q_next) <= now:
            return 1.0, now
        return float(np.clip((self.stop - now) / (self.stop - self.slowdown), 0.0, 1.0)), now
