"""Checkpoint and restart of the MD stage: a real kill -9 in production, SIGTERM, and the
configured wall-clock limit, each followed by a rerun that must give the trajectory of an
uninterrupted run (same frames, times strictly increasing, nothing twice, nothing missing)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from md_testing import fast_protocol, write_water_box

from electrolyte_md.md import (
    RESTART_DIR_NAME,
    MDInterruptedError,
    MDOutputs,
    MDProtocol,
    read_energies,
    run_md,
)
from electrolyte_md.timeseries import analyze_series

pytestmark = pytest.mark.filterwarnings(
    "ignore:DCDReader currently makes independent:DeprecationWarning"
)

PROTOCOL = fast_protocol(
    heating_ps=0.4,
    equilibration_ps=0.8,
    production_ps=8.0,
    checkpoint_interval_ps=1.0,
    minimize_max_iterations=200,
    seed=21,
)
N_FRAMES = 40  # 8 ps every 0.2 ps

CHILD = """
import json, logging, sys
from pathlib import Path
from electrolyte_md.md import MDInterruptedError, MDProtocol, run_md

args = json.loads(sys.argv[1])
logging.basicConfig(level=logging.INFO, stream=sys.stdout)
try:
    run_md(Path(args["xml"]), Path(args["pdb"]), MDProtocol(**args["protocol"]),
           Path(args["out"]), name="water child", use_slurm=False)
except MDInterruptedError as error:
    print("INTERRUPTED:", error, flush=True)
    sys.exit(error.exit_code)
"""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_water_box(tmp_path_factory.mktemp("restart_inputs"))


@pytest.fixture(scope="module")
def reference(inputs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> MDOutputs:
    """The uninterrupted run."""
    out = tmp_path_factory.mktemp("reference")
    return run_md(inputs[0], inputs[1], PROTOCOL, out, use_slurm=False)


def _start_child(
    tmp_path: Path, inputs: tuple[Path, Path], out: Path, protocol: MDProtocol = PROTOCOL
) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    args = {
        "xml": str(inputs[0]),
        "pdb": str(inputs[1]),
        "out": str(out),
        "protocol": dataclasses.asdict(protocol),
    }
    return subprocess.Popen(
        [sys.executable, str(script), json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _progress(out: Path) -> dict | None:
    try:
        return json.loads((out / RESTART_DIR_NAME / "progress.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _rows(path: Path) -> int:
    try:
        return max(0, len(path.read_text(encoding="utf-8").splitlines()) - 1)
    except FileNotFoundError:
        return 0


def _wait_for(child: subprocess.Popen, condition, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if child.poll() is not None:
            pytest.fail(f"the child ended (exit {child.returncode}) before the test could act")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail("timed out waiting for the child run")
        time.sleep(0.01)


def _frames(outputs: MDOutputs) -> tuple[np.ndarray, np.ndarray]:
    """Positions (frames x atoms x 3, Angstrom) and frame times (ps) of prod.dcd."""
    mda = pytest.importorskip("MDAnalysis")
    universe = mda.Universe(str(outputs.prod_final_pdb), str(outputs.prod_dcd))
    positions, times = [], []
    for ts in universe.trajectory:
        positions.append(universe.atoms.positions.copy())
        times.append(ts.time)
    return np.array(positions), np.array(times)


def _frame_bytes(n_atoms: int) -> int:
    """Bytes of one DCD frame as OpenMM writes it (box record, then x, y, z records)."""
    return (4 + 48 + 4) + 3 * (4 + 4 * n_atoms + 4)


def _check_against_reference(
    outputs: MDOutputs, reference: MDOutputs, saved_frames: int, snapshot: bytes
) -> dict:
    """Frame-by-frame comparison with the uninterrupted run and with the frames the
    interrupted run had written (``snapshot``: its DCD as left on disk); returns the summary."""
    prod = read_energies(outputs.prod_csv)
    ref = read_energies(reference.prod_csv)
    assert len(prod) == len(ref) == N_FRAMES
    assert prod["step"].tolist() == ref["step"].tolist()
    np.testing.assert_allclose(prod["time_ps"], ref["time_ps"])
    assert (np.diff(prod["time_ps"]) > 0).all()
    positions, times = _frames(outputs)
    ref_positions, ref_times = _frames(reference)
    assert positions.shape == ref_positions.shape
    assert len(times) == N_FRAMES
    np.testing.assert_allclose(times, ref_times)
    assert (np.diff(times) > 0).all()
    # same file layout as the uninterrupted run: no frame missing, none twice
    final = outputs.prod_dcd.read_bytes()
    frame = _frame_bytes(positions.shape[1])
    assert len(final) == reference.prod_dcd.stat().st_size
    header = len(final) - N_FRAMES * frame
    # the frames up to the saved state are byte for byte those the interrupted run wrote
    kept = header + saved_frames * frame
    assert len(snapshot) >= kept
    assert final[header:kept] == snapshot[header:kept]
    # the continuation (new random streams) moves on smoothly from the saved state:
    # the step across the restart is no larger than the ordinary steps between frames
    steps = np.linalg.norm(np.diff(positions, axis=0), axis=-1).max(axis=1)
    ordinary = np.delete(steps, saved_frames - 1)
    assert steps[saved_frames - 1] <= 1.5 * ordinary.max()
    assert 200.0 < prod["temperature_kelvin"].iloc[saved_frames:].mean() < 400.0
    assert prod["volume_nm3"].nunique() == 1  # one NVT box across the restart
    assert not (outputs.summary_json.parent / RESTART_DIR_NAME).exists()
    summary = json.loads(outputs.summary_json.read_text(encoding="utf-8"))
    assert summary["trajectory"]["frames"] == N_FRAMES
    assert summary["steps"]["production"] == PROTOCOL.production_steps
    return summary


def test_kill_9_in_production_then_rerun(
    inputs: tuple[Path, Path], reference: MDOutputs, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    prod_csv = out / RESTART_DIR_NAME / "prod.csv"
    child = _start_child(tmp_path, inputs, out)

    def past_a_production_checkpoint() -> bool:
        progress = _progress(out)
        return bool(
            progress
            and progress["phase"] == "production"
            and progress["phase_step"] >= 2 * PROTOCOL.checkpoint_interval_steps
            and _rows(prod_csv) > progress["files"]["prod.csv"]["rows"]
        )

    _wait_for(child, past_a_production_checkpoint)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    progress = _progress(out)
    assert progress is not None and progress["phase"] == "production"
    saved_rows = progress["files"]["prod.csv"]["rows"]
    # the killed run had written frames after its last saved state: those must not
    # be kept twice
    assert _rows(prod_csv) > saved_rows
    snapshot = (out / RESTART_DIR_NAME / "prod.dcd").read_bytes()
    assert saved_rows * PROTOCOL.report_interval_steps == progress["phase_step"]
    assert not (out / "md_summary.json").exists()

    outputs = run_md(inputs[0], inputs[1], PROTOCOL, out, use_slurm=False)
    summary = _check_against_reference(outputs, reference, saved_rows, snapshot)
    invocations = summary["restarts"]["invocations"]
    assert summary["restarts"]["n_continuations"] == 1
    assert invocations[1]["phase"] == "production"
    assert invocations[1]["phase_step"] == progress["phase_step"]


def test_sigterm_saves_state_and_stops_then_rerun(
    inputs: tuple[Path, Path], reference: MDOutputs, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    child = _start_child(tmp_path, inputs, out)

    def in_production() -> bool:
        progress = _progress(out)
        written = _rows(out / RESTART_DIR_NAME / "prod.csv")
        return bool(progress and progress["phase"] == "production" and written >= 3)

    _wait_for(child, in_production)
    child.send_signal(signal.SIGTERM)
    stdout, _ = child.communicate(timeout=60)
    assert child.returncode == MDInterruptedError.exit_code, stdout[-2000:]
    assert "received SIGTERM and stopped cleanly in stage production" in stdout
    progress = _progress(out)
    assert progress is not None and progress["phase"] == "production"
    # the state was saved at the step where the run stopped: nothing after it on disk
    rows = _rows(out / RESTART_DIR_NAME / "prod.csv")
    assert rows == progress["files"]["prod.csv"]["rows"]
    assert rows * PROTOCOL.report_interval_steps == progress["phase_step"]
    assert 0 < rows < N_FRAMES
    assert not (out / "md_summary.json").exists()
    snapshot = (out / RESTART_DIR_NAME / "prod.dcd").read_bytes()

    outputs = run_md(inputs[0], inputs[1], PROTOCOL, out, use_slurm=False)
    summary = _check_against_reference(outputs, reference, rows, snapshot)
    assert summary["restarts"]["n_continuations"] == 1


def test_wall_time_limit_stops_cleanly_then_rerun(
    inputs: tuple[Path, Path], reference: MDOutputs, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    limited = dataclasses.replace(
        PROTOCOL, wall_time_limit_hours=2.0 / 3600.0, wall_time_margin_minutes=0.0
    )
    started = time.monotonic()
    with pytest.raises(MDInterruptedError, match="before the wall-clock limit"):
        run_md(inputs[0], inputs[1], limited, out, use_slurm=False)
    assert time.monotonic() - started < 2.0 + 5.0  # stopped close to the limit
    progress = _progress(out)
    assert progress is not None
    assert not (out / "md_summary.json").exists()

    # continue on another "platform setting" (threads are a runtime field) without limit
    outputs = run_md(inputs[0], inputs[1], PROTOCOL, out, use_slurm=False)
    summary = json.loads(outputs.summary_json.read_text(encoding="utf-8"))
    assert summary["restarts"]["n_continuations"] == 1
    prod = read_energies(outputs.prod_csv)
    assert len(prod) == N_FRAMES and (np.diff(prod["time_ps"]) > 0).all()
    _, times = _frames(outputs)
    assert len(times) == N_FRAMES and (np.diff(times) > 0).all()


def test_changed_settings_start_over(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    """A saved state from other physics settings is not continued."""
    out = tmp_path / "run"
    short = dataclasses.replace(PROTOCOL, production_ps=0.4, wall_time_limit_hours=1e-9)
    with pytest.raises(MDInterruptedError):
        run_md(inputs[0], inputs[1], short, out, use_slurm=False)
    other = dataclasses.replace(short, seed=99, wall_time_limit_hours=None)
    outputs = run_md(inputs[0], inputs[1], other, out, use_slurm=False)
    summary = json.loads(outputs.summary_json.read_text(encoding="utf-8"))
    assert summary["restarts"]["n_continuations"] == 0
    assert summary["seed"] == 99
    assert isinstance(MDProtocol(), MDProtocol)


def test_sigterm_in_an_open_ended_production_keeps_its_target_series(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    """A run stopped while production goes on for a precision target continues its
    observable's series from the saved state: one value per frame written, no more."""
    protocol = dataclasses.replace(
        PROTOCOL,
        production_ps=2.0,
        production_ensemble="NPT",
        production_target={
            "observable": "density", "standard_error": 1e-9, "chunk_ps": 1.0, "max_ps": 8.0,
        },
    )  # fmt: skip
    out = tmp_path / "run"
    child = _start_child(tmp_path, inputs, out, protocol)

    def past_first_check() -> bool:
        progress = _progress(out)
        return bool(progress and progress.get("target_checks"))

    _wait_for(child, past_first_check)
    child.send_signal(signal.SIGTERM)
    stdout, _ = child.communicate(timeout=60)
    assert child.returncode == MDInterruptedError.exit_code, stdout[-2000:]
    saved = _progress(out)
    assert saved is not None and len(saved["target_series"]) == saved["files"]["prod.csv"]["rows"]

    outputs = run_md(inputs[0], inputs[1], protocol, out, use_slurm=False)
    summary = json.loads(outputs.summary_json.read_text(encoding="utf-8"))
    target = summary["production_target"]
    prod = read_energies(outputs.prod_csv)
    assert summary["restarts"]["n_continuations"] == 1
    assert target["ended_by"] == "maximum length" and len(prod) == N_FRAMES
    assert target["n_values"] == N_FRAMES
    # the series the checks saw is the production's density column, every frame once
    stats = analyze_series(prod["density_g_per_cm3"].to_numpy(), prod["time_ps"].to_numpy())
    assert target["final"]["mean"] == pytest.approx(stats.mean, rel=1e-6)
    assert target["final"]["standard_error"] == pytest.approx(stats.standard_error, rel=1e-6)
    lengths = [c["production_ps"] for c in target["checks"]]
    assert lengths == sorted(set(lengths))  # a check repeated after the restart is kept once
