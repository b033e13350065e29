"""RDF and coordination number of every pair of one MD run, one trajectory pass (Snakemake script).

Writes rdf_<pair>.csv, cn_<pair>.json and rdf_<pair>.png of each pair into the run's RDF
directory (the rule's directory output); an error propagates, and Snakemake removes the
directory of the failed job.
"""

from electrolyte_md.analysis import analyze_run
from electrolyte_md.logs import log_to_file

log_to_file(snakemake.log[0])
wc = snakemake.wildcards
params = snakemake.params
analyze_run(
    snakemake.input.prmtop,
    snakemake.input.dcd,
    params.pairs,
    snakemake.output.rdf,
    skip_ps=params.skip_ps,
    bin_width_angstrom=params.bin_width,
    r_max_angstrom=params.r_max,
    n_blocks=params.n_blocks,
    run_label=f"{wc.system}, {wc.temperature} K, replica {wc.replica}",
)
