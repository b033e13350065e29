"""Shared fixtures: the repository paths, the workflow runner and species built once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from electrolyte_md.forcefield.species import parameterize_species
from electrolyte_md.structures.species import build_species

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests" / "data" / "tiny_config.yaml"

#: name, SMILES, residue, parameters: the default electrolyte's species
ELECTROLYTE_SPECIES = {
    "NMP": ("CN1CCCC1=O", "NMP", {"model": "gaff2_am1bcc"}),
    "Li": ("[Li+]", "LI", {"model": "ion_jc_tip3p"}),
    "PF6": (
        "F[P-](F)(F)(F)(F)F",
        "PF6",
        {"model": "gaff2_fixed_charges", "charges": {"P": 1.34, "F": -0.39}},
    ),
}


class Workflow:
    """The workflow (this repository's Snakefile) in a working directory of its own.

    ``config`` is written to ``<directory>/config/config.yaml``, the file the Snakefile
    reads; :meth:`run` runs Snakemake there with this interpreter's environment first on
    PATH (its antechamber, packmol, ...), and returns the finished process unchecked.
    """

    def __init__(self, directory: Path, config: dict | None = None) -> None:
        self.directory = Path(directory)
        self.config_file = self.directory / "config" / "config.yaml"
        if config is not None:
            self.write_config(config)

    def write_config(self, config: dict) -> Path:
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(yaml.safe_dump(config))
        return self.config_file

    def command(self, *args: str) -> list[str]:
        return [
            sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
            "--directory", str(self.directory), *args,
        ]  # fmt: skip

    def run(
        self, *args: str, timeout: float = 1200, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        """Snakemake with ``args``; ``env`` (default: this process's) gets PATH as above."""
        env = dict(os.environ if env is None else env)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        return subprocess.run(
            self.command(*args),
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=timeout,
        )


@pytest.fixture(scope="session")
def workflow(tmp_path_factory):
    """Factory of :class:`Workflow`: ``workflow(config)`` in a new directory (or in
    ``directory=``); session-scoped so that module fixtures can run a study once."""

    def make(config: dict | None = None, directory: Path | None = None, name: str = "wf"):
        return Workflow(directory or tmp_path_factory.mktemp(name), config)

    return make


def pytest_addoption(parser):
    parser.addoption(
        "--run-long", action="store_true", help="also run tests marked long (tens of minutes)"
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-long"):
        return
    skip = pytest.mark.skip(reason="marked long (tens of minutes): run with --run-long")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def parameter_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("parameter-cache")


@pytest.fixture(scope="session")
def built_species(tmp_path_factory, parameter_cache) -> dict[str, Path]:
    """NMP, Li+ and PF6- built and parameterised with the real tools; name -> species dir."""
    root = tmp_path_factory.mktemp("species")
    dirs = {}
    for name, (smiles, residue, parameters) in ELECTROLYTE_SPECIES.items():
        d = root / name
        info = build_species(name, smiles, residue, d / "structure.sdf", d / "species.json")
        parameterize_species(
            info, d / "structure.sdf", parameters, d / "params", cache_dir=parameter_cache
        )
        dirs[name] = d
    return dirs
