"""Preparing the OpenMM System for MD: input checks, hydrogen mass repartitioning, PME
tolerance, barostat, platform choice."""

from __future__ import annotations

import contextlib
import logging
import platform as _platform_module
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import openmm
from openmm import app, unit

from electrolyte_md.errors import ElectrolyteMDError
from electrolyte_md.md.platforms import missing_platform_error, plan_platforms
from electrolyte_md.md.protocol import (
    HYDROGEN_MAX_MASS_AMU,
    MDProtocol,
)

__all__ = [
    "BAROSTAT_TYPES",
    "NONMETAL_ELEMENTS",
    "add_barostat",
    "check_system",
    "create_simulation",
    "degrees_of_freedom",
    "load_inputs",
    "pme_force_error",
    "prepare_for_md",
    "repartition_hydrogen_masses",
    "set_pme_tolerance",
    "total_mass_amu",
]

BAROSTAT_TYPES: tuple[type, ...] = tuple(
    getattr(openmm, name)
    for name in (
        "MonteCarloBarostat",
        "MonteCarloAnisotropicBarostat",
        "MonteCarloMembraneBarostat",
        "MonteCarloFlexibleBarostat",
    )
    if hasattr(openmm, name)
)

#: Heavy atoms that may give mass to their hydrogens.  Metals (Li, Ti, ...) never do:
#: their masses stay as parameterised, whatever they are bonded to.
NONMETAL_ELEMENTS = frozenset({"B", "C", "N", "O", "F", "Si", "P", "S", "Cl", "Se", "Br", "I"})


def load_inputs(system_xml: Path, topology_pdb: Path) -> tuple[openmm.System, app.PDBFile]:
    """Read the serialised System and the PDB (topology, positions, box); check they match."""
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


def check_system(system: openmm.System, protocol: MDProtocol, system_xml: Path) -> None:
    """Refuse Systems the MD stage cannot run safely (not periodic, barostat, no constraints)."""
    if not system.usesPeriodicBoundaryConditions():
        raise ValueError(
            f"{system_xml}: the System does not use periodic boundary conditions; "
            "NPT/NVT bulk MD needs a periodic System (PME)"
        )
    for force in system.getForces():
        if isinstance(force, BAROSTAT_TYPES):
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
    unconstrained = count_unconstrained_hydrogen_bonds(system)
    if unconstrained:
        raise ValueError(
            f"{system_xml}: {unconstrained} bond(s) to hydrogen are not constrained, which is "
            f"unstable with MDProtocol.timestep_fs = {protocol.timestep_fs} fs; build the "
            "System with constraints=HBonds or use timestep_fs <= 1"
        )


def _masses_amu(system: openmm.System) -> list[float]:
    return [
        system.getParticleMass(i).value_in_unit(unit.dalton)
        for i in range(system.getNumParticles())
    ]


def count_unconstrained_hydrogen_bonds(system: openmm.System) -> int:
    """Count harmonic bonds to hydrogen (light particles) that are not constrained."""
    masses_amu = _masses_amu(system)
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
            light = any(0.0 < masses_amu[p] < HYDROGEN_MAX_MASS_AMU for p in (p1, p2))
            if light and (min(p1, p2), max(p1, p2)) not in constrained:
                count += 1
    return count


def _bonded_pairs(system: openmm.System) -> set[tuple[int, int]]:
    """Pairs joined by a constraint or a harmonic bond."""
    pairs = set()
    for i in range(system.getNumConstraints()):
        p1, p2, _ = system.getConstraintParameters(i)
        pairs.add((min(p1, p2), max(p1, p2)))
    for force in system.getForces():
        if isinstance(force, openmm.HarmonicBondForce):
            for i in range(force.getNumBonds()):
                p1, p2, _, _ = force.getBondParameters(i)
                pairs.add((min(p1, p2), max(p1, p2)))
    return pairs


def repartition_hydrogen_masses(
    system: openmm.System, topology: app.Topology, hydrogen_mass_amu: float
) -> dict[str, Any]:
    """Hydrogen mass repartitioning on an existing System (in place).

    Every hydrogen bonded (bond or constraint in the System) to exactly one heavy atom of
    a non-metal element (:data:`NONMETAL_ELEMENTS`) gets the mass ``hydrogen_mass_amu``;
    the difference is taken from that heavy atom, so every molecule keeps its mass.
    Hydrogens of rigid water (an H-H constraint) are left alone, as OpenMM's
    ``createSystem(hydrogenMass=...)`` does, and so are metal atoms (Li+, Ti of an oxo
    cluster) and ions without hydrogen (PF6-).  Calling it twice changes nothing more.

    Parameters
    ----------
    system : openmm.System
        System to modify.
    topology : openmm.app.Topology
        Topology with elements, atom order as in ``system``.
    hydrogen_mass_amu : float
        Target hydrogen mass.

    Returns
    -------
    dict
        ``hydrogen_mass_amu``, ``n_repartitioned``, ``n_hydrogens``, ``n_skipped`` (with
        reasons) and ``mass_moved_amu``.

    Raises
    ------
    ElectrolyteMDError
        If a heavy atom would end up lighter than the hydrogens bonded to it.
    """
    atoms = list(topology.atoms())
    if len(atoms) != system.getNumParticles():
        raise ValueError("topology and System have different numbers of atoms")
    elements = [a.element.symbol if a.element is not None else None for a in atoms]
    masses = _masses_amu(system)
    neighbours: dict[int, list[int]] = {}
    for p1, p2 in _bonded_pairs(system):
        neighbours.setdefault(p1, []).append(p2)
        neighbours.setdefault(p2, []).append(p1)
    hydrogens = [i for i, e in enumerate(elements) if e == "H"]
    skipped: dict[str, int] = {}
    moved = 0.0
    done = 0
    donors: set[int] = set()
    for h in hydrogens:
        partners = neighbours.get(h, [])
        if any(elements[p] == "H" for p in partners):
            skipped["rigid water or H-H bond"] = skipped.get("rigid water or H-H bond", 0) + 1
            continue
        heavy = [p for p in partners if elements[p] in NONMETAL_ELEMENTS]
        if len(heavy) != 1 or len(partners) != 1:
            reason = "not bonded to exactly one non-metal atom"
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        delta = hydrogen_mass_amu - masses[h]
        if abs(delta) < 1e-9:
            continue
        heavy_atom = heavy[0]
        masses[heavy_atom] -= delta
        donors.add(heavy_atom)
        masses[h] = hydrogen_mass_amu
        moved += delta
        done += 1
    for i in sorted(donors):
        mass = masses[i]
        if mass <= hydrogen_mass_amu:
            atom = atoms[i]
            raise ElectrolyteMDError(
                f"hydrogen mass repartitioning to {hydrogen_mass_amu} amu would leave atom "
                f"{atom.name} of residue {atom.residue.name} {atom.residue.id} with "
                f"{mass:.3f} amu; lower hydrogen_mass_amu"
            )
    for i, mass in enumerate(masses):
        system.setParticleMass(i, mass * unit.dalton)
    return {
        "hydrogen_mass_amu": hydrogen_mass_amu,
        "n_hydrogens": len(hydrogens),
        "n_repartitioned": done,
        "n_skipped": skipped,
        "mass_moved_amu": moved,
    }


def set_pme_tolerance(system: openmm.System, tolerance: float) -> int:
    """Set the Ewald error tolerance of every PME/Ewald ``NonbondedForce``; return how many."""
    count = 0
    for force in system.getForces():
        if isinstance(force, openmm.NonbondedForce) and force.getNonbondedMethod() in (
            openmm.NonbondedForce.PME,
            openmm.NonbondedForce.Ewald,
            openmm.NonbondedForce.LJPME,
        ):
            force.setEwaldErrorTolerance(tolerance)
            count += 1
    return count


def pme_force_error(
    system: openmm.System,
    positions: Any,
    box_vectors: Any,
    tolerance: float,
    reference_tolerance: float = 1e-7,
    platform: str = "CPU",
) -> dict[str, float]:
    """Relative RMS error of the total forces at a PME tolerance against a tight reference.

    Parameters
    ----------
    system : openmm.System
        System with a PME ``NonbondedForce`` (copied, not modified).
    positions, box_vectors
        Coordinates and box to evaluate (with units).
    tolerance : float
        Ewald error tolerance under test.
    reference_tolerance : float
        Tolerance of the reference forces.
    platform : str
        OpenMM platform used for both evaluations.

    Returns
    -------
    dict
        ``relative_rms_force_error`` (RMS of the force difference over the RMS force),
        ``max_force_error_kj_per_mol_nm`` and the PME parameters (``alpha_per_nm``,
        ``grid``) at ``tolerance``.
    """
    forces = {}
    pme: dict[str, Any] = {}
    for tol in (tolerance, reference_tolerance):
        copy = openmm.XmlSerializer.clone(system)
        for force in copy.getForces():
            if isinstance(force, BAROSTAT_TYPES):
                raise ValueError("pme_force_error needs a System without barostat")
        if set_pme_tolerance(copy, tol) == 0:
            raise ValueError("the System has no PME NonbondedForce")
        context = openmm.Context(
            copy, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName(platform)
        )
        context.setPeriodicBoxVectors(*box_vectors)
        context.setPositions(positions)
        state = context.getState(forces=True)
        forces[tol] = np.asarray(
            state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
        )
        if tol == tolerance:
            pme = pme_parameters(context)
        del context
    diff = forces[tolerance] - forces[reference_tolerance]
    rms_ref = float(np.sqrt(np.mean(np.sum(forces[reference_tolerance] ** 2, axis=1))))
    return {
        "tolerance": tolerance,
        "reference_tolerance": reference_tolerance,
        "relative_rms_force_error": float(np.sqrt(np.mean(np.sum(diff**2, axis=1)))) / rms_ref,
        "max_force_error_kj_per_mol_nm": float(np.max(np.linalg.norm(diff, axis=1))),
        **pme,
    }


def pme_parameters(context: openmm.Context) -> dict[str, Any]:
    """PME splitting parameter and grid that OpenMM chose in ``context`` (empty if no PME)."""
    for force in context.getSystem().getForces():
        if (
            isinstance(force, openmm.NonbondedForce)
            and force.getNonbondedMethod() == openmm.NonbondedForce.PME
        ):
            alpha, nx, ny, nz = force.getPMEParametersInContext(context)
            return {
                "ewald_error_tolerance": force.getEwaldErrorTolerance(),
                "alpha_per_nm": float(alpha),
                "grid": [int(nx), int(ny), int(nz)],
                "cutoff_nm": force.getCutoffDistance().value_in_unit(unit.nanometer),
            }
    return {}


def nonbonded_cutoff_nm(system: openmm.System) -> float | None:
    """Cutoff of the System's NonbondedForce in nm (None if there is none)."""
    for force in system.getForces():
        if isinstance(force, openmm.NonbondedForce):
            return float(force.getCutoffDistance().value_in_unit(unit.nanometer))
    return None


def add_barostat(system: openmm.System, protocol: MDProtocol, seed: int) -> int:
    """Add a Monte Carlo barostat (switched off: frequency 0) and return its force index."""
    barostat = openmm.MonteCarloBarostat(
        protocol.pressure_bar * unit.bar, protocol.temperature_kelvin * unit.kelvin, 0
    )
    barostat.setRandomNumberSeed(seed)
    return system.addForce(barostat)


def prepare_for_md(
    system: openmm.System, topology: app.Topology, protocol: MDProtocol
) -> tuple[dict[str, Any] | None, int]:
    """Make a built System the one MD runs (in place): PME tolerance, HMR, barostat.

    Returns the hydrogen mass repartitioning record (None without HMR) and the index
    of the added, switched-off barostat.
    """
    set_pme_tolerance(system, protocol.pme_error_tolerance)
    hmr = None
    if protocol.hydrogen_mass_amu is not None:
        hmr = repartition_hydrogen_masses(system, topology, protocol.hydrogen_mass_amu)
    barostat_index = add_barostat(system, protocol, protocol.openmm_seeds()["barostat"])
    return hmr, barostat_index


def degrees_of_freedom(system: openmm.System) -> int:
    """Degrees of freedom as OpenMM's StateDataReporter counts them."""
    massive = [m > 0 for m in _masses_amu(system)]
    dof = 3 * sum(massive)
    for i in range(system.getNumConstraints()):
        p1, p2, _ = system.getConstraintParameters(i)
        if massive[p1] or massive[p2]:
            dof -= 1
    if any(isinstance(f, openmm.CMMotionRemover) for f in system.getForces()):
        dof -= 3
    return dof


def total_mass_amu(system: openmm.System) -> float:
    """Sum of particle masses in amu."""
    return float(sum(_masses_amu(system)))


def _platform_properties(name: str, protocol: MDProtocol) -> dict[str, str]:
    if name in ("CUDA", "HIP", "OpenCL"):
        return {"Precision": protocol.precision}
    if name == "CPU" and protocol.threads is not None:
        return {"Threads": str(protocol.threads)}
    return {}


def available_platforms() -> list[str]:
    """Names of the OpenMM platforms installed."""
    return [
        openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())
    ]


def make_integrator(
    protocol: MDProtocol, seed: int, temperature_kelvin: float | None = None
) -> openmm.LangevinMiddleIntegrator:
    """Langevin middle integrator of the protocol, seeded."""
    integrator = openmm.LangevinMiddleIntegrator(
        (temperature_kelvin or protocol.temperature_kelvin) * unit.kelvin,
        protocol.friction_per_ps / unit.picosecond,
        protocol.timestep_ps * unit.picosecond,
    )
    integrator.setRandomNumberSeed(seed)
    return integrator


def create_simulation(
    topology: app.Topology,
    system: openmm.System,
    protocol: MDProtocol,
    integrator_seed: int,
    log: logging.Logger,
    environ: Mapping[str, str] | None = None,
) -> app.Simulation:
    """Create the Simulation on the platform :func:`~electrolyte_md.md.platforms.
    plan_platforms` chooses (the job's environment: ``environ``, default this process's).

    Raises
    ------
    PlatformError
        If the job must run on a GPU and no GPU platform can be created (it names the
        package to install and the platforms found).
    ValueError
        If ``platform`` names a CPU platform (CPU, Reference) that is not installed.
    ElectrolyteMDError
        If ``auto`` finds no usable platform at all.
    """
    plan = plan_platforms(protocol.platform, environ)
    available = available_platforms()
    failures: list[str] = []
    for name in plan.candidates:
        if name not in available:
            failures.append(f"{name}: not installed")
            continue
        platform = openmm.Platform.getPlatformByName(name)
        try:
            # A fresh integrator per try: an integrator can belong to one Context only.
            simulation = app.Simulation(
                topology,
                system,
                make_integrator(protocol, integrator_seed),
                platform,
                _platform_properties(name, protocol),
            )
        except Exception as exc:
            if len(plan.candidates) == 1 and not plan.gpu_required:
                raise
            failures.append(f"{name}: {exc}")
            continue
        skipped = f" ({'; '.join(failures)})" if failures else ""
        log.info("platform %s chosen: %s%s", name, plan.reason, skipped)
        simulation.platform_choice = {  # type: ignore[attr-defined]
            "requested": protocol.platform,
            "reason": plan.reason,
            "skipped": failures,
        }
        return simulation
    if plan.gpu_required:
        raise missing_platform_error(plan, available, failures)
    if protocol.platform == "auto":
        raise ElectrolyteMDError(
            "no usable OpenMM platform among "
            + ", ".join(plan.candidates)
            + ": "
            + "; ".join(failures)
        )
    raise ValueError(
        f"MDProtocol.platform={protocol.platform!r} is not available in this OpenMM "
        f"installation (available: {', '.join(available)})"
    )


def platform_info(simulation: app.Simulation) -> dict[str, Any]:
    """Name, properties, precision and device of the platform a Simulation runs on, and
    why it was chosen (``choice``, when :func:`create_simulation` made it)."""
    platform = simulation.context.getPlatform()
    info: dict[str, Any] = {"name": platform.getName()}
    for prop in platform.getPropertyNames():
        with contextlib.suppress(Exception):
            info[prop] = platform.getPropertyValue(simulation.context, prop)
    # CUDA, HIP and OpenCL have a Precision property; CPU and Reference have none (their
    # precision is fixed: Reference computes in double)
    fixed = "double" if info["name"] == "Reference" else "fixed by the platform"
    info["precision"] = info.get("Precision", fixed)
    info["device"] = info.get("DeviceName") or cpu_name()
    choice = getattr(simulation, "platform_choice", None)
    if choice is not None:
        info["choice"] = choice
    return info


def cpu_name() -> str:
    """The processor's model name (Linux /proc/cpuinfo; else what Python knows)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return _platform_module.processor() or _platform_module.machine()
