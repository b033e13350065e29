"""Benchmark of the RDF / coordination-number stage against the trajectory read rate.

Issue 8, item 3: frames per second of the stage over the raw read rate of the same file
(the I/O limit); the target is a ratio of at least 0.5. Measured in one process, the
timed parts interleaved (one pass of each per repeat, the fastest of each counts):

raw read
    MDAnalysis' reader for the file (the one the stage uses) iterates every frame and
    sums one coordinate of all atoms, so that every frame is decoded. The Universe is
    built beforehand and not timed; the file is read once untimed first (page cache
    warm). Beside it, ``raw_block_read``: all atoms of all frames in one
    ``trajectory.timeseries`` call (the DCD file object's own loop, no Timestep per
    frame), a stricter I/O limit.
stage
    The per-frame work of the stage: ``RDFCoordinationSet.run`` over all pairs on a
    ready Universe, the frame loop :func:`electrolyte_md.analysis.coordination.analyze_run` runs
    (the RDF step of the one analysis job of each MD run, ``analyze_run`` in
    ``workflow/rules/analysis.smk``, reads the trajectory once for all its pairs). Its
    rate is the stage's rate on any trajectory length once the fixed costs are paid.
fixed costs
    ``fixed_s_per_call``: the rest of one :func:`~electrolyte_md.analysis.coordination.analyze_run`
    call as the job's script ``workflow/scripts/analysis_run.py`` makes it for its RDF
    step (Universe, each pair's CSV, JSON and PNG), its wall time minus the frame loop's;
    ``job_start_s``: a fresh Python importing what the RDF step needs, paid once per
    Snakemake job (the job's other steps, solvation, transport and the energy plot,
    share it and import more). From these, ``frames_for_job_at_target``: the trajectory
    length at which a job of the RDF step alone (start, call) reaches the target ratio.
before
    The same loop and call on MDAnalysis' frame-by-frame route
    (``RDFCoordination.block_route = False``, the code before the block route), in the same
    run; the files of both calls are compared byte for byte (``identical_files``).

numpy instead of numba
    The same stage loop with the compiled histogram
    (:func:`electrolyte_md.analysis.kernel.ortho_histograms`, numba) replaced by
    :func:`numpy_histograms`, the same arithmetic in whole-array numpy passes
    (``numpy_*``; ``numpy_identical``: every result equal to the kernel's): whether the
    target holds without numba.

Also reported: the frame loop per pair alone (``loop_s_per_pair``).

The module is imported by ``benchmarks/run.py`` with ``benchmarks/`` on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import math
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

#: The issue's target for stage rate / raw read rate.
TARGET_RATIO = 0.5
#: Shell cutoff (Å) given to a pair whose g(r) has no first minimum on the benchmark
#: trajectory (too few frames), so that the stage runs as it would with a fixed shell.
FALLBACK_CUTOFF_ANGSTROM = 3.5

#: What the RDF step of an analysis job imports before it calls analyze_run.
_JOB_IMPORTS = (
    "import snakemake.script, MDAnalysis, pandas, scipy.ndimage, matplotlib.figure, "
    "matplotlib.backends.backend_agg, electrolyte_md.analysis.coordination, electrolyte_md.logs"
)


def _best_seconds(function: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Smallest wall time of ``repeats`` calls and the value of that call."""
    best, value = math.inf, None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = function()
        seconds = time.perf_counter() - start
        if seconds < best:
            best, value = seconds, result
    return best, value


def _interleaved_best(
    functions: Mapping[str, Callable[[], Any]], repeats: int
) -> dict[str, tuple[float, Any]]:
    """Smallest wall time of each function and its value, one call of each per repeat.

    Interleaving puts every figure under the same drift of a shared machine, so that
    their ratios hold even when the absolute rates move between repeats.
    """
    best: dict[str, tuple[float, Any]] = {name: (math.inf, None) for name in functions}
    for _ in range(max(1, repeats)):
        for name, function in functions.items():
            start = time.perf_counter()
            value = function()
            seconds = time.perf_counter() - start
            if seconds < best[name][0]:
                best[name] = (seconds, value)
    return best


def frame_route() -> contextlib.AbstractContextManager:
    """The stage on MDAnalysis' frame-by-frame loop, the route before the block route."""
    from electrolyte_md.analysis.rdf import RDFCoordination

    return mock.patch.object(RDFCoordination, "block_route", False)


def numpy_histograms(
    center: Any,
    ligand: Any,
    counted: Any,
    edges: Any,
    inverse: Any,
    bin_width: float,
    r_search: float,
    counts: Any,
) -> None:
    """:func:`electrolyte_md.analysis.kernel.ortho_histograms` in numpy: the same
    arguments, arithmetic and counts, each step one pass over all pairs of the block.

    Every center-ligand difference of every frame by broadcasting (float32), then in
    float64 the product with the inverse edge, the image shift (``rint``), the product
    with the edge and the squares summed x, y, z, the root; pairs beyond the range, not
    counted or NaN go to a spare bin per frame, and one ``bincount`` counts the frames.
    Eight frames at a time: on the standard box 18 ns a pair against 22 frame by frame
    and 25 for a block of 64 at once (whose arrays outgrow the cache).
    """
    for start in range(0, counts.shape[0], 8):
        chunk = slice(start, start + 8)
        _numpy_chunk(
            center[:, chunk],
            ligand[:, chunk],
            counted,
            edges,
            inverse,
            bin_width,
            r_search,
            counts[chunk],
        )


def _numpy_chunk(
    center: Any,
    ligand: Any,
    counted: Any,
    edges: Any,
    inverse: Any,
    bin_width: float,
    r_search: float,
    counts: Any,
) -> None:
    import numpy as np

    n_frames, n_bins = counts.shape
    squared = None
    for axis in range(3):
        diff = ligand[axis][:, None, :] - center[axis][:, :, None]  # float32 (n, c, l)
        scaled = diff.astype(np.float64)
        scaled *= inverse[axis]
        scaled -= np.rint(scaled)
        scaled *= edges[axis]
        scaled *= scaled
        if squared is None:
            squared = scaled
        else:
            squared += scaled
    distance = np.sqrt(squared, out=squared)
    scaled_bins = distance / bin_width
    scaled_bins[~((distance <= r_search) & counted)] = n_bins  # also NaN: never <=
    np.minimum(scaled_bins, n_bins, out=scaled_bins)
    k = scaled_bins.astype(np.int64).reshape(n_frames, -1)  # truncation: floor, t >= 0
    k += (np.arange(n_frames) * (n_bins + 1))[:, None]
    found = np.bincount(k.ravel(), minlength=n_frames * (n_bins + 1))
    counts += found.reshape(n_frames, n_bins + 1)[:, :n_bins]


def numpy_kernel() -> contextlib.AbstractContextManager:
    """The stage with :func:`numpy_histograms` in place of the compiled kernel."""
    from electrolyte_md.analysis import rdf

    return mock.patch.object(rdf, "ortho_histograms", numpy_histograms)


def same_results(first: Any, second: Any) -> bool:
    """Whether two finished RDFCoordinationSet runs hold equal results, array by array."""
    import numpy as np

    for a, b in zip(first.analyses, second.analyses, strict=True):
        for key, value in a.results.items():
            other = b.results[key]
            if isinstance(value, np.ndarray):
                if not np.array_equal(value, other, equal_nan=True):
                    return False
            elif value != other and not (value != value and other != other):  # NaN
                return False
    return True


def frames_for_target(
    raw_frames_per_s: float, stage_frames_per_s: float, fixed_s: float, target: float
) -> int | None:
    """Trajectory length (frames) from which a job with ``fixed_s`` of fixed costs and the
    stage's per-frame rate reaches ``target`` x the raw read rate; None if never.

    The job's rate on N frames is N / (fixed_s + N / stage); it reaches target x raw
    from N = target x raw x fixed_s / (1 - target x raw / stage) on, and never when the
    stage itself is below target x raw.
    """
    shortfall = 1.0 - target * raw_frames_per_s / stage_frames_per_s
    if shortfall <= 0:
        return None
    return max(1, math.ceil(target * raw_frames_per_s * fixed_s / shortfall))


def _universe(topology: Path, trajectory: Path) -> Any:
    import MDAnalysis

    return MDAnalysis.Universe(str(topology), str(trajectory))


def raw_read_pass(universe: Any) -> Callable[[], float]:
    """One full pass of MDAnalysis' reader over the universe's trajectory, frame by frame
    (every frame decoded into a Timestep), as a function to time."""

    def one_pass() -> float:
        total = 0.0
        for ts in universe.trajectory:
            total += float(ts.positions[:, 0].sum())
        return total

    return one_pass


def raw_block_read_pass(universe: Any) -> Callable[[], float]:
    """All atoms of all frames in one ``trajectory.timeseries`` call, as a function to time."""

    def one_pass() -> float:
        return float(universe.trajectory.timeseries(order="fac")[:, :, 0].sum())

    return one_pass


def raw_read_seconds(topology: Path, trajectory: Path, repeats: int = 3) -> tuple[float, int]:
    """Best wall time of one full pass of MDAnalysis over ``trajectory``.

    Parameters
    ----------
    topology, trajectory
        Files as the stage gets them.
    repeats
        Passes timed; the fastest counts. One untimed pass comes first.

    Returns
    -------
    seconds, n_frames
        Wall seconds of the fastest pass and frames read per pass.
    """
    universe = _universe(topology, trajectory)
    one_pass = raw_read_pass(universe)
    one_pass()  # warm-up: file in the page cache, reader buffers allocated
    seconds, _ = _best_seconds(one_pass, repeats)
    return seconds, universe.trajectory.n_frames


def _pair_kwargs(
    spec: Mapping[str, Any], bin_width_angstrom: float, n_blocks: int
) -> dict[str, Any]:
    """Keyword arguments of analyze_pair for one pair spec, with the workflow's settings."""
    return {
        "skip_ps": 0.0,
        "bin_width_angstrom": bin_width_angstrom,
        "r_max_angstrom": spec.get("r_max_angstrom"),
        "cutoff_angstrom": spec.get("cutoff_angstrom"),
        "n_blocks": n_blocks,
    }


def _analyze_pair_alone(
    topology: Path,
    trajectory: Path,
    name: str,
    spec: Mapping[str, Any],
    out: Path,
    bin_width_angstrom: float,
    n_blocks: int,
) -> dict[str, Any]:
    """One analyze_pair call with the workflow's file names and arguments, into ``out``."""
    from electrolyte_md.analysis.coordination import analyze_pair

    return analyze_pair(
        topology,
        trajectory,
        name,
        spec["center"],
        spec["ligand"],
        out_csv=out / f"rdf_{name}.csv",
        out_json=out / f"cn_{name}.json",
        out_png=out / f"rdf_{name}.png",
        title=f"{name} (benchmark)",
        **_pair_kwargs(spec, bin_width_angstrom, n_blocks),
    )


def runnable_pairs(
    topology: Path,
    trajectory: Path,
    pairs: Mapping[str, Mapping[str, Any]],
    *,
    bin_width_angstrom: float = 0.05,
    n_blocks: int = 5,
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The pairs, with a fixed shell where the stage could not locate one.

    Runs every pair once untimed, alone (which also warms imports and caches). A pair
    whose g(r) has no first peak or minimum on this trajectory, and no configured cutoff,
    would stop the stage; it gets ``cutoff_angstrom`` :data:`FALLBACK_CUTOFF_ANGSTROM`
    (the histogramming work is the same). Any other error propagates.

    Returns
    -------
    pairs, fixed
        The pair specs to time and the names of those given the fallback cutoff.
    """
    from electrolyte_md.errors import AnalysisError

    checked: dict[str, dict[str, Any]] = {}
    fixed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-rdf-") as tmp:
        out = Path(tmp)
        for name, spec in pairs.items():
            spec = dict(spec)
            for attempt in range(2):
                try:
                    _analyze_pair_alone(
                        topology, trajectory, name, spec, out, bin_width_angstrom, n_blocks
                    )
                    break
                except AnalysisError as error:
                    no_shell = "first peak" in str(error) or "first minimum" in str(error)
                    if attempt or spec.get("cutoff_angstrom") is not None or not no_shell:
                        raise
                    spec["cutoff_angstrom"] = FALLBACK_CUTOFF_ANGSTROM
                    fixed.append(name)
            checked[name] = spec
    return checked, fixed


def _analyze_run_as_the_rule(
    topology: Path,
    trajectory: Path,
    pairs: Mapping[str, Mapping[str, Any]],
    out: Path,
    bin_width_angstrom: float,
    n_blocks: int,
) -> dict[str, dict[str, Any]]:
    """One analyze_run call for all pairs with the workflow's arguments, into ``out``."""
    from electrolyte_md.analysis.coordination import analyze_run

    return analyze_run(
        topology,
        trajectory,
        pairs,
        out,
        skip_ps=0.0,
        bin_width_angstrom=bin_width_angstrom,
        n_blocks=n_blocks,
        run_label="benchmark",
    )


def stage_call(
    topology: Path,
    trajectory: Path,
    pairs: Mapping[str, Mapping[str, Any]],
    *,
    bin_width_angstrom: float = 0.05,
    n_blocks: int = 5,
    before: bool = False,
) -> Callable[[], tuple[dict[str, dict[str, Any]], dict[str, bytes]]]:
    """The stage as wired, one analyze_run call for all pairs, as a function to time.

    It returns the pairs' records and the bytes of their CSV and JSON files (the PNGs
    carry a time stamp). ``before``: on the frame-by-frame route (:func:`frame_route`).
    """

    def call() -> tuple[dict[str, dict[str, Any]], dict[str, bytes]]:
        with tempfile.TemporaryDirectory(prefix="bench-rdf-") as tmp:
            out = Path(tmp) / "rdf"
            with frame_route() if before else contextlib.nullcontext():
                records = _analyze_run_as_the_rule(
                    topology, trajectory, pairs, out, bin_width_angstrom, n_blocks
                )
            files = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.suffix != ".png"}
        return records, files

    return call


def stage_loop(
    universe: Any,
    pairs: Mapping[str, Mapping[str, Any]],
    *,
    bin_width_angstrom: float = 0.05,
    n_blocks: int = 5,
    before: bool = False,
    numpy: bool = False,
) -> Callable[[], Any]:
    """``RDFCoordinationSet.run`` over all pairs on a ready Universe, the stage's frame
    loop (one read, every pair's histograms), as a function to time. ``before``: on the
    frame-by-frame route (:func:`frame_route`); ``numpy``: with :func:`numpy_kernel`."""
    from electrolyte_md.analysis.rdf import RDFCoordination, RDFCoordinationSet

    groups = [
        (universe.select_atoms(spec["center"]), universe.select_atoms(spec["ligand"]), spec)
        for spec in pairs.values()
    ]

    def run() -> Any:
        analyses = [
            RDFCoordination(
                center,
                ligand,
                r_max_angstrom=spec.get("r_max_angstrom"),
                bin_width_angstrom=bin_width_angstrom,
                cutoff_angstrom=spec.get("cutoff_angstrom"),
                n_blocks=n_blocks,
            )
            for center, ligand, spec in groups
        ]
        with contextlib.ExitStack() as stack:
            if before:
                stack.enter_context(frame_route())
            if numpy:
                stack.enter_context(numpy_kernel())
            return RDFCoordinationSet(analyses).run()

    return run


def loop_seconds(
    topology: Path,
    trajectory: Path,
    pairs: Mapping[str, Mapping[str, Any]],
    *,
    bin_width_angstrom: float = 0.05,
    n_blocks: int = 5,
    repeats: int = 3,
) -> dict[str, float]:
    """Best wall time of ``RDFCoordination.run`` per pair on a ready Universe."""
    from electrolyte_md.analysis.rdf import RDFCoordination

    universe = _universe(topology, trajectory)
    seconds = {}
    for name, spec in pairs.items():
        center = universe.select_atoms(spec["center"])
        ligand = universe.select_atoms(spec["ligand"])

        def run(center: Any = center, ligand: Any = ligand, spec: Any = spec) -> Any:
            return RDFCoordination(
                center,
                ligand,
                r_max_angstrom=spec.get("r_max_angstrom"),
                bin_width_angstrom=bin_width_angstrom,
                cutoff_angstrom=spec.get("cutoff_angstrom"),
                n_blocks=n_blocks,
            ).run()

        seconds[name], _ = _best_seconds(run, repeats)
    return seconds


def job_start_seconds(repeats: int = 3) -> float:
    """Best wall time of a fresh Python importing what the RDF step of a job imports."""

    def start() -> None:
        subprocess.run([sys.executable, "-c", _JOB_IMPORTS], check=True, capture_output=True)

    seconds, _ = _best_seconds(start, repeats)
    return seconds


def _sig(value: float, digits: int = 6) -> float:
    """``value`` rounded to ``digits`` significant digits (a plain float)."""
    return float(f"{float(value):.{digits}g}")


def _rounded(values: Mapping[str, float]) -> dict[str, float]:
    return {k: _sig(v) for k, v in values.items()}


def measure(
    topology: Path,
    trajectory: Path,
    pairs: dict[str, dict],
    *,
    bin_width_angstrom: float = 0.05,
    n_blocks: int = 5,
    repeats: int = 3,
) -> dict:
    """Frames per second of the RDF/CN stage against the raw read rate of the same file.

    Parameters
    ----------
    topology, trajectory
        Amber prmtop and DCD of one MD run (``results/systems/<s>/system.prmtop`` and
        ``results/md/<s>/<T>K/rep<n>/prod.dcd``).
    pairs
        Pair label -> the spec the RDF step gets (``center``, ``ligand``, optional
        ``cutoff_angstrom``; other keys such as ``requires`` are ignored).
    bin_width_angstrom, n_blocks
        As ``analysis.rdf`` in the configuration.
    repeats
        Timed repetitions of every measurement, interleaved; the fastest of each counts.

    Returns
    -------
    dict
        JSON-safe: ``n_atoms``, ``n_frames``, ``file_size_mb``,
        ``raw_read_frames_per_s``, ``stage_frames_per_s`` (the stage's per-frame rate),
        ``ratio`` (stage / raw), ``target`` (0.5), ``meets_target``, ``pairs``; the
        stricter ``raw_block_read_*``; the fixed costs (``fixed_s_per_call``,
        ``job_start_s``), the whole job on this file (``job_*``) and
        ``frames_for_job_at_target``; the frame-by-frame route in the same run
        (``before_*``, ``identical_files``); ``loop_s_per_pair``; ``notes``.
    """
    topology, trajectory = Path(topology), Path(trajectory)
    for path in (topology, trajectory):
        if not path.is_file():
            raise FileNotFoundError(f"benchmark input {path} does not exist")
    if not pairs:
        raise ValueError("no RDF pairs to benchmark")
    import MDAnalysis  # noqa: F401  (its import adds warning filters; ours go in front)

    settings = {"bin_width_angstrom": bin_width_angstrom, "n_blocks": n_blocks}
    with warnings.catch_warnings():
        # MDAnalysis warns about prmtop elements and DCD timestep copies on every load
        warnings.simplefilter("ignore")
        universe = _universe(topology, trajectory)
        n_atoms = int(universe.atoms.n_atoms)
        n_frames = int(universe.trajectory.n_frames)
        trajectory.read_bytes()  # into the page cache before anything is timed
        pairs, fixed_cutoff = runnable_pairs(topology, trajectory, pairs, **settings)
        timed = {
            "raw": raw_read_pass(universe),
            "raw_block": raw_block_read_pass(universe),
            "loop": stage_loop(universe, pairs, **settings),
            "before_loop": stage_loop(universe, pairs, **settings, before=True),
            "numpy_loop": stage_loop(universe, pairs, **settings, numpy=True),
            "call": stage_call(topology, trajectory, pairs, **settings),
            "before_call": stage_call(topology, trajectory, pairs, **settings, before=True),
        }
        for function in timed.values():
            function()  # untimed: page cache, reader buffers, imports
        best = _interleaved_best(timed, repeats)
        loop_s = loop_seconds(topology, trajectory, pairs, **settings, repeats=repeats)
    job_start_s = job_start_seconds(repeats)

    seconds = {name: value[0] for name, value in best.items()}
    records, files = best["call"][1]
    before_records, before_files = best["before_call"][1]
    raw_fps = n_frames / seconds["raw"]
    raw_block_fps = n_frames / seconds["raw_block"]
    stage_fps = n_frames / seconds["loop"]
    before_fps = n_frames / seconds["before_loop"]
    numpy_fps = n_frames / seconds["numpy_loop"]
    fixed_s = max(seconds["call"] - seconds["loop"], 0.0)
    before_fixed_s = max(seconds["before_call"] - seconds["before_loop"], 0.0)
    job_s = job_start_s + seconds["call"]
    ratio = stage_fps / raw_fps
    frames_needed = frames_for_target(raw_fps, stage_fps, job_start_s + fixed_s, TARGET_RATIO)
    result: dict[str, Any] = {
        "topology": str(topology),
        "trajectory": str(trajectory),
        "n_atoms": n_atoms,
        "n_frames": n_frames,
        "file_size_mb": _sig(trajectory.stat().st_size / 1e6),
        "raw_read_s": _sig(seconds["raw"]),
        "raw_read_frames_per_s": _sig(raw_fps),
        "stage_s": _sig(seconds["loop"]),
        "stage_frames_per_s": _sig(stage_fps),
        "ratio": _sig(ratio),
        "target": TARGET_RATIO,
        "meets_target": ratio >= TARGET_RATIO,
        "raw_block_read_s": _sig(seconds["raw_block"]),
        "raw_block_read_frames_per_s": _sig(raw_block_fps),
        "ratio_to_raw_block_read": _sig(stage_fps / raw_block_fps),
        "pairs": {name: dict(spec) for name, spec in pairs.items()},
        "n_pairs": len(pairs),
        "pairs_given_fallback_cutoff": fixed_cutoff,
        "coordination_numbers": {
            name: record.get("coordination_number") for name, record in records.items()
        },
        "call_s": _sig(seconds["call"]),
        "fixed_s_per_call": _sig(fixed_s),
        "job_start_s": _sig(job_start_s),
        "job_s": _sig(job_s),
        "job_frames_per_s": _sig(n_frames / job_s),
        "job_ratio": _sig(n_frames / job_s / raw_fps),
        "frames_for_job_at_target": frames_needed,
        "before_stage_s": _sig(seconds["before_loop"]),
        "before_stage_frames_per_s": _sig(before_fps),
        "before_ratio": _sig(before_fps / raw_fps),
        "before_call_s": _sig(seconds["before_call"]),
        "before_fixed_s_per_call": _sig(before_fixed_s),
        "before_job_frames_per_s": _sig(n_frames / (job_start_s + seconds["before_call"])),
        "speedup_stage": _sig(stage_fps / before_fps),
        "identical_files": files == before_files and records == before_records,
        "numpy_stage_s": _sig(seconds["numpy_loop"]),
        "numpy_stage_frames_per_s": _sig(numpy_fps),
        "numpy_ratio": _sig(numpy_fps / raw_fps),
        "numpy_meets_target": numpy_fps / raw_fps >= TARGET_RATIO,
        "numpy_identical": same_results(best["loop"][1], best["numpy_loop"][1]),
        "loop_s_per_pair": _rounded(loop_s),
        "repeats": repeats,
        "bin_width_angstrom": bin_width_angstrom,
        "n_blocks": n_blocks,
        "notes": (
            "best of repeats, interleaved (raw, raw_block, stage loop, before loop, numpy loop, "
            "call, before call in turn), after one untimed run of each; the trajectory was read "
            "untimed first, so it is in the OS page cache and the raw rate is the decode rate, not "
            "the disk rate. raw = MDAnalysis iterating every frame; raw_block = all atoms of all "
            "frames in one timeseries call. stage = RDFCoordinationSet.run over all pairs on a "
            "built Universe, the frame loop of analyze_run (the RDF step of each MD run's analysis "
            "job, one trajectory read); its rate is the stage's on any length. call = one "
            "analyze_run as that job makes it (Universe, CSV/JSON/PNG per pair); fixed_s_per_call ="
            " call - stage. job = job_start_s (fresh Python + imports) + call; "
            "frames_for_job_at_target: the length from which the whole job reaches the target ratio"
            " (null: never). before_* = the same on MDAnalysis' frame-by-frame route "
            "(RDFCoordination.block_route = False, the code before), identical_files: the two "
            "calls' CSV and JSON files and records equal byte for byte. numpy_* = the stage loop "
            "with numpy_histograms (numpy) in place of the compiled kernel (numba); "
            "numpy_identical: the same results. loop_s_per_pair = RDFCoordination.run per pair "
            "alone."
        ),
    }
    return result


if __name__ == "__main__":  # pragma: no cover - manual use
    import argparse
    import json

    import yaml

    repo = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topology", type=Path)
    parser.add_argument("trajectory", type=Path)
    parser.add_argument("--config", type=Path, default=repo / "config" / "config.yaml")
    parser.add_argument("--pairs", nargs="*", default=["Li-P", "Li-F", "Li-O"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rdf = yaml.safe_load(args.config.read_text())["analysis"]["rdf"]
    chosen = {name: rdf["pairs"][name] for name in args.pairs}
    print(
        json.dumps(
            measure(
                args.topology,
                args.trajectory,
                chosen,
                bin_width_angstrom=rdf["bin_width_angstrom"],
                n_blocks=rdf["n_blocks"],
                repeats=args.repeats,
            ),
            indent=2,
        )
    )
