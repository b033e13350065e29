"""Convergence of CN(Li-P): the old start (charged minimisation, density-only NPT) against
the new one (uncharged minimisation, hot uncharged decorrelation, heating and NPT ended
on temperature, energy and density), same box, same seeds.

    .venv/bin/python benchmarks/bench_convergence.py run      # hours on 2 cores; resumable
    .venv/bin/python benchmarks/bench_convergence.py report   # convergence.md from the records

``run`` builds the default LiPF6-NMP box with the pipeline (100 NMP, 11 LiPF6, 1,688
atoms, as ``make run`` packs it), then runs replica 1 new, 1 old, 2 new, 2 old, ... one at
a time. Each finished run leaves a small record in
``benchmarks/measured/convergence/<protocol>_rep<k>.json`` (its per-frame CN(Li-P), the
wall and simulated times of each stage, the ion contacts of its structures), and the
report is rewritten after each: commit the records, and the benchmark carries on from
them on the next machine (a run killed midway continues from its MD checkpoints on the
same machine, and starts over on another). Trajectories stay in ``benchmarks/results/``.

What is measured, per run and per protocol:

* CN(Li-P) of production (P within :data:`CUTOFF_ANGSTROM` of a Li+, per frame, and
  each Li+'s count), its equilibrated region, standard error (the larger of the one from
  the statistical inefficiency and the one between Li+) and drift p-value
  (:func:`electrolyte_md.timeseries.analyze_series`), and the first -> last of five
  blocks (the old protocol's fall from its minimised contacts shows there);
* time to precision: the shortest production prefix (in steps of :data:`PREFIX_STEP_PS`)
  that :func:`electrolyte_md.timeseries.precise_enough` accepts at SE <= :data:`TARGET_SE`
  (no drift, an equilibrated region of at least half the prefix, values that vary: the
  rule of the MD stage's production target), as simulated time and wall time
  *including* the start (minimisation to the end of NPT);
  and the time from which every longer prefix is steady (the same rule without the SE:
  how long the start's bias takes to relax, apart from the box's size);
* the replicas' spread against their errors: chi-square of the replica means about their
  weighted mean, with the errors above (consistent when p > 0.05);
* each Li+'s average pooled over the runs of a protocol, and from their SD the number of
  runs of this box a CN with SE <= :data:`TARGET_SE` needs (the cost a study plans for).

``recount`` adds the per-Li+ counts to records made before they were kept, from the
trajectories on the machine that ran them.

The targets (issue 20): no significant drift in all but at most one new-protocol
replica; replica spread consistent with the errors; wall time to a precise, drift-free CN
at least 2x shorter with the new protocol.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

#: Li-P shell: the first minimum of Li-P g(r) in the project's 1 ns study
#: (validation/start_contacts.py); one cutoff for every run, so CNs compare like with like.
CUTOFF_ANGSTROM = 4.475
TARGET_SE = 0.05
PREFIX_STEP_PS = 50.0
N_BLOCKS = 5
PROTOCOLS = ("new", "old")
RECORDS = HERE / "measured" / "convergence"
REPORT = HERE / "measured" / "convergence.md"
WORK = HERE / "results" / "convergence"

#: The old protocol: what the pipeline did before issue 20 (the criteria it lacked are
#: set so loose that they always hold: density alone ends NPT, as it did).
OLD = {
    "minimize_ions_uncharged": False,
    "decorrelation_ps": 0.0,
    "heating_max_ps": None,
    "energy_tolerance_sd": 1e9,
    "temperature_tolerance_kelvin": 1e9,
}


#: The stage lengths the measured runs used (the default config's until make run was cut
#: to a first run in minutes): the equilibration both protocols get before production.
MEASURED_STAGES = {
    "decorrelation_ps": 20.0,
    "heating_max_ps": 40.0,
    "equilibration_ps": 50.0,
    "equilibration_max_ps": 100.0,
}


def protocol_settings(name: str, replica: int, production_ps: float) -> dict[str, Any]:
    """The default config's protocol with the measured stage lengths (new), or its
    pre-issue-20 form (old), for a replica."""
    settings = dict(yaml.safe_load((REPO / "config" / "config.yaml").read_text())["md"]["protocol"])
    settings.update(MEASURED_STAGES)
    if name == "old":
        settings.update(OLD)
    # as the workflow does: replica k runs with seed + k
    settings.update(production_ps=production_ps, seed=settings["seed"] + replica)
    return settings


def build_box(cores: int) -> Path:
    import run as bench_run  # benchmarks/run.py: the pipeline builds the box

    directory = WORK / "build" / "results" / "systems" / "bench_default"
    if not (directory / "system.xml").is_file():
        bench_run.build_boxes(WORK / "build", {"default": (100, 0)}, cores)
    return directory


def li_p_series(run_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times (ps), CN(Li-P) per frame and each Li+'s number of P per frame
    ``(n_frames, n_li)`` of a run's production trajectory."""
    import MDAnalysis

    from electrolyte_md.analysis.rdf import CentreCounts, RDFCoordination

    universe = MDAnalysis.Universe(str(run_dir / "prod_final.pdb"), str(run_dir / "prod.dcd"))
    li = universe.select_atoms("resname LI")
    p = universe.select_atoms("resname PF6 and element P")
    rdf = RDFCoordination(li, p, cutoff_angstrom=CUTOFF_ANGSTROM, bin_width_angstrom=0.05).run()
    counts = CentreCounts([(li, p, CUTOFF_ANGSTROM)]).run().results.counts[0]
    return (
        np.asarray(rdf.results.times_ps),
        np.asarray(rdf.results.coordination_number_per_frame),
        counts,
    )


def encode_counts(counts: np.ndarray) -> list[str]:
    """Per Li+, its counts frame by frame as one string of digits (a P count is 0-9)."""
    if counts.size and (counts.min() < 0 or counts.max() > 9):
        raise ValueError("a count outside 0-9 cannot be written as one digit")
    return ["".join(map(str, column)) for column in np.asarray(counts, dtype=int).T]


def decode_counts(columns: list[str]) -> np.ndarray:
    """``(n_frames, n_li)`` counts from :func:`encode_counts`."""
    return np.array([[int(c) for c in column] for column in columns], dtype=int).T


def per_cation(record: dict[str, Any]) -> np.ndarray | None:
    columns = record.get("cn_li_p_per_cation")
    return decode_counts(columns) if columns else None


def run_one(name: str, replica: int, production_ps: float, threads: int, box: Path) -> Path:
    import logging

    from electrolyte_md.io import write_json
    from electrolyte_md.md import MDProtocol, run_md

    record_path = RECORDS / f"{name}_rep{replica}.json"
    settings = protocol_settings(name, replica, production_ps)
    run_dir = WORK / "runs" / name / f"rep{replica}"
    run_dir.mkdir(parents=True, exist_ok=True)
    # appended: a continued run keeps the log of its first part
    logging.basicConfig(
        filename=run_dir / "md.log",
        filemode="a",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        force=True,
    )
    settings.update(temperature_kelvin=298.15, threads=threads, platform="CPU")
    protocol = MDProtocol(**settings)
    t0 = time.perf_counter()
    outputs = run_md(
        box / "system.xml", box / "system.pdb", protocol, run_dir, name=f"{name} rep{replica}"
    )
    summary = json.loads(outputs.summary_json.read_text())
    times, cn, counts = li_p_series(run_dir)
    wall = summary["wall_seconds"]
    steps = summary["steps"]
    dt_ps = protocol.timestep_ps
    start_phases = ("decorrelation", "heating", "equilibration")
    record = {
        "protocol": name,
        "replica": replica,
        "settings": protocol.as_dict(),
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "threads": threads,
            # other work on the machine inflates the wall times: 1-, 5-, 15-min loads
            "load_average_at_end": os.getloadavg(),
        },
        "measured": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "invocation_wall_s": time.perf_counter() - t0,
        "n_continuations": summary["restarts"]["n_continuations"],
        "start_simulated_ps": sum(steps[p] for p in start_phases) * dt_ps,
        "start_wall_s": wall["minimization"] + sum(wall[p] for p in start_phases),
        "production_wall_s_per_ps": wall["production_with_output"] / protocol.production_ps,
        "ion_contacts_per_cation": summary["ion_contacts_per_cation"],
        "heating": {k: summary["heating"].get(k) for k in ("ended_by", "length_ps")},
        "equilibration": {
            k: summary["equilibration"].get(k) for k in ("ended_by", "length_ps", "failed_criteria")
        },
        "cutoff_angstrom": CUTOFF_ANGSTROM,
        "times_ps": [round(float(t), 3) for t in times],
        "cn_li_p": [round(float(c), 6) for c in cn],
        "cn_li_p_per_cation": encode_counts(counts),
    }
    RECORDS.mkdir(parents=True, exist_ok=True)
    write_json(record_path, record)
    return record_path


def recount() -> None:
    """Add each Li+'s counts to records made before they were kept, from the run's
    trajectory (on the machine that ran it)."""
    from electrolyte_md.io import write_json

    for path in sorted(RECORDS.glob("*_rep*.json")):
        record = json.loads(path.read_text())
        if record.get("cn_li_p_per_cation"):
            continue
        run_dir = WORK / "runs" / record["protocol"] / f"rep{record['replica']}"
        if not (run_dir / "prod.dcd").is_file():
            print(f"{path.name}: no trajectory in {run_dir}; left as it is")
            continue
        times, cn, counts = li_p_series(run_dir)
        if len(times) != len(record["times_ps"]) or not np.allclose(
            cn, record["cn_li_p"], atol=1e-5
        ):
            raise SystemExit(f"{path.name}: the trajectory in {run_dir} is not the one recorded")
        record["cn_li_p_per_cation"] = encode_counts(counts)
        write_json(path, record)
        print(f"{path.name}: per-Li+ counts added ({counts.shape[0]} frames)")


# --------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------


def time_to_precision(record: dict[str, Any]) -> dict[str, Any]:
    """When the production prefixes (every PREFIX_STEP_PS) first pass, and from when on
    every longer one passes, :func:`~electrolyte_md.timeseries.precise_enough` at
    TARGET_SE; and from when on every longer prefix is steady (no drift, an equilibrated
    region of at least half the prefix: the rule without its SE).

    The first pass alone is what a run stopping at its target would report; a run that
    relaxes on a longer time scale than the prefix (ion pairs exchange on the ns scale)
    passes early with an estimate the rest of the run contradicts.  The sustained time
    is the benchmark's figure: a prefix after which no longer prefix fails.  The steady
    time is what the start decides (how long its bias takes to relax) apart from how many
    ion pairs the box has (which sets the SE, see ``timeseries``, point 4).

    Returns
    -------
    dict
        ``first``, ``sustained`` and ``steady``: None, or ``production_ps``,
        ``simulated_ps`` and ``wall_s`` (from the start of the run).
    """
    from electrolyte_md.errors import AnalysisError
    from electrolyte_md.timeseries import (
        DRIFT_P,
        MIN_USED_FRACTION,
        analyze_series,
        precise_enough,
    )

    times = np.asarray(record["times_ps"])
    cn = np.asarray(record["cn_li_p"])
    sites = per_cation(record)
    interval = float(times[1] - times[0]) if len(times) > 1 else 1.0
    prefixes = np.arange(PREFIX_STEP_PS, times[-1] + interval / 2, PREFIX_STEP_PS)
    precise, steady = [], []
    for prefix_ps in prefixes:
        n = int(round(prefix_ps / interval))
        try:
            stats = analyze_series(
                cn[:n], times[:n], name="CN(Li-P)", sites=None if sites is None else sites[:n]
            )
        except AnalysisError:
            precise.append(False)
            steady.append(False)
            continue
        precise.append(precise_enough(stats, TARGET_SE))
        steady.append(stats.drift_p > DRIFT_P and stats.used_fraction >= MIN_USED_FRACTION)

    def at(prefix_ps: float) -> dict[str, float]:
        return {
            "production_ps": float(prefix_ps),
            "simulated_ps": record["start_simulated_ps"] + float(prefix_ps),
            "wall_s": record["start_wall_s"]
            + float(prefix_ps) * record["production_wall_s_per_ps"],
        }

    def from_then_on(passes: list[bool]) -> dict[str, float] | None:
        since = None
        for k in range(len(passes) - 1, -1, -1):
            if not passes[k]:
                break
            since = at(prefixes[k])
        return since

    first = next((at(t) for t, ok in zip(prefixes, precise, strict=True) if ok), None)
    return {"first": first, "sustained": from_then_on(precise), "steady": from_then_on(steady)}


def summarize(record: dict[str, Any]) -> dict[str, Any]:
    from electrolyte_md.timeseries import analyze_series

    times = np.asarray(record["times_ps"])
    cn = np.asarray(record["cn_li_p"])
    stats = analyze_series(cn, times, name="CN(Li-P)", sites=per_cation(record))
    blocks = [float(b.mean()) for b in np.array_split(cn, N_BLOCKS)]
    return {
        "record": record,
        "stats": stats,
        "blocks": blocks,
        "precision": time_to_precision(record),
    }


def spread_check(rows: list[dict[str, Any]]) -> tuple[float, int, float] | None:
    """Chi-square of replica means about their weighted mean: (chi2, dof, p)."""
    from scipy import stats as scipy_stats

    means = np.array([r["stats"].mean for r in rows])
    errors = np.array([r["stats"].standard_error for r in rows])
    if len(rows) < 2 or np.any(errors <= 0):
        return None
    weights = 1.0 / errors**2
    centre = float(np.sum(weights * means) / np.sum(weights))
    chi2 = float(np.sum(((means - centre) / errors) ** 2))
    dof = len(rows) - 1
    return chi2, dof, float(scipy_stats.chi2.sf(chi2, dof))


def pooled_sites(rows: list[dict[str, Any]]) -> tuple[float, float, float, int] | None:
    """Each Li+'s mean over its run's equilibrated region, pooled over the runs: (mean,
    its SE, SD between Li+, number of Li+); None if a run lacks per-Li+ counts."""
    means = []
    for row in rows:
        sites = per_cation(row["record"])
        if sites is None:
            return None
        means.append(sites[row["stats"].equilibration_index :].mean(axis=0))
    pooled = np.concatenate(means)
    sd = float(np.std(pooled, ddof=1))
    return float(pooled.mean()), sd / math.sqrt(len(pooled)), sd, len(pooled)


def write_report() -> str:
    records = [json.loads(p.read_text()) for p in sorted(RECORDS.glob("*_rep*.json"))]
    lines = [
        "# Convergence of CN(Li-P): old start against new",
        "",
        "Made by `benchmarks/bench_convergence.py` (its docstring says what and how); the",
        "per-run records are in `benchmarks/measured/convergence/`.",
        f"CN(Li-P): P within {CUTOFF_ANGSTROM} A of a Li+, per frame, on the default box "
        "(100 NMP, 11 LiPF6, 1,688 atoms) at 298.15 K.",
        "Old: charged minimisation, 10 ps heating, NPT ended on density alone. New: "
        "uncharged minimisation, 20 ps at 500 K uncharged, heating and NPT ended on "
        "temperature, energy and density (docs/models.md, MD protocol).",
        "First precise: the shortest production prefix passing the rule below, as a run "
        "stopping at its target would; precise from then on (the figure compared): the "
        "prefix after which every longer one passes too. "
        f"The rule, on prefixes in steps of {PREFIX_STEP_PS:g} ps: SE <= {TARGET_SE}, drift "
        "p > 0.05, an equilibrated region of at least half the prefix and a CN that varies "
        "in it (`timeseries.precise_enough`, the rule of the production target). Wall "
        "times count from the start of the run (minimisation, decorrelation, heating and "
        "NPT included).",
        "",
    ]
    if not records:
        lines.append("No run has finished yet.")
        text = "\n".join(lines) + "\n"
        REPORT.write_text(text)
        return text
    first = records[0]
    lines += [
        f"Machine: {first['machine']['processor']}, {first['machine']['cpus']} CPUs, "
        f"{first['machine']['threads']} OpenMM threads; production "
        f"{first['settings']['production_ps']:g} ps per run.",
        "",
        "| run | contacts packed / minimised / heating start / end of NPT / final | "
        "start ps (wall s) | "
        "CN(Li-P) equilibrated +- SE | SE from g / between Li+ | discarded ps | g | drift p | "
        "blocks first -> last | "
        "first precise: production ps, wall s | precise from then on: production ps, wall s | "
        "steady from then on: production ps, wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    by_protocol: dict[str, list[dict[str, Any]]] = {p: [] for p in PROTOCOLS}
    for record in records:
        row = summarize(record)
        by_protocol[record["protocol"]].append(row)
        s = row["stats"]
        c = record["ion_contacts_per_cation"]
        precision = row["precision"]

        def reached(when: dict[str, float] | None, record: dict[str, Any] = record) -> str:
            if when is None:
                return f"not within {record['times_ps'][-1]:g} ps"
            return f"{when['production_ps']:g}, {when['wall_s']:.0f}"

        lines.append(
            f"| {record['protocol']} rep{record['replica']} | {c['packed']:.2f} / "
            f"{c['minimized']:.2f} / {c.get('heating_start', math.nan):.2f} / "
            f"{c.get('equilibrated', math.nan):.2f} / {c['final']:.2f} | "
            f"{record['start_simulated_ps']:g} ({record['start_wall_s']:.0f}) | "
            f"{s.mean:.3f} +- {s.standard_error:.3f} | "
            f"{s.standard_error_time:.3f} / {s.standard_error_sites:.3f} | {s.discarded_time:g} | "
            f"{s.statistical_inefficiency:.1f} | {s.drift_p:.3f} | "
            f"{row['blocks'][0]:.3f} -> {row['blocks'][-1]:.3f} | "
            f"{reached(precision['first'])} | {reached(precision['sustained'])} | "
            f"{reached(precision['steady'])} |"
        )
    lines += ["", "## Per protocol", ""]
    lines += [
        "| protocol | runs | drifting (p <= 0.05) | replica spread: chi2 / dof, p | "
        "Li+ of all runs: CN +- SE (Li+), SD between Li+ | runs of this box for SE "
        f"{TARGET_SE} | mean wall s to sustained precision | mean wall s to steady |",
        "|---|---|---|---|---|---|---|---|",
    ]
    mean_wall: dict[str, dict[str, float]] = {"sustained": {}, "steady": {}}
    for name, rows in by_protocol.items():
        if not rows:
            continue
        drifting = sum(1 for r in rows if not r["stats"].drift_p > 0.05)
        spread = spread_check(rows)
        spread_text = f"{spread[0]:.2f} / {spread[1]}, p = {spread[2]:.3f}" if spread else "one run"
        pooled = pooled_sites(rows)
        if pooled is None:
            pooled_text = needed_text = "-"
        else:
            mean, se, sd, n_li = pooled
            per_run = n_li / len(rows)
            needed = math.ceil((sd / TARGET_SE) ** 2 / per_run)
            pooled_text = f"{mean:.3f} +- {se:.3f} ({n_li}), {sd:.2f}"
            needed_text = f"{needed}"
        texts = []
        for kind in ("sustained", "steady"):
            reached = [r["precision"][kind]["wall_s"] for r in rows if r["precision"][kind]]
            if reached:
                mean_wall[kind][name] = float(np.mean(reached))
            texts.append(
                f"{np.mean(reached):.0f} ({len(reached)} of {len(rows)})" if reached else "-"
            )
        lines.append(
            f"| {name} | {len(rows)} | {drifting} | {spread_text} | {pooled_text} | "
            f"{needed_text} | {texts[0]} | {texts[1]} |"
        )
    lines += [
        "",
        "Spread check: chi-square of the runs' CNs about their weighted mean with their "
        "reported errors (consistent when p > 0.05). Li+ of all runs: each Li+'s average "
        "over its run's equilibrated region, pooled; the runs needed for the target SE "
        "follow from their SD (SD^2 / SE^2 / Li+ per run, Li+ taken as independent). "
        'A time "from then on" equal to the run\'s length means only the whole run passed.',
        "",
    ]
    for kind, what in (("sustained", "a precise, drift-free CN"), ("steady", "a steady CN")):
        walls = mean_wall[kind]
        if "new" in walls and "old" in walls:
            lines.append(
                f"Wall time to {what}, old / new: {walls['old'] / walls['new']:.2f} (target >= 2)."
            )
        else:
            lines.append(
                f"Wall time to {what}: not measurable (a protocol has no run that got there)."
            )
    text = "\n".join(lines) + "\n"
    REPORT.write_text(text)
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("run", "report", "recount"))
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--production-ps", type=float, default=1000.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="one replica of 20 ps per protocol, records under benchmarks/results/: "
        "checks the harness, measures nothing",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        global RECORDS, REPORT, WORK
        WORK = WORK / "smoke"
        RECORDS, REPORT = WORK / "records", WORK / "convergence.md"
        args.replicas, args.production_ps = 1, 20.0
    if args.command == "report":
        print(write_report())
        return
    if args.command == "recount":
        recount()
        print(write_report())
        return
    box = build_box(args.threads)
    for replica in range(1, args.replicas + 1):
        for name in PROTOCOLS:
            if (RECORDS / f"{name}_rep{replica}.json").is_file():
                continue
            print(f"{datetime.datetime.now():%H:%M:%S} running {name} rep{replica}", flush=True)
            run_one(name, replica, args.production_ps, args.threads, box)
            write_report()
    print(write_report())


if __name__ == "__main__":
    main()
