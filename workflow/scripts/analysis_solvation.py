"""First solvation shells of the salt cation in one MD run (Snakemake script)."""

from electrolyte_md.errors import AnalysisError
from electrolyte_md.logs import log_to_file
from electrolyte_md.rdf_files import read_pair_records
from electrolyte_md.solvation import analyze_solvation

log_to_file(snakemake.log[0])
params = snakemake.params
if len(params.cation) != 1:
    raise AnalysisError(
        f"system '{snakemake.wildcards.system}': solvation shells need one salt cation, "
        f"got {params.cation}"
    )
residues = params.residues
analyze_solvation(
    snakemake.input.prmtop,
    snakemake.input.dcd,
    read_pair_records(snakemake.input.rdf, params.pairs),
    cation_residue=residues[params.cation[0]],
    anion_species=params.anions,
    species_by_residue={residue: name for name, residue in residues.items()},
    out_json=snakemake.output.summary,
    out_csv=snakemake.output.table,
    skip_ps=params.skip_ps,
    n_blocks=params.n_blocks,
    fixed_cutoffs=params.cutoffs,
)
