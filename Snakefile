# Electrolyte MD workflow: structures -> force field -> OpenMM MD -> analysis -> report.
# The science lives in the electrolyte_md package (src/); rules only wire files together.


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/structures.smk"
include: "workflow/rules/forcefield.smk"
include: "workflow/rules/md.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/dft.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        final_outputs(),
    default_target: True
