"""Test-wide set-up: an isolated DDS domain per test process, and helpers for real ROS nodes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import rclpy.node

# Each pytest process (xdist worker) gets its own DDS domain so parallel tests never hear each other.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_worker_index = int(_worker[2:]) if _worker.startswith("gw") and _worker[2:].isdigit() else 0
# Domains 140..191: clear of the default 0, the demo's 42 and the benchmarks' (60..69 cube/earlier runs,
# 120+ workspace suites).
os.environ["ROS_DOMAIN_ID"] = str(140 + 4 * (os.getppid() % 13) + _worker_index % 4)
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ["RCUTILS_LOGGING_BUFFERED_STREAM"] = "0"


@pytest.fixture
def ros_node() -> Iterator[rclpy.node.Node]:
    """A plain rclpy node in this test process, torn down with its context."""
    import rclpy

    rclpy.init()
    node = rclpy.create_node(f"ikrl_test_{os.getpid()}")
    try:
        yield node
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def spin_until(node: rclpy.node.Node, condition: Callable[[], bool], timeout: float) -> bool:
    """Spin ``node`` until ``condition()`` holds or ``timeout`` seconds pass; returns the condition."""
    import rclpy

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        rclpy.spin_once(node, timeout_sec=0.01)
    return condition()


def wait_for_log(path: os.PathLike[str], text: str, timeout: float = 10.0) -> bool:
    """True once ``text`` appears in the node log at ``path``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and text in open(path, errors="replace").read():
            return True
        time.sleep(0.05)
    return False
