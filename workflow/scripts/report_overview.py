"""The report's first table and figures: every system at a glance (Snakemake script)."""

from electrolyte_md.logs import log_to_file
from electrolyte_md.study.overview import write_overview

log_to_file(snakemake.log[0])
out = snakemake.output
write_overview(
    snakemake.input.summaries,
    [f"{directory}/rdf_{snakemake.params.pair}.csv" for directory in snakemake.input.rdfs],
    snakemake.params.pair,
    out.table,
    [out.rdf_png, out.rdf_svg],
    [out.fractions_png, out.fractions_svg],
    out_html=out.table_html,
)
