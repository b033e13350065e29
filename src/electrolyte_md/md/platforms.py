"""Which OpenMM platform a run uses, and why: never a surprise.

The PyPI ``openmm`` wheel carries the CPU, OpenCL and Reference platforms only; CUDA and
HIP come as separate packages (``openmm-cuda-12``/``-13``, ``openmm-hip-6``/``-7``, the
extras ``cuda12``, ``cuda13``, ``hip6``, ``hip7`` of this project).  A GPU job whose CUDA
plugin is missing would otherwise run on OpenCL or the CPU at a fraction of the speed,
with a debug line for a trace.  So the decision is explicit (:func:`plan_platforms`, a
pure function of the request, what is installed and the job's environment):

* ``platform: CUDA``, ``HIP`` or ``OpenCL``: that platform or a :class:`PlatformError`
  that names the package to install and the platforms found.
* ``platform: auto`` in a job the scheduler granted a GPU (one of
  :data:`GPU_ENVIRONMENT_VARIABLES` names a device): a GPU platform (CUDA, HIP, OpenCL
  in that order) or the same error; falling back to the CPU on a GPU node would waste
  the allocation for the length of the run.
* ``platform: auto`` elsewhere: CUDA, HIP, OpenCL, then CPU, the first that works; what
  was chosen and why is logged at INFO and kept in ``md_summary.json``.
* ``platform: CPU`` or ``Reference``: that one.

GPUs run in the protocol's precision (``mixed`` by default: forces in single precision,
integration in double, which OpenMM's guide says conserves energy much better than
``single`` for a slight loss of speed; ``double`` is much slower).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from electrolyte_md.errors import PlatformError
from electrolyte_md.md.protocol import AUTO_PLATFORM_ORDER

__all__ = [
    "GPU_ENVIRONMENT_VARIABLES",
    "GPU_PLATFORMS",
    "PLATFORM_PACKAGES",
    "PlatformPlan",
    "granted_gpus",
    "missing_platform_error",
    "plan_platforms",
]

#: Variables through which schedulers and container runtimes hand a job its GPUs (SLURM
#: sets CUDA_VISIBLE_DEVICES and SLURM_JOB_GPUS for a job with --gres=gpu or --gpus;
#: ROCm uses ROCR_VISIBLE_DEVICES and HIP_VISIBLE_DEVICES).
GPU_ENVIRONMENT_VARIABLES = (
    "CUDA_VISIBLE_DEVICES",
    "SLURM_JOB_GPUS",
    "ROCR_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES",
)
#: Values of those variables that grant no device.
_NO_DEVICE = frozenset({"", "-1", "none", "nodevfiles", "void"})

GPU_PLATFORMS = ("CUDA", "HIP", "OpenCL")

#: What provides each GPU platform.
PLATFORM_PACKAGES = {
    "CUDA": (
        "the package openmm-cuda-12 (CUDA 12 drivers) or openmm-cuda-13 (CUDA 13): "
        "pip install -e '.[cuda12]' (or '.[cuda13]'), or md.gpu_package: cuda12 in the "
        "configuration with --sdm conda"
    ),
    "HIP": (
        "the package openmm-hip-6 (ROCm 6) or openmm-hip-7 (ROCm 7): pip install -e "
        "'.[hip6]' (or '.[hip7]'), or md.gpu_package: hip6 in the configuration with "
        "--sdm conda"
    ),
    "OpenCL": (
        "an OpenCL driver for the GPU (the vendor's ICD loader and driver; the openmm "
        "package itself carries the OpenCL platform)"
    ),
}


def granted_gpus(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The GPU variables of :data:`GPU_ENVIRONMENT_VARIABLES` set to a device in
    ``environ`` (default: this process's environment)."""
    environ = os.environ if environ is None else environ
    return {
        name: environ[name]
        for name in GPU_ENVIRONMENT_VARIABLES
        if environ.get(name, "").strip().lower() not in _NO_DEVICE
    }


@dataclass(frozen=True)
class PlatformPlan:
    """The platforms to try, in order, and what happens if none can be created.

    Attributes
    ----------
    candidates : tuple of str
        Platform names, tried in order; the first that creates a Context is used.
    gpu_required : bool
        Whether the job must run on a GPU (a GPU platform was asked for, or ``auto`` in a
        job granted a GPU): then no candidate working is a :class:`PlatformError`.
    reason : str
        Why these candidates, in a sentence (logged at INFO and kept in the summary).
    """

    candidates: tuple[str, ...]
    gpu_required: bool
    reason: str


def plan_platforms(requested: str, environ: Mapping[str, str] | None = None) -> PlatformPlan:
    """The platforms a run with ``platform: requested`` tries (module docstring)."""
    if requested != "auto":
        gpu = requested in GPU_PLATFORMS
        return PlatformPlan(
            (requested,),
            gpu_required=gpu,
            reason=f"platform {requested} was asked for in the configuration",
        )
    granted = granted_gpus(environ)
    if granted:
        shown = ", ".join(f"{k}={v}" for k, v in granted.items())
        return PlatformPlan(
            GPU_PLATFORMS,
            gpu_required=True,
            reason=f"platform auto in a job granted a GPU ({shown}): a GPU platform only",
        )
    return PlatformPlan(
        AUTO_PLATFORM_ORDER,
        gpu_required=False,
        reason=(
            "platform auto without a GPU granted to the job (none of "
            + ", ".join(GPU_ENVIRONMENT_VARIABLES)
            + " names a device): the first of "
            + ", ".join(AUTO_PLATFORM_ORDER)
            + " that works"
        ),
    )


def missing_platform_error(
    plan: PlatformPlan, available: Sequence[str], failures: Sequence[str]
) -> PlatformError:
    """The error of a plan none of whose platforms could be created."""
    wanted = [name for name in plan.candidates if name in PLATFORM_PACKAGES]
    installs = "; ".join(f"{name} needs {PLATFORM_PACKAGES[name]}" for name in wanted)
    tried = "; ".join(failures) if failures else "none tried"
    return PlatformError(
        f"this MD job should run on a GPU ({plan.reason}) but no GPU platform could be "
        f"used. Tried: {tried}. OpenMM platforms installed: {', '.join(available)}. "
        f"{installs}. Or set md.protocol.platform: CPU to run on the CPU on purpose."
    )
