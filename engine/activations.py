"""Activation layers: ReLU, LeakyReLU, Sigmoid, Tanh, Softmax; each forward with its backward below it.

An activation after the k-th parameterized layer reads ``Zk`` and writes ``Ak``; its backward
reads ``dAk`` and writes ``dZk``. All shapes are (m, n) in and out.
"""
from __future__ import annotations

import numpy as np

from .layers import Layer


class Activation(Layer):
    """Elementwise (or row-wise) function with no parameters: unit j of its output is unit j of its input."""

    registered = False  # a base: the layers are its subclasses
    passes_units = True

    def trace_forward(self, Z, A, **attrs):
        s = self.sym
        self.emit("forward", f"{self.kind}.forward", self.equations["A"], {s["in"]: Z}, {s["out"]: A}, **attrs)

    def trace_backward(self, dA, reads: dict, dZ, **attrs):
        s = self.sym
        self.emit("backward", f"{self.kind}.backward", self.equations["dZ"],
                  {s["dout"]: dA, **reads}, {s["din"]: dZ}, **attrs)


class ReLU(Activation):
    """``A = max(0, Z)``;  ``dZ = dA ⊙ 1[Z > 0]`` (the gradient passes only where the neuron fired)."""

    kind = "relu"

    def describe(self, s):
        return {"A": f"{s['out']} = max(0, {s['in']})",
                "dZ": f"{s['din']} = {s['dout']} ⊙ 1[{s['in']} > 0]"}

    def kink_state(self):
        return self.Z > 0  # the kink at 0

    def forward(self, Z):
        A = np.maximum(Z, 0)
        self.Z = Z
        if self.tracer.enabled:
            self.trace_forward(Z, A)
        return A

    def backward(self, dA):
        dZ = dA * (self.Z > 0)
        if self.tracer.enabled:
            self.trace_backward(dA, {self.sym["in"]: self.Z}, dZ)
        return dZ


class LeakyReLU(Activation):
    """``A = Z if Z > 0 else α·Z``;  ``dZ = dA ⊙ (1 if Z > 0 else α)``."""

    kind = "leakyrelu"

    def __init__(self, alpha: float = 0.01):
        self.alpha = float(alpha)
        super().__init__()

    def config(self):
        return {"alpha": self.alpha}

    def describe(self, s):
        return {"A": f"{s['out']} = {s['in']} if {s['in']} > 0 else α·{s['in']}",
                "dZ": f"{s['din']} = {s['dout']} ⊙ (1 if {s['in']} > 0 else α)"}

    def kink_state(self):
        return self.Z > 0  # the kink at 0

    def forward(self, Z):
        A = np.where(Z > 0, Z, self.alpha * Z)
        self.Z = Z
        if self.tracer.enabled:
            self.trace_forward(Z, A, alpha=self.alpha)
        return A

    def backward(self, dA):
        dZ = dA * np.where(self.Z > 0, 1.0, self.alpha).astype(dA.dtype, copy=False)
        if self.tracer.enabled:
            self.trace_backward(dA, {self.sym["in"]: self.Z}, dZ, alpha=self.alpha)
        return dZ


class Sigmoid(Activation):
    """``A = σ(Z) = 1/(1 + e^(−Z))``;  ``dZ = dA ⊙ A ⊙ (1 − A)``."""

    kind = "sigmoid"

    def describe(self, s):
        return {"A": f"{s['out']} = σ({s['in']}) = 1/(1 + e^(−{s['in']}))",
                "dZ": f"{s['din']} = {s['dout']} ⊙ {s['out']} ⊙ (1 − {s['out']})"}

    def forward(self, Z):
        A = 0.5 * (1.0 + np.tanh(0.5 * Z))  # = 1/(1 + e^(−Z)), with no overflow for very negative Z
        self.A = A
        if self.tracer.enabled:
            self.trace_forward(Z, A)
        return A

    def backward(self, dA):
        A = self.A
        dZ = dA * A * (1.0 - A)
        if self.tracer.enabled:
            self.trace_backward(dA, {self.sym["out"]: A}, dZ)
        return dZ


class Tanh(Activation):
    """``A = tanh(Z)``;  ``dZ = dA ⊙ (1 − A²)``."""

    kind = "tanh"

    def describe(self, s):
        return {"A": f"{s['out']} = tanh({s['in']})",
                "dZ": f"{s['din']} = {s['dout']} ⊙ (1 − {s['out']}²)"}

    def forward(self, Z):
        A = np.tanh(Z)
        self.A = A
        if self.tracer.enabled:
            self.trace_forward(Z, A)
        return A

    def backward(self, dA):
        A = self.A
        dZ = dA * (1.0 - A * A)
        if self.tracer.enabled:
            self.trace_backward(dA, {self.sym["out"]: A}, dZ)
        return dZ


def softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so that e^Z never overflows."""
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


class Softmax(Activation):
    """``A[i,j] = e^Z[i,j] / Σₖ e^Z[i,k]``;  ``dZ = A ⊙ (dA − Σₖ dA ⊙ A)`` row by row.

    For classification prefer the fused ``SoftmaxCrossEntropy`` loss on the logits: it is
    stabler and its gradient is simply ``(P − Y)/m``.
    """

    kind = "softmax"

    def describe(self, s):
        return {"A": f"{s['out']}[i,j] = e^{s['in']}[i,j] / Σₖ e^{s['in']}[i,k]",
                "dZ": f"{s['din']} = {s['out']} ⊙ ({s['dout']} − Σₖ {s['dout']}[:,k]·{s['out']}[:,k])"}

    def forward(self, Z):
        A = softmax(Z)
        self.A = A
        if self.tracer.enabled:
            self.trace_forward(Z, A)
        return A

    def backward(self, dA):
        A = self.A
        dZ = A * (dA - (dA * A).sum(axis=1, keepdims=True))
        if self.tracer.enabled:
            self.trace_backward(dA, {self.sym["out"]: A}, dZ)
        return dZ
