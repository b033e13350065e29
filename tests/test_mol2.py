import pytest

from electrolyte_md import mol2


@pytest.mark.parametrize("target", [0.0, -1.0, 0.8, -0.8, 2.0])
def test_integral_charges_sum_exactly(target):
    charges = [0.096300, -0.491800, 0.092, -0.0934, -0.1584, 0.6985, -0.6285] + [0.042367] * 9
    fixed = mol2.integral_charges(charges, target)
    units = sum(round(q * mol2.CHARGE_UNITS_PER_E) for q in fixed)
    assert units == round(target * mol2.CHARGE_UNITS_PER_E)
    # the correction is spread evenly, so no charge moves by more than the drift
    drift = abs(sum(charges) - target)
    assert max(abs(a - b) for a, b in zip(fixed, charges, strict=True)) <= drift + 1e-6


def test_rewrite_keeps_everything_but_charges(built_species, tmp_path):
    src = built_species["NMP"] / "params" / "ff.mol2"
    atoms = mol2.read_atoms(src)
    new = [0.5 * a.charge for a in atoms]
    mol2.write_with_charges(src, tmp_path / "x.mol2", new)
    rewritten = mol2.read_atoms(tmp_path / "x.mol2")
    assert [a.charge for a in rewritten] == pytest.approx(new, abs=1e-6)
    assert [(a.name, a.atom_type, a.x) for a in rewritten] == [
        (a.name, a.atom_type, a.x) for a in atoms
    ]
    bonds = lambda path: path.read_text().split("@<TRIPOS>BOND")[1]  # noqa: E731
    assert bonds(tmp_path / "x.mol2") == bonds(src)


def test_charge_count_mismatch_is_an_error(built_species, tmp_path):
    src = built_species["NMP"] / "params" / "ff.mol2"
    with pytest.raises(Exception, match="16 atoms but 3 charges"):
        mol2.write_with_charges(src, tmp_path / "x.mol2", [0.0, 0.0, 0.0])
