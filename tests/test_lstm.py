"""The LSTM (engine.recurrent.LSTM): gradient checks, PyTorch parity, trace, files, gradcheck of one unit."""
from __future__ import annotations

import numpy as np
import pytest

from engine import LSTM, RecordingTracer, load, save
from test_rnn import check_recurrent_against_torch, check_recurrent_gradients, close


def make_lstm(n_in, n_h, seq, seed, l2=0.0):
    lstm = LSTM(n_in, n_h, return_sequences=seq, seed=seed)
    lstm.b = np.random.default_rng(seed + 1).normal(0, 0.5, 4 * n_h)  # every gate away from its start
    lstm.l2 = l2
    return lstm


@pytest.mark.parametrize("m,T,n_in,n_h", [(1, 1, 1, 1), (2, 3, 1, 4), (3, 5, 2, 3), (2, 6, 3, 2)])
@pytest.mark.parametrize("seq", [False, True], ids=["many-to-one", "many-to-many"])
@pytest.mark.parametrize("l2", [0.0, 0.4])
def test_lstm_gradients(m, T, n_in, n_h, seq, l2):
    check_recurrent_gradients(make_lstm(n_in, n_h, seq, seed=T, l2=l2), m, T)


def test_lstm_starts_with_the_forget_gate_open_and_rejects_bad_shapes():
    from engine.errors import ShapeError
    lstm = LSTM(2, 3, seed=0)
    assert lstm.Wx.shape == (2, 12) and lstm.Wh.shape == (3, 12) and lstm.b.shape == (12,)
    assert list(lstm.b) == [0.0] * 3 + [1.0] * 3 + [0.0] * 6, "b = [i 0, f 1, g 0, o 0]"
    with pytest.raises(ShapeError, match=r"lstm: expected a sequence batch of shape \(batch, time, 2\), got 4×2"):
        lstm.forward(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="LSTM needs input_size ≥ 1"):
        LSTM(0, 3)


@pytest.mark.parametrize("m,T,n_in,n_h", [(1, 1, 1, 1), (3, 6, 2, 4), (5, 10, 3, 7)])
@pytest.mark.parametrize("seq", [False, True], ids=["many-to-one", "many-to-many"])
def test_lstm_matches_torch(m, T, n_in, n_h, seq):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: parity needs it")
    lstm = make_lstm(n_in, n_h, seq, seed=m + n_h)
    h_last, c_last = check_recurrent_against_torch(torch, lstm, m, T)
    close(lstm.C[:, -1], c_last[0], "the last cell state c_T−1")


def lstm_model(l2=0.0):
    from engine import Dense, Sequential
    return Sequential(LSTM(2, 3), Dense(3, 2, init="xavier"), seed=5, l2=l2)


def test_trace_per_timestep_forward_and_reverse_backward():
    from engine import SGD, SoftmaxCrossEntropy
    model = lstm_model(l2=0.1)
    tracer = RecordingTracer()
    model.tracer = tracer
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((4, 3, 2)), np.array([0, 1, 1, 0])
    model.train_step(X, y, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1))
    names = [op.name for op in tracer.tape if op.layer == "lstm1" and op.phase != "update"]
    assert names == ["lstm1.forward.h1_0", "lstm1.forward.h1_1", "lstm1.forward.h1_2", "lstm1.forward.H1",
                     "lstm1.backward.dh1_2", "lstm1.backward.dh1_1", "lstm1.backward.dh1_0",
                     "lstm1.backward.dWx1", "lstm1.backward.dWh1", "lstm1.backward.db1"]
    step1 = next(op for op in tracer.tape if op.name == "lstm1.forward.h1_1")
    assert list(step1.outputs) == ["h1_1", "c1_1", "i1_1", "f1_1", "g1_1", "o1_1"]
    assert step1.equation == ("h1_1 = o1_1⊙tanh(c1_1);  c1_1 = f1_1⊙c1_0 + i1_1⊙g1_1;  "
                              "i1_1, f1_1, o1_1 = σ(a), g1_1 = tanh(a);  a = X_1·Wx1 + h1_0·Wh1 + b1")
    back = next(op for op in tracer.tape if op.name == "lstm1.backward.dh1_0")
    assert list(back.outputs) == ["dh1_0", "dc1_0", "da1_0"] and back.attrs["t"] == 0
    assert back.attrs["norm"] == pytest.approx(np.linalg.norm(back.outputs["dh1_0"]))
    assert "dc1_1" in back.inputs and "f1_1" in back.inputs, "the cell path: dc_t gets dc_t+1 ⊙ f_t+1"
    dWx = next(op for op in tracer.tape if op.name == "lstm1.backward.dWx1")
    assert list(dWx.inputs) == ["X", "da1", "Wx1"] and dWx.attrs == {"l2": 0.1, "m": 4}


def test_gradcheck_of_one_hidden_unit_checks_its_four_gates():
    from engine import SoftmaxCrossEntropy
    from engine.gradcheck import check_parameters, neuron_entries
    model = lstm_model()
    entries = neuron_entries(model, "lstm1", 1)
    assert {e for e in entries if e[0] == "b1"} == {("b1", (1,)), ("b1", (4,)), ("b1", (7,)), ("b1", (10,))}
    assert len(entries) == 4 * (2 + 3 + 1)
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((5, 4, 2)), rng.integers(0, 2, 5)
    rows = check_parameters(model, SoftmaxCrossEntropy(), X, y, entries)
    worst = max(r.rel_error for r in rows)
    assert worst < 1e-6, [(r.parameter, r.analytic, r.numerical) for r in rows if r.rel_error >= 1e-6]
    with pytest.raises(IndexError, match="lstm1 has hidden units 0..2, got 3"):
        neuron_entries(model, "lstm1", 3)


def test_save_load_round_trip(tmp_path):
    model = lstm_model()
    path = tmp_path / "lstm.npz"
    save(model, path)
    again = load(path)
    X = np.random.default_rng(2).standard_normal((3, 5, 2))
    assert np.array_equal(model.predict(X), again.predict(X))
    assert type(again.layers[0]).__name__ == "LSTM" and again.layers[0].config() == model.layers[0].config()


def test_seq_lstm_preset_learns_and_generalizes():
    from engine import datasets, load_preset
    problem = load_preset("seq-lstm", seed=0)
    model = problem.model
    model.fit(problem.X, problem.Y, problem.loss, problem.optimizer, epochs=problem.epochs,
              batch_size=problem.batch_size)
    X, y = datasets.bit_sums(400, length=8, noise=0.1, seed=1)
    accuracy = float((model.predict(X).argmax(1) == y).mean())
    assert accuracy >= 0.95, f"seq-lstm: held-out accuracy {accuracy:.3f}"


def test_the_debugger_steps_explains_and_checks_an_lstm():
    from inspector.commands import Interpreter
    from inspector.sources import open_preset
    s = open_preset("seq-lstm")
    interp = Interpreter(s)
    r = interp.run("timestep 2")
    assert r.ok and r.data["op"]["name"] == "lstm1.forward.h1_2"
    assert [a["name"] for a in r.data["op"]["outputs"]] == ["h1_2", "c1_2", "i1_2", "f1_2", "g1_2", "o1_2"]
    r = interp.run("explain c1_2[0,3]")
    v = s.values_at()
    assert r.ok and r.data["value"] == pytest.approx(v["f1_2"][0, 3] * v["c1_1"][0, 3] + v["i1_2"][0, 3] * v["g1_2"][0, 3])
    assert interp.run("until backward").ok
    T = s.values_at()["X"].shape[1]
    names = [interp.run("ts").data["op"]["name"] for _ in range(T)]
    assert names == [f"lstm1.backward.dh1_{t}" for t in reversed(range(T))]
    view = interp.run("ts 0").data["timesteps"]
    assert view["symbols"] == {"forward": "h1", "backward": "dh1"} and len(view["backward"]) == T
    r = interp.run("gradcheck lstm1 0")
    assert r.ok, r.message
    rows = r.data["rows"]
    assert len(rows) == 24 and max(row["rel_error"] for row in rows) < 1e-6  # sampled from 4·(1 + 8 + 1)
    assert {"b1[0]", "b1[8]", "b1[16]", "b1[24]"} <= {row["parameter"] for row in rows}, "the unit's four gate biases"


def test_summary_names_each_recurrent_layers_recurrence():
    from engine import load_preset
    rnn = load_preset("seq").model.summary().splitlines()
    assert rnn[1].split() == ["rnn1", "h1_t", "=", "tanh(X_t·Wx1", "+", "h1_t−1·Wh1", "+", "b1)", "80"]
    lstm = load_preset("seq-lstm").model.summary().splitlines()
    assert lstm[1].split() == ["lstm1", "h1_t", "=", "o⊙tanh(c1_t)", "320"], "4 gates: 4·(1·8 + 8·8 + 8)"
    assert lstm[-1].split() == ["total", "338"]
