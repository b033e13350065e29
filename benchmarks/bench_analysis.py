"""Benchmark of the RDF / coordination-number stage against the trajectory read rate.

Issue 8, item 3: frames per second of the stage over the raw read rate of the same file
(the I/O limit); the target is a ratio of at least 0.5. Measured in one process:

raw read
    MDAnalysis' reader for the file (the one the stage uses) iterates every frame and
    sums one coordinate of all atoms, so that every frame is decoded. The Universe is
    built beforehand and not timed. The file is read once untimed first (page cache
    warm), then the best of ``repeats`` passes counts.
stage
    :func:`electrolyte_md.analysis.analyze_pair` for every pair, exactly as the rule
    script ``workflow/scripts/analysis_rdf.py`` calls it (one call per pair, each
    building its Universe, reading the trajectory, histogramming, writing the CSV, JSON
    and PNG), into a temporary directory. Rate = frames / wall seconds of all pairs,
    best of ``repeats``.

Also reported, to explain the ratio: the frame loop alone (``RDFCoordination.run`` per
pair on a ready Universe), the fixed cost per pair (stage minus loop: Universe, figure,
files), the ratio the loop alone reaches on a long trajectory (where fixed costs vanish),
and the single-pass route :func:`electrolyte_md.analysis.analyze_pairs` (all pairs in one
read) when the package has it. ``job_start_s`` is what each Snakemake job pays before
the function runs: a fresh Python importing what the rule script imports.

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

#: What a Snakemake job of the rdf rule imports before it calls analyze_pair.
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
    """Keyword arguments of analyze_pair for one pair spec, as the rule script passes them."""
    return {
        "skip_ps": 0.0,
        "bin_width_angstrom": bin_width_angstrom,
        "r_max_angstrom": spec.get("r_max_angstrom"),
        "cutoff_angstrom": spec.get("cutoff_angstrom"),
        "n_blocks": n_blocks,
    }


def _analyze_pair_as_the_rule(
    topology: Path,
    trajectory: Path,
    name: str,
    spec: Mapping[str, Any],
    out: Path,
    bin_width_angstrom: float,
    n_blocks: int,
) -> dict[str, Any]:
    """One analyze_pair call with the rdf rule's files and arguments, into ``out``."""
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

    Runs the stage once untimed (which also warms imports and caches). A pair whose
    g(r) has no first peak or minimum on this trajectory, and no configured cutoff,
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
                    _analyze_pair_as_the_rule(
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


def stage_seconds(
    topology: Path,
    trajectory: Path,
    pairs: Mapping[str, Mapping[str, Any]],
    *,
    bin_width_angstrom: float = 0.05,
    n_blocks: int = 5,
    repeats: int = 3,
) -> tuple[float, dict[str, float], dict[str, dict[str, Any]]]:
    """Best wall time of the stage as wired: one analyze_pair call per pair.

    Returns
    -------
    total_s, per_pair_s, records
        Wall seconds of all pairs (fastest repeat), seconds of each pair in that repeat,
        and the JSON records analyze_pair returned.
    """

    def run_all() -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
        seconds: dict[str, float] = {}
        records: dict[str, dict[str, Any]] = {}
        with tempfile.TemporaryDirectory(prefix="bench-rdf-") as tmp:
            out = Path(tmp)
            for name, spec in pairs.items():
                start = time.perf_counter()
                records[name] = _analyze_pair_as_the_rule(
                    topology, trajectory, name, spec, out, bin_width_angstrom, n_blocks
                )
                seconds[name] = time.perf_counter() - start
        return seconds, records

    total, (per_pair, records) = _best_seconds(run_all, repeats)
    return total, per_pair, records


def single_pass_seconds(
    topology: Path,
    trajectory: Path,
    pairs: Mapping[str, Mapping[str, Any]],
    *,
    bin_width_angstrom: float = 0.05,
    n_blocks: int = 5,
    repeats: int = 3,
) -> tuple[float, dict[str, dict[str, Any]]] | None:
    """Best wall time of analyze_pairs (all pairs, one read), or None without it."""
    from electrolyte_md import analysis

    analyze_pairs = getattr(analysis, "analyze_pairs", None)
    if analyze_pairs is None:
        return None

    def run_all() -> dict[str, dict[str, Any]]:
        with tempfile.TemporaryDirectory(prefix="bench-rdf-") as tmp:
            out = Path(tmp)
            jobs = {
                name: {
                    "center": spec["center"],
                    "ligand": spec["ligand"],
                    "cutoff_angstrom": spec.get("cutoff_angstrom"),
                    "out_csv": out / f"rdf_{name}.csv",
                    "out_json": out / f"cn_{name}.json",
                    "out_png": out / f"rdf_{name}.png",
                    "title": f"{name} (benchmark)",
                }
                for name, spec in pairs.items()
            }
            return analyze_pairs(
                topology,
                trajectory,
                jobs,
                skip_ps=0.0,
                bin_width_angstrom=bin_width_angstrom,
                n_blocks=n_blocks,
            )

    return _best_seconds(run_all, repeats)


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
        (stage / raw), ``target`` (0.5), ``meets_target``, ``pairs``,
        ``per_pair_s``, the breakdown (``loop_*``, ``fixed_s_per_pair``,
        ``single_pass_*``, ``job_start_s``) and ``notes``.
    """
    topology, trajectory = Path(topology), Path(trajectory)
    for path in (topology, trajectory):
        if not path.is_file():
            raise FileNotFoundError(f"benchmark input {path} does not exist")
    if not pairs:
        raise ValueError("no RDF pairs to benchmark")
    import MDAnalysis  # noqa: F401  (its import adds warning filters; ours go in front)

    with warnings.catch_warnings():
        # MDAnalysis warns about prmtop elements and DCD timestep copies on every load
        warnings.simplefilter("ignore")
        universe = _universe(topology, trajectory)
        n_atoms = int(universe.atoms.n_atoms)
        trajectory.read_bytes()  # into the page cache before anything is timed
        raw_s, n_frames = raw_read_seconds(topology, trajectory, repeats)
        pairs, fixed_cutoff = runnable_pairs(
            topology, trajectory, pairs, bin_width_angstrom=bin_width_angstrom, n_blocks=n_blocks
        )
        stage_s, per_pair_s, records = stage_seconds(
            topology,
            trajectory,
            pairs,
            bin_width_angstrom=bin_width_angstrom,
            n_blocks=n_blocks,
            repeats=repeats,
        )
        loop_s = loop_seconds(
            topology,
            trajectory,
            pairs,
            bin_width_angstrom=bin_width_angstrom,
            n_blocks=n_blocks,
            repeats=repeats,
        )
        single = single_pass_seconds(
            topology,
            trajectory,
            pairs,
            bin_width_angstrom=bin_width_angstrom,
            n_blocks=n_blocks,
            repeats=repeats,
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
        "per_pair_s": _rounded(per_pair_s),
        "coordination_numbers": {
            name: record.get("coordination_number") for name, record in records.items()
        },
        "loop_s_per_pair": _rounded(loop_s),
        "loop_frames_per_s": _sig(loop_fps),
        "loop_ratio": _sig(loop_fps / raw_fps),
        "fixed_s_per_pair": _sig(max(stage_s - loop_total_s, 0.0) / len(pairs)),
        "job_start_s": _sig(job_start_s),
        "pipeline_frames_per_s": _sig(n_frames / (stage_s + len(pairs) * job_start_s)),
        "repeats": repeats,
        "bin_width_angstrom": bin_width_angstrom,
        "n_blocks": n_blocks,
        "notes": (
            "best of repeats, after one untimed run of the stage; the trajectory was read "
            "once untimed first, so it is in the OS page cache and the raw rate is the "
            "decode rate, not the disk rate. stage = "
            "analyze_pair per pair as the rdf rule calls it (Universe, read, histogram, "
            "CSV/JSON/PNG). loop = RDFCoordination.run per pair on a built Universe; "
            "loop_ratio is what the stage tends to on a long trajectory (fixed costs "
            "per pair vanish). pipeline_frames_per_s adds job_start_s (fresh Python + "
            "imports) per pair, which each Snakemake rdf job pays."
        ),
    }
    if single is not None:
        single_s, _ = single
        result["single_pass_s"] = _sig(single_s)
        result["single_pass_frames_per_s"] = _sig(n_frames / single_s)
        result["single_pass_ratio"] = _sig(n_frames / single_s / raw_fps)
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
