"""The control convention every layer shares: the control period and the speed of a unit action.

These are panda-gym's numbers (``env.step`` = 20 physics steps of 1/500 s; an action of 1 moves the end
effector 5 cm or a joint 0.05 rad per step), kept for every arm so that policies, the bridge and the
training environments agree on what an action means.
"""

from __future__ import annotations

import numpy as np

PHYSICS_TIMESTEP = 1.0 / 500.0
SUBSTEPS_PER_CONTROL = 20
CONTROL_PERIOD = PHYSICS_TIMESTEP * SUBSTEPS_PER_CONTROL
"""0.04 s: one panda-gym ``env.step``."""

EE_STEP_PER_ACTION = 0.05
"""Metres of end-effector displacement per unit action and control period (panda-gym's scaling)."""
JOINT_STEP_PER_ACTION = 0.05
"""Radians of joint displacement per unit action and control period (panda-gym's joint control)."""
MAX_CARTESIAN_SPEED = EE_STEP_PER_ACTION / CONTROL_PERIOD
"""1.25 m/s: the Cartesian speed of a unit action, the limit of the ``cartesian_cmd`` interface."""
ROTATION_STEP_PER_ACTION = 0.05
"""Radians of end-effector rotation per unit angular action and control period (pose policies)."""
MAX_ANGULAR_SPEED = ROTATION_STEP_PER_ACTION / CONTROL_PERIOD
"""1.25 rad/s: the angular speed of a unit angular action, the default limit of ``cartesian_cmd``'s angular part."""

JOINT_LIMIT_MARGIN = 0.01
"""Default margin (rad) inside the position limits that joint targets keep."""
MAX_JOINT_STEP = 0.1
"""Default largest joint-target change per control period (rad)."""

BRAKING_DECELERATION = 2.0
"""m/s²: Cartesian approaches (the proportional controller, learned Cartesian actions) go no faster than they can
stop at the goal at this deceleration, well within what the Panda's joint acceleration limits give the tip."""
ANGULAR_BRAKING_DECELERATION = 4.0
"""rad/s²: the same for turning toward a goal orientation."""
REACH_PER_ACTION = 0.25
"""Workspace policies: metres of tip displacement target per unit action (and per unit of ``JOINT_REACH_PER_ACTION``
for joints), approached within the limits (``braked``)."""
TURN_PER_ACTION = 0.5
"""Workspace pose policies: radians of tip rotation target per unit angular action."""
JOINT_REACH_PER_ACTION = 0.25
"""Workspace joint-space policies: radians of joint displacement target per unit action."""


def braked(error: np.ndarray, gain: float, period: float, max_speed: float, deceleration: float) -> np.ndarray:
    """``gain × error / period`` along the error, no faster than ``max_speed`` nor than the speed from which
    ``deceleration`` stops at the goal: a velocity an acceleration-limited arm follows without overshoot."""
    distance = float(np.linalg.norm(error))
    if distance == 0.0:
        return np.zeros_like(error)
    speed = min(gain * distance / period, max_speed, float(np.sqrt(2.0 * deceleration * distance)))
    return error * (speed / distance)
