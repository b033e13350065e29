"""Logging set-up for workflow scripts: everything into one file.

An error the package raises on purpose (:class:`~electrolyte_md.errors.ElectrolyteMDError`:
a bad input, a refused molecule, a damaged file) is logged as its message alone, which
names the problem, the file and the fix; a Python traceback there would only bury it.
Any other exception is a bug, and its traceback is logged in full.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from electrolyte_md.errors import AnalysisError, ElectrolyteMDError


def log_to_file(path: str | Path) -> None:
    """Send logging records, warnings and uncaught tracebacks of this process to ``path``."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "w", buffering=1)  # noqa: SIM115 - lives as long as the process
    logging.basicConfig(
        stream=handle,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.captureWarnings(True)
    sys.stderr = handle
    sys.excepthook = _report_uncaught


def _report_uncaught(kind, error, traceback) -> None:
    """The process's last word: a designed error's message, or a bug's traceback."""
    if isinstance(error, ElectrolyteMDError):
        print(f"ERROR ({kind.__name__}): {error}", file=sys.stderr)
    else:
        sys.__excepthook__(kind, error, traceback)


def run_steps(
    steps: Mapping[str, Callable[[], object]],
    what: str,
    job: str,
    needs: Mapping[str, tuple[str, str]] | None = None,
) -> None:
    """Run independent steps of one job, each to the end, then fail naming every failure.

    A failed step does not stop the others; the log gives each step's time or traceback.

    Parameters
    ----------
    steps
        Step name -> callable, run in this order.
    what
        What the steps work on, e.g. ``"LiPF6_NMP, 298.15 K, replica 1"``: the log reads
        "<step> of <what>: done in ... s".
    job
        What the steps make up, e.g. ``"analysis"``: the error reads "<job> of <what>
        failed in n of m steps: ...".
    needs
        Step name -> (the earlier step it needs, what that step gives it, e.g. "the RDF
        records"); it is not run if that step failed.

    Raises
    ------
    AnalysisError
        After all steps, if any failed or was not run.
    """
    logger = logging.getLogger("electrolyte_md.steps")
    needs = needs or {}
    failed: dict[str, str] = {}
    for name, step in steps.items():
        if name in needs and needs[name][0] in failed:
            needed, gives = needs[name]
            failed[name] = f"not run: it needs {gives}"
            logger.error("%s of %s not run: the %s step failed", name, what, needed)
            continue
        start = time.perf_counter()
        logger.info("%s of %s: start", name, what)
        try:
            step()
        except ElectrolyteMDError as error:  # designed: its message says it all
            logger.error("%s of %s failed: %s: %s", name, what, type(error).__name__, error)
            failed[name] = f"{type(error).__name__}: {error}"
        except Exception as error:  # a bug: the traceback is what helps
            logger.exception("%s of %s failed", name, what)
            failed[name] = f"{type(error).__name__}: {error}"
        else:
            logger.info("%s of %s: done in %.1f s", name, what, time.perf_counter() - start)
    if failed:
        raise AnalysisError(
            f"{job} of {what} failed in {len(failed)} of {len(steps)} steps: "
            + "; ".join(f"{name}: {reason}" for name, reason in failed.items())
        )
