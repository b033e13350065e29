"""Atomic charges (Mulliken, Loewdin, Hirshfeld, CM5 where printed) of the manifest's outputs."""

from electrolyte_md.dft.binding import write_charges_table
from electrolyte_md.logs import log_to_file

log_to_file(snakemake.log[0])
write_charges_table(snakemake.params.manifest, snakemake.output.table)
