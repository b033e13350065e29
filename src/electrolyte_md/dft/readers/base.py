"""What the readers of every program share: the result record, the pattern registry, and the
small pure functions that differ between programs only in the patterns they are given.

Every regex of the readers is made with :func:`define_pattern`, next to a short sample of the
real output line(s) it has to match (ASE's ``io/nwchem`` style); :data:`PATTERNS` keeps each
pattern with its samples, and ``tests/test_dft_patterns.py`` checks every one of them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

#: A decimal number as the programs print it, Fortran ``D`` exponents included.
FLOAT = r"[-+]?\d+\.\d+(?:[EeDd][-+]?\d+)?"


@dataclass(frozen=True)
class QMResult:
    """What a finished, converged quantum-chemistry run gives.

    Attributes
    ----------
    path
        Output file.
    program, version
        Program (``"nwchem"``, ``"orca"``, ``"gaussian"``, ``"qchem"``, ``"psi4"``,
        ``"cp2k"``) and the version it printed.
    energy_ev
        Final electronic energy (eV), dispersion correction included where computed.
    method, basis, dispersion
        Lower-case method name, lower-case basis-set name, dispersion correction
        (``"none"``, ``"d3zero"``, ``"d3bj"``, ``"d4"``, ``"d2"`` or ``"builtin"``).
    charge, multiplicity
        Of the system computed (ghost atoms carry neither).
    optimization
        Whether the run was a (converged) geometry optimisation.
    n_ghosts
        Number of ghost centres (basis functions without nuclei), where the program says.
    symbols, positions
        Element symbols and Cartesian coordinates (angstrom) of the real atoms of the
        final geometry, where read.
    ghost_symbols, ghost_positions
        The same of the ghost centres, where the program prints them (NWChem, ORCA).
    atomic_charges
        Scheme (``"mulliken"``, ``"loewdin"``, ``"hirshfeld"``, ``"cm5"``) -> charges (e)
        per centre, in output order, for the schemes the program printed.
    """

    path: Path
    program: str
    version: str
    energy_ev: float
    method: str
    basis: str
    dispersion: str
    charge: int
    multiplicity: int
    optimization: bool
    n_ghosts: int = 0
    symbols: tuple[str, ...] = ()
    positions: tuple[tuple[float, float, float], ...] = ()
    ghost_symbols: tuple[str, ...] = ()
    ghost_positions: tuple[tuple[float, float, float], ...] = ()
    atomic_charges: dict[str, tuple[float, ...]] = field(default_factory=dict)

    @property
    def level_of_theory(self) -> str:
        """``method/basis`` with the dispersion correction, e.g. ``b3lyp-d3bj/6-31g*``."""
        disp = "" if self.dispersion == "none" else f"-{self.dispersion}"
        return f"{self.method}{disp}/{self.basis}"


# ---------------------------------------------------------------------------------------
# pattern registry


@dataclass(frozen=True)
class Pattern:
    """A compiled regex, the sample(s) of real output it must match, the module defining it."""

    regex: re.Pattern[str]
    examples: tuple[str, ...]
    module: str


#: Every pattern made with :func:`define_pattern`, in definition order.
PATTERNS: list[Pattern] = []


def define_pattern(regex: str, *examples: str, flags: int = re.MULTILINE) -> re.Pattern[str]:
    """Compile ``regex`` and register it with ``examples``: excerpts of real output it matches
    (one per alternative where it has several). ``re.MULTILINE`` unless ``flags`` says
    otherwise, so ``^``/``$`` are line anchors."""
    if not examples:
        raise ValueError(f"pattern {regex!r} needs a sample of the output it matches")
    compiled = re.compile(regex, flags)
    # the caller's module, so that the test can tell which program registered what
    module = sys._getframe(1).f_globals.get("__name__", "?")
    PATTERNS.append(Pattern(compiled, examples, module))
    return compiled


# ---------------------------------------------------------------------------------------
# small pure helpers, shared by the program modules


def to_float(value: str) -> float:
    """A printed number, Fortran ``D`` exponents included."""
    return float(value.replace("D", "E").replace("d", "e"))


def found(pattern: re.Pattern[str], text: str) -> bool:
    return pattern.search(text) is not None


def succeeded(text: str, success: re.Pattern[str], failure: re.Pattern[str]) -> bool:
    """``success`` is printed and ``failure`` is not (a termination or an SCF check)."""
    return not found(failure, text) and found(success, text)


def last_match(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    matches = list(pattern.finditer(text))
    return matches[-1] if matches else None


def first_group(pattern: re.Pattern[str], text: str) -> str | None:
    """Group 1 of the first match (a version, printed once)."""
    m = pattern.search(text)
    return m.group(1) if m else None


def last_group(pattern: re.Pattern[str], text: str) -> str | None:
    """Group 1 of the last match (what the final step of the run printed)."""
    m = last_match(pattern, text)
    return m.group(1) if m else None


def last_float(pattern: re.Pattern[str], text: str) -> float | None:
    """Group 1 of the last match as a number (the final energy, in the program's units)."""
    value = last_group(pattern, text)
    return to_float(value) if value is not None else None


def int_pair(match: re.Match[str] | None) -> tuple[int, int] | None:
    """Groups 1 and 2 as integers (charge and multiplicity printed on one line)."""
    return (int(match.group(1)), int(match.group(2))) if match else None


def last_ints(
    text: str, charge: re.Pattern[str], multiplicity: re.Pattern[str]
) -> tuple[int, int] | None:
    """Charge and multiplicity printed apart: group 1 of the last match of each pattern."""
    q, mult = last_group(charge, text), last_group(multiplicity, text)
    if q is None or mult is None:
        return None
    return int(q), int(mult)


def last_mapped(pattern: re.Pattern[str], text: str, names: dict[str, str]) -> str:
    """``names`` of group 1 of the last match, ``"none"`` without a match (dispersion)."""
    value = last_group(pattern, text)
    return "none" if value is None else names[value]


def banners(text: str, started: re.Pattern[str], converged: re.Pattern[str]) -> tuple[bool, bool]:
    """(is an optimisation, converged) from the program's own banners."""
    return found(started, text), found(converged, text)


def block_after(pattern: re.Pattern[str], text: str, skip: int) -> list[str]:
    """Non-blank lines after the last ``pattern``, skipping ``skip`` lines, up to a blank."""
    match = last_match(pattern, text)
    if match is None:
        return []
    lines = []
    for line in text[match.end() :].splitlines()[skip + 1 :]:
        if not line.strip():
            break
        lines.append(line)
    return lines


# ---------------------------------------------------------------------------------------
# charge tables

_ROW = define_pattern(
    rf"^\s*\d+\s+([A-Z][a-z]?)((?:\s+{FLOAT})+)\s*$",
    "      1 C                    -0.004106",  # Q-Chem 5.4
    "     1  C   -0.004504",  # Gaussian 16
    "       1     O     4.16655  4.16655  0.00000 -0.33310",  # Psi4 1.7
)
_ROW_COLON = define_pattern(
    rf"^\s*\d+\s+([A-Z][a-z]?)\s*:((?:\s+{FLOAT})+)\s*$",
    "   0 C :   -0.004552",  # ORCA 5.0
)


class ChargeTable(NamedTuple):
    """Where a scheme's charges are: the table header, the value column, a colon after the
    element (ORCA)."""

    scheme: str
    header: re.Pattern[str]
    column: int = 0
    colon: bool = False


def charge_table(
    text: str, header: re.Pattern[str], *, column: int = 0, colon: bool = False
) -> tuple[tuple[str, ...], tuple[float, ...]] | None:
    """Rows ``index symbol [:] numbers...`` after the last ``header``; value ``column``."""
    match = last_match(header, text)
    if match is None:
        return None
    row = _ROW_COLON if colon else _ROW
    symbols, values = [], []
    for n, line in enumerate(text[match.end() :].splitlines()[1:]):
        found_row = row.match(line)
        if found_row:
            symbols.append(found_row.group(1))
            values.append(to_float(found_row.group(2).split()[column]))
        elif values or n > 8:
            break
    return (tuple(symbols), tuple(values)) if values else None


def charge_tables(text: str, tables: Iterable[ChargeTable]) -> dict[str, tuple[float, ...]]:
    """Scheme -> charges, for the ``tables`` the output holds."""
    out = {}
    for scheme, header, column, colon in tables:
        table = charge_table(text, header, column=column, colon=colon)
        if table:
            out[scheme] = table[1]
    return out


# ---------------------------------------------------------------------------------------
# one program's reader


def _no_ghosts(text: str) -> int:
    return 0


def _never(text: str) -> bool:
    return False


#: One centre of a geometry: element, position (angstrom), whether it is a ghost.
Centre = tuple[str, tuple[float, float, float], bool]


def _no_geometry(text: str) -> list[Centre]:
    return []


@dataclass(frozen=True)
class Reader:
    """The pure functions of one program's module, as :func:`read_output` calls them."""

    signature: re.Pattern[str]
    version: Callable[[str], str | None]
    terminated: Callable[[str], bool]
    scf_converged: Callable[[str], bool]
    energy_hartree: Callable[[str], float | None]
    method: Callable[[str], str | None]
    basis: Callable[[str], str | None]
    dispersion: Callable[[str], str]
    charge_multiplicity: Callable[[str], tuple[int, int] | None]
    optimization: Callable[[str], tuple[bool, bool]]
    charges: Callable[[str], dict[str, tuple[float, ...]]]
    n_ghosts: Callable[[str], int] = _no_ghosts
    #: The run printed that its SCF failed (reported as such even if it then stopped).
    scf_failed: Callable[[str], bool] = _never
    #: Final geometry from the text, ghosts included (empty: read it with ASE or cclib).
    geometry: Callable[[str], list[Centre]] = _no_geometry
