"""The paper's numbers against a study's results: one table, a verdict per row.

The study's own tables already hold most of the numbers (:func:`electrolyte_md.study.summary.
comparison_table` sets the systems with and without the additive side by side; the
binding comparison sets GFN2-xTB beside the paper's DFT). This module gathers what the
paper and experiment can be held against, in one place, and says for each row whether
the simulation agrees, within its error:

* Li-P coordination number without and with the cluster, and the change, with a Welch
  t-test of the change over independent replicas (:func:`change_verdict`);
* whether the Li-P coordination number is still drifting within each run (a trend
  across its blocks; :func:`coordination_drift_rows`), which would make its error bars
  too small;
* the first RDF peak of Li-P (and Li-F) against the paper's "2.08" (unit not given),
  and whether the Li-P peak is lower with the cluster, as the paper says;
* the density of each system against experiment where a measured value is known
  (neat NMP: 1.028 g/cm3 at 25 C);
* the GFN2-xTB binding energy against the paper's DFT value;
* t+ with and without, against the measured values (experiment in another electrolyte,
  so only the direction of the change is comparable).

Lengths in Angstrom, densities in g/cm3, energies in eV.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from electrolyte_md.errors import AnalysisError
from electrolyte_md.io import atomic_write_text, write_json
from electrolyte_md.study.paper import PAPER, PAPER_RDF_PEAK
from electrolyte_md.study.summary import aggregate, rdf_run_records

__all__ = [
    "COLLECTED_OUTPUTS",
    "SIGNIFICANCE_LEVEL",
    "VALIDATION_COLUMNS",
    "binding_rows",
    "change_verdict",
    "collect_outputs",
    "coordination_drift_rows",
    "coordination_rows",
    "density_rows",
    "rdf_peak_height_rows",
    "rdf_peak_rows",
    "replicas_to_resolve",
    "transference_rows",
    "validation_table",
    "write_validation",
]

#: Power with which :func:`replicas_to_resolve` asks the test to find a change.
RESOLVING_POWER = 0.8
#: A change counts as resolved when a two-sided Welch t-test over replicas (or, with one
#: replica a side, a z-test on the block errors) gives p below this.
SIGNIFICANCE_LEVEL = 0.05

VALIDATION_COLUMNS = (
    "quantity",
    "system",
    "temperature_kelvin",
    "value",
    "sem",
    "n",
    "error_from",
    "reference",
    "reference_source",
    "difference",
    "verdict",
    "note",
)


def _row(**fields: Any) -> dict[str, Any]:
    row = dict.fromkeys(VALIDATION_COLUMNS, math.nan)
    row.update(note="", verdict="", reference_source="", error_from="")
    row.update(fields)
    if not (isinstance(row["reference"], float) and math.isnan(row["reference"])):
        row["difference"] = row["value"] - row["reference"]
    return row


def change_verdict(
    without: tuple[float, float, int], with_: tuple[float, float, int], alpha: float
) -> tuple[float, str]:
    """Whether ``with - without`` differs from zero beyond noise.

    Parameters
    ----------
    without, with_
        (mean, standard error, number of replicas) of each side; 1 replica when the error
        comes from the blocks of one run.
    alpha
        Significance level of the two-sided test.

    Returns
    -------
    p : float
        Two-sided p-value: Welch's t-test (Welch-Satterthwaite degrees of freedom) when
        both sides have two or more replicas, else a z-test on the standard errors. NaN
        when an error is missing.
    verdict : str
        ``"resolved: decrease"``, ``"resolved: increase"`` or ``"not resolved"``, with the
        test and p.
    """
    from scipy import stats

    (m1, s1, n1), (m2, s2, n2) = without, with_
    change = m2 - m1
    se = math.hypot(s1, s2)
    if not (math.isfinite(se) and se > 0):
        return math.nan, "not tested (no error estimate)"
    if n1 >= 2 and n2 >= 2:
        dof = se**4 / (s1**4 / (n1 - 1) + s2**4 / (n2 - 1))
        p = float(2 * stats.t.sf(abs(change) / se, dof))
        test = f"Welch t-test over replicas, {dof:.1f} d.o.f."
    else:
        p = float(2 * stats.norm.sf(abs(change) / se))
        test = "z-test on block errors (one replica a side)"
    if p < alpha:
        direction = "decrease" if change < 0 else "increase"
        return p, f"resolved: {direction} (p = {p:.3g}, {test})"
    return p, f"not resolved (p = {p:.3g}, {test})"


def replicas_to_resolve(
    sd_without: float,
    sd_with: float,
    change: float,
    alpha: float = SIGNIFICANCE_LEVEL,
    power: float = RESOLVING_POWER,
) -> int | None:
    """Replicas a side for a two-sided test at ``alpha`` to find ``change`` with ``power``.

    The normal approximation n = (z(1 - alpha/2) + z(power))**2 (sd_without**2 +
    sd_with**2) / change**2, rounded up, with the spread of single replicas (standard
    deviations, not errors of a mean) as the study measured it; at least 2. With few
    replicas the t-test needs a few more, so this is a lower bound.

    Returns
    -------
    int or None
        None where a spread is missing or the change is zero.
    """
    from scipy import stats

    variance = sd_without**2 + sd_with**2
    if not (math.isfinite(variance) and math.isfinite(change) and change != 0):
        return None
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return max(2, math.ceil(z**2 * variance / change**2))


def _mean_fields(values: Sequence[float]) -> dict[str, Any]:
    """``value``, ``sem``, ``n`` and ``error_from`` of a row: the mean over runs."""
    stats = aggregate(values)
    return {
        "value": stats["mean"],
        "sem": stats["sem"],
        "n": stats["n"],
        "error_from": stats["error_from"],
    }


def _side_row(r: pd.Series, side: str, **fields: Any) -> dict[str, Any]:
    """A row of one side (``"without"``/``"with"``) of a comparison-table row."""
    return _row(
        system=r[f"system_{side}"],
        temperature_kelvin=float(r["temperature_kelvin"]),
        value=float(r[f"{side}_mean"]),
        sem=float(r[f"{side}_sem"]),
        n=int(r[f"{side}_n"]),
        error_from=r[f"{side}_error_from"],
        **fields,
    )


def coordination_rows(
    comparison: pd.DataFrame, cn_pair: str = "Li-P", alpha: float = SIGNIFICANCE_LEVEL
) -> list[dict[str, Any]]:
    """CN without, with and the change, per temperature, against the paper's MD."""
    quantity = f"CN {cn_pair}"
    paper = PAPER["cn_li_p"]
    rows = []
    for _, r in comparison[comparison["quantity"] == quantity].iterrows():
        if not r["system_with"]:
            continue
        temperature = float(r["temperature_kelvin"])
        for side in ("without", "with"):
            rows.append(
                _side_row(
                    r,
                    side,
                    quantity=f"{quantity} {side} the additive",
                    reference=float(paper[side]),
                    reference_source=f"paper, {paper['where']}",
                )
            )
        replicas = {
            side: int(r[f"{side}_n"]) if r[f"{side}_error_from"] == "replicas" else 1
            for side in ("without", "with")
        }
        _, verdict = change_verdict(
            (float(r["without_mean"]), float(r["without_sem"]), replicas["without"]),
            (float(r["with_mean"]), float(r["with_sem"]), replicas["with"]),
            alpha,
        )
        note = ""
        if min(replicas.values()) >= 2:
            spread = {
                side: float(r[f"{side}_sem"]) * math.sqrt(replicas[side])
                for side in ("without", "with")
            }
            needed = replicas_to_resolve(
                spread["without"], spread["with"], paper["with"] - paper["without"], alpha
            )
            if needed is not None:
                note = (
                    f"replica spread (SD) {spread['without']:.3g} without, "
                    f"{spread['with']:.3g} with: about {needed} replicas a side would resolve "
                    f"a change of the paper's size ({paper['with'] - paper['without']:+.3f}) "
                    f"with {RESOLVING_POWER:.0%} power"
                )
        rows.append(
            _row(
                quantity=f"{quantity} change (with - without)",
                system=f"{r['system_with']} - {r['system_without']}",
                temperature_kelvin=temperature,
                value=float(r["change"]),
                sem=float(r["change_sem"]),
                n=min(replicas.values()),
                error_from="replicas" if min(replicas.values()) > 1 else "blocks",
                reference=float(paper["with"] - paper["without"]),
                reference_source=f"paper, {paper['where']}",
                verdict=verdict,
                note=note,
            )
        )
    return rows


def _block_trend_p(block_means: Sequence[float]) -> float:
    """Two-sided p of a linear trend of a run's block means (NaN with fewer than 3)."""
    from scipy import stats

    if len(block_means) < 3 or not all(math.isfinite(b) for b in block_means):
        return math.nan
    if len(set(block_means)) == 1:
        return 1.0
    return float(stats.linregress(range(len(block_means)), block_means).pvalue)


def _drift_verdict(drifting: int, runs: int, tested: int) -> str:
    if drifting:
        return f"drifting in {drifting} of {runs} runs: not stationary"
    if not tested:
        return "not tested (fewer than 3 blocks a run)"
    return f"no trend in {tested} run{'s' if tested > 1 else ''}" + (
        f" ({runs - tested} not tested)" if tested < runs else ""
    )


def coordination_drift_rows(
    records: Iterable[Mapping[str, Any]], pair: str = "Li-P", alpha: float = SIGNIFICANCE_LEVEL
) -> list[dict[str, Any]]:
    """Drift of the coordination number within the runs, per system and temperature.

    The value is the mean over runs of (last block - first block); a run counts as
    drifting when a straight line through its block means has a slope that a two-sided
    t-test (n_blocks - 2 degrees of freedom) finds at ``alpha``. Block errors assume
    blocks that scatter around one mean, so a drifting run's error bar is too small.

    ``records``: ``cn_<pair>.json`` records with ``system`` and ``temperature_kelvin``.
    """
    groups: dict[tuple[str, float], list[Mapping[str, Any]]] = {}
    for record in records:
        blocks = record.get("coordination_number_block_means") or []
        if record["pair"] == pair and len(blocks) >= 2 and None not in blocks:
            key = (record["system"], float(record["temperature_kelvin"]))
            groups.setdefault(key, []).append(record)
    rows = []
    for (system, temperature), runs in sorted(groups.items()):
        blocks = [[float(b) for b in r["coordination_number_block_means"]] for r in runs]
        drifts = [b[-1] - b[0] for b in blocks]
        p_values = [_block_trend_p(b) for b in blocks]
        drifting = sum(p < alpha for p in p_values)
        tested = sum(math.isfinite(p) for p in p_values)
        runs_text = "; ".join(
            f"replica {r.get('replica', '?')}: {b[0]:.3g} -> {b[-1]:.3g} (trend p = {p:.2g})"
            for r, b, p in zip(runs, blocks, p_values, strict=True)
        )
        rows.append(
            _row(
                quantity=f"CN {pair} drift within a run (last - first block)",
                system=system,
                temperature_kelvin=temperature,
                **_mean_fields(drifts),
                verdict=_drift_verdict(drifting, len(runs), tested),
                note=runs_text,
            )
        )
    return rows


def transference_rows(comparison: pd.DataFrame) -> list[dict[str, Any]]:
    """Nernst-Einstein t+ without and with the additive against the measured t+.

    Two rows a side: ``t+`` from Yeh-Hummer corrected D and ``t+_pbc`` from D as fitted
    in the box. The correction adds the same term to D+ and D-, so t+ moves monotonically
    toward 0.5 as the term grows; if the model is at least as viscous as the viscosity
    the correction assumed (the term no larger), the box-size-free t+ lies between the two.
    """
    paper = PAPER["t_plus"]
    labels = {"t+": "Yeh-Hummer corrected D", "t+_pbc": "D as fitted in the box"}
    rows = []
    for quantity, label in labels.items():
        for _, r in comparison[comparison["quantity"] == quantity].iterrows():
            for side in ("without", "with"):
                if not r[f"system_{side}"] or not math.isfinite(float(r[f"{side}_mean"])):
                    continue
                rows.append(
                    _side_row(
                        r,
                        side,
                        quantity=f"t+ {side} the additive ({label})",
                        reference=float(paper[side]),
                        reference_source=f"experiment, {paper['where']}",
                        verdict="direction only: measured in another electrolyte, with the "
                        "electrode interface and the polymer layer",
                        note="FLAGGED: non-diffusive MSD" if bool(r["flagged"]) else "",
                    )
                )
    return rows


def rdf_peak_rows(
    records: Iterable[Mapping[str, Any]], pairs: Sequence[str] = ("Li-P", "Li-F")
) -> list[dict[str, Any]]:
    """First RDF peak per system, temperature and pair, over replicas, against 2.08.

    ``records``: ``cn_<pair>.json`` records with ``system``, ``temperature_kelvin`` and
    ``replica`` (:func:`electrolyte_md.study.summary.rdf_run_records` plus the system name).
    """
    groups: dict[tuple[str, float, str], list[float]] = {}
    for record in records:
        if record["pair"] not in pairs:
            continue
        peak = record.get("first_peak_angstrom")
        key = (record["system"], float(record["temperature_kelvin"]), record["pair"])
        groups.setdefault(key, []).append(math.nan if peak is None else float(peak))
    rows = []
    for (system, temperature, pair), peaks in sorted(groups.items()):
        found = [p for p in peaks if math.isfinite(p)]
        if not found:
            rows.append(
                _row(
                    quantity=f"first RDF peak {pair} (A)",
                    system=system,
                    temperature_kelvin=temperature,
                    n=0,
                    verdict="no peak found",
                )
            )
            continue
        rows.append(
            _row(
                quantity=f"first RDF peak {pair} (A)",
                system=system,
                temperature_kelvin=temperature,
                **_mean_fields(found),
                reference=PAPER_RDF_PEAK["value"],
                reference_source=f"paper, {PAPER_RDF_PEAK['where']}",
                note=(
                    f"{len(peaks) - len(found)} of {len(peaks)} runs without a peak"
                    if len(found) < len(peaks)
                    else ""
                ),
            )
        )
    return rows


def rdf_peak_height_rows(
    records: Iterable[Mapping[str, Any]],
    comparison: pd.DataFrame,
    pair: str = "Li-P",
    alpha: float = SIGNIFICANCE_LEVEL,
) -> list[dict[str, Any]]:
    """Height of the first RDF peak without and with the additive, and its change.

    The paper reports only that the Li-P peak "exhibited a lower intensity" with
    Ti6(HPAB), no value; the change row tests the direction beyond noise as
    :func:`change_verdict` does for the CN. The systems compared are those of the
    comparison table's CN rows. g(r) is normalised by the mean ligand density of the
    whole box, so a box that also holds the cluster's volume reads a little higher for
    the same local count.

    ``records``: ``cn_<pair>.json`` records with ``system``, ``temperature_kelvin`` and
    ``first_peak_height``.
    """
    heights: dict[tuple[str, float], list[float]] = {}
    for record in records:
        height = record.get("first_peak_height")
        if record["pair"] == pair and height is not None and math.isfinite(float(height)):
            key = (record["system"], float(record["temperature_kelvin"]))
            heights.setdefault(key, []).append(float(height))
    quantity = f"first RDF peak height {pair} (g)"
    reference_source = "paper, MD section, Figure S39: lower with Ti6(HPAB), no value given"
    rows = []
    for _, r in comparison[comparison["quantity"] == f"CN {pair}"].iterrows():
        temperature = float(r["temperature_kelvin"])
        systems = {side: r[f"system_{side}"] for side in ("without", "with")}
        if not systems["with"]:
            continue
        sides = {}
        for side, system in systems.items():
            values = heights.get((system, temperature), [])
            if not values:
                break
            sides[side] = _mean_fields(values)
            rows.append(
                _row(
                    quantity=f"{quantity} {side} the additive",
                    system=system,
                    temperature_kelvin=temperature,
                    **sides[side],
                    reference_source=reference_source,
                )
            )
        if len(sides) < 2:
            continue
        without, with_ = sides["without"], sides["with"]
        # the SEM of a single run's height is unknown (no blocks): untested there
        _, verdict = change_verdict(
            (without["value"], without["sem"], without["n"]),
            (with_["value"], with_["sem"], with_["n"]),
            alpha,
        )
        rows.append(
            _row(
                quantity=f"{quantity} change (with - without)",
                system=f"{systems['with']} - {systems['without']}",
                temperature_kelvin=temperature,
                value=with_["value"] - without["value"],
                sem=math.hypot(without["sem"], with_["sem"]),
                n=min(without["n"], with_["n"]),
                error_from="replicas" if min(without["n"], with_["n"]) > 1 else "none",
                reference_source=reference_source,
                verdict=verdict,
            )
        )
    return rows


def density_rows(
    runs: Iterable[tuple[str, float, str | Path]],
    experiment: Mapping[str, Mapping[str, Any]],
    tolerance: float = 0.02,
) -> list[dict[str, Any]]:
    """Equilibrated density per system and temperature against experiment.

    Parameters
    ----------
    runs
        (system, temperature in K, path of the run's ``md_summary.json``).
    experiment
        System -> ``{"temperature_kelvin", "density_g_per_cm3", "source"}`` of a measured
        density; systems without one are listed with no reference.
    tolerance
        Relative difference within which the simulated density agrees.

    Returns
    -------
    list of dict
        Rows with the mean over replicas of the NPT density (the mean of the two windows
        that ended the equilibration).
    """
    densities: dict[tuple[str, float], list[float]] = {}
    for system, temperature, path in runs:
        summary = json.loads(Path(path).read_text())
        try:
            density = float(summary["equilibration"]["mean_g_per_cm3"])
        except (KeyError, TypeError) as error:
            raise AnalysisError(f"{path}: no equilibrated density ({error})") from error
        densities.setdefault((system, float(temperature)), []).append(density)
    rows = []
    for (system, temperature), values in sorted(densities.items()):
        mean = _mean_fields(values)
        measured = experiment.get(system)
        same_temperature = measured and math.isclose(
            float(measured["temperature_kelvin"]), temperature, abs_tol=0.5
        )
        row = {
            "quantity": "density (g/cm3)",
            "system": system,
            "temperature_kelvin": temperature,
            **mean,
        }
        if same_temperature:
            reference = float(measured["density_g_per_cm3"])
            relative = (mean["value"] - reference) / reference
            row.update(
                reference=reference,
                reference_source=f"experiment, {measured['source']}",
                verdict=(
                    f"agrees within {tolerance:.0%} ({relative:+.1%})"
                    if abs(relative) <= tolerance
                    else f"differs by {relative:+.1%}"
                ),
            )
        else:
            row["note"] = "no measured density at this temperature in the configuration"
        rows.append(_row(**row))
    return rows


def binding_rows(binding: pd.DataFrame) -> list[dict[str, Any]]:
    """The built-in GFN2-xTB binding energies against the paper's DFT value (eV)."""
    paper = PAPER["binding_ti6_pf6"]
    rows = []
    for _, r in binding.iterrows():
        if str(r["structure"]).startswith("paper"):
            continue
        intact = r.get("host_intact")
        rows.append(
            _row(
                quantity="binding energy Ti6(HPAB) + PF6- (eV)",
                system=f"{r['pair']}: {r['structure']}",
                value=float(r["binding_energy_ev"]),
                n=1,
                reference=float(paper["value_ev"]),
                reference_source=f"paper, {paper['where']}",
                note=f"{r['method']}; cluster intact: {intact}",
            )
        )
    return rows


def validation_table(
    comparison: pd.DataFrame,
    rdf_records: Iterable[Mapping[str, Any]],
    density_runs: Iterable[tuple[str, float, str | Path]],
    experiment: Mapping[str, Mapping[str, Any]],
    binding: pd.DataFrame | None = None,
    cn_pair: str = "Li-P",
) -> pd.DataFrame:
    """Every row of the comparison with the paper and experiment (see the module)."""
    rdf_records = list(rdf_records)
    rows = [
        *coordination_rows(comparison, cn_pair),
        *coordination_drift_rows(rdf_records, cn_pair),
        *rdf_peak_rows(rdf_records),
        *rdf_peak_height_rows(rdf_records, comparison, cn_pair),
        *density_rows(density_runs, experiment),
        *(binding_rows(binding) if binding is not None else []),
        *transference_rows(comparison),
    ]
    return pd.DataFrame(rows, columns=list(VALIDATION_COLUMNS))


def write_validation(
    comparison_csv: str | Path,
    rdf_dirs: Mapping[str, Sequence[str]],
    md_summaries: Sequence[tuple[str, float, str]],
    experiment: Mapping[str, Mapping[str, Any]],
    out_csv: str | Path,
    binding_csv: str | Path | None = None,
    cn_pair: str = "Li-P",
) -> pd.DataFrame:
    """:func:`validation_table` from the study's files, written as CSV.

    ``rdf_dirs``: system -> the RDF directories of its runs.
    """
    comparison = pd.read_csv(comparison_csv, keep_default_na=False, na_values=[""])
    comparison["system_with"] = comparison["system_with"].fillna("")
    records = []
    for system, directories in rdf_dirs.items():
        for record in rdf_run_records(directories):
            record["system"] = system
            records.append(record)
    binding = pd.read_csv(binding_csv) if binding_csv else None
    table = validation_table(comparison, records, md_summaries, experiment, binding, cn_pair)
    atomic_write_text(out_csv, table.to_csv(index=False, float_format="%.6g"))
    return table


#: Summary outputs a validation directory keeps (globs relative to the results
#: directory): tables, JSON records and figures, never trajectories or structures. The
#: per-run energy plots are left out (about 0.2 MB each; md_summary.json has the numbers).
COLLECTED_OUTPUTS = (
    "report/*.csv",
    "report/config_used.yaml",
    "analysis/*/summary.csv",
    "analysis/*/coordination.csv",
    "analysis/*/arrhenius*",
    "analysis/*/*K/rep*/rdf/*",
    "analysis/*/*K/rep*/*.json",
    "analysis/*/*K/rep*/*.png",
    "analysis/*/*K/rep*/*.csv",
    "md/*/*K/rep*/md_summary.json",
    "binding_xtb/*/binding.*",
)


def collect_outputs(results: str | Path, out_dir: str | Path, command: str) -> dict[str, Any]:
    """Copy a finished study's summary outputs into ``out_dir`` and record how they came.

    The files matching :data:`COLLECTED_OUTPUTS` keep their paths relative to
    ``results``; ``out_dir/run.json`` records the command, the commit and the versions
    (from the study's own ``report/provenance.csv``), and the files copied. Nothing is
    copied unless the provenance table is there (the study finished).

    Returns
    -------
    dict
        What ``run.json`` holds.
    """
    import shutil
    from datetime import UTC, datetime

    results, out_dir = Path(results), Path(out_dir)
    provenance_csv = results / "report" / "provenance.csv"
    if not provenance_csv.is_file():
        raise AnalysisError(
            f"{provenance_csv}: missing; collect the outputs of a finished study only"
        )
    files = sorted(
        {path for pattern in COLLECTED_OUTPUTS for path in results.glob(pattern) if path.is_file()}
    )
    for path in files:
        target = out_dir / path.relative_to(results)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    provenance = pd.read_csv(provenance_csv, keep_default_na=False)
    record = {
        "command": command,
        "collected": datetime.now(UTC).isoformat(timespec="seconds"),
        "results": str(results),
        "provenance": provenance.to_dict(orient="records"),
        "files": [str(path.relative_to(results)) for path in files],
    }
    write_json(out_dir / "run.json", record, indent=1)
    return record


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m electrolyte_md.study.validation RESULTS OUT --command "..."``."""
    import argparse

    parser = argparse.ArgumentParser(description=collect_outputs.__doc__.splitlines()[0])
    parser.add_argument("results", help="the finished study's results directory")
    parser.add_argument("out", help="where to copy the summary outputs (e.g. validation/)")
    parser.add_argument("--command", required=True, help="the command that ran the study")
    args = parser.parse_args(argv)
    record = collect_outputs(args.results, args.out, args.command)
    print(f"{len(record['files'])} files copied to {args.out}; see {args.out}/run.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
