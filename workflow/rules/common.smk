# Helpers shared by every stage: validation, wildcard values, path builders.

import functools
import re
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from electrolyte_md.config import (
    additive_pairs,
    charge_sweeps,
    check_config,
    check_config_files,
    check_schema,
    check_selections,
    config_files_in_effect,
    expand_charge_sweeps,
    md_protocol_settings,
    species_charge,
    species_parameters,
    system_charge_scales,
    system_pairs,
    system_species,
)
from electrolyte_md.study.paper import PAPER
from electrolyte_md.dft.binding import manifest_files
from electrolyte_md.errors import ConfigError

min_version("9.0")


# The files this run reads, the one that wins a key first (--replace-workflow-config
# drops config/config.yaml): every refusal names the file that sets the key.
CONFIG_FILES = config_files_in_effect(
    workflow.configfiles,
    workflow.config_settings.configfiles,
    workflow.config_settings.replace_workflow_config,
)


def refuse_bad_configuration():
    """Check files, schema and chemistry before any job. A user's mistake is printed as
    the message alone (key, file, fix) and the run ends with status 1: raised here, even
    as a WorkflowError, Snakemake would print traceback lines under it."""
    source = ", ".join(map(str, CONFIG_FILES)) or "the configuration"
    try:
        check_config_files(CONFIG_FILES)
        try:
            # also fills in the defaults
            validate(config, schema="../schemas/config.schema.yaml")
        except WorkflowError:
            # Snakemake's message names no file and prints the value whole: ours, if
            # it finds the problem (validating twice costs only when there is one)
            check_schema(config, SCHEMA, CONFIG_FILES, source)
            raise
        check_config(config, source, CONFIG_FILES)
    except ConfigError as error:
        print(error, file=sys.stderr)
        raise SystemExit(1)


def refuse_bad_selections():
    """RDF selections need MDAnalysis, which reading the rules does not load: checked
    when jobs are about to run (onstart), still before any."""
    try:
        check_selections(config, ", ".join(map(str, CONFIG_FILES)), CONFIG_FILES)
    except ConfigError as error:
        print(error, file=sys.stderr)
        raise SystemExit(1)


SCHEMA = workflow.source_path("../schemas/config.schema.yaml")
refuse_bad_configuration()
# a charge-scaling sweep becomes one system per factor (<system>_q080 ...): the factor is
# part of the system wildcard from here on; SWEEPS keeps what was swept, for the report
SWEEPS = charge_sweeps(config)
SWEPT_EXPERIMENTS = [
    entry
    for entry in config["validation"]["experiments"]
    if entry.get("system") in SWEEPS
]
config.update(expand_charge_sweeps(config))
SPECIES_CHARGES = {
    name: species_charge(name, spec) for name, spec in config["species"].items()
}


RESULTS = "results"
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
# conda environments per stage: ENVS in the Snakefile


def temperatures():
    """Temperatures as path components (298.15 -> '298.15')."""
    return [f"{t:g}" for t in config["md"]["temperatures_kelvin"]]


def replicas():
    return list(range(1, config["md"]["replicas"] + 1))


def run_dirs(system):
    return [
        f"{RESULTS}/md/{system}/{t}K/rep{r}" for t in temperatures() for r in replicas()
    ]


def species_of(wildcards):
    return system_species(config, wildcards.system)


def species_files(name):
    """Input function: one file of every species in the system."""

    def inputs(wildcards):
        return [
            f"{RESULTS}/species/{s}/{name}"
            for s in system_species(config, wildcards.system)
        ]

    return inputs


def species_file(species, name):
    return f"{RESULTS}/species/{species}/{name}"


def xtb_pairs():
    """Host-guest pairs of the built-in GFN2-xTB binding route (empty by default)."""
    return config.get("binding_xtb", {}).get("pairs", {})


def xtb_pair(wildcards):
    return xtb_pairs()[wildcards.pair]


def xtb_binding_settings():
    """The numerical settings of the GFN2-xTB binding route (BindingSettings fields)."""
    section = config.get("binding_xtb", {})
    keys = (
        "fmax_ev_per_angstrom",
        "max_steps",
        "contact_angstrom",
        "bond_change_angstrom",
    )
    settings = {k: section[k] for k in keys if k in section}
    if "placements" in section:
        settings["placement_kinds"] = list(section["placements"])
    return settings


def cluster_document(wildcards):
    """The committed cluster document a cluster species reuses, if any."""
    cluster = config["species"][wildcards.species].get("cluster") or {}
    return [cluster["structure"]] if "structure" in cluster else []


def rdf_outputs(system):
    """The RDF directory (rdf_<pair>.csv/.png, cn_<pair>.json) of every run of a system."""
    return run_files(system, "rdf")


def pair_names(wildcards):
    """Params function: the RDF pairs analysed in the system of a job, sorted."""
    return sorted(system_pairs(config, wildcards.system))


def headline_rdfs():
    """The RDF directories of every run of the systems that have the headline pair
    (analysis.comparison.cn_pair: Li-P by default); the job reads its rdf_<pair>.csv."""
    pair = config["analysis"]["comparison"].get("cn_pair", "Li-P")
    return [
        directory
        for system in config["systems"]
        if pair in system_pairs(config, system)
        for directory in rdf_outputs(system)
    ]


def run_files(system, name):
    """One analysis file of every run (temperature, replica) of a system."""
    return [
        f"{RESULTS}/analysis/{system}/{t}K/rep{r}/{name}"
        for t in temperatures()
        for r in replicas()
    ]


def salt_ions(system, role):
    """Salt cations or anions of a system (species names, no repeats)."""
    salts = config["systems"][system].get("salts", {})
    return list(dict.fromkeys(config["salts"][salt][role] for salt in salts))


def has_salt(system):
    """Whether a system has a salt cation and anion (then its runs get solvation shells)."""
    return bool(salt_ions(system, "cation") and salt_ions(system, "anion"))


def salt_free_systems():
    return [system for system in config["systems"] if not has_salt(system)]


def names_regex(names):
    """Wildcard constraint matching exactly these names (none: a regex that never matches)."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


@functools.cache
def system_run_params(system):
    """What the analysis of a run needs to know about its system (computed once)."""
    species = system_species(config, system)
    return {
        "pairs": system_pairs(config, system),
        "cation": salt_ions(system, "cation"),
        "anions": salt_ions(system, "anion"),
        "residues": {s: config["species"][s]["residue"] for s in species},
        "charges": {s: species_charge(s, config["species"][s]) for s in species},
    }


def cluster_species(system=None):
    """Species given as a `cluster` block, all or those in one system."""
    names = system_species(config, system) if system else list(config["species"])
    return [s for s in names if "cluster" in config["species"][s]]


def final_outputs():
    """An output of every job that no other job reads: with what those read, every job.

    The provenance table and the default target ask for these only, and one analysis
    file per run. A job of a run or a system whose outputs another job reads is reached
    through that job; naming each of its files again cost Snakemake a producer lookup per
    file (44,000 more at 1,000 systems, benchmarks/measured/dry_run.md) for the same
    jobs. Every output of a job is made, checked and reported whichever of its files is
    named.
    """
    outputs = [
        f"{RESULTS}/report/config_used.yaml",
        f"{RESULTS}/report/compositions.csv",
        # every MD run (md_summary.json) and the preparation of every system
        f"{RESULTS}/report/md_summary.csv",
    ]
    for species in cluster_species():
        outputs.append(f"{RESULTS}/species/{species}/cluster_charges.csv")
        outputs.append(f"{RESULTS}/species/{species}/cluster_geometry.csv")
    # every system's tables (summary.csv), hence the analysis of each of its runs
    # (analyze_run: RDFs, solvation, transport and the energy plot)
    outputs.append(f"{RESULTS}/report/comparison.csv")
    outputs.append(f"{RESULTS}/report/overview.csv")
    if config["validation"]["paper"]:
        outputs.append(f"{RESULTS}/report/paper_validation.csv")
    if config["validation"]["experiments"]:
        outputs.append(f"{RESULTS}/report/experiment.csv")
    if SWEEPS:
        outputs.append(f"{RESULTS}/report/charge_sweep.csv")
    for system in config["systems"]:
        # one file per run as well: a run added to a study restored without Snakemake's
        # records (python -m electrolyte_md.progress restore) changes no table's mtime,
        # so only a missing file of its own makes it run
        outputs += run_files(system, "transport.json")
        for species in cluster_species(system):
            outputs += run_files(system, f"cluster_{species}.png")
    outputs += [f"{RESULTS}/binding_xtb/{pair}/binding.csv" for pair in xtb_pairs()]
    if xtb_pairs() or dft_manifest():
        outputs.append(f"{RESULTS}/report/binding_comparison.csv")
    if dft_manifest():
        outputs += [
            f"{RESULTS}/dft/binding_energies.csv",
            f"{RESULTS}/dft/atomic_charges.csv",
        ]
    return outputs


def dft_manifest():
    """Complexes of the dft section (empty by default: no DFT rule runs)."""
    return config.get("dft", {}).get("binding", {})


def dft_output_files():
    """Every quantum-chemistry output the dft manifest names."""
    return manifest_files(dft_manifest())
