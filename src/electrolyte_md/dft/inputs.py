"""Input files for quantum-chemistry jobs (NWChem, ORCA), counterpoise fragments included.

One function per program turns a structure, charge, multiplicity, method, basis and
dispersion correction into the text of an input file; :func:`counterpoise_jobs` lists the
jobs of a counterpoise-corrected binding energy (complex, fragments in their own basis,
fragments in the complex's basis with the partner's atoms as ghosts). The job description
is program-neutral (:class:`QMJob`), so another route (e.g. GFN2-xTB) can reuse it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from electrolyte_md.errors import DFTOutputError
from electrolyte_md.io import atomic_write, atomic_write_text, find_program

#: Method names (lower case) -> NWChem ``xc`` keywords; others are passed through as given.
NWCHEM_XC = {
    "pbe": "xpbe96 cpbe96",
    "pbe0": "pbe0",
    "b3lyp": "b3lyp",
    "bp86": "becke88 perdew86",
    "tpss": "xtpss03 ctpss03",
}

#: Dispersion corrections understood by both writers and readers.
DISPERSIONS = ("none", "d3zero", "d3bj")

_NWCHEM_DISP = {"d3zero": "disp vdw 3", "d3bj": "disp vdw 4"}
_ORCA_DISP = {"d3zero": "D3ZERO", "d3bj": "D3BJ"}


@dataclass(frozen=True)
class QMJob:
    """A single-point (or optimisation) job, independent of the program that runs it.

    Attributes
    ----------
    name
        Job name, used for file names and titles (letters, digits, ``_``, ``-``).
    symbols, positions
        Element symbols and Cartesian coordinates in angstrom.
    charge, multiplicity
        Total charge (e) and spin multiplicity of the real atoms.
    method, basis, dispersion
        Method (``"b3lyp"``, ``"pbe0"``, ``"hf"``...), basis-set name and dispersion
        correction (one of :data:`DISPERSIONS`).
    ghosts
        Indices of atoms that carry only basis functions (no nuclei, no electrons).
    optimize
        Optimise the geometry instead of a single point.
    max_iterations
        Maximum number of SCF iterations.
    """

    name: str
    symbols: tuple[str, ...]
    positions: tuple[tuple[float, float, float], ...]
    charge: int
    multiplicity: int
    method: str
    basis: str
    dispersion: str = "none"
    ghosts: frozenset[int] = field(default_factory=frozenset)
    optimize: bool = False
    max_iterations: int = 100

    def __post_init__(self) -> None:
        if len(self.symbols) != len(self.positions):
            raise DFTOutputError(
                f"job {self.name}: {len(self.symbols)} symbols but {len(self.positions)} positions"
            )
        if self.dispersion not in DISPERSIONS:
            raise DFTOutputError(
                f"job {self.name}: dispersion '{self.dispersion}' is not one of {DISPERSIONS}"
            )
        if self.multiplicity < 1:
            raise DFTOutputError(f"job {self.name}: multiplicity must be >= 1")
        bad = [i for i in self.ghosts if not 0 <= i < len(self.symbols)]
        if bad:
            raise DFTOutputError(f"job {self.name}: ghost indices {bad} out of range")


def make_job(
    name: str,
    symbols: Sequence[str],
    positions: Sequence[Sequence[float]] | np.ndarray,
    **settings,
) -> QMJob:
    """Build a :class:`QMJob` from any sequence of symbols and an (N, 3) array of positions."""
    xyz = np.asarray(positions, dtype=float).reshape(-1, 3)
    return QMJob(
        name=name,
        symbols=tuple(str(s) for s in symbols),
        positions=tuple(tuple(float(c) for c in row) for row in xyz),
        **settings,
    )


def counterpoise_jobs(
    name: str,
    symbols: Sequence[str],
    positions: Sequence[Sequence[float]] | np.ndarray,
    fragments: dict[str, tuple[Sequence[int], int, int]],
    *,
    charge: int,
    multiplicity: int,
    **settings,
) -> dict[str, QMJob]:
    """Jobs of a counterpoise-corrected binding energy (Boys-Bernardi).

    Parameters
    ----------
    name
        Name of the complex.
    symbols, positions
        The complex.
    fragments
        Fragment name -> (atom indices in the complex, charge, multiplicity).
    charge, multiplicity
        Of the complex.
    **settings
        ``method``, ``basis``, ``dispersion``... passed to every :class:`QMJob`.

    Returns
    -------
    dict
        ``{name: complex, frag: fragment alone, frag + "_ghost": fragment in the complex
        basis}``; fragments keep the complex's geometry (no deformation term).
    """
    xyz = np.asarray(positions, dtype=float).reshape(-1, 3)
    used = sorted(i for indices, _, _ in fragments.values() for i in indices)
    if used != list(range(len(symbols))):
        raise DFTOutputError(
            f"complex {name}: fragments must split the {len(symbols)} atoms exactly once, "
            f"got indices {used}"
        )
    jobs = {
        name: make_job(name, symbols, xyz, charge=charge, multiplicity=multiplicity, **settings)
    }
    for frag, (indices, frag_charge, frag_mult) in fragments.items():
        idx = list(indices)
        jobs[frag] = make_job(
            frag,
            [symbols[i] for i in idx],
            xyz[idx],
            charge=frag_charge,
            multiplicity=frag_mult,
            **settings,
        )
        others = [i for i in range(len(symbols)) if i not in set(idx)]
        order = idx + others
        jobs[f"{frag}_ghost"] = make_job(
            f"{frag}_ghost",
            [symbols[i] for i in order],
            xyz[order],
            charge=frag_charge,
            multiplicity=frag_mult,
            ghosts=frozenset(range(len(idx), len(order))),
            **settings,
        )
    return jobs


def _coordinates(job: QMJob, label) -> list[str]:
    return [
        f"  {label(i, s):<6s} {x:14.8f} {y:14.8f} {z:14.8f}"
        for i, (s, (x, y, z)) in enumerate(zip(job.symbols, job.positions, strict=True))
    ]


def nwchem_input(job: QMJob) -> str:
    """NWChem input text for ``job`` (spherical basis, no symmetry, no re-centring).

    Ghost atoms are written as ``bqX`` centres and get the basis of element X explicitly
    (``bqLi library Li 6-31G*``): NWChem gives ``bq`` centres no basis otherwise.
    """
    ghost_elements = sorted({job.symbols[i] for i in job.ghosts})

    def label(i: int, symbol: str) -> str:
        return f"bq{symbol}" if i in job.ghosts else symbol

    method = job.method.lower()
    lines = [
        f"start {job.name}",
        "echo",
        f'title "{job.name}"',
        f"charge {job.charge}",
        "geometry units angstrom noautoz nocenter noautosym",
        *_coordinates(job, label),
        "end",
        "basis spherical",
        f"  * library {job.basis}",
        *[f"  bq{el} library {el} {job.basis}" for el in ghost_elements],
        "end",
    ]
    if method == "hf":
        spin = ["singlet"] if job.multiplicity == 1 else ["uhf", f"nopen {job.multiplicity - 1}"]
        lines += ["scf", *[f"  {s}" for s in spin], f"  maxiter {job.max_iterations}", "end"]
        module = "scf"
        if job.dispersion != "none":
            raise DFTOutputError(f"job {job.name}: NWChem SCF takes no dispersion correction")
    else:
        lines += [
            "dft",
            f"  xc {NWCHEM_XC.get(method, job.method)}",
            f"  mult {job.multiplicity}",
            f"  iterations {job.max_iterations}",
            *([f"  {_NWCHEM_DISP[job.dispersion]}"] if job.dispersion != "none" else []),
            "  mulliken",
            "end",
        ]
        module = "dft"
    lines.append(f"task {module} {'optimize' if job.optimize else 'energy'}")
    return "\n".join(lines) + "\n"


def orca_input(job: QMJob, *, cores: int = 1) -> str:
    """ORCA (5 or 6) input text for ``job``; ghost atoms are written ``Li:`` (basis only)."""

    def label(i: int, symbol: str) -> str:
        return f"{symbol}:" if i in job.ghosts else symbol

    keywords = [job.method, job.basis]
    if job.dispersion != "none":
        keywords.append(_ORCA_DISP[job.dispersion])
    keywords.append("Opt" if job.optimize else "SP")
    lines = [
        f"# {job.name}",
        "! " + " ".join(keywords),
        f"%scf maxiter {job.max_iterations} end",
        "%output print[p_hirshfeld] 1 end",
        *([f"%pal nprocs {cores} end"] if cores > 1 else []),
        f"* xyz {job.charge} {job.multiplicity}",
        *_coordinates(job, label),
        "*",
    ]
    return "\n".join(lines) + "\n"


WRITERS = {"nwchem": nwchem_input, "orca": orca_input}
SUFFIXES = {"nwchem": ".nw", "orca": ".inp"}


def write_inputs(jobs: dict[str, QMJob], directory: Path | str, program: str) -> dict[str, Path]:
    """Write one input file per job into ``directory``; returns name -> path."""
    if program not in WRITERS:
        raise DFTOutputError(f"no input writer for program '{program}' (have {sorted(WRITERS)})")
    directory = Path(directory)
    paths = {}
    for key, job in jobs.items():
        path = directory / f"{key}{SUFFIXES[program]}"
        atomic_write_text(path, WRITERS[program](job))
        paths[key] = path
    return paths


def run_nwchem(input_path: Path | str, output_path: Path | str) -> int:
    """Run NWChem on ``input_path`` in its directory; its output goes to ``output_path``.

    The exit status is returned, not judged: whether the output is usable is for
    :func:`~electrolyte_md.dft.readers.read_output` to decide (NWChem may exit 0 after an
    unconverged SCF, and a non-zero exit after a crash still leaves a partial output).
    """
    input_path = Path(input_path).resolve()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [find_program("nwchem"), input_path.name],
        cwd=input_path.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        check=False,
    )
    atomic_write(output_path, proc.stdout)
    return proc.returncode
