"""Tests of the MD stage (electrolyte_md.md) on small, real boxes of TIP3P water."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import openmm
import pytest
from md_testing import WATER_BOX_NM, fast_protocol, write_water_box
from openmm import app, unit

from electrolyte_md.md import (
    ENERGY_COLUMNS,
    MDBlowUpError,
    MDOutputs,
    MDProtocol,
    density_convergence,
    parse_slurm_time,
    pme_force_error,
    read_energies,
    repartition_hydrogen_masses,
    run_md,
)
from electrolyte_md.md.system import count_unconstrained_hydrogen_bonds

REPORT_PS = 0.2
N_REPORTS_PROD = 10  # 2 ps


@pytest.fixture(scope="module")
def water_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_water_box(tmp_path_factory.mktemp("water_inputs"))


@pytest.fixture(scope="module")
def nvt_run(
    water_inputs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[MDOutputs, MDProtocol]:
    protocol = fast_protocol(production_ensemble="NVT")
    out_dir = tmp_path_factory.mktemp("md_nvt")
    outputs = run_md(water_inputs[0], water_inputs[1], protocol, out_dir, name="water NVT")
    return outputs, protocol


@pytest.fixture(scope="module")
def npt_run(
    water_inputs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[MDOutputs, MDProtocol]:
    protocol = fast_protocol(production_ensemble="NPT", heating_ps=0.0, seed=11)
    out_dir = tmp_path_factory.mktemp("md_npt")
    outputs = run_md(water_inputs[0], water_inputs[1], protocol, out_dir)
    return outputs, protocol


# ------------------------------------------------------------------------------------
# Protocol validation
# ------------------------------------------------------------------------------------


def test_protocol_defaults_and_derived_steps() -> None:
    protocol = MDProtocol()
    assert protocol.timestep_fs == 4.0 and protocol.hydrogen_mass_amu == pytest.approx(3.024)
    assert protocol.report_interval_steps == 250
    assert protocol.heating_steps == protocol.heating_max_steps == 2_500
    assert protocol.decorrelation_steps == 5_000 and protocol.minimize_ions_uncharged
    assert MDProtocol(heating_max_ps=40.0).heating_max_steps == 10_000
    assert 0 < protocol.heating_velocity_seed() < 2**31
    assert protocol.heating_velocity_seed() not in protocol.openmm_seeds().values()
    assert protocol.equilibration_steps == protocol.equilibration_max_steps == 12_500
    assert protocol.production_steps == 50_000
    assert MDProtocol(timestep_fs=2.0).production_steps == 100_000
    seeds = protocol.openmm_seeds()
    assert set(seeds) == {"velocities", "integrator", "barostat"}
    assert all(0 < s < 2**31 for s in seeds.values())
    assert seeds == MDProtocol().openmm_seeds()
    assert seeds != MDProtocol(seed=1).openmm_seeds()
    assert protocol.resume_seeds(100) != protocol.resume_seeds(200)
    retry = protocol.retry_protocol()
    assert retry is not None and retry.timestep_fs == 2.0 and retry.retry_protocol() is None
    # runtime settings do not change the physics fingerprint, physics settings do
    fingerprint = protocol.physics_fingerprint()
    assert MDProtocol(platform="CPU", threads=3).physics_fingerprint() == fingerprint
    assert MDProtocol(wall_time_limit_hours=1.0).physics_fingerprint() == fingerprint
    assert MDProtocol(seed=5).physics_fingerprint() != fingerprint


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature_kelvin", 0.0),
        ("temperature_kelvin", float("nan")),
        ("pressure_bar", -1.0),
        ("timestep_fs", 0.0),
        ("timestep_fs", 3.0),  # with hydrogen_mass_amu=None below
        ("hydrogen_mass_amu", 5.0),
        ("friction_per_ps", -0.5),
        ("pme_error_tolerance", 0.0),
        ("minimize_tolerance_kj_per_mol_nm", 0.0),
        ("minimize_max_iterations", -1),
        ("heating_ps", -1.0),
        ("heating_max_ps", 5.0),  # below heating_ps
        ("heating_max_ps", 10.5),  # not a whole multiple of the report interval
        ("decorrelation_ps", -1.0),
        ("decorrelation_kelvin", 0.0),
        ("minimize_ions_uncharged", "yes"),
        ("temperature_window_ps", 0.0),
        ("temperature_tolerance_kelvin", -3.0),
        ("energy_tolerance_sd", 0.0),
        ("equilibration_ps", 0.0),
        ("equilibration_max_ps", 10.0),  # below equilibration_ps
        ("density_window_ps", 40.0),  # does not fit twice into 50 ps
        ("density_tolerance", 0.0),
        ("production_ps", -10.0),
        ("production_ensemble", "NPH"),
        ("barostat_interval_steps", 0),
        ("report_interval_ps", 0.0),
        ("report_interval_ps", 0.006),  # not a whole multiple of 4 fs
        ("production_ps", 200.5),  # not a whole multiple of the report interval
        ("checkpoint_interval_ps", 2.5),
        ("wall_time_limit_hours", -1.0),
        ("blowup_retry_timestep_fs", 0.3),  # 1 ps is no whole multiple of 0.3 fs
        ("platform", "Metal"),
        ("precision", "quad"),
        ("threads", 0),
        ("seed", -3),
        ("seed", 1.5),
    ],
)
def test_bad_protocol_names_field(field: str, value: object) -> None:
    settings: dict[str, object] = {field: value}
    if field == "timestep_fs" and value == 3.0:
        settings["hydrogen_mass_amu"] = None
    with pytest.raises(ValueError, match=field):
        MDProtocol(**settings)  # type: ignore[arg-type]


def test_protocol_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        MDProtocol().seed = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("59", 59 * 60),
        ("4:05", 4 * 60 + 5),
        ("1:00:00", 3600),
        ("12:34:56", 12 * 3600 + 34 * 60 + 56),
        ("2-00", 2 * 86400),
        ("1-02:03", 86400 + 2 * 3600 + 3 * 60),
        ("3-04:05:06", 3 * 86400 + 4 * 3600 + 5 * 60 + 6),
        (" 0:07\n", 7),
        ("UNLIMITED", None),
        ("NOT_SET", None),
    ],
)
def test_parse_slurm_time(text: str, seconds: int | None) -> None:
    assert parse_slurm_time(text) == seconds


@pytest.mark.parametrize("text", ["", "1:2:3:4", "abc", "-5", "1-2-3", "INVALID"])
def test_parse_slurm_time_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="SLURM time"):
        parse_slurm_time(text)


# ------------------------------------------------------------------------------------
# Hydrogen mass repartitioning, PME tolerance, density criterion
# ------------------------------------------------------------------------------------


def _methanol_lithium() -> tuple[openmm.System, app.Topology]:
    """CH3-OH with bonds/constraints as in an Amber System, plus a Li+ and a Ti bonded to O."""
    elements = ["C", "H", "H", "H", "O", "H", "Li", "Ti", "O", "H"]
    topology = app.Topology()
    chain = topology.addChain()
    residue = topology.addResidue("MOH", chain)
    for i, symbol in enumerate(elements):
        topology.addAtom(f"{symbol}{i}", app.Element.getBySymbol(symbol), residue)
    system = openmm.System()
    for symbol in elements:
        system.addParticle(app.Element.getBySymbol(symbol).mass)
    bonds = openmm.HarmonicBondForce()
    for a, b in [(0, 4), (7, 8)]:
        bonds.addBond(a, b, 0.14, 1000.0)
    system.addForce(bonds)
    for a, b in [(0, 1), (0, 2), (0, 3), (4, 5), (8, 9)]:
        system.addConstraint(a, b, 0.1)
    return system, topology


def test_hydrogen_mass_repartitioning_keeps_mass_and_spares_metals() -> None:
    system, topology = _methanol_lithium()
    before = [system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(10)]
    record = repartition_hydrogen_masses(system, topology, 3.024)
    after = [system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(10)]
    assert record["n_hydrogens"] == 5 and record["n_repartitioned"] == 5
    assert sum(after) == pytest.approx(sum(before), abs=1e-9)
    for h in (1, 2, 3, 5, 9):
        assert after[h] == pytest.approx(3.024)
    delta = 3.024 - before[1]
    assert after[0] == pytest.approx(before[0] - 3 * delta)  # carbon gave to three H
    assert after[4] == pytest.approx(before[4] - delta)  # hydroxyl O to one
    assert after[8] == pytest.approx(before[8] - delta)  # the O-H on the Ti
    assert after[6] == before[6] and after[7] == before[7]  # Li and Ti untouched
    # a second call changes nothing
    again = repartition_hydrogen_masses(system, topology, 3.024)
    assert again["n_repartitioned"] == 0
    assert [system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(10)] == after


def test_hydrogen_mass_repartitioning_refuses_too_heavy_hydrogens() -> None:
    system, topology = _methanol_lithium()
    system.setParticleMass(0, 8.0 * unit.dalton)  # a light "carbon" cannot give 3 x 3 amu
    with pytest.raises(Exception, match="hydrogen mass repartitioning to 4.4 amu would leave"):
        repartition_hydrogen_masses(system, topology, 4.4)


def test_hmr_water_box_leaves_rigid_water(water_inputs: tuple[Path, Path]) -> None:
    system = openmm.XmlSerializer.deserialize(water_inputs[0].read_text(encoding="utf-8"))
    record = repartition_hydrogen_masses(system, app.PDBFile(str(water_inputs[1])).topology, 3.0)
    assert record["n_repartitioned"] == 0
    assert record["n_skipped"] == {"rigid water or H-H bond": record["n_hydrogens"]}


def test_pme_tolerance_bounds_the_force_error(water_inputs: tuple[Path, Path]) -> None:
    system = openmm.XmlSerializer.deserialize(water_inputs[0].read_text(encoding="utf-8"))
    pdb = app.PDBFile(str(water_inputs[1]))
    box = pdb.topology.getPeriodicBoxVectors()
    errors = {
        tol: pme_force_error(system, pdb.positions, box, tol)["relative_rms_force_error"]
        for tol in (5e-3, 5e-4, 5e-5)
    }
    # the default tolerance keeps the relative force error at or below the tolerance,
    # and a tighter tolerance gives a smaller error
    assert errors[5e-4] <= 5e-4
    assert errors[5e-5] < errors[5e-4] < errors[5e-3]
    result = pme_force_error(system, pdb.positions, box, 5e-4)
    assert result["alpha_per_nm"] > 0 and min(result["grid"]) >= 8


def test_density_convergence_criterion() -> None:
    rng = np.random.default_rng(1)
    flat = 1.0 + 0.002 * rng.standard_normal(40)
    check = density_convergence(flat, 0.5, 5.0, 0.01)
    assert check["converged"] is True
    assert check["mean_g_per_cm3"] == pytest.approx(flat[-20:].mean())
    ramp = np.linspace(0.8, 1.0, 40)  # still rising: the two windows differ by ~10 %
    check = density_convergence(ramp, 0.5, 5.0, 0.01)
    assert check["converged"] is False
    assert check["relative_difference"] == pytest.approx(
        abs(ramp[-10:].mean() - ramp[-20:-10].mean()) / ramp[-10:].mean()
    )
    assert check["drift_g_per_cm3_per_ns"] == pytest.approx(0.2 / (39 * 0.5e-3), rel=1e-6)
    short = density_convergence(flat[:15], 0.5, 5.0, 0.01)
    assert short["converged"] is False and np.isnan(short["relative_difference"])


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
        run_md(system_xml, short_pdb, fast_protocol(), tmp_path / "out")
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
        run_md(with_barostat, system_pdb, fast_protocol(), tmp_path / "out")


def test_unconstrained_system_with_long_timestep_is_rejected(tmp_path: Path) -> None:
    system_xml, system_pdb = write_water_box(tmp_path / "flexible", constraints=None)
    with pytest.raises(ValueError, match="constraints"):
        run_md(system_xml, system_pdb, fast_protocol(timestep_fs=2.0), tmp_path / "out")


def test_unconstrained_bond_to_hydrogen_is_counted() -> None:
    system = openmm.System()
    for mass_amu in (12.0, 1.008, 1.008):
        system.addParticle(mass_amu)
    bonds = openmm.HarmonicBondForce()
    bonds.addBond(0, 1, 0.109, 1000.0)
    bonds.addBond(0, 2, 0.109, 1000.0)
    system.addForce(bonds)
    system.addConstraint(0, 1, 0.109)
    assert count_unconstrained_hydrogen_bonds(system) == 1
    system.addConstraint(2, 0, 0.109)
    assert count_unconstrained_hydrogen_bonds(system) == 0


def test_missing_input_file(water_inputs: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.pdb"):
        run_md(water_inputs[0], tmp_path / "nope.pdb", fast_protocol(), tmp_path / "out")


# ------------------------------------------------------------------------------------
# Real runs
# ------------------------------------------------------------------------------------


def test_nvt_outputs_exist_and_nothing_left_behind(nvt_run: tuple[MDOutputs, MDProtocol]) -> None:
    outputs, _ = nvt_run
    for path in outputs.paths():
        assert path.is_file(), path
        assert path.stat().st_size > 0, path
    out_dir = outputs.summary_json.parent
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(p.name for p in outputs.paths())
    assert outputs == MDOutputs.in_directory(out_dir)


def test_energy_csv_shape_and_physics(nvt_run: tuple[MDOutputs, MDProtocol]) -> None:
    outputs, protocol = nvt_run
    heat = read_energies(outputs.heat_csv)
    equil = read_energies(outputs.equil_csv)
    prod = read_energies(outputs.prod_csv)
    for frame in (heat, equil, prod):
        assert tuple(frame.columns) == ENERGY_COLUMNS
    assert len(heat) == 2
    assert len(equil) >= 4 and len(equil) % 2 == 0  # whole 0.4 ps windows
    assert len(prod) == N_REPORTS_PROD
    # Phase-relative time and step; first row one report interval into the phase.
    np.testing.assert_allclose(prod["time_ps"], REPORT_PS * np.arange(1, N_REPORTS_PROD + 1))
    assert prod["step"].tolist() == [
        protocol.report_interval_steps * i for i in range(1, N_REPORTS_PROD + 1)
    ]
    # heating starts from 50 K velocities; the ramp and the thermostat bring the
    # system towards 298 K, which the short production holds within +- 70 K
    assert heat["temperature_kelvin"].iloc[0] < 200.0
    assert 228.0 < prod["temperature_kelvin"].mean() < 368.0
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


def test_equilibration_is_npt_and_nvt_production_at_mean_volume(
    nvt_run: tuple[MDOutputs, MDProtocol],
) -> None:
    outputs, protocol = nvt_run
    heat = read_energies(outputs.heat_csv)
    equil = read_energies(outputs.equil_csv)
    prod = read_energies(outputs.prod_csv)
    assert heat["volume_nm3"].nunique() == 1  # NVT heating
    assert equil["volume_nm3"].nunique() > 1  # barostat on during equilibration
    assert prod["volume_nm3"].nunique() == 1  # barostat off in NVT production
    summary = json.loads(outputs.summary_json.read_text(encoding="utf-8"))
    window = round(protocol.density_window_ps / protocol.report_interval_ps)
    mean_volume = equil["volume_nm3"].iloc[-2 * window :].mean()
    assert summary["equilibration"]["mean_volume_nm3"] == pytest.approx(mean_volume, rel=1e-8)
    assert prod["volume_nm3"].iloc[0] == pytest.approx(mean_volume, rel=1e-7)


def test_npt_production_changes_volume(npt_run: tuple[MDOutputs, MDProtocol]) -> None:
    outputs, _ = npt_run
    prod = read_energies(outputs.prod_csv)
    assert len(prod) == N_REPORTS_PROD
    assert len(read_energies(outputs.heat_csv)) == 0  # heating_ps = 0
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
    assert steps_angstrom.max() < 0.25 * WATER_BOX_NM * 10.0


def test_state_xml_is_final_state(nvt_run: tuple[MDOutputs, MDProtocol]) -> None:
    outputs, protocol = nvt_run
    state = openmm.XmlSerializer.deserialize(outputs.state_xml.read_text(encoding="utf-8"))
    assert isinstance(state, openmm.State)
    n_atoms = app.PDBFile(str(outputs.prod_final_pdb)).topology.getNumAtoms()
    assert len(state.getPositions()) == n_atoms
    assert len(state.getVelocities()) == n_atoms
    summary = json.loads(outputs.summary_json.read_text(encoding="utf-8"))
    steps = summary["steps"]
    phases = ("decorrelation", "heating", "equilibration", "production")
    assert state.getStepCount() == sum(steps[phase] for phase in phases)
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
    assert summary["name"] == "water NVT"
    assert summary["platform"] == "CPU"
    # precision, device and why this platform, for the report (tests/test_md_platforms.py)
    assert summary["platform_precision"] == "fixed by the platform"
    assert summary["platform_device"]
    assert summary["platform_properties"]["choice"]["reason"] == (
        "platform CPU was asked for in the configuration"
    )
    assert summary["openmm_version"] == openmm.__version__
    assert summary["ns_per_day"] > 0
    # the wall clock of the phase includes the integration time and the output on top
    wall = summary["wall_seconds"]
    assert wall["production_with_output"] >= wall["production"] > 0
    assert 0 < summary["ns_per_day_with_output"] <= summary["ns_per_day"]
    assert summary["seed"] == protocol.seed
    assert summary["protocol"] == dataclasses.asdict(protocol)
    assert summary["steps"]["production"] == protocol.production_steps
    assert summary["steps"]["heating"] == protocol.heating_steps
    assert summary["steps"]["equilibration"] == protocol.equilibration_steps
    assert summary["n_atoms"] == app.PDBFile(str(outputs.minimized_pdb)).topology.getNumAtoms()
    for phase in ("minimization", "heating", "equilibration", "production"):
        assert summary["wall_seconds"][phase] > 0
    prod_stats = summary["production"]
    assert prod_stats["temperature_kelvin"]["n"] == N_REPORTS_PROD
    assert 0.8 < prod_stats["density_g_per_cm3"]["mean"] < 1.2
    assert prod_stats["volume_nm3"]["std"] == pytest.approx(0.0, abs=1e-12)
    equilibration = summary["equilibration"]
    assert equilibration["length_ps"] == pytest.approx(protocol.equilibration_ps)
    assert {"converged", "drift_g_per_cm3_per_ns", "mean_g_per_cm3"} <= set(equilibration)
    assert summary["pme"]["ewald_error_tolerance"] == pytest.approx(protocol.pme_error_tolerance)
    assert summary["hydrogen_mass_repartitioning"]["hydrogen_mass_amu"] == pytest.approx(3.024)
    assert summary["restarts"]["n_continuations"] == 0
    assert summary["restarts"]["blowup_retry"] is None
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
    (out_dir / "restart").mkdir(parents=True)
    stale = out_dir / "restart" / "prod.dcd"
    stale.write_bytes(b"stale")  # no progress record: not resumable, removed
    (out_dir / "md_summary.json").write_text("{}", encoding="utf-8")
    protocol = fast_protocol(heating_ps=0.0, minimize_max_iterations=50, production_ps=0.4)
    with caplog.at_level(logging.INFO, logger="electrolyte_md.md"):
        outputs = run_md(water_inputs[0], water_inputs[1], protocol, out_dir)
    assert not (out_dir / "restart").exists()
    assert len(read_energies(outputs.prod_csv)) == 2
    assert json.loads(outputs.summary_json.read_text(encoding="utf-8"))["n_atoms"] > 0
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "platform CPU" in messages
    assert "minimised potential energy" in messages
    assert "ns/day" in messages


def test_density_convergence_from_a_compressed_box(tmp_path: Path) -> None:
    """Starting ~12 % above the equilibrium density, NPT runs past its minimum length until
    two successive 1 ps windows agree within 0.5 %, then production uses their mean volume."""
    system_xml, system_pdb = write_water_box(tmp_path / "compressed", expand=0.95)
    protocol = fast_protocol(
        heating_ps=0.0,
        equilibration_ps=1.0,
        equilibration_max_ps=40.0,
        density_window_ps=1.0,
        density_tolerance=0.005,
        production_ps=0.4,
        seed=5,
    )
    outputs = run_md(system_xml, system_pdb, protocol, tmp_path / "out")
    summary = json.loads(outputs.summary_json.read_text(encoding="utf-8"))
    equil = read_energies(outputs.equil_csv)
    densities = equil["density_g_per_cm3"].to_numpy()
    assert densities[0] > 1.08
    result = summary["equilibration"]
    assert result["converged"] is True
    # the first check (at 2 ps, two windows) found the density still falling
    assert 2.0 < result["length_ps"] < protocol.equilibration_max_ps
    assert len(equil) == round(result["length_ps"] / protocol.report_interval_ps)
    first_check = density_convergence(densities[:10], 0.2, 1.0, 0.005)
    assert not first_check["converged"] and first_check["drift_g_per_cm3_per_ns"] < 0
    # the criterion holds at the end, recomputed from equil.csv
    recheck = density_convergence(densities, 0.2, 1.0, 0.005)
    assert recheck["converged"]
    assert recheck["mean_g_per_cm3"] == pytest.approx(result["mean_g_per_cm3"], rel=1e-8)
    assert recheck["relative_difference"] == pytest.approx(result["relative_difference"])
    assert densities[-10:].mean() < densities[0] - 0.02  # the box expanded
    prod = read_energies(outputs.prod_csv)
    assert prod["volume_nm3"].iloc[0] == pytest.approx(result["mean_volume_nm3"], rel=1e-7)


def test_blowup_names_system_stage_and_step(
    water_inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    """A 20 fs step on water blows up; without a retry the error names run, stage, step."""
    protocol = fast_protocol(timestep_fs=20.0, heating_ps=0.0, blowup_retry_timestep_fs=None)
    with pytest.raises(MDBlowUpError) as excinfo:
        run_md(water_inputs[0], water_inputs[1], protocol, tmp_path / "out", name="water 20fs")
    error = excinfo.value
    assert error.system == "water 20fs"
    assert error.stage in ("equilibration", "production")
    assert error.step > 0
    message = str(error)
    assert "water 20fs" in message and f"stage {error.stage}" in message
    assert f"at step {error.step}" in message
    assert not (tmp_path / "out" / "md_summary.json").exists()


def test_blowup_retry_with_2fs(
    water_inputs: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    protocol = fast_protocol(
        timestep_fs=20.0, heating_ps=0.0, blowup_retry_timestep_fs=2.0, production_ps=0.4
    )
    with caplog.at_level(logging.WARNING, logger="electrolyte_md.md"):
        outputs = run_md(water_inputs[0], water_inputs[1], protocol, tmp_path / "out")
    summary = json.loads(outputs.summary_json.read_text(encoding="utf-8"))
    assert summary["protocol"]["timestep_fs"] == 2.0
    retry = summary["restarts"]["blowup_retry"]
    assert retry["timestep_fs"] == 20.0 and retry["retry_timestep_fs"] == 2.0
    assert "blew up" in retry["message"]
    assert summary["steps"]["production"] == 200  # 0.4 ps at 2 fs
    assert len(read_energies(outputs.prod_csv)) == 2
    assert "retrying" in caplog.text
