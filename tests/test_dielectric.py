"""The dielectric constant of a salt-free run (electrolyte_md.analysis.dielectric), on a
real OpenMM run of TIP3P water; its topology (charges, bonds) written by ParmEd as a PSF
(rigid water has no bond terms for a prmtop; the workflow's prmtop comes from tleap)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import MDAnalysis
import numpy as np
import pytest
from scipy import constants

from electrolyte_md.analysis.dielectric import dielectric_record, write_dielectric
from electrolyte_md.errors import AnalysisError


def _water_run(
    root: Path, ionic_strength_molar: float = 0.0, steps: int = 4000
) -> tuple[Path, Path]:
    """A PSF and a DCD (a frame per 0.2 ps; 8 ps by default) of TIP3P water at 300 K,
    with ions if asked."""
    import openmm
    import parmed
    from openmm import app, unit

    forcefield = app.ForceField("amber14-all.xml", "amber14/tip3p.xml")
    modeller = app.Modeller(app.Topology(), [])
    modeller.addSolvent(
        forcefield,
        boxSize=openmm.Vec3(1.6, 1.6, 1.6) * unit.nanometer,
        ionicStrength=ionic_strength_molar * unit.molar,
    )
    system = forcefield.createSystem(
        modeller.topology, nonbondedMethod=app.PME, nonbondedCutoff=0.7 * unit.nanometer,
        constraints=app.HBonds,
    )  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    prmtop = root / "system.psf"
    structure = parmed.openmm.load_topology(modeller.topology, system, modeller.positions)
    structure.save(str(prmtop), overwrite=True)
    integrator = openmm.LangevinMiddleIntegrator(300 * unit.kelvin, 1 / unit.picosecond, 0.002)
    integrator.setRandomNumberSeed(5)
    platform = openmm.Platform.getPlatformByName("CPU")
    simulation = app.Simulation(modeller.topology, system, integrator, platform, {"Threads": "1"})
    simulation.context.setPositions(modeller.positions)
    simulation.context.setVelocitiesToTemperature(300 * unit.kelvin, 5)
    trajectory = root / "prod.dcd"
    simulation.reporters.append(app.DCDReporter(str(trajectory), 100))
    simulation.step(steps)
    del simulation  # closes the DCD
    return prmtop, trajectory


@pytest.fixture(scope="module")
def water_run(tmp_path_factory) -> tuple[Path, Path]:
    return _water_run(tmp_path_factory.mktemp("water"))


def _independent_estimate(prmtop: Path, dcd: Path, temperature: float, skip: int) -> float:
    """eps = 1 + (<M^2> - <M>^2) / (3 eps0 V kB T) in SI units, molecules made whole by
    MDAnalysis: the check of units and of the fluctuation formula."""
    universe = MDAnalysis.Universe(str(prmtop), str(dcd))
    atoms = universe.atoms
    dipoles, volumes = [], []
    for ts in universe.trajectory[skip:]:
        atoms.unwrap()
        dipoles.append(atoms.charges @ atoms.positions)  # e * Angstrom
        volumes.append(ts.volume)  # Angstrom^3
    m = np.asarray(dipoles) * constants.e * 1e-10  # C m
    fluctuation = (m**2).mean(axis=0) - m.mean(axis=0) ** 2
    volume = np.mean(volumes) * 1e-30
    return 1.0 + fluctuation.sum() / (3 * constants.epsilon_0 * volume * constants.k * temperature)


def test_dielectric_constant_from_dipole_fluctuations(water_run, tmp_path):
    prmtop, dcd = water_run
    out = tmp_path / "dielectric.json"
    record = write_dielectric(prmtop, dcd, 300.0, out, skip_ps=0.8, n_blocks=4)
    assert json.loads(out.read_text()) == record
    assert record["n_frames"] == 36 and record["analysed_ps"] == pytest.approx(7.2)
    # the library's number is the textbook formula in SI units, on the same frames
    assert record["dielectric_constant"] == pytest.approx(
        _independent_estimate(prmtop, dcd, 300.0, skip=4), rel=1e-4
    )
    # 8 ps of 129 waters: a rough number (TIP3P's is about 95), with an error from blocks
    assert 1.0 < record["dielectric_constant"] < 300.0
    blocks = record["block_estimates"]
    assert len(blocks) == 4 and all(b > 1.0 for b in blocks)
    assert record["dielectric_constant_sem"] == pytest.approx(np.std(blocks, ddof=1) / 2.0)


def test_a_run_with_ions_or_too_few_frames_gets_no_dielectric_constant(water_run, tmp_path):
    prmtop, dcd = water_run
    with pytest.raises(AnalysisError, match="fewer than 2 per block"):
        dielectric_record(prmtop, dcd, 300.0, skip_ps=7.0, n_blocks=5)
    salty_prmtop, salty_dcd = _water_run(tmp_path / "salt", ionic_strength_molar=1.0, steps=400)
    with pytest.raises(AnalysisError, match=r"molecules carry a net charge; .* salt-free"):
        dielectric_record(salty_prmtop, salty_dcd, 300.0)
    # the workflow's step records why instead of failing the run's analysis job
    record = write_dielectric(salty_prmtop, salty_dcd, 300.0, tmp_path / "d.json")
    assert record["dielectric_constant"] is None and "net charge (ions)" in record["note"]
    assert math.isfinite(dielectric_record(prmtop, dcd, 300.0, n_blocks=2)["dielectric_constant"])
