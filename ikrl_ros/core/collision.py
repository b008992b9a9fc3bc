"""Collision clearance of the arm against its scene and itself, and the speed scale it allows, as MoveIt Servo does.

Each command is checked before it runs: the caller measures the clearance now and at the next period's target,
and ``collision_scale`` slows motion that closes in on an obstacle (or on another link) inside a proximity
threshold, in proportion to the clearance left, and stops it a small margin before contact. Motion that does not
reduce the clearance is never slowed, so the arm can always back away.

Geometry: the URDF's collision meshes, each taken as its convex hull (Coal, through Pinocchio), with locked
joints at their description positions, and the description's scene boxes. PyBullet collides a URDF's mesh as
its convex hull too, so the model is the simulator's geometry. Distances are signed: negative is penetration.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, replace

import coal
import numpy as np
import pinocchio as pin

from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import Arm, RobotDescriptionError

SCENE_THRESHOLD = 0.02
"""m: motion toward the scene slows inside this clearance (MoveIt Servo's scene proximity threshold)."""
SELF_THRESHOLD = 0.01
"""m: motion of one link toward another slows inside this clearance (Servo's self proximity threshold)."""
STOP_MARGIN = 0.002
"""m: motion toward contact stops at this clearance, before the contact itself."""
MIN_SCALE = 0.01
"""Motion toward contact slowed below this fraction of its speed halts instead of creeping on to the margin."""
NO_PAIR = ("", "")
"""The pair of a channel with nothing to check (an arm without a scene)."""


@dataclass(frozen=True)
class Clearance:
    """Minimum signed distances (m) from the arm to its scene and between its links, and the closest pairs."""

    scene: float
    self_: float
    scene_pair: tuple[str, str]
    """(link, obstacle) of the smallest scene distance."""
    self_pair: tuple[str, str]
    """The two links of the smallest self distance."""


@dataclass(frozen=True)
class CollisionThresholds:
    """Where motion toward contact starts slowing (scene, self) and where it stops (all m)."""

    scene: float = SCENE_THRESHOLD
    self_: float = SELF_THRESHOLD
    stop_margin: float = STOP_MARGIN

    def __post_init__(self) -> None:
        if not 0.0 <= self.stop_margin < min(self.scene, self.self_):
            raise ValueError(
                f"stop margin {self.stop_margin} must be at least 0 and below both thresholds "
                f"({self.scene}, {self.self_})"
            )


CLEAR, DECELERATE, HALT = "clear", "decelerate", "halt"


def collision_scale(now: Clearance, after: Clearance, thresholds: CollisionThresholds) -> tuple[float, str]:
    """The speed scale in [0, 1] of a motion from clearance ``now`` to ``after`` (at full speed), and its status.

    Per channel (scene, self): a motion that does not reduce the clearance keeps full speed; one that reduces it
    is slowed in proportion to how far inside the threshold the clearance is, and no further than the stop
    margin along the step (the distance taken as changing linearly with the scale); at the margin, or slowed
    below ``MIN_SCALE``, it halts.
    """
    scale = min(
        _channel_scale(now.scene, after.scene, thresholds.scene, thresholds.stop_margin),
        _channel_scale(now.self_, after.self_, thresholds.self_, thresholds.stop_margin),
    )
    return scale, CLEAR if scale == 1.0 else HALT if scale == 0.0 else DECELERATE


def _channel_scale(now: float, after: float, threshold: float, margin: float) -> float:
    closing = now - after
    if closing <= 0.0:
        return 1.0
    scale = min(1.0, (now - margin) / (threshold - margin), (now - margin) / closing)
    return scale if scale >= MIN_SCALE else 0.0


class CollisionModel:
    """Signed distances of the arm's collision hulls to the scene boxes and to each other, at a posture.

    Scene pairs: every link with geometry against every box, but for the links mounted on that box. Self pairs:
    every two links with geometry, but for the description's disabled pairs.
    """

    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.kinematics = ArmKinematics(arm)
        model = self.kinematics.model
        folder = os.path.dirname(arm.urdf)
        try:
            geometry = pin.buildGeomFromUrdf(
                model, arm.urdf, pin.COLLISION, package_dirs=[folder, os.path.dirname(folder)]
            )
        except (RuntimeError, ValueError) as error:
            raise RobotDescriptionError(f"robot '{arm.name}': cannot load collision geometry: {error}") from None
        self.link_of: list[str] = []
        """The link (or obstacle) of each geometry object, by index."""
        for item in geometry.geometryObjects:
            if isinstance(item.geometry, coal.BVHModelBase):
                item.geometry.buildConvexHull(True, "Qt")
                item.geometry = item.geometry.convex
            self.link_of.append(model.frames[item.parentFrame].name)
        links = set(self.link_of)
        if not links:
            raise RobotDescriptionError(f"robot '{arm.name}': {arm.urdf} has no collision geometry")
        self._check_links_named(links)
        base_id = model.getFrameId(arm.base_frame)
        data = model.createData()
        pin.framesForwardKinematics(model, data, pin.neutral(model))
        base = data.oMf[base_id]
        arm_objects = range(geometry.ngeoms)
        pairs: list[tuple[int, int]] = []
        for box in arm.scene:
            placement = base * pin.SE3(np.eye(3), box.center)
            index = geometry.addGeometryObject(pin.GeometryObject(box.name, 0, base_id, placement, coal.Box(*box.size)))
            self.link_of.append(box.name)
            pairs += [(i, index) for i in arm_objects if self.link_of[i] not in box.mounted_links]
        self.scene_count = len(pairs)
        disabled = set(arm.disabled_collisions)
        pairs += [
            (i, j)
            for i in arm_objects
            for j in arm_objects
            if i < j
            and self.link_of[i] != self.link_of[j]
            and tuple(sorted((self.link_of[i], self.link_of[j]))) not in disabled
        ]
        for first, second in pairs:
            geometry.addCollisionPair(pin.CollisionPair(first, second))
        self.pairs: tuple[tuple[str, str], ...] = tuple((self.link_of[i], self.link_of[j]) for i, j in pairs)
        """Every checked pair by name: the scene pairs (link, obstacle) first, then the self pairs."""
        self.geometry = geometry
        self.data = model.createData()
        self.geometry_data = pin.GeometryData(geometry)
        self._results = list(self.geometry_data.distanceResults)

    def _check_links_named(self, links: set[str]) -> None:
        named = {link for box in self.arm.scene for link in box.mounted_links}
        named |= {link for pair in self.arm.disabled_collisions for link in pair}
        unknown = sorted(named - links)
        if unknown:
            raise RobotDescriptionError(
                f"robot '{self.arm.name}': links {unknown} named in the scene or disabled collisions "
                f"have no collision geometry in {self.arm.urdf}"
            )

    def distances(self, q: np.ndarray) -> np.ndarray:
        """Signed distance (m) of every pair of ``pairs`` at joint positions ``q``."""
        pin.computeDistances(
            self.kinematics.model, self.data, self.geometry, self.geometry_data, self.kinematics._configuration(q)
        )
        return np.fromiter((result.min_distance for result in self._results), float, len(self._results))

    def clearance(self, q: np.ndarray) -> Clearance:
        """The smallest scene and self distances at joint positions ``q``, with their pairs."""
        values = self.distances(q)
        scene, own = values[: self.scene_count], values[self.scene_count :]
        closest_scene = int(np.argmin(scene)) if scene.size else -1
        closest_self = int(np.argmin(own)) + self.scene_count if own.size else -1
        return Clearance(
            scene=float(values[closest_scene]) if scene.size else np.inf,
            self_=float(values[closest_self]) if own.size else np.inf,
            scene_pair=self.pairs[closest_scene] if scene.size else NO_PAIR,
            self_pair=self.pairs[closest_self] if own.size else NO_PAIR,
        )


_MODELS: dict[tuple[str, str], CollisionModel] = {}


def shared_collision_model(arm: Arm) -> CollisionModel:
    """The arm's collision model, built once per process (loading and hulling its meshes takes about a second)."""
    key = (arm.name, arm.urdf)
    if key not in _MODELS:
        _MODELS[key] = CollisionModel(arm)
    return _MODELS[key]


def adjacent_links(arm: Arm, links: set[str]) -> set[tuple[str, str]]:
    """Pairs of links with geometry that a joint connects, skipping links without geometry between them (the
    Panda's link8 between link7 and the hand), as MoveIt's setup assistant counts adjacency."""
    parent_of = {
        joint.find("child").get("link"): joint.find("parent").get("link")
        for joint in ElementTree.parse(arm.urdf).getroot().findall("joint")  # not <transmission>s joints
    }
    pairs = set()
    for link in links:
        parent = parent_of.get(link)
        while parent is not None and parent not in links:
            parent = parent_of.get(parent)
        if parent is not None:
            pairs.add(tuple(sorted((link, parent))))
    return pairs


def sample_disabled_collisions(
    arm: Arm, samples: int = 20000, seed: int = 0, threshold: float = SELF_THRESHOLD
) -> dict[str, list[tuple[str, str]]]:
    """The self-collision pairs to leave unchecked, by reason (the description's ``disabled_collisions``).

    Adjacent links, then pairs closer than ``threshold`` in every one of ``samples`` postures drawn uniformly
    within the joint limits: checking them would stop every motion. Fewer samples can only add pairs.
    """
    unfiltered = CollisionModel(replace(arm, scene=(), disabled_collisions=()))
    adjacent = adjacent_links(arm, set(unfiltered.link_of))
    rng = np.random.default_rng(seed)
    always_close = np.ones(len(unfiltered.pairs), bool)
    lower, upper = unfiltered.kinematics.sampling_range()
    for _ in range(samples):
        always_close &= unfiltered.distances(rng.uniform(lower, upper)) < threshold
    always = {
        tuple(sorted(pair)) for pair, close in zip(unfiltered.pairs, always_close, strict=True) if close
    } - adjacent
    return {"adjacent": sorted(adjacent), "always": sorted(always)}
