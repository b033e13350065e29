"""First peak and first minimum of a radial distribution function.

g(r) is smoothed with a Gaussian (:func:`smooth`, used only for locating); the first peak
is the first qualifying local maximum of the smoothed curve (:func:`find_first_peak`),
and the first minimum, the shell boundary, the first deep enough dip after it that g
clearly rises out of again (:func:`find_first_minimum`).  The thresholds are the
constants below; :class:`~electrolyte_md.analysis.rdf.RDFCoordination` documents the
rules in full.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

__all__ = [
    "MIN_DEPTH_FRACTION",
    "MIN_RISE_FRACTION",
    "PEAK_MIN_FRACTION_OF_MAX",
    "PEAK_MIN_HEIGHT",
    "SMOOTHING_SIGMA_ANGSTROM",
    "find_first_minimum",
    "find_first_peak",
    "smooth",
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


def smooth(values: np.ndarray, bin_width_angstrom: float) -> np.ndarray:
    """Gaussian-smoothed copy of ``values`` (sigma :data:`SMOOTHING_SIGMA_ANGSTROM`)."""
    sigma_bins = max(SMOOTHING_SIGMA_ANGSTROM / bin_width_angstrom, 0.5)
    return gaussian_filter1d(np.asarray(values, dtype=float), sigma_bins, mode="nearest")


def _same(a: float, b: float) -> bool:
    """Equal up to floating-point rounding (flat tops and bottoms of smoothed g)."""
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def find_first_peak(smoothed: np.ndarray) -> int | None:
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


def find_first_minimum(smoothed: np.ndarray, peak_index: int) -> int | None:
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
