"""The start of an MD run and its stage end criteria (electrolyte_md.md.criteria, run_md).

An unbiased start: minimised with the ion charges on, a randomly packed salt solution
falls into contact ion pairs; with them off (and a hot uncharged decorrelation stage),
heating starts from the pairing of the packed box.  Shown on a small box of point ions
in a Lennard-Jones solvent (no dielectric screening: the strongest pull to pair).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import openmm
import pytest
from md_testing import fast_protocol, write_water_box
from openmm import app, unit

from electrolyte_md.md import read_energies, run_md
from electrolyte_md.md.criteria import (
    ION_CONTACT_ANGSTROM,
    energy_convergence,
    equilibration_criteria,
    ion_contacts_per_cation,
    ionic_molecules,
    temperature_allowance,
    temperature_check,
)

# ------------------------------------------------------------------------------------
# Criteria on made-up series
# ------------------------------------------------------------------------------------


def test_energy_criterion_is_measured_in_standard_deviations() -> None:
    rng = np.random.default_rng(3)
    flat = -5000.0 + 40.0 * rng.standard_normal(40)
    check = energy_convergence(flat, 1.0, 10.0, 1.0)
    expected = abs(flat[-10:].mean() - flat[-20:-10].mean()) / flat[-20:].std(ddof=1)
    assert check["passed"] and check["value"] == pytest.approx(expected)
    # the same drift in a box 100 times larger (energy and its spread x100) reads the same
    assert energy_convergence(100 * flat, 1.0, 10.0, 1.0)["value"] == pytest.approx(expected)
    relaxing = flat + np.linspace(0.0, -400.0, 40)  # 100 kJ/mol per window: 2+ SD
    check = energy_convergence(relaxing, 1.0, 10.0, 1.0)
    assert not check["passed"] and check["difference_kj_per_mol"] < 0 and check["value"] > 1
    assert not energy_convergence(flat[:15], 1.0, 10.0, 1.0)["passed"]


def test_temperature_allowance_widens_with_the_noise_of_a_small_box() -> None:
    # 3 K + 2 T sqrt(2 / (N_dof n)): the default box (3,300 dof, 5 reports) and a tiny one
    assert temperature_allowance(298.15, 3.0, 3300, 5) == pytest.approx(
        3.0 + 2 * 298.15 * np.sqrt(2 / 16500)
    )
    assert temperature_allowance(298.15, 3.0, 300, 5) > temperature_allowance(298.15, 3.0, 30000, 5)
    cold = np.full(10, 285.0)  # 13 K below the target
    big = temperature_check(cold, 1.0, 5.0, 298.15, 3.0, 30000)
    assert not big["passed"] and big["deviation_kelvin"] == pytest.approx(-13.15)
    assert temperature_check(cold, 1.0, 5.0, 298.15, 3.0, 200)["passed"]  # within its noise
    # only the last window counts: a ramp that ended at the target passes
    ramp = np.concatenate([np.linspace(50, 298, 10), np.full(5, 298.0)])
    assert temperature_check(ramp, 1.0, 5.0, 298.15, 3.0, 30000)["passed"]


def test_equilibration_needs_density_energy_and_temperature() -> None:
    rng = np.random.default_rng(5)
    n = 40

    def rows(temperature_offset: float = 0.0, energy_drift: float = 0.0) -> list[dict]:
        return [
            {
                "density_g_per_cm3": 1.0 + 0.001 * rng.standard_normal(),
                "potential_energy_kj_per_mol": -5000
                + 30 * rng.standard_normal()
                + energy_drift * i,
                "temperature_kelvin": 298.15 + temperature_offset + 2 * rng.standard_normal(),
            }
            for i in range(n)
        ]

    settings = {
        "report_interval_ps": 1.0,
        "window_ps": 10.0,
        "density_tolerance": 0.01,
        "energy_tolerance_sd": 1.0,
        "target_kelvin": 298.15,
        "temperature_tolerance_kelvin": 3.0,
        "degrees_of_freedom": 30000,
    }
    good = equilibration_criteria(rows(), **settings)
    assert good["converged"] and all(c["passed"] for c in good["criteria"].values())
    hot = equilibration_criteria(rows(temperature_offset=20.0), **settings)
    assert not hot["converged"]
    assert [k for k, c in hot["criteria"].items() if not c["passed"]] == ["temperature"]
    relaxing = equilibration_criteria(rows(energy_drift=-10.0), **settings)
    assert [k for k, c in relaxing["criteria"].items() if not c["passed"]] == ["potential_energy"]


def test_ion_contacts_use_the_minimum_image() -> None:
    box = np.diag([2.0, 2.0, 2.0])
    positions = np.array(
        [
            [0.05, 1.0, 1.0],  # cation 0
            [1.0, 1.0, 1.0],  # cation 1: alone
            [1.80, 1.0, 1.0],  # anion atom A1, 0.25 nm from cation 0 across the face
            [1.70, 1.0, 1.0],  # anion atom A2 (same anion)
            [0.05, 1.0, 1.35],  # anion B: 0.35 nm from cation 0, outside 3.0 Å
        ]
    )
    cations, anions = ionic_molecules([[0], [1], [2, 3], [4]], [1.0, 1.0, -0.5, -0.5, -1.0])
    assert cations == [[0], [1]] and anions == [[2, 3], [4]]
    assert ion_contacts_per_cation(positions, box, cations, anions) == pytest.approx(0.5)
    assert ion_contacts_per_cation(positions, box, cations, anions, 3.6) == pytest.approx(1.0)
    assert np.isnan(ion_contacts_per_cation(positions, box, [], anions))


# ------------------------------------------------------------------------------------
# A salt in a Lennard-Jones solvent, randomly packed
# ------------------------------------------------------------------------------------

N_IONS = 20  # of each sign
N_SOLVENT = 300
BOX_NM = 2.6
#: (element, charge e, sigma nm, epsilon kJ/mol, mass amu)
CATION = ("Li", 0.8, 0.14, 0.1, 6.94)
ANION = ("Cl", -0.8, 0.26, 0.4, 35.45)
SOLVENT = ("Ar", 0.0, 0.30, 1.0, 39.95)


def write_ionic_box(directory: Path, seed: int = 11) -> tuple[Path, Path]:
    """Randomly placed point ions (no two particles within 0.28 nm) in an LJ solvent."""
    rng = np.random.default_rng(seed)
    kinds = [CATION] * N_IONS + [ANION] * N_IONS + [SOLVENT] * N_SOLVENT
    positions: list[np.ndarray] = []
    while len(positions) < len(kinds):
        trial = rng.uniform(0.0, BOX_NM, 3)
        if positions:
            delta = np.asarray(positions) - trial
            delta -= BOX_NM * np.round(delta / BOX_NM)
            if (np.linalg.norm(delta, axis=1) < 0.28).any():
                continue
        positions.append(trial)
    system = openmm.System()
    system.setDefaultPeriodicBoxVectors(*(openmm.Vec3(*row) for row in np.eye(3) * BOX_NM))
    nonbonded = openmm.NonbondedForce()
    nonbonded.setNonbondedMethod(openmm.NonbondedForce.PME)
    nonbonded.setCutoffDistance(0.9)
    topology = app.Topology()
    topology.setPeriodicBoxVectors(np.eye(3) * BOX_NM * unit.nanometer)
    chain = topology.addChain()
    for element, charge, sigma, epsilon, mass in kinds:
        system.addParticle(mass)
        nonbonded.addParticle(charge, sigma, epsilon)
        residue = topology.addResidue(element.upper(), chain)
        topology.addAtom(element, app.Element.getBySymbol(element), residue)
    system.addForce(nonbonded)
    directory.mkdir(parents=True, exist_ok=True)
    system_xml, system_pdb = directory / "system.xml", directory / "system.pdb"
    system_xml.write_text(openmm.XmlSerializer.serialize(system), encoding="utf-8")
    with open(system_pdb, "w", encoding="utf-8") as fh:
        app.PDBFile.writeFile(topology, np.asarray(positions) * unit.nanometer, fh)
    return system_xml, system_pdb


def start_protocol(**changes: object):
    settings: dict[str, object] = {
        "timestep_fs": 1.0,  # no bonds to constrain: the check wants <= 1 fs
        "hydrogen_mass_amu": None,
        "blowup_retry_timestep_fs": None,
        "minimize_max_iterations": 500,
        "heating_ps": 0.4,
        "equilibration_ps": 0.8,
        "production_ps": 0.4,
    }
    settings.update(changes)
    return fast_protocol(**settings)


@pytest.fixture(scope="module")
def ionic_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    directory = tmp_path_factory.mktemp("ionic")
    system_xml, system_pdb = write_ionic_box(directory / "inputs")
    protocols = {
        "charged minimisation": start_protocol(minimize_ions_uncharged=False),
        "unbiased start": start_protocol(decorrelation_ps=4.0, decorrelation_kelvin=500.0),
    }
    summaries = {}
    for label, protocol in protocols.items():
        outputs = run_md(system_xml, system_pdb, protocol, directory / label.replace(" ", "_"))
        summaries[label] = json.loads(outputs.summary_json.read_text(encoding="utf-8"))
        summaries[label]["decorrelation_rows"] = read_energies(outputs.decorrelation_csv)
    return summaries


def test_minimising_with_charges_pairs_the_ions_and_the_unbiased_start_does_not(
    ionic_runs: dict[str, dict],
) -> None:
    charged = ionic_runs["charged minimisation"]["ion_contacts_per_cation"]
    unbiased = ionic_runs["unbiased start"]["ion_contacts_per_cation"]
    assert charged["cutoff_angstrom"] == unbiased["cutoff_angstrom"] == ION_CONTACT_ANGSTROM
    packed = charged["packed"]
    assert unbiased["packed"] == packed < 0.5
    # the charged minimiser pulls the ions together ...
    assert charged["minimized"] >= packed + 0.5
    # ... the uncharged one, and the hot uncharged stage, leave the packed pairing
    # (20 cations: one contact more or less is 0.05)
    assert abs(unbiased["minimized"] - packed) <= 0.15
    assert abs(unbiased["heating_start"] - packed) <= 0.3
    assert unbiased["heating_start"] < charged["heating_start"] - 0.3
    # with the charges on again, pairing then grows from below
    assert unbiased["final"] > unbiased["heating_start"]


def test_decorrelation_stage_is_hot_uncharged_and_at_fixed_volume(
    ionic_runs: dict[str, dict],
) -> None:
    summary = ionic_runs["unbiased start"]
    rows = summary["decorrelation_rows"]
    assert len(rows) == 20  # 4 ps, reports every 0.2 ps
    assert rows["volume_nm3"].nunique() == 1
    assert rows["temperature_kelvin"].iloc[5:].mean() == pytest.approx(500, abs=60)
    assert summary["steps"]["decorrelation"] == 4000
    assert summary["decorrelation"] == {
        "length_ps": 4.0,
        "temperature_kelvin": 500.0,
        "ions_uncharged": True,
    }
    assert summary["minimization"]["ions_uncharged"] is True
    assert ionic_runs["charged minimisation"]["minimization"]["ions_uncharged"] is False
    assert len(ionic_runs["charged minimisation"]["decorrelation_rows"]) == 0
    # minimised energies are of the full, charged Hamiltonian in both runs
    energies = {k: r["potential_energy_kj_per_mol"]["minimized"] for k, r in ionic_runs.items()}
    assert energies["charged minimisation"] < energies["unbiased start"] < 0


# ------------------------------------------------------------------------------------
# Stage end criteria in real runs
# ------------------------------------------------------------------------------------


def test_heating_is_held_at_the_target_until_a_window_reaches_it(tmp_path: Path) -> None:
    """A 0.2 ps ramp from 50 K leaves the water cold; heating goes on at the target."""
    system_xml, system_pdb = write_water_box(tmp_path / "water")
    protocol = fast_protocol(
        heating_ps=0.2,
        heating_max_ps=10.0,
        temperature_window_ps=1.0,
        temperature_tolerance_kelvin=3.0,
        production_ps=0.4,
    )
    outputs = run_md(system_xml, system_pdb, protocol, tmp_path / "out")
    summary = json.loads(outputs.summary_json.read_text(encoding="utf-8"))
    heating = summary["heating"]
    heat = read_energies(outputs.heat_csv)
    assert heating["ended_by"] == "temperature within tolerance" and heating["passed"]
    assert 0.2 < heating["length_ps"] < 10.0
    assert len(heat) == round(heating["length_ps"] / 0.2)
    recheck = temperature_check(
        heat["temperature_kelvin"], 0.2, 1.0, 298.15, 3.0, summary["degrees_of_freedom"]
    )
    assert recheck["mean_kelvin"] == pytest.approx(heating["mean_kelvin"])
    assert abs(recheck["deviation_kelvin"]) <= recheck["allowed_kelvin"]
    # every earlier window (after the first) was still outside the allowance
    earlier = temperature_check(
        heat["temperature_kelvin"].iloc[:-1], 0.2, 1.0, 298.15, 3.0, summary["degrees_of_freedom"]
    )
    assert not earlier["passed"]
    equilibration = summary["equilibration"]
    assert equilibration["ended_by"] == "fixed length"
    assert set(equilibration["criteria"]) == {"density", "potential_energy", "temperature"}


def test_heating_that_cannot_reach_the_target_is_flagged(tmp_path: Path) -> None:
    system_xml, system_pdb = write_water_box(tmp_path / "water")
    # no hold after a 0.2 ps ramp: a fixed length, reported as such
    protocol = fast_protocol(heating_ps=0.2, temperature_window_ps=0.2, production_ps=0.4)
    outputs = run_md(system_xml, system_pdb, protocol, tmp_path / "out")
    heating = json.loads(outputs.summary_json.read_text(encoding="utf-8"))["heating"]
    assert heating["ended_by"] == "fixed length"
    assert heating["passed"] is False and heating["deviation_kelvin"] < -50
