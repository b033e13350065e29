"""Tests of electrolyte_md.analysis.solvation (and its tables in analysis.coordination) on
hand-built configurations with known shells."""

from __future__ import annotations

import json
import math

import MDAnalysis
import numpy as np
import pytest
from MDAnalysis.coordinates.memory import MemoryReader
from MDAnalysis.lib.distances import distance_array

from electrolyte_md.analysis.coordination import (
    shell_composition_table,
    shell_partners,
    shell_type_table,
    summarize_solvation,
)
from electrolyte_md.analysis.solvation import ION_PAIR_CLASSES, SolvationShells, shell_label
from electrolyte_md.analysis.views import render_atoms, typical_shell
from electrolyte_md.errors import AnalysisError

BOX = 40.0
F_BOND = 1.6  # P-F, Å
PARTNERS = {"NMP": ("resname NMP and name O", 2.6), "PF6": ("resname PF6 and name F*", 2.5)}
AXES = np.vstack([np.eye(3), -np.eye(3)])


def nmp(o_position, direction):
    """NMP stand-in: its carbonyl O and a C 1.23 Å further out along ``direction``."""
    o = np.asarray(o_position, dtype=float)
    d = np.asarray(direction, dtype=float) / np.linalg.norm(direction)
    return ("NMP", [("O", o), ("C", o + 1.23 * d)])


def pf6(p_position):
    """Octahedral PF6-: P and six F at 1.6 Å along the axes."""
    p = np.asarray(p_position, dtype=float)
    return ("PF6", [("P", p)] + [(f"F{k + 1}", p + F_BOND * axis) for k, axis in enumerate(AXES)])


def build_configuration():
    """Six Li+ with known shells (NMP O cutoff 2.6 Å, PF6 F cutoff 2.5 Å).

    Returns the residues (Li first) and the expected per-Li classes and shells.
    """
    li = np.array(
        [
            [5.0, 5.0, 5.0],  # 0: 4 NMP                     SSIP
            [15.0, 5.0, 5.0],  # 1: 3 NMP + PF6 A (bidentate)  CIP
            [4.4, 20.0, 5.0],  # 2: 3 NMP + PF6 B (shared)     AGG
            [11.6, 20.0, 5.0],  # 3: 3 NMP + PF6 B + PF6 C      AGG
            [5.0, 35.0, 5.0],  # 4: 2 NMP + PF6 D1 + PF6 D2    MCIP
            [0.5, 30.0, 30.0],  # 5: 3 NMP across the box faces SSIP
        ]
    )
    x, y, z = np.eye(3)
    residues = [("LI", [("Li", p)]) for p in li]
    for d in (x, -x, y, -y):
        residues.append(nmp(li[0] + 2.0 * d, d))
    residues.append(nmp(li[0] + 3.0 * z, z))  # 3.0 Å: outside the 2.6 Å cutoff
    for d in (-x, y, -y):
        residues.append(nmp(li[1] + 2.0 * d, d))
    # Li1 faces an edge of PF6 A: two F at 1.81 Å, the others >= 3.0 Å.
    residues.append(pf6(li[1] + np.array([1.8, 0.0, 1.8])))
    for d in (-x, y, -y):
        residues.append(nmp(li[2] + 2.0 * d, d))
    for d in (x, y, -y):
        residues.append(nmp(li[3] + 2.0 * d, d))
    residues.append(pf6([8.0, 20.0, 5.0]))  # B: F at 2.0 Å from Li2 and from Li3
    residues.append(pf6(li[3] + 3.6 * z))  # C: F at 2.0 Å from Li3 only
    for d in (y, -y):
        residues.append(nmp(li[4] + 2.0 * d, d))
    residues.append(pf6(li[4] + 3.6 * x))  # D1
    residues.append(pf6(li[4] - 3.6 * x))  # D2
    # Li5 at the x = 0 face: O images at 1.5 Å (other side of the box), and O written at
    # unwrapped positions one box length away (as in an unwrapped trajectory).
    residues.append(nmp([39.0, 30.0, 30.0], -x))
    residues.append(nmp([0.5 + BOX, 32.0, 30.0], y))
    residues.append(nmp([0.5, 28.0, 30.0 - BOX], -y))
    residues.append(pf6([30.0, 10.0, 30.0]))  # E: free anion
    expected = {
        "classes": ["SSIP", "CIP", "AGG", "AGG", "MCIP", "SSIP"],
        "nmp": [4, 3, 3, 3, 2, 3],
        "pf6": [0, 1, 1, 2, 2, 0],
        # anions A, B, C, D1, D2, E
        "li_per_anion": [1, 2, 1, 1, 1, 0],
    }
    return residues, expected


def make_universe(residues, frames_offsets=None):
    """Universe of ``residues``; one frame per entry of ``frames_offsets``.

    ``frames_offsets`` is a list of dicts residue index -> translation (Å) applied in
    that frame (default: a single frame, no translation).
    """
    names, resnames, resindex, positions = [], [], [], []
    for r, (resname, atoms) in enumerate(residues):
        resnames.append(resname)
        for name, xyz in atoms:
            names.append(name)
            resindex.append(r)
            positions.append(xyz)
    positions = np.asarray(positions)
    resindex = np.asarray(resindex)
    frames_offsets = frames_offsets or [{}]
    frames = []
    for offsets in frames_offsets:
        frame = positions.copy()
        for r, shift in offsets.items():
            frame[resindex == r] += shift
        frames.append(frame)
    u = MDAnalysis.Universe.empty(
        len(names), n_residues=len(residues), atom_resindex=resindex, trajectory=True
    )
    u.add_TopologyAttr("names", names)
    u.add_TopologyAttr("resnames", resnames)
    dimensions = np.tile([BOX] * 3 + [90.0] * 3, (len(frames), 1))
    u.load_new(np.asarray(frames, dtype=np.float32), format=MemoryReader, dimensions=dimensions)
    return u


def test_constructed_shells_give_known_classes_and_compositions():
    residues, expected = build_configuration()
    u = make_universe(residues)
    res = SolvationShells(u, "resname LI", PARTNERS, anions=["PF6"]).run().results

    assert res.partner_names == ["NMP", "PF6"]
    assert res.n_frames == 1 and res.n_li == 6
    np.testing.assert_array_equal(res.shell_counts[0, :, 0], expected["nmp"])
    np.testing.assert_array_equal(res.shell_counts[0, :, 1], expected["pf6"])
    classes = [ION_PAIR_CLASSES[c] for c in res.ion_pair_classes[0]]
    assert classes == expected["classes"]

    n_li = len(expected["classes"])
    for label in ION_PAIR_CLASSES:
        assert res.ion_pair_fractions[label] == pytest.approx(
            expected["classes"].count(label) / n_li
        )
    assert sum(res.ion_pair_fractions.values()) == pytest.approx(1.0)
    assert res.mean_shell_counts["NMP"] == pytest.approx(np.mean(expected["nmp"]))
    assert res.mean_shell_counts["PF6"] == pytest.approx(np.mean(expected["pf6"]))
    assert res.coordination_number == pytest.approx(
        np.mean(expected["nmp"]) + np.mean(expected["pf6"])
    )
    assert math.isnan(res.ion_pair_fractions_sem["SSIP"])  # 1 frame < 5 blocks

    labels = [
        shell_label((n, p), ["NMP", "PF6"])
        for n, p in zip(expected["nmp"], expected["pf6"], strict=True)
    ]
    assert labels[1] == "3 NMP + 1 PF6"
    assert set(res.shell_type_fractions) == set(labels)
    for label in set(labels):
        assert res.shell_type_fractions[label] == pytest.approx(labels.count(label) / n_li)
    assert next(iter(res.shell_type_fractions)) == "3 NMP + 1 PF6"  # most frequent first

    li_per_anion = np.array(expected["li_per_anion"])
    anion = res.anion_pair_fractions["PF6"]
    assert anion["free"] == pytest.approx(np.mean(li_per_anion == 0))
    assert anion["CIP"] == pytest.approx(np.mean(li_per_anion == 1))
    assert anion["AGG"] == pytest.approx(np.mean(li_per_anion >= 2))


def test_molecules_counted_once_whatever_the_contact_atoms():
    # Counting PF6 by its F atoms (two F of A touch Li1) or by P with a wider cutoff
    # gives one PF6 either way; counting NMP by all its atoms gives the same NMP count.
    residues, expected = build_configuration()
    u = make_universe(residues)
    li1 = u.select_atoms("resname LI")[1]
    fluorines = u.select_atoms("resname PF6 and name F*")
    near = distance_array(li1.position[None], fluorines.positions, box=u.dimensions)[0] <= 2.5
    assert np.count_nonzero(near) == 2 and len(set(fluorines[near].resindices)) == 1
    by_atoms = {"NMP": ("resname NMP", 2.6), "PF6": ("resname PF6", 2.5)}
    res = SolvationShells(u, "resname LI", by_atoms, anions="PF6").run().results
    np.testing.assert_array_equal(res.shell_counts[0, :, 0], expected["nmp"])
    np.testing.assert_array_equal(res.shell_counts[0, :, 1], expected["pf6"])


def test_whole_molecules_shifted_by_box_vectors_change_nothing():
    residues, _ = build_configuration()
    rng = np.random.default_rng(0)
    shifts = {r: BOX * rng.integers(-2, 3, size=3) for r in range(len(residues))}
    u = make_universe(residues, [{}, shifts])
    res = SolvationShells(u, "resname LI", PARTNERS, anions=["PF6"]).run().results
    np.testing.assert_array_equal(res.shell_counts[0], res.shell_counts[1])
    np.testing.assert_array_equal(res.ion_pair_classes[0], res.ion_pair_classes[1])


def test_fractions_over_frames_and_block_standard_errors():
    residues, expected = build_configuration()
    pf6_residues = [r for r, (name, _) in enumerate(residues) if name == "PF6"]
    away = {r: np.array([0.0, 0.0, 20.0]) for r in pf6_residues}  # every anion dissociated
    pattern = [False, False, True, False, True, True, False, True, False, False]
    u = make_universe(residues, [away if moved else {} for moved in pattern])
    res = SolvationShells(u, "resname LI", PARTNERS, anions=["PF6"], n_blocks=5).run().results

    contact = np.array([expected["classes"].count(c) / 6 for c in ION_PAIR_CLASSES])
    dissociated = np.array([1.0, 0.0, 0.0, 0.0])
    per_frame = np.array([dissociated if moved else contact for moved in pattern])
    np.testing.assert_allclose(res.ion_pair_fractions_per_frame, per_frame)
    for k, label in enumerate(ION_PAIR_CLASSES):
        assert res.ion_pair_fractions[label] == pytest.approx(per_frame[:, k].mean())
        block_means = per_frame[:, k].reshape(5, 2).mean(axis=1)
        assert res.ion_pair_fractions_sem[label] == pytest.approx(
            np.std(block_means, ddof=1) / math.sqrt(5)
        )
    n_contact = pattern.count(False)
    assert res.mean_shell_counts["PF6"] == pytest.approx(
        np.mean(expected["pf6"]) * n_contact / len(pattern)
    )
    assert res.anion_pair_fractions["PF6"]["free"] == pytest.approx(
        (n_contact * 1 / 6 + (len(pattern) - n_contact)) / len(pattern)
    )

    table = shell_composition_table(res)
    assert len(table) == 6
    np.testing.assert_allclose(table["mean_NMP"], expected["nmp"])
    np.testing.assert_allclose(
        table["mean_PF6"], np.array(expected["pf6"]) * n_contact / len(pattern)
    )
    assert table.loc[0, "fraction_SSIP"] == pytest.approx(1.0)
    assert table.loc[1, "fraction_CIP"] == pytest.approx(n_contact / len(pattern))
    assert table.loc[1, "most_common_shell"] == "3 NMP + 1 PF6"  # 6 of 10 frames

    types = shell_type_table(res)
    assert list(types.columns) == ["shell", "n_NMP", "n_PF6", "fraction"]
    assert types["fraction"].sum() == pytest.approx(1.0)
    assert types["fraction"].is_monotonic_decreasing

    summary = summarize_solvation(res)
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary
    assert summary["partners"] == {"NMP": 2.6, "PF6": 2.5}
    assert summary["ion_pair_fractions"]["SSIP"] == pytest.approx(res.ion_pair_fractions["SSIP"])
    assert sum(summary["shell_type_fractions"].values()) == pytest.approx(1.0)
    short = summarize_solvation(res, max_shell_types=2)
    assert len(short["shell_type_fractions"]) == 3 and "other" in short["shell_type_fractions"]


def test_bad_input_is_refused_with_a_clear_message():
    residues, _ = build_configuration()
    u = make_universe(residues)
    with pytest.raises(AnalysisError, match="Li selection 'resname XX' matched no atoms"):
        SolvationShells(u, "resname XX", PARTNERS, ["PF6"])
    with pytest.raises(AnalysisError, match="partner 'EC'.*matched no atoms"):
        SolvationShells(u, "resname LI", {"EC": ("resname EC", 2.6)}, ["EC"])
    with pytest.raises(AnalysisError, match=r"anions \['BF4'\] are not partners"):
        SolvationShells(u, "resname LI", PARTNERS, ["BF4"])
    with pytest.raises(AnalysisError, match="at least one"):
        SolvationShells(u, "resname LI", PARTNERS, [])
    with pytest.raises(AnalysisError, match="cutoff must be > 0"):
        SolvationShells(u, "resname LI", {"PF6": ("resname PF6", -1.0)}, ["PF6"])
    with pytest.raises(AnalysisError, match="exceeds half the smallest box width"):
        SolvationShells(u, "resname LI", {"PF6": ("resname PF6", 25.0)}, ["PF6"])
    with pytest.raises(AnalysisError, match="share residue"):
        SolvationShells(
            u,
            "resname LI",
            {"O": ("resname NMP and name O", 2.6), "NMP": ("resname NMP", 2.6), **PARTNERS},
            ["PF6"],
        )
    with pytest.raises(AnalysisError, match="cannot be its own shell partner"):
        SolvationShells(u, "resname LI", {"X": ("resname LI PF6", 2.5)}, ["X"])
    with pytest.raises(AnalysisError, match=r"\(selection, cutoff_angstrom\)"):
        SolvationShells(u, "resname LI", {"PF6": "resname PF6"}, ["PF6"])
    with pytest.raises(AnalysisError, match="n_blocks must be >= 2"):
        SolvationShells(u, "resname LI", PARTNERS, ["PF6"], n_blocks=1)
    no_box = MDAnalysis.Universe.empty(1, trajectory=True)
    with pytest.raises(AnalysisError, match="no periodic box"):
        SolvationShells(no_box, "all", PARTNERS, ["PF6"])


def _rdf_record(pair, ligand, peak, cutoff):
    return {
        "pair": pair,
        "center_selection": "resname LI",
        "ligand_selection": ligand,
        "first_peak_angstrom": peak,
        "cutoff_angstrom": cutoff,
        "cutoff_source": "first minimum",
    }


def test_shell_partners_are_the_nearest_atoms_even_without_a_first_peak():
    # A short run: Li-F found no qualifying peak (None), Li-P and the NMP stand-in's C
    # did; the contact atoms are still F and O, with the cutoffs of their own records.
    residues, _ = build_configuration()
    u = make_universe(residues)
    records = [
        _rdf_record("Li-P", "resname PF6 and name P", 3.2, 4.0),
        _rdf_record("Li-F", "resname PF6 and name F*", None, 2.5),
        _rdf_record("Li-C", "resname NMP and name C", 1.5, 3.5),
        _rdf_record("Li-O", "resname NMP and name O", 2.0, 2.6),
    ]
    partners = shell_partners(u, records, "LI", {"PF6": "PF6", "NMP": "NMP"})
    assert {name: p["pair"] for name, p in partners.items()} == {"PF6": "Li-F", "NMP": "Li-O"}
    assert partners["PF6"]["cutoff_angstrom"] == 2.5
    assert math.isnan(partners["PF6"]["first_peak_angstrom"])
    # Li0 has four O at 2.0 Å; the mean over all Li is what the record says.
    o = u.select_atoms("resname NMP and name O").positions
    li = u.select_atoms("resname LI").positions
    nearest = distance_array(li, o, box=u.dimensions).min(axis=1).mean()
    assert partners["NMP"]["nearest_angstrom"] == pytest.approx(nearest)


def _shell_universe() -> MDAnalysis.Universe:
    """Three Li+ and five two-atom solvent molecules (O, C) in a 30 A box, one frame:
    Li 0 and Li 2 each hold two solvents by their O, Li 1 one; the C atoms point away."""
    li = [[5.0, 5.0, 5.0], [15.0, 15.0, 15.0], [25.0, 5.0, 25.0]]
    o_sites = [(0, [2.0, 0, 0]), (0, [-2.0, 0, 0]), (1, [0, 2.0, 0]), (2, [0, 0, 2.0]),
               (2, [0, 0, -2.0])]  # fmt: skip
    positions = list(li)
    for centre, offset in o_sites:
        o = np.add(li[centre], offset)
        positions += [o, o + 1.3 * np.sign(offset)]
    n = len(positions)
    resindex = [0, 1, 2] + [3 + k // 2 for k in range(n - 3)]
    u = MDAnalysis.Universe.empty(n, n_residues=3 + len(o_sites), atom_resindex=resindex,
                                  trajectory=True)  # fmt: skip
    u.add_TopologyAttr("names", ["LI"] * 3 + ["O", "C"] * len(o_sites))
    u.add_TopologyAttr("elements", ["Li"] * 3 + ["O", "C"] * len(o_sites))
    u.add_TopologyAttr("resnames", ["LI"] * 3 + ["SOL"] * len(o_sites))
    u.add_TopologyAttr("bonds", [(3 + 2 * k, 4 + 2 * k) for k in range(len(o_sites))])
    u.load_new(np.asarray([positions], dtype=np.float32), format=MemoryReader,
               dimensions=[[30.0, 30.0, 30.0, 90.0, 90.0, 90.0]])  # fmt: skip
    return u


def test_typical_shell_is_a_li_with_the_most_common_composition(tmp_path):
    u = _shell_universe()
    record = {
        "cation_residue": "LI",
        "partner_details": {"SOL": {"selection": "resname SOL and name O", "cutoff_angstrom": 2.6}},
        # over the run, "2 SOL" was the most common shell
        "shell_type_fractions": {"2 SOL": 0.7, "1 SOL": 0.3},
    }
    atoms, label, index = typical_shell(u, record)
    assert label == "2 SOL" and index == 0
    # the Li+ and both molecules whole (O and C), nothing else
    assert sorted(atoms.ix.tolist()) == [0, 3, 4, 5, 6]
    record["shell_type_fractions"] = {"3 SOL": 1.0}  # in no Li+ of the last frame
    _, label, _ = typical_shell(u, record)
    assert label == "2 SOL"  # the commonest there instead (2 of 3 Li+)
    paths = [tmp_path / "shell.png", tmp_path / "shell.svg"]
    render_atoms(atoms, u.atoms[index].position, "test", paths, highlight=index)
    assert paths[0].read_bytes().startswith(b"\x89PNG") and b"<svg" in paths[1].read_bytes()[:500]
