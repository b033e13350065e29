"""Transport from unwrapped trajectories: MSD, self-diffusion, t+, conductivity, Arrhenius.

The pieces, each usable on its own:

- :func:`msd_fft` -- per-particle mean-square displacement over all time origins,
  computed with FFTs (O(N log N) in the number of frames).
- :class:`SpeciesMSD` -- an MDAnalysis :class:`~MDAnalysis.analysis.base.AnalysisBase`
  that follows one particle per molecule (its centre of mass) or per monatomic ion
  through an *unwrapped* trajectory, for several species in one pass, and returns
  their MSDs.
- :func:`fit_diffusion` -- locates the diffusive (linear) window of an MSD from its
  local log-log slope and fits ``MSD = 6 D t + b`` there; returns a
  :class:`DiffusionFit`.
- :func:`yeh_hummer_correction_m2_per_s` -- the finite-size correction of Yeh and
  Hummer for a cubic periodic box.
- :func:`transference_number`, :func:`nernst_einstein_conductivity` -- ideal
  (uncorrelated-ion) estimates from self-diffusion coefficients.
- :func:`arrhenius_fit` -- activation energy from D(T); returns an :class:`ArrheniusFit`.
- :func:`plot_msd`, :func:`plot_arrhenius` -- publication-style figures.

Units: lengths in Å, times in ps, MSD in Å^2, D in Å^2/ps internally
(1 Å^2/ps = 1e-8 m^2/s = 10 x 1e-9 m^2/s); every public name carries its unit.

Implementation note: MDAnalysis' ``EinsteinMSD(fft=True)`` needs the optional
``tidynamics`` package and works on atoms, not on molecular centres of mass;
``tidynamics`` would install cleanly, but the FFT MSD is a dozen lines of numpy
(:func:`msd_fft`, checked against the direct double sum in the tests), so no
dependency was added.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from MDAnalysis.analysis.base import AnalysisBase, Results
from MDAnalysis.core.groups import AtomGroup
from MDAnalysis.exceptions import NoDataError

from electrolyte_md.errors import AnalysisError
from electrolyte_md.io import json_float, write_json
from electrolyte_md.plots import new_figure, save_png
from electrolyte_md.units import (
    BOLTZMANN_J_PER_K,
    ELEMENTARY_CHARGE_C,
    GAS_CONSTANT_J_PER_MOL_K,
    KJ_PER_MOL_TO_EV,
)

__all__ = [
    "ANGSTROM2_PER_PS_TO_1E9_M2_PER_S",
    "NMP_VISCOSITY_PA_S_25C",
    "YEH_HUMMER_XI",
    "ArrheniusFit",
    "DiffusionFit",
    "SpeciesMSD",
    "analyze_transport",
    "arrhenius_fit",
    "diffusion_coefficients",
    "fit_diffusion",
    "msd_fft",
    "msd_table",
    "nernst_einstein_conductivity",
    "plot_arrhenius",
    "plot_msd",
    "transference_number",
    "ion_transport_records",
    "yeh_hummer_correction_m2_per_s",
]

#: 1 Å^2/ps expressed in units of 1e-9 m^2/s (1 Å^2/ps = 1e-20 m^2 / 1e-12 s = 1e-8 m^2/s).
ANGSTROM2_PER_PS_TO_1E9_M2_PER_S = 10.0
#: Madelung-like constant of the Yeh-Hummer correction for a cubic box
#: (Yeh & Hummer, J. Phys. Chem. B 2004, 108, 15873; Dünweg & Kremer 1993).
YEH_HUMMER_XI = 2.837297
#: Viscosity of pure N-methyl-2-pyrrolidone at 25 °C, Pa s: 1.65 mPa s, the handbook value
#: (Ullmann's Encyclopedia of Industrial Chemistry, "2-Pyrrolidone" / NMP article).  A
#: 1 mol/L LiPF6 solution is more viscous than the pure solvent, and the consistent input
#: to the Yeh-Hummer term is the viscosity *of the simulated model*; this value is a
#: documented default, not a property of the model.
NMP_VISCOSITY_PA_S_25C = 1.65e-3

# A displacement between consecutive frames larger than this fraction of the box edge
# means the coordinates were wrapped into the box (a particle crossed a face).
_WRAP_JUMP_FRACTION = 0.5
# Relative tolerance on equal spacing of frame times.
_TIME_SPACING_RTOL = 1e-3


# ---------------------------------------------------------------------------------------
# MSD
# ---------------------------------------------------------------------------------------


def msd_fft(positions_angstrom: np.ndarray, chunk_size: int = 128) -> np.ndarray:
    r"""Mean-square displacement of each particle, averaged over all time origins.

    .. math::

        \mathrm{MSD}_i(m) = \frac{1}{N-m}\sum_{k=0}^{N-m-1}
            \lvert \mathbf r_i(k+m) - \mathbf r_i(k) \rvert^2

    computed as :math:`S_1(m) - 2 S_2(m)`, where :math:`S_2` is the position
    autocorrelation (by FFT, zero-padded to 2N) and :math:`S_1` a running sum of
    squared positions (Calandrini et al., École thématique de la Société Française de
    la Neutronique 12, 201 (2011); the algorithm of ``tidynamics.msd``).

    Parameters
    ----------
    positions_angstrom : numpy.ndarray
        Unwrapped positions, shape ``(n_frames, n_particles, 3)`` (or
        ``(n_frames, n_particles)`` for one dimension), equally spaced in time.
    chunk_size : int, default 128
        Particles transformed at once (bounds the memory of the FFT).

    Returns
    -------
    numpy.ndarray
        ``(n_frames, n_particles)`` MSD in Å^2 at lags ``0 .. n_frames-1`` frames.
    """
    x = np.asarray(positions_angstrom, dtype=np.float64)
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3 or x.shape[0] < 1:
        raise AnalysisError(
            f"msd_fft needs positions of shape (n_frames, n_particles, 3), got {x.shape}"
        )
    n_frames, n_particles, _ = x.shape
    out = np.empty((n_frames, n_particles))
    remaining = (n_frames - np.arange(n_frames)).astype(np.float64)[:, None]  # N - m
    n_fft = 2 * n_frames
    for start in range(0, n_particles, max(int(chunk_size), 1)):
        block = x[:, start : start + chunk_size, :]
        # Origin-centred per particle: MSD is shift-invariant and this keeps the
        # S1 - 2 S2 cancellation accurate for particles far from the origin.
        block = block - block[:1]
        squared = np.sum(block**2, axis=-1)  # (N, p)
        total = 2.0 * squared.sum(axis=0)
        front = np.concatenate([np.zeros((1, squared.shape[1])), np.cumsum(squared, axis=0)])
        back = np.concatenate([np.zeros((1, squared.shape[1])), np.cumsum(squared[::-1], axis=0)])
        # S1(m) = (2 sum D - sum_{k<m} D_k - sum_{k>=N-m} D_k) / (N - m)
        s1 = (total[None, :] - front[:n_frames] - back[:n_frames]) / remaining
        spectrum = np.fft.rfft(block, n=n_fft, axis=0)
        power = np.sum(spectrum * spectrum.conj(), axis=-1).real
        s2 = np.fft.irfft(power, n=n_fft, axis=0)[:n_frames] / remaining
        out[:, start : start + chunk_size] = s1 - 2.0 * s2
    out[0] = 0.0
    return np.maximum(out, 0.0)


def _group_label(name: str, group: AtomGroup) -> str:
    return f"species {name!r} ({group.n_atoms} atoms)"


class SpeciesMSD(AnalysisBase):
    r"""Mean-square displacements of several species from one pass over an unwrapped trajectory.

    Each species is an atom group.  Its particles are the residues it touches: a residue
    with one atom in the group (Li+, a monatomic ion) is followed by that atom, a residue
    with several (a molecule such as NMP or PF6-) by the centre of mass of its atoms in
    the group.  Positions must be **unwrapped** (molecules whole, atoms never put back
    into the box), as in the pipeline's ``prod.dcd``; a jump of more than half a box
    edge between consecutive frames is taken as a sign of wrapping and refused.

    Parameters
    ----------
    species : Mapping[str, MDAnalysis.core.groups.AtomGroup]
        Name -> atoms, e.g. ``{"Li": u.select_atoms("resname LI"),
        "PF6": u.select_atoms("resname PF6"), "NMP": u.select_atoms("resname NMP")}``.
        All groups must belong to one universe; multi-atom residues need masses.
    n_blocks : int, default 5
        The particles of each species are split into this many contiguous groups whose
        MSDs are kept too (``msd_blocks_angstrom2``), for a between-groups spread of
        the diffusion coefficient (:func:`fit_diffusion`).  Capped at the number of
        particles.
    verbose : bool, default False
        Show MDAnalysis' progress bar.

    Raises
    ------
    AnalysisError
        Empty mapping or group, groups from different universes, missing masses, no
        periodic box (in ``__init__``); frames not equally spaced in time, fewer than 3
        frames, or wrapped coordinates (in :meth:`run`).

    Notes
    -----
    The particle trajectories are held in memory as float64 until :meth:`run` ends:
    ``24 x n_frames x n_particles`` bytes (about 290 MB for 20,000 frames of 600
    molecules and ions); use ``run(step=...)`` for longer runs.  The drift of the system's
    centre of mass is not subtracted here; an OpenMM ``CMMotionRemover`` in the System
    removes it during the run.

    Attributes
    ----------
    results.species : list of str
        Species names, in the order given.
    results.lag_times_ps : numpy.ndarray
        Lag times ``0, dt, 2 dt, ...`` of the analysed frames, ps.
    results.msd_angstrom2 : dict[str, numpy.ndarray]
        MSD averaged over particles and time origins, Å^2, per species.
    results.msd_blocks_angstrom2 : dict[str, numpy.ndarray]
        ``(n_lags, n_blocks)`` MSD of each particle group, Å^2.
    results.n_particles : dict[str, int]
        Number of particles (molecules or ions) per species.
    results.particle_kind : dict[str, str]
        ``"atom"`` or ``"centre of mass"`` per species.
    results.n_frames : int
        Number of analysed frames.
    results.timestep_ps : float
        Time between analysed frames, ps.
    results.mean_volume_angstrom3 : float
        Mean box volume, Å^3.
    results.box_length_angstrom : float
        Cube root of the mean volume, Å: the ``L`` of the Yeh-Hummer correction.
    results.mean_box_edges_angstrom : numpy.ndarray
        Mean box edge lengths ``(a, b, c)``, Å.
    """

    def __init__(
        self,
        species: Mapping[str, AtomGroup],
        n_blocks: int = 5,
        verbose: bool = False,
    ) -> None:
        if not isinstance(species, Mapping) or not species:
            raise AnalysisError("SpeciesMSD needs a non-empty mapping of species name -> AtomGroup")
        universe = None
        self._particles: dict[str, tuple[np.ndarray, np.ndarray | None, int]] = {}
        for name, group in species.items():
            if not isinstance(group, AtomGroup):
                raise AnalysisError(
                    f"SpeciesMSD species {name!r} must be an MDAnalysis AtomGroup, "
                    f"got {type(group).__name__}"
                )
            if group.n_atoms == 0:
                raise AnalysisError(
                    f"SpeciesMSD species {name!r}: the selection matched no atoms; check it "
                    "against the topology's residue and atom names"
                )
            if universe is None:
                universe = group.universe
            elif group.universe is not universe:
                raise AnalysisError("SpeciesMSD species belong to different universes")
            _, inverse, counts = np.unique(
                group.resindices, return_inverse=True, return_counts=True
            )
            if np.all(counts == 1):
                weights = None
            else:
                try:
                    masses = np.asarray(group.masses, dtype=np.float64)
                except (NoDataError, AttributeError) as exc:
                    raise AnalysisError(
                        f"SpeciesMSD {_group_label(name, group)}: molecules are followed by "
                        "their centre of mass, but the topology has no atom masses"
                    ) from exc
                totals = np.bincount(inverse, weights=masses, minlength=len(counts))
                if not (np.all(masses >= 0) and np.all(totals > 0)):
                    raise AnalysisError(
                        f"SpeciesMSD {_group_label(name, group)}: a molecule has zero or "
                        "negative total mass; cannot form its centre of mass"
                    )
                weights = masses / totals[inverse]
            self._particles[str(name)] = (inverse, weights, len(counts))
        if isinstance(n_blocks, bool) or not isinstance(n_blocks, int | np.integer) or n_blocks < 1:
            raise AnalysisError(f"n_blocks must be a positive integer, got {n_blocks!r}")
        dimensions = universe.dimensions
        if dimensions is None or not np.all(np.asarray(dimensions[:3]) > 0):
            raise AnalysisError(
                "SpeciesMSD: the system has no periodic box; the box is needed to detect "
                "wrapped coordinates and for the finite-size correction"
            )
        super().__init__(universe.trajectory, verbose=verbose)
        self.species = dict(species)
        self.n_blocks = int(n_blocks)

    def _prepare(self) -> None:
        self._positions = {
            name: np.empty((self.n_frames, n, 3), dtype=np.float64)
            for name, (_, _, n) in self._particles.items()
        }
        self._times_ps = np.empty(self.n_frames)
        self._dimensions = np.empty((self.n_frames, 6))

    def _single_frame(self) -> None:
        dimensions = self._ts.dimensions
        if dimensions is None or not np.all(np.asarray(dimensions[:3]) > 0):
            raise AnalysisError(f"SpeciesMSD: frame {self._ts.frame} has no periodic box")
        i = self._frame_index
        self._times_ps[i] = self._ts.time
        self._dimensions[i] = dimensions
        for name, (inverse, weights, n) in self._particles.items():
            positions = self.species[name].positions.astype(np.float64)
            if weights is None:
                self._positions[name][i] = positions
            else:
                weighted = positions * weights[:, None]
                for axis in range(3):
                    self._positions[name][i, :, axis] = np.bincount(
                        inverse, weights=weighted[:, axis], minlength=n
                    )

    def _conclude(self) -> None:
        n_frames = self.n_frames
        if n_frames < 3:
            raise AnalysisError(f"SpeciesMSD: {n_frames} frame(s) analysed; an MSD needs >= 3")
        steps = np.diff(self._times_ps)
        dt = float(np.mean(steps))
        if not (dt > 0 and np.allclose(steps, dt, rtol=_TIME_SPACING_RTOL, atol=0.0)):
            raise AnalysisError(
                "SpeciesMSD: frames are not equally spaced in time (steps "
                f"{steps.min():g}-{steps.max():g} ps); the MSD needs a constant frame interval"
            )
        edges = self._dimensions[:, :3]
        min_edge = float(edges.min())
        for name, positions in self._positions.items():
            jumps = np.abs(np.diff(positions, axis=0))
            worst = float(jumps.max()) if jumps.size else 0.0
            if worst > _WRAP_JUMP_FRACTION * min_edge:
                frame, _, _ = np.unravel_index(int(np.argmax(jumps)), jumps.shape)
                raise AnalysisError(
                    f"SpeciesMSD species {name!r}: a particle moved {worst:.1f} Å between "
                    f"analysed frames {frame} and {frame + 1}, more than half the box edge "
                    f"({min_edge:.1f} Å); the coordinates look wrapped into the box. The MSD "
                    "needs unwrapped coordinates (or frames closer in time)"
                )

        res = self.results
        res.species = list(self._positions)
        res.lag_times_ps = np.arange(n_frames) * dt
        res.msd_angstrom2 = {}
        res.msd_blocks_angstrom2 = {}
        res.n_particles = {}
        res.particle_kind = {}
        for name, positions in self._positions.items():
            per_particle = msd_fft(positions)
            n = per_particle.shape[1]
            res.msd_angstrom2[name] = per_particle.mean(axis=1)
            blocks = np.array_split(np.arange(n), min(self.n_blocks, n))
            res.msd_blocks_angstrom2[name] = np.stack(
                [per_particle[:, b].mean(axis=1) for b in blocks], axis=1
            )
            res.n_particles[name] = int(n)
            res.particle_kind[name] = (
                "atom" if self._particles[name][1] is None else "centre of mass"
            )
        self._positions = {}
        volumes = np.abs(
            [np.linalg.det(_box_matrix(d)) for d in self._dimensions]  # triclinic-safe
        )
        res.n_frames = int(n_frames)
        res.timestep_ps = dt
        res.mean_volume_angstrom3 = float(np.mean(volumes))
        res.box_length_angstrom = float(np.mean(volumes) ** (1.0 / 3.0))
        res.mean_box_edges_angstrom = edges.mean(axis=0)


def _box_matrix(dimensions: np.ndarray) -> np.ndarray:
    from MDAnalysis.lib.mdamath import triclinic_vectors

    return triclinic_vectors(dimensions).astype(np.float64)


def msd_table(results: Results | SpeciesMSD) -> pd.DataFrame:
    """MSDs of all species as one table.

    Parameters
    ----------
    results : MDAnalysis.analysis.base.Results or SpeciesMSD
        ``SpeciesMSD(...).run().results`` (or the analysis).

    Returns
    -------
    pandas.DataFrame
        Column ``lag_time_ps`` and one column ``msd_<species>_angstrom2`` per species.
    """
    res = results.results if isinstance(results, SpeciesMSD) else results
    table = {"lag_time_ps": np.asarray(res.lag_times_ps, dtype=float)}
    for name in res.species:
        table[f"msd_{name}_angstrom2"] = np.asarray(res.msd_angstrom2[name], dtype=float)
    return pd.DataFrame(table)


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


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
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
        slopes[j] = _ols(log_t[near], log_m[near])[0]
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
    slope, intercept, slope_err = _ols(t[in_window], msd[in_window])
    g_in = grid[(t[grid] >= t_start) & (t[grid] <= t_end)]
    if len(g_in) >= 3:
        beta, _, beta_err = _ols(np.log(t[g_in]), np.log(msd[g_in]))
    else:
        beta, _, beta_err = _ols(np.log(t[in_window]), np.log(msd[in_window]))

    sem = math.nan
    if msd_blocks_angstrom2 is not None:
        blocks = np.asarray(msd_blocks_angstrom2, dtype=np.float64)
        if blocks.ndim != 2 or blocks.shape[0] != len(t):
            raise AnalysisError(
                f"msd_blocks_angstrom2 must have shape (n_lags={len(t)}, n_groups), got "
                f"{blocks.shape}"
            )
        if blocks.shape[1] >= 2:
            d_blocks = [_ols(t[in_window], col[in_window])[0] / 6.0 for col in blocks.T]
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
    it is known; an experimental value (:data:`NMP_VISCOSITY_PA_S_25C` for pure NMP)
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


# ---------------------------------------------------------------------------------------
# Arrhenius
# ---------------------------------------------------------------------------------------

#: 1 kJ/mol in eV per particle.


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
        slope, intercept, slope_err = _ols(x, y)
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


# ---------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------


def plot_msd(
    results: Results | SpeciesMSD,
    fits: Mapping[str, DiffusionFit],
    path: str | os.PathLike[str],
    title: str,
) -> None:
    """MSD of each species on log-log axes with the fitted window shaded.

    Each species' MSD is drawn with its diffusive window shaded in the same colour and
    the fitted line ``6 D t + b`` dashed over it; a grey dotted line of slope 1 guides
    the eye, and the largest lag used in fits is marked.  The legend gives D in
    1e-9 m^2/s and the log-log slope of the window; a flagged (non-diffusive) fit is
    labelled as such.  Written atomically as PNG.

    Parameters
    ----------
    results : MDAnalysis.analysis.base.Results or SpeciesMSD
        ``SpeciesMSD(...).run().results``.
    fits : Mapping[str, DiffusionFit]
        Fits by species (e.g. from :func:`diffusion_coefficients`); species without a
        fit are drawn without a window.
    path : str or os.PathLike
        Output PNG.
    title : str
        Figure title.
    """
    res = results.results if isinstance(results, SpeciesMSD) else results
    fig = new_figure((6.4, 4.8))
    ax = fig.add_subplot()
    t = np.asarray(res.lag_times_ps, dtype=float)
    positive = t > 0
    colours = [f"C{i}" for i in range(10)]
    anchor = None
    for i, name in enumerate(res.species):
        colour = colours[i % len(colours)]
        msd = np.asarray(res.msd_angstrom2[name], dtype=float)
        shown = positive & (msd > 0)
        label = name
        fit = fits.get(name)
        if fit is not None:
            label += (
                f": D = {fit.d_1e9_m2_per_s:.3g} × 10$^{{-9}}$ m$^2$/s, "
                f"slope {fit.loglog_slope:.2f}"
            )
            if not fit.diffusive:
                label += " (NOT diffusive)"
            ax.axvspan(fit.window_start_ps, fit.window_end_ps, color=colour, alpha=0.12, lw=0)
            tw = np.geomspace(fit.window_start_ps, fit.window_end_ps, 50)
            ax.plot(
                tw, 6.0 * fit.d_angstrom2_per_ps * tw + fit.intercept_angstrom2,
                color="k", ls="--", lw=1.0,
            )  # fmt: skip
            if anchor is None:
                anchor = (fit.window_start_ps, float(np.interp(fit.window_start_ps, t, msd)))
        ax.plot(t[shown], msd[shown], color=colour, lw=1.5, label=label)
    if np.any(positive):
        t_guide = t[positive]
        if anchor is None:
            anchor = (float(t_guide[0]), float(res.msd_angstrom2[res.species[0]][positive][0]))
        ax.plot(
            t_guide, 0.3 * anchor[1] * t_guide / anchor[0], color="0.5", ls=":", lw=1.2,
            label="slope 1 (diffusive)",
        )  # fmt: skip
    max_lags = {fit.max_lag_ps for fit in fits.values()}
    if len(max_lags) == 1:
        ax.axvline(max_lags.pop(), color="0.3", lw=0.8, ls="-.", label="largest lag fitted")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("lag time (ps)")
    ax.set_ylabel("MSD (Å$^2$)")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize="small")
    save_png(fig, path)


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
    from matplotlib.ticker import FuncFormatter

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


# ---------------------------------------------------------------------------------------
# One run, files in and out
# ---------------------------------------------------------------------------------------


def ion_transport_records(
    charges: Mapping[str, int],
    d_pbc_angstrom2_per_ps: Mapping[str, float],
    d_corrected_m2_per_s: Mapping[str, float],
    flagged: Sequence[str],
    n_particles: Mapping[str, int],
    volume_angstrom3: float,
    temperature_kelvin: float,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The t+ and Nernst-Einstein records of :func:`analyze_transport`.

    Parameters
    ----------
    charges
        Species -> formal charge (neutral species are ignored).
    d_pbc_angstrom2_per_ps, d_corrected_m2_per_s
        Species -> D as fitted in the box (Angstrom^2/ps) and Yeh-Hummer corrected (m^2/s).
    flagged
        Species whose MSD fit had no diffusive window.
    n_particles, volume_angstrom3, temperature_kelvin
        Ion counts, mean box volume and temperature for the conductivity.

    Returns
    -------
    (dict, dict)
        ``transference_number`` and ``conductivity`` records; a value is None, with the
        reason in ``note``, where it cannot be computed (not one cation and one anion
        species; an ion's D not positive).
    """
    cations = [n for n in charges if charges[n] > 0]
    anions = [n for n in charges if charges[n] < 0]
    # A short run can fit a slope <= 0 to an ion's MSD: then its D, hence t+ and the
    # Nernst-Einstein conductivity, is not resolved, which the record says instead of
    # failing the analysis.
    unresolved = sorted(
        n
        for n in cations + anions
        if not (d_corrected_m2_per_s[n] > 0 and d_pbc_angstrom2_per_ps[n] > 0)
    )
    not_resolved_note = (
        f"not computed: the fitted D of {unresolved} is not positive (MSD slope <= 0 in "
        "the fit window; the run is too short to resolve diffusion)"
    )
    record_t: dict[str, Any]
    if len(cations) == 1 and len(anions) == 1 and unresolved:
        record_t = {
            "value": None,
            "value_pbc": None,
            "cation": cations[0],
            "anion": anions[0],
            "flagged": True,
            "note": not_resolved_note,
        }
    elif len(cations) == 1 and len(anions) == 1:
        c, a = cations[0], anions[0]
        t_plus = transference_number(d_corrected_m2_per_s[c], d_corrected_m2_per_s[a])
        t_plus_pbc = transference_number(d_pbc_angstrom2_per_ps[c], d_pbc_angstrom2_per_ps[a])
        bad = [n for n in (c, a) if n in flagged]
        record_t = {
            "value": t_plus,
            "value_pbc": t_plus_pbc,
            "cation": c,
            "anion": a,
            "flagged": bool(bad),
            "note": (
                f"FLAGGED: from non-diffusive MSD fit(s) of {bad}" if bad
                else "D+ / (D+ + D-), Yeh-Hummer corrected D, uncorrelated ions"
            ),
        }  # fmt: skip
    else:
        record_t = {
            "value": None,
            "value_pbc": None,
            "flagged": False,
            "note": f"not computed: needs one cation and one anion species, got cations "
            f"{cations} and anions {anions}",
        }
    ions = cations + anions
    if ions and unresolved:
        record_sigma = {"sigma_ms_per_cm": None, "flagged": True, "note": not_resolved_note}
    elif ions:
        ne = nernst_einstein_conductivity(
            {n: n_particles[n] for n in ions},
            {n: charges[n] for n in ions},
            {n: d_corrected_m2_per_s[n] for n in ions},
            volume_angstrom3,
            temperature_kelvin,
        )
        bad = [n for n in ions if n in flagged]
        record_sigma = {
            "sigma_ms_per_cm": ne["sigma_ms_per_cm"],
            "sigma_s_per_m": ne["sigma_s_per_m"],
            "contributions_s_per_m": ne["contributions_s_per_m"],
            "charges": "formal (unscaled) ionic charges",
            "flagged": bool(bad),
            "note": (
                f"FLAGGED: from non-diffusive MSD fit(s) of {bad}" if bad
                else "Nernst-Einstein, Yeh-Hummer corrected D, ion correlations neglected"
            ),
        }  # fmt: skip
    else:
        record_sigma = {"sigma_ms_per_cm": None, "flagged": False, "note": "no ions"}

    return record_t, record_sigma


def analyze_transport(
    topology: str | os.PathLike[str],
    trajectory: str | os.PathLike[str],
    species: Mapping[str, str],
    charges: Mapping[str, int],
    *,
    temperature_kelvin: float,
    out_json: str | os.PathLike[str],
    out_csv: str | os.PathLike[str],
    out_png: str | os.PathLike[str],
    viscosity_pa_s: float = NMP_VISCOSITY_PA_S_25C,
    viscosity_source: str = "pure NMP at 25 °C (transport.NMP_VISCOSITY_PA_S_25C)",
    skip_ps: float = 0.0,
    n_groups: int = 5,
    fit_options: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """MSDs, self-diffusion, t+ and Nernst-Einstein conductivity of one unwrapped run.

    Every species is followed by residue name (centre of mass per molecule).  D comes
    from :func:`fit_diffusion` with ``require_diffusive=False``: a species whose MSD has
    no diffusive window still gets a number, marked ``"diffusive": false`` with the
    reason in ``note``, and every quantity computed from it (t+, sigma) is marked
    ``"flagged": true``.  D is reported as fitted in the periodic box (``d_pbc_*``) and
    with the Yeh-Hummer correction for ``viscosity_pa_s`` (``d_*``); t+ and sigma use the
    corrected values (t+ from the box values is given too).

    Parameters
    ----------
    topology, trajectory
        Files MDAnalysis can read; the trajectory must be unwrapped.
    species
        Species name -> residue name (``{"Li": "LI", "PF6": "PF6", "NMP": "NMP"}``).
    charges
        Species name -> formal charge number (0 for neutral species).  t+ needs exactly
        one cationic and one anionic species; sigma uses every charged species with its
        formal (unscaled) charge.
    temperature_kelvin
        Temperature of the run (Yeh-Hummer, Nernst-Einstein).
    out_json, out_csv, out_png
        Record, MSD table (:func:`msd_table`) and log-log MSD figure (:func:`plot_msd`).
    viscosity_pa_s, viscosity_source
        Shear viscosity for the Yeh-Hummer term and where it comes from (both written).
    skip_ps
        Trajectory time left out at the start.
    n_groups
        Particle groups per species for the spread of D (:class:`SpeciesMSD`).
    fit_options
        Keyword arguments of :func:`fit_diffusion` (``max_lag_fraction``,
        ``slope_tolerance``, ``min_span_decades``, ...).
    title
        Figure title.

    Returns
    -------
    dict
        The record written to ``out_json``.
    """

    import MDAnalysis

    from electrolyte_md.io import atomic_write_text

    options = dict(fit_options or {})
    options["require_diffusive"] = False
    missing = sorted(set(species) - set(charges))
    if missing:
        raise AnalysisError(f"analyze_transport: no charge given for species {missing}")
    universe = MDAnalysis.Universe(str(topology), str(trajectory))
    groups = {}
    for name, residue in species.items():
        group = universe.select_atoms(f"resname {residue}")
        if group.n_atoms == 0:
            found = sorted(set(universe.residues.resnames))
            raise AnalysisError(
                f"species {name!r}: no residue {residue!r} in {topology} (residues there: "
                f"{found}); check the species' residue in the configuration"
            )
        groups[name] = group
    dt_ps = universe.trajectory.dt
    start = math.ceil(skip_ps / dt_ps - 1e-9) if skip_ps > 0 else 0
    if universe.trajectory.n_frames - start < 4:
        raise AnalysisError(
            f"transport: skip_ps = {skip_ps} leaves {universe.trajectory.n_frames - start} "
            f"frame(s) of {trajectory}; an MSD fit needs at least 4"
        )
    msd = SpeciesMSD(groups, n_blocks=n_groups).run(start=start)
    res = msd.results
    fits = diffusion_coefficients(res, **options)
    correction = yeh_hummer_correction_m2_per_s(
        temperature_kelvin, viscosity_pa_s, res.box_length_angstrom
    )
    per_species: dict[str, Any] = {}
    d_corrected_m2_per_s = {}
    for name, fit in fits.items():
        d_corrected_m2_per_s[name] = fit.d_m2_per_s + correction
        entry = {
            "residue": species[name],
            "charge": int(charges[name]),
            "n_particles": int(res.n_particles[name]),
            "particle": res.particle_kind[name],
            "n_groups": int(np.asarray(res.msd_blocks_angstrom2[name]).shape[1]),
            "diffusive": bool(fit.diffusive),
            "d_pbc_1e9_m2_per_s": json_float(fit.d_1e9_m2_per_s),
            "d_1e9_m2_per_s": json_float(d_corrected_m2_per_s[name] * 1e9),
            "d_1e9_m2_per_s_sem": json_float(
                fit.d_angstrom2_per_ps_sem * ANGSTROM2_PER_PS_TO_1E9_M2_PER_S
            ),
            "fit": fit.as_dict(),
        }
        per_species[name] = entry
    flagged = sorted(name for name, fit in fits.items() if not fit.diffusive)

    record_t, record_sigma = ion_transport_records(
        charges,
        {n: fit.d_angstrom2_per_ps for n, fit in fits.items()},
        d_corrected_m2_per_s,
        flagged,
        {n: res.n_particles[n] for n in species},
        res.mean_volume_angstrom3,
        temperature_kelvin,
    )

    record = {
        "temperature_kelvin": float(temperature_kelvin),
        "n_frames": int(res.n_frames),
        "first_frame": int(start),
        "timestep_ps": float(res.timestep_ps),
        "box_length_angstrom": float(res.box_length_angstrom),
        "mean_volume_angstrom3": float(res.mean_volume_angstrom3),
        "viscosity_pa_s": float(viscosity_pa_s),
        "viscosity_source": viscosity_source,
        "yeh_hummer_correction_1e9_m2_per_s": correction * 1e9,
        "fit_options": {k: v for k, v in options.items()},
        "species": per_species,
        "flagged_species": flagged,
        "transference_number": record_t,
        "conductivity": record_sigma,
    }
    atomic_write_text(out_csv, msd_table(res).to_csv(index=False, float_format="%.6g"))
    plot_msd(res, fits, out_png, title or "Mean-square displacements")
    write_json(out_json, record)
    return record
