"""Benchmark of the RDF / coordination-number stage against the trajectory read rate.

Issue 8, item 3: frames per second of the stage over the raw read rate of the same file
(the I/O limit); the target is a ratio of at least 0.5. Measured in one process:

raw read
    MDAnalysis' reader for the file (the one the stage uses) iterates every frame and
    sums one coordinate of all atoms, so that every frame is decoded. The Universe is
    built beforehand and not timed. The file is read once untimed first (page cache
    warm), then the best of ``repeats`` passes counts.
stage
    :func:`electrolyte_md.analysis.analyze_run` for all pairs at once, exactly as the
    rule script ``workflow/scripts/analysis_rdf.py`` calls it (one ``rdf`` job per MD
    run: :func:`~electrolyte_md.analysis.analyze_pairs` builds one Universe, reads the
    trajectory once for every pair, and writes each pair's CSV, JSON and PNG), into a
    temporary directory. Rate = frames / wall seconds of the call, best of ``repeats``.

Also reported, to explain the ratio: the frame loop of the stage alone
(``RDFCoordinationSet.run`` over all pairs on a ready Universe; its ratio is what the
stage tends to on a long trajectory, where fixed costs vanish), the fixed cost per job
(stage minus that loop: Universe, figures, files), the frame loop per pair
(``RDFCoordination.run`` of each pair alone on a ready Universe), and the route the rule
took before it ran once per run: one :func:`~electrolyte_md.analysis.analyze_pair` call
per pair, each building its Universe and reading the trajectory. ``job_start_s`` is what
each Snakemake job pays before the function runs: a fresh Python importing what the rule
script imports.

The module is imported by ``benchmarks/run.py`` with ``benchmarks/`` on ``sys.path``.
"""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

#: The issue's target for stage rate / raw read rate.
TARGET_RATIO = 0.5
#: Shell cutoff (Å) given to a pair whose g(r) has no first minimum on the benchmark
#: trajectory (too few frames), so that the stage runs as it would with a fixed shell.
FALLBACK_CUTOFF_ANGSTROM = 3.5

#: What a Snakemake job of the rdf rule imports before it calls analyze_run.
_JOB_IMPORTS = (
    "import snakemake.script, MDAnalysis, pandas, scipy.ndimage, matplotlib.figure, "
    "matplotlib.backends.backend_agg, electrolyte_md.analysis, electrolyte_md.logs"
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


def _universe(topology: Path, trajectory: Path) -> Any:
    import MDAnalysis

    return MDAnalysis.Universe(str(topology), str(trajectory))


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

    def one_pass() -> float:
        total = 0.0
        for ts in universe.trajectory:
            total += float(ts.positions[:, 0].sum())
        return total

    one_pass()  # warm-up: file in the page cache, reader buffers allocated
    seconds, _ = _best_seconds(one_pass, repeats)
    return seconds, universe.trajectory.n_frames


def _pair_kwargs(
    spec: Mapping[str, Any], bin_width_angstrom: float, n_blocks: int
) -> dict[str, Any]:
    """Keyword arguments of analyze_pair for one pair spec, with the rdf rule's settings."""
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
    """One analyze_pair call with the rdf rule's file names and arguments, into ``out``."""
    from electrolyte_md.analysis import analyze_pair

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
    """One analyze_run call for all pairs with the rdf rule's arguments, into ``out``."""
    from electrolyte_md.analysis import analyze_run

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


def stage_seconds(
    topology: Path,
    trajectory: Path,
    pairs: Mapping[str, Mapping[str, Any]],
    *,
    bin_width_angstrom: float = 0.05,
    n_blocks: int = 5,
    repeats: int = 3,
) -> tuple[float, dict[str, dict[str, Any]]]:
    """Best wall time of the stage as wired: one analyze_run call for all pairs.

    Returns
    -------
    total_s, records
        Wall seconds of the fastest repeat and the JSON records of its pairs.
    """

    def run_all() -> dict[str, dict[str, Any]]:
        with tempfile.TemporaryDirectory(prefix="bench-rdf-") as tmp:
            return _analyze_run_as_the_rule(
                topology, trajectory, pairs, Path(tmp) / "rdf", bin_width_angstrom, n_blocks
            )

    return _best_seconds(run_all, repeats)


def per_pair_call_seconds(
    topology: Path,
    trajectory: Path,
    pairs: Mapping[str, Mapping[str, Any]],
    *,
    bin_width_angstrom: float = 0.05,
    n_blocks: int = 5,
    repeats: int = 3,
) -> tuple[float, dict[str, float]]:
    """Best wall time of one analyze_pair call per pair (the rule's route before it ran
    once per MD run: a Universe and a trajectory read per pair).

    Returns
    -------
    total_s, per_pair_s
        Wall seconds of all pairs (fastest repeat) and of each pair in that repeat.
    """

    def run_all() -> dict[str, float]:
        seconds: dict[str, float] = {}
        with tempfile.TemporaryDirectory(prefix="bench-rdf-") as tmp:
            out = Path(tmp)
            for name, spec in pairs.items():
                start = time.perf_counter()
                _analyze_pair_alone(
                    topology, trajectory, name, spec, out, bin_width_angstrom, n_blocks
                )
                seconds[name] = time.perf_counter() - start
        return seconds

    return _best_seconds(run_all, repeats)


def single_pass_loop_seconds(
    topology: Path,
    trajectory: Path,
    pairs: Mapping[str, Mapping[str, Any]],
    *,
    bin_width_angstrom: float = 0.05,
    n_blocks: int = 5,
    repeats: int = 3,
) -> float:
    """Best wall time of ``RDFCoordinationSet.run`` over all pairs on a ready Universe:
    the stage's frame loop (one read, every pair's histogram)."""
    from electrolyte_md.analysis import RDFCoordination, RDFCoordinationSet

    universe = _universe(topology, trajectory)
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
        return RDFCoordinationSet(analyses).run()

    seconds, _ = _best_seconds(run, repeats)
    return seconds


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
    from electrolyte_md.analysis import RDFCoordination

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
    """Best wall time of a fresh Python importing what an rdf job imports."""

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
        Pair label -> the spec the rdf rule gets (``center``, ``ligand``, optional
        ``cutoff_angstrom``; other keys such as ``requires`` are ignored).
    bin_width_angstrom, n_blocks
        As ``analysis.rdf`` in the configuration.
    repeats
        Timed repetitions of every measurement; the fastest counts.

    Returns
    -------
    dict
        JSON-safe: ``n_atoms``, ``n_frames``, ``file_size_mb``,
        ``raw_read_frames_per_s``, ``stage_frames_per_s``, ``ratio``
        (stage / raw), ``target`` (0.5), ``meets_target``, ``pairs``, the breakdown
        (``single_pass_loop_*``, ``fixed_s_per_job``, ``loop_*`` per pair,
        ``per_pair_calls_*``, ``job_start_s``, ``pipeline_frames_per_s``) and ``notes``.
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
        trajectory.read_bytes()  # into the page cache before anything is timed
        raw_s, n_frames = raw_read_seconds(topology, trajectory, repeats)
        pairs, fixed_cutoff = runnable_pairs(topology, trajectory, pairs, **settings)
        stage_s, records = stage_seconds(topology, trajectory, pairs, **settings, repeats=repeats)
        set_loop_s = single_pass_loop_seconds(
            topology, trajectory, pairs, **settings, repeats=repeats
        )
        loop_s = loop_seconds(topology, trajectory, pairs, **settings, repeats=repeats)
        calls_s, per_pair_s = per_pair_call_seconds(
            topology, trajectory, pairs, **settings, repeats=repeats
        )
    job_start_s = job_start_seconds(repeats)

    raw_fps = n_frames / raw_s
    stage_fps = n_frames / stage_s
    loop_total_s = sum(loop_s.values())
    loop_fps = n_frames / loop_total_s
    ratio = stage_fps / raw_fps
    result: dict[str, Any] = {
        "topology": str(topology),
        "trajectory": str(trajectory),
        "n_atoms": n_atoms,
        "n_frames": int(n_frames),
        "file_size_mb": _sig(trajectory.stat().st_size / 1e6),
        "raw_read_s": _sig(raw_s),
        "raw_read_frames_per_s": _sig(raw_fps),
        "stage_s": _sig(stage_s),
        "stage_frames_per_s": _sig(stage_fps),
        "ratio": _sig(ratio),
        "target": TARGET_RATIO,
        "meets_target": ratio >= TARGET_RATIO,
        "pairs": {name: dict(spec) for name, spec in pairs.items()},
        "n_pairs": len(pairs),
        "pairs_given_fallback_cutoff": fixed_cutoff,
        "coordination_numbers": {
            name: record.get("coordination_number") for name, record in records.items()
        },
        "single_pass_loop_s": _sig(set_loop_s),
        "single_pass_loop_frames_per_s": _sig(n_frames / set_loop_s),
        "single_pass_loop_ratio": _sig(n_frames / set_loop_s / raw_fps),
        "fixed_s_per_job": _sig(max(stage_s - set_loop_s, 0.0)),
        "loop_s_per_pair": _rounded(loop_s),
        "loop_frames_per_s": _sig(loop_fps),
        "loop_ratio": _sig(loop_fps / raw_fps),
        "per_pair_calls_s": _sig(calls_s),
        "per_pair_s": _rounded(per_pair_s),
        "per_pair_calls_frames_per_s": _sig(n_frames / calls_s),
        "job_start_s": _sig(job_start_s),
        "pipeline_frames_per_s": _sig(n_frames / (stage_s + job_start_s)),
        "repeats": repeats,
        "bin_width_angstrom": bin_width_angstrom,
        "n_blocks": n_blocks,
        "notes": (
            "best of repeats, after one untimed run of every pair; the trajectory was read "
            "once untimed first, so it is in the OS page cache and the raw rate is the "
            "decode rate, not the disk rate. stage = analyze_run of all pairs as the rdf "
            "rule calls it, one job per MD run (analyze_pairs: one Universe, one read, "
            "histograms of every pair, CSV/JSON/PNG per pair). single_pass_loop = "
            "RDFCoordinationSet.run over all pairs on a built Universe; its ratio is what "
            "the stage tends to on a long trajectory (the fixed cost per job vanishes). "
            "loop = RDFCoordination.run per pair alone on a built Universe. per_pair_calls "
            "= one analyze_pair call per pair, the rule's route before one job per run "
            "(per_pair_s: each call). pipeline_frames_per_s adds job_start_s (fresh "
            "Python + imports), which the run's one Snakemake rdf job pays."
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
