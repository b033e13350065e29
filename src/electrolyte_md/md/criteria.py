"""When a stage of the MD protocol has done its job: the end criteria of heating and of
the NPT equilibration, as pure functions of the energy rows, and the ion-contact count
that shows what the start of a run did to ion pairing.

Heating
    The ramp ends at the target temperature, but a Langevin thermostat lags it (by about
    1/friction) and a short ramp may leave the system far below it.  So heating goes on
    at the target until the mean temperature of the last ``window`` is within the
    tolerance (:func:`temperature_check`), up to ``heating_max_ps``.

NPT equilibration
    Ends when, over its last two windows, all three of

    * density: the window means differ by at most ``density_tolerance`` (relative),
    * potential energy: the window means differ by at most ``energy_tolerance_sd``
      standard deviations of the instantaneous potential energy over both windows,
    * temperature: the mean over both windows is within the tolerance of the target,

    hold (:func:`equilibration_criteria`).  The energy criterion is measured against the
    energy's own fluctuation so that it means the same in a box of 500 or 50,000 atoms
    (a fixed kJ/mol figure would be noise in one and a trend in the other).

Temperature tolerance
    The mean kinetic temperature of ``n`` reports fluctuates, at equilibrium, with a
    standard deviation of about ``T sqrt(2 / (N_dof n))`` (reports farther apart than the
    thermostat's memory are nearly independent).  The allowance is the configured
    tolerance plus twice that (:func:`temperature_allowance`), so a small test box is not
    held back by noise and a large one is held to the tolerance itself.  For the default
    box (about 3,300 degrees of freedom) and a 5 ps window of 1 ps reports that is
    3 K + 6.6 K.

Trade-offs
    Every check compares windows of one run; none proves equilibrium (slow ion pairing
    relaxes over nanoseconds, far beyond any density window).  The analysis therefore
    detects the equilibrated part of each production series again
    (:mod:`electrolyte_md.timeseries`).  These criteria only keep a production run from
    starting hot, cold, expanding or relaxing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "ION_CONTACT_ANGSTROM",
    "centre_counts_of_frame",
    "select_atoms",
    "density_convergence",
    "energy_convergence",
    "equilibration_criteria",
    "ion_contacts_per_cation",
    "ionic_molecules",
    "minimum_image_distances",
    "temperature_allowance",
    "temperature_check",
]

#: A cation and an anion are in contact when two of their atoms are closer than this (Å):
#: the first g(r) minimum of Li+ and Na+ with the surface atoms of PF6-, BF4-, TFSI- and
#: ClO4- (F or O; contact 1.8-2.2 Å, first minimum 2.6-3.0 Å).  A solvent-separated pair
#: is 4 Å or more apart.  The count is a diagnostic of the start of a run, not a result.
ION_CONTACT_ANGSTROM = 3.0


def _window_rows(report_interval_ps: float, window_ps: float) -> int:
    return int(round(window_ps / report_interval_ps))


def density_convergence(
    densities: np.ndarray | Sequence[float],
    report_interval_ps: float,
    window_ps: float,
    tolerance: float,
) -> dict[str, Any]:
    """Compare the mean densities of the last two windows of an NPT series.

    Parameters
    ----------
    densities : array-like
        Densities (g/cm3), one per report, in time order.
    report_interval_ps : float
        Time between reports.
    window_ps : float
        Window length.
    tolerance : float
        Largest relative difference of the two window means that counts as converged.

    Returns
    -------
    dict
        ``converged``, ``relative_difference`` (|m2 - m1| / m2), ``mean_g_per_cm3`` and
        ``std_g_per_cm3`` over both windows, ``drift_g_per_cm3_per_ns`` (least-squares
        slope over both windows), ``window_ps`` and ``tolerance``.  With fewer than two
        windows of data ``converged`` is False and the numbers are NaN.
    """
    values = np.asarray(densities, dtype=float)
    n = _window_rows(report_interval_ps, window_ps)
    result: dict[str, Any] = {"window_ps": window_ps, "tolerance": tolerance}
    if n < 1 or values.size < 2 * n:
        nan = float("nan")
        return result | {
            "converged": False,
            "relative_difference": nan,
            "mean_g_per_cm3": nan,
            "std_g_per_cm3": nan,
            "drift_g_per_cm3_per_ns": nan,
        }
    first, last = values[-2 * n : -n], values[-n:]
    both = values[-2 * n :]
    relative = float(abs(last.mean() - first.mean()) / last.mean())
    times_ns = np.arange(both.size) * report_interval_ps * 1e-3
    drift = float(np.polyfit(times_ns, both, 1)[0]) if both.size > 1 else 0.0
    return result | {
        "converged": bool(relative <= tolerance),
        "relative_difference": relative,
        "mean_g_per_cm3": float(both.mean()),
        "std_g_per_cm3": float(both.std(ddof=1)) if both.size > 1 else 0.0,
        "drift_g_per_cm3_per_ns": drift,
    }


def energy_convergence(
    energies: np.ndarray | Sequence[float],
    report_interval_ps: float,
    window_ps: float,
    tolerance_sd: float,
) -> dict[str, Any]:
    """Compare the mean potential energies of the last two windows, in units of its spread.

    Returns
    -------
    dict
        ``passed``, ``difference_kj_per_mol`` (last minus previous window mean),
        ``sd_kj_per_mol`` (standard deviation over both windows), ``value`` (|difference|
        / sd, the number compared), ``allowed`` (``tolerance_sd``) and ``window_ps``.
        Fewer than two windows of at least two rows: not passed, NaN.
    """
    values = np.asarray(energies, dtype=float)
    n = _window_rows(report_interval_ps, window_ps)
    result: dict[str, Any] = {"window_ps": window_ps, "allowed": tolerance_sd}
    if n < 2 or values.size < 2 * n:
        nan = float("nan")
        return result | {
            "passed": False,
            "difference_kj_per_mol": nan,
            "sd_kj_per_mol": nan,
            "value": nan,
        }
    first, last = values[-2 * n : -n], values[-n:]
    difference = float(last.mean() - first.mean())
    sd = float(values[-2 * n :].std(ddof=1))
    # a constant energy (sd 0) has not drifted
    value = abs(difference) / sd if sd > 0 else (0.0 if difference == 0 else math.inf)
    return result | {
        "passed": bool(value <= tolerance_sd),
        "difference_kj_per_mol": difference,
        "sd_kj_per_mol": sd,
        "value": float(value),
    }


def temperature_allowance(
    target_kelvin: float, tolerance_kelvin: float, degrees_of_freedom: int, n_reports: int
) -> float:
    """Largest accepted |mean temperature - target| (K) of ``n_reports`` reports.

    ``tolerance_kelvin`` plus twice the equilibrium standard deviation of such a mean,
    ``T sqrt(2 / (N_dof n))`` (see the module docstring).
    """
    if degrees_of_freedom <= 0 or n_reports <= 0:
        return math.inf
    return tolerance_kelvin + 2.0 * target_kelvin * math.sqrt(
        2.0 / (degrees_of_freedom * n_reports)
    )


def temperature_check(
    temperatures: np.ndarray | Sequence[float],
    report_interval_ps: float,
    window_ps: float,
    target_kelvin: float,
    tolerance_kelvin: float,
    degrees_of_freedom: int,
) -> dict[str, Any]:
    """Is the mean temperature of the last ``window_ps`` within the allowance of the target?

    Returns
    -------
    dict
        ``passed``, ``mean_kelvin``, ``deviation_kelvin`` (mean - target), ``allowed_kelvin``
        (:func:`temperature_allowance`), ``target_kelvin``, ``tolerance_kelvin``,
        ``window_ps``.  With fewer rows than a window: not passed.
    """
    values = np.asarray(temperatures, dtype=float)
    n = _window_rows(report_interval_ps, window_ps)
    result: dict[str, Any] = {
        "window_ps": window_ps,
        "target_kelvin": target_kelvin,
        "tolerance_kelvin": tolerance_kelvin,
        "allowed_kelvin": temperature_allowance(
            target_kelvin, tolerance_kelvin, degrees_of_freedom, n
        ),
    }
    if n < 1 or values.size < n:
        nan = float("nan")
        return result | {"passed": False, "mean_kelvin": nan, "deviation_kelvin": nan}
    mean = float(values[-n:].mean())
    deviation = mean - target_kelvin
    return result | {
        "passed": bool(abs(deviation) <= result["allowed_kelvin"]),
        "mean_kelvin": mean,
        "deviation_kelvin": deviation,
    }


def equilibration_criteria(
    rows: Sequence[Mapping[str, float]],
    *,
    report_interval_ps: float,
    window_ps: float,
    density_tolerance: float,
    energy_tolerance_sd: float,
    target_kelvin: float,
    temperature_tolerance_kelvin: float,
    degrees_of_freedom: int,
) -> dict[str, Any]:
    """All end criteria of an NPT equilibration over its last two windows.

    Parameters
    ----------
    rows
        Energy rows (``density_g_per_cm3``, ``potential_energy_kj_per_mol``,
        ``temperature_kelvin``) in time order.

    Returns
    -------
    dict
        The keys of :func:`density_convergence` (``converged`` now meaning all criteria),
        and ``criteria``: ``density`` (``value`` = relative difference, ``allowed``,
        ``passed``), ``potential_energy`` (:func:`energy_convergence`) and
        ``temperature`` (:func:`temperature_check` over both windows).
    """

    def column(name: str) -> np.ndarray:
        return np.array([r[name] for r in rows], dtype=float)

    density = density_convergence(
        column("density_g_per_cm3"), report_interval_ps, window_ps, density_tolerance
    )
    energy = energy_convergence(
        column("potential_energy_kj_per_mol"), report_interval_ps, window_ps, energy_tolerance_sd
    )
    temperature = temperature_check(
        column("temperature_kelvin"),
        report_interval_ps,
        2 * window_ps,
        target_kelvin,
        temperature_tolerance_kelvin,
        degrees_of_freedom,
    )
    criteria = {
        "density": {
            "value": density["relative_difference"],
            "allowed": density_tolerance,
            "passed": density["converged"],
        },
        "potential_energy": energy,
        "temperature": temperature,
    }
    return density | {
        "converged": all(c["passed"] for c in criteria.values()),
        "criteria": criteria,
    }


def minimum_image_distances(
    positions_nm: np.ndarray, box_nm: np.ndarray, first: Sequence[int], second: Sequence[int]
) -> np.ndarray:
    """Distances (nm) between atoms ``first`` (rows) and ``second`` (columns), minimum
    image from the fractional coordinates of ``box_nm`` (rows: the box vectors).

    The MD job has no MDAnalysis (``distance_array``); rounding fractional coordinates is
    exact for the orthorhombic boxes of this workflow and for contact distances far below
    half a box in a triclinic one.
    """
    positions = np.asarray(positions_nm, dtype=float)
    box = np.asarray(box_nm, dtype=float)
    delta = positions[list(second)][None, :, :] - positions[list(first)][:, None, :]
    fractional = delta @ np.linalg.inv(box)
    fractional -= np.round(fractional)
    return np.linalg.norm(fractional @ box, axis=-1)


def ionic_molecules(
    molecules: Sequence[Sequence[int]], charges: Sequence[float], threshold: float = 0.01
) -> tuple[list[list[int]], list[list[int]]]:
    """(cations, anions): the molecules (atom index lists) with net charge > or < 0."""
    cations, anions = [], []
    for atoms in molecules:
        net = float(sum(charges[i] for i in atoms))
        if net > threshold:
            cations.append(list(atoms))
        elif net < -threshold:
            anions.append(list(atoms))
    return cations, anions


def ion_contacts_per_cation(
    positions_nm: np.ndarray,
    box_nm: np.ndarray,
    cations: Sequence[Sequence[int]],
    anions: Sequence[Sequence[int]],
    cutoff_angstrom: float = ION_CONTACT_ANGSTROM,
) -> float:
    """Mean number of anions in contact with a cation in one structure (NaN without ions).

    An anion is in contact with a cation when one of its atoms is within
    ``cutoff_angstrom`` of one of the cation's atoms (minimum image, from the fractional
    coordinates of ``box_nm``, whose rows are the box vectors).
    """
    if not cations or not anions:
        return float("nan")
    anion_atoms = np.concatenate([np.asarray(a, dtype=int) for a in anions])
    anion_of_atom = np.concatenate([np.full(len(a), k) for k, a in enumerate(anions)])
    total = 0
    for atoms in cations:
        distances = minimum_image_distances(positions_nm, box_nm, list(atoms), anion_atoms)
        close = (distances < cutoff_angstrom / 10.0).any(axis=0)
        total += len(np.unique(anion_of_atom[close]))
    return total / len(cations)


#: Terms of the selections a production target may use (no MDAnalysis in the MD job).
SELECTION_KEYWORDS = ("resname", "element", "name")


def select_atoms(topology: Any, selection: str) -> list[int]:
    """Indices of the atoms of an OpenMM ``Topology`` matching ``selection``.

    ``selection`` is terms ``resname X``, ``element Y`` (symbol) and ``name Z`` joined by
    ``and`` -- the form of the workflow's RDF pairs (``resname PF6 and element P``).

    Raises
    ------
    ValueError
        For any other form, or a selection that matches no atom.
    """
    terms = [t.split() for t in selection.split(" and ")]
    if not terms or any(len(t) != 2 or t[0] not in SELECTION_KEYWORDS for t in terms):
        raise ValueError(
            f"selection {selection!r}: the MD job understands only 'resname X', 'element Y' "
            "and 'name Z' joined by 'and'"
        )
    atoms = []
    for atom in topology.atoms():
        values = {
            "resname": atom.residue.name,
            "element": atom.element.symbol if atom.element is not None else "",
            "name": atom.name,
        }
        if all(values[key] == value for key, value in terms):
            atoms.append(atom.index)
    if not atoms:
        raise ValueError(f"selection {selection!r} matches no atom of the topology")
    return atoms


def centre_counts_of_frame(
    positions_nm: np.ndarray,
    box_nm: np.ndarray,
    centers: Sequence[int],
    ligands: Sequence[int],
    cutoff_angstrom: float,
) -> np.ndarray:
    """Number of ``ligands`` within ``cutoff_angstrom`` of each ``centers`` atom (minimum
    image; an atom in both groups does not count itself)."""
    distances = minimum_image_distances(positions_nm, box_nm, centers, ligands)
    within = (distances < cutoff_angstrom / 10.0) & (distances > 0.0)
    return within.sum(axis=1)
