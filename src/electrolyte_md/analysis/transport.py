"""Transport of one run: the MSD table and figure, the t+ and conductivity records, the job.

The science lives beside this module: :mod:`~electrolyte_md.analysis.msd`
(:class:`~electrolyte_md.analysis.msd.SpeciesMSD`, the MSDs of an unwrapped trajectory)
and :mod:`~electrolyte_md.analysis.diffusion` (diffusion fits, Yeh-Hummer, t+,
Nernst-Einstein).  Here:

- :func:`msd_table` -- the MSDs of all species as one table.
- :func:`plot_msd` -- publication-style log-log figure of the MSDs and their fits.
- :func:`ion_transport_records` -- the t+ and Nernst-Einstein records of a run.
- :func:`analyze_transport` -- the job: MSDs, self-diffusion, t+ and conductivity of one
  unwrapped run, written as JSON, CSV and PNG.

Units: lengths in Å, times in ps, MSD in Å^2, D in Å^2/ps internally
(1 Å^2/ps = 1e-8 m^2/s = 10 x 1e-9 m^2/s); every public name carries its unit.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import MDAnalysis
import numpy as np
import pandas as pd
from MDAnalysis.analysis.base import Results

from electrolyte_md.analysis.diffusion import (
    ANGSTROM2_PER_PS_TO_1E9_M2_PER_S,
    DiffusionFit,
    diffusion_coefficients,
    nernst_einstein_conductivity,
    transference_number,
    yeh_hummer_correction_m2_per_s,
)
from electrolyte_md.analysis.msd import SpeciesMSD
from electrolyte_md.errors import AnalysisError
from electrolyte_md.io import atomic_write_text, json_float, write_json
from electrolyte_md.plots import new_figure, save_png

__all__ = [
    "NMP_VISCOSITY_PA_S_25C",
    "analyze_transport",
    "ion_transport_records",
    "msd_table",
    "plot_msd",
]

#: Viscosity of pure N-methyl-2-pyrrolidone at 25 °C, Pa s: 1.65 mPa s, the handbook value
#: (Ullmann's Encyclopedia of Industrial Chemistry, "2-Pyrrolidone" / NMP article).  A
#: 1 mol/L LiPF6 solution is more viscous than the pure solvent, and the consistent input
#: to the Yeh-Hummer term is the viscosity *of the simulated model*; this value is a
#: documented default, not a property of the model.
NMP_VISCOSITY_PA_S_25C = 1.65e-3


# ---------------------------------------------------------------------------------------
# Tables and figures
# ---------------------------------------------------------------------------------------


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
        Fits by species (e.g. from
        :func:`~electrolyte_md.analysis.diffusion.diffusion_coefficients`); species
        without a fit are drawn without a window.
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
    from :func:`~electrolyte_md.analysis.diffusion.fit_diffusion` with
    ``require_diffusive=False``: a species whose MSD has no diffusive window still gets a
    number, marked ``"diffusive": false`` with the reason in ``note``, and every quantity
    computed from it (t+, sigma) is marked ``"flagged": true``.  D is reported as fitted
    in the periodic box (``d_pbc_*``) and with the Yeh-Hummer correction for
    ``viscosity_pa_s`` (``d_*``); t+ and sigma use the corrected values (t+ from the box
    values is given too).

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
        Particle groups per species for the spread of D
        (:class:`~electrolyte_md.analysis.msd.SpeciesMSD`).
    fit_options
        Keyword arguments of :func:`~electrolyte_md.analysis.diffusion.fit_diffusion`
        (``max_lag_fraction``, ``slope_tolerance``, ``min_span_decades``, ...).
    title
        Figure title.

    Returns
    -------
    dict
        The record written to ``out_json``.
    """
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
