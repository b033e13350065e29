"""The force-field stage's parameter models, their citations and the record of a species.

Models (the ``model`` key of a species' ``parameters`` in the configuration):

``gaff2_am1bcc``
    GAFF2 atom types and AM1-BCC charges from antechamber/sqm, missing terms from
    parmchk2 (Wang et al., J. Comput. Chem. 2004, 25, 1157; Jakalian et al., J. Comput.
    Chem. 2002, 23, 1623). The default for neutral organic molecules (solvents,
    additives).
``gaff2_fixed_charges``
    GAFF2 types and bonded terms, with fixed published charges given per element. Used for
    PF6-: P +1.34 e, F -0.39 e from the CL&P force field (Canongia Lopes & Padua, J. Phys.
    Chem. B 2004, 108, 16893), whose charges were fitted for ionic liquids with
    non-polarisable models.
``xtb_seminario``
    Metal-oxo clusters (Ti6(HPAB)): GAFF2 ligands, UFF Ti, GFN2-xTB charges and
    Seminario Ti-O terms; see :mod:`electrolyte_md.cluster.forcefield` and
    :mod:`electrolyte_md.forcefield.cluster_model`.
``ion_jc_tip3p``
    Monatomic ion with the Joung-Cheatham 12-6 parameters fitted with TIP3P under Ewald
    (Joung & Cheatham, J. Phys. Chem. B 2008, 112, 9020), read from AmberTools'
    ``frcmod.ionsjc_tip3p``. These are the ion parameters of the Amber/GAFF family;
    they were not fitted for NMP, which the report states.

:mod:`electrolyte_md.forcefield.species` makes the parameters of the first, second and
fourth, :mod:`electrolyte_md.forcefield.cluster_model` those of ``xtb_seminario``; each
writes a :class:`SpeciesParameters` record (``ff.json``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from electrolyte_md.io import write_json

MODELS = ("gaff2_am1bcc", "gaff2_fixed_charges", "ion_jc_tip3p", "xtb_seminario")

#: Ions that frcmod.ionsjc_tip3p has parameters for, with their Amber atom types.
JC_TIP3P_ION_TYPES = {
    ("Li", 1): "Li+",
    ("Na", 1): "Na+",
    ("K", 1): "K+",
    ("Rb", 1): "Rb+",
    ("Cs", 1): "Cs+",
    ("F", -1): "F-",
    ("Cl", -1): "Cl-",
    ("Br", -1): "Br-",
    ("I", -1): "I-",
}
JC_TIP3P_FRCMOD = "frcmod.ionsjc_tip3p"

CITATIONS = {
    "gaff2_am1bcc": "GAFF2 (Wang et al., J. Comput. Chem. 2004, 25, 1157; GAFF2 2.11 in "
    "AmberTools) with AM1-BCC charges (Jakalian et al., J. Comput. Chem. 2002, 23, 1623)",
    "gaff2_fixed_charges": "GAFF2 types and bonded terms with fixed charges given in the "
    "configuration",
    "ion_jc_tip3p": "Joung & Cheatham, J. Phys. Chem. B 2008, 112, 9020 "
    "(AmberTools frcmod.ionsjc_tip3p)",
    "xtb_seminario": "GAFF2 ligands; UFF Ti (Rappe et al., J. Am. Chem. Soc. 1992, 114, "
    "10024); GFN2-xTB charges (Bannwarth et al., J. Chem. Theory Comput. 2019, 15, 1652); "
    "Ti-O bonds and angles by the Seminario method (Int. J. Quantum Chem. 1996, 60, 1271) "
    "on the GFN2-xTB Hessian, as MCPB.py does (Li & Merz, J. Chem. Inf. Model. 2016, 56, 599)",
}


@dataclass
class SpeciesParameters:
    """Paths and facts of one parameterised species.

    Attributes
    ----------
    name, residue
        Species and residue name.
    model
        One of :data:`MODELS`.
    atom_names
        Atom names of the tleap unit, in order. The files beside ``ff.json`` are
        ``ff.mol2`` (unit for tleap, charges exactly integral, unscaled), ``ff.frcmod``
        (parameters GAFF2 lacks) and ``ff.pdb`` (one molecule for Packmol, same names).
    net_charge_e
        Sum of the MOL2 charges (integral).
    extra_frcmods
        AmberTools parameter files tleap must load for this species (e.g. the ion set).
    citation
        Where the parameters come from.
    cluster_terms
        For ``xtb_seminario``: atom names and types and the per-term Seminario bonds and
        angles that :func:`~electrolyte_md.forcefield.system.build_system` writes into the
        OpenMM System.
    gaff2_analogues
        For the GAFF2 models: the parameters parmchk2 took by analogy, which the
        configuration accepted (``accept_gaff2_analogues``), each as
        :meth:`electrolyte_md.forcefield.analogues.Analogue.to_dict` (term, types, source,
        penalty, reason, remark, atoms); empty if none. ``None`` for the other models.
    """

    name: str
    residue: str
    model: str
    net_charge_e: float
    extra_frcmods: list[str]
    citation: str
    atom_names: list[str]
    trans_ligand_pairs: list[list[int]]
    octahedral_center: int | None
    cluster_terms: dict | None = None
    gaff2_analogues: list[dict] | None = None

    def to_json(self, path: Path) -> None:
        write_json(path, asdict(self))

    @classmethod
    def from_json(cls, path: Path | str) -> SpeciesParameters:
        return cls(**json.loads(Path(path).read_text()))
