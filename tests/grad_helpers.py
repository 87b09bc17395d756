"""Central-difference gradients and a labelled relative-error assertion, shared by the gradient tests.

Written independently of engine.gradcheck on purpose: the tests check the engine, its gradcheck
included, against this reference.
"""
from __future__ import annotations

import numpy as np

TOL = 1e-7


def numeric_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """∂f/∂x for every entry of ``x`` by central differences; ``x`` is perturbed in place and restored."""
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(*x.shape):
        old = x[i]
        x[i] = old + eps
        f_plus = f()
        x[i] = old - eps
        f_minus = f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def rel_error(analytic, numerical) -> float:
    """‖a − n‖ / (‖a‖ + ‖n‖), 0 when both are 0: the scale-free error of engine.gradcheck over a whole array."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numerical, np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(n)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - n) / denom)


def assert_grad(name: str, analytic, numerical, tol: float = TOL) -> None:
    """Shapes equal and relative error ≤ tol, printing mine and the reference on failure."""
    assert np.shape(analytic) == np.shape(numerical), (
        f"{name}: analytic shape {np.shape(analytic)} vs numerical {np.shape(numerical)}")
    err = rel_error(analytic, numerical)
    assert err <= tol, (f"{name}: relative error {err:.3e} > {tol:.0e}\n"
                        f"mine (analytic)  = {np.asarray(analytic)!r}\n"
                        f"reference (num.) = {np.asarray(numerical)!r}")
