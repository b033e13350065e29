"""Table of MD runs: platform, speed, mean temperature and density (Snakemake script)."""

from electrolyte_md.io import atomic_write_text
from electrolyte_md.logs import log_to_file
from electrolyte_md.study.report import md_summary_table

log_to_file(snakemake.log[0])
table = md_summary_table(snakemake.input.summaries, snakemake.input.compositions)
atomic_write_text(snakemake.output.table, table.to_csv(index=False, float_format="%.5g"))
