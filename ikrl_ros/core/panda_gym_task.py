"""panda-gym's PandaReach task (the study this package reproduces): its goal box, threshold and episode length.

Only the reproduction of the study (PandaReach-v3 policies, the cube suite) uses these; they describe
panda-gym's task, not the robot, and are in panda-gym's world frame.
"""

from __future__ import annotations

import numpy as np

GOAL_LOW_WORLD = np.array([-0.15, -0.15, 0.0])
GOAL_HIGH_WORLD = np.array([0.15, 0.15, 0.3])
DISTANCE_THRESHOLD = 0.05
EPISODE_STEPS = 50


def sample_goals_world(count: int, seed: int) -> np.ndarray:
    """Goals drawn uniformly from panda-gym's PandaReach goal box, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    return rng.uniform(GOAL_LOW_WORLD, GOAL_HIGH_WORLD, size=(count, 3))
