"""Central-difference gradient checks (float64) of every layer, activation, loss, L2, and engine.gradcheck."""
from __future__ import annotations

import numpy as np
import pytest

from engine import (
    MSE, BinaryCrossEntropy, Dense, Dropout, LeakyReLU, ReLU, Sequential, Sigmoid, Softmax,
    SoftmaxCrossEntropy, Tanh, check_parameters, neuron_entries, relative_error,
)
from engine import model as model_module
from grad_helpers import assert_grad, numeric_grad, rel_error

SHAPES = [(1, 1), (3, 4), (5, 2), (7, 3), (2, 6)]  # (m, n): batch × features


def away_from_zero(rng, shape, margin: float = 1e-3) -> np.ndarray:
    """Normal values pushed at least ``margin`` away from 0, so ±ε never crosses a ReLU kink."""
    Z = rng.standard_normal(shape)
    return np.where(Z >= 0, Z + margin, Z - margin) * 1.0


# -- layers: f = Σ(out ⊙ G) ---------------------------------------------------------------

@pytest.mark.parametrize("m,n_in,n_out", [(1, 1, 1), (4, 3, 2), (6, 5, 4), (3, 2, 7)])
@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_dense_gradients(m, n_in, n_out, l2):
    rng = np.random.default_rng(100 * m + 10 * n_in + n_out)
    layer = Dense(n_in, n_out, seed=1)
    layer.b = rng.standard_normal(n_out)
    layer.l2 = l2
    X = rng.standard_normal((m, n_in))
    G = rng.standard_normal((m, n_out))

    def f():
        # the layer's L2 term belongs to the model loss: (λ/2m)·‖W‖², differentiated with dW
        return float(np.sum(layer.forward(X) * G)) + l2 / (2 * m) * float(np.sum(layer.W ** 2))

    layer.forward(X)
    dX = layer.backward(G)
    dW, db = layer.dW.copy(), layer.db.copy()
    assert_grad("dX", dX, numeric_grad(f, X))
    assert_grad("dW", dW, numeric_grad(f, layer.W))
    assert_grad("db", db, numeric_grad(f, layer.b))


def test_dense_first_layer_skips_dX():
    layer = Dense(3, 2, seed=0)
    layer.need_dX = False
    layer.forward(np.ones((4, 3)))
    assert layer.backward(np.ones((4, 2))) is None
    np.testing.assert_array_equal(layer.db, np.full(2, 4.0))


@pytest.mark.parametrize("m,n", SHAPES)
@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_gradient_with_fixed_mask(m, n, p):
    rng = np.random.default_rng(m * 31 + n)
    layer = Dropout(p)
    A = rng.standard_normal((m, n))
    G = rng.standard_normal((m, n))

    def forward():
        layer.rng = np.random.default_rng(7)  # the same mask every call
        return layer.forward(A)

    def f():
        return float(np.sum(forward() * G))

    D = forward()
    M = layer.M
    assert set(np.unique(M)) <= {0.0, 1.0 / (1.0 - p)}, f"mask values {np.unique(M)}"
    np.testing.assert_array_equal(D, A * M)
    dA = layer.backward(G)
    assert_grad("dA (dropout)", dA, numeric_grad(f, A))
    np.testing.assert_array_equal(dA, G * M)


def test_dropout_eval_is_identity():
    layer = Dropout(0.5, seed=0)
    layer.training = False
    A = np.arange(6.0).reshape(2, 3)
    assert layer.forward(A) is A
    G = np.ones((2, 3))
    np.testing.assert_array_equal(layer.backward(G), G)


# -- activations --------------------------------------------------------------------------

ACTIVATIONS = {
    "relu": ReLU,
    "leakyrelu": lambda: LeakyReLU(0.1),
    "leakyrelu_default": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "softmax": Softmax,
}


@pytest.mark.parametrize("m,n", SHAPES)
@pytest.mark.parametrize("kind", list(ACTIVATIONS))
def test_activation_gradients(kind, m, n):
    rng = np.random.default_rng([list(ACTIVATIONS).index(kind), m, n])  # stable across runs
    act = ACTIVATIONS[kind]()
    Z = away_from_zero(rng, (m, n)) * 2.0
    assert np.min(np.abs(Z)) > 1e-3
    G = rng.standard_normal((m, n))

    def f():
        return float(np.sum(act.forward(Z) * G))

    act.forward(Z)
    dZ = act.backward(G)
    assert_grad(f"dZ ({kind})", dZ, numeric_grad(f, Z))


def test_activation_values():
    Z = np.array([[-2.0, -0.5, 0.5, 3.0]])
    np.testing.assert_array_equal(ReLU().forward(Z), [[0.0, 0.0, 0.5, 3.0]])
    np.testing.assert_allclose(LeakyReLU(0.1).forward(Z), [[-0.2, -0.05, 0.5, 3.0]], rtol=1e-15)
    np.testing.assert_allclose(Sigmoid().forward(Z), 1 / (1 + np.exp(-Z)), rtol=1e-14)
    np.testing.assert_allclose(Tanh().forward(Z), np.tanh(Z), rtol=1e-15)
    e = np.exp(Z)
    np.testing.assert_allclose(Softmax().forward(Z), e / e.sum(), rtol=1e-14)


# -- losses: f = L ------------------------------------------------------------------------

@pytest.mark.parametrize("m,k", SHAPES)
def test_mse_gradient(m, k):
    rng = np.random.default_rng(m * 17 + k)
    loss = MSE()
    A = rng.standard_normal((m, k))
    Y = rng.standard_normal((m, k))
    L = loss.forward(A, Y)
    np.testing.assert_allclose(L, np.mean((A - Y) ** 2), rtol=1e-14)
    dA = loss.backward()
    assert_grad("dA (MSE)", dA, numeric_grad(lambda: loss.forward(A, Y), A))


@pytest.mark.parametrize("m,k", [(1, 2), (3, 4), (5, 2), (7, 3), (2, 6)])
@pytest.mark.parametrize("labels", ["int", "onehot"])
def test_softmax_cross_entropy_gradient(m, k, labels):
    rng = np.random.default_rng(m * 13 + k)
    loss = SoftmaxCrossEntropy()
    Z = rng.standard_normal((m, k)) * 2
    y = rng.integers(0, k, m)
    Y = y if labels == "int" else np.eye(k)[y]
    L = loss.forward(Z, Y)
    logP = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    L_ref = -np.mean(logP[np.arange(m), y])
    assert abs(L - L_ref) <= 1e-13 * max(1.0, abs(L_ref)), f"L mine={L!r} reference={L_ref!r}"
    dZ = loss.backward()
    assert_grad(f"dZ (softmax CE, {labels} labels)", dZ, numeric_grad(lambda: loss.forward(Z, Y), Z))


@pytest.mark.parametrize("m,k", [(1, 1), (4, 1), (6, 1), (3, 3), (5, 2)])
@pytest.mark.parametrize("targets", ["binary", "soft"])
def test_binary_cross_entropy_gradient(m, k, targets):
    rng = np.random.default_rng(m * 7 + k)
    loss = BinaryCrossEntropy()
    Z = rng.standard_normal((m, k)) * 2
    Y = rng.integers(0, 2, (m, k)).astype(float) if targets == "binary" else rng.uniform(0, 1, (m, k))
    L = loss.forward(Z, Y)
    P = 1 / (1 + np.exp(-Z))
    L_ref = -np.mean(Y * np.log(P) + (1 - Y) * np.log(1 - P))
    assert abs(L - L_ref) <= 1e-13 * max(1.0, abs(L_ref)), f"L mine={L!r} reference={L_ref!r}"
    dZ = loss.backward()
    assert_grad(f"dZ (BCE, {targets})", dZ, numeric_grad(lambda: loss.forward(Z, Y), Z))


def test_bce_accepts_1d_targets_for_one_column():
    loss = BinaryCrossEntropy()
    Z = np.array([[0.3], [-1.2], [2.0]])
    y = np.array([1, 0, 1])
    assert loss.forward(Z, y) == loss.forward(Z, y[:, None].astype(float))
    assert loss.backward().shape == (3, 1)


# -- the L2 term: dW of a Sequential against the numerical gradient of model.loss --------

@pytest.mark.parametrize("l2", [0.1, 2.5])
@pytest.mark.parametrize("seed", [0, 1])
def test_l2_term_in_sequential(l2, seed):
    rng = np.random.default_rng(seed)
    model = Sequential(Dense(3, 5), Tanh(), Dense(5, 4), seed=seed, l2=l2)
    loss = SoftmaxCrossEntropy()
    X = rng.standard_normal((6, 3))
    y = rng.integers(0, 4, 6)
    L = model.loss(X, y, loss)
    data_L = loss.forward(model.forward(X), y)
    W_sq = sum(float(np.sum(model.param(w).value ** 2)) for w in ("W1", "W2"))
    assert abs(L - (data_L + l2 / (2 * 6) * W_sq)) <= 1e-14 * abs(L), "loss must include (λ/2m)·Σ‖W‖²"
    model.loss(X, y, loss)
    model.backward(loss.backward())
    grads = {p.symbol: p.grad.copy() for p in model.parameters()}
    for p in model.parameters():
        num = numeric_grad(lambda: model.loss(X, y, loss), p.value)
        assert_grad(f"{p.symbol} (l2={l2})", grads[p.symbol], num)


# -- engine.gradcheck ---------------------------------------------------------------------

def _mlp(seed=0, l2=0.0, first=Dense):
    return Sequential(first(3, 4), ReLU(), Dense(4, 3), seed=seed, l2=l2)


def _data(seed=0, m=8):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, 3)), rng.integers(0, 3, m)


def _all_entries(model):
    return [(p.symbol, i) for p in model.parameters() for i in np.ndindex(*p.value.shape)]


@pytest.mark.parametrize("l2", [0.0, 0.5])
def test_check_parameters_passes_on_correct_model(l2):
    model = _mlp(seed=3, l2=l2)
    X, y = _data(3)
    rows = check_parameters(model, SoftmaxCrossEntropy(), X, y, _all_entries(model))
    assert len(rows) == 3 * 4 + 4 + 4 * 3 + 3
    for r in rows:
        if r.kink:
            continue
        assert r.rel_error <= 1e-7 and r.verdict == "excellent", (
            f"{r.parameter}: analytic={r.analytic!r} numerical={r.numerical!r} rel={r.rel_error:.2e}")
    assert sum(not r.kink for r in rows) >= len(rows) - 2
    assert rows[0].parameter == "W1[0,0]" and rows[-1].parameter == "b2[2]"


def test_check_parameters_flags_wrong_dW_and_keeps_model(monkeypatch):
    class ScaledDense(Dense):
        """A planted bug: dW comes out 10% too large."""

        def backward(self, dZ):
            dX = super().backward(dZ)
            self.dW = self.dW * 1.1
            return dX

    monkeypatch.setitem(model_module.LAYER_TYPES, "ScaledDense", ScaledDense)
    model = _mlp(seed=4, first=ScaledDense)
    X, y = _data(4)
    before = {p.name: p.value.copy() for p in model.parameters()}
    rng_state = model.rng.bit_generator.state
    rows = check_parameters(model, SoftmaxCrossEntropy(), X, y, _all_entries(model))
    by_name = {r.parameter: r for r in rows}
    for r in rows:
        if r.parameter.startswith("W1") and abs(r.numerical) > 1e-6 and not r.kink:
            assert r.rel_error > 1e-2 and r.verdict == "wrong", (
                f"{r.parameter}: should be flagged; analytic={r.analytic!r} numerical={r.numerical!r}")
            np.testing.assert_allclose(r.analytic, 1.1 * r.numerical, rtol=1e-6)
        elif not r.kink:
            assert r.rel_error <= 1e-7, f"{r.parameter} is correct but got rel={r.rel_error:.2e}"
    assert any(by_name[f"W1[{i},{j}]"].verdict == "wrong" for i in range(3) for j in range(4))
    for p in model.parameters():
        assert np.array_equal(p.value, before[p.name]), f"check_parameters changed {p.name}"
    assert model.rng.bit_generator.state == rng_state


def test_check_parameters_flags_wrong_relu_mask(monkeypatch):
    def wrong_backward(self, dA):
        return dA * (self.Z >= -0.5)  # the mask lets through gradient where the neuron did not fire

    model = _mlp(seed=5)
    X, y = _data(5)
    rows_ok = check_parameters(model, SoftmaxCrossEntropy(), X, y, neuron_entries(model, "dense1", 0))
    monkeypatch.setattr(ReLU, "backward", wrong_backward)
    rows = [r for j in range(4)
            for r in check_parameters(model, SoftmaxCrossEntropy(), X, y, neuron_entries(model, "dense1", j))]
    worst = max(rows, key=lambda r: r.rel_error)
    assert worst.rel_error > 1e-2, f"a wrong ReLU mask went unflagged; worst {worst}"
    assert all(r.rel_error <= 1e-7 for r in rows_ok if not r.kink), rows_ok


def test_check_parameters_does_not_touch_float32_model():
    model = _mlp(seed=6).astype(np.float32)
    X, y = _data(6)
    before = [p.value.copy() for p in model.parameters()]
    rows = check_parameters(model, SoftmaxCrossEntropy(), X, y, [("W2", (1, 2)), ("dense1.b", (0,))])
    assert [r.parameter for r in rows] == ["W2[1,2]", "b1[0]"]
    for p, b in zip(model.parameters(), before):
        assert p.value.dtype == np.float32 and np.array_equal(p.value, b)
    assert all(r.rel_error <= 1e-7 for r in rows if not r.kink), rows


def test_check_parameters_detects_kink():
    model = Sequential(Dense(2, 2), ReLU(), Dense(2, 1), seed=0)
    # neuron 0 of dense1 sits exactly at Z = 0 for the first example; neuron 1 is far from 0
    model.param("W1").value = np.array([[0.5, 1.0], [-0.25, 1.0]])
    model.param("b1").value = np.array([0.0, 0.5])
    model.param("W2").value = np.array([[2.0], [1.0]])
    X = np.array([[1.0, 2.0], [3.0, 1.0]])
    Y = np.array([[1.0], [0.0]])
    Z1 = X @ model.param("W1").value + model.param("b1").value
    assert Z1[0, 0] == 0.0
    rows = check_parameters(model, MSE(), X, Y, [("b1", (0,)), ("b1", (1,)), ("W2", (1, 0))])
    kink = {r.parameter: r.kink for r in rows}
    assert kink == {"b1[0]": True, "b1[1]": False, "W2[1,0]": False}, rows
    assert rows[1].rel_error <= 1e-7 and rows[2].rel_error <= 1e-7, rows
    # at the kink the one-sided slopes differ, so the central difference disagrees with backward,
    # which takes the slope of 1[Z > 0] = 0 for the first example and counts only the second
    assert rows[0].rel_error > 1e-2, rows[0]


def test_neuron_entries():
    model = _mlp()
    assert neuron_entries(model, "dense1", 2) == [("W1", (0, 2)), ("W1", (1, 2)), ("W1", (2, 2)), ("b1", (2,))]
    assert neuron_entries(model, "dense2", 0) == [("W2", (k, 0)) for k in range(4)] + [("b2", (0,))]
    with pytest.raises(IndexError, match="0..3"):
        neuron_entries(model, "dense1", 4)
    with pytest.raises(ValueError, match="no weights"):
        neuron_entries(model, "relu1", 0)
    with pytest.raises(KeyError, match="dense9"):
        neuron_entries(model, "dense9", 0)


def test_relative_error_and_verdicts():
    assert relative_error(0.0, 0.0) == 0.0
    assert relative_error(1.0, 1.0) == 0.0
    assert relative_error(1.0, -1.0) == 1.0
    assert relative_error(1.1, 1.0) == pytest.approx(0.1 / 2.1)
    from engine.gradcheck import verdict
    assert verdict(1e-9) == "excellent"
    assert verdict(1e-5).startswith("acceptable")
    assert verdict(1e-3).startswith("suspicious")
    assert verdict(0.5) == "wrong"
