"""Layers with parameters or modes: the Layer base class, Dense and Dropout.

Conventions (CS231n): rows are examples, ``X`` is ``(m, n_in)``; forward caches exactly what
backward needs; ``backward(dOut)`` returns ``dX = ∂L/∂X`` with X's shape and stores the
parameter gradients under the parameter's name with a ``d`` in front (``W``/``dW``).
"""
from __future__ import annotations

import numpy as np

from .errors import ShapeError, shape_str
from .init import get_initializer
from .trace import NULL_TRACER, Op


class Layer:
    """Base class: a name, a tracer, a train/eval mode and the symbols its equations use."""

    kind = "layer"
    params: tuple[str, ...] = ()
    out_prefix = "A"

    def __init__(self):
        self.name = self.kind
        self.tracer = NULL_TRACER
        self.training = True
        self.need_dX = True
        self.bind("X", 0)

    def bind(self, in_sym: str, index: int, out_sym: str | None = None) -> str:
        """Name the arrays this layer reads and writes; return the symbol of its output.

        ``index`` counts parameterized layers up to and including this one, so the second
        dense layer reads ``A1`` and writes ``Z2`` with ``W2``, ``b2``.
        """
        out = out_sym or f"{self.out_prefix}{index}"
        self.sym = {"in": in_sym, "out": out, "din": "d" + in_sym, "dout": "d" + out}
        for p in self.params:
            self.sym[p] = f"{p}{index}"
            self.sym["d" + p] = f"d{p}{index}"
        self.equations = self.describe(self.sym)
        return out

    def describe(self, s: dict[str, str]) -> dict[str, str]:
        """The equations of this layer's ops, written with its symbols."""
        return {}

    def config(self) -> dict:
        """Constructor arguments, JSON-ready: the architecture part of a saved model."""
        return {}

    def emit(self, phase: str, kind: str, equation: str, inputs: dict, outputs: dict, **attrs):
        self.tracer.record(Op(phase, self.name, kind, equation, inputs, outputs, attrs))

    def check_input(self, X: np.ndarray, n_features: int) -> None:
        if X.ndim != 2 or X.shape[1] != n_features:
            raise ShapeError(
                f"{self.name}: expected input of shape (batch, {n_features}), "
                f"got {shape_str(X.shape)}"
            )

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


class Dense(Layer):
    """Fully connected layer: ``Z = X·W + b``.

    Shapes: X (m, n_in), W (n_in, n_out), b (n_out,), Z (m, n_out). Neuron j owns the
    column ``W[:, j]`` and ``b[j]``. With L2 strength λ (set by the model) the weight
    gradient gains ``(λ/m)·W``, as in the reports this engine grew from.

    A sequence batch X (m, T, n_in), as a many-to-many RNN outputs, gives Z (m, T, n_out): the
    same layer at every timestep, so ``dW`` and ``db`` also sum over the timesteps.
    """

    kind = "dense"
    params = ("W", "b")
    out_prefix = "Z"

    def __init__(self, n_in: int, n_out: int, init: str = "he", seed: int | None = None):
        if int(n_in) < 1 or int(n_out) < 1:
            raise ValueError(f"Dense needs n_in ≥ 1 and n_out ≥ 1, got {n_in} and {n_out}")
        self.n_in, self.n_out, self.init = int(n_in), int(n_out), init
        self.l2 = 0.0
        super().__init__()
        self.reset_parameters(np.random.default_rng(seed))

    def reset_parameters(self, rng: np.random.Generator, dtype=np.float64) -> None:
        self.W = get_initializer(self.init)(rng, self.n_in, self.n_out).astype(dtype)
        self.b = np.zeros(self.n_out, dtype=dtype)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)

    def config(self) -> dict:
        return {"n_in": self.n_in, "n_out": self.n_out, "init": self.init}

    def describe(self, s):
        return {
            "Z": f"{s['out']} = {s['in']}·{s['W']} + {s['b']}",
            "dW": f"{s['dW']} = {s['in']}ᵀ·{s['dout']}",
            "dW_l2": f"{s['dW']} = {s['in']}ᵀ·{s['dout']} + (λ/m)·{s['W']}",
            "db": f"{s['db']} = Σᵢ {s['dout']}[i,:]",
            "dX": f"{s['din']} = {s['dout']}·{s['W']}ᵀ",
        }

    def check_input(self, X: np.ndarray, n_features: int) -> None:
        if X.ndim == 3 and X.shape[2] != n_features:
            raise ShapeError(f"{self.name}: expected a sequence batch of shape (batch, time, {n_features}), "
                             f"got {shape_str(X.shape)}")
        if X.ndim != 3:
            super().check_input(X, n_features)  # (batch, n_in)

    def forward(self, X: np.ndarray) -> np.ndarray:
        self.check_input(X, self.n_in)
        Z = X @ self.W + self.b
        self.X = X
        if self.tracer.enabled:
            s = self.sym
            self.emit("forward", "dense.forward", self.equations["Z"],
                      {s["in"]: X, s["W"]: self.W, s["b"]: self.b}, {s["out"]: Z})
        return Z

    def backward(self, dZ: np.ndarray) -> np.ndarray | None:
        X, W = self.X, self.W
        m = X.shape[0]
        X2, dZ2 = (X, dZ) if X.ndim == 2 else (X.reshape(-1, self.n_in), dZ.reshape(-1, self.n_out))
        dW = X2.T @ dZ2  # a sequence batch: every (example, timestep) is a row of X2
        if self.l2:
            dW += (self.l2 / m) * W
        self.dW = dW
        tracing = self.tracer.enabled
        s = self.sym
        if tracing:
            if self.l2:
                self.emit("backward", "dense.dW", self.equations["dW_l2"],
                          {s["in"]: X, s["dout"]: dZ, s["W"]: W}, {s["dW"]: dW}, l2=self.l2, m=m)
            else:
                self.emit("backward", "dense.dW", self.equations["dW"],
                          {s["in"]: X, s["dout"]: dZ}, {s["dW"]: dW})
        self.db = dZ2.sum(axis=0)
        if tracing:
            self.emit("backward", "dense.db", self.equations["db"], {s["dout"]: dZ}, {s["db"]: self.db})
        if not self.need_dX:
            return None  # the first layer's input needs no gradient (PyTorch skips it too)
        dX = dZ @ W.T
        if tracing:
            self.emit("backward", "dense.dX", self.equations["dX"], {s["dout"]: dZ, s["W"]: W}, {s["din"]: dX})
        return dX


class Dropout(Layer):
    """Inverted dropout: ``D = A ⊙ M`` with ``M = 1[U ≥ p]/(1 − p)`` while training; ``D = A`` in eval.

    Shapes: A, M and D are (m, n). Dividing by 1 − p keeps the expected activation the same,
    so nothing changes at evaluation time.
    """

    kind = "dropout"
    out_prefix = "D"

    def __init__(self, p: float = 0.5, seed: int | None = None):
        if not 0.0 <= float(p) < 1.0:
            raise ValueError(f"Dropout needs 0 ≤ p < 1, got p={p}")
        self.p = float(p)
        self.rng = np.random.default_rng(seed)
        super().__init__()

    def config(self) -> dict:
        return {"p": self.p}

    def bind(self, in_sym, index, out_sym=None):
        out = super().bind(in_sym, index, out_sym)
        self.sym["mask"] = "M" + out[len(self.out_prefix):]  # D1 → M1, D1_2 → M1_2
        self.equations = self.describe(self.sym)  # again, now that the mask has its symbol
        return out

    def describe(self, s):
        return {
            "D": f"{s['out']} = {s['in']} ⊙ {s.get('mask', 'M')},  {s.get('mask', 'M')} = 1[U ≥ p]/(1 − p)",
            "D_eval": f"{s['out']} = {s['in']}  (eval mode: dropout off)",
            "dA": f"{s['din']} = {s['dout']} ⊙ {s.get('mask', 'M')}",
        }

    def forward(self, A: np.ndarray) -> np.ndarray:
        s = self.sym
        if not self.training or self.p == 0.0:
            self.M = None
            if self.tracer.enabled:
                self.emit("forward", "dropout.eval", self.equations["D_eval"], {s["in"]: A}, {s["out"]: A})
            return A
        M = (self.rng.random(A.shape) >= self.p).astype(A.dtype) / (1.0 - self.p)
        D = A * M
        self.M = M
        if self.tracer.enabled:
            self.emit("forward", "dropout.forward", self.equations["D"],
                      {s["in"]: A}, {s["out"]: D, s["mask"]: M}, p=self.p)
        return D

    def backward(self, dD: np.ndarray) -> np.ndarray:
        dA = dD if self.M is None else dD * self.M
        if self.tracer.enabled:
            s = self.sym
            inputs = {s["dout"]: dD} if self.M is None else {s["dout"]: dD, s["mask"]: self.M}
            self.emit("backward", "dropout.backward", self.equations["dA"], inputs, {s["din"]: dA})
        return dA
