"""``train_node``: the ikrl trainer driven by ROS parameters, reporting progress over ROS.

Training runs in a worker thread; the node publishes each evaluation on ``~/progress``
(diagnostic_msgs/DiagnosticStatus: step, success rate, losses, ...) and on ``/diagnostics``, and
checkpoints as it goes. On SIGINT/SIGTERM it asks the trainer to stop, which writes a final
checkpoint; the node exits by itself when training finishes. Re-running with the same
``out_dir`` resumes from the checkpoint there.
"""

from __future__ import annotations

import json
import threading

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from ikrl_ros.nodes.parameters import NO_TARGET, TrainNodeParameters, declare_parameters
from ikrl_ros.nodes.ros_common import diagnostics, run_node
from ikrl_ros.rl.config import make_config
from ikrl_ros.rl.trainer import Progress, TrainResult, train

SHUTDOWN_TIMEOUT = 30.0
"""Seconds a stop request may take (a final checkpoint of a large replay buffer takes a few)."""


class TrainNode(Node):
    """Parameters in, a training run out; ``~/progress`` after every evaluation."""

    def __init__(self) -> None:
        super().__init__("train_node")
        self.params = declare_parameters(self, TrainNodeParameters)
        self.config = make_config(self.params.algo, her_strategy=self.params.her_strategy)

        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.progress_pub = self.create_publisher(DiagnosticStatus, "~/progress", reliable)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", reliable)
        self.stop_requested = threading.Event()
        self.finished = threading.Event()
        self.result: TrainResult | None = None
        self.error: BaseException | None = None
        self.worker = threading.Thread(target=self._run, name="ikrl-trainer", daemon=True)
        self.worker.start()
        self.get_logger().info(
            f"training {self.params.algo} on {self.params.env_id} (HER: {self.params.her_strategy}) for "
            f"{self.params.steps} steps into {self.params.out_dir}"
        )

    def _run(self) -> None:
        try:
            self.result = train(
                self.config,
                env_id=self.params.env_id,
                steps=self.params.steps,
                seed=self.params.seed,
                out_dir=self.params.out_dir,
                n_envs=self.params.n_envs,
                eval_every=self.params.eval_every,
                eval_episodes=self.params.eval_episodes,
                checkpoint_every=self.params.checkpoint_every,
                resume=self.params.resume,
                target_success=self.params.target_success if self.params.target_success > NO_TARGET else None,
                progress_bar=False,
                progress_callback=self.publish_progress,
                should_stop=self.stop_requested.is_set,
                env_kwargs=self.params.env_kwargs(),
            )
            self.get_logger().info(f"training ended at step {self.result.step}; checkpoint {self.result.checkpoint}")
        except Exception as error:  # reported, then the node exits non-zero
            self.error = error
            self.get_logger().error(f"training failed: {error}")
        finally:
            self.finished.set()

    def publish_progress(self, progress: Progress) -> None:
        values = {
            "step": progress.step,
            "total_steps": progress.total_steps,
            "success_rate": f"{progress.success_rate:.4f}",
            "mean_reward": f"{progress.mean_reward:.4f}",
            "median_final_distance": f"{progress.median_final_distance:.5f}",
            "actor_loss": "nan" if progress.actor_loss is None else f"{progress.actor_loss:.6g}",
            "critic_loss": "nan" if progress.critic_loss is None else f"{progress.critic_loss:.6g}",
            "wall_time": f"{progress.wall_time:.2f}",
        }
        message = f"step {progress.step}/{progress.total_steps}: success {progress.success_rate:.0%}"
        array = diagnostics(self, "ok", message, values)
        self.progress_pub.publish(array.status[0])
        self.diagnostics_pub.publish(array)
        self.get_logger().info(f"{message} {json.dumps(values)}")

    def is_finished(self) -> bool:
        return self.finished.is_set()

    def on_shutdown(self) -> None:
        """Ask the trainer to stop (it writes a final checkpoint) and wait for it, at most ``SHUTDOWN_TIMEOUT``.

        The trainer polls the stop request between steps and evaluation episodes, so it ends within about one
        episode; past the timeout the node gives up waiting (the worker is a daemon thread) and reports it.
        """
        self.stop_requested.set()
        self.worker.join(SHUTDOWN_TIMEOUT)
        if self.worker.is_alive():
            self.error = TimeoutError(f"the trainer did not stop within {SHUTDOWN_TIMEOUT} s")
            self.get_logger().error(f"{self.error}; the last periodic checkpoint stands")


def main(args: list[str] | None = None) -> None:
    raise SystemExit(run_node(TrainNode, args))


if __name__ == "__main__":
    main()
