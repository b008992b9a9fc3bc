"""Checks on everything that arrives from outside, shared by every node.

Each check returns clean numpy data or raises ``InvalidInput`` whose message says exactly what was
wrong, so a node can log it and drop the message: bad input never reaches a command topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ikrl_ros.core.robot import WORLD_FRAME, Arm, Workspace
from ikrl_ros.core.rotations import quaternion_to_matrix

MAX_PLAUSIBLE_JOINT_POSITION = 2 * np.pi
"""rad: no joint with limits turns further than a full turn, so such a reading is garbage (continuous joints
may read any angle)."""
MAX_PLAUSIBLE_JOINT_SPEED = 50.0
"""rad/s; arm joints are rated at a few rad/s. Larger readings would also overflow float32."""


class InvalidInput(ValueError):
    """A message that must not be acted on; the text says why."""


def finite_vector(values: Sequence[float], what: str) -> np.ndarray:
    """``values`` as a float array, refusing NaN and ±inf (which would poison every later step)."""
    array = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(array)):
        raise InvalidInput(f"{what} contains non-finite values {array.tolist()}")
    return array


def goal_in_base_frame(point: Sequence[float], frame_id: str, world_offset: np.ndarray, base_frame: str) -> np.ndarray:
    """A goal point expressed in the arm's base frame.

    The base frame is taken as is; ``world`` is shifted by the configured static offset (the
    position of the base frame in ``world``). Any other frame is refused: without tf2 there is no
    honest way to transform it.
    """
    position = finite_vector(point, "goal position")
    if frame_id == base_frame:
        return position
    if frame_id in (WORLD_FRAME, f"/{WORLD_FRAME}"):
        return position - world_offset
    shown = frame_id if frame_id else "<empty>"
    raise InvalidInput(
        f"goal frame '{shown}' is not supported: send goals in '{base_frame}' or '{WORLD_FRAME}' "
        "(no tf2 here to transform other frames)"
    )


def admit_goal(goal: np.ndarray, workspace: Workspace, clamp: bool) -> tuple[np.ndarray, str | None]:
    """The goal to track and a warning when it had to be clamped; out-of-workspace goals raise if not clamping."""
    if workspace.contains(goal):
        return goal, None
    if not clamp:
        raise InvalidInput(f"goal {format_point(goal)} is outside the workspace; rejected")
    clamped = workspace.clamp(goal)
    return clamped, f"goal {format_point(goal)} is outside the workspace; clamped to {format_point(clamped)}"


def format_point(point: np.ndarray) -> str:
    """Compact and safe for any float (``np.round`` overflows near 1e308)."""
    return "(" + ", ".join(f"{value:.4g}" for value in point) + ")"


@dataclass(frozen=True)
class ArmState:
    """Arm joint positions and velocities in ``Arm.joint_names`` order."""

    position: np.ndarray
    velocity: np.ndarray


def arm_state_from_joint_state(
    arm: Arm,
    names: Sequence[str],
    position: Sequence[float],
    velocity: Sequence[float],
    allow_extra_joints: bool = False,
    continuous: np.ndarray | None = None,
) -> ArmState:
    """The arm's state from a ``sensor_msgs/JointState``, whatever order its names come in.

    Refused: duplicated names, unknown names (unless ``allow_extra_joints`` for larger robots),
    any arm joint missing, position/velocity arrays whose length differs from the names, and
    non-finite values. ``continuous`` marks joints without position limits (``ArmKinematics.continuous``).
    Velocities are required: the policy observes end-effector velocity.
    """
    names = list(names)
    if len(set(names)) != len(names):
        duplicated = sorted({name for name in names if names.count(name) > 1})
        raise InvalidInput(f"joint state names are duplicated: {duplicated}")
    unknown = [name for name in names if name not in arm.all_joint_names]
    if unknown and not allow_extra_joints:
        raise InvalidInput(f"joint state has unknown joint names {unknown}")
    missing = [name for name in arm.joint_names if name not in names]
    if missing:
        raise InvalidInput(f"joint state is missing arm joints {missing}")
    if len(position) != len(names):
        raise InvalidInput(f"joint state has {len(names)} names but {len(position)} positions")
    if len(velocity) != len(names):
        raise InvalidInput(f"joint state has {len(names)} names but {len(velocity)} velocities")
    order = [names.index(name) for name in arm.joint_names]
    arm_position = finite_vector([position[i] for i in order], "joint positions")
    arm_velocity = finite_vector([velocity[i] for i in order], "joint velocities")
    limited = np.ones(arm.dof, bool) if continuous is None else ~continuous
    if (
        np.any(limited & (np.abs(arm_position) > MAX_PLAUSIBLE_JOINT_POSITION))
        or np.abs(arm_velocity).max() > MAX_PLAUSIBLE_JOINT_SPEED
    ):
        raise InvalidInput(
            f"joint state is implausible (|position| > {MAX_PLAUSIBLE_JOINT_POSITION:.3g} rad or "
            f"|velocity| > {MAX_PLAUSIBLE_JOINT_SPEED:g} rad/s): {format_point(arm_position)}, "
            f"{format_point(arm_velocity)}"
        )
    return ArmState(arm_position, arm_velocity)


def arm_targets_from_joint_command(arm: Arm, names: Sequence[str], position: Sequence[float]) -> np.ndarray:
    """Arm position targets from a ``joint_command`` message: every arm joint, nothing else."""
    names = list(names)
    if len(set(names)) != len(names):
        raise InvalidInput(f"joint command names are duplicated: {names}")
    if len(position) != len(names):
        raise InvalidInput(f"joint command has {len(names)} names but {len(position)} positions")
    unknown = [name for name in names if name not in arm.joint_names]
    if unknown:
        raise InvalidInput(f"joint command has names that are not arm joints: {unknown}")
    missing = [name for name in arm.joint_names if name not in names]
    if missing:
        raise InvalidInput(f"joint command is missing arm joints {missing}")
    return finite_vector([position[names.index(name)] for name in arm.joint_names], "joint command positions")


def arm_targets_from_joint_trajectory(
    arm: Arm, names: Sequence[str], points: Sequence[Sequence[float]], times: Sequence[float], period: float
) -> np.ndarray:
    """Arm position targets from a ``trajectory_msgs/JointTrajectory`` for one control period: the last point due
    within ``period`` of its stamp (the first point if none is), by ``joint_names``, checked like
    ``joint_command``; later points are ignored."""
    if not points:
        raise InvalidInput("joint trajectory has no points")
    due = [index for index, time in enumerate(times) if time <= period + 1e-9]
    return arm_targets_from_joint_command(arm, names, points[due[-1] if due else 0])


@dataclass(frozen=True)
class TrajectorySamples:
    """A joint trajectory's points in ``Arm.joint_names`` order: times from its stamp (s) and positions
    (points × joints); velocities and accelerations where every point carries them."""

    times: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray | None
    accelerations: np.ndarray | None


def joint_trajectory_samples(
    arm: Arm,
    names: Sequence[str],
    times: Sequence[float],
    positions: Sequence[Sequence[float]],
    velocities: Sequence[Sequence[float]],
    accelerations: Sequence[Sequence[float]],
) -> TrajectorySamples:
    """A whole ``JointTrajectory``, checked: every point names every arm joint once, finite values, times strictly
    increasing after the stamp."""
    if not positions:
        raise InvalidInput("joint trajectory has no points")
    order = [list(names).index(name) for name in arm.joint_names] if set(arm.joint_names) <= set(names) else None
    arm_targets_from_joint_command(arm, names, positions[0])  # names: complete, unique, arm joints only
    times = finite_vector(list(times), "joint trajectory times")
    if times[0] <= 0.0 or np.any(np.diff(times) <= 0.0):
        raise InvalidInput("joint trajectory point times must increase strictly, all after the stamp")

    def matrix(rows: Sequence[Sequence[float]], what: str) -> np.ndarray | None:
        if any(len(row) == 0 for row in rows):
            return None
        if any(len(row) != len(names) for row in rows):
            raise InvalidInput(f"joint trajectory {what} must have one value per joint name at every point")
        values = np.array([[row[i] for i in order] for row in rows], dtype=float)
        if not np.all(np.isfinite(values)):
            raise InvalidInput(f"joint trajectory {what} must be finite")
        return values

    return TrajectorySamples(
        times, matrix(positions, "positions"), matrix(velocities, "velocities"), matrix(accelerations, "accelerations")
    )


def arm_targets_from_array(arm: Arm, data: Sequence[float]) -> np.ndarray:
    """Arm position targets from a ``std_msgs/Float64MultiArray`` (ros2_control's forward_position_controller
    layout): exactly one value per arm joint, in ``Arm.joint_names`` order."""
    if len(data) != arm.dof:
        raise InvalidInput(
            f"commands has {len(data)} values, expected {arm.dof} (positions of {', '.join(arm.joint_names)}, in that "
            "order)"
        )
    return finite_vector(list(data), "commands positions")


def cartesian_twist(
    linear: Sequence[float], angular: Sequence[float], frame_id: str, base_frame: str
) -> tuple[np.ndarray, np.ndarray]:
    """A Cartesian twist command (m/s, rad/s) in the base frame (limits are the safety module's job).

    ``world`` is accepted too: it differs from the base frame by a translation only, so twists agree.
    """
    if frame_id not in (base_frame, WORLD_FRAME):
        shown = frame_id if frame_id else "<empty>"
        raise InvalidInput(f"cartesian command frame '{shown}' is not supported: use '{base_frame}'")
    return finite_vector(linear, "cartesian command velocity"), finite_vector(
        angular, "cartesian command angular velocity"
    )


QUATERNION_NORM_TOLERANCE = 0.01
"""A goal quaternion whose length is further than this from 1 is refused rather than normalised: it is
more likely a bug (uninitialised, or Euler angles in the wrong fields) than round-off."""


def goal_orientation(quaternion_xyzw: Sequence[float]) -> np.ndarray:
    """The rotation matrix of a goal's quaternion (x, y, z, w); zero, non-finite or non-unit ones are refused."""
    quaternion = finite_vector(quaternion_xyzw, "goal orientation quaternion")
    length = float(np.linalg.norm(quaternion))
    if length < 1e-9:
        raise InvalidInput(
            "goal orientation quaternion is zero (an unset orientation): send a unit quaternion, e.g. w = 1, or set "
            "'orientation' to 'ignore'"
        )
    if abs(length - 1.0) > QUATERNION_NORM_TOLERANCE:
        raise InvalidInput(f"goal orientation quaternion has length {length:.4g}, not 1: not a rotation")
    return quaternion_to_matrix(quaternion / length)


def check_stamp(stamp_ns: int, now_ns: int, max_future_ns: int) -> str | None:
    """A warning for a usable but odd stamp; raises for a stamp that cannot be trusted.

    A zero stamp (``ros2 topic pub``, unstamped drivers) is usable: freshness is judged by arrival
    time anyway, so it only earns a warning. A stamp further ahead of this node's clock than
    ``max_future_ns`` means the two clocks disagree (e.g. ``use_sim_time`` without ``/clock``), and
    the message is refused. While this node's own clock reads zero (sim time not yet received)
    nothing can be judged.
    """
    if stamp_ns == 0:
        return "is unstamped (stamp 0); its age is judged by arrival time"
    if now_ns > 0 and stamp_ns - now_ns > max_future_ns:
        raise InvalidInput(
            f"is stamped {(stamp_ns - now_ns) / 1e9:.3f} s in the future: the publisher's clock and this node's "
            "disagree"
        )
    return None
