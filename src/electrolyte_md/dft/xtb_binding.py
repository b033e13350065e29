"""Binding energies of a guest (e.g. an anion) on an additive with GFN2-xTB, without DFT.

The route, for a host (e.g. Ti6(HPAB)) and a guest (e.g. PF6-):

1. Both fragments are relaxed alone with GFN2-xTB (tblite) to the force criterion.
2. The guest is set beside the host at several *placements*: along the host's unique
   principal axis (``axial``; for Ti6O6 prisms the C3 axis, over a Ti3O3 ring), in the
   deepest equatorial pocket (``side``, over a side face of the prism), and beyond the
   outermost terminal heavy atom of each element (``end-N``: the amine ends of
   4-aminobenzoate; ``end-C``: the isopropoxide methyls). The guest starts with its
   closest atom ``contact_angstrom`` from the host.
3. Each complex is relaxed to the same force criterion. For each placement:
   binding energy ``E(complex) - E(host) - E(guest)`` (relaxed fragments), the
   deformation energy of each fragment (fragment at its geometry in the complex minus
   the relaxed fragment), the interaction energy (complex minus both deformed
   fragments), the closest contacts, and whether the host's bonding changed: a guest
   atom entering a metal's coordination sphere, a covalent bond made or broken, a
   metal-ligand distance changed by more than ``bond_change_angstrom``.
4. The lowest minimum and the lowest minimum with the host intact are named.

GFN2-xTB has a minimal basis and no counterpoise correction is applied; its binding
energies of anions are a screening estimate, not a replacement for the DFT route (for
which :func:`dft_jobs` writes the inputs at these geometries).

Each placement is a separate, resumable unit: a finished placement is stored as
``<workdir>/<placement>.json`` and a relaxation in progress keeps its geometry in
``<workdir>/<placement>.partial.xyz``, so a killed job loses at most a few steps.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import platform
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem

from electrolyte_md.cluster.xtb import (
    DEFAULT_FMAX_EV_PER_ANGSTROM,
    METHOD,
    read_xyz_positions,
    relax,
    singlepoint,
    write_xyz,
)
from electrolyte_md.dft.inputs import counterpoise_jobs, write_inputs
from electrolyte_md.errors import StructureError, XTBError
from electrolyte_md.io import atomic_write_text, write_json
from electrolyte_md.units import EV_TO_KJ_PER_MOL

__all__ = [
    "BINDING_FORMAT",
    "bonding_changes",
    "Fragment",
    "BindingSettings",
    "binding_key",
    "binding_study",
    "complex_symbols",
    "dft_jobs",
    "fragment_from_species",
    "load_binding_document",
    "placements",
    "relax_placement",
    "summary_table",
    "unique_axis",
    "write_binding_comparison",
    "write_geometries",
    "write_pair_outputs",
]

log = logging.getLogger(__name__)

BINDING_FORMAT = "electrolyte-md xtb binding 1"
#: Elements treated as metal centres (their coordination sphere is watched).
METALS = frozenset({"Li", "Na", "K", "Mg", "Ca", "Al", "Ti", "Zr", "Hf", "V", "Zn", "Fe"})
#: A guest atom this close to a metal has entered its coordination sphere (Angstrom).
METAL_CONTACT_ANGSTROM = 2.5
PLACEMENT_KINDS = ("axial", "side", "ends")


@dataclass(frozen=True)
class Fragment:
    """A molecule for GFN2-xTB: symbols, coordinates (Angstrom), charge, multiplicity."""

    name: str
    symbols: tuple[str, ...]
    positions: np.ndarray
    charge: int
    multiplicity: int = 1
    #: For a cluster, its symmetry axis as atom groups whose centroids define it (the
    #: two Ti3O3 rings of a Ti6O6 prism); None: the unique principal axis is used.
    axis_groups: tuple[tuple[int, ...], tuple[int, ...]] | None = None

    def moved(self, positions: np.ndarray) -> Fragment:
        return replace(self, positions=np.asarray(positions, float))

    def geometry_hash(self) -> str:
        """Hash of symbols, charge and coordinates rounded to 1e-4 Angstrom."""
        text = json.dumps(
            [
                list(self.symbols),
                self.charge,
                self.multiplicity,
                np.round(self.positions, 4).tolist(),
            ]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class BindingSettings:
    """Numerical settings of the route (all of them enter the result's key)."""

    fmax_ev_per_angstrom: float = DEFAULT_FMAX_EV_PER_ANGSTROM
    max_steps: int = 3000
    contact_angstrom: float = 2.6
    bond_change_angstrom: float = 0.15
    placement_kinds: tuple[str, ...] = PLACEMENT_KINDS

    def __post_init__(self) -> None:
        unknown = set(self.placement_kinds) - set(PLACEMENT_KINDS)
        if unknown:
            raise StructureError(
                f"unknown placement kind(s) {sorted(unknown)}; known: {list(PLACEMENT_KINDS)}"
            )
        if not self.fmax_ev_per_angstrom > 0 or not self.contact_angstrom > 0:
            raise StructureError("fmax_ev_per_angstrom and contact_angstrom must be > 0")


def fragment_from_species(
    sdf: Path | str, info_json: Path | str, multiplicity: int = 1
) -> Fragment:
    """A fragment from a built species (``structure.sdf`` and ``species.json``).

    The net charge is the species' (for a cluster, not the sum of the SDF's ionic-picture
    formal charges); a cluster's coordinates come at full precision from its record.

    Raises
    ------
    StructureError
        Naming the file when it cannot be read, has no 3D coordinates, or the two files
        disagree on the atoms.
    """
    sdf, info_json = Path(sdf), Path(info_json)
    try:
        mol = Chem.MolFromMolFile(str(sdf), removeHs=False, sanitize=False)
    except OSError as exc:
        raise StructureError(f"{sdf}: cannot read ({exc})") from exc
    if mol is None or mol.GetNumConformers() == 0:
        raise StructureError(f"{sdf}: not a molecule file with 3D coordinates")
    try:
        info = json.loads(info_json.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise StructureError(f"{info_json}: cannot read the species record ({exc})") from exc
    symbols = tuple(atom.GetSymbol() for atom in mol.GetAtoms())
    if list(symbols) != list(info.get("elements", [])):
        raise StructureError(f"{sdf} and {info_json} describe different atoms")
    positions = mol.GetConformer().GetPositions()
    if (info.get("cluster") or {}).get("positions_angstrom"):
        positions = np.asarray(info["cluster"]["positions_angstrom"], dtype=float)
    if len(positions) > 3 and np.allclose(positions[:, 2], 0.0):
        raise StructureError(f"{sdf}: coordinates are 2D (all z = 0)")
    return Fragment(
        name=str(info["name"]),
        symbols=symbols,
        positions=positions,
        charge=int(info["formal_charge"]),
        multiplicity=multiplicity,
        axis_groups=_ring_groups((info.get("cluster") or {}).get("topology")),
    )


def _ring_groups(topology: dict | None) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """The two M3O3 rings of a prism cluster, from its in-ring M-O bonds (or None)."""
    if not topology:
        return None
    links: dict[int, set[int]] = {}
    for metal, oxygen, bond_class in topology["metal_oxygen_bonds"]:
        if "in ring" in bond_class:
            links.setdefault(metal, set()).add(oxygen)
            links.setdefault(oxygen, set()).add(metal)
    rings, seen = [], set()
    for start in sorted(links):
        if start in seen:
            continue
        ring, todo = set(), [start]
        while todo:
            atom = todo.pop()
            if atom not in ring:
                ring.add(atom)
                todo += links[atom] - ring
        seen |= ring
        rings.append(tuple(sorted(ring)))
    return (rings[0], rings[1]) if len(rings) == 2 else None


# --------------------------------------------------------------------------- placements


def _heavy(fragment: Fragment) -> np.ndarray:
    return np.array([s != "H" for s in fragment.symbols])


def unique_axis(fragment: Fragment) -> np.ndarray:
    """The host's axis: through its two rings (a prism cluster), or else the principal
    axis (heavy-atom gyration tensor) whose moment stands apart most."""
    if fragment.axis_groups is not None:
        a, b = (fragment.positions[list(g)].mean(axis=0) for g in fragment.axis_groups)
        return (b - a) / np.linalg.norm(b - a)
    xyz = fragment.positions[_heavy(fragment)]
    centred = xyz - xyz.mean(axis=0)
    moments, axes = np.linalg.eigh(centred.T @ centred / len(xyz))
    gaps = [abs(moments[k] - np.mean(np.delete(moments, k))) for k in range(3)]
    axis = axes[:, int(np.argmax(gaps))]
    # a sign fixed by the structure, not by the eigensolver
    heavy_xyz = fragment.positions[_heavy(fragment)] - fragment.positions.mean(axis=0)
    if (heavy_xyz @ axis).max() < -(heavy_xyz @ axis).min():
        axis = -axis
    return axis / np.linalg.norm(axis)


def _standoff(
    host: np.ndarray, guest: np.ndarray, origin: np.ndarray, direction: np.ndarray, contact: float
) -> float:
    """Least distance along ``direction`` putting the guest's closest atom ``contact`` away."""
    for t in np.arange(0.0, 40.0, 0.05):
        moved = guest + origin + t * direction
        d = np.sqrt(((moved[:, None, :] - host[None, :, :]) ** 2).sum(-1)).min()
        if d >= contact:
            return float(t)
    raise StructureError("no placement found within 40 A of the host's centre")


def _covalent_bonds(symbols, positions) -> set[tuple[int, int]]:
    table = Chem.GetPeriodicTable()
    radii = np.array([table.GetRcovalent(s) for s in symbols])
    dist = np.sqrt(((positions[:, None] - positions[None]) ** 2).sum(-1))
    close = dist < 1.25 * (radii[:, None] + radii[None, :])
    i, j = np.nonzero(np.triu(close, k=1))
    return {(int(a), int(b)) for a, b in zip(i, j, strict=True)}


def _terminal_ends(fragment: Fragment) -> dict[str, int]:
    """Per element, the outermost heavy non-metal atom with one heavy neighbour."""
    symbols = fragment.symbols
    heavy = _heavy(fragment)
    neighbours = {i: 0 for i in range(len(symbols))}
    for a, b in _covalent_bonds(symbols, fragment.positions):
        if heavy[a] and heavy[b]:
            neighbours[a] += 1
            neighbours[b] += 1
    centre = fragment.positions.mean(axis=0)
    radius = np.linalg.norm(fragment.positions - centre, axis=1)
    ends: dict[str, int] = {}
    for i, s in enumerate(symbols):
        if not heavy[i] or s in METALS or neighbours[i] != 1:
            continue
        if s not in ends or radius[i] > radius[ends[s]]:
            ends[s] = i
    return dict(sorted(ends.items()))


def placements(
    host: Fragment, guest: Fragment, settings: BindingSettings = BindingSettings()
) -> dict[str, np.ndarray]:
    """Starting geometries of the complex (host atoms first, then guest), by placement name.

    ``axial``: along the host's axis (through the two rings of a prism cluster, else the
    unique principal axis). ``side``: the equatorial direction
    (perpendicular to that axis, scanned every 5 degrees) where the guest gets closest to
    the host's centre. ``end-<El>``: beyond the outermost terminal heavy atom of element
    El. The guest keeps its orientation; its closest atom is ``contact_angstrom`` from
    the host. Placements closer than 20 degrees in direction to an earlier one are dropped.
    """
    centre = host.positions.mean(axis=0)
    guest_xyz = guest.positions - guest.positions.mean(axis=0)
    axis = unique_axis(host)
    directions: dict[str, np.ndarray] = {}
    if "axial" in settings.placement_kinds:
        directions["axial"] = axis
    if "side" in settings.placement_kinds:
        e1 = np.cross(axis, [1.0, 0.0, 0.0] if abs(axis[0]) < 0.9 else [0.0, 1.0, 0.0])
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(axis, e1)
        candidates = [np.cos(a) * e1 + np.sin(a) * e2 for a in np.radians(np.arange(0, 360, 5))]
        depth = [
            _standoff(host.positions, guest_xyz, centre, d, settings.contact_angstrom)
            for d in candidates
        ]
        directions["side"] = candidates[int(np.argmin(depth))]
    if "ends" in settings.placement_kinds:
        for element, atom in _terminal_ends(host).items():
            d = host.positions[atom] - centre
            directions[f"end-{element}"] = d / np.linalg.norm(d)
    kept: dict[str, np.ndarray] = {}
    for name, d in directions.items():
        if all(np.degrees(np.arccos(np.clip(d @ k, -1, 1))) > 20 for k in kept.values()):
            kept[name] = d
    starts = {}
    for name, d in kept.items():
        t = _standoff(host.positions, guest_xyz, centre, d, settings.contact_angstrom)
        starts[name] = np.vstack([host.positions, guest_xyz + centre + t * d])
    return starts


# --------------------------------------------------------------------------- one placement


def _relaxed_fragment(fragment: Fragment, settings: BindingSettings, workdir: Path) -> dict:
    """Relax one fragment alone (resumable); its record with energy and geometry."""
    record_path = workdir / f"fragment_{fragment.name}.json"
    key = fragment.geometry_hash()
    if record_path.exists():
        record = json.loads(record_path.read_text())
        if record.get("start_hash") == key and record.get("settings") == _settings_dict(settings):
            return record
    checkpoint = workdir / f"fragment_{fragment.name}.partial.xyz"
    start = fragment.positions
    if checkpoint.exists():
        start = read_xyz_positions(checkpoint, list(fragment.symbols))
    result = relax(
        list(fragment.symbols),
        start,
        fragment.charge,
        multiplicity=fragment.multiplicity,
        fmax=settings.fmax_ev_per_angstrom,
        max_steps=settings.max_steps,
        checkpoint=checkpoint,
    )
    if not result.converged:
        raise XTBError(
            f"fragment {fragment.name}: GFN2-xTB relaxation stopped at fmax "
            f"{result.fmax_ev_per_angstrom:.4f} eV/A after {result.n_steps} steps "
            f"(criterion {settings.fmax_ev_per_angstrom}); raise max_steps"
        )
    record = {
        "name": fragment.name,
        "charge": fragment.charge,
        "multiplicity": fragment.multiplicity,
        "symbols": list(fragment.symbols),
        "start_hash": key,
        "settings": _settings_dict(settings),
        "energy_ev": result.energy_ev,
        "relaxation": result.provenance(),
        "positions_angstrom": np.round(result.positions, 6).tolist(),
    }
    write_json(record_path, record, indent=1)
    checkpoint.unlink(missing_ok=True)
    return record


def _settings_dict(settings: BindingSettings) -> dict:
    return {
        "fmax_ev_per_angstrom": settings.fmax_ev_per_angstrom,
        "max_steps": settings.max_steps,
        "contact_angstrom": settings.contact_angstrom,
        "bond_change_angstrom": settings.bond_change_angstrom,
        "placement_kinds": list(settings.placement_kinds),
    }


def bonding_changes(
    symbols, host_ref: np.ndarray, complex_xyz: np.ndarray, n_host: int, threshold: float
) -> dict:
    """How the host's bonding in the complex differs from the relaxed host."""
    host_now = complex_xyz[:n_host]
    host_syms = symbols[:n_host]
    is_metal = np.array([s in METALS for s in host_syms])
    before = {
        b for b in _covalent_bonds(host_syms, host_ref) if not (is_metal[b[0]] or is_metal[b[1]])
    }
    after = {
        b for b in _covalent_bonds(host_syms, host_now) if not (is_metal[b[0]] or is_metal[b[1]])
    }
    label = lambda i: f"{symbols[i]}{i + 1}"  # noqa: E731
    changes: dict = {
        "broken_bonds": [f"{label(a)}-{label(b)}" for a, b in sorted(before - after)],
        "new_bonds": [f"{label(a)}-{label(b)}" for a, b in sorted(after - before)],
        "metal_site_changes": [],
        "guest_in_metal_sphere": [],
    }
    metals = np.nonzero(is_metal)[0]
    max_change = 0.0
    for m in metals:
        d_ref = np.linalg.norm(host_ref - host_ref[m], axis=1)
        d_now = np.linalg.norm(host_now - host_now[m], axis=1)
        near = np.nonzero(
            ((d_ref < 2.8) | (d_now < 2.8)) & ~is_metal & (np.array(host_syms) != "H")
        )[0]
        for j in near:
            delta = float(d_now[j] - d_ref[j])
            max_change = max(max_change, abs(delta))
            if abs(delta) > threshold:
                changes["metal_site_changes"].append(
                    f"{label(m)}-{label(j)} {d_ref[j]:.2f} -> {d_now[j]:.2f} A"
                )
        guest = complex_xyz[n_host:]
        d_guest = np.linalg.norm(guest - host_now[m], axis=1)
        for g in np.nonzero(d_guest < METAL_CONTACT_ANGSTROM)[0]:
            changes["guest_in_metal_sphere"].append(
                f"{label(m)}...{label(n_host + g)} {d_guest[g]:.2f} A"
            )
    changes["max_metal_ligand_change_angstrom"] = round(max_change, 4)
    changes["intact"] = not any(
        changes[k]
        for k in ("broken_bonds", "new_bonds", "metal_site_changes", "guest_in_metal_sphere")
    )
    return changes


def _contacts(symbols, complex_xyz: np.ndarray, n_host: int, n: int = 3) -> list[str]:
    host, guest = complex_xyz[:n_host], complex_xyz[n_host:]
    dist = np.sqrt(((host[:, None] - guest[None]) ** 2).sum(-1))
    order = np.argsort(dist, axis=None)[:n]
    out = []
    for flat in order:
        h, g = np.unravel_index(flat, dist.shape)
        out.append(
            f"{symbols[h]}{h + 1}...{symbols[n_host + g]}{n_host + g + 1} {dist[h, g]:.2f} A"
        )
    return out


def relax_placement(
    name: str,
    start: np.ndarray,
    host: dict,
    guest: dict,
    settings: BindingSettings,
    workdir: Path,
) -> dict:
    """Relax one starting complex and evaluate it against the relaxed fragments (resumable)."""
    record_path = workdir / f"placement_{name}.json"
    start_hash = hashlib.sha256(np.round(start, 4).tobytes()).hexdigest()[:16]
    if record_path.exists():
        record = json.loads(record_path.read_text())
        if record.get("start_hash") == start_hash and record.get("settings") == _settings_dict(
            settings
        ):
            log.info("placement %s: reusing %s", name, record_path)
            return record
    symbols = list(host["symbols"]) + list(guest["symbols"])
    n_host = len(host["symbols"])
    charge = host["charge"] + guest["charge"]
    multiplicity = host["multiplicity"] + guest["multiplicity"] - 1
    checkpoint = workdir / f"placement_{name}.partial.xyz"
    positions = read_xyz_positions(checkpoint, symbols) if checkpoint.exists() else start
    log.info("placement %s: relaxing %d atoms (charge %d)", name, len(symbols), charge)
    result = relax(
        symbols,
        positions,
        charge,
        multiplicity=multiplicity,
        fmax=settings.fmax_ev_per_angstrom,
        max_steps=settings.max_steps,
        checkpoint=checkpoint,
    )
    xyz = result.positions
    final = singlepoint(symbols, xyz, charge, multiplicity)
    host_def = singlepoint(host["symbols"], xyz[:n_host], host["charge"], host["multiplicity"])
    guest_def = singlepoint(guest["symbols"], xyz[n_host:], guest["charge"], guest["multiplicity"])
    e_host, e_guest = host["energy_ev"], guest["energy_ev"]
    orders = final.bond_orders[:n_host, n_host:]
    h, g = np.unravel_index(int(np.argmax(orders)), orders.shape)
    record = {
        "placement": name,
        "start_hash": start_hash,
        "settings": _settings_dict(settings),
        "converged": result.converged,
        "relaxation": result.provenance(),
        "energy_complex_ev": final.energy_ev,
        "binding_energy_ev": final.energy_ev - e_host - e_guest,
        "deformation_host_ev": host_def.energy_ev - e_host,
        "deformation_guest_ev": guest_def.energy_ev - e_guest,
        "interaction_energy_ev": final.energy_ev - host_def.energy_ev - guest_def.energy_ev,
        "guest_charge_in_complex_e": float(final.charges[n_host:].sum()),
        "closest_contacts": _contacts(symbols, xyz, n_host),
        "largest_host_guest_bond_order": {
            "pair": f"{symbols[h]}{h + 1}-{symbols[n_host + g]}{n_host + g + 1}",
            "wiberg": round(float(orders[h, g]), 4),
        },
        "bonding": bonding_changes(
            symbols,
            np.asarray(host["positions_angstrom"]),
            xyz,
            n_host,
            settings.bond_change_angstrom,
        ),
        "positions_angstrom": np.round(xyz, 6).tolist(),
    }
    write_json(record_path, record, indent=1)
    checkpoint.unlink(missing_ok=True)
    return record


# --------------------------------------------------------------------------- the study


def _versions() -> dict[str, str]:
    return {"tblite": version("tblite"), "ase": version("ase"), "python": platform.python_version()}


def binding_study(
    host: Fragment,
    guest: Fragment,
    settings: BindingSettings,
    workdir: Path | str,
    *,
    only: list[str] | None = None,
) -> dict:
    """Relax fragments and every placement; return the binding document.

    Parameters
    ----------
    workdir
        Directory of the resumable per-fragment and per-placement records.
    only
        Restrict to these placement names (to spread placements over processes); the
        document is then partial (``complete`` false).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    host_rec = _relaxed_fragment(host, settings, workdir)
    guest_rec = _relaxed_fragment(guest, settings, workdir)
    relaxed_host = host.moved(np.asarray(host_rec["positions_angstrom"]))
    relaxed_guest = guest.moved(np.asarray(guest_rec["positions_angstrom"]))
    starts = placements(relaxed_host, relaxed_guest, settings)
    if only:
        unknown = set(only) - set(starts)
        if unknown:
            raise StructureError(f"unknown placement(s) {sorted(unknown)}; have {sorted(starts)}")
    records = [
        relax_placement(name, start, host_rec, guest_rec, settings, workdir)
        for name, start in starts.items()
        if not only or name in only
    ]
    document = {
        "format": BINDING_FORMAT,
        "method": METHOD,
        "host": {k: v for k, v in host_rec.items()},
        "guest": {k: v for k, v in guest_rec.items()},
        "key": binding_key(host, guest, settings),
        "settings": _settings_dict(settings),
        "versions": _versions(),
        "placements": records,
        "complete": not only or set(only) >= set(starts),
    }
    document.update(_lowest(records))
    return document


def binding_key(host: Fragment, guest: Fragment, settings: BindingSettings) -> str:
    """What a stored document must match to be reused: inputs, settings and method."""
    text = json.dumps(
        [host.geometry_hash(), guest.geometry_hash(), _settings_dict(settings), METHOD]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _lowest(records: list[dict]) -> dict:
    converged = [r for r in records if r["converged"]]
    lowest = min(converged, key=lambda r: r["binding_energy_ev"], default=None)
    intact = [r for r in converged if r["bonding"]["intact"]]
    lowest_intact = min(intact, key=lambda r: r["binding_energy_ev"], default=None)
    return {
        "lowest": lowest["placement"] if lowest else None,
        "lowest_intact": lowest_intact["placement"] if lowest_intact else None,
    }


def load_binding_document(path: Path | str, key: str) -> dict:
    """A stored binding document, checked to be complete and to match ``key``."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise StructureError(f"{path}: cannot read a binding document ({exc})") from exc
    if document.get("format") != BINDING_FORMAT:
        raise StructureError(f"{path}: not a binding document ({BINDING_FORMAT!r} expected)")
    if document.get("key") != key:
        raise StructureError(
            f"{path}: computed for other fragments or settings (key {document.get('key')}, "
            f"this configuration {key}); drop `reuse:` to compute anew"
        )
    if not document.get("complete"):
        raise StructureError(f"{path}: incomplete (not every placement was relaxed)")
    return document


def summary_table(document: dict):
    """One row per placement: energies (eV and kJ/mol), contacts, bonding verdict."""
    rows = []
    for r in document["placements"]:
        bonding = r["bonding"]
        rows.append(
            {
                "placement": r["placement"],
                "method": document["method"],
                "binding_energy_ev": round(r["binding_energy_ev"], 4),
                "binding_energy_kj_per_mol": round(r["binding_energy_ev"] * EV_TO_KJ_PER_MOL, 2),
                "interaction_energy_ev": round(r["interaction_energy_ev"], 4),
                "deformation_host_ev": round(r["deformation_host_ev"], 4),
                "deformation_guest_ev": round(r["deformation_guest_ev"], 4),
                "guest_charge_e": round(r["guest_charge_in_complex_e"], 3),
                "closest_contact": r["closest_contacts"][0],
                "host_intact": bonding["intact"],
                "bonding_changes": "; ".join(
                    bonding["broken_bonds"]
                    + bonding["new_bonds"]
                    + bonding["metal_site_changes"]
                    + bonding["guest_in_metal_sphere"]
                )
                or "none",
                "max_metal_ligand_change_angstrom": bonding["max_metal_ligand_change_angstrom"],
                "converged": r["converged"],
                "fmax_ev_per_angstrom": round(r["relaxation"]["fmax_ev_per_angstrom"], 4),
                "steps": r["relaxation"]["n_steps"],
                "lowest": r["placement"] == document["lowest"],
                "lowest_intact": r["placement"] == document["lowest_intact"],
            }
        )
    return pd.DataFrame(rows)


def complex_symbols(document: dict) -> list[str]:
    return list(document["host"]["symbols"]) + list(document["guest"]["symbols"])


def dft_jobs(document: dict, placement: str, **settings) -> dict:
    """Counterpoise job set (complex, fragments, ghost fragments) at one placement's geometry."""
    record = next((r for r in document["placements"] if r["placement"] == placement), None)
    if record is None:
        raise StructureError(f"no placement {placement!r} in the binding document")
    host, guest = document["host"], document["guest"]
    n_host = len(host["symbols"])
    n = n_host + len(guest["symbols"])
    charge = host["charge"] + guest["charge"]
    multiplicity = host["multiplicity"] + guest["multiplicity"] - 1
    return counterpoise_jobs(
        f"complex_{placement}",
        complex_symbols(document),
        np.asarray(record["positions_angstrom"]),
        {
            host["name"]: (list(range(n_host)), host["charge"], host["multiplicity"]),
            guest["name"]: (list(range(n_host, n)), guest["charge"], guest["multiplicity"]),
        },
        charge=charge,
        multiplicity=multiplicity,
        **settings,
    )


def write_geometries(document: dict, directory: Path | str) -> dict[str, Path]:
    """XYZ of each relaxed complex and of the relaxed fragments."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    symbols = complex_symbols(document)
    for r in document["placements"]:
        path = directory / f"complex_{r['placement']}.xyz"
        write_xyz(
            path,
            symbols,
            np.asarray(r["positions_angstrom"]),
            f"{document['method']} placement {r['placement']} E = {r['energy_complex_ev']:.6f} eV "
            f"binding {r['binding_energy_ev']:.4f} eV",
        )
        paths[r["placement"]] = path
    for part in ("host", "guest"):
        rec = document[part]
        path = directory / f"{rec['name']}.xyz"
        write_xyz(
            path,
            rec["symbols"],
            np.asarray(rec["positions_angstrom"]),
            f"{document['method']} relaxed {rec['name']} E = {rec['energy_ev']:.6f} eV",
        )
        paths[rec["name"]] = path
    return paths


def run_pair(
    host: Fragment,
    guest: Fragment,
    settings: BindingSettings,
    *,
    workdir: Path | str,
    reuse: Path | str | None = None,
) -> dict:
    """The binding document of one pair: a matching stored one, or computed here.

    A stored document (``reuse``) must match the fragments and settings
    (:func:`binding_key`); otherwise this raises, naming the file, rather than silently
    recomputing for hours.
    """
    key = binding_key(host, guest, settings)
    if reuse is not None:
        document = load_binding_document(reuse, key)
        document["source"] = f"reused {reuse}"
        log.info("reusing the binding document %s (key %s)", reuse, key)
        return document
    document = binding_study(host, guest, settings, workdir)
    document["source"] = "computed in this run"
    return document


def write_pair_outputs(
    document: dict,
    *,
    out_json: Path | str,
    out_csv: Path | str,
    structures_dir: Path | str,
    inputs_dir: Path | str,
    dft_settings: dict,
) -> None:
    """Write the document, its table, the XYZ geometries and DFT inputs (NWChem, ORCA).

    DFT inputs (complex, fragments and ghost-atom fragments, for a counterpoise-corrected
    value) are written at the geometry of the lowest minimum and of the lowest with the
    host intact, under ``inputs_dir/<program>/<placement>/``.
    """
    write_geometries(document, structures_dir)
    for placement in dict.fromkeys(p for p in (document["lowest"], document["lowest_intact"]) if p):
        jobs = dft_jobs(document, placement, **dft_settings)
        for program in ("nwchem", "orca"):
            write_inputs(jobs, Path(inputs_dir) / program / placement, program)
    atomic_write_text(out_csv, summary_table(document).to_csv(index=False))
    write_json(out_json, document, indent=1)


def comparison_rows(documents: dict[str, dict], paper: dict | None = None):
    """Binding energies beside the paper's value, with the method of each number.

    ``documents``: pair name -> binding document. One row per pair for its lowest minimum
    and (where different) its lowest minimum with the host intact, then the paper's row.
    """
    rows = []
    for pair, document in documents.items():
        by_name = {r["placement"]: r for r in document["placements"]}
        for label in ("lowest", "lowest_intact"):
            name = document.get(label)
            if name is None or (label == "lowest_intact" and name == document["lowest"]):
                continue
            record = by_name[name]
            rows.append(
                {
                    "pair": pair,
                    "structure": f"{label.replace('_', ' ')} minimum ({name})",
                    "binding_energy_ev": round(record["binding_energy_ev"], 4),
                    "binding_energy_kj_per_mol": round(
                        record["binding_energy_ev"] * EV_TO_KJ_PER_MOL, 2
                    ),
                    "method": (
                        f"{document['method']} (tblite {document['versions']['tblite']}), "
                        "gas phase, relaxed fragments and complex "
                        f"(fmax {document['settings']['fmax_ev_per_angstrom']} eV/A), "
                        "no counterpoise correction"
                    ),
                    "host_intact": record["bonding"]["intact"],
                }
            )
    if paper:
        rows.append(
            {
                "pair": paper.get("pair", ""),
                "structure": "paper (Figure 5e, Table S3)",
                "binding_energy_ev": paper["value_ev"],
                "binding_energy_kj_per_mol": round(paper["value_ev"] * EV_TO_KJ_PER_MOL, 2),
                "method": paper["method"],
                "host_intact": None,
            }
        )
    return pd.DataFrame(rows)


def _dft_rows(dft_table) -> list[dict]:
    """Rows of the DFT binding table (dft.binding), uncorrected and counterpoise-corrected."""
    rows = []
    for _, row in dft_table.iterrows():
        variants = [("binding_energy_eV", "binding_method", "uncorrected")]
        if pd.notna(row.get("cp_binding_energy_eV")):
            variants.append(("cp_binding_energy_eV", "cp_method", "counterpoise-corrected"))
        for column, method_column, label in variants:
            value = float(row[column])
            rows.append(
                {
                    "pair": row["complex"],
                    "structure": f"DFT outputs ({label})",
                    "binding_energy_ev": round(value, 4),
                    "binding_energy_kj_per_mol": round(value * EV_TO_KJ_PER_MOL, 2),
                    "method": f"{row['level_of_theory']} ({row['program']}); {row[method_column]}",
                    "host_intact": None,
                }
            )
    return rows


def write_binding_comparison(
    documents: dict[str, Path | str],
    out_csv: Path | str,
    *,
    dft_table: Path | str | None = None,
    paper: dict | None = None,
) -> None:
    """The comparison table of :func:`comparison_rows` (plus DFT rows) as CSV."""
    loaded = {pair: json.loads(Path(path).read_text()) for pair, path in documents.items()}
    table = comparison_rows(loaded)
    if dft_table is not None:
        table = pd.concat([table, pd.DataFrame(_dft_rows(pd.read_csv(dft_table)))])
    if paper:
        table = pd.concat([table, comparison_rows({}, paper)])
    atomic_write_text(out_csv, table.to_csv(index=False))


def main(argv: list[str] | None = None) -> None:
    """Command line: the binding document of a host and a guest given as SDF files."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="binding document to write (.json)")
    parser.add_argument(
        "--host",
        type=Path,
        required=True,
        help="host species directory (structure.sdf, species.json)",
    )
    parser.add_argument("--guest", type=Path, required=True, help="guest species directory")
    parser.add_argument("--workdir", type=Path, help="resumable records (default OUT.parts/)")
    parser.add_argument("--only", nargs="*", help="relax only these placements")
    parser.add_argument("--fmax", type=float, default=DEFAULT_FMAX_EV_PER_ANGSTROM)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    host = fragment_from_species(args.host / "structure.sdf", args.host / "species.json")
    guest = fragment_from_species(args.guest / "structure.sdf", args.guest / "species.json")
    settings = BindingSettings(fmax_ev_per_angstrom=args.fmax)
    workdir = args.workdir or args.out.with_suffix(".parts")
    document = binding_study(host, guest, settings, workdir, only=args.only)
    if document["complete"]:
        write_json(args.out, document, indent=1)
    print(summary_table(document).to_string(index=False))


if __name__ == "__main__":
    main()
