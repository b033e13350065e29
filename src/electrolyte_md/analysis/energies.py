"""The MD run's time series (temperature, density, potential energy) as one figure."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from electrolyte_md.plots import new_figure, save_png

__all__ = ["plot_md_timeseries"]


def plot_md_timeseries(equil_csv: Path, prod_csv: Path, path: Path, title: str) -> None:
    """Temperature, density and potential energy against time, equilibration then production.

    Parameters
    ----------
    equil_csv, prod_csv
        Energy tables written by :func:`electrolyte_md.md.run_md`.
    path
        PNG to write (atomically).
    title
        Figure title.
    """
    equil = pd.read_csv(equil_csv)
    prod = pd.read_csv(prod_csv)
    figure = new_figure((7.0, 7.5))
    axes = figure.subplots(3, 1, sharex=True)
    series = [
        ("temperature_kelvin", "temperature (K)"),
        ("density_g_per_cm3", "density (g/cm$^3$)"),
        ("potential_energy_kj_per_mol", "potential energy (kJ/mol)"),
    ]
    # each phase's clock starts at zero; production follows equilibration on the axis
    prod_time = prod["time_ps"] + (equil["time_ps"].iloc[-1] if len(equil) else 0.0)
    for ax, (column, label) in zip(axes, series, strict=True):
        ax.plot(
            equil["time_ps"], equil[column], color="tab:gray", lw=0.8, label="equilibration (NPT)"
        )
        ax.plot(prod_time, prod[column], color="tab:blue", lw=0.8, label="production")
        ax.set_ylabel(label)
    axes[0].legend(loc="best", fontsize="small")
    axes[-1].set_xlabel("time since the end of minimisation (ps)")
    figure.suptitle(title)
    save_png(figure, path)
