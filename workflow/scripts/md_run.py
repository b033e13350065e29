"""Minimise, heat, equilibrate (NPT) and run production MD for one run (Snakemake script).

Continues from the run's restart/ folder if an earlier attempt was interrupted; exits
with status 75 (try again) after a clean stop on a signal or the wall-clock limit.
"""

import logging
import sys
from pathlib import Path

from electrolyte_md.logs import log_to_file
from electrolyte_md.md import MDInterruptedError, MDProtocol, run_md

log_to_file(snakemake.log[0])
wc = snakemake.wildcards
settings = dict(snakemake.params.protocol)
# replicas differ only in their random seed (velocities, thermostat, barostat)
settings["seed"] = settings.get("seed", 0) + int(wc.replica)
protocol = MDProtocol(
    **settings,
    temperature_kelvin=float(wc.temperature),
    threads=snakemake.threads,
)
try:
    run_md(
        Path(snakemake.input.system),
        Path(snakemake.input.pdb),
        protocol,
        Path(snakemake.output.summary).parent,
        log=logging.getLogger("electrolyte_md.md"),
        name=f"{wc.system} at {wc.temperature} K, replica {wc.replica}",
    )
except MDInterruptedError as error:
    logging.getLogger("electrolyte_md.md").warning("%s", error)
    sys.exit(error.exit_code)
