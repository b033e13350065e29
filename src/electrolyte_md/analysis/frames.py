"""Frames of a trajectory a block at a time, and the geometry of their periodic boxes.

:func:`read_blocks` gives the coordinates of a set of atoms and the boxes of a set of
frames, a block of frames at a time; for a plain DCD (:func:`is_plain_dcd`) straight from
the file, without a Timestep per frame, and exactly as MDAnalysis' frame-by-frame loop
sees them (:func:`dcd_dimensions` converts the unit cells as the reader does).
:func:`half_min_width_angstrom` is the minimum-image limit of a box.

All lengths are in ångström.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from MDAnalysis.coordinates.DCD import DCDReader
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

    The conversion of ``DCDReader._frame_to_ts`` (MDAnalysis 2.x), record by record, so
    that a block read gives the boxes a frame-by-frame read gives.
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
        and not getattr(reader, "_transformations", None)
        and (
            not reader.convert_units
            or get_conversion_factor("length", reader.units["length"], "A") == 1.0
        )
        and hasattr(getattr(reader, "_file", None), "readframes")
    )


def read_blocks(
    reader: Any, atoms: np.ndarray, frames: np.ndarray, block_frames: int = BLOCK_FRAMES
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
    A plain DCD (:func:`is_plain_dcd`) read at evenly spaced frames is read a block at a
    time by its file object, ``readframes`` with the atom indices (what
    ``DCDReader.timeseries`` calls); the unit cells are converted as the reader converts
    them (:func:`dcd_dimensions`) and no Timestep is built per frame. Any other reader is
    iterated frame by frame. All give what the frame-by-frame loop sees
    (tests/test_analysis.py); the reader is rewound afterwards, as MDAnalysis' loop
    leaves it.
    """
    frames = np.asarray(frames, dtype=np.intp)
    steps = np.diff(frames)
    evenly = len(frames) < 2 or (steps[0] > 0 and bool(np.all(steps == steps[0])))
    try:
        if is_plain_dcd(reader) and evenly:
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
                yield chunk, times, record.xyz, dcd_dimensions(record.unitcell)
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
