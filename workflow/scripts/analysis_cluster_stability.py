"""RMSD and Ti-O bonds of a metal-oxo cluster along one MD run (Snakemake script)."""

from electrolyte_md.cluster.stability import stability_of_run
from electrolyte_md.logs import log_to_file
from electrolyte_md.structures.species import SpeciesInfo

log_to_file(snakemake.log[0])
wc = snakemake.wildcards
info = SpeciesInfo.from_json(snakemake.input.info)
stability_of_run(
    snakemake.input.prmtop,
    snakemake.input.dcd,
    info.residue,
    info.cluster,
    out_json=snakemake.output.summary,
    out_csv=snakemake.output.table,
    out_png=snakemake.output.png,
    title=f"{wc.species} in {wc.system}, {wc.temperature} K, replica {wc.replica}",
    skip_ps=snakemake.params.skip_ps,
)
