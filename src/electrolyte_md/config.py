"""Checks of the workflow configuration that a JSON schema cannot express.

The schema (``workflow/schemas/config.schema.yaml``) catches wrong keys, types and
signs. :func:`check_config` then checks the chemistry: every SMILES parses, names refer
to defined species, salts are cation + anion, every box is neutral before and after
charge scaling, and the parameter models fit their species. Each problem is reported
with the configuration file it came from; all problems are reported at once.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from rdkit import Chem

from electrolyte_md.cluster.builder import cluster_charge, resolve_ligand
from electrolyte_md.errors import AnalysisError, ConfigError, StructureError
from electrolyte_md.md.protocol import MDProtocol
from electrolyte_md.structures.species import formal_charge, parse_smiles

#: Parameter model of species given as a `cluster` block.
CLUSTER_MODEL = "xtb_seminario"


def species_charge(name: str, spec: Mapping[str, Any]) -> int:
    """Net charge of a species from its SMILES or, for a cluster, its ligands."""
    if "cluster" in spec:
        return cluster_charge(spec["cluster"]["carboxylate"], spec["cluster"]["alkoxide"])
    return formal_charge(spec["smiles"], species=name)


def species_parameters(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The species' ``parameters`` block, with the model defaulted by kind of species."""
    spec = config["species"][name]
    parameters = dict(spec.get("parameters", {}))
    parameters.setdefault("model", CLUSTER_MODEL if "cluster" in spec else "gaff2_am1bcc")
    return parameters


def analysis_pairs(config: Mapping[str, Any], system: str) -> list[str]:
    """RDF pairs analysed in a system: those whose ``requires`` species it all contains."""
    present = set(system_species(config, system))
    return [
        pair
        for pair, spec in config["analysis"]["rdf"]["pairs"].items()
        if set(spec.get("requires", [])) <= present
    ]


def system_species(config: Mapping[str, Any], system: str) -> list[str]:
    """Species of a system in packing order: solvents, salt ions, additives (no repeats)."""
    spec = config["systems"][system]
    names: list[str] = list(spec["solvents"])
    for salt in spec.get("salts", {}):
        if salt not in config.get("salts", {}):
            continue  # an undefined salt: check_config names it (no KeyError on the way)
        for ion in (config["salts"][salt]["cation"], config["salts"][salt]["anion"]):
            if ion not in names:
                names.append(ion)
    for additive in spec.get("additives", {}):
        if additive not in names:
            names.append(additive)
    return names


# RDF pairs of a system, from the configuration alone: the workflow needs them when its
# rules are read, so they live here and not beside the trajectory code (MDAnalysis).

#: Elements of each solvent counted around the salt cation by default (Li-O, Li-N).
SOLVENT_DONOR_ELEMENTS = ("O", "N")
#: Metal of cluster species (the Ti6O6 builder makes Ti clusters only).
CLUSTER_METAL = "Ti"


def _heavy_elements(config: Mapping[str, Any], species: str) -> list[str]:
    """Elements other than H of a SMILES species, sorted."""
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


def additive_pairs(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(system without, system with additive) pairs of a study.

    A system with additives is paired with a system that has the same solvents (same
    fractions), the same salts (same concentrations) and no additive.
    """
    systems = config["systems"]

    def base(spec):
        return (
            sorted(spec["solvents"].items()),
            sorted(spec.get("salts", {}).items()),
            spec.get("ion_charge_scale"),  # a sweep pairs like with like
        )

    pairs = []
    for name, spec in systems.items():
        if not any(spec.get("additives", {}).values()):
            continue
        for other, other_spec in systems.items():
            if (
                other != name
                and not any(other_spec.get("additives", {}).values())
                and (base(other_spec) == base(spec))
            ):
                pairs.append((other, name))
                break
    return pairs


def _scales(config: Mapping[str, Any], charges: Mapping[str, int]) -> dict[str, float]:
    forcefield = config["forcefield"]
    explicit = forcefield.get("charge_scale", {})
    ion_scale = float(forcefield.get("ion_charge_scale", 0.8))
    return {
        name: float(explicit[name])
        if name in explicit
        else (ion_scale if charges.get(name) else 1.0)
        for name in config["species"]
    }


def charge_scales(config: Mapping[str, Any]) -> dict[str, float]:
    """Factor on the partial charges of every species.

    ``forcefield.charge_scale`` names species explicitly; every other charged species gets
    ``forcefield.ion_charge_scale`` (0.8 by default) and neutral molecules keep 1.0.
    """
    charges = {name: species_charge(name, spec) for name, spec in config["species"].items()}
    return _scales(config, charges)


# --- charge-scaling sweeps --------------------------------------------------------------


def sweep_system_name(system: str, factor: float) -> str:
    """The name of a sweep's system: ``LiPF6_NMP`` at 0.8 -> ``LiPF6_NMP_q080``."""
    return f"{system}_q{round(100 * factor):03d}"


def charge_sweeps(config: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Swept system -> {its systems: factor}, for every system with ``ion_charge_scales``
    (in a configuration not yet expanded by :func:`expand_charge_sweeps`)."""
    return {
        system: {sweep_system_name(system, f): float(f) for f in spec["ion_charge_scales"]}
        for system, spec in config["systems"].items()
        if spec.get("ion_charge_scales")
    }


def expand_charge_sweeps(config: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration with each swept system replaced by one system per factor.

    A system with ``ion_charge_scales: [0.7, 0.8, 1.0]`` becomes ``<system>_q070``,
    ``_q080`` and ``_q100``, each a copy with its ``ion_charge_scale``: the factor is then
    part of the system wildcard, and every stage (box, force field, MD, analysis) runs per
    factor unchanged. References to the swept system in ``validation`` (paper systems,
    measured densities, experiments of the system) point to each of its systems.
    """
    sweeps = charge_sweeps(config)
    if not sweeps:
        return dict(config)
    expanded = copy.deepcopy(dict(config))
    systems: dict[str, Any] = {}
    for name, spec in config["systems"].items():
        if name not in sweeps:
            systems[name] = copy.deepcopy(spec)
            continue
        for derived, factor in sweeps[name].items():
            one = {k: copy.deepcopy(v) for k, v in spec.items() if k != "ion_charge_scales"}
            systems[derived] = one | {"ion_charge_scale": factor}
    expanded["systems"] = systems
    validation = expanded.get("validation") or {}
    if "paper_systems" in validation:
        validation["paper_systems"] = [
            d for s in validation["paper_systems"] for d in sweeps.get(s, {s: None})
        ]
    if "measured_densities" in validation:
        validation["measured_densities"] = {
            d: value
            for s, value in validation["measured_densities"].items()
            for d in sweeps.get(s, {s: None})
        }
    if "experiments" in validation:
        validation["experiments"] = [
            entry | ({"system": d} if "system" in entry else {})
            for entry in validation["experiments"]
            for d in sweeps.get(entry.get("system"), {entry.get("system"): None})
        ]
    return expanded


def system_charge_scales(
    config: Mapping[str, Any], system: str, charges: Mapping[str, int] | None = None
) -> dict[str, float]:
    """:func:`charge_scales` in one system: its ``ion_charge_scale``, where it has one,
    replaces the factor of every charged species. ``charges`` (species -> net charge)
    spares parsing every SMILES again for each system."""
    if charges is None:
        charges = {name: species_charge(name, spec) for name, spec in config["species"].items()}
    scales = _scales(config, charges)
    factor = config["systems"][system].get("ion_charge_scale")
    if factor is None:
        return scales
    return {name: float(factor) if charges.get(name) else scales[name] for name in scales}


def _check_sweeps(config: Mapping[str, Any], problems: list[str]) -> None:
    names = set(config["systems"])
    for system, derived in charge_sweeps(config).items():
        factors = config["systems"][system]["ion_charge_scales"]
        if len(derived) < len(factors):
            problems.append(
                f"systems.{system}.ion_charge_scales: {factors} name the same system twice "
                "(systems are named to 0.01 of the factor); give factors 0.01 apart"
            )
        for name in derived:
            if name in names:
                problems.append(
                    f"systems.{system}.ion_charge_scales: the sweep's system {name!r} "
                    "clashes with a configured system of that name; rename one"
                )
        spec = config["systems"][system]
        charged_additives = []
        for additive, count in spec.get("additives", {}).items():
            with contextlib.suppress(KeyError, ValueError, StructureError):  # reported above
                if count and species_charge(additive, config["species"][additive]):
                    charged_additives.append(additive)
        if not spec.get("salts") and not charged_additives:
            problems.append(f"systems.{system}.ion_charge_scales: the system has no ions to scale")


def _check_species(config: Mapping[str, Any], problems: list[str]) -> dict[str, int]:
    charges: dict[str, int] = {}
    residues: dict[str, str] = {}
    for name, spec in config["species"].items():
        if "cluster" in spec:
            _check_cluster_species(name, spec, problems, charges, residues)
            continue
        try:
            mol = parse_smiles(spec["smiles"], species=name)
        except StructureError as error:
            problems.append(str(error).replace(" in the configuration", ""))
            continue
        charge = Chem.GetFormalCharge(mol)
        charges[name] = charge
        residue = spec["residue"]
        if residue in residues:
            problems.append(
                f"species '{name}' and '{residues[residue]}' share residue name '{residue}'"
            )
        residues[residue] = name
        parameters = spec.get("parameters", {})
        model = parameters.get("model", "gaff2_am1bcc")
        if model == CLUSTER_MODEL:
            problems.append(f"species '{name}': model {CLUSTER_MODEL} needs a `cluster` block")
        n_heavy = mol.GetNumAtoms()
        if model == "ion_jc_tip3p" and (n_heavy != 1 or mol.GetAtomWithIdx(0).GetTotalNumHs()):
            problems.append(f"species '{name}': model ion_jc_tip3p needs a monatomic ion")
        if model != "ion_jc_tip3p" and n_heavy == 1 and not mol.GetAtomWithIdx(0).GetTotalNumHs():
            problems.append(f"species '{name}' is monatomic: use parameters.model ion_jc_tip3p")
        if model == "gaff2_fixed_charges":
            fixed = parameters.get("charges")
            if not fixed:
                problems.append(f"species '{name}': gaff2_fixed_charges needs 'charges'")
                continue
            elements = [a.GetSymbol() for a in Chem.AddHs(mol).GetAtoms()]
            missing = sorted(set(elements) - set(fixed))
            if missing:
                problems.append(f"species '{name}': no fixed charge for element(s) {missing}")
                continue
            total = sum(fixed[e] for e in elements)
            if abs(total - charge) > 1e-6:
                problems.append(
                    f"species '{name}': fixed charges sum to {total:+.4f} e but the SMILES "
                    f"has formal charge {charge:+d}"
                )
    return charges


def _check_cluster_species(
    name: str,
    spec: Mapping[str, Any],
    problems: list[str],
    charges: dict[str, int],
    residues: dict[str, str],
) -> None:
    cluster = spec["cluster"]
    try:
        charges[name] = cluster_charge(cluster["carboxylate"], cluster["alkoxide"])
    except StructureError as error:
        problems.append(f"species '{name}': {error}")
    residue = spec["residue"]
    if residue in residues:
        problems.append(
            f"species '{name}' and '{residues[residue]}' share residue name '{residue}'"
        )
    residues[residue] = name
    model = spec.get("parameters", {}).get("model", CLUSTER_MODEL)
    if model != CLUSTER_MODEL:
        problems.append(
            f"species '{name}' is a cluster: its parameters.model must be {CLUSTER_MODEL}, "
            f"not {model}"
        )
    structure = cluster.get("structure")
    if structure is not None and not Path(structure).is_file():
        problems.append(
            f"species '{name}': cluster.structure '{structure}' is not a file (paths are "
            f"relative to the working directory {Path.cwd()})"
        )


def _check_pairs(config: Mapping[str, Any], problems: list[str]) -> None:
    species = config["species"]
    for pair, spec in config["analysis"]["rdf"]["pairs"].items():
        unknown = [s for s in spec.get("requires", []) if s not in species]
        if unknown:
            problems.append(f"analysis pair '{pair}' requires unknown species {unknown}")
    for system in config["systems"]:
        if not analysis_pairs(config, system):
            problems.append(f"system '{system}': no RDF pair applies to it")


def _check_systems(config: Mapping[str, Any], charges: dict[str, int], problems: list[str]) -> None:
    species = config["species"]
    salts = config.get("salts", {})
    for name in config["forcefield"].get("charge_scale", {}):
        if name not in species:
            problems.append(f"forcefield.charge_scale names unknown species '{name}'")
    scale = _scales(config, charges)
    for salt, spec in salts.items():
        for role in ("cation", "anion"):
            if spec[role] not in species:
                problems.append(f"salt '{salt}': {role} '{spec[role]}' is not a defined species")
        cation, anion = charges.get(spec["cation"]), charges.get(spec["anion"])
        if cation is not None and cation <= 0:
            problems.append(f"salt '{salt}': cation '{spec['cation']}' has charge {cation:+d}")
        if anion is not None and anion >= 0:
            problems.append(f"salt '{salt}': anion '{spec['anion']}' has charge {anion:+d}")
        if scale.get(spec["cation"], 1.0) != scale.get(spec["anion"], 1.0):
            problems.append(
                f"salt '{salt}': charge_scale of '{spec['cation']}' and '{spec['anion']}' "
                "differ, so the box would not be neutral"
            )
    for system, spec in config["systems"].items():
        for solvent in spec["solvents"]:
            if solvent not in species:
                problems.append(f"system '{system}': solvent '{solvent}' is not a defined species")
            elif "density_g_per_cm3" not in species[solvent]:
                problems.append(
                    f"system '{system}': solvent '{solvent}' needs density_g_per_cm3 "
                    "to size the box"
                )
            elif charges.get(solvent, 0) != 0:
                problems.append(f"system '{system}': solvent '{solvent}' is charged")
        for salt in spec.get("salts", {}):
            if salt not in salts:
                problems.append(f"system '{system}': salt '{salt}' is not defined under salts")
        net = 0.0
        for additive, count in spec.get("additives", {}).items():
            if additive not in species:
                problems.append(
                    f"system '{system}': additive '{additive}' is not a defined species"
                )
                continue
            if "density_g_per_cm3" not in species[additive]:
                problems.append(f"system '{system}': additive '{additive}' needs density_g_per_cm3")
            net += count * charges.get(additive, 0) * scale.get(additive, 1.0)
        if abs(net) > 1e-9:
            problems.append(
                f"system '{system}': the box is not neutral: the additives carry {net:+g} e"
            )


#: The observable of a production target that needs no RDF pair.
DENSITY_TARGET = "density"


def md_protocol_settings(config: Mapping[str, Any], system: str) -> dict[str, Any]:
    """``md.protocol`` of one system, its production target resolved for the MD job.

    A target's ``observable`` is ``density`` or the name of an RDF pair of the system
    (``Li-P``): the pair's selections and its ``cutoff_angstrom`` (or the target's own)
    make a coordination target.  A system without that pair (the neat solvent of a
    study whose electrolytes have Li-P) runs its fixed ``production_ps``.
    """
    settings = dict(config["md"]["protocol"])
    target = settings.pop("production_target", None)
    if target is None:
        return settings
    target = dict(target)
    observable = target.pop("observable")
    if observable == DENSITY_TARGET:
        settings["production_target"] = {"observable": "density", "label": "density", **target}
        return settings
    pairs = system_pairs(config, system)
    if observable not in pairs:
        return settings
    pair = pairs[observable]
    cutoff = target.pop("cutoff_angstrom", None) or pair.get("cutoff_angstrom")
    settings["production_target"] = {
        "observable": "coordination",
        "label": f"CN({observable})",
        "center": pair["center"],
        "ligand": pair["ligand"],
        "cutoff_angstrom": cutoff,
        **target,
    }
    return settings


def _check_md(config: Mapping[str, Any], problems: list[str]) -> None:
    target = config["md"]["protocol"].get("production_target")
    key = "md.protocol.production_target"
    if target is not None:
        observable = target.get("observable")
        all_pairs: dict[str, dict[str, Any]] = {}
        for system in config["systems"]:
            with contextlib.suppress(AnalysisError):  # reported by _check_pairs
                all_pairs.update(system_pairs(config, system))
        if observable != DENSITY_TARGET and observable not in all_pairs:
            problems.append(
                f"{key}.observable: {observable!r} is not something the MD job can compute; "
                f"use 'density' or an RDF pair of analysis.rdf ({sorted(all_pairs) or 'none'})"
            )
            return
        if observable in all_pairs and not (
            target.get("cutoff_angstrom") or all_pairs[observable].get("cutoff_angstrom")
        ):
            problems.append(
                f"{key}: pair {observable!r} has no cutoff_angstrom, and the MD job has no "
                "g(r) to take a first minimum from; give one in the target "
                f"({key}.cutoff_angstrom) or in analysis.rdf.pairs.{observable}"
            )
            return
    systems = list(config["systems"]) or [None]
    for system in systems:
        try:
            settings = (
                md_protocol_settings(config, system)
                if system is not None
                else dict(config["md"]["protocol"])
            )
            MDProtocol(**settings)
        except (TypeError, ValueError) as error:
            problems.append(f"md.protocol: {error}")
            return
        except AnalysisError:
            return  # the pairs' own problem, reported by _check_pairs


#: Plausible ranges the schema cannot state (or states too loosely); beyond them a run
#: is a typo, not a study.
MAX_TEMPERATURE_KELVIN = 1000.0
MAX_SOLVENT_MOLECULES = 1_000_000
MAX_PACKING_TOLERANCE_ANGSTROM = 4.0
MAX_TIMESTEP_FS = 5.0


def _non_finite(node: Any, path: str) -> list[str]:
    """Key paths of NaN or infinite numbers anywhere under ``node``."""
    if isinstance(node, float):
        return [] if math.isfinite(node) else [path]
    if isinstance(node, Mapping):
        return [p for k, v in node.items() for p in _non_finite(v, f"{path}.{k}" if path else k)]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _non_finite(v, f"{path}[{i}]")]
    return []


def _check_limits(config: Mapping[str, Any], problems: list[str]) -> None:
    """Values the schema accepts but no study means: NaN, 10^6 K, two temperatures that
    share a run folder, a salt at 0 M, solvent fractions that do not sum to 1, boxes
    Packmol cannot pack, a step no integrator survives, a comparison pair nobody has."""
    for path in _non_finite(config, ""):
        problems.append(f"{path}: not a finite number (NaN or infinity); give a number")
    temperatures = config["md"]["temperatures_kelvin"]
    for t in temperatures:
        if math.isfinite(t) and t > MAX_TEMPERATURE_KELVIN:
            problems.append(
                f"md.temperatures_kelvin: {t:g} K is above {MAX_TEMPERATURE_KELVIN:g} K; "
                "a liquid electrolyte model means nothing there (a typo?)"
            )
    folders: dict[str, list[float]] = {}
    for t in temperatures:
        folders.setdefault(f"{t:g}", []).append(t)
    for folder, values in folders.items():
        if len(values) > 1:
            problems.append(
                f"md.temperatures_kelvin: {', '.join(map(repr, values))} share the run folder "
                f"{folder}K (temperatures are named to 6 significant digits); give each once"
            )
    protocol = config["md"]["protocol"]
    timestep = protocol.get("timestep_fs")
    if timestep is not None and math.isfinite(timestep) and timestep > MAX_TIMESTEP_FS:
        problems.append(
            f"md.protocol.timestep_fs: {timestep:g} fs is more than {MAX_TIMESTEP_FS:g} fs, "
            "where even hydrogen mass repartitioning is unstable; use 4 fs with "
            "hydrogen_mass_amu, or 2 fs without"
        )
    start = protocol.get("heating_start_kelvin")
    finite_t = [t for t in temperatures if math.isfinite(t)]
    if start is not None and math.isfinite(start) and finite_t and start > max(finite_t):
        problems.append(
            f"md.protocol.heating_start_kelvin: {start:g} K is above every temperature of "
            f"the study (at most {max(finite_t):g} K); heating ramps up to the target"
        )
    tolerance = config["packing"].get("tolerance_angstrom", 2.0)
    if math.isfinite(tolerance) and tolerance > MAX_PACKING_TOLERANCE_ANGSTROM:
        problems.append(
            f"packing.tolerance_angstrom: {tolerance:g} A is more than "
            f"{MAX_PACKING_TOLERANCE_ANGSTROM:g} A; Packmol cannot keep atoms of a liquid "
            "that far apart and never finishes (2 A is usual)"
        )
    for system, spec in config["systems"].items():
        n = spec["n_solvent_molecules"]
        if n > MAX_SOLVENT_MOLECULES:
            problems.append(
                f"systems.{system}.n_solvent_molecules: {n} is more than "
                f"{MAX_SOLVENT_MOLECULES:,}, beyond what Packmol packs and one GPU runs"
            )
        fractions = [v for v in spec["solvents"].values() if math.isfinite(v)]
        total = sum(fractions)
        if fractions and abs(total - 1.0) > 1e-6:
            problems.append(
                f"systems.{system}.solvents: the volume fractions sum to {total:g}; give "
                "fractions that sum to 1 (they are not renormalised for you)"
            )
        for salt, molar in spec.get("salts", {}).items():
            if molar == 0:
                problems.append(
                    f"systems.{system}.salts.{salt}: 0 mol/L would build a box without its "
                    "ions while their pairs stay configured; remove the salt from the system"
                )
    pair = config["analysis"].get("comparison", {}).get("cn_pair")
    # the default pair (Li-P) is only expected where there is a salt
    has_salt = any(spec.get("salts") for spec in config["systems"].values())
    if pair and (has_salt or pair != "Li-P"):
        names: set[str] = set()
        for system in config["systems"]:
            with contextlib.suppress(AnalysisError):  # reported by _check_pairs
                names |= set(system_pairs(config, system))
        if names and pair not in names:
            problems.append(
                f"analysis.comparison.cn_pair: {pair!r} is not an RDF pair of any system "
                f"({', '.join(sorted(names))}); name one of them or add it under "
                "analysis.rdf.pairs"
            )


def _check_binding_xtb(config: Mapping[str, Any], problems: list[str]) -> None:
    for pair, spec in (config.get("binding_xtb") or {}).get("pairs", {}).items():
        for role in ("host", "guest"):
            if spec[role] not in config["species"]:
                problems.append(f"binding_xtb.pairs.{pair}: {role} '{spec[role]}' is not a species")
        if spec["host"] == spec["guest"]:
            problems.append(f"binding_xtb.pairs.{pair}: host and guest are the same species")
        if "reuse" in spec and not Path(spec["reuse"]).is_file():
            problems.append(f"binding_xtb.pairs.{pair}: reuse file {spec['reuse']} not found")


def _check_validation(config: Mapping[str, Any], problems: list[str]) -> None:
    validation = config.get("validation") or {}
    for k, entry in enumerate(validation.get("experiments", [])):
        for kind, defined in (("species", config["species"]), ("system", config["systems"])):
            name = entry.get(kind)
            if name is not None and name not in defined:
                problems.append(
                    f"validation.experiments[{k}].{kind}: {name!r} is not a {kind} of the "
                    f"configuration ({', '.join(defined)})"
                )
    for system in validation.get("measured_densities", {}):
        if system not in config["systems"]:
            problems.append(f"validation.measured_densities: '{system}' is not a system")
    for system in validation.get("paper_systems", []):
        if system not in config["systems"]:
            problems.append(
                f"validation.paper_systems: '{system}' is not a system (systems: "
                + ", ".join(config["systems"])
                + ")"
            )
    if validation.get("paper") and not additive_pairs(config):
        problems.append(
            "validation.paper: needs a system with an additive and the same system "
            "without it (the paper compares LiPF6-NMP with and without Ti6(HPAB))"
        )


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that records keys given twice in one mapping (PyYAML keeps the last
    silently, and so does Snakemake)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                self.duplicates.append(
                    f"line {key_node.start_mark.line + 1}: key {key!r} given twice"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def check_config_files(paths: Sequence[str | Path]) -> None:
    """Refuse configuration files that give a key twice in one mapping.

    Snakemake reads them with PyYAML, which keeps the last value without a word: a
    second ``md:`` block silently replaces the first.

    Raises
    ------
    ConfigError
        Naming each file, line and key.
    """
    problems = []
    for path in map(Path, paths):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue  # Snakemake reports a missing file itself
        loader = _UniqueKeyLoader(text)
        try:
            loader.get_single_data()
        except yaml.YAMLError:
            continue  # not YAML: Snakemake reports the parse error itself
        finally:
            loader.dispose()
        problems += [f"{path}: {d}; keep one of them" for d in loader.duplicates]
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"invalid configuration file:\n{listing}")


def check_config(
    config: Mapping[str, Any],
    source: str = "the configuration",
    files: Sequence[str | Path] = (),
) -> None:
    """Check a schema-valid configuration for chemical and physical consistency.

    Parameters
    ----------
    config
        The configuration after schema validation (defaults filled in).
    source
        The configuration file(s), named in the error message.
    files
        The files read, highest precedence first (:func:`config_files_in_effect`): each
        problem names the one that sets its key.

    Raises
    ------
    ConfigError
        Listing every problem found, one per line.
    """
    problems: list[str] = []
    charges = _check_species(config, problems)
    _check_systems(config, charges, problems)
    _check_pairs(config, problems)
    _check_md(config, problems)
    _check_binding_xtb(config, problems)
    _check_validation(config, problems)
    _check_sweeps(config, problems)
    _check_limits(config, problems)
    _check_frames(config, problems)
    _check_cache_dir(config, problems)
    if problems:
        raise _refusal(problems, [Path(f) for f in files], source)


# --- where a problem comes from ---------------------------------------------------------


def config_files_in_effect(
    workflow_files: Sequence[str | Path],
    command_line_files: Sequence[str | Path],
    replaced: bool,
) -> list[Path]:
    """The configuration files a run reads, the one that wins a key first.

    Snakemake lists the command line's ``--configfile`` files and the workflow's own
    (``config/config.yaml``) in ``workflow.configfiles``; the command line's win, the
    later of them over the earlier, and ``--replace-workflow-config`` drops the
    workflow's file altogether, so a message naming it would send the user to a file
    that played no part.
    """
    cli = [Path(f) for f in command_line_files]
    own = [Path(f) for f in workflow_files if Path(f) not in cli]
    return list(reversed(cli)) if replaced else [*reversed(cli), *own]


def _key_parts(key_path: str) -> list[str]:
    """``systems.S.salts.LiPF6`` -> its keys; list indices (``[0]``) end the path."""
    return key_path.split("[", 1)[0].split(".")


def _file_setting(key_path: str, files: Sequence[Path]) -> Path | None:
    """The first of ``files`` (highest precedence first) that gives ``key_path``."""
    for path in files:
        try:
            node: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        for key in _key_parts(key_path):
            if not isinstance(node, Mapping) or key not in node:
                break
            node = node[key]
        else:
            return path
    return None


def _located(problem: str, files: Sequence[Path]) -> str:
    """A problem ``key.path: text`` with the file that sets the key named after it."""
    key, sep, text = problem.partition(": ")
    if not sep or " " in key:
        return problem
    where = _file_setting(key, files)
    return f"{key} (in {where}): {text}" if where else problem


def _refusal(problems: Sequence[str], files: Sequence[Path], source: str) -> ConfigError:
    listing = "\n".join(f"  - {_located(p, files)}" for p in problems)
    return ConfigError(f"invalid configuration in {source}:\n{listing}")


# --- the schema, with messages a user can act on ----------------------------------------

#: A value quoted in a schema message is cut to this many characters (a misspelt
#: top-level key made jsonschema print the whole configuration: 1,287 lines).
_MAX_QUOTED = 80


def _schema_validator(schema: Mapping[str, Any]):
    """Draft 2020-12 validation that fills in defaults, as Snakemake's ``validate``."""
    from jsonschema import Draft202012Validator, validators

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if isinstance(sub, Mapping) and "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from Draft202012Validator.VALIDATORS["properties"](
            validator, properties, instance, schema
        )

    extended = validators.extend(Draft202012Validator, {"properties": set_defaults})
    return extended(dict(schema))


def _short(text: str) -> str:
    return text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 3] + "..."


def _schema_problem(error) -> list[str]:
    """One line per problem of a jsonschema ``ValidationError``: key path, what is wrong,
    what the key is for (its schema description) and, for an unknown key, the closest
    allowed key and all the allowed ones."""
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = sorted(error.schema.get("properties", {}))
        lines = []
        for key in error.instance:
            if key in allowed:
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            lines.append(
                f"{path + '.' if path else ''}{key}: unknown key; {hint}the keys allowed "
                f"{'under ' + path if path else 'at the top level'} are " + ", ".join(allowed)
            )
        if lines or not allowed:
            return lines or [f"{path}: {_short(error.message)}"]
    description = " ".join(str(error.schema.get("description", "")).split())
    what = f" ({_short(description.split('. ')[0].rstrip('.'))})" if description else ""
    simple = ("type", "minimum", "maximum", "exclusiveMinimum", "enum", "pattern", "maxLength")
    if error.validator in simple:
        value = repr(error.instance)
        if len(value) > _MAX_QUOTED // 2:
            value = f"{value[: _MAX_QUOTED // 2 - 3]}... ({len(str(error.instance))} characters)"
        if "propertyNames" in error.schema_path:
            value = f"the name {value}"
        limit = error.validator_value
        rule = {
            "type": f"must be of type {limit}",
            "minimum": f"is less than the minimum of {limit}",
            "maximum": f"is more than the maximum of {limit}",
            "exclusiveMinimum": f"must be more than {limit}",
            "enum": f"is not one of {_short(repr(limit))}",
            "pattern": f"does not match the pattern {limit!r}",
            "maxLength": f"is longer than {limit} characters",
        }[error.validator]
        return [f"{path or 'the configuration'}: {value} {rule}{what}"]
    return [f"{path or 'the configuration'}: {_short(error.message)}{what}"]


def schema_problems(config: Mapping[str, Any], schema_path: str | Path) -> list[str]:
    """Every place where ``config`` breaks the schema, one readable line each.

    Snakemake's own message names neither file nor fix, and prints the offending value
    whole; this one is for the user (the workflow still validates with Snakemake, which
    fills in the defaults).
    """
    schema = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
    validator = _schema_validator(schema)
    errors = sorted(
        validator.iter_errors(copy.deepcopy(dict(config))),
        key=lambda e: [str(p) for p in e.absolute_path],
    )
    problems: list[str] = []
    for error in errors:
        for line in _schema_problem(error):
            if line not in problems:
                problems.append(line)
    return problems


def check_schema(
    config: Mapping[str, Any],
    schema_path: str | Path,
    files: Sequence[str | Path] = (),
    source: str = "the configuration",
) -> None:
    """Refuse a configuration that breaks the schema, naming key, file and fix.

    Raises
    ------
    ConfigError
        Listing every problem, each with the file that sets the key.
    """
    problems = schema_problems(config, schema_path)
    if problems:
        raise _refusal(problems, [Path(f) for f in files], source)


# --- numbers of frames, atom selections, writable paths ---------------------------------


def _check_frames(config: Mapping[str, Any], problems: list[str]) -> None:
    """Enough production frames for the analysis: ``skip_ps`` must leave some, and the
    blocks of the first -> last trend need a frame each (1000 blocks of 18 frames gave
    an empty error bar with exit status 0)."""
    protocol = config["md"]["protocol"]
    production = protocol.get("production_ps")
    interval = protocol.get("report_interval_ps")
    skip = config["analysis"].get("skip_ps", 0.0)
    values = (production, interval, skip)
    if None in values or not all(math.isfinite(v) for v in values) or interval <= 0:
        return  # the schema or _check_limits reports these
    if protocol.get("production_target") is None and skip >= production:
        problems.append(
            f"analysis.skip_ps: {skip:g} ps drops the whole production "
            f"(md.protocol.production_ps: {production:g} ps); skip less or run longer"
        )
        return
    frames = int((production - skip) / interval + 1e-9)
    n_blocks = config["analysis"]["rdf"].get("n_blocks", 5)
    if n_blocks > frames:
        problems.append(
            f"analysis.rdf.n_blocks: {n_blocks} blocks, but the production gives "
            f"{frames} frames to analyse (md.protocol.production_ps {production:g} ps "
            f"every report_interval_ps {interval:g} ps, less analysis.skip_ps {skip:g} ps); "
            f"use at most {frames} blocks or a longer production"
        )


#: Selection words a universe built from the configuration reproduces faithfully
#: (residue names and elements are the configuration's); with any other word (atom
#: names, types, geometry) an empty match is left to the analysis job, which has the
#: real topology.
_MODELLED_WORDS = {"resname", "element", "and", "or", "not", "(", ")"}


def _species_elements(config: Mapping[str, Any], name: str) -> set[str]:
    spec = config["species"][name]
    if "cluster" in spec:
        # the cluster's atoms: Ti-oxo core, ligands and their hydrogens

        smiles = [
            resolve_ligand(spec["cluster"][kind], kind) for kind in ("carboxylate", "alkoxide")
        ]
        elements = {"Ti", "O", "H"}
    else:
        smiles, elements = [spec["smiles"]], set()
    for text in smiles:
        mol = Chem.MolFromSmiles(text)
        if mol is None:
            raise ValueError(text)
        elements |= {a.GetSymbol() for a in Chem.AddHs(mol).GetAtoms()}
    return elements


def _configured_universe(
    config: Mapping[str, Any], system: str, elements: dict[str, set[str]] | None = None
):
    """A universe of one residue per species of ``system``, one atom per element, with
    the configured residue names: enough to parse a selection and, for one using only
    ``resname``/``element``, to tell whether it can match anything."""
    import MDAnalysis  # only when jobs are about to run (check_selections)

    elements = {} if elements is None else elements  # species -> elements, reused
    atoms: list[tuple[str, str]] = []
    for name in system_species(config, system):
        if name not in elements:
            elements[name] = _species_elements(config, name)
        residue = config["species"][name]["residue"]
        atoms += [(residue, element) for element in sorted(elements[name])]
    residues = list(dict.fromkeys(r for r, _ in atoms))
    universe = MDAnalysis.Universe.empty(
        len(atoms),
        n_residues=len(residues),
        atom_resindex=[residues.index(r) for r, _ in atoms],
        trajectory=True,
    )
    universe.add_TopologyAttr("resnames", residues)
    universe.add_TopologyAttr("resids", list(range(1, len(residues) + 1)))
    universe.add_TopologyAttr("elements", [e for _, e in atoms])
    universe.add_TopologyAttr("names", [e for _, e in atoms])
    universe.add_TopologyAttr("types", [e for _, e in atoms])
    universe.add_TopologyAttr("masses", [1.0] * len(atoms))
    universe.add_TopologyAttr("charges", [0.0] * len(atoms))
    return universe


def _only_modelled_words(selection: str) -> bool:
    """Whether a selection uses only ``resname`` and ``element`` (with and/or/not)."""
    tokens = selection.replace("(", " ( ").replace(")", " ) ").split()
    expecting_value = False
    for token in tokens:
        if token in _MODELLED_WORDS and token not in ("resname", "element"):
            expecting_value = False
        elif token in ("resname", "element"):
            expecting_value = True
        elif not expecting_value:
            return False
    return True


def check_selections(
    config: Mapping[str, Any],
    source: str = "the configuration",
    files: Sequence[str | Path] = (),
) -> None:
    """Refuse RDF selections that do not parse, or that name only residues and elements
    and match no atom of a system they apply to: before the MD, not after it.

    Apart from :func:`check_config` because it needs MDAnalysis (0.8 s to import), which
    reading the rules must not load: the workflow calls it when jobs are about to run.

    Raises
    ------
    ConfigError
        Naming each pair and role, the selection, and the residues there are.
    """
    problems: list[str] = []
    _check_selections(config, problems)
    if problems:
        raise _refusal(problems, [Path(f) for f in files], source)


def _check_selections(config: Mapping[str, Any], problems: list[str]) -> None:
    # the configuration's own residues and elements; analysis is a higher stage, but
    # MDAnalysis' parser is the one the analysis uses
    from MDAnalysis.exceptions import SelectionError

    reported: set[str] = set()
    elements: dict[str, set[str]] = {}
    for system in config["systems"]:
        try:
            pairs = system_pairs(config, system)
            universe = _configured_universe(config, system, elements)
        except (AnalysisError, KeyError, ValueError):
            continue  # a bad species or pair: reported by the checks above
        for pair, spec in pairs.items():
            for role in ("center", "ligand"):
                key = f"analysis.rdf.pairs.{pair}.{role}"
                selection = spec[role]
                try:
                    matched = universe.select_atoms(selection)
                except (SelectionError, ValueError, TypeError, AttributeError) as error:
                    if key not in reported:
                        reported.add(key)
                        problems.append(
                            f"{key}: {selection!r} is not an MDAnalysis selection "
                            f"({str(error).strip() or type(error).__name__}); see "
                            "https://userguide.mdanalysis.org/stable/selections.html"
                        )
                    continue
                if not matched.n_atoms and _only_modelled_words(selection) and key not in reported:
                    reported.add(key)
                    present = ", ".join(
                        f"{r.resname} ({' '.join(sorted(set(r.atoms.elements)))})"
                        for r in universe.residues
                    )
                    problems.append(
                        f"{key}: {selection!r} matches no atom of system {system!r}, whose "
                        f"residues are {present}; correct the residue or element name"
                    )


def _check_cache_dir(config: Mapping[str, Any], problems: list[str]) -> None:
    """The parameter cache must be creatable: its nearest existing folder writable."""
    cache = config["forcefield"].get("cache_dir")
    if not cache:
        return
    path = Path(cache).expanduser().absolute()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        return
    why = "is not a folder" if not existing.is_dir() else "is not writable"
    problems.append(
        f"forcefield.cache_dir: {cache!r} cannot be used: {existing} {why}; name a "
        "writable folder, or null to work without a cache"
    )
