"""Simulation against experiment: one row per measured value, with a tolerance and a verdict.

The configuration lists measured values (``validation.experiments``): a property of a
species or of a system at a temperature, with its source and a relative tolerance.

* A **species** value (NMP's density) is a property of the neat liquid: it is compared
  with every system of the study whose only component is that species (no salt, no
  additive). A study without one gets a row saying so, and what to add.
* A **system** value (the conductivity of 1 M LiPF6 in NMP) is compared with that system.

Simulated values are the system summaries' rows (``summary.csv``): ``density`` (g/cm3),
``dielectric constant`` (salt-free systems), ``sigma_NE`` (mS/cm; Nernst-Einstein, ion
correlations neglected, so an upper estimate where ions pair). Viscosity is not computed
by the workflow (it needs the pressure-tensor autocorrelation over ns): its rows say so.

Verdict: the relative deviation (simulated - measured) / measured against the tolerance.
A deviation within the tolerance *agrees*; beyond it, the row *differs*; when the
simulated value's standard error alone is larger than the tolerance the comparison is
*not resolved* either way (a short run). A simulated value that the summary flags
(drift, a non-diffusive MSD, a missed precision target) keeps its flag here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from electrolyte_md.errors import AnalysisError
from electrolyte_md.io import atomic_write_text
from electrolyte_md.study.report import html_table
from electrolyte_md.study.summary import read_summaries

__all__ = [
    "EXPERIMENT_COLUMNS",
    "PROPERTIES",
    "experiment_table",
    "neat_systems",
    "write_experiment_table",
]

#: property -> (summary quantity, unit); None: not computed by the workflow.
PROPERTIES: dict[str, tuple[str, str] | None] = {
    "density": ("density", "g/cm3"),
    "dielectric_constant": ("dielectric constant", ""),
    "conductivity": ("sigma_NE", "mS/cm"),
    "viscosity": None,
}
#: A simulated temperature matches a measured one within this (K).
TEMPERATURE_MATCH_KELVIN = 0.5

EXPERIMENT_COLUMNS = (
    "property",
    "of",
    "system",
    "temperature_kelvin",
    "unit",
    "measured",
    "tolerance_percent",
    "simulated",
    "simulated_sem",
    "deviation_percent",
    "verdict",
    "flagged",
    "source",
)


def neat_systems(systems: Mapping[str, Mapping[str, Any]], species: str) -> list[str]:
    """The systems that are the neat liquid ``species``: it alone, no salt, no additive."""
    return [
        name
        for name, spec in systems.items()
        if list(spec.get("solvents", {})) == [species]
        and not any(spec.get("salts", {}).values())
        and not any(spec.get("additives", {}).values())
    ]


def _verdict(simulated: float, sem: float, measured: float, tolerance: float) -> tuple[float, str]:
    deviation = (simulated - measured) / measured
    resolved = not math.isfinite(sem) or sem / abs(measured) <= tolerance
    within = abs(deviation) <= tolerance
    percent = f"{100 * tolerance:g} %"
    if not resolved:
        return deviation, (
            f"not resolved: the simulated value's error (±{100 * sem / abs(measured):.2g} %) "
            f"is larger than the {percent} tolerance; run longer"
        )
    # one NVT run's density, say, has no error to weigh: the verdict says so
    caveat = "" if math.isfinite(sem) else " (the simulated value has no error estimate)"
    if within:
        return deviation, f"agrees within the {percent} tolerance{caveat}"
    return (
        deviation,
        f"differs by {100 * deviation:+.3g} %, beyond the {percent} tolerance{caveat}",
    )


def experiment_table(
    experiments: Sequence[Mapping[str, Any]],
    summary: pd.DataFrame,
    systems: Mapping[str, Mapping[str, Any]],
) -> pd.DataFrame:
    """One row per measured value and simulated system (see the module).

    Parameters
    ----------
    experiments
        ``validation.experiments`` of the configuration.
    summary
        The system summaries of the study, concatenated (``read_summaries``).
    systems
        ``systems`` of the configuration (to find the neat liquid of a species).
    """
    rows: list[dict[str, Any]] = []
    for entry in experiments:
        prop = entry["property"]
        if prop not in PROPERTIES:
            raise AnalysisError(f"experiment property {prop!r}: not one of {sorted(PROPERTIES)}")
        measured = float(entry["value"])
        temperature = float(entry["temperature_kelvin"])
        tolerance = float(entry.get("tolerance", 0.05))
        subject = entry.get("species") or entry.get("system")
        base = {
            "property": prop,
            "of": f"species {subject}" if "species" in entry else f"system {subject}",
            "temperature_kelvin": temperature,
            "unit": PROPERTIES[prop][1] if PROPERTIES[prop] else "mPa s",
            "measured": measured,
            "tolerance_percent": 100 * tolerance,
            "source": entry["source"],
        }
        targets = neat_systems(systems, subject) if "species" in entry else [subject]
        if not targets:
            rows.append(
                base
                | {
                    "system": "",
                    "verdict": f"not simulated: the study has no neat {subject} system "
                    f"(a system with solvents {{{subject}: 1.0}} and no salt)",
                }
            )
            continue
        for system in targets:
            row = base | {"system": system}
            if PROPERTIES[prop] is None:
                rows.append(row | {"verdict": f"not computed by this workflow ({prop})"})
                continue
            quantity = PROPERTIES[prop][0]
            match = summary[
                (summary["system"] == system)
                & (summary["quantity"] == quantity)
                & ((summary["temperature_kelvin"] - temperature).abs() <= TEMPERATURE_MATCH_KELVIN)
            ]
            if match.empty:
                rows.append(
                    row
                    | {"verdict": f"not simulated: {system} has no {quantity} at {temperature:g} K"}
                )
                continue
            found = match.iloc[0]
            simulated, sem = float(found["mean"]), float(found["sem"])
            deviation, verdict = _verdict(simulated, sem, measured, tolerance)
            rows.append(
                row
                | {
                    "simulated": simulated,
                    "simulated_sem": sem,
                    "deviation_percent": 100 * deviation,
                    "verdict": verdict,
                    "flagged": bool(found.get("flagged", False)),
                }
            )
    table = pd.DataFrame(rows, columns=list(EXPERIMENT_COLUMNS))
    table["flagged"] = table["flagged"].fillna(False).astype(bool)
    return table


def write_experiment_table(
    experiments: Sequence[Mapping[str, Any]],
    summary_paths: Sequence[str],
    systems: Mapping[str, Mapping[str, Any]],
    out_csv: str,
    out_html: str,
) -> pd.DataFrame:
    """:func:`experiment_table` of the study's summaries, as CSV and as an HTML page."""
    summary = read_summaries(summary_paths)
    table = experiment_table(experiments, summary, systems)
    atomic_write_text(out_csv, table.to_csv(index=False, float_format="%.6g"))
    shown = table.copy()
    for column in ("measured", "simulated", "simulated_sem", "deviation_percent"):
        shown[column] = ["" if pd.isna(v) else f"{v:.4g}" for v in table[column].astype(float)]
    shown["tolerance_percent"] = [f"{v:g}" for v in table["tolerance_percent"]]
    shown["flagged"] = ["yes" if f else "" for f in table["flagged"]]
    highlight = [
        [column == "verdict" and not str(verdict).startswith("agrees") for column in shown]
        for verdict in table["verdict"]
    ]
    atomic_write_text(
        out_html,
        html_table(
            shown,
            title="Simulation against experiment",
            table_id="experiment",
            caption="deviation = (simulated - measured) / measured; highlighted: a verdict "
            "other than agreement",
            text_columns=("property", "of", "system", "verdict", "source"),
            highlight=highlight,
        ),
    )
    return table
