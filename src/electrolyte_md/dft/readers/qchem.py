"""Q-Chem (5.4) outputs: one pure function per quantity, in Q-Chem's units (hartree).

Method, basis, dispersion and job type come from the ``$rem`` section of the echoed input.
Samples are lines of ../shared/fixtures/dft/qchem5.4; the failure messages and the
optimisation banner, which that run does not print, as cclib's Q-Chem parser matches them.
"""

from __future__ import annotations

import re

from electrolyte_md.dft.readers.base import (
    FLOAT,
    ChargeTable,
    Reader,
    charge_tables,
    define_pattern,
    first_group,
    found,
    int_pair,
    last_float,
    last_group,
    succeeded,
)

_BANNER = " Q-Chem 5.4 (devel), Q-Chem, Inc., Pleasanton, CA (2021)"
SIGNATURE = define_pattern(
    r"Welcome to Q-Chem|Q-Chem, Inc\.", "                  Welcome to Q-Chem", _BANNER
)
_VERSION = define_pattern(r"^ Q-Chem (\d+\.\d+(?:\.\d+)?)", _BANNER)
_TERMINATED = define_pattern(
    r"Thank you very much for using Q-Chem",
    "        *  Thank you very much for using Q-Chem.  Have a nice day.  *",
)

_REM = define_pattern(
    r"^\$rem\s*\n(.*?)^\$end",
    "$rem\n method = b3lyp\n basis = sto-3g\n scf_final_print = 2\n$end\n",
    flags=re.MULTILINE | re.DOTALL | re.IGNORECASE,
)
_MOLECULE = define_pattern(
    r"^\$molecule\s*\n\s*(-?\d+)\s+(\d+)",
    "$molecule\n 0 1\n C                  0.27867948   -1.36683162    0.00000000\n",
    flags=re.MULTILINE | re.IGNORECASE,
)
_DISPERSION_NAMES = {"d3_bj": "d3bj", "d3_zero": "d3zero", "d3": "d3zero", "empirical_grimme": "d2"}
_BUILTIN_DISPERSION = ("-d3", "-d", "-v", "-3c")

# (not in the fixture: the messages as cclib's Q-Chem parser matches them)
_SCF_FAILED = define_pattern(
    r"SCF failed to converge|Convergence failure", "SCF failed to converge", "Convergence failure"
)
_SCF_CONVERGED = define_pattern(
    r"Convergence criterion met",
    "    7    -382.3003975729      4.08e-06  Convergence criterion met",
)
_ENERGY = define_pattern(
    rf"Total energy in the final basis set\s*=\s*({FLOAT})",
    " Total energy in the final basis set =     -382.3003975729",
)
# (not in the fixture: cclib's optimisation banner; the header of each job of an
# ``@@@``-joined multi-job input)
_OPT_CONVERGED = define_pattern(r"OPTIMIZATION CONVERGED", "   **  OPTIMIZATION CONVERGED  **")
_N_JOBS = define_pattern(r"Running Job \d+ of (\d+)", "Running Job 2 of 2")

_CHARGE_TABLES = (
    ChargeTable(
        "mulliken",
        define_pattern(
            r"Ground-State Mulliken Net Atomic Charges",
            "          Ground-State Mulliken Net Atomic Charges",
        ),
    ),
    ChargeTable(
        "hirshfeld",
        define_pattern(
            r"^\s*Hirshfeld Atomic Charges", "          Hirshfeld Atomic Charges         "
        ),
    ),
    ChargeTable("cm5", define_pattern(r"^\s*Charge Model 5", "          Charge Model 5         ")),
)


def version(text: str) -> str | None:
    return first_group(_VERSION, text)


def terminated(text: str) -> bool:
    return found(_TERMINATED, text)


def rem(text: str) -> dict[str, str]:
    """``$rem`` keywords of the echoed user input (lower case)."""
    block = first_group(_REM, text)
    keywords = {}
    for line in (block or "").splitlines():
        fields = line.split("!")[0].replace("=", " ").split()
        if len(fields) >= 2:
            keywords[fields[0].lower()] = fields[1].lower()
    return keywords


def scf_converged(text: str) -> bool:
    return succeeded(text, _SCF_CONVERGED, _SCF_FAILED)


def energy_hartree(text: str) -> float | None:
    return last_float(_ENERGY, text)


def method(text: str) -> str | None:
    keywords = rem(text)
    return keywords.get("method") or keywords.get("exchange")


def basis(text: str) -> str | None:
    return rem(text).get("basis")


def dispersion(text: str) -> str:
    value = rem(text).get("dft_d", "none")
    if value == "none" or value == "false":
        return "builtin" if (method(text) or "").endswith(_BUILTIN_DISPERSION) else "none"
    return _DISPERSION_NAMES.get(value, value)


def charge_multiplicity(text: str) -> tuple[int, int] | None:
    return int_pair(_MOLECULE.search(text))


def optimization(text: str) -> tuple[bool, bool]:
    is_opt = rem(text).get("jobtype") in {"opt", "optimization"}
    return is_opt, found(_OPT_CONVERGED, text)


def n_jobs(text: str) -> int:
    """Jobs in the file (``@@@``-separated inputs); :func:`read_output` wants one."""
    jobs = last_group(_N_JOBS, text)
    return int(jobs) if jobs else 1


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
