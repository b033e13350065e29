"""Force-field parameters of one species (Snakemake script)."""

from pathlib import Path

from electrolyte_md.forcefield.species import parameterize_species
from electrolyte_md.logs import log_to_file
from electrolyte_md.structures.species import SpeciesInfo

log_to_file(snakemake.log[0])
cache = snakemake.params.cache_dir
parameterize_species(
    SpeciesInfo.from_json(snakemake.input.info),
    Path(snakemake.input.sdf),
    snakemake.params.parameters,
    Path(snakemake.output.record).parent,
    cache_dir=Path(cache) if cache else None,
)
