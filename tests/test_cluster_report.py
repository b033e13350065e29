"""Trajectory checks of the cluster: symmetry-aware RMSD, atom groups, rotamers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import REPO
from MDAnalysis.analysis.rms import rmsd

from electrolyte_md.cluster.builder import ClusterStructure
from electrolyte_md.cluster.stability import (
    CORE_SHAPE_RMSD_LIMIT_ANGSTROM,
    atom_groups,
    ligand_automorphisms,
    same_rotamer,
    summarize_stability,
    symmetry_corrected_rmsd,
)


@pytest.fixture(scope="module")
def reference():
    document = json.loads((REPO / "structures" / "ti6_hpab.json").read_text())
    return ClusterStructure.from_dict(document["topology"], document["positions_angstrom"])


def test_each_ligand_has_exactly_its_local_flip(reference):
    automorphisms = ligand_automorphisms(reference)
    assert len(automorphisms) == 12
    for atoms, perms in automorphisms:
        # identity plus the methyl swap (isopropoxide) or the ring turn (aminobenzoate)
        assert len(perms) == 2
        moved = atoms[perms[1] != atoms]
        assert {reference.elements[i] for i in moved} == {"C"}
        assert len(moved) in (2, 4)


def test_flips_and_rigid_motion_cost_no_symmetry_corrected_rmsd(reference):
    heavy = np.nonzero(np.array(reference.elements) != "H")[0]
    automorphisms = ligand_automorphisms(reference)
    flipped = reference.positions.copy()
    for atoms, perms in automorphisms[:3]:  # swap equivalent atoms in three ligands
        flipped[atoms] = reference.positions[perms[1]]
    angle = np.radians(40.0)
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    moved = flipped @ rotation.T + [3.0, -1.0, 2.0]
    plain = rmsd(moved[heavy], reference.positions[heavy], center=True, superposition=True)
    assert plain > 0.3
    assert symmetry_corrected_rmsd(
        moved, reference.positions, heavy, automorphisms
    ) == pytest.approx(0.0, abs=1e-4)
    # a real distortion is not hidden
    bent = reference.positions.copy()
    bent[heavy[-1]] += [0.0, 0.0, 1.0]
    corrected = symmetry_corrected_rmsd(bent, reference.positions, heavy, automorphisms)
    assert corrected > 0.05


def test_atom_groups_cover_every_heavy_atom_once(reference):
    groups = atom_groups(reference)
    counts = {name: len(atoms) for name, atoms in groups.items()}
    assert counts == {
        "Ti6O6 core": 12,
        "O bound to Ti (ligands)": 18,
        "carboxylate C": 6,
        "aromatic C": 36,
        "amine N": 6,
        "alkoxide C-O carbon": 6,
        "alkoxide methyl C": 12,
    }
    assert sum(counts.values()) == sum(e != "H" for e in reference.elements)


def test_rotamer_wells_wrap_around():
    assert same_rotamer(
        np.array([179.0, -170.0, 60.0]), np.array([-175.0, 175.0, -60.0])
    ).tolist() == [True, True, False]


def _stability_results(site_rmsd: float, heavy_rmsd: float, longest_ti_o: float):
    from types import SimpleNamespace

    n_frames, classes = 4, ["Ti-O(alkoxide)", "Ti-O(carboxylate)"]
    ti_o = np.full((n_frames, 1, 2), 1.9)
    ti_o[-1, 0, 1] = longest_ti_o
    return SimpleNamespace(
        times_ps=np.arange(n_frames, dtype=float),
        ti_o_angstrom=ti_o,
        bond_classes=classes,
        heavy_rmsd_angstrom=np.full((n_frames, 1), heavy_rmsd),
        heavy_symmetric_rmsd_angstrom=np.full((n_frames, 1), heavy_rmsd),
        site_rmsd_angstrom=np.full((n_frames, 1), site_rmsd),
        core_rmsd_angstrom=np.full((n_frames, 1), site_rmsd / 2),
        group_msd_angstrom2={"amine N": np.full((n_frames, 1), heavy_rmsd**2)},
        alkoxide_in_reference_rotamer=np.ones((n_frames, 1, 6), dtype=bool),
    )


@pytest.mark.parametrize(
    ("site", "heavy", "longest", "kept"),
    [
        (0.14, 0.72, 2.1, True),  # flexible arms alone do not count against the core
        (0.60, 0.72, 2.1, False),  # the octahedra deform
        (0.14, 0.30, 3.2, False),  # a Ti-O bond breaks
    ],
)
def test_core_shape_verdict_uses_the_metal_site_and_the_bonds(site, heavy, longest, kept):
    summary = summarize_stability(_stability_results(site, heavy, longest), {})
    verdict = summary["core_shape"]
    assert verdict["kept"] is kept
    assert verdict["mean_rmsd_angstrom"] == pytest.approx(site)
    assert verdict["limit_angstrom"] == CORE_SHAPE_RMSD_LIMIT_ANGSTROM
    assert summary["heavy_atom_rmsd_angstrom"]["mean"] == pytest.approx(heavy)
