"""``ikrl robots``: the shipped arms, with their joint count, URDF, frames and shipped policies (``--json`` for
scripts)."""

from __future__ import annotations

import argparse
import importlib.resources
import json
from pathlib import Path

import yaml

from ikrl_ros.core.robot import DEFAULT_ROBOT, load_arm, resolve_urdf, shipped_robots
from ikrl_ros.rl.controller_factory import policy_folder
from ikrl_ros.tools.command import SubParsers, run_subcommand
from ikrl_ros.tools.report import write_section

JSON_KEYS = ("name", "dof", "urdf", "base_frame", "tip_frame", "policies")


def shipped_policies(robot: str) -> list[str]:
    """Names of the shipped policies trained for ``robot`` (the Panda's at the top of the policies folder, another
    arm's in its own folder there): a manifest names its arm (``robot``; the Panda's predate the entry)."""
    folder = policy_folder(robot)
    if not folder.is_dir():
        return []
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


def arms_table() -> str:
    """Markdown: each shipped arm, its admitted workspace and its shipped workspace policies (under the limited
    execution, the default, and without) as their manifests measured them (training steps and seconds, held-out
    goals of ``ikrl eval``)."""
    rows = [
        "| arm | DoF | base → tip | admitted workspace (base frame) | `sac_workspace_limited` (strict, the default): "
        "steps, training s; ≤ 5 mm, median | `sac_workspace` (`strict: false`): steps, training s; ≤ 5 mm, median |",
        "|---|---|---|---|---|---|",
    ]
    for entry in robot_entries():
        workspace = load_arm(entry["name"]).workspace
        low, high = (", ".join(f"{v:g}" for v in c) for c in (workspace.box_min, workspace.box_max))
        cells = [policy_cell(policy_folder(entry["name"]) / f"{name}.json") for name in POLICY_COLUMNS]
        rows.append(
            f"| {entry['name']} | {entry['dof']} | {entry['base_frame']} → {entry['tip_frame']} | [{low}]–[{high}] m "
            f"∩ {workspace.reach_radius:g} m sphere | " + " | ".join(cells) + " |"
        )
    return "\n".join(rows)


POLICY_COLUMNS = ("sac_workspace_limited", "sac_workspace")


def policy_cell(manifest: Path) -> str:
    """One shipped policy as its manifest measured it, or that none ships."""
    if not manifest.is_file():
        return "none shipped"
    m = json.loads(manifest.read_text())
    evaluation = m["evaluation"]
    return (
        f"{m['steps']:,}, {m['train_time_s']:.0f} s; {evaluation['success_rate']:.0%}, "
        f"{evaluation['median_final_distance_m'] * 1000:.2f} mm"
    )


def robots(args: argparse.Namespace) -> int:
    entries = robot_entries()
    if args.readme:
        write_section(
            args.readme, "arms", f"Written by `ikrl robots --readme README.md` from the manifests.\n\n{arms_table()}"
        )
        return 0
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
    parser.add_argument("--readme", type=Path, help="write the arms table into this file's arms section instead")
    parser.set_defaults(func=robots)


def main(argv: list[str] | None = None) -> int:
    return run_subcommand("robots", add_subcommands, argv)


if __name__ == "__main__":
    raise SystemExit(main())
