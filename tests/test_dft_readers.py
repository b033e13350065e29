"""Strict readers of quantum-chemistry outputs, on the real fixtures in ../shared/fixtures/dft
and on small snippets; the known traps of cclib and ASE are shown, then avoided."""

from __future__ import annotations

import logging
from pathlib import Path

import ase.io
import cclib
import pytest
from ase.units import Hartree
from conftest import REPO

from electrolyte_md.dft.binding import charges_table
from electrolyte_md.dft.readers import detect_program, read_output
from electrolyte_md.errors import DFTOutputError
from electrolyte_md.units import HARTREE_EV

FIXTURES = (REPO / ".." / "shared" / "fixtures" / "dft").resolve()
DATA = REPO / "tests" / "data" / "dft"

needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"shared DFT fixtures not found at {FIXTURES}"
)

#: file, program, energy (hartree) as listed in ../shared/fixtures/dft/README.md, optimisation
LISTED = [
    ("gaussian16/dvb_sp.out", "gaussian", -382.308266602, False),
    ("gaussian16/dvb_gopt.out", "gaussian", -382.308266602, True),
    ("orca5.0/dvb_sp.out", "orca", -382.055108614123, False),
    ("orca6.0/dvb_gopt.out", "orca", -382.055133399486, True),
    ("nwchem7.0/dvb_sp_ks.out", "nwchem", -382.308242007863, False),
    ("nwchem7.0/dvb_gopt_ks.out", "nwchem", -382.308261640255, True),
    ("qchem5.4/dvb_sp.out", "qchem", -382.3003975729, False),
]


def _copy_edited(src: Path, dst: Path, old: str, new: str, count: int = -1) -> Path:
    text = src.read_text()
    assert old in text, f"{old!r} not in {src}"
    dst.write_text(text.replace(old, new, count))
    return dst


@needs_fixtures
@pytest.mark.parametrize(("name", "program", "hartree", "optimization"), LISTED)
def test_fixture_energies_match_the_listed_values(name, program, hartree, optimization):
    result = read_output(FIXTURES / name)
    assert result.program == program
    assert result.energy_ev == pytest.approx(hartree * Hartree, abs=1e-9)
    assert result.optimization is optimization
    assert (result.method, result.basis, result.charge, result.multiplicity) == (
        "b3lyp",
        "sto-3g",
        0,
        1,
    )
    assert result.symbols.count("C") == 10 and result.symbols.count("H") == 10


def test_one_hartree_constant():
    assert Hartree == HARTREE_EV  # ASE's (CODATA 2014), as the readers convert with


@needs_fixtures
def test_orca_versions_and_charges():
    orca5 = read_output(FIXTURES / "orca5.0/dvb_sp.out")
    orca6 = read_output(FIXTURES / "orca6.0/dvb_gopt.out")
    assert orca5.version.startswith("5.") and orca6.version.startswith("6.")
    assert set(orca5.atomic_charges) == {"mulliken", "loewdin", "hirshfeld"}
    for values in orca5.atomic_charges.values():
        assert len(values) == 20 and abs(sum(values)) < 1e-3


@needs_fixtures
def test_qchem_hirshfeld_and_cm5_charges_are_read():
    result = read_output(FIXTURES / "qchem5.4/dvb_sp.out")
    assert set(result.atomic_charges) == {"mulliken", "hirshfeld", "cm5"}
    assert result.atomic_charges["mulliken"][0] == pytest.approx(-0.004106)
    assert result.atomic_charges["hirshfeld"][0] == pytest.approx(0.002908)


@needs_fixtures
def test_charges_table_has_one_row_per_atom_and_file():
    files = [FIXTURES / "orca5.0/dvb_sp.out", FIXTURES / "gaussian16/dvb_sp.out"]
    table = charges_table(files)
    assert len(table) == 40
    assert table["mulliken_e"].notna().all()
    gaussian = table[table["program"] == "gaussian"]
    assert gaussian["hirshfeld_e"].isna().all()  # not printed by that run: left empty


# --- traps ---------------------------------------------------------------------------


@needs_fixtures
def test_trap_cclib_predates_orca6_but_reader_does_not(caplog):
    caplog.set_level(logging.CRITICAL)
    with pytest.raises(AssertionError):
        cclib.io.ccread(str(FIXTURES / "orca6.0/dvb_gopt.out"))
    assert read_output(FIXTURES / "orca6.0/dvb_gopt.out").energy_ev < 0


@needs_fixtures
def test_trap_cclib_keeps_energy_of_unconverged_orca_scf(tmp_path, caplog):
    """The real ORCA 5 output with its convergence banner replaced by the one ORCA prints
    when the SCF fails (as cclib's parser documents it)."""
    caplog.set_level(logging.CRITICAL)
    bad = _copy_edited(
        FIXTURES / "orca5.0/dvb_sp.out",
        tmp_path / "unconverged.out",
        "SCF CONVERGED AFTER   9 CYCLES",
        "SCF NOT CONVERGED AFTER   9 CYCLES",
    )
    data = cclib.io.ccread(str(bad))
    assert len(data.scfenergies) >= 1  # cclib hands out an energy anyway
    with pytest.raises(DFTOutputError, match=r"unconverged\.out: SCF did not converge"):
        read_output(bad)


@needs_fixtures
def test_trap_ase_read_returns_only_the_last_image():
    path = FIXTURES / "nwchem7.0/dvb_gopt_ks.out"
    last = ase.io.read(path, format="nwchem-out")
    images = ase.io.read(path, index=":", format="nwchem-out")
    assert not isinstance(last, list) and len(images) > 1
    # the strict reader gives the final energy, which is the last image's
    assert read_output(path).energy_ev == pytest.approx(images[-1].get_potential_energy())


@needs_fixtures
@pytest.mark.parametrize("name", [name for name, *_ in LISTED])
def test_truncated_outputs_are_refused(tmp_path, name):
    text = (FIXTURES / name).read_text()
    cut = tmp_path / Path(name).name
    cut.write_text(text[: len(text) * 2 // 3])
    with pytest.raises(DFTOutputError, match=rf"{cut.name}: .*did not terminate normally"):
        read_output(cut)


@needs_fixtures
def test_unconverged_optimisation_is_refused(tmp_path):
    bad = _copy_edited(
        FIXTURES / "gaussian16/dvb_gopt.out",
        tmp_path / "gopt.out",
        "Optimization completed.",
        "Optimization stopped.",
    )
    with pytest.raises(DFTOutputError, match="optimisation did not converge"):
        read_output(bad)


@needs_fixtures
def test_gaussian_convergence_failure_is_refused(tmp_path):
    bad = _copy_edited(
        FIXTURES / "gaussian16/dvb_sp.out",
        tmp_path / "scf.out",
        " SCF Done:",
        " >>>>>>>>>> Convergence criterion not met.\n SCF Done:",
    )
    with pytest.raises(DFTOutputError, match="scf.out: SCF did not converge"):
        read_output(bad)


@needs_fixtures
def test_nwchem_scf_failure_is_refused(tmp_path):
    bad = _copy_edited(
        FIXTURES / "nwchem7.0/dvb_sp_ks.out",
        tmp_path / "nw.out",
        "         Total DFT energy =",
        "         Calculation failed to converge\n         Total DFT energy =",
    )
    with pytest.raises(DFTOutputError, match="SCF did not converge"):
        read_output(bad)


def test_unknown_or_missing_output_is_refused(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("not a quantum-chemistry output\n")
    with pytest.raises(DFTOutputError, match="notes.txt: not recognised"):
        read_output(other)
    with pytest.raises(DFTOutputError, match="missing.out: no such output file"):
        read_output(tmp_path / "missing.out")


# --- programs without fixtures: snippets ------------------------------------------------


def test_psi4_snippet():
    """tests/data/dft/psi4_1.7_*.out is a shortened Psi4 1.7 output: its lines are copied
    in Psi4's layout from cclib's regression file data/Psi4/basicPsi4-1.7/
    dvb_dispersion_bp86_d3zero.out (banner, dispersion header, geometry header, primary
    basis, composite functional, iterations, final energy, exit line), for water."""
    path = DATA / "psi4_1.7_bp86_d3zero_sp.out"
    result = read_output(path)
    assert result.program == "psi4" and result.version == "1.7"
    assert result.energy_ev == pytest.approx(-75.31393812232813 * Hartree)
    assert (result.method, result.basis, result.dispersion) == ("bp86", "sto-3g", "d3zero")
    assert (result.charge, result.multiplicity) == (0, 1)
    assert result.atomic_charges["mulliken"] == pytest.approx((-0.33310, 0.16655, 0.16655))


def test_psi4_snippet_unconverged_is_refused(tmp_path):
    """Psi4 raises SCFConvergenceError and never prints the exit line when the SCF fails:
    reported as the SCF failure it is, not as a truncated output (issue 24)."""
    text = (DATA / "psi4_1.7_bp86_d3zero_sp.out").read_text()
    bad = tmp_path / "psi4.out"
    bad.write_text(
        text.replace("  Energy and wave function converged.", "")
        .replace("*** Psi4 exiting successfully. Buy a developer a beer!", "")
        .replace("  @RKS Final Energy:", "PsiException: Could not converge SCF iterations")
    )
    with pytest.raises(DFTOutputError, match="psi4.out: SCF did not converge"):
        read_output(bad)


def test_cp2k_snippet():
    """tests/data/dft/cp2k_2024.1_*.out is built from CP2K's documented output lines
    (header echo ``DFT| Charge``/``DFT| Multiplicity``, ``FUNCTIONAL|``, ``vdW POTENTIAL|``,
    ``Orbital Basis Set``, ``*** SCF run converged in``, ``ENERGY| Total FORCE_EVAL ( QS )
    energy [a.u.]:``, Mulliken table, ``PROGRAM ENDED AT``) for a water molecule."""
    path = DATA / "cp2k_2024.1_pbe_d3_sp.out"
    result = read_output(path)
    assert result.program == "cp2k" and result.version == "2024.1"
    assert result.energy_ev == pytest.approx(-17.165195106420213 * Hartree)
    assert (result.method, result.basis, result.dispersion) == (
        "pbe",
        "dzvp-molopt-sr-gth",
        "d3zero",
    )
    assert result.atomic_charges["mulliken"] == pytest.approx((-0.523211, 0.261606, 0.261605))


def test_cp2k_snippet_unconverged_is_refused(tmp_path):
    text = (DATA / "cp2k_2024.1_pbe_d3_sp.out").read_text()
    bad = tmp_path / "cp2k.out"
    bad.write_text(text.replace("SCF run converged in     2 steps", "SCF run NOT converged"))
    with pytest.raises(DFTOutputError, match="cp2k.out: SCF did not converge"):
        read_output(bad)


@needs_fixtures
def test_detection_is_from_content_not_name(tmp_path):
    for name, program, *_ in LISTED:
        renamed = tmp_path / "output.log"
        renamed.write_text((FIXTURES / name).read_text())
        assert detect_program(renamed.read_text()) == program
