"""Project basics a user meets first: the configuration reference generated from the
schema (and current), the console command, the licence and the citation file."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import yaml
from conftest import REPO

from electrolyte_md.cli import SUBCOMMANDS, main
from electrolyte_md.configdoc import README, SCHEMA, config_readme, schema_rows


def test_config_readme_is_current():
    """config/README.md is what `electrolyte-md config-docs` writes from the schema: a
    schema change without regenerating it fails here (the fix: run that command)."""
    assert README.read_text(encoding="utf-8") == config_readme(), (
        "config/README.md is out of date: run `electrolyte-md config-docs`"
    )


def test_config_readme_names_every_key_of_the_schema_with_its_default():
    schema = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    rows = {key: (kind, default, text) for key, kind, default, text, _ in schema_rows(
        schema, schema["$defs"]
    )}  # fmt: skip
    text = config_readme()
    for key in rows:
        assert f"`{key}`" in text
    # a nested key, a name of the user's choosing, a $ref bound and a default
    assert rows["md.protocol.timestep_fs"][0] == "number (> 0)"
    assert "species.<name>.smiles" in rows
    assert rows["md.replicas"][1] == "`1`"
    assert "GPU" in rows["md.gpu_package"][2]
    assert sum(1 for _, _, text in rows.values() if text) >= 90


def test_console_command_runs_each_tool_by_name(tmp_path, capsys):
    assert main([]) == 2 and "subcommands:" in capsys.readouterr().out
    assert main(["no-such-tool"]) == 2
    assert "unknown subcommand 'no-such-tool'" in capsys.readouterr().err
    assert main(["config-docs", str(tmp_path / "README.md")]) == 0
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == config_readme()
    # each tool answers --help under its subcommand (argparse exits 0)
    for name in SUBCOMMANDS:
        done = subprocess.run(
            [sys.executable, "-m", "electrolyte_md.cli", name, "--help"],
            capture_output=True, text=True, check=False, cwd=REPO, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, (name, done.stderr[-800:])
        assert "usage" in done.stdout.lower() or "config/README.md" in done.stdout, name
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["electrolyte-md"] == "electrolyte_md.cli:main"


def test_licence_and_citation_file():
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"  # an SPDX expression (PEP 639)
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))
    for key in ("cff-version", "message", "title", "authors", "version", "license"):
        assert cff.get(key), key
    assert cff["license"] == "MIT" and cff["version"] == project["version"]
