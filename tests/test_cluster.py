"""Ti6O6 oxo cluster: builder, checks, committed relaxed structure and its force field."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest
from conftest import REPO

from electrolyte_md.cluster.builder import (
    BOND_CLASSES,
    MIN_TI_O_BOND_ORDER,
    TI_O_BROKEN_ANGSTROM,
    ClusterSpec,
    build_cluster,
    check_cluster,
    cluster_charge,
    perceived_bonds,
)
from electrolyte_md.cluster.document import load_document
from electrolyte_md.errors import StructureError

COMMITTED = REPO / "structures" / "ti6_hpab.json"


@pytest.fixture(scope="module")
def ti6():
    return build_cluster()


def _angle(a, b, c) -> float:
    u, v = a - b, c - b
    return math.degrees(math.acos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1, 1)))


def test_ti6_hpab_formula_and_charge(ti6):
    assert ti6.formula() == "C60H78N6O24Ti6"
    assert ti6.n_atoms == 174
    assert ti6.net_charge == 0
    assert cluster_charge("4-aminobenzoate", "isopropoxide") == 0


def test_prism_core_topology(ti6):
    """Two Ti3O3 rings; each mu3-O bonds two Ti of its ring and one of the other."""
    counts = Counter(c for _, _, c in ti6.metal_oxygen_bonds)
    assert counts == {
        BOND_CLASSES[0]: 12,
        BOND_CLASSES[1]: 6,
        BOND_CLASSES[2]: 12,
        BOND_CLASSES[3]: 6,
    }
    per_ti = Counter(i for i, _, _ in ti6.metal_oxygen_bonds)
    assert sorted(per_ti) == list(range(6)) and set(per_ti.values()) == {6}
    z = ti6.positions[:, 2]
    ring = {i: z[i] > 0 for i in range(12)}  # Ti 0-5 and mu3-O 6-11
    for oxygen in range(6, 12):
        bonds = [(i, c) for i, j, c in ti6.metal_oxygen_bonds if j == oxygen]
        assert len(bonds) == 3
        same_ring = [i for i, c in bonds if c == BOND_CLASSES[0]]
        other = [i for i, c in bonds if c == BOND_CLASSES[1]]
        assert len(same_ring) == 2 and all(ring[i] == ring[oxygen] for i in same_ring)
        assert len(other) == 1 and ring[other[0]] != ring[oxygen]


def test_ligands_bridge_rings_and_alkoxides_point_out(ti6):
    z = ti6.positions[:, 2]
    carboxylate_ti = {}
    for ti, oxygen, bond_class in ti6.metal_oxygen_bonds:
        if bond_class == BOND_CLASSES[2]:
            carboxylate_ti.setdefault(ti6.ligand_index[oxygen], []).append(ti)
        if bond_class == BOND_CLASSES[3]:
            # trans to the inter-ring mu3-O, away from the core
            inter = next(
                j for i, j, c in ti6.metal_oxygen_bonds if i == ti and c == BOND_CLASSES[1]
            )
            assert _angle(ti6.positions[oxygen], ti6.positions[ti], ti6.positions[inter]) > 165
            assert abs(ti6.positions[oxygen, 2]) > abs(ti6.positions[ti, 2])
    assert len(carboxylate_ti) == 6
    for ti_pair in carboxylate_ti.values():
        assert len(ti_pair) == 2 and (z[ti_pair[0]] > 0) != (z[ti_pair[1]] > 0)


def test_analogue_ligands_build_the_same_way():
    cluster = build_cluster(ClusterSpec(carboxylate="benzoate", alkoxide="CCO"))
    assert cluster.formula() == "C54H60O24Ti6"
    check_cluster(cluster)
    assert ClusterSpec(carboxylate="benzoate").key() != ClusterSpec().key()


@pytest.mark.parametrize(
    ("carboxylate", "alkoxide", "message"),
    [
        ("CCO", "isopropoxide", "exactly one carboxylic acid/carboxylate"),
        ("OC(=O)CC(=O)O", "isopropoxide", "found 2"),
        ("4-aminobenzoate", "c1ccccc1O", "exactly one C-OH"),
        ("[NH3+]c1ccc(cc1)C(=O)[O-]", "isopropoxide", "net charge 0"),
        ("not a smiles", "isopropoxide", "not a valid SMILES"),
    ],
)
def test_bad_ligands_are_refused(carboxylate, alkoxide, message):
    with pytest.raises(StructureError, match=message):
        cluster_charge(carboxylate, alkoxide)


def test_check_cluster_catches_a_broken_and_a_new_bond(ti6):
    alkoxide_o = next(j for i, j, c in ti6.metal_oxygen_bonds if c == BOND_CLASSES[3])
    ligand = ti6.ligand_index[alkoxide_o]
    moved = ti6.positions.copy()
    moved[np.array(ti6.ligand_index) == ligand] += 2.0 * (
        moved[alkoxide_o] / np.linalg.norm(moved[alkoxide_o])
    )
    with pytest.raises(StructureError, match=r"is 3\.\d\d A.*broken bond"):
        check_cluster(ti6.with_positions(moved), reference=ti6)
    squeezed = ti6.positions.copy()
    hydrogen = ti6.elements.index("H")
    squeezed[hydrogen] = squeezed[0] + [0.0, 0.0, 2.2]  # an H within 2.5 A of Ti1
    with pytest.raises(StructureError, match="new bond"):
        check_cluster(ti6.with_positions(squeezed), reference=ti6)


def test_stretched_bond_counts_only_with_a_bond_order(ti6):
    """A Ti-O bond at 2.6 A fails without bond orders, passes as elongated with one."""
    ti, oxygen, _ = next(b for b in ti6.metal_oxygen_bonds if b[2] == BOND_CLASSES[3])
    moved = ti6.positions.copy()
    ligand = np.array(ti6.ligand_index) == ti6.ligand_index[oxygen]
    direction = (moved[oxygen] - moved[ti]) / np.linalg.norm(moved[oxygen] - moved[ti])
    moved[ligand] += (2.6 - np.linalg.norm(moved[oxygen] - moved[ti])) * direction
    stretched = ti6.with_positions(moved)
    with pytest.raises(StructureError, match=r"is 2\.60 A"):
        check_cluster(stretched, reference=ti6)
    orders = np.zeros((ti6.n_atoms, ti6.n_atoms))
    orders[ti, oxygen] = orders[oxygen, ti] = 0.3
    checks = check_cluster(stretched, reference=ti6, bond_orders=orders)
    assert [b["o"] for b in checks["elongated_ti_o_bonds"]] == [oxygen + 1]
    orders[ti, oxygen] = orders[oxygen, ti] = 0.05
    with pytest.raises(StructureError, match="Wiberg bond order 0.05"):
        check_cluster(stretched, reference=ti6, bond_orders=orders)


def test_perceived_bonds_match_the_built_topology(ti6):
    assert perceived_bonds(ti6.elements, ti6.positions) == set(ti6.all_bonds())


# ------------------------------------------------------------- committed structure


@pytest.fixture(scope="module")
def committed():
    return load_document(COMMITTED, ClusterSpec(), fmax=0.01)


def test_committed_structure_is_the_builders_cluster_relaxed_tightly(committed, ti6):
    structure, extras = committed
    assert structure.elements == ti6.elements
    assert structure.all_bonds() == ti6.all_bonds()
    assert structure.metal_oxygen_bonds == ti6.metal_oxygen_bonds
    relaxation = extras["relaxation"]
    assert relaxation["converged"] and relaxation["fmax_ev_per_angstrom"] < 0.01
    assert relaxation["method"] == "GFN2-xTB"
    for bond_class, stats in extras["ti_o_distances_angstrom"].items():
        assert 1.7 <= stats["min"] <= stats["max"] <= TI_O_BROKEN_ANGSTROM, bond_class
    # every Ti-O bond inside 1.7-2.5 A, or stretched but still bonded by GFN2-xTB
    checks = extras["checks"]
    assert checks["connectivity_unchanged"]
    elongated = checks["elongated_ti_o_bonds"]
    assert checks["ti_o_within_window"] + len(elongated) == 36
    for bond in elongated:
        assert 2.5 < bond["distance_angstrom"] <= TI_O_BROKEN_ANGSTROM
        assert bond["wiberg_bond_order"] >= MIN_TI_O_BOND_ORDER


def test_committed_structure_is_a_gfn2_minimum(committed):
    """One GFN2-xTB gradient: the stored geometry is at the stored energy and fmax."""
    from electrolyte_md.cluster.xtb import singlepoint

    structure, extras = committed
    point = singlepoint(structure.elements, structure.positions, structure.net_charge)
    assert point.energy_ev == pytest.approx(extras["relaxation"]["energy_ev"], abs=2e-4)
    assert np.linalg.norm(point.forces_ev_per_angstrom, axis=1).max() < 0.0101
    assert np.allclose(point.charges, extras["xtb_charges"]["charges"], atol=2e-6)


def test_ti_atoms_are_electron_deficient(committed):
    """The paper's Mulliken picture: Ti positive, the O around it negative."""
    structure, extras = committed
    charges = np.array(extras["xtb_charges"]["charges"])
    roles = np.array(structure.roles)
    assert (charges[roles == "Ti"] > 0.5).all()
    for role in ("O(mu3)", "O(carboxylate)", "O(alkoxide)"):
        assert (charges[roles == role] < -0.3).all(), role
    assert abs(charges.sum()) < 1e-4


def test_seminario_terms_are_positive_and_complete(committed):
    structure, extras = committed
    terms = extras["seminario"]
    assert len(terms["bonds"]) == 36
    assert all(k > 0 for *_, k, _ in terms["bonds"])
    # 15 O-Ti-O per Ti, 3 Ti-O-Ti per mu3-O, one Ti-O-C per ligand O
    assert len(terms["angles"]) == 6 * 15 + 6 * 3 + 12 + 6
    assert all(k > 0 for *_, k in terms["angles"])


def test_document_from_other_ligands_is_refused(tmp_path):
    with pytest.raises(StructureError, match="built from carboxylate"):
        load_document(COMMITTED, ClusterSpec(carboxylate="benzoate"), fmax=0.01)
    with pytest.raises(StructureError, match="looser than the configured 0.001"):
        load_document(COMMITTED, ClusterSpec(), fmax=0.001)
    edited = json.loads(COMMITTED.read_text())
    edited["positions_angstrom"][0][0] += 0.1
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    with pytest.raises(StructureError, match="geometry hash"):
        load_document(tmp_path / "edited.json")


@pytest.mark.long
def test_builder_and_relaxation_reproduce_the_committed_structure():
    """Build and relax anew (about 30 min on 2 cores): same minimum as committed."""
    from MDAnalysis.analysis.rms import rmsd

    from electrolyte_md.cluster.document import make_document

    committed_structure, extras = load_document(COMMITTED, ClusterSpec(), fmax=0.01)
    structure, new = make_document(ClusterSpec(), fmax=0.01)
    assert new["relaxation"]["energy_ev"] == pytest.approx(
        extras["relaxation"]["energy_ev"], abs=0.02
    )
    heavy = np.array(structure.elements) != "H"
    assert (
        rmsd(
            structure.positions[heavy],
            committed_structure.positions[heavy],
            center=True,
            superposition=True,
        )
        < 0.1
    )
