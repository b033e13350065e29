"""Force field of titanium-oxo clusters: GAFF2 ligands, UFF Ti, xTB charges, Seminario Ti-O.

Model ``xtb_seminario`` (a bonded model in the spirit of MCPB.py, Li & Merz, J. Chem.
Inf. Model. 2016, 56, 599):

* organic parts of the ligands: GAFF2 atom types and bonded terms. Each ligand is typed
  by antechamber as its own fragment: the carboxylate as the free anion, the alkoxide
  capped with a methyl on its O (so the Ti-bound O is typed ``os``, an sp3 O with two
  heavy-atom neighbours, as it is in the cluster); parmchk2 fills what GAFF2 lacks;
* the Ti6O6 core: Ti type ``Ti`` with Lennard-Jones from UFF (Rappe et al., J. Am. Chem.
  Soc. 1992, 114, 10024: x = 2.828 A, D = 0.017 kcal/mol, i.e. Rmin/2 = 1.414 A); the
  mu3-O type ``OX`` with GAFF2's ``o`` Lennard-Jones;
* partial charges of every atom: GFN2-xTB charges of the relaxed cluster, made to sum
  exactly to the cluster's charge;
* every bond to Ti and every angle with Ti at its vertex or its end (O-Ti-O, Ti-O-Ti,
  Ti-O-C): the Seminario method on the GFN2-xTB Hessian of the relaxed structure
  (:mod:`electrolyte_md.cluster.seminario`), one value per bond and angle, with the relaxed
  geometry's distance and angle as the reference. tleap first puts class-average
  placeholders on these terms; :func:`apply_cluster_terms` then writes the per-term
  values into the OpenMM System;
* torsions about Ti-O bonds carry no energy (zero barriers, as MCPB.py does), but are
  listed so that the 1-4 pairs across them get Amber's usual scaled non-bonded terms;
* non-bonded pairs among the metal-site atoms (Ti, the O bound to Ti, the C bound to
  those O) are excluded: the Hessian behind their bonded terms holds those interactions;
* each ligand's periphery (what lies beyond its C bound to a Ti-bound O) has no
  non-bonded contact with the rest of the cluster; its orientation is held by harmonic
  dihedral terms fitted to GFN2-xTB scans, and the carboxylate O-C-C angles take the
  relaxed structure's reference values (:mod:`electrolyte_md.cluster.orientation`).

Only the metal-site rows of the Hessian are needed: the Ti atoms and their O neighbours
are displaced (30 atoms for Ti6O6, 180 gradients).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from electrolyte_md import mol2
from electrolyte_md.cluster.builder import BOND_CLASSES, ClusterStructure, _ligand
from electrolyte_md.cluster.orientation import (
    carboxylate_angle_references,
    ligand_peripheries,
    periphery_pairs,
)
from electrolyte_md.cluster.seminario import angle_force_constant, bond_force_constant
from electrolyte_md.errors import ParameterizationError
from electrolyte_md.frcmod import settle_aromatic_impropers
from electrolyte_md.io import atomic_write_text, run_program
from electrolyte_md.units import EV_TO_KCAL_PER_MOL, EV_TO_KJ_PER_MOL

__all__ = [
    "CLUSTER_MODEL",
    "UFF_TI",
    "apply_cluster_terms",
    "cluster_terms",
    "geometry_hash",
    "write_cluster_parameters",
]

logger = logging.getLogger(__name__)

CLUSTER_MODEL = "xtb_seminario"
#: UFF Ti4+6 Lennard-Jones: (Rmin/2 in A, epsilon in kcal/mol).
UFF_TI = (1.4140, 0.0170)
TI_TYPE = "Ti"
OXO_TYPE = "OX"
#: Amber types this model adds, with their elements (tleap's addAtomTypes).
NEW_ATOM_TYPES = {TI_TYPE: "Ti", OXO_TYPE: "O"}
TI_MASS = 47.867
O_MASS = 16.00
HESSIAN_STEP_ANGSTROM = 0.005


def geometry_hash(structure: ClusterStructure) -> str:
    """Hash of elements and coordinates rounded to 1e-5 A (identifies a relaxed geometry)."""
    text = json.dumps([structure.elements, np.round(structure.positions, 5).tolist()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def metal_site_atoms(structure: ClusterStructure) -> list[int]:
    """Ti atoms and every O bonded to a Ti, in index order."""
    atoms = {i for i, _, _ in structure.metal_oxygen_bonds}
    atoms |= {j for _, j, _ in structure.metal_oxygen_bonds}
    return sorted(atoms)


def _neighbours(structure: ClusterStructure) -> list[set[int]]:
    neighbours: list[set[int]] = [set() for _ in range(structure.n_atoms)]
    for i, j in structure.all_bonds():
        neighbours[i].add(j)
        neighbours[j].add(i)
    return neighbours


def metal_angles(structure: ClusterStructure) -> list[tuple[int, int, int]]:
    """Angles (a, vertex, c) with a Ti at the vertex or at an end, a < c."""
    neighbours = _neighbours(structure)
    titanium = {i for i, e in enumerate(structure.elements) if e == "Ti"}
    angles = set()
    for vertex in range(structure.n_atoms):
        nbs = sorted(neighbours[vertex])
        for x in range(len(nbs)):
            for y in range(x + 1, len(nbs)):
                a, c = nbs[x], nbs[y]
                if vertex in titanium or a in titanium or c in titanium:
                    angles.add((a, vertex, c))
    return sorted(angles)


def cluster_terms(structure: ClusterStructure, hessian: np.ndarray, displaced: list[int]) -> dict:
    """Per-term Seminario parameters of the metal site.

    Parameters
    ----------
    structure
        The relaxed cluster (reference geometry).
    hessian
        From :func:`electrolyte_md.cluster.xtb.partial_hessian`: shape (len(displaced), 3, n, 3),
        eV/A^2.
    displaced
        The displaced atoms, in the order of ``hessian``'s first axis.

    Returns
    -------
    dict
        ``bonds``: [i, j, r0 (A), k (eV/A^2), class]; ``angles``: [a, b, c, theta0 (deg),
        k (eV/rad^2)], for E = k/2 (x - x0)^2.
    """
    row = {atom: n for n, atom in enumerate(displaced)}
    xyz = structure.positions

    def block(a: int, b: int) -> np.ndarray:
        """d2E/dx_a dx_b, averaged over both orders when both rows exist."""
        blocks = []
        if a in row:
            blocks.append(hessian[row[a], :, b, :])
        if b in row:
            blocks.append(hessian[row[b], :, a, :].T)
        if not blocks:
            raise ParameterizationError(f"no Hessian rows for atoms {a} and {b}")
        return sum(blocks) / len(blocks)

    bonds = []
    for i, j, bond_class in structure.metal_oxygen_bonds:
        k = bond_force_constant(block(i, j), xyz[i], xyz[j])
        bonds.append([i, j, float(np.linalg.norm(xyz[j] - xyz[i])), k, bond_class])
    angles = []
    for a, b, c in metal_angles(structure):
        k = angle_force_constant(block(a, b), block(c, b), xyz[a], xyz[b], xyz[c])
        u = xyz[a] - xyz[b]
        v = xyz[c] - xyz[b]
        theta = math.degrees(
            math.acos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1.0, 1.0))
        )
        angles.append([a, b, c, theta, k])
    bad = [b for b in bonds if not b[3] > 0] + [a for a in angles if not a[4] > 0]
    if len(bad) > MAX_REPLACED_FRACTION * (len(bonds) + len(angles)):
        raise ParameterizationError(
            f"the Seminario projection gave non-positive force constants for {len(bad)} "
            f"terms (first: {bad[0]}); the structure is probably not at a minimum"
        )
    # A few near-linear or floppy angles can project to k <= 0: give them the mean of
    # the positive terms of the same kind (same element triple) and list them.
    replaced = _replace_nonpositive(structure, angles)
    if any(not b[3] > 0 for b in bonds):
        raise ParameterizationError("the Seminario projection gave a non-positive Ti-O bond")
    return {
        "bonds": bonds,
        "angles": angles,
        "replaced_nonpositive_angles": replaced,
        "method": "Seminario (symmetrised blocks)",
        "hessian": f"GFN2-xTB central differences, step {HESSIAN_STEP_ANGSTROM} A",
        "displaced_atoms": displaced,
    }


MAX_REPLACED_FRACTION = 0.1


def _replace_nonpositive(structure: ClusterStructure, angles: list[list]) -> list[list]:
    """Set non-positive angle constants to the mean of their kind; return those changed."""
    kinds: dict[tuple[str, str, str], list[float]] = defaultdict(list)

    def kind(a: int, b: int, c: int) -> tuple[str, str, str]:
        ends = sorted((structure.roles[a], structure.roles[c]))
        return (ends[0], structure.roles[b], ends[1])

    for a, b, c, _, k in angles:
        if k > 0:
            kinds[kind(a, b, c)].append(k)
    replaced = []
    for angle in angles:
        a, b, c, theta0, k = angle
        if not k > 0:
            values = kinds.get(kind(a, b, c))
            if not values:
                raise ParameterizationError(
                    f"no positive Seminario constant for angles like {kind(a, b, c)}"
                )
            angle[4] = float(np.mean(values))
            replaced.append([a, b, c, theta0, k if math.isfinite(k) else None, angle[4]])
    return replaced


# --------------------------------------------------------------------------- typing


def _ligand_types(smiles: str, kind: str, seed: int, workdir: Path) -> tuple[list[str], list[str]]:
    """GAFF2 types and elements of a ligand's atoms (template order), typed capped."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    ligand = _ligand(smiles, kind, seed)
    mol = Chem.RWMol(ligand.mol)
    n_template = mol.GetNumAtoms()
    charge = -1
    if kind == "alkoxide":
        oxygen = ligand.binding_oxygens[0]
        mol.GetAtomWithIdx(oxygen).SetFormalCharge(0)
        cap = mol.AddAtom(Chem.Atom(6))
        mol.AddBond(oxygen, cap, Chem.BondType.SINGLE)
        charge = 0
    capped = mol.GetMol()
    Chem.SanitizeMol(capped)
    capped = Chem.AddHs(capped)  # only the cap gains H; template atoms keep their order
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    if AllChem.EmbedMolecule(capped, params) != 0:
        raise ParameterizationError(f"could not embed the capped {kind} {smiles!r} for typing")
    sdf = workdir / f"{kind}.sdf"
    sdf.write_text(Chem.MolToMolBlock(capped) + "$$$$\n")
    out = workdir / f"{kind}.mol2"
    run_program(
        [
            "antechamber",
            "-i",
            str(sdf.resolve()),
            "-fi",
            "mdl",
            "-o",
            str(out.resolve()),
            "-fo",
            "mol2",
            "-at",
            "gaff2",
            "-nc",
            str(charge),
            "-pf",
            "y",
            "-dr",
            "no",
        ],
        cwd=workdir,
        error=ParameterizationError,
        what=f"antechamber typing of the {kind}",
    )
    atoms = mol2.read_atoms(out)
    names = [a.name.rstrip("0123456789").lower() for a in atoms[:n_template]]
    expected = [a.GetSymbol().lower() for a in ligand.mol.GetAtoms()]
    if names != expected:
        raise ParameterizationError(f"antechamber reordered the atoms of the {kind} {smiles!r}")
    return [a.atom_type for a in atoms[:n_template]], [e.capitalize() for e in expected]


def atom_types(structure: ClusterStructure, workdir: Path) -> list[str]:
    """Amber atom type of every cluster atom."""
    spec = structure.spec
    seed = int(spec.get("seed", 42))
    templates = {
        "alkoxide": _ligand_types(spec["alkoxide"], "alkoxide", seed, workdir),
        "carboxylate": _ligand_types(spec["carboxylate"], "carboxylate", seed, workdir),
    }
    types: list[str] = []
    position_in_ligand: dict[int, int] = defaultdict(int)
    for atom, (element, ligand) in enumerate(
        zip(structure.elements, structure.ligand_index, strict=True)
    ):
        if ligand < 0:
            types.append(TI_TYPE if element == "Ti" else OXO_TYPE)
            continue
        kind = "alkoxide" if ligand < 6 else "carboxylate"
        template_types, template_elements = templates[kind]
        index = position_in_ligand[ligand]
        position_in_ligand[ligand] += 1
        if index >= len(template_types) or template_elements[index] != element:
            raise ParameterizationError(
                f"atom {atom} ({element}) of ligand {ligand} does not match its {kind} "
                "template; the cluster was built from other ligands"
            )
        types.append(template_types[index])
    return types


def atom_names(elements: list[str]) -> list[str]:
    """Unique PDB-style names: element + running number per element (max 4 characters)."""
    counters: dict[str, int] = defaultdict(int)
    names = []
    for element in elements:
        counters[element] += 1
        name = f"{element.upper()}{counters[element]}"
        if len(name) > 4:
            raise ParameterizationError(f"atom name {name} is longer than 4 characters")
        names.append(name)
    return names


def cluster_mol2(
    structure: ClusterStructure,
    names: list[str],
    types: list[str],
    charges: list[float],
    residue: str,
) -> str:
    """Tripos MOL2 text of the whole cluster as one residue, all bonds listed."""
    bonds = structure.all_bonds()
    lines = [
        "@<TRIPOS>MOLECULE",
        residue,
        f"{structure.n_atoms:6d} {len(bonds):6d}     1     0     0",
        "SMALL",
        "USER_CHARGES",
        "",
        "",
        "@<TRIPOS>ATOM",
    ]
    for n, (name, atom_type, q, xyz) in enumerate(
        zip(names, types, charges, structure.positions, strict=True), start=1
    ):
        lines.append(
            f"{n:7d} {name:<8s} {xyz[0]:10.4f} {xyz[1]:10.4f} {xyz[2]:10.4f} "
            f"{atom_type:<8s} {1:3d} {residue:<8s} {q:10.6f}"
        )
    lines.append("@<TRIPOS>BOND")
    for n, (i, j) in enumerate(bonds, start=1):
        lines.append(f"{n:6d} {i + 1:5d} {j + 1:5d} 1")
    lines += [
        "@<TRIPOS>SUBSTRUCTURE",
        f"     1 {residue:<8s}    1 TEMP              0 ****  ****    0 ROOT",
    ]
    return "\n".join(lines) + "\n"


_FRCMOD_SECTIONS = ("MASS", "BOND", "ANGLE", "DIHE", "IMPROPER", "NONBON")
_SECTION_ALIASES = {"ANGL": "ANGLE", "IMPR": "IMPROPER", "NONB": "NONBON"}


def _frcmod_sections(text: str) -> dict[str, list[str]]:
    """Lines of each section of frcmod text (the title line is dropped)."""
    sections: dict[str, list[str]] = {name: [] for name in _FRCMOD_SECTIONS}
    current = None
    for line in text.splitlines()[1:]:
        header = line.strip().upper()
        header = _SECTION_ALIASES.get(header, header)
        if header in sections:
            current = header
        elif line.strip() and current is not None:
            sections[current].append(line)
    return sections


def _merge_frcmods(title: str, texts: list[str]) -> str:
    """One frcmod from several, section by section; the first definition of a term wins."""
    merged: dict[str, list[str]] = {name: [] for name in _FRCMOD_SECTIONS}
    seen: dict[str, set[str]] = {name: set() for name in _FRCMOD_SECTIONS}
    for text in texts:
        for name, lines in _frcmod_sections(text).items():
            for line in lines:
                key = line[:11].replace(" ", "") if name != "NONBON" else line.split()[0]
                if name == "DIHE" or key not in seen[name]:
                    if name == "DIHE" and line in merged[name]:
                        continue
                    seen[name].add(key)
                    merged[name].append(line)
    out = [title]
    for name in _FRCMOD_SECTIONS:
        out.append(name)
        out.extend(merged[name])
        out.append("")
    return "\n".join(out) + "\n"


def _frcmod(
    structure: ClusterStructure, types: list[str], terms: dict, ligand_frcmods: list[str]
) -> str:
    """frcmod with Ti/OX masses and LJ, class-average placeholders and zero torsions."""
    bond_k: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for i, j, r0, k, _ in terms["bonds"]:
        key = tuple(sorted((types[i], types[j])))
        bond_k[key].append((r0, k))
    angle_k: dict[tuple[str, str, str], list[tuple[float, float]]] = defaultdict(list)
    for a, b, c, theta0, k in terms["angles"]:
        key = (types[a], types[b], types[c])
        key = min(key, key[::-1])
        angle_k[key].append((theta0, k))
    lines = [
        "Ti-oxo cluster",
        "MASS",
        f"{TI_TYPE:<2s} {TI_MASS:8.3f}",
        f"{OXO_TYPE:<2s} {O_MASS:8.3f}",
        "",
        "BOND",
    ]
    for (t1, t2), values in sorted(bond_k.items()):
        r0 = float(np.mean([v[0] for v in values]))
        k = float(np.mean([v[1] for v in values])) * EV_TO_KCAL_PER_MOL / 2
        lines.append(f"{t1:<2s}-{t2:<2s} {k:8.2f} {r0:8.4f}")
    lines += ["", "ANGLE"]
    for (t1, t2, t3), values in sorted(angle_k.items()):
        theta0 = float(np.mean([v[0] for v in values]))
        k = float(np.mean([v[1] for v in values])) * EV_TO_KCAL_PER_MOL / 2
        lines.append(f"{t1:<2s}-{t2:<2s}-{t3:<2s} {k:8.3f} {theta0:10.3f}")
    lines += ["", "DIHE"]
    centres = sorted({tuple(sorted((types[i], types[j]))) for i, j, *_ in terms["bonds"]})
    for t1, t2 in centres:
        lines.append(f"X -{t1:<2s}-{t2:<2s}-X    1    0.000       0.000           1.000")
    # Torsions about the ligand bond next to Ti (e.g. Ti-o-c-ca) where GAFF2 has no X-c-o-X.
    lines += [
        "X -c -o -X     1    0.000       180.000         2.000",
        "",
        "NONBON",
        f"  {TI_TYPE:<2s}        {UFF_TI[0]:.4f}  {UFF_TI[1]:.4f}",
        f"  {OXO_TYPE:<2s}        1.7107  0.1463",
        "",
    ]
    title = (
        "Ti-oxo cluster: UFF Ti, GAFF2 o LJ on mu3-O, class averages of the Seminario "
        "terms (per-term values are set in the OpenMM System), parmchk2 for ligands"
    )
    return _merge_frcmods(title, ["\n".join(lines), *ligand_frcmods])


def write_cluster_parameters(
    structure: ClusterStructure,
    charges: list[float],
    terms: dict,
    residue: str,
    out_mol2: Path,
    out_frcmod: Path,
    check_ligand: Callable[[str, Path, Path], None] | None = None,
) -> dict:
    """Write ff.mol2 and ff.frcmod of a cluster; return the per-term parameters.

    The returned dict (atom names and types, Seminario bonds and angles) is what
    :func:`apply_cluster_terms` needs; the caller stores it with the species record.
    ``check_ligand(kind, mol2, frcmod)`` is called on each typed ligand fragment and its
    parmchk2 frcmod before anything is written (the force-field stage checks there which
    GAFF2 terms parmchk2 took by analogy; this lower stage cannot import it).
    """
    names = atom_names(structure.elements)
    with tempfile.TemporaryDirectory(prefix="cluster-ff-") as tmp:
        work = Path(tmp)
        types = atom_types(structure, work)
        mol2_text = cluster_mol2(structure, names, types, charges, residue)
        (work / "cluster.mol2").write_text(mol2_text)
        ligand_frcmods = _parmchk2_ligands(work)
        if check_ligand is not None:
            for kind in ("carboxylate", "alkoxide"):
                check_ligand(kind, work / f"{kind}.mol2", work / f"{kind}.frcmod")
        for kind, content in zip(("carboxylate", "alkoxide"), ligand_frcmods, strict=True):
            # the check above names the atoms of such terms; this one only guards callers
            # that give none
            if "ATTN, need revision" in content:
                raise ParameterizationError(f"parmchk2 found no GAFF2 analogue for the {kind}")
        frcmod = _frcmod(structure, types, terms, ligand_frcmods)
    site = set(metal_site_atoms(structure))
    shell = set(site)
    for i, j, _ in structure.bonds:
        if i in site or j in site:
            shell |= {i, j}
    atomic_write_text(out_mol2, mol2_text)
    atomic_write_text(out_frcmod, frcmod)
    return {
        "atom_names": names,
        "atom_types": types,
        "nonbonded_excluded_atoms": sorted(shell),
        "ligand_peripheries": ligand_peripheries(structure),
        "carboxylate_angle_references": carboxylate_angle_references(structure),
        **terms,
    }


def _parmchk2_ligands(work: Path) -> list[str]:
    """parmchk2 frcmod texts for the typed ligand fragments (GAFF2 gaps)."""
    text = []
    for kind in ("carboxylate", "alkoxide"):
        out = work / f"{kind}.frcmod"
        run_program(
            [
                "parmchk2",
                "-i",
                str(work / f"{kind}.mol2"),
                "-f",
                "mol2",
                "-o",
                str(out),
                "-s",
                "gaff2",
            ],
            cwd=work,
            error=ParameterizationError,
            what=f"parmchk2 for the {kind}",
        )
        # parmchk2 gives the aminobenzoate's ring impropers 1.1 or 10.5 kcal/mol at
        # random: settled to its default (electrolyte_md.frcmod)
        content, changed = settle_aromatic_impropers(out.read_text())
        if changed:
            logger.info("%s: aromatic impropers %s set to parmchk2's default", kind, changed)
            out.write_text(content)
        text.append(content)
    return text


def apply_cluster_terms(system, topology, residue: str, terms: dict) -> int:
    """Write per-term Seminario bonds and angles into every cluster residue of a System.

    ``terms`` is what :func:`write_cluster_parameters` returned. Returns the number of
    terms set; raises if a term tleap should have made is missing.
    """
    import openmm

    names = terms["atom_names"]
    bonds: dict[tuple[int, int], tuple[float, float]] = {}
    angles: dict[tuple[int, int, int], tuple[float, float]] = {}
    # GAFF2 O-C-X angles of the carboxylates: their force constants stay, their
    # reference angles become the relaxed structure's (cluster.orientation).
    references: dict[tuple[int, int, int], float] = {}
    for residue_obj in topology.residues():
        if residue_obj.name != residue:
            continue
        index = {atom.name: atom.index for atom in residue_obj.atoms()}
        try:
            local = [index[name] for name in names]
        except KeyError as missing:
            raise ParameterizationError(
                f"cluster residue {residue} lacks atom {missing} of its parameter set"
            ) from None
        for i, j, r0, k, _ in terms["bonds"]:
            a, b = sorted((local[i], local[j]))
            bonds[(a, b)] = (r0 / 10.0, k * EV_TO_KJ_PER_MOL * 100.0)
        for a, b, c, theta0, k in terms["angles"]:
            x, z = sorted((local[a], local[c]))
            angles[(x, local[b], z)] = (math.radians(theta0), k * EV_TO_KJ_PER_MOL)
        for a, b, c, theta0 in terms.get("carboxylate_angle_references", []):
            x, z = sorted((local[a], local[c]))
            references[(x, local[b], z)] = math.radians(theta0)
    # The metal site (Ti, the O bound to Ti and the C bound to those O) is held by its
    # bonded terms alone: the GFN2-xTB Hessian behind them already contains every
    # interaction inside it, and Coulomb between its 1-4 and farther pairs (Ti +1.4 e,
    # O -0.8 e, carboxylate C +0.6 e, 3-4 A apart) would count those again: in a test it
    # crushed the core, then pulled the carboxylate O to 1.7 A from Ti.
    site_pairs = _exclude_metal_site_pairs(system, topology, residue, terms)
    # Each ligand's periphery is held in place by orientation terms fitted to GFN2-xTB,
    # not by GAFF2 contacts with the rest of the cluster (see cluster.orientation).
    periphery_pairs = _exclude_ligand_periphery_pairs(system, topology, residue, terms)
    set_bonds = set_angles = set_references = 0
    for force in system.getForces():
        if isinstance(force, openmm.HarmonicBondForce):
            for n in range(force.getNumBonds()):
                a, b, *_ = force.getBondParameters(n)
                key = (min(a, b), max(a, b))
                if key in bonds:
                    force.setBondParameters(n, a, b, *bonds[key])
                    set_bonds += 1
        elif isinstance(force, openmm.HarmonicAngleForce):
            for n in range(force.getNumAngles()):
                a, b, c, *_ = force.getAngleParameters(n)
                key = (min(a, c), b, max(a, c))
                if key in angles:
                    force.setAngleParameters(n, a, b, c, *angles[key])
                    set_angles += 1
                elif key in references:
                    *_, k = force.getAngleParameters(n)
                    force.setAngleParameters(n, a, b, c, references[key], k)
                    set_references += 1
    if set_bonds != len(bonds) or set_angles != len(angles):
        raise ParameterizationError(
            f"cluster {residue}: set {set_bonds}/{len(bonds)} Seminario bonds and "
            f"{set_angles}/{len(angles)} angles; tleap did not make every Ti term"
        )
    if set_references != len(references):
        raise ParameterizationError(
            f"cluster {residue}: found {set_references}/{len(references)} carboxylate "
            "O-C-X angles in the tleap system"
        )
    torsions = _add_orientation_terms(system, topology, residue, terms)
    return set_bonds + set_angles + set_references + site_pairs + periphery_pairs + torsions


def orientation_force(fitted: list[dict], atom_index):
    """A CustomTorsionForce ``k/2 (phi - phi0)^2`` (phi - phi0 wrapped into -pi..pi) with
    the fitted orientation terms; ``atom_index`` maps a cluster atom to a System index."""
    import openmm

    force = openmm.CustomTorsionForce(
        "0.5*k*d^2; d = dt - two_pi*floor(dt/two_pi + 0.5); dt = theta - theta0"
    )
    force.setName("ligand orientation terms (GFN2-xTB fit)")
    force.addGlobalParameter("two_pi", 2.0 * math.pi)
    force.addPerTorsionParameter("k")
    force.addPerTorsionParameter("theta0")
    for term in fitted:
        if term["k_kj_per_mol_rad2"] <= 0.0:
            continue
        for quad, centre in zip(term["dihedrals"], term["centres_degrees"], strict=True):
            force.addTorsion(
                *(atom_index(k) for k in quad),
                [term["k_kj_per_mol_rad2"], math.radians(centre)],
            )
    return force


def _add_orientation_terms(system, topology, residue: str, terms: dict) -> int:
    """The fitted ligand orientation terms (:mod:`electrolyte_md.cluster.orientation`)."""
    fitted = (terms.get("orientation_terms") or {}).get("terms")
    if not fitted:
        return 0
    names = terms["atom_names"]
    count = 0
    for residue_obj in topology.residues():
        if residue_obj.name != residue:
            continue
        index = {atom.name: atom.index for atom in residue_obj.atoms()}
        force = orientation_force(fitted, lambda k, index=index: index[names[k]])
        count += force.getNumTorsions()
        system.addForce(force)
    return count


def _exclusions(system):
    import openmm

    nonbonded = [f for f in system.getForces() if isinstance(f, openmm.NonbondedForce)]
    if len(nonbonded) != 1:
        raise ParameterizationError("expected one NonbondedForce in the system")
    force = nonbonded[0]
    existing = {}
    for n in range(force.getNumExceptions()):
        a, b, *_ = force.getExceptionParameters(n)
        existing[(min(a, b), max(a, b))] = n
    return force, existing


def _zero_pairs(system, topology, residue: str, terms: dict, local_pairs) -> int:
    """Zero the non-bonded interaction of ``local_pairs`` (cluster atom indices) in every
    residue ``residue`` of the System; returns the number of pairs set."""
    names = terms["atom_names"]
    force, existing = _exclusions(system)
    count = 0
    for residue_obj in topology.residues():
        if residue_obj.name != residue:
            continue
        index = {atom.name: atom.index for atom in residue_obj.atoms()}
        local = [index[name] for name in names]
        for i, j in local_pairs:
            a, b = sorted((local[i], local[j]))
            if (a, b) in existing:
                force.setExceptionParameters(existing[(a, b)], a, b, 0.0, 0.1, 0.0)
            else:
                existing[(a, b)] = force.addException(a, b, 0.0, 0.1, 0.0)
            count += 1
    return count


def _exclude_ligand_periphery_pairs(system, topology, residue: str, terms: dict) -> int:
    """Zero the non-bonded interaction between each ligand's periphery and the cluster
    atoms outside that ligand, in every cluster residue."""
    peripheries = terms.get("ligand_peripheries")
    if not peripheries:
        return 0
    pairs = periphery_pairs(peripheries, len(terms["atom_names"]))
    return _zero_pairs(system, topology, residue, terms, pairs)


def _exclude_metal_site_pairs(system, topology, residue: str, terms: dict) -> int:
    """Zero the non-bonded interaction of every pair of metal-site atoms of each cluster."""
    import itertools

    site = sorted(terms["nonbonded_excluded_atoms"])
    return _zero_pairs(system, topology, residue, terms, list(itertools.combinations(site, 2)))


def bond_class_summary(structure: ClusterStructure) -> dict[str, dict[str, float]]:
    """Ti-O distances (A) by class: n, mean, min, max."""
    by_class: dict[str, list[float]] = {c: [] for c in BOND_CLASSES}
    for i, j, bond_class in structure.metal_oxygen_bonds:
        by_class[bond_class].append(
            float(np.linalg.norm(structure.positions[i] - structure.positions[j]))
        )
    return {
        c: {
            "n": len(v),
            "mean": float(np.mean(v)),
            "min": float(np.min(v)),
            "max": float(np.max(v)),
        }
        for c, v in by_class.items()
        if v
    }
