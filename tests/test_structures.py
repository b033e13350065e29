import itertools

import numpy as np
import pytest
from rdkit import Chem

from electrolyte_md.errors import StructureError
from electrolyte_md.structures.species import (
    SpeciesInfo,
    build_species,
    choose_builder,
    parse_smiles,
)


def _coordinates(sdf):
    mol = Chem.MolFromMolFile(str(sdf), removeHs=False, sanitize=False)
    return mol, mol.GetConformer().GetPositions()


def test_nmp_is_embedded_with_all_hydrogens(tmp_path):
    info = build_species("NMP", "CN1CCCC1=O", "NMP", tmp_path / "s.sdf", tmp_path / "s.json")
    assert info.builder == "rdkit"
    assert info.n_atoms == 16
    assert info.formal_charge == 0
    assert info.molar_mass_g_per_mol == pytest.approx(99.133, abs=0.01)
    mol, xyz = _coordinates(tmp_path / "s.sdf")
    assert mol.GetNumAtoms() == 16
    # a real 3D structure: C=O bond near 1.22 A, no two atoms closer than 0.9 A
    o = next(a.GetIdx() for a in mol.GetAtoms() if a.GetSymbol() == "O")
    c = mol.GetAtomWithIdx(o).GetNeighbors()[0].GetIdx()
    assert np.linalg.norm(xyz[o] - xyz[c]) == pytest.approx(1.22, abs=0.03)
    distances = [np.linalg.norm(xyz[i] - xyz[j]) for i, j in itertools.combinations(range(16), 2)]
    assert min(distances) > 0.9
    assert SpeciesInfo.from_json(tmp_path / "s.json") == info


def test_embedding_is_reproducible(tmp_path):
    build_species("NMP", "CN1CCCC1=O", "NMP", tmp_path / "a.sdf", tmp_path / "a.json")
    build_species("NMP", "CN1CCCC1=O", "NMP", tmp_path / "b.sdf", tmp_path / "b.json")
    assert (tmp_path / "a.sdf").read_text() == (tmp_path / "b.sdf").read_text()


def test_pf6_is_a_regular_octahedron(tmp_path):
    info = build_species(
        "PF6",
        "F[P-](F)(F)(F)(F)F",
        "PF6",
        tmp_path / "p.sdf",
        tmp_path / "p.json",
        bond_length_angstrom=1.6,
    )
    assert info.builder == "octahedral"
    assert info.formal_charge == -1
    _, xyz = _coordinates(tmp_path / "p.sdf")
    center = info.octahedral_center
    ligands = [i for i in range(7) if i != center]
    assert np.allclose([np.linalg.norm(xyz[i] - xyz[center]) for i in ligands], 1.6)
    trans = {tuple(p) for p in info.trans_ligand_pairs}
    assert len(trans) == 3
    for i, k in itertools.combinations(ligands, 2):
        u, v = xyz[i] - xyz[center], xyz[k] - xyz[center]
        cosine = np.clip(np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v), -1.0, 1.0)
        assert np.degrees(np.arccos(cosine)) == pytest.approx(
            180.0 if (i, k) in trans else 90.0, abs=1e-6
        )


def test_lithium_is_monatomic(tmp_path):
    info = build_species("Li", "[Li+]", "LI", tmp_path / "l.sdf", tmp_path / "l.json")
    assert (info.builder, info.n_atoms, info.formal_charge, info.elements) == (
        "monatomic",
        1,
        1,
        ["Li"],
    )


@pytest.mark.parametrize(
    ("smiles", "builder"),
    [
        ("[Na+]", "monatomic"),
        ("F[As-](F)(F)(F)(F)F", "octahedral"),
        ("FS(F)(F)(F)(F)F", "octahedral"),
        ("O=C1OCCO1", "rdkit"),
    ],
)
def test_builder_choice(smiles, builder):
    assert choose_builder(Chem.AddHs(Chem.MolFromSmiles(smiles))) == builder


def test_bad_smiles_names_species_and_source():
    with pytest.raises(StructureError, match=r"species 'EC' in config/x.yaml.*C1CC\(") as err:
        parse_smiles("C1CC(", species="EC", source="config/x.yaml")
    assert "cannot parse" in str(err.value)
