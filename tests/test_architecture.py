"""The package's shape: what each stage loads, and one home for each physical constant."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest
from ase.units import Hartree
from conftest import REPO
from scipy import constants

from electrolyte_md import units

PACKAGE = REPO / "src" / "electrolyte_md"
HEAVY = ("openmm", "rdkit", "tblite")


#: Run first in the probe interpreter: the engines cannot be imported there, as in the
#: analysis and report conda environments, which do not carry them. (MDAnalysis imports
#: RDKit by itself where it is installed; blocked, it goes on without it.)
BLOCK_ENGINES = f"""
import importlib.abc, sys
class _Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {HEAVY!r}:
            raise ModuleNotFoundError(f"blocked: {{name}}")
sys.meta_path.insert(0, _Blocked())
"""


def _import_without_engines(module: str) -> subprocess.CompletedProcess:
    code = f"{BLOCK_ENGINES}\nimport {module}\n"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=REPO
    )


@pytest.mark.parametrize(
    "module",
    [
        "electrolyte_md.analysis.rdf",
        "electrolyte_md.analysis.transport",
        "electrolyte_md.analysis.coordination",
        "electrolyte_md.analysis.solvation",
        "electrolyte_md.study.summary",
        "electrolyte_md.study.validation",
    ],
)
def test_analysis_and_study_import_without_openmm_rdkit_tblite(module):
    run = _import_without_engines(module)
    assert run.returncode == 0, run.stderr[-1500:]


def test_reading_the_rules_loads_neither_openmm_nor_mdanalysis(tmp_path):
    """A dry run of the default configuration: the rules, common.smk and the config checks."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import json, sys\n"
        "from snakemake.cli import main\n"
        "try:\n"
        f"    main(['-s', {str(REPO / 'Snakefile')!r}, '--directory', {str(REPO)!r},\n"
        "          '--dry-run', '--quiet', '--cores', '1'])\n"
        "except SystemExit as stop:\n"
        "    code = stop.code\n"
        "print(json.dumps([code, sorted({m.split('.')[0] for m in sys.modules})]))\n"
    )
    run = subprocess.run(
        [sys.executable, str(probe)], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    code, loaded = json.loads(run.stdout.strip().splitlines()[-1])
    assert code in (0, None), run.stderr[-2000:]
    assert "openmm" not in loaded and "MDAnalysis" not in loaded


def test_one_home_for_each_constant():
    # SI and molar constants: scipy's (CODATA 2018; N_A, e, k_B exact since 2019)
    assert units.AVOGADRO_PER_MOL == constants.N_A and constants.k == units.BOLTZMANN_J_PER_K
    assert constants.e == units.ELEMENTARY_CHARGE_C
    assert pytest.approx(constants.R, rel=1e-15) == units.GAS_CONSTANT_J_PER_MOL_K
    assert pytest.approx(constants.N_A * constants.e / 1e3, rel=1e-15) == units.EV_TO_KJ_PER_MOL
    assert pytest.approx(1.0, rel=1e-15) == units.EV_TO_KJ_PER_MOL * units.KJ_PER_MOL_TO_EV
    assert pytest.approx(units.EV_TO_KJ_PER_MOL / 4.184, rel=1e-15) == units.EV_TO_KCAL_PER_MOL
    # the one Hartree: ASE's, as the readers and the committed documents use
    assert Hartree == units.HARTREE_EV
    # and no other module takes constants from scipy.constants or ase.units, or types one
    literals = ("96.48", "23.06", "27.211", "6.022", "1.380649", "1.602176", "0.529177")
    for path in PACKAGE.rglob("*.py"):
        if path.name == "units.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in ("scipy", "ase"):
                names = {alias.name for alias in node.names}
                assert not names & {"constants", "units"}, f"{path}: constants outside units.py"
            if isinstance(node, ast.ImportFrom) and node.module in ("scipy.constants", "ase.units"):
                raise AssertionError(f"{path}: imports {node.module}; use electrolyte_md.units")
            if isinstance(node, ast.Constant) and isinstance(node.value, float):
                assert not repr(node.value).startswith(literals), f"{path}: {node.value}"


def test_init_files_hold_a_docstring_and_light_re_exports_only():
    """A package's ``__init__`` has a docstring and re-exports (from its own modules only);
    importing it loads no engine, so naming a subpackage costs nothing."""
    for path in PACKAGE.rglob("__init__.py"):
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), f"{path}: no docstring"
        package = ".".join(path.parent.relative_to(PACKAGE.parent).parts)
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("electrolyte"):
                assert node.module.startswith(package + "."), f"{path}: imports {node.module}"
        run = _import_without_engines(package)
        assert run.returncode == 0, f"{package}: {run.stderr[-1500:]}"


#: The stages in workflow order; a module may import its own stage and those below it.
#: The base modules (errors, io, units, ...) sit under every stage; dft sits beside the MD
#: stages (it reads QM outputs and runs GFN2-xTB on the cluster); config and the progress
#: store read the whole workflow's settings and files, so they sit on top with it (and the
#: configuration reference beside them); the console command calls every stage's tool.
STAGE_RANK = {
    "errors": 0, "io": 0, "logs": 0, "plots": 0, "units": 0, "mol2": 0, "timeseries": 0,
    "frcmod": 0,
    "structures": 1, "cluster": 2, "forcefield": 3, "dft": 3, "md": 4,
    "analysis": 5, "study": 6, "config": 7, "progress": 7, "configdoc": 7, "cli": 8,
}  # fmt: skip


def _stage(module: str) -> str:
    return module.split(".")[1]


def test_no_module_imports_a_stage_above_it():
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(p for p in relative.parts if p != "__init__")
        if module == "electrolyte_md":
            continue
        own = STAGE_RANK[_stage(module)]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "electrolyte_md."
            ):
                other = _stage(node.module)
                assert STAGE_RANK[other] <= own, f"{module} imports {node.module} (above it)"
                assert not (other == "dft" and _stage(module) not in ("dft", "config")), (
                    f"{module} imports {node.module}: dft sits beside the stages, not below"
                )


def test_function_level_imports_of_the_package_say_why():
    """An import of the package's own code inside a function hides the graph; where one is
    needed (a cycle, a heavy engine), the line above it says why."""
    for path in PACKAGE.rglob("*.py"):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith(
                    "electrolyte_md"
                ):
                    above = lines[inner.lineno - 2].strip()
                    assert above.startswith("#"), f"{path}:{inner.lineno}: no comment says why"


def test_analysis_classes_override_only_the_documented_hooks():
    """Subclasses of MDAnalysis' AnalysisBase override its public methods and its
    documented hooks (_prepare, _single_frame, _conclude), never its other private ones."""
    from MDAnalysis.analysis.base import AnalysisBase

    hooks = {"_prepare", "_single_frame", "_conclude"}
    private = {name for name in vars(AnalysisBase) if name.startswith("_") and "__" not in name}
    found = 0
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
            if not bases & {"AnalysisBase", "_BlockRouted"}:
                continue
            found += 1
            defined = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
            overridden = (defined & private) - hooks
            assert not overridden, f"{path}: {node.name} overrides {sorted(overridden)}"
    assert found >= 5  # RDF (3), solvation shells, MSD, cluster stability
