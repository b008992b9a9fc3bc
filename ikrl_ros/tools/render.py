"""Headless pictures of a run: an animation replayed in PyBullet's TinyRenderer, and a plot of end-effector paths."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import imageio.v2 as imageio
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ikrl_ros.core.robot import Arm, load_arm  # noqa: E402
from ikrl_ros.core.sim import simulate  # noqa: E402


def render_animation(
    joint_positions: Sequence[np.ndarray],
    goals: Sequence[np.ndarray],
    path: Path,
    fps: int = 25,
    width: int = 320,
    height: int = 240,
    arm: Arm | None = None,
) -> Path:
    """Replay recorded joint positions of ``arm`` (default the Panda; with the goal of each frame, in its base
    frame) as a GIF.

    Replaying the recorded states in a second, render-only simulator keeps rendering out of the
    bridge's control loop.
    """
    arm = arm or load_arm()
    sim = simulate(arm)
    frames = []
    try:
        for positions, goal in zip(joint_positions, goals, strict=True):
            sim.set_arm_positions(positions)
            sim.show_goal(arm.base_to_world(goal))
            frames.append(sim.render(width, height))
    finally:
        sim.close()
    imageio.mimsave(path, frames, duration=1000 / fps, loop=0)
    return path


def plot_paths(
    paths: Sequence[np.ndarray],
    goals: Sequence[np.ndarray],
    reached: Sequence[bool],
    path: Path,
    title: str,
    base_frame: str | None = None,
) -> Path:
    """End-effector paths (one colour per goal) with their goals, in three views of the base frame."""
    base_frame = base_frame or load_arm().base_frame
    figure, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    views = (("x", "y", 0, 1), ("x", "z", 0, 2), ("y", "z", 1, 2))
    colours = plt.cm.viridis(np.linspace(0, 1, max(len(goals), 1)))
    for axis, (xlabel, ylabel, i, j) in zip(axes, views, strict=True):
        for index, (points, goal, ok, colour) in enumerate(zip(paths, goals, reached, colours, strict=False), 1):
            if len(points):
                axis.plot(points[:, i], points[:, j], "-", color=colour, linewidth=1.2)
            axis.plot(goal[i], goal[j], "o" if ok else "x", color=colour, markersize=7)
            axis.annotate(str(index), (goal[i], goal[j]), textcoords="offset points", xytext=(4, 4), fontsize=7)
        axis.set_xlabel(f"{xlabel} in {base_frame} (m)")
        axis.set_ylabel(f"{ylabel} (m)")
        axis.set_aspect("equal", adjustable="datalim")
        axis.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
