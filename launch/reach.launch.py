"""Bring up the reach stack: the PyBullet Panda bridge and the reach controller.

    ros2 launch ikrl_ros reach.launch.py controller:=ik sync_mode:=lockstep

Goals: RViz "2D Goal Pose" (goal_pose) or "Publish Point" (clicked_point) in panda_link0 or world.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PACKAGE = "ikrl_ros"


def generate_launch_description() -> LaunchDescription:
    controller = LaunchConfiguration("controller")
    params_file = LaunchConfiguration("params_file")
    use_sim_time = LaunchConfiguration("use_sim_time")
    sync_mode = LaunchConfiguration("sync_mode")
    namespace = LaunchConfiguration("namespace")
    lockstep = PythonExpression(["'", sync_mode, "' == 'lockstep'"])

    arguments = [
        DeclareLaunchArgument("controller", default_value="cartesian_p", description="reach controller: cartesian_p or ik"),
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "reach.yaml"]),
            description="parameters YAML for panda_bridge and reach_controller",
        ),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="controller follows /clock; the bridge then publishes it"),
        DeclareLaunchArgument("sync_mode", default_value="realtime", description="realtime (wall-clock paced) or lockstep (bridge steps when the controller answers)"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace for both nodes (topics are relative)"),
        DeclareLaunchArgument("start_bridge", default_value="true", description="start the PyBullet bridge (false: drive your own robot driver)"),
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
            {"timing_mode": PythonExpression(["'lockstep' if ", lockstep, " else 'realtime'"]), "publish_clock": use_sim_time},
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
                "use_sim_time": use_sim_time,
                "sync_mode": PythonExpression(["'lockstep' if ", lockstep, " else 'timer'"]),
            },
        ],
    )
    return LaunchDescription([*arguments, bridge, reach_controller])
