"""Small systems and helpers shared by the MD tests (tests/test_md*.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openmm
from openmm import app, unit

from electrolyte_md.md import MDProtocol

WATER_BOX_NM = 1.6  # > 2 x 0.7 nm cutoff: 129 TIP3P waters, 387 atoms
WATER_CUTOFF_NM = 0.7


def write_water_box(
    directory: Path,
    constraints: object = app.HBonds,
    edge_nm: float = WATER_BOX_NM,
    expand: float = 1.0,
) -> tuple[Path, Path]:
    """Write system.xml and system.pdb of a TIP3P water box; return their paths.

    ``expand`` scales the box edge and the molecule centres (expand > 1 gives a box
    below the equilibrium density, for equilibration tests).
    """
    forcefield = app.ForceField("amber14-all.xml", "amber14/tip3p.xml")
    modeller = app.Modeller(app.Topology(), [])
    modeller.addSolvent(forcefield, boxSize=openmm.Vec3(edge_nm, edge_nm, edge_nm) * unit.nanometer)
    system = forcefield.createSystem(
        modeller.topology,
        nonbondedMethod=app.PME,
        nonbondedCutoff=WATER_CUTOFF_NM * unit.nanometer,
        constraints=constraints,
        rigidWater=constraints is not None,
    )
    positions = np.asarray(modeller.positions.value_in_unit(unit.nanometer))
    if expand != 1.0:
        for residue in modeller.topology.residues():
            atoms = [a.index for a in residue.atoms()]
            positions[atoms] += positions[atoms].mean(axis=0) * (expand - 1.0)
        edge = edge_nm * expand
        modeller.topology.setPeriodicBoxVectors(
            [openmm.Vec3(edge, 0, 0), openmm.Vec3(0, edge, 0), openmm.Vec3(0, 0, edge)]
            * unit.nanometer
        )
    directory.mkdir(parents=True, exist_ok=True)
    system_xml = directory / "system.xml"
    system_pdb = directory / "system.pdb"
    system_xml.write_text(openmm.XmlSerializer.serialize(system), encoding="utf-8")
    with open(system_pdb, "w", encoding="utf-8") as fh:
        app.PDBFile.writeFile(modeller.topology, positions * unit.nanometer, fh)
    return system_xml, system_pdb


def fast_protocol(**changes: object) -> MDProtocol:
    """A protocol of a few ps at 4 fs on 2 CPU threads."""
    settings: dict[str, object] = {
        "decorrelation_ps": 0.0,
        "heating_ps": 0.4,
        "equilibration_ps": 0.8,
        "density_window_ps": 0.4,
        "production_ps": 2.0,
        "report_interval_ps": 0.2,
        "checkpoint_interval_ps": 0.4,
        "platform": "CPU",
        "threads": 2,
        "seed": 7,
    }
    settings.update(changes)
    return MDProtocol(**settings)  # type: ignore[arg-type]
