"""``ikrl``: the command-line entry point (demo, training, evaluation, plots, benchmarks, figures, sweeps)."""

from __future__ import annotations

import argparse

from ikrl_ros.tools import bench_algorithms, command, demo, figures, learning_commands, robots, soak, sweep

SUBCOMMAND_MODULES = (demo, soak, learning_commands, bench_algorithms, figures, sweep, robots)
"""Every module with ``ikrl`` subcommands (``add_subcommands``, see ``command``), in ``ikrl --help`` order."""

DESCRIPTION = "Learned and classical inverse kinematics for the Panda, over ROS 2."


def build_parser() -> argparse.ArgumentParser:
    return command.build_parser(*(module.add_subcommands for module in SUBCOMMAND_MODULES), description=DESCRIPTION)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
