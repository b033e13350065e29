"""Build one species in 3D (Snakemake script)."""

from electrolyte_md.logs import log_to_file
from electrolyte_md.structures import build_species

log_to_file(snakemake.log[0])
build_species(
    snakemake.wildcards.species,
    snakemake.params.smiles,
    snakemake.params.residue,
    snakemake.output.sdf,
    snakemake.output.info,
    bond_length_angstrom=snakemake.params.bond_length,
)
