"""GFN2-xTB (tblite) for clusters: single points, tight relaxations and partial Hessians.

Units at the edge: eV, Angstrom and eV/Angstrom^2 (tblite works in Hartree and Bohr;
the conversion constants are :mod:`electrolyte_md.units`' Hartree and Bohr).

Relaxation criterion: the largest atomic force must fall below ``fmax`` (default
0.01 eV/A). Looser criteria (0.05 eV/A) were seen to stop more than 1 eV above the
minimum while the isopropoxides of Ti6(HPAB) were still turning, which ruins any energy
difference taken from the result.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from electrolyte_md.errors import XTBError
from electrolyte_md.io import atomic_write_text
from electrolyte_md.units import BOHR_ANGSTROM, HARTREE_EV

__all__ = [
    "RelaxationResult",
    "XTBEngine",
    "XTBResult",
    "partial_hessian",
    "relax",
    "singlepoint",
]

log = logging.getLogger(__name__)

DEFAULT_FMAX_EV_PER_ANGSTROM = 0.01
METHOD = "GFN2-xTB"


@dataclass
class XTBResult:
    """One GFN2-xTB single point.

    Attributes
    ----------
    energy_ev
        Total energy (eV).
    forces_ev_per_angstrom
        Forces, shape (n, 3).
    charges
        Atomic partial charges (e; GFN2-xTB Mulliken-type charges from tblite).
    bond_orders
        Wiberg bond orders, shape (n, n).
    """

    energy_ev: float
    forces_ev_per_angstrom: np.ndarray
    charges: np.ndarray
    bond_orders: np.ndarray


def _numbers(symbols: list[str]) -> np.ndarray:
    return Atoms(symbols).get_atomic_numbers()


class XTBEngine:
    """A GFN2-xTB (tblite) calculator kept alive between geometries of one molecule.

    Each :meth:`compute` starts the SCF from the previous geometry's solution, which
    makes series of nearby geometries (relaxation steps, finite differences, scans)
    cheaper than independent single points.
    """

    def __init__(
        self,
        symbols: list[str],
        positions: np.ndarray,
        charge: int,
        multiplicity: int = 1,
        accuracy: float = 1.0,
    ) -> None:
        from tblite.interface import Calculator

        self._calc = Calculator(
            METHOD,
            _numbers(symbols),
            np.asarray(positions) / BOHR_ANGSTROM,
            charge=float(charge),
            uhf=multiplicity - 1,
        )
        self._calc.set("verbosity", 0)
        self._calc.set("accuracy", accuracy)
        self._calc.set("max-iter", 500)
        self._result = None

    def compute(self, positions: np.ndarray) -> XTBResult:
        """Energy, forces, charges and bond orders at ``positions`` (Angstrom)."""
        self._calc.update(np.asarray(positions, dtype=float) / BOHR_ANGSTROM)
        try:
            self._result = (
                self._calc.singlepoint(self._result)
                if self._result is not None
                else self._calc.singlepoint()
            )
        except Exception as exc:  # tblite raises its own RuntimeError subclasses
            self._result = None
            raise XTBError(f"GFN2-xTB single point failed: {exc}") from exc
        res = self._result
        return XTBResult(
            energy_ev=float(res.get("energy")) * HARTREE_EV,
            forces_ev_per_angstrom=-np.asarray(res.get("gradient")) * HARTREE_EV / BOHR_ANGSTROM,
            charges=np.asarray(res.get("charges"), dtype=float),
            bond_orders=_bond_order_matrix(res.get("bond-orders")),
        )


def _bond_order_matrix(raw) -> np.ndarray:
    """Wiberg bond orders as (n, n); tblite adds a spin axis (n, n, n_spin)."""
    orders = np.asarray(raw, dtype=float)
    return orders.sum(axis=-1) if orders.ndim == 3 else orders


def singlepoint(
    symbols: list[str], positions: np.ndarray, charge: int = 0, multiplicity: int = 1
) -> XTBResult:
    """GFN2-xTB energy, forces, charges and bond orders of one geometry (Angstrom)."""
    return XTBEngine(symbols, positions, charge, multiplicity).compute(positions)


@dataclass
class RelaxationResult:
    """Outcome of :func:`relax`."""

    positions: np.ndarray
    energy_ev: float
    fmax_ev_per_angstrom: float
    converged: bool
    n_steps: int
    criterion_fmax_ev_per_angstrom: float
    optimizer: str
    wall_seconds: float
    energy_trace_ev: list[float]

    def provenance(self) -> dict:
        """JSON-ready summary (no coordinates)."""
        data = asdict(self)
        data.pop("positions")
        trace = data.pop("energy_trace_ev")
        data["energy_first_ev"] = trace[0] if trace else None
        data["energy_drop_last_50_steps_ev"] = (trace[-51] - trace[-1]) if len(trace) > 50 else None
        data["method"] = METHOD
        return data


def relax(
    symbols: list[str],
    positions: np.ndarray,
    charge: int = 0,
    *,
    multiplicity: int = 1,
    fmax: float = DEFAULT_FMAX_EV_PER_ANGSTROM,
    max_steps: int = 3000,
    log_every: int = 25,
    checkpoint: Path | None = None,
) -> RelaxationResult:
    """Relax a geometry with GFN2-xTB and ASE's LBFGS to a force criterion.

    Parameters
    ----------
    symbols, positions
        Elements and starting coordinates (Angstrom).
    charge, multiplicity
        Net charge and spin multiplicity.
    fmax
        Convergence criterion on the largest atomic force (eV/A).
    max_steps
        Optimizer step limit; the result says whether ``fmax`` was reached.
    checkpoint
        XYZ file rewritten (atomically) every ``log_every`` steps with the current
        geometry, so a killed relaxation can be continued from it.

    Returns
    -------
    RelaxationResult
    """
    from ase.calculators.calculator import Calculator, all_changes
    from ase.optimize import LBFGS

    engine = XTBEngine(symbols, positions, charge, multiplicity)
    trace: list[float] = []

    class _Calc(Calculator):
        implemented_properties = ["energy", "forces"]

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            result = engine.compute(self.atoms.positions)
            self.results = {"energy": result.energy_ev, "forces": result.forces_ev_per_angstrom}

    atoms = Atoms(symbols, positions=np.asarray(positions, dtype=float))
    atoms.calc = _Calc()
    optimizer = LBFGS(atoms, logfile=None, maxstep=0.1)
    start = time.monotonic()
    steps = 0
    for _ in optimizer.irun(fmax=fmax, steps=max_steps):
        energy = float(atoms.get_potential_energy())
        trace.append(energy)
        current = float(np.linalg.norm(atoms.get_forces(), axis=1).max())
        if steps % log_every == 0:
            log.info("relax step %5d  E = %.6f eV  fmax = %.4f eV/A", steps, energy, current)
            if checkpoint is not None:
                comment = f"step {steps} E = {energy:.6f} eV fmax = {current:.4f} eV/A"
                write_xyz(checkpoint, symbols, atoms.positions, comment)
        steps += 1
    forces = atoms.get_forces()
    fmax_reached = float(np.linalg.norm(forces, axis=1).max())
    result = RelaxationResult(
        positions=atoms.positions.copy(),
        energy_ev=float(atoms.get_potential_energy()),
        fmax_ev_per_angstrom=fmax_reached,
        converged=fmax_reached < fmax,
        n_steps=steps,
        criterion_fmax_ev_per_angstrom=fmax,
        optimizer="ase.optimize.LBFGS(maxstep=0.1 A)",
        wall_seconds=time.monotonic() - start,
        energy_trace_ev=trace,
    )
    log.info(
        "relax done: %d steps, E = %.6f eV, fmax = %.4f eV/A, converged=%s, %.0f s",
        steps,
        result.energy_ev,
        fmax_reached,
        result.converged,
        result.wall_seconds,
    )
    return result


def write_xyz(path: Path, symbols: list[str], positions: np.ndarray, comment: str = "") -> None:
    """Write an XYZ file (Angstrom), atomically; read back by :func:`read_xyz_positions`."""
    lines = [str(len(symbols)), comment.replace("\n", " ")]
    lines += [
        f"{e:<2s} {x:14.8f} {y:14.8f} {z:14.8f}"
        for e, (x, y, z) in zip(symbols, positions, strict=True)
    ]
    atomic_write_text(Path(path), "\n".join(lines) + "\n")


def read_xyz_positions(path: Path | str, symbols: list[str]) -> np.ndarray:
    """Coordinates (A) from an XYZ file whose atoms must be ``symbols`` in order."""
    lines = Path(path).read_text().splitlines()
    try:
        n = int(lines[0])
        rows = [line.split() for line in lines[2 : 2 + n]]
        found = [row[0] for row in rows]
        xyz = np.array([[float(v) for v in row[1:4]] for row in rows])
    except (IndexError, ValueError) as exc:
        raise XTBError(f"{path}: not an XYZ file ({exc})") from exc
    if found != list(symbols):
        raise XTBError(f"{path}: atoms do not match the structure being relaxed")
    return xyz


def partial_hessian(
    symbols: list[str],
    positions: np.ndarray,
    atoms_to_displace: list[int],
    charge: int = 0,
    *,
    multiplicity: int = 1,
    step_angstrom: float = 0.005,
) -> np.ndarray:
    """Rows of the Hessian for the displaced atoms, by central differences of gradients.

    Parameters
    ----------
    atoms_to_displace
        Atom indices whose Cartesian displacements are applied.
    step_angstrom
        Displacement of each finite difference.

    Returns
    -------
    numpy.ndarray
        Shape (len(atoms_to_displace), 3, n_atoms, 3): d^2E / dx_(a,i) dx_(b,j) in
        eV/A^2, for displaced atom a (in the order given) and every atom b.
    """
    positions = np.asarray(positions, dtype=float)
    n = len(symbols)
    engine = XTBEngine(symbols, positions, charge, multiplicity)
    engine.compute(positions)
    hessian = np.zeros((len(atoms_to_displace), 3, n, 3))
    for row, atom in enumerate(atoms_to_displace):
        for axis in range(3):
            gradients = []
            for sign in (1.0, -1.0):
                displaced = positions.copy()
                displaced[atom, axis] += sign * step_angstrom
                gradients.append(-engine.compute(displaced).forces_ev_per_angstrom)
            hessian[row, axis] = (gradients[0] - gradients[1]) / (2 * step_angstrom)
        log.info("Hessian rows of atom %d done (%d/%d)", atom, row + 1, len(atoms_to_displace))
    return hessian
