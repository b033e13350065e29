"""Every physical constant and unit conversion of the package, in one place.

All from :mod:`ase.units` (which imports only numpy; scipy.constants has the same
values but costs the workflow a tenth of a second each time its rules are read), in two
CODATA sets, each for what it is the reference of:

- SI and molar constants from the CODATA 2018 set (``ase.units.create_units("2018")``,
  the values of :mod:`scipy.constants`): since the 2019 SI redefinition N_A, e and k_B
  are exact, so these do not move between later sets. Avogadro's and Boltzmann's
  constants, the elementary charge, the gas constant R = N_A k_B, and from them the molar
  energy conversions (1 eV = N_A e / 1000 kJ/mol exactly).
- Atomic units from ASE's default set (CODATA 2014): the Hartree and the Bohr. The DFT
  readers and GFN2-xTB (tblite works in Hartree and Bohr) convert with them at the edge,
  and the committed cluster and binding documents (``structures/``) were computed with
  them; a later set would shift absolute energies by about 1e-8 relative, enough to
  break their stored-energy checks and nothing else.

Lengths in the package are Å, energies eV (QM) or kJ/mol (MD), unless a name says
otherwise.
"""

from __future__ import annotations

from ase import units as _ase

_SI = _ase.create_units("2018")

__all__ = [
    "ANGSTROM3_PER_CM3",
    "ANGSTROM3_PER_LITRE",
    "AVOGADRO_PER_MOL",
    "BOHR_ANGSTROM",
    "BOLTZMANN_J_PER_K",
    "ELEMENTARY_CHARGE_C",
    "EV_TO_KCAL_PER_MOL",
    "EV_TO_KJ_PER_MOL",
    "GAS_CONSTANT_J_PER_MOL_K",
    "HARTREE_EV",
    "KJ_PER_MOL_TO_EV",
    "THERMOCHEMICAL_KJ_PER_KCAL",
]

#: Avogadro constant (1/mol), exact.
AVOGADRO_PER_MOL: float = _SI["_Nav"]
#: Boltzmann constant (J/K), exact.
BOLTZMANN_J_PER_K: float = _SI["_k"]
#: Elementary charge (C), exact.
ELEMENTARY_CHARGE_C: float = _SI["_e"]
#: Molar gas constant (J/(mol K)) = N_A k_B.
GAS_CONSTANT_J_PER_MOL_K: float = AVOGADRO_PER_MOL * BOLTZMANN_J_PER_K

#: The thermochemical calorie: 4.184 J by definition (kJ per kcal).
THERMOCHEMICAL_KJ_PER_KCAL = 4.184

#: 1 eV per particle in kJ/mol (N_A e / 1000 = 96.48533212...), the package's one factor.
EV_TO_KJ_PER_MOL: float = AVOGADRO_PER_MOL * ELEMENTARY_CHARGE_C / 1e3
#: 1 kJ/mol in eV per particle.
KJ_PER_MOL_TO_EV: float = 1.0 / EV_TO_KJ_PER_MOL
#: 1 eV per particle in kcal/mol (thermochemical calorie, 4.184 J).
EV_TO_KCAL_PER_MOL: float = EV_TO_KJ_PER_MOL / THERMOCHEMICAL_KJ_PER_KCAL

#: 1 Hartree in eV (ase.units.Hartree, CODATA 2014): the one Hartree factor.
HARTREE_EV: float = float(_ase.Hartree)
#: 1 Bohr in Å (ase.units.Bohr, CODATA 2014).
BOHR_ANGSTROM: float = float(_ase.Bohr)

#: Volume conversions (exact).
ANGSTROM3_PER_LITRE = 1e27
ANGSTROM3_PER_CM3 = 1e24
