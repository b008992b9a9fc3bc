"""Every node's parameters as data: one frozen dataclass per node, the single source of their rules and docs.

A field's metadata (``param(...)``) holds everything about a parameter: description, unit, range, choices
and array length. It becomes the ``ParameterDescriptor`` (rclpy checks the advertised range, ``check``
the rest), the README tables and the config files (``parameter_docs`` generates both). Rules between
fields live in the dataclass's ``__post_init__``, one function per rule. Parameters are read-only:
they are validated once at start-up, so ``ros2 param set`` is refused instead of appearing to work.
``declare_parameters`` returns the frozen set the node runs with; a derived default
(``joint_state_timeout``) is computed before it is declared, so a parameter query returns the value in use.

The safety limits both nodes enforce are one dataclass, ``SafetyParameters``, that both node sets extend;
where a node's default differs, the node set says so with ``node_default`` and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from typing import Any, TypeVar

import numpy as np
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node

from ikrl_ros.core.collision import shared_collision_model
from ikrl_ros.core.control import (
    CONTROL_PERIOD,
    JOINT_LIMIT_MARGIN,
    MAX_ANGULAR_SPEED,
    MAX_CARTESIAN_SPEED,
    MAX_JOINT_STEP,
)
from ikrl_ros.core.controllers import ReachController
from ikrl_ros.core.execution import MotionExecutor, limited_generator
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.policy_spec import WORKSPACE_ENV_PREFIX
from ikrl_ros.core.reach_loop import ReachLoop, ReachLoopSettings
from ikrl_ros.core.robot import DEFAULT_ROBOT, Arm, RobotDescriptionError, Workspace, load_arm
from ikrl_ros.core.robot_description import arm_from_robot_description
from ikrl_ros.core.safety import CartesianLimits, JointLimits, SingularityGuard
from ikrl_ros.core.sim import is_panda_gym_arm
from ikrl_ros.rl.config import CONFIGS, HER_STRATEGIES
from ikrl_ros.rl.controller_factory import CLASSICAL_CONTROLLERS, CONTROLLERS, LEARNED_CONTROLLERS, ControllerSettings

DEFAULT_ARM = load_arm()
"""The robot the nodes drive unless ``robot``/``robot_description`` name another: the defaults the docs show."""

SYNC_MODES = ("realtime", "lockstep")
"""One vocabulary for bridge, controller and launch: wall-clock paced, or stepping when the controller answers."""


class ParameterError(ValueError):
    """A parameter value a node refuses at start-up; the message names the parameter."""


@dataclass(frozen=True)
class ParameterSpec:
    """Everything a parameter is besides its name, type and default (those are the dataclass field's)."""

    description: str
    unit: str = ""
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
    unit: str = "",
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] = (),
    length: int | None = None,
    derived: Callable[[dict[str, Any]], Any] | None = None,
) -> Any:
    """A dataclass field that is also a ROS parameter (its name is the field's name)."""
    return spec_field(default, ParameterSpec(description, unit, low, high, choices, length, derived))


def spec_field(default: Any, spec: ParameterSpec) -> Any:
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"parameter": spec})
    return field(default=default, metadata={"parameter": spec})


def vector3(
    default: Any,
    description: str,
    low: float = -10.0,
    high: float = 10.0,
    derived: Callable[[dict[str, Any]], Any] | None = None,
) -> Any:
    """A 3-vector parameter in metres."""
    return param(list(map(float, default)), description, unit="m", low=low, high=high, length=3, derived=derived)


def node_default(
    parameter_set: type, name: str, default: Any, derived: Callable[[dict[str, Any]], Any] | None = None
) -> Any:
    """``parameter_set``'s field ``name`` with another default (and derivation); description and rules stay that
    field's.

    For a node whose default differs from the shared one: the difference is this one line in its set.
    """
    spec = spec_of(field_named(parameter_set, name))
    return spec_field(default, spec if derived is None else replace(spec, derived=derived))


def field_named(parameter_set: type, name: str) -> Field:
    return next(item for item in fields(parameter_set) if item.name == name)


def spec_of(item: Field) -> ParameterSpec:
    return item.metadata["parameter"]


def default_of(item: Field) -> Any:
    """The field's declared default (a derived default's value for the other parameters' defaults)."""
    return item.default if item.default is not MISSING else item.default_factory()  # type: ignore[misc]


def constraints(spec: ParameterSpec) -> str:
    """The allowed values in words: the descriptor's ``additional_constraints``, the docs' "allowed" column."""
    if spec.choices:
        return " | ".join(spec.choices)
    if spec.low is None or spec.high is None:
        return ""
    bounds = f"[{spec.low!r}, {spec.high!r}]"
    return f"{spec.length} values, each in {bounds}" if spec.length is not None else bounds


def descriptor(spec: ParameterSpec, default: Any) -> ParameterDescriptor:
    description = f"{spec.description} (unit: {spec.unit})" if spec.unit else spec.description
    result = ParameterDescriptor(description=description, read_only=True, additional_constraints=constraints(spec))
    if spec.low is not None and spec.high is not None and spec.length is None:  # arrays: checked by `check`
        if isinstance(default, bool) or not isinstance(default, int | float):
            raise TypeError("ranges apply to numbers and number arrays only")
        if isinstance(default, int):
            result.integer_range = [IntegerRange(from_value=int(spec.low), to_value=int(spec.high), step=0)]
        else:
            result.floating_point_range = [FloatingPointRange(from_value=spec.low, to_value=spec.high, step=0.0)]
    return result


def check(name: str, spec: ParameterSpec, value: Any) -> None:
    """Every rule of ``spec`` on ``value``: choices, array length, finiteness, range (of each array element)."""
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


def type_error(name: str, default: Any, reason: str) -> ParameterError:
    kind = type(default).__name__
    hint = " (in YAML write 2.0, not 2)" if kind == "float" else ""
    return ParameterError(f"parameter '{name}' must be a {kind}{hint}: {reason}")


def same_ros_type(default: Any, value: Any) -> bool:
    """Whether ROS would take ``value`` for a parameter declared with ``default`` (no int for a float, no bool
    for an int; arrays element by element)."""
    if isinstance(default, list):
        return isinstance(value, list) and all(type(item) is type(default[0]) for item in value)
    return type(value) is type(default)


def check_value(parameter_set: type, name: str, value: Any) -> None:
    """``value`` as a params file would give it (its own type, not yet declared): type and ``check``."""
    names = {item.name: item for item in fields(parameter_set)}
    if name not in names:
        raise ParameterError(f"'{name}' is not a parameter of {parameter_set.__name__}")
    default = default_of(names[name])
    if not same_ros_type(default, value):
        raise type_error(name, default, f"got {value!r}")
    check(name, spec_of(names[name]), value)


T = TypeVar("T")


def declare_parameters(node: Node, parameter_set: type[T]) -> T:
    """Declare every field of ``parameter_set`` on ``node`` (overrides from launch/YAML/CLI apply) and validate."""
    values: dict[str, Any] = {}
    for item in fields(parameter_set):  # type: ignore[arg-type]
        spec = spec_of(item)
        default = spec.derived(values) if spec.derived is not None else default_of(item)
        try:
            value = node.declare_parameter(item.name, default, descriptor(spec, default)).value
        except InvalidParameterTypeException as error:
            raise type_error(item.name, default, str(error)) from error
        except InvalidParameterValueException as error:
            raise ParameterError(
                f"parameter '{item.name}' must be within [{spec.low}, {spec.high}] ({error})"
            ) from error
        check(item.name, spec, value)
        values[item.name] = list(value) if isinstance(value, list | tuple) else value
    return parameter_set(**values)


def box_order(name: str, low: list[float], high: list[float]) -> None:
    """``{name}_min`` below ``{name}_max`` in every axis."""
    if not all(a < b for a, b in zip(low, high, strict=True)):
        raise ParameterError(f"parameters '{name}_min' {low} must be below '{name}_max' {high} in every axis")


def below(low_name: str, low: float, high_name: str, high: float) -> None:
    if not low < high:
        raise ParameterError(f"parameter '{low_name}' ({low}) must be below '{high_name}' ({high})")


@dataclass(frozen=True)
class RobotParameters:
    """Which arm a node drives; its description supplies the defaults of the workspace and safety parameters."""

    robot: str = param(
        DEFAULT_ROBOT,
        "the arm: a shipped robot's name (`ikrl robots`: panda, iiwa7, ur5, xarm6) or the path of a URDF (then "
        "`base_frame` and `tip_frame` are required); the bridge simulates it and the controller drives it",
    )
    robot_description: str = param(
        "",
        "the URDF as XML text (what `robot_state_publisher` and a ROS stack carry); given, it replaces `robot`. "
        "`package://` meshes resolve through the ament index or `ROS_PACKAGE_PATH`",
    )
    base_frame: str = param(
        "", "the frame goals and Cartesian commands are in (empty: the shipped robot's; required for a URDF)"
    )
    tip_frame: str = param("", "the frame that reaches the goals (empty: the shipped robot's; required for a URDF)")
    joint_limits: str = param(
        "",
        "with a URDF: MoveIt's `joint_limits.yaml` (velocity, acceleration, jerk per joint); empty: the URDF's "
        "velocities and conservative acceleration and jerk, stated in the log",
    )

    def arm(self) -> Arm:
        """The arm these parameters name (validated when they were declared)."""
        return arm_of(self.__dict__)


def arm_of(values: dict[str, Any]) -> Arm:
    """The arm ``RobotParameters``' values name; a description that describes no arm is a ``ParameterError``."""
    frames = (values["base_frame"] or None, values["tip_frame"] or None, values["joint_limits"] or None)
    try:
        if values["robot_description"]:
            return arm_from_robot_description(values["robot_description"], *frames)
        return load_arm(values["robot"], *frames)
    except RobotDescriptionError as error:
        source = "robot_description" if values["robot_description"] else "robot"
        raise ParameterError(f"parameter '{source}': {error}") from None


def arm_default(read: Callable[[Arm], Any]) -> Callable[[dict[str, Any]], Any]:
    """A derived default read from the arm the robot parameters name (a list for vectors)."""

    def derive(values: dict[str, Any]) -> Any:
        value = read(arm_of(values))
        return [float(v) for v in value] if isinstance(value, np.ndarray) and value.ndim else float(value)

    return derive


BRIDGE_BOX_MARGIN = 0.1
"""m: the bridge's safety box reaches this far past the arm's reach sphere (and 1 cm under the base)."""


def bridge_box(values: dict[str, Any], corner: str) -> list[float]:
    """The bridge's default box: around everything the arm can reach, a second line behind the controller's."""
    workspace = arm_of(values).workspace
    extent = workspace.reach_radius + BRIDGE_BOX_MARGIN
    if corner == "min":
        low = workspace.reach_center - extent
        return [round(float(low[0]), 3), round(float(low[1]), 3), -0.01]
    return [round(float(v), 3) for v in workspace.reach_center + extent]


ROBOT_DEFAULTS = {item.name: default_of(item) for item in fields(RobotParameters)}


@dataclass(frozen=True)
class SafetyParameters(RobotParameters):
    """The limits both nodes enforce: the controller on what it sends, the bridge again on what it executes."""

    max_cartesian_speed: float = param(
        MAX_CARTESIAN_SPEED,
        "safety: per-axis limit on commanded linear speed (the controller's twists, the bridge's `cartesian_cmd`); "
        "panda-gym's action limit 1.25 m/s is also the most",
        unit="m/s",
        low=0.001,
        high=MAX_CARTESIAN_SPEED,
    )
    max_angular_speed: float = param(
        MAX_ANGULAR_SPEED,
        "safety: per-axis limit on commanded angular speed (the twists' angular part, about the `base_frame` axes)",
        unit="rad/s",
        low=0.001,
        high=2 * MAX_ANGULAR_SPEED,
    )
    safety_box_min: list[float] = vector3(
        DEFAULT_ARM.safety_box_min.tolist(),
        "safety: lower corner (`base_frame`) of the box commanded end-effector targets stay in; from outside it, "
        "only motion back toward it is allowed; default: the robot description's. The bridge's default box is wider "
        "than the controller's: a second line around it, the arm's reach sphere grown by 0.1 m, down to 1 cm under "
        "the base (panda-gym itself keeps targets at z >= 0)",
        derived=arm_default(lambda arm: arm.safety_box_min),
    )
    safety_box_max: list[float] = vector3(
        DEFAULT_ARM.safety_box_max.tolist(),
        "safety: upper corner (`base_frame`) of the end-effector target box (see `safety_box_min`)",
        derived=arm_default(lambda arm: arm.safety_box_max),
    )
    joint_limit_margin: float = param(
        JOINT_LIMIT_MARGIN,
        "safety: joint position targets (the controller's, and every joint command the bridge receives) are clamped "
        "this far inside the URDF limits",
        unit="rad",
        low=0.0,
        high=0.49,
    )
    max_joint_step: float = param(
        MAX_JOINT_STEP,
        "safety: joint targets move at most this far from the current position per control period (0.1 rad is "
        "2.5 rad/s at 0.04 s), a DLS Cartesian step is slowed down as a whole to it, and a target that would take "
        "the end effector out of the safety box holds the arm",
        unit="rad",
        low=0.001,
        high=1.0,
    )

    strict: bool = param(
        True,
        "motion a real arm accepts: the controller sends only jerk-limited trajectories within the arm's velocity, "
        "acceleration, jerk and (datasheet) position limits, slowed and stopped before collisions (the limited "
        "execution); the bridge checks every command stream at 1 kHz as libfranka does, stops with a reflex on a "
        "violation and moves again after `~/recover`. Learned controllers need policies trained under it "
        "(`IkrlReachLimited*-v0`; a shipped name means its `_limited` version). `false`: panda-gym's motors, which "
        "accept any target (the study's reproduction, bit-exact with panda-gym)",
    )

    def __post_init__(self) -> None:
        box_order("safety_box", self.safety_box_min, self.safety_box_max)


@dataclass(frozen=True)
class BridgeParameters(SafetyParameters):
    """``panda_bridge``: the simulated arm (the Panda unless ``robot`` says otherwise) and how it executes
    commands."""

    sync_mode: str = param(
        "realtime",
        "`realtime`: a steady timer steps every 0.04 s / `real_time_factor`; `lockstep`: step as soon as the command "
        "stamped with the last state's stamp arrives, stamping in sim time and publishing `/clock` - as fast as the "
        "controller answers, even idle (zero commands), so it keeps the CPU busy: for evaluation, not for "
        "interactive use",
        choices=SYNC_MODES,
    )
    cartesian_execution: str = param(
        "dls_ik",
        "how `cartesian_cmd` becomes joint targets: `dls_ik`, a damped-least-squares step from the current joints "
        "(active joint limits, posture term toward the neutral pose, whole step slowed to `max_joint_step`, then the "
        "joint and box checks of `joint_command`), which does not drift over consecutive goals; `pybullet_ik`, "
        "panda-gym's own end-effector control (PyBullet IK each step, no posture term), bit-identical to "
        '`gym.make("PandaReach-v3")`, which drifts over many goals into postures it cannot leave and asks for the '
        "gripper pointing down at every step, so goals where that orientation is out of reach (the far edge of the "
        "workspace, e.g. (0.81, -0.19, 0.19) m) stop 3-9 cm short",
        choices=("dls_ik", "pybullet_ik"),
    )
    real_time_factor: float = param(1.0, "realtime: sim seconds per wall second", low=0.01, high=100.0)
    command_timeout: float = param(
        0.1,
        "realtime: commands older than this (wall clock) are ignored and the arm holds its joints",
        unit="s",
        low=0.001,
        high=10.0,
    )
    lockstep_timeout: float = param(
        0.5, "lockstep: republish the state if no answer came within this (wall clock)", unit="s", low=0.01, high=60.0
    )
    publish_clock: bool = param(
        False,
        "realtime: publish sim time on `/clock` and stamp everything in sim time (for nodes with `use_sim_time`); "
        "lockstep always does both: one time base per mode",
    )
    max_stamp_future: float = param(
        0.5,
        "realtime: commands stamped further than this ahead of this node's clock are refused (clocks disagree); "
        "unstamped ones are used with a warning",
        unit="s",
        low=0.001,
        high=60.0,
    )
    safety_box_min: list[float] = node_default(
        SafetyParameters, "safety_box_min", bridge_box(ROBOT_DEFAULTS, "min"), lambda v: bridge_box(v, "min")
    )
    safety_box_max: list[float] = node_default(
        SafetyParameters, "safety_box_max", bridge_box(ROBOT_DEFAULTS, "max"), lambda v: bridge_box(v, "max")
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cartesian_execution == "pybullet_ik" and not is_panda_gym_arm(arm := self.arm()):
            raise ParameterError(
                f"parameter 'cartesian_execution': 'pybullet_ik' is panda-gym's control of its Panda; the arm "
                f"'{arm.name}' takes 'dls_ik'"
            )


def safety_limits(params: SafetyParameters, kinematics: ArmKinematics) -> tuple[CartesianLimits, JointLimits]:
    """The limits both nodes enforce, from the safety fields their parameter sets share (validated there)."""
    cartesian = CartesianLimits(
        params.max_cartesian_speed,
        np.array(params.safety_box_min),
        np.array(params.safety_box_max),
        params.max_angular_speed,
    )
    return cartesian, JointLimits(*kinematics.limits_with_margin(params.joint_limit_margin), params.max_joint_step)


def motion_executor(params: SafetyParameters, kinematics: ArmKinematics) -> MotionExecutor:
    """The execution both nodes run their commands through: limited and collision-checked with ``strict``."""
    cartesian, joints = safety_limits(params, kinematics)
    if not params.strict:
        return MotionExecutor(kinematics, cartesian, joints, CONTROL_PERIOD)
    joints = JointLimits(*kinematics.datasheet_limits_with_margin(params.joint_limit_margin), params.max_joint_step)
    generator = limited_generator(joints, kinematics, CONTROL_PERIOD)
    return MotionExecutor(
        kinematics, cartesian, joints, CONTROL_PERIOD, generator, shared_collision_model(kinematics.arm)
    )


def default_state_timeout(values: dict[str, Any]) -> float:
    """Two periods of whichever loop is slower: this controller's, or the bridge's 0.04 s states."""
    return round(2.0 * max(1.0 / values["control_rate"], CONTROL_PERIOD), 6)


@dataclass(frozen=True)
class ReachControllerParameters(SafetyParameters):
    """``reach_controller``: which controller, which goals, which limits, which output interface."""

    controller: str = param(
        "sac",
        "`sac`, `td3`, `ddpg` (learned), `hybrid` (learned far, classical near), `cartesian_p` (proportional "
        "Cartesian step, clipped to the action limit), `ik` (DLS IK, approached in joint space), `pybullet_ik` "
        "(PyBullet's IK, same approach)",
        choices=CONTROLLERS,
    )
    control_rate: float = param(
        25.0,
        "realtime: the most joint states answered per second; states from a faster driver are thinned to this rate "
        "on average, slower ones set the rate (the bridge publishes at 25 Hz)",
        unit="Hz",
        low=1.0,
        high=1000.0,
    )
    sync_mode: str = param(
        "realtime",
        "`realtime`: answer each joint state as it arrives, so a command acts on the state it was computed from, at "
        "most `control_rate` per second, watchdog on; `lockstep`: answer every state, and commands, markers and "
        "diagnostics carry the answered state's sim-time stamp, for a lockstep bridge",
        choices=SYNC_MODES,
    )
    goal_tolerance: float = param(
        0.05,
        "distance under which `~/goal_reached` is true; panda-gym's success threshold is 0.05 m",
        unit="m",
        low=1e-5,
        high=1.0,
    )
    orientation: str = param(
        "auto",
        "`top_down`: the gripper points straight down, turned by the yaw of `goal_pose`'s quaternion (what RViz's "
        '"2D Goal Pose" arrow means for an arm; `clicked_point` keeps the current yaw); `track`: `goal_pose`\'s full '
        "orientation is the grasp target's, as MoveIt's pose goals (`clicked_point` keeps the current orientation); "
        "`ignore`: position only; `auto`: `top_down` for controllers that turn the gripper (`cartesian_p`, `ik`, "
        "`pybullet_ik`, `hybrid`, pose policies such as `sac_workspace_pose`), `ignore` for position-only policies "
        "(the `*_workspace`, `*_workspace_joints` and `*_panda_reach` ones; an explicit `top_down`/`track` with "
        "them logs a warning and is ignored). Position comes first: an orientation the IK cannot reach at that "
        "position from the current posture is dropped for that goal with a warning, and the position is reached",
        choices=("auto", "top_down", "track", "ignore"),
    )
    goal_angle_tolerance: float = param(
        0.05,
        "for goals with an orientation, `~/goal_reached` also needs the angle to the goal's orientation below this",
        unit="rad",
        low=1e-5,
        high=3.2,
    )
    joint_state_timeout: float = param(
        0.08,
        "watchdog (realtime): joint states older than this (wall clock) are stale, the node holds and resumes by "
        "itself when fresh ones arrive; default: two periods of this loop or of the bridge's 0.04 s, whichever is "
        "longer (a parameter query returns the value in use)",
        unit="s",
        low=0.001,
        high=10.0,
        derived=default_state_timeout,
    )
    base_position_in_world: list[float] = vector3(
        DEFAULT_ARM.base_position_in_world.tolist(),
        "`base_frame` in the `world` frame (the Panda: panda-gym's layout), for goals stamped `world`; default: the "
        "robot description's",
        derived=arm_default(lambda arm: arm.base_position_in_world),
    )
    workspace_min: list[float] = vector3(
        DEFAULT_ARM.workspace.box_min.tolist(),
        "goal box lower corner in `base_frame`; default: the robot description's (the Panda: z >= 0.01 m because the "
        "fingertips sit 6 mm below the grasp target and would touch the table)",
        derived=arm_default(lambda arm: arm.workspace.box_min),
    )
    workspace_max: list[float] = vector3(
        DEFAULT_ARM.workspace.box_max.tolist(),
        "goal box upper corner in `base_frame`; default: the robot description's",
        derived=arm_default(lambda arm: arm.workspace.box_max),
    )
    reach_radius: float = param(
        DEFAULT_ARM.workspace.reach_radius,
        "goals must also lie within this distance of the arm's shoulder; default: the robot description's (the "
        "Panda: 0.855 m from (0, 0, 0.333), its specified reach)",
        unit="m",
        low=0.01,
        high=2.0,
        derived=arm_default(lambda arm: arm.workspace.reach_radius),
    )
    out_of_workspace: str = param(
        "clamp",
        "`clamp` goals outside the workspace to a nearby admissible point (alternating projections onto box and "
        "sphere), or `reject` them; a warning either way",
        choices=("clamp", "reject"),
    )
    max_stamp_future: float = param(
        0.5,
        "joint states stamped further than this ahead of this node's clock are refused (clocks disagree, e.g. "
        "`use_sim_time` without `/clock`); unstamped ones are used with a warning, their age judged by arrival",
        unit="s",
        low=0.001,
        high=60.0,
    )
    allow_extra_joints: bool = param(False, "accept joint states that also name joints outside the arm (larger robots)")
    cartesian_p_gain: float = param(
        1.0, "`cartesian_p`: fraction of the remaining displacement commanded per step", low=0.01, high=1.0
    )
    ik_max_joint_step: float = param(
        0.08,
        "`ik`, `pybullet_ik`: largest joint target change per control step (0.08 rad is 2 rad/s at 25 Hz)",
        unit="rad",
        low=0.001,
        high=1.0,
    )
    policy_path: str = param(
        "",
        "learned controllers and `hybrid`: a checkpoint file, or a shipped policy's name (`sac_workspace_joints`, "
        "`sac_panda_reach`, ...); empty: the shipped workspace policy `ikrl_ros/policies/<algo>_workspace.pt`. Its "
        "metadata decides the observation (workspace or panda-gym task), Cartesian or joint-space actions and the "
        "action map; a wrong, missing, corrupt or mismatched file stops the node at start-up (exit code 2) before "
        "it commands anything",
    )
    hybrid_policy: str = param(
        "sac",
        "`hybrid`: learned controller used far from the goal (its checkpoint: `policy_path`)",
        choices=LEARNED_CONTROLLERS,
    )
    hybrid_near: str = param(
        "cartesian_p", "`hybrid`: classical controller used near the goal", choices=CLASSICAL_CONTROLLERS
    )
    hybrid_switch_radius: float = param(
        0.05,
        "`hybrid`: distance to the goal under which the classical controller takes over",
        unit="m",
        low=0.001,
        high=1.0,
    )
    singularity_slowdown: float = param(
        17.0,
        "safety, for every Cartesian command whichever controller produced it (`cartesian_p`, Cartesian and pose "
        "policies, `hybrid`'s Cartesian steps): above this condition number of the 6×n Jacobian (MoveIt Servo's "
        "measure and its `lower_singularity_threshold`; the neutral pose is at 10.9) motion toward the singularity "
        "slows down linearly to `singularity_stop`; motion away is never slowed. The next posture is predicted from "
        "the whole twist, and only its part along the singular direction (the Jacobian's smallest singular value's) "
        "is scaled: the rest moves on, so the arm leaves the badly conditioned posture instead of halting there. "
        "Joint-target controllers are not guarded: `ik_max_joint_step` and `max_joint_step` bound their joint steps",
        low=1.0,
        high=1e4,
    )
    singularity_stop: float = param(
        30.0,
        "safety: the Jacobian condition number (MoveIt Servo's `hard_stop_singularity_threshold`) beyond which motion "
        "along the singular direction creeps at 10 % of its speed, and halts beyond twice this; above "
        "`singularity_slowdown`",
        low=1.0,
        high=1e4,
    )
    joint_command_type: str = param(
        "joint_trajectory",
        "interface of joint motion and of its hold (default: `joint_trajectory` with `strict`, whose points carry "
        "the accelerations a 1 kHz interface needs to join them within the limits, else `joint_state`): "
        "`joint_trajectory` (trajectory_msgs/JointTrajectory on "
        "`joint_trajectory`, for a JointTrajectoryController: with `strict`, the periods already decided, the new one "
        "and a smooth halt to rest, sampled at 1 kHz with positions, velocities and accelerations, stamped with the "
        "answered joint state; else one point one period ahead), `joint_state` (sensor_msgs/JointState on "
        "`joint_command`: positions, with `strict` velocities too, one period ahead) or `float64_multi_array` "
        "(std_msgs/Float64MultiArray on `commands`, the arm's joint order, "
        "for a forward_position_controller: positions one period ahead)",
        choices=("joint_state", "joint_trajectory", "float64_multi_array"),
        derived=lambda values: "joint_trajectory" if values["strict"] else "joint_state",
    )
    cartesian_output: str = param(
        "joint",
        "Cartesian controllers (`cartesian_p`, learned Cartesian and pose policies, `hybrid`'s Cartesian part; "
        "default: `joint` with `strict`, so that the jerk-limited motion goes out as planned, else `twist`): "
        "`twist` publishes `cartesian_cmd` (for the bridge or MoveIt Servo); `joint` turns the safety-limited twist "
        "into joint motion here, with the bridge's DLS step (same joint, step and box limits; a zero twist holds) "
        "and, with `strict`, the jerk-limited trajectory, and sends it on `joint_command_type`'s interface, so a "
        "ros2_control stack without MoveIt Servo runs learned Cartesian policies",
        choices=("twist", "joint"),
        derived=lambda values: "joint" if values["strict"] else "twist",
    )
    autostart: bool = param(
        True,
        "configure and activate at start, so `ros2 run` / `ros2 launch` behave as for an unmanaged node (bad "
        "parameters: exit code 2); `false`: start unconfigured and wait for lifecycle transitions on `~/change_state`",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        box_order("workspace", self.workspace_min, self.workspace_max)
        below("singularity_slowdown", self.singularity_slowdown, "singularity_stop", self.singularity_stop)


NO_TARGET = 0.0


@dataclass(frozen=True)
class TrainNodeParameters:
    """``train_node``: one training run, as ``ikrl train`` takes it."""

    algo: str = param("sac", "the learning algorithm", choices=tuple(sorted(CONFIGS)))
    env_id: str = param(
        "PandaReach-v3",
        "gymnasium id: panda-gym's `PandaReach-v3`, `PandaReachDense-v3`, `PandaReachJoints-v3`, "
        "`PandaReachJointsDense-v3`, or the workspace tasks `IkrlReach-v0`, `IkrlReachJoints-v0`, `IkrlReachPose-v0`",
    )
    her_strategy: str = param(
        "future", "hindsight relabelling of replayed goals (`none`: plain replay)", choices=tuple(HER_STRATEGIES)
    )
    steps: int = param(20_000, "total environment steps", low=1, high=1_000_000_000)
    seed: int = param(0, "random seed", low=0, high=2**31 - 1)
    out_dir: str = param(
        "runs/train_node",
        "output directory: checkpoints, progress.csv, TensorBoard; resumed when it holds a checkpoint",
    )
    n_envs: int = param(2, "environments stepped in parallel", low=1, high=256)
    eval_every: int = param(
        1_000, "environment steps between evaluations (and `~/progress` messages)", low=1, high=1_000_000_000
    )
    eval_episodes: int = param(50, "seeded goals per evaluation", low=1, high=100_000)
    checkpoint_every: int = param(1_000, "environment steps between atomic checkpoints", low=1, high=1_000_000_000)
    target_success: float = param(
        NO_TARGET, "stop at the first evaluation with this success rate (0: train all steps)", low=0.0, high=1.0
    )
    resume: bool = param(True, "continue from `out_dir`'s checkpoint when there is one")
    robot: str = param(
        "",
        "the workspace tasks' arm (`IkrlReach*`): a shipped robot's name or a URDF's path (then `base_frame` and "
        "`tip_frame`), recorded in the checkpoint; empty: the Panda",
    )
    base_frame: str = param("", "with a URDF `robot`: its base frame")
    tip_frame: str = param("", "with a URDF `robot`: its tip frame")
    joint_limits: str = param("", "with a URDF `robot`: MoveIt's `joint_limits.yaml` (optional)")

    def __post_init__(self) -> None:
        if self.robot and not self.env_id.startswith(WORKSPACE_ENV_PREFIX):
            raise ParameterError(
                f"parameter 'robot': {self.env_id} is panda-gym's Panda; another arm trains the workspace tasks "
                f"({WORKSPACE_ENV_PREFIX}*)"
            )
        if self.robot:
            arm_of({**ROBOT_DEFAULTS, **self.env_kwargs()})

    def env_kwargs(self) -> dict[str, str]:
        """The workspace environment's arm arguments that were given."""
        given = {"robot": self.robot, "base_frame": self.base_frame, "tip_frame": self.tip_frame}
        given["joint_limits"] = self.joint_limits
        return {key: value for key, value in given.items() if value}


def controller_settings(params: ReachControllerParameters) -> ControllerSettings:
    """Which controller the parameters name, with its tuning."""
    return ControllerSettings(
        params.controller,
        params.policy_path,
        params.hybrid_policy,
        params.hybrid_near,
        params.hybrid_switch_radius,
        params.cartesian_p_gain,
        params.ik_max_joint_step,
        limited=params.strict,
    )


def reach_loop(params: ReachControllerParameters, controller: ReachController, kinematics: ArmKinematics) -> ReachLoop:
    """The ROS-free reach loop the reach controller's parameters describe, around ``controller``."""
    return ReachLoop(
        controller,
        motion_executor(params, kinematics),
        SingularityGuard(kinematics, params.singularity_slowdown, params.singularity_stop),
        Workspace(
            np.array(params.workspace_min),
            np.array(params.workspace_max),
            kinematics.arm.workspace.reach_center,
            params.reach_radius,
        ),
        ReachLoopSettings(
            orientation=params.orientation,
            clamp_out_of_workspace=params.out_of_workspace == "clamp",
            goal_tolerance=params.goal_tolerance,
            goal_angle_tolerance=params.goal_angle_tolerance,
            cartesian_output=params.cartesian_output,
            world_offset=np.array(params.base_position_in_world),
        ),
    )
