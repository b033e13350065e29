"""Tests of the MD stage (electrolyte_md.md) on a small, real box of TIP3P water."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import openmm
import pytest
from openmm import app, unit

from electrolyte_md import md
from electrolyte_md.errors import ElectrolyteMDError
from electrolyte_md.md import (
    ENERGY_COLUMNS,
    EnergyCSVReporter,
    MDOutputs,
    MDProtocol,
    read_energies,
    run_md,
)

BOX_EDGE_NM = 1.9  # > 2 x 0.8 nm cutoff, ~215 waters
EQUIL_PS = 2.0
PROD_PS = 2.0
REPORT_PS = 0.2
N_REPORTS_PROD = 10
N_REPORTS_EQUIL = 10


def _fast_protocol(**changes: object) -> MDProtocol:
    settings: dict[str, object] = {
        "equilibration_ps": EQUIL_PS,
        "production_ps": PROD_PS,
        "report_interval_ps": REPORT_PS,
        "platform": "CPU",
        "threads": 2,
        "seed": 7,
    }
    settings.update(changes)
    return MDProtocol(**settings)  # type: ignore[arg-type]


def _write_water_box(directory: Path, constraints: object = app.HBonds) -> tuple[Path, Path]:
    """Write system.xml and system.pdb for a box of TIP3P water; return their paths."""
    forcefield = app.ForceField("amber14-all.xml", "amber14/tip3p.xml")
    modeller = app.Modeller(app.Topology(), [])
    modeller.addSolvent(
        forcefield, boxSize=openmm.Vec3(BOX_EDGE_NM, BOX_EDGE_NM, BOX_EDGE_NM) * unit.nanometer
    )
    system = forcefield.createSystem(
        modeller.topology,
        nonbondedMethod=app.PME,
        nonbondedCutoff=0.8 * unit.nanometer,
        constraints=constraints,
        rigidWater=constraints is not None,
    )
    directory.mkdir(parents=True, exist_ok=True)
    system_xml = directory / "system.xml"
    system_pdb = directory / "system.pdb"
    system_xml.write_text(openmm.XmlSerializer.serialize(system), encoding="utf-8")
    with open(system_pdb, "w", encoding="utf-8") as fh:
        app.PDBFile.writeFile(modeller.topology, modeller.positions, fh)
    return system_xml, system_pdb


@pytest.fixture(scope="module")
def water_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _write_water_box(tmp_path_factory.mktemp("water_inputs"))


@pytest.fixture(scope="module")
def nvt_run(
    water_inputs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[MDOutputs, MDProtocol]:
    protocol = _fast_protocol(production_ensemble="NVT")
    out_dir = tmp_path_factory.mktemp("md_nvt")
    outputs = run_md(water_inputs[0], water_inputs[1], protocol, out_dir)
    return outputs, protocol


@pytest.fixture(scope="module")
def npt_run(
    water_inputs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[MDOutputs, MDProtocol]:
    protocol = _fast_protocol(production_ensemble="NPT", equilibration_ps=1.0, seed=11)
    out_dir = tmp_path_factory.mktemp("md_npt")
    outputs = run_md(water_inputs[0], water_inputs[1], protocol, out_dir)
    return outputs, protocol


# ------------------------------------------------------------------------------------
# Protocol validation
# ------------------------------------------------------------------------------------


def test_protocol_defaults_and_derived_steps() -> None:
    protocol = MDProtocol()
    assert protocol.report_interval_steps == 500
    assert protocol.equilibration_steps == 25_000
    assert protocol.production_steps == 100_000
    seeds = protocol.openmm_seeds()
    assert set(seeds) == {"velocities", "integrator", "barostat"}
    assert all(0 < s < 2**31 for s in seeds.values())
    assert seeds == MDProtocol().openmm_seeds()
    assert seeds != MDProtocol(seed=1).openmm_seeds()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature_kelvin", 0.0),
        ("temperature_kelvin", float("nan")),
        ("pressure_bar", -1.0),
        ("timestep_fs", 0.0),
        ("friction_per_ps", -0.5),
        ("minimize_tolerance_kj_per_mol_nm", 0.0),
        ("minimize_max_iterations", -1),
        ("equilibration_ps", 0.0),
        ("production_ps", -10.0),
        ("production_ensemble", "NPH"),
        ("barostat_interval_steps", 0),
        ("report_interval_ps", 0.0),
        ("report_interval_ps", 0.003),  # not a whole multiple of 2 fs
        ("production_ps", 200.5),  # not a whole multiple of the report interval
        ("platform", "Metal"),
        ("precision", "quad"),
        ("threads", 0),
        ("seed", -3),
        ("seed", 1.5),
    ],
)
def test_bad_protocol_names_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        MDProtocol(**{field: value})  # type: ignore[arg-type]


def test_protocol_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        MDProtocol().seed = 3  # type: ignore[misc]


# ------------------------------------------------------------------------------------
# Bad inputs
# ------------------------------------------------------------------------------------


def test_atom_count_mismatch_names_both_files(
    water_inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    system_xml, system_pdb = water_inputs
    pdb = app.PDBFile(str(system_pdb))
    modeller = app.Modeller(pdb.topology, pdb.positions)
    modeller.delete([next(iter(modeller.topology.residues()))])
    short_pdb = tmp_path / "short.pdb"
    with open(short_pdb, "w", encoding="utf-8") as fh:
        app.PDBFile.writeFile(modeller.topology, modeller.positions, fh)
    with pytest.raises(ValueError, match="atom count") as excinfo:
        run_md(system_xml, short_pdb, _fast_protocol(), tmp_path / "out")
    assert str(system_xml) in str(excinfo.value)
    assert str(short_pdb) in str(excinfo.value)
    assert not (tmp_path / "out" / "md_summary.json").exists()


def test_system_with_barostat_is_rejected(water_inputs: tuple[Path, Path], tmp_path: Path) -> None:
    system_xml, system_pdb = water_inputs
    system = openmm.XmlSerializer.deserialize(system_xml.read_text(encoding="utf-8"))
    system.addForce(openmm.MonteCarloBarostat(1.0 * unit.bar, 300.0 * unit.kelvin))
    with_barostat = tmp_path / "with_barostat.xml"
    with_barostat.write_text(openmm.XmlSerializer.serialize(system), encoding="utf-8")
    with pytest.raises(ValueError, match="MonteCarloBarostat"):
        run_md(with_barostat, system_pdb, _fast_protocol(), tmp_path / "out")


def test_unconstrained_system_with_long_timestep_is_rejected(tmp_path: Path) -> None:
    system_xml, system_pdb = _write_water_box(tmp_path / "flexible", constraints=None)
    with pytest.raises(ValueError, match="constraints"):
        run_md(system_xml, system_pdb, _fast_protocol(timestep_fs=2.0), tmp_path / "out")


def test_unconstrained_bond_to_hydrogen_is_counted() -> None:
    system = openmm.System()
    for mass_amu in (12.0, 1.008, 1.008):
        system.addParticle(mass_amu)
    bonds = openmm.HarmonicBondForce()
    bonds.addBond(0, 1, 0.109, 1000.0)
    bonds.addBond(0, 2, 0.109, 1000.0)
    system.addForce(bonds)
    system.addConstraint(0, 1, 0.109)
    assert md._count_unconstrained_hydrogen_bonds(system) == 1
    system.addConstraint(2, 0, 0.109)
    assert md._count_unconstrained_hydrogen_bonds(system) == 0


def test_missing_input_file(water_inputs: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.pdb"):
        run_md(water_inputs[0], tmp_path / "nope.pdb", _fast_protocol(), tmp_path / "out")


# ------------------------------------------------------------------------------------
# Real runs
# ------------------------------------------------------------------------------------


def test_nvt_outputs_exist_and_no_partial_files(nvt_run: tuple[MDOutputs, MDProtocol]) -> None:
    outputs, _ = nvt_run
    for path in outputs.paths():
        assert path.is_file(), path
        assert path.stat().st_size > 0, path
    out_dir = outputs.summary_json.parent
    leftovers = [p.name for p in out_dir.iterdir() if p.name.endswith((".partial", ".tmp"))]
    assert leftovers == []
    assert outputs == MDOutputs.in_directory(out_dir)


def test_energy_csv_shape_and_physics(nvt_run: tuple[MDOutputs, MDProtocol]) -> None:
    outputs, protocol = nvt_run
    equil = read_energies(outputs.equil_csv)
    prod = read_energies(outputs.prod_csv)
    assert tuple(equil.columns) == ENERGY_COLUMNS
    assert tuple(prod.columns) == ENERGY_COLUMNS
    assert len(equil) == N_REPORTS_EQUIL
    assert len(prod) == N_REPORTS_PROD
    # Phase-relative time and step; first row one report interval into the phase.
    np.testing.assert_allclose(prod["time_ps"], REPORT_PS * np.arange(1, N_REPORTS_PROD + 1))
    assert prod["step"].tolist() == [
        protocol.report_interval_steps * i for i in range(1, N_REPORTS_PROD + 1)
    ]
    # Velocities are drawn at 298 K on the minimised structure, so the kinetic energy
    # first drops to about half (equipartition with the potential energy) and the
    # thermostat heats the system back up during equilibration; only the production
    # mean is held to 298 +- 60 K.
    assert 238.0 < prod["temperature_kelvin"].mean() < 358.0
    assert equil["temperature_kelvin"].between(100.0, 400.0).all()
    assert equil["temperature_kelvin"].iloc[N_REPORTS_EQUIL // 2 :].mean() > 200.0
    for frame in (equil, prod):
        assert np.isfinite(frame.to_numpy()).all()
        assert (frame["density_g_per_cm3"].between(0.8, 1.2)).all()
        np.testing.assert_allclose(
            frame["total_energy_kj_per_mol"],
            frame["potential_energy_kj_per_mol"] + frame["kinetic_energy_kj_per_mol"],
            rtol=1e-8,
        )
        np.testing.assert_allclose(
            frame["volume_nm3"], frame["box_a_nm"] * frame["box_b_nm"] * frame["box_c_nm"]
        )
        assert (frame["potential_energy_kj_per_mol"] < 0).all()
        assert (frame["speed_ns_per_day"] > 0).all()


def test_equilibration_is_npt_and_nvt_production_keeps_volume(
    nvt_run: tuple[MDOutputs, MDProtocol],
) -> None:
    outputs, _ = nvt_run
    equil = read_energies(outputs.equil_csv)
    prod = read_energies(outputs.prod_csv)
    assert equil["volume_nm3"].nunique() > 1  # barostat on during equilibration
    assert prod["volume_nm3"].nunique() == 1  # barostat off in NVT production
    final_box_nm = app.PDBFile(str(outputs.equil_final_pdb)).topology.getUnitCellDimensions()
    np.testing.assert_allclose(
        prod.loc[0, ["box_a_nm", "box_b_nm", "box_c_nm"]].to_numpy(dtype=float),
        final_box_nm.value_in_unit(unit.nanometer),
        atol=1e-3,  # PDB CRYST1 has 0.001 Angstrom resolution
    )


def test_npt_production_changes_volume(npt_run: tuple[MDOutputs, MDProtocol]) -> None:
    outputs, _ = npt_run
    prod = read_energies(outputs.prod_csv)
    assert len(prod) == N_REPORTS_PROD
    assert len(read_energies(outputs.equil_csv)) == 5
    assert prod["volume_nm3"].nunique() > 1
    assert prod["density_g_per_cm3"].between(0.8, 1.2).all()
    summary = json.loads(outputs.summary_json.read_text(encoding="utf-8"))
    assert summary["protocol"]["production_ensemble"] == "NPT"
    assert summary["production"]["volume_nm3"]["std"] > 0


@pytest.mark.filterwarnings("ignore:DCDReader currently makes independent:DeprecationWarning")
def test_dcd_frames_unwrapped_with_box(nvt_run: tuple[MDOutputs, MDProtocol]) -> None:
    mda = pytest.importorskip("MDAnalysis")
    outputs, _ = nvt_run
    universe = mda.Universe(str(outputs.prod_final_pdb), str(outputs.prod_dcd))
    assert len(universe.trajectory) == N_REPORTS_PROD
    prod = read_energies(outputs.prod_csv)
    positions = []
    for ts, (_, row) in zip(universe.trajectory, prod.iterrows(), strict=True):
        box_nm = row[["box_a_nm", "box_b_nm", "box_c_nm"]].to_numpy(dtype=float)
        np.testing.assert_allclose(ts.dimensions[:3] / 10.0, box_nm, atol=1e-4)
        positions.append(universe.atoms.positions.copy())
    # Unwrapped: between frames 0.2 ps apart no atom jumps by a sizeable part of the box.
    steps_angstrom = np.linalg.norm(np.diff(np.array(positions), axis=0), axis=-1)
    assert steps_angstrom.max() < 0.25 * BOX_EDGE_NM * 10.0


def test_state_xml_is_final_state(nvt_run: tuple[MDOutputs, MDProtocol]) -> None:
    outputs, protocol = nvt_run
    state = openmm.XmlSerializer.deserialize(outputs.state_xml.read_text(encoding="utf-8"))
    assert isinstance(state, openmm.State)
    n_atoms = app.PDBFile(str(outputs.prod_final_pdb)).topology.getNumAtoms()
    assert len(state.getPositions()) == n_atoms
    assert len(state.getVelocities()) == n_atoms
    assert state.getStepCount() == protocol.equilibration_steps + protocol.production_steps
    box_nm = np.asarray(state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer))
    last = read_energies(outputs.prod_csv).iloc[-1]
    np.testing.assert_allclose(
        np.linalg.norm(box_nm, axis=1),
        last[["box_a_nm", "box_b_nm", "box_c_nm"]].to_numpy(dtype=float),
        rtol=1e-8,
    )


def test_summary_json(nvt_run: tuple[MDOutputs, MDProtocol]) -> None:
    outputs, protocol = nvt_run
    summary = json.loads(outputs.summary_json.read_text(encoding="utf-8"))
    assert summary["platform"] == "CPU"
    assert summary["openmm_version"] == openmm.__version__
    assert summary["ns_per_day"] > 0
    assert summary["seed"] == protocol.seed
    assert summary["protocol"] == dataclasses.asdict(protocol)
    assert summary["steps"]["production"] == protocol.production_steps
    assert summary["steps"]["equilibration"] == protocol.equilibration_steps
    assert summary["n_atoms"] == app.PDBFile(str(outputs.minimized_pdb)).topology.getNumAtoms()
    for phase in ("minimization", "equilibration", "production"):
        assert summary["wall_seconds"][phase] > 0
    prod_stats = summary["production"]
    assert prod_stats["temperature_kelvin"]["n"] == N_REPORTS_PROD
    assert 238.0 < prod_stats["temperature_kelvin"]["mean"] < 358.0
    assert 0.8 < prod_stats["density_g_per_cm3"]["mean"] < 1.2
    assert prod_stats["volume_nm3"]["std"] == pytest.approx(0.0, abs=1e-12)
    assert summary["equilibration_last_half"]["temperature_kelvin"]["n"] == N_REPORTS_EQUIL // 2
    assert summary["potential_energy_kj_per_mol"]["minimized"] < 0


def test_read_energies_rejects_foreign_csv(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.csv"):
        read_energies(bad)


def test_rerun_replaces_old_outputs_and_logs(
    water_inputs: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    stale = out_dir / "prod.dcd.partial"
    stale.write_bytes(b"stale")
    protocol = _fast_protocol(equilibration_ps=0.2, production_ps=0.4, minimize_max_iterations=50)
    with caplog.at_level(logging.INFO, logger="electrolyte_md.md"):
        outputs = run_md(water_inputs[0], water_inputs[1], protocol, out_dir)
    assert not stale.exists()
    assert len(read_energies(outputs.prod_csv)) == 2
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "platform CPU" in messages
    assert "minimised potential energy" in messages
    assert "ns/day" in messages


def test_killed_run_leaves_only_partial_files(
    water_inputs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original_report = EnergyCSVReporter.report

    def report_then_die(self: EnergyCSVReporter, simulation: app.Simulation, state: object) -> None:
        original_report(self, simulation, state)  # type: ignore[arg-type]
        if self._phase == "production":
            raise ElectrolyteMDError("simulated kill")

    monkeypatch.setattr(EnergyCSVReporter, "report", report_then_die)
    out_dir = tmp_path / "out"
    protocol = _fast_protocol(equilibration_ps=0.2, production_ps=0.4, minimize_max_iterations=50)
    with pytest.raises(ElectrolyteMDError, match="simulated kill"):
        run_md(water_inputs[0], water_inputs[1], protocol, out_dir)
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == [
        "equil.csv",
        "equil_final.pdb",
        "minimized.pdb",
        "prod.csv.partial",
        "prod.dcd.partial",
    ]
    # The partial CSV holds the row written before the kill (rows are flushed).
    partial_rows = (out_dir / "prod.csv.partial").read_text(encoding="utf-8").splitlines()
    assert len(partial_rows) == 2
