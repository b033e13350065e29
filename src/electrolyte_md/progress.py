"""Keep a long study's finished work across machines, without its trajectories.

A study longer than one machine's lease (the paper study runs for hours on 2 cores) loses
everything when its ``results/`` goes. :func:`save_progress` copies the finished outputs of
the study, every file of ``results/`` except trajectories and MD restart folders, into a
small store with a manifest of each file's modification time and SHA-256;
:func:`restore_progress` puts them back on another machine with those modification times.

Why this is enough for Snakemake to carry on where the study stopped: Snakemake reruns a
job when one of its outputs is missing *and* a job that needs it must run, when an input
is newer than an output, or when an output is older than the rule's script. Restored
files get their old order in time, placed just after the moment of the restore (so after
every file of the fresh checkout, scripts included); the outputs of the finished runs are
then up to date, their trajectories are missing but nothing that must run needs them, so
the runs are not repeated (a missing intermediate file does not make Snakemake redo the
jobs after it), while runs not yet done are run from the restored system files. Outputs
without Snakemake's metadata records (``.snakemake/metadata``, not kept) trigger no rerun
of their own.

What is left out, and why:

* trajectories (``*.dcd``, ``*.xtc``, ``*.trr``, ``*.nc``): the study's bulk (about 20 MB
  per ns of a 1,700-atom box); their analyses are kept;
* ``restart/`` folders: the checkpoints of an MD run in progress;
* outputs of jobs Snakemake marks incomplete (``.snakemake/incomplete``): a run that was
  in progress or killed; and the logs of jobs that did not finish, named by their
  metadata records. Saving is refused while a Snakemake process holds the working
  directory's lock, since its outputs may be half written.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from electrolyte_md.errors import ProgressError
from electrolyte_md.io import atomic_copy, write_json

__all__ = [
    "MANIFEST",
    "SKIPPED_SUFFIXES",
    "incomplete_outputs",
    "logs_of_unfinished_jobs",
    "restore_progress",
    "save_progress",
    "validate_manifest",
]

#: The store's index: one entry per kept file (path relative to the working directory,
#: size, SHA-256, modification time in ns).
MANIFEST = "manifest.json"
#: Trajectories: never kept.
SKIPPED_SUFFIXES = (".dcd", ".xtc", ".trr", ".nc")
#: Folders never kept (an MD run's checkpoints while it runs).
SKIPPED_DIRS = ("restart",)
#: Restored files are this far apart in modification time, in the order they were saved.
RESTORED_TIME_STEP_NS = 1000


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _decode_marker(relative: Path) -> str:
    """The output path a Snakemake record file names (urlsafe base64, '@'-split if long)."""
    return base64.urlsafe_b64decode("".join(p.lstrip("@") for p in relative.parts)).decode()


def incomplete_outputs(workdir: str | Path) -> set[str]:
    """Outputs Snakemake marks incomplete in ``workdir`` (paths relative to it).

    Snakemake records each output of a running job under ``.snakemake/incomplete`` and
    removes the record when the job finishes; records left behind belong to killed jobs.
    """
    marker_dir = Path(workdir) / ".snakemake" / "incomplete"
    if not marker_dir.is_dir():
        return set()
    outputs = set()
    for marker in marker_dir.rglob("*"):
        if marker.is_file() and marker.name != "migration_underway":
            try:
                outputs.add(os.path.normpath(_decode_marker(marker.relative_to(marker_dir))))
            except (ValueError, UnicodeDecodeError) as err:
                raise ProgressError(
                    f"{marker}: not a Snakemake incomplete-output record ({err})"
                ) from err
    return outputs


def logs_of_unfinished_jobs(workdir: str | Path, incomplete: set[str]) -> set[str]:
    """Log files of jobs that did not finish (paths relative to ``workdir``).

    A log is not an output, so Snakemake marks it nothing when its job is killed (and a
    job stopped by SIGTERM has its outputs deleted and its marks removed); but Snakemake's
    metadata record of each output (``.snakemake/metadata``) names the job's logs. A log
    is left out when none of the outputs whose records name it is there and complete
    (``incomplete``: the outputs Snakemake marks incomplete). A log no record names is
    kept: a restored study keeps no records, and a job killed by SIGKILL leaves none.
    """
    workdir = Path(workdir)
    record_dir = workdir / ".snakemake" / "metadata"
    if not record_dir.is_dir():
        return set()
    finished: dict[str, bool] = {}
    for record in record_dir.rglob("*"):
        if not record.is_file():
            continue
        try:
            output = os.path.normpath(_decode_marker(record.relative_to(record_dir)))
            logs = json.loads(record.read_text()).get("log") or []
        except (ValueError, UnicodeDecodeError, AttributeError):
            continue  # not a record of Snakemake's: nothing to learn from it
        done = output not in incomplete and (workdir / output).exists()
        for log in logs:
            log = os.path.normpath(log)
            finished[log] = finished.get(log, False) or done
    return {log for log, done in finished.items() if not done}


def _kept(relative: Path) -> bool:
    return relative.suffix not in SKIPPED_SUFFIXES and not any(
        part in SKIPPED_DIRS for part in relative.parts[:-1]
    )


def _check_unlocked(workdir: Path) -> None:
    locks = workdir / ".snakemake" / "locks"
    if locks.is_dir() and any(locks.iterdir()):
        raise ProgressError(
            f"{locks}: Snakemake holds this working directory (a run is in progress, or a "
            "killed one left its lock: then 'snakemake --unlock'); save after it ends"
        )


_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ENTRY_KEYS = {"path": "a relative path", "size_bytes": "an integer", "sha256": "a hex digest",
               "mtime_ns": "an integer (ns)"}  # fmt: skip


def _inside(value: Any, where: str, what: str, remedy: str) -> PurePosixPath:
    """``value`` as a relative POSIX path that stays inside the directory it is relative to."""
    if not isinstance(value, str) or not value:
        raise ProgressError(f"{where}: {what} {value!r} is not a path{remedy}")
    path = PurePosixPath(value)
    if (
        path.is_absolute()
        or PureWindowsPath(value).is_absolute()
        or "\\" in value
        or any(part in ("..", ".") for part in path.parts)
        or value != path.as_posix()
    ):
        raise ProgressError(
            f"{where}: {what} {value!r} is not a plain relative path inside the working "
            f"directory (no '..', '.', '\\' or absolute paths){remedy}"
        )
    return path


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_manifest(manifest: Any, where: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """Check a whole manifest before any file is touched; its results dir and entries.

    Every field is checked: ``results`` a relative directory inside the working directory;
    ``files`` a list of entries, each with a ``path`` inside ``results`` (no ``..``, no
    absolute path, no duplicate), ``size_bytes`` and ``mtime_ns`` non-negative integers and
    ``sha256`` a 64-digit lower-case hex digest; ``skipped`` (optional) a list of paths.

    Raises
    ------
    ProgressError
        Naming ``where`` (the manifest file), the entry and the field, and what to do.
    """
    remedy = (
        "; not a progress manifest as 'progress save' writes it (edited by hand?): save "
        "the study again, or use an intact copy of the store"
    )
    if not isinstance(manifest, dict):
        raise ProgressError(f"{where}: not a JSON object{remedy}")
    results = manifest.get("results", "results")
    results_path = _inside(results, where, "'results'", remedy)
    files = manifest.get("files")
    if not isinstance(files, list):
        raise ProgressError(f"{where}: 'files' must be a list of entries{remedy}")
    skipped = manifest.get("skipped", [])
    if not isinstance(skipped, list) or not all(isinstance(x, str) for x in skipped):
        raise ProgressError(f"{where}: 'skipped' must be a list of paths{remedy}")
    entries: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(files):
        label = f"files[{i}]"
        if not isinstance(entry, dict):
            raise ProgressError(f"{where}: {label} is not an object{remedy}")
        missing = [key for key in _ENTRY_KEYS if key not in entry]
        if missing:
            raise ProgressError(f"{where}: {label} lacks {', '.join(missing)}{remedy}")
        path = _inside(entry["path"], where, f"{label}.path", remedy)
        label = f"{label} ({entry['path']})"
        if path.parts[: len(results_path.parts)] != results_path.parts or path == results_path:
            raise ProgressError(
                f"{where}: {label}.path is not inside the results directory '{results}'{remedy}"
            )
        for key in ("size_bytes", "mtime_ns"):
            if not _is_int(entry[key]) or entry[key] < 0:
                raise ProgressError(
                    f"{where}: {label}.{key} is {entry[key]!r}, not {_ENTRY_KEYS[key]} >= 0{remedy}"
                )
        if not isinstance(entry["sha256"], str) or not _SHA256.match(entry["sha256"]):
            raise ProgressError(
                f"{where}: {label}.sha256 is {entry['sha256']!r}, not a SHA-256 hex digest{remedy}"
            )
        if entry["path"] in entries:
            raise ProgressError(f"{where}: {label} is listed twice{remedy}")
        entries[entry["path"]] = entry
    return results, entries


def _read_manifest(store: Path) -> tuple[str, dict[str, dict[str, Any]]]:
    """The results directory a store was saved from, and its files by path (none: empty).

    The whole manifest is validated (:func:`validate_manifest`) before it is used."""
    path = store / MANIFEST
    if not path.is_file():
        return "results", {}
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ProgressError(
            f"{path}: not a progress manifest (unreadable JSON: {err}); save the study "
            "again, or restore from an intact copy of the store"
        ) from err
    return validate_manifest(manifest, str(path))


def save_progress(
    workdir: str | Path, store: str | Path, results: str = "results"
) -> dict[str, Any]:
    """Copy the finished outputs of ``workdir/results`` into ``store``.

    Files already in the store with the same content are not copied again; files the
    store holds that are no longer among the finished outputs are removed from it. Each
    file and the manifest are written whole (a temporary file and a rename), the manifest
    last: a save killed midway leaves the previous manifest, whose restore then refuses
    any file the killed save had already replaced with new content (naming it) until the
    next save completes.

    Returns
    -------
    dict
        The manifest: ``files`` (path, size_bytes, sha256, mtime_ns per file), ``skipped``
        (incomplete outputs and the logs of unfinished jobs, left out).
    """
    workdir, store = Path(workdir), Path(store)
    root = workdir / results
    if not root.is_dir():
        raise ProgressError(f"{root}: no results directory to save")
    _check_unlocked(workdir)
    incomplete = incomplete_outputs(workdir)
    unfinished = incomplete | logs_of_unfinished_jobs(workdir, incomplete)
    _, previous = _read_manifest(store)
    entries, skipped = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(workdir)
        if not _kept(relative):
            continue
        if os.path.normpath(relative) in unfinished:
            skipped.append(str(relative))
            continue
        stat = path.stat()
        entry = {
            "path": relative.as_posix(),
            "size_bytes": stat.st_size,
            "sha256": _sha256(path),
            "mtime_ns": stat.st_mtime_ns,
        }
        old = previous.get(entry["path"])
        target = store / relative
        if old is None or old["sha256"] != entry["sha256"] or not target.is_file():
            atomic_copy(path, target)
        entries.append(entry)
    manifest = {"results": results, "files": entries, "skipped": skipped}
    write_json(store / MANIFEST, manifest, indent=1)
    for stale in set(previous) - {entry["path"] for entry in entries}:
        (store / stale).unlink(missing_ok=True)
    return manifest


def _check_store(store: Path, entries: Iterable[dict[str, Any]]) -> None:
    for entry in entries:
        path = store / entry["path"]
        if not path.is_file():
            raise ProgressError(
                f"{path}: listed in {store / MANIFEST} but missing; nothing was restored "
                "(save the study again, or use an intact copy of the store)"
            )
        if path.stat().st_size != entry["size_bytes"] or _sha256(path) != entry["sha256"]:
            raise ProgressError(
                f"{path}: content differs from {store / MANIFEST} (changed after the "
                "save); nothing was restored (save the study again, or use an intact copy "
                "of the store)"
            )


def restore_progress(store: str | Path, workdir: str | Path) -> list[str]:
    """Put a saved study back into ``workdir``, its files in their saved order in time.

    The manifest is validated whole first (:func:`validate_manifest`: the type of every
    field, every path inside the results directory, every hash), then every stored file
    against it (size and SHA-256). Nothing is written, and an
    error names the files, when a file already in ``workdir`` has other content (the study
    there has moved on) or when its results directory holds files the store does not
    (trajectories, say: the study is still there, and restamping its inputs would make
    Snakemake redo its runs). Where every stored file is already there unchanged, nothing
    is done. Otherwise the stored files (those already there too) get
    modification times in the order of their saved ones, 1 us apart from the moment of
    the restore on, so that they are newer than the checkout they are restored into (a
    script newer than an output makes Snakemake rerun the job) and older than anything
    made after the restore. On a file system with coarser times files saved apart may get
    the same time, which Snakemake does not count as newer either way. If copying or
    re-timing fails midway (a full disk, say), what was done is undone: the copied files
    are removed and the others get their old times back.

    Returns
    -------
    list of str
        The paths written or re-timed, relative to ``workdir`` (empty: nothing to do).
    """
    store, workdir = Path(store), Path(workdir)
    if not (store / MANIFEST).is_file():
        raise ProgressError(f"{store / MANIFEST}: missing; not a saved study")
    results, saved = _read_manifest(store)
    entries = list(saved.values())
    _check_store(store, entries)
    differing = [
        entry["path"]
        for entry in entries
        if (workdir / entry["path"]).is_file()
        and _sha256(workdir / entry["path"]) != entry["sha256"]
    ]
    if differing:
        shown = ", ".join(differing[:5]) + (" ..." if len(differing) > 5 else "")
        raise ProgressError(
            f"{workdir}: {len(differing)} file(s) differ from the saved study in {store} "
            f"({shown}); restore into a fresh working directory"
        )
    if all((workdir / entry["path"]).is_file() for entry in entries):
        return []
    stored = {entry["path"] for entry in entries}
    extra = sorted(
        path.relative_to(workdir).as_posix()
        for path in (workdir / results).rglob("*")
        if path.is_file() and path.relative_to(workdir).as_posix() not in stored
    )
    if extra:
        shown = ", ".join(extra[:3]) + (" ..." if len(extra) > 3 else "")
        raise ProgressError(
            f"{workdir / results}: holds {len(extra)} file(s) the saved study in {store} "
            f"does not ({shown}); carry on there without restoring, or restore into a "
            "fresh working directory"
        )
    saved_times = sorted({entry["mtime_ns"] for entry in entries})
    rank = {mtime: i for i, mtime in enumerate(saved_times)}
    start_ns = _write_all_or_nothing(store, workdir, entries, rank)
    # whatever is written next must be newer than every restored file
    last_ns = start_ns + RESTORED_TIME_STEP_NS * len(saved_times)
    while _file_system_now_ns(workdir) <= last_ns:
        time.sleep(1e-3)
    return [entry["path"] for entry in entries]


def _write_all_or_nothing(
    store: Path, workdir: Path, entries: list[dict[str, Any]], rank: dict[int, int]
) -> int:
    """Copy the missing files and set every file's time; undo it all if a step fails.

    Files copied are removed again (and the folders made for them), files that were there
    get their old times back, so a failed restore leaves ``workdir`` as it was. Returns
    the moment (ns, the file system's clock) the new times count from.
    """
    copied: list[Path] = []
    made: list[Path] = []
    old_times: dict[Path, tuple[int, int]] = {}
    try:
        for entry in entries:
            target = workdir / entry["path"]
            if target.is_file():
                stat = target.stat()
                old_times[target] = (stat.st_atime_ns, stat.st_mtime_ns)
                continue
            missing = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
            made += reversed(missing)
            atomic_copy(store / entry["path"], target)
            copied.append(target)
        start_ns = _file_system_now_ns(workdir)
        for entry in entries:
            mtime = start_ns + RESTORED_TIME_STEP_NS * (1 + rank[entry["mtime_ns"]])
            os.utime(workdir / entry["path"], ns=(mtime, mtime))
    except (OSError, ValueError, OverflowError) as err:
        for path in copied:
            path.unlink(missing_ok=True)
        for path, times in old_times.items():
            with contextlib.suppress(OSError):
                os.utime(path, ns=times)
        for directory in reversed(made):
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise ProgressError(
            f"{workdir}: restore from {store} failed ({type(err).__name__}: {err}); "
            "nothing was restored and the files that were there kept their times. Fix "
            "the cause (free space, permissions) and restore again"
        ) from err
    return start_ns


def _file_system_now_ns(directory: Path) -> int:
    """The modification time a file written now in ``directory`` gets (ns).

    Not ``time.time_ns()``: file systems stamp files from a coarser clock (the kernel's
    tick, or whole seconds), which can lag behind it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(dir=directory, prefix=".progress-clock.")
    try:
        os.write(fd, b"0")
        return os.fstat(fd).st_mtime_ns
    finally:
        os.close(fd)
        os.unlink(probe)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m electrolyte_md.progress save|restore``."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    save = verbs.add_parser("save", help="copy the finished outputs into a store")
    save.add_argument("store", help="the store (e.g. validation/progress)")
    save.add_argument("--workdir", default=".", help="the study's working directory")
    restore = verbs.add_parser("restore", help="put a saved study back")
    restore.add_argument("store")
    restore.add_argument("--workdir", default=".")
    args = parser.parse_args(argv)
    try:
        if args.verb == "save":
            manifest = save_progress(args.workdir, args.store)
            size = sum(entry["size_bytes"] for entry in manifest["files"]) / 1e6
            print(
                f"{len(manifest['files'])} files ({size:.1f} MB) saved in {args.store}; "
                f"{len(manifest['skipped'])} incomplete outputs and logs left out"
            )
        else:
            restored = restore_progress(args.store, args.workdir)
            if restored:
                print(f"{len(restored)} files restored into {args.workdir}")
            else:
                print(f"nothing to restore: {args.workdir} holds the saved study already")
    except ProgressError as err:
        parser.exit(2, f"error: {err}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
