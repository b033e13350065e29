"""NWChem (7.0) outputs: one pure function per quantity, in NWChem's units (hartree).

Samples are lines of ../shared/fixtures/dft/nwchem7.0 and, for what those runs do not print
(dispersion, Mulliken analysis, ghost centres, an unconverged SCF, HF), of NWChem 7.0.2 runs
of the project's own inputs (:func:`electrolyte_md.dft.inputs.nwchem_input`).
"""

from __future__ import annotations

from electrolyte_md.dft.readers.base import (
    FLOAT,
    Centre,
    Reader,
    banners,
    block_after,
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

_BANNER = "             Northwest Computational Chemistry Package (NWChem) 7.0.0"
SIGNATURE = define_pattern(r"Northwest Computational Chemistry Package", _BANNER)
_VERSION = define_pattern(r"Northwest Computational Chemistry Package \(NWChem\) (\S+)", _BANNER)

# NWChem prints the total times as the last thing of a run that was not aborted
_TIMES = define_pattern(
    r"Total times  cpu:", " Total times  cpu:        5.4s     wall:        5.8s"
)
_ERROR = define_pattern(
    r"An error occured",
    "An error occured while computing integrals",  # as the nwchem 7.0.2 binary spells it
)

# from an NWChem 7.0.2 run with ``iterations 1``
_SCF_FAILED = define_pattern(
    r"Calculation failed to converge", "      Calculation failed to converge"
)
_ENERGY_PRINTED = define_pattern(
    r"Total (?:DFT|SCF) energy\s*=",
    "         Total DFT energy =     -382.308242007863",
    "         Total SCF energy =     -1.116759310192",
)
_ENERGY = define_pattern(
    rf"^\s*Total (?:DFT|SCF) energy\s*=\s*({FLOAT})",
    "         Total DFT energy =     -382.308242007863",
    "         Total SCF energy =     -1.116759310192",
)
_DFT_ENERGY = define_pattern(
    r"Total DFT energy", "         Total DFT energy =     -382.308242007863"
)
_SCF_ENERGY = define_pattern(r"Total SCF energy", "         Total SCF energy =     -1.116759310192")

_XC_NAMED = define_pattern(
    r"^\s*(\S+) Method XC Potential", "                         B3LYP Method XC Potential"
)
# xc given as components (``xc becke88 lyp``): no "Method" line, one line per functional
_XC_BLOCK = define_pattern(
    r"XC Information\s*\n\s*-+\n((?:.*Functional.*\n|.*Exchange.*\n)+)",
    "              XC Information\n"
    "              --------------\n"
    "                    Becke 1988 Exchange Functional  1.000          \n"
    "              Lee-Yang-Parr Correlation Functional  1.000          \n",
)
_XC_WEIGHT = define_pattern(r"\s+\d.*$", "Lee-Yang-Parr Correlation Functional  1.000")

_BASIS_SUMMARY = define_pattern(
    r'Summary of "ao basis" -> "ao basis"',
    ' Summary of "ao basis" -> "ao basis" (cartesian)',
)
_DISPERSION = define_pattern(r"^\s*DFT-(D3BJ|D3|D2) Model", "           DFT-D3BJ Model   ")
_DISPERSION_NAMES = {"D3BJ": "d3bj", "D3": "d3zero", "D2": "d2"}

_CHARGE = define_pattern(r"^\s*Charge\s*:\s*(-?\d+)", "          Charge           :     0")
_MULTIPLICITY = define_pattern(
    r"^\s*Spin multiplicity:\s*(\d+)", "          Spin multiplicity:     1"
)

_OPTIMIZATION = define_pattern(
    r"NWChem Geometry Optimization|Optimization converged",
    "                           NWChem Geometry Optimization",
    "      Optimization converged",
)
_OPT_CONVERGED = define_pattern(r"Optimization converged", "      Optimization converged")

_COORDINATES = define_pattern(
    r"Output coordinates in angstroms",
    " Output coordinates in angstroms (scale by  1.889725989 to convert to a.u.)",
)
_MULLIKEN = define_pattern(
    r"Total Density - Mulliken Population Analysis",
    "      Total Density - Mulliken Population Analysis",
)
# index, tag, nuclear charge Z, electron population, shell populations
_MULLIKEN_ROW = define_pattern(
    rf"^\s*\d+\s+(\S+)\s+(\d+)\s+({FLOAT})", "    1 Li   3     3.01   1.98  0.63  0.39"
)


def version(text: str) -> str | None:
    return first_group(_VERSION, text)


def terminated(text: str) -> bool:
    return succeeded(text, _TIMES, _ERROR)


def scf_converged(text: str) -> bool:
    return succeeded(text, _ENERGY_PRINTED, _SCF_FAILED)


def energy_hartree(text: str) -> float | None:
    return last_float(_ENERGY, text)


def method(text: str) -> str | None:
    if last_match(_DFT_ENERGY, text) is None:
        return "hf" if last_match(_SCF_ENERGY, text) else None
    named = last_match(_XC_NAMED, text)
    if named:
        return named.group(1).lower()
    block = last_match(_XC_BLOCK, text)
    if block is None:
        return None
    parts = [_XC_WEIGHT.sub("", line.strip()) for line in block.group(1).splitlines()]
    return "+".join(p.lower() for p in parts if p)


def basis(text: str) -> str | None:
    """Basis of the real atoms from the last ``Summary of "ao basis"`` table."""
    names = set()
    for line in block_after(_BASIS_SUMMARY, text, skip=3):
        fields = line.split()
        if len(fields) >= 2 and not fields[0].lower().startswith("bq"):
            names.add(fields[1].lower())
    return "+".join(sorted(names)) if names else None


def dispersion(text: str) -> str:
    return last_mapped(_DISPERSION, text, _DISPERSION_NAMES)


def charge_multiplicity(text: str) -> tuple[int, int] | None:
    return last_ints(text, _CHARGE, _MULTIPLICITY)


def optimization(text: str) -> tuple[bool, bool]:
    """(is an optimisation, converged)."""
    return banners(text, _OPTIMIZATION, _OPT_CONVERGED)


def n_ghosts(text: str) -> int:
    rows = block_after(_COORDINATES, text, skip=3)
    return sum(
        1 for line in rows if len(line.split()) > 1 and line.split()[1].lower().startswith("bq")
    )


def charges(text: str) -> dict[str, tuple[float, ...]]:
    """Mulliken charges (Z - population) of the last population analysis (the first one
    NWChem prints is of the initial guess)."""
    m = last_match(_MULLIKEN, text)
    if m is None:
        return {}
    values, started = [], False
    for line in text[m.end() :].splitlines()[1:]:
        row = _MULLIKEN_ROW.match(line)
        if row:
            started = True
            values.append(int(row.group(2)) - to_float(row.group(3)))
        elif started:
            break
    return {"mulliken": tuple(values)} if values else {}


def geometry(text: str) -> list[Centre]:
    """The last ``Output coordinates`` table: element (from the nuclear charge, or the tag
    after ``bq`` for a ghost centre), position (angstrom), whether it is a ghost."""
    from ase.data import chemical_symbols

    centres: list[Centre] = []
    for line in block_after(_COORDINATES, text, skip=3):
        fields = line.split()
        if len(fields) < 6:
            break
        tag, z = fields[1], round(to_float(fields[2]))
        xyz = (to_float(fields[3]), to_float(fields[4]), to_float(fields[5]))
        ghost = tag.lower().startswith("bq")
        if ghost:
            letters = "".join(c for c in tag[2:] if c.isalpha())
            element = letters[:1].upper() + letters[1:].lower() if letters else "X"
        else:
            element = chemical_symbols[z] if 0 < z < len(chemical_symbols) else tag
        centres.append((element, xyz, ghost))
    return centres


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
    n_ghosts=n_ghosts,
    geometry=geometry,
)
