"""The configuration is checked before any work: schema first, then chemistry."""

import copy
import re

import pytest
import yaml
from conftest import REPO, TINY_CONFIG
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from electrolyte_md.config import (
    analysis_pairs,
    charge_scales,
    check_config,
    check_selections,
    species_parameters,
    system_species,
)
from electrolyte_md.errors import ConfigError

SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")


@pytest.fixture
def config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def _validated(config):
    validate(config, SCHEMA)
    return config


@pytest.mark.parametrize(
    "path",
    [
        REPO / "config" / "config.yaml",
        REPO / "config" / "config.production.yaml",
        REPO / "config" / "ti6_in_nmp.yaml",
        REPO / "config" / "paper.yaml",
        TINY_CONFIG,
    ],
)
def test_shipped_configs_are_valid(path, monkeypatch):
    monkeypatch.chdir(REPO)  # cluster structure paths are relative to the working directory
    config = _validated(yaml.safe_load(path.read_text()))
    check_config(config, source=str(path))
    check_selections(config, source=str(path))
    # defaults are filled in by the schema
    assert config["forcefield"]["cutoff_nm"] > 0
    assert config["analysis"]["rdf"]["n_blocks"] >= 2


def test_species_order_of_a_system(config):
    assert system_species(config, "LiPF6_NMP") == ["NMP", "Li", "PF6"]


def test_misspelt_key_is_rejected(config):
    config["md"]["protocol"]["prodution_ps"] = 10
    with pytest.raises(WorkflowError, match="prodution_ps"):
        _validated(config)


def test_negative_concentration_is_rejected(config):
    config["systems"]["LiPF6_NMP"]["salts"]["LiPF6"] = -1.0
    with pytest.raises(WorkflowError, match=r"-1\.0 is less than the minimum of 0"):
        _validated(config)


def test_unparsable_smiles_names_species_and_file(config):
    config["species"]["NMP"]["smiles"] = "CN1CCCC1=O("
    with pytest.raises(ConfigError) as error:
        check_config(_validated(config), source="config/mine.yaml")
    message = str(error.value)
    assert "config/mine.yaml" in message
    assert re.search(r"species 'NMP'.*cannot parse SMILES 'CN1CCCC1=O\('", message)


def test_charged_additive_makes_the_box_non_neutral(config):
    config["species"]["TBA"] = {
        "smiles": "CCCC[N+](CCCC)(CCCC)CCCC",
        "residue": "TBA",
        "density_g_per_cm3": 0.8,
    }
    config["systems"]["LiPF6_NMP"]["additives"] = {"TBA": 1}
    with pytest.raises(ConfigError, match=r"system 'LiPF6_NMP': the box is not neutral"):
        check_config(_validated(config))


def test_unequal_charge_scaling_of_a_salt_is_rejected(config):
    config["forcefield"]["charge_scale"]["Li"] = 0.7
    with pytest.raises(ConfigError, match="charge_scale of 'Li' and 'PF6' differ"):
        check_config(_validated(config))


def test_undefined_names_and_bad_models_are_all_reported(config):
    bad = copy.deepcopy(config)
    bad["systems"]["LiPF6_NMP"]["solvents"] = {"DMC": 1.0}
    bad["species"]["Li"]["parameters"] = {"model": "gaff2_am1bcc"}
    bad["species"]["PF6"]["parameters"]["charges"] = {"P": 1.0, "F": -0.3}
    with pytest.raises(ConfigError) as error:
        check_config(_validated(bad))
    message = str(error.value)
    assert "solvent 'DMC' is not a defined species" in message
    assert "species 'Li' is monatomic" in message
    assert "fixed charges sum to -0.8000 e" in message


def test_inconsistent_md_protocol_is_rejected(config):
    config["md"]["protocol"]["report_interval_ps"] = 0.003
    with pytest.raises(ConfigError, match="md.protocol: .*report_interval_ps"):
        check_config(_validated(config))


def test_ions_default_to_scaled_charges_and_explicit_factors_win(config):
    config = _validated(config)
    # the neutral cluster is never scaled
    assert charge_scales(config) == {"NMP": 1.0, "Li": 0.8, "PF6": 0.8, "Ti6HPAB": 1.0}
    config["forcefield"]["ion_charge_scale"] = 0.75
    config["forcefield"]["charge_scale"] = {"NMP": 0.9}
    assert charge_scales(config) == {"NMP": 0.9, "Li": 0.75, "PF6": 0.75, "Ti6HPAB": 1.0}


def test_default_study_runs_with_and_without_the_cluster(config, monkeypatch):
    monkeypatch.chdir(REPO)
    config = _validated(config)
    check_config(config)
    assert system_species(config, "LiPF6_NMP") == ["NMP", "Li", "PF6"]
    assert system_species(config, "Ti6HPAB_LiPF6_NMP") == ["NMP", "Li", "PF6", "Ti6HPAB"]
    assert {"Ti-P", "Ti-F"} <= set(analysis_pairs(config, "Ti6HPAB_LiPF6_NMP"))
    pair = config["binding_xtb"]["pairs"]["Ti6HPAB_PF6"]
    assert (REPO / pair["reuse"]).is_file()


def test_bad_binding_pairs_are_reported(config, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    config["binding_xtb"]["pairs"] = {
        "a": {"host": "Ti6", "guest": "PF6"},
        "b": {"host": "PF6", "guest": "PF6", "reuse": "structures/binding/none.json"},
    }
    with pytest.raises(ConfigError) as error:
        check_config(_validated(config), source="study.yaml")
    message = str(error.value)
    assert "binding_xtb.pairs.a: host 'Ti6' is not a species" in message
    assert "binding_xtb.pairs.b: host and guest are the same species" in message
    assert "reuse file structures/binding/none.json not found" in message
    config["binding_xtb"]["placements"] = ["above"]
    with pytest.raises(WorkflowError, match="above"):
        _validated(config)


def _with_cluster(config):
    """The default study plus the Ti6(HPAB) cluster system (config/ti6_in_nmp.yaml's entry)."""
    study = yaml.safe_load((REPO / "config" / "ti6_in_nmp.yaml").read_text())
    config["species"]["Ti6HPAB"] = study["species"]["Ti6HPAB"]
    config["systems"]["Ti6HPAB_LiPF6_NMP"] = {
        **config["systems"]["LiPF6_NMP"],
        "additives": {"Ti6HPAB": 1},
    }
    for pair, element in (("Ti-P", "P"), ("Ti-F", "F")):
        config["analysis"]["rdf"]["pairs"][pair] = {
            "center": "resname TI6 and element Ti",
            "ligand": f"resname PF6 and element {element}",
            "requires": ["Ti6HPAB", "PF6"],
        }
    return config


def test_cluster_species_and_its_pairs(config, monkeypatch):
    monkeypatch.chdir(REPO)
    config = _validated(_with_cluster(config))
    check_config(config)
    assert species_parameters(config, "Ti6HPAB")["model"] == "xtb_seminario"
    assert charge_scales(config)["Ti6HPAB"] == 1.0  # neutral: never scaled
    assert system_species(config, "Ti6HPAB_LiPF6_NMP") == ["NMP", "Li", "PF6", "Ti6HPAB"]
    assert "Ti-P" in analysis_pairs(config, "Ti6HPAB_LiPF6_NMP")
    assert "Ti-P" not in analysis_pairs(config, "LiPF6_NMP")


def test_bad_cluster_species_are_reported_together(config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the committed structure is not here
    config = _with_cluster(config)
    cluster = config["species"]["Ti6HPAB"]
    cluster["cluster"]["carboxylate"] = "CCO"
    cluster["parameters"]["model"] = "gaff2_am1bcc"
    config["analysis"]["rdf"]["pairs"]["Ti-P"]["requires"] = ["Ti6", "PF6"]
    config = _validated(config)
    with pytest.raises(ConfigError) as error:
        check_config(config, source="study.yaml")
    message = str(error.value)
    assert "study.yaml" in message
    assert "exactly one carboxylic acid/carboxylate group" in message
    assert "parameters.model must be xtb_seminario" in message
    assert "cluster.structure 'structures/ti6_hpab.json' is not a file" in message
    assert "requires unknown species ['Ti6']" in message


def test_species_needs_smiles_or_cluster(config):
    del config["species"]["NMP"]["smiles"]
    with pytest.raises(WorkflowError):
        _validated(config)


def test_paper_validation_needs_a_pair_and_known_systems(config, monkeypatch):
    monkeypatch.chdir(REPO)
    config["validation"] = {
        "paper": True,
        "measured_densities": {
            "NMP": {"temperature_kelvin": 298.15, "density_g_per_cm3": 1.028, "source": "x"}
        },
    }
    del config["systems"]["Ti6HPAB_LiPF6_NMP"]
    with pytest.raises(ConfigError) as error:
        check_config(_validated(config), source="paper.yaml")
    message = str(error.value)
    assert "validation.measured_densities: 'NMP' is not a system" in message
    assert "validation.paper: needs a system with an additive" in message


def test_a_charge_sweep_becomes_one_system_per_factor(config):
    from electrolyte_md.config import (
        charge_sweeps,
        expand_charge_sweeps,
        system_charge_scales,
    )

    config["systems"]["LiPF6_NMP"]["ion_charge_scales"] = [0.7, 0.8, 1.0]
    config["validation"]["experiments"] = [
        {"property": "density", "system": "LiPF6_NMP", "value": 1.1,
         "temperature_kelvin": 298.15, "source": "x"},
    ]  # fmt: skip
    config = _validated(config)
    check_config(config)
    sweeps = charge_sweeps(config)
    assert sweeps == {
        "LiPF6_NMP": {"LiPF6_NMP_q070": 0.7, "LiPF6_NMP_q080": 0.8, "LiPF6_NMP_q100": 1.0}
    }
    expanded = expand_charge_sweeps(config)
    assert "LiPF6_NMP" not in expanded["systems"]
    one = expanded["systems"]["LiPF6_NMP_q070"]
    assert one["ion_charge_scale"] == 0.7 and "ion_charge_scales" not in one
    assert one["salts"] == {"LiPF6": 1.0}
    # the paper's electrolyte and the measured value follow the swept system
    assert expanded["validation"]["paper_systems"][:3] == list(sweeps["LiPF6_NMP"])
    assert [e["system"] for e in expanded["validation"]["experiments"]] == list(sweeps["LiPF6_NMP"])
    assert "ion_charge_scales" in config["systems"]["LiPF6_NMP"]  # the input is untouched
    # the factor scales every ion of its system; the others keep the study's
    scales = system_charge_scales(expanded, "LiPF6_NMP_q070")
    assert (scales["Li"], scales["PF6"], scales["NMP"]) == (0.7, 0.7, 1.0)
    assert system_charge_scales(expanded, "Ti6HPAB_LiPF6_NMP")["PF6"] == 0.8
    check_config(expanded)


def test_bad_charge_sweeps_are_refused(config):
    electrolyte = config["systems"]["LiPF6_NMP"]
    config["systems"]["LiPF6_NMP_q080"] = copy.deepcopy(electrolyte)
    electrolyte["ion_charge_scales"] = [0.8, 0.9]
    config["systems"]["twice"] = copy.deepcopy(electrolyte) | {"ion_charge_scales": [0.801, 0.804]}
    config["systems"]["neat"] = {"solvents": {"NMP": 1.0}, "n_solvent_molecules": 10,
                                 "ion_charge_scales": [0.7, 0.8]}  # fmt: skip
    with pytest.raises(ConfigError) as error:
        check_config(_validated(config), source="sweep.yaml")
    message = str(error.value)
    assert "twice.ion_charge_scales: [0.801, 0.804] name the same system twice" in message
    assert "the sweep's system 'LiPF6_NMP_q080' clashes with a configured system" in message
    assert "systems.neat.ion_charge_scales: the system has no ions to scale" in message
    both = copy.deepcopy(config)
    both["systems"]["neat"]["ion_charge_scale"] = 0.8
    with pytest.raises(WorkflowError):
        _validated(both)


def test_a_sweep_plans_every_stage_per_factor_and_the_sweep_figure(config, tmp_path):
    """A dry run of the default study with its electrolyte swept over three factors."""
    from conftest import Workflow

    config["systems"]["LiPF6_NMP"]["ion_charge_scales"] = [0.7, 0.8, 1.0]
    study = Workflow(tmp_path / "study", config)
    (study.directory / "structures").symlink_to(REPO / "structures")
    run = study.run("--dry-run", "--cores", "1", timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    for factor in ("070", "080", "100"):
        system = f"LiPF6_NMP_q{factor}"
        for path in (f"systems/{system}/system.xml", f"md/{system}/298.15K/rep1/prod.dcd",
                     f"analysis/{system}/summary.csv"):  # fmt: skip
            assert f"results/{path}" in run.stdout, path
    assert "results/report/charge_sweep.png" in run.stdout
    assert "results/systems/LiPF6_NMP/" not in run.stdout  # the swept system itself: gone
