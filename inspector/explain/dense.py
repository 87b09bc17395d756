"""Explainers for the ops of engine/layers.py: Dense (forward, dW, db, dX) and Dropout."""
from __future__ import annotations

from .common import idx, n, products, read, sum_of, with_l2


def at_rows(lead: tuple, last: str) -> str:
    """An index written out: (i,) and ``k`` → ``[i,k]``; (i, t) of a sequence batch → ``[i,t,k]``."""
    return "[" + ",".join([*(str(int(a)) for a in lead), last]) + "]"


def dense_forward(op, index):
    X, W, b, Z = (op.roles[r] for r in ("X", "W", "b", "out"))
    *lead, j = index  # (i, j), or (i, t, j) for a sequence batch (m, T, n_in)
    row = read(op, "X")[tuple(lead)]
    terms, value = products(row, read(op, "W")[:, j])
    bias = read(op, "b")[j]
    return (f"{Z}{idx(*index)} = Σₖ {X}{at_rows(lead, 'k')}·{W}[k,{j}] + {b}[{j}]", f"{sum_of(terms)} + {n(bias)}",
            value + float(bias), [f"k runs over the {row.size} inputs of neuron {j}"])


def dense_dW(op, index):
    X, dZ, dW = (op.roles[r] for r in ("X", "dout", "dW"))
    k, j = index
    Xv, G = read(op, "X"), read(op, "dout")
    terms, value = products(Xv[..., k], G[..., j])
    if Xv.ndim == 2:
        formula, note = f"{dW}{idx(k, j)} = Σᵢ {X}[i,{k}]·{dZ}[i,{j}]", f"i runs over the {len(Xv)} examples of the batch"
    else:  # a sequence batch: the same weights at every timestep
        formula = f"{dW}{idx(k, j)} = Σᵢ Σₜ {X}[i,t,{k}]·{dZ}[i,t,{j}]"
        note = (f"i, t run over the {Xv.shape[0]} examples and the {Xv.shape[1]} timesteps: the same "
                f"weight is used at every timestep")
    formula, numbers, value = with_l2(op, index, "W", formula, sum_of(terms), value)
    return formula, numbers, value, [note]


def dense_db(op, index):
    dZ, db = op.roles["dout"], op.roles["db"]
    (j,) = index
    col = read(op, "dout")[..., j]
    formula = f"{db}[{j}] = Σᵢ {dZ}[i,{j}]" if col.ndim == 1 else f"{db}[{j}] = Σᵢ Σₜ {dZ}[i,t,{j}]"
    return formula, sum_of([n(v) for v in col.ravel()]), float(col.sum()), []


def dense_dX(op, index):
    dZ, W, dX = (op.roles[r] for r in ("dout", "W", "dX"))
    *lead, k = index
    row = read(op, "dout")[tuple(lead)]
    terms, value = products(row, read(op, "W")[k])
    return (f"{dX}{idx(*index)} = Σⱼ {dZ}{at_rows(lead, 'j')}·{W}[{k},j]", sum_of(terms), value,
            [f"j runs over the {row.size} neurons that input {k} feeds"])


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
