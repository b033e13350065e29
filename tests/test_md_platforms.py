"""The platform an MD job runs on is never a surprise (electrolyte_md.md.platforms).

The decision is a pure function of the configured platform and the job's environment;
these tests drive it with environments as SLURM and ROCm set them, on a machine whose
OpenMM has no GPU platform (the PyPI wheel: CPU, Reference, maybe OpenCL), so every GPU
request must fail loudly, naming the package to install.
"""

from __future__ import annotations

import logging

import openmm
import pytest
from md_testing import fast_protocol, write_water_box
from openmm import app

from electrolyte_md.errors import PlatformError
from electrolyte_md.md.platforms import (
    GPU_PLATFORMS,
    granted_gpus,
    plan_platforms,
)
from electrolyte_md.md.protocol import AUTO_PLATFORM_ORDER
from electrolyte_md.md.system import available_platforms, create_simulation, platform_info

NO_GPU_PLATFORM = not set(GPU_PLATFORMS) & set(available_platforms())


@pytest.mark.parametrize(
    ("environ", "granted"),
    [
        ({}, {}),
        ({"CUDA_VISIBLE_DEVICES": "0,1"}, {"CUDA_VISIBLE_DEVICES": "0,1"}),
        ({"SLURM_JOB_GPUS": "3"}, {"SLURM_JOB_GPUS": "3"}),
        ({"ROCR_VISIBLE_DEVICES": "0", "HIP_VISIBLE_DEVICES": "0"}, None),
        # set, but granting nothing: empty, -1 (CUDA's "no device"), SLURM's NoDevFiles
        ({"CUDA_VISIBLE_DEVICES": ""}, {}),
        ({"CUDA_VISIBLE_DEVICES": "-1"}, {}),
        ({"CUDA_VISIBLE_DEVICES": "NoDevFiles"}, {}),
    ],
)
def test_granted_gpus_reads_what_schedulers_set(environ, granted):
    expected = environ if granted is None else granted
    assert granted_gpus(environ) == expected


def test_the_plan_follows_the_request_and_the_jobs_gpus():
    auto_cpu_node = plan_platforms("auto", {})
    assert auto_cpu_node.candidates == AUTO_PLATFORM_ORDER and not auto_cpu_node.gpu_required
    assert "without a GPU granted" in auto_cpu_node.reason
    auto_gpu_node = plan_platforms("auto", {"SLURM_JOB_GPUS": "0"})
    assert auto_gpu_node.candidates == GPU_PLATFORMS and auto_gpu_node.gpu_required
    assert "SLURM_JOB_GPUS=0" in auto_gpu_node.reason
    for name in GPU_PLATFORMS:
        plan = plan_platforms(name, {})
        assert plan.candidates == (name,) and plan.gpu_required
    cpu = plan_platforms("CPU", {"CUDA_VISIBLE_DEVICES": "0"})  # asked for on purpose
    assert cpu.candidates == ("CPU",) and not cpu.gpu_required


@pytest.fixture(scope="module")
def water(tmp_path_factory) -> tuple[app.Topology, openmm.System]:
    system_xml, system_pdb = write_water_box(tmp_path_factory.mktemp("water"))
    system = openmm.XmlSerializer.deserialize(system_xml.read_text())
    return app.PDBFile(str(system_pdb)).topology, system


def _create(water, platform: str, environ: dict[str, str], log: logging.Logger):
    topology, system = water
    return create_simulation(
        topology, system, fast_protocol(platform=platform), 1, log, environ=environ
    )


@pytest.mark.skipif(not NO_GPU_PLATFORM, reason="this OpenMM has a GPU platform")
@pytest.mark.parametrize(
    ("platform", "environ", "package"),
    [
        ("CUDA", {}, "openmm-cuda-12"),
        ("HIP", {}, "openmm-hip-6"),
        ("auto", {"CUDA_VISIBLE_DEVICES": "0"}, "openmm-cuda-12"),
        ("auto", {"ROCR_VISIBLE_DEVICES": "0"}, "openmm-hip-6"),
    ],
)
def test_a_job_that_should_run_on_a_gpu_stops_naming_the_package(water, platform, environ, package):
    with pytest.raises(PlatformError) as error:
        _create(water, platform, environ, logging.getLogger("test"))
    message = str(error.value)
    assert package in message
    assert f"OpenMM platforms installed: {', '.join(available_platforms())}" in message
    assert "md.protocol.platform: CPU" in message  # the way out, on purpose


def test_auto_on_a_cpu_node_says_what_it_chose_and_why(water, caplog):
    log = logging.getLogger("test.platform")
    with caplog.at_level(logging.INFO, logger="test.platform"):
        simulation = _create(water, "auto", {}, log)
    info = platform_info(simulation)
    chosen = info["name"]
    assert chosen in AUTO_PLATFORM_ORDER
    (line,) = [r.getMessage() for r in caplog.records if "chosen" in r.getMessage()]
    assert line.startswith(f"platform {chosen} chosen: platform auto without a GPU granted")
    for name in AUTO_PLATFORM_ORDER[: AUTO_PLATFORM_ORDER.index(chosen)]:
        assert f"{name}: " in line  # each platform skipped, with the reason
    assert info["choice"]["requested"] == "auto"
    assert info["device"]  # the GPU's name, or the CPU's model
    if chosen == "CPU":
        assert info["precision"] == "fixed by the platform"
    else:
        assert info["precision"] == "mixed"  # the protocol's default on a GPU
