"""Settings of the MD stage (:class:`MDProtocol`) and their checks."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "ENSEMBLES",
    "PLATFORMS",
    "PRECISIONS",
    "RUNTIME_FIELDS",
    "TARGET_OBSERVABLES",
    "MDProtocol",
    "ProductionTarget",
]

ENSEMBLES = ("NVT", "NPT")
PLATFORMS = ("auto", "CUDA", "HIP", "OpenCL", "CPU", "Reference")
#: Order in which ``platform="auto"`` tries the platforms (never Reference).
AUTO_PLATFORM_ORDER = ("CUDA", "HIP", "OpenCL", "CPU")
PRECISIONS = ("single", "mixed", "double")
#: What a production target can be on: the density (from the energy rows) or the
#: coordination number of a centre/ligand pair at a fixed cutoff (from the frames).
TARGET_OBSERVABLES = ("density", "coordination")
#: Time steps above this (fs) need hydrogen mass repartitioning.
MAX_TIMESTEP_WITHOUT_HMR_FS = 2.5
#: Particles lighter than this (but with mass) count as hydrogens, also after repartitioning.
HYDROGEN_MAX_MASS_AMU = 4.5

#: Fields that change how a run is executed but not the trajectory it produces; a run
#: may be continued with other values of these (another platform, another time limit).
RUNTIME_FIELDS = frozenset(
    {
        "platform",
        "precision",
        "threads",
        "checkpoint_interval_ps",
        "checkpoint_interval_minutes",
        "wall_time_limit_hours",
        "wall_time_margin_minutes",
        "log_interval_s",
        "blowup_retry_timestep_fs",
    }
)


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def whole_multiple(numerator: float, denominator: float) -> int | None:
    """Return ``numerator / denominator`` if it is a whole number >= 0 (to 1e-6), else None."""
    ratio = numerator / denominator
    nearest = round(ratio)
    if nearest >= 0 and abs(ratio - nearest) <= 1e-6 * max(1.0, ratio):
        return int(nearest)
    return None


@dataclass(frozen=True)
class ProductionTarget:
    """Production goes on, chunk by chunk, until an observable is known precisely enough.

    After the fixed ``production_ps`` and then every ``chunk_ps``, the observable's
    per-report series of the whole production is analysed as the analysis stage does
    (:func:`electrolyte_md.timeseries.analyze_series`: equilibrated region, standard
    error from the statistical inefficiency, drift test); production stops when
    :func:`electrolyte_md.timeseries.precise_enough` says so (SE at most
    ``standard_error``, no drift, a region of at least half the production whose values
    vary), or at ``max_ps``, which is then flagged.  A density target needs NPT
    production (in NVT the density is fixed).

    Parameters
    ----------
    observable : str
        ``"density"`` (g/cm3) or ``"coordination"`` (ligand atoms within
        ``cutoff_angstrom`` of a centre atom, averaged over the centres, per frame).
    standard_error : float
        Target standard error, in the observable's unit.
    chunk_ps : float
        Production time between checks after the first (a whole multiple of the
        report interval).
    max_ps : float
        Longest production (>= ``production_ps``).
    label : str
        Name in messages and tables (``"CN(Li-P)"``; default: the observable).
    center, ligand : str or None
        For ``"coordination"``: selections of ``resname X``, ``element Y`` and ``name Z``
        terms joined by ``and`` (the MD job reads no MDAnalysis).
    cutoff_angstrom : float or None
        For ``"coordination"``: the shell radius.
    """

    observable: str
    standard_error: float
    chunk_ps: float
    max_ps: float
    label: str = ""
    center: str | None = None
    ligand: str | None = None
    cutoff_angstrom: float | None = None

    def __post_init__(self) -> None:
        where = "MDProtocol.production_target"
        if self.observable not in TARGET_OBSERVABLES:
            raise ValueError(
                f"{where}.observable must be one of {TARGET_OBSERVABLES} (the MD job computes "
                f"only these), got {self.observable!r}"
            )
        for name in ("standard_error", "chunk_ps", "max_ps"):
            value = getattr(self, name)
            if not _is_real(value) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{where}.{name} must be a positive number, got {value!r}")
        if self.chunk_ps > self.max_ps:
            raise ValueError(
                f"{where}.chunk_ps ({self.chunk_ps} ps) is longer than max_ps ({self.max_ps} ps)"
            )
        if self.observable == "coordination":
            for name in ("center", "ligand"):
                if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                    raise ValueError(
                        f"{where}.{name} must be a selection for a coordination target"
                    )
            cutoff = self.cutoff_angstrom
            if not _is_real(cutoff) or not math.isfinite(cutoff) or cutoff <= 0:
                raise ValueError(
                    f"{where}.cutoff_angstrom must be a positive number for a coordination "
                    f"target (the MD job has no g(r) to take a first minimum from), got "
                    f"{cutoff!r}"
                )
        if not self.label:
            object.__setattr__(self, "label", self.observable)


@dataclass(frozen=True)
class MDProtocol:
    """Settings of the MD stage: minimise, heat (NVT), equilibrate (NPT), produce.

    Parameters
    ----------
    temperature_kelvin : float
        Thermostat (and barostat) temperature of equilibration and production.
    pressure_bar : float
        Barostat pressure, used in equilibration and in NPT production.
    timestep_fs : float
        Integration time step.  Above 1 fs every bond to hydrogen must be constrained;
        above 2.5 fs hydrogen mass repartitioning (``hydrogen_mass_amu``) is required.
    hydrogen_mass_amu : float or None
        Mass given to every hydrogen bonded to a non-metal heavy atom, taken from that
        atom (hydrogen mass repartitioning); None switches repartitioning off.
    friction_per_ps : float
        Friction coefficient of the Langevin (middle) integrator.
    pme_error_tolerance : float
        Ewald error tolerance set on the System's ``NonbondedForce`` (PME grid and
        splitting parameter follow from it).
    minimize_tolerance_kj_per_mol_nm : float
        Convergence tolerance of the energy minimiser (root-mean-square force).
    minimize_max_iterations : int
        Maximum number of minimiser iterations; 0 means until converged.
    minimize_ions_uncharged : bool
        Minimise with the charges of every charged molecule (the ions) switched off.
        With them on, the minimiser pulls the packed ions into contact pairs (2-3 times
        the pairing of the packed box), and a run of a nanosecond does not undo it; off,
        the ions keep the random pairing of the packing.  Intramolecular 1-4 terms (the
        exceptions) stay as they are.
    decorrelation_ps : float
        Length of an NVT stage at ``decorrelation_kelvin`` after the minimisation, with
        the ion charges off: it takes the box away from the packer's artificial
        structure without letting ions pair; 0 skips it.  Heating then starts from new
        velocities at ``heating_start_kelvin`` with the charges on, so pairing approaches
        its equilibrium from below.
    decorrelation_kelvin : float
        Thermostat temperature of the decorrelation stage (fixed volume, so above the
        solvent's boiling point is fine).
    heating_ps : float
        Length of the NVT heating ramp from ``heating_start_kelvin`` to the temperature
        (linear, one step per report interval); 0 skips the ramp.
    heating_start_kelvin : float
        Temperature of the velocities and of the start of the ramp.
    heating_max_ps : float or None
        Heating goes on at the target temperature after the ramp until the mean
        temperature of the last ``temperature_window_ps`` is within the tolerance
        (:func:`~electrolyte_md.md.criteria.temperature_check`), for at most this long in
        all; None means ``heating_ps`` (a fixed length, the check is only reported).
    temperature_window_ps : float
        Window of the heating's temperature check.
    temperature_tolerance_kelvin : float
        Accepted deviation of a window's mean temperature from the target, on top of
        twice its equilibrium noise (:func:`~electrolyte_md.md.criteria.temperature_allowance`);
        used at the end of heating and of equilibration.
    equilibration_ps : float
        Minimum length of the NPT equilibration.
    equilibration_max_ps : float or None
        Maximum length of the NPT equilibration; None means ``equilibration_ps`` (a
        fixed length, convergence is then only reported).
    density_window_ps : float
        Length of the two windows compared at the end of equilibration.
    density_tolerance : float
        Largest relative difference of the two windows' mean densities.
    energy_tolerance_sd : float
        Largest difference of the two windows' mean potential energies, in standard
        deviations of the instantaneous potential energy.  Equilibration ends when the
        density, energy and temperature criteria all hold
        (:func:`~electrolyte_md.md.criteria.equilibration_criteria`).
    production_ps : float
        Length of the production run.
    production_ensemble : str
        ``"NVT"`` (at the mean volume of the last two density windows) or ``"NPT"``.
    production_target : ProductionTarget, dict or None
        Extend production beyond ``production_ps`` until a precision target is met
        (:class:`ProductionTarget`; a dict of its fields is converted); None runs the
        fixed length.
    barostat_interval_steps : int
        Steps between Monte Carlo volume moves.
    report_interval_ps : float
        Interval of energy rows and trajectory frames; a whole multiple of the time
        step (and of ``blowup_retry_timestep_fs``); every length is a whole multiple of it.
    checkpoint_interval_ps : float
        Simulated time between saved restart states (a multiple of the report interval).
    checkpoint_interval_minutes : float
        Wall-clock time after which a restart state is saved at the next report.
    wall_time_limit_hours : float or None
        Stop cleanly (restart state saved) before this much wall time has passed;
        the scheduler's remaining time (SLURM) is used as well when known.
    wall_time_margin_minutes : float
        Safety margin kept before the wall-clock limit.
    log_interval_s : float
        Wall-clock seconds between progress messages.
    blowup_retry_timestep_fs : float or None
        After a blow-up, run once more from the start with this time step; None never
        retries.
    platform : str
        ``"auto"`` (CUDA, HIP, OpenCL, then CPU; never Reference) or a platform name.
    precision : str
        ``"single"``, ``"mixed"`` or ``"double"``; used by CUDA, HIP and OpenCL.
    threads : int or None
        Number of CPU-platform threads; None lets OpenMM decide.
    seed : int
        Non-negative master seed of velocities, Langevin integrator and barostat.

    Raises
    ------
    ValueError
        If a field has an invalid value; the message names the field.
    """

    temperature_kelvin: float = 298.15
    pressure_bar: float = 1.0
    timestep_fs: float = 4.0
    hydrogen_mass_amu: float | None = 3.024
    friction_per_ps: float = 1.0
    pme_error_tolerance: float = 5e-4
    minimize_tolerance_kj_per_mol_nm: float = 10.0
    minimize_max_iterations: int = 0
    minimize_ions_uncharged: bool = True
    decorrelation_ps: float = 20.0
    decorrelation_kelvin: float = 500.0
    heating_ps: float = 10.0
    heating_start_kelvin: float = 50.0
    heating_max_ps: float | None = None
    temperature_window_ps: float = 5.0
    temperature_tolerance_kelvin: float = 3.0
    equilibration_ps: float = 50.0
    equilibration_max_ps: float | None = None
    density_window_ps: float = 10.0
    density_tolerance: float = 0.01
    energy_tolerance_sd: float = 1.0
    production_ps: float = 200.0
    production_ensemble: str = "NVT"
    production_target: ProductionTarget | None = None
    barostat_interval_steps: int = 25
    report_interval_ps: float = 1.0
    checkpoint_interval_ps: float = 10.0
    checkpoint_interval_minutes: float = 10.0
    wall_time_limit_hours: float | None = None
    wall_time_margin_minutes: float = 5.0
    log_interval_s: float = 60.0
    blowup_retry_timestep_fs: float | None = 2.0
    platform: str = "auto"
    precision: str = "mixed"
    threads: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        target = self.production_target
        if isinstance(target, dict):
            try:
                target = ProductionTarget(**target)
            except TypeError as error:
                raise ValueError(
                    f"MDProtocol.production_target: {error} (fields: observable, "
                    "standard_error, chunk_ps, max_ps, label, center, ligand, cutoff_angstrom)"
                ) from error
            object.__setattr__(self, "production_target", target)
        elif target is not None and not isinstance(target, ProductionTarget):
            raise ValueError(
                f"MDProtocol.production_target must be None or a ProductionTarget, got {target!r}"
            )
        positive = (
            "temperature_kelvin",
            "pressure_bar",
            "timestep_fs",
            "friction_per_ps",
            "pme_error_tolerance",
            "minimize_tolerance_kj_per_mol_nm",
            "heating_start_kelvin",
            "decorrelation_kelvin",
            "temperature_window_ps",
            "temperature_tolerance_kelvin",
            "equilibration_ps",
            "density_window_ps",
            "density_tolerance",
            "energy_tolerance_sd",
            "production_ps",
            "report_interval_ps",
            "checkpoint_interval_ps",
            "checkpoint_interval_minutes",
            "log_interval_s",
        )
        for name in positive:
            self._check_number(name, minimum=0.0, strict=True)
        for name in ("heating_ps", "decorrelation_ps", "wall_time_margin_minutes"):
            self._check_number(name, minimum=0.0, strict=False)
        if not isinstance(self.minimize_ions_uncharged, bool):
            raise ValueError(
                "MDProtocol.minimize_ions_uncharged must be true or false, got "
                f"{self.minimize_ions_uncharged!r}"
            )
        for name in (
            "heating_max_ps",
            "equilibration_max_ps",
            "wall_time_limit_hours",
            "blowup_retry_timestep_fs",
        ):
            if getattr(self, name) is not None:
                self._check_number(name, minimum=0.0, strict=True)
        if self.hydrogen_mass_amu is not None:
            value = self.hydrogen_mass_amu
            if not _is_real(value) or not 1.0 <= value < HYDROGEN_MAX_MASS_AMU:
                raise ValueError(
                    "MDProtocol.hydrogen_mass_amu must be None or a mass in amu in "
                    f"[1, {HYDROGEN_MAX_MASS_AMU}), got {value!r}"
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
        for name, allowed in (
            ("production_ensemble", ENSEMBLES),
            ("platform", PLATFORMS),
            ("precision", PRECISIONS),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"MDProtocol.{name} must be one of {allowed}, got {getattr(self, name)!r}"
                )
        if self.threads is not None and (not _is_int(self.threads) or self.threads <= 0):
            raise ValueError(
                f"MDProtocol.threads must be None or a positive integer, got {self.threads!r}"
            )
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"MDProtocol.seed must be an integer >= 0, got {self.seed!r}")
        if self.hydrogen_mass_amu is None and self.timestep_fs > MAX_TIMESTEP_WITHOUT_HMR_FS:
            raise ValueError(
                f"MDProtocol.timestep_fs = {self.timestep_fs} fs needs hydrogen mass "
                "repartitioning (set hydrogen_mass_amu, e.g. 3.024) or a time step <= "
                f"{MAX_TIMESTEP_WITHOUT_HMR_FS} fs"
            )
        for step_name in ("timestep_fs", "blowup_retry_timestep_fs"):
            step_fs = getattr(self, step_name)
            if step_fs is None:
                continue
            if whole_multiple(self.report_interval_ps * 1000.0, step_fs) in (None, 0):
                raise ValueError(
                    f"MDProtocol.report_interval_ps ({self.report_interval_ps} ps) must be a "
                    f"whole multiple of {step_name} ({step_fs} fs)"
                )
        if self.equilibration_max_ps is not None and (
            self.equilibration_max_ps < self.equilibration_ps
        ):
            raise ValueError(
                f"MDProtocol.equilibration_max_ps ({self.equilibration_max_ps} ps) must be >= "
                f"equilibration_ps ({self.equilibration_ps} ps)"
            )
        if self.heating_max_ps is not None and self.heating_max_ps < self.heating_ps:
            raise ValueError(
                f"MDProtocol.heating_max_ps ({self.heating_max_ps} ps) must be >= heating_ps "
                f"({self.heating_ps} ps)"
            )
        lengths = [
            "decorrelation_ps",
            "heating_ps",
            "heating_max_ps",
            "temperature_window_ps",
            "equilibration_ps",
            "equilibration_max_ps",
            "density_window_ps",
            "production_ps",
            "checkpoint_interval_ps",
        ]
        for name in lengths:
            value = getattr(self, name)
            if value is not None and whole_multiple(value, self.report_interval_ps) is None:
                raise ValueError(
                    f"MDProtocol.{name} ({value} ps) must be a whole multiple of "
                    f"report_interval_ps ({self.report_interval_ps} ps)"
                )
        if target is not None:
            for name in ("chunk_ps", "max_ps"):
                value = getattr(target, name)
                if whole_multiple(value, self.report_interval_ps) is None:
                    raise ValueError(
                        f"MDProtocol.production_target.{name} ({value} ps) must be a whole "
                        f"multiple of report_interval_ps ({self.report_interval_ps} ps)"
                    )
            if target.observable == "density" and self.production_ensemble != "NPT":
                raise ValueError(
                    "MDProtocol.production_target: a density target needs "
                    f"production_ensemble NPT (in {self.production_ensemble} the density is "
                    "fixed)"
                )
            if target.max_ps < self.production_ps:
                raise ValueError(
                    f"MDProtocol.production_target.max_ps ({target.max_ps} ps) is shorter than "
                    f"the fixed production_ps ({self.production_ps} ps), the minimum"
                )
        if 2 * self.density_window_ps > self.equilibration_max_length_ps:
            raise ValueError(
                f"MDProtocol.density_window_ps ({self.density_window_ps} ps) must fit twice "
                "into the longest equilibration (equilibration_max_ps or equilibration_ps, "
                f"{self.equilibration_max_length_ps} ps)"
            )

    def _check_number(self, name: str, minimum: float, strict: bool) -> None:
        value = getattr(self, name)
        bad = not _is_real(value) or not math.isfinite(value)
        bad = bad or (value <= minimum if strict else value < minimum)
        if bad:
            what = "a positive finite number" if strict else "a finite number >= 0"
            raise ValueError(f"MDProtocol.{name} must be {what}, got {value!r}")

    # ------------------------------------------------------------------ derived values
    @property
    def timestep_ps(self) -> float:
        """Time step in ps."""
        return self.timestep_fs / 1000.0

    @property
    def heating_max_length_ps(self) -> float:
        """Longest heating (ramp and hold) in ps."""
        return self.heating_ps if self.heating_max_ps is None else float(self.heating_max_ps)

    @property
    def equilibration_max_length_ps(self) -> float:
        """Longest NPT equilibration in ps."""
        return (
            self.equilibration_ps
            if self.equilibration_max_ps is None
            else float(self.equilibration_max_ps)
        )

    def steps(self, length_ps: float) -> int:
        """Number of time steps in ``length_ps`` (a whole multiple of the report interval)."""
        reports = whole_multiple(length_ps, self.report_interval_ps)
        if reports is None:
            raise ValueError(
                f"{length_ps} ps is not a whole multiple of the report interval "
                f"({self.report_interval_ps} ps)"
            )
        return reports * self.report_interval_steps

    @property
    def report_interval_steps(self) -> int:
        """Steps between reports (energy rows and trajectory frames)."""
        steps = whole_multiple(self.report_interval_ps * 1000.0, self.timestep_fs)
        assert steps  # checked in __post_init__
        return steps

    @property
    def heating_steps(self) -> int:
        """Number of time steps of the heating."""
        return self.steps(self.heating_ps)

    @property
    def heating_max_steps(self) -> int:
        """Maximum number of time steps of the heating."""
        return self.steps(self.heating_max_length_ps)

    @property
    def decorrelation_steps(self) -> int:
        """Number of time steps of the decorrelation stage."""
        return self.steps(self.decorrelation_ps)

    @property
    def temperature_window_steps(self) -> int:
        """Steps per temperature window."""
        return self.steps(self.temperature_window_ps)

    @property
    def equilibration_steps(self) -> int:
        """Minimum number of time steps of the NPT equilibration."""
        return self.steps(self.equilibration_ps)

    @property
    def equilibration_max_steps(self) -> int:
        """Maximum number of time steps of the NPT equilibration."""
        return self.steps(self.equilibration_max_length_ps)

    @property
    def production_steps(self) -> int:
        """Number of time steps of the production run (its minimum, with a target)."""
        return self.steps(self.production_ps)

    @property
    def production_max_steps(self) -> int:
        """Most time steps of the production run (``max_ps`` of a target)."""
        target = self.production_target
        return self.production_steps if target is None else self.steps(target.max_ps)

    @property
    def production_chunk_steps(self) -> int:
        """Steps between precision checks after the first (0 without a target)."""
        target = self.production_target
        return 0 if target is None else self.steps(target.chunk_ps)

    @property
    def checkpoint_interval_steps(self) -> int:
        """Steps between restart states."""
        return self.steps(self.checkpoint_interval_ps)

    @property
    def density_window_steps(self) -> int:
        """Steps per density window."""
        return self.steps(self.density_window_ps)

    def openmm_seeds(self) -> dict[str, int]:
        """Expand :attr:`seed` into the non-zero 31-bit seeds that OpenMM is given.

        OpenMM treats a seed of 0 as "pick one at random", so the master seed is
        expanded with :class:`numpy.random.SeedSequence`.

        Returns
        -------
        dict of str to int
            Keys ``"velocities"``, ``"integrator"`` and ``"barostat"``.
        """
        words = np.random.SeedSequence(self.seed).generate_state(3, dtype=np.uint32)
        seeds = [int(w) & 0x7FFFFFFF or 1 for w in words]
        return dict(zip(("velocities", "integrator", "barostat"), seeds, strict=True))

    def resume_seeds(self, step: int) -> dict[str, int]:
        """Integrator and barostat seeds for a run continued at ``step``.

        A state XML does not hold the random-number state, so a continuation draws
        fresh, reproducible streams instead of repeating those of the first start.
        """
        words = np.random.SeedSequence([self.seed, step]).generate_state(2, dtype=np.uint32)
        seeds = [int(w) & 0x7FFFFFFF or 1 for w in words]
        return dict(zip(("integrator", "barostat"), seeds, strict=True))

    def heating_velocity_seed(self) -> int:
        """Seed of the velocities drawn at the start of heating after a decorrelation."""
        # three words: never the (seed, step) of a continuation's resume_seeds
        word = np.random.SeedSequence([self.seed, 0, 1]).generate_state(1, dtype=np.uint32)[0]
        return int(word) & 0x7FFFFFFF or 1

    def physics_fingerprint(self) -> str:
        """Hash of the fields that determine the trajectory (all but :data:`RUNTIME_FIELDS`)."""
        fields = {k: v for k, v in dataclasses.asdict(self).items() if k not in RUNTIME_FIELDS}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

    def retry_protocol(self) -> MDProtocol | None:
        """The protocol of the retry after a blow-up, or None if there is none."""
        retry = self.blowup_retry_timestep_fs
        if retry is None or retry >= self.timestep_fs:
            return None
        return dataclasses.replace(self, timestep_fs=float(retry), blowup_retry_timestep_fs=None)

    def as_dict(self) -> dict[str, Any]:
        """All fields as a plain dict."""
        return dataclasses.asdict(self)
