# Electrolyte MD workflow: structures -> force field -> OpenMM MD -> analysis -> report.
# The science lives in the electrolyte_md package (src/); rules only wire files together.


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


#: one conda environment per stage (snakemake --sdm conda), named after its rule file;
#: paths relative to workflow/rules/. The pins are pyproject's (tests/test_envs.py).
ENVS = {
    stage: f"../../envs/{stage}.yaml"
    for stage in ("structures", "forcefield", "md", "analysis", "dft", "report")
}


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
