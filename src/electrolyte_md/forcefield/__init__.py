"""Stage 2, force field: parameters per species and the OpenMM System of a box.

- :mod:`~electrolyte_md.forcefield.parameters`: the parameter models, their citations and
  the record of a parameterised species
- :mod:`~electrolyte_md.forcefield.species`: GAFF2 with AM1-BCC or fixed charges, ions
  (AmberTools), cached by species identity
- :mod:`~electrolyte_md.forcefield.cluster_model`: the Ti6 cluster's parameters from its
  document
- :mod:`~electrolyte_md.forcefield.system`: tleap topology and the OpenMM System of a box
  (or of one molecule alone)
"""
