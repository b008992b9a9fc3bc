"""launch_testing of reach.launch.py: both nodes of the default stack (shipped SAC policy) come up.

launch, launch_ros and launch_testing are not installable from PyPI, so on machines without a
ROS 2 installation this module is skipped; test_package.py checks everything the launch file
names against the colcon install instead.
"""

from __future__ import annotations

import unittest
from pathlib import Path

import pytest

pytest.importorskip("launch_testing", reason="launch_testing/launch_ros come only with a ROS 2 installation, not from PyPI")

import launch  # noqa: E402
import launch_testing.actions  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402

LAUNCH_FILE = Path(__file__).resolve().parent.parent / "launch" / "reach.launch.py"


@pytest.mark.launch_test
def generate_test_description():
    reach = launch.actions.IncludeLaunchDescription(PythonLaunchDescriptionSource(str(LAUNCH_FILE)), launch_arguments={"sync_mode": "realtime"}.items())
    return launch.LaunchDescription([reach, launch_testing.actions.ReadyToTest()])


class TestReachLaunch(unittest.TestCase):
    def test_nodes_start(self, proc_output) -> None:
        proc_output.assertWaitFor("Panda bridge up", timeout=60)
        proc_output.assertWaitFor("reach controller 'sac' up", timeout=60)
