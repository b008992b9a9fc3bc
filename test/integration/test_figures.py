"""Every figure block in README.md and docs/ is written by a command `ikrl figures` runs (the README's parameter
tables by ``python -m ikrl_ros.nodes.parameter_docs``, which test_parameter_docs checks)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from ikrl_ros.tools.figures import FIGURES, main

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"<!-- ([a-z_:]+):begin -->")


def test_every_marked_block_has_a_figure_that_writes_it() -> None:
    from ikrl_ros.nodes.parameter_docs import readme_blocks

    written = {marker for figure in FIGURES for marker in figure.markers}
    parameter_tables = set(readme_blocks())
    for document in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for marker in BLOCK.findall(document.read_text()):
            if document.name == "README.md" and marker in parameter_tables:
                continue  # rendered from the parameter dataclasses, not by a benchmark
            assert marker in written, f"{document.name}: block '{marker}' is written by no figure of `ikrl figures`"


def test_every_figure_runs_a_real_command() -> None:
    for figure in FIGURES:
        module = importlib.import_module(f"ikrl_ros.tools.{figure.module}")
        assert callable(getattr(module, "main", None)), f"{figure.name}: ikrl_ros.tools.{figure.module}.main"


def test_list_prints_every_figure_and_refuses_sb3_comparisons_without_an_interpreter(capsys, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["--list"]) == 0
    listed = capsys.readouterr().out
    assert all(figure.name in listed for figure in FIGURES)
    assert main(["--only", "training"]) == 2
    assert "need --sb3-python" in capsys.readouterr().err
