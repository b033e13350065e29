"""Shared fixtures: the repository paths and species built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

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
