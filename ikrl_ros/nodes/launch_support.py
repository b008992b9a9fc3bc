"""Launch-file support shared by reach.launch.py and train.launch.py: argument errors and required nodes.

Imported by the launch files only (it needs the ROS 2 ``launch`` packages, which come with a ROS 2
installation, not from PyPI).
"""

from __future__ import annotations

from launch.actions import EmitEvent, OpaqueFunction, RegisterEventHandler, Shutdown
from launch.event_handlers import OnProcessExit
from launch.events.process import ProcessExited
from launch_ros.actions import Node

from launch import Event, EventHandler, LaunchContext


class LaunchArgumentError(ValueError):
    """A launch argument has a value this launch file cannot use."""


class RequiredNodeFailed(RuntimeError):
    """A required node exited with a non-zero code: the launch fails (``ros2 launch`` exits 1)."""


class RequiredNodeExited(Event):
    """Emitted when a required node exited with a non-zero code."""

    name = "ikrl_ros.RequiredNodeExited"

    def __init__(self, node: Node, message: str) -> None:
        super().__init__()
        self.node, self.message = node, message


def on_required_exit(event: ProcessExited, context: LaunchContext):
    """A required node exited: shut the launch down, failing it when the exit code is not 0."""
    if context.is_shutdown:  # Ctrl-C or another node's failure: the nodes are being stopped anyway
        return None
    name, code = event.action.name, event.returncode
    if code == 0:
        return [Shutdown(reason=f"required node {name} exited")]
    return [
        EmitEvent(
            event=RequiredNodeExited(
                event.action, f"required node {name} exited with code {code}: shutting the launch down"
            )
        )
    ]


def fail_launch(context: LaunchContext) -> None:
    """Raise RequiredNodeFailed: the launch service logs it, shuts everything down and returns 1.

    launch 3.x returns a non-zero code only for an exception in the launch (a Shutdown action always
    gives 0). It is raised while handling a separate event, after every handler of the process's exit
    (launch's own, launch_testing's exit-code records) has run.
    """
    raise RequiredNodeFailed(context.locals.event.message)


def required_node_handlers(node: Node) -> list:
    """Event handlers making ``node`` required: its exit ends the launch, failing it for a non-zero code."""
    return [
        RegisterEventHandler(OnProcessExit(target_action=node, on_exit=on_required_exit)),
        RegisterEventHandler(
            EventHandler(
                matcher=lambda event: isinstance(event, RequiredNodeExited) and event.node is node,
                entities=[OpaqueFunction(function=fail_launch)],
            )
        ),
    ]
