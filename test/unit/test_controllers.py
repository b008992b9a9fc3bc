"""Classical controllers closing the loop on the simulator directly (no ROS): the baselines' own accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from ikrl_ros.core.control import MAX_CARTESIAN_SPEED
from ikrl_ros.core.controllers import CartesianPController, NumericalIKController, ReachController
from ikrl_ros.core.execution import Twist
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.panda_gym_task import EPISODE_STEPS, sample_goals_world
from ikrl_ros.core.policy_spec import policy_spec
from ikrl_ros.core.robot import load_arm
from ikrl_ros.core.safety import CartesianLimits, JointLimits, limit_joint_targets
from ikrl_ros.core.sim import PandaReachSim, observe

ARM = load_arm()


@pytest.fixture(scope="module")
def kinematics() -> ArmKinematics:
    return ArmKinematics(ARM)


def final_errors(controller: ReachController, kinematics: ArmKinematics, goals: np.ndarray) -> np.ndarray:
    sim = PandaReachSim(ARM)
    errors = []
    for goal in goals:
        state = observe(sim, kinematics, goal)
        controller.set_goal(goal, state)
        for _ in range(EPISODE_STEPS):
            command = controller.compute(state)
            if isinstance(command, Twist):
                # panda-gym's end-effector action: the displacement per period over 0.05 m (1.25 m/s × 0.04 s).
                sim.apply_ee_action(command.linear / MAX_CARTESIAN_SPEED)
            else:
                sim.apply_joint_targets(command.positions)
            sim.step()
            state = observe(sim, kinematics, goal)
        errors.append(np.linalg.norm(sim.ee_position_base() - goal))
    sim.close()
    return np.array(errors)


def test_observation_matches_panda_gym_layout(kinematics: ArmKinematics) -> None:
    import gymnasium as gym
    import panda_gym  # noqa: F401  (registers the environments)

    env = gym.make("PandaReach-v3")
    observation, _ = env.reset(seed=0)
    sim = PandaReachSim(ARM)
    goal_base = ARM.world_to_base(observation["desired_goal"].astype(float))
    state = observe(sim, kinematics, goal_base)
    spec = policy_spec("PandaReach-v3", "ee", "linear", ARM.dof, ARM.base_position_in_world)
    ours = spec.observe(
        state.joint_positions, state.ee_position, state.ee_rotation, state.ee_velocity, spec.goal(state.goal, None)
    )
    for key in ("observation", "achieved_goal", "desired_goal"):
        assert ours[key].dtype == observation[key].dtype and ours[key].shape == observation[key].shape
        np.testing.assert_allclose(ours[key], observation[key], atol=1e-6)
    env.close()
    sim.close()
    np.testing.assert_allclose(ARM.base_to_world(goal_base), observation["desired_goal"], atol=1e-6)


def test_cartesian_p_and_ik_reach_panda_gym_goals(kinematics: ArmKinematics) -> None:
    goals = np.array([ARM.workspace.clamp(goal) for goal in ARM.world_to_base(sample_goals_world(30, seed=11))])
    assert final_errors(CartesianPController(), kinematics, goals).max() < 1e-3
    assert final_errors(NumericalIKController(kinematics), kinematics, goals).max() < 1e-4


def test_ik_controller_limits_each_joint_step(kinematics: ArmKinematics) -> None:
    controller = NumericalIKController(kinematics, max_joint_step=0.05)
    sim = PandaReachSim(ARM)
    goal = np.array([0.45, 0.15, 0.05])
    state = observe(sim, kinematics, goal)
    controller.set_goal(goal, state)
    targets = controller.compute(state).positions
    assert np.abs(targets - state.joint_positions).max() <= 0.05 + 1e-12
    sim.close()


def test_ik_moves_along_safe_paths_between_consecutive_goals(kinematics: ArmKinematics) -> None:
    """Goal after goal (no reset), the IK controller's joint targets never need the safety layer."""
    box = CartesianLimits(1.25, np.array([0.1, -0.6, 0.0]), np.array([0.95, 0.6, 0.8]))
    limits = JointLimits(*kinematics.limits_with_margin(0.01), max_step=0.1)
    controller = NumericalIKController(kinematics)
    sim = PandaReachSim(ARM)
    interventions, errors = [], []
    for goal in [ARM.workspace.clamp(g) for g in ARM.world_to_base(sample_goals_world(100, seed=0))]:
        state = observe(sim, kinematics, goal)
        controller.set_goal(goal, state)
        for _ in range(EPISODE_STEPS):
            targets, notes = limit_joint_targets(
                controller.compute(state).positions, state.joint_positions, limits, kinematics, box
            )
            interventions += notes
            sim.apply_joint_targets(targets)
            sim.step()
            state = observe(sim, kinematics, goal)
        errors.append(np.linalg.norm(sim.ee_position_base() - goal))
    sim.close()
    assert interventions == []
    assert max(errors) < 1e-4
