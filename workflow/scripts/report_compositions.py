"""Table of box compositions and force-field sources (Snakemake script)."""

from electrolyte_md.io import atomic_write_text
from electrolyte_md.logs import log_to_file
from electrolyte_md.study.report import compositions_table

log_to_file(snakemake.log[0])
table = compositions_table(snakemake.input.compositions, snakemake.input.forcefields)
atomic_write_text(snakemake.output.table, table.to_csv(index=False))
