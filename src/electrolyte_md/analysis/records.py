"""Files of the RDF directory of one MD run (made by ``analyze_run``): names and records.

Kept apart from :mod:`electrolyte_md.analysis.coordination` so that what only reads the
records (the solvation shells' partners, the study's tables, the report) needs no
MDAnalysis.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from electrolyte_md.errors import AnalysisError

__all__ = ["PAIR_FILES", "pair_files", "read_pair_records"]

#: Files of one pair in the RDF directory of a run (``coordination.analyze_run``, in the
#: run's ``analyze_run`` job): g(r) and n(r) table, ``coordination.summarize`` record, figure.
PAIR_FILES = {
    "out_csv": "rdf_{pair}.csv",
    "out_json": "cn_{pair}.json",
    "out_png": "rdf_{pair}.png",
}


def pair_files(directory: str | os.PathLike[str], pair_name: str) -> dict[str, Path]:
    """Paths of one pair's files in an RDF directory: ``out_csv``, ``out_json``, ``out_png``.

    Named by :data:`PAIR_FILES`: ``rdf_<pair>.csv``, ``cn_<pair>.json``, ``rdf_<pair>.png``.
    """
    directory = Path(directory)
    return {key: directory / name.format(pair=pair_name) for key, name in PAIR_FILES.items()}


def read_pair_records(
    directory: str | os.PathLike[str], pairs: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """The ``cn_<pair>.json`` records of a run's RDF directory, by pair name.

    Parameters
    ----------
    directory
        The RDF directory of one run.
    pairs
        Pair labels that must be there (the configured pairs of the system); only these
        are read. Default: every ``cn_*.json`` of the directory.

    Returns
    -------
    list of dict
        The records sorted by pair label, each with ``pair`` set.

    Raises
    ------
    AnalysisError
        If the directory is missing, lacks the record of a pair in ``pairs`` (or holds
        none at all), or a record is not valid JSON.
    """
    import json

    directory = Path(directory)
    if not directory.is_dir():
        raise AnalysisError(f"RDF directory {directory} does not exist")
    prefix, suffix = PAIR_FILES["out_json"].split("{pair}")
    found = {
        path.name.removeprefix(prefix).removesuffix(suffix): path
        for path in directory.glob(PAIR_FILES["out_json"].format(pair="*"))
    }
    names = sorted(found) if pairs is None else sorted(set(pairs))
    missing = [name for name in names if name not in found] if names else ["*"]
    if missing:
        files = ", ".join(PAIR_FILES["out_json"].format(pair=name) for name in missing)
        raise AnalysisError(
            f"RDF directory {directory} lacks {files} (pairs there: "
            f"{sorted(found) or 'none'}); was it made by the analyze_run rule with the current "
            "analysis.rdf pairs?"
        )
    records = []
    for name in names:
        try:
            record = json.loads(found[name].read_text())
        except (OSError, ValueError) as error:
            raise AnalysisError(f"{found[name]}: cannot read the RDF record: {error}") from error
        record.setdefault("pair", name)
        records.append(record)
    return records
