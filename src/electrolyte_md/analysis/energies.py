"""The MD run's time series (temperature, density, potential energy) through every stage."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from electrolyte_md.plots import new_figure, save_figure

__all__ = ["MD_STAGES", "plot_md_timeseries"]

#: The stages of a run in order, with the label and colour of each in the figure.
MD_STAGES = (
    ("decorrelation", "decorrelation (NVT, ions uncharged)", "tab:purple"),
    ("heating", "heating (NVT)", "tab:orange"),
    ("equilibration", "equilibration (NPT)", "tab:gray"),
    ("production", "production", "tab:blue"),
)


def plot_md_timeseries(
    stage_csvs: Sequence[tuple[str, str | Path]],
    paths: Sequence[str | Path],
    title: str,
) -> list[str]:
    """Temperature, density and potential energy against time through every stage.

    Parameters
    ----------
    stage_csvs
        (stage, energy table written by :func:`electrolyte_md.md.run_md`) in run order,
        stages named as in :data:`MD_STAGES`; a stage with no rows (not run) is left out.
    paths
        Files to write (PNG for the report, SVG or PDF for papers), each atomically.
    title
        Figure title.

    Returns
    -------
    list of str
        The stages drawn, in order.

    The stages follow each other on one time axis (each table's clock starts at zero), so
    a start that is not on target (a heating that ended cold, a density still moving when
    NPT ended) is seen where production begins.  The decorrelation's potential energy is
    that of the uncharged ions, hence its offset.
    """
    styles = {name: (label, color) for name, label, color in MD_STAGES}
    figure = new_figure((7.5, 7.5))
    axes = figure.subplots(3, 1, sharex=True)
    series = [
        ("temperature_kelvin", "temperature (K)"),
        ("density_g_per_cm3", "density (g/cm$^3$)"),
        ("potential_energy_kj_per_mol", "potential energy (kJ/mol)"),
    ]
    offset = 0.0
    drawn = []
    for stage, csv in stage_csvs:
        table = pd.read_csv(csv)
        if table.empty:
            continue
        drawn.append(stage)
        label, color = styles.get(stage, (stage, None))
        time = table["time_ps"] + offset
        for ax, (column, _) in zip(axes, series, strict=True):
            ax.plot(time, table[column], color=color, lw=0.8, label=label)
        offset = float(time.iloc[-1])
    for ax, (_, ylabel) in zip(axes, series, strict=True):
        ax.set_ylabel(ylabel)
    axes[0].legend(loc="best", fontsize="small")
    axes[-1].set_xlabel("time since the end of minimisation (ps)")
    figure.suptitle(title)
    for path in paths:
        save_figure(figure, path)
    return drawn
