"""The configuration used, with software versions, for the report (Snakemake script)."""

from electrolyte_md.logs import log_to_file
from electrolyte_md.study.report import write_config_used

log_to_file(snakemake.log[0])
write_config_used(dict(snakemake.params.config), snakemake.params.sources, snakemake.output.config)
