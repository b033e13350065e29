"""The alkoxide rotamer of a metal-oxo cluster: a GFN2-xTB-fitted Ti-O-C-H torsion.

MCPB.py-style models give torsions about metal-ligand bonds no energy, and GAFF2's
generic ``X-c3-os-X`` term is three-fold: neither tells the rotamers of a secondary
alkoxide apart. GFN2-xTB puts the methine H of every isopropoxide of Ti6(HPAB) anti to
its Ti (Ti-O-C-H near 180 degrees) with the gauche rotamers 17-33 kJ/mol higher; the
uncorrected model puts a gauche rotamer 5 kJ/mol *below* anti, and in 100 ps of MD in
NMP four of six isopropoxides turned gauche.

The correction, fitted once per cluster:

1. a rigid scan turns one alkoxide's C(H)R2 group about its O-C bond in 15 degree steps
   (:func:`scan_geometries`); GFN2-xTB gives E_QM at each step (stored in the cluster
   document, :func:`qm_scan`);
2. the model without the correction gives E_MM at the same geometries (the caller
   evaluates its OpenMM System, :func:`mm_scan_energies`);
3. E_QM - E_MM is fitted by ``sum_n k_n (1 + cos(n phi - delta_n))`` on the Ti-O-C-H
   dihedral phi, by weighted least squares with Boltzmann weights
   ``exp(-E_QM / kT_fit)``: the rigid scan's steric clashes (where both methods rise
   steeply and differ most) hardly count, the wells count most (:func:`fit_correction`);
4. the fit is checked where the rigid scan cannot look: the model with the correction is
   minimised from the GFN2-xTB structure, and a form that moves any alkoxide more than
   :data:`RELAXED_SHIFT_TOLERANCE_DEGREES` from its GFN2-xTB dihedral is rejected for
   the next simpler one (:data:`CORRECTION_FORMS`, :func:`choose_correction`). The
   Boltzmann weights leave the correction free in the clash region, and a three-term
   fit there opened a false well at 110-130 degrees that the relaxed model fell into;
5. the accepted terms are put on the Ti-O-C-H dihedral of every alkoxide.

Energies in kJ/mol, angles in degrees.
"""

from __future__ import annotations

import numpy as np

from electrolyte_md.cluster import ClusterStructure

__all__ = [
    "FIT_KT_KJ_PER_MOL",
    "SCAN_STEP_DEGREES",
    "CORRECTION_FORMS",
    "RELAXED_SHIFT_TOLERANCE_DEGREES",
    "alkoxide_dihedrals",
    "choose_correction",
    "correction_energy",
    "fit_correction",
    "mm_scan_energies",
    "qm_scan",
    "scan_geometries",
]

SCAN_STEP_DEGREES = 15.0
#: Weighting temperature of the fit (kJ/mol). With 5 kJ/mol the three wells of
#: Ti6(HPAB)'s isopropoxide come out in the GFN2-xTB order (anti 0, gauche 15-19 and
#: 26-31 kJ/mol against 18-22 and 32); 10 kJ/mol let clash points open a false well.
FIT_KT_KJ_PER_MOL = 5.0
PERIODICITIES = (1, 2, 3)
#: Forms tried in turn, richest first: (periodicities, free phase). A fixed phase (0 or
#: 180 degrees, AMBER's convention) gives an even correction, with no torque at the
#: anti and syn positions.
CORRECTION_FORMS: tuple[tuple[tuple[int, ...], bool], ...] = (
    ((1, 2, 3), True),
    ((1, 2, 3), False),
    ((1, 2), False),
    ((1,), False),
)
#: Largest shift (degrees) of any alkoxide's Ti-O-C-H between the GFN2-xTB structure
#: and the corrected model minimised from it. The uncorrected model shifts Ti6(HPAB)'s
#: by at most 16 degrees: its wells sit where GFN2-xTB's do.
RELAXED_SHIFT_TOLERANCE_DEGREES = 30.0


def _neighbours(structure: ClusterStructure) -> dict[int, set[int]]:
    neighbours: dict[int, set[int]] = {i: set() for i in range(structure.n_atoms)}
    for i, j, _ in structure.bonds:
        neighbours[i].add(j)
        neighbours[j].add(i)
    return neighbours


def alkoxide_dihedrals(structure: ClusterStructure) -> np.ndarray:
    """(Ti, O, C, H) of each secondary alkoxide: the dihedral that sets its rotamer.

    Returns an (n, 4) integer array, empty for primary or tertiary alkoxides (no single
    methine H).
    """
    neighbours = _neighbours(structure)
    quads = []
    for ti, o, bond_class in structure.metal_oxygen_bonds:
        if bond_class != "Ti-O(alkoxide)":
            continue
        carbon = next(k for k in neighbours[o] if structure.elements[k] == "C")
        hydrogens = [k for k in neighbours[carbon] if structure.elements[k] == "H"]
        if len(hydrogens) == 1:
            quads.append((ti, o, carbon, hydrogens[0]))
    return np.array(quads, dtype=int).reshape(-1, 4)


def dihedral_degrees(xyz: np.ndarray, quad) -> float:
    """The dihedral a-b-c-d (degrees, -180..180) of positions ``xyz``."""
    a, b, c, d = (np.asarray(xyz[k], dtype=float) for k in quad)
    b0, b1, b2 = a - b, c - b, d - c
    b1 = b1 / np.linalg.norm(b1)
    v = b0 - (b0 @ b1) * b1
    w = b2 - (b2 @ b1) * b1
    return float(np.degrees(np.arctan2(np.cross(b1, v) @ w, v @ w)))


def scan_geometries(
    structure: ClusterStructure, step_degrees: float = SCAN_STEP_DEGREES
) -> tuple[tuple[int, int, int, int], list[float], list[np.ndarray]]:
    """Rigid rotation of the first secondary alkoxide's C(H)R2 group about its O-C bond.

    Returns
    -------
    quad, dihedrals, geometries
        The scanned (Ti, O, C, H) atoms, the Ti-O-C-H dihedral at each step (degrees)
        and the coordinates (Angstrom), starting from the structure itself.
    """
    quads = alkoxide_dihedrals(structure)
    if not len(quads):
        raise ValueError("the cluster has no secondary alkoxide to scan")
    ti, o, c, h = (int(k) for k in quads[0])
    neighbours = _neighbours(structure)
    moved: set[int] = set()
    todo = [k for k in neighbours[c] if k != o]
    while todo:
        atom = todo.pop()
        if atom in moved or atom == c:
            continue
        moved.add(atom)
        todo += [k for k in neighbours[atom] if k not in moved and k != c]
    moving = sorted(moved)
    axis = structure.positions[c] - structure.positions[o]
    axis /= np.linalg.norm(axis)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    dihedrals, geometries = [], []
    for angle in np.radians(np.arange(0.0, 360.0, step_degrees)):
        rotation = np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross
        xyz = structure.positions.copy()
        xyz[moving] = (xyz[moving] - xyz[c]) @ rotation.T + xyz[c]
        geometries.append(xyz)
        dihedrals.append(dihedral_degrees(xyz, (ti, o, c, h)))
    return (ti, o, c, h), dihedrals, geometries


def qm_scan(structure: ClusterStructure, step_degrees: float = SCAN_STEP_DEGREES) -> dict:
    """GFN2-xTB energies along :func:`scan_geometries` (for the cluster document)."""
    from electrolyte_md.xtb import _Engine

    quad, dihedrals, geometries = scan_geometries(structure, step_degrees)
    engine = _Engine(structure.elements, structure.positions, structure.net_charge)
    energies_ev = [engine.compute(xyz).energy_ev for xyz in geometries]
    return {
        "method": "GFN2-xTB rigid scan of one alkoxide about its O-C bond",
        "step_degrees": step_degrees,
        "atoms_ti_o_c_h": list(quad),
        "dihedral_degrees": [round(d, 3) for d in dihedrals],
        "energy_ev": energies_ev,
    }


def mm_scan_energies(system, geometries: list[np.ndarray]) -> np.ndarray:
    """Potential energies (kJ/mol) of an OpenMM System at each geometry (Angstrom)."""
    import openmm
    import openmm.unit as unit

    context = openmm.Context(
        system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference")
    )
    energies = []
    for xyz in geometries:
        context.setPositions(np.asarray(xyz) / 10.0)
        state = context.getState(getEnergy=True)
        energies.append(state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
    return np.array(energies)


def _basis(phi_degrees: np.ndarray, periodicities, free_phase: bool) -> np.ndarray:
    phi = np.radians(np.asarray(phi_degrees, dtype=float))
    columns = [np.ones_like(phi)]
    for n in periodicities:
        columns += [np.cos(n * phi), np.sin(n * phi)] if free_phase else [np.cos(n * phi)]
    return np.stack(columns, axis=1)


def fit_correction(
    dihedrals_degrees,
    qm_kj_per_mol,
    mm_kj_per_mol,
    kt_kj_per_mol: float = FIT_KT_KJ_PER_MOL,
    periodicities: tuple[int, ...] = PERIODICITIES,
    free_phase: bool = True,
) -> list[tuple[int, float, float]]:
    """Torsion terms ``(n, delta_degrees, k_kj_per_mol)`` fitting E_QM - E_MM.

    Weighted least squares with weights ``exp(-(E_QM - min E_QM) / kT)``; each n gives
    ``k (1 + cos(n phi - delta))`` with k >= 0. With ``free_phase=False`` delta is 0 or
    180 degrees.
    """
    qm = np.asarray(qm_kj_per_mol, dtype=float)
    target = qm - np.asarray(mm_kj_per_mol, dtype=float)
    weights = np.sqrt(np.exp(-(qm - qm.min()) / kt_kj_per_mol))
    design = _basis(dihedrals_degrees, periodicities, free_phase)
    coefficients, *_ = np.linalg.lstsq(design * weights[:, None], target * weights, rcond=None)
    per_term = 2 if free_phase else 1
    terms = []
    for index, n in enumerate(periodicities):
        a = coefficients[1 + per_term * index]
        b = coefficients[2 + per_term * index] if free_phase else 0.0
        # a cos(n phi) + b sin(n phi) = A cos(n phi - delta)
        amplitude = float(np.hypot(a, b))
        delta = float(np.degrees(np.arctan2(b, a)))
        terms.append((n, round(delta, 4), round(amplitude, 6)))
    return terms


def relaxed_dihedrals(
    system, positions_angstrom: np.ndarray, quads: np.ndarray, terms
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise ``system`` plus the correction ``terms`` on ``quads`` from the positions.

    ``system`` is the cluster alone with its atoms in structure order; it is not changed.
    Returns the Ti-O-C-H dihedrals (degrees) and the positions (Angstrom) at the minimum.
    """
    import openmm
    import openmm.unit as unit

    system = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(system))
    if system.getNumParticles() != len(positions_angstrom):
        raise ValueError("the baseline system is not the cluster alone in structure order")
    force = openmm.PeriodicTorsionForce()
    for quad in quads:
        for n, delta, k in terms:
            force.addTorsion(*(int(a) for a in quad), int(n), float(np.radians(delta)), k)
    system.addForce(force)
    context = openmm.Context(
        system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference")
    )
    context.setPositions(np.asarray(positions_angstrom) / 10.0)
    openmm.LocalEnergyMinimizer.minimize(context, 0.05, 0)
    xyz = context.getState(getPositions=True).getPositions(asNumpy=True)
    xyz = np.asarray(xyz.value_in_unit(unit.angstrom))
    return np.array([dihedral_degrees(xyz, quad) for quad in quads]), xyz


def _shift_degrees(a, b) -> np.ndarray:
    return np.abs((np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0)


def choose_correction(
    system,
    structure: ClusterStructure,
    dihedrals_degrees,
    qm_kj_per_mol,
    mm_kj_per_mol,
    kt_kj_per_mol: float = FIT_KT_KJ_PER_MOL,
    forms=CORRECTION_FORMS,
    tolerance_degrees: float = RELAXED_SHIFT_TOLERANCE_DEGREES,
) -> dict:
    """Fit each of ``forms`` in turn; accept the first the relaxed model keeps in place.

    ``system`` is the uncorrected model of the cluster alone (atoms in structure order).
    Returns ``{"terms", "form", "candidates", "uncorrected_shift_degrees"}``: ``terms`` of
    the accepted form, or an empty list (no correction) when every form moves an
    alkoxide more than ``tolerance_degrees`` from its GFN2-xTB dihedral; ``candidates``
    records each form's terms and the largest shift.
    """
    quads = alkoxide_dihedrals(structure)
    reference = np.array([dihedral_degrees(structure.positions, q) for q in quads])
    relaxed, _ = relaxed_dihedrals(system, structure.positions, quads, [])
    uncorrected_shift = float(_shift_degrees(relaxed, reference).max())
    candidates = []
    for periodicities, free_phase in forms:
        terms = fit_correction(
            dihedrals_degrees,
            qm_kj_per_mol,
            mm_kj_per_mol,
            kt_kj_per_mol,
            periodicities=tuple(periodicities),
            free_phase=free_phase,
        )
        relaxed, _ = relaxed_dihedrals(system, structure.positions, quads, terms)
        shift = float(_shift_degrees(relaxed, reference).max())
        candidates.append(
            {
                "periodicities": list(periodicities),
                "free_phase": free_phase,
                "terms_n_delta_degrees_k_kj_per_mol": [list(t) for t in terms],
                "relaxed_dihedrals_degrees": [round(float(d), 1) for d in relaxed],
                "largest_shift_degrees": round(shift, 1),
                "accepted": shift <= tolerance_degrees,
            }
        )
        if shift <= tolerance_degrees:
            return {
                "terms": terms,
                "form": candidates[-1],
                "candidates": candidates,
                "uncorrected_shift_degrees": round(uncorrected_shift, 1),
            }
    return {
        "terms": [],
        "form": None,
        "candidates": candidates,
        "uncorrected_shift_degrees": round(uncorrected_shift, 1),
    }


def correction_energy(dihedrals_degrees, terms) -> np.ndarray:
    """The fitted correction (kJ/mol) at the given dihedrals."""
    phi = np.radians(np.asarray(dihedrals_degrees, dtype=float))
    total = np.zeros_like(phi)
    for n, delta, k in terms:
        total += k * (1.0 + np.cos(n * phi - np.radians(delta)))
    return total


def fit_report(dihedrals_degrees, qm_kj_per_mol, mm_kj_per_mol, terms) -> list[dict]:
    """Per scan point: E_QM, E_MM and E_MM + correction, each relative to the first point."""
    qm = np.asarray(qm_kj_per_mol, dtype=float)
    mm = np.asarray(mm_kj_per_mol, dtype=float)
    corrected = mm + correction_energy(dihedrals_degrees, terms)
    return [
        {
            "dihedral_degrees": round(float(d), 2),
            "qm_kj_per_mol": round(float(q - qm[0]), 3),
            "mm_kj_per_mol": round(float(m - mm[0]), 3),
            "mm_corrected_kj_per_mol": round(float(c - corrected[0]), 3),
        }
        for d, q, m, c in zip(dihedrals_degrees, qm, mm, corrected, strict=True)
    ]
