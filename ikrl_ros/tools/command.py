"""The one convention of the ``ikrl`` subcommands, in a module that imports no tool so that none imports back.

A tool module with ``ikrl`` subcommands defines ``add_subcommands(subparsers)``, adding one parser per subcommand
with ``func(args) -> int`` set; ``cli`` only lists those modules. Every tool that runs on its own (``python -m``,
``ikrl bench WHAT``, ``ikrl figures``) has ``main(argv) -> int``; a subcommand module's is ``run_subcommand``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

SubParsers = argparse._SubParsersAction
AddSubcommands = Callable[[SubParsers], None]


def build_parser(*adders: AddSubcommands, description: str | None = None) -> argparse.ArgumentParser:
    """An ``ikrl`` parser with the subcommands that ``adders`` (modules' ``add_subcommands``) register."""
    parser = argparse.ArgumentParser(prog="ikrl", description=description)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add in adders:
        add(subparsers)
    return parser


def run(argv: Sequence[str] | None, *adders: AddSubcommands) -> int:
    """Parse ``argv`` (a subcommand and its arguments) against ``adders``' subcommands and run the chosen one."""
    args = build_parser(*adders).parse_args(argv)
    return int(args.func(args))


def run_subcommand(name: str, add: AddSubcommands, argv: Sequence[str] | None) -> int:
    """``main`` of a module with one subcommand: ``argv`` (default ``sys.argv[1:]``) is that subcommand's arguments."""
    return run([name, *(sys.argv[1:] if argv is None else argv)], add)
