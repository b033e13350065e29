"""Temperature, density and energy time series of one MD run (Snakemake script)."""

from electrolyte_md.logs import log_to_file
from electrolyte_md.plots import plot_md_timeseries

log_to_file(snakemake.log[0])
wc = snakemake.wildcards
plot_md_timeseries(
    snakemake.input.equil_csv,
    snakemake.input.prod_csv,
    snakemake.output.png,
    f"{wc.system}, {wc.temperature} K, replica {wc.replica}",
)
