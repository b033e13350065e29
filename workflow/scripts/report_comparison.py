"""Systems with and without the additive beside the paper's values (Snakemake script)."""

from electrolyte_md.logs import log_to_file
from electrolyte_md.study.summary import write_comparison

log_to_file(snakemake.log[0])
write_comparison(
    snakemake.input.summaries,
    [tuple(pair) for pair in snakemake.params.pairs],
    snakemake.output.table,
    paper_systems=snakemake.params.paper_systems,
    **snakemake.params.options,
)
