"""Every exception of the package, in one place.

Each names the problem and the file it came from; the workflow's scripts turn them into
a one-paragraph message without a traceback (:func:`electrolyte_md.logs.log_to_file`).
"""

from __future__ import annotations


class ElectrolyteMDError(Exception):
    """Base class of all errors raised by this package."""


class ConfigError(ElectrolyteMDError):
    """The workflow configuration is invalid (bad key, value, SMILES, non-neutral box...)."""


class StructureError(ElectrolyteMDError):
    """A molecular structure could not be built or read."""


class ParameterizationError(ElectrolyteMDError):
    """A force-field step (antechamber, parmchk2, tleap, OpenMM) failed."""


class AnalysisError(ElectrolyteMDError):
    """A trajectory analysis could not be done as asked (empty selection, no minimum...)."""


class DFTOutputError(ElectrolyteMDError):
    """A quantum-chemistry output cannot be used (not finished, not converged, mismatched...)."""


class XTBError(ElectrolyteMDError):
    """A GFN2-xTB calculation failed or did not converge."""


class PlatformError(ElectrolyteMDError):
    """The OpenMM platform a job must use (a GPU) cannot be created in it."""


class ProgressError(ElectrolyteMDError):
    """A study's progress cannot be saved or restored as asked."""


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
