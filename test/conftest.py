"""Test-wide set-up: an isolated DDS domain per test process, and helpers for real ROS nodes."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import rclpy.node


# Each pytest process (xdist worker) gets its own DDS domain so parallel tests never hear each other: the first of
# 140..191 whose lock file no other live process holds (clear of the default 0, the demo's 42 and the benchmarks'
# 60..69 and 120+). A lock, not a hash of the process id: separate sessions on one machine must never share one.
def _claim_free_domain(first: int = 140, last: int = 191) -> int:
    for domain in range(first, last + 1):
        handle = open(f"/tmp/ikrl_test_domain_{domain}.lock", "w")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _DOMAIN_LOCKS.append(handle)
        return domain
    raise RuntimeError(f"no free ROS domain in {first}..{last}: too many test sessions at once")


_DOMAIN_LOCKS: list = []
os.environ["ROS_DOMAIN_ID"] = str(_claim_free_domain())
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
