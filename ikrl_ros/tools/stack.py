"""Start the bridge and the reach controller as separate OS processes talking over DDS.

This is what ``ros2 launch ikrl_ros reach.launch.py`` does on a machine with the ROS 2 launch
tools; the demo, the tests and the benchmarks use it where ``launch`` is not installed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ikrl_ros.tools.resources import share_path


def ros_args(parameters: dict[str, Any], params_file: Path | None) -> list[str]:
    """``--ros-args`` for a node: the params file first, then explicit overrides."""
    args = ["--ros-args"]
    if params_file is not None:
        args += ["--params-file", str(params_file)]
    for name, value in parameters.items():
        if isinstance(value, bool):
            value = str(value).lower()
        elif value == "":
            value = "''"  # YAML for the empty string; a bare ':=' would be null
        args += ["-p", f"{name}:={value}"]
    return args


def start_node(
    module: str, parameters: dict[str, Any], log_path: Path, params_file: Path | None = None
) -> subprocess.Popen:
    """One node as ``python -m <module>``, its output in ``log_path``."""
    with open(log_path, "w") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-u", "-m", module, *ros_args(parameters, params_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )


def stop_node(process: subprocess.Popen, timeout: float = 10.0) -> int:
    """SIGINT, as ``ros2 launch`` sends on Ctrl-C; SIGKILL if the node does not exit in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


FORGIVING = {"strict": False}
"""Both nodes without ``strict``: panda-gym's motors, which accept any target (the launch default is ``strict``)."""


@contextmanager
def reach_stack(
    log_dir: Path,
    bridge: dict[str, Any] | None = None,
    controller: dict[str, Any] | None = None,
    params_file: Path | None = None,
) -> Iterator[tuple[subprocess.Popen, subprocess.Popen]]:
    """Bridge + controller processes with ``config/reach.yaml`` and the given overrides."""
    params_file = params_file or share_path("config", "reach.yaml")
    log_dir.mkdir(parents=True, exist_ok=True)
    processes = (
        start_node("ikrl_ros.nodes.bridge_node", bridge or {}, log_dir / "panda_bridge.log", params_file),
        start_node(
            "ikrl_ros.nodes.reach_controller_node", controller or {}, log_dir / "reach_controller.log", params_file
        ),
    )
    try:
        yield processes
    finally:
        for process in reversed(processes):
            stop_node(process)
