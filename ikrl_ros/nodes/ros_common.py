"""The thin ROS plumbing every node shares: parameter declaration, message/time conversion, a clean main loop."""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.duration import Duration
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from ikrl_ros.core.control import CONTROL_PERIOD
from ikrl_ros.core.safety import Intervention

CONTROL_PERIOD_NS = round(CONTROL_PERIOD * 1e9)
DIAGNOSTIC_LEVELS = {"ok": DiagnosticStatus.OK, "warn": DiagnosticStatus.WARN, "error": DiagnosticStatus.ERROR}


def time_from_ns(nanoseconds: int) -> Time:
    return Time(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


def ns_from_time(stamp: Time) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def diagnostics(
    node: Node, level: str, message: str, values: dict[str, Any], stamp: Time | None = None
) -> DiagnosticArray:
    """A one-status ``DiagnosticArray`` named after the node, with its key/values as strings, stamped ``stamp``
    (default: the node's clock)."""
    status = DiagnosticStatus(
        level=DIAGNOSTIC_LEVELS[level],
        name=node.get_fully_qualified_name(),
        message=message,
        hardware_id="ikrl_ros",
        values=[KeyValue(key=key, value=str(value)) for key, value in values.items()],
    )
    array = DiagnosticArray(status=[status])
    array.header.stamp = node.get_clock().now().to_msg() if stamp is None else stamp
    return array


def xyz(message: Any) -> list[float]:
    """The x, y, z fields of a Point or Vector3 message (not yet validated)."""
    return [message.x, message.y, message.z]


NUMBER = re.compile(r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf)", re.IGNORECASE)
"""Numbers in a warning, signed and non-finite ones included: warnings that differ only in them are one kind."""


class EntitySnapshot:
    """A node's publishers, subscriptions, timers and services at one moment, to tear down what came later
    (a managed node's cleanup keeps what existed before configure: parameter and lifecycle services)."""

    def __init__(self, node: Node) -> None:
        self.publishers, self.subscriptions = set(node.publishers), set(node.subscriptions)
        self.timers, self.services = set(node.timers), set(node.services)

    def destroy_newer(self, node: Node) -> None:
        for timer in set(node.timers) - self.timers:
            node.destroy_timer(timer)
        for subscription in set(node.subscriptions) - self.subscriptions:
            node.destroy_subscription(subscription)
        for service in set(node.services) - self.services:
            node.destroy_service(service)
        for publisher in set(node.publishers) - self.publishers:
            node.destroy_publisher(publisher)


class ThrottledWarnings:
    """Log each kind of warning at most once per ``period`` seconds.

    rclpy's ``throttle_duration_sec`` throttles per call site, which would hide a second, different
    problem arriving within the period. Here the kind is the text with its numbers blanked out, so
    every distinct reason stays visible while a flood of bad messages (whatever values they carry)
    costs one line per kind and period. ``count`` says how many warnings of all kinds were raised.
    """

    def __init__(self, node: Node, period: float = 1.0) -> None:
        self.node = node
        self.period = period
        self.last_logged: dict[str, float] = {}
        self.count = 0

    def warn(self, text: str) -> None:
        self.count += 1
        kind = NUMBER.sub("#", text)
        now = time.monotonic()
        if now - self.last_logged.get(kind, -float("inf")) >= self.period:
            if len(self.last_logged) > 1000:  # bounded memory under floods of ever-different messages
                self.last_logged.clear()
            self.last_logged[kind] = now
            self.node.get_logger().warning(text)

    def safety(self, interventions: Sequence[Intervention]) -> int:
        """Report safety-limit interventions; returns how many there were."""
        for intervention in interventions:
            self.warn(f"safety limit: {intervention.text}; command limited")
        return len(interventions)


def publish_at_rate(publish: Callable[[int], None], rate_hz: float, seconds: float) -> int:
    """Call ``publish(i)`` ``rate_hz`` times a second for ``seconds``, sleeping between bursts; returns the count.

    Sleep-paced with catch-up, so a 1 kHz flood from Python costs a fraction of a core rather than
    a busy-waiting one.
    """
    start = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - start) < seconds:
        while sent < elapsed * rate_hz:
            publish(sent)
            sent += 1
        time.sleep(0.002)
    return sent


FINAL_DELIVERY_TIMEOUT = 0.5
"""Seconds to wait for subscribers to acknowledge the last messages (reliable publishers) at shutdown."""


def run_node(node_factory: Callable[[], Node], args: list[str] | None = None) -> int:
    """Standard ``main()`` body: build the node, spin until SIGINT/SIGTERM, then shut down cleanly.

    ROS' own signal handlers are replaced so that the node can still publish (a final zero
    command) after the signal, before the context goes away. Start-up errors (bad parameters,
    missing files) are logged and give exit code 2 without the node ever commanding.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        node = node_factory()
    except (ValueError, FileNotFoundError, RuntimeError, ParameterException) as error:
        rclpy.logging.get_logger("ikrl_ros").fatal(f"start-up failed: {error}")
        rclpy.try_shutdown()
        return 2
    executor = rclpy.executors.SingleThreadedExecutor()
    executor.add_node(node)
    is_finished = getattr(node, "is_finished", lambda: False)  # nodes with a job of their own end by themselves
    try:
        while not stop.is_set() and not is_finished():
            executor.spin_once(timeout_sec=0.05)
    finally:
        on_shutdown = getattr(node, "on_shutdown", None)
        if on_shutdown is not None:
            on_shutdown()
            deadline = time.monotonic() + FINAL_DELIVERY_TIMEOUT  # one deadline for all publishers
            for publisher in node.publishers:  # the final hold must arrive before the participant disappears
                publisher.wait_for_all_acked(Duration(seconds=max(0.0, deadline - time.monotonic())))
        exit_code = 1 if getattr(node, "error", None) is not None else 0
        executor.remove_node(node)
        node.destroy_node()
        rclpy.try_shutdown()
    return exit_code
