"""Molecular-dynamics stage: minimise, equilibrate (NPT) and run production with OpenMM.

The input is an OpenMM ``System`` serialised to XML (PME, HBonds constraints, no
barostat) and a PDB file holding the topology, positions and periodic box (CRYST1).
:func:`run_md` runs

1. energy minimisation,
2. NPT equilibration (Langevin thermostat + Monte Carlo barostat),
3. production in NVT (barostat switched off) or NPT,

in one OpenMM ``Context``, so that the dynamics is continuous from equilibration to
production.

Conventions
-----------
* ``time_ps`` and ``step`` in the energy CSV files and the DCD header count from the
  start of *that phase* (the first row of a phase is at ``report_interval_ps``).  The
  final ``state.xml`` holds the cumulative time and step count of the whole run
  (equilibration + production; minimisation takes no time steps).
* ``prod.dcd`` holds **unwrapped** coordinates (``enforcePeriodicBox=False``): atoms are
  never translated back into the primary box, so molecules stay whole and every atom
  moves continuously.  That is what mean-square-displacement analysis needs; analyses of
  distances (RDF, coordination) must use minimum-image distances, which MDAnalysis
  does when given the box that each DCD frame carries.  In NPT production the barostat
  rescales molecular centres, so unwrapped coordinates then carry the (small) box
  fluctuations too.
* The PDB files (``minimized.pdb``, ``equil_final.pdb``, ``prod_final.pdb``) are for
  looking at and for use as topology: their molecules are wrapped into the box
  (``enforcePeriodicBox=True``), whole, with the box in CRYST1.  ``state.xml`` keeps the
  unwrapped positions and the velocities, so a continuation stays continuous.
* Seeds: OpenMM treats a random seed of 0 as "pick one at random", so the protocol's
  ``seed`` is expanded with :class:`numpy.random.SeedSequence` into three non-zero
  31-bit seeds (velocities, Langevin integrator, barostat).  The same ``seed`` gives
  the same seeds on every run; whether the trajectory is bitwise reproducible depends
  on the platform (CPU with several threads and GPU platforms are not, in general).

Files
-----
Every output is written atomically: whole files go to a hidden temporary name in the
output directory and are renamed with :func:`os.replace`; the streamed energy CSV and
DCD files are written as ``<name>.partial`` and renamed at the end of their phase.  A
killed run therefore never leaves a half-written file under a final name.  Outputs of
an earlier run in the same directory are deleted before a new run starts, and
``md_summary.json`` is written last, so its presence marks a complete run.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import logging
import math
import os
import platform as _platform_module
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import openmm
import pandas as pd
from openmm import app, unit

from electrolyte_md.errors import ElectrolyteMDError
from electrolyte_md.io import atomic_write

__all__ = [
    "ENERGY_COLUMNS",
    "MDOutputs",
    "MDProtocol",
    "EnergyCSVReporter",
    "OUTPUT_FILE_NAMES",
    "UnwrappedDCDReporter",
    "read_energies",
    "run_md",
]

#: Columns of ``equil.csv`` and ``prod.csv``, in order.
ENERGY_COLUMNS: tuple[str, ...] = (
    "time_ps",
    "step",
    "potential_energy_kj_per_mol",
    "kinetic_energy_kj_per_mol",
    "total_energy_kj_per_mol",
    "temperature_kelvin",
    "volume_nm3",
    "density_g_per_cm3",
    "box_a_nm",
    "box_b_nm",
    "box_c_nm",
    "speed_ns_per_day",
)

#: File names written by :func:`run_md` into its output directory.
OUTPUT_FILE_NAMES: dict[str, str] = {
    "minimized_pdb": "minimized.pdb",
    "equil_csv": "equil.csv",
    "equil_final_pdb": "equil_final.pdb",
    "prod_csv": "prod.csv",
    "prod_dcd": "prod.dcd",
    "prod_final_pdb": "prod_final.pdb",
    "state_xml": "state.xml",
    "summary_json": "md_summary.json",
}

PARTIAL_SUFFIX = ".partial"

_ENSEMBLES = ("NVT", "NPT")
_PLATFORMS = ("auto", "CPU", "CUDA", "OpenCL", "Reference")
_AUTO_PLATFORM_ORDER = ("CUDA", "OpenCL", "CPU")
_PRECISIONS = ("single", "mixed", "double")

#: Molar gas constant in kJ/(mol K).
_GAS_CONSTANT_KJ_PER_MOL_K = unit.MOLAR_GAS_CONSTANT_R.value_in_unit(
    unit.kilojoule_per_mole / unit.kelvin
)
#: Converts a density in amu/nm^3 into g/cm^3 (1 amu = 1.66053906660e-24 g, 1 nm^3 = 1e-21 cm^3).
_G_PER_CM3_PER_AMU_PER_NM3 = 1.66053906660e-3
#: Particles lighter than this (but with mass) are hydrogens, also after mass repartitioning.
_HYDROGEN_MAX_MASS_AMU = 4.5
_SECONDS_PER_DAY = 86400.0
_BAROSTAT_TYPES: tuple[type, ...] = tuple(
    getattr(openmm, name)
    for name in (
        "MonteCarloBarostat",
        "MonteCarloAnisotropicBarostat",
        "MonteCarloMembraneBarostat",
        "MonteCarloFlexibleBarostat",
    )
    if hasattr(openmm, name)
)


# --------------------------------------------------------------------------------------
# Protocol
# --------------------------------------------------------------------------------------


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _whole_multiple(numerator: float, denominator: float) -> int | None:
    """Return ``numerator / denominator`` if it is a whole number (to 1e-6 relative), else None."""
    ratio = numerator / denominator
    nearest = round(ratio)
    if nearest >= 1 and abs(ratio - nearest) <= 1e-6 * max(1.0, ratio):
        return int(nearest)
    return None


@dataclass(frozen=True)
class MDProtocol:
    """Settings of the MD stage (minimisation, NPT equilibration, production).

    Parameters
    ----------
    temperature_kelvin : float
        Thermostat (and barostat) temperature.
    pressure_bar : float
        Barostat pressure, used in equilibration and in NPT production.
    timestep_fs : float
        Integration time step.  Above 1 fs every bond to hydrogen must be constrained.
    friction_per_ps : float
        Friction coefficient of the Langevin (middle) integrator.
    minimize_tolerance_kj_per_mol_nm : float
        Convergence tolerance of the energy minimiser (root-mean-square force).
    minimize_max_iterations : int
        Maximum number of minimiser iterations; 0 means until converged.
    equilibration_ps : float
        Length of the NPT equilibration (barostat on).
    production_ps : float
        Length of the production run.
    production_ensemble : str
        ``"NVT"`` (barostat switched off, box fixed at its final equilibration value)
        or ``"NPT"``.
    barostat_interval_steps : int
        Steps between Monte Carlo volume moves.
    report_interval_ps : float
        Interval of energy rows and trajectory frames; a whole multiple of the time
        step, and both phase lengths must be whole multiples of it.
    platform : str
        ``"auto"`` (CUDA, then OpenCL, then CPU; never Reference), ``"CPU"``,
        ``"CUDA"``, ``"OpenCL"`` or ``"Reference"``.
    precision : str
        ``"single"``, ``"mixed"`` or ``"double"``; used by CUDA and OpenCL.
    threads : int or None
        Number of CPU-platform threads; None lets OpenMM decide.
    seed : int
        Non-negative master seed for the initial velocities, the Langevin integrator
        and the barostat (see the module docstring).

    Raises
    ------
    ValueError
        If a field has an invalid value; the message names the field.
    """

    temperature_kelvin: float = 298.15
    pressure_bar: float = 1.0
    timestep_fs: float = 2.0
    friction_per_ps: float = 1.0
    minimize_tolerance_kj_per_mol_nm: float = 10.0
    minimize_max_iterations: int = 0
    equilibration_ps: float = 50.0
    production_ps: float = 200.0
    production_ensemble: str = "NVT"
    barostat_interval_steps: int = 25
    report_interval_ps: float = 1.0
    platform: str = "auto"
    precision: str = "mixed"
    threads: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in (
            "temperature_kelvin",
            "pressure_bar",
            "timestep_fs",
            "friction_per_ps",
            "minimize_tolerance_kj_per_mol_nm",
            "equilibration_ps",
            "production_ps",
            "report_interval_ps",
        ):
            value = getattr(self, name)
            if not _is_real(value) or not math.isfinite(value) or value <= 0:
                raise ValueError(
                    f"MDProtocol.{name} must be a positive finite number, got {value!r}"
                )
        if not _is_int(self.minimize_max_iterations) or self.minimize_max_iterations < 0:
            raise ValueError(
                "MDProtocol.minimize_max_iterations must be an integer >= 0 (0 = until "
                f"converged), got {self.minimize_max_iterations!r}"
            )
        if not _is_int(self.barostat_interval_steps) or self.barostat_interval_steps <= 0:
            raise ValueError(
                "MDProtocol.barostat_interval_steps must be a positive integer, got "
                f"{self.barostat_interval_steps!r}"
            )
        if self.production_ensemble not in _ENSEMBLES:
            raise ValueError(
                f"MDProtocol.production_ensemble must be one of {_ENSEMBLES}, got "
                f"{self.production_ensemble!r}"
            )
        if self.platform not in _PLATFORMS:
            raise ValueError(
                f"MDProtocol.platform must be one of {_PLATFORMS}, got {self.platform!r}"
            )
        if self.precision not in _PRECISIONS:
            raise ValueError(
                f"MDProtocol.precision must be one of {_PRECISIONS}, got {self.precision!r}"
            )
        if self.threads is not None and (not _is_int(self.threads) or self.threads <= 0):
            raise ValueError(
                f"MDProtocol.threads must be None or a positive integer, got {self.threads!r}"
            )
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"MDProtocol.seed must be an integer >= 0, got {self.seed!r}")
        if _whole_multiple(self.report_interval_ps * 1000.0, self.timestep_fs) is None:
            raise ValueError(
                f"MDProtocol.report_interval_ps ({self.report_interval_ps} ps) must be a whole "
                f"multiple of timestep_fs ({self.timestep_fs} fs)"
            )
        for name in ("equilibration_ps", "production_ps"):
            if _whole_multiple(getattr(self, name), self.report_interval_ps) is None:
                raise ValueError(
                    f"MDProtocol.{name} ({getattr(self, name)} ps) must be a whole multiple of "
                    f"report_interval_ps ({self.report_interval_ps} ps)"
                )

    @property
    def timestep_ps(self) -> float:
        """Time step in ps."""
        return self.timestep_fs / 1000.0

    @property
    def report_interval_steps(self) -> int:
        """Steps between reports (energy rows and trajectory frames)."""
        steps = _whole_multiple(self.report_interval_ps, self.timestep_ps)
        assert steps is not None  # checked in __post_init__
        return steps

    @property
    def equilibration_steps(self) -> int:
        """Number of time steps of the equilibration."""
        return self.report_interval_steps * self._reports("equilibration_ps")

    @property
    def production_steps(self) -> int:
        """Number of time steps of the production run."""
        return self.report_interval_steps * self._reports("production_ps")

    def _reports(self, name: str) -> int:
        reports = _whole_multiple(getattr(self, name), self.report_interval_ps)
        assert reports is not None  # checked in __post_init__
        return reports

    def openmm_seeds(self) -> dict[str, int]:
        """Expand :attr:`seed` into the non-zero 31-bit seeds that OpenMM is given.

        Returns
        -------
        dict of str to int
            Keys ``"velocities"``, ``"integrator"`` and ``"barostat"``.
        """
        words = np.random.SeedSequence(self.seed).generate_state(3, dtype=np.uint32)
        seeds = [int(w) & 0x7FFFFFFF or 1 for w in words]
        return dict(zip(("velocities", "integrator", "barostat"), seeds, strict=True))


@dataclass(frozen=True)
class MDOutputs:
    """Paths of the files written by :func:`run_md` (all in the same directory)."""

    minimized_pdb: Path
    equil_csv: Path
    equil_final_pdb: Path
    prod_csv: Path
    prod_dcd: Path
    prod_final_pdb: Path
    state_xml: Path
    summary_json: Path

    @classmethod
    def in_directory(cls, out_dir: Path | str) -> MDOutputs:
        """Return the output paths that :func:`run_md` uses in ``out_dir``."""
        out_dir = Path(out_dir)
        return cls(**{field: out_dir / name for field, name in OUTPUT_FILE_NAMES.items()})

    def paths(self) -> list[Path]:
        """Return all paths, in field order."""
        return [getattr(self, f.name) for f in dataclasses.fields(self)]


# --------------------------------------------------------------------------------------
# Atomic file writing
# --------------------------------------------------------------------------------------


def _partial_path(path: Path) -> Path:
    return path.with_name(path.name + PARTIAL_SUFFIX)


def _finish_stream(fh: IO[Any], partial: Path, final: Path) -> None:
    """Flush, sync and close a streamed file, then rename it to its final name."""
    fh.flush()
    os.fsync(fh.fileno())
    fh.close()
    os.replace(partial, final)


# --------------------------------------------------------------------------------------
# Reporters
# --------------------------------------------------------------------------------------


def _steps_to_next_report(current_step: int, start_step: int, interval_steps: int) -> int:
    return interval_steps - (current_step - start_step) % interval_steps


class EnergyCSVReporter:
    """OpenMM reporter writing one CSV row of energies, temperature and box per interval.

    Implements OpenMM 8's reporter interface (``describeNextReport`` returning a dict,
    ``report``).  Every row is flushed.  ``time_ps`` and ``step`` count from the step
    at which the reporter was created (the start of the phase), so the first row is
    at one report interval.  Rows are also kept in :attr:`rows`.

    Parameters
    ----------
    file : text file object
        Open, writable text file (the caller closes it).
    interval_steps : int
        Steps between rows.
    start_step : int
        Simulation step at which the phase starts.
    timestep_ps : float
        Integration time step, used for ``time_ps`` and ``speed_ns_per_day``.
    total_mass_amu : float
        Total particle mass, for the density.
    degrees_of_freedom : int
        Number of degrees of freedom, for the temperature.
    phase : str
        Name of the phase, used in log and error messages.
    expected_reports : int or None
        Total number of rows of the phase; used to log progress every ~10 %.
    log : logging.Logger or None
        Logger for progress messages.
    """

    def __init__(
        self,
        file: IO[str],
        interval_steps: int,
        start_step: int,
        timestep_ps: float,
        total_mass_amu: float,
        degrees_of_freedom: int,
        phase: str = "md",
        expected_reports: int | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        if interval_steps <= 0:
            raise ValueError(f"interval_steps must be positive, got {interval_steps}")
        if degrees_of_freedom <= 0:
            raise ValueError(f"degrees_of_freedom must be positive, got {degrees_of_freedom}")
        self._file = file
        self._writer = csv.writer(file, lineterminator="\n")
        self._interval_steps = interval_steps
        self._start_step = start_step
        self._timestep_ps = timestep_ps
        self._total_mass_amu = total_mass_amu
        self._dof = degrees_of_freedom
        self._phase = phase
        self._log_every = max(1, (expected_reports or 10) // 10)
        self._expected_reports = expected_reports
        self._log = log or logging.getLogger(__name__)
        self._last_wall_s = time.perf_counter()
        self._last_step = start_step
        self.rows: list[dict[str, float]] = []
        self._writer.writerow(ENERGY_COLUMNS)
        self._file.flush()

    def describeNextReport(self, simulation: app.Simulation) -> dict[str, Any]:
        """Describe the next report (OpenMM 8 reporter interface).

        Parameters
        ----------
        simulation : openmm.app.Simulation
            The simulation being run.

        Returns
        -------
        dict
            ``steps`` until the next report, ``periodic`` (None: no positions needed)
            and ``include`` (``["energy"]``).
        """
        steps = _steps_to_next_report(
            simulation.currentStep, self._start_step, self._interval_steps
        )
        return {"steps": steps, "periodic": None, "include": ["energy"]}

    def report(self, simulation: app.Simulation, state: openmm.State) -> None:
        """Write one row for ``state``.

        Parameters
        ----------
        simulation : openmm.app.Simulation
            The simulation being run.
        state : openmm.State
            State with energies and box vectors.

        Raises
        ------
        ElectrolyteMDError
            If the energy is not finite (the simulation blew up).
        """
        now_s = time.perf_counter()
        step = simulation.currentStep - self._start_step
        potential_kj_per_mol = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        kinetic_kj_per_mol = state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
        box_nm = np.asarray(state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer))
        volume_nm3 = float(abs(np.linalg.det(box_nm)))
        elapsed_s = now_s - self._last_wall_s
        steps_done = simulation.currentStep - self._last_step
        speed_ns_per_day = (
            steps_done * self._timestep_ps * 1e-3 / (elapsed_s / _SECONDS_PER_DAY)
            if elapsed_s > 0
            else float("nan")
        )
        row = {
            "time_ps": step * self._timestep_ps,
            "step": step,
            "potential_energy_kj_per_mol": potential_kj_per_mol,
            "kinetic_energy_kj_per_mol": kinetic_kj_per_mol,
            "total_energy_kj_per_mol": potential_kj_per_mol + kinetic_kj_per_mol,
            "temperature_kelvin": 2.0
            * kinetic_kj_per_mol
            / (self._dof * _GAS_CONSTANT_KJ_PER_MOL_K),
            "volume_nm3": volume_nm3,
            "density_g_per_cm3": self._total_mass_amu * _G_PER_CM3_PER_AMU_PER_NM3 / volume_nm3,
            "box_a_nm": float(np.linalg.norm(box_nm[0])),
            "box_b_nm": float(np.linalg.norm(box_nm[1])),
            "box_c_nm": float(np.linalg.norm(box_nm[2])),
            "speed_ns_per_day": speed_ns_per_day,
        }
        self._writer.writerow([str(v) if isinstance(v, int) else f"{v:.10g}" for v in row.values()])
        self._file.flush()
        self.rows.append(row)
        self._last_wall_s = now_s
        self._last_step = simulation.currentStep
        if not (math.isfinite(potential_kj_per_mol) and math.isfinite(kinetic_kj_per_mol)):
            raise ElectrolyteMDError(
                f"{self._phase}: energy is not finite at step {step} of the phase "
                f"(potential {potential_kj_per_mol}, kinetic {kinetic_kj_per_mol} kJ/mol); "
                "the simulation is unstable (time step too long, bad contacts, bad parameters?)"
            )
        if len(self.rows) % self._log_every == 0:
            total = f"/{self._expected_reports}" if self._expected_reports else ""
            self._log.info(
                "%s: %.1f ps (row %d%s), T = %.1f K, density = %.4f g/cm3, %.1f ns/day",
                self._phase,
                row["time_ps"],
                len(self.rows),
                total,
                row["temperature_kelvin"],
                row["density_g_per_cm3"],
                speed_ns_per_day,
            )


class UnwrappedDCDReporter:
    """OpenMM reporter writing unwrapped coordinates (``enforcePeriodicBox=False``) to DCD.

    Unlike :class:`openmm.app.DCDReporter` it writes to a file object that the caller
    owns and closes, so the file can be synced and renamed when the phase ends.  Frame
    steps in the DCD header count from ``start_step`` (the first frame is at step
    ``interval_steps``).  Each frame carries the box of that step.

    Parameters
    ----------
    file : binary file object
        Open, writable binary file.
    topology : openmm.app.Topology
        Topology of the system (its box vectors mark the trajectory as periodic).
    timestep_ps : float
        Integration time step.
    interval_steps : int
        Steps between frames.
    start_step : int
        Simulation step at which the phase starts.
    """

    def __init__(
        self,
        file: IO[bytes],
        topology: app.Topology,
        timestep_ps: float,
        interval_steps: int,
        start_step: int,
    ) -> None:
        if interval_steps <= 0:
            raise ValueError(f"interval_steps must be positive, got {interval_steps}")
        self._file = file
        self._topology = topology
        self._timestep_ps = timestep_ps
        self._interval_steps = interval_steps
        self._start_step = start_step
        self._dcd: app.DCDFile | None = None
        self.frames = 0

    def describeNextReport(self, simulation: app.Simulation) -> dict[str, Any]:
        """Describe the next report (OpenMM 8 reporter interface).

        Parameters
        ----------
        simulation : openmm.app.Simulation
            The simulation being run.

        Returns
        -------
        dict
            ``steps`` until the next frame, ``periodic=False`` (unwrapped) and
            ``include=["positions"]``.
        """
        steps = _steps_to_next_report(
            simulation.currentStep, self._start_step, self._interval_steps
        )
        return {"steps": steps, "periodic": False, "include": ["positions"]}

    def report(self, simulation: app.Simulation, state: openmm.State) -> None:
        """Write one frame.

        Parameters
        ----------
        simulation : openmm.app.Simulation
            The simulation being run.
        state : openmm.State
            State with (unwrapped) positions and box vectors.
        """
        if self._dcd is None:
            self._dcd = app.DCDFile(
                self._file,
                self._topology,
                self._timestep_ps * unit.picosecond,
                firstStep=self._interval_steps,
                interval=self._interval_steps,
            )
        self._dcd.writeModel(
            state.getPositions(asNumpy=True), periodicBoxVectors=state.getPeriodicBoxVectors()
        )
        self.frames += 1


# --------------------------------------------------------------------------------------
# Input checks and set-up
# --------------------------------------------------------------------------------------


def _load_inputs(system_xml: Path, topology_pdb: Path) -> tuple[openmm.System, app.PDBFile]:
    for path in (system_xml, topology_pdb):
        if not path.is_file():
            raise FileNotFoundError(f"MD input file not found: {path}")
    try:
        system = openmm.XmlSerializer.deserialize(system_xml.read_text(encoding="utf-8"))
    except Exception as exc:
        raise ValueError(f"{system_xml}: cannot deserialise an OpenMM System: {exc}") from exc
    if not isinstance(system, openmm.System):
        raise ValueError(
            f"{system_xml}: expected a serialised OpenMM System, got {type(system).__name__}"
        )
    try:
        pdb = app.PDBFile(str(topology_pdb))
    except Exception as exc:
        raise ValueError(f"{topology_pdb}: cannot read PDB file: {exc}") from exc
    n_system = system.getNumParticles()
    n_pdb = pdb.topology.getNumAtoms()
    if n_system != n_pdb:
        raise ValueError(
            f"atom count mismatch: {system_xml} has {n_system} particles but "
            f"{topology_pdb} has {n_pdb} atoms"
        )
    if pdb.topology.getPeriodicBoxVectors() is None:
        raise ValueError(f"{topology_pdb}: no periodic box (CRYST1 record) found")
    return system, pdb


def _check_system(system: openmm.System, protocol: MDProtocol, system_xml: Path) -> None:
    if not system.usesPeriodicBoundaryConditions():
        raise ValueError(
            f"{system_xml}: the System does not use periodic boundary conditions; "
            "NPT/NVT bulk MD needs a periodic System (PME)"
        )
    for force in system.getForces():
        if isinstance(force, _BAROSTAT_TYPES):
            raise ValueError(
                f"{system_xml}: the System already contains a {type(force).__name__}; the MD "
                "stage adds its own barostat, so the input System must have none"
            )
    if protocol.timestep_fs <= 1.0:
        return
    if system.getNumConstraints() == 0:
        raise ValueError(
            f"{system_xml}: the System has no constraints, which is unstable with "
            f"MDProtocol.timestep_fs = {protocol.timestep_fs} fs; build it with "
            "constraints=HBonds or use timestep_fs <= 1"
        )
    unconstrained = _count_unconstrained_hydrogen_bonds(system)
    if unconstrained:
        raise ValueError(
            f"{system_xml}: {unconstrained} bond(s) to hydrogen are not constrained, which is "
            f"unstable with MDProtocol.timestep_fs = {protocol.timestep_fs} fs; build the "
            "System with constraints=HBonds or use timestep_fs <= 1"
        )


def _count_unconstrained_hydrogen_bonds(system: openmm.System) -> int:
    """Count harmonic bonds to hydrogen (light particles) that are not constrained."""
    masses_amu = [
        system.getParticleMass(i).value_in_unit(unit.dalton)
        for i in range(system.getNumParticles())
    ]
    constrained = set()
    for i in range(system.getNumConstraints()):
        p1, p2, _ = system.getConstraintParameters(i)
        constrained.add((min(p1, p2), max(p1, p2)))
    count = 0
    for force in system.getForces():
        if not isinstance(force, openmm.HarmonicBondForce):
            continue
        for i in range(force.getNumBonds()):
            p1, p2, _, _ = force.getBondParameters(i)
            light = any(0.0 < masses_amu[p] < _HYDROGEN_MAX_MASS_AMU for p in (p1, p2))
            if light and (min(p1, p2), max(p1, p2)) not in constrained:
                count += 1
    return count


def _degrees_of_freedom(system: openmm.System) -> int:
    """Degrees of freedom as OpenMM's StateDataReporter counts them."""
    massive = [
        system.getParticleMass(i).value_in_unit(unit.dalton) > 0
        for i in range(system.getNumParticles())
    ]
    dof = 3 * sum(massive)
    for i in range(system.getNumConstraints()):
        p1, p2, _ = system.getConstraintParameters(i)
        if massive[p1] or massive[p2]:
            dof -= 1
    if any(isinstance(f, openmm.CMMotionRemover) for f in system.getForces()):
        dof -= 3
    return dof


def _total_mass_amu(system: openmm.System) -> float:
    return float(
        sum(
            system.getParticleMass(i).value_in_unit(unit.dalton)
            for i in range(system.getNumParticles())
        )
    )


def _platform_properties(name: str, protocol: MDProtocol) -> dict[str, str]:
    if name in ("CUDA", "OpenCL"):
        return {"Precision": protocol.precision}
    if name == "CPU" and protocol.threads is not None:
        return {"Threads": str(protocol.threads)}
    return {}


def _available_platforms() -> list[str]:
    return [
        openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())
    ]


def _make_integrator(protocol: MDProtocol, seed: int) -> openmm.LangevinMiddleIntegrator:
    integrator = openmm.LangevinMiddleIntegrator(
        protocol.temperature_kelvin * unit.kelvin,
        protocol.friction_per_ps / unit.picosecond,
        protocol.timestep_ps * unit.picosecond,
    )
    integrator.setRandomNumberSeed(seed)
    return integrator


def _create_simulation(
    topology: app.Topology,
    system: openmm.System,
    protocol: MDProtocol,
    integrator_seed: int,
    log: logging.Logger,
) -> app.Simulation:
    """Create the Simulation on the requested platform (with fallback for ``"auto"``)."""
    auto = protocol.platform == "auto"
    candidates = _AUTO_PLATFORM_ORDER if auto else (protocol.platform,)
    available = _available_platforms()
    failures: list[str] = []
    for name in candidates:
        if name not in available:
            failures.append(f"{name}: not installed")
            log.debug("platform %s is not available", name)
            continue
        platform = openmm.Platform.getPlatformByName(name)
        properties = _platform_properties(name, protocol)
        try:
            # A fresh integrator per try: an integrator can belong to one Context only.
            return app.Simulation(
                topology, system, _make_integrator(protocol, integrator_seed), platform, properties
            )
        except Exception as exc:
            if not auto:
                raise
            failures.append(f"{name}: {exc}")
            log.info("platform %s could not be used (%s); trying the next one", name, exc)
    if auto:
        raise ElectrolyteMDError(
            "no usable OpenMM platform among " + ", ".join(candidates) + ": " + "; ".join(failures)
        )
    raise ValueError(
        f"MDProtocol.platform={protocol.platform!r} is not available in this OpenMM "
        f"installation (available: {', '.join(available)})"
    )


def _platform_info(simulation: app.Simulation) -> dict[str, str]:
    platform = simulation.context.getPlatform()
    info = {"name": platform.getName()}
    for prop in platform.getPropertyNames():
        with contextlib.suppress(Exception):
            info[prop] = platform.getPropertyValue(simulation.context, prop)
    return info


# --------------------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------------------


def _write_pdb(simulation: app.Simulation, path: Path) -> openmm.State:
    """Write the current positions (molecules wrapped into the box) and box to a PDB file."""
    state = simulation.context.getState(positions=True, enforcePeriodicBox=True)
    topology = simulation.topology
    topology.setPeriodicBoxVectors(state.getPeriodicBoxVectors())
    buffer = io.StringIO()
    app.PDBFile.writeFile(topology, state.getPositions(), buffer)
    atomic_write(path, buffer.getvalue())
    return state


def _stats(rows: list[dict[str, float]]) -> dict[str, dict[str, float | int]]:
    out: dict[str, dict[str, float | int]] = {}
    for key in ("temperature_kelvin", "density_g_per_cm3", "volume_nm3"):
        values = np.array([r[key] for r in rows], dtype=float)
        out[key] = {
            "mean": float(values.mean()) if values.size else float("nan"),
            "std": float(values.std(ddof=1)) if values.size > 1 else 0.0,
            "n": int(values.size),
        }
    return out


def _json_safe(value: Any) -> Any:
    """Replace non-finite floats (not valid JSON) with None."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _remove_old_outputs(outputs: MDOutputs) -> None:
    for path in outputs.paths():
        for candidate in (path, _partial_path(path)):
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()


def _run_phase(
    simulation: app.Simulation,
    phase: str,
    n_steps: int,
    protocol: MDProtocol,
    csv_path: Path,
    total_mass_amu: float,
    dof: int,
    log: logging.Logger,
    dcd_path: Path | None = None,
) -> tuple[list[dict[str, float]], float]:
    """Run ``n_steps`` with the energy (and optionally DCD) reporters; return rows, wall s."""
    interval = protocol.report_interval_steps
    start_step = simulation.currentStep
    csv_partial = _partial_path(csv_path)
    dcd_partial = _partial_path(dcd_path) if dcd_path is not None else None
    with contextlib.ExitStack() as stack:
        csv_file = stack.enter_context(open(csv_partial, "w", encoding="utf-8", newline=""))
        energy = EnergyCSVReporter(
            csv_file,
            interval,
            start_step,
            protocol.timestep_ps,
            total_mass_amu,
            dof,
            phase=phase,
            expected_reports=n_steps // interval,
            log=log,
        )
        reporters: list[Any] = [energy]
        dcd_file = None
        dcd: UnwrappedDCDReporter | None = None
        if dcd_partial is not None:
            dcd_file = stack.enter_context(open(dcd_partial, "wb"))
            dcd = UnwrappedDCDReporter(
                dcd_file, simulation.topology, protocol.timestep_ps, interval, start_step
            )
            reporters.append(dcd)
        simulation.reporters[:] = reporters
        t0 = time.perf_counter()
        try:
            simulation.step(n_steps)
        finally:
            simulation.reporters.clear()
        wall_s = time.perf_counter() - t0
        expected_rows = n_steps // interval
        if len(energy.rows) != expected_rows or (dcd is not None and dcd.frames != expected_rows):
            raise ElectrolyteMDError(
                f"{phase}: wrote {len(energy.rows)} energy rows"
                + (f" and {dcd.frames} frames" if dcd is not None else "")
                + f", expected {expected_rows}"
            )
        _finish_stream(csv_file, csv_partial, csv_path)
        if dcd_file is not None and dcd_partial is not None and dcd_path is not None:
            _finish_stream(dcd_file, dcd_partial, dcd_path)
    ns_per_day = n_steps * protocol.timestep_ps * 1e-3 / (wall_s / _SECONDS_PER_DAY)
    log.info(
        "%s: %d steps (%.3g ps) in %.1f s, %.2f ns/day",
        phase,
        n_steps,
        n_steps * protocol.timestep_ps,
        wall_s,
        ns_per_day,
    )
    return energy.rows, wall_s


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def run_md(
    system_xml: Path,
    topology_pdb: Path,
    protocol: MDProtocol,
    out_dir: Path,
    log: logging.Logger | None = None,
) -> MDOutputs:
    """Minimise, equilibrate (NPT) and run production MD of a periodic system.

    Parameters
    ----------
    system_xml : pathlib.Path
        OpenMM ``System`` serialised with ``XmlSerializer`` (periodic, e.g. PME; bonds
        to hydrogen constrained when ``timestep_fs > 1``; no barostat).
    topology_pdb : pathlib.Path
        PDB file with the topology, starting positions and box (CRYST1); atom order
        as in the System.
    protocol : MDProtocol
        Simulation settings.
    out_dir : pathlib.Path
        Output directory (created if missing).  Files written: ``minimized.pdb``,
        ``equil.csv``, ``equil_final.pdb``, ``prod.csv``, ``prod.dcd`` (unwrapped
        coordinates), ``prod_final.pdb``, ``state.xml`` and ``md_summary.json``;
        see the module docstring for conventions.  Earlier outputs with these names
        are deleted first.
    log : logging.Logger or None
        Logger for progress messages; defaults to this module's logger.

    Returns
    -------
    MDOutputs
        Paths of the written files.

    Raises
    ------
    FileNotFoundError
        If an input file does not exist.
    ValueError
        If the inputs are inconsistent (atom counts differ, no box, a barostat already
        in the System, unconstrained bonds to hydrogen with a time step > 1 fs) or the
        requested platform is not installed.
    ElectrolyteMDError
        If no platform can be used (``platform="auto"``) or the simulation becomes
        unstable (non-finite energy).
    """
    log = log or logging.getLogger(__name__)
    t_start = time.perf_counter()
    system_xml = Path(system_xml)
    topology_pdb = Path(topology_pdb)
    out_dir = Path(out_dir)
    system, pdb = _load_inputs(system_xml, topology_pdb)
    _check_system(system, protocol, system_xml)

    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = MDOutputs.in_directory(out_dir)
    _remove_old_outputs(outputs)

    seeds = protocol.openmm_seeds()
    box_vectors = pdb.topology.getPeriodicBoxVectors()
    system.setDefaultPeriodicBoxVectors(*box_vectors)
    barostat = openmm.MonteCarloBarostat(
        protocol.pressure_bar * unit.bar,
        protocol.temperature_kelvin * unit.kelvin,
        protocol.barostat_interval_steps,
    )
    barostat.setRandomNumberSeed(seeds["barostat"])
    barostat_index = system.addForce(barostat)
    dof = _degrees_of_freedom(system)
    total_mass_amu = _total_mass_amu(system)
    n_atoms = system.getNumParticles()

    simulation = _create_simulation(pdb.topology, system, protocol, seeds["integrator"], log)
    platform_info = _platform_info(simulation)
    log.info(
        "MD of %d atoms (%d constraints, %d degrees of freedom) on platform %s %s",
        n_atoms,
        system.getNumConstraints(),
        dof,
        platform_info["name"],
        {k: v for k, v in platform_info.items() if k in ("Precision", "Threads", "DeviceIndex")},
    )
    simulation.context.setPeriodicBoxVectors(*box_vectors)
    simulation.context.setPositions(pdb.positions)

    # --- minimisation ---
    log.info(
        "minimising energy (tolerance %g kJ/mol/nm, max iterations %s)",
        protocol.minimize_tolerance_kj_per_mol_nm,
        protocol.minimize_max_iterations or "unlimited",
    )
    initial_energy = _potential_energy_kj_per_mol(simulation)
    t0 = time.perf_counter()
    simulation.minimizeEnergy(
        tolerance=protocol.minimize_tolerance_kj_per_mol_nm
        * unit.kilojoule_per_mole
        / unit.nanometer,
        maxIterations=protocol.minimize_max_iterations,
    )
    minimize_wall_s = time.perf_counter() - t0
    minimized_energy = _potential_energy_kj_per_mol(simulation)
    if not math.isfinite(minimized_energy):
        raise ElectrolyteMDError(
            f"energy after minimisation is not finite ({minimized_energy}); check "
            f"{topology_pdb} for overlapping atoms and {system_xml} for bad parameters"
        )
    log.info(
        "minimised potential energy: %.6g -> %.6g kJ/mol in %.1f s",
        initial_energy,
        minimized_energy,
        minimize_wall_s,
    )
    _write_pdb(simulation, outputs.minimized_pdb)

    # --- NPT equilibration ---
    simulation.context.setVelocitiesToTemperature(
        protocol.temperature_kelvin * unit.kelvin, seeds["velocities"]
    )
    log.info(
        "equilibration: NPT, %g ps (%d steps) at %g K, %g bar",
        protocol.equilibration_ps,
        protocol.equilibration_steps,
        protocol.temperature_kelvin,
        protocol.pressure_bar,
    )
    equil_rows, equil_wall_s = _run_phase(
        simulation,
        "equilibration",
        protocol.equilibration_steps,
        protocol,
        outputs.equil_csv,
        total_mass_amu,
        dof,
        log,
    )
    _write_pdb(simulation, outputs.equil_final_pdb)

    # --- production ---
    if protocol.production_ensemble == "NVT":
        # Frequency 0 disables the barostat; a Context only sees a changed Force after
        # reinitialize, which keeps positions, velocities, box, time, step count and
        # random-number state (it goes through an internal checkpoint).
        system.getForce(barostat_index).setFrequency(0)
        simulation.context.reinitialize(preserveState=True)
    log.info(
        "production: %s, %g ps (%d steps)",
        protocol.production_ensemble,
        protocol.production_ps,
        protocol.production_steps,
    )
    prod_rows, prod_wall_s = _run_phase(
        simulation,
        "production",
        protocol.production_steps,
        protocol,
        outputs.prod_csv,
        total_mass_amu,
        dof,
        log,
        dcd_path=outputs.prod_dcd,
    )
    final_state = _write_pdb(simulation, outputs.prod_final_pdb)
    state = simulation.context.getState(
        positions=True, velocities=True, parameters=True, enforcePeriodicBox=False
    )
    atomic_write(outputs.state_xml, openmm.XmlSerializer.serialize(state))

    prod_ns = protocol.production_steps * protocol.timestep_ps * 1e-3
    half_time_ps = 0.5 * protocol.equilibration_ps
    equil_last_half = [r for r in equil_rows if r["time_ps"] > half_time_ps + 1e-9]
    box_nm = np.asarray(
        final_state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer)
    )
    summary = {
        "platform": platform_info["name"],
        "platform_properties": platform_info,
        "openmm_version": openmm.__version__,
        "python_version": _platform_module.python_version(),
        "n_atoms": n_atoms,
        "n_constraints": system.getNumConstraints(),
        "degrees_of_freedom": dof,
        "total_mass_amu": total_mass_amu,
        "seed": protocol.seed,
        "openmm_seeds": seeds,
        "steps": {
            "equilibration": protocol.equilibration_steps,
            "production": protocol.production_steps,
            "report_interval": protocol.report_interval_steps,
            "total": simulation.currentStep,
        },
        "wall_seconds": {
            "minimization": minimize_wall_s,
            "equilibration": equil_wall_s,
            "production": prod_wall_s,
            "total": time.perf_counter() - t_start,
        },
        "ns_per_day": prod_ns / (prod_wall_s / _SECONDS_PER_DAY),
        "equilibration_ns_per_day": protocol.equilibration_steps
        * protocol.timestep_ps
        * 1e-3
        / (equil_wall_s / _SECONDS_PER_DAY),
        "potential_energy_kj_per_mol": {
            "initial": initial_energy,
            "minimized": minimized_energy,
        },
        "production": _stats(prod_rows),
        "equilibration_last_half": _stats(equil_last_half),
        "final_box_vectors_nm": box_nm.tolist(),
        "trajectory": {
            "file": outputs.prod_dcd.name,
            "frames": len(prod_rows),
            "frame_interval_ps": protocol.report_interval_ps,
            "unwrapped": True,
        },
        "protocol": dataclasses.asdict(protocol),
        "outputs": {
            field: path.name for field, path in zip(OUTPUT_FILE_NAMES, outputs.paths(), strict=True)
        },
    }
    atomic_write(
        outputs.summary_json, json.dumps(_json_safe(summary), indent=2, allow_nan=False) + "\n"
    )
    log.info(
        "MD done: production %.2f ns/day; <T> = %.1f K, <density> = %.4f g/cm3",
        summary["ns_per_day"],
        summary["production"]["temperature_kelvin"]["mean"],
        summary["production"]["density_g_per_cm3"]["mean"],
    )
    return outputs


def _potential_energy_kj_per_mol(simulation: app.Simulation) -> float:
    state = simulation.context.getState(energy=True)
    return float(state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))


def read_energies(csv_path: Path | str) -> pd.DataFrame:
    """Read an energy file (``equil.csv`` or ``prod.csv``) written by :func:`run_md`.

    Parameters
    ----------
    csv_path : pathlib.Path or str
        Path of the CSV file.

    Returns
    -------
    pandas.DataFrame
        One row per report, columns :data:`ENERGY_COLUMNS` (``step`` as int64, the
        others as float64).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the columns are not :data:`ENERGY_COLUMNS`.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"energy file not found: {csv_path}")
    frame = pd.read_csv(csv_path)
    if tuple(frame.columns) != ENERGY_COLUMNS:
        raise ValueError(
            f"{csv_path}: unexpected columns {list(frame.columns)}; expected {list(ENERGY_COLUMNS)}"
        )
    dtypes = {c: ("int64" if c == "step" else "float64") for c in ENERGY_COLUMNS}
    return frame.astype(dtypes)
