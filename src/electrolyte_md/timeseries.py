"""Equilibration, statistical inefficiency and drift of one time series.

The statistics behind an honest error bar for a number averaged over an MD run (a
coordination number per frame, a density, an energy), after Chodera, J. Chem. Theory
Comput. 2016, 12, 1799 (doi:10.1021/acs.jctc.5b00784), with the estimators of
:mod:`pymbar.timeseries` (pymbar 4, the reference implementation of that paper):

1. **Equilibration** (:func:`pymbar.timeseries.detect_equilibration`): the start t0 of
   the region to average is the one that keeps the most *effective* samples, N_eff(t0) =
   (N - t0) / g(t0), tried at :data:`ORIGINS` evenly spaced starts. A transient at the
   start (a CN still falling from the ion pairs of the start) inflates the fluctuations,
   hence g, so it is cut off; a stationary series keeps most of its samples. A series that
   drifts throughout keeps only its end: the discarded time is then most of the run,
   which is how such a series shows in a table.
2. **Statistical inefficiency** g (:func:`pymbar.timeseries.statistical_inefficiency`):
   1 + 2 sum of the normalised autocorrelation function, summed until it first turns
   negative. The standard error of the mean of the equilibrated region is
   sqrt(var * g / n), i.e. the plain one with n / g independent samples. Unlike a fixed
   number of blocks, this follows the correlation time the data show, and does not
   shrink the error when the blocks are shorter than the correlation time.
3. **Drift**: a straight line through the equilibrated region, its slope tested against
   zero with the slope's standard error inflated by sqrt(g) (the residuals are as
   correlated as the data), two-sided t-test with N_eff - 2 degrees of freedom. A small
   p-value says the mean is still moving: the error bar then understates, because no
   stationary region was reached within the run.

4. **Between sites**, for a mean over equivalent sites (the Li+ of a box: a CN is the
   mean over Li+ of each one's count): the time average of each site over the
   equilibrated region, and the standard error of their mean, s / sqrt(n_sites).  The
   reported standard error is the larger of this and the one from g.

Why the fourth: g is estimated from the data, so a correlation time comparable to the
run length is not seen and the error is underestimated (pymbar's own caveat).  Ion pairs
in a 1 M electrolyte live for nanoseconds: in the project's 1 ns runs of 11 LiPF6 one
Li+ holds three PF6- throughout and most hold none, so the CN series barely moves and
its SE from g is 0.001-0.004 -- while two replicas differ by 0.17
(benchmarks/measured/convergence.md).  Each Li+ whose state does not change is one
sample, not thousands; the spread of the sites' time averages says so (SE 0.12-0.28 on
those runs), and agrees with the SE from g once every site has exchanged many times.
It assumes independent sites: Li+ sharing one aggregate are not, so replicas remain the
final check (their spread must agree with these errors).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy import stats

from electrolyte_md.errors import AnalysisError

# pymbar logs two warnings when imported: that JAX (for MBAR, unused here) is missing, and
# the caveat on estimated correlation times that this module's docstring carries.
_disabled = logging.root.manager.disable
logging.disable(logging.WARNING)
try:
    from pymbar import timeseries as _pymbar
finally:
    logging.disable(_disabled)

__all__ = [
    "DRIFT_P",
    "MIN_SAMPLES",
    "MIN_USED_FRACTION",
    "SeriesStatistics",
    "analyze_series",
    "between_site_standard_error",
    "precise_enough",
    "with_site_spread",
]

#: Fewest samples a series needs for an error bar and a drift test.
MIN_SAMPLES = 8
#: Candidate starts of the equilibrated region tried (evenly spaced): t0 is found to within
#: 1/ORIGINS of the series.
ORIGINS = 200
#: A trend within the equilibrated region at this two-sided p or below is a drift.
DRIFT_P = 0.05
#: A mean counts as precise only if its equilibrated region is at least this share of the
#: series: a region found only at the end of a run (a CN still relaxing, then a stretch
#: with no exchange) has a small SE that says nothing about the mean.
MIN_USED_FRACTION = 0.5


@dataclass(frozen=True)
class SeriesStatistics:
    """What :func:`analyze_series` found in one time series.

    Attributes
    ----------
    n_samples : int
        Samples in the series.
    equilibration_index : int
        First sample of the equilibrated region (0: nothing discarded).
    discarded_time : float
        Time before that sample, in the unit of the times given (samples without times).
    n_used : int
        Samples in the equilibrated region.
    statistical_inefficiency : float
        g of the equilibrated region (>= 1).
    n_effective : float
        ``n_used / g``: independent samples the region is worth.
    mean, standard_error : float
        Mean of the equilibrated region and its standard error, sqrt(var g / n_used).
    drift_per_time, drift_p : float
        Slope of a line through the equilibrated region (per unit time) and the two-sided
        p-value of a zero slope (NaN with fewer than 3 effective samples).
    fluctuates : bool
        Whether the region's values vary.  A constant region (a coordination number with
        no exchange in it) has a standard error of 0 that says no event was seen, not
        that the mean is exact.
    standard_error_time : float
        The standard error from g alone (equals ``standard_error`` for a series without
        sites).
    standard_error_sites : float
        The standard error between sites' time averages (NaN without sites; see
        :func:`with_site_spread`).
    n_sites : int
        Sites the series is a mean over (0: not given).
    """

    n_samples: int
    equilibration_index: int
    discarded_time: float
    n_used: int
    statistical_inefficiency: float
    n_effective: float
    mean: float
    standard_error: float
    drift_per_time: float
    drift_p: float
    fluctuates: bool = True
    standard_error_time: float = math.nan
    standard_error_sites: float = math.nan
    n_sites: int = 0

    @property
    def used_fraction(self) -> float:
        """Share of the series in the equilibrated region."""
        return self.n_used / self.n_samples if self.n_samples else math.nan

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def precise_enough(stats: SeriesStatistics, standard_error: float) -> bool:
    """Whether a series' mean is known to ``standard_error``, honestly.

    All of: the standard error of the equilibrated region is at most ``standard_error``;
    no drift within it (p > :data:`DRIFT_P`); the region is at least
    :data:`MIN_USED_FRACTION` of the series; and its values vary (see
    :attr:`SeriesStatistics.fluctuates`).  The production target of the MD stage and
    the convergence benchmark both use this rule.
    """
    return bool(
        stats.standard_error <= standard_error
        and stats.drift_p > DRIFT_P
        and stats.used_fraction >= MIN_USED_FRACTION
        and stats.fluctuates
    )


def between_site_standard_error(site_means: np.ndarray) -> float:
    """Standard error of the mean of sites' time averages, s / sqrt(n) (NaN for < 2 sites).

    Parameters
    ----------
    site_means : array_like
        Each site's mean over the equilibrated region (e.g. each Li+'s number of P within
        the cutoff, averaged over the frames used).
    """
    means = np.asarray(site_means, dtype=float).ravel()
    if len(means) < 2 or not np.all(np.isfinite(means)):
        return math.nan
    return float(np.std(means, ddof=1) / math.sqrt(len(means)))


def with_site_spread(stats: SeriesStatistics, site_means: np.ndarray) -> SeriesStatistics:
    """``stats`` of a mean over sites, with the spread of the sites' time averages.

    The standard error becomes the larger of the one from g and
    :func:`between_site_standard_error` of ``site_means`` (the sites' means over the
    equilibrated region ``stats`` found); ``n_effective`` becomes var / SE^2, the
    independent samples the reported error is worth.  Why: see the module docstring,
    point 4.
    """
    means = np.asarray(site_means, dtype=float).ravel()
    between = between_site_standard_error(means)
    time_se = stats.standard_error_time
    if not math.isfinite(time_se):
        time_se = stats.standard_error
    se = max(time_se, between) if math.isfinite(between) else time_se
    n_effective = stats.n_effective
    if se > time_se > 0.0:
        # var = SE_time^2 n_used / g, so n_eff = var / SE^2 = (n_used / g)(SE_time / SE)^2
        n_effective = stats.n_effective * (time_se / se) ** 2
    return replace(
        stats,
        standard_error=se,
        standard_error_time=time_se,
        standard_error_sites=between,
        n_sites=len(means),
        n_effective=n_effective,
    )


def _inefficiency(values: np.ndarray) -> float:
    """g of ``values``; 1 for a series without fluctuations (its mean is exact)."""
    if np.ptp(values) == 0.0:
        return 1.0
    return max(1.0, float(_pymbar.statistical_inefficiency(values)))


def _drift(times: np.ndarray, values: np.ndarray, g: float) -> tuple[float, float]:
    """Slope of ``values`` against ``times`` and the p-value of a zero slope, the slope's
    standard error inflated by sqrt(g)."""
    n = len(values)
    n_effective = n / g
    if n_effective < 3 or np.ptp(times) == 0.0:
        return math.nan, math.nan
    if np.ptp(values) == 0.0:
        return 0.0, 1.0
    fit = stats.linregress(times, values)
    se = fit.stderr * math.sqrt(g)
    if se == 0.0:
        return float(fit.slope), 0.0
    t = fit.slope / se
    return float(fit.slope), float(2.0 * stats.t.sf(abs(t), n_effective - 2.0))


def analyze_series(
    values: np.ndarray,
    times: np.ndarray | None = None,
    *,
    name: str = "series",
    sites: np.ndarray | None = None,
) -> SeriesStatistics:
    """Equilibrated region, standard error and drift of one time series.

    Parameters
    ----------
    values : array_like
        The series, one value per sample (frame), evenly spaced in time.
    times : array_like, optional
        The samples' times (any unit; the drift is per that unit). Default: 0, 1, 2, ...
    name : str
        What the series is, for error messages.
    sites : array_like, optional
        ``(n_samples, n_sites)``: the per-site values whose mean over sites ``values``
        is (or counts them the same way); the standard error then also weighs the spread
        of the sites' means over the equilibrated region (:func:`with_site_spread`).

    Returns
    -------
    SeriesStatistics

    Raises
    ------
    AnalysisError
        If the series has fewer than :data:`MIN_SAMPLES` samples, non-finite values, or
        times of another length.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.zeros(5000)
    >>> for i in range(1, len(x)):  # AR(1): g = (1 + 0.9) / (1 - 0.9) = 19
    ...     x[i] = 0.9 * x[i - 1] + rng.normal()
    >>> s = analyze_series(x)
    >>> 14 < s.statistical_inefficiency < 25
    True
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) < MIN_SAMPLES:
        raise AnalysisError(
            f"{name}: {values.size} samples; an error bar and a drift test need at least "
            f"{MIN_SAMPLES} (run longer or report more often)"
        )
    if not np.all(np.isfinite(values)):
        raise AnalysisError(f"{name}: the series holds NaN or infinite values")
    times = np.arange(len(values), dtype=float) if times is None else np.asarray(times, float)
    if times.shape != values.shape:
        raise AnalysisError(f"{name}: {len(times)} times for {len(values)} values")

    # a series without fluctuations is equilibrated throughout (pymbar divides by its
    # variance); otherwise origins every 1/ORIGINS of the series are tried (all of them
    # cost O(N^2): 0.6 s for 2,000 samples, against 0.05 s this way)
    start = 0
    if np.ptp(values) > 0.0:
        nskip = max(1, len(values) // ORIGINS)
        start = int(_pymbar.detect_equilibration(values, nskip=nskip)[0])
    used = values[start:]
    if len(used) < MIN_SAMPLES:  # keep enough to estimate anything: the last MIN_SAMPLES
        start = len(values) - MIN_SAMPLES
        used = values[start:]
    g = _inefficiency(used)
    n_used = len(used)
    variance = float(np.var(used, ddof=1)) if n_used > 1 else 0.0
    slope, p = _drift(times[start:], used, g)
    standard_error = math.sqrt(variance * g / n_used)
    stats = SeriesStatistics(
        n_samples=len(values),
        equilibration_index=start,
        discarded_time=float(times[start] - times[0]),
        n_used=n_used,
        statistical_inefficiency=g,
        n_effective=n_used / g,
        mean=float(np.mean(used)),
        standard_error=standard_error,
        drift_per_time=slope,
        drift_p=p,
        fluctuates=bool(np.ptp(used) > 0.0),
        standard_error_time=standard_error,
    )
    if sites is None:
        return stats
    sites = np.asarray(sites, dtype=float)
    if sites.ndim != 2 or sites.shape[0] != len(values):
        raise AnalysisError(
            f"{name}: per-site values of shape {sites.shape} for {len(values)} samples"
        )
    return with_site_spread(stats, sites[start:].mean(axis=0))
