"""Where the package's launch/ and config/ files are, found without looking above the installed package.

A colcon install (or any prefix on ``AMENT_PREFIX_PATH``) has them in the ament index's ``share/ikrl_ros``; a
checkout you work in has them beside the package; ``pip install`` of the wheel puts them (its data files) in
``share/ikrl_ros`` under the environment's data directory. Policies are package data (``ikrl_ros/policies``).
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

PACKAGE = "ikrl_ros"


def is_checkout(folder: Path) -> bool:
    """A source tree of this package: its ``package.xml`` names ikrl_ros."""
    manifest = folder / "package.xml"
    return manifest.is_file() and f"<name>{PACKAGE}</name>" in manifest.read_text()


def share_dirs() -> list[Path]:
    """Folders that may hold ``launch/`` and ``config/``, in the order they are searched.

    The ament index first (what ``ros2 launch`` uses), then the working directory when it is a checkout (its
    files are newer than an editable install's copies), then where ``pip install`` puts a wheel's data files.
    """
    folders = []
    try:
        folders.append(Path(get_package_share_directory(PACKAGE)))
    except (PackageNotFoundError, OSError):  # OSError: no AMENT_PREFIX_PATH, i.e. not in a sourced workspace
        pass
    if is_checkout(Path.cwd()):
        folders.append(Path.cwd())
    for scheme in (sysconfig.get_default_scheme(), sysconfig.get_preferred_scheme("user")):
        folders.append(Path(sysconfig.get_path("data", scheme), "share", PACKAGE))
    return folders


def share_path(*parts: str) -> Path:
    """The first existing ``share/ikrl_ros/<parts>`` of ``share_dirs()``."""
    folders = share_dirs()
    for folder in folders:
        candidate = folder.joinpath(*parts)
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"{Path(*parts)} is in none of {[str(f) for f in folders]}: source a colcon install of {PACKAGE}, "
        "run from its checkout, or pip install it"
    )
