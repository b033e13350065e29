"""Arrhenius fits of diffusion coefficients over temperatures, and their figure.

- :func:`arrhenius_fit` -- activation energy from D(T); returns an :class:`ArrheniusFit`.
- :func:`plot_arrhenius` -- publication-style figure: D against 1000/T with the fitted
  lines.

The fit works in any one unit of D; temperatures in K, activation energies in kJ/mol
and eV.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.ticker import FuncFormatter

from electrolyte_md.analysis.diffusion import least_squares_line
from electrolyte_md.errors import AnalysisError
from electrolyte_md.io import json_float
from electrolyte_md.plots import new_figure, save_png
from electrolyte_md.units import GAS_CONSTANT_J_PER_MOL_K, KJ_PER_MOL_TO_EV

__all__ = ["ArrheniusFit", "arrhenius_fit", "plot_arrhenius"]


@dataclass(frozen=True)
class ArrheniusFit:
    """Arrhenius fit ``ln D = ln D0 - Ea / (R T)``.

    Attributes
    ----------
    ea_kj_per_mol, ea_kj_per_mol_stderr : float
        Activation energy and its standard error, kJ/mol (stderr NaN when undefined:
        two temperatures without uncertainties of D).
    ea_ev, ea_ev_stderr : float
        The same in eV.
    ln_prefactor, ln_prefactor_stderr : float
        ln D0 (D0 in the unit of the input D) and its standard error.
    temperatures_kelvin, d_values, d_sem : numpy.ndarray
        The data fitted (``d_sem`` NaN where not given).
    weighted : bool
        True if the fit was weighted by the uncertainties of D.
    """

    ea_kj_per_mol: float
    ea_kj_per_mol_stderr: float
    ea_ev: float
    ea_ev_stderr: float
    ln_prefactor: float
    ln_prefactor_stderr: float
    temperatures_kelvin: np.ndarray = field(repr=False, compare=False)
    d_values: np.ndarray = field(repr=False, compare=False)
    d_sem: np.ndarray = field(repr=False, compare=False)
    weighted: bool = False

    def predict(self, temperature_kelvin: np.ndarray | float) -> np.ndarray:
        """D at the given temperatures from the fitted line (unit of the input D)."""
        temperature = np.asarray(temperature_kelvin, dtype=float)
        ea_j = self.ea_kj_per_mol * 1e3
        return np.exp(self.ln_prefactor - ea_j / (GAS_CONSTANT_J_PER_MOL_K * temperature))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (NaN becomes None)."""
        return {
            "ea_kj_per_mol": json_float(self.ea_kj_per_mol),
            "ea_kj_per_mol_stderr": json_float(self.ea_kj_per_mol_stderr),
            "ea_ev": json_float(self.ea_ev),
            "ea_ev_stderr": json_float(self.ea_ev_stderr),
            "ln_prefactor": json_float(self.ln_prefactor),
            "ln_prefactor_stderr": json_float(self.ln_prefactor_stderr),
            "n_points": len(self.temperatures_kelvin),
            "n_temperatures": len(np.unique(self.temperatures_kelvin)),
            "weighted": bool(self.weighted),
        }


def arrhenius_fit(
    temperatures_kelvin: Sequence[float],
    d_values: Sequence[float],
    d_sem: Sequence[float] | None = None,
) -> ArrheniusFit:
    r"""Activation energy from diffusion coefficients at several temperatures.

    Fits :math:`\ln D = \ln D_0 - E_a / (R T)` by least squares in :math:`1/T`.  Several
    values at one temperature (replicas) are allowed; at least two distinct
    temperatures are required.  Without ``d_sem`` the fit is unweighted and the
    standard errors come from the residuals (NaN with only two points: no degrees of
    freedom left).  With ``d_sem`` each point is weighted by
    :math:`1/\sigma_{\ln D}^2` with :math:`\sigma_{\ln D} = \sigma_D / D`, and the
    standard errors follow from those uncertainties (defined for two points too).

    Parameters
    ----------
    temperatures_kelvin : sequence of float
        Temperatures, K.
    d_values : sequence of float
        Diffusion coefficients (any one unit), > 0.
    d_sem : sequence of float, optional
        Standard errors of ``d_values`` (same unit, > 0).

    Returns
    -------
    ArrheniusFit

    Raises
    ------
    AnalysisError
        Fewer than two distinct temperatures, mismatched lengths, or non-positive values.
    """
    temps = np.asarray(temperatures_kelvin, dtype=np.float64)
    d = np.asarray(d_values, dtype=np.float64)
    if temps.ndim != 1 or temps.shape != d.shape:
        raise AnalysisError(
            f"temperatures and D values must be 1D of one length, got {temps.shape}, {d.shape}"
        )
    if not (np.all(np.isfinite(temps)) and np.all(temps > 0)):
        raise AnalysisError(f"temperatures must be positive (K), got {temps.tolist()}")
    if not (np.all(np.isfinite(d)) and np.all(d > 0)):
        raise AnalysisError(f"diffusion coefficients must be positive, got {d.tolist()}")
    if len(np.unique(temps)) < 2:
        raise AnalysisError(
            f"an Arrhenius fit needs at least two distinct temperatures, got "
            f"{sorted(set(temps.tolist()))} K"
        )
    x = 1.0 / temps
    y = np.log(d)
    if d_sem is not None:
        sem = np.asarray(d_sem, dtype=np.float64)
        if sem.shape != d.shape or not (np.all(np.isfinite(sem)) and np.all(sem > 0)):
            raise AnalysisError(
                "d_sem must give one positive, finite standard error per D value, got "
                f"{np.asarray(d_sem).tolist()}"
            )
        w = (d / sem) ** 2  # 1 / sigma(ln D)^2
        s, sx, sy = w.sum(), (w * x).sum(), (w * y).sum()
        sxx, sxy = (w * x * x).sum(), (w * x * y).sum()
        delta = s * sxx - sx**2
        slope = (s * sxy - sx * sy) / delta
        intercept = (sxx * sy - sx * sxy) / delta
        slope_err = math.sqrt(s / delta)
        intercept_err = math.sqrt(sxx / delta)
        weighted = True
    else:
        sem = np.full_like(d, np.nan)
        slope, intercept, slope_err = least_squares_line(x, y)
        # se(intercept) = se(slope) * sqrt(mean(x^2)) for ordinary least squares
        intercept_err = slope_err * math.sqrt(float(np.mean(x**2)))
        weighted = False
    ea_kj = -slope * GAS_CONSTANT_J_PER_MOL_K / 1e3
    ea_kj_err = slope_err * GAS_CONSTANT_J_PER_MOL_K / 1e3
    return ArrheniusFit(
        ea_kj_per_mol=float(ea_kj),
        ea_kj_per_mol_stderr=float(ea_kj_err),
        ea_ev=float(ea_kj * KJ_PER_MOL_TO_EV),
        ea_ev_stderr=float(ea_kj_err * KJ_PER_MOL_TO_EV),
        ln_prefactor=float(intercept),
        ln_prefactor_stderr=float(intercept_err),
        temperatures_kelvin=temps,
        d_values=d,
        d_sem=sem,
        weighted=weighted,
    )


def _thousand_over(values: np.ndarray) -> np.ndarray:
    """1000 / values (1000/T <-> T), inf at 0 without a warning (axis conversions)."""
    with np.errstate(divide="ignore"):
        return 1000.0 / np.asarray(values, dtype=float)


def plot_arrhenius(
    fits: Mapping[str, ArrheniusFit], path: str | os.PathLike[str], title: str, unit: str
) -> None:
    """Arrhenius plot: D (log scale) against 1000/T with the fitted lines.

    Parameters
    ----------
    fits : Mapping[str, ArrheniusFit]
        Species name -> fit (its data points are drawn, with error bars where known).
    path : str or os.PathLike
        Output PNG (written atomically).
    title : str
        Figure title.
    unit : str
        Unit of D for the axis label, e.g. ``"10$^{-9}$ m$^2$/s"``.
    """
    if not fits:
        raise AnalysisError("plot_arrhenius needs at least one fit")
    fig = new_figure((6.0, 4.6))
    ax = fig.add_subplot()
    for i, (name, fit) in enumerate(fits.items()):
        colour = f"C{i % 10}"
        x = 1000.0 / fit.temperatures_kelvin
        yerr = None if np.all(np.isnan(fit.d_sem)) else np.nan_to_num(fit.d_sem)
        ea = f"{fit.ea_kj_per_mol:.1f}"
        if math.isfinite(fit.ea_kj_per_mol_stderr):
            ea += f" ± {fit.ea_kj_per_mol_stderr:.1f}"
        ea += f" kJ/mol ({fit.ea_ev:.3f} eV)"
        ax.errorbar(x, fit.d_values, yerr=yerr, fmt="o", color=colour, capsize=3,
                    label=f"{name}: E$_a$ = {ea}")  # fmt: skip
        t_line = np.linspace(fit.temperatures_kelvin.min(), fit.temperatures_kelvin.max(), 50)
        ax.plot(1000.0 / t_line, fit.predict(t_line), color=colour, lw=1.2)
    ax.set_yscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.set_xlabel("1000 / T (K$^{-1}$)")
    ax.set_ylabel(f"D ({unit})")
    top = ax.secondary_xaxis("top", functions=(_thousand_over, _thousand_over))
    top.set_xlabel("T (K)")
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    save_png(fig, path)
