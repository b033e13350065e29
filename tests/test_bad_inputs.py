"""Bad inputs and damaged files (issue 24): each case is refused with a message naming the
file or key and what to do, and leaves nothing half-written behind.

Fast: no MD, no quantum chemistry; the DFT cases edit the real outputs in
../shared/fixtures/dft (read in place, edited copies in tmp_path).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

import electrolyte_md.progress as progress
from electrolyte_md.dft.binding import binding_energy, write_binding_table
from electrolyte_md.dft.readers import read_output
from electrolyte_md.errors import DFTOutputError, ProgressError
from electrolyte_md.progress import MANIFEST, restore_progress, save_progress


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root``: content and modification time."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- progress store (item 6) -----------------------------------------------------------


def _saved_study(tmp_path: Path) -> tuple[Path, Path]:
    work = tmp_path / "study"
    for i, name in enumerate(
        ["results/systems/S/system.xml", "results/md/S/298.15K/rep1/md_summary.json"]
    ):
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"file {i}")
        os.utime(path, ns=(1_700_000_000_000_000_000 + i * 10**9,) * 2)
    store = tmp_path / "store"
    save_progress(work, store)
    return work, store


def _edit_first_entry(key, value):
    def edit(manifest):
        manifest["files"][0][key] = value

    return edit


def _add_entry(path):
    def edit(manifest):
        manifest["files"].append(dict(manifest["files"][0], path=path))

    return edit


MANIFEST_CASES = {
    "non-numeric mtime": (_edit_first_entry("mtime_ns", "yesterday"), r"mtime_ns is 'yesterday'"),
    "float size": (_edit_first_entry("size_bytes", 1.5), r"size_bytes is 1.5"),
    "boolean mtime": (_edit_first_entry("mtime_ns", True), r"mtime_ns is True"),
    "bad hash": (_edit_first_entry("sha256", "abc"), r"sha256 is 'abc', not a SHA-256"),
    "path escaping with ../": (
        _add_entry("results/../../outside.txt"),
        r"'results/\.\./\.\./outside\.txt' is not a plain relative path",
    ),
    "absolute path": (_add_entry("/tmp/outside.txt"), r"'/tmp/outside\.txt' is not a plain"),
    "path outside results": (_add_entry("Snakefile"), r"not inside the results directory"),
    "path not a string": (_edit_first_entry("path", 7), r"path 7 is not a path"),
    "entry without a hash": (
        lambda m: m["files"][0].pop("sha256"),
        r"files\[0\] lacks sha256",
    ),
    "files not a list": (lambda m: m.update(files={"a": 1}), r"'files' must be a list"),
    "results escaping": (lambda m: m.update(results="../x"), r"'results' '\.\./x'"),
    "duplicate entry": (
        lambda m: m["files"].append(dict(m["files"][0])),
        r"listed twice",
    ),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_CASES))
def test_a_hand_edited_manifest_is_refused_before_any_file_is_touched(tmp_path, case):
    edit, message = MANIFEST_CASES[case]
    _, store = _saved_study(tmp_path)
    manifest = json.loads((store / MANIFEST).read_text())
    edit(manifest)
    (store / MANIFEST).write_text(json.dumps(manifest))
    target = tmp_path / "fresh"
    target.mkdir()
    (target / "README").write_text("a checkout")
    before, store_before = _tree(tmp_path / "fresh"), _tree(store)
    with pytest.raises(ProgressError, match=message) as caught:
        restore_progress(store, target)
    assert str(store / MANIFEST) in str(caught.value)
    assert "save the study again" in str(caught.value)
    assert _tree(target) == before  # nothing copied, nothing re-timed
    assert not (tmp_path / "outside.txt").exists()
    # a save over the damaged store is refused the same way, before it deletes anything
    with pytest.raises(ProgressError, match=message):
        save_progress(tmp_path / "study", store)
    assert _tree(store) == store_before


def test_unreadable_manifest_names_the_file_and_the_remedy(tmp_path):
    _, store = _saved_study(tmp_path)
    (store / MANIFEST).write_text('{"files": [')
    with pytest.raises(ProgressError, match=r"manifest\.json: .*unreadable JSON.*save"):
        restore_progress(store, tmp_path / "fresh")
    assert not (tmp_path / "fresh" / "results").exists()


def test_a_restore_failing_midway_leaves_the_directory_as_it_was(tmp_path, monkeypatch):
    """The second copy fails (a full disk): the first is removed again, the file that
    was already there keeps its time, no folder made for the restore remains."""
    work, store = _saved_study(tmp_path)
    target = tmp_path / "fresh"
    kept = target / "results/systems/S/system.xml"
    kept.parent.mkdir(parents=True)
    kept.write_bytes((work / "results/systems/S/system.xml").read_bytes())
    os.utime(kept, ns=(1_600_000_000_000_000_000,) * 2)
    (store / "results/md/S/298.15K/rep1/extra.json").write_text("{}")
    manifest = json.loads((store / MANIFEST).read_text())
    extra = {
        "path": "results/md/S/298.15K/rep1/extra.json",
        "size_bytes": 2,
        "sha256": hashlib.sha256(b"{}").hexdigest(),
        "mtime_ns": 1_700_000_000_000_000_000,
    }
    manifest["files"].append(extra)
    (store / MANIFEST).write_text(json.dumps(manifest))
    before = _tree(target)
    real_copy, calls = progress.atomic_copy, []

    def failing_copy(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_copy(src, dst)

    monkeypatch.setattr(progress, "atomic_copy", failing_copy)
    with pytest.raises(ProgressError, match=r"No space left.*nothing was restored.*again"):
        restore_progress(store, target)
    assert len(calls) == 2
    assert _tree(target) == before
    assert not (target / "results/md").exists()


# --- MD restart record (item 5) --------------------------------------------------------


def _restart_folder(tmp_path: Path) -> Path:
    """A restart folder as a checkpoint in production leaves it."""
    folder = tmp_path / "results/md/S/298.15K/rep1/restart"
    folder.mkdir(parents=True)
    (folder / "state-000000001000.xml").write_text("<State/>")
    record = {
        "format": 1,
        "name": "S",
        "fingerprint": "f" * 64,
        "timestep_fs": 2.0,
        "phase": "production",
        "phase_step": 500,
        "step": 1000,
        "time_ps": 2.0,
        "files": {"prod.csv": {"bytes": 120}},
        "totals": {"production": {"steps": 500, "wall_s": 3.5}},
        "wall_total_s": 10.0,
        "invocations": [],
        "state_file": "state-000000001000.xml",
    }
    (folder / "progress.json").write_text(json.dumps(record))
    return folder


def _set(key, value):
    def edit(record):
        record[key] = value
        return json.dumps(record)

    return edit


RESTART_CASES = {
    "unreadable JSON": (lambda r: json.dumps(r)[:40], r"is not valid JSON"),
    "not an object": (lambda r: "[1, 2]", r"is not a JSON object but list"),
    "no state file named": (lambda r: json.dumps({**r, "state_file": None}), r"'state_file'"),
    "phase step a string": (_set("phase_step", "500"), r"'phase_step': '500', not an integer"),
    "unknown phase": (_set("phase", "relaxation"), r"'phase': 'relaxation', not one of"),
    "totals damaged": (_set("totals", {"production": 3}), r"'totals'"),
    "field missing": (
        lambda r: json.dumps({k: v for k, v in r.items() if k != "fingerprint"}),
        r"lacks the field 'fingerprint'",
    ),
    "state file missing": (
        _set("state_file", "state-000000000500.xml"),
        r"names the saved state state-000000000500\.xml, which is not in",
    ),
}


@pytest.mark.parametrize("case", sorted(RESTART_CASES))
def test_a_damaged_restart_record_stops_the_run_naming_the_file(tmp_path, case):
    from electrolyte_md.errors import ElectrolyteMDError
    from electrolyte_md.md.files import RestartStore

    edit, message = RESTART_CASES[case]
    folder = _restart_folder(tmp_path)
    record = json.loads((folder / "progress.json").read_text())
    (folder / "progress.json").write_text(edit(record))
    before = _tree(folder)
    with pytest.raises(ElectrolyteMDError, match=message) as caught:
        RestartStore(folder).load()
    text = str(caught.value)
    assert text.startswith(f"{folder / 'progress.json'}: the restart record")
    assert f"delete {folder} to run this MD again" in text
    assert _tree(folder) == before  # the saved work is not thrown away


def test_a_valid_restart_record_loads_and_a_missing_one_means_a_fresh_start(tmp_path):
    from electrolyte_md.md.files import RestartStore

    folder = _restart_folder(tmp_path)
    assert RestartStore(folder).load()["phase"] == "production"
    assert RestartStore(tmp_path / "none").load() is None


def test_a_damaged_saved_state_names_the_file_and_the_remedy(tmp_path):
    from electrolyte_md.errors import ElectrolyteMDError
    from electrolyte_md.md.files import RestartStore

    folder = _restart_folder(tmp_path)
    store = RestartStore(folder)
    with pytest.raises(ElectrolyteMDError, match=r"state-000000001000\.xml: the saved state"):
        store.load_state(store.load())


# --- trajectory against its MD record (item 4) -----------------------------------------

AKMA_FS = 48.88821  # fs per AKMA time unit (CHARMM's, the DCD header's)


def _md_run(tmp_path: Path, frames=20, nsavc=125, timestep_fs=4.0, summary=None) -> Path:
    """prod.dcd (3 atoms) and md_summary.json as a finished MD job leaves them."""
    from MDAnalysis.lib.formats.libdcd import DCDFile

    run = tmp_path / "results/md/S/298.15K/rep1"
    run.mkdir(parents=True)
    with DCDFile(str(run / "prod.dcd"), "w") as dcd:
        dcd.write_header(
            remarks="test",
            natoms=3,
            istart=nsavc,
            nsavc=nsavc,
            delta=timestep_fs / AKMA_FS,
            is_periodic=1,
        )
        for i in range(frames):
            dcd.write(
                xyz=float(i) + 0.1 * np.arange(9, dtype="f4").reshape(3, 3),
                box=np.array([20, 90, 20, 90, 90, 20], dtype="f8"),
            )
    record = summary or {
        "steps": {"production": 2500, "report_interval": 125},
        "trajectory": {"file": "prod.dcd", "frames": 20, "frame_interval_ps": 0.5},
    }
    (run / "md_summary.json").write_text(json.dumps(record))
    return run


def test_a_whole_trajectory_passes_the_check(tmp_path):
    from electrolyte_md.analysis.coordination import check_trajectory

    run = _md_run(tmp_path)
    checked = check_trajectory(run / "prod.dcd")
    assert checked["frames"] == 20
    assert checked["frame_interval_ps"] == pytest.approx(0.5)


def _truncate_to_half(run: Path) -> None:
    data = (run / "prod.dcd").read_bytes()
    (run / "prod.dcd").write_bytes(data[: len(data) // 2])


TRAJECTORY_CASES = {
    "cut to half": (
        lambda tmp: _md_run(tmp),
        _truncate_to_half,
        r"prod\.dcd: holds [89] frames, but .*md_summary\.json records 20 \(2500 production "
        r"steps, a frame every 125 steps\): cut short",
    ),
    "another run's, longer": (
        lambda tmp: _md_run(tmp, frames=40),
        None,
        r"holds 40 frames, but .* records 20 .*not the trajectory of this run",
    ),
    "other frame interval": (
        lambda tmp: _md_run(tmp, nsavc=250, timestep_fs=2.0),
        None,
        r"a frame every 250 steps, 0\.5 ps apart, but .* every 125 steps",
    ),
    "other time step": (
        lambda tmp: _md_run(tmp, timestep_fs=2.0),
        None,
        r"0\.25 ps apart, but .*md_summary\.json records a frame every 125 steps, 0\.5 ps",
    ),
    "no MD record": (
        lambda tmp: _md_run(tmp),
        lambda run: (run / "md_summary.json").unlink(),
        r"prod\.dcd: no MD record .*md_summary\.json beside it",
    ),
    "damaged MD record": (
        lambda tmp: _md_run(tmp),
        lambda run: (run / "md_summary.json").write_text('{"steps": 3}'),
        r"md_summary\.json: not a readable MD record",
    ),
    "not a DCD": (
        lambda tmp: _md_run(tmp),
        lambda run: (run / "prod.dcd").write_text("not a trajectory"),
        r"prod\.dcd: not a readable DCD trajectory",
    ),
}


@pytest.mark.parametrize("case", sorted(TRAJECTORY_CASES))
def test_a_trajectory_that_differs_from_its_md_record_is_refused(tmp_path, case):
    from electrolyte_md.analysis.coordination import check_trajectory
    from electrolyte_md.errors import AnalysisError

    make, damage, message = TRAJECTORY_CASES[case]
    run = make(tmp_path)
    if damage:
        damage(run)
    before = _tree(tmp_path)
    with pytest.raises(AnalysisError, match=message) as caught:
        check_trajectory(run / "prod.dcd")
    assert f"delete {run}" in str(caught.value) and "--forcerun run_md" in str(caught.value)
    assert _tree(tmp_path) == before  # checked before any analysis wrote anything


# --- DFT binding (item 2) --------------------------------------------------------------

FIXTURES = (REPO / ".." / "shared" / "fixtures" / "dft").resolve()
NWCHEM_SP = FIXTURES / "nwchem7.0" / "dvb_sp_ks.out"  # C10H10, B3LYP/STO-3G
needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"shared DFT fixtures not found at {FIXTURES}"
)
_ROW = re.compile(r"^(\s+\d+ )([A-Z][a-z]?)(\s+)(\d+\.\d+)(\s+\S+\s+\S+\s+\S+)$")


def _nwchem_variant(path: Path, ghost=(), drop=(), shift=None) -> Path:
    """The NWChem fixture with the centres of elements ``ghost`` made ``bq`` ghosts, those
    of ``drop`` left out, and ``shift`` = (row number, dx) moving one centre along x."""
    lines = []
    for line in NWCHEM_SP.read_text().splitlines():
        row = _ROW.match(line)
        if row:
            number, element, space, charge, xyz = row.groups()
            if element in drop:
                continue
            if shift and int(number) == shift[0]:
                x, y, z = xyz.split()
                xyz = f"{float(x) + shift[1]:15.8f} {y:>14s} {z:>14s}"
            if element in ghost:
                element, space, charge = f"bq{element}", space[2:], "0.0000"
            line = f"{number}{element}{space}{charge}{xyz}"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def dvb_parts(tmp_path):
    """The C10H10 complex, its 'fragments' C10 and H10 alone and in the complex basis."""
    return {
        "complex": NWCHEM_SP,
        "C": _nwchem_variant(tmp_path / "C.out", drop="H"),
        "H": _nwchem_variant(tmp_path / "H.out", drop="C"),
        "C_ghost": _nwchem_variant(tmp_path / "C_ghost.out", ghost="H"),
        "H_ghost": _nwchem_variant(tmp_path / "H_ghost.out", ghost="C"),
    }


def _entry(parts, fragments, ghosts=None):
    entry = {"complex": parts["complex"], "fragments": {n: parts[p] for n, p in fragments}}
    if ghosts:
        entry["ghost_fragments"] = {n: parts[p] for n, p in ghosts}
    return entry


@needs_fixtures
def test_fragments_that_make_up_the_complex_pass(dvb_parts):
    row = binding_energy(
        "dvb", _entry(dvb_parts, [("C", "C"), ("H", "H")], [("C", "C_ghost"), ("H", "H_ghost")])
    )
    assert row["binding_energy_eV"] == pytest.approx(-read_output(NWCHEM_SP).energy_ev)
    ghost = read_output(dvb_parts["C_ghost"])
    assert ghost.n_ghosts == 10 and ghost.symbols == ("C",) * 10
    assert ghost.ghost_symbols == ("H",) * 10


BINDING_CASES = {
    "the complex given as both fragments": (
        lambda p, tmp: _entry(p, [("A", "complex"), ("B", "complex")]),
        r"dvb_sp_ks\.out: the atoms of the fragments of dvb \(A C10H10 .*C20H20 in all\) "
        r"do not make up the complex \(C10H10\); check which outputs the manifest entry",
    ),
    "a fragment missing atoms": (
        lambda p, tmp: _entry(p, [("C", "C"), ("H", "C")]),
        r"C20 in all\) do not make up the complex \(C10H10\)",
    ),
    "ghost-atom outputs as plain fragments": (
        lambda p, tmp: _entry(p, [("C", "C_ghost"), ("H", "H_ghost")]),
        r"C_ghost\.out: has 10 ghost centres .* given as plain fragment C of dvb; list it "
        r"under ghost_fragments",
    ),
    "a plain output as the ghost-atom fragment": (
        lambda p, tmp: _entry(p, [("C", "C"), ("H", "H")], [("C", "C"), ("H", "H_ghost")]),
        r"C\.out: given as fragment C in the complex basis but has no ghost atoms .*list it "
        r"under fragments",
    ),
    "ghost outputs swapped": (
        lambda p, tmp: _entry(p, [("C", "C"), ("H", "H")], [("C", "H_ghost"), ("H", "C_ghost")]),
        r"H_ghost\.out: the real atoms \(H10\) of the fragment C of dvb in the complex basis "
        r"are not those of fragment C \(C10",
    ),
    "ghost centres moved off the complex's geometry": (
        lambda p, tmp: dict(
            _entry(p, [("C", "C"), ("H", "H")], [("C", "C_ghost"), ("H", "H_ghost")]),
            ghost_fragments={
                "C": _nwchem_variant(tmp / "moved.out", ghost="H", shift=(7, 0.5)),
                "H": p["H_ghost"],
            },
        ),
        r"moved\.out: the geometry of the fragment C of dvb in the complex basis \(real and "
        r"ghost centres\) is not the complex's .*differ by up to 0\.\d+ A",
    ),
    "plain fragment not at the complex's geometry": (
        lambda p, tmp: dict(
            _entry(p, [("C", "C"), ("H", "H")], [("C", "C_ghost"), ("H", "H_ghost")]),
            fragments={
                "C": _nwchem_variant(tmp / "relaxed.out", drop="H", shift=(1, 0.2)),
                "H": p["H"],
            },
        ),
        r"relaxed\.out: fragment C of dvb is not at the geometry of the fragment C of dvb in "
        r"the complex basis .*compute the fragment there, or leave out ghost_fragments",
    ),
}


@needs_fixtures
@pytest.mark.parametrize("case", sorted(BINDING_CASES))
def test_a_manifest_whose_outputs_do_not_fit_their_roles_is_refused(tmp_path, dvb_parts, case):
    make, message = BINDING_CASES[case]
    manifest = {"dvb": make(dvb_parts, tmp_path)}
    table = tmp_path / "results" / "dft" / "binding_energies.csv"
    table.parent.mkdir(parents=True)
    table.write_text("complex,binding_energy_eV\ndvb,25801.0\n")  # an earlier run's
    with pytest.raises(DFTOutputError, match=message):
        write_binding_table(manifest, table)
    assert not table.exists()  # no earlier table left looking current
    assert list(table.parent.iterdir()) == []  # and no temporary file


@needs_fixtures
def test_relaxed_fragments_without_counterpoise_are_accepted(tmp_path, dvb_parts):
    """Fragments relaxed on their own are not compared by position (deformation energy)."""
    relaxed = _nwchem_variant(tmp_path / "relaxed.out", drop="H", shift=(1, 0.2))
    entry = {"complex": NWCHEM_SP, "fragments": {"C": relaxed, "H": dvb_parts["H"]}}
    assert binding_energy("dvb", entry)["cp_binding_energy_eV"] is None


def _nwchem_scf_failed(path: Path) -> Path:
    """As NWChem 7.0.2 stops on an unconverged SCF: the message, no energy, no times."""
    text = NWCHEM_SP.read_text()
    cut = text.index("         Total DFT energy =")
    path.write_text(text[:cut] + "      Calculation failed to converge\n")
    return path


def _gaussian_scf_failed(path: Path) -> Path:
    text = (FIXTURES / "gaussian16" / "dvb_sp.out").read_text()
    cut = text.index(" SCF Done:")
    path.write_text(
        text[:cut] + " >>>>>>>>>> Convergence criterion not met.\n"
        " Error termination via Lnk1e in l502.exe\n"
    )
    return path


@needs_fixtures
@pytest.mark.parametrize("make", [_nwchem_scf_failed, _gaussian_scf_failed])
def test_an_unconverged_scf_is_reported_as_such_not_as_truncated(tmp_path, make):
    bad = make(tmp_path / "scf.out")
    with pytest.raises(DFTOutputError, match=r"scf\.out: SCF did not converge") as caught:
        read_output(bad)
    assert "truncated" not in str(caught.value)
    assert "iteration limit" in str(caught.value)


# --- configuration values the schema accepts but no study means (issue 24, "Also") ------

import copy  # noqa: E402
import math  # noqa: E402

import yaml  # noqa: E402
from snakemake.exceptions import WorkflowError  # noqa: E402
from snakemake.utils import validate  # noqa: E402

from electrolyte_md.config import check_config, check_selections  # noqa: E402
from electrolyte_md.errors import ConfigError  # noqa: E402

_SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")
_DEFAULT = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def _set(path: str, value):
    def edit(config):
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node[key]
        node[last] = value

    return edit


def _rename_system(new: str):
    def edit(config):
        config["systems"][new] = config["systems"].pop("LiPF6_NMP")
        config["validation"]["paper_systems"] = []

    return edit


CONFIG_CASES = [
    (_set("systems.LiPF6_NMP.salts.LiPF6", math.nan),
     r"systems\.LiPF6_NMP\.salts\.LiPF6: not a finite"),
    (_set("systems.LiPF6_NMP.salts.LiPF6", 0.0), r"salts\.LiPF6: 0 mol/L .* remove the salt"),
    (_set("systems.LiPF6_NMP.salts", {"LiTFSI": 1.0}), r"salt 'LiTFSI' is not defined under salts"),
    (_set("md.temperatures_kelvin", [1.0e6]), r"1e\+06 K is above 1000 K"),
    (_set("md.temperatures_kelvin", [298.15, 298.150001]), r"share the run folder 298\.15K"),
    (_set("systems.LiPF6_NMP.solvents", {"NMP": 0.9}), r"volume fractions sum to 0\.9"),
    (_set("systems.LiPF6_NMP.n_solvent_molecules", 10**9),
     r"n_solvent_molecules: 1000000000 is more"),
    (_set("packing.tolerance_angstrom", 8.0), r"tolerance_angstrom: 8 A .* never finishes"),
    (_set("md.protocol.timestep_fs", 10.0), r"timestep_fs: 10 fs is more than 5 fs"),
    (_set("md.protocol.heating_start_kelvin", 5000.0), r"heating_start_kelvin: 5000 K is above"),
    (_set("analysis.comparison", {"cn_pair": "Li-Q"}), r"cn_pair: 'Li-Q' is not an RDF pair"),
    (_set("validation.paper_systems", ["LiPF6_DME"]),
     r"paper_systems: 'LiPF6_DME' is not a system"),
    # 1000 blocks of 50 frames: the first -> last trend had empty blocks, exit status 0
    (_set("analysis.rdf.n_blocks", 1000), r"n_blocks: 1000 blocks, but the production gives "
     r"50 frames .* use at most 50 blocks"),
    (_set("analysis.skip_ps", 500.0), r"skip_ps: 500 ps drops the whole production"),
    # RDF selections failed only after the MD
    (_set("analysis.rdf.pairs.Li-P.ligand", "resname PF6 and"),
     r"pairs\.Li-P\.ligand: 'resname PF6 and' is not an MDAnalysis selection"),
    (_set("analysis.rdf.pairs.Li-P.ligand", "resname PF6 and element Q"),
     r"pairs\.Li-P\.ligand: .* matches no atom of system 'LiPF6_NMP', whose residues are "
     r"NMP \(C H N O\), LI \(Li\), PF6 \(F P\)"),
    (_set("analysis.rdf.pairs.Li-O.center", "resname Li"),
     r"pairs\.Li-O\.center: 'resname Li' matches no atom"),
    (_set("validation.experiments", [{"property": "density", "species": "NPM", "value": 1.0,
                                      "temperature_kelvin": 298.15, "source": "x"}]),
     r"validation\.experiments\[0\]\.species: 'NPM' is not a species"),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "message"), CONFIG_CASES)
def test_implausible_configuration_is_refused_before_any_job(edit, message):
    config = copy.deepcopy(_DEFAULT)
    edit(config)
    validate(config, _SCHEMA)
    with pytest.raises(ConfigError, match=message) as error:
        check_config(config, source="my.yaml")
        check_selections(config, source="my.yaml")  # needs MDAnalysis: apart
    assert "invalid configuration in my.yaml" in str(error.value)


def test_a_300_character_name_is_refused_by_the_schema():
    from electrolyte_md.config import check_schema

    config = copy.deepcopy(_DEFAULT)
    _rename_system("S" * 300)(config)
    with pytest.raises(WorkflowError, match="is too long"):
        validate(config, _SCHEMA)
    too_long = r"systems: the name 'SSS.*\.\.\. \(300 characters\) is longer than 64 characters"
    with pytest.raises(ConfigError, match=too_long) as error:
        check_schema(config, _SCHEMA)
    assert len(str(error.value)) < 200


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("md:\n  replicas: 1\nmd:\n  replicas: 3\n", "line 3: key 'md' given twice"),
        ("md:\n  replicas: 1\n  threads: 2\n  replicas: 3\n", "line 4: key 'replicas' given twice"),
    ],
)
def test_a_key_given_twice_in_a_configuration_file_is_refused(tmp_path, text, where):
    """PyYAML (and so Snakemake) keeps the last of two equal keys without a word."""
    from electrolyte_md.config import check_config_files

    path = tmp_path / "my.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: {where}; keep one of them")):
        check_config_files([path])
    check_config_files([REPO / "config" / "config.yaml"])  # the shipped one has none


def test_an_unusable_parameter_cache_is_refused_before_any_job(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the cache's parent folder should be")
    config = copy.deepcopy(_DEFAULT)
    config["forcefield"]["cache_dir"] = str(blocker / "cache")
    validate(config, _SCHEMA)
    with pytest.raises(ConfigError, match=r"forcefield\.cache_dir: .* is not a folder; name a "
                       r"writable folder, or null"):  # fmt: skip
        check_config(config, source="my.yaml")
    assert not (blocker / "cache").exists()


# --- schema errors: the key, the file that sets it, what to do (issue 24, "Also") -------

from electrolyte_md.config import check_schema, config_files_in_effect  # noqa: E402


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # jsonschema's own message printed the whole configuration: 1,287 lines
        ("mdd:\n  replicas: 2\n", r"mdd \(in {mine}\): unknown key; did you mean 'md'\? the "
         r"keys allowed at the top level are analysis, "),
        ("md:\n  protocol:\n    prodution_ps: 10\n",
         r"md\.protocol\.prodution_ps \(in {mine}\): unknown key; did you mean "
         r"'production_ps'\?"),
        ("md:\n  replicas: two\n", r"md\.replicas \(in {mine}\): 'two' must be of type "
         r"integer \(Independent runs per system and temperature"),
        ("systems:\n  LiPF6_NMP:\n    salts: {{LiPF6: -1.0}}\n",
         r"systems\.LiPF6_NMP\.salts\.LiPF6 \(in {mine}\): -1\.0 is less than the minimum of 0"),
    ],
)  # fmt: skip
def test_a_schema_error_names_key_file_and_remedy_in_a_few_lines(tmp_path, text, message):
    mine = tmp_path / "mine.yaml"
    mine.write_text(text.format())
    config = copy.deepcopy(_DEFAULT)
    for key, value in yaml.safe_load(mine.read_text()).items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            _merge(config[key], value)
        else:
            config[key] = value
    files = [mine, REPO / "config" / "config.yaml"]
    with pytest.raises(ConfigError, match=message.format(mine=re.escape(str(mine)))) as error:
        check_schema(config, _SCHEMA, files, source="mine.yaml, config/config.yaml")
    assert len(str(error.value).splitlines()) <= 3


def _merge(base: dict, update: dict) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def test_replacing_the_workflow_configuration_drops_it_from_the_files_named():
    own, mine, theirs = Path("config/config.yaml"), Path("mine.yaml"), Path("theirs.yaml")
    # Snakemake lists the command line's files, then the workflow's own
    listed = [mine, theirs, own]
    assert config_files_in_effect(listed, [mine, theirs], replaced=False) == [theirs, mine, own]
    assert config_files_in_effect(listed, [mine, theirs], replaced=True) == [theirs, mine]


@pytest.mark.parametrize("replace", [False, True], ids=["extended", "replaced"])
def test_a_dry_run_refuses_a_bad_configuration_without_a_traceback(tmp_path, replace):
    from conftest import Workflow

    study = Workflow(tmp_path / "study", _DEFAULT)
    mine = tmp_path / "mine.yaml"
    if replace:
        config = copy.deepcopy(_DEFAULT)
        config["md"]["temperatures_kelvin"] = [1.0e6]
        mine.write_text(yaml.safe_dump(config))
    else:
        mine.write_text("md:\n  temperatures_kelvin: [1.0e+6]\n")
    args = ["--configfile", str(mine), *(["--replace-workflow-config"] * replace)]
    run = study.run("--dry-run", "--cores", "1", *args, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"md.temperatures_kelvin (in {mine}): 1e+06 K is above 1000 K" in output
    assert "Traceback" not in output and 'File "' not in output
    sources = f"{mine}" if replace else f"{mine}, config/config.yaml"
    assert f"invalid configuration in {sources}:" in output
    assert not (study.directory / "results").exists()


def test_a_selection_matching_nothing_stops_the_run_before_its_first_job(tmp_path):
    """RDF selections are checked when jobs are about to run (Snakemake's onstart), as
    reading the rules does not load MDAnalysis; before this, they failed after the MD."""
    from conftest import Workflow

    study = Workflow(tmp_path / "study", _DEFAULT)
    (study.directory / "structures").symlink_to(REPO / "structures")
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "analysis:\n  rdf:\n    pairs:\n"
        '      Li-P: {center: "resname LI", ligand: "resname PF6 and element Q"}\n'
    )
    run = study.run("--cores", "1", "--configfile", str(mine), timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert (
        f"analysis.rdf.pairs.Li-P.ligand (in {mine}): 'resname PF6 and element Q' matches "
        "no atom of system 'LiPF6_NMP'"
    ) in output
    assert output.count("element Q") == 1  # once, not once per system
    assert "Traceback" not in output and 'File "' not in output
    assert not (study.directory / "results").exists()
