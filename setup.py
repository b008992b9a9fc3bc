"""ament_python set-up for ikrl_ros: installs the nodes, the `ikrl` CLI, launch and config files and policies."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "ikrl_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={
        PACKAGE: ["policies/*.pt", "policies/*.json", "policies/*/*.pt", "policies/*/*.json", "robots/*.yaml"]
    },
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.rviz")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="ikrl_ros maintainers",
    maintainer_email="maintainers@ikrl-ros.dev",
    description="Learned (DDPG/TD3/SAC + HER) and classical inverse kinematics for the Franka Panda as ROS 2 nodes.",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "panda_bridge = ikrl_ros.nodes.bridge_node:main",
            "reach_controller = ikrl_ros.nodes.reach_controller_node:main",
            "train_node = ikrl_ros.nodes.train_node:main",
            "ikrl = ikrl_ros.tools.cli:main",
        ],
    },
)
