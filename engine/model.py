"""Sequential: a stack of layers with named parameters, one traced train_step, and fit.

Layers are named by kind and number (``dense1``, ``relu1``, ``dense2``); a parameter answers
to its full name (``dense1.W``) and to its math name (``W1``), where the number counts the
parameterized layers. A layer with parameters takes their number (``conv1`` owns ``K1``, the
``dense2`` after it ``W2``); a layer without takes the count of its kind (``relu1``, ``flatten1``).
The same names appear in the trace, the debugger, lessons and files.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np

from . import activations, conv, recurrent  # noqa: F401  (importing them registers their layer classes)
from .errors import ShapeError, shape_str
from .layers import Dense, Dropout, Layer
from .trace import NULL_TRACER, Op, Tracer, op_bytes

# Every layer class registers itself (engine/layers.py); importing the modules above fills this.
LAYER_TYPES: dict[str, type[Layer]] = Layer.registry


def layer_names(layers) -> list[tuple[str, int]]:
    """Each layer's name and the number its symbols take, from its kind and whether it has
    parameters alone (classes do too: a model file is checked against these before it is built)."""
    counts: dict[str, int] = {}
    names: set[str] = set()
    index, out = 0, []
    for layer in layers:
        if layer.params:  # numbered like its parameters: rnn1 owns Wx1, then dense2 owns W2 (not dense1)
            index += 1
            number = index
        else:  # relu1, flatten1: by kind
            number = counts[layer.kind] = counts.get(layer.kind, 0) + 1
        while f"{layer.kind}{number}" in names:  # a kind that has parameters only sometimes
            number += 1
        names.add(f"{layer.kind}{number}")
        out.append((f"{layer.kind}{number}", index))
    return out


class Parameter:
    """A named handle on one parameter array of a layer and on its gradient."""

    __slots__ = ("layer", "attr", "name", "symbol")

    def __init__(self, layer: Layer, attr: str):
        self.layer, self.attr = layer, attr
        self.name = f"{layer.name}.{attr}"
        self.symbol = layer.sym[attr]

    @property
    def value(self) -> np.ndarray:
        return getattr(self.layer, self.attr)

    @value.setter
    def value(self, array: np.ndarray) -> None:
        setattr(self.layer, self.attr, array)

    @property
    def grad(self) -> np.ndarray:
        return getattr(self.layer, "d" + self.attr)

    @grad.setter
    def grad(self, array: np.ndarray) -> None:
        setattr(self.layer, "d" + self.attr, array)

    def __repr__(self):
        return f"<Parameter {self.name} ({self.symbol}) shape={self.value.shape}>"


@dataclass
class History:
    """Per-epoch metrics of ``fit``: ``history["loss"][e]`` and friends, as in Keras."""

    history: dict[str, list[float]] = field(default_factory=dict)
    epochs: int = 0

    def append(self, logs: dict[str, float]) -> None:
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))
        self.epochs += 1

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]


class Sequential:
    """Layers applied in order. ``seed`` re-initializes every parameter from one generator.

    ``l2`` is the L2 strength λ: the loss gains ``(λ/2m)·Σ‖W‖²`` and each ``dW`` gains
    ``(λ/m)·W``; it can be changed between steps. ``dtype`` is float64 (exact, for the
    debugger) or float32 (fast).
    """

    def __init__(self, *layers: Layer, seed: int | None = None, dtype=np.float64, l2: float = 0.0):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        for layer in layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential takes layers, got {type(layer).__name__}")
        self.layers: list[Layer] = list(layers)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self.rng = np.random.default_rng(seed)
        self._tracer: Tracer = NULL_TRACER
        self.iteration = 0
        self.output: np.ndarray | None = None
        self._name_layers()
        if seed is not None:
            for layer in self.layers:
                if hasattr(layer, "reset_parameters"):
                    layer.reset_parameters(self.rng)
        for layer in self.layers:
            if isinstance(layer, Dropout):
                layer.rng = self.rng  # one generator: one state to snapshot and restore
        self.astype(self.dtype)
        self.l2 = l2

    # -- names ---------------------------------------------------------------------------
    def _name_layers(self) -> None:
        used = {"X", "Y", "P", "L"}
        suffix: dict[str, int] = {}  # A1 → the next n to try for A1_n: one pass, not a search from 2 each time
        sym = "X"
        for i, (layer, (name, index)) in enumerate(zip(self.layers, layer_names(self.layers))):
            layer.need_dX = i > 0
            layer.name = name
            out = layer.bind(sym, index)
            if out in used:  # two activations in a row: A1, then A1_2
                base = out.split('_')[0]
                n = suffix.get(base, 2)
                while f"{base}_{n}" in used:
                    n += 1
                suffix[base] = n + 1
                out = layer.bind(sym, index, f"{base}_{n}")
            used.add(out)
            sym = out
        self.output_symbol = sym
        self._params = [Parameter(layer, attr) for layer in self.layers for attr in layer.params]
        self._by_name = {p.name: p for p in self._params} | {p.symbol: p for p in self._params}
        self._by_layer = {layer.name: layer for layer in self.layers}

    def parameters(self) -> list[Parameter]:
        return list(self._params)

    def param(self, name: str) -> Parameter:
        """A parameter by full name (``dense1.W``) or math name (``W1``)."""
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(p.symbol for p in self._params)
            raise KeyError(f"no parameter {name!r}; this model has {known}") from None

    def layer(self, name: str) -> Layer:
        try:
            return self._by_layer[name]
        except KeyError:
            raise KeyError(f"no layer {name!r}; this model has {', '.join(self._by_layer)}") from None

    # -- settings ------------------------------------------------------------------------
    @property
    def tracer(self) -> Tracer:
        return self._tracer

    @tracer.setter
    def tracer(self, tracer: Tracer | None) -> None:
        self._tracer = tracer or NULL_TRACER
        for layer in self.layers:
            layer.tracer = self._tracer

    @property
    def l2(self) -> float:
        return self._l2

    @l2.setter
    def l2(self, value: float) -> None:
        value = float(value)
        if not value >= 0:
            raise ValueError(f"l2 must be a number ≥ 0, got {value}")
        self._l2 = value
        for layer in self.layers:
            if layer.decayed:
                layer.l2 = value

    def astype(self, dtype) -> "Sequential":
        """Cast every parameter (and its gradient) to float32 or float64, in place."""
        self.dtype = np.dtype(dtype)
        for p in self._params:
            p.value = p.value.astype(self.dtype, copy=False)
            p.grad = p.grad.astype(self.dtype, copy=False)
        return self

    def train(self, mode: bool = True) -> "Sequential":
        for layer in self.layers:
            layer.training = mode
        return self

    def eval(self) -> "Sequential":
        return self.train(False)

    @property
    def training(self) -> bool:
        return self.layers[0].training

    # -- the math ------------------------------------------------------------------------
    def forward(self, X) -> np.ndarray:
        out = np.asarray(X, dtype=self.dtype)
        for layer in self.layers:
            out = layer.forward(out)
        self.output = out
        return out

    __call__ = forward

    def backward(self, dOut: np.ndarray) -> None:
        for layer in reversed(self.layers):
            dOut = layer.backward(dOut)

    def decayed_parameters(self) -> list[Parameter]:
        """The parameters L2 shrinks, as each layer declares (weights and kernels, not biases)."""
        return [p for p in self._params if p.attr in p.layer.decayed]

    def l2_penalty(self, m: int) -> float:
        """``(λ/2m)·Σ‖W‖²`` over the weight matrices (not the biases)."""
        if not self._l2:
            return 0.0
        total = sum(float(np.sum(p.value * p.value)) for p in self.decayed_parameters())
        return self._l2 / (2 * m) * total

    def op_cost(self, op: Op) -> dict[str, int]:
        """FLOPs and bytes of an op of its forward or backward pass: the layer's own ``op_cost``, or
        for its L2 penalty op a square and an add per decayed weight (2·Σ|W| FLOPs, the sizes)."""
        if op.layer in self._by_layer:
            return self._by_layer[op.layer].op_cost(op)
        weights = {p.symbol for p in self.decayed_parameters()}
        flops = 2 * sum(np.asarray(a).size for s, a in op.inputs.items() if s in weights)
        return {"flops": int(flops), **op_bytes(op)}

    def loss(self, X, Y, loss_fn) -> float:
        """Forward, data loss and L2 penalty: the L that ``backward`` differentiates."""
        out = self.forward(X)
        return loss_fn.forward(out, Y) + self.l2_penalty(out.shape[0])

    def train_step(self, X, Y, loss_fn, optimizer) -> float:
        """One iteration: forward, loss, backward, update. Returns the loss before the update."""
        tracer = self._tracer
        tracer.begin_iteration(self)
        loss_fn.tracer = optimizer.tracer = tracer
        if loss_fn.in_sym != self.output_symbol:
            loss_fn.bind(self.output_symbol)
        out = self.forward(X)
        L = loss_fn.forward(out, Y)
        if self._l2:
            m = out.shape[0]
            L_data, L = L, L + self.l2_penalty(m)
            if tracer.enabled:
                weights = self.decayed_parameters()
                tracer.record(Op("loss", "l2", "l2.penalty",  # layer "l2": op name l2.loss.L, unique
                                 "L ← L + (λ/2m)·Σ‖W‖²  (" + ", ".join(p.symbol for p in weights) + ")",
                                 {"L": np.asarray(L_data), **{p.symbol: p.value for p in weights}},
                                 {"L": np.asarray(L)}, {"l2": self._l2, "m": m}, roles={"L": "L"}))
        self.backward(loss_fn.backward())
        optimizer.step()
        self.iteration += 1
        tracer.end_iteration(self)
        return L

    def fit(self, X, Y, loss_fn, optimizer, epochs: int = 1, batch_size: int = 32, shuffle: bool = True,
            validation_split: float = 0.0, validation_data=None, on_batch=None, on_epoch=None) -> History:
        """Minibatch training. Returns a History of loss/accuracy (and val_*) per epoch.

        ``validation_split`` holds out the last fraction of (X, Y), before shuffling, as
        Keras does. ``on_batch(epoch, batch, n_batches, loss)`` and ``on_epoch(epoch, logs)``
        are called as training goes (progress bars); either may raise to stop.
        """
        X = np.asarray(X, dtype=self.dtype)
        Y = np.asarray(Y)
        if len(X) != len(Y):
            raise ShapeError(f"fit: X has {len(X)} examples but Y has {len(Y)}")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
        if validation_split and validation_data is None:
            n_val = max(1, int(round(len(X) * validation_split)))  # X[:-0] would be empty
            X, Y, validation_data = X[:-n_val], Y[:-n_val], (X[-n_val:], Y[-n_val:])
        n = len(X)
        if n == 0:
            raise ValueError("fit: no training examples")
        batch_size = max(1, min(int(batch_size), n))
        history = History()
        labels = loss_fn.labels(Y)  # class labels, once: the running accuracy compares against them
        predicted = np.empty(labels.shape, dtype=labels.dtype)  # (n,), or (n, T) many-to-many
        self.train()
        for epoch in range(epochs):
            start = time.perf_counter()
            order = self.rng.permutation(n) if shuffle else np.arange(n)
            n_batches = (n + batch_size - 1) // batch_size
            total_loss = 0.0
            for b in range(n_batches):
                batch = slice(b * batch_size, (b + 1) * batch_size)
                idx = order[batch]
                L = self.train_step(X[idx], Y[idx], loss_fn, optimizer)
                total_loss += L * len(idx)
                predicted[batch] = loss_fn.classify(self.output)  # as predicted before the update
                if on_batch is not None:
                    on_batch(epoch, b, n_batches, L)
            correct = int(np.count_nonzero(predicted == labels[order]))
            logs = {"loss": total_loss / n, "accuracy": correct / labels.size}
            if validation_data is not None:
                val = self.evaluate(*validation_data, loss_fn)
                logs["val_loss"], logs["val_accuracy"] = val["loss"], val["accuracy"]
            logs["seconds"] = time.perf_counter() - start
            history.append(logs)
            if on_epoch is not None:
                on_epoch(epoch, logs)
        return history

    def check_data(self, X) -> None:
        """Raise ShapeError, saying what the network expects, if examples shaped like ``X[0]`` do not fit."""
        X = np.asarray(X)
        first = self.layers[0]
        if isinstance(first, Dense) and (X.ndim != 2 or X.shape[1] != first.n_in):
            raise ShapeError(f"the network takes {first.n_in} inputs but the data has examples of shape "
                             f"{shape_str(X.shape[1:])}")
        self.predict(X[:1])  # images and sequences: the layers check their own input

    def mlp_sizes(self) -> list[int] | None:
        """``[784, 128, 10]`` for a plain multilayer perceptron (every layer with parameters is
        dense, the first one too); None for a CNN, an RNN or anything else."""
        dense = [l for l in self.layers if l.params]
        if not dense or not isinstance(self.layers[0], Dense) or not all(isinstance(l, Dense) for l in dense):
            return None
        return [dense[0].n_in] + [l.n_out for l in dense]

    def describe(self) -> str:
        """The architecture in one line: ``784 → 128 → 10`` for a dense net, else layer by layer."""
        sizes = self.mlp_sizes()
        if sizes:
            return " → ".join(map(str, sizes))
        return " → ".join(l.description() for l in self.layers)

    def predict(self, X, batch_size: int = 1024) -> np.ndarray:
        """Network outputs in eval mode (dropout off), computed in batches, untraced."""
        X = np.asarray(X, dtype=self.dtype)
        was_training, tracer = self.training, self._tracer
        self.eval()
        self.tracer = NULL_TRACER
        try:
            outs = [self.forward(X[i:i + batch_size]) for i in range(0, len(X), batch_size)]
        finally:
            self.tracer = tracer
            self.train(was_training)
        return np.concatenate(outs) if outs else np.zeros((0,) + self.output_shape(), self.dtype)

    def output_shape(self) -> tuple[int, ...]:
        """The width of one example's output, ``(n_out,)``, as the layers declare it."""
        shape = None
        for layer in self.layers:
            shape = layer.output_shape(shape)
        if not shape or shape[-1] is None:
            raise ValueError("this model has no layer that fixes its output width")
        return (shape[-1],)

    def unit_of(self, symbol: str, index: tuple) -> tuple[Layer, int] | None:
        """The layer and unit that a cell of any array of an iteration belongs to, as the layers
        say: ``W1[:,j]``, ``Z1[:,j]``, ``A1[:,j]`` → (dense1, j); an optimizer's ``vW1`` as ``W1``.
        Through an elementwise layer (an activation, dropout, pooling) the unit of its output is
        the unit of its input, so the search goes on below it with its input's symbol."""
        if symbol not in self._by_name and symbol[1:] in self._by_name and not Op.is_gradient(symbol):
            symbol = symbol[1:]  # vW1, mK1: an optimizer's state of W1, K1
        for layer in reversed(self.layers):
            unit = layer.unit_of(symbol, index)
            if unit is not None:
                return layer, unit
            own = {v for key, v in layer.sym.items() if key not in ("in", "din")}
            if layer.passes_units and symbol in own:
                symbol = layer.sym["din" if Op.is_gradient(symbol) else "in"]
        return None

    def axis_names(self, symbol: str) -> tuple[str, ...] | None:
        """What the leading axes of a 3-D/4-D array index, if its layer says (a kernel's filters)."""
        if symbol not in self._by_name and symbol[1:] in self._by_name:
            symbol = symbol[1:]  # vK1, mK1: laid out like K1
        for layer in self.layers:
            names = layer.axis_names(symbol)
            if names:
                return names
        return None

    def evaluate(self, X, Y, loss_fn) -> dict[str, float]:
        """Data loss (without the L2 penalty) and accuracy on (X, Y), in eval mode."""
        out = self.predict(X)
        tracer, loss_fn.tracer = loss_fn.tracer, NULL_TRACER
        try:
            L = loss_fn.forward(out, Y)
        finally:
            loss_fn.tracer = tracer
        return {"loss": L, "accuracy": loss_fn.accuracy(out, Y)}

    # -- state ---------------------------------------------------------------------------
    def config(self) -> dict:
        """The architecture as JSON-ready data (what a model file stores beside the arrays)."""
        return {"dtype": self.dtype.name, "l2": self._l2,
                "layers": [{"type": type(layer).__name__, **layer.config()} for layer in self.layers]}

    @classmethod
    def from_config(cls, config: dict) -> "Sequential":
        layers = [LAYER_TYPES[spec["type"]](**{k: v for k, v in spec.items() if k != "type"})
                  for spec in config["layers"]]
        return cls(*layers, dtype=config.get("dtype", "float64"), l2=config.get("l2", 0.0))

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter, by full name."""
        return {p.name: p.value.copy() for p in self._params}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for p in self._params:
            array = np.asarray(state[p.name])
            if array.shape != p.value.shape:
                raise ShapeError(f"{p.name}: expected shape {p.value.shape}, got {array.shape}")
            p.value = array.astype(self.dtype, copy=True)

    def copy(self, dtype=None) -> "Sequential":
        """An independent model with the same architecture and weights (no tracer)."""
        tracer = self._tracer
        self.tracer = NULL_TRACER
        try:
            clone = copy.deepcopy(self)  # keeps the layers' own classes (a planted bug survives)
        finally:
            self.tracer = tracer
        if dtype is not None:
            clone.astype(dtype)
        return clone

    def summary(self) -> str:
        rows, total = [], 0
        for layer in self.layers:
            count = sum(getattr(layer, a).size for a in layer.params)
            total += count
            rows.append((layer.name, layer.summary_equation(), count))
        width = max([28] + [len(eq) for _, eq, _ in rows])
        lines = [f"{'layer':<12} {'computes':<{width}} {'parameters':>10}"]
        lines += [f"{name:<12} {eq:<{width}} {count:>10,}" for name, eq, count in rows]
        lines.append(f"{'total':<{13 + width}} {total:>10,}")
        return "\n".join(lines)

    def __repr__(self):
        inner = ",\n  ".join(f"{layer.name}: {layer!r}" for layer in self.layers)
        return f"Sequential(\n  {inner}\n)"
