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


# The roles of a layer's own symbols (``layer.sym`` keys) in the ops it emits; other keys are their own role.
SYM_ROLES = {"in": "X", "din": "dX"}


class Layer:
    """Base class: a name, a tracer, a train/eval mode, the symbols its equations use, and the
    protocol every caller asks instead of guessing (docs/layers.md):

    - ``units()``, ``unit_entries(j)``: how many units the layer has and the parameter entries
      that make up unit j (what ``gradcheck LAYER j`` perturbs);
    - ``unit_of(symbol, index)``: which unit a cell of one of its arrays belongs to;
    - ``axis_names(symbol)``: what the leading axes of one of its arrays index;
    - ``description()``, ``summary_equation()``, ``output_shape(input_shape)``;
    - ``decayed``: the parameters L2 decays; ``config()``: the constructor arguments for files;
    - ``op_cost(op)``: FLOPs and bytes read and written by one of its ops.

    Every subclass registers itself in ``Layer.registry`` under its class name (one that sets
    ``registered = False`` in its own body does not: a base, a lesson's planted bug), so model
    files, presets and front ends find it without a list.
    """

    kind = "layer"
    params: tuple[str, ...] = ()
    decayed: tuple[str, ...] = ()  # parameters that L2 regularization shrinks (weights, not biases)
    unit_axes: dict[str, int] = {}  # parameter → the axis that indexes its units (W: 1, b: 0)
    blocks = 1  # unit j owns column q·n + j of each of ``blocks`` blocks (an LSTM's four gates)
    unit_word = "unit"  # what the docs and errors call a unit: neuron, filter, hidden unit
    passes_units = False  # elementwise layers: unit j of the output is unit j of the input
    out_prefix = "A"
    registry: dict[str, type["Layer"]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__name__.startswith("_") or cls.__dict__.get("registered", True) is False:
            return
        known = Layer.registry.get(cls.__name__)
        if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
            # model files name layers by class: a second Dense would load the wrong code
            raise TypeError(f"a layer class named {cls.__name__} is already registered "
                            f"({known.__module__}.{known.__qualname__}); model files name layers by their "
                            f"class, so give yours a name of its own")
        Layer.registry[cls.__name__] = cls

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

    @classmethod
    def parameter_shapes(cls, **config) -> dict[str, tuple[int, ...]] | None:
        """The shape of each parameter of a layer built from ``config``, without building it (a model
        file is checked before anything is allocated); None where the class cannot say."""
        return None if cls.params else {}

    def emit(self, phase: str, kind: str, equation: str, inputs: dict, outputs: dict,
             roles: dict[str, str] | None = None, **attrs):
        """Report one op to the tracer, its operands' roles taken from the layer's symbol table
        (plus ``roles`` for symbols the table does not hold, such as one timestep's ``h1_3``)."""
        present = inputs.keys() | outputs.keys()
        named = {SYM_ROLES.get(key, key): sym for key, sym in self.sym.items() if sym in present}
        if roles:
            named.update((role, sym) for role, sym in roles.items() if sym in present)
        self.tracer.record(Op(phase, self.name, kind, equation, inputs, outputs, attrs, roles=named))

    def check_input(self, X: np.ndarray, n_features: int) -> None:
        if X.ndim != 2 or X.shape[1] != n_features:
            raise ShapeError(
                f"{self.name}: expected input of shape (batch, {n_features}), "
                f"got {shape_str(X.shape)}"
            )

    # -- what the layer says about itself ------------------------------------------------
    def description(self) -> str:
        """One line: the name and the sizes (``dense2 256→64``, ``relu1``)."""
        return self.name

    def summary_equation(self) -> str:
        """The equation of the forward op, the first if there are several (the model summary's)."""
        return next(iter(self.equations.values()), "").split(",  ")[0].split(";  ")[0]

    def output_shape(self, input_shape: tuple[int, ...] | None) -> tuple[int, ...] | None:
        """The shape of one example's output for one example's input shape (no batch axis);
        None where it depends on an input shape that is not known (None)."""
        return None if input_shape is None else tuple(input_shape)

    def units(self) -> int:
        """How many units (neurons, filters, hidden units) own this layer's parameters; 0 if none."""
        if not self.unit_axes:
            return 0
        param, axis = next(iter(self.unit_axes.items()))
        return getattr(self, param).shape[axis] // self.blocks

    def unit_entries(self, j: int) -> list[tuple[str, tuple]]:
        """The parameter entries ``(symbol, index)`` that make up unit j, parameter by parameter."""
        n = self.units()
        if not n:
            raise ValueError(f"{self.name} has no weights to check; pick a layer with parameters")
        if not 0 <= j < n:
            raise IndexError(f"{self.name} has {self.unit_word}s 0..{n - 1}, got {j}")
        entries = []
        for param, axis in self.unit_axes.items():
            shape = getattr(self, param).shape
            rest = shape[:axis] + shape[axis + 1:]
            for q in range(self.blocks):
                column = q * n + j
                entries += [(self.sym[param], idx[:axis] + (column,) + idx[axis:]) for idx in np.ndindex(*rest)]
        return entries

    def unit_of(self, symbol: str, index: tuple) -> int | None:
        """The unit that a cell of one of this layer's arrays belongs to, or None.

        A parameter (and its gradient) by its unit axis; the output (and its gradient) by its
        last axis for a dense-like layer, by ``output_unit_axis``. Layers with other arrays
        (a timestep's state) extend this."""
        n = self.units()
        if not n or not index:
            return None
        for param, axis in self.unit_axes.items():
            if symbol in (self.sym[param], self.sym["d" + param]) and len(index) > axis:
                return int(index[axis]) % n
        if symbol in (self.sym["out"], self.sym["dout"]) and len(index) > self.output_unit_axis(len(index)):
            return int(index[self.output_unit_axis(len(index))]) % n
        return None

    def output_unit_axis(self, ndim: int) -> int:
        """The axis of the output that indexes units: the last (columns) by default."""
        return ndim - 1

    def axis_names(self, symbol: str) -> tuple[str, ...] | None:
        """What the leading axes of a 3-D or 4-D array of this layer index (``("filter", "channel")``
        for a kernel), or None to let the viewer use its default (example, channel)."""
        return None

    def kink_state(self):
        """The discrete choices its last forward made where its output is not smooth (which side
        of 0 a ReLU's input was on, which cell won a max-pool window), or None for a smooth layer.
        gradcheck marks a row whose ±ε changed them: the difference then spans a kink."""
        return None

    def op_cost(self, op: Op) -> dict[str, int]:
        """FLOPs and bytes read and written by one of this layer's ops, from the shapes.

        The default counts one FLOP per result element (an elementwise op); layers override it
        for their products."""
        written = sum(np.asarray(a).nbytes for a in op.outputs.values())
        read = sum(np.asarray(a).nbytes for k, a in op.inputs.items())
        flops = sum(np.asarray(a).size for a in op.outputs.values())
        return {"flops": int(flops), "bytes_read": int(read), "bytes_written": int(written)}

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
    decayed = ("W",)
    unit_axes = {"W": 1, "b": 0}
    unit_word = "neuron"
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

    @classmethod
    def parameter_shapes(cls, n_in, n_out, init="he", seed=None):
        return {"W": (int(n_in), int(n_out)), "b": (int(n_out),)}

    def description(self) -> str:
        return f"{self.name} {self.n_in}→{self.n_out}"

    def output_shape(self, input_shape):
        return (*(input_shape or (None,))[:-1], self.n_out)  # (n_out,), or (T, n_out) for a sequence

    def op_cost(self, op: Op) -> dict[str, int]:
        """``Z = X·W + b``, ``dW = Xᵀ·dZ`` and ``dX = dZ·Wᵀ`` each cost 2·rows·n_in·n_out FLOPs (a
        multiply and an add per term; the bias add is not counted, as is usual); ``db`` sums
        rows·n_out numbers; L2 adds 2·n_in·n_out to dW. rows = m, or m·T for a sequence batch."""
        cost = super().op_cost(op)
        rows = op.role("out" if op.kind == "dense.forward" else "dout").size // self.n_out
        product = 2 * rows * self.n_in * self.n_out
        l2 = 2 * self.n_in * self.n_out if "l2" in op.attrs else 0
        cost["flops"] = {"dense.db": rows * self.n_out, "dense.dW": product + l2}.get(op.kind, product)
        return cost

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
    passes_units = True

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
