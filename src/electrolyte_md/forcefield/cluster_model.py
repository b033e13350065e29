"""The Ti6 cluster's force-field parameters (model ``xtb_seminario``) from its document.

* :func:`parameterize_cluster`: the ``ff.*`` files of a metal-oxo cluster from the
  GFN2-xTB charges and Seminario terms of its cluster document
  (:mod:`electrolyte_md.cluster.forcefield`), then its ligand orientation terms fitted to
  the document's GFN2-xTB scans (:mod:`electrolyte_md.cluster.orientation`) on the
  cluster alone, built like any system
  (:func:`~electrolyte_md.forcefield.system.build_species_alone`);
* :func:`heavy_atom_rmsd`: the check of that fit, in plain numpy.

When a box holds such a cluster, :func:`~electrolyte_md.forcefield.system.build_system`
writes its terms from ``ff.json`` with
:func:`~electrolyte_md.cluster.forcefield.apply_cluster_terms`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from electrolyte_md import mol2
from electrolyte_md.cluster.builder import ClusterStructure
from electrolyte_md.cluster.forcefield import (
    CLUSTER_MODEL,
    geometry_hash,
    orientation_force,
    write_cluster_parameters,
)
from electrolyte_md.cluster.orientation import FIT_KT_KJ_PER_MOL, fit_orientation_terms
from electrolyte_md.errors import ParameterizationError
from electrolyte_md.forcefield.analogues import checked_analogues
from electrolyte_md.forcefield.parameters import CITATIONS, SpeciesParameters
from electrolyte_md.forcefield.system import build_species_alone
from electrolyte_md.io import atomic_write_text
from electrolyte_md.structures.species import SpeciesInfo


def parameterize_cluster(info: SpeciesInfo, parameters: dict, out_dir: Path) -> SpeciesParameters:
    """ff.* files of a metal-oxo cluster from its cluster document (model xtb_seminario)."""
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
    analogues: list[dict] = []

    def check_ligand(kind: str, ligand_mol2: Path, ligand_frcmod: Path) -> None:
        # the ligands are GAFF2 molecules: parameters taken by analogy need the same
        # consent as in any other species (docs/models.md, force field)
        analogues.extend(
            checked_analogues(info.name, parameters, ligand_mol2, ligand_frcmod, f"{kind} ligand")
        )

    terms = write_cluster_parameters(
        structure,
        charges,
        document["seminario"],
        info.residue,
        out_dir / "ff.mol2",
        out_dir / "ff.frcmod",
        check_ligand=check_ligand,
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
        gaff2_analogues=analogues,
    )
    result.to_json(out_dir / "ff.json")
    terms["orientation_terms"] = _fit_orientation_terms(structure, scan, info.name, out_dir)
    result.cluster_terms = terms
    result.to_json(out_dir / "ff.json")
    return result


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
    rmsd = heavy_atom_rmsd(
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


def heavy_atom_rmsd(xyz: np.ndarray, reference: np.ndarray, atoms: list[int]) -> float:
    """RMSD (Angstrom) over ``atoms`` after the best superposition (Kabsch).

    Plain numpy: the force-field stage's environment has no MDAnalysis.
    """
    p = xyz[atoms] - xyz[atoms].mean(axis=0)
    q = reference[atoms] - reference[atoms].mean(axis=0)
    u, _, vt = np.linalg.svd(p.T @ q)
    sign = np.sign(np.linalg.det(u @ vt))
    rotation = u @ np.diag([1.0, 1.0, sign]) @ vt
    return float(np.sqrt(((p @ rotation - q) ** 2).sum(axis=1).mean()))
