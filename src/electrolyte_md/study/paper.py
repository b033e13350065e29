"""The paper's numbers this project's study is held against, and where each comes from.

A module of its own, with no imports, because the workflow reads them when its rules are
read (the binding comparison's and the validation table's params).
"""

from __future__ import annotations

from typing import Any

__all__ = ["PAPER", "PAPER_RDF_PEAK"]

#: The paper's numbers this study is held against, with where they come from.
PAPER: dict[str, Any] = {
    "source": (
        "Y. Wang, P.-C. Zhao, J. Sun, J. Liang, T. Shen, C.-H. Li, Z. Jin, "
        '"Titanium-Polyoxometalate Crosslinked Metallo-Supramolecular Polymer as Artificial '
        "Interfacial Layer for Highly Persistent and Low-Temperature Tolerant Lithium Metal "
        'Batteries", article e202508224'
    ),
    # MD section (Figure S39): LiPF6-NMP without / with Ti6(HPAB); force field, box and
    # length not given in the paper.
    "cn_li_p": {"without": 1.323, "with": 1.083, "where": "MD section, Figure S39"},
    # Bruce-Vincent polarisation of Li||Li cells in a commercial carbonate-based
    # electrolyte (CBE), bare Li / Li coated with the Ti6(HPAB)-cross-linked polymer layer.
    # DFT section: functional, basis and dispersion are not given in the paper.
    "binding_ti6_pf6": {
        "pair": "Ti6(HPAB) + PF6-",
        "value_ev": -0.993,
        "method": "DFT as reported by the paper (functional, basis set, BSSE treatment not given)",
        "where": "DFT section, Figure 5e, Table S3",
    },
    "t_plus": {
        "without": 0.301,
        "with": 0.607,
        "where": "Figure 6a,b (experiment: CBE with bare vs. MSP-IPL-coated Li)",
    },
}

#: The paper's Li+...P(PF6-) RDF peak: "at the distance of 2.08", no unit given. In
#: Angstrom it is shorter than any Li-P contact (a Li-F contact is about 1.9-2.1 A), so
#: it may be a Li-F distance or a value in other units; the table says so.
PAPER_RDF_PEAK = {
    "value": 2.08,
    "where": "MD section, Figure S39 (unit not given)",
}
