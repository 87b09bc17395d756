"""Losses: MSE, SoftmaxCrossEntropy (fused, log-sum-exp stable), BinaryCrossEntropy on logits.

``forward(out, Y)`` returns the scalar loss L averaged over the batch and caches what
``backward()`` needs; ``backward()`` returns ∂L/∂out with out's shape. Their ops run in the
``loss`` phase (forward) and open the ``backward`` phase, under the layer name ``loss``.
"""
from __future__ import annotations

import numpy as np

from .activations import softmax
from .errors import ShapeError, shape_str
from .trace import NULL_TRACER, Op, elementwise_cost


class Loss:
    kind = "loss"
    # FLOPs per element of each op's largest operand (the m×k output, P or Y), counted by hand from
    # the code (exp, log, tanh count one FLOP each, as profilers count them); see op_cost
    flops_per_element: dict[str, int] = {}

    def __init__(self):
        self.name = "loss"
        self.tracer = NULL_TRACER
        self.bind("Z")

    def bind(self, in_sym: str) -> None:
        """Name the network output this loss reads (``Z2`` for logits, ``A2`` for probabilities)."""
        self.in_sym = in_sym
        self.sym = {"in": in_sym, "din": "d" + in_sym}
        self.equations = self.describe(self.sym)

    def describe(self, s: dict[str, str]) -> dict[str, str]:
        return {}

    def config(self) -> dict:
        return {}

    def emit(self, phase, kind, equation, inputs, outputs, **attrs):
        """Report one op; its roles: ``X`` the network output it reads, ``Y``, ``P``, ``L``, ``dX``."""
        present = inputs.keys() | outputs.keys()
        roles = {role: sym for role, sym in (("X", self.in_sym), ("Y", "Y"), ("P", "P"), ("L", "L"),
                                             ("dX", self.sym["din"])) if sym in present}
        self.tracer.record(Op(phase, self.name, kind, equation, inputs, outputs, attrs, roles=roles))

    def op_cost(self, op: Op) -> dict[str, int]:
        """FLOPs and bytes of one of its ops: elementwise, ``flops_per_element[kind]`` per element
        of the op's largest operand (1 for a kind the table lacks); bytes from the arrays."""
        return elementwise_cost(op, self.flops_per_element.get(op.kind, 1))

    def classify(self, out: np.ndarray) -> np.ndarray:
        """The class each row of the network output predicts (each timestep's, for a sequence
        output (m, T, k))."""
        return out.argmax(axis=-1) if out.shape[-1] > 1 else (out[..., 0] > self.threshold).astype(int)

    threshold = 0.5

    @staticmethod
    def labels(Y: np.ndarray) -> np.ndarray:
        """Class labels from integer labels, one-hot rows or 0/1 targets; (m, T, k) targets of a
        many-to-many model give (m, T) labels, one per timestep."""
        Y = np.asarray(Y)
        if Y.ndim >= 2 and Y.shape[-1] > 1:
            return Y.argmax(axis=-1)
        if Y.ndim >= 2:
            Y = Y[..., 0]
        return np.rint(Y).astype(int)

    def accuracy(self, out: np.ndarray, Y: np.ndarray) -> float:
        return float(np.mean(self.classify(out) == self.labels(Y)))

    def __repr__(self):
        return f"{type(self).__name__}()"


def as_column_targets(name: str, out: np.ndarray, Y) -> np.ndarray:
    """Targets with the output's shape; a 1-D Y is taken as one column."""
    Y = np.asarray(Y, dtype=out.dtype)
    if Y.ndim == 1 and out.ndim == 2 and out.shape[1] == 1:
        Y = Y[:, None]
    if Y.shape != out.shape:
        raise ShapeError(f"{name}: targets Y must have the output's shape {shape_str(out.shape)}, "
                         f"got {shape_str(Y.shape)}")
    return Y


class MSE(Loss):
    """Mean squared error: ``L = (1/n)·Σ (A − Y)²`` over all n = m·k entries; ``dA = 2·(A − Y)/n``."""

    kind = "mse"
    flops_per_element = {"mse.loss": 3, "mse.backward": 2}  # A − Y, square, sum;  A − Y, ·2/n

    def describe(self, s):
        return {"L": f"L = (1/n)·Σ ({s['in']} − Y)²,  n = m·k",
                "dA": f"{s['din']} = 2·({s['in']} − Y)/n"}

    def forward(self, A, Y):
        Y = as_column_targets("MSE", A, Y)
        diff = A - Y
        L = float(np.mean(diff * diff))
        self.diff, self.A, self.Y = diff, A, Y
        if self.tracer.enabled:
            self.emit("loss", "mse.loss", self.equations["L"], {self.in_sym: A, "Y": Y},
                      {"L": np.asarray(L)}, n=A.size)
        return L

    def backward(self):
        n = self.diff.size
        dA = (2.0 / n) * (self.A - self.Y)  # from the operands it reports, so an edit of Y or A shows
        if self.tracer.enabled:
            self.emit("backward", "mse.backward", self.equations["dA"], {self.in_sym: self.A, "Y": self.Y},
                      {self.sym["din"]: dA}, n=n)
        return dA


class SoftmaxCrossEntropy(Loss):
    """Softmax then cross-entropy, fused: ``P = softmax(Z)``, ``L = −(1/m)·Σᵢ log P[i, yᵢ]``, ``dZ = (P − Y)/m``.

    Z is (m, K) logits; Y is (m,) integer labels or (m, K) one-hot rows (shown one-hot).
    ``log P = Z − max − log Σ e^(Z − max)`` (log-sum-exp), so logits of ±1e4 stay finite.
    """

    kind = "softmax_ce"
    # softmax: max, subtract, exp, sum, subtract the log, exp;  loss: Y·log P, sum;  dZ: P − Y, /m
    flops_per_element = {"softmax_ce.softmax": 6, "softmax_ce.loss": 2, "softmax_ce.backward": 2}

    def describe(self, s):
        return {"P": f"P[i,j] = e^{s['in']}[i,j] / Σₖ e^{s['in']}[i,k]",
                "L": "L = −(1/m)·Σᵢ Σⱼ Y[i,j]·log P[i,j]",
                "dZ": f"{s['din']} = (P − Y)/m"}

    def one_hot(self, Z, Y) -> np.ndarray:
        Y = np.asarray(Y)
        m, K = Z.shape
        if Y.ndim == 1 and len(Y) == m and Y.dtype.kind in "iu":  # integer labels
            if len(Y) and (Y.min() < 0 or Y.max() >= K):
                raise ShapeError(f"SoftmaxCrossEntropy: labels must lie in 0..{K - 1}, "
                                 f"got values from {Y.min()} to {Y.max()}")
            Yh = np.zeros((m, K), dtype=Z.dtype)
            Yh[np.arange(m), Y] = 1.0
            return Yh
        if Y.shape == Z.shape:
            Y = Y.astype(Z.dtype, copy=False)
            sums = Y.sum(axis=1)
            bad = np.flatnonzero((np.abs(sums - 1) > 1e-6) | (Y < 0).any(axis=1))
            if len(bad):  # (P − Y)/m is the gradient of L only when every row of Y is a distribution
                i = int(bad[0])
                raise ShapeError(f"SoftmaxCrossEntropy: each row of Y must be a probability distribution "
                                 f"(entries ≥ 0 that sum to 1), but row {i} sums to {sums[i]:.6g}"
                                 f"{' and has a negative entry' if (Y[i] < 0).any() else ''} "
                                 f"({len(bad)} row{'s' if len(bad) > 1 else ''} in all); the gradient "
                                 f"(P − Y)/m would not be the gradient of the loss")
            return Y
        raise ShapeError(f"SoftmaxCrossEntropy: Y must be {m} integer labels or {m}×{K} one-hot rows "
                         f"for logits of shape {shape_str(Z.shape)}, got {shape_str(Y.shape)} {Y.dtype}")

    def forward(self, Z, Y):
        if Z.ndim != 2:
            raise ShapeError(f"SoftmaxCrossEntropy: expected logits of shape (batch, classes), "
                             f"got {shape_str(Z.shape)}")
        Y = self.one_hot(Z, Y)
        m = Z.shape[0]
        shifted = Z - Z.max(axis=1, keepdims=True)
        log_P = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        P = np.exp(log_P)
        if self.tracer.enabled:
            self.emit("loss", "softmax_ce.softmax", self.equations["P"], {self.in_sym: Z}, {"P": P})
        L = float(-(Y * log_P).sum() / m)
        self.P, self.Y = P, Y
        if self.tracer.enabled:
            self.emit("loss", "softmax_ce.loss", self.equations["L"], {"P": P, "Y": Y},
                      {"L": np.asarray(L)}, m=m)
        return L

    def backward(self):
        P, Y = self.P, self.Y
        m = P.shape[0]
        dZ = (P - Y) / m
        if self.tracer.enabled:
            self.emit("backward", "softmax_ce.backward", self.equations["dZ"], {"P": P, "Y": Y},
                      {self.sym["din"]: dZ}, m=m)
        return dZ

    def probabilities(self, out):
        return softmax(out)


class BinaryCrossEntropy(Loss):
    """Sigmoid then binary cross-entropy on logits, fused and stable.

    ``L = (1/n)·Σ [max(Z, 0) − Z·Y + log(1 + e^(−|Z|))]`` equals ``−mean(Y·log σ(Z) + (1−Y)·log(1−σ(Z)))``
    without ever taking log 0; ``dZ = (σ(Z) − Y)/n``. Z and Y are (m, k), usually k = 1.
    """

    kind = "bce"
    # σ: ½·Z, tanh, 1 +, ½·;  loss: max, Z·Y, −, |Z|, negate, exp, log1p, +, mean;  dZ: P − Y, /n
    flops_per_element = {"bce.sigmoid": 4, "bce.loss": 9, "bce.backward": 2}
    threshold = 0.0  # logit 0 ⇔ probability ½

    def describe(self, s):
        return {"P": f"P = σ({s['in']})",
                "L": f"L = (1/n)·Σ [max({s['in']}, 0) − {s['in']}·Y + log(1 + e^(−|{s['in']}|))]",
                "dZ": f"{s['din']} = (P − Y)/n"}

    def forward(self, Z, Y):
        Y = as_column_targets("BinaryCrossEntropy", Z, Y)
        P = 0.5 * (1.0 + np.tanh(0.5 * Z))
        if self.tracer.enabled:
            self.emit("loss", "bce.sigmoid", self.equations["P"], {self.in_sym: Z}, {"P": P})
        L = float(np.mean(np.maximum(Z, 0) - Z * Y + np.log1p(np.exp(-np.abs(Z)))))
        self.P, self.Y, self.Z = P, Y, Z
        if self.tracer.enabled:
            self.emit("loss", "bce.loss", self.equations["L"], {self.in_sym: Z, "Y": Y},
                      {"L": np.asarray(L)}, n=Z.size)
        return L

    def backward(self):
        n = self.P.size
        dZ = (self.P - self.Y) / n
        if self.tracer.enabled:
            self.emit("backward", "bce.backward", self.equations["dZ"], {"P": self.P, "Y": self.Y},
                      {self.sym["din"]: dZ}, n=n)
        return dZ

    def probabilities(self, out):
        return 0.5 * (1.0 + np.tanh(0.5 * out))


LOSSES = {"mse": MSE, "softmax_ce": SoftmaxCrossEntropy, "bce": BinaryCrossEntropy}
