"""OpenMM System and Amber topology of one packed box (Snakemake script)."""

from pathlib import Path

from electrolyte_md.forcefield.system import build_system
from electrolyte_md.logs import log_to_file
from electrolyte_md.structures.box import Composition

log_to_file(snakemake.log[0])
composition = Composition.from_json(snakemake.input.composition)
build_system(
    Path(snakemake.input.box),
    {Path(p).parents[1].name: Path(p).parent for p in snakemake.input.records},
    composition.counts,
    snakemake.params.charge_scale,
    Path(snakemake.output.system).parent,
    cutoff_nm=snakemake.params.cutoff_nm,
)
