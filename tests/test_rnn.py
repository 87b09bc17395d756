"""The recurrent layer (engine.recurrent.RNN): gradient checks, PyTorch parity, trace, files, the seq preset."""
from __future__ import annotations

import numpy as np
import pytest

from engine import RNN, RecordingTracer

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
    a, n = np.asarray(analytic, np.float64), np.asarray(numerical, np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(n)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - n) / denom)


def assert_grad(name: str, analytic, numerical, tol: float = TOL) -> None:
    assert np.shape(analytic) == np.shape(numerical), (
        f"{name}: analytic shape {np.shape(analytic)} vs numerical {np.shape(numerical)}")
    err = rel_error(analytic, numerical)
    assert err <= tol, (f"{name}: relative error {err:.3e} > {tol:.0e}\n"
                        f"mine (analytic)  = {np.asarray(analytic)!r}\n"
                        f"reference (num.) = {np.asarray(numerical)!r}")


def make_rnn(n_in, n_h, seq, seed, l2=0.0):
    rnn = RNN(n_in, n_h, return_sequences=seq, seed=seed)
    rnn.b = np.random.default_rng(seed + 1).normal(0, 0.3, n_h)
    rnn.l2 = l2
    return rnn


# -- gradients: f = Σ(out ⊙ G) (+ the L2 penalty when λ > 0) ---------------------------------

@pytest.mark.parametrize("m,T,n_in,n_h", [(1, 1, 1, 1), (2, 3, 1, 4), (3, 5, 2, 3), (4, 8, 3, 5), (2, 4, 4, 2)])
@pytest.mark.parametrize("seq", [False, True], ids=["many-to-one", "many-to-many"])
@pytest.mark.parametrize("l2", [0.0, 0.4])
def test_rnn_gradients(m, T, n_in, n_h, seq, l2):
    rng = np.random.default_rng(1000 * m + 100 * T + 10 * n_in + n_h)
    rnn = make_rnn(n_in, n_h, seq, seed=T, l2=l2)
    rnn.need_dX = True
    X = rng.standard_normal((m, T, n_in))
    G = rng.standard_normal((m, T, n_h) if seq else (m, n_h))

    def f():
        penalty = l2 / (2 * m) * (np.sum(rnn.Wx ** 2) + np.sum(rnn.Wh ** 2))
        return float(np.sum(rnn.forward(X) * G)) + penalty

    f()
    dX = rnn.backward(G)
    grads = {"dWx": rnn.dWx.copy(), "dWh": rnn.dWh.copy(), "db": rnn.db.copy()}
    assert_grad("dX", dX, numeric_grad(f, X))
    for name in ("Wx", "Wh", "b"):
        assert_grad("d" + name, grads["d" + name], numeric_grad(f, getattr(rnn, name)))


def test_rnn_first_layer_returns_no_dX_and_rejects_bad_shapes():
    rnn = RNN(2, 3, seed=0)
    rnn.need_dX = False
    X = np.ones((4, 5, 2))
    assert rnn.forward(X).shape == (4, 3)
    assert rnn.backward(np.ones((4, 3))) is None
    assert rnn.dWx.shape == (2, 3) and rnn.dWh.shape == (3, 3) and rnn.db.shape == (3,)
    from engine import ShapeError
    with pytest.raises(ShapeError, match=r"\(batch, time, 2\)"):
        rnn.forward(np.ones((4, 2)))
    with pytest.raises(ValueError):
        RNN(0, 3)
