"""The tiny study through a real SLURM scheduler (profiles/slurm, one local node).

A one-node cluster (munged, slurmctld, slurmd from the Debian packages slurm-wlm and
munge; tests/slurm_harness.py) runs the workflow with ``--profile`` = profiles/slurm and
only the overrides a laptop-sized node needs (no GPU, no account, squeue for the job
status since there is no accounting database). run_md gets a one-minute SLURM time
limit and an MD that needs longer: the job reaches its limit, Snakemake resubmits it
with twice the time (runtime scaled by attempt), and the MD continues from its saved
state in restart/ to the full number of frames.

Skipped where slurm-wlm/munge are missing or not root, except under CI (then it fails).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, TINY_CONFIG, Workflow
from slurm_harness import LocalSlurm, missing_programs

PROFILE = REPO / "profiles" / "slurm" / "config.yaml"


def test_profile_covers_every_rule_and_scales_runtime_by_attempt():
    profile = yaml.safe_load(PROFILE.read_text())
    rules = set()
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        rules |= set(re.findall(r"^rule (\w+):", smk.read_text(), re.M))
    assert rules - set(profile["set-resources"]) == set(), "rules without SLURM resources"
    for rule, resources in profile["set-resources"].items():
        assert rule in rules, f"profiles/slurm: set-resources for unknown rule {rule}"
        assert "attempt" in str(resources["runtime"]) and resources["mem_mb"] > 0, rule
    assert set(profile["groups"]) <= rules
    assert profile["set-resources"]["run_md"]["gpu"] == 1
    # account and partition are the user's (their own profile), never this one's
    assert "slurm_account" not in PROFILE.read_text().split("executor:", 1)[1]
    assert "default-resources" not in profile


def test_profile_groups_small_jobs_but_never_the_md():
    profile = yaml.safe_load(PROFILE.read_text())
    groups = profile["groups"]
    components = dict(entry.split("=") for entry in profile["group-components"])
    assert set(components) == set(groups.values())
    # one SLURM job (one GPU) per MD run: replicas on separate GPUs
    assert "run_md" not in groups
    for rule in ("analyze_run", "analyze_run_no_salt", "cluster_stability", "system_summary"):
        assert rule in groups, rule
    # the steps of each species feed every system: in the group of the systems'
    # preparation they would join all of it into one SLURM job
    assert groups["compose_system"] == groups["pack_box"] == groups["build_system"]
    assert groups["build_species"] != groups["compose_system"]


def test_profile_dry_run_submits_md_runs_and_few_group_jobs(tmp_path):
    """The dry run under profiles/slurm: what a study of 25 systems would submit."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_workflow

    config = bench_workflow.study_config(25, 1, 2)
    configfile = tmp_path / "study.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    result = bench_workflow.measure_slurm(tmp_path, configfile, REPO / "Snakefile")

    n_runs = 25 * 2
    n_cluster_runs = 2 * sum(1 for spec in config["systems"].values() if spec["additives"])
    kinds = result["by_kind"]
    assert kinds["run_md"] == n_runs
    # every other per-run and per-system job is in a group job
    assert set(kinds) - {"run_md", "xtb_binding"} == {
        f"group {g}" for g in ("species", "prep", "analysis", "tables", "report")
    }
    assert kinds["group analysis"] == math.ceil((n_runs + n_cluster_runs) / 8)
    assert kinds["group prep"] == math.ceil(25 / 20)
    assert result["group_sizes"]["prep"] == 3 * 20
    assert result["n_submissions"] < result["n_jobs"] / 2


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so this test must run (.ci/run installs slurm-wlm)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    missing = missing_programs()
    if missing:
        _unavailable(
            f"no local SLURM: {', '.join(missing)} not found (Debian packages slurm-wlm, munge)"
        )
    if os.geteuid() != 0:
        _unavailable("the local SLURM cluster needs root to start slurmd")
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"), memory_mb=16000)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    yield cluster
    cluster.stop()


def _test_profile(directory: Path) -> Path:
    """profiles/slurm with this node's overrides: no GPU, no account, squeue, 1-min MD."""
    profile = yaml.safe_load(PROFILE.read_text())
    assert profile["executor"] == "slurm"
    assert "attempt" in str(profile["set-resources"]["run_md"]["runtime"])
    profile["set-resources"]["run_md"].update(gpu=0, mem_mb=3000, runtime="1 * attempt")
    for resources in profile["set-resources"].values():
        resources["mem_mb"] = min(int(resources.get("mem_mb", 2000)), 3000)
    profile.update(
        {
            "slurm-no-account": True,
            "slurm-status-command": "squeue",
            "slurm-init-seconds-before-status-checks": 2,
            "latency-wait": 5,
            "cores": 2,  # the node's CPUs: group jobs must fit on it
        }
    )
    profile.pop("set-threads")  # 4 threads for build_species: more than this node has
    directory.mkdir(parents=True)
    (directory / "config.yaml").write_text(yaml.safe_dump(profile))
    return directory


def _config(study: Workflow) -> dict:
    workdir = study.directory
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["forcefield"]["cache_dir"] = str(workdir / "cache")
    config["md"]["retries"] = 3
    # 1.5-3 min of production on 2 cores (120 ps once fitted in the first minute on an
    # idle machine): always longer than the one-minute SLURM limit of the first attempt
    config["md"]["protocol"].update(
        production_ps=240.0, checkpoint_interval_ps=5.0, wall_time_margin_minutes=0.0
    )
    # one pair, with the tiny config's fixed cutoff: 3 ion pairs over 120 ps do not always
    # give g(r) a first minimum, and the test is about the scheduler, not the RDF
    config["analysis"]["rdf"]["pairs"] = {"Li-P": config["analysis"]["rdf"]["pairs"]["Li-P"]}
    assert "cutoff_angstrom" in config["analysis"]["rdf"]["pairs"]["Li-P"]
    study.write_config(config)
    return config


@pytest.mark.slow
def test_tiny_study_on_slurm_resumes_md_after_time_limit(slurm, workflow, tmp_path):
    study = workflow(directory=tmp_path / "study")
    workdir = study.directory
    config = _config(study)
    profile = _test_profile(tmp_path / "profile")
    start = time.monotonic()
    run = study.run(
        "--workflow-profile", "none", "--profile", str(profile), timeout=900, env=slurm.env
    )
    elapsed = time.monotonic() - start
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]

    # every job went through SLURM: the scheduler lists them under the run's name
    jobs = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i|%T|%k|%l"],
        capture_output=True,
        text=True,
        env=slurm.env,
        check=True,
    ).stdout.splitlines()
    records = sorted((line.split("|") for line in jobs if line.strip()), key=lambda r: int(r[0]))
    md_jobs = [r for r in records if "run_md" in r[2]]
    assert len(md_jobs) >= 2, records
    first, last = md_jobs[0], md_jobs[-1]
    # the first attempt ended at its one-minute limit: killed by SLURM (TIMEOUT) or stopped
    # by the MD itself just before it (exit 75, FAILED); resubmissions had more time
    assert first[1] in ("TIMEOUT", "FAILED"), md_jobs
    # each resubmission gets one more minute (runtime scaled by attempt)
    assert [r[3] for r in md_jobs] == [f"{n}:00" for n in range(1, len(md_jobs) + 1)], md_jobs
    assert last[3] in ("2:00", "3:00", "4:00"), md_jobs
    assert last[1] == "COMPLETED", md_jobs
    # the small steps were grouped: fewer SLURM jobs than Snakemake jobs
    n_snakemake_jobs = int(re.search(r"^total\s+(\d+)$", output, re.M)[1])
    assert len(records) < n_snakemake_jobs, (records, n_snakemake_jobs)

    run_dir = workdir / "results/md/LiPF6_NMP/298.15K/rep1"
    summary = json.loads((run_dir / "md_summary.json").read_text())
    invocations = summary["restarts"]["invocations"]
    assert summary["restarts"]["n_continuations"] >= 1, invocations
    # the resubmitted job continued where the first stopped, not from minimisation
    assert invocations[-1]["phase"] != "minimization", invocations
    protocol = config["md"]["protocol"]
    frames = round(protocol["production_ps"] / protocol["report_interval_ps"])
    assert summary["trajectory"]["frames"] == frames
    prod = pd.read_csv(run_dir / "prod.csv")
    assert len(prod) == frames
    # every frame once, in order, across the interruption
    per_frame = round(protocol["report_interval_ps"] * 1000 / protocol["timestep_fs"])
    assert list(prod["step"]) == [per_frame * (i + 1) for i in range(frames)]
    assert not (run_dir / "restart").exists()
    log = (workdir / "results/logs/run_md/LiPF6_NMP/298.15K/rep1.log").read_text()
    if invocations[-1]["phase_step"] > 0:
        assert f"{invocations[-1]['phase']}: continuing at" in log, log[-3000:]
    assert (workdir / "results/analysis/LiPF6_NMP/summary.csv").exists()
    print(f"SLURM run: {elapsed:.0f} s; run_md jobs: {md_jobs}; invocations: {invocations}")
