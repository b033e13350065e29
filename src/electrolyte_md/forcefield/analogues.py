"""GAFF2 parameters that parmchk2 filled by analogy, read from its frcmod.

parmchk2 writes every term GAFF2 (``gaff2.dat``) lacks for a molecule, with a remark
saying where the values came from. Three kinds of entries are *not* analogues: they are
how GAFF2 itself is meant to be applied, and tleap would find most of them on its own:

* terms copied from a type GAFF2 declares equivalent in parmchk2's table
  (``PARMCHK.DAT``, ``EQUA`` lines and the conjugated pairs cc/cd, ...): the ring
  carbons c5 and c6 take the terms of c3, which is why NMP's ring needs them;
* general (wildcard) torsions and impropers of ``gaff2.dat`` (``X -c3-c3-X``,
  ``X -X -c -o``), whose penalty score only says that a wildcard was used;
* parmchk2's default out-of-plane term (``Using the default value``, 1.1 kcal/mol), the
  generic value of GAFF2's own impropers.

Everything else is an analogue (:func:`frcmod_analogues`):

* any term of an atom type GAFF2 does not have (antechamber types Si as ``Si``, B as
  ``B``): parmchk2 then takes the mass, Lennard-Jones and every bonded term from another
  element (Si and Ge from c3, B and Al from c2);
* a term taken from a *corresponding* type (ne from n2, ca from cc), with its penalty
  score;
* a term parmchk2 found nothing for at all (``ATTN, need revision``) or wrote with a zero
  force constant. These have no parameters to accept.

The real lines each pattern reads are quoted beside it (AmberTools 26, GAFF2 2.2.30).
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from itertools import permutations
from pathlib import Path

from electrolyte_md import mol2
from electrolyte_md.errors import ParameterizationError

logger = logging.getLogger(__name__)

#: The key of a species' ``parameters`` that accepts parameters parmchk2 took by analogy;
#: it does not enter the parameter cache's key.
ACCEPT_ANALOGUES = "accept_gaff2_analogues"

#: Atom types of GAFF2: the MASS section of AmberTools' ``gaff2.dat`` (version 2.2.30,
#: AmberTools 26); a test checks it against the installed file.
_GAFF2_TYPE_LIST = """
    br c c1 c2 c3 c5 c6 ca cc cd ce cf cg ch cl cp cq cs cu cv cx cy cz f h1 h2 h3 h4 h5 ha
    hb hc hn ho hp hs hw hx i n n+ n1 n2 n3 n4 n5 n6 n7 n8 n9 na nb nc nd ne nf nh ni nj nk
    nl nm nn no np nq ns nt nu nv nx ny nz o oh op oq os ow p2 p3 p4 p5 pb pc pd pe pf px py
    s s2 s4 s6 sh sp sq ss sx sy
"""
GAFF2_TYPES = frozenset(_GAFF2_TYPE_LIST.split())

#: Types GAFF2 declares equivalent in parmchk2's table (``dat/antechamber/PARMCHK.DAT``):
#: its ``EQUA`` lines for GAFF2 types, e.g. ``PARM c5 0 3 12.01 0 6`` / ``EQUA c3 ...``,
#: and the conjugated pairs of its equivalent_flag column (cc/cd, ce/cf, ...). A term
#: taken from an equivalent type is GAFF2's own.
_EQUIVALENT_PAIRS = (
    ("hw", "ho"), ("c5", "c3"), ("c6", "c3"), ("cs", "c"), ("ns", "n"), ("nt", "n"),
    ("n7", "n3"), ("n8", "n3"), ("n9", "n3"), ("nx", "n4"), ("ny", "n4"), ("nz", "n4"),
    ("n+", "n4"), ("nu", "nh"), ("nv", "nh"), ("ni", "n"), ("nj", "n"), ("nk", "nx"),
    ("nk", "n4"), ("nk", "ny"), ("nl", "nx"), ("nl", "n4"), ("nl", "ny"), ("nm", "nh"),
    ("nn", "nh"), ("n5", "n7"), ("n5", "n3"), ("n6", "n7"), ("n6", "n3"), ("np", "n3"),
    ("nq", "n3"), ("o2", "o"), ("op", "os"), ("oq", "os"), ("sp", "ss"), ("sq", "ss"),
    ("cc", "cd"), ("ce", "cf"), ("cg", "ch"), ("cp", "cq"), ("nc", "nd"), ("ne", "nf"),
    ("pc", "pd"), ("pe", "pf"),
)  # fmt: skip


def _equivalence_classes(pairs) -> dict[str, frozenset[str]]:
    classes: dict[str, set[str]] = {}
    for a, b in pairs:
        merged = classes.get(a, {a}) | classes.get(b, {b})
        for t in merged:
            classes[t] = merged
    return {t: frozenset(c) for t, c in classes.items()}


_EQUIVALENT = _equivalence_classes(_EQUIVALENT_PAIRS)

#: frcmod sections, the kind of term they hold and how many types a term has
_SECTIONS = {
    "MASS": ("mass", 1),
    "BOND": ("bond", 2),
    "ANGLE": ("angle", 3),
    "DIHE": ("dihedral", 4),
    "IMPROPER": ("improper", 4),
    "NONBON": ("Lennard-Jones", 1),
}

# "o -cl-o     0.000       0.000   ATTN, need revision"
_ATTN = re.compile(r"ATTN, need revision")
# "Si-c3  228.89   1.535       same as c3-c3, penalty score=  0.0"
# "Si 28.085        0.878               same as c3 "          (MASS, NONBON: no score)
# "c5-c -n -c3   1    1.410       180.000          -2.000      same as c3-c -n -c3"
# "o -os-c -os        10.5          180.0         2.0          Same as X -X -c -o ,
#  penalty score= 52.6 (use general term))"
_SAME_AS = re.compile(r"[Ss]ame as\s+(?P<source>[^,(]+?)\s*(?:,|\(|$)")
# "f -i -f     0.000      87.500   Calculated using  f-cl- f, penalty score=150.0"
_CALCULATED = re.compile(r"Calculated using\s+(?P<source>[^,(]+?)\s*(?:,|\(|$)")
# "c5-n -c -o         10.5          180.0         2.0          Using general improper
#  torsional angle  X- X- c- o, penalty score=  6.0)"
_GENERAL_IMPROPER = re.compile(
    r"Using general improper torsional angle\s+(?P<source>[^,(]+?)\s*(?:,|\(|$)"
)
# "c -c3-n -c5         1.1          180.0         2.0          Using the default value"
_DEFAULT = re.compile(r"Using the default value")
# "sy-ne-s6-c3   3   20.000       180.000           2.000      same as X -n2-s6-X ,
#  penalty score=160.5"
_PENALTY = re.compile(r"penalty score=\s*(?P<score>[-+0-9.]+)")


@dataclass(frozen=True)
class Analogue:
    """One frcmod entry parmchk2 filled by analogy (or could not fill).

    Attributes
    ----------
    term
        ``mass``, ``bond``, ``angle``, ``dihedral``, ``improper`` or ``Lennard-Jones``.
    types
        The term's atom types, as in the frcmod (``["Si", "c3"]``).
    source
        The types parmchk2 took it from (``["c3", "c3"]``); empty if none.
    penalty
        parmchk2's penalty score, where it gives one.
    reason
        ``no GAFF2 type`` (a type GAFF2 does not have), ``corresponding type`` (taken from
        a type GAFF2 does not declare equivalent) or ``no parameter`` (nothing found, or
        a zero force constant: cannot be accepted).
    remark
        parmchk2's remark, verbatim.
    atoms
        Atom names of the molecule the term applies to (filled by :func:`with_atoms`).
    """

    term: str
    types: list[str]
    source: list[str]
    penalty: float | None
    reason: str
    remark: str
    atoms: list[list[str]] | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def label(self) -> str:
        """``bond Si-c3 from c3-c3 (penalty 0)``, for messages and the report."""
        text = f"{self.term} {'-'.join(self.types)}"
        if self.source:
            text += f" from {'-'.join(self.source)}"
        if self.reason == "no parameter":
            text += " (no parameter found: " + (
                "ATTN, need revision)" if "ATTN" in self.remark else "zero force constant)"
            )
        elif self.penalty:
            text += f" (penalty {self.penalty:g})"
        return text


def _types(field: str) -> list[str]:
    """``"X -c3-n -X "`` or ``" X- X- c- o"`` -> ``["X", "c3", "n", "X"]``."""
    return [t.strip() for t in field.strip().split("-")]


def _equivalent(own: str, other: str) -> bool:
    return other == "X" or own == other or other in _EQUIVALENT.get(own, ())


def _same_term(kind: str, types: list[str], source: list[str]) -> bool:
    """Whether ``source`` is ``types`` up to wildcards and GAFF2's equivalent types."""
    if len(source) != len(types):
        return False
    if kind == "improper":  # the central atom is third; the others in any order
        if not _equivalent(types[2], source[2]):
            return False
        outer = [types[0], types[1], types[3]]
        return any(
            all(_equivalent(t, s) for t, s in zip(outer, order, strict=True))
            for order in permutations([source[0], source[1], source[3]])
        )
    return any(
        all(_equivalent(t, s) for t, s in zip(types, order, strict=True))
        for order in (source, source[::-1])
    )


def _zero_force_constant(kind: str, numbers: list[str]) -> bool:
    """A bond or angle written with k = 0 (IF3's f-i bond: ``f -i     0.00   2.550``)."""
    if kind not in ("bond", "angle") or not numbers:
        return False
    try:
        return float(numbers[0]) == 0.0
    except ValueError:
        return False


def frcmod_analogues(text: str) -> list[Analogue]:
    """The entries of a parmchk2 frcmod that GAFF2 does not provide as such.

    Parameters
    ----------
    text
        The frcmod parmchk2 wrote (``-s gaff2``).

    Returns
    -------
    list[Analogue]
        In file order, one per term (a dihedral's several lines give one entry). The
        module docstring says what counts.
    """
    found: dict[tuple[str, tuple[str, ...]], Analogue] = {}
    section = None
    for line in text.splitlines()[1:]:  # the first line is the title
        key = line.strip()
        if key in _SECTIONS:
            section = key
            continue
        if section is None or not key:
            continue
        kind, n_types = _SECTIONS[section]
        remark_start = min(
            (m.start() for p in (_ATTN, _SAME_AS, _CALCULATED, _GENERAL_IMPROPER, _DEFAULT)
             if (m := p.search(line))),
            default=len(line),
        )  # fmt: skip
        head, remark = line[:remark_start], line[remark_start:].strip()
        if n_types == 1:  # "Si 28.085  0.878", "  Si   1.9069  0.1078"
            types, numbers = head.split()[:1], head.split()[1:]
        else:  # fixed width: "Si-c3", "c3-Si-c3", "c3-Si-c3-hc"
            width = 3 * n_types - 1
            types, numbers = _types(head[:width]), head[width:].split()
        score = _PENALTY.search(line)
        penalty = float(score["score"]) if score else None
        match = next(
            (m for p in (_SAME_AS, _CALCULATED, _GENERAL_IMPROPER) if (m := p.search(line))),
            None,
        )
        source = _types(match["source"]) if match else []
        unknown = [t for t in types if t not in GAFF2_TYPES]
        if _ATTN.search(line) or _zero_force_constant(kind, numbers):
            reason = "no parameter"
        elif unknown:
            reason = "no GAFF2 type"
        elif source and not _same_term(kind, types, source):
            reason = "corresponding type"
        else:
            continue  # GAFF2's own: an equivalent type, a wildcard or the default improper
        entry = Analogue(kind, types, source, penalty, reason, remark)
        previous = found.get((kind, tuple(types)))
        if previous is None or (previous.penalty is None and penalty is not None):
            found[(kind, tuple(types))] = entry
    return list(found.values())


def with_atoms(
    analogues: list[Analogue], atoms: list[tuple[str, str]], bonds: list[tuple[int, int]]
) -> list[Analogue]:
    """The analogues with the atom names each applies to.

    Parameters
    ----------
    atoms
        (name, type) of the molecule's atoms, in order.
    bonds
        Bonded atom pairs (0-based indices).
    """
    neighbours: dict[int, set[int]] = {i: set() for i in range(len(atoms))}
    for i, j in bonds:
        neighbours[i].add(j)
        neighbours[j].add(i)
    types = [t for _, t in atoms]
    names = [n for n, _ in atoms]

    def paths(length: int) -> list[tuple[int, ...]]:
        found = [(i,) for i in range(len(atoms))]
        for _ in range(length - 1):
            found = [p + (k,) for p in found for k in neighbours[p[-1]] if k not in p]
        return [p for p in found if p <= p[::-1]]  # each path once

    result = []
    for analogue in analogues:
        n = len(analogue.types)
        want = analogue.types
        if analogue.term == "improper":  # central atom third, the others in any order
            by_set: dict[tuple, tuple[int, ...]] = {}
            for c in range(len(atoms)):
                for a, b, d in permutations(sorted(neighbours[c]), 3):
                    if [types[a], types[b], types[c], types[d]] == want:
                        by_set.setdefault((c, frozenset((a, b, d))), (a, b, c, d))
            matches = list(by_set.values())
        else:
            matches = [p for p in paths(n) if [types[i] for i in p] in (want, want[::-1])]
        result.append(
            Analogue(
                **{
                    **analogue.to_dict(),
                    "atoms": [[names[i] for i in m] for m in matches],
                }
            )
        )
    return result


def describe(analogues: list[Analogue], limit: int = 3) -> str:
    """One line per analogue with up to ``limit`` of its atom tuples, for messages."""
    lines = []
    for analogue in analogues:
        line = analogue.label
        if analogue.atoms:
            shown = ", ".join("-".join(a) for a in analogue.atoms[:limit])
            more = len(analogue.atoms) - limit
            line += f" [atoms {shown}" + (f" and {more} more]" if more > 0 else "]")
        lines.append(f"  {line}")
    return "\n".join(lines)


def mol2_bonds(path: Path) -> list[tuple[int, int]]:
    """Bonded atom pairs of a MOL2 file (0-based positions in its ATOM section)."""
    index = {atom.index: i for i, atom in enumerate(mol2.read_atoms(path))}
    bonds, inside = [], False
    for line in Path(path).read_text().splitlines():
        if line.startswith("@<TRIPOS>"):
            inside = line.startswith("@<TRIPOS>BOND")
            continue
        fields = line.split()
        if inside and len(fields) >= 3:
            bonds.append((index[int(fields[1])], index[int(fields[2])]))
    return bonds


def checked_analogues(
    name: str, parameters: dict, mol2_path: Path, frcmod_path: Path, part: str = ""
) -> list[dict]:
    """The parameters parmchk2 took by analogy for species ``name`` (or a ``part`` of it,
    such as a cluster's ligand), if its ``parameters`` accept them.

    Raises
    ------
    ParameterizationError
        If there are any and ``parameters`` does not accept them, naming the atoms and
        terms and the remedy; always for terms parmchk2 found nothing for.
    """
    atoms = mol2.read_atoms(mol2_path)
    found = with_atoms(
        frcmod_analogues(Path(frcmod_path).read_text()),
        [(atom.name, atom.atom_type) for atom in atoms],
        mol2_bonds(mol2_path),
    )
    if not found:
        return []
    key = f"species.{name}.parameters.{ACCEPT_ANALOGUES}"
    where = f" ({part})" if part else ""
    missing = [a for a in found if a.reason == "no parameter"]
    if missing:
        raise ParameterizationError(
            f"species '{name}'{where}: parmchk2 found no GAFF2 parameter for "
            f"{len(missing)} term(s), not even by analogy, and wrote them with a zero "
            f"force constant:\n{describe(missing)}\nThat would leave these atoms unbound, "
            f"so {key} does not cover it: the molecule needs parameters GAFF2 does not "
            "have. Leave the species out, or choose a molecule GAFF2 covers"
        )
    if not parameters.get(ACCEPT_ANALOGUES, False):
        raise ParameterizationError(_refusal(name, atoms, found, key, part))
    logger.warning(
        "%s: %d parameters taken by analogy, accepted by %s:\n%s",
        name,
        len(found),
        key,
        describe(found),
    )
    return [analogue.to_dict() | ({"part": part} if part else {}) for analogue in found]


def _refusal(name: str, atoms: list, found: list[Analogue], key: str, part: str = "") -> str:
    where = f" ({part})" if part else ""
    untyped = [f"{a.name} ('{a.atom_type}')" for a in atoms if a.atom_type not in GAFF2_TYPES]
    if untyped:
        start = (
            f"species '{name}'{where}: GAFF2 has no atom type for {', '.join(untyped)}, and "
            f"parmchk2 filled {len(found)} of its parameters by analogy with other elements"
        )
    else:
        start = (
            f"species '{name}'{where}: GAFF2 has no parameters for {len(found)} of its "
            "terms, and parmchk2 took each from other atom types (its penalty score says "
            "how far the analogy goes)"
        )
    return (
        f"{start}:\n{describe(found)}\nThese are not GAFF2 parameters of this molecule. "
        f"To run with them anyway, set {key}: true in the configuration (they are then "
        "listed in ff.json and the report); otherwise choose a molecule GAFF2 covers or a "
        "model with parameters of its own"
    )
