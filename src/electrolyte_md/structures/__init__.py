"""Stage 1, structures: one 3D structure per species and the packed periodic box.

- :mod:`~electrolyte_md.structures.species`: species from SMILES (RDKit; the PF6-
  octahedron built directly), their formula, charge and ``species.json``
- :mod:`~electrolyte_md.structures.box`: compositions at the configured concentration and
  the Packmol box
"""
