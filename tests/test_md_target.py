"""Production that stops when precise enough (MDProtocol.production_target) and the
refusal of targets that cannot work, in the MD stage and in the workflow configuration."""

from __future__ import annotations

import copy
import json
import logging
import math
from pathlib import Path

import MDAnalysis
import numpy as np
import pandas as pd
import pytest
import yaml
from md_testing import fast_protocol, write_water_box
from test_md_start import write_ionic_box

from electrolyte_md.config import check_config, md_protocol_settings
from electrolyte_md.errors import ConfigError
from electrolyte_md.md import MDProtocol, read_energies, run_md
from electrolyte_md.md.criteria import centre_counts_of_frame, select_atoms
from electrolyte_md.study.report import md_summary_table
from electrolyte_md.study.summary import flag_unmet_targets
from electrolyte_md.timeseries import analyze_series, between_site_standard_error

REPO = Path(__file__).resolve().parents[1]


def density_target(standard_error: float, **changes: object) -> dict[str, object]:
    return {"observable": "density", "standard_error": standard_error, "chunk_ps": 0.4,
            "max_ps": 3.2, **changes}  # fmt: skip


@pytest.fixture(scope="module")
def water(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_water_box(tmp_path_factory.mktemp("water"))


def test_a_loose_target_stops_early(water: tuple[Path, Path], tmp_path: Path) -> None:
    # NPT: the density of 10 reports is known to far better than 0.05 g/cm3, so the SE is
    # met at the first check; whether its ten values also pass the drift test (p > 0.05)
    # is chance, about 1 in 20 even on one thread (a clean-clone CI run stopped at the
    # second check, 2.4 ps): the run stops at a check well before its 3.2 ps maximum.
    protocol = fast_protocol(
        production_ps=2.0,
        production_ensemble="NPT",
        production_target=density_target(0.05),
        threads=1,
    )
    outputs = run_md(*water, protocol, tmp_path / "out")
    summary = json.loads(outputs.summary_json.read_text(encoding="utf-8"))
    target = summary["production_target"]
    assert target["met"] is True and target["ended_by"] == "target met"
    checks = [c["production_ps"] for c in target["checks"]]
    assert checks[:2] == pytest.approx([2.0, 2.4][: len(checks)]) and len(checks) <= 2
    assert target["length_ps"] == pytest.approx(checks[-1])
    assert target["length_ps"] == pytest.approx(summary["steps"]["production"] * 0.004)
    assert target["final"]["standard_error"] <= 0.05
    assert target["final"]["used_fraction"] >= 0.5 and target["final"]["fluctuates"]
    assert len(read_energies(outputs.prod_csv)) == round(checks[-1] / 0.2)
    table = pd.DataFrame([{"temperature_kelvin": 298.15, "flagged": False, "note": ""}])
    flag_unmet_targets(table, [{**summary, "temperature_kelvin": 298.15, "replica": 1}])
    assert not table["flagged"][0]


def test_impossible_target_stops_at_the_maximum_and_is_flagged(
    water: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # NPT: the density fluctuates, so 1e-9 g/cm3 is out of reach
    protocol = fast_protocol(
        production_ps=1.6,
        production_ensemble="NPT",
        production_target=density_target(1e-9),
    )
    with caplog.at_level(logging.WARNING, logger="electrolyte_md.md"):
        outputs = run_md(*water, protocol, tmp_path / "out")
    summary = json.loads(outputs.summary_json.read_text(encoding="utf-8"))
    target = summary["production_target"]
    assert target["met"] is False and target["ended_by"] == "maximum length"
    assert target["length_ps"] == pytest.approx(3.2)
    # checks at 1.6 ps, then every 0.4 ps up to 3.2 ps
    assert [c["production_ps"] for c in target["checks"]] == pytest.approx(
        [1.6, 2.0, 2.4, 2.8, 3.2]
    )
    prod = read_energies(outputs.prod_csv)
    assert len(prod) == 16
    # the last check is the analysis of the whole production's density series
    stats = analyze_series(prod["density_g_per_cm3"].to_numpy(), prod["time_ps"].to_numpy())
    assert target["final"]["mean"] == pytest.approx(stats.mean)
    assert target["final"]["standard_error"] == pytest.approx(stats.standard_error)
    assert "without meeting the target" in caplog.text

    # the run's tables: its md_summary row and the system summary rows of its temperature
    run = tmp_path / "results" / "md" / "water" / "298.15K" / "rep1"
    run.mkdir(parents=True)
    (run / "md_summary.json").write_text(outputs.summary_json.read_text())
    composition = tmp_path / "composition.json"
    composition.write_text(json.dumps({"system": "water", "salt_concentration_mol_per_l": {}}))
    row = md_summary_table([run / "md_summary.json"], [composition]).iloc[0]
    assert row["production_ended_by"].startswith("FLAGGED: maximum length, density SE")
    # a drift p-value too few samples left undefined (null in the JSON) is said, not fatal
    undefined = json.loads(outputs.summary_json.read_text())
    undefined["production_target"]["final"]["drift_p"] = None
    (run / "md_summary.json").write_text(json.dumps(undefined))
    row_undefined = md_summary_table([run / "md_summary.json"], [composition]).iloc[0]
    assert "drift p not computable" in row_undefined["production_ended_by"]
    (run / "md_summary.json").write_text(outputs.summary_json.read_text())
    # every production series has its equilibrated region in the summary and the table
    density = summary["production_equilibrated"]["density_g_per_cm3"]
    assert density["standard_error"] == pytest.approx(stats.standard_error)
    assert row["density_g_per_cm3_se"] == pytest.approx(stats.standard_error)
    # too few effective samples leave the drift test undefined: NaN here, null in the JSON
    drift_p = row["density_g_per_cm3_drift_p"]
    if math.isnan(stats.drift_p):
        assert drift_p is None or pd.isna(drift_p)
    else:
        assert drift_p == pytest.approx(stats.drift_p)
    assert set(summary["production_equilibrated"]) == {
        "temperature_kelvin", "density_g_per_cm3", "potential_energy_kj_per_mol",
    }  # fmt: skip
    table = pd.DataFrame(
        [
            {"system": "water", "temperature_kelvin": t, "quantity": "CN O-O", "unit": "",
             "mean": 4.0, "sem": 0.1, "n": 1, "error_from": "", "flagged": False, "note": n}
            for t, n in ((298.15, "cutoff 3.3 Å"), (253.15, ""))
        ]
    )  # fmt: skip
    flag_unmet_targets(table, [{**summary, "temperature_kelvin": 298.15, "replica": 1}])
    assert table["flagged"].tolist() == [True, False]
    assert table["note"][0].startswith("cutoff 3.3 Å; FLAGGED: production target (density")
    assert "in 1 of 1 replica(s)" in table["note"][0]


def test_coordination_target_follows_the_frames_written(tmp_path: Path) -> None:
    system_xml, system_pdb = write_ionic_box(tmp_path / "ions")
    target = {
        "observable": "coordination",
        "label": "CN(Li-Cl)",
        "center": "resname LI",
        "ligand": "resname CL and element Cl",
        "cutoff_angstrom": 3.5,
        "standard_error": 1e-9,
        "chunk_ps": 0.4,
        "max_ps": 1.6,
    }
    protocol = fast_protocol(
        timestep_fs=1.0,
        hydrogen_mass_amu=None,
        blowup_retry_timestep_fs=None,
        minimize_max_iterations=200,
        production_ps=0.8,
        production_target=target,
    )
    outputs = run_md(system_xml, system_pdb, protocol, tmp_path / "out")
    record = json.loads(outputs.summary_json.read_text(encoding="utf-8"))["production_target"]
    universe = MDAnalysis.Universe(str(outputs.prod_final_pdb), str(outputs.prod_dcd))
    li = universe.select_atoms("resname LI").indices
    cl = universe.select_atoms("resname CL").indices
    counts = np.array(
        [
            centre_counts_of_frame(
                ts.positions / 10.0, np.diag(ts.dimensions[:3]) / 10.0, li, cl, 3.5
            )
            for ts in universe.trajectory
        ]
    )
    assert counts.shape == (8, len(li))
    per_frame = counts.mean(axis=1)
    stats = analyze_series(per_frame, 0.2 * np.arange(1, 9))
    final = record["final"]
    assert final["mean"] == pytest.approx(stats.mean, abs=1e-5)
    assert final["standard_error_time"] == pytest.approx(stats.standard_error, abs=1e-5)
    # the eight reports fill one block of the per-centre sums: its error is theirs
    assert final["n_sites"] == len(li)
    between = between_site_standard_error(counts.mean(axis=0))
    assert final["standard_error_sites"] == pytest.approx(between, abs=1e-5)
    assert final["standard_error"] == pytest.approx(max(stats.standard_error, between), abs=1e-5)
    assert record["met"] is False and record["length_ps"] == pytest.approx(1.6)


def test_a_density_target_needs_npt_production() -> None:
    with pytest.raises(ValueError, match="density target needs production_ensemble NPT"):
        fast_protocol(production_ps=1.6, production_target=density_target(0.01))


def test_selections_the_md_job_reads(water: tuple[Path, Path]) -> None:
    from openmm import app

    topology = app.PDBFile(str(water[1])).topology
    oxygens = select_atoms(topology, "resname HOH and element O")
    assert len(oxygens) == topology.getNumResidues() and oxygens[0] == 0
    with pytest.raises(ValueError, match="only 'resname X'"):
        select_atoms(topology, "around 3 resname HOH")
    with pytest.raises(ValueError, match="matches no atom"):
        select_atoms(topology, "resname LI")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"observable": "viscosity"}, "observable must be one of"),
        ({"standard_error": 0.0}, "standard_error must be a positive number"),
        ({"standard_error": -0.1}, "standard_error must be a positive number"),
        ({"chunk_ps": 4.0}, "chunk_ps .* is longer than max_ps"),
        ({"max_ps": 1.2}, "shorter than the fixed production_ps"),
        ({"chunk_ps": 0.3}, "chunk_ps .* whole multiple"),
        ({"observable": "coordination", "center": "resname LI", "ligand": "resname PF6"},
         "cutoff_angstrom must be a positive number"),
        ({"colour": "red"}, "unexpected keyword"),
    ],
)  # fmt: skip
def test_bad_targets_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fast_protocol(
            production_ps=1.6,
            production_ensemble="NPT",
            production_target={**density_target(0.01), **change},
        )


# ------------------------------------------------------------------------------------
# The workflow configuration
# ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config() -> dict:
    from snakemake.utils import validate

    loaded = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate(loaded, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return loaded


def with_target(config: dict, **target: object) -> dict:
    changed = copy.deepcopy(config)
    changed["md"]["protocol"]["production_target"] = {
        "observable": "Li-P", "standard_error": 0.05, "chunk_ps": 100.0, "max_ps": 2000.0,
        "cutoff_angstrom": 4.475, **target,
    }  # fmt: skip
    return changed


def test_a_pair_target_is_resolved_per_system(config: dict) -> None:
    changed = with_target(config)
    check_config(changed, "my.yaml")
    settings = md_protocol_settings(changed, "LiPF6_NMP")
    target = MDProtocol(**settings).production_target
    assert target is not None and target.observable == "coordination"
    assert target.label == "CN(Li-P)" and target.cutoff_angstrom == 4.475
    assert target.center == "resname LI" and target.ligand == "resname PF6 and element P"
    assert "production_target" not in md_protocol_settings(config, "LiPF6_NMP")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"observable": "conductivity"}, r"production_target.observable: 'conductivity' is not"),
        ({"observable": "Li-O", "cutoff_angstrom": None}, r"pair 'Li-O' has no cutoff_angstrom"),
        ({"standard_error": 0.0}, r"standard_error must be a positive number"),
        ({"chunk_ps": 4000.0}, r"chunk_ps .* is longer than max_ps"),
        ({"max_ps": 40.0, "chunk_ps": 20.0}, r"shorter than the fixed production_ps"),
    ],
)
def test_bad_targets_in_the_configuration_name_key_and_file(
    config: dict, target: dict, message: str
) -> None:
    changed = with_target(config, **target)
    if target.get("cutoff_angstrom", 1) is None:
        del changed["md"]["protocol"]["production_target"]["cutoff_angstrom"]
    with pytest.raises(ConfigError, match="my.yaml") as error:
        check_config(changed, "my.yaml")
    assert error.match(message) and "production_target" in str(error.value)
