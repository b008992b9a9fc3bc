"""The ROS-free reach loop: goals, orientation modes, pause and hold, limits, the singularity guard, status codes."""

from __future__ import annotations

import numpy as np
import pytest

from ikrl_ros.core import validation
from ikrl_ros.core.control import CONTROL_PERIOD, MAX_CARTESIAN_SPEED, MAX_JOINT_STEP
from ikrl_ros.core.controllers import CartesianPController, NumericalIKController, ReachState
from ikrl_ros.core.execution import JointTargets, MotionExecutor, Twist
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.reach_loop import (
    SINGULAR_CREEP,
    SINGULAR_CREEP_LIMIT,
    ReachLoop,
    ReachLoopSettings,
    StatusCode,
    effective_orientation,
)
from ikrl_ros.core.robot import load_arm
from ikrl_ros.core.safety import CartesianLimits, InterventionKind, JointLimits, SingularityGuard
from ikrl_ros.core.workspace import sample_reachable_goals

ARM = load_arm()
KINEMATICS = ArmKinematics(ARM)


class Scripted:
    """A controller that answers with a given command (and counts the goals it was told about)."""

    name = "scripted"
    reaches_orientation = False

    def __init__(self, command, commands_joints: bool = False) -> None:
        self.command, self.commands_joints, self.goals = command, commands_joints, 0

    def set_goal(self, goal: np.ndarray, state: ReachState) -> None:
        self.goals += 1

    def compute(self, state: ReachState):
        return self.command


def make_loop(controller, guard: tuple[float, float] = (17.0, 30.0), **settings) -> ReachLoop:
    executor = MotionExecutor(
        KINEMATICS,
        CartesianLimits(MAX_CARTESIAN_SPEED, ARM.safety_box_min, ARM.safety_box_max),
        JointLimits(*KINEMATICS.limits_with_margin(0.01), MAX_JOINT_STEP),
        CONTROL_PERIOD,
    )
    guard_thresholds = SingularityGuard(KINEMATICS, *guard)
    return ReachLoop(controller, executor, guard_thresholds, ARM.workspace, ReachLoopSettings(**settings))


def test_no_goal_or_no_state_holds_without_warning() -> None:
    loop = make_loop(CartesianPController())
    result = loop.step()
    assert result.holding and result.status == StatusCode.NO_WARNING and result.state is None
    assert isinstance(result.command, Twist) and result.command.is_zero()
    joint_loop = make_loop(CartesianPController(), cartesian_output="joint")
    assert joint_loop.step().command is None, "a joint interface has nothing to hold before the first joint state"


def test_cartesian_p_reaches_a_goal_in_the_loop() -> None:
    loop = make_loop(CartesianPController(), cartesian_output="joint", orientation="ignore")
    q = ARM.neutral.copy()
    loop.observe(q, np.zeros(ARM.dof))
    goal, warning = loop.set_goal([0.5, 0.2, 0.3], ARM.base_frame, "goal_pose")
    assert warning is None and goal.rotation is None
    for _ in range(60):
        result = loop.step()
        q = result.command.positions
        loop.observe(q, np.zeros(ARM.dof))
    result = loop.step()
    assert result.reached and result.distance < 1e-4


def test_cartesian_p_does_not_stall_at_the_singularity_guard_over_consecutive_goals() -> None:
    """Consecutive workspace goals with the gripper turned down, the joints following the commands exactly: scaling
    the whole twist at the guard's stop threshold halted the arm for good (condition number 30.6, every later goal
    left 0.2-0.8 m away); scaling only its part along the singular direction reaches them all."""
    loop = make_loop(CartesianPController(), cartesian_output="joint")
    q = ARM.neutral.copy()
    errors, halted = [], 0
    for goal in sample_reachable_goals(40, 7, KINEMATICS):
        loop.set_goal(list(goal), ARM.base_frame, "goal_pose")
        for _ in range(75):
            loop.observe(q, np.zeros(ARM.dof))
            result = loop.step()
            halted += result.status == StatusCode.HALT_FOR_SINGULARITY
            q = result.command.positions
        errors.append(float(np.linalg.norm(KINEMATICS.ee_position(q) - goal)))
    assert halted > 0, "the sequence passes the guard's stop threshold"
    assert max(errors) < 5e-3, np.round(np.array(errors) * 1000, 1)


def test_world_goals_are_shifted_and_other_frames_refused() -> None:
    loop = make_loop(CartesianPController(), world_offset=ARM.base_position_in_world, orientation="ignore")
    goal, _ = loop.set_goal([-0.1, 0.0, 0.3], "world", "clicked_point")
    np.testing.assert_allclose(goal.position, [0.5, 0.0, 0.3])
    with pytest.raises(validation.InvalidInput, match="goal frame 'camera' is not supported"):
        loop.set_goal([0.5, 0.0, 0.3], "camera", "clicked_point")
    np.testing.assert_allclose(loop.goal.position, [0.5, 0.0, 0.3])  # a refused goal keeps the previous one


def test_out_of_workspace_goals_are_clamped_or_rejected() -> None:
    clamping = make_loop(CartesianPController(), orientation="ignore")
    goal, warning = clamping.set_goal([2.0, 0.0, 0.3], ARM.base_frame, "goal_pose")
    assert "clamped" in warning and ARM.workspace.contains(goal.position)
    rejecting = make_loop(CartesianPController(), orientation="ignore", clamp_out_of_workspace=False)
    with pytest.raises(validation.InvalidInput, match="outside the workspace"):
        rejecting.set_goal([2.0, 0.0, 0.3], ARM.base_frame, "goal_pose")
    assert rejecting.goal is None


def test_orientation_modes() -> None:
    assert effective_orientation("auto", True) == ("top_down", None)
    assert effective_orientation("auto", False) == ("ignore", None)
    mode, warning = effective_orientation("track", False)
    assert mode == "ignore" and "positions only" in warning
    quaternion = [0.0, 0.0, np.sin(0.25), np.cos(0.25)]  # yaw 0.5 rad, gripper up
    tracking = make_loop(CartesianPController(), orientation="track")
    rotation = tracking.set_goal([0.5, 0.0, 0.3], ARM.base_frame, "goal_pose", quaternion)[0].rotation
    np.testing.assert_allclose(rotation, validation.goal_orientation(quaternion))
    top_down = make_loop(CartesianPController(), orientation="top_down")
    rotation = top_down.set_goal([0.5, 0.0, 0.3], ARM.base_frame, "goal_pose", quaternion)[0].rotation
    np.testing.assert_allclose(rotation[:, 2], [0.0, 0.0, -1.0], atol=1e-12)  # the gripper points down
    with pytest.raises(validation.InvalidInput, match="quaternion is zero"):
        top_down.set_goal([0.5, 0.0, 0.3], ARM.base_frame, "goal_pose", [0.0, 0.0, 0.0, 0.0])


def test_pause_holds_latched_and_resume_replans() -> None:
    controller = Scripted(Twist(np.array([0.2, 0.0, 0.0])))
    loop = make_loop(controller, cartesian_output="joint", orientation="ignore")
    loop.observe(ARM.neutral, np.zeros(ARM.dof))
    loop.set_goal([0.5, 0.0, 0.3], ARM.base_frame, "goal_pose")
    moving = loop.step()
    assert not moving.holding and controller.goals == 1
    assert loop.set_paused(True).startswith("paused")
    loop.observe(moving.command.positions, np.zeros(ARM.dof))
    held = loop.step()
    assert held.holding and isinstance(held.command, JointTargets)
    np.testing.assert_array_equal(held.command.positions, moving.command.positions)
    loop.observe(moving.command.positions + 0.001, np.zeros(ARM.dof))  # the arm sags: the hold must not creep
    np.testing.assert_array_equal(loop.step().command.positions, moving.command.positions)
    assert loop.set_paused(True) == "already paused: holding"
    assert loop.set_paused(False) == "resumed goal tracking"
    assert not loop.step().holding and controller.goals == 2, "resuming plans the goal again from where the arm is"


def test_non_finite_commands_hold_with_invalid_status() -> None:
    loop = make_loop(Scripted(Twist(np.array([np.nan, 0.0, 0.0]))), orientation="ignore")
    loop.observe(ARM.neutral, np.zeros(ARM.dof))
    loop.set_goal([0.5, 0.0, 0.3], ARM.base_frame, "goal_pose")
    result = loop.step()
    assert result.status == StatusCode.INVALID and result.holding and result.command.is_zero()
    assert "non-finite" in result.warnings[0]


def test_speed_and_joint_bound_interventions_are_typed() -> None:
    fast = make_loop(Scripted(Twist(np.array([5.0, 0.0, 0.0]))), orientation="ignore")
    fast.observe(ARM.neutral, np.zeros(ARM.dof))
    fast.set_goal([0.5, 0.0, 0.3], ARM.base_frame, "goal_pose")
    result = fast.step()
    assert [i.kind for i in result.interventions] == [InterventionKind.SPEED]
    np.testing.assert_allclose(result.command.linear, [MAX_CARTESIAN_SPEED, 0.0, 0.0])
    beyond = ARM.neutral.copy()
    beyond[0] = 10.0
    bound = make_loop(Scripted(JointTargets(beyond), commands_joints=True))
    bound.observe(ARM.neutral, np.zeros(ARM.dof))
    bound.set_goal([0.5, 0.0, 0.3], ARM.base_frame, "goal_pose")
    result = bound.step()
    assert result.status == StatusCode.JOINT_BOUND
    assert InterventionKind.JOINT_BOUND in {i.kind for i in result.interventions}
    assert result.command.positions[0] == pytest.approx(ARM.neutral[0] + MAX_JOINT_STEP)


def test_singularity_guard_statuses() -> None:
    stretched = ARM.neutral.copy()
    stretched[[1, 3, 5]] = [1.2, -0.2, 1.5]  # arm nearly straight: badly conditioned
    condition = KINEMATICS.condition_number(stretched)
    toward = np.array([0.3, 0.0, 0.0])  # further out: worse conditioned
    slowing = make_loop(Scripted(Twist(toward)), guard=(condition - 1.0, condition + 1.0), orientation="ignore")
    slowing.observe(stretched, np.zeros(ARM.dof))
    slowing.set_goal([0.5, 0.0, 0.3], ARM.base_frame, "goal_pose")
    result = slowing.step()
    assert result.status == StatusCode.DECELERATE_FOR_SINGULARITY
    assert 0.0 < np.linalg.norm(result.command.linear) < np.linalg.norm(toward)
    halting = make_loop(Scripted(Twist(toward)), guard=(condition - 2.0, condition - 1.0), orientation="ignore")
    halting.observe(stretched, np.zeros(ARM.dof))
    halting.set_goal([0.5, 0.0, 0.3], ARM.base_frame, "goal_pose")
    result = halting.step()
    # Only the motion along the singular direction is scaled: it keeps SINGULAR_CREEP of its speed just past the
    # stop threshold, none beyond SINGULAR_CREEP_LIMIT × it; the rest of the twist moves the arm on.
    singular = np.linalg.svd(KINEMATICS.full_jacobian(stretched))[0][:, -1]
    commanded = np.concatenate([toward, np.zeros(3)])
    along = singular @ commanded
    assert result.status == StatusCode.HALT_FOR_SINGULARITY
    expected = commanded - (1.0 - SINGULAR_CREEP) * along * singular
    np.testing.assert_allclose(result.command.linear, expected[:3], atol=1e-12)
    stop = condition / SINGULAR_CREEP_LIMIT - 0.5
    halting = make_loop(Scripted(Twist(toward)), guard=(stop - 1.0, stop), orientation="ignore")
    halting.observe(stretched, np.zeros(ARM.dof))
    halting.set_goal([0.5, 0.0, 0.3], ARM.base_frame, "goal_pose")
    result = halting.step()
    assert result.status == StatusCode.HALT_FOR_SINGULARITY
    np.testing.assert_allclose(result.command.linear, (commanded - along * singular)[:3], atol=1e-12)
    assert abs(along) > 0.1 * np.linalg.norm(toward), "the case halts a real part of the twist"
    leaving = make_loop(Scripted(Twist(-toward)), guard=(condition - 2.0, condition - 1.0), orientation="ignore")
    leaving.observe(stretched, np.zeros(ARM.dof))
    leaving.set_goal([0.5, 0.0, 0.3], ARM.base_frame, "goal_pose")
    result = leaving.step()
    assert result.status == StatusCode.LEAVING_SINGULARITY
    np.testing.assert_array_equal(result.command.linear, -toward)


def test_joint_controllers_are_not_guarded() -> None:
    loop = make_loop(NumericalIKController(KINEMATICS), guard=(1.0, 1.5))
    loop.observe(ARM.neutral, np.zeros(ARM.dof))
    loop.set_goal([0.5, 0.2, 0.3], ARM.base_frame, "goal_pose")
    result = loop.step()
    assert result.status == StatusCode.NO_WARNING and not result.holding
    assert np.abs(result.command.positions - ARM.neutral).max() > 0.01


def test_unreachable_orientation_is_dropped_for_the_goal() -> None:
    loop = make_loop(CartesianPController(), orientation="track")
    loop.observe(ARM.neutral, np.zeros(ARM.dof))
    gripper_up = [0.0, 0.0, 0.0, 1.0]  # the grasp frame pointing up, at table height: no posture takes it
    loop.set_goal([0.8, 0.0, 0.02], ARM.base_frame, "goal_pose", gripper_up)
    result = loop.step()
    assert loop.goal.rotation is None and result.angle is None
    assert "cannot take that orientation" in result.warnings[0]


def test_joint_output_reports_each_limit_once() -> None:
    """The loop limits a twist once, guards it, and executes it without limiting it again."""
    near_the_floor = KINEMATICS.solve_ik(np.array([0.5, 0.1, 0.01])).joint_positions  # the box's floor is z = 0
    down_fast = Twist(np.array([3.0, 0.0, -1.0]))  # above the speed limit and through the floor
    for output in ("twist", "joint"):
        loop = make_loop(Scripted(down_fast), cartesian_output=output, orientation="ignore")
        loop.observe(near_the_floor, np.zeros(ARM.dof))
        loop.set_goal([0.5, 0.0, 0.3], ARM.base_frame, "goal_pose")
        kinds = [i.kind for i in loop.step().interventions if i.kind != InterventionKind.CARTESIAN_STEP_SLOWED]
        assert sorted(kinds, key=str) == [InterventionKind.SAFETY_BOX, InterventionKind.SPEED], output
