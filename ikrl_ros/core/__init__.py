"""ROS-free robot layer: the Panda's numbers, kinematics, simulation, controllers, safety, validation, timing.

Imports nothing else of ikrl_ros; rl, nodes and tools build on it.
"""
