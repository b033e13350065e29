"""Equilibration, statistical inefficiency and drift on series whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from electrolyte_md.errors import AnalysisError
from electrolyte_md.timeseries import (
    MIN_SAMPLES,
    analyze_series,
    between_site_standard_error,
    precise_enough,
)


def ar1(n: int, phi: float, rng: np.random.Generator, sigma: float = 1.0) -> np.ndarray:
    """Stationary AR(1) series: statistical inefficiency (1 + phi) / (1 - phi)."""
    x = np.empty(n)
    x[0] = rng.normal(scale=sigma / math.sqrt(1 - phi**2))
    noise = rng.normal(scale=sigma, size=n)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + noise[i]
    return x


def test_statistical_inefficiency_of_a_correlated_series():
    rng = np.random.default_rng(7)
    stats = analyze_series(ar1(40_000, 0.8, rng))
    assert stats.statistical_inefficiency == pytest.approx(9.0, rel=0.15)  # (1+0.8)/(1-0.8)
    assert stats.n_effective == pytest.approx(stats.n_used / stats.statistical_inefficiency)


def test_error_bars_cover_the_true_mean_as_often_as_they_claim():
    """Over 200 correlated series of true mean 0, about 68 % of mean +- SE hold 0; a
    naive SE (g = 1) would hold it far less often."""
    rng = np.random.default_rng(11)
    inside = naive_inside = 0
    for _ in range(200):
        x = ar1(2000, 0.9, rng)
        stats = analyze_series(x)
        inside += abs(stats.mean) <= stats.standard_error
        used = x[stats.equilibration_index :]
        naive_inside += abs(stats.mean) <= np.std(used, ddof=1) / math.sqrt(len(used))
    assert 0.58 <= inside / 200 <= 0.78, inside
    assert naive_inside / 200 < 0.45, naive_inside


def test_a_start_transient_is_cut_off_and_its_time_reported():
    """A CN that starts high and relaxes (as after a minimisation that made ion pairs)."""
    rng = np.random.default_rng(3)
    times = np.arange(3000) * 0.5  # ps
    transient = 1.5 * np.exp(-times / 50.0)
    stats = analyze_series(transient + ar1(3000, 0.5, rng, sigma=0.1), times)
    assert 50.0 < stats.discarded_time < 600.0
    assert stats.discarded_time == times[stats.equilibration_index]
    assert abs(stats.mean) < 3 * stats.standard_error + 0.02
    assert stats.drift_p > 0.01


def test_drift_is_flagged_and_a_stationary_series_is_not():
    rng = np.random.default_rng(5)
    times = np.arange(2000) * 1.0
    # a drift about as large as the noise over the run: what is kept still drifts, and
    # the test says so, with the right slope
    base = ar1(2000, 0.5, rng, sigma=0.05)
    mild = analyze_series(base - 5e-5 * times, times)
    assert mild.drift_p < 0.01
    assert mild.drift_per_time == pytest.approx(-5e-5, rel=0.3)
    # a series that drifts throughout, well above its noise, never equilibrates: only its
    # end is kept, and the table shows most of the run discarded
    drifting = analyze_series(base + 1.0 - 2e-4 * times, times)
    assert drifting.discarded_time > 0.5 * times[-1]
    p_values = [analyze_series(ar1(2000, 0.5, rng)).drift_p for _ in range(40)]
    # a valid test: p is about uniform on a stationary series, rarely below 0.05
    assert sum(p < 0.05 for p in p_values) <= 6


def test_a_series_without_fluctuations_has_an_exact_mean():
    stats = analyze_series(np.full(50, 0.75))
    assert (stats.equilibration_index, stats.statistical_inefficiency) == (0, 1.0)
    assert stats.mean == 0.75 and stats.standard_error == 0.0
    assert stats.drift_per_time == 0.0 and stats.drift_p == 1.0
    # ... but a mean with no event in it is not a precise one
    assert not stats.fluctuates and not precise_enough(stats, 0.05)


def test_precise_enough_needs_a_varying_region_of_half_the_series_without_drift():
    rng = np.random.default_rng(11)
    stationary = 0.7 + 0.05 * ar1(2000, 0.5, rng)
    stats = analyze_series(stationary)
    assert stats.used_fraction > 0.5 and precise_enough(stats, 0.05)
    assert not precise_enough(stats, stats.standard_error / 2)
    # a CN that relaxes over 90 % of the run, then sits still at the 4 contacts of 11 Li+
    # (the convergence benchmark's first run): a tiny SE from the end only, refused
    relaxing = np.r_[np.linspace(0.7, 0.36, 900) + 0.03 * rng.standard_normal(900),
                     np.full(100, 4 / 11)]  # fmt: skip
    tail = analyze_series(relaxing)
    assert tail.standard_error < 0.01 and tail.used_fraction < 0.5
    assert not precise_enough(tail, 0.05)
    drifting = analyze_series(np.linspace(0.0, 1.0, 500) + 0.01 * rng.standard_normal(500))
    assert drifting.drift_p <= 0.05 or drifting.used_fraction < 0.5
    assert not precise_enough(drifting, 1.0)


@pytest.mark.parametrize(
    ("values", "times", "message"),
    [
        (np.ones(MIN_SAMPLES - 1), None, "at least"),
        (np.r_[np.ones(20), np.nan], None, "NaN or infinite"),
        (np.arange(20.0), np.arange(19.0), "19 times for 20 values"),
    ],
)
def test_unusable_series_are_refused_by_name(values, times, message):
    with pytest.raises(AnalysisError, match=f"CN Li-P: .*{message}"):
        analyze_series(values, times, name="CN Li-P")


def frozen_sites(rng: np.random.Generator, n_frames: int = 1000, n_sites: int = 11) -> np.ndarray:
    """Counts per frame of sites that never exchange (each keeps a state drawn once, 0 with
    p 0.7, else 1-3), with a rare flicker: ion pairs that outlive the run."""
    states = np.where(rng.random(n_sites) < 0.7, 0, rng.integers(1, 4, size=n_sites))
    sites = np.repeat(states[None, :], n_frames, axis=0).astype(float)
    flicker = rng.random(sites.shape) < 0.01
    sites[flicker] += 1.0
    return sites


def test_sites_that_never_exchange_give_the_error_of_their_spread():
    """Eleven Li+ each stuck in its state: thousands of frames, but eleven samples. The
    error from g alone is a few thousandths; the reported one is the sites' spread."""
    sites = frozen_sites(np.random.default_rng(4))
    stats = analyze_series(sites.mean(axis=1), sites=sites)
    means = sites[stats.equilibration_index :].mean(axis=0)
    assert stats.n_sites == 11
    assert stats.standard_error_sites == pytest.approx(np.std(means, ddof=1) / math.sqrt(11))
    assert stats.standard_error == stats.standard_error_sites
    assert stats.standard_error > 10 * stats.standard_error_time
    assert stats.n_effective < 0.1 * stats.n_used / stats.statistical_inefficiency


def test_site_errors_cover_the_true_mean_when_time_errors_do_not():
    """200 boxes of eleven frozen sites, true mean known: mean +- SE holds it about as
    often as a t-interval with 10 degrees of freedom says (63 %); from g alone, rarely."""
    rng = np.random.default_rng(12)
    true_mean = 0.3 * 2.0 + 0.01  # P(state > 0) * mean of 1-3, plus the flicker
    inside = time_inside = 0
    for _ in range(200):
        sites = frozen_sites(rng, n_frames=400)
        stats = analyze_series(sites.mean(axis=1), sites=sites)
        inside += abs(stats.mean - true_mean) <= stats.standard_error
        time_inside += abs(stats.mean - true_mean) <= stats.standard_error_time
    assert 0.5 <= inside / 200 <= 0.78, inside
    assert time_inside / 200 < 0.2, time_inside


def test_sites_that_exchange_fast_agree_with_the_error_from_g():
    rng = np.random.default_rng(9)
    sites = (rng.random((3000, 11)) < 0.3).astype(float)  # each frame a new draw
    stats = analyze_series(sites.mean(axis=1), sites=sites)
    assert 0.6 < stats.standard_error_sites / stats.standard_error_time < 1.6
    assert stats.standard_error == max(stats.standard_error_sites, stats.standard_error_time)


def test_site_values_must_match_the_series():
    with pytest.raises(AnalysisError, match="per-site values of shape"):
        analyze_series(np.arange(20.0), sites=np.zeros((19, 3)))
    assert math.isnan(between_site_standard_error(np.array([0.4])))
