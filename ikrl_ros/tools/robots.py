"""``ikrl robots``: the shipped arms, with their joint count, URDF, frames and shipped policies (``--json`` for
scripts)."""

from __future__ import annotations

import argparse
import importlib.resources
import json

import yaml

from ikrl_ros.core.robot import DEFAULT_ROBOT, load_arm, resolve_urdf, shipped_robots
from ikrl_ros.tools.command import SubParsers, run_subcommand

JSON_KEYS = ("name", "dof", "urdf", "base_frame", "tip_frame", "policies")


def shipped_policies(robot: str) -> list[str]:
    """Names of the shipped policies trained for ``robot``: a manifest names its arm (``robot``; the Panda's predate
    the entry and name none)."""
    folder = importlib.resources.files("ikrl_ros") / "policies"
    names = []
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            manifest = json.loads(entry.read_text())
            if manifest.get("robot", DEFAULT_ROBOT) == robot:
                names.append(manifest["policy"].removesuffix(".pt"))
    return sorted(names)


def robot_entries() -> list[dict]:
    """One entry per shipped arm, with the ``JSON_KEYS``; the URDF is where the description points (a resolved copy
    in the cache may be what the simulator loads)."""
    entries = []
    for name in shipped_robots():
        arm = load_arm(name)
        description = yaml.safe_load((importlib.resources.files("ikrl_ros") / "robots" / f"{name}.yaml").read_text())
        entries.append(
            {
                "name": name,
                "dof": arm.dof,
                "urdf": resolve_urdf(str(description["urdf"])),
                "base_frame": arm.base_frame,
                "tip_frame": arm.tip_frame,
                "policies": shipped_policies(name),
            }
        )
    return entries


def robots(args: argparse.Namespace) -> int:
    entries = robot_entries()
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    for entry in entries:
        print(f"{entry['name']}: {entry['dof']} DoF, {entry['base_frame']} → {entry['tip_frame']}")
        print(f"  URDF      {entry['urdf']}")
        print(f"  policies  {', '.join(entry['policies']) or '(none shipped)'}")
    return 0


def add_subcommands(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser("robots", help="list the shipped arms: DoF, URDF, frames, shipped policies")
    parser.add_argument("--json", action="store_true", help=f"a JSON list of objects with the keys {list(JSON_KEYS)}")
    parser.set_defaults(func=robots)


def main(argv: list[str] | None = None) -> int:
    return run_subcommand("robots", add_subcommands, argv)


if __name__ == "__main__":
    raise SystemExit(main())
