"""Running the MD protocol with checkpoints: :func:`run_md`."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import logging
import math
import os
import platform as _platform_module
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import openmm
from openmm import app, unit

from electrolyte_md.errors import AnalysisError, MDBlowUpError, MDInterruptedError
from electrolyte_md.io import atomic_copy, atomic_write, json_float, write_json
from electrolyte_md.md.criteria import (
    ION_CONTACT_ANGSTROM,
    centre_counts_of_frame,
    equilibration_criteria,
    ion_contacts_per_cation,
    ionic_molecules,
    select_atoms,
    temperature_check,
)
from electrolyte_md.md.files import DCDWriter, EnergyCSVWriter, RestartStore, read_energies
from electrolyte_md.md.protocol import MDProtocol
from electrolyte_md.md.system import (
    check_system,
    create_simulation,
    degrees_of_freedom,
    load_inputs,
    platform_info,
    pme_parameters,
    prepare_for_md,
    total_mass_amu,
)
from electrolyte_md.md.walltime import Deadline, StopSignals
from electrolyte_md.timeseries import analyze_series, precise_enough, with_site_spread

__all__ = [
    "OUTPUT_FILE_NAMES",
    "RESTART_DIR_NAME",
    "MDOutputs",
    "run_md",
]

#: File names written by :func:`run_md` into its output directory.
OUTPUT_FILE_NAMES: dict[str, str] = {
    "minimized_pdb": "minimized.pdb",
    "decorrelation_csv": "decorrelation.csv",
    "heat_csv": "heat.csv",
    "equil_csv": "equil.csv",
    "equil_final_pdb": "equil_final.pdb",
    "prod_csv": "prod.csv",
    "prod_dcd": "prod.dcd",
    "prod_final_pdb": "prod_final.pdb",
    "state_xml": "state.xml",
    "summary_json": "md_summary.json",
}
#: Name of the restart directory inside the output directory (never a workflow output).
RESTART_DIR_NAME = "restart"
PHASES = ("decorrelation", "heating", "equilibration", "production")
_PHASE_CSV = {
    "decorrelation": "decorrelation.csv",
    "heating": "heat.csv",
    "equilibration": "equil.csv",
    "production": "prod.csv",
}
_SECONDS_PER_DAY = 86400.0
#: A box whose volume leaves [1/2, 2] times the starting volume has collapsed or exploded.
_VOLUME_RATIO_LIMITS = (0.5, 2.0)
#: A coordination target keeps each centre's counts summed over blocks of this many
#: reports; its between-centre error starts at the block holding the equilibrated start.
TARGET_SITE_BLOCK_REPORTS = 10


@dataclass(frozen=True)
class MDOutputs:
    """Paths of the files written by :func:`run_md` (all in the same directory)."""

    minimized_pdb: Path
    decorrelation_csv: Path
    heat_csv: Path
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
# Small helpers
# --------------------------------------------------------------------------------------


def _pdb_text(simulation: app.Simulation) -> str:
    """Current positions (molecules wrapped into the box) and box as PDB text."""
    state = simulation.context.getState(positions=True, enforcePeriodicBox=True)
    topology = simulation.topology
    topology.setPeriodicBoxVectors(state.getPeriodicBoxVectors())
    buffer = io.StringIO()
    app.PDBFile.writeFile(topology, state.getPositions(), buffer)
    return buffer.getvalue()


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


#: Production series given an equilibrated region in ``md_summary.json``.
SUMMARY_SERIES = ("temperature_kelvin", "density_g_per_cm3", "potential_energy_kj_per_mol")


def _series_statistics(prod: Any) -> dict[str, dict[str, float | int] | None]:
    """:func:`~electrolyte_md.timeseries.analyze_series` of each :data:`SUMMARY_SERIES`
    of the production table (None for a series too short to analyse)."""
    out: dict[str, dict[str, float | int] | None] = {}
    for column in SUMMARY_SERIES:
        try:
            stats = analyze_series(
                prod[column].to_numpy(dtype=float), prod["time_ps"].to_numpy(dtype=float)
            )
        except AnalysisError:
            out[column] = None
        else:
            out[column] = stats.as_dict()
    return out


def _publish(source: Path, target: Path) -> None:
    """Give ``target`` the content of ``source`` atomically (hard link if possible)."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    os.unlink(tmp)
    try:
        os.link(source, tmp)
        os.replace(tmp, target)
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        atomic_copy(source, target)


class _IonCharges:
    """Switches the charges of the ions (molecules with a net charge) off and on.

    Only the per-particle charges of the ``NonbondedForce`` change; its exceptions (the
    scaled 1-4 pairs inside a molecule) keep their charge products.  The charges are set
    in the System and in the Context, so a ``reinitialize`` keeps the current choice.
    """

    def __init__(self, system: openmm.System, molecules: list[list[int]]) -> None:
        forces = [f for f in system.getForces() if isinstance(f, openmm.NonbondedForce)]
        self.force = forces[0] if forces else None
        charges = (
            [
                self.force.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
                for i in range(system.getNumParticles())
            ]
            if self.force is not None
            else [0.0] * system.getNumParticles()
        )
        self.cations, self.anions = ionic_molecules(molecules, charges)
        self.atoms = sorted(i for m in self.cations + self.anions for i in m)
        self.original = (
            {i: self.force.getParticleParameters(i) for i in self.atoms}
            if self.force is not None
            else {}
        )

    def set(self, context: openmm.Context, on: bool) -> None:
        """Give the ions their charges (``on``) or none, in the System and ``context``."""
        if self.force is None or not self.atoms:
            return
        for i, (charge, sigma, epsilon) in self.original.items():
            self.force.setParticleParameters(i, charge if on else 0.0 * charge, sigma, epsilon)
        self.force.updateParametersInContext(context)

    def contacts(self, state: openmm.State) -> float:
        """Mean number of anions in contact with a cation in ``state`` (NaN without ions)."""
        positions = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        box = state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer)
        return ion_contacts_per_cation(positions, box, self.cations, self.anions)


def _target_atoms(
    protocol: MDProtocol, pdb: app.PDBFile, topology_pdb: Path
) -> tuple[list[int], list[int]] | None:
    """Centre and ligand atoms of a coordination target (None for other targets)."""
    target = protocol.production_target
    if target is None or target.observable != "coordination":
        return None
    assert target.center is not None and target.ligand is not None
    try:
        return select_atoms(pdb.topology, target.center), select_atoms(pdb.topology, target.ligand)
    except ValueError as error:
        raise ValueError(
            f"MDProtocol.production_target ({target.label}) on {topology_pdb}: {error}"
        ) from error


def _molecules(system: openmm.System) -> list[list[int]]:
    """Atom index lists of the molecules: connected by bonds or constraints, as OpenMM's
    ``Context.getMolecules`` counts them (without needing a Context)."""
    parent = list(range(system.getNumParticles()))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    pairs = [system.getConstraintParameters(i)[:2] for i in range(system.getNumConstraints())]
    for force in system.getForces():
        if isinstance(force, openmm.HarmonicBondForce):
            pairs += [force.getBondParameters(i)[:2] for i in range(force.getNumBonds())]
    for a, b in pairs:
        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for i in range(len(parent)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _fingerprint(input_hash: str, protocol: MDProtocol) -> str:
    return hashlib.sha256(f"{input_hash}:{protocol.physics_fingerprint()}".encode()).hexdigest()


def _scale_to_volume(context: openmm.Context, target_volume_nm3: float) -> float:
    """Scale box and molecule centres isotropically to ``target_volume_nm3``; return factor."""
    state = context.getState(positions=True, enforcePeriodicBox=False)
    box = np.asarray(state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer))
    positions = np.asarray(state.getPositions(asNumpy=True).value_in_unit(unit.nanometer))
    factor = (target_volume_nm3 / abs(np.linalg.det(box))) ** (1.0 / 3.0)
    for molecule in context.getMolecules():
        atoms = list(molecule)
        centre = positions[atoms].mean(axis=0)
        positions[atoms] += centre * (factor - 1.0)
    context.setPeriodicBoxVectors(*(openmm.Vec3(*row) for row in box * factor))
    context.setPositions(positions)
    return float(factor)


# --------------------------------------------------------------------------------------
# One attempt (a protocol run from a checkpoint or from the start)
# --------------------------------------------------------------------------------------


class _Attempt:
    """Runs (or continues) one protocol in the restart directory until it is done."""

    def __init__(
        self,
        *,
        name: str,
        system: openmm.System,
        pdb: app.PDBFile,
        barostat_index: int,
        protocol: MDProtocol,
        store: RestartStore,
        progress: dict[str, Any] | None,
        fingerprint: str,
        extra: dict[str, Any],
        deadline: Deadline,
        signals: StopSignals,
        log: logging.Logger,
        input_names: tuple[str, str],
        ions: _IonCharges,
        target_atoms: tuple[list[int], list[int]] | None,
    ) -> None:
        self.name = name
        self.ions = ions
        self.target = protocol.production_target
        self.target_atoms = target_atoms
        self.system = system
        self.pdb = pdb
        self.barostat_index = barostat_index
        self.protocol = protocol
        self.store = store
        self.fingerprint = fingerprint
        self.deadline = deadline
        self.signals = signals
        self.log = log
        self.input_names = input_names
        self.dof = degrees_of_freedom(system)
        self.total_mass = total_mass_amu(system)
        self.reference_volume = float(
            abs(
                np.linalg.det(
                    np.asarray(
                        [
                            v.value_in_unit(unit.nanometer)
                            for v in pdb.topology.getPeriodicBoxVectors()
                        ]
                    )
                )
            )
        )
        self.t_invocation = time.perf_counter()
        if progress is None:
            progress = {
                "format": 1,
                "name": name,
                "fingerprint": fingerprint,
                "timestep_fs": protocol.timestep_fs,
                "phase": "minimization",
                "phase_step": 0,
                "files": {},
                "totals": {p: {"steps": 0, "wall_s": 0.0} for p in PHASES},
                "wall_total_s": 0.0,
                "invocations": [],
                **extra,
            }
        self.progress = progress
        self.wall_before = float(progress["wall_total_s"])
        self.simulation: app.Simulation | None = None
        self.writers: dict[str, EnergyCSVWriter | DCDWriter] = {}
        self.last_checkpoint_wall = time.perf_counter()

    # ------------------------------------------------------------------ helpers
    @property
    def sim(self) -> app.Simulation:
        assert self.simulation is not None
        return self.simulation

    def _phase_steps(self, phase: str) -> tuple[int, int]:
        """(minimum, maximum) number of steps of a phase."""
        p = self.protocol
        if phase == "decorrelation":
            return p.decorrelation_steps, p.decorrelation_steps
        if phase == "heating":
            return p.heating_steps, p.heating_max_steps
        if phase == "equilibration":
            return p.equilibration_steps, p.equilibration_max_steps
        return p.production_steps, p.production_max_steps

    def _barostat_frequency(self, phase: str) -> int:
        npt = phase == "equilibration" or (
            phase == "production" and self.protocol.production_ensemble == "NPT"
        )
        return self.protocol.barostat_interval_steps if npt else 0

    def _set_barostat(self, phase: str) -> None:
        barostat = self.system.getForce(self.barostat_index)
        barostat.setFrequency(self._barostat_frequency(phase))
        barostat.setDefaultTemperature(self.protocol.temperature_kelvin * unit.kelvin)

    def checkpoint(self, phase: str, phase_step: int) -> None:
        """Sync the open files and save the state and progress record."""
        for file_name, writer in self.writers.items():
            self.progress["files"][file_name] = writer.sync()
        state = self.sim.context.getState(
            positions=True, velocities=True, parameters=True, enforcePeriodicBox=False
        )
        self.progress.update(
            phase=phase,
            phase_step=phase_step,
            step=int(state.getStepCount()),
            time_ps=float(state.getTime().value_in_unit(unit.picosecond)),
            wall_total_s=self.wall_before + time.perf_counter() - self.t_invocation,
        )
        self.progress["state_file"] = self.store.save(state, self.progress)
        self.last_checkpoint_wall = time.perf_counter()
        self.log.debug(
            "checkpoint: %s step %d (run step %d)", phase, phase_step, state.getStepCount()
        )

    def blow_up(
        self, phase: str, phase_step: int, reason: str, first_step: int | None = None
    ) -> MDBlowUpError:
        where = (
            f"at step {phase_step}"
            if first_step is None
            else f"at step {phase_step} (between steps {first_step} and {phase_step})"
        )
        return MDBlowUpError(
            f"MD of {self.name} blew up in stage {phase} {where} of the stage "
            f"(time step {self.protocol.timestep_fs} fs): {reason}. "
            f"Inputs: {self.input_names[0]}, {self.input_names[1]}; the last good state "
            f"is in {self.store.directory}. A shorter time step (blowup_retry_timestep_fs), "
            "a longer minimisation or a check of the structure and parameters may help.",
            system=self.name,
            stage=phase,
            step=phase_step,
        )

    def _check_state(self, state: openmm.State, phase: str, phase_step: int) -> None:
        potential = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        kinetic = state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
        if not (math.isfinite(potential) and math.isfinite(kinetic)):
            raise self.blow_up(
                phase,
                phase_step,
                f"energy is not finite (potential {potential}, kinetic {kinetic})",
            )
        positions = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        if not np.isfinite(positions).all():
            raise self.blow_up(phase, phase_step, "coordinates are not finite")
        box = np.asarray(state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer))
        ratio = abs(np.linalg.det(box)) / self.reference_volume
        low, high = _VOLUME_RATIO_LIMITS
        if not low <= ratio <= high:
            raise self.blow_up(
                phase,
                phase_step,
                f"the box volume is {ratio:.3g} times the starting volume (box collapse or "
                "explosion)",
            )

    # ------------------------------------------------------------------ stages
    def _start_simulation(self) -> None:
        phase = self.progress["phase"]
        self._set_barostat("heating" if phase == "minimization" else phase)
        if phase == "minimization":
            seeds = self.protocol.openmm_seeds()
        else:
            seeds = self.protocol.resume_seeds(int(self.progress["step"]))
        self.system.getForce(self.barostat_index).setRandomNumberSeed(seeds["barostat"])
        self.simulation = create_simulation(
            self.pdb.topology, self.system, self.protocol, seeds["integrator"], self.log
        )
        uncharged = phase == "decorrelation" or (
            phase == "minimization" and self.protocol.minimize_ions_uncharged
        )
        self.ions.set(self.sim.context, on=not uncharged)
        info = platform_info(self.sim)
        self.platform = info
        self.progress["invocations"].append(
            {
                "platform": info["name"],
                "openmm_version": openmm.__version__,
                "phase": phase,
                "phase_step": int(self.progress["phase_step"]),
            }
        )
        self.log.info(
            "MD of %s: %d atoms (%d constraints, %d degrees of freedom), dt = %g fs, on "
            "platform %s %s",
            self.name,
            self.system.getNumParticles(),
            self.system.getNumConstraints(),
            self.dof,
            self.protocol.timestep_fs,
            info["name"],
            {k: v for k, v in info.items() if k in ("Precision", "Threads", "DeviceIndex")},
        )

    def _minimize(self) -> None:
        p = self.protocol
        context = self.sim.context
        context.setPeriodicBoxVectors(*self.pdb.topology.getPeriodicBoxVectors())
        context.setPositions(self.pdb.positions)
        self.log.info(
            "minimising energy (tolerance %g kJ/mol/nm, max iterations %s)",
            p.minimize_tolerance_kj_per_mol_nm,
            p.minimize_max_iterations or "unlimited",
        )
        packed = self.ions.contacts(context.getState(positions=True))
        initial = _potential(self.sim)
        if p.minimize_ions_uncharged and self.ions.atoms:
            self.log.info(
                "minimising with the charges of the %d ions (%d atoms) switched off",
                len(self.ions.cations) + len(self.ions.anions),
                len(self.ions.atoms),
            )
        t0 = time.perf_counter()
        self.sim.minimizeEnergy(
            tolerance=p.minimize_tolerance_kj_per_mol_nm * unit.kilojoule_per_mole / unit.nanometer,
            maxIterations=p.minimize_max_iterations,
        )
        wall = time.perf_counter() - t0
        # the energy of the minimised structure with the full (charged) Hamiltonian
        self.ions.set(context, on=True)
        final = _potential(self.sim)
        if not math.isfinite(final):
            raise self.blow_up(
                "minimization",
                0,
                f"energy after minimisation is not finite ({final}); check "
                f"{self.input_names[1]} for overlapping atoms and {self.input_names[0]} for "
                "bad parameters",
            )
        self.log.info(
            "minimised potential energy: %.6g -> %.6g kJ/mol in %.1f s", initial, final, wall
        )
        atomic_write(self.store.directory / "minimized.pdb", _pdb_text(self.sim))
        self.progress["minimization"] = {
            "initial_kj_per_mol": initial,
            "minimized_kj_per_mol": final,
            "ions_uncharged": bool(p.minimize_ions_uncharged and self.ions.atoms),
            "wall_s": wall,
        }
        self.progress["ion_contacts"] = {
            "packed": packed,
            "minimized": self.ions.contacts(context.getState(positions=True)),
        }
        if p.decorrelation_steps:
            self.ions.set(context, on=False)
            start_t = p.decorrelation_kelvin
        else:
            start_t = p.heating_start_kelvin if p.heating_steps else p.temperature_kelvin
        context.setVelocitiesToTemperature(start_t * unit.kelvin, p.openmm_seeds()["velocities"])
        self.checkpoint("decorrelation", 0)

    def _open_writers(self, phase: str) -> None:
        files = self.progress["files"]
        csv_name = _PHASE_CSV[phase]
        directory = self.store.directory
        self.writers = {
            csv_name: EnergyCSVWriter(
                directory / csv_name,
                self.protocol.timestep_ps,
                self.total_mass,
                self.dof,
                resume_bytes=files[csv_name]["bytes"] if csv_name in files else None,
            )
        }
        if phase == "production":
            self.writers["prod.dcd"] = DCDWriter(
                directory / "prod.dcd",
                self.sim.topology,
                self.protocol.timestep_ps,
                self.protocol.report_interval_steps,
                resume=files.get("prod.dcd"),
            )

    def _close_writers(self) -> None:
        for file_name, writer in self.writers.items():
            self.progress["files"][file_name] = writer.sync()
            writer.close()
        self.writers = {}

    def _equilibration_check(self, rows: list[dict[str, float]]) -> dict[str, Any]:
        p = self.protocol
        return equilibration_criteria(
            rows,
            report_interval_ps=p.report_interval_ps,
            window_ps=p.density_window_ps,
            density_tolerance=p.density_tolerance,
            energy_tolerance_sd=p.energy_tolerance_sd,
            target_kelvin=p.temperature_kelvin,
            temperature_tolerance_kelvin=p.temperature_tolerance_kelvin,
            degrees_of_freedom=self.dof,
        )

    def _heating_check(
        self, rows: list[dict[str, float]], window_ps: float | None = None
    ) -> dict[str, Any]:
        p = self.protocol
        return temperature_check(
            [r["temperature_kelvin"] for r in rows],
            p.report_interval_ps,
            p.temperature_window_ps if window_ps is None else window_ps,
            p.temperature_kelvin,
            p.temperature_tolerance_kelvin,
            self.dof,
        )

    def _phase_done(self, phase: str, phase_step: int, rows: list[dict[str, float]]) -> bool:
        minimum, maximum = self._phase_steps(phase)
        if phase_step >= maximum:
            return True
        if phase_step < minimum:
            return False
        if phase == "heating":
            # held at the target after the ramp: done once a window's mean is there
            return bool(self._heating_check(rows)["passed"])
        if phase == "production":
            if self.target is None or (phase_step - minimum) % _chunk_steps(self.protocol):
                return False
            return bool(self._target_check(phase_step)["met"])
        if phase != "equilibration" or phase_step % self.protocol.density_window_steps:
            return False
        check = self._equilibration_check(rows)
        self.log.info(
            "equilibration at %.1f ps: %s: %s",
            phase_step * self.protocol.timestep_ps,
            _criteria_text(check["criteria"]),
            "converged" if check["converged"] else "continuing",
        )
        return bool(check["converged"])

    def _record_target(self, state: openmm.State, row: dict[str, float]) -> None:
        """Append this report's value of the production target's observable."""
        assert self.target is not None
        if self.target.observable == "density":
            value = float(row["density_g_per_cm3"])
        else:
            assert self.target_atoms is not None and self.target.cutoff_angstrom is not None
            counts = centre_counts_of_frame(
                state.getPositions(asNumpy=True).value_in_unit(unit.nanometer),
                state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer),
                *self.target_atoms,
                self.target.cutoff_angstrom,
            )
            value = float(counts.mean())
            # each centre's counts, summed per block of reports: what the between-centre
            # error needs, at a size that does not grow with the centres times the reports
            blocks = self.progress.setdefault("target_site_blocks", {"sums": [], "n": []})
            if not blocks["n"] or blocks["n"][-1] >= TARGET_SITE_BLOCK_REPORTS:
                blocks["sums"].append([0] * len(counts))
                blocks["n"].append(0)
            last = blocks["sums"][-1]
            blocks["sums"][-1] = [int(a + b) for a, b in zip(last, counts, strict=True)]
            blocks["n"][-1] += 1
        self.progress.setdefault("target_series", []).append(value)

    def _target_site_means(self, first_report: int) -> np.ndarray | None:
        """Each centre's mean count from the block holding report ``first_report`` on
        (None for a density target)."""
        blocks = self.progress.get("target_site_blocks")
        if not blocks or not blocks["n"]:
            return None
        first = min(first_report // TARGET_SITE_BLOCK_REPORTS, len(blocks["n"]) - 1)
        sums = np.asarray(blocks["sums"][first:], dtype=float).sum(axis=0)
        return sums / float(sum(blocks["n"][first:]))

    def _target_check(self, phase_step: int) -> dict[str, Any]:
        """Analyse the target's series so far; record and log the check."""
        assert self.target is not None
        p = self.protocol
        values = np.asarray(self.progress.get("target_series", []), dtype=float)
        times = p.report_interval_ps * np.arange(1, len(values) + 1)
        check: dict[str, Any] = {"production_ps": phase_step * p.timestep_ps, "met": False}
        try:
            stats = analyze_series(values, times, name=self.target.label)
        except AnalysisError as error:
            check["reason"] = str(error)
        else:
            site_means = self._target_site_means(stats.equilibration_index)
            if site_means is not None:
                stats = with_site_spread(stats, site_means)
            check |= {
                "mean": stats.mean,
                "standard_error": stats.standard_error,
                "standard_error_time": stats.standard_error_time,
                "standard_error_sites": json_float(stats.standard_error_sites),
                "n_sites": stats.n_sites,
                "drift_p": stats.drift_p,
                "discarded_ps": stats.discarded_time,
                "statistical_inefficiency": stats.statistical_inefficiency,
                "n_effective": stats.n_effective,
                "used_fraction": stats.used_fraction,
                "fluctuates": stats.fluctuates,
            }
            check["met"] = precise_enough(stats, self.target.standard_error)
            self.log.info(
                "production at %g ps: %s = %.4g +- %.2g (target +- %.2g), drift p = %.3g, "
                "%g ps discarded: %s",
                check["production_ps"],
                self.target.label,
                stats.mean,
                stats.standard_error,
                self.target.standard_error,
                stats.drift_p,
                stats.discarded_time,
                "target met" if check["met"] else "continuing",
            )
        checks = [
            c
            for c in self.progress.setdefault("target_checks", [])
            if c["production_ps"] != check["production_ps"]  # a continuation checks again
        ]
        self.progress["target_checks"] = checks + [check]
        return check

    def _finish_production(self, phase_step: int) -> None:
        assert self.target is not None
        p = self.protocol
        length_ps = phase_step * p.timestep_ps
        checks = self.progress.get("target_checks", [])
        if not checks or checks[-1]["production_ps"] != length_ps:
            self._target_check(phase_step)  # at the maximum: the whole production
        checks = self.progress["target_checks"]
        last = checks[-1]
        met = bool(last["met"])
        record = {
            **dataclasses.asdict(self.target),
            "met": met,
            "ended_by": "target met" if met else "maximum length",
            "length_ps": length_ps,
            "n_values": len(self.progress.get("target_series", [])),
            "min_ps": p.production_ps,
            "final": last,
            "checks": checks,
        }
        if not met:
            self.log.warning(
                "production of %s reached its maximum length (%g ps) without meeting the "
                "target: %s standard error %s (target %g), drift p = %s; its numbers are "
                "flagged",
                self.name,
                p.production_target.max_ps if p.production_target else float("nan"),
                self.target.label,
                last.get("standard_error", "not computable"),
                self.target.standard_error,
                last.get("drift_p", "not computable"),
            )
        self.progress["production_target"] = record

    def _remaining_steps(self, phase: str, phase_step: int) -> tuple[int, int]:
        """Steps left in this phase and in the whole run (equilibration at its maximum)."""
        _, maximum = self._phase_steps(phase)
        in_phase = max(0, maximum - phase_step)
        later = sum(self._phase_steps(q)[1] for q in PHASES[PHASES.index(phase) + 1 :])
        return in_phase, in_phase + later

    def _log_progress(self, phase: str, phase_step: int, steps: int, wall_s: float) -> None:
        p = self.protocol
        steps_per_s = steps / wall_s if wall_s > 0 else float("nan")
        ns_per_day = steps_per_s * p.timestep_ps * 1e-3 * _SECONDS_PER_DAY
        in_phase, in_run = self._remaining_steps(phase, phase_step)
        minimum, maximum = self._phase_steps(phase)
        open_ended = minimum != maximum
        self.log.info(
            "%s: %.1f of %s%.1f ps (%.0f %%), %.2f ns/day, about %s left in the stage, "
            "%s%s left in the run",
            phase,
            phase_step * p.timestep_ps,
            "at most " if open_ended else "",
            maximum * p.timestep_ps,
            100.0 * phase_step / maximum if maximum else 100.0,
            ns_per_day,
            _duration(in_phase / steps_per_s),
            "at most " if open_ended or self._remaining_open(phase) else "",
            _duration(in_run / steps_per_s),
        )

    def _remaining_open(self, phase: str) -> bool:
        """Whether a stage after ``phase`` may end before its maximum."""
        later = PHASES[PHASES.index(phase) + 1 :]
        return any(min_ != max_ for min_, max_ in map(self._phase_steps, later))

    def _run_phase(self, phase: str) -> None:
        p = self.protocol
        phase_step = int(self.progress["phase_step"]) if self.progress["phase"] == phase else 0
        self._open_writers(phase)
        csv_writer = self.writers[_PHASE_CSV[phase]]
        assert isinstance(csv_writer, EnergyCSVWriter)
        dcd_writer = self.writers.get("prod.dcd")
        totals = self.progress["totals"][phase]
        minimum, maximum = self._phase_steps(phase)
        if phase_step == 0:
            self.log.info(
                "%s: %s, %g%s ps at %g K%s",
                phase,
                "NVT" if self._barostat_frequency(phase) == 0 else "NPT",
                minimum * p.timestep_ps,
                f" to {maximum * p.timestep_ps:g}" if maximum != minimum else "",
                p.decorrelation_kelvin if phase == "decorrelation" else p.temperature_kelvin,
                f", {p.pressure_bar:g} bar"
                if self._barostat_frequency(phase)
                else (", ion charges off" if phase == "decorrelation" else ""),
            )
        else:
            self.log.info("%s: continuing at %.1f ps", phase, phase_step * p.timestep_ps)
        try:
            phase_step = self._loop(phase, phase_step, csv_writer, dcd_writer, totals)
        except BaseException:
            for writer in self.writers.values():
                writer.close()
            self.writers = {}
            raise
        self._close_writers()
        if totals["wall_s"] > 0:
            self.log.info(
                "%s done: %d steps (%.4g ps), %.2f ns/day",
                phase,
                phase_step,
                phase_step * p.timestep_ps,
                totals["steps"] * p.timestep_ps * 1e-3 / (totals["wall_s"] / _SECONDS_PER_DAY),
            )
        self.progress["phase_lengths"] = dict(
            self.progress.get("phase_lengths", {}), **{phase: phase_step}
        )
        if phase == "heating":
            self._finish_heating(csv_writer.rows, phase_step)
        if phase == "equilibration":
            self._finish_equilibration(csv_writer.rows, phase_step)
        if phase == "production" and self.target is not None:
            self._finish_production(phase_step)

    def _loop(
        self,
        phase: str,
        phase_step: int,
        csv_writer: EnergyCSVWriter,
        dcd_writer: EnergyCSVWriter | DCDWriter | None,
        totals: dict[str, Any],
    ) -> int:
        """Step in chunks of one report interval until the phase is done; return its length."""
        p = self.protocol
        interval = p.report_interval_steps
        minimum, _ = self._phase_steps(phase)
        integrator = self.sim.integrator
        n_heating_chunks = max(1, minimum // interval)
        log_steps, log_wall = 0, 0.0
        last_log = time.perf_counter()
        # elapsed_s: the whole of each chunk (integration, reporters, checkpoints,
        # logging); wall_s: integration and the state read only
        totals.setdefault("elapsed_s", 0.0)
        while not self._phase_done(phase, phase_step, csv_writer.rows):
            chunk_start = time.perf_counter()
            if self.signals.received:
                self.checkpoint(phase, phase_step)
                raise MDInterruptedError(
                    f"MD of {self.name} received {self.signals.name} and stopped cleanly in "
                    f"stage {phase} at step {phase_step} after saving its state in "
                    f"{self.store.directory}; run the same target again to continue"
                )
            if self.deadline.must_stop():
                self.checkpoint(phase, phase_step)
                raise MDInterruptedError(
                    f"MD of {self.name} stopped cleanly before the wall-clock limit "
                    f"({self.deadline.source}) in stage {phase} at step {phase_step}, state "
                    f"saved in {self.store.directory}; run the same target again to continue"
                )
            if phase == "heating":
                fraction = min(1.0, (phase_step // interval + 1) / n_heating_chunks)
                p0, p1 = p.heating_start_kelvin, p.temperature_kelvin
                integrator.setTemperature((p0 + (p1 - p0) * fraction) * unit.kelvin)
            elif phase == "decorrelation":
                integrator.setTemperature(p.decorrelation_kelvin * unit.kelvin)
            t0 = time.perf_counter()
            try:
                self.sim.step(interval)
            except openmm.OpenMMException as exc:
                raise self.blow_up(
                    phase,
                    phase_step + interval,
                    f"OpenMM stopped the integration: {exc}",
                    first_step=phase_step,
                ) from exc
            state = self.sim.context.getState(energy=True, positions=True, enforcePeriodicBox=False)
            chunk_s = time.perf_counter() - t0
            self.deadline.note_chunk(chunk_s)
            phase_step += interval
            self._check_state(state, phase, phase_step)
            speed = interval * p.timestep_ps * 1e-3 / (chunk_s / _SECONDS_PER_DAY)
            csv_writer.write(phase_step, state, speed)
            if dcd_writer is not None:
                assert isinstance(dcd_writer, DCDWriter)
                dcd_writer.write(state)
            if phase == "production" and self.target is not None:
                self._record_target(state, csv_writer.rows[-1])
            totals["steps"] += interval
            totals["wall_s"] += chunk_s
            log_steps += interval
            log_wall += chunk_s
            now = time.perf_counter()
            if now - last_log >= p.log_interval_s:
                self._log_progress(phase, phase_step, log_steps, log_wall)
                log_steps, log_wall, last_log = 0, 0.0, now
            if (
                phase_step % p.checkpoint_interval_steps == 0
                or now - self.last_checkpoint_wall >= 60.0 * p.checkpoint_interval_minutes
            ):
                self.checkpoint(phase, phase_step)
            totals["elapsed_s"] += time.perf_counter() - chunk_start
        return phase_step

    def _finish_heating(self, rows: list[dict[str, float]], phase_step: int) -> None:
        p = self.protocol
        fixed = p.heating_max_steps == p.heating_steps
        window_ps = p.temperature_window_ps
        if fixed and rows:
            # a fixed heating shorter than the window is judged on all of its rows
            window_ps = min(window_ps, len(rows) * p.report_interval_ps)
        check = self._heating_check(rows, window_ps)
        if fixed:
            ended_by = "fixed length"
        elif check["passed"]:
            ended_by = "temperature within tolerance"
        else:
            ended_by = "maximum length"
        check |= {
            "ended_by": ended_by,
            "length_ps": phase_step * p.timestep_ps,
            "ramp_ps": p.heating_ps,
            "max_ps": p.heating_max_length_ps,
        }
        if p.heating_max_steps and not check["passed"]:
            self.log.warning(
                "heating of %s ended (%s, %g ps) with a mean temperature of %.1f K over the "
                "last %g ps, %.1f K from the target %g K (allowed %.1f K)%s",
                self.name,
                ended_by,
                check["length_ps"],
                check["mean_kelvin"],
                window_ps,
                check["deviation_kelvin"],
                p.temperature_kelvin,
                check["allowed_kelvin"],
                "; set heating_max_ps to let it reach the target" if fixed else "",
            )
        self.progress["heating"] = check

    def _finish_equilibration(self, rows: list[dict[str, float]], phase_step: int) -> None:
        p = self.protocol
        check = self._equilibration_check(rows)
        window = int(round(p.density_window_ps / p.report_interval_ps))
        last = rows[-2 * window :]
        target = float(np.mean([r["volume_nm3"] for r in last]))
        fixed = p.equilibration_max_steps == p.equilibration_steps
        failed = [name for name, c in check["criteria"].items() if not c["passed"]]
        if fixed:
            ended_by = "fixed length"
        elif not failed:
            ended_by = "all criteria met"
        else:
            ended_by = "maximum length"
        check |= {
            "ended_by": ended_by,
            "failed_criteria": failed,
            "length_ps": phase_step * p.timestep_ps,
            "min_ps": p.equilibration_ps,
            "max_ps": p.equilibration_max_length_ps,
            "mean_volume_nm3": target,
        }
        if failed:
            self.log.warning(
                "equilibration of %s ended (%s, %g ps) with %s not met: %s",
                self.name,
                ended_by,
                check["length_ps"],
                ", ".join(failed),
                _criteria_text(check["criteria"]),
            )
        self.log.info(
            "equilibrated density %.4f +- %.4f g/cm3 (drift %.3g g/cm3/ns) after %g ps",
            check["mean_g_per_cm3"],
            check["std_g_per_cm3"],
            check["drift_g_per_cm3_per_ns"],
            check["length_ps"],
        )
        self.progress["equilibration"] = check
        self._note_contacts("equilibrated")
        atomic_write(self.store.directory / "equil_final.pdb", _pdb_text(self.sim))

    def _note_contacts(self, label: str) -> None:
        contacts = self.ions.contacts(self.sim.context.getState(positions=True))
        self.progress.setdefault("ion_contacts", {})[label] = contacts

    def _switch_to(self, phase: str) -> None:
        p = self.protocol
        self._set_barostat(phase)
        self.sim.context.reinitialize(preserveState=True)
        self.sim.integrator.setTemperature(p.temperature_kelvin * unit.kelvin)
        if phase == "heating":
            self.ions.set(self.sim.context, on=True)
            if p.decorrelation_steps:
                # the decorrelated structure, its ions charged again, from a cold start
                start_t = p.heating_start_kelvin if p.heating_steps else p.temperature_kelvin
                self.sim.context.setVelocitiesToTemperature(
                    start_t * unit.kelvin, p.heating_velocity_seed()
                )
            self._note_contacts("heating_start")
        if phase == "production" and self.protocol.production_ensemble == "NVT":
            target = self.progress["equilibration"]["mean_volume_nm3"]
            factor = _scale_to_volume(self.sim.context, target)
            self.log.info(
                "production box: mean volume of the last two density windows, %.4f nm3 "
                "(edges scaled by %.5f)",
                target,
                factor,
            )
        self.checkpoint(phase, 0)

    def execute(self) -> dict[str, Any]:
        """Run from the saved phase to the end; return the final progress record."""
        phase = self.progress["phase"]
        if phase == "done":  # killed while publishing: only the publishing is left
            return self.progress
        self._start_simulation()
        if phase == "minimization":
            self._minimize()
            phase = "decorrelation"
        else:
            state = self.store.load_state(self.progress)
            self.sim.context.setState(state)
            self.log.info(
                "continuing %s from the saved state of %s step %d (%.2f ps into the run)",
                self.name,
                phase,
                self.progress["phase_step"],
                self.progress["time_ps"],
            )
        for current in PHASES[PHASES.index(phase) :]:
            if current != phase:
                self._switch_to(current)
            self._run_phase(current)
        self.progress["platform"] = self.platform
        self.progress["pme"] = pme_parameters(self.sim.context)
        self._note_contacts("final")
        atomic_write(self.store.directory / "prod_final.pdb", _pdb_text(self.sim))
        self.checkpoint("done", 0)
        return self.progress


def _chunk_steps(protocol: MDProtocol) -> int:
    """Steps between precision checks (1 without a target, never used then)."""
    return protocol.production_chunk_steps or 1


def _criteria_text(criteria: dict[str, dict[str, Any]]) -> str:
    """One line: each equilibration criterion, its value, the allowance and the verdict."""
    density, energy, temperature = (
        criteria["density"],
        criteria["potential_energy"],
        criteria["temperature"],
    )
    return (
        f"density windows differ by {100 * density['value']:.3g} % (<= "
        f"{100 * density['allowed']:.3g} %: {'yes' if density['passed'] else 'no'}), "
        f"potential energy by {energy['value']:.3g} SD (<= {energy['allowed']:.3g}: "
        f"{'yes' if energy['passed'] else 'no'}), temperature {temperature['mean_kelvin']:.1f} K "
        f"is {temperature['deviation_kelvin']:+.1f} K off (<= {temperature['allowed_kelvin']:.1f}"
        f": {'yes' if temperature['passed'] else 'no'})"
    )


def _potential(simulation: app.Simulation) -> float:
    state = simulation.context.getState(energy=True)
    return float(state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def run_md(
    system_xml: Path,
    topology_pdb: Path,
    protocol: MDProtocol,
    out_dir: Path,
    log: logging.Logger | None = None,
    *,
    name: str | None = None,
    restart_dir: Path | None = None,
    use_slurm: bool = True,
) -> MDOutputs:
    """Minimise, heat (NVT), equilibrate (NPT to a converged density) and run production.

    The run saves its state at intervals in ``restart_dir`` and continues from there
    when called again with the same inputs and protocol (the platform, threads, time
    limits and checkpoint intervals may differ).  See the package docstring for the
    files and their conventions.

    Parameters
    ----------
    system_xml : pathlib.Path
        OpenMM ``System`` serialised with ``XmlSerializer`` (periodic, e.g. PME; bonds
        to hydrogen constrained when ``timestep_fs > 1``; no barostat).
    topology_pdb : pathlib.Path
        PDB file with the topology (elements), starting positions and box (CRYST1);
        atom order as in the System.
    protocol : MDProtocol
        Simulation settings.
    out_dir : pathlib.Path
        Output directory (created if missing); :data:`OUTPUT_FILE_NAMES` are written
        there, ``md_summary.json`` last.  Earlier outputs there are deleted first.
    log : logging.Logger or None
        Logger for progress messages; defaults to this module's logger.
    name : str or None
        Name of the run in messages (system, temperature, replica); default ``out_dir``.
    restart_dir : pathlib.Path or None
        Restart directory; default ``out_dir / "restart"``.  Deleted after success.
    use_slurm : bool
        Whether to stop before the SLURM job's time limit (when running under SLURM).

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
    MDInterruptedError
        If a stop signal or the wall-clock limit stopped the run (state saved).
    MDBlowUpError
        If the simulation became unstable (and the retry, if any, did too).
    ElectrolyteMDError
        If no platform can be used (``platform="auto"``), or if the restart folder holds
        a damaged progress record or saved state (:meth:`RestartStore.load`: the run
        stops naming the file rather than starting over and losing the saved work).
    """
    log = log or logging.getLogger("electrolyte_md.md")
    system_xml, topology_pdb, out_dir = Path(system_xml), Path(topology_pdb), Path(out_dir)
    name = name or str(out_dir)
    system, pdb = load_inputs(system_xml, topology_pdb)
    check_system(system, protocol, system_xml)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = MDOutputs.in_directory(out_dir)
    for path in reversed(outputs.paths()):  # the summary first: it marks a finished run
        path.unlink(missing_ok=True)
    store = RestartStore(restart_dir if restart_dir is not None else out_dir / RESTART_DIR_NAME)

    hmr, barostat_index = prepare_for_md(system, pdb.topology, protocol)
    if hmr is not None:
        log.info(
            "hydrogen mass repartitioning: %d of %d hydrogens now %.3f amu (%s)",
            hmr["n_repartitioned"],
            hmr["n_hydrogens"],
            protocol.hydrogen_mass_amu,
            hmr["n_skipped"] or "none skipped",
        )

    input_hash = hashlib.sha256(
        system_xml.read_bytes() + b"\0" + topology_pdb.read_bytes()
    ).hexdigest()
    retry = protocol.retry_protocol()
    candidates = [protocol] + ([retry] if retry is not None else [])
    progress = store.load()
    active = protocol
    if progress is not None:
        match = [
            c for c in candidates if _fingerprint(input_hash, c) == progress.get("fingerprint")
        ]
        if match:
            active = match[0]
            log.info(
                "found the saved state of an interrupted run in %s (%s, step %s)",
                store.directory,
                progress["phase"],
                progress["phase_step"],
            )
        else:
            log.warning(
                "the saved state in %s belongs to other inputs or settings; starting over",
                store.directory,
            )
            progress = None
    if progress is None:
        store.wipe()
        store.directory.mkdir(parents=True)
    deadline = Deadline.from_limits(
        protocol.wall_time_limit_hours, protocol.wall_time_margin_minutes, log, use_slurm
    )
    if deadline.end_time is not None:
        log.info(
            "wall-clock limit (%s) in %s; stopping %g min before it",
            deadline.source,
            _duration(deadline.end_time - time.time()),
            protocol.wall_time_margin_minutes,
        )
    signals = StopSignals()
    ions = _IonCharges(system, _molecules(system))
    target_atoms = _target_atoms(protocol, pdb, topology_pdb)
    extra: dict[str, Any] = {"blowup_retry": None}
    with signals.installed():
        while True:
            attempt = _Attempt(
                name=name,
                system=system,
                pdb=pdb,
                barostat_index=barostat_index,
                protocol=active,
                store=store,
                progress=progress,
                fingerprint=_fingerprint(input_hash, active),
                extra=extra,
                deadline=deadline,
                signals=signals,
                log=log,
                input_names=(str(system_xml), str(topology_pdb)),
                ions=ions,
                target_atoms=target_atoms,
            )
            try:
                progress = attempt.execute()
                break
            except MDBlowUpError as error:
                if retry is None or active is retry:
                    raise
                log.warning("%s", error)
                log.warning(
                    "retrying %s once from the start with a %g fs time step",
                    name,
                    retry.timestep_fs,
                )
                extra = {
                    "blowup_retry": {
                        "message": str(error),
                        "stage": error.stage,
                        "step": error.step,
                        "timestep_fs": protocol.timestep_fs,
                        "retry_timestep_fs": retry.timestep_fs,
                    }
                }
                active, progress = retry, None
                store.wipe()
                store.directory.mkdir(parents=True)
            finally:
                del attempt
    _publish_and_summarise(store, outputs, active, progress, system, hmr, log, name)
    store.wipe()
    return outputs


def _publish_and_summarise(
    store: RestartStore,
    outputs: MDOutputs,
    protocol: MDProtocol,
    progress: dict[str, Any],
    system: openmm.System,
    hmr: dict[str, Any] | None,
    log: logging.Logger,
    name: str,
) -> None:
    """Move the finished files out of the restart directory and write the summary last."""
    sources = {
        outputs.minimized_pdb: "minimized.pdb",
        outputs.decorrelation_csv: "decorrelation.csv",
        outputs.heat_csv: "heat.csv",
        outputs.equil_csv: "equil.csv",
        outputs.equil_final_pdb: "equil_final.pdb",
        outputs.prod_csv: "prod.csv",
        outputs.prod_dcd: "prod.dcd",
        outputs.prod_final_pdb: "prod_final.pdb",
        outputs.state_xml: progress["state_file"],
    }
    for target, source in sources.items():
        _publish(store.directory / source, target)
    heat = read_energies(outputs.heat_csv)
    equil = read_energies(outputs.equil_csv)
    prod = read_energies(outputs.prod_csv)
    equil_rows = equil.to_dict("records")
    half_time_ps = 0.5 * (equil["time_ps"].iloc[-1] if len(equil) else 0.0)
    equil_last_half = [r for r in equil_rows if r["time_ps"] > half_time_ps + 1e-9]
    totals = progress["totals"]
    state = openmm.XmlSerializer.deserialize(outputs.state_xml.read_text(encoding="utf-8"))
    box_nm = np.asarray(state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer))

    def ns_per_day(phase: str, clock: str = "wall_s") -> float:
        wall = totals[phase].get(clock, 0.0)
        steps = totals[phase]["steps"]
        return (
            steps * protocol.timestep_ps * 1e-3 / (wall / _SECONDS_PER_DAY)
            if wall > 0
            else float("nan")
        )

    lengths = progress.get("phase_lengths", {})
    minimization = progress["minimization"]
    summary = {
        "name": name,
        "platform": progress["platform"]["name"],
        "platform_precision": progress["platform"].get("precision"),
        "platform_device": progress["platform"].get("device"),
        "platform_properties": progress["platform"],
        "openmm_version": openmm.__version__,
        "python_version": _platform_module.python_version(),
        "n_atoms": system.getNumParticles(),
        "n_constraints": system.getNumConstraints(),
        "degrees_of_freedom": degrees_of_freedom(system),
        "total_mass_amu": total_mass_amu(system),
        "seed": protocol.seed,
        "openmm_seeds": protocol.openmm_seeds(),
        "hydrogen_mass_repartitioning": hmr,
        "pme": progress.get("pme", {}),
        "steps": {
            "decorrelation": lengths.get("decorrelation", 0),
            "heating": lengths.get("heating", 0),
            "equilibration": lengths.get("equilibration", 0),
            "production": lengths.get("production", 0),
            "report_interval": protocol.report_interval_steps,
            "total": int(state.getStepCount()),
        },
        "wall_seconds": {
            "minimization": minimization["wall_s"],
            "decorrelation": totals["decorrelation"]["wall_s"],
            "heating": totals["heating"]["wall_s"],
            "equilibration": totals["equilibration"]["wall_s"],
            "production": totals["production"]["wall_s"],
            "production_with_output": totals["production"].get("elapsed_s", float("nan")),
            "total": progress["wall_total_s"],
        },
        "ns_per_day": ns_per_day("production"),
        # what a user's wall clock sees: reporters, checkpoints and logging included
        "ns_per_day_with_output": ns_per_day("production", "elapsed_s"),
        "equilibration_ns_per_day": ns_per_day("equilibration"),
        "potential_energy_kj_per_mol": {
            "initial": minimization["initial_kj_per_mol"],
            "minimized": minimization["minimized_kj_per_mol"],
        },
        "minimization": {"ions_uncharged": minimization.get("ions_uncharged", False)},
        "decorrelation": {
            "length_ps": lengths.get("decorrelation", 0) * protocol.timestep_ps,
            "temperature_kelvin": protocol.decorrelation_kelvin,
            "ions_uncharged": True,
        },
        # counter-ions in contact per cation in the structures a run passes through:
        # what the start did to ion pairing (criteria.ION_CONTACT_ANGSTROM)
        "ion_contacts_per_cation": {
            "cutoff_angstrom": ION_CONTACT_ANGSTROM,
            **progress.get("ion_contacts", {}),
        },
        "heating": {
            **progress.get("heating", {}),
            "length_ps": lengths.get("heating", 0) * protocol.timestep_ps,
            "final_temperature_kelvin": float(heat["temperature_kelvin"].iloc[-1])
            if len(heat)
            else None,
        },
        "equilibration": progress["equilibration"],
        "production": _stats(prod.to_dict("records")),
        # each production series' equilibrated region, standard error from g, and drift
        "production_equilibrated": _series_statistics(prod),
        # None: the fixed production_ps; otherwise how the precision target ended it
        "production_target": progress.get("production_target"),
        "equilibration_last_half": _stats(equil_last_half),
        "final_box_vectors_nm": box_nm.tolist(),
        "trajectory": {
            "file": outputs.prod_dcd.name,
            "frames": len(prod),
            "frame_interval_ps": protocol.report_interval_ps,
            "unwrapped": True,
        },
        "restarts": {
            "invocations": progress["invocations"],
            "n_continuations": len(progress["invocations"]) - 1,
            "blowup_retry": progress.get("blowup_retry"),
        },
        "protocol": protocol.as_dict(),
        "outputs": {
            field: path.name for field, path in zip(OUTPUT_FILE_NAMES, outputs.paths(), strict=True)
        },
    }
    write_json(outputs.summary_json, summary)
    log.info(
        "MD of %s done: production %.2f ns/day; <T> = %.1f K, <density> = %.4f g/cm3",
        name,
        summary["ns_per_day"],
        summary["production"]["temperature_kelvin"]["mean"],
        summary["production"]["density_g_per_cm3"]["mean"],
    )
