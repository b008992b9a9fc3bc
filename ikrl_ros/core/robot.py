"""The arm as data: everything the package knows about a robot, from its URDF and a small description file.

A description file (YAML, ``ikrl_ros/robots/NAME.yaml`` for a shipped arm) names the URDF, the base and
tip frames, the controlled joints (base to tip), joints held fixed (fingers), the neutral posture, the
velocity/acceleration/jerk limits, the goal workspace, the safety box, the obstacles of the simulated
scene and the link pairs left out of self-collision checks. The URDF supplies the kinematic chain, the
position limits and the collision geometry. Every other module takes an ``Arm`` (or its kinematics)
instead of importing robot constants, so nothing outside this module assumes a joint count. A bare URDF (a
path, or the XML a ROS stack carries) gives an ``Arm`` too: ``robot_description`` derives what a description
file would state.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import os
import sys
import sysconfig
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pybullet_data
import yaml

DEFAULT_ROBOT = "panda"
WORLD_FRAME = "world"
"""The simulator's world frame; the arm's base frame sits at ``Arm.base_position_in_world`` in it, unrotated."""
URDF_SCHEMES = {"pybullet_data://": pybullet_data.getDataPath}
"""URDF locations inside packages installed with the project (``package://`` URIs are resolved too)."""
PACKAGE_SCHEME = "package://"


def python_prefixes() -> list[Path]:
    """Install prefixes with an ament index that Python wheels bring (example-robot-data's, Pinocchio's: cmeel's
    ``cmeel.prefix``), in every site folder on ``sys.path`` (a venv's, a user's, ``PYTHONPATH``'s); searched after
    ``AMENT_PREFIX_PATH``'s."""
    folders = [sysconfig.get_paths()["purelib"], *sys.path]
    prefixes = (Path(folder) / "cmeel.prefix" for folder in dict.fromkeys(folders) if folder)
    return [prefix for prefix in prefixes if prefix.is_dir()]


class RobotDescriptionError(ValueError):
    """A robot description that cannot describe an arm; the text names the problem."""


@dataclass(frozen=True)
class Workspace:
    """Where goals may lie, in the base frame: a box intersected with the arm's reach sphere."""

    box_min: np.ndarray
    box_max: np.ndarray
    reach_center: np.ndarray
    reach_radius: float

    def __post_init__(self) -> None:
        if np.any(self.box_min >= self.box_max):
            raise ValueError(f"workspace box min {self.box_min.tolist()} must be below max {self.box_max.tolist()}")
        if not self.reach_radius > 0.0:
            raise ValueError(f"workspace reach radius must be positive, got {self.reach_radius}")
        if not self.contains(self.clamp((self.box_min + self.box_max) / 2), slack=1e-6):
            raise ValueError("workspace box and reach sphere do not intersect: no goal could be admitted")

    def contains(self, point: np.ndarray, slack: float = 1e-9) -> bool:
        inside_box = bool(np.all(point >= self.box_min - slack) and np.all(point <= self.box_max + slack))
        return inside_box and float(np.linalg.norm(point - self.reach_center)) <= self.reach_radius + slack

    def clamp(self, point: np.ndarray) -> np.ndarray:
        """A nearby admissible point: alternating projections onto the box and the reach sphere.

        Both sets are convex, so the alternation converges to a point of their intersection.
        """
        clamped = np.asarray(point, dtype=float)
        for _ in range(100):
            clamped = np.clip(clamped, self.box_min, self.box_max)
            offset = clamped - self.reach_center
            distance = float(np.linalg.norm(offset))
            if distance <= self.reach_radius:
                break
            clamped = self.reach_center + offset * (self.reach_radius / distance)
        return clamped


@dataclass(frozen=True)
class MotionLimits:
    """Velocity, acceleration and jerk limits of one axis group (joints, or the tip's translation/rotation)."""

    velocity: np.ndarray
    acceleration: np.ndarray
    jerk: np.ndarray


@dataclass(frozen=True)
class SceneBox:
    """An obstacle of the arm's scene: an axis-aligned box in the base frame (the simulator's table, its floor)."""

    name: str
    box_min: np.ndarray
    box_max: np.ndarray
    mounted_links: tuple[str, ...] = ()
    """Links fixed on this obstacle (the base on the table): they touch it by design and are not checked against it."""

    def __post_init__(self) -> None:
        if np.any(self.box_min >= self.box_max):
            raise ValueError(
                f"scene box '{self.name}' min {self.box_min.tolist()} must be below max {self.box_max.tolist()}"
            )

    @property
    def center(self) -> np.ndarray:
        return (self.box_min + self.box_max) / 2

    @property
    def size(self) -> np.ndarray:
        return self.box_max - self.box_min


DISABLED_COLLISION_REASONS = ("adjacent", "always")
"""Why a self-collision pair is not checked (MoveIt's disabled-collision matrix): the links are joined to each
other (only links with geometry count), or they are within the self-collision threshold in every posture sampled."""


@dataclass(frozen=True)
class Arm:
    """One serial arm: its frames, controlled joints, limits and the region where it takes goals."""

    name: str
    urdf: str
    """Path of the URDF on this machine."""
    base_frame: str
    tip_frame: str
    joint_names: tuple[str, ...]
    """The controlled joints, base to tip: the order of every joint vector in the package."""
    locked_joints: dict[str, float]
    """Joints of the URDF that are held at these positions (fingers): not part of the arm's kinematics."""
    neutral: np.ndarray
    joint_limits: MotionLimits
    linear_limits: MotionLimits
    angular_limits: MotionLimits
    workspace: Workspace
    safety_box_min: np.ndarray
    safety_box_max: np.ndarray
    base_position_in_world: np.ndarray
    scene: tuple[SceneBox, ...] = ()
    """Obstacles around the arm (the simulator's world), in the base frame."""
    disabled_collisions: tuple[tuple[str, str], ...] = ()
    """Link pairs never checked for self-collision, each pair sorted by name."""
    position_limits: tuple[np.ndarray, np.ndarray] | None = None
    """Joint position limits (lower, upper) tighter than the URDF's (a datasheet's); None: the URDF's."""
    defaulted: tuple[str, ...] = ()
    """What was derived or defaulted rather than stated (an arm from a bare URDF), one line each, for the log."""

    @property
    def dof(self) -> int:
        return len(self.joint_names)

    @property
    def all_joint_names(self) -> tuple[str, ...]:
        """Every simulated joint: the arm's, then the locked ones (the order of the bridge's ``joint_states``)."""
        return self.joint_names + tuple(self.locked_joints)

    def world_to_base(self, point_world: np.ndarray) -> np.ndarray:
        """Simulator world coordinates → base frame (the base is translated, not rotated)."""
        return np.asarray(point_world, dtype=float) - self.base_position_in_world

    def base_to_world(self, point_base: np.ndarray) -> np.ndarray:
        """Base frame coordinates → simulator world coordinates."""
        return np.asarray(point_base, dtype=float) + self.base_position_in_world


def resolve_urdf(location: str, relative_to: Path | None = None) -> str:
    """A URDF path on this machine from a description's ``urdf`` entry (a scheme of ``URDF_SCHEMES``, a
    ``package://`` URI, an absolute path, or a path relative to the description file)."""
    for scheme, root in URDF_SCHEMES.items():
        if location.startswith(scheme):
            return os.path.join(root(), location[len(scheme) :])
    if location.startswith(PACKAGE_SCHEME):
        return str(resolve_package_uri(location))
    path = Path(location)
    if not path.is_absolute() and relative_to is not None:
        path = relative_to / path
    return str(path)


def package_candidates(package: str, urdf_folder: Path | None = None) -> list[Path]:
    """Where a ROS package's files may be, in search order: the ament index (``AMENT_PREFIX_PATH``, then the
    prefixes of Python wheels), ``ROS_PACKAGE_PATH``, then the URDF file's ancestors (one named like the package,
    or holding a folder of that name: a URDF unpacked from a description package)."""
    candidates = []
    prefixes = [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    for prefix in [*prefixes, *python_prefixes()]:
        if (prefix / "share" / "ament_index" / "resource_index" / "packages" / package).is_file():
            candidates.append(prefix / "share" / package)
    for root in (Path(p) for p in os.environ.get("ROS_PACKAGE_PATH", "").split(os.pathsep) if p):
        candidates += [root] if root.name == package else [root / package]
    if urdf_folder is not None:
        for ancestor in (urdf_folder, *urdf_folder.parents):
            candidates += [ancestor] if ancestor.name == package else [ancestor / package]
    return candidates


def resolve_package_uri(uri: str, urdf_folder: Path | None = None) -> Path:
    """The file a ``package://PACKAGE/PATH`` URI names, searched as ``package_candidates`` says."""
    package, _, rest = uri[len(PACKAGE_SCHEME) :].partition("/")
    for folder in package_candidates(package, urdf_folder):
        if (folder / rest).exists():
            return folder / rest
    raise RobotDescriptionError(
        f"cannot resolve {uri}: package '{package}' is in neither the ament index (AMENT_PREFIX_PATH), "
        "ROS_PACKAGE_PATH, nor a folder of that name among the URDF's ancestors"
    )


def cache_folder(kind: str) -> Path:
    """A folder of the package's cache (``$XDG_CACHE_HOME/ikrl_ros/KIND``), created if needed."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = root / "ikrl_ros" / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_cached(kind: str, text: str, suffix: str) -> Path:
    """``text`` in the cache under a name from its hash: concurrent writers write the same bytes, atomically."""
    path = cache_folder(kind) / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}{suffix}"
    if not path.is_file():
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_text(text)
        os.replace(temporary, path)
    return path


def loadable_urdf(urdf: str) -> str:
    """A URDF whose meshes PyBullet, Pinocchio and Coal all find: ``urdf`` itself when each mesh is where
    PyBullet looks (``package://`` dropped, relative to the URDF's folder), else a copy in the cache with every
    mesh an absolute path, ``package://`` URIs resolved by ``resolve_package_uri``.

    A mesh that cannot be found is refused here, before a simulator loads the arm without it.
    """
    path = Path(urdf)
    try:
        tree = ElementTree.parse(path)
    except ElementTree.ParseError as error:
        raise RobotDescriptionError(f"malformed URDF {urdf}: {error}") from None
    changed = False
    for mesh in tree.getroot().iter("mesh"):
        filename = mesh.get("filename", "")
        beside = path.parent / filename.removeprefix(PACKAGE_SCHEME).removeprefix("file://")
        if beside.is_file():
            resolved = beside
        elif filename.startswith(PACKAGE_SCHEME):
            resolved, changed = resolve_package_uri(filename, path.parent.resolve()), True
        else:
            raise RobotDescriptionError(f"URDF {urdf}: mesh '{filename}' does not exist")
        mesh.set("filename", str(resolved.resolve()))  # the copy, if one is written, lies elsewhere
    if not changed:
        return urdf
    return str(write_cached("urdf", ElementTree.tostring(tree.getroot(), encoding="unicode"), ".urdf"))


def shipped_robots() -> list[str]:
    """Names of the robot descriptions shipped with the package."""
    folder = importlib.resources.files("ikrl_ros") / "robots"
    return sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir() if entry.name.endswith(".yaml"))


@functools.lru_cache(maxsize=16)
def load_arm(
    robot: str = DEFAULT_ROBOT,
    base_frame: str | None = None,
    tip_frame: str | None = None,
    joint_limits: str | None = None,
) -> Arm:
    """The arm a shipped robot name, a description file's path or a URDF's path describes (cached: it is
    immutable data).

    A URDF needs ``base_frame`` and ``tip_frame``, and takes a MoveIt ``joint_limits.yaml`` (``joint_limits``);
    ``robot_description.arm_from_urdf`` derives the rest. A description states its frames and limits: frames
    given with it must be its own.
    """
    if robot.endswith(URDF_SUFFIXES):
        # robot_description derives an arm with the kinematics, which are built on this module.
        from ikrl_ros.core.robot_description import arm_from_urdf

        return arm_from_urdf(robot, base_frame, tip_frame, joint_limits)
    if robot.endswith((".yaml", ".yml")):
        path = Path(robot)
        if not path.is_file():
            raise RobotDescriptionError(f"robot description file {robot} does not exist")
        text, folder = path.read_text(), path.parent
    else:
        entry = importlib.resources.files("ikrl_ros") / "robots" / f"{robot}.yaml"
        if not entry.is_file():
            raise RobotDescriptionError(
                f"unknown robot '{robot}': shipped robots are {shipped_robots()}, or give a URDF ({URDF_SUFFIXES})"
            )
        text, folder = entry.read_text(), None
    arm = arm_from_description(yaml.safe_load(text), folder)
    for what, given, stated in (("base_frame", base_frame, arm.base_frame), ("tip_frame", tip_frame, arm.tip_frame)):
        if given not in (None, "", stated):
            raise RobotDescriptionError(
                f"robot '{arm.name}' is described with {what} '{stated}', not '{given}': give its URDF "
                f"({arm.urdf}) for other frames"
            )
    if joint_limits:
        raise RobotDescriptionError(
            f"robot '{arm.name}' states its limits in its description; joint_limits ({joint_limits}) go with a URDF"
        )
    return arm


URDF_SUFFIXES = (".urdf", ".xml")


def arm_from_description(description: dict, folder: Path | None = None) -> Arm:
    """Build an ``Arm`` from a parsed description; every missing or malformed entry is named in the error."""
    try:
        joints = tuple(str(name) for name in description["joints"])
        limits = description["limits"]
        cartesian = limits["cartesian"]
        workspace, box = description["workspace"], description["safety_box"]
        arm = Arm(
            name=str(description["name"]),
            urdf=resolve_urdf(str(description["urdf"]), folder),
            base_frame=str(description["base_frame"]),
            tip_frame=str(description["tip_frame"]),
            joint_names=joints,
            locked_joints={str(k): float(v) for k, v in (description.get("locked_joints") or {}).items()},
            neutral=_vector(description["neutral"], len(joints), "neutral"),
            joint_limits=MotionLimits(
                *(_vector(limits[key], len(joints), f"limits.{key}") for key in ("velocity", "acceleration", "jerk"))
            ),
            linear_limits=MotionLimits(*(np.array(float(cartesian["linear"][k])) for k in MOTION_KEYS)),
            angular_limits=MotionLimits(*(np.array(float(cartesian["angular"][k])) for k in MOTION_KEYS)),
            workspace=Workspace(
                _vector(workspace["box_min"], 3, "workspace.box_min"),
                _vector(workspace["box_max"], 3, "workspace.box_max"),
                _vector(workspace["reach_center"], 3, "workspace.reach_center"),
                float(workspace["reach_radius"]),
            ),
            safety_box_min=_vector(box["min"], 3, "safety_box.min"),
            safety_box_max=_vector(box["max"], 3, "safety_box.max"),
            base_position_in_world=_vector(
                (description.get("simulation") or {}).get("base_position_in_world", [0.0, 0.0, 0.0]),
                3,
                "simulation.base_position_in_world",
            ),
            scene=_scene(description.get("scene") or []),
            disabled_collisions=_disabled_collisions(description.get("disabled_collisions") or {}),
            position_limits=_position_limits(limits.get("position"), len(joints)),
        )
    except RobotDescriptionError:
        raise
    except KeyError as missing:
        raise RobotDescriptionError(f"robot description lacks the entry {missing}") from None
    except (TypeError, ValueError) as error:
        raise RobotDescriptionError(f"robot description is malformed: {error}") from None
    if not os.path.isfile(arm.urdf):
        raise RobotDescriptionError(f"robot '{arm.name}': URDF {arm.urdf} does not exist")
    arm = replace(arm, urdf=loadable_urdf(arm.urdf))
    if len(set(joints)) != len(joints):
        raise RobotDescriptionError(f"robot '{arm.name}': joint names are duplicated: {list(joints)}")
    for group in (arm.joint_limits, arm.linear_limits, arm.angular_limits):
        if not all(np.all(np.asarray(values) > 0) for values in (group.velocity, group.acceleration, group.jerk)):
            raise RobotDescriptionError(f"robot '{arm.name}': velocity, acceleration and jerk limits must be positive")
    if np.any(arm.safety_box_min >= arm.safety_box_max):
        raise RobotDescriptionError(f"robot '{arm.name}': safety_box min must be below max")
    names = [box.name for box in arm.scene]
    if len(set(names)) != len(names):
        raise RobotDescriptionError(f"robot '{arm.name}': scene box names are duplicated: {names}")
    return arm


MOTION_KEYS = ("velocity", "acceleration", "jerk")


def _position_limits(entry: object, dof: int) -> tuple[np.ndarray, np.ndarray] | None:
    if entry is None:
        return None
    if not isinstance(entry, dict) or set(entry) != {"lower", "upper"}:
        raise ValueError(f"'limits.position' must have exactly 'lower' and 'upper', got {entry!r}")
    lower = _vector(entry["lower"], dof, "limits.position.lower")
    upper = _vector(entry["upper"], dof, "limits.position.upper")
    if np.any(lower >= upper):
        raise ValueError("'limits.position' lower limits must be below the upper ones")
    return lower, upper


def _scene(entries: object) -> tuple[SceneBox, ...]:
    if not isinstance(entries, list):
        raise ValueError(f"'scene' must be a list of boxes, got {entries!r}")
    boxes = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or "name" not in entry:
            raise ValueError(f"'scene[{index}]' must be a box with a name, min and max, got {entry!r}")
        name = str(entry["name"])
        unknown = set(entry) - {"name", "min", "max", "mounted"}
        if unknown:
            raise ValueError(f"scene box '{name}' has unknown entries {sorted(unknown)}")
        mounted = entry.get("mounted") or []
        if not isinstance(mounted, list):
            raise ValueError(f"'scene.{name}.mounted' must be a list of link names, got {mounted!r}")
        boxes.append(
            SceneBox(
                name,
                _vector(entry.get("min"), 3, f"scene.{name}.min"),
                _vector(entry.get("max"), 3, f"scene.{name}.max"),
                tuple(str(link) for link in mounted),
            )
        )
    return tuple(boxes)


def _disabled_collisions(entries: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(entries, dict):
        raise ValueError(f"'disabled_collisions' must map reasons to link pairs, got {entries!r}")
    pairs = []
    for reason, listed in entries.items():
        if reason not in DISABLED_COLLISION_REASONS:
            raise ValueError(
                f"'disabled_collisions' reason '{reason}' is not one of {list(DISABLED_COLLISION_REASONS)}"
            )
        for pair in listed or []:
            if not (isinstance(pair, list) and len(pair) == 2 and pair[0] != pair[1]):
                raise ValueError(f"'disabled_collisions.{reason}' entry {pair!r} must be two different link names")
            pairs.append(tuple(sorted(str(link) for link in pair)))
    if len(set(pairs)) != len(pairs):
        raise ValueError(f"'disabled_collisions' lists a pair twice: {sorted(pairs)}")
    return tuple(pairs)


def _vector(values: object, length: int, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.shape != (length,) or not np.all(np.isfinite(array)):
        raise ValueError(f"'{what}' must be {length} finite numbers, got {values!r}")
    return array
