"""Pack one system's box with Packmol (Snakemake script)."""

from pathlib import Path

from electrolyte_md.logs import log_to_file
from electrolyte_md.structures.box import Composition, pack_box

log_to_file(snakemake.log[0])
pdbs = {Path(p).parents[1].name: Path(p) for p in snakemake.input.pdbs}
pack_box(
    Composition.from_json(snakemake.input.composition),
    pdbs,
    Path(snakemake.output.box),
    tolerance_angstrom=snakemake.params.tolerance,
    seed=snakemake.params.seed,
)
