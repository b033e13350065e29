"""Files, tables, figures and jobs of the first-shell analyses of one MD run.

The analyses hold the science (:mod:`electrolyte_md.analysis.rdf`,
:mod:`electrolyte_md.analysis.solvation`); this module turns their ``results`` into
tables, figures and JSON-ready records, and runs them on a run's files:

- RDF and coordination number: :func:`rdf_table`, :func:`plot_rdf` and :func:`summarize`
  of one :class:`~electrolyte_md.analysis.rdf.RDFCoordination`; :func:`analyze_pair`,
  :func:`analyze_pairs` and :func:`analyze_run` (every pair of a run in one trajectory
  pass, the RDF step of the run's analysis job), whose files
  :mod:`electrolyte_md.analysis.records` names and reads back; :func:`coordination_table`
  of the records of a system's runs.
- Li+ solvation shells: :func:`shell_composition_table`, :func:`shell_type_table` and
  :func:`summarize_solvation` of one :class:`~electrolyte_md.analysis.solvation.SolvationShells`;
  :func:`shell_partners` (the partners and cutoffs from a run's RDF records) and
  :func:`analyze_solvation`, the solvation step of the job.
- Before any of them: :func:`check_trajectory`, the trajectory against its MD record.

All lengths are in ångström.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import MDAnalysis
import numpy as np
import pandas as pd
from MDAnalysis.analysis.base import Results
from MDAnalysis.core.groups import AtomGroup
from MDAnalysis.core.universe import Universe
from MDAnalysis.lib.distances import distance_array

from electrolyte_md.analysis.rdf import CentreCounts, RDFCoordination, RDFCoordinationSet
from electrolyte_md.analysis.records import pair_files
from electrolyte_md.analysis.solvation import ION_PAIR_CLASSES, SolvationShells, shell_label
from electrolyte_md.errors import AnalysisError
from electrolyte_md.io import atomic_write_text, json_float, write_json
from electrolyte_md.plots import new_figure, save_png
from electrolyte_md.timeseries import MIN_SAMPLES, SeriesStatistics, analyze_series

__all__ = [
    "CONTACT_FRAMES",
    "analyze_pair",
    "analyze_pairs",
    "analyze_run",
    "analyze_solvation",
    "coordination_table",
    "mean_nearest_distance",
    "plot_rdf",
    "rdf_table",
    "shell_composition_table",
    "shell_partners",
    "shell_type_table",
    "summarize",
    "summarize_solvation",
]


# --- RDF and coordination number ------------------------------------------------------


def check_trajectory(
    dcd: str | os.PathLike[str], summary_json: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Refuse a trajectory whose frames or time step differ from its MD record.

    Run before any analysis of a run. ``md_summary.json`` (beside the trajectory unless
    ``summary_json`` is given) records the production steps, the report interval and the
    frames written; the DCD header gives the frames the file holds and the time between
    them. A trajectory cut short (a copy or a disk that ran out), or one from another run,
    would otherwise be analysed silently with fewer frames.

    Returns
    -------
    dict
        ``frames`` and ``frame_interval_ps`` of the trajectory.

    Raises
    ------
    AnalysisError
        Naming the trajectory, the record, both numbers, and the remedy (rerun the MD).
    """
    from MDAnalysis.lib.formats.libdcd import DCDFile
    from MDAnalysis.units import convert

    dcd = Path(dcd)
    summary_path = Path(summary_json) if summary_json else dcd.parent / "md_summary.json"
    remedy = (
        f"Rerun the MD of this run: delete {summary_path.parent} (or its md_summary.json) "
        "and run the workflow again, or run it with --forcerun run_md."
    )
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        steps, trajectory = summary["steps"], summary["trajectory"]
        expected = int(trajectory["frames"])
        interval_ps = float(trajectory["frame_interval_ps"])
        report_interval = int(steps["report_interval"])
        production_steps = int(steps["production"])
    except FileNotFoundError as err:
        raise AnalysisError(
            f"{dcd}: no MD record {summary_path} beside it to check the trajectory "
            f"against (the MD did not finish). {remedy}"
        ) from err
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise AnalysisError(
            f"{summary_path}: not a readable MD record ({type(err).__name__}: {err}); "
            f"cannot check {dcd} against it. {remedy}"
        ) from err
    try:
        with DCDFile(str(dcd)) as handle:
            frames, header = handle.n_frames, handle.header
    except (OSError, ValueError, RuntimeError) as err:
        raise AnalysisError(f"{dcd}: not a readable DCD trajectory ({err}). {remedy}") from err
    every = int(header["nsavc"])
    dcd_interval_ps = float(convert(header["delta"] * every, "AKMA", "ps"))
    if expected != production_steps // report_interval:
        raise AnalysisError(
            f"{summary_path}: records {expected} frames, but {production_steps} production "
            f"steps with a frame every {report_interval} steps make "
            f"{production_steps // report_interval}; the record is damaged. {remedy}"
        )
    if frames != expected:
        raise AnalysisError(
            f"{dcd}: holds {frames} frames, but {summary_path} records {expected} "
            f"({production_steps} production steps, a frame every {report_interval} "
            f"steps): {'cut short' if frames < expected else 'not the trajectory of this run'}"
            f". {remedy}"
        )
    if every != report_interval or not math.isclose(dcd_interval_ps, interval_ps, rel_tol=1e-4):
        raise AnalysisError(
            f"{dcd}: a frame every {every} steps, {dcd_interval_ps:.6g} ps apart, but "
            f"{summary_path} records a frame every {report_interval} steps, "
            f"{interval_ps:.6g} ps apart; the trajectory is not this run's. {remedy}"
        )
    return {"frames": frames, "frame_interval_ps": dcd_interval_ps}


def _as_rdf_results(results: Results | RDFCoordination) -> Results:
    """Accept either a finished :class:`RDFCoordination` or its ``results``."""
    if isinstance(results, RDFCoordination):
        results = results.results
    if not hasattr(results, "g_r"):
        raise AnalysisError("RDF results are incomplete: was RDFCoordination.run() called?")
    return results


def rdf_table(results: Results | RDFCoordination) -> pd.DataFrame:
    """Tabulate g(r) and the running coordination number.

    Parameters
    ----------
    results : MDAnalysis.analysis.base.Results or RDFCoordination
        ``RDFCoordination(...).run().results`` (or the analysis itself).

    Returns
    -------
    pandas.DataFrame
        Columns ``r_angstrom`` (bin centres, Å), ``g_r`` and ``cn_r``, one row per bin.
    """
    res = _as_rdf_results(results)
    return pd.DataFrame(
        {
            "r_angstrom": np.asarray(res.bin_centers_angstrom, dtype=float),
            "g_r": np.asarray(res.g_r, dtype=float),
            "cn_r": np.asarray(res.cn_r, dtype=float),
        }
    )


def plot_rdf(results: Results | RDFCoordination, path: str | os.PathLike[str], title: str) -> None:
    """Plot g(r) and the running coordination number and save them as a PNG.

    g(r) is drawn against the left axis, the running coordination number against
    a twin right axis, and the shell cutoff as a dashed vertical line.  The figure
    is rendered with the Agg canvas (no pyplot, no global backend change), written
    at 150 dpi to a temporary file in the target directory and moved into place
    with :func:`os.replace`, so ``path`` is never left half-written.

    Parameters
    ----------
    results : MDAnalysis.analysis.base.Results or RDFCoordination
        ``RDFCoordination(...).run().results`` (or the analysis itself).
    path : str or os.PathLike
        Output PNG file; its directory must exist.
    title : str
        Figure title.
    """
    res = _as_rdf_results(results)
    target = Path(path)
    fig = new_figure((6.4, 4.4), layout=None)
    ax = fig.add_subplot()
    r = np.asarray(res.bin_centers_angstrom)
    (line_g,) = ax.plot(r, res.g_r, color="tab:blue", lw=1.5, label="g(r)")
    ax.set_xlabel("r (Å)")
    ax.set_ylabel("g(r)")
    ax.set_xlim(0.0, float(res.r_max_angstrom))
    ax.set_ylim(bottom=0.0)
    ax_cn = ax.twinx()
    (line_cn,) = ax_cn.plot(r, res.cn_r, color="tab:orange", lw=1.5, label="running CN n(r)")
    ax_cn.set_ylabel("running coordination number n(r)")
    ax_cn.set_ylim(bottom=0.0)
    cn_text = f"CN = {res.coordination_number:.2f}"
    if math.isfinite(res.coordination_number_sem):
        cn_text += f" ± {res.coordination_number_sem:.2f}"
    line_cut = ax.axvline(
        res.cutoff_angstrom,
        color="0.3",
        ls="--",
        lw=1.0,
        label=f"cutoff {res.cutoff_angstrom:.2f} Å ({res.cutoff_source}); {cn_text}",
    )
    handles = [line_g, line_cn, line_cut]
    ax.legend(handles, [h.get_label() for h in handles], loc="best", fontsize="small")
    ax.set_title(title)
    fig.tight_layout()

    save_png(fig, target)


def summarize(
    results: Results | RDFCoordination,
    pair_name: str,
    centre_counts: np.ndarray | None = None,
) -> dict[str, Any]:
    """Summarise an RDF analysis as a JSON-serialisable dictionary.

    Parameters
    ----------
    results : MDAnalysis.analysis.base.Results or RDFCoordination
        ``RDFCoordination(...).run().results`` (or the analysis itself).
    pair_name : str
        Label of the pair, e.g. ``"Li-O(NMP)"``.
    centre_counts : numpy.ndarray, optional
        ``(n_frames, n_centres)`` ligands of each centre at the cutoff in the same frames
        (:class:`~electrolyte_md.analysis.rdf.CentreCounts`): the equilibrated CN's
        standard error then also weighs the spread between centres
        (:func:`~electrolyte_md.timeseries.with_site_spread`).

    Returns
    -------
    dict
        Keys ``pair``, ``first_peak_angstrom``, ``first_peak_height``,
        ``cutoff_angstrom``, ``cutoff_source``, ``coordination_number``,
        ``coordination_number_sem``, ``coordination_number_first_block`` and
        ``coordination_number_last_block`` (the means over the first and last of the
        blocks of the SEM: a run whose coordination still drifts shows it here),
        ``coordination_number_block_means`` (all of them, in order; empty with fewer
        frames than blocks),
        ``n_frames``, ``n_blocks``, ``r_max_angstrom`` and ``bin_width_angstrom``; and
        the per-frame CN's equilibrated region
        (:func:`~electrolyte_md.timeseries.analyze_series`):
        ``coordination_number_equilibrated`` (its mean) with
        ``coordination_number_equilibrated_se`` (the larger of the SE from its
        statistical inefficiency, ``se_from_time``, and the SE between centres,
        ``se_between_sites``, over ``n_sites`` centres),
        ``discarded_ps``, ``statistical_inefficiency``, ``n_effective``, ``drift_p`` and
        ``equilibrated_fraction`` (the region's share of the frames)
        (all None with fewer than :data:`~electrolyte_md.timeseries.MIN_SAMPLES` frames).
        Values are built-in ``str``/``int``/``float``; undefined values (NaN, e.g. the
        SEM and block means with fewer frames than blocks) become ``None`` so the
        dictionary is valid strict JSON.
    """
    res = _as_rdf_results(results)
    blocks = getattr(res, "coordination_number_block_means", np.zeros(0))
    first_block, last_block = (blocks[0], blocks[-1]) if len(blocks) else (math.nan, math.nan)
    return {
        "pair": str(pair_name),
        "first_peak_angstrom": json_float(res.first_peak_angstrom),
        "first_peak_height": json_float(res.first_peak_height),
        "cutoff_angstrom": json_float(res.cutoff_angstrom),
        "cutoff_source": str(res.cutoff_source),
        "coordination_number": json_float(res.coordination_number),
        "coordination_number_sem": json_float(res.coordination_number_sem),
        "coordination_number_first_block": json_float(first_block),
        "coordination_number_last_block": json_float(last_block),
        "coordination_number_block_means": [json_float(float(b)) for b in blocks],
        "n_frames": int(res.n_frames),
        "n_blocks": int(res.n_blocks),
        "r_max_angstrom": json_float(res.r_max_angstrom),
        "bin_width_angstrom": json_float(res.bin_width_angstrom),
        **_equilibrated(res, pair_name, centre_counts),
    }


#: Keys of :func:`summarize` from the per-frame CN's equilibrated region.
EQUILIBRATED_KEYS = (
    "coordination_number_equilibrated",
    "coordination_number_equilibrated_se",
    "discarded_ps",
    "statistical_inefficiency",
    "n_effective",
    "drift_p",
    "equilibrated_fraction",
    "se_from_time",
    "se_between_sites",
    "n_sites",
)


def _equilibrated(
    res: Results, pair_name: str, centre_counts: np.ndarray | None = None
) -> dict[str, float | None]:
    """The per-frame CN's equilibrated region, standard error and drift (None each with
    too few frames, or without the frames' times)."""
    per_frame = np.asarray(getattr(res, "coordination_number_per_frame", []), dtype=float)
    times = getattr(res, "times_ps", None)
    if len(per_frame) < MIN_SAMPLES or times is None:
        return dict.fromkeys(EQUILIBRATED_KEYS)
    record = _series_record(
        analyze_series(per_frame, times, name=f"CN {pair_name}", sites=centre_counts)
    )
    return {
        "coordination_number_equilibrated": record.pop("mean"),
        "coordination_number_equilibrated_se": record.pop("standard_error"),
        **record,
    }


def _series_record(stats: SeriesStatistics) -> dict[str, float | None]:
    """JSON-ready equilibrated region of one series: ``mean``, ``standard_error`` and the
    rest of :data:`EQUILIBRATED_KEYS`."""
    return {
        "mean": json_float(stats.mean),
        "standard_error": json_float(stats.standard_error),
        "discarded_ps": json_float(stats.discarded_time),
        "statistical_inefficiency": json_float(stats.statistical_inefficiency),
        "n_effective": json_float(stats.n_effective),
        "drift_p": json_float(stats.drift_p),
        "equilibrated_fraction": json_float(stats.used_fraction),
        "se_from_time": json_float(stats.standard_error_time),
        "se_between_sites": json_float(stats.standard_error_sites),
        "n_sites": int(stats.n_sites),
    }


def analyze_pair(
    topology: str | os.PathLike[str],
    trajectory: str | os.PathLike[str],
    pair_name: str,
    center_selection: str,
    ligand_selection: str,
    *,
    out_csv: str | os.PathLike[str],
    out_json: str | os.PathLike[str],
    out_png: str | os.PathLike[str],
    skip_ps: float = 0.0,
    bin_width_angstrom: float = 0.05,
    r_max_angstrom: float | None = None,
    cutoff_angstrom: float | None = None,
    n_blocks: int = 5,
    title: str | None = None,
) -> dict[str, Any]:
    """RDF and coordination number of one pair in one trajectory, written to files.

    Parameters
    ----------
    topology, trajectory
        Files MDAnalysis can read (e.g. an Amber prmtop and an OpenMM DCD).
    pair_name
        Label of the pair ("Li-P"), used in the outputs.
    center_selection, ligand_selection
        MDAnalysis selection strings of centre and ligand atoms.
    out_csv, out_json, out_png
        g(r) and n(r) table, :func:`summarize` record, and figure.
    skip_ps
        Trajectory time (ps) left out at the start.
    bin_width_angstrom, r_max_angstrom, cutoff_angstrom, n_blocks
        Passed to :class:`RDFCoordination`.

    Returns
    -------
    dict
        The record written to ``out_json``, with the selections and frames used added.
    """
    spec = {
        "center": center_selection,
        "ligand": ligand_selection,
        "cutoff_angstrom": cutoff_angstrom,
        "out_csv": out_csv,
        "out_json": out_json,
        "out_png": out_png,
        "title": title,
    }
    return analyze_pairs(
        topology,
        trajectory,
        {pair_name: spec},
        skip_ps=skip_ps,
        bin_width_angstrom=bin_width_angstrom,
        r_max_angstrom=r_max_angstrom,
        n_blocks=n_blocks,
    )[pair_name]


def analyze_pairs(
    topology: str | os.PathLike[str],
    trajectory: str | os.PathLike[str],
    pairs: Mapping[str, Mapping[str, Any]],
    *,
    skip_ps: float = 0.0,
    bin_width_angstrom: float = 0.05,
    r_max_angstrom: float | None = None,
    n_blocks: int = 5,
) -> dict[str, dict[str, Any]]:
    """:func:`analyze_pair` for several pairs of one trajectory, reading it once.

    One Universe is built and every frame is read once for all pairs
    (:class:`RDFCoordinationSet`); each pair's files and record are those
    :func:`analyze_pair` writes for it alone.

    Parameters
    ----------
    topology, trajectory
        Files MDAnalysis can read (e.g. an Amber prmtop and an OpenMM DCD).
    pairs
        Pair label -> ``center`` and ``ligand`` (selection strings), ``out_csv``,
        ``out_json``, ``out_png`` (output paths), optional ``cutoff_angstrom`` and
        ``title`` (default: the label).
    skip_ps
        Trajectory time (ps) left out at the start.
    bin_width_angstrom, r_max_angstrom, n_blocks
        Passed to every :class:`RDFCoordination`.

    Returns
    -------
    dict
        Pair label -> the record written to its ``out_json``.

    Raises
    ------
    AnalysisError
        If a selection does not parse or matches no atom, ``skip_ps`` leaves no frame, or
        the analysis of a pair fails (see :class:`RDFCoordination`).
    """
    universe = MDAnalysis.Universe(str(topology), str(trajectory))
    groups: dict[str, dict[str, AtomGroup]] = {}
    for pair_name, spec in pairs.items():
        groups[pair_name] = {}
        for role in ("center", "ligand"):
            selection = spec[role]
            try:
                group = universe.select_atoms(selection)
            except Exception as error:  # MDAnalysis raises several types for bad selections
                raise AnalysisError(
                    f"pair '{pair_name}': cannot parse {role} selection {selection!r}: {error}"
                ) from error
            if len(group) == 0:
                raise AnalysisError(
                    f"pair '{pair_name}': {role} selection {selection!r} matches no atom in "
                    f"{topology}; check residue names and elements in the configuration"
                )
            groups[pair_name][role] = group
    dt_ps = universe.trajectory.dt
    start = math.ceil(skip_ps / dt_ps - 1e-9) if skip_ps > 0 else 0
    if start >= universe.trajectory.n_frames:
        names = ", ".join(f"'{name}'" for name in pairs)
        raise AnalysisError(
            f"pair {names}: skip_ps = {skip_ps} leaves no frame of {trajectory} "
            f"({universe.trajectory.n_frames} frames, {dt_ps:g} ps apart)"
        )
    analyses = {
        pair_name: RDFCoordination(
            groups[pair_name]["center"],
            groups[pair_name]["ligand"],
            r_max_angstrom=r_max_angstrom,
            bin_width_angstrom=bin_width_angstrom,
            cutoff_angstrom=spec.get("cutoff_angstrom"),
            n_blocks=n_blocks,
        )
        for pair_name, spec in pairs.items()
    }
    RDFCoordinationSet(list(analyses.values())).run(start=start)
    # each centre's count at the cutoff just found: the CN's between-centre error
    counted = [name for name, rdf in analyses.items() if math.isfinite(rdf.results.cutoff_angstrom)]
    centre_counts: dict[str, np.ndarray] = {}
    if counted:
        counts = CentreCounts(
            [
                (groups[n]["center"], groups[n]["ligand"], analyses[n].results.cutoff_angstrom)
                for n in counted
            ]
        ).run(start=start)
        centre_counts = dict(zip(counted, counts.results.counts, strict=True))
    records = {}
    for pair_name, spec in pairs.items():
        rdf = analyses[pair_name]
        table = rdf_table(rdf)
        atomic_write_text(spec["out_csv"], table.to_csv(index=False, float_format="%.6g"))
        plot_rdf(rdf, spec["out_png"], spec.get("title") or pair_name)
        record = summarize(rdf, pair_name, centre_counts.get(pair_name))
        record.update(
            center_selection=spec["center"],
            ligand_selection=spec["ligand"],
            n_center_atoms=len(groups[pair_name]["center"]),
            n_ligand_atoms=len(groups[pair_name]["ligand"]),
            first_frame=start,
            frame_interval_ps=float(dt_ps),
        )
        write_json(spec["out_json"], record)
        records[pair_name] = record
    return records


def analyze_run(
    topology: str | os.PathLike[str],
    trajectory: str | os.PathLike[str],
    pairs: Mapping[str, Mapping[str, Any]],
    out_dir: str | os.PathLike[str],
    *,
    skip_ps: float = 0.0,
    bin_width_angstrom: float = 0.05,
    r_max_angstrom: float | None = None,
    n_blocks: int = 5,
    run_label: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Every RDF pair of one MD run in one trajectory pass, files named by pair.

    :func:`analyze_pairs` with each pair's files
    (:func:`~electrolyte_md.analysis.records.pair_files`) in ``out_dir``, which is created
    if missing: per pair exactly what :func:`analyze_pair` writes. If anything fails, the
    files of all pairs are removed from ``out_dir`` before the error propagates, so that no
    pair's files are left half made or out of step with the rest.

    Parameters
    ----------
    topology, trajectory
        Files MDAnalysis can read (e.g. an Amber prmtop and an OpenMM DCD).
    pairs
        Pair label -> ``center`` and ``ligand`` selections and optional
        ``cutoff_angstrom`` (as :func:`electrolyte_md.config.system_pairs` gives them;
        other keys are ignored).
    out_dir
        The RDF directory of the run.
    skip_ps, bin_width_angstrom, r_max_angstrom, n_blocks
        As for :func:`analyze_pairs`.
    run_label
        Figure titles read "<pair> in <run_label>" (default: the pair label alone).

    Returns
    -------
    dict
        Pair label -> the record written to its ``cn_<pair>.json``.
    """
    if not pairs:
        raise AnalysisError(f"{out_dir}: no RDF pair to analyse")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = {
        name: {
            "center": spec["center"],
            "ligand": spec["ligand"],
            "cutoff_angstrom": spec.get("cutoff_angstrom"),
            "title": f"{name} in {run_label}" if run_label else name,
            **pair_files(out_dir, name),
        }
        for name, spec in pairs.items()
    }
    try:
        return analyze_pairs(
            topology,
            trajectory,
            jobs,
            skip_ps=skip_ps,
            bin_width_angstrom=bin_width_angstrom,
            r_max_angstrom=r_max_angstrom,
            n_blocks=n_blocks,
        )
    except BaseException:
        for name in jobs:
            for path in pair_files(out_dir, name).values():
                path.unlink(missing_ok=True)
        raise


def coordination_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (temperature, replica, pair), plus replica means when there are several.

    Parameters
    ----------
    records
        Dicts from :func:`analyze_pair`, each with ``temperature_kelvin`` and ``replica``
        added by the caller.
    """
    columns = [
        "temperature_kelvin",
        "replica",
        "pair",
        "first_peak_angstrom",
        "first_peak_height",
        "cutoff_angstrom",
        "cutoff_source",
        "coordination_number",
        "coordination_number_sem",
        "coordination_number_first_block",
        "coordination_number_last_block",
        *EQUILIBRATED_KEYS,
        "n_frames",
    ]
    rows = pd.DataFrame([{c: r.get(c) for c in columns} for r in records], columns=columns)
    rows = rows.sort_values(["pair", "temperature_kelvin", "replica"]).reset_index(drop=True)
    rows["replica"] = rows["replica"].astype(str)
    means = []
    for (pair, temperature), group in rows.groupby(["pair", "temperature_kelvin"], sort=True):
        if len(group) < 2:
            continue
        cn = group["coordination_number"].astype(float)
        means.append(
            {
                "temperature_kelvin": temperature,
                "replica": "mean",
                "pair": pair,
                "first_peak_angstrom": group["first_peak_angstrom"].astype(float).mean(),
                "first_peak_height": group["first_peak_height"].astype(float).mean(),
                "cutoff_angstrom": group["cutoff_angstrom"].astype(float).mean(),
                "cutoff_source": "mean over replicas",
                "coordination_number": cn.mean(),
                # spread between independent replicas: the honest error bar
                "coordination_number_sem": cn.std(ddof=1) / math.sqrt(len(cn)),
                "coordination_number_first_block": group["coordination_number_first_block"]
                .astype(float)
                .mean(),
                "coordination_number_last_block": group["coordination_number_last_block"]
                .astype(float)
                .mean(),
                **_replica_mean_of_equilibrated(group),
                "n_frames": int(group["n_frames"].sum()),
            }
        )
    if means:
        rows = pd.concat([rows, pd.DataFrame(means, columns=columns)], ignore_index=True)
    return rows


def _replica_mean_of_equilibrated(group: pd.DataFrame) -> dict[str, float]:
    """The equilibrated CN over replicas: their mean, its error from their spread, the
    mean discarded time and inefficiency, the summed effective samples, and the smallest
    drift p-value (the replica that drifts most)."""
    cn = group["coordination_number_equilibrated"].astype(float)
    return {
        "coordination_number_equilibrated": cn.mean(),
        "coordination_number_equilibrated_se": cn.std(ddof=1) / math.sqrt(len(cn)),
        "discarded_ps": group["discarded_ps"].astype(float).mean(),
        "statistical_inefficiency": group["statistical_inefficiency"].astype(float).mean(),
        "n_effective": group["n_effective"].astype(float).sum(),
        "drift_p": group["drift_p"].astype(float).min(),
    }


# --- Li+ solvation shells -------------------------------------------------------------


def _as_shell_results(results: Results | SolvationShells) -> Results:
    """Accept either a finished :class:`SolvationShells` or its ``results``."""
    if isinstance(results, SolvationShells):
        results = results.results
    if not hasattr(results, "shell_counts"):
        raise AnalysisError("solvation results are incomplete: was SolvationShells.run() called?")
    return results


def shell_composition_table(results: Results | SolvationShells) -> pd.DataFrame:
    """Per-Li+ shell composition and ion-pair classes, averaged over frames.

    Parameters
    ----------
    results : MDAnalysis.analysis.base.Results or SolvationShells
        ``SolvationShells(...).run().results`` (or the analysis).

    Returns
    -------
    pandas.DataFrame
        One row per Li+: ``li_atom_index``, ``mean_<partner>`` per partner,
        ``mean_total``, ``fraction_<class>`` for SSIP/CIP/MCIP/AGG and
        ``most_common_shell`` (its label).
    """
    res = _as_shell_results(results)
    names = res.partner_names
    table: dict[str, Any] = {"li_atom_index": np.asarray(res.li_atom_indices, dtype=int)}
    for p, name in enumerate(names):
        table[f"mean_{name}"] = res.per_li_mean_counts[:, p]
    table["mean_total"] = res.per_li_mean_counts.sum(axis=1)
    for k, label in enumerate(ION_PAIR_CLASSES):
        table[f"fraction_{label}"] = (res.ion_pair_classes == k).mean(axis=0)
    most_common = []
    for li in range(res.n_li):
        tally = Counter(map(tuple, res.shell_counts[:, li, :].tolist()))
        key = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        most_common.append(shell_label(key, names))
    table["most_common_shell"] = most_common
    return pd.DataFrame(table)


def shell_type_table(results: Results | SolvationShells) -> pd.DataFrame:
    """Distribution of shell compositions over all Li+ and frames.

    Returns
    -------
    pandas.DataFrame
        Columns ``shell`` (label), one ``n_<partner>`` column per partner, and
        ``fraction``; most frequent first.
    """
    res = _as_shell_results(results)
    names = res.partner_names
    tally = Counter(map(tuple, res.shell_counts.reshape(-1, len(names)).tolist()))
    total = sum(tally.values())
    rows = []
    for key, value in sorted(tally.items(), key=lambda kv: (-kv[1], kv[0])):
        row: dict[str, Any] = {"shell": shell_label(key, names)}
        row.update({f"n_{name}": int(n) for name, n in zip(names, key, strict=True)})
        row["fraction"] = value / total
        rows.append(row)
    return pd.DataFrame(rows)


def summarize_solvation(
    results: Results | SolvationShells, max_shell_types: int = 10
) -> dict[str, Any]:
    """JSON-ready summary of a :class:`SolvationShells` run (NaN becomes None).

    Parameters
    ----------
    results : MDAnalysis.analysis.base.Results or SolvationShells
    max_shell_types : int, default 10
        Most frequent shell types listed (the rest are summed into ``"other"``).

    Returns
    -------
    dict
        Keys ``partners`` (name -> cutoff Å), ``anions``, ``n_frames``, ``n_li``,
        ``n_blocks``, ``mean_shell_counts``, ``mean_shell_counts_sem``,
        ``coordination_number``, ``coordination_number_sem``, ``ion_pair_fractions``,
        ``ion_pair_fractions_sem``, ``anion_pair_fractions``,
        ``anion_pair_fractions_sem``, ``shell_type_fractions``.
    """
    res = _as_shell_results(results)

    def clean(mapping: Mapping[str, Any]) -> dict[str, Any]:
        return {
            k: clean(v) if isinstance(v, Mapping) else json_float(v) for k, v in mapping.items()
        }

    shell_types = list(res.shell_type_fractions.items())
    listed = dict(shell_types[:max_shell_types])
    rest = sum(value for _, value in shell_types[max_shell_types:])
    if rest > 0:
        listed["other"] = rest
    return {
        "partners": clean(res.cutoffs_angstrom),
        "anions": list(res.anion_names),
        "n_frames": int(res.n_frames),
        "n_li": int(res.n_li),
        "n_blocks": int(res.n_blocks),
        "mean_shell_counts": clean(res.mean_shell_counts),
        "mean_shell_counts_sem": clean(res.mean_shell_counts_sem),
        "coordination_number": json_float(res.coordination_number),
        "coordination_number_sem": json_float(res.coordination_number_sem),
        "ion_pair_fractions": clean(res.ion_pair_fractions),
        "ion_pair_fractions_sem": clean(res.ion_pair_fractions_sem),
        "anion_pair_fractions": clean(res.anion_pair_fractions),
        "anion_pair_fractions_sem": clean(res.anion_pair_fractions_sem),
        "shell_type_fractions": clean(listed),
        "equilibrated": _shell_series_statistics(res),
    }


def _shell_series_statistics(res: Results) -> dict[str, dict[str, float | None]]:
    """Equilibrated region, SE (from g and between Li+) and drift of each per-frame shell
    series (summary row name -> :data:`EQUILIBRATED_KEYS`-like record; {} without frame
    times)."""
    times = getattr(res, "times_ps", None)
    per_frame = getattr(res, "mean_shell_counts_per_frame", None)
    if times is None or per_frame is None or len(times) < MIN_SAMPLES:
        return {}
    # per Li+ too (frames x Li+): each Li+ is a site whose own average the error weighs
    counts = getattr(res, "shell_counts", None)
    classes = getattr(res, "ion_pair_classes", None)
    series: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for p, name in enumerate(res.partner_names):
        sites = None if counts is None else counts[:, :, p]
        series[f"shell {name}"] = (per_frame[:, p], sites)
    series["shell total"] = (per_frame.sum(axis=1), None if counts is None else counts.sum(axis=2))
    for k, label in enumerate(ION_PAIR_CLASSES):
        sites = None if classes is None else classes == k
        series[f"fraction {label}"] = (res.ion_pair_fractions_per_frame[:, k], sites)
    return {
        name: _series_record(
            analyze_series(np.asarray(values, dtype=float), times, name=name, sites=sites)
        )
        for name, (values, sites) in series.items()
    }


#: Frames (spread evenly over the trajectory) that :func:`mean_nearest_distance` reads.
CONTACT_FRAMES = 20


def mean_nearest_distance(universe: Universe, centre: AtomGroup, ligand: AtomGroup) -> float:
    """Mean distance (Å) from an atom of ``centre`` to its nearest atom of ``ligand``.

    Averaged over the centre atoms and :data:`CONTACT_FRAMES` frames spread evenly over
    the trajectory (minimum image; the trajectory is left at its first frame).
    """
    n_frames = universe.trajectory.n_frames
    frames = np.unique(np.linspace(0, n_frames - 1, min(CONTACT_FRAMES, n_frames)).astype(int))
    nearest = []
    for index in frames:
        ts = universe.trajectory[int(index)]
        d = distance_array(centre.positions, ligand.positions, box=ts.dimensions)
        nearest.append(d.min(axis=1))
    universe.trajectory[0]
    return float(np.mean(nearest))


def shell_partners(
    universe: Universe,
    cn_records: Sequence[Mapping[str, Any]],
    cation_residue: str,
    species_by_residue: Mapping[str, str],
    fixed_cutoffs: Mapping[str, float] | None = None,
) -> dict[str, dict[str, Any]]:
    """Shell partners of the cation from the RDF records of one run.

    A record (an ``analysis.analyze_pair`` JSON) is a candidate when its centre atoms are
    all of residue ``cation_residue`` and its ligand atoms all belong to one other
    residue name (one species).  Per species the candidate whose atoms come closest to
    the cation is kept -- the atoms in direct contact with it (F, not P, of PF6-; O, not
    N, of NMP) -- with the cutoff that record used (the first minimum of its g(r), or the
    pair's configured ``cutoff_angstrom``).  ``fixed_cutoffs`` (species -> Å) overrides
    the cutoff of a species.

    "Closest" is the mean, over cations and up to :data:`CONTACT_FRAMES` frames spread
    over the trajectory, of the distance from a cation to the nearest candidate atom.
    The first peak of g(r) would say the same in a converged run, but in a short one a
    pair may have no qualifying peak at all (too few contacts) and the choice would then
    follow the noise; the nearest distance needs no peak.  Of a PF6- anion an F is
    always nearer than the P (an octahedron's nearest vertex is nearer than its centre
    from any point more than 0.87 bond lengths away), so the choice is geometric there.

    Returns
    -------
    dict
        Species -> ``{"pair", "selection", "cutoff_angstrom", "cutoff_source",
        "first_peak_angstrom", "nearest_angstrom"}``, in the order of the records.

    Raises
    ------
    AnalysisError
        A record without its selections, or a fixed cutoff for a species that is not a
        shell partner.
    """
    chosen: dict[str, dict[str, Any]] = {}
    for record in cn_records:
        try:
            centre = universe.select_atoms(record["center_selection"])
            ligand = universe.select_atoms(record["ligand_selection"])
        except KeyError as exc:
            raise AnalysisError(
                f"RDF record of pair {record.get('pair', '?')!r} lacks {exc}: was it written "
                "by electrolyte_md.analysis.coordination.analyze_pair?"
            ) from exc
        if set(centre.resnames) != {cation_residue}:
            continue
        residues = set(ligand.resnames)
        if len(residues) != 1 or residues == {cation_residue}:
            continue
        (residue,) = residues
        name = species_by_residue.get(residue, residue)
        peak = record.get("first_peak_angstrom")
        nearest = mean_nearest_distance(universe, centre, ligand)
        if name in chosen and chosen[name]["nearest_angstrom"] <= nearest:
            continue
        chosen[name] = {
            "pair": record["pair"],
            "selection": record["ligand_selection"],
            "cutoff_angstrom": float(record["cutoff_angstrom"]),
            "cutoff_source": f"{record['cutoff_source']} of g(r) {record['pair']}"
            if record["cutoff_source"] == "first minimum"
            else f"configured cutoff of pair {record['pair']}",
            "first_peak_angstrom": math.nan if peak is None else float(peak),
            "nearest_angstrom": nearest,
        }
    for name, cutoff in (fixed_cutoffs or {}).items():
        if name not in chosen:
            raise AnalysisError(
                f"analysis.solvation.cutoff_angstrom names {name!r}, which is not a shell "
                f"partner here (partners: {sorted(chosen)}); a partner needs a Li-centred "
                "RDF pair with its atoms"
            )
        chosen[name]["cutoff_angstrom"] = float(cutoff)
        chosen[name]["cutoff_source"] = "analysis.solvation.cutoff_angstrom"
    return chosen


def analyze_solvation(
    topology: str | os.PathLike[str],
    trajectory: str | os.PathLike[str],
    cn_records: Sequence[Mapping[str, Any]],
    *,
    cation_residue: str,
    anion_species: Sequence[str],
    species_by_residue: Mapping[str, str],
    out_json: str | os.PathLike[str],
    out_csv: str | os.PathLike[str],
    skip_ps: float = 0.0,
    n_blocks: int = 5,
    fixed_cutoffs: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """First solvation shells of the cation in one trajectory, written to files.

    The partners and their cutoffs come from the run's RDF records (:func:`shell_partners`);
    the anions among them decide SSIP/CIP/MCIP/AGG.

    Parameters
    ----------
    topology, trajectory
        Files MDAnalysis can read.
    cn_records
        The ``cn_<pair>.json`` records of the run (with ``pair`` added if absent).
    cation_residue
        Residue name of the cation (``LI``).
    anion_species
        Species names of the salt anions (``["PF6"]``).
    species_by_residue
        Residue name -> species name, for readable partner names.
    out_json, out_csv
        :func:`summarize_solvation` record (with the partners' pairs, cutoffs and their
        sources) and :func:`shell_type_table`.
    skip_ps, n_blocks
        Trajectory time left out at the start; blocks for the standard errors.
    fixed_cutoffs
        Species -> cutoff (Å) replacing the one from the RDF.

    Returns
    -------
    dict
        The record written to ``out_json``.
    """
    universe = MDAnalysis.Universe(str(topology), str(trajectory))
    partners = shell_partners(
        universe, cn_records, cation_residue, species_by_residue, fixed_cutoffs
    )
    pairs_seen = sorted(str(r.get("pair")) for r in cn_records)
    anions = [a for a in anion_species if a in partners]
    if not anions:
        raise AnalysisError(
            f"{trajectory}: no RDF pair centred on {cation_residue} has atoms of the anion(s) "
            f"{list(anion_species)} (pairs of this run: {pairs_seen}); add one, e.g. "
            "Li-F, under analysis.rdf.pairs"
        )
    dt_ps = universe.trajectory.dt
    start = math.ceil(skip_ps / dt_ps - 1e-9) if skip_ps > 0 else 0
    if start >= universe.trajectory.n_frames:
        raise AnalysisError(
            f"solvation: skip_ps = {skip_ps} leaves no frame of {trajectory} "
            f"({universe.trajectory.n_frames} frames, {dt_ps:g} ps apart)"
        )
    shells = SolvationShells(
        universe,
        f"resname {cation_residue}",
        {name: (p["selection"], p["cutoff_angstrom"]) for name, p in partners.items()},
        anions,
        n_blocks=n_blocks,
    ).run(start=start)
    record = summarize_solvation(shells)
    record["partner_details"] = {
        name: {
            key: p[key]
            for key in ("pair", "selection", "cutoff_angstrom", "cutoff_source", "nearest_angstrom")
        }
        for name, p in partners.items()
    }
    record["cation_residue"] = cation_residue
    record["first_frame"] = start
    record["frame_interval_ps"] = float(dt_ps)
    atomic_write_text(out_csv, shell_type_table(shells).to_csv(index=False, float_format="%.6g"))
    write_json(out_json, record)
    return record
