"""The JSON record helper: valid strict JSON, written whole or not at all."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from electrolyte_md.io import json_float, write_json


def test_write_json_turns_non_finite_numbers_into_null_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "out" / "record.json"
    write_json(path, {"cn": 0.5, "sem": math.nan, "blocks": [1.0, math.inf], "n": 3}, indent=1)
    text = path.read_text()
    assert text.endswith("\n") and text.startswith('{\n "cn"')
    assert json.loads(text) == {"cn": 0.5, "sem": None, "blocks": [1.0, None], "n": 3}
    assert [p.name for p in path.parent.iterdir()] == ["record.json"]


def test_write_json_refuses_what_json_cannot_hold_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "record.json"
    write_json(path, {"ok": 1})
    with pytest.raises(TypeError):
        write_json(path, {"array": np.zeros(2)})
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_json_float():
    assert json_float(np.float32(0.25)) == 0.25 and json_float(None) is None
    assert json_float(math.nan) is None and json_float(-math.inf) is None
