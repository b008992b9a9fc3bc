"""The pip user's path: the package's wheel, installed into a bare folder, runs the reach stack with the shipped
policy from outside the checkout, so nothing it needs may live only in the source tree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import wait_for_log

from ikrl_ros.tools.goal_runner import connected_runner
from ikrl_ros.tools.stack import stop_node

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_FILES = ["package.xml", "setup.py", "setup.cfg", "resource", "ikrl_ros", "launch", "config"]
GOAL = np.array([0.5, 0.1, 0.3])
"""m in panda_link0, inside the workspace the shipped policy was trained on."""

AUDITED_MODULE = (
    "import runpy, sys\n"
    "sys.addaudithook(lambda event, args: event == 'open' and str(args[0]).endswith('.pt')"
    " and print(f'opened {args[0]}', flush=True))\n"
    "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)\n"
)
"""``python -c AUDITED_MODULE MODULE ARGS`` runs like ``python -m MODULE ARGS`` and prints every .pt file opened."""


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel`` of a copy of the package's files (the build's folders stay out of the checkout), then
    ``pip install --target`` of that wheel into an empty folder."""
    work = tmp_path_factory.mktemp("install")
    source = work / "src"
    source.mkdir()
    for name in PACKAGE_FILES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(path, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    build = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(work / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = (work / "dist").glob("ikrl_ros-*.whl")
    install = subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "--target", str(work / "target"), str(wheel)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    return work / "target"


def installed_environment(target: Path) -> dict[str, str]:
    """This test's environment (its ROS domain included) with only the installed package importable."""
    return {**os.environ, "PYTHONPATH": str(target)}


def test_the_installed_wheel_reaches_a_goal_with_its_shipped_policy_from_outside_the_checkout(
    target: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert ROOT not in outside.resolve().parents, "the nodes must run outside the checkout"
    env = installed_environment(target)

    # The installed launch/config files: the wheel's data files, found through the ament index of their prefix.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, ikrl_ros; from ikrl_ros.tools.resources import share_path; "
            "print(json.dumps({'package': ikrl_ros.__file__, 'params': str(share_path('config', 'reach.yaml'))}))",
        ],
        cwd=outside,
        env={**env, "AMENT_PREFIX_PATH": str(target)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert Path(found["package"]).is_relative_to(target), found
    params = Path(found["params"])
    assert params == target / "share" / "ikrl_ros" / "config" / "reach.yaml", found

    ros_args = ["--ros-args", "--params-file", str(params), "-p", "sync_mode:=lockstep"]  # reach.yaml: controller sac
    logs = {name: tmp_path / f"{name}.log" for name in ("bridge", "controller")}
    commands = {
        "bridge": [sys.executable, "-u", "-m", "ikrl_ros.nodes.bridge_node", *ros_args],
        "controller": [sys.executable, "-u", "-c", AUDITED_MODULE, "ikrl_ros.nodes.reach_controller_node", *ros_args],
    }
    processes = []
    try:
        for name, cmd in commands.items():
            with open(logs[name], "w") as log:
                processes.append(subprocess.Popen(cmd, cwd=outside, env=env, stdout=log, stderr=subprocess.STDOUT))
        assert wait_for_log(logs["controller"], "opened ", timeout=40), logs["controller"].read_text()
        with connected_runner() as runner:
            outcome = runner.run_goal(GOAL, "goal_pose", budget_steps=75, stop_error=0.002)
        assert all(process.poll() is None for process in processes), "a node died during the run"
    finally:
        for process in reversed(processes):
            stop_node(process)

    assert outcome.final_error <= 0.005, f"final error {outcome.final_error * 1000:.1f} mm"
    opened = [
        Path(line.split(" ", 1)[1])
        for line in logs["controller"].read_text().splitlines()
        if line.startswith("opened ")
    ]
    assert opened and all(path.is_relative_to(target / "ikrl_ros" / "policies") for path in opened), opened
    assert {path.name for path in opened} == {"sac_workspace_limited.pt"}, opened  # strict: the limited policy
