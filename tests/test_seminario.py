"""The Seminario projection against force constants known by construction."""

import math

import numpy as np

from electrolyte_md.cluster.seminario import angle_force_constant, bond_force_constant


def _numerical_hessian(energy, x: np.ndarray, step: float = 1e-4) -> np.ndarray:
    n = x.size
    hessian = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            values = []
            for di, dj in ((step, step), (step, -step), (-step, step), (-step, -step)):
                y = x.copy()
                y[i] += di
                y[j] += dj
                values.append(energy(y))
            hessian[i, j] = (values[0] - values[1] - values[2] + values[3]) / (4 * step * step)
    return hessian


def test_diatomic_spring_is_recovered_exactly():
    k, r0 = 12.5, 1.9
    a, b = np.zeros(3), np.array([1.1, 1.2, 0.9]) / np.linalg.norm([1.1, 1.2, 0.9]) * r0

    def energy(x):
        return 0.5 * k * (np.linalg.norm(x[3:] - x[:3]) - r0) ** 2

    hessian = _numerical_hessian(energy, np.concatenate([a, b]))
    assert math.isclose(bond_force_constant(hessian[:3, 3:], a, b), k, rel_tol=1e-4)


def test_triatomic_bond_and_angle_constants():
    """A bent triatomic with bond springs k_b and an angle spring k_theta.

    Seminario's projection is not exact when bond and angle terms share atoms; published
    comparisons put its angle constants within about 10-20 % of the fitted ones. The
    test holds it to 5 % on bonds and 15 % on the angle.
    """
    k_bond, r0, k_angle, theta0 = 30.0, 1.0, 5.0, math.radians(104.5)

    def energy(x):
        a, b, c = x.reshape(3, 3)
        r1, r2 = np.linalg.norm(a - b), np.linalg.norm(c - b)
        theta = math.acos(np.dot(a - b, c - b) / r1 / r2)
        return (
            0.5 * k_bond * ((r1 - r0) ** 2 + (r2 - r0) ** 2) + 0.5 * k_angle * (theta - theta0) ** 2
        )

    b = np.zeros(3)
    a = np.array([r0, 0.0, 0.0])
    c = np.array([r0 * math.cos(theta0), r0 * math.sin(theta0), 0.0])
    hessian = _numerical_hessian(energy, np.concatenate([a, b, c]))

    def block(p, q):
        return hessian[3 * p : 3 * p + 3, 3 * q : 3 * q + 3]

    assert math.isclose(bond_force_constant(block(0, 1), a, b), k_bond, rel_tol=0.05)
    assert math.isclose(bond_force_constant(block(2, 1), c, b), k_bond, rel_tol=0.05)
    k_theta = angle_force_constant(block(0, 1), block(2, 1), a, b, c)
    assert math.isclose(k_theta, k_angle, rel_tol=0.15)


def test_linear_angle_gives_a_finite_constant():
    k_bond, r0, k_angle = 20.0, 1.0, 3.0

    def energy(x):
        a, b, c = x.reshape(3, 3)
        r1, r2 = np.linalg.norm(a - b), np.linalg.norm(c - b)
        cosine = np.clip(np.dot(a - b, c - b) / r1 / r2, -1.0, 1.0)
        # 1 - cos(theta - pi) is smooth at 180 degrees
        return 0.5 * k_bond * ((r1 - r0) ** 2 + (r2 - r0) ** 2) + k_angle * (1 + cosine)

    a, b, c = np.array([-r0, 0, 0.0]), np.zeros(3), np.array([r0, 0, 0.0])
    hessian = _numerical_hessian(energy, np.concatenate([a, b, c]))
    k_theta = angle_force_constant(hessian[0:3, 3:6], hessian[6:9, 3:6], a, b, c)
    assert math.isfinite(k_theta) and k_theta > 0
