"""Train a reach policy with the ROS training node.

    ros2 launch ikrl_ros train.launch.py                                   # config/train.yaml decides
    ros2 launch ikrl_ros train.launch.py algo:=td3 steps:=10000 out_dir:=runs/td3
    ros2 launch ikrl_ros train.launch.py params_file:=my_train.yaml         # my_train.yaml decides everything

Progress: `ros2 topic echo /train_node/progress`; Ctrl-C stops with a final checkpoint, and the same
out_dir resumes.

Arguments:
    params_file     parameters YAML for train_node (default: the installed config/train.yaml)
    algo            ddpg, td3 or sac
    env_id          panda-gym reach environment id (PandaReach-v3, PandaReachDense-v3, PandaReachJoints-v3, ...)
    her_strategy    future, final, episode or none
    steps           total environment steps (an integer)
    out_dir         output directory (resumed if it holds a checkpoint)

Parameters: params_file holds every parameter of train_node. algo, env_id, her_strategy, steps and
out_dir are empty by default, and an empty argument leaves the params file's value alone; only a value
you give (algo:=td3) overrides the same key of params_file.

Failures: train_node is required: when it exits the launch ends, and when it exited with a non-zero
code (a bad parameter, a training error) `ros2 launch` exits with code 1.
"""

from __future__ import annotations

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from ikrl_ros.nodes.launch_support import LaunchArgumentError, required_node_handlers
from launch import LaunchContext, LaunchDescription

PACKAGE = "ikrl_ros"
STRING_ARGUMENTS = ("algo", "env_id", "her_strategy", "out_dir")


def launch_setup(context: LaunchContext) -> list:
    """Check the arguments and create train_node with the overrides of the arguments given a value."""
    value = lambda name: context.launch_configurations[name].strip()  # noqa: E731
    overrides: dict = {name: value(name) for name in STRING_ARGUMENTS if value(name)}
    if value("steps"):
        try:
            overrides["steps"] = int(value("steps"))
        except ValueError:
            raise LaunchArgumentError(f"launch argument steps:={value('steps')!r} is not an integer") from None
    params_file = context.launch_configurations["params_file"]
    train_node = Node(
        package=PACKAGE,
        executable="train_node",
        name="train_node",
        output="screen",
        parameters=[params_file, overrides] if overrides else [params_file],
    )
    return [*required_node_handlers(train_node), train_node]


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "train.yaml"]),
            description="parameters YAML for train_node",
        ),
        DeclareLaunchArgument("algo", default_value="", description="ddpg, td3 or sac; empty = params_file's"),
        DeclareLaunchArgument(
            "env_id", default_value="", description="panda-gym reach environment id; empty = params_file's"
        ),
        DeclareLaunchArgument(
            "her_strategy", default_value="", description="future, final, episode or none; empty = params_file's"
        ),
        DeclareLaunchArgument("steps", default_value="", description="total environment steps; empty = params_file's"),
        DeclareLaunchArgument(
            "out_dir",
            default_value="",
            description="output directory (resumed if it holds a checkpoint); empty = params_file's",
        ),
    ]
    return LaunchDescription([*arguments, OpaqueFunction(function=launch_setup)])
