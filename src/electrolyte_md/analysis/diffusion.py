"""Self-diffusion coefficients from MSDs, and what follows from them: the pure numerics.

- :func:`fit_diffusion` -- locates the diffusive (linear) window of an MSD from its
  local log-log slope and fits ``MSD = 6 D t + b`` there; returns a
  :class:`DiffusionFit`.
- :func:`diffusion_coefficients` -- :func:`fit_diffusion` for every species of a
  :class:`~electrolyte_md.analysis.msd.SpeciesMSD` run.
- :func:`yeh_hummer_correction_m2_per_s` -- the finite-size correction of Yeh and
  Hummer for a cubic periodic box.
- :func:`transference_number`, :func:`nernst_einstein_conductivity` -- ideal
  (uncorrelated-ion) estimates from self-diffusion coefficients.

Units: lengths in Å, times in ps, MSD in Å^2, D in Å^2/ps internally
(1 Å^2/ps = 1e-8 m^2/s = 10 x 1e-9 m^2/s); every public name carries its unit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from MDAnalysis.analysis.base import Results

from electrolyte_md.analysis.msd import SpeciesMSD
from electrolyte_md.errors import AnalysisError
from electrolyte_md.io import json_float
from electrolyte_md.units import BOLTZMANN_J_PER_K, ELEMENTARY_CHARGE_C

__all__ = [
    "least_squares_line",
    "ANGSTROM2_PER_PS_TO_1E9_M2_PER_S",
    "YEH_HUMMER_XI",
    "DiffusionFit",
    "diffusion_coefficients",
    "fit_diffusion",
    "nernst_einstein_conductivity",
    "transference_number",
    "yeh_hummer_correction_m2_per_s",
]

#: 1 Å^2/ps expressed in units of 1e-9 m^2/s (1 Å^2/ps = 1e-20 m^2 / 1e-12 s = 1e-8 m^2/s).
ANGSTROM2_PER_PS_TO_1E9_M2_PER_S = 10.0
#: Madelung-like constant of the Yeh-Hummer correction for a cubic box
#: (Yeh & Hummer, J. Phys. Chem. B 2004, 108, 15873; Dünweg & Kremer 1993).
YEH_HUMMER_XI = 2.837297


# ---------------------------------------------------------------------------------------
# Diffusion coefficient from the linear window
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffusionFit:
    """Self-diffusion coefficient fitted to the diffusive window of an MSD.

    Attributes
    ----------
    d_angstrom2_per_ps : float
        D = slope / 6 of ``MSD = 6 D t + b`` over the window, Å^2/ps (as computed in the
        periodic box: no finite-size correction).
    d_angstrom2_per_ps_stderr : float
        Standard error of D from the least-squares fit.  MSD points are strongly
        correlated, so this is a lower bound on the real uncertainty.
    d_angstrom2_per_ps_sem : float
        Standard error from the spread of D over particle groups (the same window
        fitted to each group's MSD; std with ddof=1 over sqrt(n_groups)); NaN without
        groups.  Independent replicas remain the better error estimate.
    window_start_ps, window_end_ps : float
        Lag times bounding the fitted window, ps.
    loglog_slope, loglog_slope_stderr : float
        Slope of ln MSD against ln t over the window and its standard error
        (1 for normal diffusion).
    intercept_angstrom2 : float
        Intercept b of the linear fit, Å^2.
    n_points : int
        MSD points (lags) in the fit.
    max_lag_ps : float
        Largest lag considered (``max_lag_fraction`` of the trajectory span), ps.
    diffusive : bool
        True if a window where the local log-log slope stays within the tolerance of 1
        over at least ``min_span_decades`` was found; False for a flagged fallback fit
        (only with ``require_diffusive=False``), which must not be reported as a
        diffusion coefficient without that caveat.
    note : str
        How the window was chosen, or why the fit is flagged.
    slope_lags_ps, local_slopes : numpy.ndarray
        Local log-log slope of the MSD on a log-spaced grid of lags (for plots).
    """

    d_angstrom2_per_ps: float
    d_angstrom2_per_ps_stderr: float
    d_angstrom2_per_ps_sem: float
    window_start_ps: float
    window_end_ps: float
    loglog_slope: float
    loglog_slope_stderr: float
    intercept_angstrom2: float
    n_points: int
    max_lag_ps: float
    diffusive: bool
    note: str
    slope_lags_ps: np.ndarray = field(repr=False, compare=False)
    local_slopes: np.ndarray = field(repr=False, compare=False)

    @property
    def d_1e9_m2_per_s(self) -> float:
        """D in units of 1e-9 m^2/s."""
        return self.d_angstrom2_per_ps * ANGSTROM2_PER_PS_TO_1E9_M2_PER_S

    @property
    def d_m2_per_s(self) -> float:
        """D in m^2/s."""
        return self.d_angstrom2_per_ps * 1e-8

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (NaN becomes None); D also in 1e-9 m^2/s."""
        scale = ANGSTROM2_PER_PS_TO_1E9_M2_PER_S
        return {
            "d_angstrom2_per_ps": json_float(self.d_angstrom2_per_ps),
            "d_angstrom2_per_ps_stderr": json_float(self.d_angstrom2_per_ps_stderr),
            "d_angstrom2_per_ps_sem": json_float(self.d_angstrom2_per_ps_sem),
            "d_1e9_m2_per_s": json_float(self.d_1e9_m2_per_s),
            "d_1e9_m2_per_s_stderr": json_float(self.d_angstrom2_per_ps_stderr * scale),
            "d_1e9_m2_per_s_sem": json_float(self.d_angstrom2_per_ps_sem * scale),
            "window_start_ps": json_float(self.window_start_ps),
            "window_end_ps": json_float(self.window_end_ps),
            "loglog_slope": json_float(self.loglog_slope),
            "loglog_slope_stderr": json_float(self.loglog_slope_stderr),
            "intercept_angstrom2": json_float(self.intercept_angstrom2),
            "n_points": int(self.n_points),
            "max_lag_ps": json_float(self.max_lag_ps),
            "diffusive": bool(self.diffusive),
            "note": self.note,
        }


def least_squares_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Slope, intercept and slope standard error of an ordinary least-squares line."""
    n = len(x)
    xm, ym = float(np.mean(x)), float(np.mean(y))
    sxx = float(np.sum((x - xm) ** 2))
    slope = float(np.sum((x - xm) * (y - ym)) / sxx)
    intercept = ym - slope * xm
    if n > 2:
        residual = y - (intercept + slope * x)
        stderr = math.sqrt(float(np.sum(residual**2)) / (n - 2) / sxx)
    else:
        stderr = math.nan
    return slope, intercept, stderr


def _local_slopes(
    lags: np.ndarray, msd: np.ndarray, grid: np.ndarray, halfwidth_decades: float
) -> np.ndarray:
    """d ln MSD / d ln t at each grid index, by least squares over +- halfwidth decades.

    Where fewer than three grid points lie within the half-width (the first lags, where
    the grid is limited by the frame spacing), the three nearest grid points are used.
    """
    log_t = np.log10(lags[grid])
    log_m = np.log10(msd[grid])
    slopes = np.full(len(grid), np.nan)
    if len(grid) < 3:
        return slopes
    for j, centre in enumerate(log_t):
        distance = np.abs(log_t - centre)
        near = distance <= halfwidth_decades + 1e-12
        if np.count_nonzero(near) < 3:  # sparse grid at the first lags: 3 nearest points
            near = np.zeros(len(grid), dtype=bool)
            near[np.argsort(distance, kind="stable")[:3]] = True
        slopes[j] = least_squares_line(log_t[near], log_m[near])[0]
    return slopes


def fit_diffusion(
    lag_times_ps: np.ndarray,
    msd_angstrom2: np.ndarray,
    *,
    msd_blocks_angstrom2: np.ndarray | None = None,
    max_lag_fraction: float = 1.0 / 3.0,
    min_lag_ps: float = 0.0,
    slope_tolerance: float = 0.1,
    min_span_decades: float = 0.5,
    points_per_decade: int = 10,
    slope_halfwidth_decades: float = 0.2,
    require_diffusive: bool = True,
) -> DiffusionFit:
    r"""Self-diffusion coefficient from the diffusive window of a 3D MSD.

    **Window.**  Only lags ``min_lag_ps <= t <= max_lag_fraction * t_total`` are used
    (long lags have few independent time origins and are noisy).  On a grid of about
    ``points_per_decade`` log-spaced lags the local slope
    :math:`\beta(t) = d\ln\mathrm{MSD}/d\ln t` is estimated by least squares over
    ``+- slope_halfwidth_decades``.  Ballistic motion (:math:`\beta \to 2`) and
    caging (:math:`\beta < 1`) fail :math:`|\beta - 1| \le` ``slope_tolerance``; the
    diffusive window is the longest contiguous run of grid lags that pass (in
    decades; the later run on a tie), and must span at least ``min_span_decades``.

    **Fit.**  ``MSD = 6 D t + b`` by ordinary least squares over every lag in the
    window; the intercept absorbs the ballistic offset.  The log-log slope over the
    window is reported as a check.

    Parameters
    ----------
    lag_times_ps : numpy.ndarray
        Lag times, ps, equally spaced, starting at 0 (as from :class:`SpeciesMSD`).
    msd_angstrom2 : numpy.ndarray
        MSD at those lags, Å^2.
    msd_blocks_angstrom2 : numpy.ndarray, optional
        ``(n_lags, n_groups)`` MSDs of particle groups (``SpeciesMSD`` results) for
        ``d_angstrom2_per_ps_sem``.
    max_lag_fraction : float, default 1/3
        Largest lag used, as a fraction of the longest lag (the trajectory span).
    min_lag_ps : float, default 0
        Lags below this are never used (to exclude a known ballistic/caged start by hand).
    slope_tolerance : float, default 0.1
        Accepted deviation of the local log-log slope from 1.
    min_span_decades : float, default 0.5
        Shortest acceptable window, in decades of lag time (0.5: a factor 3.2).
    points_per_decade : int, default 10
        Density of the log-spaced grid used to judge the slope.
    slope_halfwidth_decades : float, default 0.2
        Half-width of the local-slope regression, decades.
    require_diffusive : bool, default True
        If no diffusive window exists, raise (True) or return a fit over the last
        ``min_span_decades`` of the allowed lags with ``diffusive=False`` (False).

    Returns
    -------
    DiffusionFit

    Raises
    ------
    AnalysisError
        Mismatched or too short input, non-positive MSD in the range, a parameter out
        of range, or (with ``require_diffusive``) no diffusive window.
    """
    t = np.asarray(lag_times_ps, dtype=np.float64)
    msd = np.asarray(msd_angstrom2, dtype=np.float64)
    if t.ndim != 1 or t.shape != msd.shape:
        raise AnalysisError(
            f"lag_times_ps and msd_angstrom2 must be 1D of one length, got {t.shape} and "
            f"{msd.shape}"
        )
    if not (0.0 < max_lag_fraction <= 1.0):
        raise AnalysisError(f"max_lag_fraction must be in (0, 1], got {max_lag_fraction}")
    if not (0.0 < slope_tolerance < 1.0):
        raise AnalysisError(f"slope_tolerance must be in (0, 1), got {slope_tolerance}")
    if not (min_span_decades > 0 and slope_halfwidth_decades > 0 and points_per_decade >= 3):
        raise AnalysisError(
            "min_span_decades and slope_halfwidth_decades must be > 0 and points_per_decade >= 3"
        )
    if len(t) < 4 or not np.all(np.diff(t) > 0) or t[0] < 0:
        raise AnalysisError(
            f"need >= 4 increasing, non-negative lag times (got {len(t)}); is the trajectory "
            "long enough?"
        )
    max_lag = max_lag_fraction * float(t[-1])
    usable = np.flatnonzero((t > 0) & (t >= min_lag_ps) & (t <= max_lag * (1 + 1e-12)))
    if len(usable) < 4:
        raise AnalysisError(
            f"only {len(usable)} lag(s) between min_lag_ps = {min_lag_ps:g} ps and "
            f"{max_lag_fraction:g} x the trajectory span ({max_lag:g} ps); a diffusion fit "
            "needs a longer trajectory or more frames"
        )
    if not np.all(np.isfinite(msd[usable])) or np.any(msd[usable] <= 0):
        raise AnalysisError(
            "the MSD is zero, negative or not finite within the fitted lag range; the "
            "particles do not move (frozen or duplicated frames?)"
        )
    k_lo, k_hi = int(usable[0]), int(usable[-1])
    n_grid = max(int(round(points_per_decade * math.log10(t[k_hi] / t[k_lo]))) + 1, 2)
    targets = np.logspace(np.log10(t[k_lo]), np.log10(t[k_hi]), n_grid)
    grid = np.unique(np.clip(np.searchsorted(t, targets), k_lo, k_hi))
    grid[-1] = k_hi  # rounding of logspace must not drop the last usable lag
    slopes = _local_slopes(t, msd, grid, slope_halfwidth_decades)

    ok = np.abs(slopes - 1.0) <= slope_tolerance  # NaN compares False
    best: tuple[float, int, int] | None = None
    j = 0
    while j < len(grid):
        if not ok[j]:
            j += 1
            continue
        start = j
        while j + 1 < len(grid) and ok[j + 1]:
            j += 1
        span = math.log10(t[grid[j]] / t[grid[start]])
        if best is None or span >= best[0]:
            best = (span, start, j)
        j += 1

    finite = slopes[np.isfinite(slopes)]
    slope_range = (
        f"{finite.min():.2f}-{finite.max():.2f}" if finite.size else "undetermined (too few lags)"
    )
    if best is not None and best[0] >= min_span_decades - 1e-9:
        span, a, b = best
        t_start, t_end = float(t[grid[a]]), float(t[grid[b]])
        diffusive = True
        note = (
            f"local log-log slope within 1 +- {slope_tolerance:g} from {t_start:g} to "
            f"{t_end:g} ps ({span:.2f} decades)"
        )
    else:
        found = "no lag" if best is None else f"at most {best[0]:.2f} decades"
        message = (
            f"no diffusive window: the local log-log slope of the MSD stays within 1 +- "
            f"{slope_tolerance:g} over {found} (need {min_span_decades:g}); slopes seen "
            f"{slope_range} for lags {t[k_lo]:g}-{t[k_hi]:g} ps. The motion is still "
            "ballistic or caged (sub-diffusive) at the longest usable lag: run longer"
        )
        if require_diffusive:
            raise AnalysisError(message)
        t_end = float(t[k_hi])
        t_start = max(float(t[k_lo]), t_end / 10**min_span_decades)
        diffusive = False
        note = "FLAGGED, not a diffusion coefficient: " + message

    in_window = np.flatnonzero((t >= t_start) & (t <= t_end))
    if len(in_window) < 3:
        raise AnalysisError(
            f"the window {t_start:g}-{t_end:g} ps holds only {len(in_window)} lag(s); "
            "the MSD needs a finer frame interval"
        )
    slope, intercept, slope_err = least_squares_line(t[in_window], msd[in_window])
    g_in = grid[(t[grid] >= t_start) & (t[grid] <= t_end)]
    if len(g_in) >= 3:
        beta, _, beta_err = least_squares_line(np.log(t[g_in]), np.log(msd[g_in]))
    else:
        beta, _, beta_err = least_squares_line(np.log(t[in_window]), np.log(msd[in_window]))

    sem = math.nan
    if msd_blocks_angstrom2 is not None:
        blocks = np.asarray(msd_blocks_angstrom2, dtype=np.float64)
        if blocks.ndim != 2 or blocks.shape[0] != len(t):
            raise AnalysisError(
                f"msd_blocks_angstrom2 must have shape (n_lags={len(t)}, n_groups), got "
                f"{blocks.shape}"
            )
        if blocks.shape[1] >= 2:
            d_blocks = [
                least_squares_line(t[in_window], col[in_window])[0] / 6.0 for col in blocks.T
            ]
            sem = float(np.std(d_blocks, ddof=1) / math.sqrt(len(d_blocks)))

    return DiffusionFit(
        d_angstrom2_per_ps=slope / 6.0,
        d_angstrom2_per_ps_stderr=slope_err / 6.0,
        d_angstrom2_per_ps_sem=sem,
        window_start_ps=t_start,
        window_end_ps=t_end,
        loglog_slope=float(beta),
        loglog_slope_stderr=float(beta_err),
        intercept_angstrom2=float(intercept),
        n_points=len(in_window),
        max_lag_ps=max_lag,
        diffusive=diffusive,
        note=note,
        slope_lags_ps=t[grid],
        local_slopes=slopes,
    )


def diffusion_coefficients(
    results: Results | SpeciesMSD, **fit_options: Any
) -> dict[str, DiffusionFit]:
    """:func:`fit_diffusion` for every species of a :class:`SpeciesMSD` run.

    Parameters
    ----------
    results : MDAnalysis.analysis.base.Results or SpeciesMSD
        The finished analysis or its results.
    **fit_options
        Keyword arguments of :func:`fit_diffusion` (e.g. ``require_diffusive=False``).

    Returns
    -------
    dict[str, DiffusionFit]
        Species name -> fit.  An :class:`AnalysisError` names the species that failed.
    """
    res = results.results if isinstance(results, SpeciesMSD) else results
    fits = {}
    for name in res.species:
        try:
            fits[name] = fit_diffusion(
                res.lag_times_ps,
                res.msd_angstrom2[name],
                msd_blocks_angstrom2=res.msd_blocks_angstrom2[name],
                **fit_options,
            )
        except AnalysisError as exc:
            raise AnalysisError(f"species {name!r}: {exc}") from exc
    return fits


# ---------------------------------------------------------------------------------------
# Finite size, transference number, conductivity
# ---------------------------------------------------------------------------------------


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise AnalysisError(f"{name} must be a positive finite number, got {value!r}")
    return value


def yeh_hummer_correction_m2_per_s(
    temperature_kelvin: float, viscosity_pa_s: float, box_length_angstrom: float
) -> float:
    r"""Finite-size correction to a self-diffusion coefficient from a cubic periodic box.

    .. math::

        D_\infty = D_\mathrm{PBC} + \frac{k_B T \xi}{6 \pi \eta L},\qquad \xi = 2.837297

    (Yeh & Hummer, J. Phys. Chem. B 2004, 108, 15873).  The correction is the same for
    every species in the box.  Use the shear viscosity of the *simulated* liquid where
    it is known; an experimental value
    (:data:`~electrolyte_md.analysis.transport.NMP_VISCOSITY_PA_S_25C` for pure NMP)
    is an approximation, and the formula holds for cubic boxes (for a nearly cubic
    one, ``L`` = V^(1/3) is the usual choice).

    Parameters
    ----------
    temperature_kelvin : float
        Temperature, K.
    viscosity_pa_s : float
        Shear viscosity, Pa s (1 mPa s = 1 cP = 1e-3 Pa s).
    box_length_angstrom : float
        Box edge L, Å.

    Returns
    -------
    float
        The term to add to D_PBC, m^2/s.
    """
    temperature = _positive("temperature_kelvin", temperature_kelvin)
    eta = _positive("viscosity_pa_s", viscosity_pa_s)
    length_m = _positive("box_length_angstrom", box_length_angstrom) * 1e-10
    return BOLTZMANN_J_PER_K * temperature * YEH_HUMMER_XI / (6.0 * math.pi * eta * length_m)


def transference_number(d_cation: float, d_anion: float) -> float:
    """Ideal cation transference number t+ = D+ / (D+ + D-).

    Valid for a 1:1 salt with uncorrelated ions (the Nernst-Einstein picture); ion
    pairing makes the real t+ differ.  Both coefficients in the same unit.

    Parameters
    ----------
    d_cation, d_anion : float
        Self-diffusion coefficients of cation and anion (> 0).

    Returns
    -------
    float
        t+ in (0, 1).
    """
    d_plus = _positive("d_cation", d_cation)
    d_minus = _positive("d_anion", d_anion)
    return d_plus / (d_plus + d_minus)


def nernst_einstein_conductivity(
    counts: Mapping[str, int],
    charges: Mapping[str, float],
    diffusion_m2_per_s: Mapping[str, float],
    volume_angstrom3: float,
    temperature_kelvin: float,
    charge_scale: float = 1.0,
) -> dict[str, Any]:
    r"""Nernst-Einstein (uncorrelated-ion) ionic conductivity.

    .. math::

        \sigma_\mathrm{NE} = \frac{e^2}{V k_B T} \sum_i N_i (s z_i)^2 D_i

    with :math:`z_i` the ionic charge number.  Give the real, integral charges
    (Li+: +1, PF6-: -1): the conductivity is carried by real ions.  Force fields with
    scaled ionic charges (0.8 e in this project) move ions with reduced charges; to
    report the conductivity of the scaled-charge model instead, pass
    ``charge_scale=0.8`` (sigma then scales by 0.64).  Cross-correlations of ion
    motions (ion pairs moving together) are neglected, so this is an upper estimate of
    the real conductivity when ions pair.

    Parameters
    ----------
    counts : Mapping[str, int]
        Number of ions of each species in the box.
    charges : Mapping[str, float]
        Charge number z of each species (e.g. ``{"Li": 1, "PF6": -1}``).
    diffusion_m2_per_s : Mapping[str, float]
        Self-diffusion coefficient of each species, m^2/s (finite-size corrected or not,
        as the caller decides).
    volume_angstrom3 : float
        Box volume, Å^3.
    temperature_kelvin : float
        Temperature, K.
    charge_scale : float, default 1.0
        Factor applied to every z.

    Returns
    -------
    dict
        ``sigma_s_per_m``, ``sigma_ms_per_cm`` (1 S/m = 10 mS/cm), ``contributions_s_per_m``
        (species -> its term), ``charge_scale``.
    """
    if not counts or set(counts) != set(charges) or set(counts) != set(diffusion_m2_per_s):
        raise AnalysisError(
            "counts, charges and diffusion_m2_per_s must name the same, non-empty set of "
            f"species; got {sorted(counts)}, {sorted(charges)}, {sorted(diffusion_m2_per_s)}"
        )
    volume_m3 = _positive("volume_angstrom3", volume_angstrom3) * 1e-30
    temperature = _positive("temperature_kelvin", temperature_kelvin)
    scale = _positive("charge_scale", charge_scale)
    prefactor = ELEMENTARY_CHARGE_C**2 / (volume_m3 * BOLTZMANN_J_PER_K * temperature)
    contributions = {}
    for name, n in counts.items():
        if isinstance(n, bool) or int(n) != n or n < 0:
            raise AnalysisError(f"count of {name!r} must be a non-negative integer, got {n!r}")
        z = float(charges[name])
        d = _positive(f"diffusion_m2_per_s[{name!r}]", diffusion_m2_per_s[name])
        contributions[name] = prefactor * int(n) * (scale * z) ** 2 * d
    sigma = float(sum(contributions.values()))
    return {
        "sigma_s_per_m": sigma,
        "sigma_ms_per_cm": sigma * 10.0,
        "contributions_s_per_m": contributions,
        "charge_scale": scale,
    }
