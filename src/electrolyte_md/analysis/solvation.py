"""Li+ first solvation shells: composition, shell types and ion-pair classes.

The main entry point is :class:`SolvationShells`, an MDAnalysis
:class:`~MDAnalysis.analysis.base.AnalysisBase`.  For every analysed frame and every
Li+ it counts the *molecules* (residues) of each shell partner -- solvent, anion,
additive -- that have at least one selected atom within that partner's cutoff
(typically the first minimum of the Li-X g(r) from :mod:`electrolyte_md.analysis.rdf`),
and classifies the Li+ as SSIP, CIP, MCIP or AGG.  Its tables and JSON-ready record, and
the job that runs it on a run's files with the partners and cutoffs of the run's RDF
records (:func:`~electrolyte_md.analysis.coordination.analyze_solvation`), live in
:mod:`electrolyte_md.analysis.coordination`.

Distances are minimum-image distances in the frame's periodic box
(:func:`MDAnalysis.lib.distances.capped_distance`), so wrapped and unwrapped
coordinates give the same answer.  Lengths are in Å.

Why not the ``solvation_analysis`` package: version 0.4.2 installs next to the pinned
stack without changing a pinned version, but it brings six more packages (statsmodels,
plotly, narwhals, patsy, formulaic, interface-meta) and declares pytest and rdkit as
run-time dependencies; its ion-pairing output (``Networking.solute_status``:
isolated / paired / networked, by connected Li-anion networks) is not the per-Li
SSIP/CIP/AGG definition used here, and it gives no block standard errors.  The counting
below is a few lines on top of MDAnalysis' neighbour search.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
from MDAnalysis.analysis.base import AnalysisBase
from MDAnalysis.core.groups import AtomGroup
from MDAnalysis.core.universe import Universe
from MDAnalysis.lib.distances import capped_distance

from electrolyte_md.analysis.frames import half_min_width_angstrom
from electrolyte_md.errors import AnalysisError

__all__ = [
    "ANION_CLASSES",
    "ION_PAIR_CLASSES",
    "SolvationShells",
    "shell_label",
]

#: Per-Li+ classes, in the order of their integer codes in ``results.ion_pair_classes``.
ION_PAIR_CLASSES = ("SSIP", "CIP", "MCIP", "AGG")
#: Per-anion classes: no Li+ in contact, exactly one, two or more.
ANION_CLASSES = ("free", "CIP", "AGG")

_SSIP, _CIP, _MCIP, _AGG = range(4)


def _block_sem(per_frame: np.ndarray, n_blocks: int) -> np.ndarray:
    """Standard error from contiguous block means (ddof=1); NaN if frames < blocks."""
    per_frame = np.asarray(per_frame, dtype=np.float64)
    if per_frame.shape[0] < n_blocks:
        return np.full(per_frame.shape[1:], np.nan)
    means = np.stack([block.mean(axis=0) for block in np.array_split(per_frame, n_blocks)])
    return np.std(means, axis=0, ddof=1) / math.sqrt(n_blocks)


def shell_label(counts: Sequence[int], partner_names: Sequence[str]) -> str:
    """Human-readable shell composition, e.g. ``"3 NMP + 1 PF6"`` (``"empty"`` if none).

    Parameters
    ----------
    counts : sequence of int
        Number of molecules of each partner in the shell.
    partner_names : sequence of str
        Partner names, in the same order (the order of the label).
    """
    parts = [f"{int(n)} {name}" for n, name in zip(counts, partner_names, strict=True) if n]
    return " + ".join(parts) if parts else "empty"


class SolvationShells(AnalysisBase):
    r"""First-shell composition and ion-pair class of every Li+ in every frame.

    **Counting.**  For each partner ``name: (selection, cutoff_angstrom)`` a molecule
    (residue) is in the shell of a Li+ if at least one of its selected atoms lies within
    ``cutoff_angstrom`` of the Li+ (minimum image, distance <= cutoff).  Molecules are
    counted once however many of their atoms are inside: a PF6- with two F in the shell
    is one PF6-, a Ti6 cluster with three O in the shell is one cluster.

    **Ion-pair classes (per Li+, per frame).**  With the anion partners named in
    ``anions``:

    - ``SSIP`` (solvent-separated ion pair): no anion in the Li+ first shell;
    - ``CIP`` (contact ion pair): exactly one anion in the shell, and that anion is in
      the first shell of no other Li+;
    - ``AGG`` (aggregate): at least one anion in the shell is also in the first shell
      of another Li+ (it bridges two or more Li+);
    - ``MCIP`` (multiple contact ion pair): two or more anions in the shell, none
      shared with another Li+, e.g. Li(PF6)2-.  The standard three-class scheme leaves
      this case undefined; it is kept separate so that CIP keeps its one-anion meaning
      (MCIP + CIP is the "contact, not aggregated" total).

    The four fractions sum to 1.  The same frames also give the usual per-anion classes
    (``ANION_CLASSES``): an anion in contact with no Li+ (``free``), with exactly one
    (``CIP``), with two or more (``AGG``).

    Parameters
    ----------
    universe : MDAnalysis.Universe
        System with a periodic box.
    li_selection : str or MDAnalysis.core.groups.AtomGroup
        The Li+ atoms (e.g. ``"resname LI"``), each a shell centre.
    partners : Mapping[str, tuple[str or AtomGroup, float]]
        Partner name -> (atoms that define contact, cutoff in Å), e.g.
        ``{"NMP": ("resname NMP and name O", 2.8), "PF6": ("resname PF6 and name F",
        2.7)}``.  The cutoffs usually come from the first minimum of the Li-X g(r).
        Different partners must not share residues (a molecule counted twice).
    anions : sequence of str
        Names of the partners that are anions (at least one), e.g. ``["PF6"]``.
    n_blocks : int, default 5
        Contiguous blocks of frames for block standard errors.
    verbose : bool, default False
        Show MDAnalysis' progress bar.

    Raises
    ------
    AnalysisError
        Empty selections, a non-positive cutoff or one beyond half the box width
        (minimum image), an anion name that is not a partner, partners sharing
        residues, Li+ atoms among the partners, no periodic box, ``n_blocks < 2``.

    Attributes
    ----------
    results.partner_names, results.anion_names : list of str
    results.cutoffs_angstrom : dict[str, float]
    results.li_atom_indices : numpy.ndarray
        Atom indices of the Li+ (order of the per-Li arrays).
    results.shell_counts : numpy.ndarray
        ``(n_frames, n_li, n_partners)`` molecules of each partner in each shell.
    results.mean_shell_counts, results.mean_shell_counts_sem : dict[str, float]
        Mean number of molecules of each partner per Li+ (over Li+ and frames) and its
        block standard error.
    results.coordination_number, results.coordination_number_sem : float
        Mean number of partner molecules of all kinds per Li+, and its block SEM.
    results.per_li_mean_counts : numpy.ndarray
        ``(n_li, n_partners)`` mean over frames, per Li+.
    results.shell_type_fractions : dict[str, float]
        Shell label (:func:`shell_label`) -> fraction of all Li+ shells over all
        frames, most frequent first.
    results.ion_pair_classes : numpy.ndarray
        ``(n_frames, n_li)`` integer codes into ``ION_PAIR_CLASSES``.
    results.ion_pair_fractions, results.ion_pair_fractions_sem : dict[str, float]
        Fraction of Li+ in each class (over Li+ and frames) and its block SEM.
    results.ion_pair_fractions_per_frame : numpy.ndarray
        ``(n_frames, 4)`` class fractions in each frame.
    results.anion_pair_fractions, results.anion_pair_fractions_sem : dict
        Anion name -> {``free``, ``CIP``, ``AGG``} -> fraction of those anions (over
        anions and frames) and its block SEM.
    results.n_frames, results.n_li, results.n_blocks : int
    """

    def __init__(
        self,
        universe: Universe,
        li_selection: str | AtomGroup,
        partners: Mapping[str, tuple[str | AtomGroup, float]],
        anions: Sequence[str],
        n_blocks: int = 5,
        verbose: bool = False,
    ) -> None:
        if not isinstance(universe, Universe):
            raise AnalysisError(
                f"SolvationShells needs an MDAnalysis Universe, got {type(universe).__name__}"
            )
        dimensions = universe.dimensions
        if dimensions is None or not np.all(np.asarray(dimensions[:3]) > 0):
            raise AnalysisError(
                "SolvationShells: the system has no periodic box; shells are counted with "
                "minimum-image distances, which need one"
            )
        half_width = half_min_width_angstrom(dimensions)
        li = self._select(universe, li_selection, "Li selection")
        if not isinstance(partners, Mapping) or not partners:
            raise AnalysisError(
                "partners must be a non-empty mapping name -> (selection, cutoff_angstrom)"
            )
        self._partner_groups: list[AtomGroup] = []
        self._cutoffs: list[float] = []
        self._partner_residue_index: list[np.ndarray] = []
        self._n_partner_residues: list[int] = []
        seen_residues: dict[int, str] = {}
        for name, spec in partners.items():
            try:
                selection, cutoff = spec
            except (TypeError, ValueError) as exc:
                raise AnalysisError(
                    f"partner {name!r} must be (selection, cutoff_angstrom), got {spec!r}"
                ) from exc
            group = self._select(universe, selection, f"partner {name!r}")
            try:
                cutoff = float(cutoff)
            except (TypeError, ValueError) as exc:
                raise AnalysisError(f"partner {name!r}: cutoff {cutoff!r} is not a number") from exc
            if not (math.isfinite(cutoff) and cutoff > 0):
                raise AnalysisError(f"partner {name!r}: cutoff must be > 0 Å, got {cutoff}")
            if cutoff > half_width:
                raise AnalysisError(
                    f"partner {name!r}: cutoff {cutoff:g} Å exceeds half the smallest box "
                    f"width ({half_width:g} Å); the minimum-image convention breaks beyond it"
                )
            if np.intersect1d(group.ix, li.ix).size:
                raise AnalysisError(
                    f"partner {name!r} contains Li atoms of the Li selection; a Li+ cannot be "
                    "its own shell partner"
                )
            residues, local = np.unique(group.resindices, return_inverse=True)
            for resindex in residues.tolist():
                if resindex in seen_residues:
                    raise AnalysisError(
                        f"partners {seen_residues[resindex]!r} and {name!r} share residue "
                        f"index {resindex}: a molecule would be counted twice; make the "
                        "selections disjoint by residue"
                    )
                seen_residues[resindex] = str(name)
            self._partner_groups.append(group)
            self._cutoffs.append(cutoff)
            self._partner_residue_index.append(local)
            self._n_partner_residues.append(len(residues))
        self._names = [str(name) for name in partners]
        if isinstance(anions, str):
            anions = [anions]
        anions = [str(a) for a in anions]
        if not anions:
            raise AnalysisError(
                "anions must name at least one partner (e.g. ['PF6']) for SSIP/CIP/AGG"
            )
        unknown = [a for a in anions if a not in self._names]
        if unknown:
            raise AnalysisError(f"anions {unknown} are not partners; partners are {self._names}")
        if isinstance(n_blocks, bool) or not isinstance(n_blocks, int | np.integer):
            raise AnalysisError(f"n_blocks must be an integer, got {n_blocks!r}")
        if n_blocks < 2:
            raise AnalysisError(f"n_blocks must be >= 2 for a standard error, got {n_blocks}")

        super().__init__(universe.trajectory, verbose=verbose)
        self.li = li
        self.anions = anions
        self._anion_columns = [self._names.index(a) for a in anions]
        self.n_blocks = int(n_blocks)

    @staticmethod
    def _select(universe: Universe, selection: str | AtomGroup, label: str) -> AtomGroup:
        if isinstance(selection, AtomGroup):
            group = selection
            if group.universe is not universe:
                raise AnalysisError(f"{label}: the atom group belongs to another universe")
        elif isinstance(selection, str):
            try:
                group = universe.select_atoms(selection)
            except Exception as exc:  # MDAnalysis raises several types for bad syntax
                raise AnalysisError(f"{label}: invalid selection {selection!r}: {exc}") from exc
        else:
            raise AnalysisError(
                f"{label} must be a selection string or AtomGroup, got {type(selection).__name__}"
            )
        if group.n_atoms == 0:
            shown = selection if isinstance(selection, str) else "the atom group"
            raise AnalysisError(
                f"{label} {shown!r} matched no atoms; check it against the topology's "
                "residue and atom names"
            )
        return group

    def _prepare(self) -> None:
        n_li, n_partners = self.li.n_atoms, len(self._names)
        self._counts = np.zeros((self.n_frames, n_li, n_partners), dtype=np.int16)
        self._classes = np.zeros((self.n_frames, n_li), dtype=np.int8)
        self._anion_li_counts: list[list[np.ndarray]] = [[] for _ in self.anions]

    def _single_frame(self) -> None:
        dimensions = self._ts.dimensions
        if dimensions is None or not np.all(np.asarray(dimensions[:3]) > 0):
            raise AnalysisError(f"SolvationShells: frame {self._ts.frame} has no periodic box")
        half_width = half_min_width_angstrom(dimensions)
        i = self._frame_index
        n_li = self.li.n_atoms
        li_positions = self.li.positions
        shared = np.zeros(n_li, dtype=bool)
        for p, group in enumerate(self._partner_groups):
            cutoff = self._cutoffs[p]
            if cutoff > half_width:
                raise AnalysisError(
                    f"partner {self._names[p]!r}: cutoff {cutoff:g} Å exceeds half the box "
                    f"width ({half_width:g} Å) in frame {self._ts.frame}"
                )
            pairs = capped_distance(
                li_positions,
                group.positions,
                max_cutoff=cutoff,
                box=dimensions,
                return_distances=False,
            )
            n_res = self._n_partner_residues[p]
            residue = self._partner_residue_index[p][pairs[:, 1]]
            contact = np.unique(pairs[:, 0].astype(np.int64) * n_res + residue)  # (li, mol)
            li_of, residue_of = contact // n_res, contact % n_res
            self._counts[i, :, p] = np.bincount(li_of, minlength=n_li)
            if p in self._anion_columns:
                li_per_anion = np.bincount(residue_of, minlength=n_res)
                self._anion_li_counts[self._anion_columns.index(p)].append(li_per_anion)
                shared[li_of[li_per_anion[residue_of] >= 2]] = True
        n_anion = self._counts[i][:, self._anion_columns].sum(axis=1)
        classes = np.full(n_li, _SSIP, dtype=np.int8)
        classes[n_anion == 1] = _CIP
        classes[n_anion >= 2] = _MCIP
        classes[shared] = _AGG
        self._classes[i] = classes

    def _conclude(self) -> None:
        n_frames = self.n_frames
        if n_frames == 0:
            raise AnalysisError("SolvationShells: no frames were analysed")
        counts, classes = self._counts, self._classes
        names = self._names
        res = self.results
        res.partner_names = list(names)
        res.anion_names = list(self.anions)
        res.cutoffs_angstrom = dict(zip(names, self._cutoffs, strict=True))
        res.li_atom_indices = self.li.ix.copy()
        res.shell_counts = counts
        res.n_frames = int(n_frames)
        res.n_li = int(self.li.n_atoms)
        res.n_blocks = self.n_blocks

        per_frame_mean = counts.mean(axis=1)  # (n_frames, n_partners)
        res.mean_shell_counts_per_frame = per_frame_mean
        res.times_ps = np.asarray(self.times, dtype=float)
        sem = _block_sem(per_frame_mean, self.n_blocks)
        res.mean_shell_counts = {
            name: float(per_frame_mean[:, p].mean()) for p, name in enumerate(names)
        }
        res.mean_shell_counts_sem = {name: float(sem[p]) for p, name in enumerate(names)}
        total = per_frame_mean.sum(axis=1)
        res.coordination_number = float(total.mean())
        res.coordination_number_sem = float(_block_sem(total[:, None], self.n_blocks)[0])
        res.per_li_mean_counts = counts.mean(axis=0)

        tally = Counter(map(tuple, counts.reshape(-1, len(names)).tolist()))
        n_shells = counts.shape[0] * counts.shape[1]
        res.shell_type_fractions = {
            shell_label(key, names): value / n_shells
            for key, value in sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
        }

        res.ion_pair_classes = classes
        per_frame_classes = np.stack(
            [(classes == code).mean(axis=1) for code in range(len(ION_PAIR_CLASSES))], axis=1
        )
        class_sem = _block_sem(per_frame_classes, self.n_blocks)
        res.ion_pair_fractions_per_frame = per_frame_classes
        res.ion_pair_fractions = {
            label: float(per_frame_classes[:, k].mean()) for k, label in enumerate(ION_PAIR_CLASSES)
        }
        res.ion_pair_fractions_sem = {
            label: float(class_sem[k]) for k, label in enumerate(ION_PAIR_CLASSES)
        }

        res.anion_pair_fractions = {}
        res.anion_pair_fractions_sem = {}
        for a, name in enumerate(self.anions):
            li_counts = np.stack(self._anion_li_counts[a])  # (n_frames, n_anions)
            per_frame = np.stack(
                [(li_counts == 0).mean(axis=1), (li_counts == 1).mean(axis=1)], axis=1
            )
            per_frame = np.column_stack([per_frame, (li_counts >= 2).mean(axis=1)])
            anion_sem = _block_sem(per_frame, self.n_blocks)
            res.anion_pair_fractions[name] = {
                label: float(per_frame[:, k].mean()) for k, label in enumerate(ANION_CLASSES)
            }
            res.anion_pair_fractions_sem[name] = {
                label: float(anion_sem[k]) for k, label in enumerate(ANION_CLASSES)
            }
        self._anion_li_counts = [[] for _ in self.anions]
