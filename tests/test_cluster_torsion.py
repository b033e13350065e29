"""The GFN2-xTB-fitted Ti-O-C-H torsion of the cluster's alkoxides (cluster_torsion)."""

from __future__ import annotations

import json

import numpy as np
import openmm
import pytest
from conftest import REPO
from MDAnalysis.analysis.rms import rmsd

from electrolyte_md.cluster import ClusterStructure
from electrolyte_md.cluster_ff import EV_TO_KJ_PER_MOL
from electrolyte_md.cluster_torsion import (
    RELAXED_SHIFT_TOLERANCE_DEGREES,
    alkoxide_dihedrals,
    correction_energy,
    dihedral_degrees,
    fit_correction,
    mm_scan_energies,
    relaxed_dihedrals,
    scan_geometries,
)
from electrolyte_md.forcefield import build_system, parameterize_species
from electrolyte_md.structures import build_cluster_species

COMMITTED = REPO / "structures" / "ti6_hpab.json"


@pytest.fixture(scope="module")
def document():
    return json.loads(COMMITTED.read_text())


@pytest.fixture(scope="module")
def structure(document):
    return ClusterStructure.from_dict(document["topology"], document["positions_angstrom"])


def test_fit_recovers_a_known_correction():
    phi = np.arange(-180.0, 180.0, 15.0)
    known = [(1, 30.0, 4.0), (2, -90.0, 1.5), (3, 180.0, 2.0)]
    mm = 5.0 * np.cos(np.radians(phi)) ** 2 + 0.1 * phi / 180.0
    qm = mm + correction_energy(phi, known) + 7.0  # any offset
    fitted = fit_correction(phi, qm, mm)
    gap = correction_energy(phi, fitted) - correction_energy(phi, known)
    np.testing.assert_allclose(gap - gap.mean(), 0.0, atol=1e-8)
    assert all(k >= 0 for _, _, k in fitted)


def test_fixed_phase_fit_is_even():
    """AMBER's convention: delta 0 or 180 degrees, no torque at anti or syn."""
    phi = np.arange(-180.0, 180.0, 15.0)
    known = [(1, 0.0, 4.0), (2, 180.0, 1.5)]
    mm = 3.0 * np.sin(np.radians(phi))  # an odd part the even form cannot take
    qm = mm + correction_energy(phi, known)
    fitted = fit_correction(phi, qm, mm, periodicities=(1, 2), free_phase=False)
    assert [(n, d) for n, d, _ in fitted] == [(1, 0.0), (2, 180.0)]
    np.testing.assert_allclose([k for *_, k in fitted], [4.0, 1.5], atol=1e-8)


def test_scan_turns_one_alkoxide_rigidly(structure):
    quad, dihedrals, geometries = scan_geometries(structure)
    assert len(alkoxide_dihedrals(structure)) == 6  # one methine H per isopropoxide
    assert len(geometries) == 24
    np.testing.assert_allclose(geometries[0], structure.positions, atol=1e-12)
    steps = np.diff(np.unwrap(np.radians(dihedrals)))
    np.testing.assert_allclose(np.degrees(steps), 15.0, atol=1e-6)
    # rigid: every bond keeps its length
    bonds = np.array([(i, j) for i, j, _ in structure.bonds])
    for xyz in geometries[1:]:
        before = np.linalg.norm(
            structure.positions[bonds[:, 0]] - structure.positions[bonds[:, 1]], axis=1
        )
        after = np.linalg.norm(xyz[bonds[:, 0]] - xyz[bonds[:, 1]], axis=1)
        np.testing.assert_allclose(after, before, atol=1e-9)
    assert dihedral_degrees(structure.positions, quad) == pytest.approx(dihedrals[0])


def test_committed_scan_puts_the_methine_h_anti_to_ti(document, structure):
    scan = document["alkoxide_scan"]
    energies = np.asarray(scan["energy_ev"]) * EV_TO_KJ_PER_MOL
    energies -= energies[0]
    assert energies.min() == pytest.approx(0.0)  # the relaxed rotamer is the scan's minimum
    assert abs(scan["dihedral_degrees"][0]) > 150  # Ti-O-C-H anti
    # both gauche wells lie > 10 kJ/mol higher with GFN2-xTB
    phi = np.asarray(scan["dihedral_degrees"])
    for centre in (-60.0, 60.0):
        well = np.abs((phi - centre + 180) % 360 - 180) <= 30
        assert energies[well].min() > 10.0


@pytest.mark.slow
def test_parameterised_cluster_carries_the_fitted_torsion(tmp_path, structure):
    """The OpenMM System of the cluster reproduces the fit: anti is its lowest rotamer."""
    species = tmp_path / "Ti6HPAB"
    info = build_cluster_species(
        "Ti6HPAB",
        {"carboxylate": "4-aminobenzoate", "alkoxide": "isopropoxide"},
        "TI6",
        species / "structure.sdf",
        species / "species.json",
        structure_path=COMMITTED,
    )
    params = parameterize_species(
        info, species / "structure.sdf", {"model": "xtb_seminario"}, species / "params"
    )
    torsions = params.cluster_terms["alkoxide_torsions"]
    assert len(torsions["dihedrals_ti_o_c_h"]) == 6
    fit = torsions["fit"]
    # the uncorrected model prefers a gauche rotamer; the corrected one, like GFN2-xTB, anti
    low = [p for p in fit if p["qm_kj_per_mol"] < 40]
    assert min(p["mm_kj_per_mol"] for p in low) < 0.0
    gauche = [p for p in low if abs(p["dihedral_degrees"]) < 100]
    assert min(p["mm_corrected_kj_per_mol"] for p in gauche) > 5.0
    # forms tried richest first, up to the first the relaxed model keeps in place; the
    # uncorrected model's wells already sit at GFN2-xTB's
    candidates = torsions["candidates"]
    tolerance = RELAXED_SHIFT_TOLERANCE_DEGREES
    assert [c["accepted"] for c in candidates] == [False] * (len(candidates) - 1) + [True]
    assert all(c["largest_shift_degrees"] > tolerance for c in candidates[:-1])
    assert candidates[-1]["largest_shift_degrees"] <= tolerance
    assert (
        candidates[-1]["terms_n_delta_degrees_k_kj_per_mol"]
        == (torsions["terms_n_delta_degrees_k_kj_per_mol"])
    )
    assert torsions["uncorrected_relaxed_shift_degrees"] <= tolerance

    # the System built from these parameters holds the same correction: same energies
    atoms = [
        line
        for line in (species / "params" / "ff.pdb").read_text().splitlines()
        if line.startswith(("ATOM", "HETATM"))
    ]
    cryst = "CRYST1   50.000   50.000   50.000  90.00  90.00  90.00 P 1           1"
    (tmp_path / "box.pdb").write_text("\n".join([cryst, *atoms, "END"]) + "\n")
    summary = build_system(
        tmp_path / "box.pdb", {"Ti6HPAB": species / "params"}, {"Ti6HPAB": 1}, {}, tmp_path / "s"
    )
    n_terms = len(torsions["terms_n_delta_degrees_k_kj_per_mol"])
    assert summary.cluster_terms_set == 36 + 126 + 42 * 41 // 2 + 6 * n_terms
    system = openmm.XmlSerializer.deserialize((tmp_path / "s" / "system.xml").read_text())
    _, _, geometries = scan_geometries(structure)
    energies = mm_scan_energies(system, geometries)
    expected = np.array([p["mm_corrected_kj_per_mol"] for p in fit])
    np.testing.assert_allclose(energies - energies[0], expected, atol=0.05)
    # minimised from the GFN2-xTB structure, the model stays close to it
    quads = alkoxide_dihedrals(structure)
    dihedrals, xyz = relaxed_dihedrals(system, structure.positions, quads, [])
    heavy = np.array([e != "H" for e in structure.elements])
    assert rmsd(xyz[heavy], structure.positions[heavy], superposition=True) < 0.35
    reference = [dihedral_degrees(structure.positions, q) for q in quads]
    assert np.abs((dihedrals - reference + 180) % 360 - 180).max() <= tolerance
