"""Binding energies from a manifest of quantum-chemistry outputs, and atomic-charge tables.

A manifest entry names the output of a complex, of each fragment, and optionally of each
fragment computed in the complex's basis (the partner's atoms as ghosts). It gives

- the uncorrected supermolecular binding energy ``E(AB) - sum E(X)``, and
- with the ghost-atom outputs, the counterpoise-corrected (Boys-Bernardi) value
  ``E(AB) - sum E(X in AB basis)`` and the basis-set superposition error
  ``BSSE = sum [E(X) - E(X in AB basis)]``.

Every output is read with :func:`~electrolyte_md.dft.readers.read_output`, so unfinished or
unconverged runs are refused before anything is subtracted. Then the outputs must fit their
roles (:func:`check_fragments_make_up_complex`):

- the fragments' real atoms (ghosts excluded) make up the complex's, element by element;
- a plain fragment has no ghost centres, a ghost-atom fragment has them (a counterpoise
  output in the plain role would give the counterpoise value labelled "each in its own
  basis"); its real atoms are the fragment's and its ghosts the rest of the complex;
- where geometries are read, positions are compared for the counterpoise outputs only:
  their real and ghost centres together must be the complex's geometry, and the plain
  fragment must be at the geometry of its real atoms (the BSSE subtracts the two). Plain
  fragments without ghost outputs may have been relaxed on their own (the uncorrected
  value then includes the deformation energy), so their positions are not compared.

Positions are compared through the sorted interatomic distances of each pair of
elements, so a program that moves or turns the molecule (NWChem without ``nocenter``) does
not matter.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from electrolyte_md.dft.readers import QMResult, read_output
from electrolyte_md.errors import DFTOutputError
from electrolyte_md.io import atomic_write_text
from electrolyte_md.units import EV_TO_KJ_PER_MOL

logger = logging.getLogger(__name__)

#: How each column of the binding table is obtained (repeated in the table and the report).
METHOD_UNCORRECTED = "supermolecular: E(complex) - sum E(fragment), each in its own basis"
METHOD_COUNTERPOISE = (
    "counterpoise (Boys-Bernardi): E(complex) - sum E(fragment in the complex basis, "
    "partner atoms as ghosts); BSSE = sum [E(fragment) - E(fragment, ghosts)]"
)


def _resolve(path: str | Path, base: Path | None) -> Path:
    path = Path(path)
    return path if path.is_absolute() or base is None else base / path


def check_same_level(results: Mapping[str, QMResult], *, allow_mismatch: bool = False) -> None:
    """Refuse outputs whose method, basis or dispersion correction differ.

    Parameters
    ----------
    results
        Role (``"complex"``, ``"fragment Li"``...) -> result.
    allow_mismatch
        Accept a mismatch (the configuration must say so explicitly).
    """
    if allow_mismatch:
        return
    reference_role, reference = next(iter(results.items()))
    for role, result in results.items():
        for what in ("method", "basis", "dispersion"):
            mine, theirs = getattr(result, what), getattr(reference, what)
            if mine != theirs:
                raise DFTOutputError(
                    f"{result.path}: {what} '{mine}' of the {role} differs from '{theirs}' "
                    f"of the {reference_role} ({reference.path}); set "
                    "dft.allow_level_mismatch: true to accept it"
                )


def check_charges_add_up(complex_: QMResult, fragments: Mapping[str, QMResult]) -> None:
    """Fragment charges must sum to the complex's; the unpaired electrons must combine to
    the complex's multiplicity (same parity, no more than the fragments have)."""
    total = sum(f.charge for f in fragments.values())
    if total != complex_.charge:
        detail = ", ".join(f"{n} {f.charge:+d} ({f.path})" for n, f in fragments.items())
        raise DFTOutputError(
            f"{complex_.path}: complex charge {complex_.charge:+d} is not the sum {total:+d} "
            f"of its fragments: {detail}"
        )
    unpaired = sum(f.multiplicity - 1 for f in fragments.values())
    complex_unpaired = complex_.multiplicity - 1
    if complex_unpaired > unpaired or (unpaired - complex_unpaired) % 2:
        detail = ", ".join(f"{n} {f.multiplicity} ({f.path})" for n, f in fragments.items())
        raise DFTOutputError(
            f"{complex_.path}: multiplicity {complex_.multiplicity} of the complex cannot "
            f"come from fragment multiplicities {detail}"
        )


#: Largest difference of interatomic distances (angstrom) between geometries taken as one.
GEOMETRY_TOLERANCE_ANGSTROM = 0.01


def _formula(symbols: Iterable[str]) -> str:
    counts = Counter(symbols)
    return "".join(f"{el}{counts[el] if counts[el] > 1 else ''}" for el in sorted(counts))


def _distance_mismatch(
    a: Sequence[tuple[str, Sequence[float]]], b: Sequence[tuple[str, Sequence[float]]]
) -> float:
    """Largest difference (angstrom) between the sorted distances of each element pair of
    two geometries with the same atoms; independent of atom order, translation, rotation."""

    def distances(atoms):
        by_pair: dict[tuple[str, str], list[float]] = {}
        xyz = np.asarray([p for _, p in atoms], dtype=float).reshape(-1, 3)
        for i in range(len(atoms)):
            for j in range(i + 1, len(atoms)):
                key = tuple(sorted((atoms[i][0], atoms[j][0])))
                by_pair.setdefault(key, []).append(float(np.linalg.norm(xyz[i] - xyz[j])))
        return {k: np.sort(v) for k, v in by_pair.items()}

    da, db = distances(a), distances(b)
    if set(da) != set(db) or any(len(da[k]) != len(db[k]) for k in da):
        return math.inf
    return max((float(np.max(np.abs(da[k] - db[k]))) for k in da), default=0.0)


def check_fragments_make_up_complex(
    name: str,
    complex_: QMResult,
    fragments: Mapping[str, QMResult],
    ghosts: Mapping[str, QMResult],
) -> None:
    """Each output fits its role, and the fragments make up the complex (module docstring).

    Raises
    ------
    DFTOutputError
        Naming the output, its role in manifest entry ``name``, and what to change.
    """
    for n, fragment in fragments.items():
        if fragment.n_ghosts or fragment.ghost_symbols:
            raise DFTOutputError(
                f"{fragment.path}: has {fragment.n_ghosts or len(fragment.ghost_symbols)} "
                f"ghost centres (a fragment in the complex's basis, for the counterpoise "
                f"correction) but is given as plain fragment {n} of {name}; list it under "
                f"ghost_fragments and give the fragment computed alone under fragments"
            )
    if complex_.n_ghosts or complex_.ghost_symbols:
        raise DFTOutputError(
            f"{complex_.path}: the complex of {name} has ghost centres; give the output of "
            "the whole complex"
        )
    unread = [r.path for r in (complex_, *fragments.values()) if not r.symbols]
    if unread:
        logger.warning(
            "%s: no geometry read from %s; the fragments' atoms cannot be checked against "
            "the complex's",
            name,
            ", ".join(map(str, unread)),
        )
    else:
        union = Counter()
        for fragment in fragments.values():
            union.update(fragment.symbols)
        if union != Counter(complex_.symbols):
            detail = ", ".join(
                f"{n} {_formula(f.symbols)} ({f.path})" for n, f in fragments.items()
            )
            raise DFTOutputError(
                f"{complex_.path}: the atoms of the fragments of {name} ({detail}: "
                f"{_formula(union.elements())} in all) do not make up the complex "
                f"({_formula(complex_.symbols)}); check which outputs the manifest entry "
                f"{name} names"
            )
    for n, ghost in ghosts.items():
        _check_ghost_atoms(name, n, fragments[n], ghost, complex_)


def _check_ghost_atoms(
    name: str, n: str, fragment: QMResult, ghost: QMResult, complex_: QMResult
) -> None:
    """The real atoms of a ghost-atom output are the fragment's, its ghosts the rest of the
    complex, and (positions read) together the complex's geometry."""
    if not ghost.symbols or not complex_.symbols:
        return
    role = f"fragment {n} of {name} in the complex basis"
    if Counter(ghost.symbols) != Counter(fragment.symbols):
        raise DFTOutputError(
            f"{ghost.path}: the real atoms ({_formula(ghost.symbols)}) of the {role} are not "
            f"those of fragment {n} ({_formula(fragment.symbols)}, {fragment.path})"
        )
    if not ghost.ghost_symbols:
        return
    rest = Counter(complex_.symbols) - Counter(fragment.symbols)
    if Counter(ghost.ghost_symbols) != rest:
        raise DFTOutputError(
            f"{ghost.path}: the ghost centres ({_formula(ghost.ghost_symbols)}) of the {role} "
            f"are not the complex's atoms outside fragment {n} ({_formula(rest.elements())}, "
            f"{complex_.path})"
        )
    if not (ghost.positions and ghost.ghost_positions and complex_.positions):
        return
    whole = list(zip(ghost.symbols + ghost.ghost_symbols,
                     ghost.positions + ghost.ghost_positions, strict=True))  # fmt: skip
    off = _distance_mismatch(whole, list(zip(complex_.symbols, complex_.positions, strict=True)))
    if off > GEOMETRY_TOLERANCE_ANGSTROM:
        raise DFTOutputError(
            f"{ghost.path}: the geometry of the {role} (real and ghost centres) is not the "
            f"complex's ({complex_.path}): interatomic distances differ by up to {off:.3g} A "
            f"(tolerance {GEOMETRY_TOLERANCE_ANGSTROM} A); compute it at the complex's "
            "geometry"
        )
    if fragment.positions:
        off = _distance_mismatch(
            list(zip(ghost.symbols, ghost.positions, strict=True)),
            list(zip(fragment.symbols, fragment.positions, strict=True)),
        )
        if off > GEOMETRY_TOLERANCE_ANGSTROM:
            raise DFTOutputError(
                f"{fragment.path}: fragment {n} of {name} is not at the geometry of the "
                f"{role} ({ghost.path}): distances differ by up to {off:.3g} A; the "
                "counterpoise correction (BSSE = E(fragment) - E(fragment, ghosts)) needs "
                "both at the complex's geometry: compute the fragment there, or leave out "
                "ghost_fragments"
            )


def _check_ghost(name: str, fragment: QMResult, ghost: QMResult, complex_: QMResult) -> None:
    if (ghost.charge, ghost.multiplicity) != (fragment.charge, fragment.multiplicity):
        raise DFTOutputError(
            f"{ghost.path}: ghost-atom output of fragment {name} has charge/multiplicity "
            f"{ghost.charge}/{ghost.multiplicity}, the fragment {fragment.charge}/"
            f"{fragment.multiplicity} ({fragment.path})"
        )
    if ghost.program in ("nwchem", "orca") and ghost.n_ghosts == 0:
        raise DFTOutputError(
            f"{ghost.path}: given as fragment {name} in the complex basis but has no ghost "
            "atoms (a fragment computed alone?); list it under fragments, and under "
            "ghost_fragments the fragment computed with the partner's atoms as ghosts"
        )
    if complex_.symbols and fragment.symbols and ghost.n_ghosts:
        expected = len(complex_.symbols) - len(fragment.symbols)
        if ghost.n_ghosts != expected:
            raise DFTOutputError(
                f"{ghost.path}: {ghost.n_ghosts} ghost atoms, but the complex "
                f"({complex_.path}) has {expected} atoms outside fragment {name}"
            )


def binding_energy(
    name: str,
    entry: Mapping[str, Any],
    *,
    base: Path | None = None,
    allow_mismatch: bool = False,
) -> dict[str, Any]:
    """Binding energy of one manifest entry.

    Parameters
    ----------
    name
        Name of the complex (row label).
    entry
        ``{"complex": path, "fragments": {name: path}, "ghost_fragments": {name: path}}``;
        ``ghost_fragments`` is optional and must name the same fragments.
    base
        Directory that relative paths are relative to.
    allow_mismatch
        Accept different method/basis/dispersion between the outputs.

    Returns
    -------
    dict
        One table row: energies in eV and kJ/mol, the BSSE, the level of theory, the
        method of each number and the files used.
    """
    complex_ = read_output(_resolve(entry["complex"], base))
    fragments = {n: read_output(_resolve(p, base)) for n, p in entry["fragments"].items()}
    if len(fragments) < 2:
        raise DFTOutputError(f"{complex_.path}: complex {name} needs at least two fragments")
    ghost_paths = entry.get("ghost_fragments") or {}
    if ghost_paths and set(ghost_paths) != set(fragments):
        raise DFTOutputError(
            f"manifest entry {name}: ghost_fragments {sorted(ghost_paths)} must name the "
            f"same fragments as fragments {sorted(fragments)}"
        )
    ghosts = {n: read_output(_resolve(p, base)) for n, p in ghost_paths.items()}
    roles = {"complex": complex_}
    roles.update({f"fragment {n}": r for n, r in fragments.items()})
    roles.update({f"fragment {n} in the complex basis": r for n, r in ghosts.items()})
    check_same_level(roles, allow_mismatch=allow_mismatch)
    check_charges_add_up(complex_, fragments)
    check_fragments_make_up_complex(name, complex_, fragments, {})
    for n, ghost in ghosts.items():
        _check_ghost(n, fragments[n], ghost, complex_)
        _check_ghost_atoms(name, n, fragments[n], ghost, complex_)

    delta = complex_.energy_ev - sum(f.energy_ev for f in fragments.values())
    row: dict[str, Any] = {
        "complex": name,
        "level_of_theory": complex_.level_of_theory,
        "program": f"{complex_.program} {complex_.version}",
        "fragments": " + ".join(fragments),
        "binding_energy_eV": delta,
        "binding_energy_kJ_per_mol": delta * EV_TO_KJ_PER_MOL,
        "binding_method": METHOD_UNCORRECTED,
        "cp_binding_energy_eV": None,
        "cp_binding_energy_kJ_per_mol": None,
        "bsse_eV": None,
        "bsse_kJ_per_mol": None,
        "cp_method": "not computed (no ghost-atom fragment outputs in the manifest)",
        "files": "; ".join(str(r.path) for r in roles.values()),
    }
    if ghosts:
        cp = complex_.energy_ev - sum(g.energy_ev for g in ghosts.values())
        bsse = sum(fragments[n].energy_ev - ghosts[n].energy_ev for n in fragments)
        row.update(
            cp_binding_energy_eV=cp,
            cp_binding_energy_kJ_per_mol=cp * EV_TO_KJ_PER_MOL,
            bsse_eV=bsse,
            bsse_kJ_per_mol=bsse * EV_TO_KJ_PER_MOL,
            cp_method=METHOD_COUNTERPOISE,
        )
    return row


def binding_table(
    manifest: Mapping[str, Mapping[str, Any]],
    *,
    base: Path | None = None,
    allow_mismatch: bool = False,
) -> pd.DataFrame:
    """:func:`binding_energy` of every manifest entry, one row each."""
    rows = [
        binding_energy(name, entry, base=base, allow_mismatch=allow_mismatch)
        for name, entry in manifest.items()
    ]
    return pd.DataFrame(rows)


def manifest_files(manifest: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Every output path named in the manifest (complexes first), without duplicates."""
    paths: list[str] = []
    for entry in manifest.values():
        paths.append(str(entry["complex"]))
        paths += [str(p) for p in entry["fragments"].values()]
        paths += [str(p) for p in (entry.get("ghost_fragments") or {}).values()]
    return list(dict.fromkeys(paths))


def charges_table(paths: list[str | Path], *, base: Path | None = None) -> pd.DataFrame:
    """Atomic charges (Mulliken, Loewdin, Hirshfeld, CM5, where printed) of every output.

    One row per centre of each file; a scheme the program did not print is left empty.
    """
    rows = []
    for path in paths:
        result = read_output(_resolve(path, base))
        n = max((len(v) for v in result.atomic_charges.values()), default=0)
        for i in range(n):
            row = {
                "file": str(path),
                "program": result.program,
                "level_of_theory": result.level_of_theory,
                "atom": i + 1,
                "element": result.symbols[i] if i < len(result.symbols) else "",
            }
            for scheme in ("mulliken", "loewdin", "hirshfeld", "cm5"):
                values = result.atomic_charges.get(scheme, ())
                row[f"{scheme}_e"] = values[i] if i < len(values) else None
            rows.append(row)
    columns = ["file", "program", "level_of_theory", "atom", "element"]
    columns += [f"{s}_e" for s in ("mulliken", "loewdin", "hirshfeld", "cm5")]
    return pd.DataFrame(rows, columns=columns)


def write_binding_table(
    manifest: Mapping[str, Mapping[str, Any]],
    path: Path | str,
    *,
    allow_mismatch: bool = False,
) -> pd.DataFrame:
    """Write :func:`binding_table` as CSV (atomically); paths relative to the working dir.

    An earlier table at ``path`` is removed first, so that a failed run leaves none that
    looks current."""
    Path(path).unlink(missing_ok=True)
    table = binding_table(manifest, allow_mismatch=allow_mismatch)
    atomic_write_text(path, table.to_csv(index=False, float_format="%.6f"))
    return table


def write_charges_table(
    manifest: Mapping[str, Mapping[str, Any]], path: Path | str
) -> pd.DataFrame:
    """Write the :func:`charges_table` of every output named in ``manifest`` as CSV
    (atomically, an earlier table removed first)."""
    Path(path).unlink(missing_ok=True)
    table = charges_table(manifest_files(manifest))
    atomic_write_text(path, table.to_csv(index=False, float_format="%.5f"))
    return table
