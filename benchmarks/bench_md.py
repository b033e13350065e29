"""MD benchmarks: the pipeline's MD stage against a bare OpenMM loop and GROMACS.

Every figure is measured in one run on one machine:

- *overhead*: the pipeline's production phase (``run_md``: reporters, checkpoints,
  logging, atomic outputs) against a bare ``integrator.step`` loop on the same System,
  same settings, same starting state;
- *GROMACS*: the same System converted with ParmEd (bonds, angles, torsions, charges,
  Lennard-Jones, 1-4 pairs and exclusions taken from the OpenMM System itself), run
  with the same step, cutoff, PME splitting and grid, constraints and Langevin
  thermostat; the potential energy of the same coordinates from both engines, term by
  term, is the check that they simulate the same model;
- *4 fs / 2 fs*: hydrogen mass repartitioning at 4 fs against 2 fs with standard masses;
- *size*: the bare loop at three box sizes.

Energies in kJ/mol, lengths in nm (as both engines use them), speeds in ns/day.
"""

from __future__ import annotations

import functools
import math
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import openmm
import openmm.app as app
import openmm.unit as unit

from electrolyte_md.md import MDProtocol, run_md
from electrolyte_md.md.system import make_integrator, pme_parameters, prepare_for_md

#: Agreement asked of the two engines' energies for the same coordinates, per term
#: (bonds, angles, torsions, all non-bonded together) and in total: relative to the size
#: of the term, with a floor for the 6 significant figures of GROMACS's log. Both use
#: the same PME splitting and grid; both run in single precision on the CPU.
ENERGY_RELATIVE_TOLERANCE = 1e-4
ENERGY_ABSOLUTE_FLOOR_KJ_PER_MOL = 0.1
GMX = shutil.which("gmx")


def _ns_per_day(n_steps: int, timestep_fs: float, wall_s: float) -> float:
    return n_steps * timestep_fs * 1e-6 / wall_s * 86400.0


def prepared_system(
    system_xml: Path, topology: app.Topology, protocol: MDProtocol
) -> tuple[openmm.System, dict | None]:
    """The System as ``run_md`` runs it (:func:`~electrolyte_md.md.system.prepare_for_md`)."""
    system = openmm.XmlSerializer.deserialize(Path(system_xml).read_text())
    hmr, _ = prepare_for_md(system, topology, protocol)
    return system, hmr


def platform_properties(platform: str, protocol: MDProtocol, threads: int) -> dict[str, str]:
    """What the pipeline gives each platform: threads on the CPU, the protocol's precision
    on a GPU."""
    if platform == "CPU":
        return {"Threads": str(threads)}
    if platform in ("CUDA", "HIP", "OpenCL"):
        return {"Precision": protocol.precision}
    return {}


def _simulation(
    system: openmm.System,
    pdb: app.PDBFile,
    protocol: MDProtocol,
    threads: int,
    *,
    minimize: bool = False,
    platform: str = "CPU",
) -> app.Simulation:
    """A Simulation at the PDB's box and positions, constrained, with velocities.

    ``minimize`` first relaxes a freshly packed box (a few hundred iterations).
    """
    simulation = app.Simulation(
        pdb.topology,
        system,
        make_integrator(protocol, 1),
        openmm.Platform.getPlatformByName(platform),
        platform_properties(platform, protocol, threads),
    )
    context = simulation.context
    context.setPeriodicBoxVectors(*pdb.topology.getPeriodicBoxVectors())
    context.setPositions(pdb.positions)
    if minimize:
        openmm.LocalEnergyMinimizer.minimize(context, 10.0, 500)
    context.applyConstraints(1e-6)
    context.setVelocitiesToTemperature(protocol.temperature_kelvin * unit.kelvin, 1)
    return simulation


def bare_loop(
    system: openmm.System,
    pdb: app.PDBFile,
    protocol: MDProtocol,
    n_steps: int,
    *,
    threads: int,
    warmup_steps: int = 200,
    minimize: bool = False,
    platform: str = "CPU",
) -> dict[str, Any]:
    """Time ``integrator.step(n_steps)`` on ``platform``: nothing else in the loop.

    ``minimize`` first relaxes a freshly packed box (a few hundred iterations).
    """
    simulation = _simulation(system, pdb, protocol, threads, minimize=minimize, platform=platform)
    context, integrator = simulation.context, simulation.integrator
    integrator.step(warmup_steps)
    context.getState(getEnergy=True)
    start = time.perf_counter()
    integrator.step(n_steps)
    state = context.getState(getEnergy=True)
    wall = time.perf_counter() - start
    potential = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    if not math.isfinite(potential):
        raise RuntimeError("the bare loop blew up")
    return {
        "n_steps": n_steps,
        "timestep_fs": protocol.timestep_fs,
        "wall_s": wall,
        "ns_per_day": _ns_per_day(n_steps, protocol.timestep_fs, wall),
        "us_per_step": wall / n_steps * 1e6,
    }


def write_trajectory(
    system_xml: Path,
    pdb: app.PDBFile,
    protocol: MDProtocol,
    dcd: Path,
    n_frames: int,
    steps_per_frame: int,
    threads: int,
) -> Path:
    """A DCD of ``n_frames`` frames, one every ``steps_per_frame`` steps (for the I/O test)."""
    system, _ = prepared_system(system_xml, pdb.topology, protocol)
    simulation = _simulation(system, pdb, protocol, threads)
    context = simulation.context
    with open(dcd, "wb") as handle:
        writer = app.DCDFile(
            handle, pdb.topology, protocol.timestep_fs / 1000.0 * unit.picosecond, 0,
            steps_per_frame,
        )  # fmt: skip
        for _ in range(n_frames):
            simulation.integrator.step(steps_per_frame)
            state = context.getState(getPositions=True, enforcePeriodicBox=False)
            writer.writeModel(
                state.getPositions(), periodicBoxVectors=state.getPeriodicBoxVectors()
            )
    return dcd


def alternate_chunked_and_bare(
    system: openmm.System,
    pdb: app.PDBFile,
    protocol: MDProtocol,
    n_steps: int,
    *,
    threads: int,
    repeats: int = 3,
    platform: str = "CPU",
) -> dict[str, Any]:
    """The pipeline's integration pattern against a bare loop, alternating in one Context.

    The pipeline integrates in chunks of one report interval through
    ``Simulation.step`` (which itself steps 10 at a time) and reads the state after each
    chunk; the bare loop calls ``integrator.step(n_steps)``. Alternating the two on the
    same Context cancels the drift of a shared machine's speed, which is larger than the
    difference sought.
    """
    simulation = _simulation(system, pdb, protocol, threads, platform=platform)
    context = simulation.context
    simulation.integrator.step(200)
    interval = protocol.report_interval_steps
    chunks = max(1, n_steps // interval)
    speeds: dict[str, list[float]] = {"bare": [], "chunked": []}
    for _ in range(repeats):
        for kind in ("bare", "chunked"):
            start = time.perf_counter()
            if kind == "bare":
                simulation.integrator.step(chunks * interval)
            else:
                for _ in range(chunks):
                    simulation.step(interval)
                    context.getState(getEnergy=True, getPositions=True, enforcePeriodicBox=False)
            context.getState(getEnergy=True)
            wall = time.perf_counter() - start
            speeds[kind].append(_ns_per_day(chunks * interval, protocol.timestep_fs, wall))
    bare, chunked = float(np.median(speeds["bare"])), float(np.median(speeds["chunked"]))
    return {
        "n_steps": chunks * interval,
        "repeats": repeats,
        "bare_ns_per_day": speeds["bare"],
        "chunked_ns_per_day": speeds["chunked"],
        "chunking_cost_fraction": 1.0 - chunked / bare,
    }


def pipeline_against_bare(
    system_xml: Path,
    pdb_path: Path,
    protocol: MDProtocol,
    workdir: Path,
    *,
    threads: int,
    platform: str = "CPU",
) -> dict[str, Any]:
    """The pipeline's production phase against a bare loop on the same System.

    Two measures. End to end: ``run_md``'s production by the wall clock against a bare
    loop of as many steps from its final state, run twice after it; on a shared machine
    this carries the machine's drift. Decomposed: the share of the production wall time
    spent on output (reporters, checkpoints, logging; from the run's own clocks), plus
    the cost of its integration pattern measured by :func:`alternate_chunked_and_bare`.
    The target is judged on the decomposed estimate.
    """
    import json

    out = Path(workdir) / "pipeline_run"
    outputs = run_md(system_xml, pdb_path, protocol, out, name="benchmark", use_slurm=False)
    summary = json.loads(outputs.summary_json.read_text())
    steps = summary["steps"]["production"]
    pdb = app.PDBFile(str(out / "prod_final.pdb"))
    system, _ = prepared_system(system_xml, pdb.topology, protocol)
    bare = [
        bare_loop(system, pdb, protocol, steps, threads=threads, platform=platform)
        for _ in range(2)
    ]
    bare_ns_per_day = max(b["ns_per_day"] for b in bare)
    # the production phase as a wall clock sees it: reporters, checkpoints, logging
    pipeline_ns_per_day = summary["ns_per_day_with_output"]
    output_share = 1.0 - pipeline_ns_per_day / summary["ns_per_day"]
    alternation = alternate_chunked_and_bare(
        system,
        pdb,
        protocol,
        4 * protocol.report_interval_steps,
        threads=threads,
        platform=platform,
    )
    estimate = output_share + alternation["chunking_cost_fraction"]
    return {
        "n_atoms": summary["n_atoms"],
        "platform": summary["platform"],
        "platform_device": summary.get("platform_device"),
        "platform_precision": summary.get("platform_precision"),
        "timestep_fs": protocol.timestep_fs,
        "production_steps": steps,
        "report_interval_steps": summary["steps"]["report_interval"],
        "pipeline_production_wall_s": summary["wall_seconds"]["production_with_output"],
        "pipeline_integration_ns_per_day": summary["ns_per_day"],
        "pipeline_ns_per_day": pipeline_ns_per_day,
        "bare_ns_per_day": [b["ns_per_day"] for b in bare],
        "end_to_end_overhead_fraction": 1.0 - pipeline_ns_per_day / bare_ns_per_day,
        "output_share": output_share,
        "alternation": alternation,
        "overhead_fraction": estimate,
        "target_overhead_fraction": 0.05,
        "meets_target": estimate <= 0.05,
    }


# ---------------------------------------------------------------- GROMACS ------------


def with_cutoff(system: openmm.System, cutoff_nm: float) -> openmm.System:
    """A copy of ``system`` with the non-bonded cutoff set to ``cutoff_nm``."""
    system = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(system))
    for force in system.getForces():
        if isinstance(force, openmm.NonbondedForce):
            force.setCutoffDistance(cutoff_nm * unit.nanometer)
    return system


def _excluded_pairs(system: openmm.System) -> list[tuple[int, int]]:
    """Atom pairs whose non-bonded interaction the System excludes (zeroed exceptions)."""
    nonbonded = next(f for f in system.getForces() if isinstance(f, openmm.NonbondedForce))
    pairs = []
    for k in range(nonbonded.getNumExceptions()):
        i, j, q, _, eps = nonbonded.getExceptionParameters(k)
        if (
            q.value_in_unit(unit.elementary_charge**2) == 0
            and eps.value_in_unit(unit.kilojoule_per_mole) == 0
        ):
            pairs.append((i, j))
    return pairs


def largest_excluded_distance_nm(system: openmm.System, positions_nm: np.ndarray) -> float:
    """The longest distance between two atoms whose non-bonded interaction is excluded.

    GROMACS corrects PME for excluded pairs inside the pair list only, and refuses a
    topology whose excluded atoms lie farther apart than the cutoff. OpenMM corrects
    every excluded pair.
    """
    xyz = np.asarray(positions_nm)
    return max(
        (float(np.linalg.norm(xyz[i] - xyz[j])) for i, j in _excluded_pairs(system)),
        default=0.0,
    )


#: grompp warns (an error unless -maxwarn) when excluded atoms lie farther apart than
#: 90 % of the cutoff; the compared cutoff keeps them within this fraction of it.
GROMACS_EXCLUSION_FRACTION = 0.85


def gromacs_cutoff_nm(longest_excluded_nm: float, cutoff_nm: float) -> float:
    """The cutoff (nm) GROMACS can run a System at: ``cutoff_nm`` if every excluded pair
    lies within :data:`GROMACS_EXCLUSION_FRACTION` of it, else the next 0.1 nm that does."""
    if longest_excluded_nm <= GROMACS_EXCLUSION_FRACTION * cutoff_nm:
        return cutoff_nm
    return math.ceil(longest_excluded_nm / GROMACS_EXCLUSION_FRACTION * 10.0 - 1e-9) / 10.0


def to_gromacs(
    system: openmm.System, pdb: app.PDBFile, workdir: Path
) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """Write ``topol.top`` and ``conf.gro`` of ``system`` at the PDB's positions (ParmEd).

    Constrained bonds have no HarmonicBond term in an OpenMM System; they get one at the
    constraint length (GROMACS turns them back into constraints with ``h-bonds``).
    Masses are the System's (so repartitioned hydrogens stay repartitioned). Returns the
    two paths and the positions and box vectors (nm) as GROMACS will read them back.
    """
    import parmed

    struct = parmed.openmm.load_topology(pdb.topology, system, xyz=pdb.positions)
    constraint_angstrom = {}
    for k in range(system.getNumConstraints()):
        i, j, d = system.getConstraintParameters(k)
        constraint_angstrom[frozenset((i, j))] = d.value_in_unit(unit.angstrom)
    for bond in struct.bonds:
        if bond.type is None:
            length = constraint_angstrom.get(frozenset((bond.atom1.idx, bond.atom2.idx)))
            if length is None:
                raise ValueError(f"bond {bond} has neither a force constant nor a constraint")
            bond.type = parmed.BondType(1000.0, length)  # kcal/mol/A^2; replaced by a constraint
            struct.bond_types.append(bond.type)
    for atom in struct.atoms:
        atom.mass = system.getParticleMass(atom.idx).value_in_unit(unit.dalton)
    for atom_type in {a.atom_type for a in struct.atoms}:
        members = [a for a in struct.atoms if a.atom_type is atom_type]
        atom_type.mass = members[0].mass
    workdir.mkdir(parents=True, exist_ok=True)
    top, gro = workdir / "topol.top", workdir / "conf.gro"
    struct.save(str(top), format="gromacs", overwrite=True)
    _add_exclusions(top, far_exclusions(system, pdb.topology))
    struct.save(str(gro), format="gro", overwrite=True)
    back = parmed.load_file(str(gro))
    xyz_nm = np.asarray(back.coordinates) / 10.0
    box = back.box  # A and degrees
    vectors = np.diag(np.asarray(box[:3]) / 10.0)
    return top, gro, xyz_nm, vectors


def far_exclusions(system: openmm.System, topology: app.Topology) -> dict[str, list]:
    """Excluded pairs beyond three bonds, per residue name, as 1-based local indices.

    GROMACS excludes pairs within ``nrexcl = 3`` bonds itself; ParmEd writes no
    ``[ exclusions ]`` for the rest (the cluster's metal-site pairs), so they are listed
    here. Every residue of a name must exclude the same pairs (one moleculetype each).
    """
    neighbours: dict[int, set[int]] = {i: set() for i in range(system.getNumParticles())}
    bonds = [f for f in system.getForces() if isinstance(f, openmm.HarmonicBondForce)]
    pairs = [f.getBondParameters(k)[:2] for f in bonds for k in range(f.getNumBonds())]
    pairs += [system.getConstraintParameters(k)[:2] for k in range(system.getNumConstraints())]
    for i, j in pairs:
        neighbours[i].add(j)
        neighbours[j].add(i)

    @functools.cache
    def within_three_bonds(i: int) -> frozenset[int]:
        shell = {i}
        for _ in range(3):
            shell |= {n for a in shell for n in neighbours[a]}
        return frozenset(shell)

    atoms = list(topology.atoms())
    per_residue: dict[int, set[tuple[int, int]]] = {}
    for i, j in _excluded_pairs(system):
        if j in within_three_bonds(i):
            continue
        residue = atoms[i].residue
        if atoms[j].residue is not residue:
            raise ValueError(f"exclusion between residues: atoms {i} and {j}")
        first = next(residue.atoms()).index
        per_residue.setdefault(residue.index, set()).add(
            tuple(sorted((i - first + 1, j - first + 1)))
        )
    by_name: dict[str, list] = {}
    residues = {r.index: r for r in topology.residues()}
    for index, local in per_residue.items():
        name = residues[index].name
        if name in by_name and by_name[name] != sorted(local):
            raise ValueError(f"residues {name} exclude different pairs")
        by_name[name] = sorted(local)
    return by_name


def _add_exclusions(top: Path, exclusions: dict[str, list]) -> None:
    """Insert ``[ exclusions ]`` at the end of each named moleculetype of ``top``."""
    if not exclusions:
        return
    out: list[str] = []
    current, expect_name = None, False
    for line in top.read_text().splitlines():
        header = line.strip()
        if header in ("[ moleculetype ]", "[ system ]"):
            if current in exclusions:
                pairs = exclusions[current]
                out += ["[ exclusions ]", *(f"{i:6d} {j:6d}" for i, j in pairs), ""]
            current, expect_name = None, header == "[ moleculetype ]"
        elif expect_name and header and not header.startswith(";"):
            current, expect_name = header.split()[0], False
        out.append(line)
    top.write_text("\n".join(out) + "\n")


def _mdp(
    pme: dict,
    protocol: MDProtocol,
    n_steps: int,
    *,
    rerun: bool = False,
    output_interval: int = 0,
) -> str:
    cutoff = pme["cutoff_nm"]
    # GROMACS sets the Ewald splitting from erfc(beta rc) = ewald-rtol: match OpenMM's alpha
    ewald_rtol = math.erfc(pme["alpha_per_nm"] * cutoff)
    nx, ny, nz = pme["grid"]
    lines = {
        "integrator": "md" if rerun else "sd",
        "dt": protocol.timestep_fs / 1000.0,
        "nsteps": n_steps,
        "tc-grps": "System",
        "tau-t": 1.0 / protocol.friction_per_ps,
        "ref-t": protocol.temperature_kelvin,
        "ld-seed": 1,
        "continuation": "yes",
        "gen-vel": "no",
        "cutoff-scheme": "Verlet",
        "pbc": "xyz",
        "coulombtype": "PME",
        "coulomb-modifier": "None",
        "rcoulomb": cutoff,
        "vdwtype": "Cut-off",
        "vdw-modifier": "None",
        "rvdw": cutoff,
        "DispCorr": "EnerPres",
        "fourier-nx": nx,
        "fourier-ny": ny,
        "fourier-nz": nz,
        "pme-order": 5,
        "ewald-rtol": f"{ewald_rtol:.6e}",
        # a rerun does not apply constraints, but the constrained bonds then carry no
        # energy, as in OpenMM, where they are not in HarmonicBondForce
        "constraints": "h-bonds",
        "constraint-algorithm": "lincs",
        "nstcalcenergy": 100 if not rerun else 1,
        "nstenergy": output_interval,
        "nstlog": output_interval if output_interval else n_steps,
        "nstxout-compressed": output_interval,
        "comm-mode": "Linear",
    }
    if rerun:
        lines.pop("tc-grps"), lines.pop("tau-t"), lines.pop("ref-t"), lines.pop("ld-seed")
    return "".join(f"{k:24s} = {v}\n" for k, v in lines.items())


def _gmx(args: list[str], cwd: Path, log: Path) -> str:
    with open(log, "a") as handle:
        handle.write("$ gmx " + " ".join(args) + "\n")
        done = subprocess.run([GMX, *args], cwd=cwd, capture_output=True, text=True, check=False)
        handle.write(done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"gmx {args[0]} failed (see {log}):\n{done.stderr[-2000:]}")
    return done.stdout + done.stderr


def _log_energies(md_log: Path) -> dict[str, float]:
    """The first 'Energies (kJ/mol)' block of a GROMACS log: 15-character columns."""
    lines = md_log.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "Energies (kJ/mol)")
    energies: dict[str, float] = {}
    k = start + 1
    while k + 1 < len(lines) and lines[k].strip():
        names, values = lines[k], lines[k + 1]
        for c in range(0, len(names), 15):
            name = names[c : c + 15].strip()
            if name:
                energies[name] = float(values[c : c + 15])
        k += 2
    return energies


_GMX_TERMS = {
    "bonds": ("Bond",),
    "angles": ("Angle", "U-B"),
    "torsions": ("Proper Dih.", "Improper Dih.", "Per. Imp. Dih.", "Ryckaert-Bell."),
    "nonbonded": (
        "LJ-14",
        "Coulomb-14",
        "LJ (SR)",
        "Disper. corr.",
        "Coulomb (SR)",
        "Coul. recip.",
    ),
}


def openmm_terms(
    system: openmm.System, xyz_nm: np.ndarray, box_nm: np.ndarray, threads: int
) -> tuple[dict[str, float], dict]:
    """Potential energy of ``system`` by force class, and OpenMM's PME parameters."""
    system = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(system))
    groups = {
        openmm.HarmonicBondForce: ("bonds", 1),
        openmm.HarmonicAngleForce: ("angles", 2),
        openmm.PeriodicTorsionForce: ("torsions", 3),
        openmm.NonbondedForce: ("nonbonded", 4),
    }
    for force in system.getForces():
        force.setForceGroup(groups.get(type(force), ("other", 5))[1])
    context = openmm.Context(
        system,
        openmm.VerletIntegrator(0.001),
        openmm.Platform.getPlatformByName("CPU"),
        {"Threads": str(threads)},
    )
    context.setPeriodicBoxVectors(*box_nm)
    context.setPositions(xyz_nm)
    terms = {}
    for name, group in groups.values():
        state = context.getState(getEnergy=True, groups={group})
        terms[name] = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    terms["potential"] = sum(terms.values())
    return terms, pme_parameters(context)


def _grompp(
    system: openmm.System,
    pdb: app.PDBFile,
    workdir: Path,
    protocol: MDProtocol,
    threads: int,
    stem: str,
    n_steps: int,
) -> tuple[Path, dict[str, float], dict, Path]:
    """Topology, coordinates and ``{stem}.tpr`` with OpenMM's PME parameters.

    ``stem`` "rerun" makes a single-point input, anything else a run of ``n_steps``.
    Returns the .gro path, OpenMM's energy terms at its coordinates, OpenMM's PME
    parameters and the log path.
    """
    top, gro, xyz, box = to_gromacs(system, pdb, workdir)
    ours, pme = openmm_terms(system, xyz, box, threads)
    (workdir / f"{stem}.mdp").write_text(_mdp(pme, protocol, n_steps, rerun=stem == "rerun"))
    log = workdir / "gmx.log"
    _gmx(
        ["grompp", "-f", f"{stem}.mdp", "-c", gro.name, "-p", top.name, "-o", f"{stem}.tpr",
         "-po", f"{stem}_out.mdp"],
        workdir,
        log,
    )  # fmt: skip
    return gro, ours, pme, log


def gromacs_energy_check(
    system: openmm.System, pdb: app.PDBFile, workdir: Path, protocol: MDProtocol, threads: int
) -> dict[str, Any]:
    """Both engines' potential energy, by term, for the same coordinates (``-rerun``)."""
    gro, ours, pme, log = _grompp(system, pdb, workdir, protocol, threads, "rerun", 0)
    _gmx(
        ["mdrun", "-s", "rerun.tpr", "-rerun", gro.name, "-deffnm", "rerun", "-nt", str(threads)],
        workdir,
        log,
    )
    theirs_raw = _log_energies(workdir / "rerun.log")
    theirs = {
        name: sum(theirs_raw.get(t, 0.0) for t in gmx_terms)
        for name, gmx_terms in _GMX_TERMS.items()
    }
    theirs["potential"] = theirs_raw["Potential"]
    scale = sum(abs(ours[name]) for name in _GMX_TERMS)
    rows = {}
    for name in (*_GMX_TERMS, "potential"):
        allowed = max(
            ENERGY_ABSOLUTE_FLOOR_KJ_PER_MOL,
            ENERGY_RELATIVE_TOLERANCE * (scale if name == "potential" else abs(ours[name])),
        )
        difference = theirs[name] - ours[name]
        rows[name] = {
            "openmm": ours[name],
            "gromacs": theirs[name],
            "difference": difference,
            "allowed": allowed,
            "agree": abs(difference) <= allowed,
        }
    return {
        "n_atoms": system.getNumParticles(),
        "pme": pme,
        "ewald_rtol_gromacs": math.erfc(pme["alpha_per_nm"] * pme["cutoff_nm"]),
        "terms_kj_per_mol": rows,
        "gromacs_terms_kj_per_mol": theirs_raw,
        "potential_difference_per_atom_kj_per_mol": rows["potential"]["difference"]
        / system.getNumParticles(),
        "tolerance": (
            f"each term within {ENERGY_RELATIVE_TOLERANCE:g} of its size (the total within "
            f"{ENERGY_RELATIVE_TOLERANCE:g} of the sum of the terms' sizes), at least "
            f"{ENERGY_ABSOLUTE_FLOOR_KJ_PER_MOL:g} kJ/mol"
        ),
        "agree": all(row["agree"] for row in rows.values()),
    }


_PERFORMANCE = re.compile(r"^Performance:\s+([0-9.]+)\s+([0-9.]+)", re.MULTILINE)


def gromacs_speed(
    system: openmm.System,
    pdb: app.PDBFile,
    workdir: Path,
    protocol: MDProtocol,
    n_steps: int,
    threads: int,
) -> dict[str, Any]:
    """GROMACS ns/day over ``n_steps`` (timers reset half-way, as ``-resethway`` does)."""
    *_, log = _grompp(system, pdb, workdir, protocol, threads, "md", n_steps)
    start = time.perf_counter()
    _gmx(
        ["mdrun", "-s", "md.tpr", "-deffnm", "md", "-nt", str(threads), "-ntmpi", "1",
         "-pin", "on", "-resethway", "-noconfout"],
        workdir,
        log,
    )  # fmt: skip
    wall = time.perf_counter() - start
    match = _PERFORMANCE.search((workdir / "md.log").read_text())
    if match is None:
        raise RuntimeError(f"no Performance line in {workdir / 'md.log'}")
    return {
        "n_steps": n_steps,
        "timestep_fs": protocol.timestep_fs,
        "ns_per_day": float(match.group(1)),
        "wall_s_including_setup": wall,
        "gromacs_version": _gmx(["--version"], workdir, log)
        .split("GROMACS version:")[1]
        .split("\n")[0]
        .strip(),
    }
