"""Every physical constant and unit conversion of the package, in one place.

Two sources, each for what it is the reference of:

- SI and molar constants from :mod:`scipy.constants` (CODATA; since the 2019 SI
  redefinition N_A, e and k_B are exact, so these do not move between CODATA sets):
  Avogadro's, Boltzmann's and the gas constant, the elementary charge, and from them the
  molar energy conversions (1 eV = N_A e / 1000 kJ/mol exactly).
- Atomic units from :mod:`ase.units` (CODATA 2014, ASE's default): the Hartree and the
  Bohr. The DFT readers and GFN2-xTB (tblite works in Hartree and Bohr) convert with them
  at the edge, and the committed cluster and binding documents (``structures/``) were
  computed with them; a later CODATA set would shift absolute energies by about 1e-8
  relative, enough to break their stored-energy checks and nothing else.

Lengths in the package are Å, energies eV (QM) or kJ/mol (MD), unless a name says
otherwise.
"""

from __future__ import annotations

from ase import units as _ase
from scipy import constants as _si

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
]

#: Avogadro constant (1/mol), exact.
AVOGADRO_PER_MOL: float = _si.N_A
#: Boltzmann constant (J/K), exact.
BOLTZMANN_J_PER_K: float = _si.k
#: Elementary charge (C), exact.
ELEMENTARY_CHARGE_C: float = _si.e
#: Molar gas constant (J/(mol K)) = N_A k_B.
GAS_CONSTANT_J_PER_MOL_K: float = _si.R

#: 1 eV per particle in kJ/mol (N_A e / 1000 = 96.48533212...), the package's one factor.
EV_TO_KJ_PER_MOL: float = _si.N_A * _si.e / 1e3
#: 1 kJ/mol in eV per particle.
KJ_PER_MOL_TO_EV: float = 1.0 / EV_TO_KJ_PER_MOL
#: 1 eV per particle in kcal/mol (thermochemical calorie, 4.184 J).
EV_TO_KCAL_PER_MOL: float = EV_TO_KJ_PER_MOL / _si.calorie  # kJ per kcal = J per cal

#: 1 Hartree in eV (ase.units.Hartree, CODATA 2014): the one Hartree factor.
HARTREE_EV: float = float(_ase.Hartree)
#: 1 Bohr in Å (ase.units.Bohr, CODATA 2014).
BOHR_ANGSTROM: float = float(_ase.Bohr)

#: Volume conversions (exact).
ANGSTROM3_PER_LITRE = 1e27
ANGSTROM3_PER_CM3 = 1e24
