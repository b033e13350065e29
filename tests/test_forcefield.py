import itertools
import json

import numpy as np
import openmm
import openmm.app as app
import openmm.unit as unit
import pytest

from electrolyte_md import mol2
from electrolyte_md.errors import ParameterizationError
from electrolyte_md.forcefield import species as forcefield_species
from electrolyte_md.forcefield.parameters import SpeciesParameters
from electrolyte_md.forcefield.species import parameterize_species
from electrolyte_md.forcefield.system import build_system
from electrolyte_md.structures.box import composition_for_system, pack_box
from electrolyte_md.structures.species import SpeciesInfo, build_species


def test_nmp_gets_gaff2_types_and_integral_am1bcc_charges(built_species):
    params = built_species["NMP"] / "params"
    atoms = mol2.read_atoms(params / "ff.mol2")
    assert len(atoms) == 16
    assert sum(round(a.charge * 1e6) for a in atoms) == 0  # exactly neutral
    types = {a.atom_type for a in atoms}
    assert {"c", "o", "n", "c3"} <= types  # carbonyl C and O, amide N, methyl C
    oxygen = next(a for a in atoms if a.atom_type == "o")
    assert -0.8 < oxygen.charge < -0.4  # a polar carbonyl, as AM1-BCC gives
    record = SpeciesParameters.from_json(params / "ff.json")
    assert record.model == "gaff2_am1bcc" and record.net_charge_e == 0


def test_pf6_and_li_parameters(built_species):
    pf6 = mol2.read_atoms(built_species["PF6"] / "params" / "ff.mol2")
    assert {(a.atom_type, a.charge) for a in pf6} == {("p5", 1.34), ("f", -0.39)}
    li = SpeciesParameters.from_json(built_species["Li"] / "params" / "ff.json")
    assert li.extra_frcmods == ["frcmod.ionsjc_tip3p"]
    assert mol2.read_atoms(built_species["Li"] / "params" / "ff.mol2")[0].atom_type == "Li+"


def test_cache_hit_runs_no_program(built_species, parameter_cache, tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("antechamber or parmchk2 was called on a cache hit")

    monkeypatch.setattr(forcefield_species, "run_program", forbidden)
    d = built_species["NMP"]
    info = SpeciesInfo.from_json(d / "species.json")
    parameterize_species(
        info, d / "structure.sdf", {"model": "gaff2_am1bcc"}, tmp_path, cache_dir=parameter_cache
    )
    assert (tmp_path / "ff.mol2").read_text() == (d / "params" / "ff.mol2").read_text()


def test_fixed_charges_must_sum_to_formal_charge(tmp_path):
    info = build_species(
        "PF6", "F[P-](F)(F)(F)(F)F", "PF6", tmp_path / "p.sdf", tmp_path / "p.json"
    )
    with pytest.raises(ParameterizationError, match=r"sum to -1\.100000 e.*formal charge -1"):
        parameterize_species(
            info,
            tmp_path / "p.sdf",
            {"model": "gaff2_fixed_charges", "charges": {"P": 1.3, "F": -0.4}},
            tmp_path / "out",
        )


def test_ion_model_without_parameters_is_an_error(tmp_path):
    info = build_species("Zn", "[Zn+2]", "ZN", tmp_path / "z.sdf", tmp_path / "z.json")
    with pytest.raises(ParameterizationError, match="no Joung-Cheatham TIP3P parameters for Zn"):
        parameterize_species(info, tmp_path / "z.sdf", {"model": "ion_jc_tip3p"}, tmp_path / "o")


@pytest.fixture(scope="module")
def small_box(built_species, tmp_path_factory):
    out = tmp_path_factory.mktemp("system")
    infos = {n: SpeciesInfo.from_json(d / "species.json") for n, d in built_species.items()}
    composition = composition_for_system(
        "small",
        {"solvents": {"NMP": 1.0}, "n_solvent_molecules": 40, "salts": {"LiPF6": 1.0}},
        {"LiPF6": {"cation": "Li", "anion": "PF6", "density_g_per_cm3": 1.5}},
        {"NMP": {"density_g_per_cm3": 1.028}},
        infos,
    )
    pack_box(
        composition,
        {n: d / "params" / "ff.pdb" for n, d in built_species.items()},
        out / "box.pdb",
        seed=5,
    )
    summary = build_system(
        out / "box.pdb",
        {n: d / "params" for n, d in built_species.items()},
        composition.counts,
        {"Li": 0.8, "PF6": 0.8},
        out,
        cutoff_nm=0.8,
    )
    return out, composition, summary


def _nonbonded(system):
    return next(f for f in system.getForces() if isinstance(f, openmm.NonbondedForce))


def test_system_is_neutral_with_scaled_ion_charges(small_box):
    out, composition, summary = small_box
    system = openmm.XmlSerializer.deserialize((out / "system.xml").read_text())
    pdb = app.PDBFile(str(out / "system.pdb"))
    assert system.getNumParticles() == pdb.topology.getNumAtoms() == composition.n_atoms
    nb = _nonbonded(system)
    assert nb.getNonbondedMethod() == openmm.NonbondedForce.PME
    assert nb.getCutoffDistance().value_in_unit(unit.nanometer) == pytest.approx(0.8)
    assert nb.getUseDispersionCorrection()
    charges = {}
    for atom in pdb.topology.atoms():
        q = nb.getParticleParameters(atom.index)[0].value_in_unit(unit.elementary_charge)
        charges.setdefault(atom.residue.name, []).append(q)
    assert charges["LI"] == pytest.approx([0.8] * composition.counts["Li"])
    assert sum(charges["PF6"]) == pytest.approx(-0.8 * composition.counts["PF6"], abs=1e-5)
    assert sum(sum(v) for v in charges.values()) == pytest.approx(0.0, abs=1e-5)
    assert summary.net_charge_e == pytest.approx(0.0, abs=1e-5)
    recorded = json.loads((out / "forcefield.json").read_text())
    assert recorded["species"]["Li"]["charge_per_molecule_e"] == pytest.approx(0.8)
    assert system.getNumConstraints() > 0
    # every atom keeps its element in the topology (Li+ once came out as "EP")
    elements = {
        (a.residue.name, a.element.symbol if a.element else None) for a in pdb.topology.atoms()
    }
    assert elements == {("NMP", e) for e in "CHNO"} | {("LI", "Li"), ("PF6", "P"), ("PF6", "F")}


def _angle_energy(system, positions_nm, atoms):
    """Energy of the harmonic angle terms among ``atoms`` only."""
    angle_system = openmm.System()
    for i in range(system.getNumParticles()):
        angle_system.addParticle(system.getParticleMass(i))
    angles = next(f for f in system.getForces() if isinstance(f, openmm.HarmonicAngleForce))
    copy = openmm.HarmonicAngleForce()
    for n in range(angles.getNumAngles()):
        a, b, c, theta0, k = angles.getAngleParameters(n)
        if {a, b, c} <= atoms:
            copy.addAngle(a, b, c, theta0, k)
    angle_system.addForce(copy)
    context = openmm.Context(
        angle_system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference")
    )
    context.setPositions(positions_nm)
    return (
        context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    )


def _trans_angles(positions, pdb):
    angles = []
    for residue in pdb.topology.residues():
        if residue.name != "PF6":
            continue
        atoms = list(residue.atoms())
        p = next(a.index for a in atoms if a.element.symbol == "P")
        fs = [a.index for a in atoms if a.element.symbol == "F"]
        for i, k in itertools.combinations(fs, 2):
            u, v = positions[i] - positions[p], positions[k] - positions[p]
            cosine = np.clip(np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v), -1.0, 1.0)
            angle = np.degrees(np.arccos(cosine))
            if angle > 135:
                angles.append(angle)
    return np.array(angles)


def test_trans_f_p_f_angle_terms_are_removed(small_box):
    out, composition, summary = small_box
    assert summary.removed_trans_angles == 3 * composition.counts["PF6"]
    system = openmm.XmlSerializer.deserialize((out / "system.xml").read_text())
    pdb = app.PDBFile(str(out / "system.pdb"))
    positions = np.array(pdb.getPositions(asNumpy=True).value_in_unit(unit.nanometer))
    pf6_atoms = {a.index for a in pdb.topology.atoms() if a.residue.name == "PF6"}
    # the packed PF6- are perfect octahedra: with only the cis terms left (theta0 = 90.16
    # deg) their angle energy is ~0.04 kJ/mol per ion; each trans term GAFF2 would apply
    # adds 1/2 k (pi/2)^2 = 1156 kJ/mol
    assert _angle_energy(system, positions, pf6_atoms) < 0.1 * composition.counts["PF6"]


def test_pf6_stays_octahedral_in_md(small_box):
    out, _, _ = small_box
    system = openmm.XmlSerializer.deserialize((out / "system.xml").read_text())
    pdb = app.PDBFile(str(out / "system.pdb"))
    integrator = openmm.LangevinMiddleIntegrator(
        300 * unit.kelvin, 5 / unit.picosecond, 2 * unit.femtosecond
    )
    integrator.setRandomNumberSeed(11)
    simulation = app.Simulation(
        pdb.topology, system, integrator, openmm.Platform.getPlatformByName("CPU"), {"Threads": "2"}
    )
    simulation.context.setPositions(pdb.positions)
    simulation.minimizeEnergy(maxIterations=500)
    simulation.context.setVelocitiesToTemperature(300 * unit.kelvin, 11)
    simulation.step(1500)  # 3 ps
    state = simulation.context.getState(getPositions=True)
    positions = np.array(state.getPositions(asNumpy=True).value_in_unit(unit.nanometer))
    trans = _trans_angles(positions, pdb)
    assert len(trans) == 3 * sum(1 for r in pdb.topology.residues() if r.name == "PF6")
    assert trans.min() > 150.0
    assert trans.mean() > 165.0


def test_cutoff_longer_than_half_box_is_refused(small_box, tmp_path, built_species):
    out, composition, _ = small_box
    with pytest.raises(ParameterizationError, match="twice the cutoff"):
        build_system(
            out / "box.pdb",
            {n: d / "params" for n, d in built_species.items()},
            composition.counts,
            {},
            tmp_path,
            cutoff_nm=1.2,
        )


def test_parmchk2s_random_choice_of_aromatic_impropers_is_settled():
    """parmchk2 (AmberTools 26) writes these impropers of 4-aminobenzoate either way from
    run to run on the same input (3 of 8 runs the X -X -cc-X one): the default wins."""
    from electrolyte_md.frcmod import settle_aromatic_impropers

    stiff = (
        "IMPROPER\n"
        "ca-ca-ca-nv        10.5          180.0         2.0          Same as X -X -cc-X , "
        "penalty score= 41.9 (use general term))\n"
        "c -ca-ca-ca        10.5          180.0         2.0          Same as X -X -cc-X , "
        "penalty score= 41.9 (use general term))\n"
        "ca-ca-ca-ha         1.1          180.0         2.0          Using general improper "
        "torsional angle  X- X-ca-ha, penalty score=  6.0)\n\nNONBON\n"
    )
    default = (
        "IMPROPER\n"
        "ca-ca-ca-nv         1.1          180.0         2.0          Using the default value\n"
        "c -ca-ca-ca         1.1          180.0         2.0          Using the default value\n"
        "ca-ca-ca-ha         1.1          180.0         2.0          Using general improper "
        "torsional angle  X- X-ca-ha, penalty score=  6.0)\n\nNONBON\n"
    )
    settled, changed = settle_aromatic_impropers(stiff)
    assert settled == default and changed == ["ca-ca-ca-nv", "c -ca-ca-ca"]
    assert settle_aromatic_impropers(default) == (default, [])
