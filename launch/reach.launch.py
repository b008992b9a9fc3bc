"""Bring up the reach stack: the PyBullet Panda bridge and the reach controller (shipped SAC policy by default).

    ros2 launch ikrl_ros reach.launch.py                       # config/reach.yaml: learned SAC policy, real time
    ros2 launch ikrl_ros reach.launch.py controller:=hybrid rviz:=true
    ros2 launch ikrl_ros reach.launch.py controller:=td3 policy_path:=runs/td3/policy.pt sync_mode:=lockstep
    ros2 launch ikrl_ros reach.launch.py params_file:=my_reach.yaml      # my_reach.yaml decides everything
    ros2 launch ikrl_ros reach.launch.py robot:=ur5 rviz:=true           # another shipped arm (ikrl robots)
    ros2 launch ikrl_ros reach.launch.py robot:=/path/arm.urdf base_frame:=base tip_frame:=tool0 \
        policy_path:=runs/arm/policy.pt                                  # your arm, a policy trained for it

Goals: RViz "2D Goal Pose" (goal_pose) or "Publish Point" (clicked_point) in the arm's base frame (the Panda's
panda_link0) or world.

Arguments:
    params_file     parameters YAML for panda_bridge and reach_controller (default: the installed config/reach.yaml)
    robot           the arm, for both nodes: a shipped robot's name (panda, iiwa7, ur5, xarm6) or a URDF's path
    base_frame      with a URDF robot: the frame goals are in
    tip_frame       with a URDF robot: the frame that reaches them
    controller      reach controller: sac, td3, ddpg (learned), hybrid, cartesian_p, ik or pybullet_ik
    policy_path     checkpoint or shipped policy name for the learned controllers
    use_sim_time    true/false: the controller (and RViz) follow /clock, the bridge publishes it; lockstep: true
    sync_mode       realtime (the bridge steps on a wall-clock timer) or lockstep (it steps when the controller answers)
    namespace       namespace for all nodes (topics are relative); default: none
    start_bridge    true (default) or false: drive your own robot driver instead of the PyBullet bridge
    rviz            true or false (default): also start robot_state_publisher and RViz with the goal tools

Parameters: params_file holds every parameter of both nodes. robot, base_frame, tip_frame, controller,
policy_path, use_sim_time and sync_mode are empty by default, and an empty argument leaves the params file's
value alone; only a value you give (controller:=ik) overrides the same key of params_file, for the node(s) it
concerns: controller and policy_path -> reach_controller; robot, base_frame, tip_frame and sync_mode -> both
nodes; use_sim_time -> reach_controller's
use_sim_time and the bridge's publish_clock (the bridge becomes the /clock source and stamps in sim time).
Boolean arguments take true/false (also 1/0, yes/no, on/off).

Failures: rviz:=true checks that robot_state_publisher and rviz2 are installed before any node starts,
and the launch fails with a message naming what is missing. panda_bridge and reach_controller are
required: when either exits, the launch shuts the other down; when it exited with a non-zero code
(e.g. reach_controller refusing controller:=bogus), `ros2 launch` exits with code 1.
"""

from __future__ import annotations

import os

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from ikrl_ros.nodes.launch_support import LaunchArgumentError, required_node_handlers
from launch import LaunchContext, LaunchDescription

PACKAGE = "ikrl_ros"
# (package, executable) that rviz:=true starts besides this package's nodes: checked before anything starts.
RVIZ_EXECUTABLES = (("robot_state_publisher", "robot_state_publisher"), ("rviz2", "rviz2"))
TRUE_WORDS, FALSE_WORDS = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def as_bool(name: str, value: str) -> bool:
    """A boolean launch argument's value as a bool, or LaunchArgumentError naming the argument."""
    word = value.strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise LaunchArgumentError(f"launch argument {name}:={value!r} is not a boolean (true or false)")


def missing_executables(executables: tuple[tuple[str, str], ...]) -> list[str]:
    """What of ``(package, executable)`` the ament index (AMENT_PREFIX_PATH) lacks, as readable phrases."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    missing = []
    for package, executable in executables:
        try:
            prefix = get_package_prefix(package)
        except PackageNotFoundError:
            missing.append(f"package '{package}' is not installed")
            continue
        if not os.access(os.path.join(prefix, "lib", package, executable), os.X_OK):
            missing.append(f"package '{package}' has no executable '{executable}'")
    return missing


def launch_setup(context: LaunchContext) -> list:
    """Check the arguments and the rviz:=true dependencies, then create the nodes (nothing starts before)."""
    value = lambda name: context.launch_configurations[name].strip()  # noqa: E731
    namespace = value("namespace")
    rviz = as_bool("rviz", value("rviz"))
    start_bridge = as_bool("start_bridge", value("start_bridge"))
    use_sim_time = as_bool("use_sim_time", value("use_sim_time")) if value("use_sim_time") else None
    if use_sim_time is None and value("sync_mode") == "lockstep":
        use_sim_time = True  # lockstep has one time base, the simulation's: stamps and /clock come from the bridge
    if rviz and (missing := missing_executables(RVIZ_EXECUTABLES)):
        raise LaunchArgumentError(
            f"rviz:=true needs robot_state_publisher and rviz2, but {'; '.join(missing)} (AMENT_PREFIX_PATH); "
            "install them (ros-$ROS_DISTRO-robot-state-publisher, ros-$ROS_DISTRO-rviz2) or launch with rviz:=false. "
            "No node was started."
        )
    params_file = context.launch_configurations["params_file"]

    # Overrides only for the arguments given a value: otherwise params_file decides.
    shared = {name: value(name) for name in ("robot", "base_frame", "tip_frame", "sync_mode") if value(name)}
    controller_overrides = {**shared, **{name: value(name) for name in ("controller", "policy_path") if value(name)}}
    bridge_overrides = dict(shared)
    if use_sim_time is not None:
        controller_overrides["use_sim_time"] = use_sim_time
        bridge_overrides["publish_clock"] = use_sim_time

    bridge = Node(
        package=PACKAGE,
        executable="panda_bridge",
        name="panda_bridge",
        namespace=namespace,
        output="screen",
        parameters=[params_file, bridge_overrides] if bridge_overrides else [params_file],
    )
    reach_controller = Node(
        package=PACKAGE,
        executable="reach_controller",
        name="reach_controller",
        namespace=namespace,
        output="screen",
        parameters=[params_file, controller_overrides] if controller_overrides else [params_file],
    )
    nodes = [bridge, reach_controller] if start_bridge else [reach_controller]
    entities: list = [handler for node in nodes for handler in required_node_handlers(node)] + nodes
    if rviz:
        from ament_index_python.packages import get_package_share_directory

        from ikrl_ros.core.robot import DEFAULT_ROBOT, load_arm
        from ikrl_ros.core.robot_description import rviz_config_for, urdf_for_rviz

        robot = value("robot") or DEFAULT_ROBOT
        arm = load_arm(robot, value("base_frame") or None, value("tip_frame") or None)
        rviz_config = rviz_config_for(
            os.path.join(get_package_share_directory(PACKAGE), "config", "ikrl.rviz"), arm.base_frame
        )

        rviz_sim_time = {"use_sim_time": use_sim_time} if use_sim_time is not None else {}
        entities.append(
            Node(
                package="robot_state_publisher",
                executable="robot_state_publisher",
                namespace=namespace,
                parameters=[{"robot_description": urdf_for_rviz(robot), **rviz_sim_time}],
            )
        )
        entities.append(
            Node(
                package="rviz2",
                executable="rviz2",
                namespace=namespace,
                arguments=["-d", rviz_config],
                parameters=[rviz_sim_time] if rviz_sim_time else [],
            )
        )
    return entities


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "reach.yaml"]),
            description="parameters YAML for panda_bridge and reach_controller",
        ),
        DeclareLaunchArgument(
            "robot",
            default_value="",
            description="the arm for both nodes: a shipped robot's name (ikrl robots) or a URDF's path; empty = "
            "params_file's (panda in config/reach.yaml)",
        ),
        DeclareLaunchArgument(
            "base_frame", default_value="", description="with a URDF robot: its base frame; empty = params_file's"
        ),
        DeclareLaunchArgument(
            "tip_frame", default_value="", description="with a URDF robot: its tip frame; empty = params_file's"
        ),
        DeclareLaunchArgument(
            "controller",
            default_value="",
            description="reach controller: sac, td3, ddpg (learned), hybrid, cartesian_p, ik or pybullet_ik; "
            "empty = params_file's (sac in config/reach.yaml)",
        ),
        DeclareLaunchArgument(
            "policy_path",
            default_value="",
            description="checkpoint or shipped policy name for the learned controllers; empty = params_file's "
            "(empty there = the shipped workspace policy of that algorithm)",
        ),
        DeclareLaunchArgument(
            "use_sim_time",
            default_value="",
            description="true: the controller follows /clock and the bridge publishes it; "
            "empty = params_file's use_sim_time/publish_clock (true with sync_mode:=lockstep)",
        ),
        DeclareLaunchArgument(
            "sync_mode", default_value="", description="realtime or lockstep, for both nodes; empty = params_file's"
        ),
        DeclareLaunchArgument(
            "namespace", default_value="", description="namespace for all nodes (topics are relative)"
        ),
        DeclareLaunchArgument(
            "start_bridge",
            default_value="true",
            description="start the PyBullet bridge (false: drive your own robot driver)",
        ),
        DeclareLaunchArgument(
            "rviz", default_value="false", description="also start robot_state_publisher and RViz with the goal tools"
        ),
    ]
    return LaunchDescription([*arguments, OpaqueFunction(function=launch_setup)])
