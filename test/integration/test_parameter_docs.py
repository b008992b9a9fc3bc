"""The README's parameter tables and config/*.yaml are the parameter dataclasses, rendered: any disagreement fails."""

from __future__ import annotations

import shutil
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from ikrl_ros.nodes.parameter_docs import (
    COMMAND,
    CONFIG_FILES,
    NODES,
    config_yaml,
    generated_files,
    main,
    readme_with_tables,
)
from ikrl_ros.nodes.parameters import default_of, spec_of

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_tables_and_config_files_are_generated_from_the_dataclasses() -> None:
    for path, content in generated_files(ROOT / "README.md", ROOT / "config").items():
        assert path.read_text() == content, f"{path.name} disagrees with ikrl_ros/nodes/parameters.py: run {COMMAND}"


def test_an_edited_table_is_a_difference() -> None:
    readme = (ROOT / "README.md").read_text()
    edited = readme.replace("| total environment steps |", "| environment steps, roughly |")
    assert edited != readme and readme_with_tables(edited) == readme


@pytest.mark.parametrize("file_name", sorted(CONFIG_FILES))
def test_a_generated_params_file_reads_back_as_the_defaults(file_name: str) -> None:
    """Same values and types as declared (1.0 stays a float, "" a string), derived defaults left to the node."""
    sections = yaml.safe_load(config_yaml(file_name))
    for node in CONFIG_FILES[file_name][1]:
        values = sections[f"/**/{node}"]["ros__parameters"]
        expected = {item.name: default_of(item) for item in fields(NODES[node]) if spec_of(item).derived is None}
        assert values == expected
        assert all(type(values[name]) is type(value) for name, value in expected.items()), node


def test_the_command_rewrites_what_differs_and_check_reports_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    readme, config = tmp_path / "README.md", tmp_path / "config"
    shutil.copy(ROOT / "README.md", readme)
    shutil.copytree(ROOT / "config", config)
    (config / "train.yaml").write_text((config / "train.yaml").read_text().replace("steps: 20000", "steps: 5"))
    assert main(["--check", str(readme), str(config)]) == 1
    assert "train.yaml: differs" in capsys.readouterr().out
    assert main([str(readme), str(config)]) == 0
    assert main(["--check", str(readme), str(config)]) == 0
    assert (config / "train.yaml").read_text() == (ROOT / "config" / "train.yaml").read_text()
