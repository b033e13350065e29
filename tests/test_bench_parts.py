"""Smoke tests of the analysis and workflow benchmarks (issue 8) on tiny cases."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import MDAnalysis
import numpy as np
import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

import bench_analysis  # noqa: E402
import bench_workflow  # noqa: E402

BOX_ANGSTROM = 16.0
N_FRAMES = 12
#: (residue name, atom names and elements) of the tiny electrolyte: ions and "solvent"
RESIDUES = (
    [("LI", [("Li", "Li")])] * 4
    + [("PF6", [("P", "P")] + [(f"F{i}", "F") for i in range(1, 7)])] * 4
    + [("NMP", [("O", "O"), ("C1", "C")])] * 20
)
PAIRS = {
    "Li-P": {"center": "resname LI", "ligand": "resname PF6 and element P"},
    "Li-F": {"center": "resname LI", "ligand": "resname PF6 and element F"},
    "Li-O": {"center": "resname LI", "ligand": "resname NMP and element O"},
}


@pytest.fixture(scope="module")
def tiny_trajectory(tmp_path_factory) -> tuple[Path, Path]:
    """A PDB topology and a 12-frame DCD of a random tiny Li/PF6/NMP box."""
    atoms = [
        (i, name, element) for i, (_, members) in enumerate(RESIDUES) for name, element in members
    ]
    n_atoms = len(atoms)
    universe = MDAnalysis.Universe.empty(
        n_atoms,
        n_residues=len(RESIDUES),
        atom_resindex=np.array([residue for residue, _, _ in atoms]),
        trajectory=True,
    )
    universe.add_TopologyAttr("names", [name for _, name, _ in atoms])
    universe.add_TopologyAttr("elements", [element for _, _, element in atoms])
    universe.add_TopologyAttr("resnames", [resname for resname, _ in RESIDUES])
    universe.add_TopologyAttr("resids", np.arange(1, len(RESIDUES) + 1))
    rng = np.random.default_rng(8)
    centres = rng.uniform(0.0, BOX_ANGSTROM, size=(N_FRAMES, len(RESIDUES), 3))
    offsets = rng.normal(scale=0.8, size=(N_FRAMES, n_atoms, 3))
    frames = centres[:, [residue for residue, _, _ in atoms]] + offsets
    dimensions = np.tile([BOX_ANGSTROM] * 3 + [90.0] * 3, (N_FRAMES, 1))
    universe.load_new(frames.astype(np.float32), dimensions=dimensions)
    root = tmp_path_factory.mktemp("bench-analysis")
    topology, trajectory = root / "tiny.pdb", root / "tiny.dcd"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PDB writer: missing chain IDs, occupancies...
        universe.atoms.write(str(topology))
        with MDAnalysis.Writer(str(trajectory), n_atoms) as writer:
            for _ in universe.trajectory:
                writer.write(universe.atoms)
    return topology, trajectory


def test_analysis_benchmark_on_a_tiny_trajectory(tiny_trajectory):
    topology, trajectory = tiny_trajectory
    # a fixed shell for Li-F; the others get the fallback if a random box has no shell
    pairs = {name: dict(spec) for name, spec in PAIRS.items()}
    pairs["Li-F"]["cutoff_angstrom"] = 3.0
    result = bench_analysis.measure(topology, trajectory, pairs, repeats=1)

    assert json.loads(json.dumps(result)) == result  # JSON-safe
    assert result["n_frames"] == N_FRAMES
    assert result["n_atoms"] == sum(len(members) for _, members in RESIDUES)
    assert result["file_size_mb"] > 0
    for key in (
        "raw_read_frames_per_s",
        "raw_block_read_frames_per_s",
        "stage_frames_per_s",
        "before_stage_frames_per_s",
        "job_frames_per_s",
        "job_start_s",
        "call_s",
    ):
        assert result[key] > 0, key
    assert result["ratio"] == pytest.approx(
        result["stage_frames_per_s"] / result["raw_read_frames_per_s"], rel=1e-4
    )
    assert result["target"] == 0.5
    assert result["meets_target"] is (result["ratio"] >= 0.5)
    # the whole job: one job start and one analyze_run call (its frame loop + fixed costs)
    assert result["job_s"] == pytest.approx(result["job_start_s"] + result["call_s"], rel=1e-4)
    assert result["fixed_s_per_call"] == pytest.approx(
        max(result["call_s"] - result["stage_s"], 0.0), rel=1e-4, abs=1e-6
    )
    assert result["frames_for_job_at_target"] == bench_analysis.frames_for_target(
        result["raw_read_frames_per_s"],
        result["stage_frames_per_s"],
        result["job_start_s"] + result["fixed_s_per_call"],
        0.5,
    )
    # the frame-by-frame route before, in the same run, writes the same files
    assert result["identical_files"] is True
    assert set(result["loop_s_per_pair"]) == set(result["pairs"]) == set(PAIRS)
    assert all(cn is not None and cn >= 0 for cn in result["coordination_numbers"].values())
    assert "page cache" in result["notes"]
    assert set(result["pairs_given_fallback_cutoff"]) <= {"Li-P", "Li-O"}
    for name in result["pairs_given_fallback_cutoff"]:
        assert result["pairs"][name]["cutoff_angstrom"] == bench_analysis.FALLBACK_CUTOFF_ANGSTROM


def test_frames_for_the_whole_job_to_reach_the_target():
    # raw 1000 frames/s, stage 2000 frames/s, 2 s fixed: N / (2 + N / 2000) >= 500 from
    # N = 500 * 2 / (1 - 500 / 2000) = 1333.3 on
    assert bench_analysis.frames_for_target(1000.0, 2000.0, 2.0, 0.5) == 1334
    n = 1334
    assert n / (2.0 + n / 2000.0) >= 500.0 > (n - 1) / (2.0 + (n - 1) / 2000.0)
    assert bench_analysis.frames_for_target(1000.0, 500.0, 2.0, 0.5) is None  # stage too slow
    assert bench_analysis.frames_for_target(1000.0, 400.0, 0.0, 0.5) is None


def test_pairs_without_a_shell_get_the_fallback_cutoff(monkeypatch, tmp_path):
    from electrolyte_md.analysis import coordination
    from electrolyte_md.errors import AnalysisError

    calls = []

    def fake_analyze_pair(topology, trajectory, name, center, ligand, **kwargs):
        calls.append((name, kwargs["cutoff_angstrom"]))
        if name == "Li-P" and kwargs["cutoff_angstrom"] is None:
            raise AnalysisError("RDF x: g(r) has a first peak at 3 A but no first minimum")
        if name == "Li-O":
            raise AnalysisError("pair 'Li-O': center selection matches no atom")
        return {}

    monkeypatch.setattr(coordination, "analyze_pair", fake_analyze_pair)
    pairs = {name: PAIRS[name] for name in ("Li-P", "Li-F")}
    checked, fixed = bench_analysis.runnable_pairs(tmp_path, tmp_path, pairs)
    assert fixed == ["Li-P"]
    assert checked["Li-P"]["cutoff_angstrom"] == bench_analysis.FALLBACK_CUTOFF_ANGSTROM
    assert "cutoff_angstrom" not in checked["Li-F"]
    assert calls == [("Li-P", None), ("Li-P", 3.5), ("Li-F", None)]
    with pytest.raises(AnalysisError, match="matches no atom"):
        bench_analysis.runnable_pairs(tmp_path, tmp_path, PAIRS)


def test_analysis_benchmark_rejects_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        bench_analysis.measure(tmp_path / "no.prmtop", tmp_path / "no.dcd", PAIRS)


def test_workflow_benchmark_on_five_systems(tmp_path):
    result = bench_workflow.measure(tmp_path, n_systems=5, n_temperatures=1, n_replicas=1)

    assert json.loads(json.dumps(result)) == result
    assert (result["n_systems"], result["n_temperatures"], result["n_replicas"]) == (5, 1, 1)
    assert result["n_runs"] == 5
    jobs = result["jobs_by_rule"]
    assert sum(jobs.values()) == result["n_jobs"]
    n_runs, n_cluster = result["n_runs"], result["n_systems_with_cluster"]
    # one job of each per-run rule per system x temperature x replica: the MD run and one
    # analysis job (RDFs of all its pairs in one trajectory pass, solvation, transport,
    # energy plot)
    for rule in ("run_md", "analyze_run"):
        assert jobs[rule] == n_runs, rule
    for rule in ("rdf", "plot_md", "transport", "solvation"):
        assert rule not in jobs, rule
    assert jobs["cluster_stability"] == n_cluster
    for rule in ("compose_system", "pack_box", "build_system", "system_summary"):
        assert jobs[rule] == result["n_systems"], rule
    assert jobs["all"] == 1
    assert result["parse_s"] > 0
    assert 0 < result["dry_run_s"] < result["target_s"]
    assert result["meets_target"] is True
    assert (tmp_path / "study.yaml").is_file()


def test_study_config_sizes():
    config = bench_workflow.study_config(7, 2, 3)
    assert len(config["systems"]) == 7
    assert config["md"]["temperatures_kelvin"] == [298.15, 253.15]
    assert config["md"]["replicas"] == 3
    assert len({spec["salts"]["LiPF6"] for spec in config["systems"].values()}) > 1
    with pytest.raises(ValueError):
        bench_workflow.study_config(0, 1, 1)


def test_parse_job_counts():
    output = (
        "Job stats:\njob      count\n-----  -------\n"
        "rdf          6\nall          1\ntotal        7\n\n"
    )
    assert bench_workflow.parse_job_counts(output) == {"rdf": 6, "all": 1, "total": 7}
    with pytest.raises(ValueError):
        bench_workflow.parse_job_counts("nothing to do")


def _analysis_files(topology: Path, trajectory: Path, out: Path) -> dict[str, dict[str, str]]:
    """analyze_pair of every pair of PAIRS, one call each (the rdf rule's route before it
    ran once per MD run)."""
    from electrolyte_md.analysis.coordination import analyze_pair

    out.mkdir()
    for name, spec in PAIRS.items():
        analyze_pair(
            topology,
            trajectory,
            name,
            spec["center"],
            spec["ligand"],
            out_csv=out / f"{name}.csv",
            out_json=out / f"{name}.json",
            out_png=out / f"{name}.png",
            cutoff_angstrom=3.0,
            skip_ps=0.0,
            n_blocks=4,
        )
    return {
        name: {ext: (out / f"{name}.{ext}").read_text() for ext in ("csv", "json")}
        for name in PAIRS
    }


def test_item5_speedups_leave_the_results_unchanged(tiny_trajectory, tmp_path, monkeypatch):
    """The single-pass route and the dense distance route give the files of the
    original per-pair capped_distance route byte for byte."""
    from electrolyte_md.analysis.coordination import analyze_pairs
    from electrolyte_md.analysis.rdf import RDFCoordination

    topology, trajectory = tiny_trajectory
    dense = _analysis_files(topology, trajectory, tmp_path / "dense")
    jobs = {
        name: {
            **spec,
            "cutoff_angstrom": 3.0,
            "out_csv": tmp_path / f"{name}.csv",
            "out_json": tmp_path / f"{name}.json",
            "out_png": tmp_path / f"{name}.png",
        }
        for name, spec in PAIRS.items()
    }
    records = analyze_pairs(topology, trajectory, jobs, n_blocks=4)
    assert set(records) == set(PAIRS)
    for name in PAIRS:
        assert (tmp_path / f"{name}.csv").read_text() == dense[name]["csv"]
        assert (tmp_path / f"{name}.json").read_text() == dense[name]["json"]
        assert json.loads(dense[name]["json"]) == records[name]
    # the capped_distance route alone (no dense matrices), as before the speedup
    monkeypatch.setattr(RDFCoordination, "dense_max_pairs", 0)
    assert _analysis_files(topology, trajectory, tmp_path / "capped") == dense
    # and MDAnalysis' frame-by-frame loop, as before the block route
    monkeypatch.setattr(RDFCoordination, "block_route", False)
    assert _analysis_files(topology, trajectory, tmp_path / "frames") == dense
    monkeypatch.setattr(RDFCoordination, "dense_max_pairs", 1_000_000)
    assert _analysis_files(topology, trajectory, tmp_path / "frames-dense") == dense
