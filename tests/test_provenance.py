"""Provenance tables of the report: git commit, versions, force-field sources, runtimes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from electrolyte_md.study.provenance import git_commit, provenance_table, runtimes_table

BENCHMARK_HEADER = (
    "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
)


def _benchmark(path: Path, seconds: float, rss: float, cpu: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(BENCHMARK_HEADER + f"{seconds}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t50\t{cpu}\n")


def test_runtimes_per_rule_from_benchmark_files(tmp_path):
    _benchmark(tmp_path / "run_md/A/298.15K/rep1.tsv", 100.0, 500.0, 190.0)
    _benchmark(tmp_path / "run_md/A/298.15K/rep2.tsv", 120.0, 520.0, 230.0)
    _benchmark(tmp_path / "pack_box/A.tsv", 2.0, 30.0, 1.0)
    table = runtimes_table(tmp_path).set_index("rule")
    assert list(table.index) == ["run_md", "pack_box"]  # largest total first
    md = table.loc["run_md"]
    assert md["jobs"] == 2 and md["wall_s_total"] == 220.0 and md["wall_s_mean"] == 110.0
    assert md["wall_s_max"] == 120.0 and md["cpu_s_total"] == 420.0 and md["max_rss_mb"] == 520.0
    assert runtimes_table(tmp_path / "empty").empty


def test_runtimes_refuse_a_file_that_is_not_a_benchmark(tmp_path):
    bad = tmp_path / "rdf/x.tsv"
    bad.parent.mkdir()
    bad.write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match=r"rdf/x\.tsv.*not a Snakemake benchmark"):
        runtimes_table(tmp_path)


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_git_commit_and_uncommitted_changes(tmp_path):
    assert git_commit(tmp_path)[0] == "unknown"
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "f.txt").write_text("a\n")
    subprocess.run([*git, "add", "f.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "x"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    commit, note = git_commit(tmp_path)
    assert commit == head.strip() and note.startswith("no uncommitted")
    (tmp_path / "f.txt").write_text("b\n")
    assert "uncommitted changes in 1 tracked file" in git_commit(tmp_path)[1]


def test_provenance_rows_from_the_run_records(tmp_path):
    ff = tmp_path / "systems/S/forcefield.json"
    ff.parent.mkdir(parents=True)
    ff.write_text(
        json.dumps(
            {
                "openmm_version": "8.6.1",
                "ambertools_version": "26.0.0",
                "species": {"EC": {"model": "gaff2_am1bcc", "citation": "GAFF2 (Wang 2004)"}},
            }
        )
    )
    md = tmp_path / "md_summary.json"
    md.write_text(
        json.dumps(
            {
                "openmm_version": "8.6.1",
                "restarts": {"invocations": [{"openmm_version": "8.6.0"}]},
            }
        )
    )
    table = provenance_table(tmp_path, "9.27.1", [ff], [md]).set_index("item")
    assert table.loc["Snakemake", "value"] == "9.27.1"
    # a run continued with another OpenMM: both versions, flagged
    assert table.loc["OpenMM", "value"] == "8.6.0, 8.6.1"
    assert "MORE THAN ONE VERSION" in table.loc["OpenMM", "source"]
    assert table.loc["AmberTools", "value"] == "26.0.0"
    assert table.loc["EC", "value"] == "gaff2_am1bcc: GAFF2 (Wang 2004)"
    assert table.loc["EC", "source"] == "forcefield.json of S"
    assert table.loc["git commit", "category"] == "code"
    # every package the workflow ran is cited as its authors ask; data rows are not
    for package in ("Snakemake", "OpenMM", "AmberTools", "RDKit", "MDAnalysis", "Packmol"):
        assert "doi:" in table.loc[package, "cite"] or "rdkit.org" in table.loc[package, "cite"]
    assert "Bannwarth" in table.loc["tblite", "cite"]  # GFN2-xTB, the method tblite runs
    assert table.loc["EC", "cite"] == ""
