"""End to end: the whole workflow on a tiny LiPF6/NMP box, then its report."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, TINY_CONFIG

SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(
        [*SNAKEMAKE, "--directory", str(workdir), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=1200,
    )


def _workdir(tmp_path: Path, config: dict) -> Path:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("e2e")
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["forcefield"]["cache_dir"] = str(workdir / "cache")
    _workdir(workdir, config)
    run = _snakemake(workdir, "--cores", "2")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = _snakemake(workdir, "--cores", "1", "--report", "results/report.html")
    assert report.returncode == 0, report.stderr[-3000:]
    return workdir, config


@pytest.mark.slow
def test_composition_and_force_field(finished_run):
    workdir, _ = finished_run
    results = workdir / "results"
    composition = json.loads((results / "systems/LiPF6_NMP/composition.json").read_text())
    assert composition["counts"] == {"NMP": 30, "Li": 3, "PF6": 3}
    packed = composition["salt_concentration_mol_per_l"]["LiPF6"]
    assert packed["requested"] == 1.0 and 0.8 < packed["obtained"] < 1.2
    ff = json.loads((results / "systems/LiPF6_NMP/forcefield.json").read_text())
    assert ff["n_atoms"] == 30 * 16 + 3 * 8 == composition["n_atoms"]
    assert abs(ff["net_charge_e"]) < 1e-5
    assert ff["removed_trans_angles"] == 9
    table = pd.read_csv(results / "report/compositions.csv")
    assert table.set_index("species")["charge_per_molecule_e"].to_dict() == {
        "NMP": 0.0,
        "Li": 0.8,
        "PF6": -0.8,
    }


@pytest.mark.slow
def test_md_outputs(finished_run):
    workdir, config = finished_run
    run = workdir / "results/md/LiPF6_NMP/298.15K/rep1"
    protocol = config["md"]["protocol"]
    prod = pd.read_csv(run / "prod.csv")
    assert len(prod) == round(protocol["production_ps"] / protocol["report_interval_ps"])
    assert 200 < prod["temperature_kelvin"].mean() < 400
    assert 0.8 < prod["density_g_per_cm3"].mean() < 1.4
    assert prod["volume_nm3"].nunique() == 1  # NVT production
    summary = json.loads((run / "md_summary.json").read_text())
    assert summary["platform"] == "CPU" and summary["ns_per_day"] > 0
    md_table = pd.read_csv(workdir / "results/report/md_summary.csv")
    assert 0.7 < md_table.loc[0, "LiPF6_mol_per_l"] < 1.3


@pytest.mark.slow
def test_rdf_and_coordination_numbers(finished_run):
    workdir, config = finished_run
    table = pd.read_csv(workdir / "results/analysis/LiPF6_NMP/coordination.csv")
    assert sorted(table["pair"]) == ["Li-F", "Li-O", "Li-P"]
    rows = table.set_index("pair")
    # configured cutoff for Li-P, first minimum for the others
    assert rows.loc["Li-P", "cutoff_source"] == "user"
    assert rows.loc["Li-P", "cutoff_angstrom"] == pytest.approx(4.2)
    assert rows.loc["Li-F", "cutoff_source"] == "first minimum"
    # Li+ binds carbonyl O and F at contact distance, 1.7-2.6 A
    for pair in ("Li-O", "Li-F"):
        assert 1.7 < rows.loc[pair, "first_peak_angstrom"] < 2.6
        assert rows.loc[pair, "first_peak_angstrom"] < rows.loc[pair, "cutoff_angstrom"] < 3.6
    # every Li+ is surrounded by 4-6 donors from NMP and PF6- together
    donors = rows.loc["Li-O", "coordination_number"] + rows.loc["Li-F", "coordination_number"]
    assert 3.0 < donors < 7.0
    # the CN in the table is the running CN of the RDF table at the cutoff
    rdf = pd.read_csv(workdir / "results/analysis/LiPF6_NMP/298.15K/rep1/rdf_Li-O.csv")
    assert list(rdf.columns) == ["r_angstrom", "g_r", "cn_r"]
    at_cutoff = rdf.iloc[(rdf["r_angstrom"] - rows.loc["Li-O", "cutoff_angstrom"]).abs().argmin()]
    assert at_cutoff["cn_r"] == pytest.approx(rows.loc["Li-O", "coordination_number"], abs=0.35)
    record = json.loads(
        (workdir / "results/analysis/LiPF6_NMP/298.15K/rep1/cn_Li-O.json").read_text()
    )
    assert record["n_frames"] == 18  # 20 frames minus 1 ps skipped at 0.5 ps per frame
    assert math.isfinite(record["coordination_number"])


@pytest.mark.slow
def test_report_holds_figures_tables_and_config(finished_run):
    workdir, _ = finished_run
    report = workdir / "results/report.html"
    assert report.stat().st_size > 100_000
    text = report.read_text(errors="replace")
    for expected in (
        "rdf_Li-P.png",
        "coordination.csv",
        "config_used.yaml",
        "energies.png",
        "compositions.csv",
        "Joung",
    ):
        assert expected in text, expected
    used = yaml.safe_load((workdir / "results/report/config_used.yaml").read_text())
    assert used["config"]["systems"]["LiPF6_NMP"]["n_solvent_molecules"] == 30
    assert used["software"]["openmm"] == "8.6.1"


@pytest.mark.slow
def test_rerun_does_nothing_and_cache_spares_sqm(finished_run, tmp_path):
    workdir, config = finished_run
    again = _snakemake(workdir, "--cores", "2", "--dry-run")
    assert "Nothing to be done" in again.stdout + again.stderr
    # a new study with the same molecules reuses the cached AM1-BCC charges
    other = _workdir(tmp_path, config)
    run = _snakemake(other, "--cores", "1", "results/species/NMP/params/ff.json")
    assert run.returncode == 0, run.stderr[-2000:]
    log = (other / "results/logs/parameterize_species/NMP.log").read_text()
    assert "parameters from cache" in log
    assert "sqm" not in log


def test_bad_config_stops_before_any_work(tmp_path):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["species"]["NMP"]["smiles"] = "CN1CCCC1=O("
    workdir = _workdir(tmp_path, config)
    run = _snakemake(workdir, "--cores", "1", "--dry-run")
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "species 'NMP'" in output and "cannot parse SMILES" in output
    assert "config/config.yaml" in output
    assert not (workdir / "results").exists()


def test_wrong_key_stops_before_any_work(tmp_path):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["systems"]["LiPF6_NMP"]["n_solvents"] = 10
    workdir = _workdir(tmp_path, config)
    run = _snakemake(workdir, "--cores", "1", "--dry-run")
    assert run.returncode != 0
    assert "n_solvents" in run.stdout + run.stderr
    assert not (workdir / "results").exists()
