"""3D views of a run: a typical Li+ first shell, and a cluster with its nearest anions.

Static renderings (matplotlib's 3D axes), chosen over an interactive viewer embedded in
the HTML report: they need no JavaScript library (the report must open offline and in
years), they go into papers as SVG or PDF like every other figure, and a molecule's
structure files (the trajectory, ``prod_final.pdb``) stay available for any viewer a
reader prefers.  What is drawn is chosen from the data, never by hand:

* :func:`typical_shell`: in the last frame, a Li+ whose first shell has the composition
  seen most often over the run (the first of ``shell_type_fractions`` in
  ``solvation.json``), with every partner molecule whole, by the partners' cutoffs of
  that record; if no Li+ has it in the last frame, the Li+ of the most common composition
  there.
* :func:`cluster_neighbourhood`: in the last frame, a cluster molecule and the
  ``n_anions`` anions whose nearest atom is closest to it.

Coordinates are unwrapped around the centre atom (minimum image), so molecules cut by the
box edge are drawn whole.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import MDAnalysis
import numpy as np
from ase.data import atomic_numbers, covalent_radii
from ase.data.colors import jmol_colors
from MDAnalysis.core.groups import AtomGroup
from MDAnalysis.core.universe import Universe
from MDAnalysis.lib.distances import capped_distance, distance_array, minimize_vectors

from electrolyte_md.analysis.solvation import shell_label
from electrolyte_md.errors import AnalysisError
from electrolyte_md.plots import new_figure, save_figure

__all__ = [
    "cluster_neighbourhood",
    "render_atoms",
    "typical_shell",
    "write_cluster_view",
    "write_shell_view",
]

#: Drawn radius of an atom, as a share of its covalent radius (ASE's table).
RADIUS_SCALE = 0.45


def _residues_near(centre: AtomGroup, ligand: AtomGroup, cutoff: float) -> AtomGroup:
    """Whole residues of ``ligand`` atoms within ``cutoff`` of ``centre`` (minimum image)."""
    pairs = capped_distance(
        centre.positions, ligand.positions, max_cutoff=cutoff, box=centre.dimensions,
        return_distances=False,
    )  # fmt: skip
    if len(pairs) == 0:
        return centre.universe.atoms[[]]
    return ligand[np.unique(pairs[:, 1])].residues.atoms


def typical_shell(universe: Universe, solvation: Mapping[str, Any]) -> tuple[AtomGroup, str, int]:
    """Atoms of a typical Li+ first shell in the last frame (module docstring).

    Parameters
    ----------
    universe
        The run's topology and trajectory.
    solvation
        The run's ``solvation.json`` record (``cation_residue``, ``partner_details`` with
        each partner's ``selection`` and ``cutoff_angstrom``, ``shell_type_fractions``).

    Returns
    -------
    (AtomGroup, str, int)
        The Li+ with its shell molecules, the shell's composition label, and the Li+'s
        atom index.
    """
    universe.trajectory[-1]
    li = universe.select_atoms(f"resname {solvation['cation_residue']}")
    if len(li) == 0:
        raise AnalysisError(f"no atom of residue {solvation['cation_residue']} in the run")
    details = solvation["partner_details"]
    names = list(details)
    groups = {name: universe.select_atoms(details[name]["selection"]) for name in names}
    shells = []
    for atom in li:
        centre = universe.atoms[[atom.ix]]
        members = {
            name: _residues_near(centre, groups[name], float(details[name]["cutoff_angstrom"]))
            for name in names
        }
        counts = [len(members[name].residues) for name in names]
        shells.append((atom.ix, shell_label(counts, names), members))
    wanted = next(iter(solvation.get("shell_type_fractions") or {}), None)
    chosen = next((s for s in shells if s[1] == wanted), None)
    if chosen is None:
        common = Counter(label for _, label, _ in shells).most_common(1)[0][0]
        chosen = next(s for s in shells if s[1] == common)
    index, label, members = chosen
    atoms = universe.atoms[[index]]
    for group in members.values():
        atoms = atoms | group
    return atoms, label, index


def cluster_neighbourhood(
    universe: Universe, cluster_residue: str, anion_selection: str, n_anions: int = 3
) -> tuple[AtomGroup, list[float]]:
    """A cluster molecule and its ``n_anions`` nearest anions in the last frame, with the
    anions' nearest-atom distances (Å) to it."""
    universe.trajectory[-1]
    cluster = universe.select_atoms(f"resname {cluster_residue}")
    anions = universe.select_atoms(anion_selection)
    if len(cluster) == 0 or len(anions) == 0:
        raise AnalysisError(
            f"no cluster ({cluster_residue}) or no anion ({anion_selection}) in the run"
        )
    cluster = cluster.residues[0].atoms
    distances = distance_array(cluster.positions, anions.positions, box=universe.dimensions)
    nearest_of_atom = distances.min(axis=0)
    by_residue: dict[int, float] = {}
    for atom, d in zip(anions, nearest_of_atom, strict=True):
        by_residue[atom.resindex] = min(d, by_residue.get(atom.resindex, np.inf))
    closest = sorted(by_residue, key=by_residue.get)[:n_anions]
    atoms = cluster
    for resindex in closest:
        atoms = atoms | universe.residues[resindex].atoms
    return atoms, [float(by_residue[r]) for r in closest]


def _unwrapped(atoms: AtomGroup, centre: np.ndarray) -> np.ndarray:
    """Positions of ``atoms`` as minimum images around ``centre`` (any box shape)."""
    return centre + minimize_vectors(atoms.positions - centre, atoms.dimensions)


def render_atoms(
    atoms: AtomGroup,
    centre: np.ndarray,
    title: str,
    paths: Sequence[str | Path],
    highlight: int | None = None,
) -> None:
    """Ball-and-stick view of ``atoms`` (bonds from the topology), unwrapped around
    ``centre``, written to each of ``paths`` (PNG, SVG or PDF)."""
    positions = _unwrapped(atoms, np.asarray(centre, dtype=float)) - centre
    elements = [e or str(name)[:1] for e, name in zip(_elements(atoms), atoms.names, strict=True)]
    figure = new_figure((5.5, 5.5))
    axis = figure.add_subplot(projection="3d")
    index_of = {ix: k for k, ix in enumerate(atoms.ix)}
    try:
        topology_bonds = atoms.bonds
    except Exception:  # a topology without bonds (MDAnalysis raises NoDataError): atoms only
        topology_bonds = []
    bonds = [
        (index_of[b[0].ix], index_of[b[1].ix])
        for b in topology_bonds
        if b[0].ix in index_of and b[1].ix in index_of
    ]
    for i, j in bonds:
        axis.plot(*positions[[i, j]].T, color="#808080", lw=1.2)
    seen = set()
    for element in dict.fromkeys(elements):
        mask = np.array([e == element for e in elements])
        number = atomic_numbers.get(element, 0)
        color = jmol_colors[number] if number else (0.63, 0.63, 0.63)  # unknown: grey
        radius = RADIUS_SCALE * covalent_radii[number]
        axis.scatter(*positions[mask].T, s=480 * radius, color=color,
                     edgecolors="black", linewidths=0.3, depthshade=True,
                     label=element if element not in seen else None)  # fmt: skip
        seen.add(element)
    if highlight is not None and highlight in index_of:
        centre_atom = positions[index_of[highlight]]
        axis.scatter(*centre_atom, s=400, facecolors="none", edgecolors="black")
    span = float(np.abs(positions).max()) + 1.0
    for setter in (axis.set_xlim, axis.set_ylim, axis.set_zlim):
        setter(-span, span)
    axis.set_box_aspect((1, 1, 1))
    axis.set_xlabel("x (Å)")
    axis.set_ylabel("y (Å)")
    axis.set_zlabel("z (Å)")
    axis.legend(fontsize="small", loc="upper left")
    axis.set_title(title, fontsize="medium")
    for path in paths:
        save_figure(figure, path)


def _elements(atoms: AtomGroup) -> list[str]:
    try:
        return [str(e).capitalize() for e in atoms.elements]
    except Exception:  # no element attribute in the topology (NoDataError): from the names
        return ["" for _ in atoms]


def write_shell_view(
    topology: str | Path,
    trajectory: str | Path,
    solvation_json: str | Path,
    paths: Sequence[str | Path],
    title: str,
) -> str:
    """:func:`typical_shell` of a run rendered to ``paths``; returns the shell's label."""
    universe = MDAnalysis.Universe(str(topology), str(trajectory))
    record = json.loads(Path(solvation_json).read_text(encoding="utf-8"))
    atoms, label, index = typical_shell(universe, record)
    render_atoms(
        atoms,
        universe.atoms[index].position,
        f"{title}\nLi+ with {label} (the most common shell), last frame",
        paths,
        highlight=index,
    )
    return label


def write_cluster_view(
    topology: str | Path,
    trajectory: str | Path,
    cluster_residue: str,
    anion_selection: str,
    paths: Sequence[str | Path],
    title: str,
    n_anions: int = 3,
) -> list[float]:
    """:func:`cluster_neighbourhood` of a run rendered to ``paths``; returns the anions'
    nearest distances (Å)."""
    universe = MDAnalysis.Universe(str(topology), str(trajectory))
    atoms, distances = cluster_neighbourhood(universe, cluster_residue, anion_selection, n_anions)
    cluster = atoms.select_atoms(f"resname {cluster_residue}")
    shown = ", ".join(f"{d:.1f}" for d in distances)
    render_atoms(
        atoms,
        cluster.center_of_geometry(),
        f"{title}\n{cluster_residue} and its {len(distances)} nearest anions ({shown} Å), "
        "last frame",
        paths,
    )
    return distances
