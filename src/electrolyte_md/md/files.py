"""Energy tables and trajectories that can be cut back to a checkpoint and continued."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import struct
from pathlib import Path
from typing import IO, Any

import numpy as np
import openmm
import pandas as pd
from openmm import app, unit

from electrolyte_md.errors import ElectrolyteMDError
from electrolyte_md.io import atomic_write, write_json

__all__ = [
    "ENERGY_COLUMNS",
    "DCDWriter",
    "EnergyCSVWriter",
    "RestartStore",
    "read_energies",
]

#: Columns of ``heat.csv``, ``equil.csv`` and ``prod.csv``, in order.
ENERGY_COLUMNS: tuple[str, ...] = (
    "time_ps",
    "step",
    "potential_energy_kj_per_mol",
    "kinetic_energy_kj_per_mol",
    "total_energy_kj_per_mol",
    "temperature_kelvin",
    "volume_nm3",
    "density_g_per_cm3",
    "box_a_nm",
    "box_b_nm",
    "box_c_nm",
    "speed_ns_per_day",
)

#: Molar gas constant in kJ/(mol K).
GAS_CONSTANT_KJ_PER_MOL_K = unit.MOLAR_GAS_CONSTANT_R.value_in_unit(
    unit.kilojoule_per_mole / unit.kelvin
)
#: Converts a density in amu/nm^3 into g/cm^3.
G_PER_CM3_PER_AMU_PER_NM3 = 1.66053906660e-3


def _sync(fh: IO[Any]) -> int:
    """Flush and fsync ``fh``; return the file size in bytes."""
    fh.flush()
    os.fsync(fh.fileno())
    return os.fstat(fh.fileno()).st_size


def _open_resumed(path: Path, size: int, binary: bool) -> IO[Any]:
    """Open ``path`` for update, cut to ``size`` bytes (dropping what followed a checkpoint)."""
    if not path.is_file():
        raise FileNotFoundError(f"restart file missing: {path}")
    actual = path.stat().st_size
    if actual < size:
        raise ValueError(
            f"{path} has {actual} bytes, fewer than the {size} recorded at the last checkpoint"
        )
    if binary:
        fh: IO[Any] = open(path, "r+b")  # noqa: SIM115 - closed by the owner
    else:
        fh = open(path, "r+", encoding="utf-8", newline="")  # noqa: SIM115
    fh.truncate(size)
    fh.seek(0, os.SEEK_END)
    return fh


class EnergyCSVWriter:
    """Writes one CSV row of energies, temperature and box per report; rows are flushed.

    ``time_ps`` and ``step`` count from the start of the phase.  Rows are also kept in
    :attr:`rows` (read back from the file when continuing).

    Parameters
    ----------
    path : pathlib.Path
        CSV file.
    timestep_ps : float
        Integration time step.
    total_mass_amu : float
        Total particle mass, for the density.
    degrees_of_freedom : int
        Number of degrees of freedom, for the temperature.
    resume_bytes : int or None
        Continue the file, cut to this size (the last checkpoint); None starts a new file.
    """

    def __init__(
        self,
        path: Path,
        timestep_ps: float,
        total_mass_amu: float,
        degrees_of_freedom: int,
        resume_bytes: int | None = None,
    ) -> None:
        if degrees_of_freedom <= 0:
            raise ValueError(f"degrees_of_freedom must be positive, got {degrees_of_freedom}")
        self.path = path
        self._timestep_ps = timestep_ps
        self._total_mass_amu = total_mass_amu
        self._dof = degrees_of_freedom
        self.rows: list[dict[str, float]] = []
        if resume_bytes is None:
            self._file: IO[str] = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            csv.writer(self._file, lineterminator="\n").writerow(ENERGY_COLUMNS)
            self._file.flush()
        else:
            self._file = _open_resumed(path, resume_bytes, binary=False)
            self._file.seek(0)
            text = self._file.read()
            self._file.seek(0, os.SEEK_END)
            reader = csv.reader(io.StringIO(text))
            header = next(reader, None)
            if header is None or tuple(header) != ENERGY_COLUMNS:
                raise ValueError(f"{path}: not an energy table written by the MD stage")
            for values in reader:
                row = dict(zip(ENERGY_COLUMNS, map(float, values), strict=True))
                row["step"] = int(row["step"])
                self.rows.append(row)
        self._writer = csv.writer(self._file, lineterminator="\n")

    def write(
        self, phase_step: int, state: openmm.State, speed_ns_per_day: float
    ) -> dict[str, float]:
        """Append the row of ``state`` (energies and box) at ``phase_step``; return it."""
        potential = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        kinetic = state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
        box_nm = np.asarray(state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer))
        volume_nm3 = float(abs(np.linalg.det(box_nm)))
        row = {
            "time_ps": phase_step * self._timestep_ps,
            "step": phase_step,
            "potential_energy_kj_per_mol": potential,
            "kinetic_energy_kj_per_mol": kinetic,
            "total_energy_kj_per_mol": potential + kinetic,
            "temperature_kelvin": 2.0 * kinetic / (self._dof * GAS_CONSTANT_KJ_PER_MOL_K),
            "volume_nm3": volume_nm3,
            "density_g_per_cm3": self._total_mass_amu * G_PER_CM3_PER_AMU_PER_NM3 / volume_nm3
            if volume_nm3 > 0
            else math.inf,
            "box_a_nm": float(np.linalg.norm(box_nm[0])),
            "box_b_nm": float(np.linalg.norm(box_nm[1])),
            "box_c_nm": float(np.linalg.norm(box_nm[2])),
            "speed_ns_per_day": speed_ns_per_day,
        }
        self._writer.writerow([str(v) if isinstance(v, int) else f"{v:.10g}" for v in row.values()])
        self._file.flush()
        self.rows.append(row)
        return row

    def sync(self) -> dict[str, int]:
        """Flush and fsync; return ``{"bytes": size, "rows": n}`` for a checkpoint."""
        return {"bytes": _sync(self._file), "rows": len(self.rows)}

    def close(self) -> None:
        """Sync and close the file."""
        if not self._file.closed:
            _sync(self._file)
            self._file.close()


class DCDWriter:
    """Writes unwrapped coordinates (``enforcePeriodicBox=False``) with each frame's box.

    Frame steps in the DCD header count from the start of the phase (the first frame is
    at one interval).  On continuation the file is cut to the checkpoint's size and
    the header's frame count and last step are set back to match, so frames written
    after the checkpoint by a killed run are not kept twice.

    Parameters
    ----------
    path : pathlib.Path
        DCD file.
    topology : openmm.app.Topology
        Topology (its box marks the trajectory as periodic).
    timestep_ps : float
        Integration time step.
    interval_steps : int
        Steps between frames.
    resume : dict or None
        ``{"bytes": size, "frames": n}`` of the last checkpoint; None starts a new file.
    """

    def __init__(
        self,
        path: Path,
        topology: app.Topology,
        timestep_ps: float,
        interval_steps: int,
        resume: dict[str, int] | None = None,
    ) -> None:
        self.path = path
        self._interval = interval_steps
        if resume is None:
            self._file: IO[bytes] = open(path, "w+b")  # noqa: SIM115
            self.frames = 0
            append = False
        else:
            self._file = _open_resumed(path, resume["bytes"], binary=True)
            self.frames = int(resume["frames"])
            last_step = interval_steps * self.frames
            self._file.seek(8)
            self._file.write(struct.pack("<i", self.frames))
            self._file.seek(20)
            self._file.write(struct.pack("<i", last_step))
            self._file.flush()
            append = True
        self._dcd = app.DCDFile(
            self._file,
            topology,
            timestep_ps * unit.picosecond,
            firstStep=interval_steps,
            interval=interval_steps,
            append=append,
        )

    def write(self, state: openmm.State) -> None:
        """Append the (unwrapped) positions and box of ``state``."""
        self._dcd.writeModel(
            state.getPositions(asNumpy=True), periodicBoxVectors=state.getPeriodicBoxVectors()
        )
        self.frames += 1

    def sync(self) -> dict[str, int]:
        """Flush and fsync; return ``{"bytes": size, "frames": n}`` for a checkpoint."""
        return {"bytes": _sync(self._file), "frames": self.frames}

    def close(self) -> None:
        """Sync and close the file."""
        if not self._file.closed:
            _sync(self._file)
            self._file.close()


_STATE_NAME = re.compile(r"^state-(\d+)\.xml$")


#: The phases a progress record can be in (``md.run.PHASES`` with the first and the last).
_RECORD_PHASES = (
    "minimization",
    "decorrelation",
    "heating",
    "equilibration",
    "production",
    "done",
)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _record_problem(progress: Any) -> str | None:
    """What is wrong with a progress record's fields (None: nothing)."""
    if not isinstance(progress, dict):
        return f"is not a JSON object but {type(progress).__name__}"
    checks = {
        "fingerprint": (lambda v: isinstance(v, str), "a string"),
        "phase": (lambda v: v in _RECORD_PHASES, f"one of {', '.join(_RECORD_PHASES)}"),
        "phase_step": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
        "step": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
        "time_ps": (_is_number, "a number"),
        "wall_total_s": (_is_number, "a number"),
        "files": (
            lambda v: isinstance(v, dict) and all(isinstance(x, dict) for x in v.values()),
            "an object of file records",
        ),
        "totals": (
            lambda v: (
                isinstance(v, dict)
                and all(
                    isinstance(t, dict) and _is_int(t.get("steps")) and _is_number(t.get("wall_s"))
                    for t in v.values()
                )
            ),
            "an object of phase totals (steps, wall_s)",
        ),
        "invocations": (lambda v: isinstance(v, list), "a list"),
        "state_file": (
            lambda v: isinstance(v, str) and _STATE_NAME.match(v) is not None,
            "a state file name (state-<step>.xml)",
        ),
    }
    for key, (valid, expected) in checks.items():
        if key not in progress:
            return f"lacks the field '{key}'"
        if not valid(progress[key]):
            return f"has '{key}': {progress[key]!r}, not {expected}"
    return None


class RestartStore:
    """The restart directory: OpenMM state XML files and ``progress.json``.

    A checkpoint writes ``state-<step>.xml`` (atomically), then ``progress.json``
    (atomically) naming it, then deletes older state files; a kill at any moment leaves
    a progress file and the state it names.  The directory is never a declared output
    of the workflow, so Snakemake does not delete it before a retry.
    """

    PROGRESS = "progress.json"

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @property
    def progress_path(self) -> Path:
        """Path of ``progress.json``."""
        return self.directory / self.PROGRESS

    def load(self) -> dict[str, Any] | None:
        """The last progress record, or None if there is none.

        A record that is there but damaged (unreadable JSON, a field missing or of the
        wrong type, the state file it names missing) stops the run with an
        :class:`~electrolyte_md.errors.ElectrolyteMDError` naming the file and the remedy.
        It is not ignored, and the run does not fall back to a start from minimisation on
        its own: the store keeps a single state (each checkpoint deletes the one before),
        so there is no earlier good state to go back to, and starting over would throw
        away the run's work (hours, on a long production) without the user deciding it.
        A checkpoint writes its files atomically, so a damaged record means something
        else changed the folder (a disk fault, a hand edit, a copy cut short): the user
        chooses between repairing it and deleting the folder to start over.
        """
        path = self.progress_path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise self._damaged(f"cannot be read ({exc})") from exc
        try:
            progress = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self._damaged(f"is not valid JSON ({exc})") from exc
        problem = _record_problem(progress)
        if problem:
            raise self._damaged(problem)
        if not (self.directory / progress["state_file"]).is_file():
            raise self._damaged(
                f"names the saved state {progress['state_file']}, which is not in {self.directory}"
            )
        return progress

    def _damaged(self, problem: str) -> ElectrolyteMDError:
        return ElectrolyteMDError(
            f"{self.progress_path}: the restart record of an interrupted run {problem}. "
            "The run cannot continue from it and was not started over on its own. Restore "
            f"the file from a copy if you have one, or delete {self.directory} to run this "
            "MD again from minimisation (its saved work is then lost)."
        )

    def load_state(self, progress: dict[str, Any]) -> openmm.State:
        """Deserialize the state named by ``progress``."""
        path = self.directory / progress["state_file"]
        try:
            state = openmm.XmlSerializer.deserialize(path.read_text(encoding="utf-8"))
        except Exception as exc:
            raise self._state_damaged(path, f"cannot be read: {exc}") from exc
        if not isinstance(state, openmm.State):
            raise self._state_damaged(path, "is not an OpenMM State")
        return state

    def _state_damaged(self, path: Path, problem: str) -> ElectrolyteMDError:
        return ElectrolyteMDError(
            f"{path}: the saved state of an interrupted run {problem}. Restore the file "
            f"from a copy if you have one, or delete {self.directory} to run this MD again "
            "from minimisation (its saved work is then lost)."
        )

    def save(self, state: openmm.State, progress: dict[str, Any]) -> str:
        """Write a checkpoint: the state XML, then the progress record naming it.

        Returns
        -------
        str
            File name of the state XML (in :attr:`directory`).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"state-{state.getStepCount():012d}.xml"
        atomic_write(self.directory / name, openmm.XmlSerializer.serialize(state))
        progress = dict(progress, state_file=name)
        write_json(self.progress_path, progress, indent=1)
        for path in self.directory.iterdir():
            if _STATE_NAME.match(path.name) and path.name != name:
                path.unlink(missing_ok=True)
        return name

    def wipe(self) -> None:
        """Delete the restart directory."""
        shutil.rmtree(self.directory, ignore_errors=True)


def read_energies(csv_path: Path | str) -> pd.DataFrame:
    """Read an energy file (``heat.csv``, ``equil.csv``, ``prod.csv``) of the MD stage.

    Parameters
    ----------
    csv_path : pathlib.Path or str
        Path of the CSV file.

    Returns
    -------
    pandas.DataFrame
        One row per report, columns :data:`ENERGY_COLUMNS` (``step`` as int64, the
        others as float64).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the columns are not :data:`ENERGY_COLUMNS`.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"energy file not found: {csv_path}")
    frame = pd.read_csv(csv_path)
    if tuple(frame.columns) != ENERGY_COLUMNS:
        raise ValueError(
            f"{csv_path}: unexpected columns {list(frame.columns)}; expected {list(ENERGY_COLUMNS)}"
        )
    dtypes = {c: ("int64" if c == "step" else "float64") for c in ENERGY_COLUMNS}
    return frame.astype(dtypes)
