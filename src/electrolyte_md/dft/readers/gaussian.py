"""Gaussian (09 and 16) outputs: one pure function per quantity, in Gaussian's units
(hartree).

Samples are lines of ../shared/fixtures/dft/gaussian16; those runs print no dispersion, no
Hirshfeld/CM5 table, no general basis and no failure, so those samples are the lines as
Gaussian 16 prints them (the Hirshfeld header as cclib's Gaussian parser reads it).
"""

from __future__ import annotations

import re

from electrolyte_md.dft.readers.base import (
    FLOAT,
    ChargeTable,
    Reader,
    charge_tables,
    define_pattern,
    found,
    int_pair,
    last_float,
    last_group,
    succeeded,
)

_VERSION_LINE = " Gaussian 16:  ES64L-G16RevA.03 25-Dec-2016"
SIGNATURE = define_pattern(
    r"Gaussian(?:, Inc\.| \d\d:)|Entering Gaussian System",
    "            Gaussian, Inc.  All Rights Reserved.",
    _VERSION_LINE,
    " Entering Gaussian System, Link 0=g16_main",
)
_VERSION = define_pattern(r"Gaussian (\d\d):\s+(\S+)", _VERSION_LINE)

# each Link1 step prints one termination line (the Error line: not in the fixtures)
_TERMINATION = define_pattern(
    r"^ (Normal|Error) termination",
    " Normal termination of Gaussian 16 at Thu Apr  5 09:06:04 2018.",
    " Error termination via Lnk1e in /opt/g16/l502.exe at Thu Apr  5 09:06:04 2018.",
)

# the route section: ``#`` up to the ruler below it
_ROUTE = define_pattern(
    r"^ (#.*(?:\n (?!-{5}).*)*)",
    " #p b3lyp/sto-3g guess=read geom=allcheck pop=full gfinput iop(3/33=1,3\n"
    " /36=-1)\n"
    " ----------------------------------------------------------------------\n",
)
# in the route as :func:`route` gives it: joined, lower case
_EMPIRICAL_DISPERSION = define_pattern(
    r"empiricaldispersion=\(?(\w+)", "#p b3lyp/6-31g(d) empiricaldispersion=gd3bj opt"
)
_DISPERSION_NAMES = {"gd3bj": "d3bj", "gd3": "d3zero", "gd2": "d2", "pfd": "d2"}
_OPT_KEYWORD = define_pattern(r"(?:^|[\s#/])opt\b", "#p b3lyp/sto-3g opt")

_SCF_DONE_LINE = " SCF Done:  E(RB3LYP) =  -382.308266602     A.U. after    1 cycles"
# (not in the fixtures: Gaussian's messages, as the readers' tests put them in)
_SCF_FAILED = define_pattern(
    r"Convergence failure -- run terminated|Convergence criterion not met",
    " Convergence failure -- run terminated.",
    " >>>>>>>>>> Convergence criterion not met.",
)
_SCF_DONE = define_pattern(r"SCF Done:", _SCF_DONE_LINE)
_ENERGY = define_pattern(rf"SCF Done:\s+E\(\S+\)\s+=\s+({FLOAT})", _SCF_DONE_LINE)
_ENERGY_LABEL = define_pattern(r"SCF Done:\s+E\((\S+)\)", _SCF_DONE_LINE)

_BASIS = define_pattern(r"^ Standard basis:\s*(\S+)", " Standard basis: STO-3G (5D, 7F)")
# (not in the fixtures: printed for ``gen`` instead of "Standard basis")
_GENERAL_BASIS = define_pattern(
    r"General basis read from cards", " General basis read from cards:  (5D, 7F)"
)

_CHARGE_MULTIPLICITY = define_pattern(
    r"^ Charge =\s*(-?\d+) Multiplicity =\s*(\d+)", " Charge =  0 Multiplicity = 1"
)
_OPT_COMPLETED = define_pattern(re.escape("Optimization completed."), " Optimization completed.")
# (not in the fixtures: printed when the optimisation runs out of steps)
_OPT_STOPPED = define_pattern(r"Optimization stopped", " Optimization stopped.")

_MULLIKEN = define_pattern(
    r"^ Mulliken charges(?: and spin densities)?:",
    " Mulliken charges:",
    " Mulliken charges and spin densities:",
)
# columns Q-H, S-H, Dx, Dy, Dz, Q-CM5
_HIRSHFELD_CM5 = define_pattern(
    r"^ Hirshfeld charges, spin densities, dipoles, and CM5 charges",
    " Hirshfeld charges, spin densities, dipoles, and CM5 charges using IRadAn=      4:",
)
_CHARGE_TABLES = (
    ChargeTable("mulliken", _MULLIKEN),
    ChargeTable("hirshfeld", _HIRSHFELD_CM5, column=0),
    ChargeTable("cm5", _HIRSHFELD_CM5, column=5),
)


def version(text: str) -> str | None:
    m = _VERSION.search(text)
    return f"{m.group(1)} {m.group(2)}" if m else None


def terminated(text: str) -> bool:
    """The last termination line says Normal (each Link1 step prints one)."""
    return last_group(_TERMINATION, text) == "Normal"


def route(text: str) -> str:
    """The route section (``#...`` up to the next ruler), joined, lower case."""
    m = _ROUTE.search(text)
    return "".join(line.strip() for line in m.group(1).splitlines()).lower() if m else ""


def scf_converged(text: str) -> bool:
    return succeeded(text, _SCF_DONE, _SCF_FAILED)


def energy_hartree(text: str) -> float | None:
    return last_float(_ENERGY, text)


def method(text: str) -> str | None:
    label = last_group(_ENERGY_LABEL, text)
    if label is None:
        return None
    label = label.lower()
    for prefix in ("ro", "r", "u"):
        if label.startswith(prefix) and label not in {"rhf", "uhf", "rohf"}:
            return label[len(prefix) :]
    return "hf" if label in {"rhf", "uhf", "rohf"} else label


def basis(text: str) -> str | None:
    name = last_group(_BASIS, text)
    if name:
        return name.lower()
    return "gen" if found(_GENERAL_BASIS, text) else None


def dispersion(text: str) -> str:
    m = _EMPIRICAL_DISPERSION.search(route(text))
    if m:
        return _DISPERSION_NAMES.get(m.group(1), m.group(1))
    name = method(text) or ""
    return "builtin" if name.endswith(("d", "d3")) and name.startswith(("wb97x", "b97")) else "none"


def charge_multiplicity(text: str) -> tuple[int, int] | None:
    return int_pair(_CHARGE_MULTIPLICITY.search(text))


def optimization(text: str) -> tuple[bool, bool]:
    is_opt = found(_OPT_KEYWORD, route(text))
    return is_opt, succeeded(text, _OPT_COMPLETED, _OPT_STOPPED)


def charges(text: str) -> dict[str, tuple[float, ...]]:
    return charge_tables(text, _CHARGE_TABLES)


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
