"""MSDs, self-diffusion, t+ and Nernst-Einstein conductivity of one MD run (Snakemake script)."""

from electrolyte_md.logs import log_to_file
from electrolyte_md.transport import analyze_transport

log_to_file(snakemake.log[0])
wc = snakemake.wildcards
params = snakemake.params
analyze_transport(
    snakemake.input.prmtop,
    snakemake.input.dcd,
    params.residues,
    params.charges,
    temperature_kelvin=float(wc.temperature),
    out_json=snakemake.output.summary,
    out_csv=snakemake.output.table,
    out_png=snakemake.output.png,
    viscosity_pa_s=params.viscosity,
    viscosity_source=params.viscosity_source,
    skip_ps=params.skip_ps,
    n_groups=params.n_groups,
    fit_options=params.fit,
    title=f"MSD in {wc.system}, {wc.temperature} K, replica {wc.replica}",
)
