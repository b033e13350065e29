"""Build, relax, check and characterise a Ti6O6 oxo cluster: the cluster document.

A *cluster document* is one JSON file holding everything later stages need and a reader
needs to trust it: the builder's inputs, the relaxed coordinates with their bond topology,
the relaxation's provenance (method, program version, force criterion, steps, energy),
the checks passed, Ti-O distances by bond class, GFN2-xTB charges and the Seminario
bonded terms of the metal site. ``structures/ti6_hpab.json`` is such a document,
committed so that a default run does not redo the half-hour relaxation; it is
regenerated with::

    python -m electrolyte_md.cluster.document structures/ti6_hpab.json \
        --carboxylate 4-aminobenzoate --alkoxide isopropoxide

The workflow reuses a committed document only if its builder key (ligands, seed) matches
the configuration and its relaxation met the configured force criterion:
:func:`build_cluster_species` makes the cluster species (``species.json``, SDF) from it,
or from a cluster built and relaxed anew.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import platform
from importlib.metadata import version
from pathlib import Path

import numpy as np
from rdkit import Chem

from electrolyte_md.cluster.builder import (
    ClusterSpec,
    ClusterStructure,
    build_cluster,
    check_cluster,
    read_topology_json,
    write_topology_json,
)
from electrolyte_md.cluster.forcefield import (
    HESSIAN_STEP_ANGSTROM,
    bond_class_summary,
    cluster_terms,
    geometry_hash,
    metal_site_atoms,
)
from electrolyte_md.cluster.orientation import orientation_coordinates, qm_scans
from electrolyte_md.cluster.xtb import (
    DEFAULT_FMAX_EV_PER_ANGSTROM,
    partial_hessian,
    read_xyz_positions,
    relax,
    singlepoint,
)
from electrolyte_md.errors import StructureError
from electrolyte_md.io import atomic_write_text
from electrolyte_md.structures.species import SpeciesInfo

__all__ = [
    "CLUSTER_BUILDER",
    "DOCUMENT_FORMAT",
    "add_parameters",
    "build_cluster_species",
    "load_document",
    "make_document",
    "main",
]

logger = logging.getLogger(__name__)

DOCUMENT_FORMAT = "electrolyte-md cluster document 1"
#: Builder of Ti6(mu3-O)6(OR)6(O2CR')6 clusters (species with a ``cluster`` block).
CLUSTER_BUILDER = "ti6o6_cluster"


def _versions() -> dict[str, str]:
    return {
        "tblite": version("tblite"),
        "ase": version("ase"),
        "rdkit": version("rdkit"),
        "python": platform.python_version(),
    }


def make_document(
    spec: ClusterSpec,
    *,
    fmax: float = DEFAULT_FMAX_EV_PER_ANGSTROM,
    max_steps: int = 4000,
    checkpoint: Path | None = None,
    start: np.ndarray | None = None,
) -> tuple[ClusterStructure, dict]:
    """Build and relax a cluster with GFN2-xTB, check it and return (structure, extras).

    ``checkpoint`` (XYZ) receives the current geometry as the relaxation goes; ``start``
    continues from such a geometry instead of the built one (steps then count from the
    restart).

    Raises
    ------
    StructureError
        If the relaxation does not reach ``fmax`` or the relaxed cluster fails
        :func:`electrolyte_md.cluster.builder.check_cluster`.
    """
    built = build_cluster(spec)
    result = relax(
        built.elements,
        built.positions if start is None else start,
        built.net_charge,
        fmax=fmax,
        max_steps=max_steps,
        checkpoint=checkpoint,
    )
    if not result.converged:
        raise StructureError(
            f"GFN2-xTB relaxation of the cluster stopped after {result.n_steps} steps at "
            f"fmax {result.fmax_ev_per_angstrom:.4f} eV/A, above the criterion {fmax}"
        )
    relaxed = built.with_positions(result.positions)
    if checkpoint is not None:  # keep the minimum even if a check below refuses it
        relaxed.write_xyz(
            checkpoint,
            f"relaxed: E = {result.energy_ev:.6f} eV, "
            f"fmax = {result.fmax_ev_per_angstrom:.4f} eV/A",
        )
    # Wiberg bond orders decide whether a stretched Ti-O bond is still a bond
    point = singlepoint(relaxed.elements, relaxed.positions, relaxed.net_charge)
    checks = check_cluster(relaxed, reference=built, bond_orders=point.bond_orders)
    checks["ti_o_wiberg_bond_orders"] = [
        round(float(point.bond_orders[i, j]), 4) for i, j, _ in built.metal_oxygen_bonds
    ]
    extras = {
        "format": DOCUMENT_FORMAT,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "relaxation": {
            **result.provenance(),
            "charge": built.net_charge,
            "multiplicity": 1,
            "versions": _versions(),
        },
        "checks": checks,
        "geometry_hash": geometry_hash(relaxed),
        "ti_o_distances_angstrom": bond_class_summary(relaxed),
        "built_ti_o_distances_angstrom": bond_class_summary(built),
    }
    return relaxed, extras


def add_parameters(structure: ClusterStructure, extras: dict) -> dict:
    """Add GFN2-xTB charges, Seminario terms and the ligand orientation scans
    (:mod:`electrolyte_md.cluster.orientation`) for this geometry, each unless already
    there."""
    ghash = geometry_hash(structure)
    extras = dict(extras)
    charges = extras.get("xtb_charges", {})
    if charges.get("geometry_hash") != ghash:
        point = singlepoint(structure.elements, structure.positions, structure.net_charge)
        extras["xtb_charges"] = {
            "geometry_hash": ghash,
            "method": f"GFN2-xTB (tblite {version('tblite')}) Mulliken charges",
            "energy_ev": point.energy_ev,
            "max_force_ev_per_angstrom": float(
                np.linalg.norm(point.forces_ev_per_angstrom, axis=1).max()
            ),
            "charges": [round(float(q), 6) for q in point.charges],
        }
    # A document of an earlier revision held one alkoxide's rotamer scan instead.
    extras.pop("alkoxide_scan", None)
    scan = extras.get("orientation_scan") or {}
    if scan.get("geometry_hash") != ghash and orientation_coordinates(structure):
        logger.info("GFN2-xTB rigid scans of the ligand orientations")
        extras["orientation_scan"] = {
            "geometry_hash": ghash,
            "tblite": version("tblite"),
            **qm_scans(structure),
        }
    terms = extras.get("seminario", {})
    if terms.get("geometry_hash") != ghash:
        displaced = metal_site_atoms(structure)
        logger.info(
            "GFN2-xTB Hessian rows of %d metal-site atoms (%d gradients)",
            len(displaced),
            6 * len(displaced),
        )
        hessian = partial_hessian(
            structure.elements,
            structure.positions,
            displaced,
            structure.net_charge,
            step_angstrom=HESSIAN_STEP_ANGSTROM,
        )
        extras["seminario"] = {
            "geometry_hash": ghash,
            "tblite": version("tblite"),
            **cluster_terms(structure, hessian, displaced),
        }
    return extras


def _stored_bond_orders(structure: ClusterStructure, extras: dict) -> np.ndarray | None:
    """Ti-O Wiberg bond orders recorded by :func:`make_document`, as an n x n matrix."""
    orders = extras.get("checks", {}).get("ti_o_wiberg_bond_orders")
    if orders is None or len(orders) != len(structure.metal_oxygen_bonds):
        return None
    matrix = np.zeros((structure.n_atoms, structure.n_atoms))
    for (i, j, _), order in zip(structure.metal_oxygen_bonds, orders, strict=True):
        matrix[i, j] = matrix[j, i] = order
    return matrix


def load_document(
    path: Path | str, spec: ClusterSpec | None = None, fmax: float | None = None
) -> tuple[ClusterStructure, dict]:
    """Read a cluster document, checking it matches ``spec`` and met ``fmax``.

    Raises
    ------
    StructureError
        Naming the file: unreadable, another format, built from other ligands, or relaxed
        to a looser criterion than asked for.
    """
    path = Path(path)
    structure, extras = read_topology_json(path)
    if extras.get("format") != DOCUMENT_FORMAT:
        raise StructureError(f"{path}: not a cluster document ({DOCUMENT_FORMAT!r} expected)")
    if spec is not None and structure.spec.get("key") != spec.key():
        raise StructureError(
            f"{path} was built from carboxylate {structure.spec.get('carboxylate')!r} and "
            f"alkoxide {structure.spec.get('alkoxide')!r} (seed {structure.spec.get('seed')}), "
            f"not from the configured {spec.carboxylate!r} / {spec.alkoxide!r} "
            f"(seed {spec.seed}); drop `structure:` to build and relax the cluster anew "
            "(about half an hour on 2 cores) or point it to a matching document"
        )
    relaxation = extras.get("relaxation", {})
    if fmax is not None and not (
        relaxation.get("converged")
        and relaxation.get("criterion_fmax_ev_per_angstrom", np.inf) <= fmax + 1e-12
    ):
        raise StructureError(
            f"{path}: relaxed to fmax {relaxation.get('criterion_fmax_ev_per_angstrom')} "
            f"eV/A, looser than the configured {fmax} eV/A"
        )
    if extras.get("geometry_hash") != geometry_hash(structure):
        raise StructureError(
            f"{path}: coordinates do not match the recorded geometry hash (edited by hand?)"
        )
    check_cluster(structure, bond_orders=_stored_bond_orders(structure, extras))
    return structure, extras


def build_cluster_species(
    name: str,
    cluster: dict,
    residue: str,
    out_sdf: Path,
    out_json: Path,
    *,
    structure_path: Path | None = None,
) -> SpeciesInfo:
    """Build (or reuse) a Ti6O6 oxo cluster species and write its SDF and JSON record.

    Parameters
    ----------
    name, residue
        Species and residue name.
    cluster
        The species' ``cluster`` block: ``carboxylate``, ``alkoxide`` (SMILES or names),
        optional ``seed`` and ``fmax_ev_per_angstrom`` (relaxation criterion).
    structure_path
        A committed cluster document to reuse; it must match the ligands and criterion.
        Without it the cluster is built and relaxed with GFN2-xTB here (slow: about half
        an hour for Ti6(HPAB) on 2 cores).
    """
    spec = ClusterSpec(
        carboxylate=cluster["carboxylate"],
        alkoxide=cluster["alkoxide"],
        seed=int(cluster.get("seed", 42)),
    )
    fmax = float(cluster.get("fmax_ev_per_angstrom", DEFAULT_FMAX_EV_PER_ANGSTROM))
    if structure_path is not None:
        structure, extras = load_document(structure_path, spec, fmax)
        extras["source"] = str(structure_path)
    else:
        structure, extras = make_document(spec, fmax=fmax)
        extras["source"] = "built and relaxed in this run"
    extras = add_parameters(structure, extras)
    mol = structure.to_rdkit()
    mol.SetProp("_Name", name)
    atomic_write_text(out_sdf, Chem.MolToMolBlock(mol, kekulize=False) + "$$$$\n")
    table = Chem.GetPeriodicTable()
    info = SpeciesInfo(
        name=name,
        residue=residue,
        smiles="",
        formal_charge=structure.net_charge,
        molar_mass_g_per_mol=float(sum(table.GetAtomicWeight(e) for e in structure.elements)),
        n_atoms=structure.n_atoms,
        builder=CLUSTER_BUILDER,
        elements=list(structure.elements),
        cluster={
            **extras,
            "topology": structure.topology_dict(),
            "positions_angstrom": structure.positions.tolist(),
        },
    )
    info.to_json(out_json)
    return info


def main(argv: list[str] | None = None) -> None:
    """Command line: build, relax and characterise a cluster into a document."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="cluster document to write (.json)")
    parser.add_argument("--carboxylate", default="4-aminobenzoate")
    parser.add_argument("--alkoxide", default="isopropoxide")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--fmax", type=float, default=DEFAULT_FMAX_EV_PER_ANGSTROM, help="force criterion, eV/A"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the relaxed geometry of an existing OUT; redo parameters",
    )
    parser.add_argument(
        "--history", help="note on the earlier run(s) a continued relaxation comes from"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    spec = ClusterSpec(carboxylate=args.carboxylate, alkoxide=args.alkoxide, seed=args.seed)
    checkpoint = args.out.with_suffix(".partial.xyz")
    if args.reuse and args.out.exists():
        structure, extras = load_document(args.out, spec, args.fmax)
    else:
        start = None
        if checkpoint.exists():
            logger.info("continuing the relaxation from %s", checkpoint)
            start = read_xyz_positions(checkpoint, build_cluster(spec).elements)
        structure, extras = make_document(spec, fmax=args.fmax, checkpoint=checkpoint, start=start)
        extras["relaxation"]["continued_from_checkpoint"] = start is not None
        if args.history:
            extras["relaxation"]["history"] = args.history
    extras = add_parameters(structure, extras)
    write_topology_json(structure, args.out, extras)
    structure.write_xyz(
        args.out.with_suffix(".xyz"),
        f"{structure.formula()} GFN2-xTB E = "
        f"{extras['relaxation']['energy_ev']:.6f} eV, see {args.out.name}",
    )
    checkpoint.unlink(missing_ok=True)
    print(
        json.dumps(
            {k: extras[k] for k in ("relaxation", "checks", "ti_o_distances_angstrom")}, indent=1
        )
    )


if __name__ == "__main__":
    main()
