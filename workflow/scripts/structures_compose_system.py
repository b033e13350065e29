"""Molecule counts and box size of one system (Snakemake script)."""

from pathlib import Path

from electrolyte_md.logs import log_to_file
from electrolyte_md.structures.box import composition_for_system
from electrolyte_md.structures.species import SpeciesInfo

log_to_file(snakemake.log[0])
infos = {Path(p).parent.name: SpeciesInfo.from_json(p) for p in snakemake.input.infos}
composition = composition_for_system(
    snakemake.wildcards.system,
    snakemake.params.system,
    snakemake.params.salts,
    snakemake.params.species,
    infos,
)
composition.to_json(snakemake.output.composition)
