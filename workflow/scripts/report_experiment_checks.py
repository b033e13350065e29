"""Simulation against the measured values of the configuration (Snakemake script)."""

from electrolyte_md.logs import log_to_file
from electrolyte_md.study.experiment import write_experiment_table

log_to_file(snakemake.log[0])
write_experiment_table(
    snakemake.params.experiments,
    snakemake.input.summaries,
    snakemake.params.systems,
    snakemake.output.table,
    snakemake.output.table_html,
)
