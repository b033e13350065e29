"""The MD stage where a step is a hundred times faster: the pipeline against a bare OpenMM
loop on a GPU, for pipeline-built boxes of about 5k, 20k and 80k atoms, and the analysis
stage on the trajectory made.

    .venv/bin/python benchmarks/bench_gpu.py build               # once, on CPUs (minutes)
    .venv/bin/python benchmarks/bench_gpu.py run --platform CUDA # on the GPU: < 8 min
    .venv/bin/python benchmarks/bench_gpu.py run --smoke         # CPU, a tiny box: the harness

``build`` packs and parameterises the boxes with the pipeline (LiPF6 1 M in NMP: 300,
1,200 and 4,800 NMP: 5,056, 20,232 and 80,920 atoms) into ``benchmarks/results/gpu/``
and gzips each ``system.xml`` (``--carry DIR`` copies the three boxes, about 15 MB, to a
folder that can travel to a GPU machine).  ``run`` needs no AmberTools or Packmol: only
OpenMM with the platform, MDAnalysis and the package.

What ``run`` measures, per box, with the default protocol (4 fs, hydrogen mass
repartitioning, mixed precision on a GPU), for frames and energies every 1 ps and every
10 ps:

* the pipeline's production (``run_md``: chunked stepping, a state read, an energy row and
  a DCD frame per report, checkpoints) by the wall clock, ns/day;
* a bare ``integrator.step`` loop of as many steps on the same System and platform,
  started from the pipeline's final state, twice (the faster counts), ns/day; the ratio
  pipeline / bare is the figure (target: >= 0.95 at 20k atoms with 1 ps reports);
* the split of the difference: the production's output share (the run's own clocks) and
  the cost of stepping in report-sized chunks (alternated with the bare loop in one
  Context, ``bench_md.alternate_chunked_and_bare``);
* the analysis stage (``analysis.coordination.analyze_run``: every default pair of the
  run in one pass) on the 1 ps trajectory, frames/s.

Each production is sized from a short probe of the bare loop to take about
:data:`SECONDS_PER_MEASURE` (at least five reports), so the whole run fits in 8 minutes on
an H100-class GPU whatever its speed.  Figures go to ``benchmarks/measured/gpu.json`` and
``gpu.md`` with the device's name; ``--smoke`` writes under ``benchmarks/results/gpu/``
and measures nothing (``tests/test_benchmarks.py`` runs it on the CPU).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "src"))

#: NMP molecules per box (1 M LiPF6 added by the pipeline): about 5k, 20k and 80k atoms.
SIZES = {"5k": 300, "20k": 1200, "80k": 4800}
SMOKE_SIZES = {"smoke": 30}
SMOKE_CUTOFF_NM = 0.7  # the smoke box is about 19 A wide
REPORT_INTERVALS_PS = (1.0, 10.0)
SMOKE_INTERVALS_PS = (0.2, 0.4)
#: Wall time each production aims at (the bare loop runs twice as long again).
SECONDS_PER_MEASURE = 10.0
TARGET_RATIO = 0.95
TARGET_SIZE = "20k"
WORK = HERE / "results" / "gpu"
MEASURED = HERE / "measured"


def build(work: Path, sizes: dict[str, int], cores: int, cutoff_nm: float | None = None) -> None:
    """The boxes, by the pipeline, each ``system.xml`` also gzipped (it travels)."""
    import run as bench_run  # benchmarks/run.py

    boxes = bench_run.build_boxes(
        work / "build", {name: (n, 0) for name, n in sizes.items()}, cores, cutoff_nm
    )
    for directory in boxes.values():
        xml = directory / "system.xml"
        with open(xml, "rb") as source, gzip.open(f"{xml}.gz", "wb", compresslevel=6) as target:
            shutil.copyfileobj(source, target)


def box_files(build_dir: Path, name: str, scratch: Path) -> tuple[Path, Path]:
    """``system.xml`` (unzipped into ``scratch`` if only the .gz travelled) and .pdb."""
    directory = build_dir / "results" / "systems" / f"bench_{name}"
    xml, pdb = directory / "system.xml", directory / "system.pdb"
    if not pdb.is_file():
        raise SystemExit(f"no box {directory}: run `bench_gpu.py build` first")
    if not xml.is_file():
        scratch.mkdir(parents=True, exist_ok=True)
        xml = scratch / f"{name}_system.xml"
        with gzip.open(directory / "system.xml.gz", "rb") as source, open(xml, "wb") as target:
            shutil.copyfileobj(source, target)
    return xml, pdb


def protocol_for(platform: str, report_ps: float, production_ps: float, threads: int) -> Any:
    """The default config's protocol, short start stages, production as asked."""
    import yaml

    from electrolyte_md.md import MDProtocol

    settings = dict(yaml.safe_load((REPO / "config" / "config.yaml").read_text())["md"]["protocol"])
    settings.update(
        # the start is not timed: as short as the checks' windows (whole reports) allow
        decorrelation_ps=0.0,
        heating_ps=max(2.0, report_ps),
        heating_max_ps=None,
        temperature_window_ps=report_ps,
        equilibration_ps=max(4.0, 2 * report_ps),
        equilibration_max_ps=max(4.0, 2 * report_ps),
        density_window_ps=report_ps,
        production_ps=production_ps,
        report_interval_ps=report_ps,
        checkpoint_interval_ps=max(10.0, report_ps),
        checkpoint_interval_minutes=10.0,
        platform=platform,
        threads=threads,
        temperature_kelvin=298.15,
    )
    return MDProtocol(**settings)


def probe_ps_per_second(xml: Path, pdb: Path, platform: str, threads: int) -> float:
    """Simulated ps per wall second of the bare loop, from a short run of the packed box."""
    import bench_md
    from openmm import app

    protocol = protocol_for(platform, 1.0, 1.0, threads)
    structure = app.PDBFile(str(pdb))
    system, _ = bench_md.prepared_system(xml, structure.topology, protocol)
    timing = bench_md.bare_loop(
        system, structure, protocol, 250, threads=threads, minimize=True, platform=platform
    )
    return 250 * protocol.timestep_ps / timing["wall_s"]


def production_length_ps(ps_per_second: float, report_ps: float, seconds: float) -> float:
    """About ``seconds`` of production, whole reports, at least five of them."""
    reports = max(5, math.ceil(ps_per_second * seconds / report_ps))
    return reports * report_ps


def analysis_speed(run_dir: Path, out_dir: Path) -> dict[str, Any]:
    """The analysis job's RDF step (every default pair in one pass) on a trajectory."""
    import MDAnalysis

    from electrolyte_md.analysis.coordination import analyze_run

    pairs = {
        "Li-P": {"center": "resname LI", "ligand": "resname PF6 and element P"},
        "Li-F": {"center": "resname LI", "ligand": "resname PF6 and element F"},
        "Li-O(NMP)": {"center": "resname LI", "ligand": "resname NMP and element O"},
    }
    topology, trajectory = run_dir / "prod_final.pdb", run_dir / "prod.dcd"
    n_frames = MDAnalysis.Universe(str(topology), str(trajectory)).trajectory.n_frames
    start = time.perf_counter()
    analyze_run(topology, trajectory, pairs, out_dir)
    wall = time.perf_counter() - start
    return {"n_frames": n_frames, "wall_s": wall, "frames_per_s": n_frames / wall}


def measure(
    build_dir: Path,
    work: Path,
    sizes: dict[str, int],
    platform: str,
    threads: int,
    intervals_ps: tuple[float, ...] = REPORT_INTERVALS_PS,
    seconds: float = SECONDS_PER_MEASURE,
) -> dict[str, Any]:
    import bench_md

    results: dict[str, Any] = {}
    for name in sizes:
        xml, pdb = box_files(build_dir, name, work / "scratch")
        speed = probe_ps_per_second(xml, pdb, platform, threads)
        row: dict[str, Any] = {"probe_ps_per_s": speed, "intervals": {}}
        for report_ps in intervals_ps:
            production_ps = production_length_ps(speed, report_ps, seconds)
            protocol = protocol_for(platform, report_ps, production_ps, threads)
            run_root = work / "runs" / name / f"{report_ps:g}ps"
            if run_root.exists():
                shutil.rmtree(run_root)
            timing = bench_md.pipeline_against_bare(
                xml, pdb, protocol, run_root, threads=threads, platform=platform
            )
            timing["production_ps"] = production_ps
            timing["ratio_pipeline_to_bare"] = timing["pipeline_ns_per_day"] / max(
                timing["bare_ns_per_day"]
            )
            row["intervals"][f"{report_ps:g}"] = timing
            row["n_atoms"] = timing["n_atoms"]
            row["device"] = timing.get("platform_device")
            row["precision"] = timing.get("platform_precision")
            row["platform"] = timing.get("platform")
        first = work / "runs" / name / f"{intervals_ps[0]:g}ps" / "pipeline_run"
        row["analysis"] = analysis_speed(first, work / "analysis" / name)
        results[name] = row
    return results


def to_markdown(report: dict[str, Any]) -> str:
    rows = report["boxes"]
    device = next((r.get("device") for r in rows.values() if r.get("device")), "unknown")
    lines = [
        "# The MD stage on a GPU: pipeline against a bare OpenMM loop",
        "",
        "Made by `benchmarks/bench_gpu.py run` (its docstring says what and how) on "
        f"{report['platform']} ({device}), OpenMM {report['openmm']}, "
        f"{report['measured']}; {report['wall_s']:.0f} s in all."
        + (" SMOKE RUN: the numbers mean nothing." if report["smoke"] else ""),
        "",
        "| box | atoms | precision | frames every | production ps | pipeline ns/day | "
        "bare ns/day (best of 2) | pipeline / bare | output share | chunking cost | "
        "analysis frames/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        for k, (interval, timing) in enumerate(row["intervals"].items()):
            analysis = row["analysis"]["frames_per_s"] if k == 0 else math.nan
            lines.append(
                f"| {name} | {row['n_atoms']:,} | {row['precision']} | {interval} ps | "
                f"{timing['production_ps']:g} | {timing['pipeline_ns_per_day']:.1f} | "
                f"{max(timing['bare_ns_per_day']):.1f} | "
                f"{timing['ratio_pipeline_to_bare']:.3f} | {timing['output_share']:.3f} | "
                f"{timing['alternation']['chunking_cost_fraction']:.3f} | "
                + ("" if math.isnan(analysis) else f"{analysis:.0f}")
                + " |"
            )
    target = rows.get(TARGET_SIZE, {}).get("intervals", {}).get("1")
    lines.append("")
    if target is not None:
        ratio = target["ratio_pipeline_to_bare"]
        verdict = "met" if ratio >= TARGET_RATIO else "not met"
        lines.append(
            f"Target: pipeline >= {TARGET_RATIO} x bare at {TARGET_SIZE} atoms with 1 ps "
            f"reports: {ratio:.3f}, {verdict}."
        )
    else:
        lines.append(f"Target ({TARGET_SIZE} atoms, 1 ps reports): not measured in this run.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("build", "run"))
    parser.add_argument("--platform", default="CUDA")
    parser.add_argument("--threads", type=int, default=2, help="CPU platform threads")
    parser.add_argument("--work", type=Path, default=None, help="default: benchmarks/results/gpu")
    parser.add_argument("--build-dir", type=Path, default=None, help="default: WORK/build")
    parser.add_argument("--out", type=Path, default=None, help="default: benchmarks/measured")
    parser.add_argument("--carry", type=Path, default=None, help="build: copy the boxes here")
    parser.add_argument("--smoke", action="store_true", help="a tiny box on the CPU")
    args = parser.parse_args(argv)
    sizes = SMOKE_SIZES if args.smoke else SIZES
    work = args.work or (WORK / "smoke" if args.smoke else WORK)
    build_dir = args.build_dir or work / "build"
    if args.command == "build":
        build(work, sizes, args.threads, SMOKE_CUTOFF_NM if args.smoke else None)
        if args.carry is not None:
            for name in sizes:
                source = build_dir / "results" / "systems" / f"bench_{name}"
                target = args.carry / "results" / "systems" / f"bench_{name}"
                target.mkdir(parents=True, exist_ok=True)
                for file in ("system.xml.gz", "system.pdb"):
                    shutil.copy2(source / file, target / file)
        return 0
    import datetime

    import openmm

    platform = "CPU" if args.smoke else args.platform
    start = time.perf_counter()
    report: dict[str, Any] = {
        "platform": platform,
        "openmm": openmm.__version__,
        "smoke": args.smoke,
        "measured": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "seconds_per_measure": SECONDS_PER_MEASURE,
    }
    if args.smoke:
        boxes = measure(build_dir, work / "work", sizes, platform, args.threads,
                        SMOKE_INTERVALS_PS, seconds=0.0)  # fmt: skip
    else:
        boxes = measure(build_dir, work / "work", sizes, platform, args.threads)
    report["boxes"] = boxes
    report["wall_s"] = time.perf_counter() - start
    out = args.out or (work if args.smoke else MEASURED)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    (out / "gpu.md").write_text(to_markdown(report))
    print(to_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
