"""A PyBullet world for any ``Arm``: its URDF on the scene's table, position-controlled, stepped as panda-gym steps.

The Panda's bit-exact twin of panda-gym is ``core.sim.PandaReachSim``; this one is generic: the URDF loaded with a
fixed base where the description places the base frame in the world (unrotated), the scene's boxes as static
bodies, every arm joint position-controlled with the URDF's effort limit as motor force, the locked joints held at
their description positions, 1/500 s physics steps and 20 of them per 0.04 s control period.
"""

from __future__ import annotations

import numpy as np
import pinocchio as pin
import pybullet
from pybullet_utils.bullet_client import BulletClient

from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.robot import Arm
from ikrl_ros.core.sim import HIDDEN_GOAL_POSITION, JointSnapshot

PHYSICS_STEP = 1.0 / 500
SUBSTEPS = 20
"""Physics steps per control period: 0.04 s, panda-gym's."""
GRAVITY = -9.81
DEFAULT_MOTOR_FORCE = 100.0
"""N·m: the motor force of a joint whose URDF states no effort limit."""
GOAL_MARKER_RADIUS = 0.02
GOAL_COLOUR = [0.1, 0.9, 0.1, 0.3]
"""panda-gym's goal sphere: 2 cm, translucent green."""
IDENTITY = [0.0, 0.0, 0.0, 1.0]
CAMERA_DISTANCE = 1.6
"""m: the rendering camera's distance from the workspace's centre."""


class ArmSim:
    """One headless PyBullet world with the arm and its scene."""

    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.client = BulletClient(connection_mode=pybullet.DIRECT)
        self.client.setTimeStep(PHYSICS_STEP)
        self.client.setGravity(0.0, 0.0, GRAVITY)
        kinematics = ArmKinematics(arm)
        # The URDF's root may lie above the base frame (a "world" link): place the root so the base frame lands.
        root_in_base = kinematics.base_inverse
        root_position, root_orientation = arm.base_position_in_world, np.array([0.0, 0.0, 0.0, 1.0])
        if root_in_base is not None:
            root_position = arm.base_position_in_world + root_in_base.translation
            root_orientation = _quaternion_xyzw(root_in_base.rotation)
        self.body = self.client.loadURDF(arm.urdf, root_position.tolist(), root_orientation.tolist(), useFixedBase=True)
        index_of = {}
        self._tip_link = -1
        for index in range(self.client.getNumJoints(self.body)):
            info = self.client.getJointInfo(self.body, index)
            index_of[info[1].decode()] = (index, info[10])
            if info[12].decode() == arm.tip_frame:
                self._tip_link = index
        self.joint_indices = [index_of[name][0] for name in arm.all_joint_names]
        efforts = [index_of[name][1] for name in arm.all_joint_names]
        self.forces = [effort if effort > 0 else DEFAULT_MOTOR_FORCE for effort in efforts]
        self.commanded: np.ndarray | None = None
        for box in arm.scene:
            shape = self.client.createCollisionShape(pybullet.GEOM_BOX, halfExtents=(box.size / 2).tolist())
            self.client.createMultiBody(0.0, shape, -1, arm.base_to_world(box.center).tolist())
        marker = self.client.createVisualShape(pybullet.GEOM_SPHERE, radius=GOAL_MARKER_RADIUS, rgbaColor=GOAL_COLOUR)
        self._goal_marker = self.client.createMultiBody(0.0, -1, marker, HIDDEN_GOAL_POSITION.tolist())
        self.steps = 0
        self.reset()

    substeps = SUBSTEPS

    def reset(self) -> None:
        """Neutral posture, locked joints at their positions, zero velocity, targets holding them there."""
        positions = np.concatenate([self.arm.neutral, list(self.arm.locked_joints.values())])
        for index, position in zip(self.joint_indices, positions, strict=True):
            self.client.resetJointState(self.body, index, float(position), 0.0)
        self.apply_joint_targets(self.arm.neutral)

    def apply_joint_targets(self, arm_targets: np.ndarray) -> None:
        """Position targets for the arm joints; the locked joints held where the description says."""
        self.commanded = np.array(arm_targets, dtype=float)
        targets = np.concatenate([self.commanded, list(self.arm.locked_joints.values())])
        self.client.setJointMotorControlArray(
            self.body,
            self.joint_indices,
            pybullet.POSITION_CONTROL,
            targetPositions=targets.tolist(),
            forces=self.forces,
        )

    def last_arm_targets(self) -> np.ndarray | None:
        """The arm's position targets last sent to the motors."""
        return self.commanded

    def step(self) -> None:
        """Advance one control period (20 physics steps)."""
        for _ in range(SUBSTEPS):
            self.client.stepSimulation()
        self.steps += 1

    def step_along(self, arm_targets: np.ndarray) -> None:
        """Advance one control period with new position targets at every physics step (one row each), as a 1 kHz
        interface feeds the motors a continuous trajectory."""
        if len(arm_targets) != self.substeps:
            raise ValueError(f"need {self.substeps} sub-step targets, got {len(arm_targets)}")
        for targets in arm_targets:
            self.apply_joint_targets(targets)
            self.client.stepSimulation()
        self.steps += 1

    def show_goal(self, goal_world: np.ndarray) -> None:
        """Move the goal marker (a sphere without collision shape)."""
        self.client.resetBasePositionAndOrientation(self._goal_marker, np.asarray(goal_world, float).tolist(), IDENTITY)

    def joint_snapshot(self) -> JointSnapshot:
        """Every simulated joint (``Arm.all_joint_names`` order): positions, velocities, applied motor torques."""
        states = self.client.getJointStates(self.body, self.joint_indices)
        return JointSnapshot(
            position=np.array([s[0] for s in states]),
            velocity=np.array([s[1] for s in states]),
            effort=np.array([s[3] for s in states]),
        )

    def arm_positions(self) -> np.ndarray:
        return self.joint_snapshot().position[: self.arm.dof]

    def ee_pose_base(self) -> tuple[np.ndarray, np.ndarray]:
        """The tip frame's position and rotation matrix in the base frame (the URDF link frame, not its centre of
        mass)."""
        if self._tip_link < 0:
            position, orientation = self.client.getBasePositionAndOrientation(self.body)
        else:
            state = self.client.getLinkState(self.body, self._tip_link, computeForwardKinematics=True)
            position, orientation = state[4], state[5]
        rotation = np.array(self.client.getMatrixFromQuaternion(orientation)).reshape(3, 3)
        return self.arm.world_to_base(np.array(position)), rotation

    def ee_position_base(self) -> np.ndarray:
        return self.ee_pose_base()[0]

    def set_arm_positions(self, positions: np.ndarray) -> None:
        """Place the arm (a replay: no physics step), the locked joints where the description holds them."""
        values = np.concatenate([positions, list(self.arm.locked_joints.values())])
        for index, value in zip(self.joint_indices, values, strict=True):
            self.client.resetJointState(self.body, index, float(value), 0.0)

    def render(self, width: int = 480, height: int = 360) -> np.ndarray:
        """RGB frame from PyBullet's headless TinyRenderer, the camera on the workspace's centre."""
        workspace = self.arm.workspace
        target = self.arm.base_to_world((workspace.box_min + workspace.box_max) / 2)
        view = self.client.computeViewMatrixFromYawPitchRoll(target.tolist(), CAMERA_DISTANCE, 45, -30, 0, 2)
        projection = self.client.computeProjectionMatrixFOV(60, width / height, 0.1, 100.0)
        image = self.client.getCameraImage(width, height, view, projection, renderer=pybullet.ER_TINY_RENDERER)
        return np.asarray(image[2], dtype=np.uint8).reshape(height, width, 4)[..., :3]

    def ee_orientation_xyzw(self) -> np.ndarray:
        """The tip frame's orientation in the base frame (which is the world's, translated)."""
        return _quaternion_xyzw(self.ee_pose_base()[1])

    def close(self) -> None:
        self.client.disconnect()


def _quaternion_xyzw(rotation: np.ndarray) -> np.ndarray:
    """A rotation matrix as PyBullet's (x, y, z, w) quaternion."""
    quaternion = pin.Quaternion(rotation)
    return np.array([quaternion.x, quaternion.y, quaternion.z, quaternion.w])
