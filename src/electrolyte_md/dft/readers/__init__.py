"""Strict readers of quantum-chemistry outputs: NWChem, ORCA 5/6, Gaussian 09/16, Q-Chem,
Psi4 and CP2K.

- :mod:`~electrolyte_md.dft.readers.dispatch`: :func:`detect_program` (from the banner) and
  :func:`read_output`, which refuses unfinished or unconverged runs and converts to eV once
- :mod:`~electrolyte_md.dft.readers.base`: :class:`QMResult`, the pattern registry
  (:func:`~electrolyte_md.dft.readers.base.define_pattern`, each regex with a sample of the
  real output it matches) and the helpers the programs share
- one module per program, one small pure function per quantity:
  :mod:`~electrolyte_md.dft.readers.nwchem`, :mod:`~electrolyte_md.dft.readers.orca`,
  :mod:`~electrolyte_md.dft.readers.gaussian`, :mod:`~electrolyte_md.dft.readers.qchem`,
  :mod:`~electrolyte_md.dft.readers.psi4`, :mod:`~electrolyte_md.dft.readers.cp2k`
"""

from electrolyte_md.dft.readers.base import QMResult
from electrolyte_md.dft.readers.dispatch import detect_program, read_output

__all__ = ["QMResult", "detect_program", "read_output"]
