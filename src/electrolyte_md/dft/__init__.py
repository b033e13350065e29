"""Quantum-chemistry outputs: strict readers, binding energies, input files.

- :mod:`~electrolyte_md.dft.readers`: NWChem, ORCA, Gaussian, Q-Chem, Psi4 and CP2K
  outputs to energies (eV), method, basis, dispersion, charge, multiplicity, atomic charges
- :mod:`~electrolyte_md.dft.binding`: binding energies (with counterpoise correction) from a
  manifest of complexes and fragments
- :mod:`~electrolyte_md.dft.inputs`: NWChem and ORCA input files, ghost-atom fragments
"""
