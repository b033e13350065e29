"""Where does ion pairing start? Li-P contacts through the start of a run, three starts.

Issue 20 asks for a start whose pairing is set by neither Packmol nor the minimiser, from
which pairing then approaches equilibrium from below. The convergence benchmark
(``bench_convergence.py``, ``measured/convergence.md``) found that the start the default
protocol gives (uncharged minimisation, decorrelation at 500 K with the ions uncharged)
keeps the packed box's pairing, but that after heating from 50 K with the charges on the
ions are paired *above* equilibrium (0.64-0.82 P per Li+ at the end of NPT, 0.18-0.55 at
the end of 1 ns).

Three starts of the same box (the default LiPF6-NMP box, 100 NMP + 11 LiPF6), same
seeds, the default configuration's stage lengths:

* ``cold``: the default, charges back on at 50 K, heated to 298.15 K;
* ``warm``: ``heating_start_kelvin`` at the target, charges back on at 298.15 K (no new
  code: was the cold start the cause?);
* ``shielded`` (:func:`run_shielded`, outside the workflow's MD code): the cation-anion
  Coulomb terms excluded, ion-solvent ones on, while the box is minimised and run 10 ps
  at 500 K and 10 ps at the target; then the full Hamiltonian, NPT, for 40 ps.

Recorded: the PF6- with an atom within 3 A of each Li+ (``md.criteria.ION_CONTACT_ANGSTROM``)
in the packed, minimised, heating-start, end-of-NPT and final structures, single frames.

    python benchmarks/bench_start.py run --replicas 3     # 9 min on 2 cores
    python benchmarks/bench_start.py shielded --threads 1 # 9 min, 1 core
    python benchmarks/bench_start.py report               # measured/start_contacts.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

RECORDS = HERE / "measured" / "start_contacts"
REPORT = HERE / "measured" / "start_contacts.md"
WORK = HERE / "results" / "start_contacts"
VARIANTS = {"cold": None, "warm": "target"}  # heating_start_kelvin: default, or the target
STAGES = ("packed", "minimized", "heating_start", "equilibrated", "final")
TEMPERATURE_KELVIN = 298.15


def protocol_settings(variant: str, replica: int, production_ps: float) -> dict[str, Any]:
    settings = dict(yaml.safe_load((REPO / "config" / "config.yaml").read_text())["md"]["protocol"])
    if VARIANTS[variant] == "target":
        settings["heating_start_kelvin"] = TEMPERATURE_KELVIN
    # as the workflow does: replica k runs with seed + k
    settings.update(production_ps=production_ps, seed=settings["seed"] + replica)
    return settings


def run_one(variant: str, replica: int, production_ps: float, threads: int, box: Path) -> Path:
    import logging

    from electrolyte_md.io import write_json
    from electrolyte_md.md import MDProtocol, run_md

    run_dir = WORK / "runs" / variant / f"rep{replica}"
    run_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=run_dir / "md.log", filemode="a", level=logging.INFO, force=True,
        format="%(asctime)s %(levelname)s %(message)s",
    )  # fmt: skip
    settings = protocol_settings(variant, replica, production_ps)
    settings.update(temperature_kelvin=TEMPERATURE_KELVIN, threads=threads, platform="CPU")
    protocol = MDProtocol(**settings)
    outputs = run_md(
        box / "system.xml", box / "system.pdb", protocol, run_dir, name=f"{variant} rep{replica}"
    )
    summary = json.loads(outputs.summary_json.read_text())
    record = {
        "variant": variant,
        "replica": replica,
        "heating_start_kelvin": protocol.heating_start_kelvin,
        "measured": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "ion_contacts_per_cation": summary["ion_contacts_per_cation"],
        "heating": summary.get("heating", {}),
        "equilibration": summary.get("equilibration", {}),
        "wall_seconds": summary["wall_seconds"],
        "steps": summary["steps"],
    }
    path = RECORDS / f"{variant}_rep{replica}.json"
    write_json(path, record)
    return path


def _shielded_system(system_xml: Path, topology: Any, protocol: Any):
    """The run's System twice: as it runs, and with every cation-anion pair's Coulomb
    term excluded (Lennard-Jones kept, Lorentz-Berthelot as Amber) for the start."""
    import openmm
    from openmm import unit

    from electrolyte_md.md.criteria import ionic_molecules
    from electrolyte_md.md.run import _molecules
    from electrolyte_md.md.system import prepare_for_md

    systems = []
    for _ in range(2):
        system = openmm.XmlSerializer.deserialize(Path(system_xml).read_text())
        prepare_for_md(system, topology, protocol)
        systems.append(system)
    shielded = systems[1]
    force = next(f for f in shielded.getForces() if isinstance(f, openmm.NonbondedForce))
    charges = [
        force.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
        for i in range(shielded.getNumParticles())
    ]
    cations, anions = ionic_molecules(_molecules(shielded), charges)
    for cation in cations:
        for i in cation:
            _, si, ei = force.getParticleParameters(i)
            for anion in anions:
                for j in anion:
                    _, sj, ej = force.getParticleParameters(j)
                    force.addException(i, j, 0.0, (si + sj) / 2, (ei * ej).sqrt())
    # the excluded pairs' Lennard-Jones, at the minimum image like everything else
    force.setExceptionsUsePeriodicBoundaryConditions(True)
    return systems[0], shielded, cations, anions


def run_shielded(replica: int, threads: int, box: Path) -> Path:
    """The start with the ions charged towards the solvent but not towards each other:
    minimise, 10 ps at 500 K and 10 ps at the target (NVT), so that each Li+ has its NMP
    shell before it sees an anion; then the full Hamiltonian, NPT for 40 ps."""
    import openmm
    from openmm import app, unit

    from electrolyte_md.io import write_json
    from electrolyte_md.md import MDProtocol
    from electrolyte_md.md.criteria import ion_contacts_per_cation

    settings = protocol_settings("cold", replica, 4.0)
    settings.update(temperature_kelvin=TEMPERATURE_KELVIN, threads=threads, platform="CPU")
    protocol = MDProtocol(**settings)
    pdb = app.PDBFile(str(box / "system.pdb"))
    full, shielded, cations, anions = _shielded_system(box / "system.xml", pdb.topology, protocol)
    platform = openmm.Platform.getPlatformByName("CPU")
    dt = protocol.timestep_fs * unit.femtosecond
    steps_per_ps = round(1000 / protocol.timestep_fs)

    def contacts(context) -> float:
        state = context.getState(positions=True)
        return ion_contacts_per_cation(
            state.getPositions(asNumpy=True).value_in_unit(unit.nanometer),
            state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer),
            cations,
            anions,
        )

    record: dict[str, Any] = {"variant": "shielded", "replica": replica}
    found = {"packed": None}
    integrator = openmm.LangevinMiddleIntegrator(500 * unit.kelvin, 1 / unit.picosecond, dt)
    integrator.setRandomNumberSeed(protocol.seed)
    start = openmm.Context(shielded, integrator, platform, {"Threads": str(threads)})
    start.setPositions(pdb.positions)
    start.setPeriodicBoxVectors(*pdb.topology.getPeriodicBoxVectors())
    found["packed"] = contacts(start)
    openmm.LocalEnergyMinimizer.minimize(start, 10.0)
    found["minimized"] = contacts(start)
    start.setVelocitiesToTemperature(500 * unit.kelvin, protocol.seed)
    integrator.step(10 * steps_per_ps)
    integrator.setTemperature(TEMPERATURE_KELVIN * unit.kelvin)
    integrator.step(10 * steps_per_ps)
    state = start.getState(positions=True, velocities=True)
    found["heating_start"] = contacts(start)
    integrator2 = openmm.LangevinMiddleIntegrator(
        TEMPERATURE_KELVIN * unit.kelvin, 1 / unit.picosecond, dt
    )
    integrator2.setRandomNumberSeed(protocol.seed + 1)
    barostats = [f for f in full.getForces() if isinstance(f, openmm.MonteCarloBarostat)]
    for barostat in barostats:  # the run's barostat is added switched off; NPT here
        barostat.setFrequency(25)
    context = openmm.Context(full, integrator2, platform, {"Threads": str(threads)})
    context.setPeriodicBoxVectors(*state.getPeriodicBoxVectors())
    context.setPositions(state.getPositions())
    context.setVelocities(state.getVelocities())
    series = []
    for _ in range(40):
        integrator2.step(steps_per_ps)
        series.append(contacts(context))
    found["equilibrated"] = series[-1]
    found["final"] = series[-1]
    record.update(
        heating_start_kelvin=TEMPERATURE_KELVIN,
        measured=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        ion_contacts_per_cation=found,
        contacts_each_ps_of_npt=series,
        heating={"length_ps": 0.0, "ended_by": "none: 10 ps at 500 K + 10 ps at target, shielded"},
    )
    path = RECORDS / f"shielded_rep{replica}.json"
    write_json(path, record)
    return path


def _row(record: dict[str, Any]) -> str:
    contacts = record["ion_contacts_per_cation"]
    values = " / ".join(
        f"{contacts[s]:.2f}" if isinstance(contacts.get(s), int | float) else "-" for s in STAGES
    )
    heating = record["heating"]
    ended = heating.get("ended_by") or heating.get("criterion") or "-"
    return (
        f"| {record['variant']} rep{record['replica']} | {record['heating_start_kelvin']:g} | "
        f"{values} | {heating.get('length_ps', '-')} | {ended} |"
    )


def write_report() -> str:
    records = [json.loads(p.read_text()) for p in sorted(RECORDS.glob("*.json"))]
    lines = [
        "# Ion pairing through the start of a run: heating from 50 K or from the target",
        "",
        "Made by `benchmarks/bench_start.py` (its docstring says what and why). Default "
        "LiPF6-NMP box (100 NMP, 11 LiPF6), 298.15 K, the default configuration's stage "
        "lengths; counter-ions within the contact distance of each Li+, single frames.",
        "",
        "| run | heating from (K) | contacts: " + " / ".join(STAGES) + " | heating ps | "
        "heating ended by |",
        "|---|---|---|---|---|",
        *(_row(r) for r in records),
        "",
    ]
    for variant in (*VARIANTS, "shielded"):
        chosen = [r for r in records if r["variant"] == variant]
        if not chosen:
            continue
        means = []
        for stage in STAGES:
            values = [r["ion_contacts_per_cation"].get(stage) for r in chosen]
            values = [v for v in values if isinstance(v, int | float)]
            means.append(f"{np.mean(values):.2f}" if values else "-")
        lines.append(f"Mean of {len(chosen)} {variant} runs: " + " / ".join(means) + ".")
    lines += [
        "",
        "Reading: the start keeps the packed box's pairing until heating, and then the "
        "ions pair within tens of ps, to about three times what 1 ns of production ends at "
        "(0.1-0.55 in `convergence.md`), whether their charges return at 50 K or at the "
        "target: heating from the target does not make pairing approach equilibrium from "
        "below (docs/models.md, MD protocol, decorrelation).",
        "",
        "Shielded (`run_shielded`, outside the workflow's MD code): the ions keep their "
        "charges towards the solvent but their cation-anion Coulomb terms are excluded "
        "while the box is minimised and run 10 ps at 500 K and 10 ps at the target; then "
        "the full Hamiltonian, NPT, contacts every ps for 40 ps. Every Li+ gets an NMP "
        "shell and no run forms a single contact in those 40 ps: pairing starts from "
        "below. How fast it then rises, and whether it meets the runs that fall from "
        "above (bracketing the equilibrium from both sides), is what a convergence run "
        "of this start has to measure.",
        "",
    ]
    text = "\n".join(lines)
    REPORT.write_text(text)
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("run", "shielded", "report"))
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--production-ps", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.command == "report":
        print(write_report())
        return
    import bench_convergence

    box = bench_convergence.build_box(args.threads)
    variants = ("shielded",) if args.command == "shielded" else tuple(VARIANTS)
    for replica in range(1, args.replicas + 1):
        for variant in variants:
            if (RECORDS / f"{variant}_rep{replica}.json").is_file():
                continue
            print(f"{datetime.datetime.now():%H:%M:%S} running {variant} rep{replica}", flush=True)
            if variant == "shielded":
                run_shielded(replica, args.threads, box)
            else:
                run_one(variant, replica, args.production_ps, args.threads, box)
            write_report()
    print(write_report())


if __name__ == "__main__":
    main()
