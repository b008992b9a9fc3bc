"""The Panda URDF that PyBullet simulates, made loadable by robot_state_publisher and RViz."""

from __future__ import annotations

import re
from pathlib import Path

from ikrl_ros.core.kinematics import PANDA_URDF


def panda_urdf_for_rviz(urdf_path: str = PANDA_URDF) -> str:
    """pybullet_data's ``panda.urdf`` with its mesh references made absolute ``file://`` URIs.

    That URDF writes ``package://meshes/...`` although no ROS package called ``meshes`` exists;
    the meshes lie beside the URDF, which is where PyBullet looks too.
    """
    urdf = Path(urdf_path)
    return re.sub(
        r'filename="(?:package://)?(?!file://|/)([^"]+)"',
        lambda match: f'filename="file://{(urdf.parent / match.group(1)).resolve()}"',
        urdf.read_text(),
    )
