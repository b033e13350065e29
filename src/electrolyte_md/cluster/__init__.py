"""The Ti6 cluster wing: the Ti6(mu3-O)6 cluster from its ligands to its force field.

The cluster has a wing of its own, below the force-field stage, because its document
(``structures/ti6_hpab.json``) carries force-field terms computed when it is built:
split between structures/ and forcefield/ those two stages would import each other.

- :mod:`~electrolyte_md.cluster.builder`: the hexagonal-prism core and its ligands
- :mod:`~electrolyte_md.cluster.xtb`: GFN2-xTB (tblite) single points, relaxations, Hessians
- :mod:`~electrolyte_md.cluster.seminario`: bond and angle force constants from a Hessian
- :mod:`~electrolyte_md.cluster.orientation`: ligand orientation terms fitted to xTB scans
- :mod:`~electrolyte_md.cluster.forcefield`: the cluster's GAFF2 + Seminario parameters
- :mod:`~electrolyte_md.cluster.document`: prepare, relax and commit the cluster document
  (``python -m electrolyte_md.cluster.document``)
- :mod:`~electrolyte_md.cluster.stability`: the cluster in an MD trajectory (core RMSD,
  Ti-O bonds, rotamers)
- :mod:`~electrolyte_md.cluster.tables`: the document's charge and geometry tables
"""
