"""The headline numbers against the ionic charge factor of each sweep (Snakemake script)."""

from electrolyte_md.logs import log_to_file
from electrolyte_md.study.sweep import write_sweep

log_to_file(snakemake.log[0])
out = snakemake.output
write_sweep(
    snakemake.input.summaries,
    snakemake.params.sweeps,
    snakemake.params.cn_pair,
    snakemake.params.experiments,
    out.table,
    out.closest,
    [out.figure, out.figure_svg],
)
