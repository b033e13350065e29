"""Logging set-up for workflow scripts: everything, tracebacks included, into one file."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


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
