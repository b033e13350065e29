"""Smoke run of the benchmark harness (benchmarks/run.py --smoke) on tiny boxes.

The numbers of a smoke run mean nothing; what is checked is that every part runs and
reports what it claims: both engines' energies of the same coordinates agree, each ratio
is the ratio of the absolute numbers beside it, and the Markdown table is written.
GROMACS (Debian package gromacs) is required under CI (.ci/run installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO

HAVE_GMX = shutil.which("gmx") is not None
if not HAVE_GMX and os.environ.get("CI"):
    raise RuntimeError("CI is set but gmx is not on PATH (apt-get install gromacs)")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, json.loads((out / "benchmarks_smoke.json").read_text())


@pytest.mark.slow
def test_md_overhead_and_timestep(smoke):
    _, report = smoke
    assert report["machine"]["cpus_available"] >= 1 and report["machine"]["openmm"]
    for name, row in report["md"]["overhead"].items():
        assert row["pipeline_ns_per_day"] > 0, name
        bare = max(row["bare_ns_per_day"])
        assert row["end_to_end_overhead_fraction"] == pytest.approx(
            1 - row["pipeline_ns_per_day"] / bare
        )
        assert row["meets_target"] is (row["overhead_fraction"] <= 0.05)
        # overhead = output share (the run's own clocks) + cost of the chunked integration
        alternation = row["alternation"]
        assert row["overhead_fraction"] == pytest.approx(
            row["output_share"] + alternation["chunking_cost_fraction"]
        )
        assert 0 <= row["output_share"] < 1
        assert len(alternation["bare_ns_per_day"]) == len(alternation["chunked_ns_per_day"]) == 3
        step = report["md"]["timestep"][name]
        assert step["ratio_4fs_to_2fs"] == pytest.approx(max(step["4 fs, HMR"]) / step["2 fs"])
    sizes = report["md"]["size"]
    assert sizes["small"]["n_atoms"] < sizes["standard"]["n_atoms"] < sizes["large"]["n_atoms"]


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_GMX, reason="gmx not on PATH (Debian package gromacs)")
def test_gromacs_gets_the_same_energy(smoke):
    _, report = smoke
    standard = report["md"]["gromacs"]["standard"]
    energy = standard["energy"]
    # the same model in both engines: every term agrees within the stated tolerance
    assert energy["agree"], energy["terms_kj_per_mol"]
    terms = energy["terms_kj_per_mol"]
    assert terms["torsions"]["openmm"] > 0 and terms["nonbonded"]["openmm"] < 0
    assert standard["gromacs"]["ns_per_day"] > 0
    assert standard["ratio_openmm_to_gromacs"] == pytest.approx(
        standard["openmm_bare_2fs"]["ns_per_day"] / standard["gromacs"]["ns_per_day"]
    )
    # the smoke box is too small for the cluster's far exclusions: said, not hidden
    cluster = report["md"]["gromacs"]["standard_Ti6HPAB"]
    assert "skipped" in cluster and "too small" in cluster["skipped"]


@pytest.mark.slow
def test_analysis_workflow_and_tables(smoke):
    out, report = smoke
    analysis = report["analysis"]
    assert analysis["raw_read_frames_per_s"] > 0 and analysis["stage_frames_per_s"] > 0
    workflow = report["workflow"]
    assert workflow["n_systems"] == 5 and workflow["n_jobs"] > 5
    table = (out / "benchmarks_smoke.md").read_text()
    for heading in ("pipeline against a bare OpenMM loop", "OpenMM against GROMACS",
                    "4 fs with hydrogen mass", "cost against size", "raw read rate",
                    "DAG build"):  # fmt: skip
        assert heading in table


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_GMX, reason="gmx not on PATH (Debian package gromacs)")
def test_gromacs_gets_the_cluster_energy_with_its_far_exclusions(tmp_path):
    """The cluster's exclusions (metal site, ligand peripheries) reach beyond three bonds;
    ParmEd writes none, bench_md adds them. Without them GROMACS's non-bonded energy is
    off by thousands."""
    import openmm
    import openmm.app as app
    import openmm.unit

    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_md

    from electrolyte_md.cluster.document import build_cluster_species
    from electrolyte_md.forcefield.species import parameterize_species
    from electrolyte_md.forcefield.system import build_species_alone
    from electrolyte_md.md import MDProtocol

    species = tmp_path / "Ti6HPAB"
    info = build_cluster_species(
        "Ti6HPAB",
        {"carboxylate": "4-aminobenzoate", "alkoxide": "isopropoxide"},
        "TI6",
        species / "structure.sdf",
        species / "species.json",
        structure_path=REPO / "structures" / "ti6_hpab.json",
    )
    parameterize_species(
        info, species / "structure.sdf", {"model": "xtb_seminario"}, species / "params"
    )
    build_species_alone("Ti6HPAB", species / "params", tmp_path / "s", box_angstrom=60.0)
    pdb = app.PDBFile(str(tmp_path / "s" / "system.pdb"))
    protocol = MDProtocol(timestep_fs=2.0, hydrogen_mass_amu=None, threads=1)
    system, _ = bench_md.prepared_system(tmp_path / "s" / "system.xml", pdb.topology, protocol)
    far = bench_md.far_exclusions(system, pdb.topology)
    assert list(far) == ["TI6"] and len(far["TI6"]) > 100
    # GROMACS needs every excluded pair inside the cutoff: the metal site's reach 1.02 nm,
    # those between ligand peripheries across the cluster about 2 nm (run.py does the same)
    xyz = pdb.getPositions(asNumpy=True).value_in_unit(openmm.unit.nanometer)
    longest = bench_md.largest_excluded_distance_nm(system, xyz)
    assert 1.5 < longest < 2.5
    energy = bench_md.gromacs_energy_check(
        bench_md.with_cutoff(system, bench_md.gromacs_cutoff_nm(longest, 1.0)),
        pdb,
        tmp_path / "gmx",
        protocol,
        1,
    )
    assert energy["agree"], energy["terms_kj_per_mol"]
    assert "[ exclusions ]" in (tmp_path / "gmx" / "topol.top").read_text()


@pytest.mark.slow
def test_gpu_benchmark_harness_on_the_cpu(tmp_path):
    """bench_gpu.py's CPU form on a tiny pipeline-built box: every figure it reports is
    the ratio of the numbers beside it, productions are whole reports, the analysis ran."""
    script = str(REPO / "benchmarks" / "bench_gpu.py")
    for command in ("build", "run"):
        done = subprocess.run(
            [sys.executable, script, command, "--smoke", "--work", str(tmp_path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
            cwd=REPO,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "gpu.json").read_text())
    assert report["platform"] == "CPU" and report["smoke"] is True
    row = report["boxes"]["smoke"]
    assert row["n_atoms"] > 0 and row["device"] and row["platform"] == "CPU"
    for interval, timing in row["intervals"].items():
        assert timing["ratio_pipeline_to_bare"] == pytest.approx(
            timing["pipeline_ns_per_day"] / max(timing["bare_ns_per_day"])
        )
        reports = timing["production_ps"] / float(interval)
        assert reports >= 5 and reports == pytest.approx(round(reports))
    assert row["analysis"]["n_frames"] >= 5 and row["analysis"]["frames_per_s"] > 0
    assert "SMOKE RUN" in (tmp_path / "gpu.md").read_text()
