"""The strict arm (``core.strict_arm``, ``core.motion_check``) and the reach loop's plan, ROS-free: streams are checked
at 1 kHz, violations stop the arm with a reflex, and the limited reach loop's plans survive late and missed answers."""

from __future__ import annotations

import numpy as np
import pytest

from ikrl_ros.core.collision import CollisionModel
from ikrl_ros.core.control import CONTROL_PERIOD, JOINT_LIMIT_MARGIN, MAX_CARTESIAN_SPEED, MAX_JOINT_STEP
from ikrl_ros.core.controllers import NumericalIKController
from ikrl_ros.core.execution import MotionExecutor, limited_generator
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.motion_check import JointStreamMonitor, TwistStreamMonitor
from ikrl_ros.core.reach_loop import ReachLoop, ReachLoopSettings
from ikrl_ros.core.robot import load_arm
from ikrl_ros.core.safety import CartesianLimits, JointLimits, SingularityGuard
from ikrl_ros.core.sim import PandaReachSim
from ikrl_ros.core.strict_arm import AT_REST, FOLLOWING, REFLEX, StrictInterface
from ikrl_ros.core.trajectory import MotionState
from ikrl_ros.core.validation import TrajectorySamples
from ikrl_ros.core.workspace import sample_reachable_goals

ARM = load_arm()
KINEMATICS = ArmKinematics(ARM)
PERIOD_NS = round(CONTROL_PERIOD * 1e9)


def executor() -> MotionExecutor:
    joints = JointLimits(*KINEMATICS.datasheet_limits_with_margin(JOINT_LIMIT_MARGIN), MAX_JOINT_STEP)
    return MotionExecutor(
        KINEMATICS,
        CartesianLimits(MAX_CARTESIAN_SPEED, ARM.safety_box_min, ARM.safety_box_max),
        joints,
        CONTROL_PERIOD,
        limited_generator(joints, KINEMATICS, CONTROL_PERIOD),
        CollisionModel(ARM),
    )


def strict_interface(position: np.ndarray) -> StrictInterface:
    motion = executor()
    return StrictInterface(
        JointStreamMonitor(ARM, *KINEMATICS.datasheet_limits_with_margin(0.0)),
        TwistStreamMonitor(ARM.linear_limits, ARM.angular_limits, CONTROL_PERIOD),
        motion.generator,
        motion,
        position,
    )


def trajectory(positions: np.ndarray) -> TrajectorySamples:
    return TrajectorySamples(np.arange(1, len(positions) + 1) / 1000, positions, None, None)


def test_the_monitor_names_the_limit_and_the_joint_a_stream_breaks() -> None:
    monitor = JointStreamMonitor(ARM, *KINEMATICS.datasheet_limits_with_margin(0.0))
    monitor.restart(ARM.neutral)
    steady = ARM.neutral + np.outer(np.arange(1, 41), np.full(ARM.dof, 1e-9))
    assert monitor.check(steady) is None
    stepped = np.tile(steady[-1], (40, 1))
    stepped[:, 1] += 0.01  # 10 mrad in one millisecond: 10 rad/s
    violation = monitor.check(stepped)
    assert violation.quantity == "velocity" and violation.joint == "panda_joint2"
    assert violation.reflex == "joint_velocity_violation" and "panda_joint2" in violation.text()
    ramp = steady[-1] + np.outer(np.arange(1, 41) * 1e-3, np.full(ARM.dof, 0.5))  # 0.5 rad/s at once: a jump
    assert monitor.check(ramp).quantity == "acceleration"


def test_a_trajectory_is_followed_and_a_discontinuous_one_raises_a_reflex_and_a_smooth_stop() -> None:
    strict = strict_interface(ARM.neutral)
    generator = executor().generator
    state, samples = MotionState.at_rest(ARM.neutral), []
    for _ in range(10):
        state = generator.toward_velocity(state, np.full(ARM.dof, 0.8))
        samples.append(generator.samples(40).position)
    strict.receive_trajectory(0, trajectory(np.vstack(samples)))
    for step in range(8):
        period = strict.step(step * PERIOD_NS)
        assert period.mode == FOLLOWING and period.reflex is None
    jumped = samples[8] + 0.02
    strict.receive_trajectory(8 * PERIOD_NS, trajectory(np.vstack([jumped, samples[9]])))
    stopped = strict.step(8 * PERIOD_NS)
    assert stopped.mode == REFLEX and stopped.reflex.quantity == "velocity"
    speeds = [np.abs(stopped.samples.velocity[-1]).max()]
    for step in range(9, 30):
        speeds.append(np.abs(strict.step(step * PERIOD_NS).samples.velocity[-1]).max())
    assert speeds[0] > 0.1 and speeds[-1] == 0.0 and np.all(np.diff(speeds) <= 1e-12)  # a smooth stop to rest
    ok, message = strict.recover()
    assert ok and "recovered from joint_velocity_violation" in message
    assert strict.step(30 * PERIOD_NS).mode == AT_REST


def test_a_stream_that_does_not_start_where_the_arm_stands_is_refused() -> None:
    strict = strict_interface(ARM.neutral)
    strict.receive_trajectory(0, trajectory(np.tile(ARM.neutral + 0.05, (40, 1))))
    period = strict.step(0)
    assert period.refused is not None and "starts 0.0500 rad away" in period.refused
    assert period.reflex is None


def test_at_rest_a_stream_may_start_where_a_contact_holds_the_arm() -> None:
    """Commanded to rest at one posture, the arm held 0.008 rad away (on the table, say): a stream starting where the
    arm stands as measured is a new motion, taken up without a reflex; one far from both is a step: a reflex."""
    strict = strict_interface(ARM.neutral)
    held = ARM.neutral + np.array([0.0, 0.0, 0.008, 0.0, 0.0, 0.0, 0.0])
    strict.receive_trajectory(0, trajectory(np.tile(ARM.neutral, (40, 1))))
    assert strict.step(0, measured=held).mode == FOLLOWING
    strict.receive_trajectory(PERIOD_NS, trajectory(np.tile(held, (40, 1))))
    period = strict.step(PERIOD_NS, measured=held)
    assert period.reflex is None and period.mode == FOLLOWING and np.allclose(period.samples.position[-1], held)
    strict.receive_trajectory(2 * PERIOD_NS, trajectory(np.tile(held + 0.05, (40, 1))))
    period = strict.step(2 * PERIOD_NS, measured=held)
    assert period.reflex is not None and period.reflex.quantity == "velocity"


@pytest.mark.parametrize(("late", "missed"), [(0.0, 0.0), (0.3, 0.15)])
def test_the_limited_reach_loop_keeps_the_strict_arm_continuous_through_late_and_missed_answers(
    late: float, missed: float
) -> None:
    """The IK controller through the limited execution and the strict simulated Panda, lockstep by hand: answers a
    period late (after the next period began) and states never answered leave no reflex and no lost precision."""
    sim = PandaReachSim(ARM)
    strict = strict_interface(sim.arm_positions())
    loop = ReachLoop(
        NumericalIKController(KINEMATICS),
        executor(),
        SingularityGuard(KINEMATICS, 17.0, 30.0),
        ARM.workspace,
        ReachLoopSettings(cartesian_output="joint"),
    )
    rng = np.random.default_rng(0)
    now, pending, reflexes, errors = 0, None, 0, []
    for goal in sample_reachable_goals(4, 7, KINEMATICS):
        loop.set_goal(list(goal), ARM.base_frame, "goal_pose")
        for _ in range(75):
            if rng.random() >= missed:
                snapshot = sim.joint_snapshot()
                loop.observe(snapshot.position[: ARM.dof], snapshot.velocity[: ARM.dof])
                samples = loop.step(now).motion.samples()
                answer = (
                    now,
                    TrajectorySamples(np.arange(1, len(samples.position) + 1) / 1000, *vars(samples).values()),
                )
                if rng.random() < late:
                    pending, answer = answer, None
                if answer is not None:
                    strict.receive_trajectory(*answer)
            period = strict.step(now)
            reflexes += period.reflex is not None
            sim.step_along(period.samples.position[1::2])
            now += PERIOD_NS
            if pending is not None:  # the late answer arrives during the next period
                strict.receive_trajectory(*pending)
                pending = None
        errors.append(np.linalg.norm(sim.ee_position_base() - goal))
    sim.close()
    assert reflexes == 0 and loop.resyncs == 0
    assert max(errors) < 1e-4
