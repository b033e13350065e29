"""Build one species in 3D: from SMILES, or a Ti6O6 oxo cluster (Snakemake script)."""

from pathlib import Path

from electrolyte_md.cluster.document import build_cluster_species
from electrolyte_md.logs import log_to_file
from electrolyte_md.structures.species import build_species

log_to_file(snakemake.log[0])
if snakemake.params.cluster:
    documents = snakemake.input.cluster_document
    build_cluster_species(
        snakemake.wildcards.species,
        snakemake.params.cluster,
        snakemake.params.residue,
        Path(snakemake.output.sdf),
        Path(snakemake.output.info),
        structure_path=Path(documents[0]) if documents else None,
    )
else:
    build_species(
        snakemake.wildcards.species,
        snakemake.params.smiles,
        snakemake.params.residue,
        snakemake.output.sdf,
        snakemake.output.info,
        bond_length_angstrom=snakemake.params.bond_length,
    )
