"""Benchmark reports written into marked sections of markdown files, so one command regenerates them."""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, marker: str, text: str) -> None:
    """Replace the block between ``<!-- marker:begin -->`` and ``<!-- marker:end -->`` in ``path`` (or append it)."""
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    block = f"{begin}\n{text.rstrip()}\n{end}"
    current = path.read_text() if path.exists() else ""
    if begin in current:
        head, rest = current.split(begin, 1)
        current = head + block + rest.split(end, 1)[1]
    else:
        current = f"{current.rstrip()}\n\n{block}\n" if current else f"{block}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(current)
