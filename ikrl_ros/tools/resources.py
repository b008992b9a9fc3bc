"""Where the package's installed files are: the colcon share directory, or the source tree."""

from __future__ import annotations

from pathlib import Path

from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

SOURCE_ROOT = Path(__file__).resolve().parents[2]
"""The checkout, for an editable (pip -e) install: launch/ and config/ live beside the package."""


def share_path(*parts: str) -> Path:
    """A file under ``share/ikrl_ros`` when the package is colcon-installed, else under the source tree."""
    try:
        candidate = Path(get_package_share_directory("ikrl_ros"), *parts)
    except (PackageNotFoundError, OSError):  # OSError: no AMENT_PREFIX_PATH, i.e. not in a sourced workspace
        return SOURCE_ROOT.joinpath(*parts)
    return candidate if candidate.exists() else SOURCE_ROOT.joinpath(*parts)
