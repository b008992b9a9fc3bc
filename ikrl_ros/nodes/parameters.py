"""Every node's parameters as data: one frozen dataclass per node, declared and validated in one place.

A field's metadata (``param(...)``) becomes its ``ParameterDescriptor``: description, range
(``FloatingPointRange``/``IntegerRange``, checked by rclpy itself), choices (in
``additional_constraints``) and ``read_only`` — parameters are validated once at start-up, so
``ros2 param set`` is refused instead of appearing to work. ``declare_parameters`` returns the frozen
set the node runs with; a derived default (``joint_state_timeout``) is computed before it is declared,
so a parameter query returns the value in use.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, TypeVar

import numpy as np
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node

from ikrl_ros.core.kinematics import PandaKinematics
from ikrl_ros.core.panda_model import (
    BASE_POSITION_IN_WORLD,
    CONTROL_PERIOD,
    MAX_ANGULAR_SPEED,
    MAX_CARTESIAN_SPEED,
    REACH_RADIUS,
    WORKSPACE_MAX,
    WORKSPACE_MIN,
)
from ikrl_ros.core.safety import CartesianLimits, JointLimits, limits_from_parameters
from ikrl_ros.rl.config import CONFIGS, HER_STRATEGIES
from ikrl_ros.rl.controller_factory import CLASSICAL_CONTROLLERS, CONTROLLERS, LEARNED_CONTROLLERS

SYNC_MODES = ("realtime", "lockstep")
"""One vocabulary for bridge, controller and launch: wall-clock paced, or stepping when the controller answers."""


class ParameterError(ValueError):
    """A parameter value a node refuses at start-up; the message names the parameter."""


@dataclass(frozen=True)
class ParameterSpec:
    description: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    length: int | None = None
    """Arrays: the number of elements."""
    derived: Callable[[dict[str, Any]], Any] | None = None
    """Default computed from the parameters declared before this one."""


def param(
    default: Any,
    description: str,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] = (),
    length: int | None = None,
    derived: Callable[[dict[str, Any]], Any] | None = None,
) -> Any:
    """A dataclass field that is also a ROS parameter (its name is the field's name)."""
    spec = ParameterSpec(description, low, high, choices, length, derived)
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"parameter": spec})
    return field(default=default, metadata={"parameter": spec})


def descriptor(spec: ParameterSpec, default: Any) -> ParameterDescriptor:
    result = ParameterDescriptor(description=spec.description, read_only=True)
    if spec.choices:
        result.additional_constraints = f"one of: {', '.join(spec.choices)}"
    if spec.length is not None:
        result.additional_constraints = f"{spec.length} elements"
    if spec.low is not None and spec.high is not None and spec.length is None:  # arrays: checked by `check`
        if isinstance(default, bool) or not isinstance(default, int | float):
            raise TypeError("ranges apply to numbers and number arrays only")
        if isinstance(default, int):
            result.integer_range = [IntegerRange(from_value=int(spec.low), to_value=int(spec.high), step=0)]
        else:
            result.floating_point_range = [FloatingPointRange(from_value=spec.low, to_value=spec.high, step=0.0)]
    return result


def check(name: str, spec: ParameterSpec, value: Any) -> None:
    """What rclpy's descriptor does not check: choices, array lengths, finiteness, and ranges for arrays."""
    if spec.choices and value not in spec.choices:
        raise ParameterError(f"parameter '{name}' must be one of {spec.choices}, got {value!r}")
    values = list(value) if isinstance(value, list | tuple) else [value]
    if spec.length is not None and len(values) != spec.length:
        raise ParameterError(f"parameter '{name}' must have {spec.length} elements, got {len(values)}")
    for item in values:
        if isinstance(item, float) and not math.isfinite(item):
            raise ParameterError(f"parameter '{name}' must be finite, got {value!r}")
        if spec.low is not None and isinstance(item, int | float) and not spec.low <= item <= spec.high:
            raise ParameterError(f"parameter '{name}' must be within [{spec.low}, {spec.high}], got {value!r}")


T = TypeVar("T")


def declare_parameters(node: Node, parameter_set: type[T]) -> T:
    """Declare every field of ``parameter_set`` on ``node`` (overrides from launch/YAML/CLI apply) and validate."""
    values: dict[str, Any] = {}
    for item in fields(parameter_set):  # type: ignore[arg-type]
        spec: ParameterSpec = item.metadata["parameter"]
        default = item.default if item.default is not MISSING else item.default_factory()  # type: ignore[misc]
        if spec.derived is not None:
            default = spec.derived(values)
        try:
            value = node.declare_parameter(item.name, default, descriptor(spec, default)).value
        except InvalidParameterTypeException as error:
            kind = type(default).__name__
            hint = " (in YAML write 2.0, not 2)" if kind == "float" else ""
            raise ParameterError(f"parameter '{item.name}' must be a {kind}{hint}: {error}") from error
        except InvalidParameterValueException as error:
            raise ParameterError(
                f"parameter '{item.name}' must be within [{spec.low}, {spec.high}] ({error})"
            ) from error
        check(item.name, spec, value)
        values[item.name] = list(value) if isinstance(value, list | tuple) else value
    return parameter_set(**values)


def parameter_names(parameter_set: type) -> list[str]:
    return [item.name for item in fields(parameter_set)]


def three(description: str, default: Any, low: float = -10.0, high: float = 10.0) -> Any:
    """A 3-vector parameter in metres."""
    return param(list(map(float, default)), description, low=low, high=high, length=3)


@dataclass(frozen=True)
class BridgeParameters:
    """``panda_bridge``: the simulated Panda and how it executes commands."""

    sync_mode: str = param(
        "realtime",
        "'realtime' (wall-clock paced) or 'lockstep' (steps when the controller answers; sim-time stamps and /clock)",
        choices=SYNC_MODES,
    )
    cartesian_execution: str = param(
        "dls_ik",
        "how cartesian_cmd is executed: 'dls_ik' (damped least squares with a posture term, no drift) or "
        "'pybullet_ik' (panda-gym's per-step PyBullet IK, bit-identical to panda-gym)",
        choices=("dls_ik", "pybullet_ik"),
    )
    real_time_factor: float = param(1.0, "realtime mode: sim seconds per wall second", low=0.01, high=100.0)
    command_timeout: float = param(
        0.1,
        "realtime mode: commands older than this (s, wall clock) are ignored and the arm holds",
        low=0.001,
        high=10.0,
    )
    lockstep_timeout: float = param(
        0.5, "lockstep mode: republish the state if no answer came within this (s, wall clock)", low=0.01, high=60.0
    )
    publish_clock: bool = param(
        False,
        "realtime mode: publish sim time on /clock and stamp everything in sim time (for nodes with use_sim_time); "
        "lockstep always does both",
    )
    max_cartesian_speed: float = param(
        MAX_CARTESIAN_SPEED,
        "safety: per-axis limit on cartesian_cmd (m/s); panda-gym's action limit 1.25 is also the most",
        low=0.001,
        high=MAX_CARTESIAN_SPEED,
    )
    max_angular_speed: float = param(
        MAX_ANGULAR_SPEED,
        "safety: per-axis limit on cartesian_cmd's angular velocity (rad/s)",
        low=0.001,
        high=2 * MAX_ANGULAR_SPEED,
    )
    safety_box_min: list[float] = three(
        "safety: lower corner (m, panda_link0) the end-effector target may not leave; panda-gym keeps targets at z >= "
        "0",
        [-0.9, -0.9, -0.01],
    )
    safety_box_max: list[float] = three(
        "safety: upper corner (m, panda_link0) of the end-effector target box", [0.9, 0.9, 1.2]
    )
    max_stamp_future: float = param(
        0.5,
        "realtime mode: commands stamped further than this (s) ahead of this node's clock are refused",
        low=0.001,
        high=60.0,
    )
    joint_limit_margin: float = param(
        0.01, "safety: joint targets are clamped this far (rad) inside the URDF limits", low=0.0, high=0.49
    )
    max_joint_step: float = param(
        0.1,
        "safety: joint targets move at most this far (rad) from the current position per control period",
        low=0.001,
        high=1.0,
    )

    def __post_init__(self) -> None:
        box_order("safety_box", self.safety_box_min, self.safety_box_max)


def box_order(name: str, low: list[float], high: list[float]) -> None:
    if not all(a < b for a, b in zip(low, high, strict=True)):
        raise ParameterError(f"parameters '{name}_min' {low} must be below '{name}_max' {high} in every axis")


def safety_limits(
    params: BridgeParameters | ReachControllerParameters, kinematics: PandaKinematics
) -> tuple[CartesianLimits, JointLimits]:
    """The limits both nodes enforce, from the safety fields their parameter sets share."""
    return limits_from_parameters(
        kinematics,
        params.max_cartesian_speed,
        np.array(params.safety_box_min),
        np.array(params.safety_box_max),
        params.joint_limit_margin,
        params.max_joint_step,
        params.max_angular_speed,
    )


def default_state_timeout(values: dict[str, Any]) -> float:
    """Two periods of whichever loop is slower: this controller's, or the bridge's 0.04 s states."""
    return round(2.0 * max(1.0 / values["control_rate"], CONTROL_PERIOD), 6)


@dataclass(frozen=True)
class ReachControllerParameters:
    """``reach_controller``: which controller, which goals, which limits, which output interface."""

    controller: str = param("sac", "reach controller", choices=CONTROLLERS)
    control_rate: float = param(
        25.0,
        "realtime: the most joint states answered per second (Hz); states arriving faster are decimated, slower ones "
        "set the rate",
        low=1.0,
        high=1000.0,
    )
    sync_mode: str = param(
        "realtime",
        "'realtime' (answer each joint state as it arrives, at most control_rate per second, watchdog on) or "
        "'lockstep' (answer every state, everything stamped with its sim-time stamp, for a lockstep bridge)",
        choices=SYNC_MODES,
    )
    goal_tolerance: float = param(
        0.05,
        "distance (m) under which ~/goal_reached is true; panda-gym's success threshold is 0.05",
        low=1e-5,
        high=1.0,
    )
    orientation: str = param(
        "auto",
        "goal orientation: 'top_down' (gripper down, the yaw of goal_pose's quaternion: what RViz's 2D Goal Pose "
        "means; clicked_point keeps the current yaw), 'track' (goal_pose's full orientation, as MoveIt; clicked_point "
        "keeps the current orientation), 'ignore' (position only), or 'auto': top_down for controllers that turn the "
        "gripper, ignore for position-only policies",
        choices=("auto", "top_down", "track", "ignore"),
    )
    goal_angle_tolerance: float = param(
        0.05,
        "angle (rad) under which, with the distance, ~/goal_reached is true for goals with an orientation",
        low=1e-5,
        high=3.2,
    )
    joint_state_timeout: float = param(
        0.08,
        "watchdog: joint states older than this (s, wall clock) are stale and the node holds; default: two periods "
        "of this loop or of the bridge's 0.04 s, whichever is longer",
        low=0.001,
        high=10.0,
        derived=default_state_timeout,
    )
    base_position_in_world: list[float] = three(
        "static position of panda_link0 in the 'world' frame (m), used for goals stamped 'world'",
        BASE_POSITION_IN_WORLD,
    )
    workspace_min: list[float] = three(
        "goal box lower corner in panda_link0 (m); z >= 0.01 keeps the fingertips (6 mm below the grasp target) off "
        "the table",
        WORKSPACE_MIN,
    )
    workspace_max: list[float] = three("goal box upper corner in panda_link0 (m)", WORKSPACE_MAX)
    reach_radius: float = param(
        REACH_RADIUS,
        "goals must also lie within this distance (m) of the shoulder (0, 0, 0.333)",
        low=0.01,
        high=2.0,
    )
    out_of_workspace: str = param(
        "clamp",
        "'clamp' goals outside the workspace to a nearby admissible point, or 'reject' them",
        choices=("clamp", "reject"),
    )
    max_stamp_future: float = param(
        0.5,
        "joint states stamped further than this (s) ahead of this node's clock are refused (clocks disagree)",
        low=0.001,
        high=60.0,
    )
    allow_extra_joints: bool = param(
        False, "accept joint states that also name joints outside the Panda (larger robots)"
    )
    cartesian_p_gain: float = param(
        1.0, "cartesian_p: fraction of the remaining displacement commanded per step", low=0.01, high=1.0
    )
    ik_max_joint_step: float = param(
        0.08, "ik, pybullet_ik: largest joint target change per control step (rad)", low=0.001, high=1.0
    )
    policy_path: str = param(
        "",
        "ddpg/td3/sac/hybrid: checkpoint file, or the name of a shipped policy (e.g. sac_workspace_joints); empty = "
        "the shipped workspace policy of that algorithm",
    )
    hybrid_policy: str = param("sac", "hybrid: learned controller used far from the goal", choices=LEARNED_CONTROLLERS)
    hybrid_near: str = param(
        "cartesian_p", "hybrid: classical controller used near the goal", choices=CLASSICAL_CONTROLLERS
    )
    hybrid_switch_radius: float = param(
        0.05,
        "hybrid: distance to the goal (m) under which the classical controller takes over",
        low=0.001,
        high=1.0,
    )
    max_cartesian_speed: float = param(
        MAX_CARTESIAN_SPEED,
        "safety: per-axis limit on commanded Cartesian speed (m/s), at most panda-gym's 1.25",
        low=0.001,
        high=MAX_CARTESIAN_SPEED,
    )
    max_angular_speed: float = param(
        MAX_ANGULAR_SPEED,
        "safety: per-axis limit on commanded angular speed (rad/s)",
        low=0.001,
        high=2 * MAX_ANGULAR_SPEED,
    )
    safety_box_min: list[float] = three(
        "safety: lower corner (m, panda_link0) that commanded end-effector targets may not leave", [0.1, -0.6, 0.0]
    )
    safety_box_max: list[float] = three(
        "safety: upper corner (m, panda_link0) of the commanded target box", [0.95, 0.6, 0.8]
    )
    joint_limit_margin: float = param(
        0.01, "safety: joint targets are clamped this far (rad) inside the URDF limits", low=0.0, high=0.49
    )
    max_joint_step: float = param(
        0.1,
        "safety: joint targets move at most this far (rad) from the current position per step",
        low=0.001,
        high=1.0,
    )
    singularity_slowdown: float = param(
        17.0,
        "safety: Cartesian controllers slow down when the condition number of the 6x7 Jacobian exceeds this and grows "
        "(MoveIt Servo's lower_singularity_threshold)",
        low=1.0,
        high=1e4,
    )
    singularity_stop: float = param(
        30.0,
        "safety: ... and stop moving toward the singularity at this condition number (MoveIt Servo's "
        "hard_stop_singularity_threshold)",
        low=1.0,
        high=1e4,
    )
    joint_command_type: str = param(
        "joint_state",
        "interface of joint position targets (and their hold): joint_state = sensor_msgs/JointState on "
        "joint_command, joint_trajectory = trajectory_msgs/JointTrajectory on joint_trajectory (one point, "
        "time_from_start one control period), float64_multi_array = std_msgs/Float64MultiArray on commands "
        "(panda_joint1..7 order)",
        choices=("joint_state", "joint_trajectory", "float64_multi_array"),
    )
    cartesian_output: str = param(
        "twist",
        "Cartesian controllers' output: 'twist' (cartesian_cmd, for the bridge or MoveIt Servo) or 'joint' (the "
        "safety-limited twist turned into joint targets by the DLS step, on the joint_command_type interface, for "
        "ros2_control)",
        choices=("twist", "joint"),
    )
    autostart: bool = param(
        True,
        "configure and activate at start (as an unmanaged node; bad parameters exit with code 2); false: wait "
        "unconfigured for lifecycle transitions on ~/change_state",
    )

    def __post_init__(self) -> None:
        box_order("workspace", self.workspace_min, self.workspace_max)
        box_order("safety_box", self.safety_box_min, self.safety_box_max)
        if not self.singularity_slowdown < self.singularity_stop:
            raise ParameterError(
                f"parameter 'singularity_slowdown' ({self.singularity_slowdown}) must be below 'singularity_stop' "
                f"({self.singularity_stop})"
            )


NO_TARGET = 0.0


@dataclass(frozen=True)
class TrainNodeParameters:
    """``train_node``: one training run, as ``ikrl train`` takes it."""

    algo: str = param("sac", "algorithm", choices=tuple(sorted(CONFIGS)))
    env_id: str = param(
        "PandaReach-v3", "gymnasium id (PandaReach-v3, IkrlReach-v0, IkrlReachJoints-v0, IkrlReachPose-v0, ...)"
    )
    her_strategy: str = param("future", "hindsight relabelling ('none' = plain replay)", choices=tuple(HER_STRATEGIES))
    steps: int = param(20_000, "total environment steps", low=1, high=1_000_000_000)
    seed: int = param(0, "random seed", low=0, high=2**31 - 1)
    out_dir: str = param(
        "runs/train_node", "output directory: checkpoints, progress.csv, TensorBoard; resumed if it holds a checkpoint"
    )
    n_envs: int = param(2, "environments stepped in parallel", low=1, high=256)
    eval_every: int = param(
        1_000, "environment steps between evaluations (and ~/progress messages)", low=1, high=1_000_000_000
    )
    eval_episodes: int = param(50, "seeded goals per evaluation", low=1, high=100_000)
    checkpoint_every: int = param(1_000, "environment steps between atomic checkpoints", low=1, high=1_000_000_000)
    target_success: float = param(
        NO_TARGET, "stop at the first evaluation with this success rate (0: train all steps)", low=0.0, high=1.0
    )
    resume: bool = param(True, "continue from out_dir's checkpoint when there is one")
