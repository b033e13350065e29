"""ORCA (5 and 6) outputs: one pure function per quantity, in ORCA's units (hartree).

Samples are lines of ../shared/fixtures/dft/orca5.0 and orca6.0; ORCA echoes its input as
``| n> line``, so the ghost-atom sample is that echo of a line written by
:func:`electrolyte_md.dft.inputs.orca_input`.
"""

from __future__ import annotations

import re

from electrolyte_md.dft.readers.base import (
    FLOAT,
    Centre,
    ChargeTable,
    Reader,
    banners,
    charge_tables,
    define_pattern,
    first_group,
    found,
    last_float,
    last_group,
    last_ints,
    last_match,
    succeeded,
    to_float,
)

#: Method keywords of ORCA's simple input that name the electronic-structure method.
METHODS = frozenset(
    [
        "hf",
        "rhf",
        "uhf",
        "b3lyp",
        "pbe",
        "pbe0",
        "bp86",
        "blyp",
        "tpss",
        "tpssh",
        "r2scan",
        "r2scan0",
        "revpbe",
        "revpbe0",
        "scan",
        "wb97x",
        "wb97x-d3",
        "wb97x-d3bj",
        "wb97x-v",
        "wb97x-d4",
        "wb97m-v",
        "wb97m-d4",
        "m06",
        "m06-2x",
        "m062x",
        "cam-b3lyp",
        "b2plyp",
        "dsd-pbep86",
        "pw6b95",
        "b97-d3",
        "b97m-v",
        "bhandhlyp",
        "mp2",
        "ri-mp2",
        "ccsd",
        "ccsd(t)",
        "dlpno-ccsd(t)",
        "r2scan-3c",
        "b97-3c",
        "pbeh-3c",
        "hf-3c",
        "wb97x-3c",
    ]
)
_BUILTIN_DISPERSION = ("-3c", "-d3", "-d4", "-v", "-d3bj")
_DISPERSION_KEYWORDS = (("d3bj", "d3bj"), ("d3zero", "d3zero"), ("d3", "d3zero"), ("d4", "d4"))
_OPT_KEYWORDS = frozenset({"opt", "tightopt", "looseopt", "verytightopt"})

SIGNATURE = define_pattern(
    r"\* O   R   C   A \*|Program Version \d+\.\d+\.\d+ +- +RELEASE",
    "                                        * O   R   C   A *",
    "                         Program Version 6.0.0  -   RELEASE  -",
)
_VERSION = define_pattern(
    r"Program Version (\d+\.\d+\.\d+)",
    "                         Program Version 5.0.0 -  RELEASE  -",
)
_TERMINATED = define_pattern(
    re.escape("****ORCA TERMINATED NORMALLY****"),
    "                             ****ORCA TERMINATED NORMALLY****",
)

# the failure banner (as cclib's ORCA parser quotes it) and the annotations ORCA appends to
# an energy whose SCF did not converge
_SCF_FAILED = define_pattern(
    r"SCF NOT CONVERGED|SCF not fully converged|\(SCF not converged\)",
    "       *           SCF NOT CONVERGED AFTER   8 CYCLES      *",
    "(SCF not fully converged!)",
    "(SCF not converged)",
)
_SCF_CONVERGED = define_pattern(
    r"SCF CONVERGED AFTER",
    "               *           SCF CONVERGED AFTER   9 CYCLES          *",
)
_ENERGY = define_pattern(
    rf"^FINAL SINGLE POINT ENERGY\s+({FLOAT})", "FINAL SINGLE POINT ENERGY      -382.055108614123"
)

_KEYWORDS = define_pattern(r"^\|\s*\d+>\s*!(.*)$", "|  1> ! rks b3lyp sto-3g usesym opt")
_EXCHANGE = define_pattern(
    r"Exchange Functional\s+Exchange\s+\.+\s+(\S+)",
    " Exchange Functional    Exchange        .... B88",
)
_CORRELATION = define_pattern(
    r"Correlation Functional\s+Correlation\s+\.+\s+(\S+)",
    " Correlation Functional Correlation     .... LYP",
)
_BASIS = define_pattern(
    r"Your calculation utilizes the basis:\s*(\S+)", "Your calculation utilizes the basis: STO-3G"
)

_CHARGE = define_pattern(
    r"Total Charge\s+Charge\s+\.+\s+(-?\d+)", " Total Charge           Charge          ....    0"
)
_MULTIPLICITY = define_pattern(
    r"Multiplicity\s+Mult\s+\.+\s+(\d+)", " Multiplicity           Mult            ....    1"
)

_OPT_CYCLE = define_pattern(
    r"GEOMETRY OPTIMIZATION CYCLE",
    "         *                GEOMETRY OPTIMIZATION CYCLE   1            *",
)
_OPT_CONVERGED = define_pattern(
    r"THE OPTIMIZATION HAS CONVERGED",
    "                    ***        THE OPTIMIZATION HAS CONVERGED     ***",
)

_XYZ_BLOCK = define_pattern(
    r"^\|\s*\d+>\s*\*\s*xyz[^\n]*\n((?:\|\s*\d+>.*\n)+)",
    "| 11> * xyz 0 1\n| 12>  C       -1.4152533224   0.2302217854   0.0000000000\n",
)
# a ghost centre (``Li:``) as ORCA echoes the input line inputs.orca_input writes
_GHOST_ATOM = define_pattern(
    r"^\|\s*\d+>\s*[A-Z][a-z]?\s*:", "|  7>   Li:        1.45000000     1.45000000     1.45000000"
)

_CHARGE_TABLES = (
    ChargeTable(
        "mulliken",
        define_pattern(r"^MULLIKEN ATOMIC CHARGES", "MULLIKEN ATOMIC CHARGES"),
        colon=True,
    ),
    ChargeTable(
        "loewdin", define_pattern(r"^LOEWDIN ATOMIC CHARGES", "LOEWDIN ATOMIC CHARGES"), colon=True
    ),
    ChargeTable("hirshfeld", define_pattern(r"^HIRSHFELD ANALYSIS", "HIRSHFELD ANALYSIS")),
)


def version(text: str) -> str | None:
    return first_group(_VERSION, text)


def terminated(text: str) -> bool:
    return found(_TERMINATED, text)


def scf_converged(text: str) -> bool:
    """No SCF of the run failed (cclib would still append the last cycle's energy)."""
    return succeeded(text, _SCF_CONVERGED, _SCF_FAILED)


def energy_hartree(text: str) -> float | None:
    return last_float(_ENERGY, text)


def keywords(text: str) -> list[str]:
    """Lower-case simple-input keywords (``! ...`` lines of the echoed input)."""
    words = []
    for m in _KEYWORDS.finditer(text):
        words += m.group(1).split("#")[0].lower().split()
    return words


def method(text: str) -> str | None:
    for word in keywords(text):
        if word in METHODS:
            return word
    exchange = last_group(_EXCHANGE, text)
    correlation = last_group(_CORRELATION, text)
    if exchange and correlation:
        return f"{exchange}+{correlation}".lower()
    return None


def basis(text: str) -> str | None:
    name = last_group(_BASIS, text)
    return name.lower() if name else None


def dispersion(text: str) -> str:
    words = keywords(text)
    for word, name in _DISPERSION_KEYWORDS:
        if word in words:
            return name
    return "builtin" if (method(text) or "").endswith(_BUILTIN_DISPERSION) else "none"


def charge_multiplicity(text: str) -> tuple[int, int] | None:
    return last_ints(text, _CHARGE, _MULTIPLICITY)


def optimization(text: str) -> tuple[bool, bool]:
    is_opt, done = banners(text, _OPT_CYCLE, _OPT_CONVERGED)
    return is_opt or bool(_OPT_KEYWORDS & set(keywords(text))), done


def n_ghosts(text: str) -> int:
    m = last_match(_XYZ_BLOCK, text)
    if m is None:
        return 0
    return len(_GHOST_ATOM.findall(m.group(1)))


def charges(text: str) -> dict[str, tuple[float, ...]]:
    return charge_tables(text, _CHARGE_TABLES)


def geometry(text: str) -> list[Centre]:
    """Ghost-atom runs only: the echoed ``* xyz`` input block (ORCA keeps the input's
    orientation), ``Li:`` lines as ghosts. Empty otherwise: ASE reads the final geometry
    of other runs (an optimisation's last step is not in the echo)."""
    m = last_match(_XYZ_BLOCK, text)
    if m is None or not _GHOST_ATOM.search(m.group(1)):
        return []
    centres: list[Centre] = []
    for line in m.group(1).splitlines():
        fields = line.split(">", 1)[1].split()
        if len(fields) < 4 or fields[0] == "*":
            continue
        label = fields[0]
        try:
            xyz = (to_float(fields[1]), to_float(fields[2]), to_float(fields[3]))
        except ValueError:
            continue
        centres.append((label.rstrip(":"), xyz, label.endswith(":")))
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
