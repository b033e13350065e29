"""Charge-scaling sweeps: the headline numbers against the ionic charge factor.

Scaled ionic charges stand in for the electronic polarisation a fixed-charge model lacks
(docs/models.md); the factor (0.8 by default) is the model's largest free choice. A
system with ``ion_charge_scales`` runs once per factor (``<system>_q080`` ...:
:func:`electrolyte_md.config.expand_charge_sweeps`); here:

* :func:`sweep_table` -- CN of the headline pair, density and the Nernst-Einstein
  conductivity of each factor and temperature, mean +- SE from the system summaries;
* :func:`closest_factors` -- for each measured density or conductivity of the swept
  system (``validation.experiments``), the factor whose simulated value is closest and,
  where the measured value lies between two factors' values, the factor a straight line
  between them crosses it at (an interpolation, not a fit: the errors of both ends carry
  over);
* :func:`plot_sweep` -- the three against the factor, measured values as dashed lines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from electrolyte_md.errors import AnalysisError
from electrolyte_md.io import atomic_write_text
from electrolyte_md.plots import new_figure, save_figure
from electrolyte_md.study.summary import read_summaries

__all__ = ["closest_factors", "plot_sweep", "sweep_table", "write_sweep"]

#: property of validation.experiments -> the sweep table's column it is compared with
MEASURABLE = {"density": "density", "conductivity": "sigma_NE"}


def sweep_table(
    summary: pd.DataFrame, sweeps: Mapping[str, Mapping[str, float]], cn_pair: str
) -> pd.DataFrame:
    """One row per swept system, temperature and factor: ``CN <pair>``, ``density`` and
    ``sigma_NE`` with their ``_sem`` (NaN where a summary lacks the quantity)."""
    rows = []
    quantities = {f"CN {cn_pair}": f"CN {cn_pair}", "density": "density", "sigma_NE": "sigma_NE"}
    for swept, systems in sweeps.items():
        for system, factor in systems.items():
            own = summary[summary["system"] == system]
            if own.empty:
                raise AnalysisError(f"charge sweep of {swept}: no summary of {system}")
            for temperature, group in own.groupby("temperature_kelvin"):
                row: dict[str, Any] = {
                    "swept_system": swept,
                    "system": system,
                    "temperature_kelvin": float(temperature),
                    "ion_charge_scale": float(factor),
                }
                by_quantity = group.set_index("quantity")
                for column, quantity in quantities.items():
                    found = quantity in by_quantity.index
                    row[column] = float(by_quantity.loc[quantity, "mean"]) if found else math.nan
                    row[f"{column}_sem"] = (
                        float(by_quantity.loc[quantity, "sem"]) if found else math.nan
                    )
                rows.append(row)
    return pd.DataFrame(rows).sort_values(
        ["swept_system", "temperature_kelvin", "ion_charge_scale"]
    )


def closest_factors(table: pd.DataFrame, experiments: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """For each measured density or conductivity of a swept system: the closest factor and,
    where the measured value lies between two factors' values, the crossing by linear
    interpolation (see the module). Other properties are not compared here."""
    rows = []
    for entry in experiments:
        column = MEASURABLE.get(entry["property"])
        if column is None:
            continue
        measured, temperature = float(entry["value"]), float(entry["temperature_kelvin"])
        rows_of = table[
            (table["swept_system"] == entry["system"])
            & ((table["temperature_kelvin"] - temperature).abs() <= 0.5)
        ].dropna(subset=[column])
        base = {
            "swept_system": entry["system"],
            "property": entry["property"],
            "temperature_kelvin": temperature,
            "measured": measured,
            "source": entry["source"],
        }
        if rows_of.empty:
            rows.append(base | {"statement": f"no simulated {column} at {temperature:g} K"})
            continue
        factors = rows_of["ion_charge_scale"].to_numpy()
        values = rows_of[column].to_numpy()
        nearest = int(np.argmin(np.abs(values - measured)))
        crossing = math.nan
        for k in range(len(values) - 1):
            low, high = values[k] - measured, values[k + 1] - measured
            if low == 0 or low * high < 0:
                fraction = (measured - values[k]) / (values[k + 1] - values[k])
                crossing = float(factors[k] + fraction * (factors[k + 1] - factors[k]))
                break
        statement = (
            f"closest: factor {factors[nearest]:g} ({column} {values[nearest]:.4g} against "
            f"{measured:.4g} measured)"
        )
        if math.isfinite(crossing):
            statement += f"; the measured value is crossed near factor {crossing:.2f}"
        else:
            statement += "; the measured value lies outside the swept range"
        rows.append(
            base
            | {
                "closest_factor": float(factors[nearest]),
                "simulated_at_closest": float(values[nearest]),
                "crossing_factor": crossing,
                "statement": statement,
            }
        )
    columns = [
        "swept_system", "property", "temperature_kelvin", "measured", "closest_factor",
        "simulated_at_closest", "crossing_factor", "statement", "source",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def plot_sweep(
    table: pd.DataFrame,
    cn_pair: str,
    experiments: Sequence[Mapping[str, Any]],
    paths: Sequence[str | Path],
) -> None:
    """CN, density and sigma_NE against the factor, one line per swept system and
    temperature with +- 1 SE bars; measured values as dashed lines."""
    panels = ((f"CN {cn_pair}", f"CN {cn_pair}"), ("density", "density (g/cm3)"),
              ("sigma_NE", "sigma_NE (mS/cm)"))  # fmt: skip
    figure = new_figure((6.0, 8.0))
    axes = figure.subplots(len(panels), 1, sharex=True)
    for (swept, temperature), group in table.groupby(["swept_system", "temperature_kelvin"]):
        for axis, (column, _) in zip(axes, panels, strict=True):
            axis.errorbar(
                group["ion_charge_scale"], group[column], yerr=group[f"{column}_sem"],
                marker="o", capsize=3, label=f"{swept}, {temperature:g} K",
            )  # fmt: skip
    for entry in experiments:
        column = MEASURABLE.get(entry["property"])
        if column is None:
            continue
        axis = axes[[c for c, _ in panels].index(column)]
        axis.axhline(float(entry["value"]), ls="--", color="0.3", lw=1.0)
        axis.annotate(
            f"measured ({entry['system']}, {float(entry['temperature_kelvin']):g} K)",
            (0.01, float(entry["value"])), xycoords=("axes fraction", "data"),
            fontsize="x-small", va="bottom",
        )  # fmt: skip
    for axis, (_, label) in zip(axes, panels, strict=True):
        axis.set_ylabel(label)
    axes[-1].set_xlabel("ionic charge factor (ion_charge_scale)")
    axes[0].legend(fontsize="small", loc="best")
    axes[0].set_title("Charge-scaling sweep: mean ± 1 SE")
    for path in paths:
        save_figure(figure, path)


def write_sweep(
    summary_paths: Sequence[str],
    sweeps: Mapping[str, Mapping[str, float]],
    cn_pair: str,
    experiments: Sequence[Mapping[str, Any]],
    out_csv: str,
    out_closest_csv: str,
    figures: Sequence[str],
) -> pd.DataFrame:
    """The sweep table, the closest factors and the figure of a study's sweeps."""
    table = sweep_table(read_summaries(summary_paths), sweeps, cn_pair)
    atomic_write_text(out_csv, table.to_csv(index=False, float_format="%.6g"))
    closest = closest_factors(table, experiments)
    atomic_write_text(out_closest_csv, closest.to_csv(index=False, float_format="%.6g"))
    plot_sweep(table, cn_pair, experiments, figures)
    return table
