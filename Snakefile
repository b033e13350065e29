# Electrolyte MD workflow: structures -> force field -> OpenMM MD -> analysis -> report.
# The science lives in the electrolyte_md package (src/, one subpackage per stage); the
# rules in workflow/rules/<stage>.smk only wire files together, each declaring its outputs.
#
# Paths (wildcards in braces), each stage under results/:
#   species/{species}/            structure.sdf, species.json, params/ (force field)
#   systems/{system}/             composition.json, box.pdb, system.xml/.prmtop, forcefield.json
#   md/{system}/{temperature}K/rep{replica}/        MD outputs of one run (prod.dcd, ...)
#   analysis/{system}/{temperature}K/rep{replica}/  analyses of one run (rdf/, transport.json)
#   analysis/{system}/            coordination.csv, summary.csv, arrhenius.* (all runs)
#   binding_xtb/{pair}/, dft/     binding energies (GFN2-xTB route, DFT outputs)
#   report/, report.html          the report's tables and the report itself
#   logs/, benchmarks/            one log and one timing per job, by rule, then as above


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


# before the first job (not in dry runs): checks that need MDAnalysis
onstart:
    refuse_bad_selections()


#: one conda environment per stage (snakemake --sdm conda), named after its rule file;
#: paths relative to workflow/rules/. The pins are pyproject's (tests/test_envs.py).
ENVS = {
    stage: f"../../envs/{stage}.yaml"
    for stage in ("structures", "forcefield", "md", "analysis", "dft", "report")
}
# GPU nodes: the MD stage's environment with OpenMM's CUDA or HIP platform (md.gpu_package)
if config["md"].get("gpu_package"):
    ENVS["md"] = f"../../envs/md-{config['md']['gpu_package']}.yaml"


wildcard_constraints:
    species="[A-Za-z][A-Za-z0-9_]*",
    system="[A-Za-z][A-Za-z0-9_]*",
    temperature=r"\d+(\.\d+)?",
    replica=r"\d+",
    pair="[A-Za-z0-9_-]+",


include: "workflow/rules/structures.smk"
include: "workflow/rules/forcefield.smk"
include: "workflow/rules/md.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/dft.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
        # made after every other output: code, versions, force fields, runtimes
        f"{RESULTS}/report/provenance.csv",
        f"{RESULTS}/report/runtimes.csv",
