"""Coordination numbers of all pairs, temperatures and replicas of a system (Snakemake script)."""

from electrolyte_md.analysis import coordination_table
from electrolyte_md.io import atomic_write_text
from electrolyte_md.logs import log_to_file
from electrolyte_md.study import rdf_run_records

log_to_file(snakemake.log[0])
# cn_<pair>.json of .../{system}/{temperature}K/rep{replica}/rdf, tagged with the run
records = rdf_run_records(snakemake.input.rdf, snakemake.params.pairs)
table = coordination_table(records)
atomic_write_text(snakemake.output.table, table.to_csv(index=False, float_format="%.4f"))
