"""Static dielectric constant of a salt-free run from its dipole fluctuations.

With Ewald sums in conducting ("tin-foil") boundary conditions, as OpenMM's PME uses,
the static dielectric constant of a neutral liquid follows from the fluctuation of the
box's total dipole moment M (Neumann, Mol. Phys. 1983, 50, 841):

    eps = 1 + (<M^2> - <M>^2) / (3 eps0 V kB T)

MDAnalysis' :class:`~MDAnalysis.analysis.dielectric.DielectricConstant` computes it
(molecules made whole from the topology's bonds, per Cartesian component, averaged);
this module only chooses the frames, adds an error bar and writes the record. It refuses
systems with free charges (ions): there the dipole of the box is not defined under
periodic boundaries and the ions' current adds a conductivity term, so the electrolytes
of a study get no dielectric constant, only their neat solvents do.

**Error bar.** The fluctuation converges slowly (for NMP-like liquids the dipole
correlation time is tens of ps, and published values use tens of ns), so the estimate is
made over all analysed frames and its standard error from ``n_blocks`` contiguous blocks
(standard deviation of the block estimates / sqrt(n_blocks)). A block underestimates the
fluctuation of a short run, so the spread is a floor, not a ceiling: a run of a few
hundred ps gives a number whose order of magnitude, not its digits, means something; the
record says how many frames and how long it covers.

Example
-------
>>> record = dielectric_record("system.prmtop", "prod.dcd", 298.15)  # doctest: +SKIP
>>> record["dielectric_constant"], record["dielectric_constant_sem"]  # doctest: +SKIP
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import MDAnalysis
import numpy as np
from MDAnalysis.analysis.dielectric import DielectricConstant

from electrolyte_md.errors import AnalysisError
from electrolyte_md.io import json_float, write_json

__all__ = ["dielectric_record", "write_dielectric"]


def _charged_molecules(universe: Any, topology: str | Path) -> int:
    atoms = universe.atoms
    if not hasattr(atoms, "charges"):
        raise AnalysisError(f"{topology}: no partial charges; the dielectric constant needs them")
    fragment_charges = atoms.total_charge(compound="fragments")
    return int(np.count_nonzero(np.abs(fragment_charges) > 1e-5))


def _estimate(atoms: Any, temperature_kelvin: float, start: int, stop: int) -> float:
    analysis = DielectricConstant(atoms, temperature=temperature_kelvin, make_whole=True)
    analysis.run(start=start, stop=stop)
    return float(analysis.results.eps_mean)


def dielectric_record(
    topology: str | Path,
    trajectory: str | Path,
    temperature_kelvin: float,
    *,
    skip_ps: float = 0.0,
    n_blocks: int = 5,
) -> dict[str, Any]:
    """The dielectric constant of a run of a neutral, salt-free system.

    Parameters
    ----------
    topology
        A topology with charges and bonds (the workflow's ``system.prmtop``).
    trajectory
        The production trajectory.
    temperature_kelvin
        The run's temperature.
    skip_ps
        Production time dropped at the start.
    n_blocks
        Contiguous blocks for the standard error (at least 2).

    Returns
    -------
    dict
        ``dielectric_constant`` (all analysed frames), ``dielectric_constant_sem`` (from
        the blocks), ``block_estimates``, ``n_frames``, ``n_blocks``,
        ``analysed_ps``, ``skip_ps`` and ``temperature_kelvin``.

    Raises
    ------
    AnalysisError
        For a system with ions (free charges), a topology without charges, or fewer
        frames than ``2 * n_blocks`` after ``skip_ps``.
    """
    return _record(
        MDAnalysis.Universe(str(topology), str(trajectory)),
        topology,
        trajectory,
        temperature_kelvin,
        skip_ps,
        n_blocks,
    )


def _record(
    universe: Any,
    topology: str | Path,
    trajectory: str | Path,
    temperature_kelvin: float,
    skip_ps: float,
    n_blocks: int,
) -> dict[str, Any]:
    if n_blocks < 2:
        raise AnalysisError(f"dielectric constant: n_blocks must be >= 2, got {n_blocks}")
    atoms = universe.atoms
    charged = _charged_molecules(universe, topology)
    if charged:
        raise AnalysisError(
            f"{topology}: {charged} molecules carry a net charge; the dielectric constant "
            "from dipole fluctuations is defined for neutral, salt-free liquids only"
        )
    dt_ps = float(universe.trajectory.dt)
    start = math.ceil(skip_ps / dt_ps - 1e-9) if skip_ps > 0 else 0
    n_frames = universe.trajectory.n_frames - start
    if n_frames < 2 * n_blocks:
        raise AnalysisError(
            f"dielectric constant of {trajectory}: {n_frames} frames after skip_ps = "
            f"{skip_ps:g} ps, fewer than 2 per block ({n_blocks} blocks); run longer"
        )
    whole = _estimate(atoms, temperature_kelvin, start, universe.trajectory.n_frames)
    edges = np.linspace(start, universe.trajectory.n_frames, n_blocks + 1).round().astype(int)
    blocks = [
        _estimate(atoms, temperature_kelvin, int(a), int(b))
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
    return {
        "dielectric_constant": json_float(whole),
        "dielectric_constant_sem": json_float(float(np.std(blocks, ddof=1) / math.sqrt(n_blocks))),
        "block_estimates": [json_float(b) for b in blocks],
        "n_frames": int(n_frames),
        "n_blocks": int(n_blocks),
        "analysed_ps": n_frames * dt_ps,
        "skip_ps": float(skip_ps),
        "temperature_kelvin": float(temperature_kelvin),
        "method": (
            "total-dipole fluctuation, conducting boundary conditions (MDAnalysis "
            "DielectricConstant); error from contiguous blocks (a floor for short runs)"
        ),
    }


def write_dielectric(
    topology: str | Path,
    trajectory: str | Path,
    temperature_kelvin: float,
    out_json: str | Path,
    *,
    skip_ps: float = 0.0,
    n_blocks: int = 5,
) -> dict[str, Any]:
    """:func:`dielectric_record` written as JSON (atomically). A system with ions (a
    charged additive without salt) gets a record that says why it has no value."""
    universe = MDAnalysis.Universe(str(topology), str(trajectory))  # read once
    charged = _charged_molecules(universe, topology)
    if charged:
        record: dict[str, Any] = {
            "dielectric_constant": None,
            "dielectric_constant_sem": None,
            "temperature_kelvin": float(temperature_kelvin),
            "note": f"not computed: {charged} molecules carry a net charge (ions); the "
            "fluctuation formula holds for neutral liquids only",
        }
    else:
        record = _record(universe, topology, trajectory, temperature_kelvin, skip_ps, n_blocks)
    write_json(out_json, record)
    return record
