"""The URDF that PyBullet simulates, made loadable by robot_state_publisher and RViz."""

from __future__ import annotations

import re
from pathlib import Path

from ikrl_ros.core.robot import DEFAULT_ROBOT, load_arm


def urdf_for_rviz(robot: str = DEFAULT_ROBOT) -> str:
    """The arm's URDF with relative mesh references made absolute ``file://`` URIs.

    pybullet_data's ``panda.urdf`` writes ``package://meshes/...`` although no ROS package called
    ``meshes`` exists; the meshes lie beside the URDF, which is where PyBullet looks too.
    """
    urdf_path = load_arm(robot).urdf
    urdf = Path(urdf_path)
    return re.sub(
        r'filename="(?:package://)?(?!file://|/)([^"]+)"',
        lambda match: f'filename="file://{(urdf.parent / match.group(1)).resolve()}"',
        urdf.read_text(),
    )
