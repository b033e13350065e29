"""RMSD and Ti-O bonds of a metal-oxo cluster along one MD run, and a 3D view of it with
its nearest anions in the last frame (Snakemake script)."""

from electrolyte_md.analysis.views import write_cluster_view
from electrolyte_md.cluster.stability import stability_of_run
from electrolyte_md.logs import log_to_file, run_steps
from electrolyte_md.structures.species import SpeciesInfo

log_to_file(snakemake.log[0])
wc = snakemake.wildcards
info = SpeciesInfo.from_json(snakemake.input.info)
system = snakemake.params.system
title = f"{wc.species} in {wc.system}, {wc.temperature} K, replica {wc.replica}"


def stability():
    stability_of_run(
        snakemake.input.prmtop,
        snakemake.input.dcd,
        info.residue,
        info.cluster,
        out_json=snakemake.output.summary,
        out_csv=snakemake.output.table,
        out_png=snakemake.output.png,
        title=title,
        skip_ps=snakemake.params.skip_ps,
    )


def view():
    anions = [system["residues"][a] for a in system["anions"]]
    if anions:
        selection = " or ".join(f"resname {r}" for r in anions)
    else:  # no salt: the cluster's nearest molecules of any other kind
        selection = f"not resname {info.residue}"
    write_cluster_view(
        snakemake.input.prmtop,
        snakemake.input.dcd,
        info.residue,
        selection,
        [snakemake.output.view, snakemake.output.view_svg],
        title,
    )


run_steps({"stability": stability, "view": view}, title, "cluster analysis")
