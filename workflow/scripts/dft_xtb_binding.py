"""Binding energies of one host-guest pair with GFN2-xTB (Snakemake script)."""

import os
import shutil

# tblite's OpenMP threads: the rule's, set before tblite is loaded
os.environ["OMP_NUM_THREADS"] = str(snakemake.threads)

from electrolyte_md.dft.xtb_binding import (  # noqa: E402
    BindingSettings,
    fragment_from_species,
    run_pair,
    write_pair_outputs,
)
from electrolyte_md.logs import log_to_file  # noqa: E402

log_to_file(snakemake.log[0])
settings = snakemake.params.settings
if "placement_kinds" in settings:
    settings = {**settings, "placement_kinds": tuple(settings["placement_kinds"])}
document = run_pair(
    fragment_from_species(snakemake.input.host_sdf, snakemake.input.host_info),
    fragment_from_species(snakemake.input.guest_sdf, snakemake.input.guest_info),
    BindingSettings(**settings),
    workdir=snakemake.params.workdir,
    reuse=snakemake.input.reuse[0] if snakemake.input.reuse else None,
)
write_pair_outputs(
    document,
    out_json=snakemake.output.document,
    out_csv=snakemake.output.table,
    structures_dir=snakemake.output.structures,
    inputs_dir=snakemake.output.dft_inputs,
    dft_settings=snakemake.params.dft_inputs,
)
# the resumable records are not needed once the outputs are written
shutil.rmtree(snakemake.params.workdir, ignore_errors=True)
