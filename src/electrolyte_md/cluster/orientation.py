"""Ligand orientations of a metal-oxo cluster: harmonic terms fitted to GFN2-xTB scans.

The Seminario terms of :mod:`electrolyte_md.cluster.forcefield` hold the metal site (Ti, the O
bound to Ti and the C bound to those O). What holds each ligand's *periphery* (the
aminobenzoate ring and amine, the isopropoxide's methine H and methyls) in its place is
decided here.

With GAFF2 Lennard-Jones and the GFN2-xTB charges between ligands of one cluster, the
model pushed the aminobenzoate arms of Ti6(HPAB) away from where GFN2-xTB puts them: an
ortho H 2.24 A from the O of the next carboxylate (a C-H...O contact GFN2-xTB keeps
at its minimum) met a Lennard-Jones wall, and at the GFN2-xTB structure the non-bonded
forces alone tilted an arm with up to 3.7 kJ/mol per degree. The arms then sat on a steep
wall on one side and a soft slope on the other; in 100 ps in NMP they drifted 0.6 A (heavy
atoms, MD mean) from the GFN2-xTB structure. A torsion correction cannot undo that: fitted
on top of the walls it came out with negative force constants.

The model therefore treats the cluster as a bonded model throughout:

1. non-bonded pairs inside one cluster are kept only within a ligand (its periphery with
   itself, its anchor C and the O of that C, with Amber's usual 1-2/1-3 exclusions and
   scaled 1-4 terms); every pair between one ligand's periphery and the rest of the
   cluster is excluded (:func:`periphery_exclusions`). The metal site is excluded
   within itself already. The solvent sees every cluster atom as usual;
2. each ligand's orientation relative to the metal site is held by harmonic dihedral
   terms ``k/2 (phi - phi0)^2`` fitted to rigid GFN2-xTB scans of that ligand
   (:func:`orientation_coordinates`):

   ============== ======================================= ==============================
   mode           rigid motion scanned                    dihedral(s) carrying the term
   ============== ======================================= ==============================
   out_of_plane   periphery about the carboxylate C,      O1-O2-C-X (X: first periphery
                  axis parallel to O1...O2                atom)
   butterfly      carboxylate C and periphery about       Ti-O-C-O' (both O)
                  the O1...O2 line
   twist          periphery about the C-X bond            O1-C-X-Y
   swing          alkoxide C and periphery about Ti-O     A-Ti-O-C (A: the O on Ti most
                                                          nearly at 90 degrees to O)
   rotor          alkoxide periphery about O-C            Ti-O-C-H (secondary alkoxide)
                                                          or Ti-O-C-X
   ============== ======================================= ==============================

   The in-plane bend of a carboxylate's periphery is left to GAFF2's two O-C-X angle
   terms, whose reference angles are set to the relaxed structure's
   (:func:`carboxylate_angle_references`); their stiffness matches GFN2-xTB's within
   about 20 % along that scan;
3. E_QM - E_MM (the model with 1. and the angle references, without any orientation
   term, both relative to the unrotated structure) at every scanned point is fitted by
   the sum over coordinates of ``k/2 sum(d^2) - a d``, all coordinates jointly (a scan
   of one moves the dihedrals of others a little), with ``k >= 0`` and Boltzmann
   weights ``exp(-E_QM / kT)`` so that rigid-scan clashes count little
   (:func:`fit_orientation_terms`). One-dihedral coordinates get their minimum moved by
   ``a/k`` (the model's own forces at the GFN2-xTB structure are cancelled along that
   coordinate); two-dihedral ones (butterfly) keep the GFN2-xTB value.

A harmonic rotor keeps each isopropoxide in its GFN2-xTB rotamer: GFN2-xTB puts the
gauche rotamers 17-33 kJ/mol above anti, so they carry no weight at 298 K; the model
cannot visit them.

Energies in kJ/mol, angles in degrees, lengths in Angstrom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from electrolyte_md.cluster.builder import ClusterStructure
from electrolyte_md.cluster.xtb import XTBEngine
from electrolyte_md.units import EV_TO_KJ_PER_MOL

__all__ = [
    "FIT_KT_KJ_PER_MOL",
    "MAX_CENTRE_SHIFT_DEGREES",
    "SCAN_ANGLES_DEGREES",
    "OrientationCoordinate",
    "alkoxide_dihedrals",
    "carboxylate_angle_references",
    "dihedral_degrees",
    "fit_orientation_terms",
    "ligand_anchors",
    "ligand_peripheries",
    "orientation_coordinates",
    "periphery_exclusions",
    "periphery_pairs",
    "qm_scans",
    "scan_geometry",
]

#: Rigid-scan angles per mode (degrees): small enough to stay near the well, large
#: enough to see its curvature above the numerical noise of GFN2-xTB (~0.01 kJ/mol).
SCAN_ANGLES_DEGREES: dict[str, tuple[float, ...]] = {
    "out_of_plane": (-10.0, -5.0, 5.0, 10.0),
    "butterfly": (-10.0, -5.0, 5.0, 10.0),
    "twist": (-20.0, -10.0, 10.0, 20.0),
    "swing": (-20.0, -10.0, 10.0, 20.0),
    "rotor": (-30.0, -15.0, 15.0, 30.0),
}
#: Weighting temperature of the fits (kJ/mol): points far up a rigid-scan clash count
#: little, the well counts most.
FIT_KT_KJ_PER_MOL = 5.0
#: Largest move of a term's minimum away from the GFN2-xTB dihedral (degrees).
MAX_CENTRE_SHIFT_DEGREES = 15.0


@dataclass(frozen=True)
class OrientationCoordinate:
    """One scanned orientation coordinate of one ligand.

    Attributes
    ----------
    anchor
        The ligand's C bound to its Ti-bound O (carboxylate C or alkoxide C).
    mode
        One of :data:`SCAN_ANGLES_DEGREES`.
    dihedrals
        Atom quadruples carrying the fitted term.
    origin, axis_from, axis_to
        The scan rotates ``moving`` about the line through atom ``origin`` parallel to
        ``axis_to - axis_from``.
    moving
        Atoms the scan rotates.
    """

    anchor: int
    mode: str
    dihedrals: tuple[tuple[int, int, int, int], ...]
    origin: int
    axis_from: int
    axis_to: int
    moving: tuple[int, ...]


def _neighbours(structure: ClusterStructure) -> dict[int, set[int]]:
    neighbours: dict[int, set[int]] = {i: set() for i in range(structure.n_atoms)}
    for i, j, _ in structure.bonds:
        neighbours[i].add(j)
        neighbours[j].add(i)
    for ti, o, _ in structure.metal_oxygen_bonds:
        neighbours[ti].add(o)
        neighbours[o].add(ti)
    return neighbours


def dihedral_degrees(xyz: np.ndarray, quad) -> float:
    """The dihedral a-b-c-d (degrees, -180..180) of positions ``xyz``."""
    a, b, c, d = (np.asarray(xyz[k], dtype=float) for k in quad)
    b0, b1, b2 = a - b, c - b, d - c
    b1 = b1 / np.linalg.norm(b1)
    v = b0 - (b0 @ b1) * b1
    w = b2 - (b2 @ b1) * b1
    return float(np.degrees(np.arctan2(np.cross(b1, v) @ w, v @ w)))


def _angle_degrees(xyz: np.ndarray, a: int, b: int, c: int) -> float:
    u, v = xyz[a] - xyz[b], xyz[c] - xyz[b]
    return float(
        np.degrees(np.arccos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1, 1)))
    )


def ligand_anchors(structure: ClusterStructure) -> dict[int, str]:
    """Anchor C -> ``"carboxylate"`` (bound to two Ti-bound O) or ``"alkoxide"`` (one)."""
    neighbours = _neighbours(structure)
    metal_o = {o for _, o, _ in structure.metal_oxygen_bonds}
    anchors: dict[int, str] = {}
    for o in sorted(metal_o):
        for c in neighbours[o]:
            if structure.elements[c] != "C":
                continue
            n_metal_o = len(neighbours[c] & metal_o)
            anchors[c] = "carboxylate" if n_metal_o == 2 else "alkoxide"
    return dict(sorted(anchors.items()))


def _periphery(structure: ClusterStructure, neighbours, anchor: int) -> list[int]:
    """Atoms reached from ``anchor`` without passing a Ti-bound O (the anchor excluded)."""
    metal_o = {o for _, o, _ in structure.metal_oxygen_bonds}
    seen: set[int] = set()
    todo = [k for k in neighbours[anchor] if k not in metal_o]
    while todo:
        atom = todo.pop()
        if atom in seen or atom == anchor:
            continue
        seen.add(atom)
        # a ligand bound through a second O (a chelate) stops there too: the walk never
        # enters the metal site
        todo += [k for k in neighbours[atom] if k not in seen and k != anchor and k not in metal_o]
    return sorted(seen)


def _own_oxygens(structure: ClusterStructure, neighbours, anchor: int) -> list[int]:
    metal_o = {o for _, o, _ in structure.metal_oxygen_bonds}
    return sorted(neighbours[anchor] & metal_o)


def _metal_of(structure: ClusterStructure, oxygen: int) -> int:
    return min(ti for ti, o, _ in structure.metal_oxygen_bonds if o == oxygen)


def alkoxide_dihedrals(structure: ClusterStructure) -> np.ndarray:
    """(Ti, O, C, H) of each secondary alkoxide: the dihedral that sets its rotamer.

    Returns an (n, 4) integer array, empty for primary or tertiary alkoxides (no single
    methine H).
    """
    neighbours = _neighbours(structure)
    quads = []
    for anchor, kind in ligand_anchors(structure).items():
        if kind != "alkoxide":
            continue
        (o,) = _own_oxygens(structure, neighbours, anchor)
        hydrogens = [k for k in neighbours[anchor] if structure.elements[k] == "H"]
        if len(hydrogens) == 1:
            quads.append((_metal_of(structure, o), o, anchor, hydrogens[0]))
    return np.array(quads, dtype=int).reshape(-1, 4)


def orientation_coordinates(structure: ClusterStructure) -> list[OrientationCoordinate]:
    """The orientation coordinates of every ligand (see the module docstring)."""
    neighbours = _neighbours(structure)
    xyz = np.asarray(structure.positions, dtype=float)
    coordinates = []
    for anchor, kind in ligand_anchors(structure).items():
        periphery = _periphery(structure, neighbours, anchor)
        oxygens = _own_oxygens(structure, neighbours, anchor)
        first = min(k for k in neighbours[anchor] if k in periphery) if periphery else None
        if first is None:
            continue
        if kind == "carboxylate":
            o1, o2 = oxygens
            beyond = sorted(k for k in neighbours[first] if k != anchor)
            coordinates.append(
                OrientationCoordinate(
                    anchor,
                    "out_of_plane",
                    ((o1, o2, anchor, first),),
                    anchor,
                    o1,
                    o2,
                    tuple(periphery),
                )
            )
            coordinates.append(
                OrientationCoordinate(
                    anchor,
                    "butterfly",
                    (
                        (_metal_of(structure, o1), o1, anchor, o2),
                        (_metal_of(structure, o2), o2, anchor, o1),
                    ),
                    o1,
                    o1,
                    o2,
                    tuple([anchor, *periphery]),
                )
            )
            if beyond:
                coordinates.append(
                    OrientationCoordinate(
                        anchor,
                        "twist",
                        ((o1, anchor, first, beyond[0]),),
                        anchor,
                        anchor,
                        first,
                        tuple(periphery),
                    )
                )
        else:
            (o,) = oxygens
            ti = _metal_of(structure, o)
            cis = sorted(
                (abs(_angle_degrees(xyz, k, ti, o) - 90.0), k) for k in neighbours[ti] if k != o
            )[0][1]
            coordinates.append(
                OrientationCoordinate(
                    anchor,
                    "swing",
                    ((cis, ti, o, anchor),),
                    o,
                    ti,
                    o,
                    tuple([anchor, *periphery]),
                )
            )
            hydrogens = [k for k in neighbours[anchor] if structure.elements[k] == "H"]
            end = hydrogens[0] if len(hydrogens) == 1 else first
            coordinates.append(
                OrientationCoordinate(
                    anchor,
                    "rotor",
                    ((ti, o, anchor, end),),
                    anchor,
                    o,
                    anchor,
                    tuple(periphery),
                )
            )
    return coordinates


def carboxylate_angle_references(structure: ClusterStructure) -> list[list]:
    """``[o, c, x, theta0_degrees]`` for the O-C-X angles of every carboxylate.

    X is the carboxylate's first periphery atom; theta0 is the relaxed structure's angle.
    """
    neighbours = _neighbours(structure)
    xyz = np.asarray(structure.positions, dtype=float)
    references = []
    for anchor, kind in ligand_anchors(structure).items():
        if kind != "carboxylate":
            continue
        periphery = set(_periphery(structure, neighbours, anchor))
        for x in sorted(neighbours[anchor] & periphery):
            for o in _own_oxygens(structure, neighbours, anchor):
                references.append([o, anchor, x, round(_angle_degrees(xyz, o, anchor, x), 4)])
    return references


def ligand_peripheries(structure: ClusterStructure) -> list[dict]:
    """Per ligand: ``anchor``, ``kind``, ``periphery`` (atoms) and ``own`` (the anchor and
    its Ti-bound O), the sets :func:`periphery_exclusions` works from."""
    neighbours = _neighbours(structure)
    return [
        {
            "anchor": anchor,
            "kind": kind,
            "periphery": _periphery(structure, neighbours, anchor),
            "own": [anchor, *_own_oxygens(structure, neighbours, anchor)],
        }
        for anchor, kind in ligand_anchors(structure).items()
    ]


def periphery_pairs(peripheries: list[dict], n_atoms: int) -> list[tuple[int, int]]:
    """Pairs (i < j) between a ligand's periphery and cluster atoms outside its ligand,
    from :func:`ligand_peripheries` records of a cluster of ``n_atoms`` atoms."""
    everyone = set(range(n_atoms))
    pairs: set[tuple[int, int]] = set()
    for ligand in peripheries:
        periphery = set(ligand["periphery"])
        own = periphery | set(ligand["own"])
        for i in periphery:
            for j in everyone - own:
                pairs.add((min(i, j), max(i, j)))
    return sorted(pairs)


def periphery_exclusions(structure: ClusterStructure) -> list[tuple[int, int]]:
    """Pairs (i < j) between a ligand's periphery and cluster atoms outside its ligand."""
    return periphery_pairs(ligand_peripheries(structure), structure.n_atoms)


def scan_geometry(
    structure: ClusterStructure, coordinate: OrientationCoordinate, angle_degrees: float
) -> np.ndarray:
    """Positions (Angstrom) with ``coordinate.moving`` rigidly rotated by the angle."""
    xyz = np.asarray(structure.positions, dtype=float).copy()
    axis = xyz[coordinate.axis_to] - xyz[coordinate.axis_from]
    axis /= np.linalg.norm(axis)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    theta = np.radians(angle_degrees)
    rotation = np.eye(3) + np.sin(theta) * cross + (1 - np.cos(theta)) * cross @ cross
    moving = list(coordinate.moving)
    origin = xyz[coordinate.origin].copy()
    xyz[moving] = (xyz[moving] - origin) @ rotation.T + origin
    return xyz


def qm_scans(structure: ClusterStructure) -> dict:
    """GFN2-xTB energies (eV) of every coordinate's scan, for the cluster document."""
    engine = XTBEngine(structure.elements, structure.positions, structure.net_charge)
    reference_ev = engine.compute(np.asarray(structure.positions)).energy_ev
    scans = []
    for coordinate in orientation_coordinates(structure):
        angles = SCAN_ANGLES_DEGREES[coordinate.mode]
        energies = [
            engine.compute(scan_geometry(structure, coordinate, a)).energy_ev - reference_ev
            for a in angles
        ]
        scans.append(
            {
                "anchor": coordinate.anchor,
                "mode": coordinate.mode,
                "angles_degrees": list(angles),
                "energy_ev": [float(e) for e in energies],
            }
        )
    return {
        "method": "GFN2-xTB rigid scans of each ligand's orientation coordinates",
        "reference_energy_ev": float(reference_ev),
        "scans": scans,
    }


def _wrapped_radians(degrees) -> np.ndarray:
    return np.radians((np.asarray(degrees, dtype=float) + 180.0) % 360.0 - 180.0)


def fit_orientation_terms(
    structure: ClusterStructure,
    scans: list[dict],
    mm_energy,
    kt_kj_per_mol: float = FIT_KT_KJ_PER_MOL,
    ev_to_kj_per_mol: float = EV_TO_KJ_PER_MOL,
) -> list[dict]:
    """Fit one harmonic term per coordinate to E_QM - E_MM along all scans at once.

    A rigid scan of one coordinate also moves the dihedrals of others (turning an arm
    out of plane twists it a little), so the terms are fitted jointly: at every scan
    point the correction is the sum over all coordinates of ``k/2 sum(d^2) - a d``
    (``a = 0`` for two-dihedral coordinates), a bounded linear least-squares problem in
    ``k >= 0`` and ``a`` (weights ``exp(-E_QM / kT)``).  A term's minimum moves by
    ``a/k`` from the GFN2-xTB dihedral, at most :data:`MAX_CENTRE_SHIFT_DEGREES`.

    Parameters
    ----------
    structure
        The relaxed cluster (scans were made from it).
    scans
        ``qm_scans(structure)["scans"]``.
    mm_energy
        Callable: positions (Angstrom) -> energy (kJ/mol) of the model without
        orientation terms.

    Returns
    -------
    list of dict
        Per coordinate: ``anchor``, ``mode``, ``dihedrals``, ``k_kj_per_mol_rad2``,
        ``centres_degrees`` (one per dihedral), ``shift_degrees`` and its scan
        (``angles_degrees``, ``qm_kj_per_mol``, ``mm_kj_per_mol`` without and
        ``fitted_kj_per_mol`` with every fitted term, relative to the unrotated
        structure).
    """
    from scipy.optimize import lsq_linear

    coordinates = orientation_coordinates(structure)
    by_key = {(c.anchor, c.mode): c for c in coordinates}
    xyz0 = np.asarray(structure.positions, dtype=float)
    references = [np.array([dihedral_degrees(xyz0, q) for q in c.dihedrals]) for c in coordinates]
    single = [len(c.dihedrals) == 1 for c in coordinates]
    # parameter columns: k of every coordinate, then a of every one-dihedral coordinate
    a_column = {}
    for index, is_single in enumerate(single):
        if is_single:
            a_column[index] = len(coordinates) + len(a_column)
    n_parameters = len(coordinates) + len(a_column)

    mm0 = mm_energy(xyz0)
    rows, qm_all, mm_all, owners = [], [], [], []
    for scan in scans:
        coordinate = by_key.get((scan["anchor"], scan["mode"]))
        if coordinate is None:
            raise ValueError(
                f"scan of {scan['mode']} at atom {scan['anchor']} matches no coordinate of "
                "this cluster"
            )
        if len(scan["angles_degrees"]) != len(scan["energy_ev"]):
            raise ValueError(f"scan of {scan['mode']} at atom {scan['anchor']} is incomplete")
        for angle, energy_ev in zip(scan["angles_degrees"], scan["energy_ev"], strict=True):
            xyz = scan_geometry(structure, coordinate, angle)
            row = np.zeros(n_parameters)
            for index, (other, reference) in enumerate(zip(coordinates, references, strict=True)):
                change = _wrapped_radians(
                    [dihedral_degrees(xyz, q) for q in other.dihedrals] - reference
                )
                row[index] = 0.5 * float((change**2).sum())
                if index in a_column:
                    row[a_column[index]] = -float(change[0])
            rows.append(row)
            qm_all.append(energy_ev * ev_to_kj_per_mol)
            mm_all.append(mm_energy(xyz) - mm0)
            owners.append(coordinate)
    design = np.array(rows)
    qm = np.array(qm_all)
    mm = np.array(mm_all)
    weights = np.sqrt(np.exp(-np.maximum(qm, 0.0) / kt_kj_per_mol))
    lower = np.r_[np.zeros(len(coordinates)), np.full(len(a_column), -np.inf)]
    solution = lsq_linear(
        design * weights[:, None],
        (qm - mm) * weights,
        bounds=(lower, np.full(n_parameters, np.inf)),
    ).x
    k = solution[: len(coordinates)]
    shifts = np.zeros(len(coordinates))
    for index, column in a_column.items():
        if k[index] > 0:
            shifts[index] = np.clip(
                np.degrees(solution[column] / k[index]),
                -MAX_CENTRE_SHIFT_DEGREES,
                MAX_CENTRE_SHIFT_DEGREES,
            )
    # what the fitted model gives along each scan (with clipped shifts applied exactly)
    used = np.zeros(n_parameters)
    used[: len(coordinates)] = k
    for index, column in a_column.items():
        used[column] = k[index] * np.radians(shifts[index])
    fitted = mm + design @ used
    terms = []
    for index, (coordinate, reference) in enumerate(zip(coordinates, references, strict=True)):
        mine = [p for p, owner in enumerate(owners) if owner is coordinate]
        if not mine:
            raise ValueError(f"no scan of {coordinate.mode} at atom {coordinate.anchor}")
        scan = next(
            s for s in scans if (s["anchor"], s["mode"]) == (coordinate.anchor, coordinate.mode)
        )
        terms.append(
            {
                "anchor": coordinate.anchor,
                "mode": coordinate.mode,
                "dihedrals": [list(q) for q in coordinate.dihedrals],
                "k_kj_per_mol_rad2": round(float(k[index]), 3),
                "centres_degrees": [round(float(r + shifts[index]), 4) for r in reference],
                "shift_degrees": round(float(shifts[index]), 3),
                "angles_degrees": list(scan["angles_degrees"]),
                "qm_kj_per_mol": [round(float(qm[p]), 3) for p in mine],
                "mm_kj_per_mol": [round(float(mm[p]), 3) for p in mine],
                "fitted_kj_per_mol": [round(float(fitted[p]), 3) for p in mine],
            }
        )
    return terms
