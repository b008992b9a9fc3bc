"""ikrl_ros: learned (DDPG/TD3/SAC + HER) and classical inverse kinematics for the Franka Panda, as ROS 2 nodes."""

__version__ = "0.1.0"
