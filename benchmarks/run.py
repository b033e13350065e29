"""Run every benchmark in one go and write ``benchmarks.json`` and ``benchmarks.md``.

    .venv/bin/python benchmarks/run.py                 # the standard boxes (~30 min, 2 cores)
    .venv/bin/python benchmarks/run.py --smoke         # a tiny case, to check the harness

Every figure is a ratio of two numbers measured in this run on this machine, given with
the absolute numbers and the machine. What is measured, and against what:

1. MD (``bench_md``), on the standard box (1 M LiPF6 in NMP, about 5,000 atoms) with and
   without one Ti6(HPAB), built by the pipeline itself:
   the pipeline's production phase against a bare OpenMM loop (target: <= 5 % overhead);
   OpenMM against GROMACS on the same System (energies of the same coordinates, term by
   term, and ns/day at 2 fs); 4 fs with hydrogen mass repartitioning against 2 fs; the
   bare loop at three box sizes.
2. Analysis (``bench_analysis``): the RDF/coordination-number stage's frames per second
   against the raw read rate of the same trajectory (target >= 0.5).
3. Workflow (``bench_workflow``): DAG build and dry run for 1,000 systems x 2
   temperatures x 3 replicas (target < 30 s).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openmm
import openmm.app as app
import openmm.unit as unit
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import bench_analysis  # noqa: E402
import bench_md  # noqa: E402
import bench_workflow  # noqa: E402

from electrolyte_md.md import MDProtocol  # noqa: E402
from electrolyte_md.md.system import nonbonded_cutoff_nm  # noqa: E402

#: name -> (NMP molecules, Ti6(HPAB) clusters). "standard" is the issue's ~5,000 atoms.
FULL_BOXES = {
    "small": (150, 0),
    "standard": (300, 0),
    "standard_Ti6HPAB": (300, 1),
    "large": (600, 0),
}
SMOKE_BOXES = {"small": (30, 0), "standard": (40, 0), "standard_Ti6HPAB": (60, 1), "large": (60, 0)}
SMOKE_CUTOFF_NM = 0.7  # the smoke boxes are 19-24 A wide


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    gmx = bench_md.GMX
    gmx_version = None
    if gmx:
        out = subprocess.run([gmx, "--version"], capture_output=True, text=True).stdout
        gmx_version = next(
            (ln.split(":", 1)[1].strip() for ln in out.splitlines() if "GROMACS version" in ln),
            None,
        )
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": cpu,
        "cpus_available": len(os.sched_getaffinity(0)),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "openmm": openmm.__version__,
        "gromacs": gmx_version,
        "load_average_at_start": os.getloadavg(),
    }


def build_boxes(
    workdir: Path, boxes: dict[str, tuple[int, int]], cores: int, cutoff_nm: float | None = None
) -> dict[str, Path]:
    """Pack and parameterise the boxes with the pipeline (snakemake up to system.xml)."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    if cutoff_nm is not None:
        config["forcefield"]["cutoff_nm"] = cutoff_nm
    cluster = config["species"]["Ti6HPAB"]["cluster"]
    cluster["structure"] = str(REPO / cluster["structure"])
    config["forcefield"]["cache_dir"] = str(REPO / ".cache" / "parameters")
    config["systems"] = {
        f"bench_{name}": {
            "solvents": {"NMP": 1.0},
            "n_solvent_molecules": n_nmp,
            "salts": {"LiPF6": 1.0},
            "additives": {"Ti6HPAB": n_ti6} if n_ti6 else {},
        }
        for name, (n_nmp, n_ti6) in boxes.items()
    }
    config.pop("binding_xtb", None)
    # the benchmark's systems are not the paper's (their names differ too)
    config.setdefault("validation", {})["paper_systems"] = []
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    targets = [f"results/systems/bench_{name}/system.xml" for name in boxes]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
         str(workdir), "--cores", str(cores), *targets],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    (workdir / "build.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"building the boxes failed; see {workdir / 'build.log'}")
    return {name: workdir / "results" / "systems" / f"bench_{name}" for name in boxes}


def _protocol(smoke: bool, **changes: Any) -> MDProtocol:
    """The default config's protocol, shortened: only the production phase is timed."""
    settings = dict(yaml.safe_load((REPO / "config" / "config.yaml").read_text())["md"]["protocol"])
    settings.update(
        heating_ps=2.0 if not smoke else 0.4,
        equilibration_ps=4.0 if not smoke else 0.8,
        equilibration_max_ps=4.0 if not smoke else 0.8,
        density_window_ps=1.0 if not smoke else 0.2,
        production_ps=20.0 if not smoke else 0.8,
        report_interval_ps=1.0 if not smoke else 0.2,
        checkpoint_interval_ps=10.0 if not smoke else 0.4,
        platform="CPU",
        temperature_kelvin=298.15,
    )
    settings.update(changes)
    return MDProtocol(**settings)


def md_benchmarks(
    boxes: dict[str, Path], workdir: Path, threads: int, smoke: bool
) -> dict[str, Any]:
    """Overhead, GROMACS, 4 fs / 2 fs and size scaling."""
    results: dict[str, Any] = {"overhead": {}, "gromacs": {}, "timestep": {}, "size": {}}
    production = _protocol(smoke, threads=threads)
    two_fs = _protocol(smoke, threads=threads, timestep_fs=2.0, hydrogen_mass_amu=None)
    gmx_steps = 5000 if not smoke else 100
    finals: dict[str, Path] = {}
    for name in ("standard", "standard_Ti6HPAB"):
        box = boxes[name]
        run_dir = workdir / "md" / name
        results["overhead"][name] = bench_md.pipeline_against_bare(
            box / "system.xml", box / "system.pdb", production, run_dir, threads=threads
        )
        finals[name] = run_dir / "pipeline_run" / "prod_final.pdb"
        pdb = app.PDBFile(str(finals[name]))
        results["timestep"][name] = {
            "4 fs, HMR": results["overhead"][name]["bare_ns_per_day"],
        }
        system_2fs, _ = bench_md.prepared_system(box / "system.xml", pdb.topology, two_fs)
        openmm_2fs = bench_md.bare_loop(system_2fs, pdb, two_fs, gmx_steps, threads=threads)
        results["timestep"][name]["2 fs"] = openmm_2fs["ns_per_day"]
        results["timestep"][name]["ratio_4fs_to_2fs"] = (
            max(results["timestep"][name]["4 fs, HMR"]) / openmm_2fs["ns_per_day"]
        )
        if bench_md.GMX is None:
            results["gromacs"][name] = {"skipped": "gmx not on PATH"}
            continue
        xyz = pdb.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        cutoff = nonbonded_cutoff_nm(system_2fs)
        longest = bench_md.largest_excluded_distance_nm(system_2fs, xyz)
        compared_cutoff = bench_md.gromacs_cutoff_nm(longest, cutoff)
        if compared_cutoff != cutoff:
            # GROMACS needs every excluded pair well inside the cutoff
            edge = min(pdb.topology.getUnitCellDimensions().value_in_unit(unit.nanometer))
            if 2 * compared_cutoff >= edge:
                results["gromacs"][name] = {
                    "skipped": f"excluded pairs {longest:.2f} nm apart need a cutoff of "
                    f"{compared_cutoff} nm in GROMACS; the box ({edge:.2f} nm) is too small"
                }
                continue
            system_2fs = bench_md.with_cutoff(system_2fs, compared_cutoff)
            openmm_2fs = bench_md.bare_loop(system_2fs, pdb, two_fs, gmx_steps, threads=threads)
        gdir = workdir / "gromacs" / name
        energy = bench_md.gromacs_energy_check(system_2fs, pdb, gdir, two_fs, threads)
        speed = bench_md.gromacs_speed(system_2fs, pdb, gdir, two_fs, gmx_steps, threads)
        results["gromacs"][name] = {
            "cutoff_nm": compared_cutoff,
            "pipeline_cutoff_nm": cutoff,
            "longest_excluded_pair_nm": longest,
            "energy": energy,
            "gromacs": speed,
            "openmm_bare_2fs": openmm_2fs,
            "ratio_openmm_to_gromacs": openmm_2fs["ns_per_day"] / speed["ns_per_day"],
        }
    size_steps = 2000 if not smoke else 100
    for name in ("small", "standard", "large"):
        box = boxes[name]
        pdb = app.PDBFile(str(box / "system.pdb"))
        system, _ = bench_md.prepared_system(box / "system.xml", pdb.topology, production)
        timing = bench_md.bare_loop(
            system, pdb, production, size_steps, threads=threads, minimize=True
        )
        timing["n_atoms"] = system.getNumParticles()
        timing["us_per_atom_step"] = timing["us_per_step"] / timing["n_atoms"]
        results["size"][name] = timing
    return results


def analysis_benchmark(workdir: Path, threads: int, smoke: bool) -> dict[str, Any]:
    """A trajectory of the standard box (frames every 10 steps), then the RDF stage on it."""
    box = workdir / "results" / "systems" / "bench_standard"
    final = workdir / "md" / "standard" / "pipeline_run" / "prod_final.pdb"
    pdb = app.PDBFile(str(final))
    protocol = _protocol(smoke, threads=threads)
    n_frames = 500 if not smoke else 20
    dcd = workdir / "analysis" / "frames.dcd"
    dcd.parent.mkdir(parents=True, exist_ok=True)
    bench_md.write_trajectory(box / "system.xml", pdb, protocol, dcd, n_frames, 10, threads)
    pairs = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["analysis"]["rdf"]
    pairs = {k: v for k, v in pairs["pairs"].items() if "requires" not in v}
    return bench_analysis.measure(box / "system.prmtop", dcd, pairs)


def to_markdown(report: dict[str, Any]) -> str:
    """The benchmark tables."""
    m = report["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured {m['date']} on {m['cpu']}, {m['cpus_available']} CPUs, "
        f"{m['memory_gib']} GiB; OpenMM {m['openmm']}, GROMACS {m['gromacs']}, "
        f"Python {m['python']}; {report['threads']} threads. Total "
        f"{report['wall_s'] / 60:.1f} min.",
        "",
    ]
    md = report["md"]
    lines += [
        "## MD: pipeline against a bare OpenMM loop (production settings: "
        f"{report['production_protocol']})",
        "",
        "Pipeline: the production phase by the wall clock (reporters, checkpoints, logging "
        "included). End to end: against a bare `integrator.step` loop of as many steps from "
        "the run's final state, run twice after it (the faster counts); this carries the "
        "drift of a shared machine. Output: the share of the production wall time outside "
        "the integration chunks, from the run's own clocks. Chunking: the pipeline's "
        "integration pattern (`Simulation.step` per report interval, then a state read) "
        "against the bare loop, alternated 3 times on one Context (medians). Overhead = "
        "output + chunking, judged against the target.",
        "",
        "| box | atoms | pipeline ns/day | bare ns/day | end to end | output | chunking | "
        "overhead | target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, o in md["overhead"].items():
        bare = " / ".join(f"{b:.2f}" for b in o["bare_ns_per_day"])
        ok = "met" if o["meets_target"] else "NOT met"
        lines.append(
            f"| {name} | {o['n_atoms']} | {o['pipeline_ns_per_day']:.2f} | {bare} | "
            f"{100 * o['end_to_end_overhead_fraction']:.1f} % | "
            f"{100 * o['output_share']:.2f} % | "
            f"{100 * o['alternation']['chunking_cost_fraction']:.1f} % | "
            f"{100 * o['overhead_fraction']:.1f} % | <= 5 %: {ok} |"
        )
    lines += [
        "",
        "## MD: OpenMM against GROMACS (same System, 2 fs, same PME splitting and grid)",
        "",
        "| box | atoms | cutoff nm | OpenMM ns/day | GROMACS ns/day | OpenMM / GROMACS | "
        "potential OpenMM | potential GROMACS | energies agree |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, g in md["gromacs"].items():
        if "skipped" in g:
            lines.append(f"| {name} | skipped: {g['skipped']} |||||||| ")
            continue
        pot = g["energy"]["terms_kj_per_mol"]["potential"]
        lines.append(
            f"| {name} | {g['energy']['n_atoms']} | {g['cutoff_nm']} | "
            f"{g['openmm_bare_2fs']['ns_per_day']:.2f} | {g['gromacs']['ns_per_day']:.2f} | "
            f"{g['ratio_openmm_to_gromacs']:.2f} | {pot['openmm']:.2f} | {pot['gromacs']:.2f} | "
            f"{'yes' if g['energy']['agree'] else 'NO'} |"
        )
    for name, g in md["gromacs"].items():
        if "skipped" in g:
            continue
        lines += ["", f"Energy terms, {name} (kJ/mol; {g['energy']['tolerance']}):", ""]
        lines += ["| term | OpenMM | GROMACS | difference | allowed |", "|---|---|---|---|---|"]
        for term, row in g["energy"]["terms_kj_per_mol"].items():
            lines.append(
                f"| {term} | {row['openmm']:.3f} | {row['gromacs']:.3f} | "
                f"{row['difference']:+.3f} | {row['allowed']:.3f} |"
            )
    lines += [
        "",
        "## MD: 4 fs with hydrogen mass repartitioning against 2 fs (bare loop)",
        "",
        "| box | 4 fs HMR ns/day | 2 fs ns/day | ratio |",
        "|---|---|---|---|",
    ]
    for name, t in md["timestep"].items():
        lines.append(
            f"| {name} | {max(t['4 fs, HMR']):.2f} | {t['2 fs']:.2f} | "
            f"{t['ratio_4fs_to_2fs']:.2f} |"
        )
    lines += [
        "",
        "## MD: cost against size (bare loop, production settings)",
        "",
        "| box | atoms | ns/day | us per step | us per atom-step |",
        "|---|---|---|---|---|",
    ]
    for name, s in md["size"].items():
        lines.append(
            f"| {name} | {s['n_atoms']} | {s['ns_per_day']:.2f} | {s['us_per_step']:.0f} | "
            f"{s['us_per_atom_step']:.3f} |"
        )
    a = report["analysis"]
    lines += [
        "",
        "## Analysis: RDF/coordination-number stage against the raw read rate",
        "",
        "| atoms | frames | raw read frames/s | stage frames/s | ratio | target |",
        "|---|---|---|---|---|---|",
        f"| {a['n_atoms']} | {a['n_frames']} | {a['raw_read_frames_per_s']:.0f} | "
        f"{a['stage_frames_per_s']:.0f} | {a['ratio']:.2f} | >= {a['target']}: "
        f"{'met' if a['meets_target'] else 'NOT met'} |",
    ]
    w = report["workflow"]
    lines += [
        "",
        "## Workflow: DAG build and dry run",
        "",
        "| systems x temperatures x replicas | jobs | dry run s | target |",
        "|---|---|---|---|",
        f"| {w['n_systems']} x {w['n_temperatures']} x {w['n_replicas']} | {w['n_jobs']} | "
        f"{w['dry_run_s']:.1f} | < {w['target_s']} s: "
        f"{'met' if w['meets_target'] else 'NOT met'} |",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny boxes: checks the harness")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--workdir", type=Path, default=None, help="default: OUT/work")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--markdown-from", type=Path, default=None, help="only rewrite the table of a JSON"
    )
    args = parser.parse_args(argv)
    if args.markdown_from is not None:
        report = json.loads(args.markdown_from.read_text())
        args.markdown_from.with_suffix(".md").write_text(to_markdown(report))
        return 0
    start = time.perf_counter()
    out = args.out.resolve()
    workdir = (args.workdir or out / "work").resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    report: dict[str, Any] = {
        "machine": machine(),
        "smoke": args.smoke,
        "threads": args.threads,
    }
    if args.smoke:
        boxes = build_boxes(workdir, SMOKE_BOXES, args.threads, SMOKE_CUTOFF_NM)
    else:
        boxes = build_boxes(workdir, FULL_BOXES, args.threads)
    production = _protocol(args.smoke)
    report["production_protocol"] = (
        f"{production.timestep_fs:g} fs, H mass {production.hydrogen_mass_amu} amu, "
        f"{production.production_ps:g} ps, frames every {production.report_interval_ps:g} ps, "
        f"checkpoints every {production.checkpoint_interval_ps:g} ps"
    )
    report["md"] = md_benchmarks(boxes, workdir, args.threads, args.smoke)
    report["analysis"] = analysis_benchmark(workdir, args.threads, args.smoke)
    n = (5, 1, 1) if args.smoke else (1000, 2, 3)
    report["workflow"] = bench_workflow.measure(
        workdir / "workflow", n_systems=n[0], n_temperatures=n[1], n_replicas=n[2]
    )
    report["wall_s"] = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    stem = "benchmarks_smoke" if args.smoke else "benchmarks"
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    (out / f"{stem}.md").write_text(to_markdown(report))
    print(to_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
