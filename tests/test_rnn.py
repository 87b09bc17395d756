"""The recurrent layer (engine.recurrent.RNN): gradient checks, PyTorch parity, trace, files, the seq preset."""
from __future__ import annotations

import numpy as np
import pytest

from engine import RNN, RecordingTracer
from grad_helpers import assert_grad, numeric_grad, rel_error


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
    check_recurrent_gradients(make_rnn(n_in, n_h, seq, seed=T, l2=l2), m, T)


def check_recurrent_gradients(layer, m: int, T: int) -> None:
    """dX, dWx, dWh, db of an RNN or LSTM against central differences of f = Σ(out ⊙ G) + L2 penalty."""
    n_in, n_h, l2 = layer.input_size, layer.hidden_size, layer.l2
    rng = np.random.default_rng(1000 * m + 100 * T + 10 * n_in + n_h)
    X = rng.standard_normal((m, T, n_in))
    G = rng.standard_normal((m, T, n_h) if layer.return_sequences else (m, n_h))

    def f():
        penalty = l2 / (2 * m) * (np.sum(layer.Wx ** 2) + np.sum(layer.Wh ** 2))
        return float(np.sum(layer.forward(X) * G)) + penalty

    f()
    dX = layer.backward(G)
    grads = {"dWx": layer.dWx.copy(), "dWh": layer.dWh.copy(), "db": layer.db.copy()}
    assert_grad(f"{layer.kind} dX", dX, numeric_grad(f, X))
    for name in ("Wx", "Wh", "b"):
        assert_grad(f"{layer.kind} d{name}", grads["d" + name], numeric_grad(f, getattr(layer, name)))


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


# -- PyTorch parity: torch.nn.RNN(tanh, batch_first=True), float64 ------------------------------

RTOL, ATOL = 1e-10, 1e-12


def close(mine, theirs, what: str) -> None:
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    mine = np.asarray(mine)
    assert mine.shape == theirs.shape, f"{what}: engine shape {mine.shape} vs torch shape {theirs.shape}"
    np.testing.assert_allclose(mine, theirs, rtol=RTOL, atol=ATOL,
                               err_msg=f"{what}: engine (ACTUAL) vs torch (DESIRED)")


def torch_rnn(torch, layer):
    """torch.nn.RNN (tanh) or torch.nn.LSTM with the engine's weights: weight_ih = Wxᵀ, weight_hh = Whᵀ,
    bias_ih = b, bias_hh = 0 (an LSTM's gate blocks are in the same order, i, f, g, o)."""
    if layer.kind == "lstm":
        net = torch.nn.LSTM(layer.input_size, layer.hidden_size, batch_first=True).double()
    else:
        net = torch.nn.RNN(layer.input_size, layer.hidden_size, nonlinearity="tanh", batch_first=True).double()
    with torch.no_grad():
        net.weight_ih_l0.copy_(torch.tensor(layer.Wx.T))
        net.weight_hh_l0.copy_(torch.tensor(layer.Wh.T))
        net.bias_ih_l0.copy_(torch.tensor(layer.b))
        net.bias_hh_l0.zero_()
    return net


def check_recurrent_against_torch(torch, layer, m: int, T: int):
    """Forward H, dX, dWx, dWh and db of an RNN or LSTM against torch's; returns torch's final states."""
    rng = np.random.default_rng(7 * m + T)
    X = rng.standard_normal((m, T, layer.input_size))
    seq = layer.return_sequences
    G = rng.standard_normal((m, T, layer.hidden_size) if seq else (m, layer.hidden_size))
    net = torch_rnn(torch, layer)
    Xt = torch.tensor(X, requires_grad=True)
    out_t, final = net(Xt)
    h_last = final[0] if layer.kind == "lstm" else final
    out_t = out_t if seq else h_last[0]
    (out_t * torch.tensor(G)).sum().backward()

    out = layer.forward(X)
    dX = layer.backward(G)
    close(out, out_t, f"{layer.kind} forward H")
    close(dX, Xt.grad, f"{layer.kind} dX")
    close(layer.dWx, net.weight_ih_l0.grad.T, f"{layer.kind} dWx")
    close(layer.dWh, net.weight_hh_l0.grad.T, f"{layer.kind} dWh")
    close(layer.db, net.bias_ih_l0.grad, f"{layer.kind} db")
    close(layer.db, net.bias_hh_l0.grad, f"{layer.kind} db (torch's second bias)")
    return final


@pytest.mark.parametrize("m,T,n_in,n_h", [(1, 1, 1, 1), (3, 6, 2, 4), (5, 10, 3, 7)])
@pytest.mark.parametrize("seq", [False, True], ids=["many-to-one", "many-to-many"])
def test_rnn_matches_torch(m, T, n_in, n_h, seq):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: parity needs it")
    check_recurrent_against_torch(torch, make_rnn(n_in, n_h, seq, seed=m + n_h), m, T)


def test_rnn_sgd_step_matches_torch():
    """One SGD step of RNN → Dense on softmax cross-entropy, engine vs torch."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: parity needs it")
    from engine import SGD, Dense, Sequential, SoftmaxCrossEntropy
    rng = np.random.default_rng(3)
    model = Sequential(RNN(2, 5), Dense(5, 3, init="xavier"), seed=4)
    X, y = rng.standard_normal((6, 7, 2)), rng.integers(0, 3, 6)
    rnn, dense = model.layers
    net = torch_rnn(torch, rnn)
    W, b = torch.tensor(dense.W, requires_grad=True), torch.tensor(dense.b, requires_grad=True)
    net.bias_hh_l0.requires_grad_(False)  # one bias, as in the engine: bias_hh stays 0
    opt_t = torch.optim.SGD([net.weight_ih_l0, net.weight_hh_l0, net.bias_ih_l0, W, b], lr=0.1, momentum=0.9)
    _, h = net(torch.tensor(X))
    loss_t = torch.nn.functional.cross_entropy(h[0] @ W + b, torch.tensor(y))
    loss_t.backward()
    opt_t.step()
    L = model.train_step(X, y, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1, momentum=0.9))
    close(L, loss_t, "loss")
    close(rnn.Wx, net.weight_ih_l0.T, "Wx after the step")
    close(rnn.Wh, net.weight_hh_l0.T, "Wh after the step")
    close(rnn.b, net.bias_ih_l0, "b after the step")
    close(dense.W, W, "W2 after the step")
    close(dense.b, b, "b2 after the step")


# -- in a Sequential: names, L2, gradcheck, trace, files ---------------------------------------

def small_model(seq=False, l2=0.0, dtype=np.float64):
    from engine import Dense, Sequential
    return Sequential(RNN(2, 3, return_sequences=seq), Dense(3, 2, init="xavier"), seed=5, l2=l2, dtype=dtype)


def test_sequential_names_symbols_and_shapes():
    model = small_model()
    rnn, dense = model.layers
    assert (rnn.name, dense.name) == ("rnn1", "dense2")  # numbered like its parameters: W2, b2
    assert [p.symbol for p in model.parameters()] == ["Wx1", "Wh1", "b1", "W2", "b2"]
    assert model.param("rnn1.Wh").value.shape == (3, 3)
    assert rnn.sym["out"] == "H1" and dense.sym["in"] == "H1" and model.output_symbol == "Z2"
    assert rnn.need_dX is False and dense.need_dX is True
    assert model.output_shape() == (2,)
    assert Sequential_output_shape(RNN(2, 4)) == (4,)
    out = model.forward([[[0.0, 1.0]] * 4] * 3)  # nested lists: cast to (3, 4, 2) float64
    assert out.shape == (3, 2) and out.dtype == np.float64
    m32 = small_model(dtype=np.float32)
    assert m32.param("Wx1").value.dtype == np.float32
    assert m32.forward(np.ones((2, 4, 2))).dtype == np.float32


def Sequential_output_shape(layer):
    from engine import Sequential
    return Sequential(layer).output_shape()


def test_l2_decays_the_rnn_weights_and_gradcheck_agrees():
    from engine import SoftmaxCrossEntropy, check_parameters, neuron_entries
    model = small_model(l2=0.5)
    assert model.layers[0].l2 == 0.5
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((4, 5, 2)), rng.integers(0, 2, 4)
    loss = SoftmaxCrossEntropy()
    L = model.loss(X, y, loss)
    W = model.layers[0]
    expected = (float(np.sum(W.Wx ** 2) + np.sum(W.Wh ** 2) + np.sum(model.layers[1].W ** 2))
                * 0.5 / (2 * 4))
    assert np.isclose(L - loss.forward(model.output, y), expected), "L2 penalty must include Wx1 and Wh1"
    entries = neuron_entries(model, "rnn1", 1)
    assert entries == [("Wx1", (0, 1)), ("Wx1", (1, 1)), ("Wh1", (0, 1)), ("Wh1", (1, 1)), ("Wh1", (2, 1)),
                       ("b1", (1,))]
    rows = check_parameters(model, loss, X, y, entries)
    bad = [(r.parameter, r.analytic, r.numerical, r.rel_error) for r in rows if r.rel_error > 1e-7]
    assert not bad, f"gradcheck rnn1 1 (parameter, mine, numerical, error): {bad}"
    with pytest.raises(IndexError):
        neuron_entries(model, "rnn1", 3)


def test_trace_per_timestep_forward_and_reverse_backward():
    from engine import SGD, SoftmaxCrossEntropy
    model = small_model()
    tracer = RecordingTracer()
    model.tracer = tracer
    X, y = np.random.default_rng(1).standard_normal((2, 3, 2)), np.array([0, 1])
    model.train_step(X, y, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1))
    names = [op.name for op in tracer.tape]
    assert len(names) == len(set(names)), f"op names must be unique: {names}"
    rnn_ops = [op for op in tracer.tape if op.layer == "rnn1"]
    assert [op.name for op in rnn_ops] == [
        "rnn1.forward.h1_0", "rnn1.forward.h1_1", "rnn1.forward.h1_2", "rnn1.forward.H1",
        "rnn1.backward.dh1_2", "rnn1.backward.dh1_1", "rnn1.backward.dh1_0",
        "rnn1.backward.dWx1", "rnn1.backward.dWh1", "rnn1.backward.db1",  # first layer: no dX
        "rnn1.update.Wx1", "rnn1.update.Wh1", "rnn1.update.b1"]
    eq = {op.name: op.equation for op in rnn_ops}
    assert eq["rnn1.forward.h1_0"].startswith("h1_0 = tanh(X_0·Wx1 + b1)")
    assert eq["rnn1.forward.h1_2"] == "h1_2 = tanh(X_2·Wx1 + h1_1·Wh1 + b1)"
    assert eq["rnn1.backward.dh1_2"] == "dh1_2 = dH1;  dz1_2 = dh1_2 ⊙ (1 − h1_2²)"
    assert eq["rnn1.backward.dh1_0"] == "dh1_0 = dz1_1·Wh1ᵀ;  dz1_0 = dh1_0 ⊙ (1 − h1_0²)"
    assert [op.attrs["t"] for op in rnn_ops[:3]] == [0, 1, 2]
    rnn = model.layers[0]
    for op in rnn_ops[4:7]:
        t = op.attrs["t"]
        dh = op.outputs[f"dh1_{t}"]
        assert np.isclose(op.attrs["norm"], np.linalg.norm(dh)), f"norm at t={t}"
        assert op.outputs[f"dz1_{t}"].shape == (2, 3)
    for t in range(3):
        np.testing.assert_array_equal(rnn_ops[t].outputs[f"h1_{t}"], rnn.H[:, t], err_msg=f"h1_{t} traced vs H[:, t]")
    np.testing.assert_array_equal(rnn_ops[3].outputs["H1"], rnn.H[:, -1], err_msg="H1 = last state")
    np.testing.assert_array_equal(rnn_ops[9].outputs["db1"], rnn.db, err_msg="db1 traced vs db")


def test_trace_many_to_many_reads_dH_per_step():
    from engine import MSE, SGD, Dense, Sequential
    model = Sequential(Dense(2, 2), RNN(2, 3, return_sequences=True), seed=1)  # not first: dX traced
    tracer = RecordingTracer()
    model.tracer = tracer
    X = np.random.default_rng(2).standard_normal((2, 2))
    with pytest.raises(Exception):
        model.forward(X)  # a 2-D batch is not a sequence batch
    rnn = RNN(2, 3, return_sequences=True)
    rnn.tracer = tracer
    tracer.begin_iteration(None)
    rnn.bind("A1", 2)
    rnn.forward(np.ones((1, 2, 2)))
    rnn.backward(np.ones((1, 2, 3)))
    eqs = [op.equation for op in tracer.tape]
    assert "dh2_1 = dH2_1;  dz2_1 = dh2_1 ⊙ (1 − h2_1²)" in eqs
    assert "dh2_0 = dH2_0 + dz2_1·Wh2ᵀ;  dz2_0 = dh2_0 ⊙ (1 − h2_0²)" in eqs
    assert tracer.tape[-1].name == "rnn.backward.dA1"


def test_save_load_round_trip(tmp_path):
    from engine import load, save
    model = small_model(seq=False, l2=0.1)
    path = tmp_path / "rnn.npz"
    save(model, path)
    again = load(path)
    assert type(again.layers[0]) is RNN and again.layers[0].config() == model.layers[0].config()
    X = np.random.default_rng(3).standard_normal((3, 4, 2))
    np.testing.assert_array_equal(again.forward(X), model.forward(X), err_msg="loaded (ACTUAL) vs saved (DESIRED)")
    seq = Sequential_of(RNN(1, 2, return_sequences=True, init="he"))
    save(seq, tmp_path / "seq.npz")
    assert load(tmp_path / "seq.npz").layers[0].return_sequences is True


def Sequential_of(*layers):
    from engine import Sequential
    return Sequential(*layers, seed=0)


# -- the sequence task and the seq preset ---------------------------------------------------

def test_bit_sums_dataset_is_seeded_balanced_and_labelled_by_the_count():
    from engine import datasets
    X, y = datasets.bit_sums(200, length=8, noise=0.1, seed=4)
    again, y_again = datasets.bit_sums(200, length=8, noise=0.1, seed=4)
    np.testing.assert_array_equal(X, again, err_msg="same seed, same data")
    assert X.shape == (200, 8, 1) and y.shape == (200,) and y.sum() == 100
    counts = (X[:, :, 0] > 0.5).sum(axis=1)
    np.testing.assert_array_equal(y, (counts >= 4).astype(int), err_msg="label (ACTUAL) vs count ≥ 4 (DESIRED)")
    assert 0 < np.abs(X[:, :, 0] - np.round(X[:, :, 0])).mean() < 0.2, "bits carry a little noise"


def test_seq_preset_learns_and_generalizes():
    from engine import datasets, load_preset
    problem = load_preset("seq", seed=0)
    model = problem.model
    assert [layer.name for layer in model.layers] == ["rnn1", "dense2"] and problem.X.shape[1:] == (8, 1)
    h = model.fit(problem.X, problem.Y, problem.loss, problem.optimizer, epochs=problem.epochs,
                  batch_size=problem.batch_size)
    train = model.evaluate(problem.X, problem.Y, problem.loss)["accuracy"]
    X_new, y_new = datasets.bit_sums(400, seed=99)
    test = model.evaluate(X_new, y_new, problem.loss)["accuracy"]
    assert train >= 0.9 and test >= 0.9, f"seq: train accuracy {train:.3f}, new data {test:.3f} (want ≥ 0.9; chance 0.5)"
    assert h["loss"][-1] < h["loss"][0]


# -- many-to-many: Dense on a sequence batch (m, T, n) -----------------------------------------

@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_dense_on_a_sequence_batch_gradients(l2):
    from engine import Dense
    rng = np.random.default_rng(11)
    dense = Dense(3, 2, seed=0)
    dense.l2 = l2
    dense.b = rng.standard_normal(2)
    X, G = rng.standard_normal((4, 5, 3)), rng.standard_normal((4, 5, 2))

    def f():
        return float(np.sum(dense.forward(X) * G)) + l2 / (2 * 4) * np.sum(dense.W ** 2)

    f()
    dX = dense.backward(G)
    dW, db = dense.dW.copy(), dense.db.copy()
    assert_grad("dX", dX, numeric_grad(f, X))
    assert_grad("dW", dW, numeric_grad(f, dense.W))
    assert_grad("db", db, numeric_grad(f, dense.b))


def test_many_to_many_model_matches_torch():
    """RNN(return_sequences) → Dense per timestep → MSE: loss and every gradient vs torch."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: parity needs it")
    from engine import MSE, SGD, Dense, Sequential
    rng = np.random.default_rng(5)
    model = Sequential(RNN(2, 4, return_sequences=True), Dense(4, 1, init="xavier"), seed=6, l2=0.2)
    rnn, dense = model.layers
    X, Y = rng.standard_normal((3, 6, 2)), rng.standard_normal((3, 6, 1))
    net = torch_rnn(torch, rnn)
    W, b = torch.tensor(dense.W, requires_grad=True), torch.tensor(dense.b, requires_grad=True)
    H, _ = net(torch.tensor(X))
    penalty = 0.2 / (2 * 3) * (net.weight_ih_l0.pow(2).sum() + net.weight_hh_l0.pow(2).sum() + W.pow(2).sum())
    loss_t = ((H @ W + b - torch.tensor(Y)) ** 2).mean() + penalty
    loss_t.backward()
    L = model.train_step(X, Y, MSE(), SGD(model.parameters(), lr=0.0))
    close(L, loss_t, "loss")
    close(rnn.dWx, net.weight_ih_l0.grad.T, "dWx1")
    close(rnn.dWh, net.weight_hh_l0.grad.T, "dWh1")
    close(rnn.db, net.bias_ih_l0.grad, "db1")
    close(dense.dW, W.grad, "dW2")
    close(dense.db, b.grad, "db2")


def test_dense_rejects_other_shapes_with_a_clear_message():
    from engine import Dense, ShapeError
    with pytest.raises(ShapeError, match=r"expected input of shape \(batch, 3\), got 2×4$"):
        Dense(3, 2).forward(np.ones((2, 4)))
    with pytest.raises(ShapeError, match=r"expected a sequence batch of shape \(batch, time, 3\), got 2×5×4$"):
        Dense(3, 2).forward(np.ones((2, 5, 4)))
    with pytest.raises(ShapeError):
        Dense(3, 2).forward(np.ones((2, 2, 2, 3)))
