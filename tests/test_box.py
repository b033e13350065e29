import json

import MDAnalysis
import numpy as np
import pytest
from MDAnalysis.lib.distances import distance_array

from electrolyte_md.errors import ConfigError
from electrolyte_md.structures.box import (
    SaltSpec,
    composition_for_system,
    compute_composition,
    pack_box,
    salt_stoichiometry,
)
from electrolyte_md.structures.species import SpeciesInfo
from electrolyte_md.units import AVOGADRO_PER_MOL

MASS = {
    "NMP": 99.133,
    "Li": 6.941,
    "PF6": 144.962,
    "Mg": 24.305,
    "TFSI": 280.14,
    "EC": 88.062,
    "DMC": 90.078,
    "X": 50.0,
}
CHARGE = {"NMP": 0, "Li": 1, "PF6": -1, "Mg": 2, "TFSI": -1, "EC": 0, "DMC": 0, "X": 1}
ATOMS = {"NMP": 16, "Li": 1, "PF6": 7, "Mg": 1, "TFSI": 15, "EC": 10, "DMC": 12, "X": 3}
DENSITY = {"NMP": 1.028, "EC": 1.32, "DMC": 1.07, "X": 1.0}
LIPF6 = SaltSpec("LiPF6", "Li", "PF6", 1.0, 1.50)


def _compose(**kwargs):
    defaults = dict(
        system="s",
        solvents={"NMP": 1.0},
        n_solvent_molecules=100,
        salts=[LIPF6],
        additives={},
        molar_mass=MASS,
        charge=CHARGE,
        n_atoms=ATOMS,
        density=DENSITY,
    )
    defaults.update(kwargs)
    return compute_composition(**defaults)


def test_one_molar_lipf6_in_100_nmp():
    c = _compose()
    # by hand: 100 NMP occupy 16013 A^3, one LiPF6 168.2 A^3 in the crystal;
    # n = c N_A V with V = 16013 + n * 168.2  ->  n = 10.7 -> 11 formula units
    assert c.counts == {"NMP": 100, "Li": 11, "PF6": 11}
    volume = (
        100 * 99.133 / 1.028 / AVOGADRO_PER_MOL * 1e24
        + 11 * 151.903 / 1.5 / AVOGADRO_PER_MOL * 1e24
    )
    assert c.box_length_angstrom == pytest.approx(volume ** (1 / 3), rel=1e-6)
    assert c.box_length_angstrom == pytest.approx(26.15, abs=0.02)
    obtained = c.salt_concentration_mol_per_l["LiPF6"]
    assert obtained["formula_units"] == 11
    assert obtained["obtained"] == pytest.approx(11 / AVOGADRO_PER_MOL / (volume * 1e-27))
    assert obtained["obtained"] == pytest.approx(1.02, abs=0.01)
    assert c.n_atoms == 100 * 16 + 11 * 8
    assert c.net_charge_e == 0
    mass = 100 * 99.133 + 11 * 151.903
    assert c.estimated_density_g_per_cm3 == pytest.approx(
        mass / AVOGADRO_PER_MOL / (volume * 1e-24)
    )


def test_volume_fractions_become_mole_numbers():
    c = _compose(solvents={"EC": 1.0, "DMC": 1.0}, salts=[])
    # EC:DMC 1:1 v/v -> mole ratio (1.32/88.062) : (1.07/90.078) = 0.558 : 0.442
    assert c.counts == {"EC": 56, "DMC": 44}


def test_divalent_salt_has_two_anions_per_cation():
    assert salt_stoichiometry(2, -1) == (1, 2)
    assert salt_stoichiometry(1, -1) == (1, 1)
    c = _compose(salts=[SaltSpec("MgTFSI2", "Mg", "TFSI", 0.5, 2.0)])
    assert c.counts["TFSI"] == 2 * c.counts["Mg"] > 0
    assert c.net_charge_e == 0


def test_charged_additive_makes_a_non_neutral_box():
    with pytest.raises(ConfigError, match="not neutral.*\\+2 e"):
        _compose(additives={"X": 2})


def test_too_few_solvent_molecules_for_the_concentration():
    with pytest.raises(ConfigError, match="rounds to zero ion pairs"):
        _compose(n_solvent_molecules=3, salts=[SaltSpec("LiPF6", "Li", "PF6", 0.05, 1.5)])


def test_pack_box_respects_tolerance_across_periodic_boundaries(built_species, tmp_path):
    infos = {n: SpeciesInfo.from_json(d / "species.json") for n, d in built_species.items()}
    system = {"solvents": {"NMP": 1.0}, "n_solvent_molecules": 25, "salts": {"LiPF6": 1.0}}
    salts = {"LiPF6": {"cation": "Li", "anion": "PF6", "density_g_per_cm3": 1.5}}
    species = {"NMP": {"density_g_per_cm3": 1.028}}
    composition = composition_for_system("tiny", system, salts, species, infos)
    pdbs = {n: d / "params" / "ff.pdb" for n, d in built_species.items()}
    pack_box(composition, pdbs, tmp_path / "box.pdb", tolerance_angstrom=2.0, seed=3)

    u = MDAnalysis.Universe(str(tmp_path / "box.pdb"))
    assert u.dimensions[:3] == pytest.approx([composition.box_length_angstrom] * 3, abs=1e-3)
    residues = [r.resname for r in u.residues]
    assert residues.count("NMP") == composition.counts["NMP"] == 25
    assert residues.count("LI") == residues.count("PF6") == composition.counts["Li"] > 0
    d = distance_array(u.atoms.positions, u.atoms.positions, box=u.dimensions)
    same = u.atoms.resindices[:, None] == u.atoms.resindices[None, :]
    # Packmol's tolerance holds between molecules, also through the periodic faces
    assert d[~same].min() > 2.0 * 0.9
    assert json.loads(json.dumps(composition.__dict__))["counts"]["NMP"] == 25
    assert not np.isnan(u.atoms.positions).any()
