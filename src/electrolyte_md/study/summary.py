"""Per-system summaries across replicas, the comparison with the paper, Arrhenius tables.

- :func:`aggregate` -- mean, standard error and the count behind it: over replicas when
  there are several, else the block (or particle-group) error of the single run.
- :func:`system_summary` -- one long table per system from the per-run records
  (``rdf/cn_<pair>.json``, ``solvation.json``, ``transport.json``): coordination numbers and
  cutoffs per pair, shell composition and SSIP/CIP/MCIP/AGG fractions, D per species,
  t+ and the Nernst-Einstein conductivity, each as mean, SEM and n, with the equilibrated
  region of the per-frame series (discarded time, effective samples, drift p), flagged
  where a non-diffusive MSD fit, a drifting series or an unmet production target went
  into it.
- :func:`comparison_table` -- a system with an additive beside the same electrolyte
  without it, the change, and the paper's values (:data:`PAPER`).
- :func:`arrhenius_table` -- activation energies of D from several temperatures (the fits
  of :mod:`~electrolyte_md.study.arrhenius`).

The package never imports snakemake; the workflow's scripts call these functions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from electrolyte_md.analysis.records import PAIR_FILES, read_pair_records
from electrolyte_md.errors import AnalysisError
from electrolyte_md.io import atomic_write_text
from electrolyte_md.study.arrhenius import ArrheniusFit, arrhenius_fit, plot_arrhenius
from electrolyte_md.study.paper import PAPER
from electrolyte_md.timeseries import MIN_USED_FRACTION

__all__ = [
    "SUMMARY_COLUMNS",
    "aggregate",
    "arrhenius_fits",
    "arrhenius_table",
    "comparison_table",
    "rdf_run_records",
    "system_summary",
]

#: Columns of :func:`system_summary`.
SUMMARY_COLUMNS = [
    "system",
    "temperature_kelvin",
    "quantity",
    "unit",
    "mean",
    "sem",
    "n",
    "error_from",
    "discarded_ps",
    "n_effective",
    "drift_p",
    "flagged",
    "note",
]
#: A series whose equilibrated region still drifts at this level (two-sided p) is flagged.
DRIFT_P_FLAG = 0.05


def aggregate(
    values: Sequence[float],
    within_sems: Sequence[float | None] | None = None,
    within_n: Sequence[int | None] | None = None,
    within_label: str = "blocks",
) -> dict[str, Any]:
    """Mean, standard error and the number of samples behind it.

    With two or more values (independent replicas) the error is the standard error of
    the values: ``std(ddof=1) / sqrt(n)``, ``n`` = number of replicas.  With one value
    the error is its own within-run standard error (``within_sems[0]``, from ``within_n``
    blocks of frames or particle groups), or NaN if it has none.

    Parameters
    ----------
    values
        One value per replica (None or NaN values are refused: a missing replica must
        not shrink the error bar silently).
    within_sems, within_n
        Per replica: its within-run standard error and the number of blocks behind it.
    within_label
        What the within-run error comes from (``"blocks"``, ``"particle groups"``).

    Returns
    -------
    dict
        ``mean``, ``sem``, ``n``, ``error_from`` (``"replicas"``,
        ``"<within_label> of 1 replica"`` or ``"none (1 replica)"``).
    """
    x = np.asarray([math.nan if v is None else v for v in values], dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise AnalysisError("aggregate needs at least one value")
    if not np.all(np.isfinite(x)):
        raise AnalysisError(f"aggregate: values must be finite numbers, got {x.tolist()}")
    if x.size >= 2:
        return {
            "mean": float(x.mean()),
            "sem": float(x.std(ddof=1) / math.sqrt(x.size)),
            "n": int(x.size),
            "error_from": "replicas",
        }
    sem = within_sems[0] if within_sems else None
    n = within_n[0] if within_n else None
    if sem is None or not math.isfinite(float(sem)):
        return {"mean": float(x[0]), "sem": math.nan, "n": 1, "error_from": "none (1 replica)"}
    return {
        "mean": float(x[0]),
        "sem": float(sem),
        "n": int(n) if n is not None else 1,
        "error_from": f"{within_label} of 1 replica",
    }


def aggregate_equilibrated(
    records: Sequence[Mapping[str, Any] | None],
) -> dict[str, Any] | None:
    """Replica mean and error of a per-frame series from each run's equilibrated region.

    Each record (one per replica) holds ``mean``, ``standard_error`` (from the
    statistical inefficiency), ``discarded_ps``, ``n_effective`` and ``drift_p`` of the
    run's series (:func:`electrolyte_md.timeseries.analyze_series`).  With two or more
    replicas the error is between them (as :func:`aggregate`); with one it is the run's
    own.  ``discarded_ps`` is the largest, ``n_effective`` the sum and ``drift_p`` the
    smallest over replicas.  None when a record (or its mean) is missing: the caller then
    falls back to :func:`aggregate` of the whole-run values.
    """
    if not records or any(r is None or r.get("mean") is None for r in records):
        return None
    means = [float(r["mean"]) for r in records]  # type: ignore[index]
    if len(means) >= 2:
        stats = aggregate(means)
    else:
        se = records[0].get("standard_error")  # type: ignore[union-attr]
        stats = {
            "mean": means[0],
            "sem": math.nan if se is None else float(se),
            "n": 1,
            "error_from": "statistical inefficiency of 1 replica",
        }

    def values(key: str) -> list[float]:
        return [math.nan if r.get(key) is None else float(r[key]) for r in records]  # type: ignore[union-attr]

    drift = values("drift_p")
    return stats | {
        "discarded_ps": max(values("discarded_ps")),
        "n_effective": float(np.nansum(values("n_effective"))),
        "drift_p": min(drift) if not all(math.isnan(d) for d in drift) else math.nan,
    }


def _drift_note(
    drift_ps: Sequence[float | None], fractions: Sequence[float | None] = ()
) -> tuple[bool, str]:
    """Flag and note of the replicas whose equilibrated region still drifts, or is under
    :data:`~electrolyte_md.timeseries.MIN_USED_FRACTION` of the run."""
    notes = []
    p_values = [p for p in drift_ps if p is not None and math.isfinite(p)]
    drifting = [p for p in p_values if p <= DRIFT_P_FLAG]
    if drifting:
        notes.append(
            f"FLAGGED: drifts within its equilibrated region (trend p = {min(drifting):.3g}) "
            f"in {len(drifting)} of {len(drift_ps)} replica(s): not stationary, the error "
            "understates"
        )
    short = [f for f in fractions if f is not None and f < MIN_USED_FRACTION]
    if short:
        notes.append(
            f"FLAGGED: equilibrated region only {min(short):.0%} of the run in {len(short)} "
            f"of {len(fractions)} replica(s): not equilibrated within the run, the error "
            "says nothing"
        )
    return bool(notes), "; ".join(notes)


def _series_stats(
    group: Sequence[Mapping[str, Any] | None],
    values: Sequence[float],
    sems: Sequence[float | None],
    n_blocks: Sequence[int | None],
) -> tuple[dict[str, Any], bool, str]:
    """Stats of a row from the runs' equilibrated series, else from whole-run values
    (blocks), with the drift flag and note."""
    stats = aggregate_equilibrated(group)
    if stats is None:
        stats = aggregate(values, sems, n_blocks) | {
            "discarded_ps": math.nan,
            "n_effective": math.nan,
            "drift_p": math.nan,
        }
        return stats, False, ""
    flagged, note = _drift_note(
        [r.get("drift_p") for r in group],  # type: ignore[union-attr]
        [r.get("equilibrated_fraction") for r in group],  # type: ignore[union-attr]
    )
    return stats, flagged, note


def _row(system, temperature, quantity, unit, stats, flagged=False, note=""):
    series = {key: stats.get(key, math.nan) for key in ("discarded_ps", "n_effective", "drift_p")}
    return {
        "system": system,
        "temperature_kelvin": float(temperature),
        "quantity": quantity,
        "unit": unit,
        **{k: v for k, v in stats.items() if k not in series},
        **series,
        "flagged": bool(flagged),
        "note": note,
    }


def _joined(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def _by_temperature(records: Iterable[Mapping[str, Any]]) -> dict[float, list[Mapping]]:
    grouped: dict[float, list[Mapping]] = {}
    for record in records:
        grouped.setdefault(float(record["temperature_kelvin"]), []).append(record)
    return {t: sorted(g, key=lambda r: r["replica"]) for t, g in sorted(grouped.items())}


def _flag_note(flags: Sequence[bool]) -> tuple[bool, str]:
    k = sum(bool(f) for f in flags)
    if not k:
        return False, ""
    return True, (
        f"FLAGGED: non-diffusive MSD (no linear window) in {k} of {len(flags)} replica(s); "
        "not a converged transport coefficient"
    )


def _require(record: Mapping[str, Any], keys: Sequence[str], what: str) -> None:
    missing = [k for k in keys if k not in record]
    if missing:
        source = record.get("source", "a record")
        raise AnalysisError(f"{what} record {source} lacks key(s) {missing}")


def system_summary(
    system: str,
    cn_records: Sequence[Mapping[str, Any]],
    solvation_records: Sequence[Mapping[str, Any]],
    transport_records: Sequence[Mapping[str, Any]],
) -> pd.DataFrame:
    """Replica-aggregated properties of one system, one row per temperature and quantity.

    Every record carries ``temperature_kelvin`` and ``replica`` (added by the caller from
    its path) and, for error messages, ``source`` (the file).  Quantities:

    - ``CN <pair>`` (the cutoff and its source in ``note``) and ``cutoff <pair>`` (Å);
    - ``shell <partner>`` (molecules per Li+), ``shell total``, ``fraction SSIP/CIP/
      MCIP/AGG``;
    - ``D <species>`` (Yeh-Hummer corrected) and ``D_pbc <species>`` (as fitted),
      1e-9 m^2/s;
    - ``t+`` (Nernst-Einstein, from corrected D), ``t+_pbc`` (from D as fitted) and
      ``sigma_NE`` (mS/cm).

    Errors: :func:`aggregate` -- between replicas if there are several, else the
    run's block (CN, shells) or particle-group (D) standard error; t+ and sigma of a
    single run have none.  Rows built from a non-diffusive MSD fit are ``flagged``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS`.
    """
    rows: list[dict[str, Any]] = []
    keys = ("temperature_kelvin", "replica")
    for r in cn_records:
        _require(
            r,
            (*keys, "pair", "coordination_number", "cutoff_angstrom", "cutoff_source"),
            "coordination",
        )
    for r in solvation_records:
        _require(r, (*keys, "mean_shell_counts", "ion_pair_fractions", "n_blocks"), "solvation")
    for r in transport_records:
        _require(r, (*keys, "species", "transference_number", "conductivity"), "transport")

    pairs = sorted({r["pair"] for r in cn_records})
    for pair in pairs:
        for temperature, group in _by_temperature(
            r for r in cn_records if r["pair"] == pair
        ).items():
            stats, drifting, drift_note = _series_stats(
                [
                    None
                    if r.get("coordination_number_equilibrated") is None
                    else {
                        "mean": r["coordination_number_equilibrated"],
                        "standard_error": r.get("coordination_number_equilibrated_se"),
                        "discarded_ps": r.get("discarded_ps"),
                        "n_effective": r.get("n_effective"),
                        "drift_p": r.get("drift_p"),
                        "equilibrated_fraction": r.get("equilibrated_fraction"),
                    }
                    for r in group
                ],
                [r["coordination_number"] for r in group],
                [r.get("coordination_number_sem") for r in group],
                [r.get("n_blocks") for r in group],
            )
            sources = sorted({r["cutoff_source"] for r in group})
            cutoffs = [float(r["cutoff_angstrom"]) for r in group]
            spread = ""
            if len(set(cutoffs)) > 1:
                spread = f"; {min(cutoffs):.2f}-{max(cutoffs):.2f} Å over replicas"
            note = f"cutoff {np.mean(cutoffs):.2f} Å ({', '.join(sources)}{spread})"
            rows.append(
                _row(
                    system,
                    temperature,
                    f"CN {pair}",
                    "ligand atoms per centre",
                    stats,
                    drifting,
                    _joined(note, drift_note),
                )
            )
            rows.append(
                _row(
                    system,
                    temperature,
                    f"cutoff {pair}",
                    "Å",
                    aggregate(cutoffs),
                    note=", ".join(sources),
                )
            )

    for temperature, group in _by_temperature(solvation_records).items():
        n_blocks = [r["n_blocks"] for r in group]
        partners = list(group[0]["mean_shell_counts"])

        def equilibrated(name: str, group=group) -> list[Mapping[str, Any] | None]:
            return [(r.get("equilibrated") or {}).get(name) for r in group]

        for partner in partners:
            stats, drifting, drift_note = _series_stats(
                equilibrated(f"shell {partner}"),
                [r["mean_shell_counts"][partner] for r in group],
                [r["mean_shell_counts_sem"].get(partner) for r in group],
                n_blocks,
            )
            details = group[0].get("partner_details", {}).get(partner, {})
            note = ""
            if details:
                note = (
                    f"molecules with an atom of {details['selection']!r} within "
                    f"{details['cutoff_angstrom']:.2f} Å ({details['cutoff_source']})"
                )
            rows.append(
                _row(
                    system,
                    temperature,
                    f"shell {partner}",
                    "molecules per Li+",
                    stats,
                    drifting,
                    _joined(note, drift_note),
                )
            )
        stats, drifting, drift_note = _series_stats(
            equilibrated("shell total"),
            [r["coordination_number"] for r in group],
            [r.get("coordination_number_sem") for r in group],
            n_blocks,
        )
        rows.append(
            _row(
                system, temperature, "shell total", "molecules per Li+", stats, drifting, drift_note
            )
        )
        for label in group[0]["ion_pair_fractions"]:
            stats, drifting, drift_note = _series_stats(
                equilibrated(f"fraction {label}"),
                [r["ion_pair_fractions"][label] for r in group],
                [r["ion_pair_fractions_sem"].get(label) for r in group],
                n_blocks,
            )
            rows.append(
                _row(
                    system,
                    temperature,
                    f"fraction {label}",
                    "fraction of Li+",
                    stats,
                    drifting,
                    drift_note,
                )
            )

    for temperature, group in _by_temperature(transport_records).items():
        species = list(group[0]["species"])
        for name in species:
            entries = [r["species"][name] for r in group]
            flagged, note = _flag_note([not e["diffusive"] for e in entries])
            n_groups = [e.get("n_groups") for e in entries]
            for key, label in (("d_1e9_m2_per_s", "D"), ("d_pbc_1e9_m2_per_s", "D_pbc")):
                stats = aggregate(
                    [e[key] for e in entries],
                    [e.get("d_1e9_m2_per_s_sem") for e in entries],
                    n_groups,
                    within_label="particle groups",
                )
                extra = "Yeh-Hummer corrected" if label == "D" else "as fitted in the periodic box"
                rows.append(
                    _row(
                        system,
                        temperature,
                        f"{label} {name}",
                        "1e-9 m^2/s",
                        stats,
                        flagged,
                        "; ".join(x for x in (extra, note) if x),
                    )
                )
        t_records = [r["transference_number"] for r in group]
        if all(t.get("value") is not None for t in t_records):
            flagged, note = _flag_note([t["flagged"] for t in t_records])
            rows.append(
                _row(
                    system,
                    temperature,
                    "t+",
                    "",
                    aggregate([t["value"] for t in t_records]),
                    flagged,
                    note or t_records[0]["note"],
                )
            )
        # The Yeh-Hummer term is the same for every species and grows as the assumed
        # viscosity falls, so it pulls t+ toward 0.5; t+ from the box D shows how much.
        if all(t.get("value_pbc") is not None for t in t_records):
            flagged, note = _flag_note([t["flagged"] for t in t_records])
            rows.append(
                _row(
                    system,
                    temperature,
                    "t+_pbc",
                    "",
                    aggregate([t["value_pbc"] for t in t_records]),
                    flagged,
                    "; ".join(
                        x
                        for x in ("from D as fitted in the periodic box (no Yeh-Hummer term)", note)
                        if x
                    ),
                )
            )
        s_records = [r["conductivity"] for r in group]
        if all(s.get("sigma_ms_per_cm") is not None for s in s_records):
            flagged, note = _flag_note([s["flagged"] for s in s_records])
            rows.append(
                _row(
                    system,
                    temperature,
                    "sigma_NE",
                    "mS/cm",
                    aggregate([s["sigma_ms_per_cm"] for s in s_records]),
                    flagged,
                    note or s_records[0]["note"],
                )
            )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


#: Quantities of the comparison table, with the paper entry each is compared with.
_COMPARED = (
    ("CN {pair}", "cn_li_p"),
    ("t+", "t_plus"),
    ("t+_pbc", "t_plus"),
    ("sigma_NE", None),
    ("D {cation}", None),
    ("D {anion}", None),
    ("fraction SSIP", None),
    ("fraction CIP", None),
    ("fraction AGG", None),
)


def comparison_table(
    summary: pd.DataFrame,
    pairs: Sequence[tuple[str, str]],
    *,
    cn_pair: str = "Li-P",
    cation: str = "Li",
    anion: str = "PF6",
    paper: Mapping[str, Any] = PAPER,
    paper_systems: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Each system without and with the additive side by side, beside the paper.

    Parameters
    ----------
    summary
        :func:`system_summary` rows of every system (concatenated).
    pairs
        (without, with) system pairs (:func:`~electrolyte_md.config.additive_pairs`); with
        none, every system is listed alone (``system_with`` empty) so its values still
        meet the paper's.
    cn_pair, cation, anion
        The pair whose coordination number the paper reports and the salt's ions.
    paper
        :data:`PAPER`.
    paper_systems
        The systems that model the paper's electrolytes (``validation.paper_systems``):
        only rows whose systems are all among them carry the paper's values (None: every
        row, as before the key existed; empty: none).

    Returns
    -------
    pandas.DataFrame
        One row per pair of systems, temperature and quantity: ``system_without``,
        ``system_with``, ``temperature_kelvin``, ``quantity``, ``unit``, then
        ``without_mean/_sem/_n/_error_from``, ``with_mean/_sem/_n/_error_from`` (``n``
        counts replicas when the error is from replicas, else blocks or particle groups of
        one replica), ``change`` (with - without),
        ``change_sem`` (the two SEMs in quadrature), ``change_percent``,
        ``paper_without``, ``paper_with``, ``paper_change``, ``flagged``, ``note``
        (error sources, flags, the paper's source).
    """
    missing = {"system", "temperature_kelvin", "quantity"} - set(summary.columns)
    if missing:
        raise AnalysisError(f"comparison_table: summary lacks columns {sorted(missing)}")
    if not pairs:
        pairs = [(system, "") for system in dict.fromkeys(summary["system"])]
    indexed = summary.set_index(["system", "temperature_kelvin", "quantity"])
    rows = []
    for without, with_ in pairs:
        temperatures = sorted(
            summary.loc[summary["system"] == without, "temperature_kelvin"].unique()
        )
        for temperature in temperatures:
            for template, paper_key in _COMPARED:
                quantity = template.format(pair=cn_pair, cation=cation, anion=anion)
                a = (
                    indexed.loc[(without, temperature, quantity)]
                    if (without, temperature, quantity) in indexed.index
                    else None
                )
                b = (
                    indexed.loc[(with_, temperature, quantity)]
                    if with_ and (with_, temperature, quantity) in indexed.index
                    else None
                )
                if a is None and b is None:
                    continue
                row = {
                    "system_without": without,
                    "system_with": with_,
                    "temperature_kelvin": float(temperature),
                    "quantity": quantity,
                    "unit": (a if a is not None else b)["unit"],
                }
                notes = []
                for side, rec in (("without", a), ("with", b)):
                    row[f"{side}_mean"] = float(rec["mean"]) if rec is not None else math.nan
                    row[f"{side}_sem"] = float(rec["sem"]) if rec is not None else math.nan
                    row[f"{side}_n"] = int(rec["n"]) if rec is not None else 0
                    row[f"{side}_error_from"] = rec["error_from"] if rec is not None else ""
                    if rec is not None:
                        notes.append(f"{side}: error from {rec['error_from']}")
                if a is not None and b is not None:
                    row["change"] = row["with_mean"] - row["without_mean"]
                    row["change_sem"] = math.hypot(row["with_sem"], row["without_sem"])
                    row["change_percent"] = (
                        100.0 * row["change"] / row["without_mean"]
                        if row["without_mean"]
                        else math.nan
                    )
                else:
                    row["change"] = row["change_sem"] = row["change_percent"] = math.nan
                papers_own = paper_systems is None or all(
                    system in paper_systems for system in (without, with_) if system
                )
                entry = paper.get(paper_key) if paper_key and papers_own else None
                row["paper_without"] = entry["without"] if entry else math.nan
                row["paper_with"] = entry["with"] if entry else math.nan
                row["paper_change"] = entry["with"] - entry["without"] if entry else math.nan
                flagged = any(bool(rec["flagged"]) for rec in (a, b) if rec is not None)
                row["flagged"] = flagged
                if flagged:
                    # the flags of the rows compared (non-diffusive MSD, drift, target)
                    flags = [
                        f"{side}: {part}"
                        for side, rec in (("without", a), ("with", b))
                        if rec is not None and rec["flagged"]
                        for part in str(rec["note"]).split("; ")
                        if part.startswith("FLAGGED")
                    ]
                    notes.insert(0, "; ".join(flags) or "FLAGGED")
                if entry:
                    notes.append(f"paper: {entry['where']}")
                row["note"] = "; ".join(notes)
                rows.append(row)
    columns = [
        "system_without",
        "system_with",
        "temperature_kelvin",
        "quantity",
        "unit",
        "without_mean",
        "without_sem",
        "without_n",
        "without_error_from",
        "with_mean",
        "with_sem",
        "with_n",
        "with_error_from",
        "change",
        "change_sem",
        "change_percent",
        "paper_without",
        "paper_with",
        "paper_change",
        "flagged",
        "note",
    ]
    return pd.DataFrame(rows, columns=columns)


def arrhenius_fits(summary: pd.DataFrame) -> dict[tuple[str, str], tuple[ArrheniusFit, bool]]:
    """Arrhenius fits of D (Yeh-Hummer corrected) per system and species.

    Uses the replica means at each temperature, weighted by their standard errors when
    every one is finite and positive.  Needs two or more temperatures.

    Returns
    -------
    dict
        (system, species) -> (fit, flagged): flagged when any D entering the fit came
        from a non-diffusive MSD.
    """
    d_rows = summary[summary["quantity"].str.startswith("D ")]
    fits = {}
    for (system, quantity), group in d_rows.groupby(["system", "quantity"], sort=True):
        group = group.sort_values("temperature_kelvin")
        if group["temperature_kelvin"].nunique() < 2:
            raise AnalysisError(
                f"Arrhenius fit of {quantity} in {system}: needs >= 2 temperatures, got "
                f"{group['temperature_kelvin'].tolist()} K (md.temperatures_kelvin)"
            )
        sems = group["sem"].to_numpy(dtype=float)
        weighted = bool(np.all(np.isfinite(sems)) and np.all(sems > 0))
        fit = arrhenius_fit(
            group["temperature_kelvin"].to_numpy(dtype=float),
            group["mean"].to_numpy(dtype=float),
            sems if weighted else None,
        )
        fits[(system, quantity.removeprefix("D "))] = (fit, bool(group["flagged"].any()))
    return fits


def arrhenius_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Activation energies of D per system and species (kJ/mol and eV), with flags.

    Columns ``system``, ``species``, ``ea_kj_per_mol``, ``ea_kj_per_mol_stderr``,
    ``ea_ev``, ``ea_ev_stderr``, ``ln_d0``, ``n_temperatures``, ``temperatures_kelvin``,
    ``weighted``, ``flagged``, ``note``.
    """
    rows = []
    for (system, species), (fit, flagged) in arrhenius_fits(summary).items():
        info = fit.as_dict()
        rows.append(
            {
                "system": system,
                "species": species,
                "ea_kj_per_mol": fit.ea_kj_per_mol,
                "ea_kj_per_mol_stderr": fit.ea_kj_per_mol_stderr,
                "ea_ev": fit.ea_ev,
                "ea_ev_stderr": fit.ea_ev_stderr,
                "ln_d0": fit.ln_prefactor,
                "n_temperatures": info["n_temperatures"],
                "temperatures_kelvin": " ".join(f"{t:g}" for t in fit.temperatures_kelvin),
                "weighted": fit.weighted,
                "flagged": flagged,
                "note": "FLAGGED: a D from a non-diffusive MSD fit" if flagged else "",
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------
# Files in, files out (called by the workflow's scripts)
# ---------------------------------------------------------------------------------------


def _run_of(path: Path) -> tuple[float, int]:
    """Temperature (K) and replica of ``.../{temperature}K/rep{replica}/<name>``."""
    try:
        temperature = float(path.parts[-3].removesuffix("K"))
        replica = int(path.parts[-2].removeprefix("rep"))
    except (IndexError, ValueError) as exc:
        raise AnalysisError(
            f"{path}: cannot tell temperature and replica from the path (expected "
            f".../<T>K/rep<r>/{path.name}): {exc}"
        ) from exc
    return temperature, replica


def _run_records(paths: Iterable[str]) -> list[dict[str, Any]]:
    """JSON records of ``.../{temperature}K/rep{replica}/<file>.json``, tagged with both."""
    records = []
    for path in map(Path, paths):
        temperature, replica = _run_of(path)
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise AnalysisError(
                f"{path}: cannot read a run record (expected JSON at "
                f".../<T>K/rep<r>/{path.name}): {exc}"
            ) from exc
        record.update(temperature_kelvin=temperature, replica=replica, source=str(path))
        records.append(record)
    return records


def rdf_run_records(
    rdf_dirs: Iterable[str], pairs: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """The ``cn_<pair>.json`` records of the RDF directories of runs, tagged with the run.

    Parameters
    ----------
    rdf_dirs
        RDF directories ``.../{temperature}K/rep{replica}/rdf`` (the RDF output of ``analyze_run``).
    pairs
        Pair labels every directory must hold (the system's configured pairs); default:
        whatever each holds (:func:`electrolyte_md.analysis.records.read_pair_records`).

    Returns
    -------
    list of dict
        Per directory, its records sorted by pair, each with ``temperature_kelvin``,
        ``replica`` and ``source`` (the JSON file) added.
    """
    pairs = None if pairs is None else list(pairs)
    records = []
    for directory in map(Path, rdf_dirs):
        temperature, replica = _run_of(directory)
        for record in read_pair_records(directory, pairs):
            source = directory / PAIR_FILES["out_json"].format(pair=record["pair"])
            record.update(temperature_kelvin=temperature, replica=replica, source=str(source))
            records.append(record)
    return records


def flag_unmet_targets(table: pd.DataFrame, md_records: Sequence[Mapping[str, Any]]) -> None:
    """Flag, in place, every row of a temperature where a run's production target was not met.

    ``md_records`` are ``md_summary.json`` records with ``temperature_kelvin`` and
    ``replica`` added; runs of fixed length (no target) flag nothing.
    """
    for temperature, group in _by_temperature(md_records).items():
        targets = [r.get("production_target") for r in group]
        unmet = [t for t in targets if t and not t.get("met")]
        if not unmet:
            continue
        first = unmet[0]
        note = (
            f"FLAGGED: production target ({first['label']} SE <= {first['standard_error']:g}, "
            f"no drift) not met within {first['max_ps']:g} ps in {len(unmet)} of "
            f"{len(group)} replica(s)"
        )
        rows = np.isclose(table["temperature_kelvin"].astype(float), temperature)
        table.loc[rows, "flagged"] = True
        table.loc[rows, "note"] = [
            f"{n}; {note}" if n else note for n in table.loc[rows, "note"].fillna("")
        ]


def _equilibrated_record(stats: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A ``SeriesStatistics.as_dict()`` of ``md_summary.json`` in the keys of the
    analysis records (:func:`aggregate_equilibrated`)."""
    if not stats:
        return None
    n_samples = stats.get("n_samples") or 0
    return {
        "mean": stats.get("mean"),
        "standard_error": stats.get("standard_error"),
        "discarded_ps": stats.get("discarded_time"),
        "n_effective": stats.get("n_effective"),
        "drift_p": stats.get("drift_p"),
        "equilibrated_fraction": stats["n_used"] / n_samples if n_samples else None,
    }


def density_rows(system: str, md_records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``density`` (g/cm3) of each temperature from the runs' ``md_summary.json``.

    NPT production: the equilibrated production series of each run
    (``production_equilibrated``), aggregated as the other series.  NVT production runs at
    the mean volume of its NPT windows, so each run's density is that constant: with two
    or more replicas their spread is the error; a single NVT run has none (said in
    ``error_from``), since a constant has no fluctuation to estimate one from.
    """
    rows = []
    for temperature, group in _by_temperature(md_records).items():
        nvt = [r.get("protocol", {}).get("production_ensemble") == "NVT" for r in group]
        series = [
            _equilibrated_record((r.get("production_equilibrated") or {}).get("density_g_per_cm3"))
            for r in group
        ]
        values = [float(r["production"]["density_g_per_cm3"]["mean"]) for r in group]
        if all(nvt) or any(s is None for s in series):
            stats = aggregate(values) | {
                "discarded_ps": math.nan,
                "n_effective": math.nan,
                "drift_p": math.nan,
            }
            if len(values) < 2:
                stats.update(sem=math.nan, error_from="none: 1 NVT replica at its NPT mean")
            flagged, note = False, ""
        else:
            stats, flagged, note = _series_stats(series, values, [None] * len(values), [])
        rows.append(_row(system, temperature, "density", "g/cm3", stats, flagged, note))
    return rows


def dielectric_rows(system: str, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``dielectric constant`` of each temperature from the runs' ``dielectric.json``
    (salt-free systems; :mod:`electrolyte_md.analysis.dielectric`): the replica mean and
    the error between replicas, or one run's error from its blocks. Temperatures whose
    runs have no value (a system with ions) get no row."""
    rows = []
    for temperature, group in _by_temperature(records).items():
        values = [r.get("dielectric_constant") for r in group]
        if any(v is None for v in values):
            continue
        stats = aggregate(
            values,
            [r.get("dielectric_constant_sem") for r in group],
            [r.get("n_blocks") for r in group],
            within_label="blocks",
        )
        note = (
            f"total-dipole fluctuation over {min(r['analysed_ps'] for r in group):g} ps per "
            "run; converges over ns (the block error is a floor for a short run)"
        )
        rows.append(_row(system, temperature, "dielectric constant", "", stats, note=note))
    return rows


def write_system_summary(
    system: str,
    rdf_dirs: Sequence[str],
    solvation_paths: Sequence[str],
    transport_paths: Sequence[str],
    out_csv: str,
    pairs: Iterable[str] | None = None,
    md_summary_paths: Sequence[str] = (),
    dielectric_paths: Sequence[str] = (),
) -> pd.DataFrame:
    """:func:`system_summary` of the per-run files of one system, written as CSV.

    ``rdf_dirs`` are the runs' RDF directories (:func:`rdf_run_records`, which ``pairs``
    is passed to); the other paths are the runs' ``solvation.json`` and ``transport.json``,
    their ``md_summary.json`` (density rows, :func:`flag_unmet_targets`) and, for a
    salt-free system, their ``dielectric.json`` (:func:`dielectric_rows`).
    """
    table = system_summary(
        system,
        rdf_run_records(rdf_dirs, pairs),
        _run_records(solvation_paths),
        _run_records(transport_paths),
    )
    md_records = _run_records(md_summary_paths)
    if md_records:
        density = pd.DataFrame(density_rows(system, md_records), columns=table.columns)
        table = pd.concat([density, table], ignore_index=True)
    dielectric = dielectric_rows(system, _run_records(dielectric_paths))
    if dielectric:
        table = pd.concat(
            [table, pd.DataFrame(dielectric, columns=table.columns)], ignore_index=True
        )
    flag_unmet_targets(table, md_records)
    atomic_write_text(out_csv, table.to_csv(index=False, float_format="%.6g"))
    return table


def read_summaries(paths: Sequence[str]) -> pd.DataFrame:
    """The system summaries (``summary.csv``) of several systems, concatenated and checked."""
    frames = []
    for path in paths:
        # notes are text even where every one is empty (read as NaN floats otherwise)
        frame = pd.read_csv(path, dtype={"note": str})
        missing = set(SUMMARY_COLUMNS) - set(frame.columns)
        if missing:
            raise AnalysisError(f"{path}: not a system summary, lacks columns {sorted(missing)}")
        frames.append(frame)
    summary = pd.concat(frames, ignore_index=True)
    summary["note"] = summary["note"].fillna("")
    return summary


def write_comparison(
    summary_paths: Sequence[str],
    pairs: Sequence[tuple[str, str]],
    out_csv: str,
    **options: Any,
) -> pd.DataFrame:
    """:func:`comparison_table` of the system summaries, written as CSV."""
    table = comparison_table(read_summaries(summary_paths), pairs, **options)
    atomic_write_text(out_csv, table.to_csv(index=False, float_format="%.6g"))
    return table


def write_arrhenius(summary_path: str, out_csv: str, out_png: str, title: str) -> pd.DataFrame:
    """:func:`arrhenius_table` of one system summary (CSV) and its Arrhenius plot (PNG).

    Species whose D is flagged (non-diffusive MSD) are labelled so in the figure.
    """
    summary = read_summaries([summary_path])
    table = arrhenius_table(summary)
    fits = {
        species + (" (FLAGGED: non-diffusive MSD)" if flagged else ""): fit
        for (_, species), (fit, flagged) in arrhenius_fits(summary).items()
    }
    plot_arrhenius(fits, out_png, title, unit="10$^{-9}$ m$^2$/s, Yeh-Hummer corrected")
    atomic_write_text(out_csv, table.to_csv(index=False, float_format="%.6g"))
    return table
