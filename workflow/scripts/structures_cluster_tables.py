"""Charge and Ti-O distance tables of one metal-oxo cluster species (Snakemake script)."""

from electrolyte_md.cluster.tables import write_cluster_tables
from electrolyte_md.logs import log_to_file

log_to_file(snakemake.log[0])
write_cluster_tables(snakemake.input.info, snakemake.output.charges, snakemake.output.geometry)
