"""Which program wrote an output, and the strict reading of it: :func:`read_output`.

Every quantity comes from one small pure function of the output text (ASE style) in the
program's module (:mod:`.nwchem`, :mod:`.orca`, :mod:`.gaussian`, :mod:`.qchem`, :mod:`.psi4`,
:mod:`.cp2k`), in the program's own units; conversion to eV happens once, here, with
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
from pathlib import Path

from electrolyte_md.dft.readers import cp2k, gaussian, nwchem, orca, psi4, qchem
from electrolyte_md.dft.readers.base import QMResult, Reader
from electrolyte_md.errors import DFTOutputError
from electrolyte_md.units import HARTREE_EV

logger = logging.getLogger(__name__)

#: Program -> reader, in the order :func:`detect_program` tries their banners.
READERS: dict[str, Reader] = {
    "nwchem": nwchem.READER,
    "orca": orca.READER,
    "gaussian": gaussian.READER,
    "qchem": qchem.READER,
    "psi4": psi4.READER,
    "cp2k": cp2k.READER,
}

#: ASE formats of the programs whose geometry ASE reads.
ASE_FORMATS = {"nwchem": "nwchem-out", "gaussian": "gaussian-out", "orca": "orca-output"}


def detect_program(text: str) -> str | None:
    """The program that wrote ``text``, from its banner (``None`` if none is recognised)."""
    head = text[:20000]
    for program, reader in READERS.items():
        if reader.signature.search(head):
            return program
    return None


def read_geometry(
    path: Path, program: str
) -> tuple[tuple[str, ...], tuple[tuple[float, float, float], ...]]:
    """Element symbols and positions (angstrom) of the final geometry, through ASE
    (``index=':'``, last image) or cclib (Q-Chem); empty if neither reads the file (e.g.
    NWChem ``bq`` ghost centres: the program's text reader gives those)."""
    # ASE's readers and cclib are imported here: only this optional step needs them
    try:
        if program in ASE_FORMATS:
            import ase.io

            images = ase.io.read(path, index=":", format=ASE_FORMATS[program])
            if not images:
                return (), ()
            last = images[-1]
            xyz = tuple(tuple(float(c) for c in row) for row in last.get_positions())
            return tuple(last.get_chemical_symbols()), xyz
        if program == "qchem":
            import cclib
            from ase.data import chemical_symbols

            data = cclib.io.ccread(str(path))
            if not data:
                return (), ()
            xyz = tuple(tuple(float(c) for c in row) for row in data.atomcoords[-1])
            return tuple(chemical_symbols[z] for z in data.atomnos), xyz
    except Exception as exc:  # noqa: BLE001 - geometry is optional; the reason is logged
        logger.info("no geometry from %s (%s: %s)", path, type(exc).__name__, exc)
    return (), ()


def read_symbols(path: Path, program: str) -> tuple[str, ...]:
    """Element symbols of the final geometry (:func:`read_geometry`)."""
    return read_geometry(path, program)[0]


def read_output(path: Path | str, *, program: str | None = None) -> QMResult:
    """Read a finished quantum-chemistry run strictly.

    An SCF failure the program printed is reported as such, before the termination is
    checked (NWChem stops on it, so the run also looks unfinished).

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
    if reader.scf_failed(text):
        # before the termination check: NWChem stops on an unconverged SCF, so a complete
        # output of such a run would otherwise read as truncated
        raise DFTOutputError(
            f"{path}: SCF did not converge ({program} says so in the output); raise the "
            "SCF iteration limit or change the convergence settings or starting guess, "
            "and run it again"
        )
    if not reader.terminated(text):
        raise DFTOutputError(f"{path}: {program} run did not terminate normally (truncated?)")
    if program == "qchem" and qchem.n_jobs(text) > 1:
        raise DFTOutputError(f"{path}: holds {qchem.n_jobs(text)} Q-Chem jobs; use one per file")
    if not reader.scf_converged(text):
        raise DFTOutputError(f"{path}: SCF did not converge (no converged SCF printed)")
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
    centres = reader.geometry(text)
    if centres:
        real = [(e, xyz) for e, xyz, ghost in centres if not ghost]
        ghosts = [(e, xyz) for e, xyz, ghost in centres if ghost]
        symbols = tuple(e for e, _ in real)
        positions = tuple(xyz for _, xyz in real)
    else:
        ghosts = []
        symbols, positions = read_geometry(path, program)
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
        symbols=symbols,
        positions=positions,
        ghost_symbols=tuple(e for e, _ in ghosts),
        ghost_positions=tuple(xyz for _, xyz in ghosts),
        atomic_charges=reader.charges(text),
    )
