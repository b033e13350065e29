"""Radial distribution functions and first-shell coordination numbers.

:class:`RDFCoordination`, an MDAnalysis :class:`~MDAnalysis.analysis.base.AnalysisBase`,
histograms center-ligand distances under the minimum-image convention and derives from
them g(r), the running coordination number n(r), the first peak, the first minimum (the
shell cutoff, :mod:`electrolyte_md.analysis.peaks`) and the coordination number with a
block-averaged standard error; :class:`RDFCoordinationSet` runs several of them in one
trajectory pass.  :class:`CentreCounts` counts the ligands of each centre atom at a
known cutoff, frame by frame: the per-site series behind an honest error bar for a CN
(:func:`electrolyte_md.timeseries.with_site_spread`).  The science only: the tables,
figures, records and the job that turn ``results`` into files are in
:mod:`electrolyte_md.analysis.coordination`.

All lengths are in ångström, volumes in Å^3 and densities in Å^-3.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from MDAnalysis.analysis.backends import BackendBase
from MDAnalysis.analysis.base import AnalysisBase
from MDAnalysis.core.groups import AtomGroup
from MDAnalysis.exceptions import NoDataError
from MDAnalysis.lib.distances import capped_distance, distance_array
from MDAnalysis.lib.log import ProgressBar
from MDAnalysis.lib.mdamath import box_volume

from electrolyte_md.analysis.frames import half_min_width_angstrom, read_blocks
from electrolyte_md.analysis.kernel import ortho_histograms
from electrolyte_md.analysis.peaks import (
    PEAK_MIN_FRACTION_OF_MAX,
    PEAK_MIN_HEIGHT,
    find_first_minimum,
    find_first_peak,
    smooth,
)
from electrolyte_md.errors import AnalysisError

__all__ = ["CentreCounts", "RDFCoordination", "RDFCoordinationSet"]

#: MDAnalysis' capped_distance searches by brute force (the full distance matrix, cut
#: at the cutoff) when the cutoff exceeds 0.3 of an orthorhombic box edge; above this
#: slightly larger fraction the RDF does the same itself, without the per-call overhead.
_BRUTE_FORCE_CUTOFF_FRACTION = 0.31

# Slack when comparing lengths that should be equal but went through float32
# coordinates or a division by the bin width.
_LENGTH_SLACK_ANGSTROM = 1e-6
_BIN_COUNT_SLACK = 1e-6
# MDAnalysis' minimum image leaves a box edge up to this length alone.
_FLT_EPSILON = float(np.finfo(np.float32).eps)


def _describe_group(group: AtomGroup) -> str:
    """Short human-readable description of an atom group for error messages."""
    parts = []
    for attr in ("names", "resnames"):
        try:
            values = np.unique(getattr(group, attr))
        except (NoDataError, AttributeError):  # topology lacks this attribute
            continue
        shown = ",".join(str(v) for v in values[:4]) + ("..." if len(values) > 4 else "")
        parts.append(f"{attr[:-1]} {shown}")
    parts.append(f"{group.n_atoms} atom{'' if group.n_atoms == 1 else 's'}")
    return " ".join(parts[:1]) + (" (" + ", ".join(parts[1:]) + ")" if len(parts) > 1 else "")


def _serial(backend: str | BackendBase | None, n_workers: int | None, n_parts: int | None) -> bool:
    """Whether ``run`` was asked for MDAnalysis' default: one serial pass over the frames."""
    return (
        (backend is None or (isinstance(backend, str) and backend == "serial"))
        and n_workers in (None, 1)
        and n_parts in (None, 1)
    )


def _check_boxes(
    analyses: list[RDFCoordination], frames: np.ndarray, dimensions: np.ndarray
) -> None:
    """Raise the error the frame-by-frame loop would raise first for these frames.

    That loop hands each frame to each analysis in turn; an analysis refuses a frame
    without a box, or whose box is too small for its ``r_max``. The first refusal in that
    order is raised here, before the block is histogrammed.
    """
    has_box = np.all(dimensions[:, :3] > 0, axis=1)
    first: tuple[int, RDFCoordination] | None = None
    for analysis in analyses:
        bad = ~has_box
        if analysis.r_max_angstrom is not None:
            for row in np.flatnonzero(has_box):
                half_width = analysis._half_width_of(dimensions[row])
                if analysis.r_max_angstrom > half_width + _LENGTH_SLACK_ANGSTROM:
                    bad[row] = True
                    break
        rows = np.flatnonzero(bad)
        if rows.size and (first is None or rows[0] < first[0]):
            first = (int(rows[0]), analysis)
    if first is not None:
        row, analysis = first
        if not has_box[row]:
            raise analysis._no_box_error(int(frames[row]))
        analysis._n_bins_of(dimensions[row], int(frames[row]))  # raises the r_max error


def _analysed_frames(
    trajectory: Any,
    start: int | None,
    stop: int | None,
    step: int | None,
    frames: Iterable | None,
) -> np.ndarray:
    """The frame numbers a serial ``AnalysisBase.run(start, stop, step, frames)`` analyses,
    in its order, from the reader's public API.

    ``start``, ``stop`` and ``step`` go through ``trajectory.check_slice_indices``, as in
    AnalysisBase. ``frames`` (not with them) index the frame numbers as numpy indexes an
    array: a boolean mask, or integers, negative ones counted from the end (as
    ``trajectory[frames]`` counts them). AnalysisBase's own set-up
    (``_setup_frames``, ``_prepare_sliced_trajectory``) is private: an MDAnalysis
    release may change it without notice, so it is not called.
    """
    if frames is None:
        first, last, stride = trajectory.check_slice_indices(start, stop, step)
        return np.arange(first, last, stride, dtype=np.intp)
    if not all(option is None for option in (start, stop, step)):
        raise ValueError("start/stop/step cannot be combined with frames")
    index = np.asarray(frames)
    if index.size == 0:
        return np.zeros(0, dtype=np.intp)
    if index.dtype != bool:
        index = index.astype(np.intp, casting="safe")  # refuses floats, as MDAnalysis does
    return np.arange(trajectory.n_frames, dtype=np.intp)[index]


def _run_blocks(
    owner: _BlockRouted,
    analyses: list[RDFCoordination],
    start: int | None,
    stop: int | None,
    step: int | None,
    frames: Iterable | None,
    verbose: bool | None,
    progressbar_kwargs: Mapping[str, Any] | None,
) -> None:
    """``owner.run`` for ``analyses`` on the block route: frames, ``_prepare``, the block
    loop, ``_conclude``.

    The frames to analyse are those of AnalysisBase's ``run`` (:func:`_analysed_frames`);
    ``owner`` gets their number, ``frames``, ``times``, ``start``, ``stop`` and ``step``
    as AnalysisBase sets them. The loop reads the atoms of every analysis once per frame,
    a block of frames at a time (:func:`~electrolyte_md.analysis.frames.read_blocks`),
    checks the boxes in the frame loop's order (:func:`_check_boxes`) and hands each block
    to every analysis (:meth:`RDFCoordination._accumulate_block`).
    """
    trajectory = owner._block_trajectory
    frame_numbers = _analysed_frames(trajectory, start, stop, step, frames)
    if frames is None:
        owner.start, owner.stop, owner.step = trajectory.check_slice_indices(start, stop, step)
    else:
        owner.start = owner.stop = owner.step = None
    owner.n_frames = len(frame_numbers)
    owner.frames = np.zeros(owner.n_frames, dtype=int)
    owner.times = np.zeros(owner.n_frames)
    owner._prepare()
    if len(frame_numbers):
        atoms = np.unique(np.concatenate([np.r_[a._center_ix, a._ligand_ix] for a in analyses]))
        for analysis in analyses:
            analysis._center_rows = np.searchsorted(atoms, analysis._center_ix)
            analysis._ligand_rows = np.searchsorted(atoms, analysis._ligand_ix)
        verbose = owner._block_verbose if verbose is None else verbose
        done = 0
        bar = ProgressBar(total=len(frame_numbers), verbose=verbose, **(progressbar_kwargs or {}))
        with bar:
            blocks = read_blocks(trajectory, atoms, frame_numbers)
            for numbers, times, positions, dimensions in blocks:
                index = np.arange(done, done + len(numbers))
                owner.frames[index] = numbers
                owner.times[index] = times
                _check_boxes(analyses, numbers, dimensions)
                by_axis = np.ascontiguousarray(positions.transpose(2, 0, 1))  # (3, n, atoms)
                for analysis in analyses:
                    analysis._accumulate_block(index, numbers, by_axis, dimensions)
                done += len(numbers)
                bar.update(len(numbers))
    owner._conclude()


class _BlockRouted(AnalysisBase):
    """What :class:`RDFCoordination` and :class:`RDFCoordinationSet` share: :meth:`run`
    reads a serial pass a block of frames at a time (:func:`_run_blocks`) for the
    analyses of :meth:`_block_analyses`.

    It keeps its own references to the trajectory and the ``verbose`` default:
    AnalysisBase holds them too, but in private attributes.
    """

    def __init__(self, trajectory: Any, verbose: bool = False, **kwargs: Any) -> None:
        super().__init__(trajectory, verbose=verbose, **kwargs)
        self._block_trajectory = trajectory
        self._block_verbose = verbose

    def _block_analyses(self) -> list[RDFCoordination]:
        raise NotImplementedError

    def run(
        self,
        start: int | None = None,
        stop: int | None = None,
        step: int | None = None,
        frames: Iterable | None = None,
        verbose: bool | None = None,
        n_workers: int | None = None,
        n_parts: int | None = None,
        backend: str | BackendBase | None = None,
        *,
        unsupported_backend: bool = False,
        progressbar_kwargs: Mapping[str, Any] | None = None,
    ) -> _BlockRouted:
        """Perform the calculation: :meth:`AnalysisBase.run
        <MDAnalysis.analysis.base.AnalysisBase.run>`, with the same parameters.

        A serial run (the default ``backend``, ``n_workers`` and ``n_parts``) takes the
        block route while :attr:`block_route` is true: the frames AnalysisBase would
        analyse (:func:`_analysed_frames`), then ``_prepare``, the frames a block at a
        time, ``_conclude``. Anything else is AnalysisBase's own ``run``, frame by frame
        (which refuses a parallel backend: the class is not parallelizable).
        """
        if not (self.block_route and _serial(backend, n_workers, n_parts)):
            return super().run(
                start,
                stop,
                step,
                frames,
                verbose,
                n_workers,
                n_parts,
                backend,
                unsupported_backend=unsupported_backend,
                progressbar_kwargs=progressbar_kwargs,
            )
        _run_blocks(
            self, self._block_analyses(), start, stop, step, frames, verbose, progressbar_kwargs
        )
        return self


class RDFCoordination(_BlockRouted):
    r"""Radial distribution function g(r) and coordination number of ligands around centers.

    For every analysed frame the distances between the ``center`` and ``ligand``
    atoms closer than the histogram range are found under the minimum-image
    convention and histogrammed; the box volume is recorded.  Pairs of an atom
    with itself are never counted, and neither are pairs inside one residue when
    ``exclude_same_residue`` is true (e.g. the two oxygens of one molecule in an
    O-O RDF).

    :meth:`run` reads only the ``center`` and ``ligand`` coordinates, a block of
    frames at a time (for a DCD straight from the file), and histograms the frames
    of a block together: where the range is large against an orthorhombic box (the
    default, half the box) every distance of the block is computed by the arithmetic of
    :func:`MDAnalysis.lib.distances.distance_array` and binned in one compiled pass
    (:func:`electrolyte_md.analysis.kernel.ortho_histograms`, numba); otherwise (a
    triclinic box, a short ``r_max_angstrom``) each frame's distances come from
    :func:`MDAnalysis.lib.distances.capped_distance`. The results are those of
    MDAnalysis' frame-by-frame loop to the last bit; that loop
    (:meth:`_single_frame`) runs instead with :attr:`block_route` set to false, and for a
    parallel ``backend``.

    Parameters
    ----------
    center : MDAnalysis.core.groups.AtomGroup
        Atoms around which the ligands are counted (e.g. Li).
    ligand : MDAnalysis.core.groups.AtomGroup
        Atoms counted around each center (e.g. carbonyl O).  May be the same group
        as ``center`` or overlap it.
    r_max_angstrom : float, optional
        Outer radius of the histogram in Å.  Default: half the smallest box width
        (the edge for orthorhombic boxes) over the analysed frames.  A value larger
        than half the smallest box width of the current frame or of any analysed
        frame raises :class:`~electrolyte_md.errors.AnalysisError`, because the
        minimum-image convention would miss neighbours beyond it.  The histogram
        covers ``floor(r_max / bin_width)`` whole bins, so the effective range
        (``results.r_max_angstrom``) is ``r_max`` rounded down to a bin edge.
    bin_width_angstrom : float, default 0.05
        Width of the histogram bins in Å.
    exclude_same_residue : bool, default True
        Leave out pairs of atoms that belong to the same residue, both from the
        counts and from the ideal-gas pair count used to normalise g(r).
    cutoff_angstrom : float, optional
        First-shell cutoff in Å to use instead of the automatically located first
        minimum of g(r).
    n_blocks : int, default 5
        Number of contiguous blocks of frames used for the block-averaged standard
        error of the coordination number.
    verbose : bool, default False
        Show MDAnalysis' progress bar.

    Raises
    ------
    AnalysisError
        If a group is empty, the groups come from different universes, the system
        has no periodic box, or an argument is out of range (also raised from
        :meth:`run` if a frame has no box or a box too small for ``r_max``, or when
        no first peak / first minimum can be located and no ``cutoff_angstrom`` was
        given).

    Notes
    -----
    **Normalisation.**  With :math:`N_c` centers, :math:`N_l` ligands, :math:`N_x`
    excluded (self and, optionally, same-residue) center-ligand pairs, the mean box
    volume :math:`\langle V\rangle` and :math:`F` frames,

    .. math::

        g(r_k) = \frac{H_k}{F\,N_c\,\rho_\mathrm{eff}\,\tfrac{4}{3}\pi
                 (r_{k+1}^3 - r_k^3)},\qquad
        \rho_\mathrm{eff} = \frac{N_c N_l - N_x}{N_c \langle V\rangle},

    where :math:`H_k` is the number of counted pairs in bin :math:`k` summed over the
    frames.  For distinct groups without shared residues
    :math:`\rho_\mathrm{eff} = N_l/\langle V\rangle`, the average ligand density; for
    ``center is ligand`` with one atom per residue it is
    :math:`(N-1)/\langle V\rangle`, so g(r) tends to 1 for an ideal gas in both cases.

    **Running coordination number.**  ``cn_r`` is computed from the counts, not by
    integrating g(r): the number of counted ligands within r per center atom,
    averaged over frames, with the counts assumed uniform inside a bin (linear
    interpolation of the cumulative count between bin edges).  ``cn_r[k]`` is its
    value at ``bin_centers_angstrom[k]``; ``coordination_number`` is the same
    function evaluated at the cutoff.

    **Locating the first peak and minimum.**  g(r) is smoothed with a Gaussian of
    standard deviation 0.1 Å, used only for locating.  The first peak is the first
    local maximum of the smoothed g(r) (the centre of a flat top) whose height is
    >= 1 and >= 0.25 times the maximum of the smoothed g(r); its reported position
    and height are those of the highest raw g(r) bin within one bin of it.  The first
    minimum is the lowest smoothed value found walking outward from the peak, taken
    once g(r) rises again by more than 10 % of the peak-to-minimum drop (or by half the
    gap to 1 when the minimum is below 1), provided the minimum is in the lower half
    between 1 and the peak; shallower dips, such as the split between bidentate and
    monodentate Li-PF6 contacts, stay inside the shell, and a taller maximum met on
    the way becomes the shell's peak.  On a flat bottom (an empty gap between crystal
    shells) the centre is taken.  If no peak or no such minimum exists within
    ``r_max`` the minimum is undefined.  The cutoff is the minimum's bin centre
    (``cutoff_source == "first minimum"``) or ``cutoff_angstrom``
    (``cutoff_source == "user"``).

    **Standard error.**  The per-frame coordination number at the cutoff is
    averaged within ``n_blocks`` contiguous blocks of frames (sizes differing by at
    most one frame); the error is the standard deviation of the block means
    (ddof=1) divided by sqrt(n_blocks).  It is NaN with fewer frames than blocks.

    Attributes
    ----------
    results.bin_edges_angstrom : numpy.ndarray
        Bin edges, shape ``(n_bins + 1,)``, from 0 to ``r_max_angstrom``.
    results.bin_centers_angstrom : numpy.ndarray
        Bin centres, shape ``(n_bins,)``.
    results.g_r : numpy.ndarray
        Radial distribution function at the bin centres.
    results.cn_r : numpy.ndarray
        Running coordination number at the bin centres.
    results.first_peak_angstrom, results.first_peak_height : float
        Position and g(r) of the first peak (NaN if none was found and a user cutoff
        was given).
    results.first_min_angstrom : float
        Position of the first minimum of g(r), the automatic shell cutoff (NaN if
        none was found and a user cutoff was given).
    results.cutoff_angstrom : float
        Shell cutoff actually used: ``first_min_angstrom`` or ``cutoff_angstrom``.
    results.cutoff_source : str
        ``"first minimum"`` or ``"user"``.
    results.coordination_number : float
        ``cn_r`` at the cutoff.
    results.coordination_number_sem : float
        Block-averaged standard error of the coordination number (NaN if
        ``n_frames < n_blocks``).
    results.coordination_number_per_frame : numpy.ndarray
        Coordination number at the cutoff in each analysed frame.
    results.n_frames : int
        Number of analysed frames.
    results.n_blocks : int
        Number of blocks used for the standard error.
    results.mean_volume_angstrom3 : float
        Mean box volume over the analysed frames.
    results.ligand_density_per_angstrom3 : float
        ``N_l / <V>``.
    results.effective_ligand_density_per_angstrom3 : float
        ``rho_eff`` of the normalisation above (ligands seen by one center).
    results.r_max_angstrom, results.bin_width_angstrom : float
        Histogram range and bin width actually used.

    Examples
    --------
    >>> li = u.select_atoms("name Li")  # doctest: +SKIP
    >>> o = u.select_atoms("resname NMP and name O")  # doctest: +SKIP
    >>> rdf = RDFCoordination(li, o).run()  # doctest: +SKIP
    >>> rdf.results.coordination_number  # doctest: +SKIP
    """

    #: :meth:`run` reads the analysed atoms a block of frames at a time and histograms a
    #: block at once. False (on the class, for every analysis, or on one analysis) falls
    #: back to MDAnalysis' frame-by-frame loop (:meth:`_single_frame`), the route before;
    #: both give the same results to the last bit (tests/test_analysis.py), the block
    #: route several times faster.
    block_route: bool = True
    #: Center x ligand pairs up to which a frame's full distance matrix is histogrammed
    #: (where capped_distance would search by brute force); above it every frame goes
    #: through capped_distance.
    dense_max_pairs: int = 1_000_000

    def __init__(
        self,
        center: AtomGroup,
        ligand: AtomGroup,
        r_max_angstrom: float | None = None,
        bin_width_angstrom: float = 0.05,
        exclude_same_residue: bool = True,
        cutoff_angstrom: float | None = None,
        n_blocks: int = 5,
        verbose: bool = False,
    ) -> None:
        for label, group in (("center", center), ("ligand", ligand)):
            if not isinstance(group, AtomGroup):
                raise AnalysisError(
                    f"RDF {label} must be an MDAnalysis AtomGroup, got {type(group).__name__}"
                )
            if group.n_atoms == 0:
                raise AnalysisError(
                    f"RDF {label} group is empty: the selection matched no atoms; "
                    "check the selection string against the topology's atom names"
                )
        if center.universe is not ligand.universe:
            raise AnalysisError("RDF center and ligand groups belong to different universes")
        super().__init__(center.universe.trajectory, verbose=verbose)

        self._pair_label = f"{_describe_group(center)} - {_describe_group(ligand)}"
        dimensions = center.universe.dimensions
        if dimensions is None or not np.all(np.asarray(dimensions[:3]) > 0):
            raise AnalysisError(
                f"RDF {self._pair_label}: the system has no periodic box dimensions; "
                "the minimum-image RDF needs a box (set universe.dimensions or read a "
                "trajectory with unit-cell information)"
            )
        if not (math.isfinite(bin_width_angstrom) and bin_width_angstrom > 0):
            raise AnalysisError(f"bin_width_angstrom must be > 0, got {bin_width_angstrom}")
        half_width = half_min_width_angstrom(dimensions)
        if r_max_angstrom is not None:
            if not (math.isfinite(r_max_angstrom) and r_max_angstrom >= bin_width_angstrom):
                raise AnalysisError(
                    f"r_max_angstrom must be at least one bin width ({bin_width_angstrom} Å), "
                    f"got {r_max_angstrom}"
                )
            self._check_r_max(r_max_angstrom, half_width, "the current frame")
        if cutoff_angstrom is not None:
            if not (math.isfinite(cutoff_angstrom) and cutoff_angstrom > 0):
                raise AnalysisError(f"cutoff_angstrom must be > 0, got {cutoff_angstrom}")
            if r_max_angstrom is not None and cutoff_angstrom > r_max_angstrom:
                raise AnalysisError(
                    f"cutoff_angstrom ({cutoff_angstrom} Å) exceeds r_max_angstrom "
                    f"({r_max_angstrom} Å)"
                )
        if isinstance(n_blocks, bool) or not isinstance(n_blocks, int | np.integer):
            raise AnalysisError(f"n_blocks must be an integer, got {n_blocks!r}")
        if n_blocks < 2:
            raise AnalysisError(f"n_blocks must be >= 2 for a standard error, got {n_blocks}")

        self.center = center
        self.ligand = ligand
        self.r_max_angstrom = None if r_max_angstrom is None else float(r_max_angstrom)
        self.bin_width_angstrom = float(bin_width_angstrom)
        self.exclude_same_residue = bool(exclude_same_residue)
        self.cutoff_angstrom = None if cutoff_angstrom is None else float(cutoff_angstrom)
        self.n_blocks = int(n_blocks)

        # Excluded center-ligand pairs: self pairs always, same-residue pairs if asked.
        n_self = len(np.intersect1d(center.ix, ligand.ix))
        if self.exclude_same_residue:
            n_res = center.universe.residues.n_residues
            per_res_center = np.bincount(center.resindices, minlength=n_res)
            per_res_ligand = np.bincount(ligand.resindices, minlength=n_res)
            n_excluded = int(np.dot(per_res_center, per_res_ligand))
        else:
            n_excluded = n_self
        self._n_norm_pairs = center.n_atoms * ligand.n_atoms - n_excluded
        if self._n_norm_pairs <= 0:
            raise AnalysisError(
                f"RDF {self._pair_label}: every center-ligand pair is excluded "
                "(self or same-residue pairs); nothing to count"
            )
        self._n_excluded_pairs = n_excluded

    def _check_r_max(self, r_max: float, half_width: float, where: str) -> None:
        """Raise if ``r_max`` exceeds the minimum-image limit ``half_width``."""
        if r_max > half_width + _LENGTH_SLACK_ANGSTROM:
            raise AnalysisError(
                f"RDF {self._pair_label}: r_max_angstrom = {r_max:g} Å exceeds half the "
                f"smallest box width ({half_width:g} Å) in {where}; the minimum-image "
                f"convention breaks beyond it. Use r_max_angstrom <= {half_width:g} "
                "or leave it unset for the automatic value"
            )

    def _n_bins_for(self, r_max: float) -> int:
        return int(math.floor(r_max / self.bin_width_angstrom + _BIN_COUNT_SLACK))

    def _prepare(self) -> None:
        # one histogram per analysed frame, filled in by frame index
        self._frame_histograms: list[np.ndarray | None] = [None] * self.n_frames
        # the block route's instead: (analysed-frame indices, their histograms as rows)
        self._histogram_blocks: list[tuple[np.ndarray, np.ndarray]] = []
        self._volumes_angstrom3 = np.zeros(self.n_frames)
        if self.exclude_same_residue:
            self._center_res = self.center.resindices
            self._ligand_res = self.ligand.resindices
        self._center_ix = self.center.ix
        self._ligand_ix = self.ligand.ix
        self._half_width_key: bytes | None = None
        self._half_width_angstrom = math.nan
        # Center-ligand pairs that count (not self, not same residue), as a matrix for
        # the dense route of _accumulate; the block route needs only the excluded ones.
        self._counted: np.ndarray | None = None
        self._excluded_flat = np.zeros(0, dtype=np.intp)
        if self.center.n_atoms * self.ligand.n_atoms <= self.dense_max_pairs:
            counted = self._center_ix[:, None] != self._ligand_ix[None, :]
            if self.exclude_same_residue:
                counted &= self._center_res[:, None] != self._ligand_res[None, :]
            self._counted = counted
            self._excluded_flat = np.flatnonzero(~counted)

    def _block_analyses(self) -> list[RDFCoordination]:
        return [self]

    def _single_frame(self) -> None:
        self._accumulate(self._ts, self._frame_index)

    def _half_width_of(self, dimensions: np.ndarray) -> float:
        """Half the smallest box width of ``dimensions``, computed once per distinct box.

        The box of an NVT production run never changes, and the half width cost more
        than the distance search when it was computed for every frame.
        """
        key = np.asarray(dimensions).tobytes()
        if key != self._half_width_key:
            self._half_width_key = key
            self._half_width_angstrom = half_min_width_angstrom(dimensions)
        return self._half_width_angstrom

    def _n_bins_of(self, dimensions: np.ndarray, frame: int) -> int:
        """Histogram bins of a frame with box ``dimensions`` (frame number ``frame``, for
        the error when ``r_max`` does not fit in its box)."""
        half_width = self._half_width_of(dimensions)
        if self.r_max_angstrom is None:
            return self._n_bins_for(half_width)
        self._check_r_max(self.r_max_angstrom, half_width, f"frame {frame}")
        return self._n_bins_for(self.r_max_angstrom)

    def _no_box_error(self, frame: int) -> AnalysisError:
        return AnalysisError(
            f"RDF {self._pair_label}: frame {frame} has no periodic box dimensions"
        )

    def _dense_route(self, dimensions: np.ndarray, n_bins: int) -> bool:
        """Whether a frame with box ``dimensions`` takes the full distance matrix (an
        orthorhombic box and a range where capped_distance would search by brute force)."""
        return (
            self._counted is not None
            and bool(np.all(np.asarray(dimensions[3:]) == 90.0))
            and n_bins * self.bin_width_angstrom
            > _BRUTE_FORCE_CUTOFF_FRACTION * float(np.min(dimensions[:3]))
        )

    def _accumulate(self, ts: Any, frame_index: int) -> None:
        """Histogram the center-ligand distances of frame ``ts`` as analysed frame
        ``frame_index`` (the frame-by-frame route, :meth:`_single_frame`)."""
        dimensions = ts.dimensions
        if dimensions is None or not np.all(np.asarray(dimensions[:3]) > 0):
            raise self._no_box_error(ts.frame)
        n_bins = self._n_bins_of(dimensions, ts.frame)
        self._frame_histograms[frame_index] = self._frame_histogram(
            self.center.positions, self.ligand.positions, dimensions, n_bins
        )
        self._volumes_angstrom3[frame_index] = box_volume(dimensions)

    def _frame_histogram(
        self, center_xyz: np.ndarray, ligand_xyz: np.ndarray, dimensions: np.ndarray, n_bins: int
    ) -> np.ndarray:
        """Counted center-ligand distances of one frame, histogrammed into ``n_bins`` bins."""
        r_search = n_bins * self.bin_width_angstrom
        if self._dense_route(dimensions, n_bins):
            # Where capped_distance would take its brute-force route: the same distance
            # matrix and cut, without its per-call method choice and pair lists.
            matrix = distance_array(center_xyz, ligand_xyz, box=dimensions)
            distances = matrix[(matrix <= r_search) & self._counted]
        else:
            pairs, found = capped_distance(
                center_xyz,
                ligand_xyz,
                max_cutoff=r_search,
                box=dimensions,
                return_distances=True,
            )
            i_center, j_ligand = pairs[:, 0], pairs[:, 1]
            keep = self._center_ix[i_center] != self._ligand_ix[j_ligand]
            if self.exclude_same_residue:
                keep &= self._center_res[i_center] != self._ligand_res[j_ligand]
            distances = found[keep]
        bins = np.floor(distances / self.bin_width_angstrom).astype(np.int64)
        bins = bins[(bins >= 0) & (bins < n_bins)]
        return np.bincount(bins, minlength=n_bins).astype(np.int64)

    def _accumulate_block(
        self, index: np.ndarray, frames: np.ndarray, positions: np.ndarray, dimensions: np.ndarray
    ) -> None:
        """Histogram a block of frames (the block route, :func:`_run_blocks`).

        Parameters
        ----------
        index : numpy.ndarray
            Analysed-frame indices of the block's frames.
        frames : numpy.ndarray
            Their frame numbers in the trajectory.
        positions : numpy.ndarray
            float32 coordinates (Å) of the atoms :func:`_run_blocks` reads, axis first:
            shape ``(3, n, n_read)``; this analysis' atoms are ``_center_rows`` and
            ``_ligand_rows`` of the last axis.
        dimensions : numpy.ndarray
            float32 boxes of the frames, shape ``(n, 6)``; every one has been checked
            (:func:`_check_boxes`).

        Notes
        -----
        Frames with the same box are histogrammed together. Where the frame-by-frame route
        would take the full distance matrix (:meth:`_dense_route`), the block goes through
        :meth:`_dense_histograms`, the same numbers as ``distance_array`` binned in one
        compiled pass; elsewhere (a triclinic box, or a range
        small against the box) each frame goes through :meth:`_frame_histogram`.
        """
        # coordinates axis first, (3, n, atoms): each axis of each frame contiguous
        center = positions[:, :, self._center_rows]
        ligand = positions[:, :, self._ligand_rows]
        if len(dimensions) == 1 or not np.any(dimensions != dimensions[0]):
            boxes, which = dimensions[:1], np.zeros(len(dimensions), dtype=np.intp)
        else:
            boxes, which = np.unique(dimensions, axis=0, return_inverse=True)
        for k, box in enumerate(boxes):
            rows = np.flatnonzero(which.reshape(-1) == k)
            n_bins = self._n_bins_of(box, int(frames[rows[0]]))
            self._volumes_angstrom3[index[rows]] = box_volume(box)
            if self._dense_route(box, n_bins) and bool(np.all(box[:3] > _FLT_EPSILON)):
                if len(rows) < len(dimensions):
                    block_center, block_ligand = center[:, rows], ligand[:, rows]
                else:
                    block_center, block_ligand = center, ligand
                histograms = self._dense_histograms(block_center, block_ligand, box, n_bins)
            else:
                histograms = np.stack(
                    [
                        self._frame_histogram(
                            np.ascontiguousarray(center[:, r].T),
                            np.ascontiguousarray(ligand[:, r].T),
                            box,
                            n_bins,
                        )
                        for r in rows
                    ]
                )
            self._histogram_blocks.append((index[rows], histograms))

    def _dense_histograms(
        self, center: np.ndarray, ligand: np.ndarray, box: np.ndarray, n_bins: int
    ) -> np.ndarray:
        """Per-frame histograms, shape ``(n, n_bins)``, of n frames in one orthorhombic box,
        from center and ligand coordinates axis first, ``(3, n, atoms)`` (Å).

        Each distance is the number ``distance_array`` gives, and its bin
        ``floor(d / bin_width)`` for ``d <= n_bins * bin_width``, as in
        :meth:`_frame_histogram`; the pairs of ``_counted`` only. One compiled pass over
        the pairs (:func:`electrolyte_md.analysis.kernel.ortho_histograms`).
        """
        edges = np.asarray(box[:3], dtype=np.float32).astype(np.float64)
        inverse = (1.0 / edges).astype(np.float32).astype(np.float64)
        counts = np.zeros((center.shape[1], n_bins), dtype=np.int64)
        ortho_histograms(  # C order throughout: one compiled specialisation
            np.ascontiguousarray(center),
            np.ascontiguousarray(ligand),
            np.ascontiguousarray(self._counted),
            edges,
            inverse,
            float(self.bin_width_angstrom),
            float(n_bins * self.bin_width_angstrom),
            counts,
        )
        return counts

    def _conclude(self) -> None:
        if self.n_frames == 0 or not self._frame_histograms:
            raise AnalysisError(f"RDF {self._pair_label}: no frames were analysed")
        bw = self.bin_width_angstrom
        blocks = self._histogram_blocks
        if blocks:
            n_bins = min(h.shape[1] for _, h in blocks)
        else:
            n_bins = min(len(h) for h in self._frame_histograms)
        if n_bins < 1:
            raise AnalysisError(
                f"RDF {self._pair_label}: the box is smaller than two bin widths ({bw} Å)"
            )
        if blocks:
            hist = np.empty((self.n_frames, n_bins), dtype=np.int64)
            for rows, histograms in blocks:
                hist[rows] = histograms[:, :n_bins]
        else:
            hist = np.stack([h[:n_bins] for h in self._frame_histograms])  # (n_frames, n_bins)
        self._frame_histograms = []
        self._histogram_blocks = []
        n_frames = hist.shape[0]
        n_center = self.center.n_atoms

        edges = np.arange(n_bins + 1, dtype=np.float64) * bw
        centers = 0.5 * (edges[:-1] + edges[1:])
        r_max = float(edges[-1])
        shell_volumes = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
        mean_volume = float(np.mean(self._volumes_angstrom3))
        rho_eff = self._n_norm_pairs / (n_center * mean_volume)

        total = hist.sum(axis=0).astype(np.float64)
        g_r = total / (n_frames * n_center * rho_eff * shell_volumes)
        cumulative = np.concatenate(([0.0], np.cumsum(total))) / (n_frames * n_center)
        cn_r = cumulative[:-1] + 0.5 * (cumulative[1:] - cumulative[:-1])

        smoothed = smooth(g_r, bw)
        peak_index = find_first_peak(smoothed)
        min_index = None
        first_peak = first_peak_height = first_min = math.nan
        if peak_index is not None:
            lo, hi = max(peak_index - 1, 0), min(peak_index + 2, n_bins)
            raw_index = lo + int(np.argmax(g_r[lo:hi]))
            first_peak, first_peak_height = float(centers[raw_index]), float(g_r[raw_index])
            min_index = find_first_minimum(smoothed, peak_index)
            if min_index is not None:
                first_min = float(centers[min_index])

        if self.cutoff_angstrom is not None:
            if self.cutoff_angstrom > r_max + _LENGTH_SLACK_ANGSTROM:
                raise AnalysisError(
                    f"RDF {self._pair_label}: cutoff_angstrom ({self.cutoff_angstrom:g} Å) "
                    f"exceeds the histogram range r_max = {r_max:g} Å"
                )
            cutoff, source = min(self.cutoff_angstrom, r_max), "user"
        elif peak_index is None:
            raise AnalysisError(
                f"RDF {self._pair_label}: no first peak of g(r) (smoothed g >= "
                f"{PEAK_MIN_HEIGHT:g} and >= {PEAK_MIN_FRACTION_OF_MAX:g} x max) within "
                f"r_max = {r_max:g} Å, so no shell cutoff can be located; pass "
                "cutoff_angstrom=... to set the cutoff yourself"
            )
        elif min_index is None:
            raise AnalysisError(
                f"RDF {self._pair_label}: g(r) has a first peak at {first_peak:g} Å but no "
                f"first minimum within r_max = {r_max:g} Å; pass cutoff_angstrom=... to set "
                "the shell cutoff yourself (or raise r_max_angstrom if the box allows)"
            )
        else:
            cutoff, source = first_min, "first minimum"

        # Per-frame coordination number at the cutoff, by the same in-bin interpolation.
        k = min(int(math.floor(cutoff / bw)), n_bins - 1)
        fraction = (cutoff - edges[k]) / bw
        below = hist[:, :k].sum(axis=1)
        per_frame_cn = (below + fraction * hist[:, k]) / n_center
        coordination_number = float(np.interp(cutoff, edges, cumulative))
        if n_frames >= self.n_blocks:
            block_means = np.array(
                [block.mean() for block in np.array_split(per_frame_cn, self.n_blocks)]
            )
            sem = float(np.std(block_means, ddof=1) / math.sqrt(self.n_blocks))
        else:
            block_means = np.zeros(0)
            sem = math.nan

        res = self.results
        res.bin_edges_angstrom = edges
        res.bin_centers_angstrom = centers
        res.g_r = g_r
        res.cn_r = cn_r
        res.first_peak_angstrom = first_peak
        res.first_peak_height = first_peak_height
        res.first_min_angstrom = first_min
        res.cutoff_angstrom = float(cutoff)
        res.cutoff_source = source
        res.coordination_number = coordination_number
        res.coordination_number_sem = sem
        res.coordination_number_block_means = block_means
        res.coordination_number_per_frame = per_frame_cn
        res.times_ps = np.asarray(self.times, dtype=float)
        res.n_frames = int(n_frames)
        res.n_blocks = self.n_blocks
        res.mean_volume_angstrom3 = mean_volume
        res.ligand_density_per_angstrom3 = self.ligand.n_atoms / mean_volume
        res.effective_ligand_density_per_angstrom3 = float(rho_eff)
        res.r_max_angstrom = r_max
        res.bin_width_angstrom = bw


class RDFCoordinationSet(_BlockRouted):
    """Several :class:`RDFCoordination` analyses of one universe in one trajectory pass.

    Each frame is read once and handed to every analysis, so analysing k pairs costs one
    read instead of k. Every analysis ends with exactly the ``results`` it gets from its
    own :meth:`~RDFCoordination.run` over the same frames. The pass takes the block route
    when every analysis would (:attr:`block_route`).

    Parameters
    ----------
    analyses : sequence of RDFCoordination
        Analyses built on groups of one universe; not yet run.
    verbose : bool, default False
        Show MDAnalysis' progress bar.

    Raises
    ------
    AnalysisError
        If ``analyses`` is empty or its groups come from different universes.

    Examples
    --------
    >>> li, p, o = ...  # doctest: +SKIP
    >>> li_p, li_o = RDFCoordination(li, p), RDFCoordination(li, o)  # doctest: +SKIP
    >>> RDFCoordinationSet([li_p, li_o]).run()  # doctest: +SKIP
    >>> li_o.results.coordination_number  # doctest: +SKIP
    """

    def __init__(self, analyses: list[RDFCoordination], verbose: bool = False) -> None:
        analyses = list(analyses)
        if not analyses:
            raise AnalysisError("RDFCoordinationSet needs at least one RDFCoordination")
        universe = analyses[0].center.universe
        if any(a.center.universe is not universe for a in analyses):
            raise AnalysisError("the analyses of an RDFCoordinationSet share one universe")
        super().__init__(universe.trajectory, verbose=verbose)
        self.analyses = analyses

    def _prepare(self) -> None:
        for analysis in self.analyses:
            # the frames this pass analyses (arrays filled in place while it runs)
            analysis.n_frames, analysis.frames, analysis.times = (
                self.n_frames,
                self.frames,
                self.times,
            )
            analysis._prepare()

    @property
    def block_route(self) -> bool:
        """Whether a serial :meth:`run` takes the block route: when every analysis does
        (:attr:`RDFCoordination.block_route`)."""
        return all(analysis.block_route for analysis in self.analyses)

    def _block_analyses(self) -> list[RDFCoordination]:
        return self.analyses

    def _single_frame(self) -> None:
        for analysis in self.analyses:
            analysis._accumulate(self._ts, self._frame_index)

    def _conclude(self) -> None:
        for analysis in self.analyses:
            analysis._conclude()


class CentreCounts(AnalysisBase):
    """Ligands within a cutoff of each centre atom, in every frame, for several pairs.

    The coordination number of :class:`RDFCoordination` is a mean over centres; its error
    bar needs each centre's own series too: in a 1 M electrolyte an ion pair can outlive
    a nanosecond run, and then each Li+ is one sample however many frames there are
    (:mod:`electrolyte_md.timeseries`, point 4).  Counting at a cutoff needs the cutoff,
    which :class:`RDFCoordination` finds only at its end, hence a second (cheap) pass.

    Parameters
    ----------
    pairs : sequence of (AtomGroup, AtomGroup, float)
        Centre atoms, ligand atoms and the cutoff (Å) of each pair; all of one universe.
        An atom in both groups does not count itself.
    verbose : bool, default False
        Show MDAnalysis' progress bar.

    Attributes
    ----------
    results.counts : list of numpy.ndarray
        Per pair, ``(n_frames, n_centres)`` ligands within the cutoff (distance strictly
        below it, minimum image).
    results.times_ps : numpy.ndarray
        Times of the frames analysed.

    Examples
    --------
    >>> li, p = ...  # doctest: +SKIP
    >>> counts = CentreCounts([(li, p, 4.5)]).run().results.counts[0]  # doctest: +SKIP
    >>> counts.mean(axis=0)  # each Li+'s mean number of P  # doctest: +SKIP
    """

    def __init__(
        self, pairs: Iterable[tuple[AtomGroup, AtomGroup, float]], verbose: bool = False
    ) -> None:
        self.pairs = [(c, lig, float(cut)) for c, lig, cut in pairs]
        if not self.pairs:
            raise AnalysisError("CentreCounts needs at least one (centre, ligand, cutoff)")
        universe = self.pairs[0][0].universe
        for centre, ligand, cutoff in self.pairs:
            if centre.universe is not universe or ligand.universe is not universe:
                raise AnalysisError("the pairs of a CentreCounts share one universe")
            if not (cutoff > 0.0 and math.isfinite(cutoff)):
                raise AnalysisError(f"CentreCounts: cutoff {cutoff} Å is not a positive length")
            if len(centre) == 0 or len(ligand) == 0:
                raise AnalysisError("CentreCounts: a centre or ligand group is empty")
        super().__init__(universe.trajectory, verbose=verbose)

    def _prepare(self) -> None:
        self._counts = [
            np.zeros((self.n_frames, len(centre)), dtype=np.int32) for centre, _, _ in self.pairs
        ]

    def _single_frame(self) -> None:
        dimensions = self._ts.dimensions
        if dimensions is None or not np.all(np.asarray(dimensions[:3]) > 0):
            raise AnalysisError(f"CentreCounts: frame {self._ts.frame} has no periodic box")
        for k, (centre, ligand, cutoff) in enumerate(self.pairs):
            found = capped_distance(
                centre.positions,
                ligand.positions,
                max_cutoff=cutoff,
                box=dimensions,
                return_distances=True,
            )
            pairs, distances = found
            keep = (distances < cutoff) & (centre.ix[pairs[:, 0]] != ligand.ix[pairs[:, 1]])
            self._counts[k][self._frame_index] = np.bincount(pairs[keep, 0], minlength=len(centre))

    def _conclude(self) -> None:
        self.results.counts = self._counts
        self.results.times_ps = np.asarray(self.times, dtype=float)
