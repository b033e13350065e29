"""Ligand orientation terms of the Ti6(HPAB) model (electrolyte_md.cluster.orientation)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import openmm
import openmm.unit as unit
import pytest
from conftest import REPO

from electrolyte_md.cluster.builder import ClusterStructure
from electrolyte_md.cluster.document import build_cluster_species
from electrolyte_md.cluster.orientation import (
    dihedral_degrees,
    fit_orientation_terms,
    ligand_peripheries,
    orientation_coordinates,
    periphery_exclusions,
    scan_geometry,
)
from electrolyte_md.errors import ParameterizationError
from electrolyte_md.forcefield.cluster_model import heavy_atom_rmsd
from electrolyte_md.forcefield.species import parameterize_species
from electrolyte_md.forcefield.system import build_species_alone
from electrolyte_md.units import EV_TO_KJ_PER_MOL

COMMITTED = REPO / "structures" / "ti6_hpab.json"


@pytest.fixture(scope="module")
def document():
    return json.loads(COMMITTED.read_text())


@pytest.fixture(scope="module")
def structure(document):
    return ClusterStructure.from_dict(document["topology"], document["positions_angstrom"])


def _wrapped(degrees):
    return (np.asarray(degrees) + 180.0) % 360.0 - 180.0


def test_every_ligand_gets_its_coordinates(structure):
    coordinates = orientation_coordinates(structure)
    assert Counter(c.mode for c in coordinates) == {
        "out_of_plane": 6,
        "butterfly": 6,
        "twist": 6,
        "swing": 6,
        "rotor": 6,
    }
    ligands = ligand_peripheries(structure)
    kinds = Counter(ligand["kind"] for ligand in ligands)
    assert kinds == {"carboxylate": 6, "alkoxide": 6}
    for ligand in ligands:
        # C6H4NH2 beyond the carboxylate C; H and two CH3 beyond the alkoxide C
        assert len(ligand["periphery"]) == (13 if ligand["kind"] == "carboxylate" else 9)
        assert len(ligand["own"]) == (3 if ligand["kind"] == "carboxylate" else 2)
    # the rotor of a secondary alkoxide is its Ti-O-C-H dihedral
    for coordinate in coordinates:
        if coordinate.mode == "rotor":
            ((ti, o, c, h),) = coordinate.dihedrals
            assert [structure.elements[k] for k in (ti, o, c, h)] == ["Ti", "O", "C", "H"]


@pytest.mark.parametrize("mode", ["twist", "swing", "rotor"])
def test_a_scan_about_a_bond_turns_its_dihedral_by_the_angle(structure, mode):
    xyz0 = np.asarray(structure.positions)
    for coordinate in orientation_coordinates(structure):
        if coordinate.mode != mode:
            continue
        (quad,) = coordinate.dihedrals
        xyz = scan_geometry(structure, coordinate, 20.0)
        turned = _wrapped(dihedral_degrees(xyz, quad) - dihedral_degrees(xyz0, quad))
        assert abs(turned) == pytest.approx(20.0, abs=1e-6)
        # rigid: bonds inside the moved group keep their lengths
        moving = set(coordinate.moving)
        for i, j, _ in structure.bonds:
            if i in moving and j in moving:
                assert np.linalg.norm(xyz[i] - xyz[j]) == pytest.approx(
                    np.linalg.norm(xyz0[i] - xyz0[j]), abs=1e-9
                )


def test_exclusions_leave_each_ligand_whole(structure):
    pairs = set(periphery_exclusions(structure))
    for ligand in ligand_peripheries(structure):
        members = set(ligand["periphery"]) | set(ligand["own"])
        assert not any(i in members and j in members for i, j in pairs)
    # two arms of different ligands never meet non-bonded
    a, b = [lig for lig in ligand_peripheries(structure) if lig["kind"] == "carboxylate"][:2]
    assert (
        min(a["periphery"][0], b["periphery"][0]),
        max(a["periphery"][0], b["periphery"][0]),
    ) in pairs


def test_fit_recovers_known_harmonic_terms(structure):
    """Synthetic E_QM from known k and minimum shifts of every coordinate (a scan of one
    moves the dihedrals of others too), E_MM = 0: the joint fit gives them back."""
    xyz0 = np.asarray(structure.positions)
    coordinates = orientation_coordinates(structure)
    truth = {}
    for n, coordinate in enumerate(coordinates):
        shift = 0.0 if len(coordinate.dihedrals) > 1 else (-3.0 + 0.5 * (n % 13))
        truth[(coordinate.anchor, coordinate.mode)] = (200.0 + 25.0 * n, shift)

    def synthetic_kj_per_mol(xyz):
        total = 0.0
        for coordinate in coordinates:
            k, shift = truth[(coordinate.anchor, coordinate.mode)]
            change = np.radians(
                [
                    _wrapped(dihedral_degrees(xyz, q) - dihedral_degrees(xyz0, q))
                    for q in coordinate.dihedrals
                ]
            )
            delta = np.radians(shift)
            total += 0.5 * k * float(((change - delta) ** 2 - delta**2).sum())
        return total

    angles = [-10.0, -5.0, 5.0, 10.0]
    scans = [
        {
            "anchor": c.anchor,
            "mode": c.mode,
            "angles_degrees": angles,
            "energy_ev": [
                synthetic_kj_per_mol(scan_geometry(structure, c, a)) / EV_TO_KJ_PER_MOL
                for a in angles
            ],
        }
        for c in coordinates
    ]
    fitted = fit_orientation_terms(structure, scans, lambda xyz: 0.0)
    for term in fitted:
        k, shift = truth[(term["anchor"], term["mode"])]
        assert term["k_kj_per_mol_rad2"] == pytest.approx(k, rel=1e-3)
        assert term["shift_degrees"] == pytest.approx(shift, abs=1e-2)
        np.testing.assert_allclose(term["fitted_kj_per_mol"], term["qm_kj_per_mol"], atol=2e-3)
    with pytest.raises(ValueError, match="matches no coordinate"):
        fit_orientation_terms(structure, [{**scans[0], "anchor": -1}], lambda xyz: 0.0)


def test_committed_scans_cover_every_coordinate_and_start_at_a_minimum(document, structure):
    scan = document["orientation_scan"]
    assert "alkoxide_scan" not in document
    keys = {(c.anchor, c.mode) for c in orientation_coordinates(structure)}
    assert {(s["anchor"], s["mode"]) for s in scan["scans"]} == keys
    for entry in scan["scans"]:
        energies = np.asarray(entry["energy_ev"]) * EV_TO_KJ_PER_MOL
        # the relaxed structure sits in a well of every coordinate (rigid scans: the
        # mean over the +/- points is above the start, though one side may dip)
        assert energies.mean() > 0.0, entry
        assert energies.max() < 80.0, entry


def _committed_cluster(species: Path):
    """The Ti6(HPAB) species from the committed structure document, built in ``species``."""
    return build_cluster_species(
        "Ti6HPAB",
        {"carboxylate": "4-aminobenzoate", "alkoxide": "isopropoxide"},
        "TI6",
        species / "structure.sdf",
        species / "species.json",
        structure_path=COMMITTED,
    )


@pytest.mark.slow
def test_parameterised_cluster_holds_the_fitted_orientation(tmp_path, structure):
    """ff.json carries the fit; the System built from it reproduces the fitted energies,
    and, minimised from the GFN2-xTB structure, stays close to it."""
    species = tmp_path / "Ti6HPAB"
    info = _committed_cluster(species)
    params = parameterize_species(
        info, species / "structure.sdf", {"model": "xtb_seminario"}, species / "params"
    )
    # its ligands are GAFF2 molecules checked like any other: none needs an analogue once
    # parmchk2's random choice of the aromatic impropers is settled (electrolyte_md.frcmod)
    assert params.gaff2_analogues == []
    frcmod = (species / "params" / "ff.frcmod").read_text()
    assert "ca-ca-ca-nv         1.1          180.0" in frcmod and "X -X -cc-X" not in frcmod
    orientation = params.cluster_terms["orientation_terms"]
    terms = orientation["terms"]
    assert len(terms) == 30
    assert all(t["k_kj_per_mol_rad2"] >= 0.0 for t in terms)
    # most coordinates need a restoring term once the intra-cluster contacts are gone
    assert sum(t["k_kj_per_mol_rad2"] > 50.0 for t in terms) >= 24
    assert orientation["relaxed_heavy_atom_rmsd_angstrom"] < 0.25

    build_species_alone("Ti6HPAB", species / "params", tmp_path / "s", box_angstrom=50.0)
    system = openmm.XmlSerializer.deserialize((tmp_path / "s" / "system.xml").read_text())
    names = [f.getName() for f in system.getForces()]
    assert "ligand orientation terms (GFN2-xTB fit)" in names
    assert not any("alkoxide rotamer" in name for name in names)
    context = openmm.Context(
        system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference")
    )

    def energy(xyz):
        context.setPositions(np.asarray(xyz) / 10.0)
        state = context.getState(getEnergy=True)
        return state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)

    e0 = energy(structure.positions)
    by_key = {(c.anchor, c.mode): c for c in orientation_coordinates(structure)}
    for term in terms[::7]:
        coordinate = by_key[(term["anchor"], term["mode"])]
        built = [
            energy(scan_geometry(structure, coordinate, a)) - e0 for a in term["angles_degrees"]
        ]
        np.testing.assert_allclose(built, term["fitted_kj_per_mol"], atol=0.05)


def test_heavy_atom_rmsd_of_the_check_is_the_kabsch_rmsd():
    """The force-field stage's own superposition (no MDAnalysis there) agrees with
    MDAnalysis's."""
    from MDAnalysis.analysis.rms import rmsd
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(7)
    reference = rng.normal(scale=3.0, size=(40, 3))
    moved = Rotation.random(random_state=3).apply(reference) + [1.0, -2.0, 0.5]
    moved += rng.normal(scale=0.2, size=moved.shape)
    atoms = list(range(0, 40, 2))
    expected = rmsd(moved[atoms], reference[atoms], center=True, superposition=True)
    assert heavy_atom_rmsd(moved, reference, atoms) == pytest.approx(expected, rel=1e-9)


def test_a_document_without_orientation_scans_is_refused_before_any_work(tmp_path):
    """An older cluster document (no orientation_scan) gets an error that names the fix,
    and no parameter file is written."""

    species = tmp_path / "Ti6HPAB"
    info = _committed_cluster(species)
    info.cluster = {k: v for k, v in info.cluster.items() if k != "orientation_scan"}
    with pytest.raises(ParameterizationError, match=r"orientation_scan.*cluster\.document"):
        parameterize_species(
            info, species / "structure.sdf", {"model": "xtb_seminario"}, species / "params"
        )
    assert not any((species / "params").glob("ff.*"))
