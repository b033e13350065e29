"""Li-P contacts in the saved structures of each run: packed, minimised, equilibrated, end.

A check beside the workflow for validation/README.md ("The CNs of 1 ns runs are upper
bounds"): the number of P within the cutoff of each Li+ (the first minimum of the Li-P
g(r), 4.475 A), with the periodic box, in single frames. Run from the repository root:

    python validation/start_contacts.py validation/progress/results > validation/start_contacts.txt
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from MDAnalysis import Universe
from MDAnalysis.lib.distances import distance_array

CUTOFF_ANGSTROM = 4.475
STAGES = ("minimized", "equil_final", "prod_final")


def li_p_contacts(pdb: Path, cutoff: float = CUTOFF_ANGSTROM) -> float:
    """Mean number of P within ``cutoff`` (A) of a Li+ in one structure."""
    universe = Universe(str(pdb))
    li = universe.select_atoms("resname LI")
    p = universe.select_atoms("resname PF6 and element P")
    distances = distance_array(li.positions, p.positions, box=universe.dimensions)
    return float((distances < cutoff).sum() / len(li))


def main(results: Path) -> None:
    warnings.filterwarnings("ignore")  # MDAnalysis warns of PDB fields it does not need
    print(f"P within {CUTOFF_ANGSTROM} A of a Li+, per Li+ (single frames)")
    print("run | packed box | " + " | ".join(STAGES))
    for system in ("LiPF6_NMP", "Ti6HPAB_LiPF6_NMP"):
        packed = li_p_contacts(results / "systems" / system / "box.pdb")
        for run in sorted((results / "md" / system).glob("*K/rep*")):
            if not all((run / f"{stage}.pdb").is_file() for stage in STAGES):
                continue
            counts = [li_p_contacts(run / f"{stage}.pdb") for stage in STAGES]
            name = run.relative_to(results / "md")
            print(f"{name} | {packed:.2f} | " + " | ".join(f"{c:.2f}" for c in counts))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "results"))
