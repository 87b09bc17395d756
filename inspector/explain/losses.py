"""Explainers for the ops of engine/losses.py (softmax cross-entropy, MSE, BCE) and the model's L2 penalty op."""
from __future__ import annotations

import numpy as np

from ..render import fmt
from .activations import sigmoid, softmax_row
from .common import idx, n, read, sum_of


def ce_softmax(op, index):
    return softmax_row(op, index, "P")


def ce_loss(op, index):
    Pm, Ym = read(op, "P"), read(op, "Y")
    m = op.attrs["m"]
    terms, total = [], 0.0
    for i in range(len(Pm)):
        for j in np.flatnonzero(Ym[i]):
            terms.append(f"{n(Ym[i, j])}·log {fmt(Pm[i, j])}" if Ym[i, j] != 1 else f"log {fmt(Pm[i, j])}")
            total += Ym[i, j] * np.log(Pm[i, j])
    return ("L = −(1/m)·Σᵢ Σⱼ Y[i,j]·log P[i,j]", f"−(1/{m})·({sum_of(terms)})", float(-total / m),
            ["only the true class of each example counts: Y is one-hot"])


def ce_backward(op, index):
    P, Y, dZ = (op.roles[r] for r in ("P", "Y", "dX"))
    i, j = index
    p, y, m = float(read(op, "P")[i, j]), float(read(op, "Y")[i, j]), op.attrs["m"]
    return f"{dZ}{idx(i, j)} = ({P}{idx(i, j)} − {Y}{idx(i, j)})/m", f"({fmt(p)} − {n(y)})/{m}", (p - y) / m, []


def mse_loss(op, index):
    A = op.roles["X"]
    a, y = read(op, "X").ravel(), read(op, "Y").ravel()
    terms = [f"({n(p)} − {n(t)})²" for p, t in zip(a, y)]
    return (f"L = (1/n)·Σ ({A} − Y)²", f"(1/{a.size})·({sum_of(terms)})", float(np.mean((a - y) ** 2)), [])


def mse_backward(op, index):
    A, dA = op.roles["X"], op.roles["dX"]
    a, y, size = float(read(op, "X")[index]), float(read(op, "Y")[index]), op.attrs["n"]
    at = idx(*index)
    return f"{dA}{at} = 2·({A}{at} − Y{at})/n", f"2·({n(a)} − {n(y)})/{size}", 2 * (a - y) / size, []


def bce_sigmoid(op, index):
    Z, P = op.roles["X"], op.roles["P"]
    z = float(read(op, "X")[index])
    at = idx(*index)
    return f"{P}{at} = 1/(1 + e^(−{Z}{at}))", f"1/(1 + e^(−{n(z)}))", sigmoid(z), []


def bce_loss(op, index):
    Z = op.roles["X"]
    z, y = read(op, "X").ravel(), read(op, "Y").ravel()
    terms = [f"[max({n(a)},0) − {n(a)}·{n(t)} + log(1 + e^(−|{n(a)}|))]" for a, t in zip(z, y)]
    value = float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))
    return (f"L = (1/n)·Σ [max({Z},0) − {Z}·Y + log(1 + e^(−|{Z}|))]", f"(1/{z.size})·({sum_of(terms)})", value, [])


def bce_backward(op, index):
    P, dZ = op.roles["P"], op.roles["dX"]
    p, y, size = float(read(op, "P")[index]), float(read(op, "Y")[index]), op.attrs["n"]
    at = idx(*index)
    return f"{dZ}{at} = ({P}{at} − Y{at})/n", f"({fmt(p)} − {n(y)})/{size}", (p - y) / size, []


def l2_penalty(op, index):
    """``L ← L + (λ/2m)·Σ‖W‖²``: the op reads the data loss in role L (and writes the total there)
    and, besides it, the decayed weights themselves."""
    data = float(read(op, "L"))  # the data loss, before the penalty is added
    weights = [sym for sym in op.inputs if sym != op.roles["L"]]
    total = sum(float(np.sum(op.inputs[k] ** 2)) for k in weights)
    lam, m = op.attrs["l2"], op.attrs["m"]
    return ("L ← L + (λ/2m)·Σ‖W‖²", f"{fmt(data)} + ({n(lam)}/(2·{m}))·{fmt(total)}",
            data + lam / (2 * m) * total, [f"Σ‖W‖² sums the squares of {', '.join(weights)}"])


EXPLAINERS = {
    "softmax_ce.softmax": ce_softmax, "softmax_ce.loss": ce_loss, "softmax_ce.backward": ce_backward,
    "mse.loss": mse_loss, "mse.backward": mse_backward,
    "bce.sigmoid": bce_sigmoid, "bce.loss": bce_loss, "bce.backward": bce_backward,
    "l2.penalty": l2_penalty,
}
