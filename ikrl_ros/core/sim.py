"""The PyBullet Panda exactly as panda-gym's PandaReach builds it, without the gym wrapper.

panda-gym's own ``PyBullet``, ``Panda`` and ``Reach`` classes are reused (not rewritten), so the
bridge node steps the same physics a policy was trained on: 1/500 s physics step, 20 sub-steps per
control period, base where the arm's description places it in panda-gym's world, table scene,
gripper blocked, neutral pose and motor forces as panda-gym sets them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from panda_gym.envs.robots.panda import Panda
from panda_gym.envs.tasks.reach import Reach
from panda_gym.pybullet import PyBullet

from ikrl_ros.core.controllers import ArmObservation, ReachState
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import DEFAULT_ROBOT, Arm, load_arm

if TYPE_CHECKING:
    from ikrl_ros.core.arm_sim import ArmSim

IDENTITY_QUATERNION_XYZW = np.array([0.0, 0.0, 0.0, 1.0])
HIDDEN_GOAL_POSITION = np.array([0.0, 0.0, -1.0])
"""Under the floor: where the goal sphere waits until there is a goal."""


@dataclass(frozen=True)
class JointSnapshot:
    """Positions, velocities and applied motor torques of every simulated joint (``Arm.all_joint_names``)."""

    position: np.ndarray
    velocity: np.ndarray
    effort: np.ndarray


class RecordingPanda(Panda):
    """panda-gym's Panda, remembering the arm's position targets it last sent to the motors."""

    commanded: np.ndarray | None = None

    def control_joints(self, target_angles: np.ndarray) -> None:
        self.commanded = np.array(target_angles[:7], dtype=float)
        super().control_joints(target_angles)


class PandaReachSim:
    """One PyBullet world with the Panda, the table and the goal marker of PandaReach."""

    def __init__(self, arm: Arm, control_type: str = "ee") -> None:
        if arm.name != "panda":
            raise ValueError(f"panda-gym's PandaReach simulates the Panda only, not '{arm.name}'")
        self.arm = arm
        self.pybullet = PyBullet(render_mode="rgb_array", renderer="Tiny")
        self.robot = RecordingPanda(
            self.pybullet,
            block_gripper=True,
            base_position=arm.base_position_in_world.copy(),
            control_type=control_type,
        )
        # Reach builds the scene (plane, table, ghost goal sphere); its goal sampling is not used here.
        self.task = Reach(self.pybullet, get_ee_position=self.robot.get_ee_position)
        self._client = self.pybullet.physics_client
        self._body = self.pybullet._bodies_idx[self.robot.body_name]
        self.steps = 0
        self.substeps = self.pybullet.n_substeps
        self.show_goal(HIDDEN_GOAL_POSITION)
        self.reset()

    def reset(self) -> None:
        """Neutral pose, zero velocity: what ``env.reset()`` does to the robot."""
        self.robot.reset()

    def apply_ee_action(self, action: np.ndarray) -> None:
        """panda-gym's end-effector control: clip to [-1, 1], × 0.05 m, PyBullet IK, position targets."""
        self.robot.set_action(np.asarray(action, dtype=float))

    def apply_joint_targets(self, arm_targets: np.ndarray) -> None:
        """Position targets for the arm joints; the locked joints (fingers) held where the description says."""
        locked = list(self.arm.locked_joints.values())
        self.robot.control_joints(np.concatenate([np.asarray(arm_targets, dtype=float), locked]))

    def last_arm_targets(self) -> np.ndarray:
        """The arm's position targets last sent to the motors (by either ``apply_*``)."""
        return self.robot.commanded

    def set_arm_positions(self, positions: np.ndarray) -> None:
        """Place the arm (a replay: no physics step), the fingers where the description holds them."""
        self.robot.set_joint_angles(np.concatenate([positions, list(self.arm.locked_joints.values())]))

    def step(self) -> None:
        """Advance one control period (20 physics sub-steps)."""
        self.pybullet.step()
        self.steps += 1

    def step_along(self, arm_targets: np.ndarray) -> None:
        """Advance one control period with new position targets at every physics sub-step (one row each): how a
        1 kHz interface feeds the motors a continuous trajectory instead of one target per period."""
        if len(arm_targets) != self.substeps:
            raise ValueError(f"need {self.substeps} sub-step targets, got {len(arm_targets)}")
        for targets in arm_targets:
            self.apply_joint_targets(targets)
            self._client.stepSimulation()
        self.steps += 1

    def joint_snapshot(self) -> JointSnapshot:
        states = self._client.getJointStates(self._body, [int(i) for i in self.robot.joint_indices])
        return JointSnapshot(
            position=np.array([s[0] for s in states]),
            velocity=np.array([s[1] for s in states]),
            effort=np.array([s[3] for s in states]),
        )

    def arm_positions(self) -> np.ndarray:
        return self.joint_snapshot().position[: self.arm.dof]

    def ee_position_world(self) -> np.ndarray:
        return np.asarray(self.robot.get_ee_position(), dtype=float)

    def ee_position_base(self) -> np.ndarray:
        return self.arm.world_to_base(self.ee_position_world())

    def ee_orientation_xyzw(self) -> np.ndarray:
        # panda-gym 3.0.7's Panda.get_ee_orientation calls a method its base class lacks; ask PyBullet directly.
        return np.asarray(self.pybullet.get_link_orientation(self.robot.body_name, self.robot.ee_link), dtype=float)

    def show_goal(self, goal_world: np.ndarray) -> None:
        """Move the goal sphere, as panda-gym's ``Reach.reset`` does.

        The sphere has no collision shape, yet where it stands changes PyBullet's solver order
        near the arm by round-off; placing it at the goal, as panda-gym does, keeps trajectories
        bit-identical to panda-gym's.
        """
        self.pybullet.set_base_pose("target", np.asarray(goal_world, dtype=float), IDENTITY_QUATERNION_XYZW)

    def render(self, width: int = 480, height: int = 360) -> np.ndarray:
        """RGB frame from PyBullet's headless TinyRenderer."""
        frame = self.pybullet.render(
            width=width, height=height, target_position=np.zeros(3), distance=1.2, yaw=45, pitch=-30
        )
        return np.asarray(frame)[..., :3]

    def close(self) -> None:
        self.pybullet.close()


def simulate(arm: Arm) -> PandaReachSim | ArmSim:
    """The simulator for ``arm``: panda-gym's own PandaReach world for the shipped Panda (bit-exact with
    panda-gym), the generic ``ArmSim`` for every other arm."""
    from ikrl_ros.core.arm_sim import ArmSim  # which builds on this module's snapshot

    return PandaReachSim(arm) if is_panda_gym_arm(arm) else ArmSim(arm)


def is_panda_gym_arm(arm: Arm) -> bool:
    """Whether ``arm`` is the Panda panda-gym simulates (its URDF): the one ``PandaReachSim`` reproduces."""
    return arm.name == DEFAULT_ROBOT and arm.urdf == load_arm(DEFAULT_ROBOT).urdf


def observe(sim: PandaReachSim, kinematics: ArmKinematics, goal: np.ndarray) -> ReachState:
    """The controllers' view of the simulated arm and a goal (base frame)."""
    joints = sim.joint_snapshot()
    dof = kinematics.dof
    return ArmObservation.from_joints(kinematics, joints.position[:dof], joints.velocity[:dof]).reach_state(goal)
