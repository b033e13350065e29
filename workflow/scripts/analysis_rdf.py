"""RDF and coordination number of one pair in one MD run (Snakemake script)."""

from electrolyte_md.analysis import analyze_pair
from electrolyte_md.logs import log_to_file

log_to_file(snakemake.log[0])
wc = snakemake.wildcards
pair = snakemake.params.pair
analyze_pair(
    snakemake.input.prmtop,
    snakemake.input.dcd,
    wc.pair,
    pair["center"],
    pair["ligand"],
    out_csv=snakemake.output.table,
    out_json=snakemake.output.summary,
    out_png=snakemake.output.png,
    skip_ps=snakemake.params.skip_ps,
    bin_width_angstrom=snakemake.params.bin_width,
    r_max_angstrom=snakemake.params.r_max,
    cutoff_angstrom=pair.get("cutoff_angstrom"),
    n_blocks=snakemake.params.n_blocks,
    title=f"{wc.pair} in {wc.system}, {wc.temperature} K, replica {wc.replica}",
)
