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

from ikrl_ros.nodes.ros_common import declare, diagnostics, run_node
from ikrl_ros.rl.config import CONFIGS, HER_STRATEGIES, make_config
from ikrl_ros.rl.trainer import Progress, TrainResult, train

NO_TARGET = 0.0


class TrainNode(Node):
    """Parameters in, a training run out; ``~/progress`` after every evaluation."""

    def __init__(self) -> None:
        super().__init__("train_node")
        self.algo = declare(self, "algo", "sac", f"algorithm: one of {sorted(CONFIGS)}")
        self.env_id = declare(
            self,
            "env_id",
            "PandaReach-v3",
            "gymnasium id (PandaReach-v3, PandaReachDense-v3, PandaReachJoints-v3, ...)",
        )
        self.her_strategy = declare(
            self,
            "her_strategy",
            "future",
            f"hindsight relabelling: one of {list(HER_STRATEGIES)} ('none' = plain replay)",
        )
        self.steps = declare(self, "steps", 20_000, "total environment steps")
        self.seed = declare(self, "seed", 0, "random seed")
        self.out_dir = declare(
            self,
            "out_dir",
            "runs/train_node",
            "output directory: checkpoints, progress.csv, TensorBoard; resumed if it holds a checkpoint",
        )
        self.n_envs = declare(self, "n_envs", 2, "environments stepped in parallel")
        self.eval_every = declare(
            self, "eval_every", 1_000, "environment steps between evaluations (and ~/progress messages)"
        )
        self.eval_episodes = declare(self, "eval_episodes", 50, "seeded goals per evaluation")
        self.checkpoint_every = declare(self, "checkpoint_every", 1_000, "environment steps between atomic checkpoints")
        self.target_success = declare(
            self,
            "target_success",
            NO_TARGET,
            "stop at the first evaluation with this success rate (0: train all steps)",
        )
        self.resume = declare(self, "resume", True, "continue from out_dir's checkpoint when there is one")
        self.config = self._validate_parameters()

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
            f"training {self.algo} on {self.env_id} (HER: {self.her_strategy}) for {self.steps} steps into {self.out_dir}"
        )

    def _validate_parameters(self):
        if self.algo not in CONFIGS:
            raise ValueError(f"parameter 'algo' must be one of {sorted(CONFIGS)}, got '{self.algo}'")
        if self.her_strategy not in HER_STRATEGIES:
            raise ValueError(
                f"parameter 'her_strategy' must be one of {list(HER_STRATEGIES)}, got '{self.her_strategy}'"
            )
        for name in ("steps", "n_envs", "eval_every", "eval_episodes", "checkpoint_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"parameter '{name}' must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.target_success <= 1.0:
            raise ValueError(f"parameter 'target_success' must be in [0, 1], got {self.target_success}")
        return make_config(self.algo, her_strategy=self.her_strategy)

    def _run(self) -> None:
        try:
            self.result = train(
                self.config,
                env_id=self.env_id,
                steps=self.steps,
                seed=self.seed,
                out_dir=self.out_dir,
                n_envs=self.n_envs,
                eval_every=self.eval_every,
                eval_episodes=self.eval_episodes,
                checkpoint_every=self.checkpoint_every,
                resume=self.resume,
                target_success=self.target_success if self.target_success > NO_TARGET else None,
                progress_bar=False,
                progress_callback=self.publish_progress,
                should_stop=self.stop_requested.is_set,
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
        """Ask the trainer to stop (it writes a final checkpoint) and wait for it."""
        self.stop_requested.set()
        self.worker.join()


def main(args: list[str] | None = None) -> None:
    raise SystemExit(run_node(TrainNode, args))


if __name__ == "__main__":
    main()
