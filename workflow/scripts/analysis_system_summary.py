"""Replica means and errors of a system: coordination, shells, transport (Snakemake script)."""

from electrolyte_md.logs import log_to_file
from electrolyte_md.study import write_system_summary

log_to_file(snakemake.log[0])
write_system_summary(
    snakemake.wildcards.system,
    snakemake.input.rdf,
    snakemake.input.solvation,
    snakemake.input.transport,
    snakemake.output.table,
    pairs=snakemake.params.pairs,
)
