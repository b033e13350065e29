"""Exceptions that name the problem and the file it came from."""

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
