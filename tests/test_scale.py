"""The study at scale: a many-system DAG plans right, and a config change reruns only its part.

Nothing here runs a job: the configuration (20 systems x 2 temperatures x 3 replicas,
about 330 jobs) is only planned (``--dry-run``); the rerun test marks every
output of a small study as done (``--touch``, which records Snakemake's metadata),
changes one system's salt concentration and checks the planned jobs.
"""

from __future__ import annotations

import re
import time

import pytest
import yaml
from conftest import TINY_CONFIG, Workflow

#: jobs of the whole study, not of one system (they read every system's files)
STUDY_RULES = {
    "all",
    "config_used",
    "compositions_table",
    "md_summary_table",
    "comparison_table",
    "overview",
    "experiment_checks",
    "charge_sweep",
    "provenance",
}


def _study(study: Workflow, n_systems: int, temperatures: list[float], replicas: int) -> dict:
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["forcefield"]["cache_dir"] = str(study.directory / "cache")
    config["systems"] = {
        f"LiPF6_NMP_{i:03d}": {
            "solvents": {"NMP": 1.0},
            "n_solvent_molecules": 30,
            "salts": {"LiPF6": round(0.5 + 0.01 * i, 3)},
        }
        for i in range(n_systems)
    }
    config["md"].update(temperatures_kelvin=temperatures, replicas=replicas)
    config["validation"]["paper_systems"] = []  # none of these is the tiny config's system
    # nor do the measured values of the tiny config's system apply (a species' do)
    config["validation"]["experiments"] = [
        e for e in config["validation"]["experiments"] if "system" not in e
    ]
    study.write_config(config)
    return config


def _job_counts(output: str) -> dict[str, int]:
    """The "Job stats" table of a dry run: rule -> number of jobs."""
    table = output.split("Job stats:", 1)[1].split("Reasons:", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def _planned_jobs(output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job a dry run lists."""
    jobs = []
    for block in re.split(r"\n(?=\[[^\]]+\]\n)|\n(?=rule \w+:)", output):
        rule = re.search(r"^(?:localrule|rule) (\w+):", block, re.M)
        if not rule:
            continue
        wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.M)
        values = dict(w.split("=", 1) for w in wildcards[1].split(", ")) if wildcards else {}
        jobs.append((rule[1], values))
    return jobs


def test_dag_of_a_many_system_study(workflow, tmp_path):
    """Job counts of a study of 20 systems x 2 temperatures x 3 replicas.

    Its timing is printed, not asserted: speed targets (the 200-system DAG in under
    30 s) belong to benchmarks/, not to unit tests on a shared CI machine.
    """
    study = workflow(directory=tmp_path)
    config = _study(study, 20, [253.15, 298.15], 3)
    start = time.perf_counter()
    run = study.run("--dry-run", "--quiet", "rules", timeout=600)
    seconds = time.perf_counter() - start
    assert run.returncode == 0, run.stderr[-3000:]
    counts = _job_counts(run.stdout + run.stderr)
    n_systems = len(config["systems"])
    n_runs = n_systems * len(config["md"]["temperatures_kelvin"]) * config["md"]["replicas"]
    # one analysis job per run (RDFs of every pair, solvation, transport, energy plot),
    # one tables job per system (coordination, replica means, Arrhenius)
    assert counts["run_md"] == counts["analyze_run"] == n_runs
    assert counts["pack_box"] == counts["system_summary"] == n_systems
    assert counts["parameterize_species"] == len(config["species"])
    total = sum(v for k, v in counts.items() if k != "total")
    assert counts["total"] == total > 300
    print(f"dry run of {total} jobs: {seconds:.1f} s ({1000 * seconds / total:.1f} ms per job)")


@pytest.mark.slow
def test_config_change_reruns_only_the_system_it_touches(workflow, tmp_path):
    study = workflow(directory=tmp_path)
    config = _study(study, 4, [253.15, 298.15], 2)
    # every output present and recorded as made with this configuration
    summary = study.run("--summary", timeout=600)
    assert summary.returncode == 0, summary.stderr[-3000:]
    outputs = [line.split("\t")[0] for line in summary.stdout.splitlines()[1:] if line.strip()]
    assert len(outputs) > 100
    for name in outputs:
        path = tmp_path / name
        if path.name == "rdf":  # analyze_run's RDF output: a directory per run
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    touch = study.run("--touch", "--forceall", "--cores", "1", timeout=600)
    assert touch.returncode == 0, touch.stderr[-3000:]
    again = study.run("--dry-run", timeout=600)
    assert "Nothing to be done" in again.stdout + again.stderr, again.stdout[-2000:]

    changed = "LiPF6_NMP_001"
    config["systems"][changed]["salts"]["LiPF6"] = 1.2
    study.write_config(config)
    run = study.run("--dry-run", timeout=600)  # default --rerun-triggers
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = _planned_jobs(run.stdout)
    assert jobs, run.stdout[-2000:]
    systems = {w["system"] for _, w in jobs if "system" in w}
    assert systems == {changed}, systems
    rules = {rule for rule, w in jobs if "system" not in w}
    assert rules <= STUDY_RULES, rules - STUDY_RULES
    # the changed system is redone from its box on: composition, box, MD, analysis
    per_system = {rule for rule, w in jobs if w.get("system") == changed}
    assert {"compose_system", "pack_box", "build_system", "run_md", "analyze_run"} <= per_system
    n_runs = len(config["md"]["temperatures_kelvin"]) * config["md"]["replicas"]
    assert sum(rule == "run_md" for rule, _ in jobs) == n_runs
    # the species (structures, AM1-BCC parameters) are shared and untouched
    assert not {"build_species", "parameterize_species"} & {rule for rule, _ in jobs}
