"""Three-dimensional structures of single species (solvents, ions, additives).

Each species comes from a SMILES string. Three builders cover what an electrolyte needs:

* ``monatomic``: one atom at the origin (Li+, Na+, ...);
* ``octahedral``: an AX6 centre with six identical terminal ligands (PF6-, AsF6-, SF6),
  placed on a regular octahedron, because RDKit's distance-geometry embedding fails for
  hexacoordinate centres (rdkit#5145);
* ``rdkit``: everything else, embedded with ETKDGv3 and relaxed with MMFF94 (UFF where
  MMFF has no parameters), with a fixed random seed so the structure is reproducible.

The structure is written as an MDL SDF file (coordinates in Angstrom, formal charges
kept), which antechamber reads directly. Metal-oxo clusters, which have no SMILES, are
built from their cluster document by
:func:`electrolyte_md.cluster.document.build_cluster_species` into the same record,
:class:`SpeciesInfo`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import AllChem, Descriptors
from rdkit.Geometry import Point3D

from electrolyte_md.errors import StructureError
from electrolyte_md.io import atomic_write_text, write_json

RDLogger.DisableLog("rdApp.*")

#: Builders this module knows, in the order they are tried for a SMILES.
BUILDERS = ("monatomic", "octahedral", "rdkit")


@dataclass
class SpeciesInfo:
    """What later stages need to know about one built species.

    Attributes
    ----------
    name
        Species name as in the configuration.
    residue
        Residue name (at most 4 characters) used in PDB and topology files.
    smiles
        The SMILES it was built from.
    formal_charge
        Net formal charge in elementary charges.
    molar_mass_g_per_mol
        Average molar mass from RDKit's atomic weights.
    n_atoms
        Number of atoms, hydrogens included.
    builder
        Which builder made the geometry (see :data:`BUILDERS`).
    elements
        Element symbol of every atom, in file order.
    trans_ligand_pairs
        For octahedral species, the three pairs of atom indices (0-based, in file order)
        that sit trans to each other; the force-field stage uses them to drop the
        90-degree angle term that GAFF2 would otherwise put on a 180-degree angle.
    octahedral_center
        Index of the AX6 centre atom, or ``None``.
    cluster
        For metal-oxo clusters, the cluster document (topology, relaxed coordinates,
        provenance, GFN2-xTB charges, Seminario terms; see
        :mod:`electrolyte_md.cluster.document`), else ``None``.
    """

    name: str
    residue: str
    smiles: str
    formal_charge: int
    molar_mass_g_per_mol: float
    n_atoms: int
    builder: str
    elements: list[str]
    trans_ligand_pairs: list[list[int]] = field(default_factory=list)
    octahedral_center: int | None = None
    cluster: dict | None = None

    def to_json(self, path: Path) -> None:
        """Write the record as JSON, atomically."""
        write_json(path, asdict(self))

    @classmethod
    def from_json(cls, path: Path) -> SpeciesInfo:
        """Read a record written by :meth:`to_json`."""
        return cls(**json.loads(Path(path).read_text()))


def parse_smiles(smiles: str, *, species: str = "?", source: str = "the configuration") -> Chem.Mol:
    """Parse a SMILES string with RDKit, raising a clear error if it is invalid.

    Parameters
    ----------
    smiles
        The SMILES string.
    species
        Species name, used in the error message.
    source
        Where the SMILES came from (a file path), used in the error message.

    Raises
    ------
    StructureError
        If RDKit cannot parse or sanitise the SMILES.
    """
    if not isinstance(smiles, str) or not smiles.strip():
        raise StructureError(f"species '{species}' in {source}: SMILES is empty")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise StructureError(
            f"species '{species}' in {source}: RDKit cannot parse SMILES {smiles!r} "
            "(check brackets, charges and valences)"
        )
    return mol


def formal_charge(smiles: str, *, species: str = "?", source: str = "the configuration") -> int:
    """Net formal charge of a SMILES string."""
    return Chem.GetFormalCharge(parse_smiles(smiles, species=species, source=source))


def molar_mass(smiles: str, *, species: str = "?", source: str = "the configuration") -> float:
    """Average molar mass in g/mol of a SMILES string, implicit hydrogens included."""
    return float(Descriptors.MolWt(parse_smiles(smiles, species=species, source=source)))


def _octahedral_center(mol: Chem.Mol) -> int | None:
    """Index of an AX6 centre whose six neighbours are identical terminal atoms, else None."""
    if mol.GetNumAtoms() != 7:
        return None
    for atom in mol.GetAtoms():
        neighbours = atom.GetNeighbors()
        if (
            len(neighbours) == 6
            and all(n.GetDegree() == 1 for n in neighbours)
            and len({n.GetAtomicNum() for n in neighbours}) == 1
        ):
            return atom.GetIdx()
    return None


def choose_builder(mol: Chem.Mol) -> str:
    """Pick the builder for a molecule with explicit hydrogens (see :data:`BUILDERS`)."""
    if mol.GetNumAtoms() == 1:
        return "monatomic"
    if _octahedral_center(mol) is not None:
        return "octahedral"
    return "rdkit"


def _covalent_bond_length(a: Chem.Atom, b: Chem.Atom) -> float:
    table = Chem.GetPeriodicTable()
    return table.GetRcovalent(a.GetAtomicNum()) + table.GetRcovalent(b.GetAtomicNum())


def _build_octahedron(mol: Chem.Mol, bond_length_angstrom: float | None) -> list[list[int]]:
    """Place an AX6 molecule on a regular octahedron; return the trans ligand pairs."""
    center = _octahedral_center(mol)
    assert center is not None
    ligands = [n.GetIdx() for n in mol.GetAtomWithIdx(center).GetNeighbors()]
    length = bond_length_angstrom or _covalent_bond_length(
        mol.GetAtomWithIdx(center), mol.GetAtomWithIdx(ligands[0])
    )
    directions = np.array(
        [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=float
    )
    conformer = Chem.Conformer(mol.GetNumAtoms())
    conformer.SetAtomPosition(center, Point3D(0.0, 0.0, 0.0))
    for index, direction in zip(ligands, directions, strict=True):
        conformer.SetAtomPosition(index, Point3D(*(length * direction)))
    mol.AddConformer(conformer, assignId=True)
    # directions come in +/- pairs, so ligands (0,1), (2,3), (4,5) are trans
    return [sorted([ligands[i], ligands[i + 1]]) for i in (0, 2, 4)]


def _embed_rdkit(mol: Chem.Mol, seed: int, species: str) -> None:
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    if AllChem.EmbedMolecule(mol, params) != 0:
        params.useRandomCoords = True
        if AllChem.EmbedMolecule(mol, params) != 0:
            raise StructureError(
                f"species '{species}': RDKit could not embed a 3D structure "
                f"for {Chem.MolToSmiles(Chem.RemoveHs(mol))}"
            )
    if AllChem.MMFFHasAllMoleculeParams(mol):
        AllChem.MMFFOptimizeMolecule(mol, maxIters=2000)
    elif AllChem.UFFHasAllMoleculeParams(mol):
        AllChem.UFFOptimizeMolecule(mol, maxIters=2000)


def build_species(
    name: str,
    smiles: str,
    residue: str,
    out_sdf: Path,
    out_json: Path,
    *,
    seed: int = 42,
    bond_length_angstrom: float | None = None,
) -> SpeciesInfo:
    """Build one species in 3D and write its SDF and JSON record.

    Parameters
    ----------
    name
        Species name from the configuration.
    smiles
        SMILES string; hydrogens are added explicitly.
    residue
        Residue name (1-4 characters) for topology files.
    out_sdf, out_json
        Output paths: the structure (Angstrom) and the :class:`SpeciesInfo` record.
    seed
        Random seed of the ETKDG embedding.
    bond_length_angstrom
        Centre-ligand distance of octahedral species; default the sum of covalent radii.

    Returns
    -------
    SpeciesInfo
    """
    mol = Chem.AddHs(parse_smiles(smiles, species=name))
    builder = choose_builder(mol)
    trans_pairs: list[list[int]] = []
    if builder == "monatomic":
        conformer = Chem.Conformer(1)
        conformer.SetAtomPosition(0, Point3D(0.0, 0.0, 0.0))
        mol.AddConformer(conformer, assignId=True)
    elif builder == "octahedral":
        trans_pairs = _build_octahedron(mol, bond_length_angstrom)
    else:
        _embed_rdkit(mol, seed, name)
    mol.SetProp("_Name", name)
    atomic_write_text(out_sdf, Chem.MolToMolBlock(mol) + "$$$$\n")
    info = SpeciesInfo(
        name=name,
        residue=residue,
        smiles=smiles,
        formal_charge=Chem.GetFormalCharge(mol),
        molar_mass_g_per_mol=float(Descriptors.MolWt(mol)),
        n_atoms=mol.GetNumAtoms(),
        builder=builder,
        elements=[atom.GetSymbol() for atom in mol.GetAtoms()],
        trans_ligand_pairs=trans_pairs,
        octahedral_center=_octahedral_center(mol) if builder == "octahedral" else None,
    )
    info.to_json(out_json)
    return info
