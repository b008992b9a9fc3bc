"""Collision clearance of the Panda against panda-gym's table and itself, and the speed scale it allows."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from ikrl_ros.core.collision import (
    CLEAR,
    DECELERATE,
    HALT,
    MIN_SCALE,
    Clearance,
    CollisionModel,
    CollisionThresholds,
    collision_scale,
    sample_disabled_collisions,
)
from ikrl_ros.core.robot import RobotDescriptionError, SceneBox, load_arm
from ikrl_ros.core.rotations import top_down
from ikrl_ros.core.workspace import sample_start_posture

THRESHOLDS = CollisionThresholds()
FINGERTIP_PAST_GRASP_TARGET = 0.0072
"""m: the finger hulls end this far past the grasp target (0.0584 + 0.0538 - 0.105 along the hand's axis)."""
FINGERS = {"panda_leftfinger", "panda_rightfinger"}


@pytest.fixture(scope="module")
def model() -> CollisionModel:
    return CollisionModel(load_arm("panda"))


def hand_down_at(model: CollisionModel, position: list[float]) -> np.ndarray:
    result = model.kinematics.solve_ik(np.array(position), goal_rotation=top_down(0.0))
    assert result.converged and result.angle_error < 1e-4
    return result.joint_positions


def test_neutral_is_clear(model: CollisionModel) -> None:
    now = model.clearance(model.arm.neutral)
    assert now.scene > THRESHOLDS.scene and now.self_ > THRESHOLDS.self_
    assert now.scene_pair == ("panda_link1", "table")  # the shoulder's underside, 14 cm above the table top
    assert collision_scale(now, now, THRESHOLDS) == (1.0, CLEAR)


def test_the_base_is_not_checked_against_the_table_it_stands_on(model: CollisionModel) -> None:
    assert ("panda_link0", "table") not in model.pairs and ("panda_link0", "plane") in model.pairs
    assert ("panda_leftfinger", "panda_rightfinger") not in model.pairs  # the closed fingers always touch
    assert ("panda_link0", "panda_hand") in model.pairs


def test_the_hand_pushed_into_the_table_reports_the_finger_and_the_depth(model: CollisionModel) -> None:
    inside = model.clearance(hand_down_at(model, [0.5, 0.0, -0.02]))
    assert inside.scene_pair[0] in FINGERS and inside.scene_pair[1] == "table"
    assert inside.scene == pytest.approx(-0.02 - FINGERTIP_PAST_GRASP_TARGET, abs=5e-4)
    assert collision_scale(model.clearance(model.arm.neutral), inside, THRESHOLDS)[1] != CLEAR


def test_the_lowest_workspace_goal_hand_down_is_above_the_stop_margin(model: CollisionModel) -> None:
    """The workspace floor (z = 1 cm): the fingertips are 2.8 mm above the table, inside the scene threshold."""
    floor = model.arm.workspace.box_min[2]
    there = model.clearance(hand_down_at(model, [0.5, 0.0, floor]))
    assert there.scene == pytest.approx(floor - FINGERTIP_PAST_GRASP_TARGET, abs=5e-4)
    assert THRESHOLDS.stop_margin < there.scene < THRESHOLDS.scene
    above = model.clearance(hand_down_at(model, [0.5, 0.0, floor + 0.01]))
    scale, status = collision_scale(above, there, THRESHOLDS)
    assert status == DECELERATE and MIN_SCALE <= scale < 1.0


def test_a_fully_folded_elbow_puts_the_wrist_on_the_shoulder(model: CollisionModel) -> None:
    folded = model.clearance(np.array([0.0, 0.41, 0.0, -3.0, 0.0, 0.2, 0.79]))
    assert folded.self_ < 0.0 and folded.self_pair == ("panda_link1", "panda_link6")
    assert folded.scene > THRESHOLDS.scene
    neutral = model.clearance(model.arm.neutral)
    scale, status = collision_scale(neutral, folded, THRESHOLDS)  # one step all the way: cut short at the margin
    assert status == DECELERATE
    assert scale == pytest.approx((neutral.self_ - THRESHOLDS.stop_margin) / (neutral.self_ - folded.self_))


def test_driving_into_the_table_stops_at_the_margin_and_backing_away_is_free(model: CollisionModel) -> None:
    above, inside = hand_down_at(model, [0.5, 0.0, 0.1]), hand_down_at(model, [0.5, 0.0, -0.05])
    for steps in (4, 40):  # 3.75 cm, then 3.75 mm of grasp-target travel per step
        step = (inside - above) / steps
        q, now, statuses = above, model.clearance(above), []
        for _ in range(200):
            scale, status = collision_scale(now, model.clearance(q + step), THRESHOLDS)
            q, now = q + scale * step, model.clearance(q + scale * step)
            statuses.append(status)
            assert now.scene > THRESHOLDS.stop_margin - 2e-4
        assert statuses[-1] == HALT and DECELERATE in statuses
        assert now.scene < THRESHOLDS.stop_margin + 1e-3
        assert collision_scale(now, model.clearance(q - step), THRESHOLDS) == (1.0, CLEAR)


def test_motion_that_does_not_reduce_clearance_is_never_slowed() -> None:
    rng = np.random.default_rng(0)
    for _ in range(2000):
        scene, own = rng.uniform(-0.05, 0.05, 2)
        now = Clearance(scene, own, ("a", "b"), ("c", "d"))
        after = Clearance(scene + rng.uniform(0, 0.01), own + rng.uniform(0, 0.01), ("e", "f"), ("g", "h"))
        assert collision_scale(now, after, THRESHOLDS) == (1.0, CLEAR)
        scale, _ = collision_scale(after, now, THRESHOLDS)  # the reverse motion closes in
        assert 0.0 <= scale <= 1.0


def test_closing_in_slows_in_proportion_and_never_steps_past_the_margin() -> None:
    def scale_of(scene_now: float, scene_after: float) -> float:
        return collision_scale(
            Clearance(scene_now, 1.0, ("", ""), ("", "")), Clearance(scene_after, 1.0, ("", ""), ("", "")), THRESHOLDS
        )[0]

    margin, threshold = THRESHOLDS.stop_margin, THRESHOLDS.scene
    assert scale_of(0.05, 0.03) == 1.0
    assert scale_of(0.011, 0.0109) == pytest.approx((0.011 - margin) / (threshold - margin))
    assert scale_of(0.008, 0.007) > scale_of(0.004, 0.003) > 0.0
    assert scale_of(0.05, -0.05) == pytest.approx((0.05 - margin) / 0.1)  # lands on the margin
    assert scale_of(margin, margin - 1e-3) == 0.0 and scale_of(-0.01, -0.02) == 0.0
    with pytest.raises(ValueError, match="stop margin"):
        CollisionThresholds(scene=0.02, self_=0.01, stop_margin=0.01)


def test_clearance_is_fast(model: CollisionModel) -> None:
    """Checked every training step: the median is about 0.1 ms here; the bound leaves room for a loaded machine."""
    rng = np.random.default_rng(1)
    postures = [sample_start_posture(rng, model.kinematics) for _ in range(300)]
    durations = []
    for q in postures:
        start = time.perf_counter()
        model.clearance(q)
        durations.append(time.perf_counter() - start)
    assert np.median(durations) < 2e-3


def test_the_disabled_pairs_are_those_sampling_finds(model: CollisionModel) -> None:
    arm = model.arm
    found = sample_disabled_collisions(arm, samples=300)
    stored = set(arm.disabled_collisions)
    assert set(found["adjacent"]) <= stored
    assert stored - set(found["adjacent"]) <= set(found["always"])  # fewer samples can only add pairs


def test_links_named_without_geometry_are_refused() -> None:
    arm = load_arm("panda")
    table = replace(arm.scene[0], mounted_links=("panda_link8",))
    with pytest.raises(RobotDescriptionError, match=r"links \['panda_link8'\] named in the scene"):
        CollisionModel(replace(arm, scene=(table,)))
    with pytest.raises(RobotDescriptionError, match="no collision geometry"):
        CollisionModel(replace(arm, disabled_collisions=(("panda_hand", "panda_grasptarget"),)))


def test_an_arm_without_a_scene_has_infinite_scene_clearance() -> None:
    arm = load_arm("panda")
    bare = CollisionModel(replace(arm, scene=()))
    assert bare.clearance(arm.neutral).scene == np.inf
    assert isinstance(arm.scene[0], SceneBox)
