"""Tests of analysis.msd, .diffusion and .transport on random walks and known formulas."""

from __future__ import annotations

import json
import math

import MDAnalysis
import numpy as np
import pytest
from MDAnalysis.coordinates.memory import MemoryReader

from electrolyte_md.analysis.diffusion import (
    diffusion_coefficients,
    fit_diffusion,
    nernst_einstein_conductivity,
    transference_number,
    yeh_hummer_correction_m2_per_s,
)
from electrolyte_md.analysis.msd import SpeciesMSD, msd_fft
from electrolyte_md.analysis.transport import (
    NMP_VISCOSITY_PA_S_25C,
    ion_transport_records,
    msd_table,
    plot_msd,
)
from electrolyte_md.errors import AnalysisError

# CODATA 2018 exact values, typed here so the tests do not share constants with the code.
BOLTZMANN_J_PER_K = 1.380649e-23
ELEMENTARY_CHARGE_C = 1.602176634e-19


def make_universe(
    frames_angstrom: np.ndarray,
    box_angstrom: float,
    atom_resindex: np.ndarray,
    masses: np.ndarray | None,
    dt_ps: float,
) -> MDAnalysis.Universe:
    """In-memory universe with a cubic box, residues and (optionally) masses."""
    frames = np.asarray(frames_angstrom, dtype=np.float32)
    n_frames, n_atoms, _ = frames.shape
    u = MDAnalysis.Universe.empty(
        n_atoms,
        n_residues=int(atom_resindex.max()) + 1,
        atom_resindex=atom_resindex,
        trajectory=True,
    )
    if masses is not None:
        u.add_TopologyAttr("masses", masses)
    dimensions = np.tile([box_angstrom] * 3 + [90.0] * 3, (n_frames, 1))
    u.load_new(frames, format=MemoryReader, dimensions=dimensions, dt=dt_ps)
    return u


def random_walk(rng, n_frames, n_particles, d_angstrom2_per_ps, dt_ps, start_box):
    """Gaussian random walk: each step has variance 2 D dt per dimension."""
    steps = rng.normal(
        scale=math.sqrt(2.0 * d_angstrom2_per_ps * dt_ps), size=(n_frames, n_particles, 3)
    )
    steps[0] = rng.uniform(0.0, start_box, size=(n_particles, 3))
    return np.cumsum(steps, axis=0)


def test_msd_fft_matches_direct_double_sum():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(40, 5, 3)).cumsum(axis=0) + 250.0  # far from the origin
    fast = msd_fft(x, chunk_size=2)
    direct = np.array(
        [
            [np.mean(np.sum((x[m:, i] - x[: len(x) - m, i]) ** 2, axis=-1)) for i in range(5)]
            for m in range(len(x))
        ]
    )
    np.testing.assert_allclose(fast, direct, rtol=1e-9, atol=1e-9)


def test_random_walk_in_universe_recovers_known_d_for_ions_and_molecules():
    rng = np.random.default_rng(2024)
    n_frames, dt, box = 600, 2.0, 60.0
    d_ion, d_mol = 0.02, 0.008  # Å^2/ps = 0.2 and 0.08 x 1e-9 m^2/s
    n_ion, n_mol = 1500, 800
    ions = random_walk(rng, n_frames, n_ion, d_ion, dt, box)
    # Diatomics with masses 1 and 3 tumbling at random: the centre of mass walks with
    # d_mol while each atom also jumps around it.
    com = random_walk(rng, n_frames, n_mol, d_mol, dt, box)
    axis = rng.normal(size=(n_frames, n_mol, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    light, heavy = com + 0.75 * 1.5 * axis, com - 0.25 * 1.5 * axis
    molecules = np.stack([light, heavy], axis=2).reshape(n_frames, 2 * n_mol, 3)
    frames = np.concatenate([ions, molecules], axis=1)
    resindex = np.concatenate([np.arange(n_ion), n_ion + np.repeat(np.arange(n_mol), 2)])
    masses = np.concatenate([np.full(n_ion, 6.94), np.tile([1.0, 3.0], n_mol)])
    u = make_universe(frames, box, resindex, masses, dt)

    analysis = SpeciesMSD({"Li": u.atoms[:n_ion], "MOL": u.atoms[n_ion:]}).run()
    res = analysis.results
    assert res.species == ["Li", "MOL"]
    assert res.n_particles == {"Li": n_ion, "MOL": n_mol}
    assert res.particle_kind == {"Li": "atom", "MOL": "centre of mass"}
    assert res.timestep_ps == pytest.approx(dt)
    np.testing.assert_allclose(res.lag_times_ps[:3], [0.0, dt, 2 * dt])
    assert res.box_length_angstrom == pytest.approx(box, rel=1e-6)
    assert res.msd_blocks_angstrom2["Li"].shape == (n_frames, 5)

    fits = diffusion_coefficients(analysis)
    for name, d_true in (("Li", d_ion), ("MOL", d_mol)):
        fit = fits[name]
        assert fit.diffusive
        assert fit.d_angstrom2_per_ps == pytest.approx(d_true, rel=0.04)
        assert fit.d_1e9_m2_per_s == pytest.approx(10 * fit.d_angstrom2_per_ps)
        assert fit.loglog_slope == pytest.approx(1.0, abs=0.05)
        assert fit.window_end_ps <= (n_frames - 1) * dt / 3 + 1e-9
        assert fit.window_end_ps / fit.window_start_ps >= 10**0.5
        # The spread over particle groups is a sensible, small uncertainty.
        assert 0.0 < fit.d_angstrom2_per_ps_sem < 0.05 * d_true
        assert abs(fit.d_angstrom2_per_ps - d_true) < 5 * fit.d_angstrom2_per_ps_sem
    table = msd_table(analysis)
    assert list(table.columns) == ["lag_time_ps", "msd_Li_angstrom2", "msd_MOL_angstrom2"]


def test_ballistic_start_is_left_out_of_the_window():
    # Velocities follow an AR(1) process with correlation time tau: ballistic MSD
    # (slope 2) at short lags, diffusive with a known D at long lags.
    rng = np.random.default_rng(5)
    n_frames, n_particles, dt, tau = 3000, 300, 1.0, 6.0
    a = math.exp(-dt / tau)
    sigma_v = 0.1  # Å/ps per dimension
    v = np.empty((n_frames, n_particles, 3))
    v[0] = rng.normal(scale=sigma_v, size=(n_particles, 3))
    kicks = rng.normal(scale=sigma_v * math.sqrt(1 - a * a), size=v.shape)
    for n in range(1, n_frames):
        v[n] = a * v[n - 1] + kicks[n]
    x = np.cumsum(v * dt, axis=0)
    d_true = dt * sigma_v**2 * (1 + a) / (2 * (1 - a))  # per-dimension sum of correlations
    msd = msd_fft(x).mean(axis=1)
    lags = np.arange(n_frames) * dt

    fit = fit_diffusion(lags, msd)
    assert fit.diffusive
    assert fit.local_slopes[0] > 1.5  # the first lags are ballistic ...
    assert fit.window_start_ps >= 5 * tau  # ... and not in the window
    assert fit.d_angstrom2_per_ps == pytest.approx(d_true, rel=0.05)
    # Fitting from the first lag instead would underestimate D badly.
    naive = np.polyfit(lags[1:1000], msd[1:1000], 1)[0] / 6
    assert naive < fit.d_angstrom2_per_ps


def test_subdiffusive_msd_is_refused_or_flagged():
    lags = np.arange(1000) * 1.0
    msd = 2.0 * lags**0.6  # caged motion, never linear
    with pytest.raises(AnalysisError, match="no diffusive window.*run longer"):
        fit_diffusion(lags, msd)
    flagged = fit_diffusion(lags, msd, require_diffusive=False)
    assert not flagged.diffusive
    assert flagged.note.startswith("FLAGGED")
    assert flagged.loglog_slope == pytest.approx(0.6, abs=0.01)
    summary = flagged.as_dict()
    assert summary["diffusive"] is False
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary


def test_fit_input_errors():
    lags = np.arange(100) * 1.0
    with pytest.raises(AnalysisError, match="one length"):
        fit_diffusion(lags, lags[:-1])
    with pytest.raises(AnalysisError, match="MSD is zero"):
        fit_diffusion(lags, np.zeros(100))
    with pytest.raises(AnalysisError, match="max_lag_fraction"):
        fit_diffusion(lags, 6 * lags, max_lag_fraction=1.5)
    with pytest.raises(AnalysisError, match="lag"):
        fit_diffusion(lags[:3], 6 * lags[:3])


def test_wrapped_coordinates_are_refused():
    rng = np.random.default_rng(1)
    box = 10.0
    walk = random_walk(rng, 200, 50, 0.05, 1.0, box)
    u = make_universe(np.mod(walk, box), box, np.arange(50), None, 1.0)
    with pytest.raises(AnalysisError, match="look wrapped"):
        SpeciesMSD({"X": u.atoms}).run()


def test_bad_species_input_names_the_problem():
    rng = np.random.default_rng(2)
    frames = rng.uniform(0, 10, size=(5, 4, 3))
    u = make_universe(frames, 10.0, np.array([0, 0, 1, 1]), None, 1.0)
    with pytest.raises(AnalysisError, match="non-empty mapping"):
        SpeciesMSD({})
    with pytest.raises(AnalysisError, match="'PF6'.*matched no atoms"):
        SpeciesMSD({"PF6": u.atoms[[]]})
    with pytest.raises(AnalysisError, match="no atom masses"):
        SpeciesMSD({"MOL": u.atoms})
    with pytest.raises(AnalysisError, match="not equally spaced"):
        SpeciesMSD({"X": u.atoms[[0, 2]]}).run(frames=[0, 1, 3])
    with pytest.raises(AnalysisError, match="needs >= 3"):
        SpeciesMSD({"X": u.atoms[[0, 2]]}).run(stop=2)
    no_box = MDAnalysis.Universe.empty(
        2, n_residues=2, atom_resindex=np.array([0, 1]), trajectory=True
    )
    with pytest.raises(AnalysisError, match="no periodic box"):
        SpeciesMSD({"X": no_box.atoms})


def test_yeh_hummer_term_matches_formula():
    temperature, eta, length = 298.15, NMP_VISCOSITY_PA_S_25C, 26.1
    expected = BOLTZMANN_J_PER_K * temperature * 2.837297 / (6 * math.pi * eta * length * 1e-10)
    got = yeh_hummer_correction_m2_per_s(temperature, eta, length)
    assert got == pytest.approx(expected, rel=1e-12)
    assert got == pytest.approx(0.1438e-9, rel=2e-3)  # order of D(Li+) itself in a 26 Å box
    # Scales as T / (eta L).
    assert yeh_hummer_correction_m2_per_s(2 * temperature, 2 * eta, 2 * length) == pytest.approx(
        got / 2
    )
    with pytest.raises(AnalysisError, match="viscosity_pa_s"):
        yeh_hummer_correction_m2_per_s(temperature, 0.0, length)


def test_transference_number_and_nernst_einstein_arithmetic():
    assert transference_number(1.0, 3.0) == pytest.approx(0.25)
    assert transference_number(0.2e-9, 0.2e-9) == pytest.approx(0.5)
    with pytest.raises(AnalysisError, match="d_anion"):
        transference_number(1.0, 0.0)

    n_ion, volume, temperature = 11, 26.1**3, 298.15
    d_li, d_pf6 = 1.2e-10, 2.5e-10
    expected = (
        ELEMENTARY_CHARGE_C**2
        / (volume * 1e-30 * BOLTZMANN_J_PER_K * temperature)
        * (n_ion * d_li + n_ion * d_pf6)
    )
    result = nernst_einstein_conductivity(
        {"Li": n_ion, "PF6": n_ion},
        {"Li": 1, "PF6": -1},
        {"Li": d_li, "PF6": d_pf6},
        volume,
        temperature,
    )
    assert result["sigma_s_per_m"] == pytest.approx(expected, rel=1e-12)
    assert result["sigma_ms_per_cm"] == pytest.approx(10 * expected, rel=1e-12)
    assert sum(result["contributions_s_per_m"].values()) == pytest.approx(expected)
    assert result["contributions_s_per_m"]["Li"] / result["sigma_s_per_m"] == pytest.approx(
        transference_number(d_li, d_pf6)
    )
    scaled = nernst_einstein_conductivity(
        {"Li": n_ion, "PF6": n_ion},
        {"Li": 1, "PF6": -1},
        {"Li": d_li, "PF6": d_pf6},
        volume,
        temperature,
        charge_scale=0.8,
    )
    assert scaled["sigma_s_per_m"] == pytest.approx(0.64 * expected)
    with pytest.raises(AnalysisError, match="same, non-empty set"):
        nernst_einstein_conductivity({"Li": 1}, {"Li": 1, "PF6": -1}, {"Li": 1e-10}, 1e4, 300)


def test_msd_figure_is_written_whole(tmp_path):
    rng = np.random.default_rng(4)
    walk = random_walk(rng, 200, 100, 0.05, 1.0, 30.0)
    u = make_universe(walk, 30.0, np.arange(100), None, 1.0)
    analysis = SpeciesMSD({"Li": u.atoms[:50], "PF6": u.atoms[50:]}).run()
    fits = diffusion_coefficients(analysis)
    msd_png = tmp_path / "msd.png"
    plot_msd(analysis, fits, msd_png, "MSD")
    data = msd_png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["msd.png"]


def test_ion_records_say_when_a_short_run_leaves_d_unresolved():
    """A slope <= 0 fitted to an ion's MSD (a 10 ps run can give one) yields no t+ and no
    sigma, with the reason, instead of failing the whole transport analysis."""
    charges = {"Li": 1, "PF6": -1, "NMP": 0}
    counts = {"Li": 3, "PF6": 3, "NMP": 30}
    args = ([], counts, 27000.0, 298.15)
    t_plus, sigma = ion_transport_records(
        charges, {"Li": -0.0016, "PF6": 0.02}, {"Li": -1.6e-12, "PF6": 2e-10}, *args
    )
    assert t_plus["value"] is None and sigma["sigma_ms_per_cm"] is None
    assert t_plus["flagged"] and sigma["flagged"]
    assert "['Li']" in t_plus["note"] and "not positive" in sigma["note"]
    # resolved: the same arithmetic as transference_number
    t_plus, sigma = ion_transport_records(
        charges, {"Li": 0.01, "PF6": 0.02}, {"Li": 1e-10, "PF6": 2e-10}, *args
    )
    assert t_plus["value"] == pytest.approx(1.0 / 3.0)
    assert t_plus["value_pbc"] == pytest.approx(1.0 / 3.0)
    assert sigma["sigma_ms_per_cm"] > 0 and not sigma["flagged"]
