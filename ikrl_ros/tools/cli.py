"""``ikrl``: the command-line entry point (demo, training, evaluation, plots, benchmarks, figures, sweeps)."""

from __future__ import annotations

import argparse

from ikrl_ros.tools import demo, figures, learning_commands, soak, sweep


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ikrl", description="Learned and classical inverse kinematics for the Panda, over ROS 2."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    demo.add_subcommand(subparsers)
    soak.add_subcommand(subparsers)
    learning_commands.add_subcommands(subparsers)
    figures.add_subcommand(subparsers)
    sweep.add_subcommand(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
