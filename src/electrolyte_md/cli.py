"""``electrolyte-md``: one console command for the package's tools.

Each subcommand is a module's own command line (``python -m ...`` still works), imported
only when asked for, so ``electrolyte-md progress`` loads neither OpenMM nor RDKit::

    electrolyte-md progress save STORE          # a long study's finished work
    electrolyte-md progress restore STORE
    electrolyte-md cluster-document ...         # prepare and commit a cluster document
    electrolyte-md xtb-binding ...              # GFN2-xTB binding energies
    electrolyte-md validation ...               # collect a study's outputs for validation/
    electrolyte-md config-docs                  # rewrite config/README.md from the schema

``electrolyte-md SUBCOMMAND --help`` gives each one's options.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

__all__ = ["SUBCOMMANDS", "main"]

#: subcommand -> (module whose ``main(argv)`` runs it, one line of help)
SUBCOMMANDS = {
    "progress": ("electrolyte_md.progress", "save or restore a long study's finished work"),
    "cluster-document": (
        "electrolyte_md.cluster.document",
        "prepare, check and commit a Ti6 cluster document (GFN2-xTB)",
    ),
    "xtb-binding": ("electrolyte_md.dft.xtb_binding", "GFN2-xTB binding energies of pairs"),
    "validation": (
        "electrolyte_md.study.validation",
        "collect a study's summaries for validation/",
    ),
    "config-docs": ("electrolyte_md.cli", "rewrite config/README.md from the schema"),
}


def _usage() -> str:
    width = max(map(len, SUBCOMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in SUBCOMMANDS.items())
    return f"usage: electrolyte-md SUBCOMMAND [options]\n\nsubcommands:\n{rows}\n"


def config_docs(argv: Sequence[str]) -> int:
    """``config-docs [PATH]``: write the configuration reference (default config/README.md)."""
    from pathlib import Path

    # imported when asked for, like every subcommand: the command itself loads nothing
    from electrolyte_md.configdoc import README, write_config_readme

    if any(a in ("-h", "--help") for a in argv):
        print(config_docs.__doc__)
        return 0
    path = write_config_readme(Path(argv[0]) if argv else README)
    print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage(), end="")
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"electrolyte-md: unknown subcommand {name!r}\n\n{_usage()}", file=sys.stderr, end="")
        return 2
    if name == "config-docs":
        return config_docs(rest)
    module = importlib.import_module(SUBCOMMANDS[name][0])
    sys.argv = [f"electrolyte-md {name}", *rest]  # the tools' --help shows this name
    code = module.main(rest)
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
