"""The paper's numbers against this study, one verdict per row (Snakemake script)."""

from electrolyte_md.logs import log_to_file
from electrolyte_md.study.validation import write_validation

log_to_file(snakemake.log[0])
params = snakemake.params
write_validation(
    snakemake.input.comparison,
    params.rdf_dirs,
    [tuple(run) for run in params.md_runs],
    params.measured_densities,
    snakemake.output.table,
    binding_csv=snakemake.input.binding[0] if snakemake.input.binding else None,
    cn_pair=params.cn_pair,
)
