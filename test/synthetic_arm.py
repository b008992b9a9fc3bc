"""A synthetic 6-DoF arm as a URDF in a description package, for the tests of arms from their URDF."""

from __future__ import annotations

from pathlib import Path

import numpy as np

AXES = ["0 0 1", "0 1 0", "0 1 0", "0 0 1", "0 1 0", "0 0 1"]
PACKAGE = "my_arm_description"


def cube_stl(size: float) -> str:
    """An ASCII STL cube of edge ``size`` centred on the origin (12 triangles)."""
    h = size / 2
    corners = np.array([[x, y, z] for x in (-h, h) for y in (-h, h) for z in (-h, h)])
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    lines = ["solid cube"]
    for a, b, c, d in faces:
        for tri in ((a, b, c), (a, c, d)):
            lines += ["facet normal 0 0 0", "outer loop"]
            lines += [f"vertex {' '.join(f'{v:.6f}' for v in corners[i])}" for i in tri]
            lines += ["endloop", "endfacet"]
    return "\n".join([*lines, "endsolid cube"]) + "\n"


def arm_urdf(
    mesh: str = f"package://{PACKAGE}/meshes/link.stl",
    last_joint: str = "continuous",
    velocity: str = 'velocity="2"',
    extra: str = "",
) -> str:
    """A 6-DoF arm under a ``world`` root, a tool past a fixed joint, a two-finger gripper off the chain (one finger's
    range excludes 0) and a camera on the base."""
    parts = [
        '<?xml version="1.0"?>',
        '<robot name="six">',
        '<link name="world"/>',
        f'<link name="base"><collision><geometry><mesh filename="{mesh}"/></geometry></collision></link>',
        '<joint name="mount" type="fixed"><parent link="world"/><child link="base"/></joint>',
    ]
    parent = "base"
    for i, axis in enumerate(AXES, start=1):
        kind = last_joint if i == 6 else "revolute"
        limit = (
            f'<limit effort="50" {velocity}/>'
            if kind == "continuous"
            else f'<limit lower="-2.5" upper="2.5" effort="50" {velocity}/>'
        )
        z = 0.2 if i in (2, 3) else 0.1
        geometry = (
            f'<collision><origin xyz="0 0 {z / 2}"/><geometry><box size="0.04 0.04 {z * 0.5}"/></geometry></collision>'
        )
        parts.append(
            f'<link name="l{i}">{geometry}<inertial><mass value="1"/><inertia ixx="0.01" iyy="0.01" izz="0.01" '
            f'ixy="0" ixz="0" iyz="0"/></inertial></link>'
            f'<joint name="j{i}" type="{kind}"><parent link="{parent}"/><child link="l{i}"/>'
            f'<origin xyz="0 0 {z}"/><axis xyz="{axis}"/>{limit}</joint>'
        )
        parent = f"l{i}"
    parts += [
        '<link name="tool"/>',
        '<joint name="tool_joint" type="fixed"><parent link="l6"/><child link="tool"/><origin xyz="0 0 0.1"/></joint>',
        '<link name="finger_a"/><link name="finger_b"/><link name="camera"/>',
        '<joint name="finger_a_joint" type="prismatic"><parent link="l6"/><child link="finger_a"/><axis xyz="1 0 0"/>'
        '<limit lower="0" upper="0.04" effort="10" velocity="0.1"/></joint>',
        '<joint name="finger_b_joint" type="prismatic"><parent link="l6"/><child link="finger_b"/><axis xyz="1 0 0"/>'
        '<limit lower="0.01" upper="0.03" effort="10" velocity="0.1"/></joint>',
        '<joint name="camera_joint" type="fixed"><parent link="base"/><child link="camera"/></joint>',
        extra,
        "</robot>",
    ]
    return "\n".join(parts)


def write_arm(root: Path, urdf: str) -> Path:
    """A description package PACKAGE with ``urdf`` and its mesh; returns the URDF's path."""
    (root / "urdf").mkdir(parents=True)
    (root / "meshes").mkdir()
    (root / "meshes" / "link.stl").write_text(cube_stl(0.08))
    path = root / "urdf" / "arm.urdf"
    path.write_text(urdf)
    return path
