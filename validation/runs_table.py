"""The per-run table of validation/README.md ("Runs"), read from the study's saved files.

Each run's ``md_summary.json`` (equilibration, density, speed) and
``rdf/cn_Li-P.json`` (CN to the first minimum, block error, first and last block). Run
from the repository root:

    python validation/runs_table.py validation/progress/results > validation/runs_table.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SYSTEM_LABELS = {
    "LiPF6_NMP": "LiPF6-NMP",
    "Ti6HPAB_LiPF6_NMP": "Ti6(HPAB)/LiPF6-NMP",
    "NMP_neat": "NMP",
}
TEMPERATURES = ("298.15K", "253.15K")
HEADER = (
    "| run | NPT (ps) | density (g/cm3) | CN Li-P (block SEM) | first -> last block "
    "| ns/day (production) |\n|---|---|---|---|---|---|"
)


def run_row(results: Path, system: str, temperature: str, replica: str) -> str:
    """One markdown row, or the run's state where its files are not there."""
    label = f"{SYSTEM_LABELS[system]}, {temperature[:-1]} K, replica {replica[3:]}"
    summary_path = results / "md" / system / temperature / replica / "md_summary.json"
    if not summary_path.is_file():
        return f"| {label} | not done | | | | |"
    summary = json.loads(summary_path.read_text())
    equilibration = summary["equilibration"]
    cn_path = results / "analysis" / system / temperature / replica / "rdf" / "cn_Li-P.json"
    if cn_path.is_file():
        cn = json.loads(cn_path.read_text())
        cn_cell = f"{cn['coordination_number']:.3f} +- {cn['coordination_number_sem']:.3f}"
        blocks = (
            f"{cn['coordination_number_first_block']:.2f} -> "
            f"{cn['coordination_number_last_block']:.2f}"
        )
    else:
        cn_cell = blocks = "(no salt)"
    return (
        f"| {label} | {equilibration['length_ps']:.0f} | "
        f"{equilibration['mean_g_per_cm3']:.4f} | {cn_cell} | {blocks} | "
        f"{summary['ns_per_day']:.0f} |"
    )


def main(results: Path) -> None:
    print(HEADER)
    for temperature in TEMPERATURES:
        for system in SYSTEM_LABELS:
            for replica in ("rep1", "rep2"):
                print(run_row(results, system, temperature, replica))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
