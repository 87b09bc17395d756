"""The Layer protocol and op roles (issue 11): what every layer says about itself, checked over
every preset and over random configurations against what the layers actually compute."""
from __future__ import annotations

import re

import numpy as np
import pytest

from engine import RecordingTracer, load_preset
from engine.activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from engine.conv import AvgPool2D, Conv2D, Flatten, MaxPool2D
from engine.layers import Dense, Dropout, Layer
from engine.losses import MSE, SoftmaxCrossEntropy
from engine.model import LAYER_TYPES, Sequential
from engine.optim import SGD, Adam
from engine.recurrent import LSTM, RNN

OFFLINE = ("xor", "moons", "circles", "spiral", "seq", "seq-lstm", "bars", "segments")


def traced_iteration(problem, batch=8):
    tracer = RecordingTracer()
    problem.model.tracer = tracer
    X, Y = problem.X[:batch], problem.Y[:batch]
    problem.model.train_step(X, Y, problem.loss, problem.optimizer)
    problem.model.tracer = None
    return tracer.tape


# -- roles -----------------------------------------------------------------------------------
# The roles each op kind must name: what explain, the matrix views and gradcheck ask for.
REQUIRED = {
    "dense.forward": {"X", "W", "b", "out"}, "dense.dW": {"X", "dout", "dW"}, "dense.db": {"dout", "db"},
    "dense.dX": {"dout", "W", "dX"},
    "relu.forward": {"X", "out"}, "relu.backward": {"dout", "X", "dX"},
    "sigmoid.forward": {"X", "out"}, "sigmoid.backward": {"dout", "out", "dX"},
    "conv.forward": {"X", "K", "b", "out"}, "conv.dK": {"X", "dout", "dK"}, "conv.db": {"dout", "db"},
    "conv.dX": {"dout", "K", "dX"},
    "maxpool.forward": {"X", "out"}, "maxpool.backward": {"dout", "mask", "dX"},
    "flatten.forward": {"X", "out"}, "flatten.backward": {"dout", "dX"},
    "softmax_ce.softmax": {"X", "P"}, "softmax_ce.loss": {"P", "Y", "L"}, "softmax_ce.backward": {"P", "Y", "dX"},
    "mse.loss": {"X", "Y", "L"}, "mse.backward": {"X", "Y", "dX"},
    "rnn.step": {"x", "Wx", "b", "h"}, "rnn.step_back": {"h", "dh", "dz"}, "rnn.output": {"out", "h"},
    "rnn.dWx": {"X", "dz", "dWx"}, "rnn.dWh": {"h", "dz", "dWh"}, "rnn.db": {"dz", "db"},
    "lstm.step": {"x", "Wx", "b", "h", "c", "i", "f", "g", "o"}, "lstm.step_back": {"dh", "dc", "da", "c", "o"},
    "lstm.dWx": {"X", "da", "dWx"}, "lstm.dWh": {"h", "da", "dWh"},
    "sgd.update": {"W", "dW"}, "momentum.velocity": {"v", "dW"}, "momentum.update": {"W", "v"},
    "adam.m": {"m", "dW"}, "adam.v": {"v", "dW"}, "adam.update": {"W", "m", "v"},
}


@pytest.mark.parametrize("preset", OFFLINE)
def test_every_op_names_the_roles_of_its_operands(preset):
    tape = traced_iteration(load_preset(preset))
    seen = set()
    for op in tape:
        for role, symbol in op.roles.items():
            assert symbol in op.arrays, f"{op.name}: role {role} → {symbol}, not an operand ({list(op.arrays)})"
            assert op.role(role) is op.arrays[symbol]
        assert op.roles, f"{op.name} ({op.kind}) names no roles"
        missing = REQUIRED.get(op.kind, set()) - set(op.roles)
        assert not missing, f"{op.name} ({op.kind}): roles {sorted(missing)} missing from {op.roles}"
        seen.add(op.kind)
        if op.kind.endswith((".step", ".step_back")):
            assert op.t == op.attrs["t"] and isinstance(op.t, int)
        else:
            assert op.t is None
    assert seen & set(REQUIRED), "the preset's ops were not recognised"


def test_roles_name_the_layer_symbols_not_positions():
    tape = traced_iteration(load_preset("spiral"))
    dense2 = next(op for op in tape if op.name == "dense2.forward.Z2")
    assert dense2.roles == {"X": "A1", "W": "W2", "b": "b2", "out": "Z2"}
    dW2 = next(op for op in tape if op.name == "dense2.backward.dW2")
    assert dW2.roles["X"] == "A1" and dW2.roles["dout"] == "dZ2" and dW2.roles["dW"] == "dW2"
    update = next(op for op in tape if op.phase == "update" and op.result == "b1")
    assert update.roles["W"] == "b1" and update.roles["v"] == "vb1"  # "W" is the parameter's role, any name
    with pytest.raises(KeyError, match="roles"):
        dense2.role("K")


def test_every_op_kind_of_the_adam_and_l2_paths_has_roles():
    p = load_preset("moons")
    p.model.l2 = 0.1
    p.optimizer = Adam(p.model.parameters(), lr=0.01)
    tape = traced_iteration(p)
    kinds = {op.kind: op for op in reversed(tape)}  # the first op of each kind
    assert {"adam.m", "adam.v", "adam.update", "l2.penalty"} <= set(kinds)
    assert kinds["dense.dW"].roles["W"] == "W3"  # the decayed weight an L2 gradient reads (moons: 2-16-16-2)
    assert kinds["l2.penalty"].roles == {"L": "L"}


# -- units -------------------------------------------------------------------------------------
def old_neuron_entries(layer, neuron):
    """engine/gradcheck.neuron_entries before the protocol (the ladder over parameter names)."""
    if "K" in layer.params:
        return [(layer.sym["K"], (neuron, *i)) for i in np.ndindex(*layer.K.shape[1:])] + [(layer.sym["b"], (neuron,))]
    if "Wx" in layer.params:
        n_in, n_h = layer.input_size, layer.hidden_size
        cols = [q * n_h + neuron for q in range(layer.blocks)]
        return ([(layer.sym["Wx"], (k, j)) for j in cols for k in range(n_in)]
                + [(layer.sym["Wh"], (k, j)) for j in cols for k in range(n_h)] + [(layer.sym["b"], (j,)) for j in cols])
    return [(layer.sym["W"], (k, neuron)) for k in range(layer.W.shape[0])] + [(layer.sym["b"], (neuron,))]


def random_layers(seed):
    rng = np.random.default_rng(seed)
    r = lambda a, b: int(rng.integers(a, b + 1))
    return [Dense(r(1, 7), r(1, 6)), Conv2D(r(1, 3), r(1, 4), (r(1, 4), r(1, 4)), stride=r(1, 3), padding=r(0, 2)),
            RNN(r(1, 4), r(1, 5)), LSTM(r(1, 4), r(1, 5), return_sequences=bool(r(0, 1)))]


@pytest.mark.parametrize("seed", range(6))
def test_unit_entries_are_the_units_parameters(seed):
    for layer in random_layers(seed):
        Sequential(layer)  # names the symbols
        n = layer.units()
        assert n == {"dense": getattr(layer, "n_out", 0), "conv": getattr(layer, "out_channels", 0)}.get(
            layer.kind, getattr(layer, "hidden_size", 0))
        for j in range(n):
            assert layer.unit_entries(j) == old_neuron_entries(layer, j), layer
            for symbol, index in layer.unit_entries(j):  # every entry says it belongs to unit j
                assert layer.unit_of(symbol, index) == j
                assert layer.unit_of("d" + symbol, index) == j
        with pytest.raises(IndexError, match=f"0..{n - 1}"):
            layer.unit_entries(n)
    with pytest.raises(ValueError, match="no weights"):
        Sequential(ReLU()).layers[0].unit_entries(0)


def old_neuron_of(model, symbol, index):
    """inspector/tui/app.py neuron_of before the protocol: by the number in the symbol."""
    m = re.search(r"[A-Za-z](\d+)(?:_\d+)?$", symbol)
    if not m or not index:
        return None
    layers = [l for l in model.layers if l.params]
    k = int(m.group(1))
    if not 1 <= k <= len(layers):
        return None
    layer = layers[k - 1]
    if isinstance(layer, Dense):
        return layer.name, int(index[-1])
    if "Wx" in layer.params:
        return layer.name, int(index[-1]) % layer.hidden_size
    if "K" in layer.params:
        if len(index) == 4:
            return layer.name, int(index[0] if re.match(r"^[dmv]?K\d+$", symbol) else index[1])
        if len(index) == 1:
            return layer.name, int(index[0])
    return None


@pytest.mark.parametrize("preset", OFFLINE)
def test_unit_of_agrees_with_the_old_guess_on_every_array(preset):
    p = load_preset(preset)
    tape = traced_iteration(p)
    checked = 0
    for op in tape:
        for symbol, array in op.arrays.items():
            if symbol in ("X", "Y", "P", "L") or re.fullmatch(r"X_\d+|dX|dX_\d+", symbol) or np.ndim(array) == 0:
                continue  # data and the loss: the old guess matched none of them either
            index = tuple(s - 1 for s in np.shape(array))
            found = p.model.unit_of(symbol, index)
            found = found and (found[0].name, found[1])
            old = old_neuron_of(p.model, symbol, index)
            if old is None and found is None:
                continue
            assert found == old, f"{preset}: {symbol}{list(index)} → {found}, before {old}"
            checked += 1
    assert checked > 5


def test_unit_of_walks_through_activations_and_optimizer_state():
    p = load_preset("spiral")
    model = p.model
    assert (lambda r: (r[0].name, r[1]))(model.unit_of("A1", (3, 5))) == ("dense1", 5)
    assert (lambda r: (r[0].name, r[1]))(model.unit_of("dA1", (0, 2))) == ("dense1", 2)
    assert (lambda r: (r[0].name, r[1]))(model.unit_of("vW2", (1, 2))) == ("dense2", 2)
    assert model.unit_of("X", (0, 1)) is None
    assert model.unit_of("nonsense", (0,)) is None
    cnn = load_preset("segments").model
    assert cnn.axis_names("K1") == ("filter", "channel") == cnn.axis_names("vK1") == cnn.axis_names("dK1")
    assert cnn.axis_names("Z1") is None


# -- description, shapes, registry -------------------------------------------------------------
def test_descriptions_say_the_sizes():
    model = Sequential(Conv2D(1, 8, 5), ReLU(), MaxPool2D(2), Conv2D(8, 4, (3, 2), stride=2, padding=1),
                       AvgPool2D((2, 3)), Flatten(), Dense(4, 10), Dropout(0.5), Tanh())
    assert [l.description() for l in model.layers] == [
        "conv1 1→8 5×5", "relu1", "maxpool1 2×2", "conv2 8→4 3×2 stride 2 pad 1", "avgpool1 2×3", "flatten1",
        "dense3 4→10", "dropout1", "tanh1"]
    rnn = Sequential(RNN(1, 8, return_sequences=True), Dense(8, 2)).layers[0]
    assert rnn.description() == "rnn1 1→8 (sequences)"
    assert model.summary().splitlines()[1].split()[:4] == ["conv1", "Z1", "=", "X"]


@pytest.mark.parametrize("seed", range(8))
def test_output_shape_is_what_forward_returns(seed):
    rng = np.random.default_rng(seed)
    r = lambda a, b: int(rng.integers(a, b + 1))
    C, H, W = r(1, 3), r(6, 11), r(6, 11)
    k1 = (r(1, 3), r(1, 3))
    layers = [Conv2D(C, r(1, 4), k1, stride=r(1, 2), padding=r(0, 1)), LeakyReLU(0.1),
              MaxPool2D((r(1, 2), r(1, 2)), stride=r(1, 2)), Flatten()]
    shape = (C, H, W)
    X = rng.normal(size=(3, *shape))
    model = Sequential(*layers)
    for layer in model.layers:
        expected = layer.output_shape(shape)
        X = layer.forward(X)
        assert X.shape[1:] == expected, (layer.description(), shape, expected, X.shape)
        shape = expected
    for seq in (True, False):
        T, n = r(1, 5), r(1, 4)
        rnn = Sequential(LSTM(n, 3, return_sequences=seq), Dense(3, 2)).layers
        out = rnn[1].forward(rnn[0].forward(rng.normal(size=(2, T, n))))
        assert out.shape[1:] == rnn[1].output_shape(rnn[0].output_shape((T, n)))


def test_model_output_width_comes_from_the_layers():
    assert Sequential(Dense(3, 5), ReLU(), Dense(5, 4), Softmax()).output_shape() == (4,)
    assert Sequential(RNN(1, 6), Dense(6, 2)).output_shape() == (2,)
    assert Sequential(LSTM(1, 6)).output_shape() == (6,)
    assert Sequential(Conv2D(1, 2, 3), Flatten(), Dense(32, 3)).output_shape() == (3,)
    with pytest.raises(ValueError, match="output width"):
        Sequential(Conv2D(1, 2, 3)).output_shape()


def test_every_layer_class_is_registered_and_decays_its_own_weights():
    for cls in (Dense, Dropout, ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, Conv2D, MaxPool2D, AvgPool2D, Flatten, RNN, LSTM):
        assert LAYER_TYPES[cls.__name__] is cls
    assert "Activation" not in LAYER_TYPES and "Recurrent" not in LAYER_TYPES and "_Pool2D" not in LAYER_TYPES
    assert LAYER_TYPES is Layer.registry
    assert Dense.decayed == ("W",) and Conv2D.decayed == ("K",) and RNN.decayed == ("Wx", "Wh") and ReLU.decayed == ()
    model = Sequential(Conv2D(1, 2, 3), Flatten(), Dense(8, 3), seed=0)
    assert [p.symbol for p in model.decayed_parameters()] == ["K1", "W2"]


# -- cost --------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_op_cost_counts_the_products_and_the_bytes(seed):
    rng = np.random.default_rng(seed)
    r = lambda a, b: int(rng.integers(a, b + 1))
    m, C, H, W, F = r(1, 4), r(1, 3), r(5, 9), r(5, 9), r(1, 4)
    kh, kw, s, pad = r(1, 3), r(1, 3), r(1, 2), r(0, 1)
    n_in = F * ((H + 2 * pad - kh) // s + 1) * ((W + 2 * pad - kw) // s + 1)
    model = Sequential(Conv2D(C, F, (kh, kw), stride=s, padding=pad), ReLU(), Flatten(), Dense(n_in, 3),
                       dtype=np.float32 if seed % 2 else np.float64, seed=seed, l2=0.1 * (seed % 2))
    X = rng.normal(size=(m, C, H, W))
    Y = rng.integers(0, 3, size=m)
    tracer = RecordingTracer()
    model.tracer = tracer
    model.train_step(X, Y, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1))
    by_kind = {op.kind: op for op in tracer.tape}
    layer_of = {l.name: l for l in model.layers}
    oh, ow = (H + 2 * pad - kh) // s + 1, (W + 2 * pad - kw) // s + 1
    conv_products = 2 * m * F * oh * ow * C * kh * kw  # every output element: C·kh·kw multiply-adds
    l2 = 2 * F * C * kh * kw if model.l2 else 0
    expected = {"conv.forward": conv_products, "conv.dK": conv_products + l2, "conv.db": m * F * oh * ow,
                "dense.forward": 2 * m * n_in * 3, "dense.dW": 2 * m * n_in * 3 + (2 * n_in * 3 if model.l2 else 0),
                "dense.db": m * 3, "dense.dX": 2 * m * n_in * 3, "relu.forward": m * n_in}
    for kind, flops in expected.items():
        op = by_kind[kind]
        cost = layer_of[op.layer].op_cost(op)
        assert cost["flops"] == flops, f"{kind}: mine {cost['flops']}, reference {flops}"
        assert cost["bytes_read"] == sum(a.nbytes for a in op.inputs.values())
        assert cost["bytes_written"] == sum(a.nbytes for a in op.outputs.values())


def test_recurrent_step_cost_grows_with_the_hidden_size():
    costs = []
    for n_h in (4, 8):
        model = Sequential(RNN(2, n_h), Dense(n_h, 2), seed=0)
        tracer = RecordingTracer()
        model.tracer = tracer
        model.train_step(np.ones((3, 5, 2)), np.array([0, 1, 0]), SoftmaxCrossEntropy(), SGD(model.parameters(), 0.1))
        step = next(op for op in tracer.tape if op.kind == "rnn.step" and op.t == 2)
        costs.append(model.layers[0].op_cost(step)["flops"])
        assert costs[-1] >= 2 * 3 * (2 + n_h) * n_h  # x_t·Wx and h_t−1·Wh
    assert costs[1] > 2 * costs[0]


def test_a_second_class_with_a_registered_name_is_refused():
    """Model files name layers by class: a learner's own `Dense` must not replace the engine's."""
    with pytest.raises(TypeError, match=r"a layer class named Dense is already registered \(engine.layers.Dense\)"):
        class Dense(Layer):  # noqa: F811 — the clash is the point
            kind = "mydense"
    assert LAYER_TYPES["Dense"].__module__ == "engine.layers"
    from lessons.setups import ForgetfulReLU  # a lesson's planted bug is no layer type a file may name
    assert "ForgetfulReLU" not in LAYER_TYPES and issubclass(ForgetfulReLU, ReLU)


def test_recurrent_gradients_are_labelled_as_gradients():
    """dz1_t and da1_t follow the naming rule (a d in front: ∂L/∂z1_t), in the JSON and on screen."""
    from inspector.commands import Interpreter
    from inspector.render import describe_array, gradient_of
    from inspector.sources import open_preset
    interp = Interpreter(open_preset("seq"))
    assert interp.run("until rnn1.backward").ok
    printed = interp.run("print dz1_7")
    assert printed.ok and printed.data["gradient"] is True
    assert gradient_of("dz1_7") == "z1_7" and gradient_of("da1[0,:]") == "a1[0,:]"
    assert describe_array("dz1_7", np.zeros((4, 8))) == "dz1_7  4×8  (∂L/∂z1_7)"
    assert gradient_of("dense1") is None and gradient_of("dropout2") is None and gradient_of("h1_3") is None
