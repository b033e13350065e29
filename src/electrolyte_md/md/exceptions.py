"""Exceptions of the MD stage."""

from __future__ import annotations

from electrolyte_md.errors import ElectrolyteMDError

__all__ = ["MDBlowUpError", "MDInterruptedError"]


class MDInterruptedError(ElectrolyteMDError):
    """The run stopped cleanly (signal or wall-clock limit) after saving its state.

    Running the same target again continues from the saved state.
    """

    exit_code = 75  # EX_TEMPFAIL: try again


class MDBlowUpError(ElectrolyteMDError):
    """The simulation became unstable (non-finite energy or coordinates, box collapse).

    Attributes
    ----------
    system : str
        Name of the run.
    stage : str
        ``"minimization"``, ``"heating"``, ``"equilibration"`` or ``"production"``.
    step : int
        Step of the stage at which it was detected.
    """

    def __init__(self, message: str, system: str, stage: str, step: int) -> None:
        super().__init__(message)
        self.system = system
        self.stage = stage
        self.step = step
