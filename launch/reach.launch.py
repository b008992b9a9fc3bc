"""Bring up the reach stack: the PyBullet Panda bridge and the reach controller (shipped SAC policy by default).

    ros2 launch ikrl_ros reach.launch.py                       # learned SAC policy, real time
    ros2 launch ikrl_ros reach.launch.py controller:=hybrid rviz:=true
    ros2 launch ikrl_ros reach.launch.py controller:=td3 policy_path:=runs/td3/policy.pt sync_mode:=lockstep

Goals: RViz "2D Goal Pose" (goal_pose) or "Publish Point" (clicked_point) in panda_link0 or world.
The launch arguments controller, policy_path, use_sim_time and sync_mode override the same keys in
params_file (which holds every other parameter).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from ikrl_ros.robot_description import panda_urdf_for_rviz

PACKAGE = "ikrl_ros"


def generate_launch_description() -> LaunchDescription:
    controller = LaunchConfiguration("controller")
    params_file = LaunchConfiguration("params_file")
    use_sim_time = LaunchConfiguration("use_sim_time")
    sync_mode = LaunchConfiguration("sync_mode")
    namespace = LaunchConfiguration("namespace")
    rviz = LaunchConfiguration("rviz")

    arguments = [
        DeclareLaunchArgument("controller", default_value="sac", description="reach controller: sac, td3, ddpg (learned), hybrid, cartesian_p, ik or pybullet_ik"),
        DeclareLaunchArgument("policy_path", default_value="", description="checkpoint or shipped policy name for the learned controllers; empty = the shipped workspace policy of that algorithm (e.g. sac_workspace)"),
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "reach.yaml"]),
            description="parameters YAML for panda_bridge and reach_controller",
        ),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="nodes follow /clock; the bridge then publishes it"),
        DeclareLaunchArgument("sync_mode", default_value="realtime", description="realtime (the bridge steps on a wall-clock timer; the controller answers each state as it arrives) or lockstep (the bridge steps when the controller answers)"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace for all nodes (topics are relative)"),
        DeclareLaunchArgument("start_bridge", default_value="true", description="start the PyBullet bridge (false: drive your own robot driver)"),
        DeclareLaunchArgument("rviz", default_value="false", description="also start robot_state_publisher and RViz with the goal tools"),
    ]
    bridge = Node(
        package=PACKAGE,
        executable="panda_bridge",
        name="panda_bridge",
        namespace=namespace,
        output="screen",
        condition=IfCondition(LaunchConfiguration("start_bridge")),
        parameters=[
            params_file,
            {"sync_mode": sync_mode, "publish_clock": use_sim_time},
        ],
    )
    reach_controller = Node(
        package=PACKAGE,
        executable="reach_controller",
        name="reach_controller",
        namespace=namespace,
        output="screen",
        parameters=[
            params_file,
            {
                "controller": controller,
                "policy_path": LaunchConfiguration("policy_path"),
                "use_sim_time": use_sim_time,
                "sync_mode": sync_mode,
            },
        ],
    )
    robot_state_publisher = Node(
        package="robot_state_publisher",
        executable="robot_state_publisher",
        namespace=namespace,
        condition=IfCondition(rviz),
        parameters=[{"robot_description": panda_urdf_for_rviz(), "use_sim_time": use_sim_time}],
    )
    rviz2 = Node(
        package="rviz2",
        executable="rviz2",
        namespace=namespace,
        condition=IfCondition(rviz),
        arguments=["-d", PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "ikrl.rviz"])],
        parameters=[{"use_sim_time": use_sim_time}],
    )
    return LaunchDescription([*arguments, bridge, reach_controller, robot_state_publisher, rviz2])
