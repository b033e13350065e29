"""Provenance and per-rule runtime tables for the report (Snakemake script)."""

from pathlib import Path

from electrolyte_md.io import atomic_write_text
from electrolyte_md.logs import log_to_file
from electrolyte_md.study.provenance import provenance_table, runtimes_table

log_to_file(snakemake.log[0])
table = provenance_table(
    Path(snakemake.params.repo),
    snakemake.params.snakemake_version,
    [Path(p) for p in snakemake.input.forcefields],
    [Path(p) for p in snakemake.input.summaries],
)
atomic_write_text(Path(snakemake.output.provenance), table.to_csv(index=False))
runtimes = runtimes_table(Path(snakemake.params.benchmarks))
atomic_write_text(Path(snakemake.output.runtimes), runtimes.to_csv(index=False))
