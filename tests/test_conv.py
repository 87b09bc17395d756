"""Convolution, pooling and flatten: central-difference gradients, naming, trace, files, errors, the bars preset."""
from __future__ import annotations

import numpy as np
import pytest

from engine import (
    SGD, AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, RecordingTracer, ReLU, Sequential, ShapeError,
    SoftmaxCrossEntropy, check_parameters, load, load_preset, neuron_entries, save,
)
from engine.datasets import bars
from grad_helpers import assert_grad, numeric_grad, rel_error


def layer_grads(layer, X, G):
    """Analytic (dX, grads of params) and numerical ones of f = Σ(layer(X) ⊙ G)."""
    layer.forward(X)
    dX = layer.backward(G)
    analytic = {p: getattr(layer, "d" + p).copy() for p in layer.params}

    def f():
        return float(np.sum(layer.forward(X) * G))

    numerical = {p: numeric_grad(f, getattr(layer, p)) for p in layer.params}
    return dX, numeric_grad(f, X), analytic, numerical


# -- gradients: f = Σ(out ⊙ G) ------------------------------------------------------------

@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("C,F,k", [(1, 1, 3), (3, 2, 3), (2, 3, 2)])
def test_conv2d_gradients(stride, padding, C, F, k):
    rng = np.random.default_rng(100 * C + 10 * F + k + stride + 7 * padding)
    layer = Conv2D(C, F, k, stride=stride, padding=padding, seed=1)
    layer.b = rng.standard_normal(F)
    X = rng.standard_normal((2, C, 6, 5))
    G = rng.standard_normal(layer.forward(X).shape)
    dX, dX_num, analytic, numerical = layer_grads(layer, X, G)
    assert_grad("dX", dX, dX_num)
    assert_grad("dK", analytic["K"], numerical["K"])
    assert_grad("db", analytic["b"], numerical["b"])


def test_conv2d_l2_gradient_adds_lambda_over_m_K():
    rng = np.random.default_rng(3)
    layer = Conv2D(2, 3, 3, seed=2)
    layer.l2 = 0.4
    X = rng.standard_normal((4, 2, 5, 5))
    G = rng.standard_normal(layer.forward(X).shape)
    layer.backward(G)
    dK = layer.dK.copy()
    layer.l2 = 0.0
    layer.forward(X)
    layer.backward(G)
    np.testing.assert_allclose(dK, layer.dK + 0.4 / 4 * layer.K, rtol=1e-12,
                               err_msg="dK with l2 (ACTUAL) vs dK + (λ/m)·K (DESIRED)")


@pytest.mark.parametrize("k,stride", [(2, None), (2, 1), (3, 2)])
def test_maxpool2d_gradients(k, stride):
    rng = np.random.default_rng(10 * k + (stride or 0))
    layer = MaxPool2D(k, stride)
    # distinct values spaced far apart from each other: ±ε never changes a window's argmax
    X = rng.permutation(2 * 3 * 6 * 7).reshape(2, 3, 6, 7) * 0.01
    G = rng.standard_normal(layer.forward(X).shape)
    dX, dX_num, _, _ = layer_grads(layer, X, G)
    assert_grad("dA (maxpool)", dX, dX_num)


@pytest.mark.parametrize("k,stride", [(2, None), (2, 1), (3, 2)])
def test_avgpool2d_gradients(k, stride):
    rng = np.random.default_rng(20 * k + (stride or 0))
    layer = AvgPool2D(k, stride)
    X = rng.standard_normal((2, 3, 6, 7))
    G = rng.standard_normal(layer.forward(X).shape)
    dX, dX_num, _, _ = layer_grads(layer, X, G)
    assert_grad("dA (avgpool)", dX, dX_num)


def test_flatten_gradient_and_layout():
    rng = np.random.default_rng(5)
    layer = Flatten()
    X = rng.standard_normal((3, 2, 4, 5))
    out = layer.forward(X)
    assert out.shape == (3, 40), f"flatten shape: mine {out.shape} vs expected (3, 40)"
    assert out[1, 1 * 20 + 2 * 5 + 3] == X[1, 1, 2, 3], "F[n, c·H·W + h·W + w] should be A[n,c,h,w]"
    G = rng.standard_normal(out.shape)
    dX, dX_num, _, _ = layer_grads(layer, X, G)
    assert_grad("dA (flatten)", dX, dX_num)


def test_pool_values_by_hand():
    A = np.arange(16, dtype=float).reshape(1, 1, 4, 4)
    S = MaxPool2D(2).forward(A)
    assert S.tolist() == [[[[5.0, 7.0], [13.0, 15.0]]]], f"maxpool: mine {S.tolist()}"
    S = AvgPool2D(2).forward(A)
    assert S.tolist() == [[[[2.5, 4.5], [10.5, 12.5]]]], f"avgpool: mine {S.tolist()}"


def test_conv_value_by_hand():
    """Z[0,0,i,j] = Σ X[0,0,i+u,j+v]·K[0,0,u,v] + b: one filter worked out on paper."""
    layer = Conv2D(1, 1, 2)
    layer.K = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    layer.b = np.array([0.5])
    X = np.arange(9, dtype=float).reshape(1, 1, 3, 3)
    Z = layer.forward(X)
    expected = [[[[0 - 4 + 0.5, 1 - 5 + 0.5], [3 - 7 + 0.5, 4 - 8 + 0.5]]]]
    assert Z.tolist() == expected, f"mine {Z.tolist()} vs hand {expected}"


# -- a small conv net in Sequential -------------------------------------------------------

def small_cnn(l2: float = 0.0, dtype=np.float64) -> Sequential:
    return Sequential(Conv2D(1, 2, 3, padding=1), ReLU(), MaxPool2D(2), Conv2D(2, 3, 2, stride=2), ReLU(),
                      Flatten(), Dense(3 * 1 * 1, 4), ReLU(), Dense(4, 3), seed=4, dtype=dtype, l2=l2)


def test_names_and_symbols_of_a_conv_net():
    model = small_cnn()
    names = [layer.name for layer in model.layers]
    assert names == ["conv1", "relu1", "maxpool1", "conv2", "relu2", "flatten1", "dense3", "relu3", "dense4"], names
    assert [p.symbol for p in model.parameters()] == ["K1", "b1", "K2", "b2", "W3", "b3", "W4", "b4"]
    assert model.param("conv1.K") is model.param("K1")
    syms = [(layer.sym["in"], layer.sym["out"]) for layer in model.layers]
    assert syms == [("X", "Z1"), ("Z1", "A1"), ("A1", "S1"), ("S1", "Z2"), ("Z2", "A2"), ("A2", "F2"),
                    ("F2", "Z3"), ("Z3", "A3"), ("A3", "Z4")], syms
    assert not model.layers[0].need_dX and model.layers[3].need_dX
    assert model.output_shape() == (3,)
    assert model.layer("conv1").l2 == 0.0


@pytest.mark.parametrize("l2", [0.0, 0.5])
def test_check_parameters_on_a_conv_net(l2):
    rng = np.random.default_rng(11)
    model = small_cnn(l2=l2)
    X = rng.standard_normal((5, 1, 4, 4))
    Y = rng.integers(0, 3, 5)
    entries = neuron_entries(model, "conv1", 1) + neuron_entries(model, "conv2", 2) + [("W3", (0, 1))]
    assert entries[:2] == [("K1", (1, 0, 0, 0)), ("K1", (1, 0, 0, 1))], entries[:2]
    assert len(neuron_entries(model, "conv1", 1)) == 1 * 3 * 3 + 1
    assert neuron_entries(model, "conv2", 2)[-1] == ("b2", (2,))
    rows = check_parameters(model, SoftmaxCrossEntropy(), X, Y, entries)
    # rel ≤ 1e-7, or an absolute gap under the central difference's own noise (~1e-10/ε on L ≈ 1)
    bad = [r for r in rows if r.rel_error > 1e-7 and abs(r.analytic - r.numerical) > 1e-9 and not r.kink]
    assert not bad, "\n".join(f"{r.parameter}: mine {r.analytic:.10g} vs numerical {r.numerical:.10g} "
                              f"(rel {r.rel_error:.2e})" for r in bad)
    with pytest.raises(IndexError, match="filters 0..1"):
        neuron_entries(model, "conv1", 2)


def test_l2_penalty_counts_kernels():
    model = small_cnn(l2=0.3)
    m = 4
    expected = 0.3 / (2 * m) * sum(float(np.sum(p.value ** 2)) for p in model.parameters()
                                   if p.symbol[0] in "KW")
    assert model.l2_penalty(m) == pytest.approx(expected, rel=1e-12), (model.l2_penalty(m), expected)
    assert model.layer("conv2").l2 == 0.3


def test_trace_of_a_conv_net():
    model = Sequential(Conv2D(1, 2, 3), ReLU(), MaxPool2D(2), Flatten(), Dense(2, 2), seed=0)
    tracer = RecordingTracer()
    model.tracer = tracer
    loss, opt = SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    model.train_step(rng.standard_normal((3, 1, 4, 4)), np.array([0, 1, 0]), loss, opt)
    fwd = [(op.layer, op.kind, op.result) for op in tracer.tape if op.phase in ("forward", "backward")]
    expected = [
        ("conv1", "conv.forward", "Z1"), ("relu1", "relu.forward", "A1"), ("maxpool1", "maxpool.forward", "S1"),
        ("flatten1", "flatten.forward", "F1"), ("dense2", "dense.forward", "Z2"),
        ("loss", "softmax_ce.backward", "dZ2"), ("dense2", "dense.dW", "dW2"), ("dense2", "dense.db", "db2"), ("dense2", "dense.dX", "dF1"),
        ("flatten1", "flatten.backward", "dS1"), ("maxpool1", "maxpool.backward", "dA1"),
        ("relu1", "relu.backward", "dZ1"), ("conv1", "conv.dK", "dK1"), ("conv1", "conv.db", "db1"),
    ]
    assert fwd == expected, "\n".join(f"mine {a}  expected {b}" for a, b in zip(fwd, expected))
    ops = {op.name: op for op in tracer.tape}
    conv = ops["conv1.forward.Z1"]
    assert conv.equation == "Z1 = X ∗ K1 + b1,  Z1[n,f,i,j] = Σ_c,u,v X[n,c,i·s+u,j·s+v]·K1[f,c,u,v] + b1[f]"
    assert conv.shapes() == {"X": (3, 1, 4, 4), "K1": (2, 1, 3, 3), "b1": (2,), "Z1": (3, 2, 2, 2)}
    assert conv.attrs == {"stride": 1, "padding": 0}
    assert ops["conv1.backward.dK1"].equation == "dK1[f,c,u,v] = Σ_n,i,j dZ1[n,f,i,j]·X[n,c,i·s+u,j·s+v]"
    assert ops["conv1.backward.db1"].equation == "db1[f] = Σ_n,i,j dZ1[n,f,i,j]"
    pool = ops["maxpool1.backward.dA1"]
    assert set(pool.inputs) == {"dS1", "M1"}, set(pool.inputs)
    M, A = pool.inputs["M1"], ops["relu1.forward.A1"].outputs["A1"]
    # one winner per 2×2 window, at the window's max
    assert M.shape == A.shape and M.sum() == 3 * 2 * 1 * 1, M
    np.testing.assert_array_equal(A[M > 0], A.reshape(3, 2, 4).max(axis=2).ravel(),
                                  err_msg="mask (ACTUAL) marks the window maxima (DESIRED)")
    assert "conv1.backward.dX" not in ops  # the first layer's input needs no gradient


def test_conv_net_fits_with_float32_and_4d_input():
    model = small_cnn(dtype=np.float32)
    assert model.param("K1").value.dtype == np.float32
    rng = np.random.default_rng(2)
    X = rng.standard_normal((20, 1, 4, 4))  # float64 in, cast by the model
    Y = rng.integers(0, 3, 20)
    hist = model.fit(X, Y, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.05), epochs=2, batch_size=8)
    assert len(hist["loss"]) == 2 and np.isfinite(hist["loss"]).all()
    out = model.predict(X)
    assert out.dtype == np.float32 and out.shape == (20, 3)
    assert model.param("K1").grad.dtype == np.float32


def test_save_load_round_trip_of_a_conv_net(tmp_path):
    model = Sequential(Conv2D(1, 2, (3, 2), stride=2, padding=1), ReLU(), AvgPool2D(2, 1), MaxPool2D(2),
                       Flatten(), Dense(2, 3), seed=9, l2=0.1)
    path = save(model, tmp_path / "cnn.nndb")
    again = load(path)
    assert again.config() == model.config(), (again.config(), model.config())
    X = np.random.default_rng(0).standard_normal((2, 1, 7, 7))
    np.testing.assert_array_equal(again.forward(X), model.forward(X), err_msg="loaded (ACTUAL) vs saved (DESIRED)")
    assert [p.symbol for p in again.parameters()] == ["K1", "b1", "W2", "b2"]


# -- errors -------------------------------------------------------------------------------

def test_shape_errors_name_the_layer_and_the_shapes():
    model = Sequential(Conv2D(3, 4, 5), ReLU(), MaxPool2D(2), Flatten(), Dense(4, 2))
    with pytest.raises(ShapeError, match=r"conv1: expected 3 input channels \(batch, 3, height, width\), "
                                         r"got 1 \(input 2×1×8×8\)"):
        model.forward(np.zeros((2, 1, 8, 8)))
    with pytest.raises(ShapeError, match=r"conv1: input 2×3×4×4 is smaller than the 5×5 kernel"):
        model.forward(np.zeros((2, 3, 4, 4)))
    with pytest.raises(ShapeError, match=r"conv1: expected input of shape \(batch, 3, height, width\), got 2×48"):
        model.forward(np.zeros((2, 48)))
    with pytest.raises(ShapeError, match=r"maxpool1: input 2×4×1×1 is smaller than the 2×2 kernel"):
        model.forward(np.zeros((2, 3, 5, 5)))
    with pytest.raises(ShapeError, match=r"dense2: expected input of shape \(batch, 4\), got 2×16"):
        model.forward(np.zeros((2, 3, 8, 8)))
    with pytest.raises(ValueError, match="Conv2D needs"):
        Conv2D(1, 2, 0)
    with pytest.raises(ValueError, match="MaxPool2D needs"):
        MaxPool2D(2, stride=0)


# -- the bars preset ------------------------------------------------------------------------

def test_bars_dataset_is_seeded_and_balanced():
    X, y = bars(40, seed=3)
    X2, y2 = bars(40, seed=3)
    assert X.shape == (40, 1, 6, 6) and np.array_equal(X, X2) and np.array_equal(y, y2)
    assert np.bincount(y).tolist() == [20, 20]
    k = int(np.argmax(y == 0))
    assert X[k, 0].mean(axis=1).max() > 0.7, "a horizontal bar is one bright row"


def test_bars_preset_learns_quickly():
    problem = load_preset("bars", seed=0)
    assert [layer.name for layer in problem.model.layers] == ["conv1", "relu1", "flatten1", "dense2"]
    problem.model.fit(problem.X, problem.Y, problem.loss, problem.optimizer, epochs=problem.epochs,
                      batch_size=problem.batch_size)
    X_new, y_new = bars(400, seed=1234)
    acc = problem.model.evaluate(X_new, y_new, problem.loss)["accuracy"]
    assert acc >= 0.95, f"bars accuracy on fresh images: mine {acc:.3f} vs required 0.95"


def test_digits_cnn_preset_on_the_shared_digits(mnist_dir):
    """digits-cnn: 1×28×28 images, the LeNet-like stack, 10 outputs; one traced-free step lowers the loss."""
    problem = load_preset("digits-cnn", data=str(mnist_dir), seed=0, dtype=np.float32)
    assert problem.X.shape[1:] == (1, 28, 28) and problem.X.dtype == np.float64, problem.X.shape
    names = [layer.name for layer in problem.model.layers]
    assert names == ["conv1", "relu1", "maxpool1", "conv2", "relu2", "maxpool2", "flatten1", "dense3", "relu3",
                     "dense4"], names
    assert [p.symbol for p in problem.model.parameters()] == ["K1", "b1", "K2", "b2", "W3", "b3", "W4", "b4"]
    X, Y = problem.X[:64], problem.Y[:64]
    first = problem.model.train_step(X, Y, problem.loss, problem.optimizer)
    for _ in range(4):
        last = problem.model.train_step(X, Y, problem.loss, problem.optimizer)
    assert problem.model.output.shape == (64, 10)
    assert last < first, f"loss after 5 steps on one batch: mine {last:.4f} vs first {first:.4f}"


def test_summary_and_l2_trace_of_a_conv_net():
    model = Sequential(Conv2D(1, 2, 3, stride=2, padding=1), ReLU(), AvgPool2D(2), Flatten(), Dense(2, 2),
                       seed=1, l2=0.2)
    summary = model.summary()
    for line in ("conv1        Z1 = X ∗ K1 + b1 ", "avgpool1     S1 = avgpool(A1) ", "flatten1     F1 = flatten(S1) "):
        assert line in summary, f"summary lacks {line!r}:\n{summary}"
    assert "20" in summary.splitlines()[1], summary  # K1 (2·1·3·3 = 18) + b1 (2)
    tracer = RecordingTracer()
    model.tracer = tracer
    model.train_step(np.ones((2, 1, 6, 6)), np.array([0, 1]), SoftmaxCrossEntropy(),
                     SGD(model.parameters(), lr=0.1))
    ops = {op.name: op for op in tracer.tape}
    dK = ops["conv1.backward.dK1"]
    assert dK.equation.endswith("+ (λ/m)·K1[f,c,u,v]"), dK.equation
    assert dK.attrs == {"stride": 2, "padding": 1, "l2": 0.2, "m": 2}, dK.attrs
    penalty = ops["l2.loss.L"]
    assert set(penalty.inputs) == {"L", "K1", "W2"}, set(penalty.inputs)
    assert ops["conv1.forward.Z1"].shapes()["Z1"] == (2, 2, 3, 3)
