"""Binding energies (GFN2-xTB route, DFT outputs) beside the paper's (Snakemake script)."""

from electrolyte_md.dft.xtb_binding import write_binding_comparison
from electrolyte_md.logs import log_to_file

log_to_file(snakemake.log[0])
write_binding_comparison(
    dict(zip(snakemake.params.pairs, snakemake.input.documents, strict=True)),
    snakemake.output.table,
    dft_table=snakemake.input.dft[0] if snakemake.input.dft else None,
    paper=snakemake.params.paper,
)
