"""Bad inputs and damaged files (issue 24): each case is refused with a message naming the
file or key and what to do, and leaves nothing half-written behind.

Fast: no MD, no quantum chemistry; the DFT cases edit the real outputs in
../shared/fixtures/dft (read in place, edited copies in tmp_path).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

import electrolyte_md.progress as progress
from electrolyte_md.errors import ProgressError
from electrolyte_md.progress import MANIFEST, restore_progress, save_progress


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root``: content and modification time."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- progress store (item 6) -----------------------------------------------------------


def _saved_study(tmp_path: Path) -> tuple[Path, Path]:
    work = tmp_path / "study"
    for i, name in enumerate(
        ["results/systems/S/system.xml", "results/md/S/298.15K/rep1/md_summary.json"]
    ):
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"file {i}")
        os.utime(path, ns=(1_700_000_000_000_000_000 + i * 10**9,) * 2)
    store = tmp_path / "store"
    save_progress(work, store)
    return work, store


def _edit_first_entry(key, value):
    def edit(manifest):
        manifest["files"][0][key] = value

    return edit


def _add_entry(path):
    def edit(manifest):
        manifest["files"].append(dict(manifest["files"][0], path=path))

    return edit


MANIFEST_CASES = {
    "non-numeric mtime": (_edit_first_entry("mtime_ns", "yesterday"), r"mtime_ns is 'yesterday'"),
    "float size": (_edit_first_entry("size_bytes", 1.5), r"size_bytes is 1.5"),
    "boolean mtime": (_edit_first_entry("mtime_ns", True), r"mtime_ns is True"),
    "bad hash": (_edit_first_entry("sha256", "abc"), r"sha256 is 'abc', not a SHA-256"),
    "path escaping with ../": (
        _add_entry("results/../../outside.txt"),
        r"'results/\.\./\.\./outside\.txt' is not a plain relative path",
    ),
    "absolute path": (_add_entry("/tmp/outside.txt"), r"'/tmp/outside\.txt' is not a plain"),
    "path outside results": (_add_entry("Snakefile"), r"not inside the results directory"),
    "path not a string": (_edit_first_entry("path", 7), r"path 7 is not a path"),
    "entry without a hash": (
        lambda m: m["files"][0].pop("sha256"),
        r"files\[0\] lacks sha256",
    ),
    "files not a list": (lambda m: m.update(files={"a": 1}), r"'files' must be a list"),
    "results escaping": (lambda m: m.update(results="../x"), r"'results' '\.\./x'"),
    "duplicate entry": (
        lambda m: m["files"].append(dict(m["files"][0])),
        r"listed twice",
    ),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_CASES))
def test_a_hand_edited_manifest_is_refused_before_any_file_is_touched(tmp_path, case):
    edit, message = MANIFEST_CASES[case]
    _, store = _saved_study(tmp_path)
    manifest = json.loads((store / MANIFEST).read_text())
    edit(manifest)
    (store / MANIFEST).write_text(json.dumps(manifest))
    target = tmp_path / "fresh"
    target.mkdir()
    (target / "README").write_text("a checkout")
    before, store_before = _tree(tmp_path / "fresh"), _tree(store)
    with pytest.raises(ProgressError, match=message) as caught:
        restore_progress(store, target)
    assert str(store / MANIFEST) in str(caught.value)
    assert "save the study again" in str(caught.value)
    assert _tree(target) == before  # nothing copied, nothing re-timed
    assert not (tmp_path / "outside.txt").exists()
    # a save over the damaged store is refused the same way, before it deletes anything
    with pytest.raises(ProgressError, match=message):
        save_progress(tmp_path / "study", store)
    assert _tree(store) == store_before


def test_unreadable_manifest_names_the_file_and_the_remedy(tmp_path):
    _, store = _saved_study(tmp_path)
    (store / MANIFEST).write_text('{"files": [')
    with pytest.raises(ProgressError, match=r"manifest\.json: .*unreadable JSON.*save"):
        restore_progress(store, tmp_path / "fresh")
    assert not (tmp_path / "fresh" / "results").exists()


def test_a_restore_failing_midway_leaves_the_directory_as_it_was(tmp_path, monkeypatch):
    """The second copy fails (a full disk): the first is removed again, the file that
    was already there keeps its time, no folder made for the restore remains."""
    work, store = _saved_study(tmp_path)
    target = tmp_path / "fresh"
    kept = target / "results/systems/S/system.xml"
    kept.parent.mkdir(parents=True)
    kept.write_bytes((work / "results/systems/S/system.xml").read_bytes())
    os.utime(kept, ns=(1_600_000_000_000_000_000,) * 2)
    (store / "results/md/S/298.15K/rep1/extra.json").write_text("{}")
    manifest = json.loads((store / MANIFEST).read_text())
    extra = {
        "path": "results/md/S/298.15K/rep1/extra.json",
        "size_bytes": 2,
        "sha256": hashlib.sha256(b"{}").hexdigest(),
        "mtime_ns": 1_700_000_000_000_000_000,
    }
    manifest["files"].append(extra)
    (store / MANIFEST).write_text(json.dumps(manifest))
    before = _tree(target)
    real_copy, calls = progress.atomic_copy, []

    def failing_copy(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_copy(src, dst)

    monkeypatch.setattr(progress, "atomic_copy", failing_copy)
    with pytest.raises(ProgressError, match=r"No space left.*nothing was restored.*again"):
        restore_progress(store, target)
    assert len(calls) == 2
    assert _tree(target) == before
    assert not (target / "results/md").exists()
