"""A real engine: NWChem computes Li+, PF6- and the Li+.PF6- contact pair (B3LYP-D3(BJ)/
6-31G*, with ghost-atom fragments) during the tests; the readers, the binding-energy table
and the dft rules of the workflow use what it wrote. Unconverged, truncated and
mismatched-basis outputs made the same way are refused."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, TINY_CONFIG

from electrolyte_md.dft.binding import binding_energy, charges_table
from electrolyte_md.dft.inputs import (
    counterpoise_jobs,
    make_job,
    nwchem_input,
    orca_input,
    run_nwchem,
    write_inputs,
)
from electrolyte_md.dft.readers import read_output
from electrolyte_md.errors import DFTOutputError
from electrolyte_md.units import EV_TO_KJ_PER_MOL

HAVE_NWCHEM = shutil.which("nwchem") is not None
if not HAVE_NWCHEM and os.environ.get("CI"):
    raise RuntimeError("CI is set but nwchem is not on PATH (apt-get install nwchem)")
needs_nwchem = pytest.mark.skipif(
    not HAVE_NWCHEM, reason="nwchem not on PATH (Debian package nwchem); CI requires it"
)

F = 1.61  # P-F, angstrom
LI = 1.45  # Li on the C3 axis facing three F: Li-P 2.51 A, Li-F 2.06 A
SYMBOLS = ["P", "F", "F", "F", "F", "F", "F", "Li"]
POSITIONS = [
    (0, 0, 0),
    (F, 0, 0),
    (-F, 0, 0),
    (0, F, 0),
    (0, -F, 0),
    (0, 0, F),
    (0, 0, -F),
    (LI, LI, LI),
]
FRAGMENTS = {"Li": ([7], 1, 1), "PF6": (range(7), -1, 1)}
LEVEL = {"method": "b3lyp", "basis": "6-31G*", "dispersion": "d3bj"}


def pair_jobs(**overrides):
    return counterpoise_jobs(
        "LiPF6",
        SYMBOLS,
        POSITIONS,
        FRAGMENTS,
        charge=0,
        multiplicity=1,
        **{**LEVEL, **overrides},
    )


@pytest.fixture(scope="session")
def nwchem_outputs(tmp_path_factory) -> dict[str, Path]:
    """Complex, fragments and ghost-atom fragments, plus three broken runs."""
    if not HAVE_NWCHEM:
        pytest.skip("nwchem not on PATH (Debian package nwchem)")
    root = tmp_path_factory.mktemp("nwchem")
    jobs = pair_jobs()
    jobs["Li_321g"] = make_job("Li_321g", ["Li"], [POSITIONS[7]], charge=1, multiplicity=1,
                               **{**LEVEL, "basis": "3-21G"})  # fmt: skip
    jobs["PF6_maxiter2"] = make_job("PF6_maxiter2", SYMBOLS[:7], POSITIONS[:7], charge=-1,
                                    multiplicity=1, max_iterations=2, **LEVEL)  # fmt: skip
    outputs = {}
    for name, path in write_inputs(jobs, root, "nwchem").items():
        outputs[name] = root / f"{name}.out"
        run_nwchem(path, outputs[name])
    text = outputs["Li"].read_text()
    outputs["Li_truncated"] = root / "Li_truncated.out"
    outputs["Li_truncated"].write_text(text[: text.index("Total DFT energy") + 60])
    return outputs


def test_input_writers_mark_ghost_atoms():
    jobs = pair_jobs()
    nw = nwchem_input(jobs["Li_ghost"])
    assert nw.count("bqP ") == 2 and nw.count("bqF ") == 7  # 6 centres + 1 basis line each
    assert "bqF library F 6-31G*" in nw and "bqP library P 6-31G*" in nw
    assert "disp vdw 4" in nw and "charge 1" in nw and "mult 1" in nw
    orca = orca_input(jobs["PF6_ghost"])
    assert "! b3lyp 6-31G* D3BJ SP" in orca and "* xyz -1 1" in orca
    assert sum(line.strip().startswith("Li:") for line in orca.splitlines()) == 1
    assert nwchem_input(jobs["PF6"]).count("bq") == 0


def test_counterpoise_jobs_need_an_exact_partition():
    with pytest.raises(DFTOutputError, match="split the 8 atoms exactly once"):
        counterpoise_jobs("x", SYMBOLS, POSITIONS, {"Li": ([7], 1, 1), "P": ([0], 0, 1)},
                          charge=0, multiplicity=1, **LEVEL)  # fmt: skip


@needs_nwchem
def test_nwchem_outputs_read_strictly(nwchem_outputs):
    pair = read_output(nwchem_outputs["LiPF6"])
    li = read_output(nwchem_outputs["Li"])
    ghost = read_output(nwchem_outputs["Li_ghost"])
    assert pair.level_of_theory == li.level_of_theory == "b3lyp-d3bj/6-31g*"
    assert (pair.charge, li.charge, read_output(nwchem_outputs["PF6"]).charge) == (0, 1, -1)
    assert ghost.n_ghosts == 7 and li.n_ghosts == 0
    mulliken = pair.atomic_charges["mulliken"]
    assert len(mulliken) == 8 and sum(mulliken) == pytest.approx(0, abs=0.02)
    assert 0 < mulliken[7] < 1  # Li keeps most of its positive charge


@needs_nwchem
def test_binding_energy_and_bsse(nwchem_outputs):
    entry = {
        "complex": nwchem_outputs["LiPF6"],
        "fragments": {"Li": nwchem_outputs["Li"], "PF6": nwchem_outputs["PF6"]},
        "ghost_fragments": {"Li": nwchem_outputs["Li_ghost"], "PF6": nwchem_outputs["PF6_ghost"]},
    }
    row = binding_energy("LiPF6", entry)
    energies = {k: read_output(p).energy_ev for k, p in nwchem_outputs.items() if "_" not in k}
    expected = energies["LiPF6"] - energies["Li"] - energies["PF6"]
    assert row["binding_energy_eV"] == pytest.approx(expected)
    assert row["binding_energy_kJ_per_mol"] == pytest.approx(expected * EV_TO_KJ_PER_MOL)
    # a gas-phase contact ion pair: strongly bound, a few hundred kJ/mol
    assert -900 < row["binding_energy_kJ_per_mol"] < -400
    # the ghost basis lowers each fragment: BSSE positive, CP value less bound
    assert row["bsse_eV"] > 0
    assert row["cp_binding_energy_eV"] == pytest.approx(row["binding_energy_eV"] + row["bsse_eV"])
    print(
        f"\nLi+.PF6- B3LYP-D3(BJ)/6-31G*: {row['binding_energy_kJ_per_mol']:.1f} kJ/mol, "
        f"CP {row['cp_binding_energy_kJ_per_mol']:.1f} kJ/mol, "
        f"BSSE {row['bsse_kJ_per_mol']:.1f} kJ/mol"
    )
    table = charges_table([entry["complex"], *entry["fragments"].values()])
    assert len(table) == 8 + 1 + 7


@needs_nwchem
def test_unconverged_nwchem_run_is_refused(nwchem_outputs):
    with pytest.raises(DFTOutputError, match=r"PF6_maxiter2\.out: "):
        read_output(nwchem_outputs["PF6_maxiter2"])


@needs_nwchem
def test_truncated_nwchem_run_is_refused(nwchem_outputs):
    with pytest.raises(DFTOutputError, match=r"Li_truncated\.out: .*did not terminate"):
        read_output(nwchem_outputs["Li_truncated"])


@needs_nwchem
def test_mismatched_basis_is_refused_unless_allowed(nwchem_outputs):
    entry = {
        "complex": nwchem_outputs["LiPF6"],
        "fragments": {"Li": nwchem_outputs["Li_321g"], "PF6": nwchem_outputs["PF6"]},
    }
    with pytest.raises(DFTOutputError, match=r"Li_321g\.out: basis '3-21g' of the fragment Li"):
        binding_energy("LiPF6", entry)
    row = binding_energy("LiPF6", entry, allow_mismatch=True)
    assert row["cp_binding_energy_eV"] is None


@needs_nwchem
def test_charges_that_do_not_add_up_are_refused(nwchem_outputs):
    entry = {
        "complex": nwchem_outputs["LiPF6"],
        "fragments": {"Li": nwchem_outputs["Li"], "Li2": nwchem_outputs["Li"]},
    }
    with pytest.raises(DFTOutputError, match=r"LiPF6\.out: complex charge \+0 is not the sum"):
        binding_energy("LiPF6", entry)


@needs_nwchem
def test_ghost_output_without_ghosts_is_refused(nwchem_outputs):
    entry = {
        "complex": nwchem_outputs["LiPF6"],
        "fragments": {"Li": nwchem_outputs["Li"], "PF6": nwchem_outputs["PF6"]},
        "ghost_fragments": {"Li": nwchem_outputs["Li"], "PF6": nwchem_outputs["PF6_ghost"]},
    }
    with pytest.raises(DFTOutputError, match=r"Li\.out: .*has no ghost atoms"):
        binding_energy("LiPF6", entry)


@needs_nwchem
def test_dft_rules_end_to_end(nwchem_outputs, workflow, tmp_path):
    """The dft rules only (no MD): the manifest points at the NWChem outputs above."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["dft"] = {
        "binding": {
            "LiPF6_pair": {
                "complex": str(nwchem_outputs["LiPF6"]),
                "fragments": {"Li": str(nwchem_outputs["Li"]), "PF6": str(nwchem_outputs["PF6"])},
                "ghost_fragments": {
                    "Li": str(nwchem_outputs["Li_ghost"]),
                    "PF6": str(nwchem_outputs["PF6_ghost"]),
                },
            }
        }
    }
    study = workflow(config, directory=tmp_path)
    (tmp_path / "structures").symlink_to(REPO / "structures")  # files the config names
    targets = [
        "results/dft/binding_energies.csv",
        "results/dft/atomic_charges.csv",
        "results/report/binding_comparison.csv",
    ]
    run = study.run(
        "--configfile", str(study.config_file), "--replace-workflow-config",
        "--cores", "1", *targets, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    table = pd.read_csv(tmp_path / targets[0])
    direct = binding_energy("LiPF6_pair", config["dft"]["binding"]["LiPF6_pair"])
    assert table.loc[0, "binding_energy_eV"] == pytest.approx(direct["binding_energy_eV"], 1e-6)
    assert table.loc[0, "bsse_kJ_per_mol"] == pytest.approx(direct["bsse_kJ_per_mol"], 1e-5)
    assert table.loc[0, "level_of_theory"] == "b3lyp-d3bj/6-31g*"
    assert "counterpoise" in table.loc[0, "cp_method"]
    charges = pd.read_csv(tmp_path / targets[1])
    assert len(charges) == 8 + 1 + 7 + 8 + 8
    # the comparison table: both DFT values with their method, then the paper's
    comparison = pd.read_csv(tmp_path / targets[2])
    assert list(comparison["structure"]) == [
        "DFT outputs (uncorrected)",
        "DFT outputs (counterpoise-corrected)",
        "paper (Figure 5e, Table S3)",
    ]
    assert comparison.loc[1, "binding_energy_ev"] == pytest.approx(
        direct["cp_binding_energy_eV"], abs=1e-4
    )
    assert comparison["method"].str.contains("b3lyp-d3bj/6-31g\\*").iloc[:2].all()
    assert comparison.loc[2, "binding_energy_ev"] == -0.993
    assert not (tmp_path / "results" / "md").exists()
