r"""parmchk2's frcmod output made reproducible (shared by the force-field and cluster stages).

parmchk2 of AmberTools 26 does not always give the same frcmod for the same molecule. For
an improper about a substituted aromatic carbon (type ``ca``, e.g. the ring carbons of
4-aminobenzoate that carry NH2 and the carboxylate), GAFF2 2.2.30 has no term; parmchk2
then writes, from one run to the next on the same input, either its default::

    ca-ca-ca-nv         1.1          180.0         2.0          Using the default value

or the conjugated-ring term GAFF2 gained in 2025 (``X -X -cc-X``, ten times stiffer),
taken by a weak analogy::

    ca-ca-ca-nv        10.5          180.0         2.0          Same as X -X -cc-X , penalty \
    score= 41.9 (use general term))

(one line in the file; measured: 3 of 8 runs gave it). :func:`settle_aromatic_impropers`
makes every such line the default one, the value parmchk2 gives most often (and the only
one before GAFF2 had an ``X -X -cc-X`` term), so that a species' parameters do not depend
on the run.
"""

from __future__ import annotations

import re

__all__ = ["settle_aromatic_impropers"]

#: An improper about a ``ca`` centre (third type) taken from ``X -X -cc-X``; the sample
#: in the module docstring is the real line it matches.
_CC_ANALOGY = re.compile(
    r"^(?P<types>\S{1,2}\s*-\S{1,2}\s*-ca-\S{1,2}\s*)\s+[-\d.]+\s+[-\d.]+\s+[-\d.]+\s+"
    r"Same as X -X -cc-X\b.*$"
)
_DEFAULT = "{types:<11}         1.1          180.0         2.0          Using the default value"


def settle_aromatic_impropers(text: str) -> tuple[str, list[str]]:
    """``text`` with every ``ca``-centred improper parmchk2 took from ``X -X -cc-X``
    written as its default instead; also the improper types changed (for the log)."""
    lines, changed, section = [], [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped in ("MASS", "BOND", "ANGLE", "DIHE", "IMPROPER", "NONBON"):
            section = stripped
        match = _CC_ANALOGY.match(line) if section == "IMPROPER" else None
        if match:
            types = match["types"].rstrip()
            changed.append(types)
            line = _DEFAULT.format(types=types)
        lines.append(line)
    return "\n".join(lines) + ("\n" if text.endswith("\n") else ""), changed
