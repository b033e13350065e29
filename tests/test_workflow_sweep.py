"""End to end: a charge-scaling sweep of the tiny LiPF6/NMP box (two factors), through
MD, analysis and the sweep's figure and table."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from conftest import TINY_CONFIG


@pytest.fixture(scope="module")
def sweep_run(workflow):
    study = workflow(name="e2e-sweep")
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["forcefield"]["cache_dir"] = str(study.directory / "cache")
    config["systems"]["LiPF6_NMP"]["ion_charge_scales"] = [0.7, 1.0]
    # a measured density of the swept electrolyte (a round number for the test)
    config["validation"]["experiments"] = [
        {"property": "density", "system": "LiPF6_NMP", "value": 1.10,
         "temperature_kelvin": 298.15, "source": "a round number for the test"},
    ]  # fmt: skip
    study.write_config(config)
    run = study.run("--cores", "2")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return study.directory


@pytest.mark.slow
def test_each_factor_runs_with_its_charges_and_the_sweep_is_reported(sweep_run):
    results = sweep_run / "results"
    for factor, name in ((0.7, "LiPF6_NMP_q070"), (1.0, "LiPF6_NMP_q100")):
        ff = json.loads((results / f"systems/{name}/forcefield.json").read_text())
        charges = {s: v["charge_per_molecule_e"] for s, v in ff["species"].items()}
        assert charges["Li"] == pytest.approx(factor) and charges["PF6"] == pytest.approx(-factor)
        assert charges["NMP"] == pytest.approx(0.0, abs=1e-6)
        assert (results / f"md/{name}/298.15K/rep1/md_summary.json").is_file()
    assert not (results / "systems/LiPF6_NMP").exists()
    table = pd.read_csv(results / "report/charge_sweep.csv")
    assert table["ion_charge_scale"].tolist() == [0.7, 1.0]
    assert table["swept_system"].unique().tolist() == ["LiPF6_NMP"]
    assert table["density"].between(0.8, 1.6).all() and table["CN Li-P"].notna().all()
    closest = pd.read_csv(results / "report/charge_sweep_closest.csv").iloc[0]
    assert closest["property"] == "density" and closest["closest_factor"] in (0.7, 1.0)
    assert closest["statement"].startswith(f"closest: factor {closest['closest_factor']:g}")
    assert (results / "report/charge_sweep.png").stat().st_size > 10_000
    assert b"<svg" in (results / "report/charge_sweep.svg").read_bytes()[:500]
    # the measured value is compared with each factor's system too
    experiment = pd.read_csv(results / "report/experiment.csv")
    assert sorted(experiment["system"]) == ["LiPF6_NMP_q070", "LiPF6_NMP_q100"]
