"""Tripos MOL2 files as antechamber writes them: read atoms, rewrite partial charges.

Only the ``@<TRIPOS>ATOM`` section is interpreted; every other line is kept verbatim so
that tleap reads the rewritten file exactly as it read the original.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from electrolyte_md.errors import ParameterizationError
from electrolyte_md.io import atomic_write_text

#: Charges are written with six decimals; integer arithmetic in these units keeps sums exact.
CHARGE_UNITS_PER_E = 1_000_000


@dataclass(frozen=True)
class Mol2Atom:
    """One atom of a MOL2 file (coordinates in Angstrom, charge in e)."""

    index: int
    name: str
    x: float
    y: float
    z: float
    atom_type: str
    residue: str
    charge: float


def _atom_line_numbers(lines: list[str], path: Path | str) -> list[int]:
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("@<TRIPOS>ATOM"))
    except StopIteration:
        raise ParameterizationError(f"{path}: no @<TRIPOS>ATOM section") from None
    numbers = []
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("@<TRIPOS>"):
            break
        if lines[i].strip():
            numbers.append(i)
    return numbers


def read_atoms(path: Path | str) -> list[Mol2Atom]:
    """Atoms of a MOL2 file, in file order."""
    lines = Path(path).read_text().splitlines()
    atoms = []
    for number in _atom_line_numbers(lines, path):
        fields = lines[number].split()
        if len(fields) < 9:
            raise ParameterizationError(f"{path}:{number + 1}: ATOM line has no charge column")
        atoms.append(
            Mol2Atom(
                index=int(fields[0]),
                name=fields[1],
                x=float(fields[2]),
                y=float(fields[3]),
                z=float(fields[4]),
                atom_type=fields[5],
                residue=fields[7],
                charge=float(fields[8]),
            )
        )
    return atoms


def integral_charges(charges: list[float], target_e: float) -> list[float]:
    """Shift charges so that they sum exactly to ``target_e`` at six decimals.

    antechamber rounds AM1-BCC charges and the sum drifts (NMP summed to +0.001 in a trial
    run). The deficit is spread evenly over all atoms; what is left after rounding to
    1e-6 e goes to the atom of largest magnitude, where it matters least relatively.
    """
    units = [round(q * CHARGE_UNITS_PER_E) for q in charges]
    target = round(target_e * CHARGE_UNITS_PER_E)
    deficit = target - sum(units)
    share = deficit // len(units)
    units = [u + share for u in units]
    remainder = target - sum(units)
    largest = max(range(len(units)), key=lambda i: abs(units[i]))
    units[largest] += remainder
    return [u / CHARGE_UNITS_PER_E for u in units]


def write_with_charges(src: Path | str, dst: Path | str, charges: list[float]) -> None:
    """Copy a MOL2 file, replacing the charge column of every atom."""
    lines = Path(src).read_text().splitlines()
    numbers = _atom_line_numbers(lines, src)
    if len(numbers) != len(charges):
        raise ParameterizationError(
            f"{src}: {len(numbers)} atoms but {len(charges)} charges were given"
        )
    for number, charge in zip(numbers, charges, strict=True):
        fields = lines[number].split()
        index, name, x, y, z, atom_type, resid, resname = fields[:8]
        lines[number] = (
            f"{int(index):7d} {name:<8s} {float(x):10.4f} {float(y):10.4f} {float(z):10.4f} "
            f"{atom_type:<8s} {int(resid):3d} {resname:<8s} {charge:10.6f}"
        )
    atomic_write_text(dst, "\n".join(lines) + "\n")


def monatomic_mol2(name: str, residue: str, atom_type: str, charge_e: float) -> str:
    """MOL2 text of a single ion at the origin (antechamber cannot type lone ions).

    The BOND section stays empty but present: tleap's loadmol2 refuses a file without it.
    """
    return (
        "@<TRIPOS>MOLECULE\n"
        f"{residue}\n"
        "    1     0     1     0     0\n"
        "SMALL\n"
        "USER_CHARGES\n\n\n"
        "@<TRIPOS>ATOM\n"
        f"      1 {name:<8s}     0.0000     0.0000     0.0000 {atom_type:<8s}   1 {residue:<8s}"
        f" {charge_e:10.6f}\n"
        "@<TRIPOS>BOND\n"
        "@<TRIPOS>SUBSTRUCTURE\n"
        f"     1 {residue:<8s}    1 TEMP              0 ****  ****    0 ROOT\n"
    )


def pdb_from_mol2(path: Path | str, elements: list[str]) -> str:
    """PDB text (one residue, HETATM records) with the MOL2 atom names and residue name.

    Packmol copies these names into the box, and tleap matches them to the MOL2 unit.
    """
    atoms = read_atoms(path)
    if len(atoms) != len(elements):
        raise ParameterizationError(
            f"{path}: {len(atoms)} atoms, but the species record lists {len(elements)}"
        )
    lines = []
    for atom, element in zip(atoms, elements, strict=True):
        lines.append(
            f"HETATM{atom.index:5d} {atom.name:<4s} {atom.residue:>3s} A   1    "
            f"{atom.x:8.3f}{atom.y:8.3f}{atom.z:8.3f}{1.0:6.2f}{0.0:6.2f}          {element:>2s}"
        )
    lines.append("END")
    return "\n".join(lines) + "\n"
