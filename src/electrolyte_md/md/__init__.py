"""Molecular-dynamics stage: minimise, heat, equilibrate (NPT) and produce with OpenMM,
with checkpoints that survive wall-time limits, pre-emption and killed jobs.

The input is an OpenMM ``System`` serialised to XML (PME, HBonds constraints, no
barostat) and a PDB file holding the topology (with elements), positions and periodic
box (CRYST1).  :func:`run_md` runs, in one OpenMM ``Context`` per invocation,

1. energy minimisation, with the ions' charges switched off (``minimize_ions_uncharged``)
   so that the minimiser does not pull the packed ions into contact pairs,
2. decorrelation: NVT at ``decorrelation_kelvin`` for ``decorrelation_ps``, ion charges
   still off, which takes the box away from the packer's structure without pairing ions,
3. NVT heating from ``heating_start_kelvin`` (new velocities, charges on) to the
   temperature (linear ramp), held there until a ``temperature_window_ps`` window's mean
   is within the tolerance (at most ``heating_max_ps``),
4. NPT equilibration (Langevin middle integrator + Monte Carlo barostat) of at least
   ``equilibration_ps`` and at most ``equilibration_max_ps``, stopped when over the last
   two ``density_window_ps`` windows the density, the potential energy and the
   temperature have all stopped drifting (:mod:`electrolyte_md.md.criteria`; which
   criterion held, and by how much, is reported),
5. production in NVT (barostat off, box and molecule centres scaled to the mean volume of
   those two windows) or NPT.

The counter-ions in contact with each cation are counted in the packed, minimised,
decorrelated, equilibrated and final structures (``ion_contacts_per_cation`` in the
summary): the start of a run should leave the packed box's pairing, not double it.

Speed
-----
Hydrogen mass repartitioning (``hydrogen_mass_amu``, 3.024 amu by default) is applied to
the deserialised System (:func:`~electrolyte_md.md.system.repartition_hydrogen_masses`):
mass moves from a non-metal heavy atom to each of its hydrogens, so a 4 fs time step is
stable.  Metal atoms (Li+, the Ti of an oxo cluster) and ions without hydrogen (PF6-)
keep their masses; rigid-water hydrogens too.  The PME error tolerance is set from the
protocol.  The platform is CUDA, HIP, OpenCL or CPU (the first that works) or the one
named; CPU threads come from the protocol.

Checkpoints and restarts
------------------------
Everything in progress lives in a restart directory (``<out_dir>/restart`` by default;
never a declared workflow output, so Snakemake does not delete it before a retry):
the streamed energy tables and trajectory, ``state-<step>.xml`` (a portable OpenMM
``State``: positions, velocities, box, time, step; not a platform checkpoint, which loads
only on the same OpenMM version and hardware) and ``progress.json`` (phase, step, the
byte sizes of the streamed files at that state).  A state is saved every
``checkpoint_interval_ps`` of simulated time or ``checkpoint_interval_minutes`` of wall
time, whichever comes first, and at every change of phase.

A call of :func:`run_md` finding a progress record made with the same inputs and the
same physics settings continues from it (on any platform): the streamed files are cut
back to their sizes at that state, so frames written after it by the killed run are
dropped and written again, never twice, and the DCD header is set back to match.  The
continued run draws new random-number streams (a state XML does not hold them), so it
is a statistically equivalent, not a bitwise identical, continuation.

SIGTERM, SIGINT, SIGUSR1 and SIGXCPU, or reaching ``wall_time_limit_hours`` (or the SLURM
job's end, from ``SLURM_JOB_END_TIME`` or ``squeue``) minus ``wall_time_margin_minutes``,
make the run save its state at the next report and raise :class:`MDInterruptedError`.  A SIGKILL
loses at most the steps since the last saved state.

A blow-up (non-finite energy or coordinates, box volume outside 1/2 to 2 times the
start, or OpenMM giving up) raises :class:`MDBlowUpError` naming the run, stage and
step; with ``blowup_retry_timestep_fs`` set (2 fs by default), the run is first repeated
once from the start with that time step.

Conventions
-----------
* ``time_ps`` and ``step`` in the energy CSV files and the DCD header count from the
  start of *that phase* (the first row of a phase is at ``report_interval_ps``).  The
  final ``state.xml`` holds the cumulative time and step count of the whole run.
* ``prod.dcd`` holds **unwrapped** coordinates (``enforcePeriodicBox=False``): molecules
  stay whole and every atom moves continuously, as mean-square displacements need;
  distance analyses (RDF) use minimum-image distances with the box of each frame.
* The PDB files are for looking at and for use as topology: molecules wrapped into the
  box, whole, with the box in CRYST1.
* Seeds: the protocol's ``seed`` is expanded with :class:`numpy.random.SeedSequence`
  into non-zero 31-bit seeds (velocities, integrator, barostat); a continuation at step
  ``n`` uses seeds derived from ``(seed, n)``.

Files
-----
Every output appears atomically in ``out_dir`` only at the end (hard link or copy from
the restart directory), ``md_summary.json`` last, so its presence marks a complete run;
the restart directory is then deleted.  Outputs of an earlier run in ``out_dir`` are
deleted when a run starts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name -> the module of this stage that defines it. Loaded on first use (PEP 562):
#: importing ``electrolyte_md.md`` for :class:`MDProtocol` (as the configuration check
#: does) must not load OpenMM, which ``md.run`` and ``md.system`` import.
_EXPORTS = {
    "MDBlowUpError": "electrolyte_md.errors",
    "MDInterruptedError": "electrolyte_md.errors",
    "ENERGY_COLUMNS": "electrolyte_md.md.files",
    "DCDWriter": "electrolyte_md.md.files",
    "EnergyCSVWriter": "electrolyte_md.md.files",
    "RestartStore": "electrolyte_md.md.files",
    "read_energies": "electrolyte_md.md.files",
    "MDProtocol": "electrolyte_md.md.protocol",
    "OUTPUT_FILE_NAMES": "electrolyte_md.md.run",
    "RESTART_DIR_NAME": "electrolyte_md.md.run",
    "MDOutputs": "electrolyte_md.md.run",
    "density_convergence": "electrolyte_md.md.criteria",
    "equilibration_criteria": "electrolyte_md.md.criteria",
    "temperature_check": "electrolyte_md.md.criteria",
    "run_md": "electrolyte_md.md.run",
    "pme_force_error": "electrolyte_md.md.system",
    "repartition_hydrogen_masses": "electrolyte_md.md.system",
    "Deadline": "electrolyte_md.md.walltime",
    "parse_slurm_time": "electrolyte_md.md.walltime",
}

__all__ = [
    "DCDWriter",
    "Deadline",
    "ENERGY_COLUMNS",
    "EnergyCSVWriter",
    "MDBlowUpError",
    "MDInterruptedError",
    "MDOutputs",
    "MDProtocol",
    "OUTPUT_FILE_NAMES",
    "RESTART_DIR_NAME",
    "RestartStore",
    "density_convergence",
    "equilibration_criteria",
    "parse_slurm_time",
    "pme_force_error",
    "read_energies",
    "repartition_hydrogen_masses",
    "run_md",
    "temperature_check",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from electrolyte_md.errors import MDBlowUpError, MDInterruptedError
    from electrolyte_md.md.criteria import (
        density_convergence,
        equilibration_criteria,
        temperature_check,
    )
    from electrolyte_md.md.files import (
        ENERGY_COLUMNS,
        DCDWriter,
        EnergyCSVWriter,
        RestartStore,
        read_energies,
    )
    from electrolyte_md.md.protocol import MDProtocol
    from electrolyte_md.md.run import (
        OUTPUT_FILE_NAMES,
        RESTART_DIR_NAME,
        MDOutputs,
        run_md,
    )
    from electrolyte_md.md.system import pme_force_error, repartition_hydrogen_masses
    from electrolyte_md.md.walltime import Deadline, parse_slurm_time
