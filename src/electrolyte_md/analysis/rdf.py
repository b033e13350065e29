"""Radial distribution functions and first-shell coordination numbers.

The main entry point is :class:`RDFCoordination`, an MDAnalysis
:class:`~MDAnalysis.analysis.base.AnalysisBase` that histograms
center-ligand distances under the minimum-image convention and derives from
them g(r), the running coordination number n(r), the first peak, the first
minimum (the shell cutoff) and the coordination number with a block-averaged
standard error.  :func:`rdf_table`, :func:`plot_rdf` and :func:`summarize`
turn its ``results`` into a table, a figure and a JSON-ready dictionary.

All lengths are in ångström, volumes in Å^3 and densities in Å^-3.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from MDAnalysis.analysis.base import AnalysisBase, Results
from MDAnalysis.core.groups import AtomGroup
from MDAnalysis.exceptions import NoDataError
from MDAnalysis.lib.distances import capped_distance, distance_array
from MDAnalysis.lib.mdamath import box_volume, triclinic_vectors

from electrolyte_md.analysis.records import PAIR_FILES, pair_files, read_pair_records
from electrolyte_md.errors import AnalysisError
from electrolyte_md.io import atomic_write_text, json_float, write_json
from electrolyte_md.plots import new_figure, save_png

__all__ = [
    "RDFCoordination",
    "RDFCoordinationSet",
    "PAIR_FILES",
    "analyze_pair",
    "analyze_pairs",
    "analyze_run",
    "pair_files",
    "plot_rdf",
    "rdf_table",
    "read_pair_records",
    "summarize",
]

#: Width (standard deviation, Å) of the Gaussian smoothing used only to locate extrema.
SMOOTHING_SIGMA_ANGSTROM = 0.1
#: A first peak must reach at least this fraction of the largest smoothed g(r).
PEAK_MIN_FRACTION_OF_MAX = 0.25
#: A first peak must reach at least this smoothed g(r) (the ideal-gas value).
PEAK_MIN_HEIGHT = 1.0
#: A shell boundary lies in the lower half between bulk (g = 1) and the shell's peak;
#: shallower dips are noise or sub-structure inside one shell (e.g. mono- and bidentate
#: Li-PF6 contacts) and do not end the shell.
MIN_DEPTH_FRACTION = 0.5
#: The minimum is confirmed once smoothed g rises above it by this fraction of the
#: peak-to-minimum drop, or by half the gap to g = 1 when the minimum is below bulk.
MIN_RISE_FRACTION = 0.1

#: Center x ligand pairs up to which a frame's full distance matrix is histogrammed.
_DENSE_MAX_PAIRS = 1_000_000
#: MDAnalysis' capped_distance searches by brute force (the full distance matrix, cut
#: at the cutoff) when the cutoff exceeds 0.3 of an orthorhombic box edge; above this
#: slightly larger fraction the RDF does the same itself, without the per-call overhead.
_BRUTE_FORCE_CUTOFF_FRACTION = 0.31

#: Frames read at a time by the block route (:func:`_read_blocks`): positions of the
#: analysed atoms only, straight from the file where the reader allows it.
_BLOCK_FRAMES = 64
#: The block route (:func:`_run_blocks`): read the analysed atoms a block of frames at a
#: time and histogram a block at once. False falls back to MDAnalysis' frame-by-frame
#: loop (:meth:`RDFCoordination._single_frame`), the route before; both give the same
#: results to the last bit (tests/test_analysis.py), the block route several times faster.
_BLOCK_ROUTE = True

# Slack when comparing lengths that should be equal but went through float32
# coordinates or a division by the bin width.
_LENGTH_SLACK_ANGSTROM = 1e-6
_BIN_COUNT_SLACK = 1e-6
# MDAnalysis' minimum image leaves a box edge up to this length alone.
_FLT_EPSILON = float(np.finfo(np.float32).eps)


def _half_min_width_angstrom(dimensions: np.ndarray) -> float:
    """Half the smallest perpendicular width of a periodic box.

    Parameters
    ----------
    dimensions : numpy.ndarray
        ``[A, B, C, alpha, beta, gamma]`` in Å and degrees.

    Returns
    -------
    float
        Half the smallest distance between opposite faces of the box, in Å.  For an
        orthorhombic box this is half the smallest edge; it is the largest radius at
        which the minimum-image convention still sees every neighbour exactly once.
    """
    a, b, c = triclinic_vectors(dimensions).astype(np.float64)
    volume = abs(float(np.dot(a, np.cross(b, c))))
    areas = [np.linalg.norm(np.cross(b, c)), np.linalg.norm(np.cross(c, a))]
    areas.append(np.linalg.norm(np.cross(a, b)))
    return 0.5 * min(volume / float(area) for area in areas)


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


def _smooth(values: np.ndarray, bin_width_angstrom: float) -> np.ndarray:
    """Gaussian-smoothed copy of ``values`` (sigma :data:`SMOOTHING_SIGMA_ANGSTROM`)."""
    from scipy.ndimage import gaussian_filter1d

    sigma_bins = max(SMOOTHING_SIGMA_ANGSTROM / bin_width_angstrom, 0.5)
    return gaussian_filter1d(np.asarray(values, dtype=float), sigma_bins, mode="nearest")


def _same(a: float, b: float) -> bool:
    """Equal up to floating-point rounding (flat tops and bottoms of smoothed g)."""
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def _find_first_peak(smoothed: np.ndarray) -> int | None:
    """Index of the first qualifying local maximum of ``smoothed`` (plateau centre)."""
    n = len(smoothed)
    if n < 3:
        return None
    threshold = max(PEAK_MIN_HEIGHT, PEAK_MIN_FRACTION_OF_MAX * float(np.max(smoothed)))
    i = 1
    while i < n - 1:
        if smoothed[i] > smoothed[i - 1] and not _same(smoothed[i], smoothed[i - 1]):
            # Walk over a flat top (equal values), then require a fall after it.
            j = i
            while j + 1 < n and _same(smoothed[j + 1], smoothed[i]):
                j += 1
            if j + 1 < n and smoothed[j + 1] < smoothed[i] and smoothed[i] >= threshold:
                return (i + j) // 2
            i = j + 1
        else:
            i += 1
    return None


def _find_first_minimum(smoothed: np.ndarray, peak_index: int) -> int | None:
    """Index of the first shell boundary of ``smoothed`` after ``peak_index``.

    Walking outwards from the first peak, the lowest value seen since the tallest
    maximum so far is the candidate. It is accepted once g rises again by a clear margin
    (:data:`MIN_RISE_FRACTION`) *and* it is deep enough to end a shell
    (:data:`MIN_DEPTH_FRACTION`); a taller maximum met on the way belongs to the same
    shell. On a flat bottom (an empty gap between crystal shells) the centre is taken.
    """
    n = len(smoothed)
    shell_peak = float(smoothed[peak_index])
    lowest_index, lowest = peak_index, shell_peak
    flat = 1e-12 * max(shell_peak, 1.0)
    for k in range(peak_index + 1, n):
        value = float(smoothed[k])
        if value < lowest - flat:
            lowest_index, lowest = k, value
            continue
        if value > shell_peak:
            shell_peak = value
            lowest_index, lowest = k, value
            continue
        rise = MIN_RISE_FRACTION * (shell_peak - lowest)
        if lowest < 1.0:
            rise = min(rise, 0.5 * (1.0 - lowest))
        deep = lowest <= 1.0 + MIN_DEPTH_FRACTION * (shell_peak - 1.0)
        if deep and lowest_index > peak_index and value > lowest + rise:
            end = lowest_index
            while end + 1 < k and smoothed[end + 1] <= lowest + flat:
                end += 1
            return (lowest_index + end) // 2
    return None


def _dcd_dimensions(unitcells: np.ndarray) -> np.ndarray:
    """Boxes ``[A, B, C, alpha, beta, gamma]`` (float32) of DCD unit-cell records.

    The conversion of ``DCDReader._frame_to_ts`` (MDAnalysis 2.x), record by record, so
    that a block read gives the boxes a frame-by-frame read gives.
    """
    from MDAnalysis.lib.mdamath import triclinic_box

    unitcells = np.asarray(unitcells)
    out = np.zeros((len(unitcells), 6), dtype=np.float32)
    if len(unitcells) and not np.any(unitcells != unitcells[0]):  # an NVT run: one box
        records, which = unitcells[:1], np.zeros(len(unitcells), dtype=np.intp)
    else:
        records, which = np.unique(unitcells, axis=0, return_inverse=True)
    pi_2 = np.pi / 2
    for k, record in enumerate(records):
        uc = np.take(record, [0, 2, 5, 4, 3, 1])
        if (-1.0 <= uc[3] <= 1.0) and (-1.0 <= uc[4] <= 1.0) and (-1.0 <= uc[5] <= 1.0):
            uc[3] = 90.0 - np.arcsin(uc[3]) * 90.0 / pi_2
            uc[4] = 90.0 - np.arcsin(uc[4]) * 90.0 / pi_2
            uc[5] = 90.0 - np.arcsin(uc[5]) * 90.0 / pi_2
        elif np.any(uc < 0.0) or np.any(uc[3:] > 180.0):
            h = record.copy()
            uc = triclinic_box(h[[0, 1, 3]], h[[1, 2, 4]], h[[3, 4, 5]])
        out[which.reshape(-1) == k] = uc
    return out


def _plain_dcd(reader: Any) -> bool:
    """Whether ``reader`` is MDAnalysis' own DCD reader in Å without transformations
    (whose frames :func:`_read_blocks` may read straight from the file)."""
    from MDAnalysis.coordinates.DCD import DCDReader
    from MDAnalysis.units import get_conversion_factor

    return (
        type(reader) is DCDReader
        and not getattr(reader, "_transformations", None)
        and (
            not reader.convert_units
            or get_conversion_factor("length", reader.units["length"], "A") == 1.0
        )
        and hasattr(getattr(reader, "_file", None), "readframes")
    )


def _read_blocks(
    reader: Any, atoms: np.ndarray, frames: np.ndarray, block_frames: int = _BLOCK_FRAMES
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """The coordinates of ``atoms`` and the boxes of ``frames``, a block of frames at a time.

    Parameters
    ----------
    reader
        The universe's trajectory reader.
    atoms : numpy.ndarray
        Atom indices to read (sorted, unique).
    frames : numpy.ndarray
        Frame numbers, in the order to analyse them.
    block_frames : int
        Frames per block.

    Yields
    ------
    frames, times, positions, dimensions
        Frame numbers, times (ps), float32 positions ``(n, len(atoms), 3)`` (Å) and float32
        boxes ``(n, 6)`` (zeros where a frame has none) of the next block.

    Notes
    -----
    A plain DCD (:func:`_plain_dcd`) read at evenly spaced frames is read a block at a
    time by its file object, ``readframes`` with the atom indices (what
    ``DCDReader.timeseries`` calls); the unit cells are converted as the reader converts
    them (:func:`_dcd_dimensions`) and no Timestep is built per frame. Any other reader is
    iterated frame by frame. All give what the frame-by-frame loop sees
    (tests/test_analysis.py); the reader is rewound afterwards, as MDAnalysis' loop
    leaves it.
    """
    frames = np.asarray(frames, dtype=np.intp)
    steps = np.diff(frames)
    evenly = len(frames) < 2 or (steps[0] > 0 and bool(np.all(steps == steps[0])))
    try:
        if _plain_dcd(reader) and evenly:
            step = int(steps[0]) if len(frames) > 1 else 1
            header = reader._file.header
            first_time = header["istart"] / header["nsavc"]
            dt = reader.ts.dt
            for start in range(0, len(frames), block_frames):
                chunk = frames[start : start + block_frames]
                record = reader._file.readframes(
                    int(chunk[0]), int(chunk[-1]) + 1, step, order="fac", indices=atoms
                )
                times = (chunk + first_time) * dt
                yield chunk, times, record.xyz, _dcd_dimensions(record.unitcell)
        else:
            for start in range(0, len(frames), block_frames):
                chunk = frames[start : start + block_frames]
                positions = np.empty((len(chunk), len(atoms), 3), dtype=np.float32)
                dimensions = np.zeros((len(chunk), 6), dtype=np.float32)
                times = np.empty(len(chunk))
                for k, ts in enumerate(reader[chunk]):
                    positions[k] = ts.positions[atoms]
                    if ts.dimensions is not None:
                        dimensions[k] = ts.dimensions
                    times[k] = ts.time
                yield chunk, times, positions, dimensions
    finally:
        reader.rewind()


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


def _run_blocks(
    owner: AnalysisBase,
    analyses: list[RDFCoordination],
    indexed_frames: np.ndarray,
    verbose: bool | None,
    progressbar_kwargs: Mapping[str, Any] | None,
) -> None:
    """The frame loop of ``owner.run`` for ``analyses`` on the block route.

    Reads the atoms of every analysis once per frame, a block of frames at a time
    (:func:`_read_blocks`), checks the boxes in the frame loop's order
    (:func:`_check_boxes`) and hands each block to every analysis
    (:meth:`RDFCoordination._accumulate_block`). Fills ``owner.frames`` and
    ``owner.times`` as MDAnalysis' loop does; ``_prepare`` of ``owner`` runs first.
    """
    from MDAnalysis.lib.log import ProgressBar

    frames = np.asarray(indexed_frames)[:, 1]
    owner._prepare_sliced_trajectory(slicer=frames)
    owner._prepare()
    if len(frames) == 0:
        return
    atoms = np.unique(np.concatenate([np.r_[a._center_ix, a._ligand_ix] for a in analyses]))
    for analysis in analyses:
        analysis._center_rows = np.searchsorted(atoms, analysis._center_ix)
        analysis._ligand_rows = np.searchsorted(atoms, analysis._ligand_ix)
    verbose = getattr(owner, "_verbose", False) if verbose is None else verbose
    done = 0
    with ProgressBar(total=len(frames), verbose=verbose, **(progressbar_kwargs or {})) as bar:
        for numbers, times, positions, dimensions in _read_blocks(owner._trajectory, atoms, frames):
            index = np.arange(done, done + len(numbers))
            owner.frames[index] = numbers
            owner.times[index] = times
            _check_boxes(analyses, numbers, dimensions)
            by_axis = np.ascontiguousarray(positions.transpose(2, 0, 1))  # (3, n, atoms)
            for analysis in analyses:
                analysis._accumulate_block(index, numbers, by_axis, dimensions)
            done += len(numbers)
            bar.update(len(numbers))


class RDFCoordination(AnalysisBase):
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
    MDAnalysis' frame-by-frame loop to the last bit.

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
        half_width = _half_min_width_angstrom(dimensions)
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
        if self.center.n_atoms * self.ligand.n_atoms <= _DENSE_MAX_PAIRS:
            counted = self._center_ix[:, None] != self._ligand_ix[None, :]
            if self.exclude_same_residue:
                counted &= self._center_res[:, None] != self._ligand_res[None, :]
            self._counted = counted
            self._excluded_flat = np.flatnonzero(~counted)

    def _compute(
        self, indexed_frames: np.ndarray, verbose: bool | None = None, *, progressbar_kwargs=None
    ) -> RDFCoordination:
        """The frame loop of :meth:`run`: :func:`_run_blocks` (or, with
        :data:`_BLOCK_ROUTE` off, MDAnalysis' frame-by-frame loop)."""
        if not _BLOCK_ROUTE:
            return super()._compute(
                indexed_frames, verbose=verbose, progressbar_kwargs=progressbar_kwargs
            )
        _run_blocks(self, [self], indexed_frames, verbose, progressbar_kwargs)
        return self

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
            self._half_width_angstrom = _half_min_width_angstrom(dimensions)
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
        from electrolyte_md.analysis.kernel import ortho_histograms

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

        smoothed = _smooth(g_r, bw)
        peak_index = _find_first_peak(smoothed)
        min_index = None
        first_peak = first_peak_height = first_min = math.nan
        if peak_index is not None:
            lo, hi = max(peak_index - 1, 0), min(peak_index + 2, n_bins)
            raw_index = lo + int(np.argmax(g_r[lo:hi]))
            first_peak, first_peak_height = float(centers[raw_index]), float(g_r[raw_index])
            min_index = _find_first_minimum(smoothed, peak_index)
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
        res.n_frames = int(n_frames)
        res.n_blocks = self.n_blocks
        res.mean_volume_angstrom3 = mean_volume
        res.ligand_density_per_angstrom3 = self.ligand.n_atoms / mean_volume
        res.effective_ligand_density_per_angstrom3 = float(rho_eff)
        res.r_max_angstrom = r_max
        res.bin_width_angstrom = bw


class RDFCoordinationSet(AnalysisBase):
    """Several :class:`RDFCoordination` analyses of one universe in one trajectory pass.

    Each frame is read once and handed to every analysis, so analysing k pairs costs one
    read instead of k. Every analysis ends with exactly the ``results`` it gets from its
    own :meth:`~RDFCoordination.run` over the same frames.

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

    def _compute(
        self, indexed_frames: np.ndarray, verbose: bool | None = None, *, progressbar_kwargs=None
    ) -> RDFCoordinationSet:
        """The frame loop of :meth:`run`: :func:`_run_blocks` for every analysis (or, with
        :data:`_BLOCK_ROUTE` off, MDAnalysis' frame-by-frame loop)."""
        if not _BLOCK_ROUTE:
            return super()._compute(
                indexed_frames, verbose=verbose, progressbar_kwargs=progressbar_kwargs
            )
        _run_blocks(self, self.analyses, indexed_frames, verbose, progressbar_kwargs)
        return self

    def _single_frame(self) -> None:
        for analysis in self.analyses:
            analysis._accumulate(self._ts, self._frame_index)

    def _conclude(self) -> None:
        for analysis in self.analyses:
            analysis._conclude()


def _as_results(results: Results | RDFCoordination) -> Results:
    """Accept either a finished :class:`RDFCoordination` or its ``results``."""
    if isinstance(results, RDFCoordination):
        results = results.results
    if not hasattr(results, "g_r"):
        raise AnalysisError("RDF results are incomplete: was RDFCoordination.run() called?")
    return results


def rdf_table(results: Results | RDFCoordination) -> pd.DataFrame:
    """Tabulate g(r) and the running coordination number.

    Parameters
    ----------
    results : MDAnalysis.analysis.base.Results or RDFCoordination
        ``RDFCoordination(...).run().results`` (or the analysis itself).

    Returns
    -------
    pandas.DataFrame
        Columns ``r_angstrom`` (bin centres, Å), ``g_r`` and ``cn_r``, one row per bin.
    """
    res = _as_results(results)
    return pd.DataFrame(
        {
            "r_angstrom": np.asarray(res.bin_centers_angstrom, dtype=float),
            "g_r": np.asarray(res.g_r, dtype=float),
            "cn_r": np.asarray(res.cn_r, dtype=float),
        }
    )


def plot_rdf(results: Results | RDFCoordination, path: str | os.PathLike[str], title: str) -> None:
    """Plot g(r) and the running coordination number and save them as a PNG.

    g(r) is drawn against the left axis, the running coordination number against
    a twin right axis, and the shell cutoff as a dashed vertical line.  The figure
    is rendered with the Agg canvas (no pyplot, no global backend change), written
    at 150 dpi to a temporary file in the target directory and moved into place
    with :func:`os.replace`, so ``path`` is never left half-written.

    Parameters
    ----------
    results : MDAnalysis.analysis.base.Results or RDFCoordination
        ``RDFCoordination(...).run().results`` (or the analysis itself).
    path : str or os.PathLike
        Output PNG file; its directory must exist.
    title : str
        Figure title.
    """
    res = _as_results(results)
    target = Path(path)
    fig = new_figure((6.4, 4.4), layout=None)
    ax = fig.add_subplot()
    r = np.asarray(res.bin_centers_angstrom)
    (line_g,) = ax.plot(r, res.g_r, color="tab:blue", lw=1.5, label="g(r)")
    ax.set_xlabel("r (Å)")
    ax.set_ylabel("g(r)")
    ax.set_xlim(0.0, float(res.r_max_angstrom))
    ax.set_ylim(bottom=0.0)
    ax_cn = ax.twinx()
    (line_cn,) = ax_cn.plot(r, res.cn_r, color="tab:orange", lw=1.5, label="running CN n(r)")
    ax_cn.set_ylabel("running coordination number n(r)")
    ax_cn.set_ylim(bottom=0.0)
    cn_text = f"CN = {res.coordination_number:.2f}"
    if math.isfinite(res.coordination_number_sem):
        cn_text += f" ± {res.coordination_number_sem:.2f}"
    line_cut = ax.axvline(
        res.cutoff_angstrom,
        color="0.3",
        ls="--",
        lw=1.0,
        label=f"cutoff {res.cutoff_angstrom:.2f} Å ({res.cutoff_source}); {cn_text}",
    )
    handles = [line_g, line_cn, line_cut]
    ax.legend(handles, [h.get_label() for h in handles], loc="best", fontsize="small")
    ax.set_title(title)
    fig.tight_layout()

    save_png(fig, target)


def summarize(results: Results | RDFCoordination, pair_name: str) -> dict[str, Any]:
    """Summarise an RDF analysis as a JSON-serialisable dictionary.

    Parameters
    ----------
    results : MDAnalysis.analysis.base.Results or RDFCoordination
        ``RDFCoordination(...).run().results`` (or the analysis itself).
    pair_name : str
        Label of the pair, e.g. ``"Li-O(NMP)"``.

    Returns
    -------
    dict
        Keys ``pair``, ``first_peak_angstrom``, ``first_peak_height``,
        ``cutoff_angstrom``, ``cutoff_source``, ``coordination_number``,
        ``coordination_number_sem``, ``coordination_number_first_block`` and
        ``coordination_number_last_block`` (the means over the first and last of the
        blocks of the SEM: a run whose coordination still drifts shows it here),
        ``coordination_number_block_means`` (all of them, in order; empty with fewer
        frames than blocks),
        ``n_frames``, ``n_blocks``, ``r_max_angstrom`` and ``bin_width_angstrom``.
        Values are built-in ``str``/``int``/``float``; undefined values (NaN, e.g. the
        SEM and block means with fewer frames than blocks) become ``None`` so the
        dictionary is valid strict JSON.
    """
    res = _as_results(results)
    blocks = getattr(res, "coordination_number_block_means", np.zeros(0))
    first_block, last_block = (blocks[0], blocks[-1]) if len(blocks) else (math.nan, math.nan)
    return {
        "pair": str(pair_name),
        "first_peak_angstrom": json_float(res.first_peak_angstrom),
        "first_peak_height": json_float(res.first_peak_height),
        "cutoff_angstrom": json_float(res.cutoff_angstrom),
        "cutoff_source": str(res.cutoff_source),
        "coordination_number": json_float(res.coordination_number),
        "coordination_number_sem": json_float(res.coordination_number_sem),
        "coordination_number_first_block": json_float(first_block),
        "coordination_number_last_block": json_float(last_block),
        "coordination_number_block_means": [json_float(float(b)) for b in blocks],
        "n_frames": int(res.n_frames),
        "n_blocks": int(res.n_blocks),
        "r_max_angstrom": json_float(res.r_max_angstrom),
        "bin_width_angstrom": json_float(res.bin_width_angstrom),
    }


def analyze_pair(
    topology: str | os.PathLike[str],
    trajectory: str | os.PathLike[str],
    pair_name: str,
    center_selection: str,
    ligand_selection: str,
    *,
    out_csv: str | os.PathLike[str],
    out_json: str | os.PathLike[str],
    out_png: str | os.PathLike[str],
    skip_ps: float = 0.0,
    bin_width_angstrom: float = 0.05,
    r_max_angstrom: float | None = None,
    cutoff_angstrom: float | None = None,
    n_blocks: int = 5,
    title: str | None = None,
) -> dict[str, Any]:
    """RDF and coordination number of one pair in one trajectory, written to files.

    Parameters
    ----------
    topology, trajectory
        Files MDAnalysis can read (e.g. an Amber prmtop and an OpenMM DCD).
    pair_name
        Label of the pair ("Li-P"), used in the outputs.
    center_selection, ligand_selection
        MDAnalysis selection strings of centre and ligand atoms.
    out_csv, out_json, out_png
        g(r) and n(r) table, :func:`summarize` record, and figure.
    skip_ps
        Trajectory time (ps) left out at the start.
    bin_width_angstrom, r_max_angstrom, cutoff_angstrom, n_blocks
        Passed to :class:`RDFCoordination`.

    Returns
    -------
    dict
        The record written to ``out_json``, with the selections and frames used added.
    """
    spec = {
        "center": center_selection,
        "ligand": ligand_selection,
        "cutoff_angstrom": cutoff_angstrom,
        "out_csv": out_csv,
        "out_json": out_json,
        "out_png": out_png,
        "title": title,
    }
    return analyze_pairs(
        topology,
        trajectory,
        {pair_name: spec},
        skip_ps=skip_ps,
        bin_width_angstrom=bin_width_angstrom,
        r_max_angstrom=r_max_angstrom,
        n_blocks=n_blocks,
    )[pair_name]


def analyze_pairs(
    topology: str | os.PathLike[str],
    trajectory: str | os.PathLike[str],
    pairs: Mapping[str, Mapping[str, Any]],
    *,
    skip_ps: float = 0.0,
    bin_width_angstrom: float = 0.05,
    r_max_angstrom: float | None = None,
    n_blocks: int = 5,
) -> dict[str, dict[str, Any]]:
    """:func:`analyze_pair` for several pairs of one trajectory, reading it once.

    One Universe is built and every frame is read once for all pairs
    (:class:`RDFCoordinationSet`); each pair's files and record are those
    :func:`analyze_pair` writes for it alone.

    Parameters
    ----------
    topology, trajectory
        Files MDAnalysis can read (e.g. an Amber prmtop and an OpenMM DCD).
    pairs
        Pair label -> ``center`` and ``ligand`` (selection strings), ``out_csv``,
        ``out_json``, ``out_png`` (output paths), optional ``cutoff_angstrom`` and
        ``title`` (default: the label).
    skip_ps
        Trajectory time (ps) left out at the start.
    bin_width_angstrom, r_max_angstrom, n_blocks
        Passed to every :class:`RDFCoordination`.

    Returns
    -------
    dict
        Pair label -> the record written to its ``out_json``.

    Raises
    ------
    AnalysisError
        If a selection does not parse or matches no atom, ``skip_ps`` leaves no frame, or
        the analysis of a pair fails (see :class:`RDFCoordination`).
    """

    import MDAnalysis

    universe = MDAnalysis.Universe(str(topology), str(trajectory))
    groups: dict[str, dict[str, AtomGroup]] = {}
    for pair_name, spec in pairs.items():
        groups[pair_name] = {}
        for role in ("center", "ligand"):
            selection = spec[role]
            try:
                group = universe.select_atoms(selection)
            except Exception as error:  # MDAnalysis raises several types for bad selections
                raise AnalysisError(
                    f"pair '{pair_name}': cannot parse {role} selection {selection!r}: {error}"
                ) from error
            if len(group) == 0:
                raise AnalysisError(
                    f"pair '{pair_name}': {role} selection {selection!r} matches no atom in "
                    f"{topology}; check residue names and elements in the configuration"
                )
            groups[pair_name][role] = group
    dt_ps = universe.trajectory.dt
    start = math.ceil(skip_ps / dt_ps - 1e-9) if skip_ps > 0 else 0
    if start >= universe.trajectory.n_frames:
        names = ", ".join(f"'{name}'" for name in pairs)
        raise AnalysisError(
            f"pair {names}: skip_ps = {skip_ps} leaves no frame of {trajectory} "
            f"({universe.trajectory.n_frames} frames, {dt_ps:g} ps apart)"
        )
    analyses = {
        pair_name: RDFCoordination(
            groups[pair_name]["center"],
            groups[pair_name]["ligand"],
            r_max_angstrom=r_max_angstrom,
            bin_width_angstrom=bin_width_angstrom,
            cutoff_angstrom=spec.get("cutoff_angstrom"),
            n_blocks=n_blocks,
        )
        for pair_name, spec in pairs.items()
    }
    RDFCoordinationSet(list(analyses.values())).run(start=start)
    records = {}
    for pair_name, spec in pairs.items():
        rdf = analyses[pair_name]
        table = rdf_table(rdf)
        atomic_write_text(spec["out_csv"], table.to_csv(index=False, float_format="%.6g"))
        plot_rdf(rdf, spec["out_png"], spec.get("title") or pair_name)
        record = summarize(rdf, pair_name)
        record.update(
            center_selection=spec["center"],
            ligand_selection=spec["ligand"],
            n_center_atoms=len(groups[pair_name]["center"]),
            n_ligand_atoms=len(groups[pair_name]["ligand"]),
            first_frame=start,
            frame_interval_ps=float(dt_ps),
        )
        write_json(spec["out_json"], record)
        records[pair_name] = record
    return records


def analyze_run(
    topology: str | os.PathLike[str],
    trajectory: str | os.PathLike[str],
    pairs: Mapping[str, Mapping[str, Any]],
    out_dir: str | os.PathLike[str],
    *,
    skip_ps: float = 0.0,
    bin_width_angstrom: float = 0.05,
    r_max_angstrom: float | None = None,
    n_blocks: int = 5,
    run_label: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Every RDF pair of one MD run in one trajectory pass, files named by pair.

    :func:`analyze_pairs` with each pair's files (:func:`pair_files`) in ``out_dir``, which
    is created if missing: per pair exactly what :func:`analyze_pair` writes. If anything
    fails, the files of all pairs are removed from ``out_dir`` before the error
    propagates, so that no pair's files are left half made or out of step with the rest.

    Parameters
    ----------
    topology, trajectory
        Files MDAnalysis can read (e.g. an Amber prmtop and an OpenMM DCD).
    pairs
        Pair label -> ``center`` and ``ligand`` selections and optional
        ``cutoff_angstrom`` (as :func:`system_pairs` gives them; other keys are ignored).
    out_dir
        The RDF directory of the run.
    skip_ps, bin_width_angstrom, r_max_angstrom, n_blocks
        As for :func:`analyze_pairs`.
    run_label
        Figure titles read "<pair> in <run_label>" (default: the pair label alone).

    Returns
    -------
    dict
        Pair label -> the record written to its ``cn_<pair>.json``.
    """
    if not pairs:
        raise AnalysisError(f"{out_dir}: no RDF pair to analyse")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = {
        name: {
            "center": spec["center"],
            "ligand": spec["ligand"],
            "cutoff_angstrom": spec.get("cutoff_angstrom"),
            "title": f"{name} in {run_label}" if run_label else name,
            **pair_files(out_dir, name),
        }
        for name, spec in pairs.items()
    }
    try:
        return analyze_pairs(
            topology,
            trajectory,
            jobs,
            skip_ps=skip_ps,
            bin_width_angstrom=bin_width_angstrom,
            r_max_angstrom=r_max_angstrom,
            n_blocks=n_blocks,
        )
    except BaseException:
        for name in jobs:
            for path in pair_files(out_dir, name).values():
                path.unlink(missing_ok=True)
        raise


def coordination_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (temperature, replica, pair), plus replica means when there are several.

    Parameters
    ----------
    records
        Dicts from :func:`analyze_pair`, each with ``temperature_kelvin`` and ``replica``
        added by the caller.
    """
    columns = [
        "temperature_kelvin",
        "replica",
        "pair",
        "first_peak_angstrom",
        "first_peak_height",
        "cutoff_angstrom",
        "cutoff_source",
        "coordination_number",
        "coordination_number_sem",
        "coordination_number_first_block",
        "coordination_number_last_block",
        "n_frames",
    ]
    rows = pd.DataFrame([{c: r.get(c) for c in columns} for r in records], columns=columns)
    rows = rows.sort_values(["pair", "temperature_kelvin", "replica"]).reset_index(drop=True)
    rows["replica"] = rows["replica"].astype(str)
    means = []
    for (pair, temperature), group in rows.groupby(["pair", "temperature_kelvin"], sort=True):
        if len(group) < 2:
            continue
        cn = group["coordination_number"].astype(float)
        means.append(
            {
                "temperature_kelvin": temperature,
                "replica": "mean",
                "pair": pair,
                "first_peak_angstrom": group["first_peak_angstrom"].astype(float).mean(),
                "first_peak_height": group["first_peak_height"].astype(float).mean(),
                "cutoff_angstrom": group["cutoff_angstrom"].astype(float).mean(),
                "cutoff_source": "mean over replicas",
                "coordination_number": cn.mean(),
                # spread between independent replicas: the honest error bar
                "coordination_number_sem": cn.std(ddof=1) / math.sqrt(len(cn)),
                "coordination_number_first_block": group["coordination_number_first_block"]
                .astype(float)
                .mean(),
                "coordination_number_last_block": group["coordination_number_last_block"]
                .astype(float)
                .mean(),
                "n_frames": int(group["n_frames"].sum()),
            }
        )
    if means:
        rows = pd.concat([rows, pd.DataFrame(means, columns=columns)], ignore_index=True)
    return rows
