"""The built-in GFN2-xTB binding route: placements, real relaxations, reuse, DFT inputs.

A small real pair (NMP + PF6-, 23 atoms) goes through every step with tblite; the
placements and bonding checks are tested on the committed Ti6(HPAB) cluster; the
committed Ti6(HPAB) + PF6- document is checked against fresh GFN2-xTB single points.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, TINY_CONFIG

from electrolyte_md.cluster.document import build_cluster_species
from electrolyte_md.cluster.xtb import singlepoint
from electrolyte_md.dft import xtb_binding
from electrolyte_md.dft.xtb_binding import (
    BindingSettings,
    binding_key,
    binding_study,
    bonding_changes,
    fragment_from_species,
    load_binding_document,
    placements,
    run_pair,
    summary_table,
    write_binding_comparison,
    write_pair_outputs,
)
from electrolyte_md.errors import StructureError
from electrolyte_md.structures.species import build_species
from electrolyte_md.study.paper import PAPER

COMMITTED = REPO / "structures" / "binding" / "Ti6HPAB_PF6.json"


def _species(root: Path, name: str, smiles: str) -> Path:
    d = root / name
    build_species(name, smiles, name, d / "structure.sdf", d / "species.json")
    return d


@pytest.fixture(scope="module")
def fragments(tmp_path_factory):
    """NMP, PF6- and the committed Ti6(HPAB), built as the workflow builds them."""
    root = tmp_path_factory.mktemp("binding-species")
    out = {}
    for name, smiles in (("NMP", "CN1CCCC1=O"), ("PF6", "F[P-](F)(F)(F)(F)F")):
        d = _species(root, name, smiles)
        out[name] = fragment_from_species(d / "structure.sdf", d / "species.json")
    d = root / "Ti6HPAB"
    build_cluster_species(
        "Ti6HPAB",
        {"carboxylate": "4-aminobenzoate", "alkoxide": "isopropoxide"},
        "TI6",
        d / "structure.sdf",
        d / "species.json",
        structure_path=REPO / "structures" / "ti6_hpab.json",
    )
    out["Ti6HPAB"] = fragment_from_species(d / "structure.sdf", d / "species.json")
    return out


def test_fragment_charges_come_from_the_species_record(fragments):
    assert fragments["PF6"].charge == -1 and fragments["NMP"].charge == 0
    # the cluster SDF carries the ionic picture (-1 on every ligand O); the net charge is 0
    assert fragments["Ti6HPAB"].charge == 0 and len(fragments["Ti6HPAB"].symbols) == 174


def test_unreadable_species_file_is_named(tmp_path):
    bad = tmp_path / "structure.sdf"
    bad.write_text("not a molfile\n")
    (tmp_path / "species.json").write_text("{}")
    with pytest.raises(StructureError, match="structure.sdf"):
        fragment_from_species(bad, tmp_path / "species.json")


def test_placements_around_the_ti6_prism(fragments):
    host, guest = fragments["Ti6HPAB"], fragments["PF6"]
    settings = BindingSettings()
    starts = placements(host, guest, settings)
    assert set(starts) == {"axial", "side", "end-C", "end-N"}
    n = len(host.symbols)
    ti = np.array([i for i, s in enumerate(host.symbols) if s == "Ti"])
    centre = host.positions.mean(axis=0)
    axis = xtb_binding.unique_axis(host)
    # the axial direction is the prism's axis: normal to both Ti3 rings, three Ti on
    # each side
    along = (host.positions[ti] - centre) @ axis
    assert sorted(np.sign(along)) == [-1, -1, -1, 1, 1, 1]
    for side in (along > 0, along < 0):
        a, b, c = host.positions[ti[side]]
        normal = np.cross(b - a, c - a)
        angle = np.degrees(np.arccos(abs(normal @ axis) / np.linalg.norm(normal)))
        assert angle < 10.0
    for name, xyz in starts.items():
        np.testing.assert_allclose(xyz[:n], host.positions)
        # the guest keeps its shape and touches the host at the contact distance
        moved = xyz[n:] - xyz[n:].mean(axis=0)
        np.testing.assert_allclose(moved, guest.positions - guest.positions.mean(axis=0), atol=1e-9)
        closest = np.linalg.norm(xyz[n:, None] - xyz[None, :n], axis=-1).min()
        assert settings.contact_angstrom <= closest < settings.contact_angstrom + 0.06, name
    # the side pocket brings the anion closest to the Ti6O6 core
    to_core = {name: np.linalg.norm(xyz[n:].mean(axis=0) - centre) for name, xyz in starts.items()}
    assert min(to_core, key=to_core.get) == "side"
    # end-N sits beyond an amine N
    n_atoms = [i for i, s in enumerate(host.symbols) if s == "N"]
    guest_centre = starts["end-N"][n:].mean(axis=0)
    nearest = min(n_atoms, key=lambda i: np.linalg.norm(host.positions[i] - guest_centre))
    assert np.linalg.norm(guest_centre - centre) > np.linalg.norm(host.positions[nearest] - centre)


def test_bonding_changes_flag_fluoride_on_ti_and_stretched_ti_o(fragments):
    host = fragments["Ti6HPAB"]
    symbols = list(host.symbols) + ["F"]
    n = len(host.symbols)
    ti = host.symbols.index("Ti")
    centre = host.positions.mean(axis=0)
    outward = host.positions[ti] - centre
    far = host.positions[ti] + 8.0 * outward / np.linalg.norm(outward)
    intact = bonding_changes(symbols, host.positions, np.vstack([host.positions, far]), n, 0.15)
    assert intact["intact"] and intact["max_metal_ligand_change_angstrom"] == 0.0
    near = host.positions[ti] + 2.2 * outward / np.linalg.norm(outward)
    touched = bonding_changes(symbols, host.positions, np.vstack([host.positions, near]), n, 0.15)
    assert not touched["intact"]
    assert touched["guest_in_metal_sphere"] == [f"Ti{ti + 1}...F{n + 1} 2.20 A"]
    # move one O bound to that Ti 0.3 A away from it
    o = int(
        np.argmin(
            [
                np.linalg.norm(p - host.positions[ti]) if s == "O" else 9
                for s, p in zip(host.symbols, host.positions, strict=True)
            ]
        )
    )
    stretched = host.positions.copy()
    bond = stretched[o] - stretched[ti]
    stretched[o] += 0.3 * bond / np.linalg.norm(bond)
    changed = bonding_changes(symbols, host.positions, np.vstack([stretched, far]), n, 0.15)
    assert not changed["intact"]
    assert any(f"Ti{ti + 1}-O{o + 1}" in c for c in changed["metal_site_changes"])


@pytest.fixture(scope="module")
def nmp_pf6(fragments, tmp_path_factory):
    """The whole route on NMP + PF6- with GFN2-xTB (a few seconds per relaxation)."""
    workdir = tmp_path_factory.mktemp("nmp-pf6")
    settings = BindingSettings()
    document = binding_study(fragments["NMP"], fragments["PF6"], settings, workdir / "work")
    return document, settings, workdir


@pytest.mark.slow
def test_binding_study_of_a_small_pair(nmp_pf6):
    document, settings, _ = nmp_pf6
    assert document["complete"] and document["method"] == "GFN2-xTB"
    names = [r["placement"] for r in document["placements"]]
    assert {"axial", "end-C", "end-O"} <= set(names)
    for r in document["placements"]:
        assert r["converged"], r["placement"]
        assert r["relaxation"]["fmax_ev_per_angstrom"] < settings.fmax_ev_per_angstrom
        # an anion binds a polar molecule in the gas phase, by tenths of an eV
        assert -2.0 < r["binding_energy_ev"] < -0.1, r
        parts = r["interaction_energy_ev"] + r["deformation_host_ev"] + r["deformation_guest_ev"]
        assert parts == pytest.approx(r["binding_energy_ev"], abs=1e-8)
        # fragments were relaxed to their minima: deforming them costs energy
        assert r["deformation_host_ev"] > -0.01 and r["deformation_guest_ev"] > -0.01
        assert r["bonding"]["intact"]
        assert -1.0 <= r["guest_charge_in_complex_e"] < -0.7
    best = min(document["placements"], key=lambda r: r["binding_energy_ev"])
    assert document["lowest"] == document["lowest_intact"] == best["placement"]
    table = summary_table(document)
    assert list(table["placement"]) == names
    assert table["lowest"].sum() == 1
    assert table.loc[table["lowest"], "binding_energy_kj_per_mol"].iloc[0] == pytest.approx(
        best["binding_energy_ev"] * 96.485, rel=1e-3
    )


@pytest.mark.slow
def test_finished_placements_are_reused_not_recomputed(nmp_pf6, fragments, monkeypatch):
    document, settings, workdir = nmp_pf6

    def no_relax(*args, **kwargs):
        raise AssertionError("a finished placement was relaxed again")

    monkeypatch.setattr(xtb_binding, "relax", no_relax)
    again = binding_study(fragments["NMP"], fragments["PF6"], settings, workdir / "work")
    assert [r["binding_energy_ev"] for r in again["placements"]] == [
        r["binding_energy_ev"] for r in document["placements"]
    ]


@pytest.mark.slow
def test_stored_document_is_reused_only_when_it_matches(nmp_pf6, fragments, tmp_path):
    document, settings, _ = nmp_pf6
    stored = tmp_path / "NMP_PF6.json"
    stored.write_text(json.dumps(document))
    reused = run_pair(
        fragments["NMP"], fragments["PF6"], settings, workdir=tmp_path / "w", reuse=stored
    )
    assert reused["source"] == f"reused {stored}"
    assert not (tmp_path / "w").exists()
    looser = BindingSettings(fmax_ev_per_angstrom=0.05)
    with pytest.raises(StructureError, match="NMP_PF6.json: computed for other fragments"):
        run_pair(fragments["NMP"], fragments["PF6"], looser, workdir=tmp_path / "w", reuse=stored)
    stored.write_text(json.dumps({**document, "complete": False}))
    with pytest.raises(StructureError, match="NMP_PF6.json: incomplete"):
        load_binding_document(stored, binding_key(fragments["NMP"], fragments["PF6"], settings))


@pytest.mark.slow
def test_outputs_geometries_dft_inputs_and_comparison(nmp_pf6, tmp_path):
    document, _, _ = nmp_pf6
    write_pair_outputs(
        document,
        out_json=tmp_path / "binding.json",
        out_csv=tmp_path / "binding.csv",
        structures_dir=tmp_path / "structures",
        inputs_dir=tmp_path / "dft_inputs",
        dft_settings={"method": "pbe0", "basis": "def2-SVP", "dispersion": "d3bj"},
    )
    lowest = document["lowest"]
    xyz = (tmp_path / "structures" / f"complex_{lowest}.xyz").read_text().splitlines()
    assert int(xyz[0]) == 23 and "GFN2-xTB" in xyz[1]
    nwchem = tmp_path / "dft_inputs" / "nwchem" / lowest
    orca = tmp_path / "dft_inputs" / "orca" / lowest
    # complex, both fragments, both fragments in the complex's basis
    assert len(list(nwchem.glob("*.nw"))) == 5 and len(list(orca.glob("*.inp"))) == 5
    complex_nw = (nwchem / f"complex_{lowest}.nw").read_text()
    assert "charge -1" in complex_nw and "pbe0" in complex_nw.lower()
    assert "* xyz -1 1" in (orca / "PF6.inp").read_text()

    write_binding_comparison(
        {"NMP_PF6": tmp_path / "binding.json"},
        tmp_path / "comparison.csv",
        paper=PAPER["binding_ti6_pf6"],
    )
    table = pd.read_csv(tmp_path / "comparison.csv")
    assert list(table["binding_energy_ev"])[-1] == -0.993
    assert "GFN2-xTB" in table["method"].iloc[0] and "paper" in table["structure"].iloc[-1]


def test_committed_ti6_pf6_document_matches_fresh_single_points(fragments):
    """structures/binding/Ti6HPAB_PF6.json: reused by the default run; its energies hold."""
    settings = BindingSettings()
    key = binding_key(fragments["Ti6HPAB"], fragments["PF6"], settings)
    document = load_binding_document(COMMITTED, key)
    assert document["lowest"] is not None
    for r in document["placements"]:
        assert r["converged"] and r["relaxation"]["fmax_ev_per_angstrom"] < 0.01
    best = next(r for r in document["placements"] if r["placement"] == document["lowest"])
    symbols = document["host"]["symbols"] + document["guest"]["symbols"]
    fresh = singlepoint(symbols, np.asarray(best["positions_angstrom"]), charge=-1)
    assert fresh.energy_ev == pytest.approx(best["energy_complex_ev"], abs=1e-4)
    pf6 = singlepoint(
        document["guest"]["symbols"], np.asarray(document["guest"]["positions_angstrom"]), -1
    )
    assert pf6.energy_ev == pytest.approx(document["guest"]["energy_ev"], abs=1e-4)
    binding = fresh.energy_ev - document["host"]["energy_ev"] - pf6.energy_ev
    assert binding == pytest.approx(best["binding_energy_ev"], abs=1e-4)


@pytest.mark.slow
def test_xtb_binding_rules_end_to_end(workflow, tmp_path):
    """The binding rules only: NMP + PF6- from the tiny config, then the comparison table."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["binding_xtb"] = {
        "placements": ["axial", "ends"],
        "pairs": {"NMP_PF6": {"host": "NMP", "guest": "PF6"}},
    }
    targets = ["results/binding_xtb/NMP_PF6/binding.csv", "results/report/binding_comparison.csv"]
    run = workflow(config, directory=tmp_path).run("--cores", "2", *targets, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    table = pd.read_csv(tmp_path / targets[0])
    assert "side" not in set(table["placement"]) and "axial" in set(table["placement"])
    assert table["converged"].all() and (table["binding_energy_ev"] < 0).all()
    comparison = pd.read_csv(tmp_path / targets[1])
    assert comparison["pair"].iloc[0] == "NMP_PF6"
    assert comparison["binding_energy_ev"].iloc[-1] == -0.993
    inputs = tmp_path / "results/binding_xtb/NMP_PF6/dft_inputs"
    assert list((inputs / "nwchem").iterdir()) and list((inputs / "orca").iterdir())
    assert not (tmp_path / "results/binding_xtb/NMP_PF6/work").exists()
