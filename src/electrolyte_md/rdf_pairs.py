"""The RDF pairs a system is analysed for, from the configuration alone.

Kept apart from :mod:`electrolyte_md.analysis` (which imports MDAnalysis) because the
workflow needs the pairs of every system when its rules are read: every ``snakemake``
start (a dry run, the report, each cluster job) would otherwise pay for importing the
trajectory code (about 0.6 s).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from electrolyte_md.errors import AnalysisError

__all__ = ["CLUSTER_METAL", "SOLVENT_DONOR_ELEMENTS", "default_pairs", "system_pairs"]

#: Elements of each solvent counted around the salt cation by default (Li-O, Li-N).
SOLVENT_DONOR_ELEMENTS = ("O", "N")
#: Metal of cluster species (the Ti6O6 builder makes Ti clusters only).
CLUSTER_METAL = "Ti"


def _heavy_elements(config: Mapping[str, Any], species: str) -> list[str]:
    """Elements other than H of a SMILES species, sorted."""
    from electrolyte_md.structures import parse_smiles

    spec = config["species"][species]
    mol = parse_smiles(spec["smiles"], species=species)
    return sorted({atom.GetSymbol() for atom in mol.GetAtoms()} - {"H"})


def default_pairs(config: Mapping[str, Any], system: str) -> dict[str, dict[str, Any]]:
    """RDF pairs a system gets by default (``analysis.rdf.default_pairs: true``).

    - the cation of every salt with every element of every salt anion (Li-P, Li-F for
      LiPF6);
    - the cation with the O and N (:data:`SOLVENT_DONOR_ELEMENTS`) of every solvent that
      has them (Li-O, Li-N of NMP);
    - the metal of every cluster species (Ti) with every element of every salt anion
      (Ti-P, Ti-F), analysed only where the cluster is present.

    Names are ``<centre element>-<ligand element>`` (``Li-P``); when two species would
    give the same name, each gets its residue appended (``Li-O_EC``, ``Li-O_DMC``).
    Centres are selected by residue (``resname LI``), ligands by residue and element.

    Parameters
    ----------
    config
        The schema-valid workflow configuration.
    system
        A system of ``config["systems"]``.

    Returns
    -------
    dict
        Pair name -> ``{"center", "ligand", "requires"}`` like a configured pair.
    """
    from electrolyte_md.config import system_species

    species = config["species"]
    present = system_species(config, system)
    salts = [config["salts"][s] for s in config["systems"][system].get("salts", {})]
    cations = list(dict.fromkeys(salt["cation"] for salt in salts))
    anions = list(dict.fromkeys(salt["anion"] for salt in salts))
    # (name, ligand residue, centre selection, ligand selection, required species)
    candidates: list[tuple[str, str, str, str, list[str]]] = []
    for cation in cations:
        cation_element = _heavy_elements(config, cation)[0]
        centre = f"resname {species[cation]['residue']}"
        for anion in anions:
            residue = species[anion]["residue"]
            for element in _heavy_elements(config, anion):
                candidates.append(
                    (f"{cation_element}-{element}", residue, centre,
                     f"resname {residue} and element {element}", [cation, anion])
                )  # fmt: skip
        for solvent in config["systems"][system]["solvents"]:
            residue = species[solvent]["residue"]
            elements = _heavy_elements(config, solvent)
            for element in SOLVENT_DONOR_ELEMENTS:
                if element in elements:
                    candidates.append(
                        (f"{cation_element}-{element}", residue, centre,
                         f"resname {residue} and element {element}", [cation, solvent])
                    )  # fmt: skip
    for cluster in (s for s in present if "cluster" in species[s]):
        centre = f"resname {species[cluster]['residue']} and element {CLUSTER_METAL}"
        for anion in anions:
            residue = species[anion]["residue"]
            for element in _heavy_elements(config, anion):
                candidates.append(
                    (f"{CLUSTER_METAL}-{element}", residue, centre,
                     f"resname {residue} and element {element}", [cluster, anion])
                )  # fmt: skip
    names = [c[0] for c in candidates]
    pairs: dict[str, dict[str, Any]] = {}
    for name, residue, centre, ligand, requires in candidates:
        if names.count(name) > 1:
            name = f"{name}_{residue}"
        pairs[name] = {"center": centre, "ligand": ligand, "requires": requires}
    return pairs


def system_pairs(config: Mapping[str, Any], system: str) -> dict[str, dict[str, Any]]:
    """Every RDF pair analysed in a system: the configured ones that apply to it, then,
    with ``analysis.rdf.default_pairs: true``, the :func:`default_pairs` not already
    configured.

    A default pair with the same centre and ligand selections as a configured one is
    left out (the configured name and settings win); one whose name is taken by a
    configured pair with other selections gets its ligand residue appended.
    """
    from electrolyte_md.config import analysis_pairs

    rdf = config["analysis"]["rdf"]
    pairs = {name: dict(rdf["pairs"][name]) for name in analysis_pairs(config, system)}
    if not rdf.get("default_pairs", False):
        return pairs
    configured = {(spec["center"], spec["ligand"]) for spec in pairs.values()}
    for name, spec in default_pairs(config, system).items():
        if (spec["center"], spec["ligand"]) in configured:
            continue
        if name in pairs:
            name = f"{name}_{spec['ligand'].split()[1]}"
        if name in pairs:
            raise AnalysisError(
                f"default RDF pair {name!r} of system {system!r} clashes with a configured "
                "pair of that name; rename the configured pair under analysis.rdf.pairs"
            )
        pairs[name] = spec
    return pairs
