"""CP2K (2024.1) outputs: one pure function per quantity, in CP2K's units (hartree).

Samples are lines of tests/data/dft/cp2k_2024.1_pbe_d3_sp.out (CP2K's documented output
lines) and, for what a converged single point does not print, the lines as CP2K prints them.
"""

from __future__ import annotations

from electrolyte_md.dft.readers.base import (
    FLOAT,
    Reader,
    banners,
    define_pattern,
    first_group,
    found,
    last_float,
    last_ints,
    last_mapped,
    last_match,
    succeeded,
    to_float,
)

_VERSION_LINE = (
    " CP2K| version string:                                          CP2K version 2024.1"
)
SIGNATURE = define_pattern(
    r"CP2K\| version string|PROGRAM STARTED AT",
    _VERSION_LINE,
    "  **** **** ******  **  PROGRAM STARTED AT               2024-05-02 10:00:00.000",
)
_VERSION = define_pattern(r"CP2K\| version string:\s+CP2K version (\S+)", _VERSION_LINE)
_TERMINATED = define_pattern(
    r"PROGRAM ENDED AT",
    "  **** **** ******  **  PROGRAM ENDED AT                 2024-05-02 10:00:05.000",
)

# (not in the sample file: CP2K's wording, in the layout of the converged line)
_SCF_FAILED = define_pattern(r"SCF run NOT converged", "  *** SCF run NOT converged ***")
_SCF_CONVERGED = define_pattern(
    r"SCF run converged in", "  *** SCF run converged in     2 steps ***"
)
_ENERGY = define_pattern(
    rf"ENERGY\| Total FORCE_EVAL \( \w+ \) energy \S+:?\s+({FLOAT})",
    " ENERGY| Total FORCE_EVAL ( QS ) energy [a.u.]:              -17.165195106420213",
)

_FUNCTIONAL = define_pattern(r"^\s*FUNCTIONAL\| ([\w\-]+):\s*$", " FUNCTIONAL| PBE:")
_BASIS = define_pattern(
    r"^\s*Orbital Basis Set\s+(\S+)",
    "     Orbital Basis Set                                       DZVP-MOLOPT-SR-GTH",
)
_DISPERSION = define_pattern(
    r"vdW POTENTIAL\|\s+(DFT-D3\(BJ\)|DFT-D3|DFT-D2)",
    " vdW POTENTIAL|                                             DFT-D3 (Version 3.1)",
)
_DISPERSION_NAMES = {"DFT-D3(BJ)": "d3bj", "DFT-D3": "d3zero", "DFT-D2": "d2"}

_CHARGE = define_pattern(
    r"^\s*DFT\| Charge\s+(-?\d+)",
    " DFT| Charge                                                                    0",
)
_MULTIPLICITY = define_pattern(
    r"^\s*DFT\| Multiplicity\s+(\d+)",
    " DFT| Multiplicity                                                              1",
)

# (not in the sample file, a single point: CP2K's wording, in the layout of its lines)
_GEO_OPT = define_pattern(
    r"GLOBAL\| Run type\s+GEO_OPT",
    " GLOBAL| Run type                                                         GEO_OPT",
)
_OPT_COMPLETED = define_pattern(
    r"GEOMETRY OPTIMIZATION COMPLETED",
    " ***                    GEOMETRY OPTIMIZATION COMPLETED                    ***",
)

# (the Hirshfeld header is not in the sample file: CP2K's title of that table)
_CHARGE_HEADERS = (
    (
        "mulliken",
        define_pattern(
            r"Mulliken Population Analysis", "                     Mulliken Population Analysis"
        ),
    ),
    ("hirshfeld", define_pattern(r"Hirshfeld Charges", "                 Hirshfeld Charges")),
)
# index, element, kind, populations..., net charge
_CHARGE_ROW = define_pattern(
    rf"^\s*\d+\s+([A-Z][a-z]?)\s+\d+((?:\s+{FLOAT})+)\s*$",
    "       1     O        1          6.523211                            -0.523211",
)


def version(text: str) -> str | None:
    return first_group(_VERSION, text)


def terminated(text: str) -> bool:
    return found(_TERMINATED, text)


def scf_converged(text: str) -> bool:
    return succeeded(text, _SCF_CONVERGED, _SCF_FAILED)


def energy_hartree(text: str) -> float | None:
    return last_float(_ENERGY, text)


def method(text: str) -> str | None:
    names = _FUNCTIONAL.findall(text)
    return "+".join(dict.fromkeys(n.lower() for n in names)) if names else None


def basis(text: str) -> str | None:
    names = _BASIS.findall(text)
    return "+".join(sorted({n.lower() for n in names})) if names else None


def dispersion(text: str) -> str:
    return last_mapped(_DISPERSION, text, _DISPERSION_NAMES)


def charge_multiplicity(text: str) -> tuple[int, int] | None:
    return last_ints(text, _CHARGE, _MULTIPLICITY)


def optimization(text: str) -> tuple[bool, bool]:
    return banners(text, _GEO_OPT, _OPT_COMPLETED)


def charges(text: str) -> dict[str, tuple[float, ...]]:
    """Net charges (last column) of CP2K's Mulliken and Hirshfeld tables."""
    out = {}
    for scheme, header in _CHARGE_HEADERS:
        m = last_match(header, text)
        if m is None:
            continue
        values = []
        for line in text[m.end() :].splitlines()[1:]:
            row = _CHARGE_ROW.match(line)
            if row:
                values.append(to_float(row.group(2).split()[-1]))
            elif values or line.strip().startswith("# Total"):
                break
        if values:
            out[scheme] = tuple(values)
    return out


def scf_failed(text: str) -> bool:
    """The run printed that an SCF did not converge."""
    return found(_SCF_FAILED, text)


READER = Reader(
    signature=SIGNATURE,
    version=version,
    terminated=terminated,
    scf_converged=scf_converged,
    energy_hartree=energy_hartree,
    method=method,
    basis=basis,
    dispersion=dispersion,
    charge_multiplicity=charge_multiplicity,
    optimization=optimization,
    charges=charges,
    scf_failed=scf_failed,
)
