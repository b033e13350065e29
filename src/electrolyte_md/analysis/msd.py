r"""Mean-square displacements of molecules and ions from an unwrapped trajectory.

The mean-square displacement (MSD) of a species at lag time :math:`\tau` is the squared
distance its particles travel in :math:`\tau`, averaged over the particles and over every
time origin of the trajectory (the "windowed" MSD):

.. math::

    \mathrm{MSD}(\tau) = \frac{1}{N}\sum_{i=1}^{N}
        \big\langle \lvert \mathbf r_i(t_0 + \tau) - \mathbf r_i(t_0) \rvert^2
        \big\rangle_{t_0}

A *particle* here is what diffuses: a monatomic ion (Li+) is followed by its atom, a
molecule (NMP, PF6-) by the centre of mass of its atoms.  At long lags a diffusing
particle's MSD grows as :math:`6 D \tau` in three dimensions, which is where the
self-diffusion coefficient :math:`D` comes from
(:func:`~electrolyte_md.analysis.diffusion.fit_diffusion`).

The coordinates must be **unwrapped**: molecules whole and atoms never put back into the
box when they cross a face, as in the pipeline's ``prod.dcd``.  :class:`SpeciesMSD`
refuses a trajectory in which a particle moves more than half a box edge between
consecutive analysed frames, the sign of wrapped coordinates.

The MSD over all time origins is computed with FFTs (:func:`msd_fft`), in
O(N log N) of the number of frames N instead of the O(N^2) double sum: the squared
displacement is expanded into a running sum of squared positions and the position
autocorrelation, the latter by FFT (Calandrini et al. 2011; the algorithm of
``tidynamics.msd``).

- :func:`msd_fft` -- per-particle mean-square displacement over all time origins,
  computed with FFTs (O(N log N) in the number of frames).
- :class:`SpeciesMSD` -- an MDAnalysis :class:`~MDAnalysis.analysis.base.AnalysisBase`
  that follows one particle per molecule (its centre of mass) or per monatomic ion
  through an *unwrapped* trajectory, for several species in one pass, and returns
  their MSDs.

Units: lengths in Å, times in ps, MSD in Å^2.

Computing an MSD and a diffusion coefficient
--------------------------------------------
The MSDs of every species come from one pass over the trajectory:

.. code-block:: python

    import MDAnalysis
    from electrolyte_md.analysis.diffusion import fit_diffusion
    from electrolyte_md.analysis.msd import SpeciesMSD

    u = MDAnalysis.Universe("system.prmtop", "prod.dcd")
    msd = SpeciesMSD(
        {"Li": u.select_atoms("resname LI"), "NMP": u.select_atoms("resname NMP")}
    ).run()
    res = msd.results
    res.lag_times_ps, res.msd_angstrom2["Li"]  # lags (ps) and the MSD of Li+ (Å^2)

D is the slope / 6 of the MSD where it is linear:
:func:`~electrolyte_md.analysis.diffusion.fit_diffusion` finds that window from the local
log-log slope (1 for diffusion, 2 for ballistic motion at short lags, below 1 for caged
motion) and fits ``MSD = 6 D t + b`` there.  The particle groups
of ``msd_blocks_angstrom2`` give the spread of D:

.. code-block:: python

    fit = fit_diffusion(
        res.lag_times_ps,
        res.msd_angstrom2["Li"],
        msd_blocks_angstrom2=res.msd_blocks_angstrom2["Li"],
    )
    fit.d_1e9_m2_per_s, fit.d_angstrom2_per_ps_sem, fit.note

It raises where the MSD has no diffusive window (the run is too short);
``require_diffusive=False`` returns a fit marked ``diffusive=False`` instead, and
:func:`~electrolyte_md.analysis.diffusion.diffusion_coefficients` fits every species of
the run at once.  The particle trajectories are held in memory until ``run()`` ends;
``run(start=..., step=...)`` selects the frames.

Implementation note: MDAnalysis' ``EinsteinMSD(fft=True)`` needs the optional
``tidynamics`` package and works on atoms, not on molecular centres of mass;
``tidynamics`` would install cleanly, but the FFT MSD is a dozen lines of numpy
(:func:`msd_fft`, checked against the direct double sum in the tests), so no
dependency was added.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from MDAnalysis.analysis.base import AnalysisBase
from MDAnalysis.core.groups import AtomGroup
from MDAnalysis.exceptions import NoDataError
from MDAnalysis.lib.mdamath import triclinic_vectors

from electrolyte_md.errors import AnalysisError

__all__ = ["SpeciesMSD", "msd_fft"]

# A displacement between consecutive frames larger than this fraction of the box edge
# means the coordinates were wrapped into the box (a particle crossed a face).
_WRAP_JUMP_FRACTION = 0.5
# Relative tolerance on equal spacing of frame times.
_TIME_SPACING_RTOL = 1e-3


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
    return triclinic_vectors(dimensions).astype(np.float64)
