"""Replica aggregation, system summaries, the comparison with the paper, Arrhenius tables,
and the default RDF pairs: all on hand-made inputs with known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import TINY_CONFIG
from scipy import constants

from electrolyte_md.config import additive_pairs, default_pairs, system_pairs
from electrolyte_md.errors import AnalysisError
from electrolyte_md.study.overview import (
    overview_html,
    overview_table,
    plot_rdf_overlay,
    plot_shell_fractions,
    read_rdf_curves,
)
from electrolyte_md.study.paper import PAPER
from electrolyte_md.study.summary import (
    SUMMARY_COLUMNS,
    aggregate,
    aggregate_equilibrated,
    arrhenius_table,
    comparison_table,
    density_rows,
    rdf_run_records,
    system_summary,
    write_system_summary,
)


def test_aggregate_over_replicas_uses_their_spread():
    stats = aggregate([1.0, 2.0, 3.0, 6.0], within_sems=[0.01] * 4, within_n=[5] * 4)
    # mean 3, sample std sqrt(14/3), SEM sqrt(14/3)/2
    assert stats["mean"] == pytest.approx(3.0)
    assert stats["sem"] == pytest.approx(math.sqrt(14.0 / 3.0) / 2.0)
    assert stats["n"] == 4 and stats["error_from"] == "replicas"


def test_aggregate_single_replica_uses_its_block_error_or_none():
    stats = aggregate([1.25], within_sems=[0.05], within_n=[4])
    assert stats == {"mean": 1.25, "sem": 0.05, "n": 4, "error_from": "blocks of 1 replica"}
    bare = aggregate([0.4])
    assert bare["n"] == 1 and math.isnan(bare["sem"]) and bare["error_from"] == "none (1 replica)"
    with pytest.raises(AnalysisError, match="finite"):
        aggregate([1.0, None])


def test_equilibrated_series_give_the_rows_their_error_and_drift():
    one = {"mean": 0.9, "standard_error": 0.03, "discarded_ps": 120.0, "n_effective": 40.0,
           "drift_p": 0.4}  # fmt: skip
    stats = aggregate_equilibrated([one])
    assert stats["mean"] == 0.9 and stats["sem"] == 0.03 and stats["n"] == 1
    assert stats["error_from"] == "statistical inefficiency of 1 replica"
    assert (stats["discarded_ps"], stats["n_effective"], stats["drift_p"]) == (120.0, 40.0, 0.4)
    two = aggregate_equilibrated([one, {**one, "mean": 1.1, "discarded_ps": 300.0,
                                        "drift_p": 0.01}])  # fmt: skip
    assert two["mean"] == pytest.approx(1.0) and two["error_from"] == "replicas"
    assert two["sem"] == pytest.approx(0.1)  # between the replicas, not from g
    assert two["discarded_ps"] == 300.0 and two["n_effective"] == 80.0 and two["drift_p"] == 0.01
    assert aggregate_equilibrated([one, None]) is None  # a run without it: whole-run values

    # in a system summary: the equilibrated mean replaces the whole-run one, and the
    # replica whose region still drifts flags the row
    records = [
        {**_cn(298.0, rep, "Li-P", 1.5), "coordination_number_equilibrated": cn,
         "coordination_number_equilibrated_se": 0.02, "discarded_ps": d, "n_effective": 30.0,
         "drift_p": p}
        for rep, cn, d, p in ((1, 1.2, 100.0, 0.5), (2, 1.4, 250.0, 0.02))
    ]  # fmt: skip
    rows = system_summary("A", records, [], []).set_index("quantity")
    row = rows.loc["CN Li-P"]
    assert row["mean"] == pytest.approx(1.3) and row["discarded_ps"] == 250.0
    assert row["n_effective"] == 60.0 and row["drift_p"] == 0.02
    assert row["flagged"] and "trend p = 0.02) in 1 of 2 replica(s)" in row["note"]
    # a region found only at the end of a run is flagged too, whatever its drift test
    late = [{**r, "drift_p": 0.5, "equilibrated_fraction": f}
            for r, f in zip(records, (0.9, 0.12), strict=True)]  # fmt: skip
    row = system_summary("A", late, [], []).set_index("quantity").loc["CN Li-P"]
    assert row["flagged"] and "region only 12% of the run in 1 of 2 replica(s)" in row["note"]


def _cn(t, rep, pair, cn, sem=0.02, cutoff=3.0, source="first minimum"):
    return {"temperature_kelvin": t, "replica": rep, "pair": pair, "coordination_number": cn,
            "coordination_number_sem": sem, "n_blocks": 5, "cutoff_angstrom": cutoff,
            "cutoff_source": source}  # fmt: skip


def _solv(t, rep, pf6, ssip):
    return {"temperature_kelvin": t, "replica": rep, "n_blocks": 5,
            "mean_shell_counts": {"PF6": pf6, "NMP": 4.0 - pf6},
            "mean_shell_counts_sem": {"PF6": 0.01, "NMP": 0.01},
            "coordination_number": 4.0, "coordination_number_sem": 0.0,
            "ion_pair_fractions": {"SSIP": ssip, "CIP": 1.0 - ssip, "MCIP": 0.0, "AGG": 0.0},
            "ion_pair_fractions_sem": {"SSIP": 0.02, "CIP": 0.02, "MCIP": 0, "AGG": 0}}  # fmt: skip


def _transport(t, rep, d_li, d_pf6, diffusive=True):
    species = {
        name: {"diffusive": diffusive, "d_1e9_m2_per_s": d, "d_pbc_1e9_m2_per_s": d - 0.1,
               "d_1e9_m2_per_s_sem": 0.01, "n_groups": 5}
        for name, d in (("Li", d_li), ("PF6", d_pf6))
    }  # fmt: skip
    t_plus = d_li / (d_li + d_pf6)
    return {"temperature_kelvin": t, "replica": rep, "species": species,
            "transference_number": {"value": t_plus, "flagged": not diffusive, "note": "NE",
                                    "value_pbc": (d_li - 0.1) / (d_li + d_pf6 - 0.2)},
            "conductivity": {"sigma_ms_per_cm": 10 * d_li, "flagged": not diffusive,
                             "note": "NE"}}  # fmt: skip


def test_system_summary_means_errors_and_flags():
    cn = [_cn(298.0, 1, "Li-P", 1.2, cutoff=4.0), _cn(298.0, 2, "Li-P", 1.4, cutoff=4.2)]
    solv = [_solv(298.0, 1, 1.0, 0.5), _solv(298.0, 2, 1.2, 0.3)]
    transport = [_transport(298.0, 1, 0.2, 0.6), _transport(298.0, 2, 0.4, 0.6, diffusive=False)]
    table = system_summary("A", cn, solv, transport)
    assert list(table.columns) == SUMMARY_COLUMNS
    rows = table.set_index("quantity")
    assert rows.loc["CN Li-P", "mean"] == pytest.approx(1.3)
    assert rows.loc["CN Li-P", "sem"] == pytest.approx(0.1)  # std 0.1414 / sqrt 2
    assert rows.loc["CN Li-P", "n"] == 2 and rows.loc["CN Li-P", "error_from"] == "replicas"
    assert "4.10 Å" in rows.loc["CN Li-P", "note"] and "4.00-4.20" in rows.loc["CN Li-P", "note"]
    assert rows.loc["cutoff Li-P", "mean"] == pytest.approx(4.1)
    assert rows.loc["shell PF6", "mean"] == pytest.approx(1.1)
    assert rows.loc["fraction SSIP", "mean"] == pytest.approx(0.4)
    assert rows.loc["D Li", "mean"] == pytest.approx(0.3)
    assert rows.loc["D_pbc Li", "mean"] == pytest.approx(0.2)
    # one replica non-diffusive: D, t+ and sigma are flagged, and say how many
    for quantity in ("D Li", "D PF6", "t+", "sigma_NE"):
        assert rows.loc[quantity, "flagged"], quantity
        assert "1 of 2 replica" in rows.loc[quantity, "note"]
    assert not rows.loc["CN Li-P", "flagged"]
    assert rows.loc["t+", "mean"] == pytest.approx((0.25 + 0.4) / 2)
    # from the box D (0.1 below the corrected ones): further from 0.5
    assert rows.loc["t+_pbc", "mean"] == pytest.approx((0.1 / 0.6 + 0.3 / 0.8) / 2)
    assert rows.loc["t+_pbc", "flagged"] and "periodic box" in rows.loc["t+_pbc", "note"]


def test_system_summary_names_a_broken_record():
    record = _cn(298.0, 1, "Li-P", 1.2)
    del record["cutoff_angstrom"]
    record["source"] = "runs/cn_Li-P.json"
    with pytest.raises(AnalysisError, match=r"runs/cn_Li-P.json.*cutoff_angstrom"):
        system_summary("A", [record], [], [])


def test_system_summary_from_the_rdf_directories_of_runs(tmp_path):
    """Each run's cn_<pair>.json sits in .../<T>K/rep<r>/rdf; the run comes from the path."""
    dirs = []
    for rep, cn in ((1, 1.0), (2, 1.4)):
        rdf = tmp_path / "analysis/A/298.15K" / f"rep{rep}" / "rdf"
        rdf.mkdir(parents=True)
        for pair, value in (("Li-P", cn), ("Li-O", 4.0)):
            record = _cn(None, None, pair, value)
            del record["temperature_kelvin"], record["replica"]
            (rdf / f"cn_{pair}.json").write_text(json.dumps(record))
        dirs.append(str(rdf))
    records = rdf_run_records(dirs, ["Li-P", "Li-O"])
    assert [(r["replica"], r["pair"]) for r in records] == [
        (1, "Li-O"), (1, "Li-P"), (2, "Li-O"), (2, "Li-P"),
    ]  # fmt: skip
    assert {r["temperature_kelvin"] for r in records} == {298.15}
    assert records[1]["source"] == f"{dirs[0]}/cn_Li-P.json"
    out = tmp_path / "summary.csv"
    table = write_system_summary("A", dirs, [], [], str(out), pairs=["Li-P", "Li-O"])
    rows = table.set_index("quantity")
    assert rows.loc["CN Li-P", "mean"] == pytest.approx(1.2)
    assert rows.loc["CN Li-P", "n"] == 2 and rows.loc["CN Li-P", "error_from"] == "replicas"
    assert pd.read_csv(out)["quantity"].tolist() == table["quantity"].tolist()
    # a configured pair the run lacks, and a directory outside the run layout
    with pytest.raises(AnalysisError, match=r"298.15K/rep1/rdf lacks cn_Li-F\.json"):
        rdf_run_records(dirs, ["Li-P", "Li-F"])
    with pytest.raises(AnalysisError, match=r"cannot tell temperature and replica"):
        rdf_run_records([str(tmp_path / "analysis/A/298.15K/rep1")])


def _summary_row(system, quantity, mean, sem, n=3, flagged=False, t=298.0):
    return {"system": system, "temperature_kelvin": t, "quantity": quantity, "unit": "",
            "mean": mean, "sem": sem, "n": n, "error_from": "replicas", "flagged": flagged,
            "note": ""}  # fmt: skip


def test_comparison_table_side_by_side_with_paper():
    summary = pd.DataFrame(
        [
            _summary_row("bare", "CN Li-P", 1.30, 0.03),
            {
                **_summary_row("bare", "t+", 0.40, 0.02, flagged=True),
                "note": "NE; FLAGGED: non-diffusive MSD (no linear window) in 1 of 3 replica(s)",
            },
            _summary_row("cluster", "CN Li-P", 1.10, 0.04),
            _summary_row("cluster", "t+", 0.45, 0.02),
            _summary_row("cluster", "fraction AGG", 0.1, 0.01),
        ]
    )
    table = comparison_table(summary, [("bare", "cluster")])
    rows = table.set_index("quantity")
    cn = rows.loc["CN Li-P"]
    assert (cn["system_without"], cn["system_with"]) == ("bare", "cluster")
    assert cn["change"] == pytest.approx(-0.20)
    assert cn["change_sem"] == pytest.approx(0.05)  # 0.03 and 0.04 in quadrature
    assert cn["change_percent"] == pytest.approx(-100 * 0.2 / 1.3)
    assert (cn["paper_without"], cn["paper_with"]) == (1.323, 1.083)
    assert cn["paper_change"] == pytest.approx(1.083 - 1.323)
    assert not cn["flagged"]
    t_plus = rows.loc["t+"]
    assert (t_plus["paper_without"], t_plus["paper_with"]) == (0.301, 0.607)
    assert t_plus["flagged"]
    assert t_plus["note"].startswith("without: FLAGGED: non-diffusive MSD (no linear window)")
    # a quantity only one system has: its side filled, no change
    agg = rows.loc["fraction AGG"]
    assert agg["with_mean"] == pytest.approx(0.1) and agg["without_n"] == 0
    assert math.isnan(agg["change"]) and math.isnan(agg["paper_with"])
    assert "e202508224" in PAPER["source"]


def test_only_the_papers_systems_are_set_beside_the_paper():
    """A DME electrolyte (not the paper's LiPF6 in NMP) never gets the paper's values;
    the systems marked in validation.paper_systems do."""
    summary = pd.DataFrame(
        [
            _summary_row("LiPF6_NMP", "CN Li-P", 1.3, 0.03),
            _summary_row("LiPF6_DME", "CN Li-P", 0.9, 0.05),
        ]
    )
    table = comparison_table(summary, [], paper_systems=["LiPF6_NMP"]).set_index("system_without")
    assert table.loc["LiPF6_NMP", "paper_without"] == 1.323
    assert math.isnan(table.loc["LiPF6_DME", "paper_without"])
    assert "paper:" not in table.loc["LiPF6_DME", "note"]
    none = comparison_table(summary, [], paper_systems=[])
    assert none["paper_without"].isna().all()


def test_density_rows_from_md_records():
    def md(replica, density, ensemble="NVT", series=None):
        return {"temperature_kelvin": 298.15, "replica": replica,
                "protocol": {"production_ensemble": ensemble},
                "production": {"density_g_per_cm3": {"mean": density}},
                "production_equilibrated": {"density_g_per_cm3": series}}  # fmt: skip

    (one,) = density_rows("S", [md(1, 1.05)])
    assert one["mean"] == 1.05 and math.isnan(one["sem"])
    assert one["error_from"] == "none: 1 NVT replica at its NPT mean"
    (two,) = density_rows("S", [md(1, 1.05), md(2, 1.07)])
    assert two["mean"] == pytest.approx(1.06) and two["sem"] == pytest.approx(0.01)
    series = {"mean": 1.04, "standard_error": 0.002, "discarded_time": 5.0, "n_effective": 40.0,
              "drift_p": 0.5, "n_used": 90, "n_samples": 100}  # fmt: skip
    (npt,) = density_rows("S", [md(1, 1.04, "NPT", series)])
    assert npt["sem"] == 0.002 and npt["error_from"] == "statistical inefficiency of 1 replica"
    assert npt["discarded_ps"] == 5.0 and not npt["flagged"]


def test_overview_table_and_figures(tmp_path):
    """The report's first table: a row per system and temperature, mean ± SE per quantity
    with how the errors were obtained and what is flagged; both figures, PNG and SVG."""
    rows = [
        _summary_row("A", "density", 1.0612, 0.0034),
        {
            **_summary_row("A", "CN Li-P", 0.55, 0.28, n=1),
            "error_from": "statistical inefficiency of 1 replica",
        },
        _summary_row("A", "cutoff Li-P", 4.5, 0.0),
        _summary_row("A", "D_pbc Li", 0.1, 0.01),
        {**_summary_row("A", "t+", 0.41, math.nan), "flagged": True},
        *(_summary_row("A", f"fraction {c}", f, 0.01) for c, f in
          (("SSIP", 0.6), ("CIP", 0.2), ("MCIP", 0.1), ("AGG", 0.1))),
        _summary_row("B", "density", 1.02, 0.01),
    ]  # fmt: skip
    summary = pd.DataFrame(rows)
    table = overview_table(summary).set_index("system")
    assert list(table.columns[:3]) == ["temperature_kelvin", "density", "CN Li-P"]
    assert "cutoff Li-P" not in table.columns and "D_pbc Li" not in table.columns
    assert table.loc["A", "density"] == "1.0612 ± 0.0034"
    assert table.loc["A", "CN Li-P"] == "0.55 ± 0.28"
    assert table.loc["A", "t+"] == "0.41"  # no error to state
    assert table.loc["A", "flagged"] == "t+"
    assert "statistical inefficiency of 1 replica" in table.loc["A", "errors from"]
    assert table.loc["B", "CN Li-P"] == ""  # B lacks it
    # the report shows the HTML page in place: every cell, the flagged one highlighted
    html = overview_html(table.reset_index())
    assert '<table id="overview">' in html and "<th>CN Li-P</th>" in html
    assert '<td class="flagged">0.41</td>' in html
    assert '<td class="">0.55 ± 0.28</td>' in html and html.count("<tr>") == 3
    rdf_dir = tmp_path / "analysis" / "A" / "298.15K"
    csvs = []
    for replica, height in ((1, 2.0), (2, 3.0)):
        path = rdf_dir / f"rep{replica}" / "rdf" / "rdf_Li-P.csv"
        path.parent.mkdir(parents=True)
        r = np.arange(0.05, 8.0, 0.1)
        pd.DataFrame({"r_angstrom": r, "g_r": height * np.exp(-((r - 3.5) ** 2)),
                      "cn_r": 0.1 * r}).to_csv(path, index=False)  # fmt: skip
        csvs.append(path)
    curves = read_rdf_curves(csvs)
    assert list(curves) == [("A", 298.15)] and len(curves[("A", 298.15)]) == 2
    figures = [tmp_path / "rdf.png", tmp_path / "rdf.svg"]
    plot_rdf_overlay(curves, "Li-P", figures)
    plot_shell_fractions(summary, [tmp_path / "shells.svg"])
    assert figures[0].read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in figures[1].read_bytes()[:500]
    assert b"<svg" in (tmp_path / "shells.svg").read_bytes()[:500]


def test_comparison_table_lists_a_lone_system():
    summary = pd.DataFrame([_summary_row("bare", "CN Li-P", 1.3, 0.03)])
    table = comparison_table(summary, [])
    assert table["system_without"].tolist() == ["bare"]
    assert table["system_with"].tolist() == [""]
    assert table.loc[0, "paper_without"] == 1.323 and math.isnan(table.loc[0, "change"])


def test_arrhenius_table_recovers_activation_energy():
    ea_kj, d0 = 20.0, 50.0
    temperatures = [253.15, 298.15, 333.15]
    rows = [
        _summary_row("A", "D Li", d0 * math.exp(-ea_kj * 1e3 / (constants.R * t)), math.nan, t=t)
        for t in temperatures
    ]
    rows.append(_summary_row("A", "CN Li-P", 1.0, 0.1))
    table = arrhenius_table(pd.DataFrame(rows))
    (row,) = table.to_dict("records")
    assert row["species"] == "Li" and row["n_temperatures"] == 3 and not row["weighted"]
    assert row["ea_kj_per_mol"] == pytest.approx(ea_kj, rel=1e-9)
    assert row["ea_ev"] == pytest.approx(ea_kj * 1e3 / constants.N_A / constants.e, rel=1e-9)
    assert row["ln_d0"] == pytest.approx(math.log(d0))
    with pytest.raises(AnalysisError, match="2 temperatures"):
        arrhenius_table(pd.DataFrame(rows[:1]))


def _config_with_cluster():
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["species"]["Ti6"] = {
        "residue": "TI6",
        "cluster": {"carboxylate": "4-aminobenzoate", "alkoxide": "isopropoxide"},
    }
    config["systems"]["Ti6_LiPF6_NMP"] = dict(config["systems"]["LiPF6_NMP"], additives={"Ti6": 1})
    return config


def test_additive_pairs_match_the_same_electrolyte():
    config = _config_with_cluster()
    assert additive_pairs(config) == [("LiPF6_NMP", "Ti6_LiPF6_NMP")]
    config["systems"]["Ti6_LiPF6_NMP"]["salts"] = {"LiPF6": 0.5}
    assert additive_pairs(config) == []


def test_default_pairs_per_system():
    config = _config_with_cluster()
    bare = default_pairs(config, "LiPF6_NMP")
    assert sorted(bare) == ["Li-F", "Li-N", "Li-O", "Li-P"]
    assert bare["Li-N"] == {
        "center": "resname LI",
        "ligand": "resname NMP and element N",
        "requires": ["Li", "NMP"],
    }
    with_cluster = default_pairs(config, "Ti6_LiPF6_NMP")
    assert sorted(with_cluster) == ["Li-F", "Li-N", "Li-O", "Li-P", "Ti-F", "Ti-P"]
    assert with_cluster["Ti-P"]["center"] == "resname TI6 and element Ti"
    # opt-in: without default_pairs only the configured pairs are analysed
    assert sorted(system_pairs(config, "LiPF6_NMP")) == ["Li-F", "Li-O", "Li-P"]
    config["analysis"]["rdf"]["default_pairs"] = True
    pairs = system_pairs(config, "LiPF6_NMP")
    assert sorted(pairs) == ["Li-F", "Li-N", "Li-O", "Li-P"]
    assert pairs["Li-P"]["cutoff_angstrom"] == 4.2  # the configured pair wins
    # a configured name with other selections pushes the default to a suffixed name
    config["analysis"]["rdf"]["pairs"]["Li-N"] = {"center": "resname LI", "ligand": "name N1"}
    assert "Li-N_NMP" in system_pairs(config, "LiPF6_NMP")
    # two solvents with O: each gets its residue
    config["species"]["DMC"] = {"smiles": "COC(=O)OC", "residue": "DMC"}
    config["systems"]["LiPF6_NMP"]["solvents"] = {"NMP": 0.5, "DMC": 0.5}
    assert {"Li-O_NMP", "Li-O_DMC"} <= set(default_pairs(config, "LiPF6_NMP"))


def test_aggregate_matches_numpy_on_random_replicas():
    rng = np.random.default_rng(3)
    values = rng.normal(1.0, 0.1, size=7)
    stats = aggregate(values.tolist())
    assert stats["sem"] == pytest.approx(values.std(ddof=1) / math.sqrt(7))


def test_simulation_against_experiment_gives_a_verdict_per_measured_value(tmp_path):
    from electrolyte_md.study.experiment import experiment_table, write_experiment_table
    from electrolyte_md.study.summary import dielectric_rows

    systems = {
        "NMP_neat": {"solvents": {"NMP": 1.0}},
        "NMP_hot": {"solvents": {"NMP": 1.0}},
        "LiPF6_NMP": {"solvents": {"NMP": 1.0}, "salts": {"LiPF6": 1.0}},
        "DMC_neat": {"solvents": {"DMC": 1.0}},
    }
    # a salt-free run's dielectric record becomes a summary row (one run: blocks' error)
    eps = dielectric_rows(
        "NMP_neat",
        [{"temperature_kelvin": 298.0, "replica": 1, "dielectric_constant": 27.0,
          "dielectric_constant_sem": 3.0, "n_blocks": 5, "analysed_ps": 500.0}],
    )  # fmt: skip
    assert eps[0]["quantity"] == "dielectric constant" and eps[0]["sem"] == 3.0
    assert eps[0]["error_from"] == "blocks of 1 replica" and "500 ps" in eps[0]["note"]
    summary = pd.DataFrame(
        [
            _summary_row("NMP_neat", "density", 1.017, 0.002),
            _summary_row("NMP_hot", "density", 0.95, math.nan),
            eps[0] | {"note": ""},
            _summary_row("LiPF6_NMP", "sigma_NE", 14.0, 9.0, flagged=True),
        ]
    )
    measured = [
        {"property": "density", "species": "NMP", "value": 1.028, "temperature_kelvin": 298.0,
         "tolerance": 0.02, "source": "CRC"},
        {"property": "dielectric_constant", "species": "NMP", "value": 32.2,
         "temperature_kelvin": 298.0, "tolerance": 0.1, "source": "Merck"},
        {"property": "conductivity", "system": "LiPF6_NMP", "value": 10.0,
         "temperature_kelvin": 298.0, "source": "a measurement"},
        {"property": "viscosity", "species": "NMP", "value": 1.65, "temperature_kelvin": 298.0,
         "source": "Merck"},
        {"property": "density", "species": "EC", "value": 1.32, "temperature_kelvin": 298.0,
         "source": "CRC"},
    ]  # fmt: skip
    table = experiment_table(measured, summary, systems)
    rows = {(r.property, r.system): r for r in table.itertuples()}
    density = rows[("density", "NMP_neat")]
    assert density.deviation_percent == pytest.approx(100 * (1.017 - 1.028) / 1.028)
    assert density.verdict == "agrees within the 2 % tolerance"
    # both neat NMP systems are compared: one differs
    assert rows[("density", "NMP_hot")].verdict == (
        "differs by -7.59 %, beyond the 2 % tolerance (the simulated value has no error estimate)"
    )
    assert rows[("dielectric_constant", "NMP_neat")].verdict.startswith("differs by -16.1 %")
    # the electrolyte is not a neat liquid; a dielectric constant it has not
    assert ("density", "LiPF6_NMP") not in rows
    assert rows[("dielectric_constant", "NMP_hot")].verdict.startswith("not simulated: NMP_hot")
    sigma = rows[("conductivity", "LiPF6_NMP")]
    assert sigma.verdict.startswith("not resolved: the simulated value's error (±90 %)")
    assert sigma.flagged and sigma.tolerance_percent == 5.0  # the default tolerance
    assert rows[("viscosity", "NMP_neat")].verdict == "not computed by this workflow (viscosity)"
    assert rows[("density", "")].verdict.startswith("not simulated: the study has no neat EC")
    # CSV and the page the report shows, non-agreements highlighted
    summary_csv = tmp_path / "summary.csv"
    summary.to_csv(summary_csv, index=False)
    written = write_experiment_table(
        measured, [str(summary_csv)], systems, tmp_path / "e.csv", tmp_path / "e.html"
    )
    assert len(written) == len(table) == 8
    html = (tmp_path / "e.html").read_text()
    assert '<table id="experiment">' in html
    assert '<td class="text">agrees within the 2 % tolerance</td>' in html
    assert html.count('<td class="flagged">') == 7


def test_charge_sweep_table_closest_factor_and_figure(tmp_path):
    from electrolyte_md.study.sweep import closest_factors, plot_sweep, sweep_table

    sweeps = {"E": {"E_q070": 0.7, "E_q080": 0.8, "E_q100": 1.0}}
    rows = []
    for system, factor in sweeps["E"].items():
        rows += [
            _summary_row(system, "CN Li-P", 2.0 * factor, 0.1, t=298.15),
            _summary_row(system, "density", 1.0 + 0.2 * factor, 0.005, t=298.15),
            _summary_row(system, "sigma_NE", 20.0 - 10.0 * factor, 1.0, t=298.15),
        ]
    table = sweep_table(pd.DataFrame(rows), sweeps, "Li-P")
    assert table["ion_charge_scale"].tolist() == [0.7, 0.8, 1.0]
    assert table["CN Li-P"].tolist() == pytest.approx([1.4, 1.6, 2.0])
    assert table["density_sem"].tolist() == [0.005] * 3
    measured = [
        {"property": "density", "system": "E", "value": 1.17, "temperature_kelvin": 298.15,
         "source": "a"},
        {"property": "conductivity", "system": "E", "value": 5.0, "temperature_kelvin": 298.15,
         "source": "b"},
        {"property": "viscosity", "system": "E", "value": 2.0, "temperature_kelvin": 298.15,
         "source": "c"},
    ]  # fmt: skip
    closest = closest_factors(table, measured).set_index("property")
    assert list(closest.index) == ["density", "conductivity"]  # viscosity: not simulated
    density = closest.loc["density"]
    # 1.14, 1.16, 1.20 against 1.17: nearest 0.8 (0.01 off), crossed at 0.85
    assert density["closest_factor"] == 0.8
    assert density["crossing_factor"] == pytest.approx(0.85)
    assert "crossed near factor 0.85" in density["statement"]
    sigma = closest.loc["conductivity"]  # 13, 12, 10 never reach 5
    assert sigma["closest_factor"] == 1.0 and math.isnan(sigma["crossing_factor"])
    assert "outside the swept range" in sigma["statement"]
    figures = [tmp_path / "sweep.png", tmp_path / "sweep.svg"]
    plot_sweep(table, "Li-P", measured, figures)
    assert figures[0].read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in figures[1].read_bytes()[:500]
