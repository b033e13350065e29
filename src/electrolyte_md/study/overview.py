"""What the study found, at a glance: the report's first table and figures.

* :func:`overview_table`: one row per system and temperature, one column per number a
  chemist looks for first (density, the CN of every pair, the SSIP/CIP/MCIP/AGG fractions,
  D of every species, the Nernst-Einstein conductivity and t+), each ``mean +- SE`` as
  the system summaries give it, with where the errors come from and which numbers are
  flagged (their notes are in the per-system summaries).
* :func:`plot_rdf_overlay`: g(r) and n(r) of one pair for every system and temperature
  on one figure, the replica mean with a band of +- one standard error between replicas
  (no band with one replica: it would be a guess).
* :func:`plot_shell_fractions`: SSIP/CIP/MCIP/AGG fractions of Li+ as stacked bars per
  system and temperature.

Figures are written as PNG for the report and SVG for papers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from electrolyte_md.errors import AnalysisError
from electrolyte_md.io import atomic_write_text
from electrolyte_md.plots import new_figure, save_figure
from electrolyte_md.study.report import html_table
from electrolyte_md.study.summary import read_summaries

__all__ = [
    "overview_html",
    "overview_table",
    "plot_rdf_overlay",
    "plot_shell_fractions",
    "read_rdf_curves",
]

#: Quantities of the system summaries shown, by prefix, in this order (D_pbc and t+_pbc,
#: the uncorrected ones, and the cutoffs stay in the per-system tables).
OVERVIEW_ORDER = ("density", "CN ", "fraction ", "D ", "sigma_NE", "t+")
SHELL_CLASSES = ("SSIP", "CIP", "MCIP", "AGG")


def _shown(quantity: str) -> int | None:
    """Position of ``quantity`` in :data:`OVERVIEW_ORDER` (None: not shown)."""
    for k, prefix in enumerate(OVERVIEW_ORDER):
        if quantity == prefix or (prefix.endswith(" ") and quantity.startswith(prefix)):
            return k
    return None


def format_value(mean: float, sem: float) -> str:
    """``mean +- sem`` with the error to two significant figures and the mean to match;
    the mean alone (4 significant figures) when there is no error."""
    if mean is None or not math.isfinite(mean):
        return ""
    if sem is None or not math.isfinite(sem) or sem <= 0:
        return f"{mean:.4g}"
    decimals = max(0, 1 - int(math.floor(math.log10(sem))))
    return f"{mean:.{decimals}f} ± {sem:.{decimals}f}"


def overview_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (system, temperature) of the concatenated system summaries.

    Columns: ``system``, ``temperature_kelvin``, one ``<quantity> (<unit>)`` column per
    shown quantity (``mean ± SE``, the value alone where a single run has no error, empty
    where the system lacks it), ``errors from`` (the kinds of error behind the row: between
    replicas, statistical inefficiency of one replica, ...) and ``flagged`` (the
    quantities whose rows are flagged; their reasons are in the system's summary).
    """
    needed = {"system", "temperature_kelvin", "quantity", "unit", "mean", "sem", "error_from"}
    missing = needed - set(summary.columns)
    if missing:
        raise AnalysisError(f"system summaries lack columns {sorted(missing)}")
    shown = summary[[_shown(q) is not None for q in summary["quantity"]]].copy()
    if shown.empty:
        raise AnalysisError("the system summaries hold none of the quantities of the overview")
    shown["unit"] = shown["unit"].fillna("").astype(str)
    shown["column"] = [
        f"{q} ({u})" if u and u != "nan" else q
        for q, u in zip(shown["quantity"], shown["unit"], strict=True)
    ]
    order = sorted(
        dict.fromkeys(shown["column"]),
        key=lambda c: (_shown(c.split(" (")[0]), c),
    )
    rows = []
    for (system, temperature), group in shown.groupby(["system", "temperature_kelvin"], sort=True):
        row: dict[str, object] = {"system": system, "temperature_kelvin": float(temperature)}
        for record in group.itertuples():
            row[record.column] = format_value(float(record.mean), float(record.sem))
        row["errors from"] = "; ".join(sorted(set(group["error_from"].astype(str))))
        flags = group["flagged"].astype(bool) if "flagged" in group else pd.Series(dtype=bool)
        row["flagged"] = ", ".join(group.loc[flags.to_numpy(), "quantity"]) if len(flags) else ""
        rows.append(row)
    columns = ["system", "temperature_kelvin", *order, "errors from", "flagged"]
    return pd.DataFrame(rows, columns=columns).fillna("")


def read_rdf_curves(
    rdf_csvs: Sequence[str | Path],
) -> dict[tuple[str, float], list[pd.DataFrame]]:
    """``rdf_<pair>.csv`` of runs, grouped by (system, temperature) from their paths
    ``.../analysis/<system>/<T>K/rep<r>/rdf/rdf_<pair>.csv``."""
    curves: dict[tuple[str, float], list[pd.DataFrame]] = {}
    for path in map(Path, rdf_csvs):
        try:
            system = path.parts[-5]
            temperature = float(path.parts[-4].removesuffix("K"))
        except (IndexError, ValueError) as exc:
            raise AnalysisError(
                f"{path}: expected .../<system>/<T>K/rep<r>/rdf/rdf_<pair>.csv"
            ) from exc
        table = pd.read_csv(path)
        if not {"r_angstrom", "g_r", "cn_r"} <= set(table.columns):
            raise AnalysisError(f"{path}: not an RDF table (needs r_angstrom, g_r, cn_r)")
        curves.setdefault((system, temperature), []).append(table)
    return dict(sorted(curves.items()))


def _mean_band(tables: Sequence[pd.DataFrame], column: str) -> tuple[np.ndarray, ...]:
    """r, the replica mean of ``column`` and its standard error (None with one replica),
    on the shortest common r grid."""
    n = min(len(t) for t in tables)
    r = tables[0]["r_angstrom"].to_numpy()[:n]
    values = np.stack([t[column].to_numpy()[:n] for t in tables])
    mean = values.mean(axis=0)
    sem = values.std(axis=0, ddof=1) / math.sqrt(len(tables)) if len(tables) > 1 else None
    return r, mean, sem


def plot_rdf_overlay(
    curves: Mapping[tuple[str, float], Sequence[pd.DataFrame]],
    pair: str,
    paths: Sequence[str | Path],
    r_max_angstrom: float | None = None,
) -> None:
    """g(r) (top) and n(r) (bottom) of ``pair`` for every (system, temperature), replica
    mean with a +- 1 SE band between replicas, written to each of ``paths``."""
    if not curves:
        raise AnalysisError(f"no RDF of pair {pair} to plot")
    figure = new_figure((7.0, 6.5))
    top, bottom = figure.subplots(2, 1, sharex=True)
    for (system, temperature), tables in curves.items():
        plural = "s" if len(tables) > 1 else ""
        label = f"{system}, {temperature:g} K ({len(tables)} replica{plural})"
        for axis, column in ((top, "g_r"), (bottom, "cn_r")):
            r, mean, sem = _mean_band(tables, column)
            (line,) = axis.plot(r, mean, lw=1.5, label=label if axis is top else None)
            if sem is not None:
                axis.fill_between(r, mean - sem, mean + sem, color=line.get_color(), alpha=0.25)
    top.set_ylabel(f"g(r), {pair}")
    bottom.set_ylabel(f"n(r), {pair}")
    bottom.set_xlabel("r (Å)")
    if r_max_angstrom:
        bottom.set_xlim(0.0, r_max_angstrom)
    top.legend(fontsize="small", loc="best")
    top.set_title(f"{pair}: replica mean ± 1 SE between replicas")
    for path in paths:
        save_figure(figure, path)


def plot_shell_fractions(summary: pd.DataFrame, paths: Sequence[str | Path]) -> None:
    """Stacked bars of the SSIP/CIP/MCIP/AGG fractions of Li+ per (system, temperature)."""
    rows = summary[summary["quantity"].isin([f"fraction {c}" for c in SHELL_CLASSES])]
    if rows.empty:
        raise AnalysisError("the system summaries hold no solvation-shell fractions")
    pairs = zip(rows["system"], rows["temperature_kelvin"], strict=True)
    keys = sorted({(system, float(temperature)) for system, temperature in pairs})
    figure = new_figure((max(4.0, 1.2 * len(keys) + 2.0), 4.5))
    axis = figure.subplots()
    bottom = np.zeros(len(keys))
    x = np.arange(len(keys))
    for name in SHELL_CLASSES:
        heights = []
        for system, temperature in keys:
            match = rows[
                (rows["system"] == system)
                & np.isclose(rows["temperature_kelvin"].astype(float), temperature)
                & (rows["quantity"] == f"fraction {name}")
            ]
            heights.append(float(match["mean"].iloc[0]) if len(match) else 0.0)
        axis.bar(x, heights, bottom=bottom, label=name, width=0.6)
        bottom += np.asarray(heights)
    axis.set_xticks(x, [f"{s}\n{t:g} K" for s, t in keys], fontsize="small")
    axis.set_ylabel("fraction of Li+")
    axis.set_ylim(0.0, 1.0)
    axis.legend(title="Li+ shell", fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axis.set_title("Ion pairing: solvent-separated, contact, multiple contact, aggregate")
    for path in paths:
        save_figure(figure, path)


def overview_html(table: pd.DataFrame) -> str:
    """The overview table as a standalone HTML page, which the Snakemake report shows in
    place (a CSV it only offers for download); flagged numbers are highlighted."""
    flagged = [
        {f.strip() for f in str(value).split(",") if f.strip()} for value in table["flagged"]
    ]
    highlight = [
        [str(column).split(" (")[0] in row_flags for column in table.columns]
        for row_flags in flagged
    ]
    return html_table(
        table,
        title="At a glance",
        table_id="overview",
        caption="mean ± standard error; highlighted: a flagged number (its reason is in the "
        "system's summary, Summary per system)",
        text_columns=("system", "errors from", "flagged"),
        highlight=highlight,
    )


def _notice(text: str, paths: Sequence[str | Path]) -> None:
    """A figure that says why there is nothing to plot (the rule's outputs still exist)."""
    figure = new_figure((4.0, 1.5))
    figure.text(0.5, 0.5, text, ha="center")
    for path in paths:
        save_figure(figure, path)


def write_overview(
    summary_paths: Sequence[str],
    rdf_csvs: Sequence[str],
    pair: str,
    out_csv: str,
    rdf_figures: Sequence[str],
    fraction_figures: Sequence[str],
    out_html: str | None = None,
) -> pd.DataFrame:
    """The overview table (CSV, and HTML for the report) and figures of a study, from its
    system summaries and the runs' ``rdf_<pair>.csv``.  The fraction figures are drawn
    when a system has Li+ shells (else they state that there are none)."""
    summary = read_summaries(summary_paths)
    table = overview_table(summary)
    atomic_write_text(out_csv, table.to_csv(index=False))
    if out_html is not None:
        atomic_write_text(out_html, overview_html(table))
    if rdf_csvs:
        plot_rdf_overlay(read_rdf_curves(rdf_csvs), pair, rdf_figures, r_max_angstrom=10.0)
    else:
        _notice(f"no system has the pair {pair}", rdf_figures)
    if summary["quantity"].str.startswith("fraction ").any():
        plot_shell_fractions(summary, fraction_figures)
    else:
        _notice("no system with Li+ solvation shells", fraction_figures)
    return table
