"""Small file helpers: atomic writes, JSON records and running external programs with logs."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from electrolyte_md.errors import ElectrolyteMDError

logger = logging.getLogger(__name__)


def atomic_write(path: Path | str, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a synced temporary file and a rename.

    A killed process leaves either the old file or the new one, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path | str, text: str) -> None:
    """:func:`atomic_write` for text (UTF-8)."""
    atomic_write(path, text)


def json_float(value: float | None) -> float | None:
    """``value`` as a JSON number: a float, or None where it is NaN or infinite."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _json_safe(value):
    """``value`` with every non-finite float (not valid JSON) replaced by None."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path | str, data, indent: int = 2) -> None:
    """Write ``data`` as JSON (non-finite floats as null) atomically, with a final newline."""
    atomic_write(path, json.dumps(_json_safe(data), indent=indent, allow_nan=False) + "\n")


def atomic_copy(src: Path | str, dst: Path | str) -> None:
    """Copy a file so that ``dst`` appears whole or not at all."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class TimeLimit:
    """A wall-clock limit for :func:`run_program`, with what it was scaled from.

    Attributes
    ----------
    seconds
        The limit.
    basis
        The size it was scaled from and the rule, for the message
        ("17 atoms: 300 s + 0.1 s x atoms^2").
    remedy
        What the user can do when it is reached.
    """

    seconds: float
    basis: str
    remedy: str


def find_program(name: str) -> str:
    """Absolute path of an executable, looked up next to the running Python first.

    The AmberTools and Packmol wheels install their programs into the environment's
    ``bin/``, which is not always on ``PATH`` (e.g. when Snakemake calls a venv's Python
    directly), so that directory is searched before ``PATH``.
    """
    import sys

    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise ElectrolyteMDError(
            f"program '{name}' not found beside {sys.executable} or on PATH; "
            "install the pinned environment (make venv)"
        )
    return found


def run_program(
    args: Sequence[str],
    *,
    cwd: Path,
    error: type[ElectrolyteMDError],
    what: str,
    stdin_path: Path | None = None,
    log_path: Path | None = None,
    time_limit: TimeLimit | None = None,
) -> str:
    """Run an external program, keep its output, raise ``error`` if it fails.

    Parameters
    ----------
    args
        Program and arguments; the program is resolved with :func:`find_program`.
    cwd
        Working directory (scratch files of antechamber and friends land here).
    error
        Exception class raised on a non-zero exit.
    what
        Human description used in the error message ("antechamber for NMP").
    stdin_path
        File fed to standard input (Packmol reads its input this way).
    log_path
        Where to copy the combined output; it always goes to this module's logger,
        which the workflow scripts send to the rule's log file.
    time_limit
        Wall-clock limit (:class:`TimeLimit`). On expiry the program and everything it
        started (antechamber's sqm, the Packmol binary behind its Python wrapper) are
        killed and ``error`` is raised naming the program, the limit, the size it was
        scaled from and what to do (with the limit as its ``time_limit`` attribute).
        ``None``: no limit.

    Returns
    -------
    str
        The program's combined standard output and error.
    """
    program = find_program(args[0])
    env = dict(os.environ)
    env["PATH"] = f"{Path(program).parent}{os.pathsep}{env.get('PATH', '')}"
    logger.info("running %s in %s", " ".join([program, *args[1:]]), cwd)
    stdin = open(stdin_path) if stdin_path is not None else subprocess.DEVNULL  # noqa: SIM115
    timed_out = False
    try:
        proc = subprocess.Popen(
            [program, *args[1:]],
            cwd=cwd,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        try:
            output, _ = proc.communicate(
                timeout=time_limit.seconds if time_limit is not None else None
            )
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_tree(proc)
            output, _ = proc.communicate()
        except BaseException:  # interrupted (KeyboardInterrupt, a signal handler's exception)
            _kill_tree(proc)
            proc.wait()
            raise
    finally:
        if stdin_path is not None:
            stdin.close()
    logger.info("output of %s:\n%s", what, output)
    if log_path is not None:
        atomic_write_text(log_path, output)
    if timed_out:
        tail = "\n".join(output.strip().splitlines()[-5:])
        expired = error(
            f"{what} did not finish within its time limit of {time_limit.seconds:.0f} s "
            f"({time_limit.basis}) and was stopped; {time_limit.remedy}"
            + (f"\nlast lines of its output:\n{tail}" if tail else "")
        )
        expired.time_limit = time_limit  # tells callers it was the limit, not the program
        raise expired
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise error(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return output


def _descendants(pid: int) -> list[int]:
    """Process ids of every descendant of ``pid`` (Linux ``/proc``; elsewhere none)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")"
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_tree(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and every process it started (antechamber's sqm, the Packmol binary
    behind its Python wrapper), which killing ``proc`` alone would leave running.

    Not a process group of its own (``start_new_session`` and ``killpg``): the programs
    must stay in the job's group, so that Snakemake or SLURM stopping the job stops them.
    """
    descendants = _descendants(proc.pid)
    for pid in [proc.pid, *descendants]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
