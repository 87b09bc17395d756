"""The exercises' functions: the cases each is checked on, and what nndb's engine computes for them.

There is no second implementation here: every expected array comes from the engine's own layers,
losses and optimizers (``engine/``), run on the case's inputs with a recording tracer, so the op
that computed each expected array is at hand for ``explain``. The few adapters (an RNN with a
starting state h0, one update of one parameter) only feed the engine and read its results.
``mistakes`` lists the usual wrong answers of a function, each with the hint it deserves.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from engine import (MSE, RNN, SGD, Adam, Conv2D, Dense, MaxPool2D, Parameter, RecordingTracer, ReLU,
                    Sequential, Sigmoid, SoftmaxCrossEntropy)
from engine.layers import Layer
from engine.trace import Op


@dataclass
class Case:
    """One call: its label, its arguments by name, and the hint for a function that fails here first."""
    label: str
    inputs: dict
    hint: str | None = None


@dataclass
class Expected:
    """What the engine returned for a case: output name → value, and output name → (op, symbol) of
    the traced op that computed it, where ``explain`` can write that op's element."""
    values: dict
    ops: dict = field(default_factory=dict)


@dataclass
class Function:
    """One function a learner writes: its signature, cases, reference, gradient check and mistakes."""
    name: str
    args: tuple[str, ...]
    outputs: tuple[str, ...]
    cases: Callable[[], list[Case]]
    reference: Callable[[dict], Expected]
    objective: Callable[[dict], float] | None = None  # the scalar whose gradients the outputs are
    wrt: dict[str, str] = field(default_factory=dict)  # output → the input it is the gradient of
    mistakes: Callable[[dict, dict], list[tuple[str, dict]]] = lambda inputs, expected: []
    batch: Callable[[dict], int] = lambda inputs: 0  # m, for the "missing 1/m" hint
    batch_name: str = "m"  # what the hint calls it (n for a mean over every entry)
    timed_against: str | None = None  # a given loop version to time against (vectorize)
    compared_first: tuple[str, ...] = ()  # outputs the others are computed from (an update's v before W)

    @property
    def signature(self) -> str:
        return f"{self.name}({', '.join(self.args)})"


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def ops_by_output(tape: list[Op], names: dict[str, str]) -> dict:
    """output name → (op, symbol) for each output whose symbol a traced op wrote (the last one)."""
    found = {}
    for op in tape:
        for out, sym in names.items():
            if sym in op.outputs:
                found[out] = (op, sym)
    return found


def named(layer: Layer, sym: dict) -> Layer:
    """The layer with the learner's names (X, W, dW, …, no layer numbers) and a recording tracer."""
    layer.sym = sym
    layer.equations = layer.describe(sym)
    layer.tracer = RecordingTracer()
    return layer


# -- sigmoid, relu -------------------------------------------------------------------------
ACT_SYM = {"in": "Z", "out": "A", "din": "dZ", "dout": "dA"}


def activation(cls):
    def reference(inputs):
        layer = named(cls(), dict(ACT_SYM))
        values = {"A": layer.forward(inputs["Z"].copy())}
        if "dA" in inputs:
            values = {"dZ": layer.backward(inputs["dA"].copy())}
        return Expected(values, ops_by_output(layer.tracer.tape, {"A": "A", "dZ": "dZ"}))
    return reference


def act_objective(cls):
    return lambda x: float(np.sum(x["dA"] * activation(cls)({"Z": x["Z"]}).values["A"]))


def sigmoid_cases(backward: bool):
    def cases():
        r = rng(1)
        big = np.array([[-60.0, -30.0, 0.0], [30.0, 60.0, -745.0]])
        out = [Case("random 3×4", {"Z": r.normal(size=(3, 4))}),
               Case("large |Z|", {"Z": big}, "for large |Z| e^(−Z) overflows: keep the result finite "
                                             "(np.exp of a large positive number is inf; 1/(1 + inf) is fine, "
                                             "inf/inf is not)")]
        for c in out:
            if backward:
                c.inputs = {"dA": r.normal(size=c.inputs["Z"].shape), **c.inputs}
        return out
    return cases


def sigmoid_mistakes(x, expected):
    if "dA" not in x:
        return [("the sign of the exponent: σ(Z) = 1/(1 + e^(−Z))", {"A": 1 / (1 + np.exp(x["Z"]))})]
    A = activation(Sigmoid)({"Z": x["Z"]}).values["A"]
    return [("used Z where the formula needs A = σ(Z): σ'(Z) = A ⊙ (1 − A)", {"dZ": x["dA"] * x["Z"] * (1 - x["Z"])}),
            ("forgot to multiply by dA (the chain rule: dZ = dA ⊙ σ'(Z))", {"dZ": A * (1 - A)})]


def relu_cases(backward: bool):
    def cases():
        r = rng(2)
        Z = r.normal(size=(4, 3))
        zeros = np.array([[0.0, 1.5, -2.0], [-0.0, 0.0, 3.0]])
        out = [Case("random 4×3", {"Z": Z}),
               Case("Z exactly 0", {"Z": zeros}, "at Z = 0 ReLU's gradient is 0: the mask is Z > 0, not Z ≥ 0")]
        for c in out:
            if backward:
                c.inputs = {"dA": r.normal(size=c.inputs["Z"].shape), **c.inputs}
        return out
    return cases


def relu_mistakes(x, expected):
    if "dA" not in x:
        return []
    return [("at Z = 0 ReLU's gradient is 0: the mask is Z > 0, not Z ≥ 0", {"dZ": x["dA"] * (x["Z"] >= 0)}),
            ("forgot to multiply by dA (the chain rule: dZ = dA ⊙ 1[Z > 0])", {"dZ": (x["Z"] > 0) * 1.0})]


# -- dense, vectorize ----------------------------------------------------------------------
DENSE_SYM = {"in": "X", "out": "Z", "din": "dX", "dout": "dZ", "W": "W", "dW": "dW", "b": "b", "db": "db"}


def dense_reference(x):
    W = x["W"]
    layer = named(Dense(*W.shape), dict(DENSE_SYM))
    layer.W, layer.b = W.copy(), x["b"].copy()
    Z = layer.forward(x["X"].copy())
    if "dZ" not in x:
        return Expected({"Z": Z}, ops_by_output(layer.tracer.tape, {"Z": "Z"}))
    dX = layer.backward(x["dZ"].copy())
    return Expected({"dX": dX, "dW": layer.dW, "db": layer.db},
                    ops_by_output(layer.tracer.tape, {"dX": "dX", "dW": "dW", "db": "db"}))


def dense_cases(backward: bool, seed: int = 3):
    def cases():
        r = rng(seed)
        out = []
        for label, (m, n_in, n_out) in (("random m=4, 3→2", (4, 3, 2)), ("one example, 2→3", (1, 2, 3))):
            x = {"X": r.normal(size=(m, n_in)), "W": r.normal(size=(n_in, n_out)), "b": r.normal(size=n_out)}
            if backward:
                x = {"dZ": r.normal(size=(m, n_out)), **x}
            out.append(Case(label, x, "one example (m = 1): keep the batch axis; db still sums over it"
                            if m == 1 else None))
        return out
    return cases


def dense_mistakes(x, expected):
    if "dZ" not in x:
        return [("forgot the bias b", {"Z": x["X"] @ x["W"]})]
    return []


def dense_objective(x):
    return float(np.sum(x["dZ"] * dense_reference({k: x[k] for k in ("X", "W", "b")}).values["Z"]))


# -- softmax-ce, mse -----------------------------------------------------------------------
def one_hot(labels, k):
    return np.eye(k)[labels]


def loss_reference(make, out: str):
    """The engine's loss on input ``out`` (Z, A) and Y: L, or with ``backward`` d``out``, and its ops."""
    def reference(x):
        loss = make()
        loss.bind(out)
        loss.tracer = RecordingTracer()
        L = loss.forward(x[out].copy(), x["Y"].copy())
        grad = "d" + out
        values = {"L": L} if "backward" not in x else {grad: loss.backward()}
        return Expected(values, ops_by_output(loss.tracer.tape, {"L": "L", grad: grad}))
    return reference


softmax_ce_reference = loss_reference(SoftmaxCrossEntropy, "Z")
mse_reference = loss_reference(MSE, "A")


def softmax_ce_cases(backward: bool):
    def cases():
        r = rng(4)
        extra = {"backward": True} if backward else {}
        return [Case("random m=4, K=3", {"Z": r.normal(size=(4, 3)), "Y": one_hot(r.integers(0, 3, 4), 3), **extra}),
                Case("large logits", {"Z": np.array([[1000.0, 0.0, -1000.0], [-800.0, 800.0, 790.0]]),
                                      "Y": one_hot(np.array([0, 2]), 3), **extra},
                     "large logits: e^Z overflows; subtract each row's max before exp (softmax does not change)")]
    return cases


def softmax_rows(Z, axis):
    E = np.exp(Z - Z.max(axis=axis, keepdims=True))
    return E / E.sum(axis=axis, keepdims=True)


def softmax_ce_mistakes(x, expected):
    if "backward" not in x:
        return []
    m = len(x["Z"])
    return [("softmax over the wrong axis: normalize each row (axis=1), one example per row",
             {"dZ": (softmax_rows(x["Z"], 0) - x["Y"]) / m})]


def mse_cases(backward: bool):
    def cases():
        r = rng(5)
        extra = {"backward": True} if backward else {}
        return [Case("random m=4, k=3", {"A": r.normal(size=(4, 3)), "Y": r.normal(size=(4, 3)), **extra}),
                Case("one output column, m=5", {"A": r.normal(size=(5, 1)), "Y": r.normal(size=(5, 1)), **extra})]
    return cases


def mse_mistakes(x, expected):
    if "backward" not in x:
        return []
    m = len(x["A"])
    return [("divided by m (the rows); the mean is over all n = m·k entries",
             {"dA": 2 * (x["A"] - x["Y"]) / m})] if x["A"].shape[1] > 1 else []


# -- l2 --------------------------------------------------------------------------------------
def l2_penalty_reference(x):
    Ws, lam, m = x["Ws"], x["lam"], x["m"]
    model = Sequential(*[Dense(*W.shape) for W in Ws], l2=lam)
    for layer, W in zip(model.layers, Ws):
        layer.W = W.copy()
    penalty = model.l2_penalty(m)
    # the op the model reports for its penalty (Sequential.train_step), on a data loss of 0: what explain writes
    weights = {f"W{k}": W for k, W in enumerate(Ws, 1)}
    op = Op("loss", "l2", "l2.penalty", "L ← L + (λ/2m)·Σ‖W‖²", {"L": np.asarray(0.0), **weights},
            {"L": np.asarray(penalty)}, {"l2": lam, "m": m}, roles={"L": "L"})
    return Expected({"penalty": penalty}, {"penalty": (op, "L")})


def l2_gradient_reference(x):
    W, lam, m = x["W"], x["lam"], x["m"]
    layer = named(Dense(*W.shape), dict(DENSE_SYM))  # dW = Xᵀ·dZ + (λ/m)·W with dZ = 0: the decay term alone
    layer.W, layer.l2 = W.copy(), lam
    layer.forward(np.zeros((m, W.shape[0])))
    layer.backward(np.zeros((m, W.shape[1])))
    return Expected({"dW_extra": layer.dW}, ops_by_output(layer.tracer.tape, {"dW_extra": "dW"}))


def l2_cases(gradient: bool):
    def cases():
        r = rng(6)
        if gradient:
            return [Case("W 3×2, λ=0.1, m=4", {"W": r.normal(size=(3, 2)), "lam": 0.1, "m": 4}),
                    Case("W 2×5, λ=0.7, m=3", {"W": r.normal(size=(2, 5)), "lam": 0.7, "m": 3})]
        return [Case("two weights, λ=0.1, m=4", {"Ws": [r.normal(size=(3, 4)), r.normal(size=(4, 2))],
                                                  "lam": 0.1, "m": 4}),
                Case("one weight, λ=0.5, m=3", {"Ws": [r.normal(size=(2, 2))], "lam": 0.5, "m": 3})]
    return cases


# -- optimizers ------------------------------------------------------------------------------
class _Holder(Layer):
    """One parameter W (any shape) for an optimizer to update; not a layer of any model."""
    kind = "param"
    params = ("W",)

    def __init__(self, W, dW):
        super().__init__()
        self.sym = {"in": "X", "out": "A", "din": "dX", "dout": "dA", "W": "W", "dW": "dW"}
        self.W, self.dW = W.copy(), dW.copy()


def momentum_reference(x):
    holder = _Holder(x["W"], x["dW"])
    p = Parameter(holder, "W")
    opt = SGD([p], lr=x["lr"], momentum=x["mu"])
    opt.state[p.name]["v"] = x["v"].copy()
    opt.tracer = RecordingTracer()
    opt.step()
    return Expected({"W_new": p.value, "v_new": opt.state[p.name]["v"]},
                    ops_by_output(opt.tracer.tape, {"W_new": "W", "v_new": "vW"}))


def momentum_cases():
    r = rng(7)
    return [Case("first step (v = 0)", {"W": r.normal(size=(3, 2)), "dW": r.normal(size=(3, 2)),
                                        "v": np.zeros((3, 2)), "lr": 0.1, "mu": 0.9}),
            Case("v ≠ 0", {"W": r.normal(size=(2, 4)), "dW": r.normal(size=(2, 4)), "v": r.normal(size=(2, 4)),
                           "lr": 0.05, "mu": 0.8},
                 "with v ≠ 0: v_new = μ·v + dW first, then W_new = W − α·v_new")]


def momentum_mistakes(x, expected):
    W, dW, v, lr, mu = (x[k] for k in ("W", "dW", "v", "lr", "mu"))
    return [("W moved by α·dW: the step uses the new velocity, W − α·v_new", {"W_new": W - lr * dW}),
            ("used the old velocity: update v first, then W − α·v_new", {"W_new": W - lr * v}),
            ("the velocity adds the gradient: v_new = μ·v + dW", {"v_new": mu * v - dW})]


def adam_reference(x):
    holder = _Holder(x["W"], x["dW"])
    p = Parameter(holder, "W")
    opt = Adam([p], lr=x["lr"], betas=(x["beta1"], x["beta2"]), eps=x["eps"])
    opt.state[p.name]["m"], opt.state[p.name]["v"] = x["m"].copy(), x["v"].copy()
    opt.t = x["t"] - 1  # step() counts this update
    opt.tracer = RecordingTracer()
    opt.step()
    st = opt.state[p.name]
    return Expected({"W_new": p.value, "m_new": st["m"], "v_new": st["v"]},
                    ops_by_output(opt.tracer.tape, {"W_new": "W", "m_new": "mW", "v_new": "vW"}))


def adam_cases():
    r = rng(8)
    hyper = {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    return [Case("first step (t = 1)", {"W": r.normal(size=(3, 2)), "dW": r.normal(size=(3, 2)),
                                        "m": np.zeros((3, 2)), "v": np.zeros((3, 2)), "t": 1, **hyper}),
            Case("t = 5, moments ≠ 0", {"W": r.normal(size=(2, 3)), "dW": r.normal(size=(2, 3)),
                                        "m": r.normal(size=(2, 3)) * 0.1, "v": r.random(size=(2, 3)) * 0.1,
                                        "t": 5, **hyper},
                 "bias correction uses this step's t: 1 − β₁ᵗ and 1 − β₂ᵗ")]


def adam_mistakes(x, expected):
    m_new, v_new = expected["m_new"], expected["v_new"]
    return [("no bias correction: divide m by (1 − β₁ᵗ) and v by (1 − β₂ᵗ)",
             {"W_new": x["W"] - x["lr"] * m_new / (np.sqrt(v_new) + x["eps"])}),
            ("v averages the squared gradient: (1 − β₂)·dW², elementwise",
             {"v_new": x["beta2"] * x["v"] + (1 - x["beta2"]) * x["dW"]})]


# -- conv2d, maxpool -----------------------------------------------------------------------
CONV_SYM = {"in": "X", "out": "Z", "din": "dX", "dout": "dZ", "K": "K", "dK": "dK", "b": "b", "db": "db"}


def conv_reference(x):
    K = x["K"]
    F, C, kh, kw = K.shape
    layer = named(Conv2D(C, F, (kh, kw), stride=x["stride"], padding=x["pad"]), dict(CONV_SYM))
    layer.K, layer.b = K.copy(), x["b"].copy()
    Z = layer.forward(x["X"].copy())
    if "dZ" not in x:
        return Expected({"Z": Z}, ops_by_output(layer.tracer.tape, {"Z": "Z"}))
    dX = layer.backward(x["dZ"].copy())
    return Expected({"dX": dX, "dK": layer.dK, "db": layer.db},
                    ops_by_output(layer.tracer.tape, {"dX": "dX", "dK": "dK", "db": "db"}))


def conv_cases(backward: bool):
    def cases():
        r = rng(9)
        out = []
        for label, (m, C, H, W, F, k, s, p), hint in (
                ("random 2×2×5×5, 3 filters 3×3", (2, 2, 5, 5, 3, 3, 1, 0), None),
                ("stride 2", (1, 2, 5, 5, 2, 3, 2, 0), "stride 2: output (i, j) reads X at (i·s + u, j·s + v)"),
                ("padding 1", (2, 1, 4, 4, 2, 3, 1, 1), "padding 1: pad X with zeros first (Xp), and crop "
                                                        "dXp back to X's size"),
                ("stride 2, padding 1, 2×3 kernel", (1, 2, 5, 6, 2, (2, 3), 2, 1), None)):
            kh, kw = k if isinstance(k, tuple) else (k, k)
            x = {"X": r.normal(size=(m, C, H, W)), "K": r.normal(size=(F, C, kh, kw)), "b": r.normal(size=F),
                 "stride": s, "pad": p}
            if backward:
                oh, ow = (H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1
                x = {"dZ": r.normal(size=(m, F, oh, ow)), **x}
            out.append(Case(label, x, hint))
        return out
    return cases


def conv_mistakes(x, expected):
    if "dZ" in x:
        return []
    return [("forgot the bias b[f]", {"Z": expected["Z"] - x["b"][None, :, None, None]})]


def conv_objective(x):
    return float(np.sum(x["dZ"] * conv_reference({k: v for k, v in x.items() if k != "dZ"}).values["Z"]))


POOL_SYM = {"in": "X", "out": "S", "din": "dX", "dout": "dS", "mask": "M"}


def pool_reference(x):
    layer = named(MaxPool2D(x["size"], x["stride"]), dict(POOL_SYM))
    S = layer.forward(x["X"].copy())
    if "dS" not in x:
        return Expected({"S": S}, ops_by_output(layer.tracer.tape, {"S": "S"}))
    return Expected({"dX": layer.backward(x["dS"].copy())}, ops_by_output(layer.tracer.tape, {"dX": "dX"}))


def pool_cases(backward: bool):
    def cases():
        r = rng(10)
        ties = np.array([[[[1.0, 1.0, 0.0, 2.0], [0.5, 1.0, 2.0, 2.0], [0.0, 0.0, 3.0, -1.0], [0.0, 0.0, -1.0, 3.0]]]])
        out = [Case("random 2×2×4×4, 2×2 windows", {"X": r.normal(size=(2, 2, 4, 4)), "size": 2, "stride": 2}),
               Case("overlapping: 3×3 windows, stride 1", {"X": r.normal(size=(1, 2, 5, 5)), "size": 3, "stride": 1},
                    "stride < size: windows overlap; window (i, j) starts at (i·stride, j·stride), and an "
                    "element adds up the gradient of every window it wins"),
               Case("odd size: 3×3 windows, stride 2 on 7×7", {"X": r.normal(size=(1, 1, 7, 7)), "size": 3,
                                                               "stride": 2},
                    "check the window bounds: rows i·s … i·s + size − 1 (off by one?)"),
               Case("ties", {"X": ties, "size": 2, "stride": 2},
                    "ties: only the first maximum of a window in row-major order gets its gradient "
                    "(np.argmax's choice), not every element equal to the max")]
        if backward:
            for c in out:
                X, k, s = c.inputs["X"], c.inputs["size"], c.inputs["stride"]
                shape = (*X.shape[:2], (X.shape[2] - k) // s + 1, (X.shape[3] - k) // s + 1)
                c.inputs = {"dS": r.normal(size=shape), **c.inputs}
        return out
    return cases


def pool_objective(x):
    return float(np.sum(x["dS"] * pool_reference({k: v for k, v in x.items() if k != "dS"}).values["S"]))


# -- rnn -------------------------------------------------------------------------------------
def rnn_with_h0(X, h0, Wx, Wh, b):
    """The engine's RNN (whose state before step 0 is 0) fed h0: h0 joins the inputs of step 0
    as extra features whose weights are Wh, so step 0 computes x_0·Wx + h0·Wh + b."""
    m, T, n_in = X.shape
    n_h = Wh.shape[0]
    layer = RNN(n_in + n_h, n_h, return_sequences=True)
    layer.Wx, layer.Wh, layer.b = np.vstack([Wx, Wh]), Wh.copy(), b.copy()
    Xa = np.zeros((m, T, n_in + n_h))
    Xa[:, :, :n_in], Xa[:, 0, n_in:] = X, h0
    return layer, layer.forward(Xa)


RNN_SYM = {"in": "X", "out": "H", "din": "dX", "dout": "dH", "Wx": "Wx", "dWx": "dWx", "Wh": "Wh", "dWh": "dWh",
           "b": "b", "db": "db"}


def rnn_step_reference(x):
    _, H = rnn_with_h0(x["x_t"][:, None, :], x["h_prev"], x["Wx"], x["Wh"], x["b"])
    # the op an RNN reports for a step that has a previous state (RNN.forward, t ≥ 1), in the exercise's names
    roles = {"x": "x_t", "h_prev": "h_prev", "h": "h_t", "Wx": "Wx", "Wh": "Wh", "b": "b"}
    op = Op("forward", "rnn", "rnn.step", "h_t = tanh(x_t·Wx + h_prev·Wh + b)",
            {"x_t": x["x_t"], "Wx": x["Wx"], "b": x["b"], "h_prev": x["h_prev"], "Wh": x["Wh"]}, {"h_t": H[:, 0]},
            {"t": 1}, roles=roles)
    return Expected({"h_t": H[:, 0]}, {"h_t": (op, "h_t")})


def rnn_backward_reference(x):
    n_in = x["X"].shape[2]
    layer, _ = rnn_with_h0(x["X"], x["h0"], x["Wx"], x["Wh"], x["b"])
    named(layer, dict(RNN_SYM))
    dXa = layer.backward(x["dH"].copy())
    # dX, dWx and db are the first columns or rows of the widened layer's, element for element, so
    # its ops write them; dWh and dh0 gather two of its arrays, which no one op writes
    return Expected({"dX": dXa[:, :, :n_in], "dWx": layer.dWx[:n_in], "dWh": layer.dWh + layer.dWx[n_in:],
                     "db": layer.db, "dh0": dXa[:, 0, n_in:]},
                    ops_by_output(layer.tracer.tape, {"dX": "dX", "dWx": "dWx", "db": "db"}))


def rnn_cases(backward: bool):
    def cases():
        r = rng(11)
        out = []
        for label, (m, T, n_in, n_h), hint in (("random m=2, T=3, 3→4", (2, 3, 3, 4), None),
                                               ("T = 1", (3, 1, 2, 3), "T = 1: one step, so dh_0 = dH[:, 0], and "
                                                                       "dWh = h0ᵀ·dz_0 (h_{−1} is h0)")):
            p = {"Wx": r.normal(size=(n_in, n_h)) * 0.5, "Wh": r.normal(size=(n_h, n_h)) * 0.5,
                 "b": r.normal(size=n_h) * 0.5}
            X, h0 = r.normal(size=(m, T, n_in)), r.normal(size=(m, n_h)) * 0.5
            if backward:
                H = rnn_with_h0(X, h0, **p)[1]
                out.append(Case(label, {"dH": r.normal(size=(m, T, n_h)), "X": X, "H": H, "h0": h0, **p}, hint))
            else:
                out.append(Case(f"m={m}, {n_in}→{n_h}", {"x_t": X[:, 0], "h_prev": h0, **p}))
        return out
    return cases


def rnn_step_mistakes(x, expected):
    z = x["x_t"] @ x["Wx"] + x["h_prev"] @ x["Wh"]
    return [("forgot the bias b", {"h_t": np.tanh(z)}), ("forgot the tanh", {"h_t": z + x["b"]})]


def rnn_objective(x):
    H = rnn_with_h0(x["X"], x["h0"], x["Wx"], x["Wh"], x["b"])[1]
    return float(np.sum(x["dH"] * H))


# -- the table -------------------------------------------------------------------------------
def first_rows(key):
    return lambda x: len(x[key])


FUNCTIONS: dict[str, Function] = {f.name: f for f in [
    Function("sigmoid_forward", ("Z",), ("A",), sigmoid_cases(False), activation(Sigmoid),
             mistakes=sigmoid_mistakes),
    Function("sigmoid_backward", ("dA", "Z"), ("dZ",), sigmoid_cases(True), activation(Sigmoid),
             act_objective(Sigmoid), {"dZ": "Z"}, sigmoid_mistakes),
    Function("relu_forward", ("Z",), ("A",), relu_cases(False), activation(ReLU)),
    Function("relu_backward", ("dA", "Z"), ("dZ",), relu_cases(True), activation(ReLU),
             act_objective(ReLU), {"dZ": "Z"}, relu_mistakes),
    Function("dense_forward", ("X", "W", "b"), ("Z",), dense_cases(False), dense_reference,
             mistakes=dense_mistakes, batch=first_rows("X")),
    Function("dense_backward", ("dZ", "X", "W", "b"), ("dX", "dW", "db"), dense_cases(True), dense_reference,
             dense_objective, {"dX": "X", "dW": "W", "db": "b"}, batch=first_rows("X")),
    Function("softmax_ce_forward", ("Z", "Y"), ("L",), softmax_ce_cases(False), softmax_ce_reference,
             batch=first_rows("Z")),
    Function("softmax_ce_backward", ("Z", "Y"), ("dZ",), softmax_ce_cases(True), softmax_ce_reference,
             lambda x: softmax_ce_reference({"Z": x["Z"], "Y": x["Y"]}).values["L"], {"dZ": "Z"},
             softmax_ce_mistakes, batch=first_rows("Z")),
    Function("mse_forward", ("A", "Y"), ("L",), mse_cases(False), mse_reference, batch=lambda x: x["A"].size,
             batch_name="n"),
    Function("mse_backward", ("A", "Y"), ("dA",), mse_cases(True), mse_reference,
             lambda x: mse_reference({"A": x["A"], "Y": x["Y"]}).values["L"], {"dA": "A"}, mse_mistakes,
             batch=lambda x: x["A"].size, batch_name="n"),
    Function("l2_penalty", ("Ws", "lam", "m"), ("penalty",), l2_cases(False), l2_penalty_reference,
             batch=lambda x: x["m"]),
    Function("l2_gradient", ("W", "lam", "m"), ("dW_extra",), l2_cases(True), l2_gradient_reference,
             lambda x: l2_penalty_reference({"Ws": [x["W"]], "lam": x["lam"], "m": x["m"]}).values["penalty"],
             {"dW_extra": "W"}, batch=lambda x: x["m"]),
    Function("momentum_update", ("W", "dW", "v", "lr", "mu"), ("W_new", "v_new"), momentum_cases,
             momentum_reference, mistakes=momentum_mistakes, compared_first=("v_new",)),
    Function("adam_update", ("W", "dW", "m", "v", "t", "lr", "beta1", "beta2", "eps"), ("W_new", "m_new", "v_new"),
             adam_cases, adam_reference, mistakes=adam_mistakes, compared_first=("m_new", "v_new")),
    Function("conv2d_forward", ("X", "K", "b", "stride", "pad"), ("Z",), conv_cases(False), conv_reference,
             mistakes=conv_mistakes, batch=first_rows("X")),
    Function("conv2d_backward", ("dZ", "X", "K", "b", "stride", "pad"), ("dX", "dK", "db"), conv_cases(True),
             conv_reference, conv_objective, {"dX": "X", "dK": "K", "db": "b"}, batch=first_rows("X")),
    Function("maxpool_forward", ("X", "size", "stride"), ("S",), pool_cases(False), pool_reference),
    Function("maxpool_backward", ("dS", "X", "size", "stride"), ("dX",), pool_cases(True), pool_reference,
             pool_objective, {"dX": "X"}),
    Function("rnn_step_forward", ("x_t", "h_prev", "Wx", "Wh", "b"), ("h_t",), rnn_cases(False),
             rnn_step_reference, mistakes=rnn_step_mistakes),
    Function("rnn_backward", ("dH", "X", "H", "h0", "Wx", "Wh", "b"), ("dX", "dWx", "dWh", "db", "dh0"),
             rnn_cases(True), rnn_backward_reference, rnn_objective,
             {"dX": "X", "dWx": "Wx", "dWh": "Wh", "db": "b", "dh0": "h0"}, batch=first_rows("X")),
    Function("dense_forward_vectorized", ("X", "W", "b"), ("Z",), dense_cases(False, seed=12), dense_reference,
             mistakes=dense_mistakes, batch=first_rows("X"), timed_against="dense_forward_loop"),
]}
