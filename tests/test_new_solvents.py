"""New electrolytes by configuration only: EC:DMC 3:7 and DMSO, neither in the default study.

tests/data/new_solvents_config.yaml adds three solvents (name, SMILES, residue, density),
a volume-fraction mixture and default RDF pairs; the whole workflow and its report run
with no code change. Names from the configuration become wildcards and paths, so names
that could break a path or a shell command are refused before any job starts.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import yaml
from conftest import REPO

CONFIG = REPO / "tests" / "data" / "new_solvents_config.yaml"


@pytest.fixture(scope="module")
def new_solvents_run(workflow):
    study = workflow(name="new-solvents")
    workdir = study.directory
    config = yaml.safe_load(CONFIG.read_text())
    config["forcefield"]["cache_dir"] = str(workdir / "cache")
    study.write_config(config)
    run = study.run("--cores", "2")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = study.run("--cores", "1", "--report", "results/report.html")
    assert report.returncode == 0, report.stderr[-3000:]
    return workdir, config


@pytest.mark.slow
def test_mixture_and_single_solvent_boxes(new_solvents_run):
    workdir, config = new_solvents_run
    results = workdir / "results"
    for system, spec in config["systems"].items():
        composition = json.loads((results / f"systems/{system}/composition.json").read_text())
        counts = composition["counts"]
        assert sum(counts[s] for s in spec["solvents"]) == spec["n_solvent_molecules"]
        # volume fractions -> mole fractions: phi * density / molar mass
        moles = {}
        for solvent, phi in spec["solvents"].items():
            info = json.loads((results / f"species/{solvent}/species.json").read_text())
            density = config["species"][solvent]["density_g_per_cm3"]
            moles[solvent] = phi * density / info["molar_mass_g_per_mol"]
        for solvent, n in moles.items():
            expected = spec["n_solvent_molecules"] * n / sum(moles.values())
            assert abs(counts[solvent] - expected) <= 1.0, (system, counts, expected)
        packed = composition["salt_concentration_mol_per_l"]["LiPF6"]
        assert counts["Li"] == counts["PF6"] == packed["formula_units"] >= 1
        assert 0.6 < packed["obtained"] < 1.4
        ff = json.loads((results / f"systems/{system}/forcefield.json").read_text())
        assert ff["n_atoms"] == composition["n_atoms"] and abs(ff["net_charge_e"]) < 1e-5
        for solvent in spec["solvents"]:
            assert ff["species"][solvent]["model"] == "gaff2_am1bcc"
            assert ff["species"][solvent]["charge_per_molecule_e"] == pytest.approx(0, abs=1e-6)


@pytest.mark.slow
def test_md_and_li_solvation_in_new_solvents(new_solvents_run):
    workdir, config = new_solvents_run
    protocol = config["md"]["protocol"]
    frames = round(protocol["production_ps"] / protocol["report_interval_ps"])
    for system, spec in config["systems"].items():
        run = workdir / f"results/md/{system}/298.15K/rep1"
        prod = pd.read_csv(run / "prod.csv")
        assert len(prod) == frames
        assert 200 < prod["temperature_kelvin"].mean() < 400
        assert 0.9 < prod["density_g_per_cm3"].mean() < 1.7
        table = pd.read_csv(workdir / f"results/analysis/{system}/coordination.csv")
        rows = table.set_index("pair")
        solvent_pairs = [p for p in rows.index if p.startswith("Li-O")]
        # one Li-O pair per solvent, from the species alone (default_pairs)
        assert len(solvent_pairs) == len(spec["solvents"]), list(rows.index)
        assert {"Li-P", "Li-F"} <= set(rows.index)
        # Li+ binds solvent O (carbonyl, sulfoxide) at contact distance
        peaks = rows.loc[solvent_pairs, "first_peak_angstrom"].dropna()
        assert len(peaks) >= 1 and ((peaks > 1.7) & (peaks < 2.6)).all(), peaks
        # donors in contact with Li+ (pairs whose first peak is at contact distance; without
        # a contact peak, e.g. no Li-F pairs in DMSO, the first minimum is not a shell)
        contact = rows[(rows["first_peak_angstrom"] < 2.6) & rows.index.str.match(r"Li-[OF]")]
        donors = contact["coordination_number"].sum()
        assert 3.0 < donors < 8.0, (system, contact)
        solvation = json.loads(
            (workdir / f"results/analysis/{system}/298.15K/rep1/solvation.json").read_text()
        )
        assert set(solvation["mean_shell_counts"]) >= set(spec["solvents"])


@pytest.mark.slow
def test_report_is_an_audit_trail(new_solvents_run):
    workdir, config = new_solvents_run
    report = (workdir / "results/report.html").read_text(errors="replace")
    text = " ".join(report.replace("\\n", " ").split())
    for expected in ("provenance.csv", "runtimes.csv", "config_used.yaml", "comparison.csv",
                     "git commit of the workflow", "benchmark:"):  # fmt: skip
        assert expected in text, expected
    provenance = pd.read_csv(workdir / "results/report/provenance.csv")
    commit = provenance.set_index("item").loc["git commit", "value"]
    assert re.fullmatch(r"[0-9a-f]{40}", commit), commit
    software = provenance[provenance["category"] == "software"].set_index("item")["value"]
    for name in ("OpenMM", "AmberTools", "RDKit", "MDAnalysis", "tblite", "Snakemake"):
        assert software[name] not in ("", "not installed"), name
    fields = provenance[provenance["category"] == "force field"].set_index("item")
    for solvent in ("EC", "DMC", "DMSO"):
        assert fields.loc[solvent, "value"].startswith("gaff2_am1bcc: GAFF2"), solvent
    assert "Canongia Lopes" in fields.loc["PF6", "value"]
    runtimes = pd.read_csv(workdir / "results/report/runtimes.csv").set_index("rule")
    assert runtimes.loc["run_md", "jobs"] == len(config["systems"])
    assert runtimes.loc["parameterize_species", "jobs"] == len(config["species"])
    assert (runtimes["wall_s_total"] > 0).all()
    used = yaml.safe_load((workdir / "results/report/config_used.yaml").read_text())
    assert used["config"]["systems"]["LiPF6_EC_DMC"]["solvents"] == {"EC": 0.3, "DMC": 0.7}


@pytest.mark.parametrize(
    ("section", "bad_name"),
    [
        ("systems", "LiPF6 EC"),  # space: two words in a shell command
        ("systems", "LiPF6;rm"),  # shell metacharacter
        ("systems", "../LiPF6"),  # leaves results/
        ("species", "EC/DMC"),  # a path separator inside a wildcard
        ("species", "1EC"),  # must start with a letter
    ],
)
def test_names_that_could_break_paths_or_commands_are_refused(
    workflow, tmp_path, section, bad_name
):
    config = yaml.safe_load(CONFIG.read_text())
    if section == "systems":
        config["systems"][bad_name] = config["systems"].pop("LiPF6_DMSO")
    else:
        config["species"][bad_name] = config["species"].pop("DMSO")
        config["systems"]["LiPF6_DMSO"]["solvents"] = {bad_name: 1.0}
    study = workflow(config, directory=tmp_path)
    workdir = study.directory
    run = study.run("--cores", "1", "--dry-run")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert bad_name in output and "does not match" in output, output[-2000:]
    assert not (workdir / "results").exists()
