"""Strict readers of quantum-chemistry outputs: NWChem, ORCA 5/6, Gaussian 09/16, Q-Chem,
Psi4 and CP2K.

Every quantity comes from one small pure function of the output text (ASE style), in the
program's own units; conversion to eV happens once, in :func:`read_output`, with
``ase.units.Hartree``. cclib (1.8.1) and ASE (3.29) are used for the geometry only (atomic
numbers and the number of geometry steps), and only where they read the file correctly:

- cclib 1.8.1 stops with an error on ORCA 6 outputs (it predates that version) and, for an
  ORCA run whose SCF did not converge, appends the energy of the last SCF cycle as if it
  were a result; its Hartree-to-eV factor (27.21138505) also differs from ASE's in the
  seventh digit. Energies are therefore never taken from cclib.
- ``ase.io.read`` returns only the last image unless ``index=':'``, and its NWChem reader
  fails on ``bq`` (ghost) centres; ghost-atom outputs fall back to the text reader.

:func:`read_output` refuses (:class:`~electrolyte_md.errors.DFTOutputError`, naming the file
and the reason) any output that did not terminate normally, whose last SCF did not
converge, whose optimisation did not converge, or whose energy, method, basis, charge or
multiplicity cannot be read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from electrolyte_md.errors import DFTOutputError
from electrolyte_md.units import HARTREE_EV

logger = logging.getLogger(__name__)


_FLOAT = r"[-+]?\d+\.\d+(?:[EeDd][-+]?\d+)?"


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
    symbols
        Element symbols of the real atoms, where read.
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
    atomic_charges: dict[str, tuple[float, ...]] = field(default_factory=dict)

    @property
    def level_of_theory(self) -> str:
        """``method/basis`` with the dispersion correction, e.g. ``b3lyp-d3bj/6-31g*``."""
        disp = "" if self.dispersion == "none" else f"-{self.dispersion}"
        return f"{self.method}{disp}/{self.basis}"


# ---------------------------------------------------------------------------------------
# helpers


def _last(pattern: str, text: str, flags: int = re.MULTILINE) -> re.Match | None:
    matches = list(re.finditer(pattern, text, flags))
    return matches[-1] if matches else None


def _block_after(pattern: str, text: str, skip: int) -> list[str]:
    """Non-blank lines after the last ``pattern``, skipping ``skip`` lines, up to a blank."""
    match = _last(pattern, text)
    if match is None:
        return []
    lines = []
    for line in text[match.end() :].splitlines()[skip + 1 :]:
        if not line.strip():
            break
        lines.append(line)
    return lines


def _float(value: str) -> float:
    return float(value.replace("D", "E").replace("d", "e"))


def _charge_table(
    text: str, header: str, *, column: int = 0, colon: bool = False
) -> tuple[tuple[str, ...], tuple[float, ...]] | None:
    """Rows ``index symbol [:] numbers...`` after the last ``header``; value ``column``."""
    match = _last(header, text)
    if match is None:
        return None
    sep = r"\s*:" if colon else ""
    row = re.compile(rf"^\s*\d+\s+([A-Z][a-z]?){sep}((?:\s+{_FLOAT})+)\s*$")
    symbols, values = [], []
    for n, line in enumerate(text[match.end() :].splitlines()[1:]):
        found = row.match(line)
        if found:
            symbols.append(found.group(1))
            values.append(_float(found.group(2).split()[column]))
        elif values or n > 8:
            break
    return (tuple(symbols), tuple(values)) if values else None


# ---------------------------------------------------------------------------------------
# program detection


_SIGNATURES = (
    ("nwchem", r"Northwest Computational Chemistry Package"),
    ("orca", r"\* O   R   C   A \*|Program Version \d+\.\d+\.\d+ +- +RELEASE"),
    ("gaussian", r"Gaussian(?:, Inc\.| \d\d:)|Entering Gaussian System"),
    ("qchem", r"Welcome to Q-Chem|Q-Chem, Inc\."),
    ("psi4", r"Psi4: An Open-Source Ab Initio Electronic Structure Package"),
    ("cp2k", r"CP2K\| version string|PROGRAM STARTED AT"),
)


def detect_program(text: str) -> str | None:
    """The program that wrote ``text``, from its banner (``None`` if none is recognised)."""
    head = text[:20000]
    for program, pattern in _SIGNATURES:
        if re.search(pattern, head):
            return program
    return None


# ---------------------------------------------------------------------------------------
# NWChem


def nwchem_version(text: str) -> str | None:
    m = re.search(r"Northwest Computational Chemistry Package \(NWChem\) (\S+)", text)
    return m.group(1) if m else None


def nwchem_terminated(text: str) -> bool:
    """NWChem prints the total times as the last thing of a run that was not aborted."""
    return "Total times  cpu:" in text and "An error occured" not in text


def nwchem_scf_converged(text: str) -> bool:
    return "Calculation failed to converge" not in text and (
        _last(r"Total (?:DFT|SCF) energy\s*=", text) is not None
    )


def nwchem_energy_hartree(text: str) -> float | None:
    m = _last(rf"^\s*Total (?:DFT|SCF) energy\s*=\s*({_FLOAT})", text)
    return _float(m.group(1)) if m else None


def nwchem_method(text: str) -> str | None:
    if _last(r"Total DFT energy", text) is None:
        return "hf" if _last(r"Total SCF energy", text) else None
    named = _last(r"^\s*(\S+) Method XC Potential", text)
    if named:
        return named.group(1).lower()
    block = _last(r"XC Information\s*\n\s*-+\n((?:.*Functional.*\n|.*Exchange.*\n)+)", text)
    if block is None:
        return None
    parts = [re.sub(r"\s+\d.*$", "", line.strip()) for line in block.group(1).splitlines()]
    return "+".join(p.lower() for p in parts if p)


def nwchem_basis(text: str) -> str | None:
    """Basis of the real atoms from the last ``Summary of "ao basis"`` table."""
    names = set()
    for line in _block_after(r'Summary of "ao basis" -> "ao basis"', text, skip=3):
        fields = line.split()
        if len(fields) >= 2 and not fields[0].lower().startswith("bq"):
            names.add(fields[1].lower())
    return "+".join(sorted(names)) if names else None


def nwchem_dispersion(text: str) -> str:
    m = _last(r"^\s*DFT-(D3BJ|D3|D2) Model", text)
    if m is None:
        return "none"
    return {"D3BJ": "d3bj", "D3": "d3zero", "D2": "d2"}[m.group(1)]


def nwchem_charge_multiplicity(text: str) -> tuple[int, int] | None:
    charge = _last(r"^\s*Charge\s*:\s*(-?\d+)", text)
    mult = _last(r"^\s*Spin multiplicity:\s*(\d+)", text)
    if charge is None or mult is None:
        return None
    return int(charge.group(1)), int(mult.group(1))


def nwchem_optimization(text: str) -> tuple[bool, bool]:
    """(is an optimisation, converged)."""
    is_opt = "NWChem Geometry Optimization" in text or "Optimization converged" in text
    return is_opt, "Optimization converged" in text


def nwchem_n_ghosts(text: str) -> int:
    rows = _block_after(r"Output coordinates in angstroms", text, skip=4)
    return sum(
        1 for line in rows if len(line.split()) > 1 and line.split()[1].lower().startswith("bq")
    )


def nwchem_charges(text: str) -> dict[str, tuple[float, ...]]:
    """Mulliken charges (Z - population) of the last population analysis (the first one
    NWChem prints is of the initial guess)."""
    m = _last(r"Total Density - Mulliken Population Analysis", text)
    if m is None:
        return {}
    row = re.compile(rf"^\s*\d+\s+(\S+)\s+(\d+)\s+({_FLOAT})")
    values, started = [], False
    for line in text[m.end() :].splitlines()[1:]:
        found = row.match(line)
        if found:
            started = True
            values.append(int(found.group(2)) - _float(found.group(3)))
        elif started:
            break
    return {"mulliken": tuple(values)} if values else {}


# ---------------------------------------------------------------------------------------
# ORCA

#: Method keywords of ORCA's simple input that name the electronic-structure method.
ORCA_METHODS = frozenset(
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
_ORCA_BUILTIN_DISPERSION = ("-3c", "-d3", "-d4", "-v", "-d3bj")


def orca_version(text: str) -> str | None:
    m = re.search(r"Program Version (\d+\.\d+\.\d+)", text)
    return m.group(1) if m else None


def orca_terminated(text: str) -> bool:
    return "****ORCA TERMINATED NORMALLY****" in text


def orca_scf_converged(text: str) -> bool:
    """No SCF of the run failed (cclib would still append the last cycle's energy)."""
    failed = re.search(r"SCF NOT CONVERGED|SCF not fully converged|\(SCF not converged\)", text)
    return failed is None and "SCF CONVERGED AFTER" in text


def orca_energy_hartree(text: str) -> float | None:
    m = _last(rf"^FINAL SINGLE POINT ENERGY\s+({_FLOAT})", text)
    return _float(m.group(1)) if m else None


def orca_keywords(text: str) -> list[str]:
    """Lower-case simple-input keywords (``! ...`` lines of the echoed input)."""
    words = []
    for m in re.finditer(r"^\|\s*\d+>\s*!(.*)$", text, re.MULTILINE):
        words += m.group(1).split("#")[0].lower().split()
    return words


def orca_method(text: str) -> str | None:
    for word in orca_keywords(text):
        if word in ORCA_METHODS:
            return word
    exchange = _last(r"Exchange Functional\s+Exchange\s+\.+\s+(\S+)", text)
    correlation = _last(r"Correlation Functional\s+Correlation\s+\.+\s+(\S+)", text)
    if exchange and correlation:
        return f"{exchange.group(1)}+{correlation.group(1)}".lower()
    return None


def orca_basis(text: str) -> str | None:
    m = _last(r"Your calculation utilizes the basis:\s*(\S+)", text)
    return m.group(1).lower() if m else None


def orca_dispersion(text: str) -> str:
    words = orca_keywords(text)
    for word, name in (("d3bj", "d3bj"), ("d3zero", "d3zero"), ("d3", "d3zero"), ("d4", "d4")):
        if word in words:
            return name
    method = orca_method(text) or ""
    return "builtin" if method.endswith(_ORCA_BUILTIN_DISPERSION) else "none"


def orca_charge_multiplicity(text: str) -> tuple[int, int] | None:
    charge = _last(r"Total Charge\s+Charge\s+\.+\s+(-?\d+)", text)
    mult = _last(r"Multiplicity\s+Mult\s+\.+\s+(\d+)", text)
    if charge is None or mult is None:
        return None
    return int(charge.group(1)), int(mult.group(1))


def orca_optimization(text: str) -> tuple[bool, bool]:
    is_opt = "GEOMETRY OPTIMIZATION CYCLE" in text or bool(
        {"opt", "tightopt", "looseopt", "verytightopt"} & set(orca_keywords(text))
    )
    return is_opt, "THE OPTIMIZATION HAS CONVERGED" in text


def orca_n_ghosts(text: str) -> int:
    m = _last(r"^\|\s*\d+>\s*\*\s*xyz[^\n]*\n((?:\|\s*\d+>.*\n)+)", text)
    if m is None:
        return 0
    return len(re.findall(r"^\|\s*\d+>\s*[A-Z][a-z]?\s*:", m.group(1), re.MULTILINE))


def orca_charges(text: str) -> dict[str, tuple[float, ...]]:
    out = {}
    for scheme, header, colon in (
        ("mulliken", r"^MULLIKEN ATOMIC CHARGES", True),
        ("loewdin", r"^LOEWDIN ATOMIC CHARGES", True),
        ("hirshfeld", r"^HIRSHFELD ANALYSIS", False),
    ):
        table = _charge_table(text, header, colon=colon)
        if table:
            out[scheme] = table[1]
    return out


# ---------------------------------------------------------------------------------------
# Gaussian


def gaussian_version(text: str) -> str | None:
    m = re.search(r"Gaussian (\d\d):\s+(\S+)", text)
    return f"{m.group(1)} {m.group(2)}" if m else None


def gaussian_terminated(text: str) -> bool:
    """The last termination line says Normal (each Link1 step prints one)."""
    m = _last(r"^ (Normal|Error) termination", text)
    return m is not None and m.group(1) == "Normal"


def gaussian_route(text: str) -> str:
    """The route section (``#...`` up to the next ruler), joined, lower case."""
    m = re.search(r"^ (#.*(?:\n (?!-{5}).*)*)", text, re.MULTILINE)
    return "".join(line.strip() for line in m.group(1).splitlines()).lower() if m else ""


def gaussian_scf_converged(text: str) -> bool:
    failed = re.search(r"Convergence failure -- run terminated|Convergence criterion not met", text)
    return failed is None and "SCF Done:" in text


def gaussian_energy_hartree(text: str) -> float | None:
    m = _last(rf"SCF Done:\s+E\(\S+\)\s+=\s+({_FLOAT})", text)
    return _float(m.group(1)) if m else None


def gaussian_method(text: str) -> str | None:
    m = _last(r"SCF Done:\s+E\((\S+)\)", text)
    if m is None:
        return None
    label = m.group(1).lower()
    for prefix in ("ro", "r", "u"):
        if label.startswith(prefix) and label not in {"rhf", "uhf", "rohf"}:
            return label[len(prefix) :]
    return "hf" if label in {"rhf", "uhf", "rohf"} else label


def gaussian_basis(text: str) -> str | None:
    m = _last(r"^ Standard basis:\s*(\S+)", text)
    if m:
        return m.group(1).lower()
    return "gen" if "General basis read from cards" in text else None


def gaussian_dispersion(text: str) -> str:
    route = gaussian_route(text)
    m = re.search(r"empiricaldispersion=\(?(\w+)", route)
    if m:
        return {"gd3bj": "d3bj", "gd3": "d3zero", "gd2": "d2", "pfd": "d2"}.get(
            m.group(1), m.group(1)
        )
    method = gaussian_method(text) or ""
    return (
        "builtin"
        if method.endswith(("d", "d3")) and method.startswith(("wb97x", "b97"))
        else "none"
    )


def gaussian_charge_multiplicity(text: str) -> tuple[int, int] | None:
    m = re.search(r"^ Charge =\s*(-?\d+) Multiplicity =\s*(\d+)", text, re.MULTILINE)
    return (int(m.group(1)), int(m.group(2))) if m else None


def gaussian_optimization(text: str) -> tuple[bool, bool]:
    is_opt = re.search(r"(?:^|[\s#/])opt\b", gaussian_route(text)) is not None
    done = "Optimization completed." in text and "Optimization stopped" not in text
    return is_opt, done


def gaussian_charges(text: str) -> dict[str, tuple[float, ...]]:
    out = {}
    mulliken = _charge_table(text, r"^ Mulliken charges(?: and spin densities)?:")
    if mulliken:
        out["mulliken"] = mulliken[1]
    header = r"^ Hirshfeld charges, spin densities, dipoles, and CM5 charges"
    hirshfeld = _charge_table(text, header, column=0)
    if hirshfeld:
        out["hirshfeld"] = hirshfeld[1]
        out["cm5"] = _charge_table(text, header, column=5)[1]
    return out


# ---------------------------------------------------------------------------------------
# Q-Chem


def qchem_version(text: str) -> str | None:
    m = re.search(r"^ Q-Chem (\d+\.\d+(?:\.\d+)?)", text, re.MULTILINE)
    return m.group(1) if m else None


def qchem_terminated(text: str) -> bool:
    return "Thank you very much for using Q-Chem" in text


def qchem_rem(text: str) -> dict[str, str]:
    """``$rem`` keywords of the echoed user input (lower case)."""
    m = re.search(r"^\$rem\s*\n(.*?)^\$end", text, re.MULTILINE | re.DOTALL | re.IGNORECASE)
    rem = {}
    for line in (m.group(1) if m else "").splitlines():
        fields = line.split("!")[0].replace("=", " ").split()
        if len(fields) >= 2:
            rem[fields[0].lower()] = fields[1].lower()
    return rem


def qchem_scf_converged(text: str) -> bool:
    failed = re.search(r"SCF failed to converge|Convergence failure", text)
    return failed is None and "Convergence criterion met" in text


def qchem_energy_hartree(text: str) -> float | None:
    m = _last(rf"Total energy in the final basis set\s*=\s*({_FLOAT})", text)
    return _float(m.group(1)) if m else None


def qchem_method(text: str) -> str | None:
    rem = qchem_rem(text)
    return rem.get("method") or rem.get("exchange")


def qchem_basis(text: str) -> str | None:
    return qchem_rem(text).get("basis")


def qchem_dispersion(text: str) -> str:
    value = qchem_rem(text).get("dft_d", "none")
    names = {"d3_bj": "d3bj", "d3_zero": "d3zero", "d3": "d3zero", "empirical_grimme": "d2"}
    if value == "none" or value == "false":
        method = qchem_method(text) or ""
        return "builtin" if method.endswith(("-d3", "-d", "-v", "-3c")) else "none"
    return names.get(value, value)


def qchem_charge_multiplicity(text: str) -> tuple[int, int] | None:
    m = re.search(r"^\$molecule\s*\n\s*(-?\d+)\s+(\d+)", text, re.MULTILINE | re.IGNORECASE)
    return (int(m.group(1)), int(m.group(2))) if m else None


def qchem_optimization(text: str) -> tuple[bool, bool]:
    is_opt = qchem_rem(text).get("jobtype") in {"opt", "optimization"}
    return is_opt, "OPTIMIZATION CONVERGED" in text


def qchem_n_jobs(text: str) -> int:
    m = _last(r"Running Job \d+ of (\d+)", text)
    return int(m.group(1)) if m else 1


def qchem_charges(text: str) -> dict[str, tuple[float, ...]]:
    out = {}
    for scheme, header in (
        ("mulliken", r"Ground-State Mulliken Net Atomic Charges"),
        ("hirshfeld", r"^\s*Hirshfeld Atomic Charges"),
        ("cm5", r"^\s*Charge Model 5"),
    ):
        table = _charge_table(text, header)
        if table:
            out[scheme] = table[1]
    return out


# ---------------------------------------------------------------------------------------
# Psi4


def psi4_version(text: str) -> str | None:
    m = re.search(r"Psi4 (\S+) release", text)
    return m.group(1) if m else None


def psi4_terminated(text: str) -> bool:
    return re.search(r"\*\*\* Psi4 exiting successfully", text, re.IGNORECASE) is not None


def psi4_scf_converged(text: str) -> bool:
    failed = re.search(r"Could not converge SCF iterations|SCFConvergenceError", text)
    return failed is None and "Energy and wave function converged" in text


def psi4_energy_hartree(text: str) -> float | None:
    m = _last(rf"^\s*@\S+ Final Energy:\s+({_FLOAT})", text)
    return _float(m.group(1)) if m else None


def psi4_method(text: str) -> str | None:
    m = _last(r"=> Composite Functional: (\S+) <=", text)
    if m:
        return re.sub(r"-(d3\w*|d4\w*|d2\w*|nl)$", "", m.group(1).lower())
    m = _last(r"^\s*@(?:DF-)?(R|U|RO)HF Final Energy", text)
    return "hf" if m else None


def psi4_basis(text: str) -> str | None:
    m = re.search(r"==> Primary Basis <==\s*\n\s*\n\s*Basis Set:\s*(\S+)", text)
    return m.group(1).lower() if m else None


def psi4_dispersion(text: str) -> str:
    m = _last(r"Grimme's -(D\d)\s*\((\w+)-damping\)", text)
    if m is None:
        return "none"
    if m.group(1) == "D3":
        return "d3bj" if m.group(2).lower() == "bj" else "d3zero"
    return m.group(1).lower()


def psi4_charge_multiplicity(text: str) -> tuple[int, int] | None:
    m = _last(r"charge = (-?\d+), multiplicity = (\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def psi4_optimization(text: str) -> tuple[bool, bool]:
    is_opt = re.search(r"\boptimize\(", text) is not None or "Convergence Check" in text
    done = "Final optimized geometry and variables" in text
    return is_opt, done and "Optimizer: Did not converge!" not in text


def psi4_charges(text: str) -> dict[str, tuple[float, ...]]:
    out = {}
    for scheme, header in (
        ("mulliken", r"Mulliken Charges: \(a\.u\.\)"),
        ("loewdin", r"Lowdin Charges: \(a\.u\.\)"),
    ):
        table = _charge_table(text, header, column=-1)
        if table:
            out[scheme] = table[1]
    return out


# ---------------------------------------------------------------------------------------
# CP2K


def cp2k_version(text: str) -> str | None:
    m = re.search(r"CP2K\| version string:\s+CP2K version (\S+)", text)
    return m.group(1) if m else None


def cp2k_terminated(text: str) -> bool:
    return "PROGRAM ENDED AT" in text


def cp2k_scf_converged(text: str) -> bool:
    return "SCF run NOT converged" not in text and "SCF run converged in" in text


def cp2k_energy_hartree(text: str) -> float | None:
    pattern = rf"ENERGY\| Total FORCE_EVAL \( \w+ \) energy \S+:?\s+({_FLOAT})"
    m = _last(pattern, text)
    return _float(m.group(1)) if m else None


def cp2k_method(text: str) -> str | None:
    names = re.findall(r"^\s*FUNCTIONAL\| ([\w\-]+):\s*$", text, re.MULTILINE)
    return "+".join(dict.fromkeys(n.lower() for n in names)) if names else None


def cp2k_basis(text: str) -> str | None:
    names = re.findall(r"^\s*Orbital Basis Set\s+(\S+)", text, re.MULTILINE)
    return "+".join(sorted({n.lower() for n in names})) if names else None


def cp2k_dispersion(text: str) -> str:
    m = _last(r"vdW POTENTIAL\|\s+(DFT-D3\(BJ\)|DFT-D3|DFT-D2)", text)
    if m is None:
        return "none"
    return {"DFT-D3(BJ)": "d3bj", "DFT-D3": "d3zero", "DFT-D2": "d2"}[m.group(1)]


def cp2k_charge_multiplicity(text: str) -> tuple[int, int] | None:
    charge = _last(r"^\s*DFT\| Charge\s+(-?\d+)", text)
    mult = _last(r"^\s*DFT\| Multiplicity\s+(\d+)", text)
    if charge is None or mult is None:
        return None
    return int(charge.group(1)), int(mult.group(1))


def cp2k_optimization(text: str) -> tuple[bool, bool]:
    is_opt = re.search(r"GLOBAL\| Run type\s+GEO_OPT", text) is not None
    return is_opt, "GEOMETRY OPTIMIZATION COMPLETED" in text


def cp2k_charges(text: str) -> dict[str, tuple[float, ...]]:
    out = {}
    for scheme, header in (
        ("mulliken", r"Mulliken Population Analysis"),
        ("hirshfeld", r"Hirshfeld Charges"),
    ):
        m = _last(header, text)
        if m is None:
            continue
        row = re.compile(rf"^\s*\d+\s+([A-Z][a-z]?)\s+\d+((?:\s+{_FLOAT})+)\s*$")
        values = []
        for line in text[m.end() :].splitlines()[1:]:
            found = row.match(line)
            if found:
                values.append(_float(found.group(2).split()[-1]))
            elif values or line.strip().startswith("# Total"):
                break
        if values:
            out[scheme] = tuple(values)
    return out


# ---------------------------------------------------------------------------------------
# dispatch


@dataclass(frozen=True)
class _Reader:
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
    n_ghosts: Callable[[str], int] = lambda text: 0


READERS: dict[str, _Reader] = {
    "nwchem": _Reader(
        nwchem_version,
        nwchem_terminated,
        nwchem_scf_converged,
        nwchem_energy_hartree,
        nwchem_method,
        nwchem_basis,
        nwchem_dispersion,
        nwchem_charge_multiplicity,
        nwchem_optimization,
        nwchem_charges,
        nwchem_n_ghosts,
    ),
    "orca": _Reader(
        orca_version,
        orca_terminated,
        orca_scf_converged,
        orca_energy_hartree,
        orca_method,
        orca_basis,
        orca_dispersion,
        orca_charge_multiplicity,
        orca_optimization,
        orca_charges,
        orca_n_ghosts,
    ),
    "gaussian": _Reader(
        gaussian_version,
        gaussian_terminated,
        gaussian_scf_converged,
        gaussian_energy_hartree,
        gaussian_method,
        gaussian_basis,
        gaussian_dispersion,
        gaussian_charge_multiplicity,
        gaussian_optimization,
        gaussian_charges,
    ),
    "qchem": _Reader(
        qchem_version,
        qchem_terminated,
        qchem_scf_converged,
        qchem_energy_hartree,
        qchem_method,
        qchem_basis,
        qchem_dispersion,
        qchem_charge_multiplicity,
        qchem_optimization,
        qchem_charges,
    ),
    "psi4": _Reader(
        psi4_version,
        psi4_terminated,
        psi4_scf_converged,
        psi4_energy_hartree,
        psi4_method,
        psi4_basis,
        psi4_dispersion,
        psi4_charge_multiplicity,
        psi4_optimization,
        psi4_charges,
    ),
    "cp2k": _Reader(
        cp2k_version,
        cp2k_terminated,
        cp2k_scf_converged,
        cp2k_energy_hartree,
        cp2k_method,
        cp2k_basis,
        cp2k_dispersion,
        cp2k_charge_multiplicity,
        cp2k_optimization,
        cp2k_charges,
    ),
}

#: ASE formats of the programs whose geometry ASE reads.
ASE_FORMATS = {"nwchem": "nwchem-out", "gaussian": "gaussian-out", "orca": "orca-output"}


def read_symbols(path: Path, program: str) -> tuple[str, ...]:
    """Element symbols of the final geometry, through ASE (``index=':'``, last image) or
    cclib (Q-Chem); empty if neither reads the file (e.g. NWChem ``bq`` ghost centres)."""
    try:
        if program in ASE_FORMATS:
            import ase.io

            images = ase.io.read(path, index=":", format=ASE_FORMATS[program])
            return tuple(images[-1].get_chemical_symbols()) if images else ()
        if program == "qchem":
            import cclib
            from ase.data import chemical_symbols

            data = cclib.io.ccread(str(path))
            return tuple(chemical_symbols[z] for z in data.atomnos) if data else ()
    except Exception as exc:  # noqa: BLE001 - geometry is optional; the reason is logged
        logger.info("no geometry from %s (%s: %s)", path, type(exc).__name__, exc)
    return ()


def read_output(path: Path | str, *, program: str | None = None) -> QMResult:
    """Read a finished quantum-chemistry run strictly.

    Parameters
    ----------
    path
        Output file (text).
    program
        Force the program instead of detecting it from the banner.

    Returns
    -------
    QMResult
        Energy in eV (one factor, :data:`electrolyte_md.units.HARTREE_EV`), method, basis,
        dispersion, charge, multiplicity, atomic charges.

    Raises
    ------
    DFTOutputError
        Naming ``path`` and the reason: unknown program, abnormal termination, SCF or
        optimisation not converged, several jobs in one file, or a missing quantity.
    """
    path = Path(path)
    if not path.is_file():
        raise DFTOutputError(f"{path}: no such output file")
    text = path.read_text(errors="replace")
    program = program or detect_program(text)
    if program not in READERS:
        raise DFTOutputError(
            f"{path}: not recognised as an output of {', '.join(READERS)} "
            "(no program banner in the first 20,000 characters)"
        )
    reader = READERS[program]
    if not reader.terminated(text):
        raise DFTOutputError(f"{path}: {program} run did not terminate normally (truncated?)")
    if program == "qchem" and qchem_n_jobs(text) > 1:
        raise DFTOutputError(f"{path}: holds {qchem_n_jobs(text)} Q-Chem jobs; use one per file")
    if not reader.scf_converged(text):
        raise DFTOutputError(f"{path}: SCF did not converge")
    is_opt, opt_done = reader.optimization(text)
    if is_opt and not opt_done:
        raise DFTOutputError(f"{path}: geometry optimisation did not converge")
    energy = reader.energy_hartree(text)
    method, basis = reader.method(text), reader.basis(text)
    charge_mult = reader.charge_multiplicity(text)
    for what, value in (
        ("final energy", energy),
        ("method", method),
        ("basis set", basis),
        ("charge and multiplicity", charge_mult),
    ):
        if value is None:
            raise DFTOutputError(f"{path}: {what} not found in the {program} output")
    return QMResult(
        path=path,
        program=program,
        version=reader.version(text) or "unknown",
        energy_ev=energy * HARTREE_EV,
        method=method,
        basis=basis,
        dispersion=reader.dispersion(text),
        charge=charge_mult[0],
        multiplicity=charge_mult[1],
        optimization=is_opt,
        n_ghosts=reader.n_ghosts(text),
        symbols=read_symbols(path, program),
        atomic_charges=reader.charges(text),
    )
