"""The reach controller's RViz markers, built from a ``ReachState`` (message construction only)."""

from __future__ import annotations

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point
from visualization_msgs.msg import Marker, MarkerArray

from ikrl_ros.core.controllers import ReachState

GOAL_AXIS_LENGTH = 0.08
"""Length (m) of the goal orientation's axis arrows."""


def reach_markers(state: ReachState, stamp: Time, goal_tolerance: float, frame_id: str) -> MarkerArray:
    """Goal, end effector and tolerance sphere (diameter twice the tolerance), plus the goal's axes."""
    spheres = (
        ("goal", state.goal, 0.03, (0.1, 0.9, 0.1, 0.9)),
        ("end_effector", state.ee_position, 0.02, (0.1, 0.3, 0.9, 0.9)),
        ("tolerance", state.goal, 2 * goal_tolerance, (0.1, 0.9, 0.1, 0.15)),
    )
    markers = MarkerArray()
    for marker_id, (namespace, position, diameter, rgba) in enumerate(spheres):
        marker = Marker()
        marker.header.stamp, marker.header.frame_id = stamp, frame_id
        marker.ns, marker.id, marker.type, marker.action = namespace, marker_id, Marker.SPHERE, Marker.ADD
        marker.pose.position.x, marker.pose.position.y, marker.pose.position.z = (float(v) for v in position)
        marker.pose.orientation.w = 1.0
        marker.scale.x = marker.scale.y = marker.scale.z = float(diameter)
        marker.color.r, marker.color.g, marker.color.b, marker.color.a = rgba
        markers.markers.append(marker)
    markers.markers += goal_axes(state, stamp, frame_id, first_id=len(spheres))
    return markers


def goal_axes(state: ReachState, stamp: Time, frame_id: str, first_id: int) -> list[Marker]:
    """The goal orientation's x, y, z axes as red, green, blue arrows (deleted for position-only goals)."""
    arrows = []
    for axis in range(3):
        marker = Marker()
        marker.header.stamp, marker.header.frame_id = stamp, frame_id
        marker.ns, marker.id, marker.type = "goal_axes", first_id + axis, Marker.ARROW
        marker.action = Marker.DELETE if state.goal_rotation is None else Marker.ADD
        if state.goal_rotation is not None:
            start, end = state.goal, state.goal + GOAL_AXIS_LENGTH * state.goal_rotation[:, axis]
            marker.points = [Point(x=float(a), y=float(b), z=float(c)) for a, b, c in (start, end)]
            marker.scale.x, marker.scale.y, marker.scale.z = 0.006, 0.012, 0.0
            marker.color.r, marker.color.g, marker.color.b = (float(axis == i) for i in range(3))
            marker.color.a = 1.0
        arrows.append(marker)
    return arrows
