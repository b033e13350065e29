"""Minimise, equilibrate (NPT) and run production MD for one run (Snakemake script)."""

import logging
from pathlib import Path

from electrolyte_md.logs import log_to_file
from electrolyte_md.md import MDProtocol, run_md

log_to_file(snakemake.log[0])
settings = dict(snakemake.params.protocol)
# replicas differ only in their random seed (velocities, thermostat, barostat)
settings["seed"] = settings.get("seed", 0) + int(snakemake.wildcards.replica)
protocol = MDProtocol(
    **settings,
    temperature_kelvin=float(snakemake.wildcards.temperature),
    threads=snakemake.threads,
)
run_md(
    Path(snakemake.input.system),
    Path(snakemake.input.pdb),
    protocol,
    Path(snakemake.output.summary).parent,
    log=logging.getLogger("md"),
)
