"""An arm from its URDF alone (a path, or the XML ``robot_state_publisher`` carries), and the URDF RViz loads.

What a shipped description file states, a bare URDF gives or lets derive: the controlled joints are the movable
joints on the chain base → tip; every other movable joint (a gripper) is locked; velocity limits are the URDF's
(or a MoveIt ``joint_limits.yaml``'s), acceleration and jerk limits that file's or conservative defaults; the
neutral posture is mid-range; the workspace comes from the kinematics (sampled tip positions above the base
plane); the scene is a table under the workspace, the base on it, and a floor. Everything derived or defaulted is
listed in ``Arm.defaulted``, for the node to log. Every refusal happens here, before anything moves.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import yaml

from ikrl_ros.core import collision
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import (
    DEFAULT_ROBOT,
    URDF_SUFFIXES,
    Arm,
    MotionLimits,
    RobotDescriptionError,
    SceneBox,
    Workspace,
    load_arm,
    loadable_urdf,
    write_cached,
)

MIN_DOF = 6
CHAIN_JOINTS = ("revolute", "continuous")
"""Joint types an arm's chain may have (fixed joints are skipped)."""
LOCKABLE_JOINTS = ("revolute", "continuous", "prismatic")
"""Movable joints off the chain (grippers) that are locked."""
ACCELERATION_PER_VELOCITY = 2.0
"""1/s: a defaulted acceleration limit reaches the velocity limit in 0.5 s (slower than the arms shipped here)."""
JERK_PER_ACCELERATION = 20.0
"""1/s: a defaulted jerk limit reaches the acceleration limit in 0.05 s."""
DEFAULT_LINEAR_VELOCITY = 0.5
"""m/s: the tip's defaulted speed limit, half what cobot datasheets state (UR, UFactory: 1 m/s)."""
DEFAULT_ANGULAR_VELOCITY = 1.0
"""rad/s: the tip's defaulted turning-rate limit."""
WORKSPACE_SAMPLES = 4000
"""Random postures whose tip positions outline a derived workspace."""
WORKSPACE_FLOOR = 0.02
"""m: derived workspaces keep goals this far above the base plane (the table top)."""
WORKSPACE_QUANTILE = 0.01
"""A derived workspace box spans the sampled tip positions but for this fraction at each end of each axis."""
REACH_MARGIN = 0.95
"""A derived reach radius is this fraction of the farthest sampled tip: full stretch is a singular posture."""
SAFETY_MARGIN = 0.1
"""m: a derived safety box is the workspace box grown by this much (down to the table top)."""
TABLE_MARGIN = 0.1
"""m: a derived table extends this far past the workspace box; it is 0.4 m high, on a floor slab."""
COLLISION_SAMPLES = 500
"""Postures sampled for a derived disabled-collision matrix (fewer than a shipped arm's: it is computed at load)."""
JOINT_LIMIT_KEYS = {
    "has_velocity_limits",
    "max_velocity",
    "has_acceleration_limits",
    "max_acceleration",
    "has_jerk_limits",
    "max_jerk",
    "has_position_limits",
    "min_position",
    "max_position",
    "has_effort_limits",
    "max_effort",
}
"""The per-joint entries of MoveIt's ``joint_limits.yaml`` (effort limits are read past: the simulator takes the
URDF's)."""


@dataclass(frozen=True)
class UrdfJoint:
    name: str
    kind: str
    parent: str
    child: str
    lower: float | None
    upper: float | None
    velocity: float | None


@dataclass(frozen=True)
class UrdfTree:
    """The links and joints of a URDF, as its XML states them."""

    name: str
    source: str
    links: tuple[str, ...]
    collision_links: frozenset[str]
    """Links with collision geometry."""
    joints: tuple[UrdfJoint, ...]

    def parent_joint(self, link: str) -> UrdfJoint | None:
        return next((joint for joint in self.joints if joint.child == link), None)

    def chain(self, base: str, tip: str) -> list[UrdfJoint]:
        """The joints from ``base`` down to ``tip`` (fixed ones too), base first."""
        for frame, what in ((base, "base_frame"), (tip, "tip_frame")):
            if frame not in self.links:
                raise RobotDescriptionError(
                    f"{what} '{frame}' is not a link of URDF {self.source}; its links are {list(self.links)}"
                )
        joints, link = [], tip
        while link != base:
            joint = self.parent_joint(link)
            if joint is None:
                path = [j.child for j in reversed(joints)]
                raise RobotDescriptionError(
                    f"tip_frame '{tip}' is not below base_frame '{base}' in URDF {self.source}: they are on "
                    f"different branches (from the root '{link}' the tip's chain is {[link, *path]})"
                )
            joints.append(joint)
            link = joint.parent
        return joints[::-1]


def parse_urdf(text: str, source: str) -> UrdfTree:
    """The URDF's links and joints; malformed XML or a joint without parent, child or type is refused."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise RobotDescriptionError(f"malformed URDF {source}: {error}") from None
    if root.tag != "robot":
        raise RobotDescriptionError(f"malformed URDF {source}: the root element is <{root.tag}>, not <robot>")
    links = tuple(link.get("name", "") for link in root.findall("link"))
    joints = []
    for element in root.findall("joint"):
        name, kind = element.get("name"), element.get("type")
        parent, child = element.find("parent"), element.find("child")
        if not name or not kind or parent is None or child is None:
            raise RobotDescriptionError(
                f"malformed URDF {source}: joint '{name}' needs a name, a type, a parent and a child"
            )
        limit = element.find("limit")
        if limit is not None and limit.get("velocity") is None:
            raise RobotDescriptionError(
                f"joint '{name}' of {source} has no velocity limit: its <limit> needs velocity=..."
            )
        joints.append(
            UrdfJoint(
                name,
                kind,
                parent.get("link", ""),
                child.get("link", ""),
                *(_attribute(limit, key, name, source) for key in ("lower", "upper", "velocity")),
            )
        )
    for joint in joints:
        for link in (joint.parent, joint.child):
            if link not in links:
                raise RobotDescriptionError(f"malformed URDF {source}: joint '{joint.name}' names no link '{link}'")
    collision_links = frozenset(link.get("name", "") for link in root.findall("link") if link.find("collision"))
    return UrdfTree(root.get("name", "robot"), source, links, collision_links, tuple(joints))


def _attribute(limit: ElementTree.Element | None, key: str, joint: str, source: str) -> float | None:
    if limit is None or limit.get(key) is None:
        return None
    try:
        return float(limit.get(key))
    except ValueError:
        raise RobotDescriptionError(
            f"malformed URDF {source}: joint '{joint}' limit {key}='{limit.get(key)}' is not a number"
        ) from None


def read_joint_limits(path: str, joints: set[str]) -> dict[str, dict[str, float | bool]]:
    """A MoveIt ``joint_limits.yaml``'s per-joint entries; unknown entries, joints not in the URDF (``joints``)
    and non-positive limits are refused."""
    file = Path(path)
    if not file.is_file():
        raise RobotDescriptionError(f"joint limits file {path} does not exist")
    try:
        content = yaml.safe_load(file.read_text())
    except yaml.YAMLError as error:
        raise RobotDescriptionError(f"joint limits file {path} is not YAML: {error}") from None
    entries = content.get("joint_limits") if isinstance(content, dict) else None
    if not isinstance(entries, dict):
        raise RobotDescriptionError(f"joint limits file {path} has no 'joint_limits' mapping of joint names")
    for name, entry in entries.items():
        if name not in joints:
            raise RobotDescriptionError(f"joint limits file {path}: joint '{name}' is not in the URDF")
        if not isinstance(entry, dict) or set(entry) - JOINT_LIMIT_KEYS:
            unknown = sorted(set(entry) - JOINT_LIMIT_KEYS) if isinstance(entry, dict) else entry
            raise RobotDescriptionError(f"joint limits file {path}: joint '{name}' has unknown entries {unknown}")
        for kind in ("velocity", "acceleration", "jerk"):
            if entry.get(f"has_{kind}_limits") and not float(entry.get(f"max_{kind}", 0.0)) > 0.0:
                raise RobotDescriptionError(
                    f"joint limits file {path}: joint '{name}' has_{kind}_limits but max_{kind} is not positive"
                )
    return entries


def arm_from_urdf(urdf: str, base_frame: str | None, tip_frame: str | None, joint_limits: str | None = None) -> Arm:
    """The arm a URDF file describes between ``base_frame`` and ``tip_frame`` (see the module docstring)."""
    path = Path(urdf)
    if not path.is_file():
        raise RobotDescriptionError(f"URDF {urdf} does not exist")
    if not base_frame or not tip_frame:
        raise RobotDescriptionError(f"a bare URDF ({urdf}) needs base_frame and tip_frame")
    tree = parse_urdf(path.read_text(), urdf)
    chain = tree.chain(base_frame, tip_frame)
    for joint in chain:
        if joint.kind not in (*CHAIN_JOINTS, "fixed"):
            raise RobotDescriptionError(
                f"joint '{joint.name}' between {base_frame} and {tip_frame} is {joint.kind}: arms of "
                f"{' and '.join(CHAIN_JOINTS)} joints only"
            )
    joints = [joint for joint in chain if joint.kind in CHAIN_JOINTS]
    if len(joints) < MIN_DOF:
        raise RobotDescriptionError(
            f"the chain {base_frame} → {tip_frame} of {urdf} has {len(joints)} movable joints "
            f"({[j.name for j in joints]}): at least {MIN_DOF} are needed"
        )
    limits = read_joint_limits(joint_limits, {j.name for j in tree.joints}) if joint_limits else {}
    defaulted: list[str] = []
    velocity = np.array([_velocity(joint, limits.get(joint.name, {}), urdf) for joint in joints])
    acceleration = _derived(joints, limits, "acceleration", velocity * ACCELERATION_PER_VELOCITY, defaulted)
    jerk = _derived(joints, limits, "jerk", acceleration * JERK_PER_ACCELERATION, defaulted)
    lower, upper = _position_limits(joints, limits, urdf)
    on_chain = {j.name for j in joints}
    locked = {
        joint.name: _lock_position(joint)
        for joint in tree.joints
        if joint.name not in on_chain and joint.kind in LOCKABLE_JOINTS
    }
    bounded = np.isfinite(lower) & np.isfinite(upper)
    neutral = np.zeros(len(joints))
    neutral[bounded] = (lower[bounded] + upper[bounded]) / 2
    defaulted.append(f"neutral posture: mid-range {np.round(neutral, 4).tolist()} rad")
    if locked:
        defaulted.append(f"joints off the chain locked: {locked}")
    linear = _cartesian_defaults(DEFAULT_LINEAR_VELOCITY)
    angular = _cartesian_defaults(DEFAULT_ANGULAR_VELOCITY)
    defaulted.append(
        f"Cartesian limits: linear {DEFAULT_LINEAR_VELOCITY} m/s, {linear.acceleration} m/s², {linear.jerk} m/s³; "
        f"angular {DEFAULT_ANGULAR_VELOCITY} rad/s, {angular.acceleration} rad/s², {angular.jerk} rad/s³"
    )
    tightened = any(limits.get(j.name, {}).get("has_position_limits") for j in joints)
    provisional = Arm(
        name=tree.name,
        urdf=loadable_urdf(urdf),
        base_frame=base_frame,
        tip_frame=tip_frame,
        joint_names=tuple(j.name for j in joints),
        locked_joints=locked,
        neutral=neutral,
        joint_limits=MotionLimits(velocity, acceleration, jerk),
        linear_limits=linear,
        angular_limits=angular,
        workspace=Workspace(np.full(3, -1.0), np.full(3, 1.0), np.zeros(3), 10.0),
        safety_box_min=np.full(3, -10.0),
        safety_box_max=np.full(3, 10.0),
        base_position_in_world=np.zeros(3),
        position_limits=(lower, upper) if tightened else None,
    )
    kinematics = ArmKinematics(provisional)
    workspace = derive_workspace(kinematics)
    defaulted.append(
        f"workspace (base frame): box {np.round(workspace.box_min, 3).tolist()} to "
        f"{np.round(workspace.box_max, 3).tolist()} m within {workspace.reach_radius:.3f} m of "
        f"{np.round(workspace.reach_center, 3).tolist()}, from {WORKSPACE_SAMPLES} sampled postures"
    )
    safety_min = np.append(workspace.box_min[:2] - SAFETY_MARGIN, 0.0)
    arm = replace(
        provisional,
        workspace=workspace,
        safety_box_min=safety_min,
        safety_box_max=workspace.box_max + SAFETY_MARGIN,
        scene=derive_scene(workspace, _mounted_links(tree, base_frame)),
    )
    defaulted.append("scene: a 0.4 m table under the workspace, its top at the base, on a floor")
    sampled = collision.sample_disabled_collisions(arm, samples=COLLISION_SAMPLES)
    arm = replace(arm, disabled_collisions=tuple(sorted({*sampled["adjacent"], *sampled["always"]})))
    defaulted.append(
        f"self-collision pairs not checked (adjacent, or close in all of {COLLISION_SAMPLES} postures): "
        f"{len(arm.disabled_collisions)}"
    )
    return replace(arm, defaulted=tuple(defaulted))


def arm_from_robot_description(
    robot_description: str, base_frame: str | None, tip_frame: str | None, joint_limits: str | None = None
) -> Arm:
    """The arm of a URDF given as XML (the ``robot_description`` parameter or topic of a ROS stack).

    It is written to the cache so that the simulator and Pinocchio read a file; its ``package://`` meshes resolve
    through the ament index or ``ROS_PACKAGE_PATH``, its other meshes must be absolute paths.
    """
    if not robot_description.lstrip().startswith("<"):
        raise RobotDescriptionError("robot_description must be the URDF's XML text")
    parse_urdf(robot_description, "robot_description")  # refuse malformed XML before caching it
    return load_arm(
        str(write_cached("robot_description", robot_description, ".urdf")), base_frame, tip_frame, joint_limits
    )


def _velocity(joint: UrdfJoint, limits: dict, urdf: str) -> float:
    if limits.get("has_velocity_limits"):
        return float(limits["max_velocity"])
    if joint.velocity is None or not joint.velocity > 0.0:
        raise RobotDescriptionError(
            f"joint '{joint.name}' of {urdf} has no velocity limit: give <limit velocity=...> in the URDF or "
            "max_velocity in a joint_limits.yaml"
        )
    return joint.velocity


def _derived(
    joints: list[UrdfJoint], limits: dict, kind: str, defaults: np.ndarray, defaulted: list[str]
) -> np.ndarray:
    """The ``kind`` limit per joint: the limits file's, else ``defaults`` (named in ``defaulted``)."""
    values, missing = [], []
    for joint, default in zip(joints, defaults, strict=True):
        entry = limits.get(joint.name, {})
        if entry.get(f"has_{kind}_limits"):
            values.append(float(entry[f"max_{kind}"]))
        else:
            values.append(float(default))
            missing.append(joint.name)
    if missing:
        rule = "velocity" if kind == "acceleration" else "acceleration"
        ratio = ACCELERATION_PER_VELOCITY if kind == "acceleration" else JERK_PER_ACCELERATION
        defaulted.append(f"{kind} limits of {missing}: {ratio:g}/s × the {rule} limit")
    return np.array(values)


def _position_limits(joints: list[UrdfJoint], limits: dict, urdf: str) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper limits: the URDF's, tightened by a limits file's; continuous joints unbounded."""
    lower, upper = [], []
    for joint in joints:
        entry = limits.get(joint.name, {})
        if joint.kind == "continuous":
            low, high = -np.inf, np.inf
        elif joint.lower is None or joint.upper is None or not joint.lower < joint.upper:
            raise RobotDescriptionError(
                f"revolute joint '{joint.name}' of {urdf} needs <limit lower=... upper=...> with lower < upper"
            )
        else:
            low, high = joint.lower, joint.upper
        if entry.get("has_position_limits"):
            low = max(low, float(entry.get("min_position", low)))
            high = min(high, float(entry.get("max_position", high)))
            if not low < high:
                raise RobotDescriptionError(f"joint '{joint.name}': the limits file leaves no position range")
        lower.append(low)
        upper.append(high)
    return np.array(lower), np.array(upper)


def _lock_position(joint: UrdfJoint) -> float:
    """Where a joint off the chain is held: 0 if within its limits, else mid-range."""
    if joint.lower is None or joint.upper is None or joint.lower <= 0.0 <= joint.upper:
        return 0.0
    return (joint.lower + joint.upper) / 2


def _cartesian_defaults(velocity: float) -> MotionLimits:
    acceleration = velocity * ACCELERATION_PER_VELOCITY
    return MotionLimits(np.array(velocity), np.array(acceleration), np.array(acceleration * JERK_PER_ACCELERATION))


def _mounted_links(tree: UrdfTree, base_frame: str) -> tuple[str, ...]:
    """Links with collision geometry fixed to the base (no movable joint between): they stand on the table."""
    fixed = {base_frame}
    grown = True
    while grown:
        grown = False
        for joint in tree.joints:
            if joint.kind == "fixed" and (joint.parent in fixed) != (joint.child in fixed):
                fixed |= {joint.parent, joint.child}
                grown = True
    return tuple(sorted(fixed & tree.collision_links))


def derive_workspace(kinematics: ArmKinematics, samples: int = WORKSPACE_SAMPLES, seed: int = 0) -> Workspace:
    """Goals where the tip goes: the box of sampled tip positions above the base plane (but for the outermost
    ``WORKSPACE_QUANTILE`` on each side), within ``REACH_MARGIN`` of the farthest from the shoulder (the second
    joint's origin at neutral)."""
    rng = np.random.default_rng(seed)
    lower, upper = kinematics.sampling_range()
    tips = np.array([kinematics.ee_position(rng.uniform(lower, upper)) for _ in range(samples)])
    tips = tips[tips[:, 2] >= WORKSPACE_FLOOR]
    if len(tips) < samples // 20:
        raise RobotDescriptionError(
            f"robot '{kinematics.arm.name}': the tip is above the base plane in {len(tips)} of {samples} postures: "
            "is the base frame upright?"
        )
    center = kinematics.joint_origins(kinematics.neutral)[1]
    radius = REACH_MARGIN * float(np.max(np.linalg.norm(tips - center, axis=1)))
    box_min = np.quantile(tips, WORKSPACE_QUANTILE, axis=0)
    box_max = np.quantile(tips, 1 - WORKSPACE_QUANTILE, axis=0)
    box_min[2] = WORKSPACE_FLOOR
    return Workspace(np.round(box_min, 3), np.round(box_max, 3), np.round(center, 4), round(radius, 3))


def derive_scene(workspace: Workspace, mounted: tuple[str, ...]) -> tuple[SceneBox, ...]:
    """A 0.4 m table under the workspace with its top at the base, the base mounted on it, and a floor slab."""
    table = SceneBox(
        "table",
        np.append(workspace.box_min[:2] - TABLE_MARGIN, -0.4),
        np.append(workspace.box_max[:2] + TABLE_MARGIN, 0.0),
        mounted,
    )
    floor = SceneBox("plane", np.array([-3.0, -3.0, -0.42]), np.array([3.0, 3.0, -0.4]))
    return table, floor


def rviz_config_for(template: str, base_frame: str) -> str:
    """A copy of the RViz config ``template`` (a file) in the cache with ``base_frame`` as its fixed frame, the
    frame goals clicked in RViz are stamped in: the same config serves every arm."""
    text = re.sub(r"(?m)^(\s*Fixed Frame: ).*$", lambda match: match.group(1) + base_frame, Path(template).read_text())
    return str(write_cached("rviz", text, ".rviz"))


def urdf_for_rviz(robot: str = DEFAULT_ROBOT) -> str:
    """The arm's URDF with its mesh references made absolute ``file://`` URIs (other ``filename`` attributes, a
    Gazebo plugin's, stay as they are).

    pybullet_data's ``panda.urdf`` writes ``package://meshes/...`` although no ROS package called
    ``meshes`` exists; the meshes lie beside the URDF, which is where PyBullet looks too. A URDF whose
    ``package://`` meshes needed resolving is already a copy with absolute paths.
    """
    urdf_path = loadable_urdf(robot) if robot.endswith(URDF_SUFFIXES) else load_arm(robot).urdf
    urdf = Path(urdf_path)
    return re.sub(
        r'(<mesh\b[^>]*?\bfilename=")(?:package://)?(?!file://)([^"]+)"',
        lambda match: f'{match.group(1)}file://{(urdf.parent / match.group(2)).resolve()}"',
        urdf.read_text(),
    )
