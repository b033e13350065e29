"""Tests of electrolyte_md.study.arrhenius: activation energies with known answers, the figure."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from electrolyte_md.errors import AnalysisError
from electrolyte_md.study.arrhenius import arrhenius_fit, plot_arrhenius

# CODATA 2018 exact values, typed here so the tests do not share constants with the code.
BOLTZMANN_J_PER_K = 1.380649e-23
ELEMENTARY_CHARGE_C = 1.602176634e-19
AVOGADRO_PER_MOL = 6.02214076e23
GAS_CONSTANT_J_PER_MOL_K = BOLTZMANN_J_PER_K * AVOGADRO_PER_MOL


def test_arrhenius_recovers_known_activation_energy():
    ea_kj = 22.0
    temps = np.array([278.0, 298.0, 318.0, 338.0])
    d = 3.0e-7 * np.exp(-ea_kj * 1e3 / (GAS_CONSTANT_J_PER_MOL_K * temps))
    fit = arrhenius_fit(temps, d)
    assert fit.ea_kj_per_mol == pytest.approx(ea_kj, rel=1e-9)
    assert fit.ea_ev == pytest.approx(ea_kj * 1e3 / (AVOGADRO_PER_MOL * ELEMENTARY_CHARGE_C))
    assert fit.ea_kj_per_mol_stderr == pytest.approx(0.0, abs=1e-6)
    assert math.exp(fit.ln_prefactor) == pytest.approx(3.0e-7, rel=1e-9)
    np.testing.assert_allclose(fit.predict(temps), d, rtol=1e-9)

    # Noisy data: same line and standard error as an independent regression.
    rng = np.random.default_rng(9)
    noisy = d * np.exp(rng.normal(scale=0.05, size=d.shape))
    unweighted = arrhenius_fit(temps, noisy)
    reference = stats.linregress(1 / temps, np.log(noisy))
    r_kj = GAS_CONSTANT_J_PER_MOL_K / 1e3
    assert unweighted.ea_kj_per_mol == pytest.approx(-reference.slope * r_kj, rel=1e-9)
    assert unweighted.ea_kj_per_mol_stderr == pytest.approx(reference.stderr * r_kj, rel=1e-9)
    assert unweighted.ln_prefactor_stderr == pytest.approx(reference.intercept_stderr, rel=1e-9)

    # Weighted by the uncertainties of D: as numpy's weighted polyfit with unscaled covariance.
    sem = 0.05 * noisy * np.array([1.0, 2.0, 1.0, 0.5])
    weighted = arrhenius_fit(temps, noisy, sem)
    coef, cov = np.polyfit(1 / temps, np.log(noisy), 1, w=noisy / sem, cov="unscaled")
    assert weighted.weighted
    assert weighted.ea_kj_per_mol == pytest.approx(-coef[0] * r_kj, rel=1e-9)
    assert weighted.ea_kj_per_mol_stderr == pytest.approx(math.sqrt(cov[0, 0]) * r_kj, rel=1e-9)
    summary = weighted.as_dict()
    assert summary["n_temperatures"] == 4
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary


def test_arrhenius_two_temperatures_and_refusals():
    two = arrhenius_fit([300.0, 330.0], [1.0, 2.0])
    ea = GAS_CONSTANT_J_PER_MOL_K * math.log(2.0) / (1 / 300 - 1 / 330) / 1e3
    assert two.ea_kj_per_mol == pytest.approx(ea, rel=1e-12)
    assert math.isnan(two.ea_kj_per_mol_stderr)  # no degrees of freedom left
    assert two.as_dict()["ea_kj_per_mol_stderr"] is None
    with_sem = arrhenius_fit([300.0, 330.0], [1.0, 2.0], [0.1, 0.2])
    assert math.isfinite(with_sem.ea_kj_per_mol_stderr) and with_sem.ea_kj_per_mol_stderr > 0
    with pytest.raises(AnalysisError, match="two distinct temperatures"):
        arrhenius_fit([300.0], [1.0])
    with pytest.raises(AnalysisError, match="two distinct temperatures"):
        arrhenius_fit([300.0, 300.0], [1.0, 1.1])  # replicas at one temperature
    with pytest.raises(AnalysisError, match="positive"):
        arrhenius_fit([300.0, 330.0], [1.0, -2.0])
    with pytest.raises(AnalysisError, match="d_sem"):
        arrhenius_fit([300.0, 330.0], [1.0, 2.0], [0.1, 0.0])


def test_arrhenius_figure_is_written_whole(tmp_path):
    fit = arrhenius_fit([280.0, 300.0, 320.0], [0.1, 0.2, 0.35], [0.01, 0.02, 0.03])
    arrhenius_png = tmp_path / "arrhenius.png"
    plot_arrhenius({"Li": fit}, arrhenius_png, "Arrhenius", "10$^{-9}$ m$^2$/s")
    data = arrhenius_png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arrhenius.png"]
