"""Explainers for the ops of engine/activations.py: ReLU, LeakyReLU, Sigmoid, Tanh and Softmax, forward and back."""
from __future__ import annotations

import numpy as np

from ..render import fmt
from .common import idx, n, read, sum_of


def sigmoid(a: float) -> float:
    return float(0.5 * (1 + np.tanh(0.5 * a)))


def elementwise(op, index):
    """``A = f(Z)``, one element: the input Z (role X), the output A (role out)."""
    Z, A = op.roles["X"], op.roles["out"]
    return Z, A, float(read(op, "X")[index]), idx(*index)


def relu_forward(op, index):
    Z, A, z, at = elementwise(op, index)
    return f"{A}{at} = max(0, {Z}{at})", f"max(0, {n(z)})", max(0.0, z), []


def leakyrelu_forward(op, index):
    Z, A, z, at = elementwise(op, index)
    a = op.attrs["alpha"]
    value = z if z > 0 else a * z
    return f"{A}{at} = {Z}{at} if {Z}{at} > 0 else α·{Z}{at}", n(z) if z > 0 else f"{n(a)}·{n(z)}", value, []


def sigmoid_forward(op, index):
    Z, A, z, at = elementwise(op, index)
    return f"{A}{at} = 1/(1 + e^(−{Z}{at}))", f"1/(1 + e^(−{n(z)}))", sigmoid(z), []


def tanh_forward(op, index):
    Z, A, z, at = elementwise(op, index)
    return f"{A}{at} = tanh({Z}{at})", f"tanh({n(z)})", float(np.tanh(z)), []


def softmax_row(op, index, result: str):
    """``P[i,j] = e^Z[i,j] / Σₖ e^Z[i,k]`` for the result that plays role ``result`` (``out``; a loss's ``P``)."""
    Z, P = op.roles["X"], op.roles[result]
    i, j = index
    row = read(op, "X")[i]
    shift = row.max()
    e = np.exp(row - shift)
    value = float(e[j] / e.sum())
    denominators = [f"e^{n(z)}" for z in row]
    return (f"{P}{idx(i, j)} = e^{Z}[{i},{j}] / Σₖ e^{Z}[{i},k]",
            f"e^{n(row[j])} / ({sum_of(denominators)})", value,
            [f"computed as e^(z − {fmt(shift)}) so that no exponential overflows"])


def softmax_forward(op, index):
    return softmax_row(op, index, "out")


def backward(op, index, other: str):
    """``dZ = dA ⊙ f′``, one element: the gradient from above (role dout), the array f′ reads
    (role ``other``: the input Z for ReLU, the output A for the squashing functions)."""
    dA, O, dZ = op.roles["dout"], op.roles[other], op.roles["dX"]
    return dA, O, dZ, float(read(op, "dout")[index]), float(read(op, other)[index]), idx(*index)


def relu_backward(op, index):
    dA, Z, dZ, g, v, at = backward(op, index, "X")
    return (f"{dZ}{at} = {dA}{at}·1[{Z}{at} > 0]", f"{n(g)}·{int(v > 0)}", g * (v > 0),
            [] if v > 0 else [f"{Z}{at} ≤ 0: this neuron did not fire, so no gradient flows back"])


def leakyrelu_backward(op, index):
    dA, Z, dZ, g, v, at = backward(op, index, "X")
    a = op.attrs["alpha"]
    slope = 1.0 if v > 0 else a
    return f"{dZ}{at} = {dA}{at}·(1 if {Z}{at} > 0 else α)", f"{n(g)}·{n(slope)}", g * slope, []


def sigmoid_backward(op, index):
    dA, A, dZ, g, v, at = backward(op, index, "out")
    return f"{dZ}{at} = {dA}{at}·{A}{at}·(1 − {A}{at})", f"{n(g)}·{n(v)}·(1 − {n(v)})", g * v * (1 - v), []


def tanh_backward(op, index):
    dA, A, dZ, g, v, at = backward(op, index, "out")
    return f"{dZ}{at} = {dA}{at}·(1 − {A}{at}²)", f"{n(g)}·(1 − {n(v)}²)", g * (1 - v * v), []


def softmax_backward(op, index):
    dA, A, dZ, _, _, at = backward(op, index, "out")
    i, j = index
    dArow, Arow = read(op, "dout")[i], read(op, "out")[i]
    inner = float(dArow @ Arow)
    return (f"{dZ}{at} = {A}{at}·({dA}{at} − Σₖ {dA}[{i},k]·{A}[{i},k])",
            f"{n(Arow[j])}·({n(dArow[j])} − {n(inner)})", float(Arow[j] * (dArow[j] - inner)), [])


EXPLAINERS = {
    "relu.forward": relu_forward, "leakyrelu.forward": leakyrelu_forward,
    "sigmoid.forward": sigmoid_forward, "tanh.forward": tanh_forward, "softmax.forward": softmax_forward,
    "relu.backward": relu_backward, "leakyrelu.backward": leakyrelu_backward,
    "sigmoid.backward": sigmoid_backward, "tanh.backward": tanh_backward, "softmax.backward": softmax_backward,
}
