"""Compiled inner loop of the RDF block route (:mod:`electrolyte_md.analysis.rdf`).

numba compiles :func:`ortho_histograms` once (about 2 s) and caches it beside this
module; where the package directory is read-only, set ``NUMBA_CACHE_DIR`` to a writable
one. The module is imported only when an RDF is histogrammed, so that importing the
package does not pay for numba.

Why numba: the histogram of every center-ligand distance of every frame is one pass
over the pairs. In numpy it takes a dozen passes over arrays of that size (difference,
image shift, squares, root, division, cast, bincount). On the standard box (32-33 Li+,
about 16,500 Li-X pairs a frame) the stage then reaches 0.13-0.16 of the trajectory read
rate with a plain numpy port of this loop (``benchmarks/bench_analysis.py``,
``numpy_histograms``: 18 against 6 ns a pair), 0.41-0.48 with the tuned numpy route of
issue 8 (a float32 screen, exact fixes near bin edges), and 0.73-0.83 with this kernel
(``benchmarks/measured/rdf_speed.md``). Only on the small default box (11 Li+)
does numpy alone hold 0.5. numba is a maintained, widely used JIT compiler with wheels
on PyPI and packages on conda-forge.
"""

from __future__ import annotations

import numba
import numpy as np


# No fastmath: contracting a product and a sum into one FMA would change distances in
# the last bit, and with them the bin of a distance on a bin edge.
@numba.njit(cache=True, nogil=True, error_model="numpy")
def ortho_histograms(
    center: np.ndarray,
    ligand: np.ndarray,
    counted: np.ndarray,
    edges: np.ndarray,
    inverse: np.ndarray,
    bin_width: float,
    r_search: float,
    counts: np.ndarray,
) -> None:
    """Add each frame's counted center-ligand distances to its histogram row.

    The distance is computed by the arithmetic of MDAnalysis' ``distance_array`` for an
    orthorhombic box (``_calc_distance_array_ortho`` in ``calc_distances.h``), so that
    every distance, and hence every bin, is the one the frame-by-frame route gets: the
    float32 difference, its product with the float32 inverse edge in double precision,
    the image shift by rounding (to even here, away from zero there: the same square),
    the product with the edge, the squares summed x, y, z in that order, the root. The
    bin is ``floor(d / bin_width)`` for ``d <= r_search``, kept if below the number of
    bins; a NaN distance (a coordinate that is not finite) is never counted.

    Parameters
    ----------
    center, ligand : numpy.ndarray
        float32 coordinates (Å) of n frames, axis first: ``(3, n, n_center)`` and
        ``(3, n, n_ligand)``.
    counted : numpy.ndarray
        bool ``(n_center, n_ligand)``: the pairs that count (not self, not excluded).
    edges, inverse : numpy.ndarray
        float64 box edges (Å) and their inverses rounded to float32, as MDAnalysis
        holds them.
    bin_width, r_search : float
        Bin width and histogram range (Å).
    counts : numpy.ndarray
        int64 ``(n, n_bins)``, added to.
    """
    n_frames = center.shape[1]
    n_center = center.shape[2]
    n_ligand = ligand.shape[2]
    n_bins = counts.shape[1]
    ex, ey, ez = edges[0], edges[1], edges[2]
    ix, iy, iz = inverse[0], inverse[1], inverse[2]
    beyond = np.float64(n_bins)
    scaled = np.empty(n_ligand)
    # A frame's row, with four bins past the last for the pairs not counted (beyond the
    # range, excluded, NaN), taken in turn so that their increments do not wait on each
    # other.
    row = np.zeros(n_bins + 4, dtype=np.int64)
    for f in range(n_frames):
        row[:] = 0
        lx, ly, lz = ligand[0, f], ligand[1, f], ligand[2, f]
        for i in range(n_center):
            cx, cy, cz = center[0, f, i], center[1, f, i], center[2, f, i]
            keep = counted[i]
            # d / bin_width of every ligand, or ``beyond``: no branch, so it vectorises
            for j in range(n_ligand):
                sx = np.float64(lx[j] - cx) * ix  # the difference in float32
                sy = np.float64(ly[j] - cy) * iy
                sz = np.float64(lz[j] - cz) * iz
                dx = (sx - np.rint(sx)) * ex
                dy = (sy - np.rint(sy)) * ey
                dz = (sz - np.rint(sz)) * ez
                squared = dx * dx
                squared = squared + dy * dy
                squared = squared + dz * dz
                d = np.sqrt(squared)
                scaled[j] = min(d / bin_width, beyond) if d <= r_search else beyond
            # the counts, without a branch a random distance would mispredict
            for j in range(n_ligand):
                k = int(scaled[j]) if keep[j] else n_bins  # truncation: floor, as t >= 0
                row[k + (j & 3) * (k >= n_bins)] += 1
        counts[f] += row[:n_bins]
