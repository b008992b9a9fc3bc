"""Train a reach policy with the ROS training node.

    ros2 launch ikrl_ros train.launch.py algo:=td3 steps:=10000 out_dir:=runs/td3

Progress: `ros2 topic echo /train_node/progress`; Ctrl-C stops with a final checkpoint, and the same
out_dir resumes. The launch arguments algo, env_id, her_strategy, steps and out_dir override the
same keys in params_file (which holds every other parameter).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PACKAGE = "ikrl_ros"


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "train.yaml"]),
            description="parameters YAML for train_node",
        ),
        DeclareLaunchArgument("algo", default_value="sac", description="ddpg, td3 or sac"),
        DeclareLaunchArgument("env_id", default_value="PandaReach-v3", description="panda-gym reach environment id"),
        DeclareLaunchArgument("her_strategy", default_value="future", description="future, final, episode or none"),
        DeclareLaunchArgument("steps", default_value="20000", description="total environment steps"),
        DeclareLaunchArgument("out_dir", default_value="runs/train_node", description="output directory (resumed if it holds a checkpoint)"),
    ]
    overrides = {name: LaunchConfiguration(name) for name in ("algo", "env_id", "her_strategy", "out_dir")}
    train_node = Node(
        package=PACKAGE,
        executable="train_node",
        name="train_node",
        output="screen",
        parameters=[LaunchConfiguration("params_file"), {**overrides, "steps": LaunchConfiguration("steps")}],
    )
    return LaunchDescription([*arguments, train_node])
