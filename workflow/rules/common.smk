# Helpers shared by every stage: validation, wildcard values, path builders.

from snakemake.utils import min_version, validate

from electrolyte_md.config import (
    analysis_pairs,
    charge_scales,
    check_config,
    species_parameters,
    system_species,
)
from electrolyte_md.dft.binding import manifest_files

min_version("9.0")


validate(config, schema="../schemas/config.schema.yaml")
check_config(
    config, source=", ".join(map(str, workflow.configfiles)) or "the configuration"
)


RESULTS = "results"
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
CONDA_ENV = "../../envs/electrolyte-md.yaml"


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


def cluster_document(wildcards):
    """The committed cluster document a cluster species reuses, if any."""
    cluster = config["species"][wildcards.species].get("cluster") or {}
    return [cluster["structure"]] if "structure" in cluster else []


def rdf_outputs(system):
    return [
        f"{RESULTS}/analysis/{system}/{t}K/rep{r}/cn_{pair}.json"
        for t in temperatures()
        for r in replicas()
        for pair in analysis_pairs(config, system)
    ]


def cluster_species(system=None):
    """Species given as a `cluster` block, all or those in one system."""
    names = system_species(config, system) if system else list(config["species"])
    return [s for s in names if "cluster" in config["species"][s]]


def final_outputs():
    outputs = [
        f"{RESULTS}/report/config_used.yaml",
        f"{RESULTS}/report/compositions.csv",
        f"{RESULTS}/report/md_summary.csv",
    ]
    for species in cluster_species():
        outputs.append(f"{RESULTS}/species/{species}/cluster_charges.csv")
        outputs.append(f"{RESULTS}/species/{species}/cluster_geometry.csv")
    for system in config["systems"]:
        outputs.append(f"{RESULTS}/analysis/{system}/coordination.csv")
        for run in run_dirs(system):
            outputs.append(f"{run}/energies.png")
            for species in cluster_species(system):
                outputs.append(f"{run}/cluster_{species}.png")
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
