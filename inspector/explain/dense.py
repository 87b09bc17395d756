"""Explainers for the ops of engine/layers.py: Dense (forward, dW, db, dX) and Dropout."""
from __future__ import annotations

from .common import idx, n, products, read, sum_of, with_l2


def dense_forward(op, index):
    X, W, b, Z = (op.roles[r] for r in ("X", "W", "b", "out"))
    i, j = index
    terms, value = products(read(op, "X")[i], read(op, "W")[:, j])
    bias = read(op, "b")[j]
    return (f"{Z}{idx(i, j)} = Σₖ {X}[{i},k]·{W}[k,{j}] + {b}[{j}]", f"{sum_of(terms)} + {n(bias)}",
            value + float(bias), [f"k runs over the {len(terms)} inputs of neuron {j}"])


def dense_dW(op, index):
    X, dZ, dW = (op.roles[r] for r in ("X", "dout", "dW"))
    k, j = index
    terms, value = products(read(op, "X")[:, k], read(op, "dout")[:, j])
    formula, numbers, value = with_l2(op, index, "W", f"{dW}{idx(k, j)} = Σᵢ {X}[i,{k}]·{dZ}[i,{j}]",
                                      sum_of(terms), value)
    return formula, numbers, value, [f"i runs over the {len(terms)} examples of the batch"]


def dense_db(op, index):
    dZ, db = op.roles["dout"], op.roles["db"]
    (j,) = index
    col = read(op, "dout")[:, j]
    return f"{db}[{j}] = Σᵢ {dZ}[i,{j}]", sum_of([n(v) for v in col]), float(col.sum()), []


def dense_dX(op, index):
    dZ, W, dX = (op.roles[r] for r in ("dout", "W", "dX"))
    i, k = index
    terms, value = products(read(op, "dout")[i], read(op, "W")[k])
    return (f"{dX}{idx(i, k)} = Σⱼ {dZ}[{i},j]·{W}[{k},j]", sum_of(terms), value,
            [f"j runs over the {len(terms)} neurons that input {k} feeds"])


def dropout_forward(op, index):
    A, D, M = (op.roles[r] for r in ("X", "out", "mask"))
    a, mask = float(read(op, "X")[index]), float(op.role("mask")[index])
    at = idx(*index)
    note = "kept and scaled by 1/(1 − p)" if mask else "dropped"
    return f"{D}{at} = {A}{at}·{M}{at}", f"{n(a)}·{n(mask)}", a * mask, [f"this unit was {note} (p = {op.attrs['p']})"]


def dropout_mask(op, index):
    M = op.roles["mask"]
    u_kept, p = float(op.role("mask")[index]) != 0, op.attrs["p"]
    at = idx(*index)
    return (f"{M}{at} = 1[U{at} ≥ p]/(1 − p)", f"{int(u_kept)}/(1 − {n(p)})", float(u_kept) / (1 - p),
            [f"U{at} is a uniform random draw; the unit is {'kept' if u_kept else 'dropped'} (p = {p})"])


def dropout_backward(op, index):
    dD, dA = op.roles["dout"], op.roles["dX"]
    g = float(read(op, "dout")[index])
    at = idx(*index)
    if "mask" not in op.roles:  # eval mode: no mask was drawn
        return f"{dA}{at} = {dD}{at}", n(g), g, ["eval mode: dropout passes gradients through unchanged"]
    M = op.roles["mask"]
    mask = float(read(op, "mask")[index])
    return f"{dA}{at} = {dD}{at}·{M}{at}", f"{n(g)}·{n(mask)}", g * mask, []


def dropout_eval(op, index):
    A, D = op.roles["X"], op.roles["out"]
    a = float(read(op, "X")[index])
    return f"{D}{idx(*index)} = {A}{idx(*index)}", n(a), a, ["eval mode: dropout is off"]


EXPLAINERS = {
    "dense.forward": dense_forward, "dense.dW": dense_dW, "dense.db": dense_db, "dense.dX": dense_dX,
    "dropout.forward": {"out": dropout_forward, "mask": dropout_mask}, "dropout.backward": dropout_backward,
    "dropout.eval": dropout_eval,
}
