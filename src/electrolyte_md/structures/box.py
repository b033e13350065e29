"""Composition of an electrolyte box and its packing with Packmol.

Sizing rule (stated in the report): the user fixes the number of solvent molecules and
the salt molarity (mol per litre of *solution*). The solution volume is estimated by
ideal mixing of the pure liquids (solvent densities) and the salts' crystal molar
volumes (salt densities), plus the additives at their densities:

    V = sum_s N_s M_s / rho_s + sum_salt n_salt M_salt / rho_salt + sum_a N_a M_a / rho_a

and the number of salt formula units solves n / (N_A V) = c. Counts are rounded to
integers, so the concentration actually obtained is recomputed and written out; the
real density then comes from the NPT equilibration.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from electrolyte_md.errors import ConfigError, StructureError
from electrolyte_md.io import TimeLimit, atomic_copy, run_program, write_json
from electrolyte_md.units import ANGSTROM3_PER_CM3, ANGSTROM3_PER_LITRE, AVOGADRO_PER_MOL

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SaltSpec:
    """A salt: cation and anion species, molarity, and crystal density for the volume estimate."""

    name: str
    cation: str
    anion: str
    concentration_mol_per_l: float
    density_g_per_cm3: float


@dataclass
class Composition:
    """Molecule counts and box of one system.

    Attributes
    ----------
    system
        System name.
    counts
        Number of molecules per species, in packing order.
    box_length_angstrom
        Edge of the cubic box at the estimated density.
    estimated_density_g_per_cm3
        Ideal-mixing estimate used to size the box.
    salt_concentration_mol_per_l
        Per salt, the molarity requested and the one obtained after rounding counts.
    net_charge_e
        Sum of formal charges times counts (must be 0).
    """

    system: str
    counts: dict[str, int]
    box_length_angstrom: float
    estimated_density_g_per_cm3: float
    total_mass_g_per_mol: float
    salt_concentration_mol_per_l: dict[str, dict[str, float]]
    net_charge_e: int
    n_atoms: int

    def to_json(self, path: Path) -> None:
        write_json(path, asdict(self))

    @classmethod
    def from_json(cls, path: Path | str) -> Composition:
        return cls(**json.loads(Path(path).read_text()))


def _molecular_volume_angstrom3(molar_mass_g_per_mol: float, density_g_per_cm3: float) -> float:
    return molar_mass_g_per_mol / density_g_per_cm3 / AVOGADRO_PER_MOL * ANGSTROM3_PER_CM3


def salt_stoichiometry(cation_charge: int, anion_charge: int) -> tuple[int, int]:
    """Smallest neutral (n_cation, n_anion) for the given ion charges, e.g. (1, 2) for MgTFSI2."""
    if cation_charge <= 0 or anion_charge >= 0:
        raise ConfigError(
            f"a salt needs a positive cation and a negative anion "
            f"(got charges {cation_charge:+d} and {anion_charge:+d})"
        )
    g = math.gcd(cation_charge, -anion_charge)
    return -anion_charge // g, cation_charge // g


def compute_composition(
    system: str,
    solvents: dict[str, float],
    n_solvent_molecules: int,
    salts: list[SaltSpec],
    additives: dict[str, int],
    molar_mass: dict[str, float],
    charge: dict[str, int],
    n_atoms: dict[str, int],
    density: dict[str, float],
) -> Composition:
    """Molecule counts and cubic box edge for a solution (see the module docstring).

    Parameters
    ----------
    system
        Name, for messages.
    solvents
        Species name -> volume fraction of the solvent mixture (v/v, normalised here).
    n_solvent_molecules
        Total number of solvent molecules.
    salts
        Salts and their molarities.
    additives
        Species name -> number of molecules.
    molar_mass, charge, n_atoms
        Per species: g/mol, formal charge (e), atoms per molecule.
    density
        Per solvent and additive species: density in g/cm3 used for the volume estimate.
    """
    if n_solvent_molecules < 1:
        raise ConfigError(f"system '{system}': n_solvent_molecules must be >= 1")
    total_fraction = sum(solvents.values())
    if total_fraction <= 0:
        raise ConfigError(f"system '{system}': solvent volume fractions must sum to > 0")
    # v/v fractions -> mole fractions: moles of i are proportional to phi_i rho_i / M_i
    mole_weight = {s: phi * density[s] / molar_mass[s] for s, phi in solvents.items()}
    weight_sum = sum(mole_weight.values())
    counts: dict[str, int] = {}
    remaining = n_solvent_molecules
    names = list(solvents)
    for i, s in enumerate(names):
        n = (
            remaining
            if i == len(names) - 1
            else round(n_solvent_molecules * mole_weight[s] / weight_sum)
        )
        counts[s] = n
        remaining -= n
    solvent_volume = sum(
        counts[s] * _molecular_volume_angstrom3(molar_mass[s], density[s]) for s in solvents
    )
    additive_volume = sum(
        n * _molecular_volume_angstrom3(molar_mass[a], density[a]) for a, n in additives.items()
    )
    base_volume = solvent_volume + additive_volume

    salt_units: dict[str, int] = {}
    salt_unit_volume: dict[str, float] = {}
    for salt in salts:
        nu_cation, nu_anion = salt_stoichiometry(charge[salt.cation], charge[salt.anion])
        unit_mass = nu_cation * molar_mass[salt.cation] + nu_anion * molar_mass[salt.anion]
        salt_unit_volume[salt.name] = _molecular_volume_angstrom3(unit_mass, salt.density_g_per_cm3)
    # n_i = c_i N_A V, V = base + sum_j n_j v_j  ->  V = base / (1 - sum_j c_j N_A v_j)
    number_density = {
        salt.name: salt.concentration_mol_per_l * AVOGADRO_PER_MOL / ANGSTROM3_PER_LITRE
        for salt in salts
    }
    packing = sum(number_density[s.name] * salt_unit_volume[s.name] for s in salts)
    if packing >= 1.0:
        raise ConfigError(
            f"system '{system}': the salt concentrations leave no room for solvent "
            "(the salts alone would fill the volume)"
        )
    volume = base_volume / (1.0 - packing)
    for salt in salts:
        units = round(number_density[salt.name] * volume)
        if salt.concentration_mol_per_l > 0 and units == 0:
            raise ConfigError(
                f"system '{system}': {salt.concentration_mol_per_l} mol/L of {salt.name} "
                f"rounds to zero ion pairs with {n_solvent_molecules} solvent molecules; "
                "use more solvent molecules"
            )
        salt_units[salt.name] = units
        nu_cation, nu_anion = salt_stoichiometry(charge[salt.cation], charge[salt.anion])
        counts[salt.cation] = counts.get(salt.cation, 0) + nu_cation * units
        counts[salt.anion] = counts.get(salt.anion, 0) + nu_anion * units
    for additive, n in additives.items():
        counts[additive] = counts.get(additive, 0) + n

    volume = base_volume + sum(salt_units[s.name] * salt_unit_volume[s.name] for s in salts)
    mass = sum(n * molar_mass[s] for s, n in counts.items())
    net_charge = sum(n * charge[s] for s, n in counts.items())
    if net_charge != 0:
        raise ConfigError(
            f"system '{system}': the box is not neutral (net charge {net_charge:+d} e); "
            "check the additives' charges"
        )
    obtained = {
        salt.name: {
            "requested": salt.concentration_mol_per_l,
            "obtained": salt_units[salt.name] / AVOGADRO_PER_MOL / (volume / ANGSTROM3_PER_LITRE),
            "formula_units": salt_units[salt.name],
        }
        for salt in salts
    }
    return Composition(
        system=system,
        counts=counts,
        box_length_angstrom=volume ** (1.0 / 3.0),
        estimated_density_g_per_cm3=mass / AVOGADRO_PER_MOL / (volume / ANGSTROM3_PER_CM3),
        total_mass_g_per_mol=mass,
        salt_concentration_mol_per_l=obtained,
        net_charge_e=net_charge,
        n_atoms=sum(n * n_atoms[s] for s, n in counts.items()),
    )


#: Packmol's time limit: PACKMOL_BASE_S + PACKMOL_PER_ATOM_S x atoms in the box. Measured
#: with the default tolerance on 2 shared cores (docs/models.md): the default box (1,688
#: atoms) 2.6 s, config/config.production.yaml's (16,856 atoms) 36 s, so the limit is
#: 25-80x a normal packing; the time grows slightly faster than the atoms (x14 for x10),
#: which the margin covers up to millions of atoms. A packing that cannot succeed (a
#: tolerance the density does not allow) otherwise runs for hours.
PACKMOL_BASE_S = 120.0
PACKMOL_PER_ATOM_S = 0.05

# Packmol's messages (Packmol 21.2.3, the pinned wheel), quoted from its output:
# " Packmol was not able to find a solution to your"
# " packing problem with the desired distance tolerance."
# "  ENDED WITHOUT PERFECT PACKING: "                       (exit status 173)
_NO_SOLUTION = ("ENDED WITHOUT PERFECT PACKING", "not able to find a solution")
# "  ERROR: Packmol was unable to put the molecules"
# "         in the desired regions even without"
# "         considering distance tolerances. "               (exit status 173)
_NO_ROOM = "unable to put the molecules"


def packmol_time_limit(composition: Composition) -> TimeLimit:
    """Time limit of Packmol for a box, by its number of atoms."""
    n = composition.n_atoms
    return TimeLimit(
        seconds=PACKMOL_BASE_S + PACKMOL_PER_ATOM_S * n,
        basis=f"{n} atoms in {sum(composition.counts.values())} molecules: "
        f"{PACKMOL_BASE_S:g} s + {PACKMOL_PER_ATOM_S:g} s per atom",
        remedy=(
            "a box this size packs in a small fraction of that (docs/models.md), so the "
            "molecules most likely cannot be placed that far apart at the estimated "
            "density: lower packing.tolerance_angstrom (2.0 is usual), check the "
            "densities (density_g_per_cm3) that size the box, or try another packing.seed"
        ),
    )


def _extent_angstrom(pdb: Path) -> float:
    """Largest distance between two atoms of a PDB file."""
    xyz = [
        (float(line[30:38]), float(line[38:46]), float(line[46:54]))
        for line in Path(pdb).read_text().splitlines()
        if line.startswith(("ATOM", "HETATM"))
    ]
    return max((math.dist(a, b) for a in xyz for b in xyz), default=0.0)


def _packmol_failure(
    composition: Composition,
    output: str,
    molecule_pdbs: dict[str, Path],
    tolerance_angstrom: float,
) -> str:
    """Packmol's known failures in words, naming the system and the remedy."""
    system, length = composition.system, composition.box_length_angstrom
    size = f"{length:.2f} A box ({composition.n_atoms} atoms)"
    if _NO_ROOM in output:
        extents = {
            s: _extent_angstrom(molecule_pdbs[s]) for s, n in composition.counts.items() if n
        }
        largest = max(extents, key=extents.get)
        return (
            f"Packmol could not place the molecules of system {system} inside its {size} "
            f"even without the distance tolerance: the largest, {largest}, spans "
            f"{extents[largest]:.1f} A. Use more molecules (systems.{system}."
            "n_solvent_molecules) so that the box is larger, and check the densities "
            "(density_g_per_cm3) that size it"
        )
    if any(marker in output for marker in _NO_SOLUTION):
        return (
            f"Packmol could not pack system {system} with every pair of atoms at least "
            f"{tolerance_angstrom:g} A apart in its {size}: the molecules do not fit that "
            "far apart at the estimated density. Lower packing.tolerance_angstrom (2.0 is "
            "usual), try another packing.seed, or check the densities "
            "(density_g_per_cm3) that size the box"
        )
    tail = "\n".join(output.strip().splitlines()[-10:])
    return (
        f"Packmol did not pack system {system} within tolerance {tolerance_angstrom} A in "
        f"a {size}:\n{tail}"
    )


def pack_box(
    composition: Composition,
    molecule_pdbs: dict[str, Path],
    out_pdb: Path,
    *,
    tolerance_angstrom: float = 2.0,
    seed: int = 1234,
    time_limit: TimeLimit | None = None,
) -> None:
    """Pack the molecules into a periodic cubic box with Packmol.

    Packmol's ``pbc`` keyword (Packmol >= 20.15) makes the tolerance hold across the
    periodic boundaries, so no vacuum margin is needed and the box keeps the estimated
    density. The box edge is written as a CRYST1 record. ``out_pdb`` appears whole, or
    not at all if Packmol fails.

    Parameters
    ----------
    time_limit
        Packmol's wall-clock limit; by default :func:`packmol_time_limit`.

    Raises
    ------
    StructureError
        If Packmol fails, runs past its time limit or does not reach a packing within
        tolerance (the message says which, for the system, and what to change).
    """
    length = composition.box_length_angstrom
    lines = [
        f"tolerance {tolerance_angstrom}",
        f"seed {seed}",
        "filetype pdb",
        "output packed.pdb",
        f"pbc 0. 0. 0. {length:.4f} {length:.4f} {length:.4f}",
        "",
    ]
    with tempfile.TemporaryDirectory(prefix=f"packmol-{composition.system}-") as tmp:
        workdir = Path(tmp)
        for species, n in composition.counts.items():
            if n == 0:
                continue
            local = workdir / f"{species}.pdb"
            local.write_text(Path(molecule_pdbs[species]).read_text())
            lines += [
                f"structure {local.name}",
                f"  number {n}",
                f"  inside box 0. 0. 0. {length:.4f} {length:.4f} {length:.4f}",
                "end structure",
                "",
            ]
        (workdir / "pack.inp").write_text("\n".join(lines))
        log = workdir / "packmol.log"
        try:
            output = run_program(
                ["packmol"],
                cwd=workdir,
                stdin_path=workdir / "pack.inp",
                error=StructureError,
                what=f"Packmol for system {composition.system}",
                log_path=log,
                time_limit=time_limit or packmol_time_limit(composition),
            )
        except StructureError as failure:
            text = log.read_text() if log.exists() else ""
            if getattr(failure, "time_limit", None) is not None or not text:
                raise
            raise StructureError(
                _packmol_failure(composition, text, molecule_pdbs, tolerance_angstrom)
            ) from None
        if "Success!" not in output or not (workdir / "packed.pdb").exists():
            raise StructureError(
                _packmol_failure(composition, output, molecule_pdbs, tolerance_angstrom)
            )
        packed = [
            line
            for line in (workdir / "packed.pdb").read_text().splitlines()
            if line.startswith(("ATOM", "HETATM", "TER"))
        ]
        edges = f"{length:9.3f}" * 3
        cryst = f"CRYST1{edges}{90.0:7.2f}{90.0:7.2f}{90.0:7.2f} P 1           1"
        (workdir / "box.pdb").write_text("\n".join([cryst, *packed, "END"]) + "\n")
        atomic_copy(workdir / "box.pdb", out_pdb)


def composition_for_system(
    system: str,
    system_spec: dict,
    salts_spec: dict,
    species_spec: dict,
    infos: dict,
) -> Composition:
    """:func:`compute_composition` from configuration blocks and built species records.

    Parameters
    ----------
    system
        System name.
    system_spec
        ``systems.<system>`` of the configuration.
    salts_spec
        ``salts`` of the configuration.
    species_spec
        ``species`` of the configuration (for densities).
    infos
        Species name -> :class:`~electrolyte_md.structures.species.SpeciesInfo` of every species
        in the system.
    """
    salts = [
        SaltSpec(
            name=salt,
            cation=salts_spec[salt]["cation"],
            anion=salts_spec[salt]["anion"],
            concentration_mol_per_l=float(concentration),
            density_g_per_cm3=float(salts_spec[salt]["density_g_per_cm3"]),
        )
        for salt, concentration in system_spec.get("salts", {}).items()
    ]
    return compute_composition(
        system,
        solvents={s: float(v) for s, v in system_spec["solvents"].items()},
        n_solvent_molecules=int(system_spec["n_solvent_molecules"]),
        salts=salts,
        additives={a: int(n) for a, n in system_spec.get("additives", {}).items()},
        molar_mass={n: i.molar_mass_g_per_mol for n, i in infos.items()},
        charge={n: i.formal_charge for n, i in infos.items()},
        n_atoms={n: i.n_atoms for n, i in infos.items()},
        density={
            n: float(s["density_g_per_cm3"])
            for n, s in species_spec.items()
            if "density_g_per_cm3" in s
        },
    )
