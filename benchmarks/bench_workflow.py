"""Benchmark of the workflow's scheduling overhead (issue 8, item 4; issue 21, item 5).

Writes a study of ``n_systems`` electrolytes x ``n_temperatures`` x ``n_replicas`` into a
fresh working directory and times, each in its own ``snakemake`` process:

``parse``
    ``--list-target-rules``: Python start-up, imports, parsing the Snakefile and rule
    files, schema validation and :func:`electrolyte_md.config.check_config`. No DAG.
``dry_run``
    ``--dry-run --quiet rules``: all of the above plus building the DAG of every job
    (input functions, wildcards, file inventory of the empty working directory) and
    printing the job count table. This is the number the issue's target applies to.

``md_only`` (optional, ``md_only=True``)
    ``--dry-run --quiet rules results/report/md_summary.csv``: the DAG of the MD runs
    and their preparation alone, without any analysis job: what any workflow with one
    job per MD run would plan at the least.

``floor`` (default on)
    Right after the dry run, the same flags on :data:`FLOOR_SNAKEFILE` with as many jobs:
    Snakemake's own floor, trivial one-in-one-out jobs with log and benchmark. The
    target of issue 21 (item 5) is the study's cost per job within 1.5 x the floor's
    measured in the same run (``ratio_to_floor``, ``cpu_ratio_to_floor``); on a shared
    machine read the CPU ratio. ``matched_floor`` times the floor with as many files per
    job as the study's jobs have.
``slurm`` (optional)
    ``--profile profiles/slurm --dry-run``: the SLURM jobs the study would submit, a
    group job counted once (:func:`measure_slurm`).

``dag_build_s`` is the difference of the first two, the DAG build alone. Every run uses
the repository's Snakefile (or another checkout's, ``snakefile=``, to compare two
versions back to back) with ``--directory <workdir>`` and ``--replace-workflow-config``,
so only the generated configuration applies; the ``profiles/default`` next to the
Snakefile is loaded automatically by Snakemake (it is the Snakefile's workflow profile,
as in ``make run``); its settings (``printshellcmds``, ``rerun-incomplete``,
``latency-wait``...) do not change the DAG. Beside the wall clock, the CPU time of each
``snakemake`` process (user + system) is recorded: on a shared machine it drifts less
than the wall clock.

The module is imported by ``benchmarks/run.py`` with ``benchmarks/`` on ``sys.path``.
"""

from __future__ import annotations

import copy
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
BASE_CONFIG = REPO / "config" / "config.yaml"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")

#: The issue's target for the dry run, in seconds.
TARGET_S = 30.0
#: Temperatures (K) handed out in order; the default study's 298.15 K first.
TEMPERATURES_KELVIN = (298.15, 253.15, 273.15, 313.15, 333.15, 353.15)
#: Every ``CLUSTER_EVERY``-th system also holds the Ti6(HPAB) cluster, as in the
#: default study (which has one system with and one without).
CLUSTER_EVERY = 2


def study_config(
    n_systems: int, n_temperatures: int, n_replicas: int, base: Path = BASE_CONFIG
) -> dict[str, Any]:
    """The default configuration with ``n_systems`` LiPF6-NMP electrolytes.

    Systems differ in salt concentration (0.5 to 2.0 mol/L) and number of NMP molecules
    (80 to 160); every :data:`CLUSTER_EVERY`-th one also holds one Ti6(HPAB) cluster.
    Relative file paths of the configuration (committed cluster structure, reused
    binding study) are made absolute so that it is valid in any working directory.

    Parameters
    ----------
    n_systems, n_temperatures, n_replicas
        Size of the study (at most ``len(TEMPERATURES_KELVIN)`` temperatures).
    base
        Configuration to start from.

    Returns
    -------
    dict
        The configuration, ready to be written as YAML.
    """
    if n_systems < 1 or n_replicas < 1 or not 1 <= n_temperatures <= len(TEMPERATURES_KELVIN):
        raise ValueError(
            f"need n_systems >= 1, n_replicas >= 1 and 1 <= n_temperatures <= "
            f"{len(TEMPERATURES_KELVIN)}; got {n_systems}, {n_temperatures}, {n_replicas}"
        )
    config = copy.deepcopy(yaml.safe_load(base.read_text()))
    for spec in config["species"].values():
        cluster = spec.get("cluster") or {}
        if "structure" in cluster:
            cluster["structure"] = str((REPO / cluster["structure"]).resolve())
    for spec in (config.get("binding_xtb") or {}).get("pairs", {}).values():
        if "reuse" in spec:
            spec["reuse"] = str((REPO / spec["reuse"]).resolve())
    cluster_species = [name for name, spec in config["species"].items() if "cluster" in spec]
    systems = {}
    for i in range(n_systems):
        spec: dict[str, Any] = {
            "solvents": {"NMP": 1.0},
            "n_solvent_molecules": 80 + (i % 81),
            "salts": {"LiPF6": round(0.5 + 1.5 * (i % 31) / 30, 3)},
            "additives": {},
        }
        if cluster_species and i % CLUSTER_EVERY == CLUSTER_EVERY - 1:
            spec["additives"] = {cluster_species[0]: 1}
        systems[f"S{i:05d}_LiPF6_NMP"] = spec
    config["systems"] = systems
    # names of the default configuration's systems, which the generated study has not
    if "paper_systems" in config.get("validation", {}):
        config["validation"]["paper_systems"] = []
    config["md"]["temperatures_kelvin"] = list(TEMPERATURES_KELVIN[:n_temperatures])
    config["md"]["replicas"] = n_replicas
    return config


#: Snakemake's own floor: two rules of trivial jobs with ``log:``, ``benchmark:``,
#: ``resources:`` and a shell command; ``first`` reads ``n_sources`` files that exist and
#: writes ``n_outputs``, ``second`` reads those and writes ``n_outputs``; ``all`` asks for
#: every output of ``second``. With one source and one output (the floor of the issue):
#: one-in-one-out jobs. With more, a floor with as many files per job as the study's.
FLOOR_SNAKEFILE = """\
N = int(config["n"])
SOURCES = [f"source_{k}.txt" for k in range(int(config["n_sources"]))]
OUTPUTS = range(int(config["n_outputs"]))


rule all:
    input:
        expand("b/{i}.{k}.txt", i=range(N), k=OUTPUTS),


rule first:
    input:
        SOURCES,
    output:
        [f"a/{{i}}.{k}.txt" for k in OUTPUTS],
    log:
        "logs/first/{i}.log",
    benchmark:
        "benchmarks/first/{i}.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "touch {output} 2> {log}"


rule second:
    input:
        [f"a/{{i}}.{k}.txt" for k in OUTPUTS],
    output:
        [f"b/{{i}}.{k}.txt" for k in OUTPUTS],
    log:
        "logs/second/{i}.log",
    benchmark:
        "benchmarks/second/{i}.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "touch {output} 2> {log}"
"""
#: Files per job of the study's jobs, for the matched floor: about 5.2 inputs and 5.9
#: outputs per job (dry run of 5 systems x 2 x 3); the matched floor has 5 and 6.
MATCHED_FLOOR_FILES = {"n_sources": 4, "n_outputs": 6}


def floor_workflow(directory: Path, n_jobs: int, n_sources: int = 1, n_outputs: int = 1) -> Path:
    """Write the floor workflow with about ``n_jobs`` jobs (2 per pair and ``all``).

    Returns the Snakefile; its working directory is ``directory``, its configuration
    ``floor.yaml`` there.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for k in range(n_sources):
        (directory / f"source_{k}.txt").write_text("x\n")
    config = {"n": max((n_jobs - 1) // 2, 1), "n_sources": n_sources, "n_outputs": n_outputs}
    (directory / "floor.yaml").write_text(yaml.safe_dump(config))
    snakefile = directory / "Snakefile"
    snakefile.write_text(FLOOR_SNAKEFILE)
    return snakefile


def _cpu_seconds_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _snakemake(
    workdir: Path,
    configfile: Path,
    *args: str,
    snakefile: Path = SNAKEFILE,
    replace_config: bool = True,
) -> tuple[float, float, str]:
    """Run snakemake on the generated study; wall and CPU seconds, combined output."""
    command = [
        str(SNAKEMAKE),
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        *(["--replace-workflow-config"] if replace_config else []),
        "--cores",
        "1",
        *args,
    ]
    cpu_start = _cpu_seconds_of_children()
    start = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    cpu_seconds = _cpu_seconds_of_children() - cpu_start
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed with exit status {done.returncode}:\n{output[-4000:]}"
        )
    return seconds, cpu_seconds, output


def measure_floor(
    directory: Path, n_jobs: int, prefix: str = "floor", **files: int
) -> dict[str, Any]:
    """Dry run of :data:`FLOOR_SNAKEFILE` with about ``n_jobs`` jobs (same flags).

    ``files`` (``n_sources``, ``n_outputs``) go to :func:`floor_workflow`. Returns
    ``<prefix>_n_jobs``, ``_dry_run_s``, ``_dry_run_cpu_s``, ``_dry_run_ms_per_job`` and
    ``_dry_run_cpu_ms_per_job``.
    """
    directory = Path(directory).resolve()
    snakefile = floor_workflow(directory, n_jobs, **files)
    seconds, cpu_seconds, output = _snakemake(
        directory,
        directory / "floor.yaml",
        "--dry-run",
        "--quiet",
        "rules",
        snakefile=snakefile,
        replace_config=False,
    )
    jobs = parse_job_counts(output)["total"]
    return {
        f"{prefix}_n_jobs": jobs,
        f"{prefix}_dry_run_s": round(seconds, 3),
        f"{prefix}_dry_run_cpu_s": round(cpu_seconds, 3),
        f"{prefix}_dry_run_ms_per_job": round(1000.0 * seconds / jobs, 4),
        f"{prefix}_dry_run_cpu_ms_per_job": round(1000.0 * cpu_seconds / jobs, 4),
    }


def parse_slurm_submissions(output: str, local_rules: tuple[str, ...] = ("all",)) -> dict[str, Any]:
    """What a dry run under the SLURM profile would submit, from its job listing.

    Every ``Group job <name>`` block is one SLURM job whatever it holds; every other
    ``rule <name>:`` line at the start of a line is one job of its own, except
    ``local_rules`` (``all``: no action, Snakemake finishes it itself). Returns ``n_submissions``,
    ``by_kind`` (group name or rule -> SLURM jobs) and ``group_sizes`` (group name ->
    Snakemake jobs in its largest SLURM job).
    """
    by_kind: dict[str, int] = {}
    group_sizes: dict[str, int] = {}
    group = None
    members = 0

    def close() -> None:
        if group is not None:
            group_sizes[group] = max(group_sizes.get(group, 0), members)

    for line in output.splitlines():
        started = re.search(r"Group job (\S+) \(jobs", line)
        if started:
            close()
            group, members = started.group(1), 0
            by_kind[f"group {group}"] = by_kind.get(f"group {group}", 0) + 1
            continue
        rule = re.fullmatch(r"(\s*)(?:localrule|rule) (\S+):", line)
        if rule is None:
            continue
        if rule.group(1) and group is not None:
            members += 1
            continue
        close()
        group = None
        if line.startswith("rule ") and rule.group(2) not in local_rules:
            by_kind[rule.group(2)] = by_kind.get(rule.group(2), 0) + 1
    close()
    return {
        "n_submissions": sum(by_kind.values()),
        "by_kind": by_kind,
        "group_sizes": group_sizes,
    }


def measure_slurm(workdir: Path, configfile: Path, snakefile: Path = SNAKEFILE) -> dict:
    """Dry run of the study with ``profiles/slurm`` (its groups): SLURM jobs it submits."""
    seconds, _, output = _snakemake(
        workdir,
        configfile,
        "--workflow-profile",
        "none",
        "--profile",
        str(Path(snakefile).resolve().parent / "profiles" / "slurm"),
        "--dry-run",
        snakefile=snakefile,
    )
    result = parse_slurm_submissions(output)
    result["n_jobs"] = parse_job_counts(output)["total"]
    result["dry_run_s"] = round(seconds, 3)
    return result


def parse_job_counts(output: str) -> dict[str, int]:
    """Rule -> job count from the ``Job stats:`` table of a dry run (with ``total``)."""
    counts: dict[str, int] = {}
    lines = output.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Job stats:")
    except StopIteration:
        raise ValueError("no 'Job stats:' table in the snakemake output") from None
    for line in lines[start + 3 :]:
        match = re.fullmatch(r"\s*(\S+)\s+(\d+)\s*", line)
        if not match:
            break
        counts[match.group(1)] = int(match.group(2))
    if "total" not in counts:
        raise ValueError("the 'Job stats:' table has no total row")
    return counts


def measure(
    workdir: Path,
    *,
    n_systems: int = 1000,
    n_temperatures: int = 2,
    n_replicas: int = 3,
    snakefile: Path = SNAKEFILE,
    md_only: bool = False,
    floor: bool = True,
    slurm: bool = False,
    matched_floor: bool = False,
) -> dict[str, Any]:
    """Time parsing, DAG build and dry run of a large generated study.

    Parameters
    ----------
    workdir
        Empty (or benchmark-owned) directory; the configuration ``study.yaml`` and
        Snakemake's ``.snakemake`` metadata are written there. No job runs.
    n_systems, n_temperatures, n_replicas
        Size of the study.
    snakefile
        The workflow to plan (default: this repository's); the configuration is always
        generated from this repository's ``config/config.yaml``.
    md_only
        Also time the dry run of the MD runs alone (``md_only_*`` keys).
    floor
        Right after the study's dry run, time Snakemake's own floor with as many jobs
        (:func:`measure_floor`, ``floor_*`` keys, in ``workdir/floor``) and give the
        ratio of the two per-job costs (``ratio_to_floor``, wall; ``cpu_ratio_to_floor``).
    matched_floor
        Also time the floor with as many files per job as the study's jobs
        (:data:`MATCHED_FLOOR_FILES`; ``matched_floor_*`` keys, ``ratio_to_matched_floor``).
    slurm
        Also dry-run the study under the Snakefile's ``profiles/slurm`` and count the
        SLURM jobs it would submit (``slurm`` key, :func:`measure_slurm`).

    Returns
    -------
    dict
        JSON-safe: sizes, ``n_jobs`` and ``jobs_by_rule`` (from the dry run's job stats
        table), ``n_runs`` (systems x temperatures x replicas), ``parse_s``,
        ``dry_run_s``, ``dag_build_s`` (their difference), ``parse_cpu_s`` and
        ``dry_run_cpu_s`` (user + system time of the two processes), ``target_s``,
        ``meets_target`` (``dry_run_s < target_s``), ``dry_run_ms_per_job``, the
        Snakefile, the commands' description and notes; with ``md_only``,
        ``md_only_dry_run_s``, ``md_only_dry_run_cpu_s``, ``md_only_n_jobs`` and
        ``md_only_jobs_by_rule``; with ``floor``, ``floor_*``, ``ratio_to_floor`` and
        ``cpu_ratio_to_floor``; with ``slurm``, ``slurm``.
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    configfile = workdir / "study.yaml"
    config = study_config(n_systems, n_temperatures, n_replicas)
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))

    snakefile = Path(snakefile).resolve()
    parse_s, parse_cpu_s, _ = _snakemake(
        workdir, configfile, "--list-target-rules", snakefile=snakefile
    )
    dry_run_s, dry_run_cpu_s, output = _snakemake(
        workdir, configfile, "--dry-run", "--quiet", "rules", snakefile=snakefile
    )
    counts = parse_job_counts(output)
    n_jobs = counts.pop("total")
    extra: dict[str, Any] = {}
    if floor:
        extra.update(measure_floor(workdir / "floor", n_jobs))
        extra["ratio_to_floor"] = round(
            (dry_run_s / n_jobs) / (extra["floor_dry_run_s"] / extra["floor_n_jobs"]), 3
        )
        extra["cpu_ratio_to_floor"] = round(
            (dry_run_cpu_s / n_jobs) / (extra["floor_dry_run_cpu_s"] / extra["floor_n_jobs"]),
            3,
        )
    if matched_floor:
        extra.update(
            measure_floor(workdir / "matched_floor", n_jobs, "matched_floor", **MATCHED_FLOOR_FILES)
        )
        extra["ratio_to_matched_floor"] = round(dry_run_s / extra["matched_floor_dry_run_s"], 3)
        extra["cpu_ratio_to_matched_floor"] = round(
            dry_run_cpu_s / extra["matched_floor_dry_run_cpu_s"], 3
        )
    if slurm:
        extra["slurm"] = measure_slurm(workdir, configfile, snakefile)
    if md_only:
        md_s, md_cpu_s, md_output = _snakemake(
            workdir,
            configfile,
            "results/report/md_summary.csv",  # before --quiet, which takes several values
            "--dry-run",
            "--quiet",
            "rules",
            snakefile=snakefile,
        )
        md_counts = parse_job_counts(md_output)
        extra |= {
            "md_only_dry_run_s": round(md_s, 3),
            "md_only_dry_run_cpu_s": round(md_cpu_s, 3),
            "md_only_n_jobs": md_counts.pop("total"),
            "md_only_jobs_by_rule": md_counts,
        }
    return {
        "n_systems": n_systems,
        "n_temperatures": n_temperatures,
        "n_replicas": n_replicas,
        "n_runs": n_systems * n_temperatures * n_replicas,
        "n_systems_with_cluster": sum(
            1 for spec in config["systems"].values() if spec.get("additives")
        ),
        "n_jobs": n_jobs,
        "jobs_by_rule": counts,
        "parse_s": round(parse_s, 3),
        "dry_run_s": round(dry_run_s, 3),
        "dag_build_s": round(max(dry_run_s - parse_s, 0.0), 3),
        "parse_cpu_s": round(parse_cpu_s, 3),
        "dry_run_cpu_s": round(dry_run_cpu_s, 3),
        "dry_run_ms_per_job": round(1000.0 * dry_run_s / max(n_jobs, 1), 4),
        "target_s": TARGET_S,
        "meets_target": dry_run_s < TARGET_S,
        **extra,
        "snakefile": str(snakefile),
        "commands": {
            "parse_s": "snakemake --list-target-rules (start-up, parse, config checks)",
            "dry_run_s": "snakemake --dry-run --quiet rules (parse + DAG + job table)",
            "dag_build_s": "dry_run_s - parse_s",
            "floor_dry_run_s": (
                "snakemake --dry-run --quiet rules of FLOOR_SNAKEFILE with as many jobs, "
                "right after dry_run_s; ratio_to_floor = ms per job of the two"
            ),
            "slurm": (
                "snakemake --workflow-profile none --profile profiles/slurm --dry-run: "
                "group jobs and ungrouped jobs listed, each one SLURM job"
            ),
            "md_only_dry_run_s": (
                "snakemake --dry-run --quiet rules results/report/md_summary.csv (the MD "
                "runs and their preparation, no analysis)"
            ),
        },
        "notes": (
            "one snakemake process per figure, wall clock, empty working directory (every "
            "job is needed); the repository's profiles/default is loaded automatically"
        ),
    }


if __name__ == "__main__":  # pragma: no cover - manual use
    import argparse
    import json
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=1000)
    parser.add_argument("--temperatures", type=int, default=2)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--snakefile", type=Path, default=SNAKEFILE)
    parser.add_argument("--md-only", action="store_true", help="also time the MD runs alone")
    parser.add_argument("--no-floor", action="store_true", help="skip Snakemake's floor")
    parser.add_argument("--slurm", action="store_true", help="count SLURM jobs (profile)")
    parser.add_argument("--matched-floor", action="store_true", help="also the matched floor")
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help="another checkout's Snakefile, measured first, then --snakefile, in turn",
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds of before and after")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-workflow-"))
    order = (
        [("before", args.before), ("after", args.snakefile)]
        if args.before
        else [("after", args.snakefile)]
    )
    results = []
    for round_ in range(args.rounds):
        for label, snakefile in order:
            result = measure(
                workdir / label,
                n_systems=args.systems,
                n_temperatures=args.temperatures,
                n_replicas=args.replicas,
                snakefile=snakefile,
                md_only=args.md_only,
                floor=not args.no_floor,
                slurm=args.slurm and label == "after",
                matched_floor=args.matched_floor and label == "after",
            )
            result |= {"label": label, "round": round_ + 1}
            print(json.dumps(result), file=sys.stderr, flush=True)
            results.append(result)
    print(json.dumps(results if len(results) > 1 else results[0], indent=2))
