"""The step runner of the analysis jobs: every step runs, the error names the failures."""

from __future__ import annotations

import logging

import pytest

from electrolyte_md.errors import AnalysisError
from electrolyte_md.logs import run_steps


def test_every_step_runs_and_the_error_names_each_failure(caplog):
    ran = []

    def fails():
        ran.append("a")
        raise ValueError("no pair")

    steps = {"a": fails, "b": lambda: ran.append("b"), "c": lambda: ran.append("c")}
    with caplog.at_level(logging.INFO), pytest.raises(AnalysisError) as error:
        run_steps(steps, "X", "analysis", needs={"b": ("a", "a's table")})
    assert ran == ["a", "c"]  # b needs a, which failed; c runs all the same
    message = str(error.value)
    assert message.startswith("analysis of X failed in 2 of 3 steps:")
    assert "a: ValueError: no pair" in message and "b: not run: it needs a's table" in message
    assert "c of X: done in" in caplog.text
    assert "Traceback" in caplog.text


def test_no_error_when_every_step_works():
    ran = []
    run_steps({"a": lambda: ran.append(1), "b": lambda: ran.append(2)}, "Y", "tables")
    assert ran == [1, 2]


def test_a_designed_error_is_logged_as_its_message_and_a_bug_with_its_traceback(tmp_path):
    """A job's log: a refused input reads as its message (no traceback to bury it); an
    unexpected exception keeps its traceback."""
    import subprocess
    import sys

    for raised, traceback in (("AnalysisError('bad pair: fix it')", False),
                              ("KeyError('oops')", True)):  # fmt: skip
        log = tmp_path / "job.log"
        script = (
            "from electrolyte_md.logs import log_to_file\n"
            "from electrolyte_md.errors import AnalysisError\n"
            f"log_to_file({str(log)!r})\n"
            f"raise {raised}\n"
        )
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, check=False)
        text = log.read_text()
        assert run.returncode != 0
        assert ("Traceback" in text) is traceback
        if not traceback:
            assert text.strip() == "ERROR (AnalysisError): bad pair: fix it"
