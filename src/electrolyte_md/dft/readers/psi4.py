"""Psi4 (1.7) outputs: one pure function per quantity, in Psi4's units (hartree).

Samples are lines of tests/data/dft/psi4_1.7_bp86_d3zero_sp.out (copied from Psi4 1.7 output)
and, for what a single point does not print (HF energy label, optimisation, failure), the
lines as Psi4 prints them (its driver's messages; cclib's Psi4 parser matches the same).
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
    last_match,
    succeeded,
)

SIGNATURE = define_pattern(
    r"Psi4: An Open-Source Ab Initio Electronic Structure Package",
    "          Psi4: An Open-Source Ab Initio Electronic Structure Package",
)
_VERSION = define_pattern(r"Psi4 (\S+) release", "                               Psi4 1.7 release")
_TERMINATED = define_pattern(
    r"\*\*\* Psi4 exiting successfully",
    "*** Psi4 exiting successfully. Buy a developer a beer!",
    "*** PSI4 exiting successfully. Buy a developer a beer!",
    flags=re.IGNORECASE,
)

# (not in the sample file: the exception Psi4's driver raises)
_SCF_FAILED = define_pattern(
    r"Could not converge SCF iterations|SCFConvergenceError",
    "psi4.driver.p4util.exceptions.SCFConvergenceError: "
    "Could not converge SCF iterations in 100 iterations.",
)
_SCF_CONVERGED = define_pattern(
    r"Energy and wave function converged", "  Energy and wave function converged."
)
_ENERGY = define_pattern(
    rf"^\s*@\S+ Final Energy:\s+({FLOAT})",
    "  @RKS Final Energy:   -75.31393812232813",
    "  @DF-RHF Final Energy:   -75.91652851796150",  # an HF run (not in the sample file)
)

_FUNCTIONAL = define_pattern(
    r"=> Composite Functional: (\S+) <=", "   => Composite Functional: BP86-D3ZERO2B <="
)
# in the functional's name, lower case: the dispersion suffix
_DISPERSION_SUFFIX = define_pattern(r"-(d3\w*|d4\w*|d2\w*|nl)$", "bp86-d3zero2b")
_HF_ENERGY = define_pattern(
    r"^\s*@(?:DF-)?(R|U|RO)HF Final Energy", "  @DF-RHF Final Energy:   -75.91652851796150"
)
_BASIS = define_pattern(
    r"==> Primary Basis <==\s*\n\s*\n\s*Basis Set:\s*(\S+)",
    "  ==> Primary Basis <==\n\n  Basis Set: STO-3G\n",
)
_DISPERSION = define_pattern(
    r"Grimme's -(D\d)\s*\((\w+)-damping\)",
    "    Grimme's -D3 (zero-damping) Dispersion Correction",
)
_CHARGE_MULTIPLICITY = define_pattern(
    r"charge = (-?\d+), multiplicity = (\d+)",
    "    Geometry (in Angstrom), charge = 0, multiplicity = 1:",
)

# (not in the sample file, a single point: the input echo, optking's section header and
# the lines Psi4's driver prints after an optimisation; cclib's Psi4 parser reads the same)
_OPTIMIZE_CALL = define_pattern(r"\boptimize\(", "optimize('bp86-d3zero')")
_CONVERGENCE_CHECK = define_pattern(
    r"Convergence Check", "                               ==> Convergence Check <=="
)
_OPT_DONE = define_pattern(
    r"Final optimized geometry and variables", "    Final optimized geometry and variables:"
)
_OPT_FAILED = define_pattern(r"Optimizer: Did not converge!", "Optimizer: Did not converge!")

_CHARGE_TABLES = (
    ChargeTable(
        "mulliken",
        define_pattern(r"Mulliken Charges: \(a\.u\.\)", "  Mulliken Charges: (a.u.)"),
        column=-1,
    ),
    ChargeTable(
        "loewdin",
        define_pattern(r"Lowdin Charges: \(a\.u\.\)", "  Lowdin Charges: (a.u.)"),
        column=-1,
    ),
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
    name = last_group(_FUNCTIONAL, text)
    if name:
        return _DISPERSION_SUFFIX.sub("", name.lower())
    return "hf" if last_match(_HF_ENERGY, text) else None


def basis(text: str) -> str | None:
    name = first_group(_BASIS, text)
    return name.lower() if name else None


def dispersion(text: str) -> str:
    m = last_match(_DISPERSION, text)
    if m is None:
        return "none"
    if m.group(1) == "D3":
        return "d3bj" if m.group(2).lower() == "bj" else "d3zero"
    return m.group(1).lower()


def charge_multiplicity(text: str) -> tuple[int, int] | None:
    return int_pair(last_match(_CHARGE_MULTIPLICITY, text))


def optimization(text: str) -> tuple[bool, bool]:
    is_opt = found(_OPTIMIZE_CALL, text) or found(_CONVERGENCE_CHECK, text)
    return is_opt, succeeded(text, _OPT_DONE, _OPT_FAILED)


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
