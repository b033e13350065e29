"""Every regex of the DFT readers matches the sample(s) of real output it is defined with
(:func:`electrolyte_md.dft.readers.base.define_pattern`); a new pattern is covered by being
registered."""

from __future__ import annotations

import importlib

import pytest

from electrolyte_md.dft.readers import detect_program
from electrolyte_md.dft.readers.base import PATTERNS, define_pattern
from electrolyte_md.dft.readers.dispatch import READERS

PROGRAMS = ["nwchem", "orca", "gaussian", "qchem", "psi4", "cp2k"]


def _pattern_id(pattern) -> str:
    return f"{pattern.module.rsplit('.', 1)[-1]}:{pattern.regex.pattern[:40]}"


def test_the_registry_holds_the_patterns_of_every_module():
    assert len(PATTERNS) > 6 * len(PROGRAMS)
    modules = {p.module.rsplit(".", 1)[-1] for p in PATTERNS}
    assert set(PROGRAMS) <= modules


@pytest.mark.parametrize("pattern", PATTERNS, ids=_pattern_id)
def test_every_pattern_matches_its_samples(pattern):
    assert pattern.examples
    for example in pattern.examples:
        assert pattern.regex.search(example), (
            f"{pattern.module}: {pattern.regex.pattern!r} does not match its sample {example!r}"
        )


@pytest.mark.parametrize("program", PROGRAMS)
def test_each_program_module_registers_patterns_and_a_reader(program):
    module = importlib.import_module(f"electrolyte_md.dft.readers.{program}")
    assert sum(p.module == module.__name__ for p in PATTERNS) >= 1
    assert READERS[program] is module.READER


@pytest.mark.parametrize("program", PROGRAMS)
def test_each_banner_sample_is_detected_as_its_program(program):
    signature = next(p for p in PATTERNS if p.regex is READERS[program].signature)
    for example in signature.examples:
        assert detect_program(example) == program


def test_a_pattern_without_a_sample_is_refused():
    count = len(PATTERNS)
    with pytest.raises(ValueError, match="needs a sample"):
        define_pattern(r"Total energy\s*=")
    assert len(PATTERNS) == count
