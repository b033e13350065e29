"""The comparison with the paper: verdicts, densities, RDF peaks, binding energies."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from electrolyte_md.errors import AnalysisError
from electrolyte_md.study.paper import PAPER_RDF_PEAK
from electrolyte_md.study.validation import (
    binding_rows,
    change_verdict,
    collect_outputs,
    coordination_drift_rows,
    coordination_rows,
    density_rows,
    rdf_peak_height_rows,
    rdf_peak_rows,
    replicas_to_resolve,
    transference_rows,
    validation_table,
)


def test_welch_verdict_matches_scipy_on_replica_statistics():
    # three replicas a side: sem = sd / sqrt(3)
    without, with_ = (1.30, 0.02, 3), (1.10, 0.03, 3)
    p, verdict = change_verdict(without, with_, 0.05)
    reference = stats.ttest_ind_from_stats(
        1.10, 0.03 * math.sqrt(3), 3, 1.30, 0.02 * math.sqrt(3), 3, equal_var=False
    )
    assert p == pytest.approx(reference.pvalue, rel=1e-9)
    assert verdict.startswith("resolved: decrease")


def test_two_replicas_need_a_large_change_to_resolve():
    # the same 1.5 SE change: a z-test would give p = 0.13, Welch with ~2 d.o.f. more
    p, verdict = change_verdict((1.00, 0.1, 2), (1.0 + 1.5 * math.hypot(0.1, 0.1), 0.1, 2), 0.05)
    assert p > 0.13 and verdict.startswith("not resolved")


def test_one_replica_a_side_uses_the_block_errors():
    p, verdict = change_verdict((0.80, 0.01, 1), (0.90, 0.01, 1), 0.05)
    assert p == pytest.approx(2 * stats.norm.sf(0.1 / math.hypot(0.01, 0.01)))
    assert verdict.startswith("resolved: increase") and "z-test" in verdict
    assert change_verdict((0.8, math.nan, 1), (0.9, 0.01, 1), 0.05)[1].startswith("not tested")


def test_replicas_to_resolve_follows_the_normal_power_formula():
    # sd 0.26 a side, change -0.24: (1.960 + 0.842)**2 * 2 * 0.26**2 / 0.24**2 = 18.4
    assert replicas_to_resolve(0.26, 0.26, -0.24) == 19
    # a quarter of the spread: a sixteenth of the replicas, but never fewer than two
    assert replicas_to_resolve(0.065, 0.065, -0.24) == 2
    assert replicas_to_resolve(0.26, math.nan, -0.24) is None
    assert replicas_to_resolve(0.26, 0.26, 0.0) is None
    # the Welch test at that size finds the change about as often as asked (80 %)
    n, found = 19, 0
    for seed in range(400):
        rng = np.random.default_rng(seed)
        a, b = rng.normal(1.32, 0.26, n), rng.normal(1.08, 0.26, n)
        found += stats.ttest_ind(a, b, equal_var=False).pvalue < 0.05
    assert 0.72 < found / 400 < 0.88


def _cn_record(system, replica, blocks, pair="Li-P"):
    return {
        "pair": pair,
        "system": system,
        "temperature_kelvin": 298.15,
        "replica": replica,
        "coordination_number_block_means": blocks,
    }


def test_drift_rows_find_a_trend_across_blocks_and_not_scatter():
    records = [
        # the two 1 ns LiPF6-NMP runs of the paper study (block means, 5 blocks)
        _cn_record("A", 1, [0.65, 0.37, 0.19, 0.18, 0.00]),
        _cn_record("A", 2, [0.82, 0.63, 0.65, 0.65, 0.53]),
        # scatter without a trend, and a pair that is not Li-P
        _cn_record("B", 1, [0.60, 0.70, 0.55, 0.72, 0.61]),
        _cn_record("B", 1, [3.0, 2.0, 1.0, 0.5, 0.1], pair="Li-O"),
        # too few frames for blocks: left out
        _cn_record("C", 1, []),
    ]
    records.append(_cn_record("D", 1, [0.5, 0.3]))  # two blocks: no trend to test
    rows = {r["system"]: r for r in coordination_drift_rows(records)}
    assert set(rows) == {"A", "B", "D"}
    assert rows["D"]["verdict"].startswith("not tested") and rows["D"]["value"] == -0.2
    a, b = rows["A"], rows["B"]
    assert a["value"] == pytest.approx(((0.00 - 0.65) + (0.53 - 0.82)) / 2)
    assert a["n"] == 2 and a["error_from"] == "replicas"
    # replica 1 falls steadily (p = 0.01); replica 2 only by its first block (p = 0.1)
    assert stats.linregress(range(5), [0.65, 0.37, 0.19, 0.18, 0.00]).pvalue < 0.05
    assert a["verdict"] == "drifting in 1 of 2 runs: not stationary"
    assert "replica 1: 0.65 -> 0" in a["note"]
    assert b["verdict"] == "no trend in 1 run" and b["n"] == 1


def _comparison():
    return pd.DataFrame(
        [
            {
                "system_without": "A",
                "system_with": "B",
                "temperature_kelvin": 298.15,
                "quantity": "CN Li-P",
                "without_mean": 0.80,
                "without_sem": 0.05,
                "without_n": 2,
                "without_error_from": "replicas",
                "with_mean": 0.70,
                "with_sem": 0.05,
                "with_n": 2,
                "with_error_from": "replicas",
                "change": -0.10,
                "change_sem": math.hypot(0.05, 0.05),
                "flagged": False,
            }
        ]
    )


def test_coordination_rows_set_both_systems_and_the_change_beside_the_paper():
    rows = {r["quantity"]: r for r in coordination_rows(_comparison())}
    assert rows["CN Li-P without the additive"]["reference"] == 1.323
    assert rows["CN Li-P with the additive"]["difference"] == pytest.approx(0.70 - 1.083)
    change = rows["CN Li-P change (with - without)"]
    assert change["reference"] == pytest.approx(1.083 - 1.323)
    assert change["verdict"].startswith("not resolved")
    # replicas' SD = sem * sqrt(2) = 0.0707 a side: 2 * 7.85 * 0.005 / 0.0576 -> 2
    assert "about 2 replicas a side" in change["note"]


def test_transference_rows_give_corrected_and_box_t_plus_a_side():
    comparison = pd.concat([_comparison()] * 2, ignore_index=True)
    comparison["quantity"] = ["t+", "t+_pbc"]
    comparison["without_mean"] = [0.47, 0.36]
    comparison["with_mean"] = [0.49, 0.39]
    comparison["flagged"] = [True, False]
    rows = {r["quantity"]: r for r in transference_rows(comparison)}
    assert set(rows) == {
        "t+ without the additive (Yeh-Hummer corrected D)",
        "t+ with the additive (Yeh-Hummer corrected D)",
        "t+ without the additive (D as fitted in the box)",
        "t+ with the additive (D as fitted in the box)",
    }
    box = rows["t+ with the additive (D as fitted in the box)"]
    assert box["value"] == 0.39 and box["reference"] == 0.607
    assert box["difference"] == pytest.approx(0.39 - 0.607) and box["note"] == ""
    assert rows["t+ without the additive (Yeh-Hummer corrected D)"]["reference"] == 0.301
    assert rows["t+ without the additive (Yeh-Hummer corrected D)"]["note"].startswith("FLAGGED")


def test_density_rows_average_replicas_and_compare_where_measured(tmp_path):
    runs = []
    for system, values in (("NMP_neat", (1.020, 1.030)), ("LiPF6_NMP", (1.10,))):
        for replica, value in enumerate(values, 1):
            path = tmp_path / f"{system}_{replica}.json"
            path.write_text(json.dumps({"equilibration": {"mean_g_per_cm3": value}}))
            runs.append((system, 298.15, str(path)))
    experiment = {
        "NMP_neat": {"temperature_kelvin": 298.15, "density_g_per_cm3": 1.028, "source": "x"}
    }
    rows = {r["system"]: r for r in density_rows(runs, experiment)}
    assert rows["NMP_neat"]["value"] == pytest.approx(1.025)
    assert rows["NMP_neat"]["sem"] == pytest.approx(0.005)
    assert rows["NMP_neat"]["verdict"].startswith("agrees within 2%")
    assert math.isnan(rows["LiPF6_NMP"]["reference"]) and rows["LiPF6_NMP"]["n"] == 1
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(Exception, match="bad.json"):
        density_rows([("X", 298.15, str(bad))], {})


def test_rdf_peaks_are_averaged_and_runs_without_a_peak_are_counted():
    records = [
        {"system": "A", "temperature_kelvin": 298.15, "pair": "Li-P", "first_peak_angstrom": p}
        for p in (3.40, 3.50, None)
    ] + [{"system": "A", "temperature_kelvin": 298.15, "pair": "Li-O", "first_peak_angstrom": 2}]
    (row,) = rdf_peak_rows(records)
    assert row["value"] == pytest.approx(3.45) and row["n"] == 2
    assert row["reference"] == PAPER_RDF_PEAK["value"]
    assert "1 of 3 runs without a peak" in row["note"]


def test_peak_heights_are_set_side_by_side_and_their_change_tested():
    def record(system, height, pair="Li-P"):
        return {
            "system": system,
            "temperature_kelvin": 298.15,
            "pair": pair,
            "first_peak_height": height,
        }

    # A (without) 10.7 and 11.3, B (with) 7.9 and 8.1; a Li-O record and a run without a
    # peak (None) are left out
    records = [record("A", 10.7), record("A", 11.3), record("B", 7.9), record("B", 8.1)]
    records += [record("A", 30.0, pair="Li-O"), record("B", None)]
    rows = {r["quantity"]: r for r in rdf_peak_height_rows(records, _comparison())}
    without = rows["first RDF peak height Li-P (g) without the additive"]
    with_ = rows["first RDF peak height Li-P (g) with the additive"]
    change = rows["first RDF peak height Li-P (g) change (with - without)"]
    assert (without["system"], without["value"], without["n"]) == ("A", pytest.approx(11.0), 2)
    assert (with_["system"], with_["value"], with_["sem"]) == (
        "B",
        pytest.approx(8.0),
        pytest.approx(0.1),
    )
    assert change["value"] == pytest.approx(-3.0)
    assert change["sem"] == pytest.approx(math.hypot(0.3, 0.1))
    p = stats.ttest_ind([10.7, 11.3], [7.9, 8.1], equal_var=False).pvalue
    assert change["verdict"].startswith(f"resolved: decrease (p = {p:.3g}, Welch")
    assert math.isnan(change["reference"]) and "no value" in change["reference_source"]
    # one run a side: no error for a single height, so the change is not tested
    single = [record("A", 10.7), record("B", 7.9)]
    change = rdf_peak_height_rows(single, _comparison())[-1]
    assert change["verdict"].startswith("not tested") and change["error_from"] == "none"
    # a side without heights: the other side's row only, no change row
    assert rdf_peak_height_rows([record("A", 10.7)], _comparison()) == [
        rdf_peak_height_rows(single, _comparison())[0]
    ]


def test_binding_rows_leave_out_the_paper_row():
    binding = pd.DataFrame(
        [
            {
                "pair": "Ti6HPAB_PF6",
                "structure": "lowest intact minimum (end-N)",
                "binding_energy_ev": -0.7604,
                "method": "GFN2-xTB",
                "host_intact": True,
            },
            {
                "pair": "Ti6(HPAB) + PF6-",
                "structure": "paper (Figure 5e, Table S3)",
                "binding_energy_ev": -0.993,
                "method": "DFT",
                "host_intact": None,
            },
        ]
    )
    (row,) = binding_rows(binding)
    assert row["difference"] == pytest.approx(-0.7604 + 0.993)


def test_validation_table_has_every_section():
    records = [{**_cn_record("A", 1, [0.5, 0.4, 0.3]), "first_peak_angstrom": 3.5}]
    # an iterator, read by two sections
    table = validation_table(_comparison(), iter(records), [], {}, None)
    assert list(table["quantity"]) == [
        "CN Li-P without the additive",
        "CN Li-P with the additive",
        "CN Li-P change (with - without)",
        "CN Li-P drift within a run (last - first block)",
        "first RDF peak Li-P (A)",
    ]
    records.append({**_cn_record("B", 1, [0.3, 0.3, 0.3]), "first_peak_height": 8.0})
    records[0]["first_peak_height"] = 11.0
    table = validation_table(_comparison(), records, [], {}, None)
    assert "first RDF peak height Li-P (g) change (with - without)" in set(table["quantity"])


def test_block_counts_of_one_replica_are_not_taken_for_replicas():
    comparison = _comparison()
    comparison["without_n"] = comparison["with_n"] = 5
    comparison["without_error_from"] = comparison["with_error_from"] = "blocks of 1 replica"
    change = coordination_rows(comparison)[-1]
    assert "z-test" in change["verdict"] and change["n"] == 1


def test_collect_keeps_summaries_and_leaves_trajectories_behind(tmp_path):
    results = tmp_path / "results"
    kept = [
        "report/comparison.csv",
        "report/provenance.csv",
        "analysis/A/summary.csv",
        "analysis/A/298.15K/rep1/rdf/cn_Li-P.json",
        "analysis/A/298.15K/rep1/cluster_X.png",
        "md/A/298.15K/rep1/md_summary.json",
    ]
    left = ["md/A/298.15K/rep1/prod.dcd", "systems/A/system.prmtop", "md/A/298.15K/rep1/x.png"]
    for name in kept + left:
        (results / name).parent.mkdir(parents=True, exist_ok=True)
        (results / name).write_text("category,item,value,source\ncode,git commit,abc,here\n")
    out = tmp_path / "validation"
    with pytest.raises(AnalysisError, match="provenance.csv"):
        collect_outputs(tmp_path / "empty", out, "cmd")
    assert not out.exists()
    record = collect_outputs(results, out, "snakemake --configfile config/paper.yaml")
    assert sorted(record["files"]) == sorted(kept)
    assert all((out / name).is_file() for name in kept)
    assert not any((out / name).exists() for name in left)
    written = json.loads((out / "run.json").read_text())
    assert written["command"].startswith("snakemake") and written["provenance"][0]["value"] == "abc"
