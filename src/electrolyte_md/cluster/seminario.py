"""Bond and angle force constants from a Hessian: the Seminario method.

Seminario (Int. J. Quantum Chem. 1996, 60, 1271) projects the 3x3 inter-atomic block of
the Cartesian Hessian onto a bond or angle. MCPB.py (Li & Merz, J. Chem. Inf. Model.
2016, 56, 599) uses it for metal-ligand terms of metal sites; so does this module, for
the Ti-O bonds and the angles around Ti of titanium-oxo clusters.

Conventions: input Hessian blocks in eV/A^2, coordinates in Angstrom; force constants are
returned for E = k/2 (x - x0)^2, in eV/A^2 (bonds) and eV/rad^2 (angles), the
convention of OpenMM's harmonic forces. Amber's frcmod K is k/2 in kcal/mol.
"""

from __future__ import annotations

import numpy as np

__all__ = ["angle_force_constant", "bond_force_constant", "projected_stiffness"]


def projected_stiffness(block: np.ndarray, direction: np.ndarray) -> float:
    """Sum_i lambda_i |u . v_i| for the eigenpairs of ``-block`` (eV/A^2).

    Parameters
    ----------
    block
        The 3x3 Hessian block d^2E / dx_A dx_B between two atoms (eV/A^2).
    direction
        Unit vector to project on.
    """
    # The off-diagonal block of a pair held by a spring k along u is -k u u^T.
    symmetric = -0.5 * (block + block.T)
    eigenvalues, eigenvectors = np.linalg.eigh(symmetric)
    unit = direction / np.linalg.norm(direction)
    return float(
        sum(lam * abs(unit @ vec) for lam, vec in zip(eigenvalues, eigenvectors.T, strict=True))
    )


def bond_force_constant(block_ab: np.ndarray, r_a: np.ndarray, r_b: np.ndarray) -> float:
    """Bond force constant k_AB (eV/A^2) from the A-B Hessian block."""
    return projected_stiffness(block_ab, r_b - r_a)


def _perpendicular(u_ab: np.ndarray, u_cb: np.ndarray) -> np.ndarray:
    normal = np.cross(u_cb, u_ab)
    norm = np.linalg.norm(normal)
    if norm < 1e-3:  # linear angle: any normal will do
        trial = np.array([1.0, 0.0, 0.0]) if abs(u_ab[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        normal = np.cross(u_ab, trial)
        norm = np.linalg.norm(normal)
    return normal / norm


def angle_force_constant(
    block_ab: np.ndarray, block_cb: np.ndarray, r_a: np.ndarray, r_b: np.ndarray, r_c: np.ndarray
) -> float:
    """Angle force constant k_ABC (eV/rad^2) of the angle A-B-C with vertex B.

    ``block_ab`` and ``block_cb`` are the Hessian blocks of the A-B and C-B pairs.
    The angle is treated as two springs in series, one per arm, each the stiffness
    perpendicular to its arm in the plane of the angle times the arm length squared.
    """
    u_ab = (r_a - r_b) / np.linalg.norm(r_a - r_b)
    u_cb = (r_c - r_b) / np.linalg.norm(r_c - r_b)
    u_n = _perpendicular(u_ab, u_cb)
    u_pa = np.cross(u_n, u_ab)
    u_pc = np.cross(u_cb, u_n)
    k_a = np.linalg.norm(r_a - r_b) ** 2 * projected_stiffness(block_ab, u_pa)
    k_c = np.linalg.norm(r_c - r_b) ** 2 * projected_stiffness(block_cb, u_pc)
    if k_a <= 0 or k_c <= 0:
        return float("nan")
    return float(1.0 / (1.0 / k_a + 1.0 / k_c))
