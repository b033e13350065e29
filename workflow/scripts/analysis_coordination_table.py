"""Coordination numbers of all pairs, temperatures and replicas of a system (Snakemake script)."""

import json
from pathlib import Path

from electrolyte_md.analysis import coordination_table
from electrolyte_md.io import atomic_write_text
from electrolyte_md.logs import log_to_file

log_to_file(snakemake.log[0])
records = []
for path in map(Path, snakemake.input.summaries):
    record = json.loads(path.read_text())
    # .../{system}/{temperature}K/rep{replica}/cn_{pair}.json
    record["temperature_kelvin"] = float(path.parts[-3].removesuffix("K"))
    record["replica"] = int(path.parts[-2].removeprefix("rep"))
    records.append(record)
table = coordination_table(records)
atomic_write_text(snakemake.output.table, table.to_csv(index=False, float_format="%.4f"))
