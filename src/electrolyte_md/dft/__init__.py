"""Quantum-chemistry outputs: strict readers, binding energies, input files.

- :mod:`~electrolyte_md.dft.readers`: NWChem, ORCA, Gaussian, Q-Chem, Psi4 and CP2K
  outputs to energies (eV), method, basis, dispersion, charge, multiplicity, atomic charges;
  one module per program (``readers/nwchem.py``, ``orca.py``, ``gaussian.py``,
  ``qchem.py``, ``psi4.py``, ``cp2k.py``), each regex beside a sample of the output it
  matches (``readers/base.py``), detection and :func:`read_output` in ``readers/dispatch.py``
- :mod:`~electrolyte_md.dft.binding`: binding energies (with counterpoise correction) from a
  manifest of complexes and fragments
- :mod:`~electrolyte_md.dft.inputs`: NWChem and ORCA input files, ghost-atom fragments
- :mod:`~electrolyte_md.dft.xtb_binding`: GFN2-xTB binding energies of a host and a guest
  over several placements, and the comparison with the DFT values and the paper's
"""
