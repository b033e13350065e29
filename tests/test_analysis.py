"""Tests of electrolyte_md.analysis.rdf (with its frames, peaks and coordination modules) on
small lattices and ideal gases with known answers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import MDAnalysis
import numpy as np
import pandas as pd
import pytest
from MDAnalysis.coordinates.memory import MemoryReader

from electrolyte_md.analysis import coordination
from electrolyte_md.analysis.coordination import (
    EQUILIBRATED_KEYS,
    analyze_pair,
    analyze_run,
    plot_rdf,
    rdf_table,
    summarize,
)
from electrolyte_md.analysis.energies import plot_md_timeseries
from electrolyte_md.analysis.frames import is_plain_dcd, read_blocks
from electrolyte_md.analysis.kernel import ortho_histograms
from electrolyte_md.analysis.peaks import find_first_minimum, find_first_peak, smooth
from electrolyte_md.analysis.rdf import CentreCounts, RDFCoordination, RDFCoordinationSet
from electrolyte_md.analysis.records import pair_files, read_pair_records
from electrolyte_md.errors import AnalysisError
from electrolyte_md.timeseries import analyze_series

BIN_WIDTH_ANGSTROM = 0.05


def make_universe(
    frames_angstrom: np.ndarray,
    box_angstrom: float | np.ndarray,
    atom_resindex: np.ndarray | None = None,
) -> MDAnalysis.Universe:
    """Universe of ``frames_angstrom`` (n_frames x n_atoms x 3) in a cubic box.

    Each atom is its own residue unless ``atom_resindex`` says otherwise;
    ``box_angstrom`` is one edge length or one per frame.
    """
    frames = np.asarray(frames_angstrom, dtype=np.float32)
    if frames.ndim == 2:
        frames = frames[None]
    n_frames, n_atoms, _ = frames.shape
    if atom_resindex is None:
        atom_resindex = np.arange(n_atoms)
    n_residues = int(np.max(atom_resindex)) + 1
    u = MDAnalysis.Universe.empty(
        n_atoms, n_residues=n_residues, atom_resindex=atom_resindex, trajectory=True
    )
    edges = np.broadcast_to(np.asarray(box_angstrom, dtype=float), (n_frames,))
    dimensions = np.zeros((n_frames, 6))
    dimensions[:, :3] = edges[:, None]
    dimensions[:, 3:] = 90.0
    u.load_new(frames, format=MemoryReader, dimensions=dimensions)
    return u


def cubic_sites(n_per_edge: int, spacing_angstrom: float) -> tuple[np.ndarray, np.ndarray]:
    """Sites ``spacing * (i, j, k)`` of a simple cubic lattice and their ``(i, j, k)``."""
    grid = np.arange(n_per_edge)
    ijk = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), axis=-1).reshape(-1, 3)
    return ijk * spacing_angstrom, ijk


def test_fcc_lattice_same_group_twelve_neighbours():
    a = 4.0
    n_cells = 4
    corners, _ = cubic_sites(n_cells, a)
    basis = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]) * a
    positions = (corners[:, None, :] + basis[None]).reshape(-1, 3) + 0.1
    u = make_universe(positions, n_cells * a)
    rdf = RDFCoordination(u.atoms, u.atoms, bin_width_angstrom=BIN_WIDTH_ANGSTROM).run()
    res = rdf.results

    assert res.n_frames == 1
    assert res.r_max_angstrom == pytest.approx(n_cells * a / 2)
    assert len(res.bin_edges_angstrom) == len(res.g_r) + 1 == len(res.cn_r) + 1
    assert abs(res.first_peak_angstrom - a / math.sqrt(2)) <= BIN_WIDTH_ANGSTROM
    assert res.first_peak_height > 1.0
    assert a / math.sqrt(2) < res.first_min_angstrom < a
    assert res.cutoff_source == "first minimum"
    assert res.cutoff_angstrom == res.first_min_angstrom
    assert res.coordination_number == pytest.approx(12.0, abs=1e-9)
    assert math.isnan(res.coordination_number_sem)  # 1 frame < 5 blocks
    # Running CN counts whole shells: 12 + 6 within a, 12 + 6 + 24 within a*sqrt(3/2).
    table = rdf_table(res)
    assert list(table.columns) == ["r_angstrom", "g_r", "cn_r"]
    assert table.loc[table.r_angstrom.between(a + 0.1, 4.8), "cn_r"].eq(18).all()
    assert table.loc[table.r_angstrom.between(5.0, 5.5), "cn_r"].eq(42).all()
    assert table.cn_r.iloc[0] == 0.0
    # Same group, one atom per residue: normalised by N(N-1) pairs.
    n = u.atoms.n_atoms
    assert res.effective_ligand_density_per_angstrom3 == pytest.approx((n - 1) / (n_cells * a) ** 3)
    assert res.ligand_density_per_angstrom3 == pytest.approx(n / (n_cells * a) ** 3)


def test_rock_salt_distinct_groups_six_neighbours():
    a = 4.0  # conventional cell; Na-Cl nearest distance a/2
    n_sites = 8
    positions, ijk = cubic_sites(n_sites, a / 2)
    sodium = ijk.sum(axis=1) % 2 == 0
    u = make_universe(positions + 0.3, n_sites * a / 2)
    na, cl = u.atoms[sodium], u.atoms[~sodium]
    res = RDFCoordination(na, cl, r_max_angstrom=7.0).run().results

    assert abs(res.first_peak_angstrom - a / 2) <= BIN_WIDTH_ANGSTROM
    assert a / 2 < res.cutoff_angstrom < a / 2 * math.sqrt(3)
    assert res.coordination_number == pytest.approx(6.0, abs=1e-9)
    assert res.r_max_angstrom == pytest.approx(7.0)
    assert res.ligand_density_per_angstrom3 == pytest.approx(cl.n_atoms / (n_sites * a / 2) ** 3)
    assert res.effective_ligand_density_per_angstrom3 == res.ligand_density_per_angstrom3


def test_ideal_gas_distinct_groups_g_is_one_and_cn_follows_density():
    rng = np.random.default_rng(20240611)
    box = 20.0
    n_center, n_ligand, n_frames = 40, 200, 40
    frames = rng.uniform(0.0, box, size=(n_frames, n_center + n_ligand, 3))
    u = make_universe(frames, box)
    center, ligand = u.atoms[:n_center], u.atoms[n_center:]
    rdf = RDFCoordination(center, ligand, cutoff_angstrom=4.0).run()
    res = rdf.results

    assert res.n_frames == n_frames
    assert res.r_max_angstrom == pytest.approx(box / 2)
    assert res.mean_volume_angstrom3 == pytest.approx(box**3, rel=1e-6)
    density = n_ligand / box**3
    assert res.ligand_density_per_angstrom3 == pytest.approx(density)
    r = res.bin_centers_angstrom
    far = r >= 3.0
    assert np.mean(res.g_r[far]) == pytest.approx(1.0, abs=0.02)
    for radius in (4.0, 6.0, 8.0):
        k = int(np.argmin(np.abs(r - radius)))
        ideal = density * 4.0 / 3.0 * math.pi * r[k] ** 3
        assert res.cn_r[k] == pytest.approx(ideal, rel=0.03)
    assert res.cutoff_source == "user"
    assert res.coordination_number == pytest.approx(
        density * 4.0 / 3.0 * math.pi * 4.0**3, rel=0.03
    )
    # With 40 frames the block SEM exists and is small compared with the CN.
    assert 0.0 < res.coordination_number_sem < 0.05 * res.coordination_number
    assert np.mean(res.coordination_number_per_frame) == pytest.approx(res.coordination_number)


def test_ideal_gas_of_diatomics_same_group_normalisation_excludes_partner():
    # 10 rigid diatomics (bond 1 Å) in a 10 Å box: around one atom there are N - 2
    # atoms of other molecules, so g -> 1 only if the own molecule is excluded from
    # the normaliser (N * N pairs would give g ~ 0.9 here).
    rng = np.random.default_rng(7)
    box, n_mol, n_frames = 10.0, 10, 600
    first = rng.uniform(0.0, box, size=(n_frames, n_mol, 3))
    direction = rng.normal(size=(n_frames, n_mol, 3))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    frames = np.stack([first, first + direction], axis=2).reshape(n_frames, 2 * n_mol, 3)
    u = make_universe(frames, box, atom_resindex=np.repeat(np.arange(n_mol), 2))
    res = RDFCoordination(u.atoms, u.atoms, cutoff_angstrom=2.0).run().results

    n = 2 * n_mol
    assert res.effective_ligand_density_per_angstrom3 == pytest.approx((n - 2) / box**3)
    r = res.bin_centers_angstrom
    assert np.mean(res.g_r[(r >= 1.5) & (r <= 5.0)]) == pytest.approx(1.0, abs=0.02)
    # The bonded partner at 1 Å is never counted.
    k = int(np.argmin(np.abs(r - 1.0)))
    assert res.g_r[k] < 2.0


def test_user_cutoff_gives_cn_at_that_distance():
    a = 4.0
    positions, ijk = cubic_sites(8, a / 2)
    sodium = ijk.sum(axis=1) % 2 == 0
    u = make_universe(positions, 8 * a / 2)
    na, cl = u.atoms[sodium], u.atoms[~sodium]
    # Cl shells around Na: 6 at 2.0 Å, 8 at 2*sqrt(3) = 3.46 Å, 24 at 2*sqrt(5) = 4.47 Å.
    res = RDFCoordination(na, cl, cutoff_angstrom=5.0).run().results
    assert res.cutoff_source == "user"
    assert res.cutoff_angstrom == 5.0
    assert res.coordination_number == pytest.approx(38.0, abs=1e-9)
    assert abs(res.first_min_angstrom - 2.75) < 0.5  # automatic minimum still reported


def test_same_residue_pair_is_not_counted():
    # Atom 0 (residue 0) has atom 1 of its own residue at 1 Å and atom 2 of another
    # residue at 2 Å.
    positions = np.array([[5.0, 5.0, 5.0], [6.0, 5.0, 5.0], [5.0, 7.0, 5.0]])
    u = make_universe(positions, 12.0, atom_resindex=np.array([0, 0, 1]))
    center, ligand = u.atoms[[0]], u.atoms[[1, 2]]
    excluded = RDFCoordination(center, ligand, cutoff_angstrom=3.0).run().results
    assert excluded.coordination_number == pytest.approx(1.0, abs=1e-12)
    assert excluded.cn_r[excluded.bin_centers_angstrom < 1.9].max() == 0.0
    assert excluded.effective_ligand_density_per_angstrom3 == pytest.approx(1 / 12.0**3)
    kept = RDFCoordination(center, ligand, cutoff_angstrom=3.0, exclude_same_residue=False)
    assert kept.run().results.coordination_number == pytest.approx(2.0, abs=1e-12)


def test_block_standard_error_matches_hand_calculation():
    # One center; in frame f, k_f of 4 ligands sit at 1.5 Å and the rest at 8 Å.
    counts = np.array([0, 1, 2, 3, 4, 0, 1, 2, 3, 4])
    near = np.array([[1.5, 0, 0], [-1.5, 0, 0], [0, 1.5, 0], [0, -1.5, 0]])
    far = np.array([[8.0, 0, 0], [-8.0, 0, 0], [0, 8.0, 0], [0, -8.0, 0]])
    frames = []
    for k in counts:
        ligands = np.where(np.arange(4)[:, None] < k, near, far)
        frames.append(np.vstack([[0.0, 0.0, 0.0], ligands]) + 10.0)
    u = make_universe(np.array(frames), 20.0)
    res = RDFCoordination(u.atoms[[0]], u.atoms[1:], cutoff_angstrom=3.0).run().results
    np.testing.assert_allclose(res.coordination_number_per_frame, counts)
    assert res.coordination_number == pytest.approx(counts.mean())
    block_means = counts.reshape(5, 2).mean(axis=1)
    expected = np.std(block_means, ddof=1) / math.sqrt(5)
    assert res.coordination_number_sem == pytest.approx(expected, rel=1e-12)
    three = RDFCoordination(u.atoms[[0]], u.atoms[1:], cutoff_angstrom=3.0, n_blocks=10)
    assert three.run().results.coordination_number_sem == pytest.approx(
        np.std(counts, ddof=1) / math.sqrt(10)
    )


def test_default_r_max_uses_smallest_box_over_frames():
    positions = np.array([[[1.0, 1.0, 1.0], [3.0, 1.0, 1.0]]] * 3)
    u = make_universe(positions, np.array([16.0, 14.0, 15.0]))
    res = RDFCoordination(u.atoms[[0]], u.atoms[[1]], cutoff_angstrom=2.5).run().results
    assert res.r_max_angstrom == pytest.approx(7.0)
    assert res.mean_volume_angstrom3 == pytest.approx(np.mean([16.0**3, 14.0**3, 15.0**3]))
    assert res.coordination_number == pytest.approx(1.0)


def test_empty_selection_names_the_group():
    u = make_universe(np.zeros((3, 3)), 10.0)
    with pytest.raises(AnalysisError, match="ligand group is empty"):
        RDFCoordination(u.atoms, u.atoms[[]])
    with pytest.raises(AnalysisError, match="center group is empty"):
        RDFCoordination(u.atoms[[]], u.atoms)


def test_r_max_beyond_half_box_is_refused():
    u = make_universe(np.random.default_rng(0).uniform(0, 10, (4, 3)), 10.0)
    with pytest.raises(AnalysisError, match=r"exceeds half the smallest box width \(5 Å\)"):
        RDFCoordination(u.atoms, u.atoms, r_max_angstrom=6.0)
    # A later, smaller frame is caught during run().
    frames = np.random.default_rng(0).uniform(0, 8, (2, 4, 3))
    u2 = make_universe(frames, np.array([12.0, 9.0]))
    rdf = RDFCoordination(u2.atoms, u2.atoms, r_max_angstrom=5.0, cutoff_angstrom=2.0)
    with pytest.raises(AnalysisError, match="minimum-image.*frame 1|frame 1.*minimum-image"):
        rdf.run()


def test_missing_box_is_refused():
    u = MDAnalysis.Universe.empty(2, trajectory=True)
    u.atoms.positions = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    with pytest.raises(AnalysisError, match="no periodic box"):
        RDFCoordination(u.atoms, u.atoms)


def test_no_structure_asks_for_cutoff():
    # Two atoms only: g(r) is a lone spike with no minimum after it.
    u = make_universe(np.array([[1.0, 1.0, 1.0], [2.0, 1.0, 1.0]]), 10.0)
    rdf = RDFCoordination(u.atoms[[0]], u.atoms[[1]], r_max_angstrom=1.2)
    with pytest.raises(AnalysisError, match="cutoff_angstrom"):
        rdf.run()


def test_plot_and_summary(tmp_path):
    rng = np.random.default_rng(3)
    positions, ijk = cubic_sites(6, 2.0)
    sodium = ijk.sum(axis=1) % 2 == 0
    frames = positions[None] + rng.normal(scale=0.1, size=(6, len(positions), 3))
    u = make_universe(frames, 12.0)
    rdf = RDFCoordination(u.atoms[sodium], u.atoms[~sodium]).run()

    png = tmp_path / "na_cl.png"
    plot_rdf(rdf.results, png, "Na-Cl")
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    assert [p.name for p in tmp_path.iterdir()] == ["na_cl.png"]  # no temp file left

    summary = summarize(rdf.results, "Na-Cl")
    assert set(summary) == {
        "pair",
        "first_peak_angstrom",
        "first_peak_height",
        "cutoff_angstrom",
        "cutoff_source",
        "coordination_number",
        "coordination_number_sem",
        "coordination_number_first_block",
        "coordination_number_last_block",
        "coordination_number_block_means",
        "n_frames",
        "n_blocks",
        "r_max_angstrom",
        "bin_width_angstrom",
        *EQUILIBRATED_KEYS,
    }
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary
    assert summary["pair"] == "Na-Cl"
    assert summary["n_frames"] == 6
    assert summary["n_blocks"] == 5  # the default; the SEM's block count is reported
    assert summary["coordination_number"] == pytest.approx(6.0, abs=1e-9)
    assert summary["coordination_number_sem"] == pytest.approx(0.0, abs=1e-12)
    assert summary["coordination_number_first_block"] == pytest.approx(6.0, abs=1e-9)
    assert summary["coordination_number_last_block"] == pytest.approx(6.0, abs=1e-9)
    assert summary["coordination_number_block_means"] == pytest.approx([6.0] * 5, abs=1e-9)
    assert summary["bin_width_angstrom"] == BIN_WIDTH_ANGSTROM
    # Fewer frames than blocks: the SEM is undefined and serialised as null.
    one = RDFCoordination(u.atoms[sodium], u.atoms[~sodium], n_blocks=10).run(stop=3)
    assert summarize(one, "Na-Cl")["coordination_number_sem"] is None
    assert summarize(one, "Na-Cl")["coordination_number_last_block"] is None
    assert summarize(one, "Na-Cl")["coordination_number_block_means"] == []
    # too few frames for an equilibrated region (6 < MIN_SAMPLES): null, not a guess
    assert all(summary[key] is None for key in EQUILIBRATED_KEYS)


def test_centre_counts_are_the_per_frame_cn_centre_by_centre():
    """On a bin edge the RDF's per-frame CN is the mean of each centre's count; an atom in
    both groups does not count itself; a rock-salt Na has six Cl."""
    rng = np.random.default_rng(21)
    u = make_universe(rng.uniform(0.0, 14.0, size=(12, 80, 3)), 14.0)
    centre, ligand = u.atoms[:30], u.atoms[20:]  # ten atoms in both groups
    rdf = RDFCoordination(centre, ligand, cutoff_angstrom=3.5).run()  # 3.5 = 70 bins
    counts = CentreCounts([(centre, ligand, 3.5), (centre, centre, 3.5)]).run()
    same = counts.results.counts[0]
    assert same.shape == (12, 30)
    np.testing.assert_allclose(same.mean(axis=1), rdf.results.coordination_number_per_frame)
    alone = RDFCoordination(centre, centre, cutoff_angstrom=3.5).run()
    np.testing.assert_allclose(
        counts.results.counts[1].mean(axis=1), alone.results.coordination_number_per_frame
    )
    positions, ijk = cubic_sites(4, 2.0)
    salt = make_universe(positions, 8.0)
    sodium = ijk.sum(axis=1) % 2 == 0
    na, cl = salt.atoms[sodium], salt.atoms[~sodium]
    assert np.all(CentreCounts([(na, cl, 2.5)]).run().results.counts[0] == 6)


def test_summary_weighs_the_spread_between_centres():
    """Centres that keep their ligands (a frozen box): the CN's error is their spread, not
    the near-zero one of a series that never moves."""
    rng = np.random.default_rng(2)
    base = rng.uniform(0.0, 14.0, size=(80, 3))
    frames = base[None] + rng.normal(scale=0.05, size=(40, 80, 3))
    u = make_universe(frames, 14.0)
    centre, ligand = u.atoms[:30], u.atoms[30:]
    rdf = RDFCoordination(centre, ligand, cutoff_angstrom=3.5).run()
    counts = CentreCounts([(centre, ligand, 3.5)]).run().results.counts[0]
    summary = summarize(rdf, "A-B", counts)
    stats = analyze_series(
        rdf.results.coordination_number_per_frame, rdf.results.times_ps, sites=counts
    )
    assert summary["n_sites"] == 30
    assert summary["se_between_sites"] == pytest.approx(stats.standard_error_sites)
    assert summary["coordination_number_equilibrated_se"] == pytest.approx(
        max(summary["se_from_time"], summary["se_between_sites"])
    )
    assert summary["se_between_sites"] > 5 * summary["se_from_time"]


def test_summary_carries_the_equilibrated_region_of_the_per_frame_cn():
    """The per-frame CN of a fluctuating liquid-like box, through timeseries.analyze_series:
    the record's equilibrated mean, its error, discarded time and drift are that series'."""
    rng = np.random.default_rng(8)
    frames = rng.uniform(0.0, 14.0, size=(60, 80, 3))
    u = make_universe(frames, 14.0)
    rdf = RDFCoordination(u.atoms[:30], u.atoms[30:], cutoff_angstrom=3.5).run()
    per_frame, times = rdf.results.coordination_number_per_frame, rdf.results.times_ps
    assert np.ptp(per_frame) > 0 and len(times) == 60
    expected = analyze_series(per_frame, times)
    summary = summarize(rdf, "A-B")
    assert summary["coordination_number_equilibrated"] == pytest.approx(expected.mean)
    assert summary["coordination_number_equilibrated_se"] == pytest.approx(expected.standard_error)
    assert summary["discarded_ps"] == pytest.approx(expected.discarded_time)
    assert summary["n_effective"] == pytest.approx(expected.n_effective)
    assert summary["drift_p"] == pytest.approx(expected.drift_p)
    # uncorrelated frames: little discarded, g near 1, the mean near the all-frame CN
    assert summary["statistical_inefficiency"] < 2.0
    assert summary["coordination_number_equilibrated"] == pytest.approx(
        summary["coordination_number"], abs=4 * summary["coordination_number_equilibrated_se"]
    )


#: Pairs of the rock-salt trajectory of :func:`rock_salt_files`, as system_pairs gives them.
ROCK_SALT_PAIRS = {
    "Na-Cl": {"center": "resname NA", "ligand": "resname CL", "requires": []},
    "Na-Na": {"center": "resname NA", "ligand": "resname NA", "cutoff_angstrom": 3.2},
}


@pytest.fixture
def rock_salt_files(tmp_path) -> tuple[Path, Path]:
    """PDB topology and 6-frame DCD of a thermally disordered rock-salt crystal."""
    import warnings

    rng = np.random.default_rng(5)
    positions, ijk = cubic_sites(6, 2.0)
    sodium = ijk.sum(axis=1) % 2 == 0
    frames = positions[None] + rng.normal(scale=0.1, size=(6, len(positions), 3))
    u = make_universe(frames, 12.0)
    u.add_TopologyAttr("names", np.where(sodium, "NA", "CL"))
    u.add_TopologyAttr("resnames", np.where(sodium, "NA", "CL"))
    u.add_TopologyAttr("elements", np.where(sodium, "Na", "Cl"))
    u.add_TopologyAttr("resids", np.arange(1, len(positions) + 1))
    topology, trajectory = tmp_path / "salt.pdb", tmp_path / "salt.dcd"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PDB writer: missing chain IDs, occupancies...
        u.atoms.write(str(topology))
        with MDAnalysis.Writer(str(trajectory), u.atoms.n_atoms) as writer:
            for _ in u.trajectory:
                writer.write(u.atoms)
    return topology, trajectory


def test_analyze_run_writes_every_pair_as_analyze_pair_does(rock_salt_files, tmp_path):
    topology, trajectory = rock_salt_files
    out = tmp_path / "run" / "rdf"
    records = analyze_run(topology, trajectory, ROCK_SALT_PAIRS, out, n_blocks=3, run_label="x")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{stem}_{pair}.{ext}"
        for pair in ROCK_SALT_PAIRS
        for stem, ext in (("rdf", "csv"), ("cn", "json"), ("rdf", "png"))
    )
    assert records["Na-Cl"]["coordination_number"] == pytest.approx(6.0, abs=0.05)
    assert records["Na-Na"]["cutoff_source"] == "user"
    # per pair, the files of one analyze_pair call
    for pair, spec in ROCK_SALT_PAIRS.items():
        alone = tmp_path / "alone" / pair
        alone.mkdir(parents=True)
        files = pair_files(alone, pair)
        analyze_pair(
            topology,
            trajectory,
            pair,
            spec["center"],
            spec["ligand"],
            cutoff_angstrom=spec.get("cutoff_angstrom"),
            n_blocks=3,
            title=f"{pair} in x",
            **files,
        )
        for key, path in pair_files(out, pair).items():
            if key != "out_png":
                assert path.read_text() == files[key].read_text(), path.name
    # the records come back sorted by pair, as written
    assert read_pair_records(out, ["Na-Na", "Na-Cl"]) == [records["Na-Cl"], records["Na-Na"]]
    assert read_pair_records(out) == read_pair_records(out, ROCK_SALT_PAIRS)


def test_analyze_run_leaves_no_pair_file_when_it_fails(rock_salt_files, tmp_path, monkeypatch):
    topology, trajectory = rock_salt_files
    out = tmp_path / "rdf"
    out.mkdir()
    (out / "cn_Na-Na.json").write_text("{}")  # stale, from an earlier run
    (out / "notes.txt").write_text("not a pair file")
    real_plot, calls = coordination.plot_rdf, []

    def plot_then_fail(results, path, title):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("No space left on device")
        real_plot(results, path, title)

    monkeypatch.setattr(coordination, "plot_rdf", plot_then_fail)
    with pytest.raises(OSError, match="No space left"):
        analyze_run(topology, trajectory, ROCK_SALT_PAIRS, out, n_blocks=3)
    assert len(calls) == 2  # the first pair's files were written, then removed
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    with pytest.raises(AnalysisError, match="no RDF pair"):
        analyze_run(topology, trajectory, {}, out)


def test_read_pair_records_names_the_directory_and_what_it_lacks(tmp_path):
    with pytest.raises(AnalysisError, match=r"RDF directory .*nowhere does not exist"):
        read_pair_records(tmp_path / "nowhere")
    rdf = tmp_path / "298.15K" / "rep1" / "rdf"
    rdf.mkdir(parents=True)
    with pytest.raises(AnalysisError, match=r"rep1/rdf lacks cn_\*\.json \(pairs there: none\)"):
        read_pair_records(rdf)
    (rdf / "cn_Li-P.json").write_text(json.dumps({"pair": "Li-P", "coordination_number": 1.2}))
    (rdf / "cn_Li-O.json").write_text(json.dumps({"coordination_number": 4.1}))
    (rdf / "cn_Ti-P.json").write_text(json.dumps({"pair": "Ti-P"}))
    records = read_pair_records(rdf, ["Li-P", "Li-O"])
    assert [r["pair"] for r in records] == ["Li-O", "Li-P"]  # sorted; pair filled in
    assert [r["pair"] for r in read_pair_records(rdf)] == ["Li-O", "Li-P", "Ti-P"]
    with pytest.raises(AnalysisError, match=r"rep1/rdf lacks cn_Li-F\.json \(pairs there: \["):
        read_pair_records(rdf, ["Li-P", "Li-F"])
    (rdf / "cn_Li-O.json").write_text("{not json")
    with pytest.raises(AnalysisError, match=r"cn_Li-O\.json: cannot read the RDF record"):
        read_pair_records(rdf, ["Li-O"])


DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("pair", "window_angstrom", "flat_cn"),
    # real g(r) of 1 M LiPF6 in NMP (1,688 atoms, 250 ps, 298 K) from the default run;
    # the Li-P contact peak is split into bi- and monodentate parts around 3.2 A, and
    # the shell ends in the wide gap at 4.0-4.8 A; Li-F has no flat gap, since the other
    # F atoms of a bound PF6- follow at 3-4 A
    [("Li-P", (3.9, 4.9), True), ("Li-F", (2.5, 3.1), False), ("Li-O", (2.5, 3.5), True)],
)
def test_first_minimum_of_real_electrolyte_rdfs(pair, window_angstrom, flat_cn):
    table = pd.read_csv(DATA / f"rdf_{pair}_LiPF6_NMP_250ps.csv")
    g_r = table["g_r"].to_numpy()
    bin_width = float(table["r_angstrom"].iloc[1] - table["r_angstrom"].iloc[0])
    smoothed = smooth(g_r, bin_width)
    peak = find_first_peak(smoothed)
    minimum = find_first_minimum(smoothed, peak)
    assert minimum is not None
    cutoff = table["r_angstrom"].iloc[minimum]
    assert window_angstrom[0] < cutoff < window_angstrom[1]
    if flat_cn:  # the running coordination number is flat around a clear shell boundary
        cn = table["cn_r"].to_numpy()
        assert cn[minimum + 4] - cn[minimum - 4] < 0.1 * cn[minimum]


# --- the block route (RDFCoordination.block_route) against the frame-by-frame route ---


def _frame_route(monkeypatch, run):
    """``run()`` on MDAnalysis' frame-by-frame loop (the route before the block route)."""
    with monkeypatch.context() as patch:
        patch.setattr(RDFCoordination, "block_route", False)
        return run()


def assert_same_results(block, frame):
    """Every result of two finished RDFCoordination runs equal to the last bit."""
    assert set(block.results) == set(frame.results)
    for key in frame.results:
        a, b = block.results[key], frame.results[key]
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), key
        elif isinstance(b, float) and math.isnan(b):
            assert math.isnan(a), key
        else:
            assert a == b and type(a) is type(b), key
    assert np.array_equal(block.frames, frame.frames)
    assert np.array_equal(block.times, frame.times)


def _box_edges_and_coordinates(rng, n_frames, n_atoms, edges):
    """Unwrapped coordinates (atoms drift over several box lengths) in a box per frame."""
    drift = np.cumsum(rng.normal(scale=2.0, size=(n_frames, n_atoms, 3)), axis=0)
    return rng.uniform(-30.0, 60.0, size=(1, n_atoms, 3)) + drift


@pytest.mark.parametrize(
    "case", ["distinct", "same group", "NPT boxes", "small r_max", "triclinic", "user r_max"]
)
def test_block_route_gives_the_frame_route_results_to_the_last_bit(case, monkeypatch):
    rng = np.random.default_rng(11)
    n_frames, n_atoms = 23, 90  # blocks of frames are not a divisor of this
    edges = np.full(n_frames, 17.3)
    if case == "NPT boxes":
        edges = 17.3 + rng.normal(scale=0.2, size=n_frames)
    frames = _box_edges_and_coordinates(rng, n_frames, n_atoms, edges)
    u = make_universe(frames, edges, atom_resindex=np.arange(n_atoms) // 3)
    if case == "triclinic":
        dimensions = np.tile([17.3, 18.1, 17.7, 80.0, 95.0, 100.0], (n_frames, 1))
        u.load_new(frames.astype(np.float32), format=MemoryReader, dimensions=dimensions)
    center, ligand = u.atoms[::3], u.atoms[1::3] + u.atoms[2::7]
    kwargs = {"cutoff_angstrom": 3.0, "n_blocks": 4}
    if case == "same group":
        center = ligand = u.atoms
    if case == "small r_max":  # capped_distance's grid search, frame by frame
        kwargs["r_max_angstrom"] = 4.0
    if case == "user r_max":
        kwargs["r_max_angstrom"] = 8.0

    def run():
        return RDFCoordination(center, ligand, **kwargs).run(step=2 if case == "distinct" else 1)

    assert_same_results(run(), _frame_route(monkeypatch, run))


@pytest.mark.parametrize("edges", [(37.775,) * 3, (12.0, 31.7, 20.05), (9.1, 9.1, 44.0)])
def test_compiled_histograms_bin_distance_arrays_numbers(edges):
    # unwrapped coordinates up to several box lengths apart, exact half-box offsets and
    # ligands a whole number of bins from a center along x (on a bin edge before rounding):
    # every distance must be distance_array's to the last bit for its bin to agree
    from MDAnalysis.lib.distances import distance_array

    rng = np.random.default_rng(4)
    bin_width = 0.05
    box = np.array([*edges, 90.0, 90.0, 90.0], dtype=np.float32)
    n_frames, n_center, n_ligand = 5, 17, 240
    center = rng.uniform(-80.0, 120.0, size=(n_frames, n_center, 3)).astype(np.float32)
    ligand = rng.uniform(-80.0, 120.0, size=(n_frames, n_ligand, 3)).astype(np.float32)
    ligand[:, 0] = center[:, 0] + box[:3] / 2
    ligand[:, 1:100, 0] = center[:, :1, 0] + rng.integers(1, 120, (n_frames, 99)) * bin_width
    ligand[:, 1:100, 1:] = center[:, :1, 1:]
    counted = rng.random((n_center, n_ligand)) > 0.1
    n_bins = int(min(edges) / 2 / bin_width)
    r_search = n_bins * bin_width
    expected = np.zeros((n_frames, n_bins), dtype=np.int64)
    for f in range(n_frames):
        matrix = distance_array(center[f], ligand[f], box=box)
        bins = np.floor(matrix[(matrix <= r_search) & counted] / bin_width).astype(np.int64)
        expected[f] = np.bincount(bins[bins < n_bins], minlength=n_bins)
    edges64 = box[:3].astype(np.float64)
    inverse = (1.0 / edges64).astype(np.float32).astype(np.float64)
    got = np.zeros_like(expected)
    ortho_histograms(
        np.ascontiguousarray(np.moveaxis(center, 2, 0)),
        np.ascontiguousarray(np.moveaxis(ligand, 2, 0)),
        counted,
        edges64,
        inverse,
        bin_width,
        r_search,
        got,
    )
    assert np.array_equal(got, expected)
    assert expected.sum() > 1_000  # not an empty histogram


@pytest.fixture(scope="module")
def water_md(tmp_path_factory) -> tuple[Path, Path]:
    """PDB and 12-frame OpenMM DCD of a short MD run of a TIP3P water box (387 atoms)."""
    import openmm
    from md_testing import write_water_box
    from openmm import app, unit

    root = tmp_path_factory.mktemp("water-md")
    system_xml, system_pdb = write_water_box(root)
    pdb = app.PDBFile(str(system_pdb))
    system = openmm.XmlSerializer.deserialize(system_xml.read_text())
    integrator = openmm.LangevinMiddleIntegrator(300 * unit.kelvin, 1 / unit.picosecond, 0.002)
    integrator.setRandomNumberSeed(3)
    platform = openmm.Platform.getPlatformByName("CPU")
    simulation = app.Simulation(pdb.topology, system, integrator, platform, {"Threads": "1"})
    simulation.context.setPositions(pdb.positions)
    simulation.context.setVelocitiesToTemperature(300 * unit.kelvin, 3)
    trajectory = root / "water.dcd"
    simulation.reporters.append(app.DCDReporter(str(trajectory), 10))
    simulation.step(120)
    del simulation  # closes the DCD
    return system_pdb, trajectory


WATER_PAIRS = {
    "O-O": {"center": "name O", "ligand": "name O"},
    "O-H": {"center": "name O", "ligand": "name H1 H2", "cutoff_angstrom": 2.4},
}


def test_block_route_reads_a_dcd_as_the_frame_loop_does(water_md, rock_salt_files):
    # evenly spaced frames through readframes, unordered ones through the reader
    import warnings

    for topology, trajectory in (water_md, rock_salt_files):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DCD timestep copies, PDB elements
            u = MDAnalysis.Universe(str(topology), str(trajectory))
        reader = u.trajectory
        assert is_plain_dcd(reader)
        atoms = np.arange(0, u.atoms.n_atoms, 5)
        frame_sets = (np.arange(reader.n_frames), np.arange(1, reader.n_frames, 2))
        for frames in (*frame_sets, np.array([3, 0, reader.n_frames - 1, 2])):
            blocks = list(read_blocks(reader, atoms, frames, block_frames=4))
            numbers, times, positions, dimensions = (
                np.concatenate(x) for x in zip(*blocks, strict=True)
            )
            assert np.array_equal(numbers, frames)
            for k, ts in enumerate(reader[frames]):
                assert np.array_equal(positions[k], ts.positions[atoms])
                assert np.array_equal(dimensions[k], ts.dimensions)
                assert times[k] == ts.time
        assert reader.frame == 0  # rewound, as MDAnalysis' loop leaves it


def test_analyze_run_of_a_real_trajectory_writes_the_files_of_the_frame_route(
    water_md, monkeypatch, tmp_path
):
    topology, trajectory = water_md

    def run(out, pairs, **kwargs):
        records = analyze_run(topology, trajectory, pairs, out, n_blocks=3, **kwargs)
        files = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.suffix != ".png"}
        return records, files

    fixed_shells = {name: {**spec, "cutoff_angstrom": 3.3} for name, spec in WATER_PAIRS.items()}
    cases = [
        (WATER_PAIRS, {}),
        (WATER_PAIRS, {"skip_ps": 0.05}),
        (fixed_shells, {"r_max_angstrom": 4.5}),  # capped_distance's route, frame by frame
    ]
    for k, (pairs, kwargs) in enumerate(cases):
        block = run(tmp_path / f"block{k}", pairs, **kwargs)
        frame = _frame_route(
            monkeypatch, lambda k=k, p=pairs, kw=kwargs: run(tmp_path / f"frame{k}", p, **kw)
        )
        assert block == frame
        assert len(block[1]) == 2 * len(pairs)
    assert block[0]["O-O"]["n_frames"] == 12
    assert run(tmp_path / "first", WATER_PAIRS)[0]["O-O"]["cutoff_source"] == "first minimum"


def test_block_route_raises_the_frame_routes_first_error(monkeypatch):
    # pair 2 refuses frame 1 (its r_max does not fit the smaller box), pair 1 frame 2
    # (no box): the frame loop meets pair 2's error first
    frames = np.random.default_rng(2).uniform(0, 8, (3, 4, 3))
    u = make_universe(frames, np.array([12.0, 9.0, 12.0]))
    u.trajectory[2].dimensions = None
    dimensions = np.array([[12.0] * 3 + [90.0] * 3, [9.0] * 3 + [90.0] * 3, [0.0] * 6])
    u.load_new(frames.astype(np.float32), format=MemoryReader, dimensions=dimensions)

    def run():
        first = RDFCoordination(u.atoms[:2], u.atoms[2:], cutoff_angstrom=2.0)
        second = RDFCoordination(u.atoms[:2], u.atoms[2:], r_max_angstrom=5.0, cutoff_angstrom=2.0)
        return RDFCoordinationSet([first, second]).run()

    errors = []
    for route in (run, lambda: _frame_route(monkeypatch, run)):
        with pytest.raises(AnalysisError) as caught:
            route()
        errors.append(str(caught.value))
    assert errors[0] == errors[1]
    assert "frame 1" in errors[0] and "minimum-image" in errors[0]


def test_block_route_bins_pairs_on_a_bin_edge_as_the_frame_route(monkeypatch):
    # 150 frames: three blocks of frames, by two analyses of different sizes. Many pairs
    # lie on a bin edge (a whole number of bins apart along x), some of them excluded
    # (same residue), which must stay out of the counts.
    rng = np.random.default_rng(21)
    n_frames, n_atoms, bin_width = 150, 60, 0.05
    frames = rng.uniform(0.0, 19.0, size=(n_frames, n_atoms, 3))
    frames[:, 30:, 0] = frames[:, :1, 0] + rng.integers(1, 150, size=(n_frames, 30)) * bin_width
    frames[:, 30:, 1:] = frames[:, :1, 1:]
    frames[:, 1:3, 0] = frames[:, :1, 0] + rng.integers(1, 150, size=(n_frames, 2)) * bin_width
    frames[:, 1:3, 1:] = frames[:, :1, 1:]  # atoms 1 and 2: atom 0's residue
    u = make_universe(frames, 19.0, atom_resindex=np.arange(n_atoms) // 3)

    def run():
        pairs = [
            RDFCoordination(u.atoms[:10], u.atoms[10:], cutoff_angstrom=3.0, n_blocks=3),
            RDFCoordination(u.atoms[::2], u.atoms[::3], cutoff_angstrom=3.0, n_blocks=3),
        ]
        RDFCoordinationSet(pairs).run()
        return pairs

    block, frame = run(), _frame_route(monkeypatch, run)
    for a, b in zip(block, frame, strict=True):
        assert_same_results(a, b)


def test_block_route_analyses_the_frames_of_the_frame_route(rock_salt_files, monkeypatch):
    # the frames AnalysisBase.run would analyse, set up without its private methods:
    # start/stop/step, integer frames (unordered, negative from the end), a boolean mask
    import warnings

    topology, trajectory = rock_salt_files
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DCD timestep copies
        u = MDAnalysis.Universe(str(topology), str(trajectory))
    n = u.trajectory.n_frames
    mask = np.zeros(n, dtype=bool)
    mask[1::3] = True
    cases = [
        {"start": 1, "stop": n - 1, "step": 2},
        {"stop": 100 * n},
        {"frames": [3, 0, -1, 2]},
        {"frames": mask},
        {"frames": list(mask)},
    ]
    center, ligand = u.select_atoms("name NA"), u.select_atoms("name CL")
    for options in cases:

        def run(options=options):
            return RDFCoordination(center, ligand, cutoff_angstrom=3.5, n_blocks=2).run(**options)

        block, frame = run(), _frame_route(monkeypatch, run)
        assert_same_results(block, frame)
        assert (block.n_frames, block.start, block.stop, block.step) == (
            frame.n_frames,
            frame.start,
            frame.stop,
            frame.step,
        ), options
    with pytest.raises(ValueError, match="cannot be combined"):
        RDFCoordination(center, ligand, cutoff_angstrom=3.5).run(start=1, frames=[0, 1])
    with pytest.raises(TypeError):
        RDFCoordination(center, ligand, cutoff_angstrom=3.5).run(frames=[0.0, 1.0])


def test_dcd_block_reader_falls_back_when_mdanalysis_reads_the_file_otherwise(
    rock_salt_files, monkeypatch
):
    # a future MDAnalysis converting unit cells otherwise: the check on the first frame
    # notices, warns, and the frames come through the reader, as the frame loop sees them
    import warnings

    from electrolyte_md.analysis import frames as frames_module

    topology, trajectory = rock_salt_files
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = MDAnalysis.Universe(str(topology), str(trajectory))
    reader = u.trajectory
    atoms = np.arange(0, u.atoms.n_atoms, 3)
    numbers = np.arange(reader.n_frames)
    expected = [np.concatenate(x) for x in zip(*read_blocks(reader, atoms, numbers), strict=True)]
    converted = frames_module.dcd_dimensions
    monkeypatch.setattr(frames_module, "dcd_dimensions", lambda cells: converted(cells) * 1.5)
    with pytest.warns(RuntimeWarning, match="frame by frame"):
        blocks = list(read_blocks(reader, atoms, numbers, block_frames=4))
    got = [np.concatenate(x) for x in zip(*blocks, strict=True)]
    for a, b in zip(got, expected, strict=True):
        assert np.array_equal(a, b)
    assert reader.frame == 0


def test_block_route_uses_no_private_mdanalysis_api():
    # reader._file, AnalysisBase._compute, _prepare_sliced_trajectory and their kin may
    # change in any MDAnalysis release without notice (issue 21, item 6); the documented
    # subclass hooks (_prepare, _single_frame, _conclude, _ts, _frame_index) are public
    import ast

    private = {
        "_file",
        "_compute",
        "_prepare_sliced_trajectory",
        "_setup_frames",
        "_define_run_frames",
        "_setup_computation_groups",
        "_sliced_trajectory",
        "_trajectory",
        "_verbose",
        "_transformations",
        "_frame_to_ts",
        "_read_frame",
        "_read_next_timestep",
    }
    package = Path(coordination.__file__).parent
    for name in ("frames.py", "rdf.py", "kernel.py"):
        tree = ast.parse((package / name).read_text())
        used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)} & private
        assert not used, f"{name} uses {sorted(used)}"


def test_energy_figure_follows_every_stage_that_ran(tmp_path):
    """Decorrelation, heating, NPT and production on one time axis; a stage with no rows
    (not run) is left out; PNG and SVG written."""
    tables = {}
    stages = (("decorrelation", 0), ("heating", 4), ("equilibration", 6), ("production", 8))
    for stage, rows in stages:
        path = tmp_path / f"{stage}.csv"
        t = np.arange(1, rows + 1, dtype=float)
        table = pd.DataFrame(
            {
                "time_ps": t,
                "temperature_kelvin": 290 + t,
                "density_g_per_cm3": 1.0 + 0 * t,
                "potential_energy_kj_per_mol": -100 - t,
            }
        )
        table.to_csv(path, index=False)
        tables[stage] = path
    paths = [tmp_path / "energies.png", tmp_path / "energies.svg"]
    drawn = plot_md_timeseries(list(tables.items()), paths, "test")
    assert drawn == ["heating", "equilibration", "production"]
    assert paths[0].read_bytes().startswith(b"\x89PNG") and b"<svg" in paths[1].read_bytes()[:500]
