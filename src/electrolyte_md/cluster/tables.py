"""The cluster document's tables, for the report.

* :func:`charge_table`: GFN2-xTB charges grouped by atom role (Ti, mu3-O, carboxylate O,
  alkoxide O, ...), the paper's "electron-deficient Ti" claim made quantitative;
* :func:`geometry_table`: Ti-O distances by bond class, as built, as relaxed with
  GFN2-xTB and as averaged in MD;
* :func:`write_cluster_tables`: both tables of a cluster species, as CSV.

Distances in Angstrom, charges in e.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from electrolyte_md.cluster.builder import BOND_CLASSES, ClusterStructure
from electrolyte_md.errors import AnalysisError
from electrolyte_md.io import atomic_write_text
from electrolyte_md.structures.species import SpeciesInfo

__all__ = [
    "CHARGE_ROLES",
    "charge_table",
    "geometry_table",
    "structure_of",
    "write_cluster_tables",
]

#: Atom roles shown in the charge table, in this order.
CHARGE_ROLES = (
    "Ti",
    "O(mu3)",
    "O(carboxylate)",
    "O(alkoxide)",
    "C(carboxylate)",
    "C(alkoxide)",
)


def structure_of(document: dict) -> ClusterStructure:
    """The relaxed cluster of a cluster document (``SpeciesInfo.cluster``)."""
    return ClusterStructure.from_dict(document["topology"], document["positions_angstrom"])


def charge_table(document: dict, species: str) -> pd.DataFrame:
    """GFN2-xTB partial charges by atom role: n, mean, min, max, and the role's total.

    The last row sums every atom (the cluster's net charge).
    """
    structure = structure_of(document)
    charges = np.asarray(document["xtb_charges"]["charges"], dtype=float)
    rows = []
    roles = np.array(structure.roles)
    elements = np.array(structure.elements)
    groups = [(role, roles == role) for role in CHARGE_ROLES]
    groups.append(("other ligand H", (roles == "ligand") & (elements == "H")))
    groups.append(("other ligand C/N", (roles == "ligand") & (elements != "H")))
    for label, mask in groups:
        if not mask.any():
            continue
        values = charges[mask]
        rows.append(
            {
                "species": species,
                "atoms": label,
                "n": int(mask.sum()),
                "mean_charge_e": values.mean(),
                "min_charge_e": values.min(),
                "max_charge_e": values.max(),
                "sum_charge_e": values.sum(),
            }
        )
    rows.append(
        {
            "species": species,
            "atoms": "all",
            "n": len(charges),
            "mean_charge_e": charges.mean(),
            "min_charge_e": charges.min(),
            "max_charge_e": charges.max(),
            "sum_charge_e": charges.sum(),
        }
    )
    table = pd.DataFrame(rows)
    table.attrs["method"] = document["xtb_charges"].get("method", "GFN2-xTB")
    return table


def _distances(structure: ClusterStructure) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {c: [] for c in BOND_CLASSES}
    for i, j, bond_class in structure.metal_oxygen_bonds:
        out[bond_class].append(
            float(np.linalg.norm(structure.positions[i] - structure.positions[j]))
        )
    return out


def geometry_table(
    document: dict, species: str, md_distances: dict[str, dict[str, float]] | None = None
) -> pd.DataFrame:
    """Ti-O distances (A) by bond class: built start, GFN2-xTB relaxed, MD average."""
    relaxed = _distances(structure_of(document))
    built = document.get("built_ti_o_distances_angstrom", {})
    rows = []
    for bond_class in BOND_CLASSES:
        values = relaxed[bond_class]
        row = {
            "species": species,
            "bond": bond_class,
            "n": len(values),
            "built_mean": built.get(bond_class, {}).get("mean", np.nan),
            "xtb_mean": float(np.mean(values)),
            "xtb_min": float(np.min(values)),
            "xtb_max": float(np.max(values)),
        }
        if md_distances is not None:
            row["md_mean"] = md_distances.get(bond_class, {}).get("mean", np.nan)
            row["md_sd"] = md_distances.get(bond_class, {}).get("sd", np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def write_cluster_tables(species_json: str, out_charges: str, out_geometry: str) -> None:
    """Write the charge and Ti-O distance tables of a cluster species (CSV)."""
    info = SpeciesInfo.from_json(species_json)
    if info.cluster is None:
        raise AnalysisError(f"{species_json}: species '{info.name}' is not a metal-oxo cluster")
    charges = charge_table(info.cluster, info.name)
    charges["method"] = charges.attrs["method"]
    atomic_write_text(out_charges, charges.to_csv(index=False, float_format="%.4f"))
    geometry = geometry_table(info.cluster, info.name)
    atomic_write_text(out_geometry, geometry.to_csv(index=False, float_format="%.4f"))
