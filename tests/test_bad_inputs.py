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

import numpy as np
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


# --- MD restart record (item 5) --------------------------------------------------------


def _restart_folder(tmp_path: Path) -> Path:
    """A restart folder as a checkpoint in production leaves it."""
    folder = tmp_path / "results/md/S/298.15K/rep1/restart"
    folder.mkdir(parents=True)
    (folder / "state-000000001000.xml").write_text("<State/>")
    record = {
        "format": 1,
        "name": "S",
        "fingerprint": "f" * 64,
        "timestep_fs": 2.0,
        "phase": "production",
        "phase_step": 500,
        "step": 1000,
        "time_ps": 2.0,
        "files": {"prod.csv": {"bytes": 120}},
        "totals": {"production": {"steps": 500, "wall_s": 3.5}},
        "wall_total_s": 10.0,
        "invocations": [],
        "state_file": "state-000000001000.xml",
    }
    (folder / "progress.json").write_text(json.dumps(record))
    return folder


def _set(key, value):
    def edit(record):
        record[key] = value
        return json.dumps(record)

    return edit


RESTART_CASES = {
    "unreadable JSON": (lambda r: json.dumps(r)[:40], r"is not valid JSON"),
    "not an object": (lambda r: "[1, 2]", r"is not a JSON object but list"),
    "no state file named": (lambda r: json.dumps({**r, "state_file": None}), r"'state_file'"),
    "phase step a string": (_set("phase_step", "500"), r"'phase_step': '500', not an integer"),
    "unknown phase": (_set("phase", "relaxation"), r"'phase': 'relaxation', not one of"),
    "totals damaged": (_set("totals", {"production": 3}), r"'totals'"),
    "field missing": (
        lambda r: json.dumps({k: v for k, v in r.items() if k != "fingerprint"}),
        r"lacks the field 'fingerprint'",
    ),
    "state file missing": (
        _set("state_file", "state-000000000500.xml"),
        r"names the saved state state-000000000500\.xml, which is not in",
    ),
}


@pytest.mark.parametrize("case", sorted(RESTART_CASES))
def test_a_damaged_restart_record_stops_the_run_naming_the_file(tmp_path, case):
    from electrolyte_md.errors import ElectrolyteMDError
    from electrolyte_md.md.files import RestartStore

    edit, message = RESTART_CASES[case]
    folder = _restart_folder(tmp_path)
    record = json.loads((folder / "progress.json").read_text())
    (folder / "progress.json").write_text(edit(record))
    before = _tree(folder)
    with pytest.raises(ElectrolyteMDError, match=message) as caught:
        RestartStore(folder).load()
    text = str(caught.value)
    assert text.startswith(f"{folder / 'progress.json'}: the restart record")
    assert f"delete {folder} to run this MD again" in text
    assert _tree(folder) == before  # the saved work is not thrown away


def test_a_valid_restart_record_loads_and_a_missing_one_means_a_fresh_start(tmp_path):
    from electrolyte_md.md.files import RestartStore

    folder = _restart_folder(tmp_path)
    assert RestartStore(folder).load()["phase"] == "production"
    assert RestartStore(tmp_path / "none").load() is None


def test_a_damaged_saved_state_names_the_file_and_the_remedy(tmp_path):
    from electrolyte_md.errors import ElectrolyteMDError
    from electrolyte_md.md.files import RestartStore

    folder = _restart_folder(tmp_path)
    store = RestartStore(folder)
    with pytest.raises(ElectrolyteMDError, match=r"state-000000001000\.xml: the saved state"):
        store.load_state(store.load())


# --- trajectory against its MD record (item 4) -----------------------------------------

AKMA_FS = 48.88821  # fs per AKMA time unit (CHARMM's, the DCD header's)


def _md_run(tmp_path: Path, frames=20, nsavc=125, timestep_fs=4.0, summary=None) -> Path:
    """prod.dcd (3 atoms) and md_summary.json as a finished MD job leaves them."""
    from MDAnalysis.lib.formats.libdcd import DCDFile

    run = tmp_path / "results/md/S/298.15K/rep1"
    run.mkdir(parents=True)
    with DCDFile(str(run / "prod.dcd"), "w") as dcd:
        dcd.write_header(
            remarks="test",
            natoms=3,
            istart=nsavc,
            nsavc=nsavc,
            delta=timestep_fs / AKMA_FS,
            is_periodic=1,
        )
        for i in range(frames):
            dcd.write(
                xyz=float(i) + 0.1 * np.arange(9, dtype="f4").reshape(3, 3),
                box=np.array([20, 90, 20, 90, 90, 20], dtype="f8"),
            )
    record = summary or {
        "steps": {"production": 2500, "report_interval": 125},
        "trajectory": {"file": "prod.dcd", "frames": 20, "frame_interval_ps": 0.5},
    }
    (run / "md_summary.json").write_text(json.dumps(record))
    return run


def test_a_whole_trajectory_passes_the_check(tmp_path):
    from electrolyte_md.analysis.coordination import check_trajectory

    run = _md_run(tmp_path)
    checked = check_trajectory(run / "prod.dcd")
    assert checked["frames"] == 20
    assert checked["frame_interval_ps"] == pytest.approx(0.5)


def _truncate_to_half(run: Path) -> None:
    data = (run / "prod.dcd").read_bytes()
    (run / "prod.dcd").write_bytes(data[: len(data) // 2])


TRAJECTORY_CASES = {
    "cut to half": (
        lambda tmp: _md_run(tmp),
        _truncate_to_half,
        r"prod\.dcd: holds [89] frames, but .*md_summary\.json records 20 \(2500 production "
        r"steps, a frame every 125 steps\): cut short",
    ),
    "another run's, longer": (
        lambda tmp: _md_run(tmp, frames=40),
        None,
        r"holds 40 frames, but .* records 20 .*not the trajectory of this run",
    ),
    "other frame interval": (
        lambda tmp: _md_run(tmp, nsavc=250, timestep_fs=2.0),
        None,
        r"a frame every 250 steps, 0\.5 ps apart, but .* every 125 steps",
    ),
    "other time step": (
        lambda tmp: _md_run(tmp, timestep_fs=2.0),
        None,
        r"0\.25 ps apart, but .*md_summary\.json records a frame every 125 steps, 0\.5 ps",
    ),
    "no MD record": (
        lambda tmp: _md_run(tmp),
        lambda run: (run / "md_summary.json").unlink(),
        r"prod\.dcd: no MD record .*md_summary\.json beside it",
    ),
    "damaged MD record": (
        lambda tmp: _md_run(tmp),
        lambda run: (run / "md_summary.json").write_text('{"steps": 3}'),
        r"md_summary\.json: not a readable MD record",
    ),
    "not a DCD": (
        lambda tmp: _md_run(tmp),
        lambda run: (run / "prod.dcd").write_text("not a trajectory"),
        r"prod\.dcd: not a readable DCD trajectory",
    ),
}


@pytest.mark.parametrize("case", sorted(TRAJECTORY_CASES))
def test_a_trajectory_that_differs_from_its_md_record_is_refused(tmp_path, case):
    from electrolyte_md.analysis.coordination import check_trajectory
    from electrolyte_md.errors import AnalysisError

    make, damage, message = TRAJECTORY_CASES[case]
    run = make(tmp_path)
    if damage:
        damage(run)
    before = _tree(tmp_path)
    with pytest.raises(AnalysisError, match=message) as caught:
        check_trajectory(run / "prod.dcd")
    assert f"delete {run}" in str(caught.value) and "--forcerun run_md" in str(caught.value)
    assert _tree(tmp_path) == before  # checked before any analysis wrote anything
