"""Build any reach controller by name, with the shipped policies as defaults (ROS-free)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ikrl_ros.core.controllers import (
    CartesianPController,
    HybridController,
    LearnedPolicyController,
    NumericalIKController,
    PyBulletIKController,
    ReachController,
)
from ikrl_ros.core.kinematics import ArmKinematics
from ikrl_ros.core.policy_spec import LIMITED_ENV_PREFIX, PolicyError, is_limited
from ikrl_ros.core.robot import DEFAULT_ROBOT

CLASSICAL_CONTROLLERS = ("cartesian_p", "ik", "pybullet_ik")
LEARNED_CONTROLLERS = ("ddpg", "td3", "sac")
CONTROLLERS = (*CLASSICAL_CONTROLLERS, *LEARNED_CONTROLLERS, "hybrid")
POLICY_DIR = Path(__file__).resolve().parents[1] / "policies"


def policy_folder(robot: str = DEFAULT_ROBOT, root: Path = POLICY_DIR) -> Path:
    """Where an arm's shipped policies lie in ``root``: the Panda's at its top, another arm's in its own folder."""
    return root if robot == DEFAULT_ROBOT else root / robot


LIMITED_SUFFIX = "_limited"
"""A shipped policy trained under the limited execution (``IkrlReachLimited*-v0``) is its name with this suffix."""


def shipped_policy_path(algo: str, robot: str = DEFAULT_ROBOT, limited: bool = False) -> Path:
    """The default policy that ships for ``algo``: trained by ``ikrl train`` on the workspace task (IkrlReach-v0, or
    under the limited execution IkrlReachLimited-v0)."""
    return policy_folder(robot) / f"{algo}_workspace{LIMITED_SUFFIX if limited else ''}.pt"


def resolve_policy_path(policy_path: str, algo: str, robot: str = DEFAULT_ROBOT, limited: bool = False) -> Path:
    """``policy_path`` as given, the name of a policy shipped for ``robot`` (e.g. ``sac_panda_reach_joints``; under
    the ``limited`` execution its limited version), or the algorithm's default for it."""
    if not policy_path:
        return shipped_policy_path(algo, robot, limited)
    if "/" not in policy_path and not policy_path.endswith(".pt"):
        name = policy_path if not limited or policy_path.endswith(LIMITED_SUFFIX) else policy_path + LIMITED_SUFFIX
        return policy_folder(robot) / f"{name}.pt"
    return Path(policy_path)


@dataclass(frozen=True)
class ControllerSettings:
    """Everything that selects and tunes a reach controller (the reach_controller node's parameters)."""

    name: str = "sac"
    policy_path: str = ""
    hybrid_policy: str = "sac"
    hybrid_near: str = "cartesian_p"
    hybrid_switch_radius: float = 0.05
    cartesian_p_gain: float = 1.0
    ik_max_joint_step: float = 0.08
    limited: bool = False
    """The limited execution (``strict``): ``cartesian_p`` approaches no faster than it can stop, and learned
    policies must have been trained under it (a shipped name means its ``_limited`` version)."""

    def __post_init__(self) -> None:
        if self.name not in CONTROLLERS:
            raise ValueError(f"parameter 'controller' must be one of {CONTROLLERS}, got '{self.name}'")
        if self.hybrid_policy not in LEARNED_CONTROLLERS:
            raise ValueError(
                f"parameter 'hybrid_policy' must be one of {LEARNED_CONTROLLERS}, got '{self.hybrid_policy}'"
            )
        if self.hybrid_near not in CLASSICAL_CONTROLLERS:
            raise ValueError(
                f"parameter 'hybrid_near' must be one of {CLASSICAL_CONTROLLERS}, got '{self.hybrid_near}'"
            )


def make_controller(settings: ControllerSettings, kinematics: ArmKinematics) -> ReachController:
    """The controller ``settings`` name; checkpoint problems raise ``ValueError`` with the reason."""
    robot, limited = kinematics.arm.name, settings.limited
    if settings.name in LEARNED_CONTROLLERS:
        return load_policy_controller(
            resolve_policy_path(settings.policy_path, settings.name, robot, limited), settings.name, kinematics, limited
        )
    if settings.name == "hybrid":
        far = load_policy_controller(
            resolve_policy_path(settings.policy_path, settings.hybrid_policy, robot, limited),
            settings.hybrid_policy,
            kinematics,
            limited,
        )
        return HybridController(
            far, make_classical(settings.hybrid_near, settings, kinematics), settings.hybrid_switch_radius
        )
    return make_classical(settings.name, settings, kinematics)


def make_classical(name: str, settings: ControllerSettings, kinematics: ArmKinematics) -> ReachController:
    if name == "ik":
        return NumericalIKController(kinematics, settings.ik_max_joint_step)
    if name == "pybullet_ik":
        return PyBulletIKController(kinematics, settings.ik_max_joint_step)
    return CartesianPController(settings.cartesian_p_gain, braking=settings.limited)


def load_policy_controller(
    path: Path, algo: str, kinematics: ArmKinematics, limited: bool = False
) -> LearnedPolicyController:
    """Load and check a checkpoint for ``algo`` and the execution it will run under (``limited``: strict); any
    problem is a ``ValueError`` that says which."""
    from ikrl_ros.rl.checkpoint import CheckpointError, load_policy  # torch is only needed for learned controllers

    if not path.is_file() and path.parent.is_relative_to(POLICY_DIR):
        shipped = sorted(p.stem for p in path.parent.glob("*.pt")) if path.parent.is_dir() else []
        train = "ikrl train --robot ... --env IkrlReachLimited-v0" if limited else "ikrl train --robot ..."
        raise ValueError(
            f"no shipped policy {path.stem} for the arm '{kinematics.arm.name}'{' under strict' if limited else ''} "
            f"(shipped for it: {shipped or 'none'}); give policy_path a policy trained for it ({train})"
        )
    try:
        policy = load_policy(path)
    except CheckpointError as error:
        raise ValueError(f"cannot load policy: {error}") from None
    if policy.algo != algo:
        raise ValueError(f"{path} holds a {policy.algo} policy, but the controller is '{algo}'")
    if is_limited(policy.env_id) != limited:
        trained = "under the limited execution" if limited is False else "without limits"
        needs = "strict: true" if limited is False else f"strict: false, or a policy trained on {LIMITED_ENV_PREFIX}*"
        raise ValueError(f"{path} was trained {trained} ({policy.env_id}): it needs {needs}")
    try:
        return LearnedPolicyController(policy, kinematics)
    except PolicyError as error:
        raise ValueError(f"{path}: {error}") from None
