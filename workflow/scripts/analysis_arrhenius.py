"""Arrhenius activation energies of D in one system (Snakemake script)."""

from electrolyte_md.logs import log_to_file
from electrolyte_md.study import write_arrhenius

log_to_file(snakemake.log[0])
write_arrhenius(
    snakemake.input.summary,
    snakemake.output.table,
    snakemake.output.png,
    title=f"Arrhenius plot, {snakemake.wildcards.system}",
)
