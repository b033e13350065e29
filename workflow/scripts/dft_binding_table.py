"""Binding energies (uncorrected and counterpoise-corrected) from the dft manifest."""

from electrolyte_md.dft.binding import write_binding_table
from electrolyte_md.logs import log_to_file

log_to_file(snakemake.log[0])
write_binding_table(
    snakemake.params.manifest,
    snakemake.output.table,
    allow_mismatch=snakemake.params.allow_mismatch,
)
