"""Frames of a trajectory a block at a time, and the geometry of their periodic boxes.

:func:`read_blocks` gives the coordinates of a set of atoms and the boxes of a set of
frames, a block of frames at a time; for a plain DCD (:func:`is_plain_dcd`) straight from
the file, without a Timestep per frame, and exactly as MDAnalysis' frame-by-frame loop
sees them (:func:`dcd_dimensions` converts the unit cells as the reader does).
:func:`half_min_width_angstrom` is the minimum-image limit of a box.

Only public MDAnalysis API is used: the trajectory reader (its ``filename``, ``dt``,
``units``, ``convert_units``, ``transformations`` and frames) and the DCD file class of
:mod:`MDAnalysis.lib.formats.libdcd` (``DCDFile``: ``header``, ``readframes``), which
the reader is built on and whose documentation leaves the unit-cell conversion to the
caller. A private attribute (the reader's own file object, ``reader._file``) would work
too, but could vanish in an MDAnalysis release without a word.

All lengths are in ångström.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
from MDAnalysis.coordinates.DCD import DCDReader
from MDAnalysis.lib.formats.libdcd import DCDFile
from MDAnalysis.lib.mdamath import triclinic_box, triclinic_vectors
from MDAnalysis.units import get_conversion_factor

__all__ = [
    "BLOCK_FRAMES",
    "dcd_dimensions",
    "half_min_width_angstrom",
    "is_plain_dcd",
    "read_blocks",
]

#: Frames read at a time by :func:`read_blocks`: positions of the analysed atoms only,
#: straight from the file where the reader allows it.
BLOCK_FRAMES = 64


def half_min_width_angstrom(dimensions: np.ndarray) -> float:
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


def dcd_dimensions(unitcells: np.ndarray) -> np.ndarray:
    """Boxes ``[A, B, C, alpha, beta, gamma]`` (float32) of DCD unit-cell records.

    The conversion of MDAnalysis 2.x's ``DCDReader`` (a record is ``[A, gamma, B, beta,
    alpha, C]`` with the angles as cosines, as degrees, or a CHARMM box matrix), record
    by record, so that a block read gives the boxes a frame-by-frame read gives.
    :func:`read_blocks` checks it against the reader on the first frame it reads.
    """
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


def is_plain_dcd(reader: Any) -> bool:
    """Whether ``reader`` is MDAnalysis' own DCD reader in Å without transformations
    (whose frames :func:`read_blocks` may read straight from the file)."""
    return (
        type(reader) is DCDReader
        and not reader.transformations
        and (
            not reader.convert_units
            or get_conversion_factor("length", reader.units["length"], "A") == 1.0
        )
    )


_Block = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def read_blocks(
    reader: Any, atoms: np.ndarray, frames: np.ndarray, block_frames: int = BLOCK_FRAMES
) -> Iterator[_Block]:
    """The coordinates of ``atoms`` and the boxes of ``frames``, a block of frames at a time.

    Parameters
    ----------
    reader
        The universe's trajectory reader.
    atoms : numpy.ndarray
        Atom indices to read (sorted, unique).
    frames : numpy.ndarray
        Frame numbers (0 to ``n_frames - 1``), in the order to analyse them.
    block_frames : int
        Frames per block.

    Yields
    ------
    frames, times, positions, dimensions
        Frame numbers, times (ps), float32 positions ``(n, len(atoms), 3)`` (Å) and float32
        boxes ``(n, 6)`` (zeros where a frame has none) of the next block.

    Warns
    -----
    RuntimeWarning
        If the reader sees the first frame of a plain DCD otherwise than the file read
        (a future MDAnalysis converting unit cells or times differently); the frames are
        then read through the reader, frame by frame.

    Notes
    -----
    A plain DCD (:func:`is_plain_dcd`) read at evenly spaced frames is read a block at a
    time by its own ``DCDFile`` (``readframes`` with the atom indices, what
    ``DCDReader.timeseries`` calls; one read of the file gives coordinates and unit cells,
    where ``timeseries`` gives coordinates only and the boxes would need a second pass
    through the reader, which decodes every atom of every frame). The unit cells are
    converted as the reader converts them (:func:`dcd_dimensions`), the times computed as
    it computes them, and no Timestep is built per frame. That these copies of the
    reader's conventions still hold is checked on the first frame against the reader
    itself (one extra frame read); where they do not, the warning above, and the slower
    route. Any other reader is iterated frame by frame (``reader[frames]``). All give
    what the frame-by-frame loop sees (tests/test_analysis.py); the reader is rewound
    afterwards, as MDAnalysis' loop leaves it.
    """
    frames = np.asarray(frames, dtype=np.intp)
    steps = np.diff(frames)
    evenly = len(frames) < 2 or (steps[0] > 0 and bool(np.all(steps == steps[0])))
    try:
        if len(frames) and is_plain_dcd(reader) and evenly:
            blocks = _dcd_blocks(reader, atoms, frames, block_frames)
            try:
                first = next(blocks)
                if _as_the_reader_sees_it(reader, atoms, first):
                    yield first
                    yield from blocks
                    return
            finally:
                blocks.close()  # its DCDFile, also when the caller stops early
            warnings.warn(
                f"{reader.filename}: MDAnalysis reads frame {int(frames[0])} otherwise than "
                "the DCD block reader (electrolyte_md.analysis.frames.dcd_dimensions and the "
                "times follow MDAnalysis 2.x); reading it frame by frame instead (slower, "
                "the same results as MDAnalysis' own loop)",
                RuntimeWarning,
                stacklevel=2,
            )
        yield from _reader_blocks(reader, atoms, frames, block_frames)
    finally:
        reader.rewind()


def _dcd_blocks(
    reader: Any, atoms: np.ndarray, frames: np.ndarray, block_frames: int
) -> Iterator[_Block]:
    """Blocks of evenly spaced ``frames`` of a plain DCD, read by a ``DCDFile`` of its own."""
    step = int(frames[1] - frames[0]) if len(frames) > 1 else 1
    with DCDFile(reader.filename) as dcd:
        header = dcd.header
        first_time = header["istart"] / header["nsavc"]  # DCDReader: (frame + this) * dt
        dt = reader.dt
        for start in range(0, len(frames), block_frames):
            chunk = frames[start : start + block_frames]
            record = dcd.readframes(
                int(chunk[0]), int(chunk[-1]) + 1, step, order="fac", indices=atoms
            )
            times = (chunk + first_time) * dt
            yield chunk, times, record.xyz, dcd_dimensions(record.unitcell)


def _reader_blocks(
    reader: Any, atoms: np.ndarray, frames: np.ndarray, block_frames: int
) -> Iterator[_Block]:
    """Blocks of ``frames`` through the reader, a Timestep per frame (any format)."""
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


def _as_the_reader_sees_it(reader: Any, atoms: np.ndarray, block: _Block) -> bool:
    """Whether the first frame of ``block`` is what the reader gives for it: the same
    coordinates, box and time (the checks are exact: equal floats, or both NaN)."""
    frames, times, positions, dimensions = block
    ts = reader[int(frames[0])]
    box = np.zeros(6, dtype=np.float32) if ts.dimensions is None else ts.dimensions
    return (
        np.array_equal(positions[0], ts.positions[atoms], equal_nan=True)
        and np.array_equal(dimensions[0], box, equal_nan=True)
        and times[0] == ts.time
    )
