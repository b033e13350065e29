"""Saving a study's finished outputs without trajectories, and restoring them elsewhere."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from electrolyte_md.errors import ProgressError
from electrolyte_md.progress import (
    MANIFEST,
    incomplete_outputs,
    logs_of_unfinished_jobs,
    restore_progress,
    save_progress,
)

RUN = "results/md/S/298.15K/rep1"


def _study(workdir):
    """A results tree: a finished run, its trajectory and restart folder, in time order."""
    files = {
        "results/systems/S/system.xml": "<System/>",
        f"{RUN}/prod.dcd": "trajectory",
        f"{RUN}/restart/state.xml": "checkpoint",
        f"{RUN}/md_summary.json": '{"density": 1.1}',
        "results/analysis/S/298.15K/rep1/transport.json": "{}",
    }
    for i, (name, text) in enumerate(files.items()):
        path = workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.utime(path, ns=(1_700_000_000_000_000_000 + i * 10**9,) * 2)
    return files


def _mark_incomplete(workdir, output):
    marker = workdir / ".snakemake/incomplete" / base64.urlsafe_b64encode(output.encode()).decode()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("{}")


def test_round_trip_keeps_content_and_order_in_time_and_leaves_out_trajectories(tmp_path):
    _study(tmp_path / "a")
    manifest = save_progress(tmp_path / "a", tmp_path / "store")
    kept = [entry["path"] for entry in manifest["files"]]
    assert kept == [
        "results/analysis/S/298.15K/rep1/transport.json",
        f"{RUN}/md_summary.json",
        "results/systems/S/system.xml",
    ]
    # the checkout the study is restored into, made long after the study
    script = tmp_path / "b" / "workflow" / "script.py"
    script.parent.mkdir(parents=True)
    script.write_text("")
    restored = restore_progress(tmp_path / "store", tmp_path / "b")
    after = tmp_path / "b" / "made_after"
    after.write_text("")
    assert sorted(restored) == kept
    for name in kept:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    saved_order = sorted(kept, key=lambda name: (tmp_path / "a" / name).stat().st_mtime_ns)
    times = [(tmp_path / "b" / name).stat().st_mtime_ns for name in saved_order]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert script.stat().st_mtime_ns < times[0] and times[-1] < after.stat().st_mtime_ns
    assert not (tmp_path / "b" / RUN / "prod.dcd").exists()
    assert not (tmp_path / "b" / RUN / "restart").exists()


def test_restore_leaves_a_study_that_is_still_there_alone(tmp_path):
    _study(tmp_path / "a")
    store = tmp_path / "store"
    save_progress(tmp_path / "a", store)
    times = {p: p.stat().st_mtime_ns for p in (tmp_path / "a").rglob("*") if p.is_file()}
    # the same machine: the study with its trajectory is there, nothing to do
    assert restore_progress(store, tmp_path / "a") == []
    assert {p: p.stat().st_mtime_ns for p in times} == times
    # a saved file lost, the trajectory still there: restamping would redo the run
    (tmp_path / "a" / RUN / "md_summary.json").unlink()
    with pytest.raises(ProgressError, match=r"holds 2 file\(s\) the saved study .* does not"):
        restore_progress(store, tmp_path / "a")
    assert not (tmp_path / "a" / RUN / "md_summary.json").exists()
    # a restore killed midway (only stored files there) is completed by another
    (tmp_path / "b" / "results/systems/S").mkdir(parents=True)
    (tmp_path / "b" / "results/systems/S/system.xml").write_text("<System/>")
    assert len(restore_progress(store, tmp_path / "b")) == 3


def test_incomplete_outputs_are_left_out(tmp_path):
    _study(tmp_path)
    _mark_incomplete(tmp_path, f"{RUN}/md_summary.json")
    # a long path is split by Snakemake into '@'-prefixed parts
    long_output = "results/" + "x" * 300
    encoded = base64.urlsafe_b64encode(long_output.encode()).decode()
    long_marker = tmp_path / ".snakemake/incomplete" / ("@" + encoded[:254]) / encoded[254:]
    long_marker.parent.mkdir(parents=True)
    long_marker.write_text("{}")
    assert incomplete_outputs(tmp_path) == {f"{RUN}/md_summary.json", long_output}
    manifest = save_progress(tmp_path, tmp_path / "store")
    assert manifest["skipped"] == [f"{RUN}/md_summary.json"]
    assert f"{RUN}/md_summary.json" not in {e["path"] for e in manifest["files"]}


SLOW_AND_QUICK_RULES = (
    'rule slow:\n    output: "results/slow.txt"\n    log: "results/logs/slow.log"\n'
    '    shell: "echo started > {log}; echo partial > {output}; sleep 60"\n'
    'rule quick:\n    output: "results/quick.txt"\n    log: "results/logs/quick.log"\n'
    '    shell: "echo ok > {log}; echo done > {output}"\n'
)


def _kill_slow_job_midway(workdir, sig):
    """Run rule ``slow`` of a real Snakemake and kill its process group with ``sig``."""
    (workdir / "Snakefile").write_text(SLOW_AND_QUICK_RULES)
    job = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "1", "results/slow.txt"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (workdir / "results/slow.txt").is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        os.killpg(job.pid, sig)
        job.wait()


def test_a_killed_snakemake_job_leaves_its_outputs_marked_incomplete(tmp_path):
    """The record format is Snakemake's own: read from a real job killed midway."""
    _kill_slow_job_midway(tmp_path, signal.SIGKILL)
    assert incomplete_outputs(tmp_path) == {"results/slow.txt"}
    # the killed Snakemake also left its lock: no save until it is unlocked
    with pytest.raises(ProgressError, match="--unlock"):
        save_progress(tmp_path, tmp_path / "store")
    unlock = [sys.executable, "-m", "snakemake", "--cores", "1", "--unlock"]
    subprocess.run(unlock, cwd=tmp_path, check=True, capture_output=True)
    manifest = save_progress(tmp_path, tmp_path / "store")
    assert manifest["skipped"] == ["results/slow.txt"]
    # SIGKILL leaves no metadata record, so nothing ties the log to the killed job: kept
    assert [e["path"] for e in manifest["files"]] == ["results/logs/slow.log"]


def test_the_log_of_a_job_stopped_midway_is_left_out(tmp_path):
    """SIGTERM (scancel, a machine going away): Snakemake deletes the job's outputs and
    unmarks them but keeps its log, which its metadata record names."""
    quick = [sys.executable, "-m", "snakemake", "--cores", "1", "results/quick.txt"]
    _kill_slow_job_midway(tmp_path, signal.SIGTERM)
    subprocess.run(quick, cwd=tmp_path, check=True, capture_output=True)
    assert (tmp_path / "results/logs/slow.log").is_file()
    assert not (tmp_path / "results/slow.txt").exists()
    assert incomplete_outputs(tmp_path) == set()
    assert logs_of_unfinished_jobs(tmp_path, set()) == {"results/logs/slow.log"}
    manifest = save_progress(tmp_path, tmp_path / "store")
    assert [e["path"] for e in manifest["files"]] == [
        "results/logs/quick.log",
        "results/quick.txt",
    ]
    assert manifest["skipped"] == ["results/logs/slow.log"]


def test_save_refused_while_snakemake_holds_the_directory(tmp_path):
    _study(tmp_path)
    (tmp_path / ".snakemake/locks").mkdir(parents=True)
    (tmp_path / ".snakemake/locks/0.input.lock").write_text("")
    with pytest.raises(ProgressError, match="locks.*--unlock"):
        save_progress(tmp_path, tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_second_save_drops_files_no_longer_finished(tmp_path):
    _study(tmp_path)
    store = tmp_path / "store"
    save_progress(tmp_path, store)
    (tmp_path / RUN / "md_summary.json").unlink()
    manifest = save_progress(tmp_path, store)
    assert f"{RUN}/md_summary.json" not in {e["path"] for e in manifest["files"]}
    assert not (store / RUN / "md_summary.json").exists()


def test_restore_refuses_a_changed_store_or_a_study_that_moved_on(tmp_path):
    _study(tmp_path / "a")
    store = tmp_path / "store"
    save_progress(tmp_path / "a", store)
    # the study elsewhere has another system file: nothing is written
    other = tmp_path / "b" / "results/systems/S/system.xml"
    other.parent.mkdir(parents=True)
    other.write_text("<System other='1'/>")
    with pytest.raises(ProgressError, match="1 file.*differ.*system.xml"):
        restore_progress(store, tmp_path / "b")
    assert not (tmp_path / "b" / RUN).exists()
    # a stored file edited after the save
    (store / RUN / "md_summary.json").write_text('{"density": 2.0}')
    with pytest.raises(ProgressError, match="md_summary.json: content differs"):
        restore_progress(store, tmp_path / "c")
    # a manifest that is not one
    (store / MANIFEST).write_text(json.dumps({"files": [{"name": "x"}]}))
    with pytest.raises(ProgressError, match="not a progress manifest"):
        restore_progress(store, tmp_path / "c")
    with pytest.raises(ProgressError, match="missing; not a saved study"):
        restore_progress(tmp_path / "nowhere", tmp_path / "c")


def test_command_line(tmp_path, capsys):
    from electrolyte_md.progress import main

    _study(tmp_path / "a")
    assert main(["save", str(tmp_path / "store"), "--workdir", str(tmp_path / "a")]) == 0
    assert "3 files" in capsys.readouterr().out
    assert main(["restore", str(tmp_path / "store"), "--workdir", str(tmp_path / "b")]) == 0
    assert "3 files restored" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        main(["restore", str(tmp_path / "nowhere"), "--workdir", str(tmp_path / "b")])
    assert stop.value.code == 2
