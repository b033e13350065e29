"""Wall-clock limits (configuration, SLURM) and stop signals for the MD stage."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["Deadline", "StopSignals", "parse_slurm_time", "slurm_remaining_seconds"]

#: Signals that ask the MD stage to save its state and stop (SLURM sends SIGTERM at the
#: time limit, or a chosen signal with ``--signal``; Ctrl-C is SIGINT).
STOP_SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGTERM", "SIGINT", "SIGUSR1", "SIGXCPU")
    if hasattr(signal, name)
)

_SLURM_UNLIMITED = {"UNLIMITED", "INFINITE", "NOT_SET", "N/A"}
_SLURM_TIME = re.compile(r"^(?:(?P<days>\d+)-)?(?P<a>\d+)(?::(?P<b>\d+))?(?::(?P<c>\d+))?$")


def parse_slurm_time(text: str) -> float | None:
    """Seconds in a SLURM time string (``squeue -o %L``, ``--time``); None if unlimited.

    Formats (SLURM's): ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``,
    ``D-HH:MM:SS``; ``UNLIMITED``, ``INFINITE`` and ``NOT_SET`` give None.

    Raises
    ------
    ValueError
        If ``text`` is none of these (the message quotes it).
    """
    value = text.strip()
    if value.upper() in _SLURM_UNLIMITED:
        return None
    match = _SLURM_TIME.match(value)
    if match is None:
        raise ValueError(f"not a SLURM time string: {text!r}")
    days = match["days"]
    parts = [int(p) for p in (match["a"], match["b"], match["c"]) if p is not None]
    if days is not None:
        # D-HH, D-HH:MM, D-HH:MM:SS
        hours, minutes, seconds = (parts + [0, 0])[:3]
        total = int(days) * 86400 + hours * 3600 + minutes * 60 + seconds
    elif len(parts) == 1:
        total = parts[0] * 60  # MM
    elif len(parts) == 2:
        total = parts[0] * 60 + parts[1]  # MM:SS
    else:
        total = parts[0] * 3600 + parts[1] * 60 + parts[2]  # HH:MM:SS
    return float(total)


def slurm_remaining_seconds(log: logging.Logger | None = None) -> float | None:
    """Seconds left to the current SLURM job, or None outside SLURM or when unknown.

    ``SLURM_JOB_END_TIME`` (Unix time, set by recent SLURM) is used if present, else
    ``squeue -h -j $SLURM_JOB_ID -o %L``.
    """
    log = log or logging.getLogger(__name__)
    end = os.environ.get("SLURM_JOB_END_TIME")
    if end:
        try:
            return float(end) - time.time()
        except ValueError:
            log.warning("SLURM_JOB_END_TIME=%r is not a Unix time; ignored", end)
    job = os.environ.get("SLURM_JOB_ID")
    squeue = shutil.which("squeue")
    if not job or squeue is None:
        return None
    try:
        out = subprocess.run(
            [squeue, "-h", "-j", job, "-o", "%L"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        return parse_slurm_time(out.strip().splitlines()[0]) if out.strip() else None
    except (subprocess.SubprocessError, OSError, ValueError) as exc:
        log.warning("could not read the remaining time of SLURM job %s: %s", job, exc)
        return None


@dataclass
class Deadline:
    """The wall-clock time (``time.time()``) by which a run must have stopped.

    Parameters
    ----------
    end_time : float or None
        Unix time of the limit; None means no limit.
    margin_s : float
        Time kept in reserve before ``end_time`` (saving state, publishing files).
    source : str
        Where the limit comes from, for messages.
    """

    end_time: float | None
    margin_s: float = 0.0
    source: str = "none"
    _longest_chunk_s: float = field(default=0.0, repr=False)

    @classmethod
    def from_limits(
        cls,
        limit_hours: float | None,
        margin_minutes: float,
        log: logging.Logger | None = None,
        use_slurm: bool = True,
    ) -> Deadline:
        """Deadline from a configured limit (from now) and the SLURM job's remaining time."""
        now = time.time()
        candidates: list[tuple[float, str]] = []
        if limit_hours is not None:
            candidates.append((now + limit_hours * 3600.0, f"wall_time_limit_hours={limit_hours}"))
        if use_slurm:
            remaining = slurm_remaining_seconds(log)
            if remaining is not None:
                candidates.append((now + remaining, "SLURM job time limit"))
        if not candidates:
            return cls(None, margin_minutes * 60.0)
        end, source = min(candidates)
        return cls(end, margin_minutes * 60.0, source)

    def note_chunk(self, seconds: float) -> None:
        """Record the wall time of one chunk of steps (the next one is assumed as long)."""
        self._longest_chunk_s = max(self._longest_chunk_s, seconds)

    def seconds_left(self) -> float | None:
        """Seconds to the limit minus the margin (None without a limit)."""
        if self.end_time is None:
            return None
        return self.end_time - self.margin_s - time.time()

    def must_stop(self) -> bool:
        """Whether another chunk would end past the limit minus the margin."""
        left = self.seconds_left()
        return left is not None and left < 1.5 * self._longest_chunk_s


class StopSignals:
    """Turns SIGTERM/SIGINT/SIGUSR1/SIGXCPU into a flag checked between chunks of steps."""

    def __init__(self) -> None:
        self.received: int | None = None

    def _handler(self, signum: int, frame: object) -> None:
        self.received = signum

    @property
    def name(self) -> str:
        """Name of the signal received."""
        return signal.Signals(self.received).name if self.received else ""

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopSignals]:
        """Install the handlers (main thread only) and restore the old ones on exit."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, self._handler) for s in STOP_SIGNALS}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
