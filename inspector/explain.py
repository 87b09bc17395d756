"""``explain``: how one element of one op's result was computed, with its numbers.

Each explainer reads the op's recorded operands (by the order the engine lists them) and returns
the general formula for that element, the formula with the numbers put in, and the value the
numbers give, which the caller checks against what the code computed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from engine import Op

from .render import fmt

MAX_TERMS = 6


@dataclass
class Explanation:
    target: str
    op: str
    formula: str
    numbers: str
    value: float
    recomputed: float
    notes: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return f"{self.formula} = {self.numbers} = {fmt(self.value)}"


def n(x: float) -> str:
    """A number inside a formula: negative numbers in parentheses."""
    s = fmt(float(x)).rstrip("0").rstrip(".") if "e" not in fmt(float(x)) else fmt(float(x))
    s = s if s not in ("", "-", "-0") else "0"
    return f"({s})" if s.startswith("-") else s


def sum_of(terms: list[str]) -> str:
    if not terms:
        return "0"
    if len(terms) > MAX_TERMS:
        return " + ".join(terms[:MAX_TERMS - 2]) + f" + … ({len(terms) - MAX_TERMS + 1} more) + " + terms[-1]
    return " + ".join(terms)


def idx(*i) -> str:
    return "[" + ",".join(str(int(k)) for k in i) + "]"


def names(op: Op) -> tuple[list[str], list[str]]:
    return list(op.inputs), list(op.outputs)


def with_l2(op, index, formula: str, numbers: str, value: float) -> tuple[str, str, float]:
    """Add the weight decay term ``(λ/m)·W[index]`` of a gradient op that has one (W is its last input)."""
    if "l2" not in op.attrs:
        return formula, numbers, value
    W = list(op.inputs)[-1]
    lam, m, w = op.attrs["l2"], op.attrs["m"], float(op.inputs[W][index])
    return (formula + f" + (λ/m)·{W}{idx(*index)}", numbers + f" + ({n(lam)}/{m})·{n(w)}",
            value + lam / m * w)


def products(a: np.ndarray, b: np.ndarray) -> tuple[list[str], float]:
    """The terms ``a·b`` of a dot product, written out, and its value.

    Terms with a factor exactly 0 (a ReLU that did not fire, a pixel of background, a masked
    gradient) are counted, not written, so the terms that make the value stay in sight.
    """
    a, b = np.ravel(a), np.ravel(b)
    live = (a != 0) & (b != 0)
    terms = [f"{n(x)}·{n(y)}" for x, y in zip(a[live], b[live])]
    zeros = int(a.size - live.sum())
    if zeros:
        terms.append(f"[{zeros} term{'s' if zeros > 1 else ''} with a factor 0]")
    return terms, float(a @ b)


def _dense_forward(op, index):
    (X, W, b), (Z,) = names(op)
    i, j = index
    terms, value = products(op.inputs[X][i], op.inputs[W][:, j])
    bias = op.inputs[b][j]
    return (f"{Z}{idx(i, j)} = Σₖ {X}[{i},k]·{W}[k,{j}] + {b}[{j}]", f"{sum_of(terms)} + {n(bias)}",
            value + float(bias), [f"k runs over the {len(terms)} inputs of neuron {j}"])


def _dense_dW(op, index):
    ins, (dW,) = names(op)
    X, dZ = ins[0], ins[1]
    k, j = index
    terms, value = products(op.inputs[X][:, k], op.inputs[dZ][:, j])
    formula, numbers, value = with_l2(op, index, f"{dW}{idx(k, j)} = Σᵢ {X}[i,{k}]·{dZ}[i,{j}]", sum_of(terms),
                                      value)
    return formula, numbers, value, [f"i runs over the {len(terms)} examples of the batch"]


def _dense_db(op, index):
    (dZ,), (db,) = names(op)
    (j,) = index
    col = op.inputs[dZ][:, j]
    return f"{db}[{j}] = Σᵢ {dZ}[i,{j}]", sum_of([n(v) for v in col]), float(col.sum()), []


def _dense_dX(op, index):
    (dZ, W), (dX,) = names(op)
    i, k = index
    terms, value = products(op.inputs[dZ][i], op.inputs[W][k])
    return (f"{dX}{idx(i, k)} = Σⱼ {dZ}[{i},j]·{W}[{k},j]", sum_of(terms), value,
            [f"j runs over the {len(terms)} neurons that input {k} feeds"])


def _elementwise_forward(op, index):
    (Z,), (A,) = names(op)
    z = float(op.inputs[Z][index])
    kind = op.kind.split(".")[0]
    at = idx(*index)
    if kind == "relu":
        return f"{A}{at} = max(0, {Z}{at})", f"max(0, {n(z)})", max(0.0, z), []
    if kind == "leakyrelu":
        a = op.attrs["alpha"]
        value = z if z > 0 else a * z
        return (f"{A}{at} = {Z}{at} if {Z}{at} > 0 else α·{Z}{at}",
                n(z) if z > 0 else f"{n(a)}·{n(z)}", value, [])
    if kind == "sigmoid":
        return f"{A}{at} = 1/(1 + e^(−{Z}{at}))", f"1/(1 + e^(−{n(z)}))", float(0.5 * (1 + np.tanh(0.5 * z))), []
    if kind == "tanh":
        return f"{A}{at} = tanh({Z}{at})", f"tanh({n(z)})", float(np.tanh(z)), []
    raise KeyError(op.kind)


def _softmax_row(op, index, Z, P):
    i, j = index
    row = op.inputs[Z][i]
    shift = row.max()
    e = np.exp(row - shift)
    value = float(e[j] / e.sum())
    denominators = [f"e^{n(z)}" for z in row]
    return (f"{P}{idx(i, j)} = e^{Z}[{i},{j}] / Σₖ e^{Z}[{i},k]",
            f"e^{n(row[j])} / ({sum_of(denominators)})", value,
            [f"computed as e^(z − {fmt(shift)}) so that no exponential overflows"])


def _softmax_forward(op, index):
    (Z,), (P,) = names(op)
    return _softmax_row(op, index, Z, P)


def _ce_loss(op, index):
    (P, Y), _ = names(op)
    Pm, Ym = op.inputs[P], op.inputs[Y]
    m = op.attrs["m"]
    terms, total = [], 0.0
    for i in range(len(Pm)):
        for j in np.flatnonzero(Ym[i]):
            terms.append(f"{n(Ym[i, j])}·log {fmt(Pm[i, j])}" if Ym[i, j] != 1 else f"log {fmt(Pm[i, j])}")
            total += Ym[i, j] * np.log(Pm[i, j])
    return ("L = −(1/m)·Σᵢ Σⱼ Y[i,j]·log P[i,j]", f"−(1/{m})·({sum_of(terms)})", float(-total / m),
            ["only the true class of each example counts: Y is one-hot"])


def _ce_backward(op, index):
    (P, Y), (dZ,) = names(op)
    i, j = index
    p, y, m = float(op.inputs[P][i, j]), float(op.inputs[Y][i, j]), op.attrs["m"]
    return f"{dZ}{idx(i, j)} = ({P}{idx(i, j)} − {Y}{idx(i, j)})/m", f"({fmt(p)} − {n(y)})/{m}", (p - y) / m, []


def _activation_backward(op, index):
    ins, (dZ,) = names(op)
    dA, other = ins[0], ins[1]
    g, v = float(op.inputs[dA][index]), float(op.inputs[other][index])
    at = idx(*index)
    kind = op.kind.split(".")[0]
    if kind == "relu":
        return (f"{dZ}{at} = {dA}{at}·1[{other}{at} > 0]", f"{n(g)}·{int(v > 0)}", g * (v > 0),
                [] if v > 0 else [f"{other}{at} ≤ 0: this neuron did not fire, so no gradient flows back"])
    if kind == "leakyrelu":
        a = op.attrs["alpha"]
        slope = 1.0 if v > 0 else a
        return f"{dZ}{at} = {dA}{at}·(1 if {other}{at} > 0 else α)", f"{n(g)}·{n(slope)}", g * slope, []
    if kind == "sigmoid":
        return f"{dZ}{at} = {dA}{at}·{other}{at}·(1 − {other}{at})", f"{n(g)}·{n(v)}·(1 − {n(v)})", g * v * (1 - v), []
    if kind == "tanh":
        return f"{dZ}{at} = {dA}{at}·(1 − {other}{at}²)", f"{n(g)}·(1 − {n(v)}²)", g * (1 - v * v), []
    if kind == "softmax":
        i, j = index
        dArow, Arow = op.inputs[dA][i], op.inputs[other][i]
        inner = float(dArow @ Arow)
        return (f"{dZ}{at} = {other}{at}·({dA}{at} − Σₖ {dA}[{i},k]·{other}[{i},k])",
                f"{n(Arow[j])}·({n(dArow[j])} − {n(inner)})", float(Arow[j] * (dArow[j] - inner)), [])
    raise KeyError(op.kind)


def _mse_loss(op, index):
    (A, Y), _ = names(op)
    a, y = op.inputs[A].ravel(), op.inputs[Y].ravel()
    terms = [f"({n(p)} − {n(t)})²" for p, t in zip(a, y)]
    return (f"L = (1/n)·Σ ({A} − Y)²", f"(1/{a.size})·({sum_of(terms)})", float(np.mean((a - y) ** 2)), [])


def _mse_backward(op, index):
    (A, Y), (dA,) = names(op)
    a, y, size = float(op.inputs[A][index]), float(op.inputs[Y][index]), op.attrs["n"]
    at = idx(*index)
    return f"{dA}{at} = 2·({A}{at} − Y{at})/n", f"2·({n(a)} − {n(y)})/{size}", 2 * (a - y) / size, []


def _bce_sigmoid(op, index):
    (Z,), (P,) = names(op)
    z = float(op.inputs[Z][index])
    at = idx(*index)
    return f"{P}{at} = 1/(1 + e^(−{Z}{at}))", f"1/(1 + e^(−{n(z)}))", float(0.5 * (1 + np.tanh(0.5 * z))), []


def _bce_loss(op, index):
    (Z, Y), _ = names(op)
    z, y = op.inputs[Z].ravel(), op.inputs[Y].ravel()
    terms = [f"[max({n(a)},0) − {n(a)}·{n(t)} + log(1 + e^(−|{n(a)}|))]" for a, t in zip(z, y)]
    value = float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))
    return (f"L = (1/n)·Σ [max({Z},0) − {Z}·Y + log(1 + e^(−|{Z}|))]", f"(1/{z.size})·({sum_of(terms)})", value, [])


def _bce_backward(op, index):
    (P, Y), (dZ,) = names(op)
    p, y, size = float(op.inputs[P][index]), float(op.inputs[Y][index]), op.attrs["n"]
    at = idx(*index)
    return f"{dZ}{at} = ({P}{at} − Y{at})/n", f"({fmt(p)} − {n(y)})/{size}", (p - y) / size, []


def _dropout_forward(op, index):
    (A,), (D, M) = names(op)
    a, mask = float(op.inputs[A][index]), float(op.outputs[M][index])
    at = idx(*index)
    note = "kept and scaled by 1/(1 − p)" if mask else "dropped"
    return f"{D}{at} = {A}{at}·{M}{at}", f"{n(a)}·{n(mask)}", a * mask, [f"this unit was {note} (p = {op.attrs['p']})"]


def _dropout_mask(op, index):
    (A,), (D, M) = names(op)
    u_kept, p = float(op.outputs[M][index]) != 0, op.attrs["p"]
    at = idx(*index)
    return (f"{M}{at} = 1[U{at} ≥ p]/(1 − p)", f"{int(u_kept)}/(1 − {n(p)})", float(u_kept) / (1 - p),
            [f"U{at} is a uniform random draw; the unit is {'kept' if u_kept else 'dropped'} (p = {p})"])


def _dropout_backward(op, index):
    ins, (dA,) = names(op)
    g = float(op.inputs[ins[0]][index])
    at = idx(*index)
    if len(ins) == 1:
        return f"{dA}{at} = {ins[0]}{at}", n(g), g, ["eval mode: dropout passes gradients through unchanged"]
    mask = float(op.inputs[ins[1]][index])
    return f"{dA}{at} = {ins[0]}{at}·{ins[1]}{at}", f"{n(g)}·{n(mask)}", g * mask, []


def _dropout_eval(op, index):
    (A,), (D,) = names(op)
    a = float(op.inputs[A][index])
    return f"{D}{idx(*index)} = {A}{idx(*index)}", n(a), a, ["eval mode: dropout is off"]


def _sgd(op, index):
    (W, dW), _ = names(op)
    w, g, lr = float(op.inputs[W][index]), float(op.inputs[dW][index]), op.attrs["lr"]
    at = idx(*index)
    return f"{W}{at} ← {W}{at} − α·{dW}{at}", f"{n(w)} − {n(lr)}·{n(g)}", w - lr * g, []


def _velocity(op, index):
    (v, dW), _ = names(op)
    old, g, mu = float(op.inputs[v][index]), float(op.inputs[dW][index]), op.attrs["momentum"]
    at = idx(*index)
    return f"{v}{at} ← μ·{v}{at} + {dW}{at}", f"{n(mu)}·{n(old)} + {n(g)}", mu * old + g, []


def _momentum_update(op, index):
    (W, v), _ = names(op)
    w, vel, lr = float(op.inputs[W][index]), float(op.inputs[v][index]), op.attrs["lr"]
    at = idx(*index)
    return f"{W}{at} ← {W}{at} − α·{v}{at}", f"{n(w)} − {n(lr)}·{n(vel)}", w - lr * vel, []


def _nesterov_update(op, index):
    (W, dW, v), _ = names(op)
    w, g, vel = (float(op.inputs[k][index]) for k in (W, dW, v))
    lr, mu = op.attrs["lr"], op.attrs["momentum"]
    at = idx(*index)
    return (f"{W}{at} ← {W}{at} − α·({dW}{at} + μ·{v}{at})", f"{n(w)} − {n(lr)}·({n(g)} + {n(mu)}·{n(vel)})",
            w - lr * (g + mu * vel), [])


def _adam_moment(op, index):
    (s, dW), _ = names(op)
    old, g = float(op.inputs[s][index]), float(op.inputs[dW][index])
    at = idx(*index)
    if op.kind == "adam.m":
        b = op.attrs["beta1"]
        return f"{s}{at} ← β₁·{s}{at} + (1 − β₁)·{dW}{at}", f"{n(b)}·{n(old)} + {n(1 - b)}·{n(g)}", b * old + (1 - b) * g, []
    b = op.attrs["beta2"]
    return (f"{s}{at} ← β₂·{s}{at} + (1 − β₂)·{dW}{at}²", f"{n(b)}·{n(old)} + {n(1 - b)}·{n(g)}²",
            b * old + (1 - b) * g * g, [])


def _adam_update(op, index):
    (W, m, v), _ = names(op)
    w, mv, vv = (float(op.inputs[k][index]) for k in (W, m, v))
    a = op.attrs
    c1, c2 = 1 - a["beta1"] ** a["t"], 1 - a["beta2"] ** a["t"]
    m_hat, v_hat = mv / c1, vv / c2
    at = idx(*index)
    return (f"{W}{at} ← {W}{at} − α·m̂/(√v̂ + ε)", f"{n(w)} − {n(a['lr'])}·{n(m_hat)}/(√{n(v_hat)} + {a['eps']:g})",
            w - a["lr"] * m_hat / (np.sqrt(v_hat) + a["eps"]),
            [f"m̂ = {m}{at}/(1 − β₁^{a['t']}) = {fmt(m_hat)},  v̂ = {v}{at}/(1 − β₂^{a['t']}) = {fmt(v_hat)}"])


def _l2_penalty(op, index):
    data = float(op.inputs["L"])  # the data loss, before the penalty is added
    weights = [k for k in op.inputs if k != "L"]
    total = sum(float(np.sum(op.inputs[k] ** 2)) for k in weights)
    lam, m = op.attrs["l2"], op.attrs["m"]
    return ("L ← L + (λ/2m)·Σ‖W‖²", f"{fmt(data)} + ({n(lam)}/(2·{m}))·{fmt(total)}",
            data + lam / (2 * m) * total, [f"Σ‖W‖² sums the squares of {', '.join(weights)}"])


def _padded(X: np.ndarray, p: int) -> np.ndarray:
    return np.pad(X, ((0, 0), (0, 0), (p, p), (p, p))) if p else X


def _receptive_field(X: np.ndarray, e: int, i: int, j: int, k: int, s: int, p: int) -> np.ndarray:
    """The (C, k, k) window of example e that output (i, j) sees, with the zero padding included."""
    return _padded(X[e:e + 1], p)[0, :, i * s:i * s + k, j * s:j * s + k]


def _conv_forward(op, index):
    (X, K, b), (Z,) = names(op)
    e, f, i, j = index
    s, p = op.attrs["stride"], op.attrs["padding"]
    kernel = op.inputs[K][f]
    patch = _receptive_field(op.inputs[X], e, i, j, kernel.shape[-1], s, p)
    bias = op.inputs[b][f]
    terms, value = products(patch, kernel)
    patch_rows = "; ".join(" ".join(fmt(v, 6) for v in row) for row in patch[0])
    kernel_rows = "; ".join(" ".join(fmt(v, 6) for v in row) for row in kernel[0])
    return (f"{Z}{idx(e, f, i, j)} = Σ_c,u,v {X}[{e},c,{i}·{s}+u,{j}·{s}+v]·{K}[{f},c,u,v] + {b}[{f}]",
            f"{sum_of(terms)} + {n(bias)}", value + float(bias),
            [f"the receptive field (channel 0, rows ;-separated): {patch_rows}",
             f"filter {f} (channel 0): {kernel_rows}"
             + (f"   ({kernel.shape[0]} channels in all)" if kernel.shape[0] > 1 else ""),
             f"stride {s}, padding {p}: the window starts at row {i * s - p}, column {j * s - p} of the input"])


def _pool_forward(op, index):
    (A,), (S,) = names(op)
    e, c, i, j = index
    k, s = op.attrs["kernel_size"], op.attrs["stride"]
    window = op.inputs[A][e, c, i * s:i * s + k, j * s:j * s + k]
    cells = [fmt(v, 6) for v in window.ravel()]
    if op.kind == "maxpool.forward":
        r, q = np.unravel_index(int(np.argmax(window)), window.shape)
        return (f"{S}{idx(e, c, i, j)} = max over the {k}×{k} window of {A}[{e},{c}]", f"max({', '.join(cells)})",
                float(window.max()), [f"the winner is {A}{idx(e, c, i * s + r, j * s + q)}: in backward only it "
                                      f"receives the gradient"])
    return (f"{S}{idx(e, c, i, j)} = mean over the {k}×{k} window of {A}[{e},{c}]",
            f"({' + '.join(cells)})/{window.size}", float(window.mean()),
            ["in backward each cell of the window receives 1/" + str(window.size) + " of the gradient"])


def _conv_dK(op, index):
    ins, (dK,) = names(op)
    X, dZ = ins[0], ins[1]
    f, c, u, v = index
    s, p = op.attrs["stride"], op.attrs["padding"]
    G = op.inputs[dZ][:, f]                                  # (m, oh, ow)
    oh, ow = G.shape[1:]
    touched = _padded(op.inputs[X], p)[:, c, u:u + s * (oh - 1) + 1:s, v:v + s * (ow - 1) + 1:s]
    terms, value = products(G, touched)
    shift = f"−{p}" if p else ""  # X's own rows: the padded input's row i·s+u is X's row i·s+u−p
    formula, numbers, value = with_l2(
        op, index, f"{dK}{idx(f, c, u, v)} = Σ_n,i,j {dZ}[n,{f},i,j]·{X}[n,{c},i·{s}+{u}{shift},j·{s}+{v}{shift}]",
        sum_of(terms), value)
    return formula, numbers, value, [
        f"n, i, j run over the {G.shape[0]} examples and the {oh}×{ow} output positions: every place where "
        f"weight {dK[1:]}{idx(f, c, u, v)} touched the input" + (f" (the padding around it reads 0)" if p else "")]


def _conv_db(op, index):
    (dZ,), (db,) = names(op)
    (f,) = index
    G = op.inputs[dZ][:, f]
    return (f"{db}[{f}] = Σ_n,i,j {dZ}[n,{f},i,j]", sum_of([n(g) for g in G.ravel()]), float(G.sum()),
            [f"filter {f}'s bias is added at every one of the {G[0].size} positions of every example"])


def covering(h: int, k: int, s: int, size: int) -> list[tuple[int, int]]:
    """(i, u): the output rows i of a k-wide, stride-s window whose offset u lands on input row h."""
    return [((h - u) // s, u) for u in range(k) if (h - u) % s == 0 and 0 <= (h - u) // s < size]


def _conv_dX(op, index):
    (dZ, K), (dX,) = names(op)
    e, c, h, w = index
    s, p = op.attrs["stride"], op.attrs["padding"]
    G, Kv = op.inputs[dZ], op.inputs[K]
    F, _, kh, kw = Kv.shape
    oh, ow = G.shape[2:]
    terms, value, windows = [], 0.0, set()
    for i, u in covering(h + p, kh, s, oh):
        for j, v in covering(w + p, kw, s, ow):
            windows.add((i, j))
            for f in range(F):
                terms.append(f"{n(G[e, f, i, j])}·{n(Kv[f, c, u, v])}")
                value += float(G[e, f, i, j] * Kv[f, c, u, v])
    where = ", ".join(f"({i},{j})" for i, j in sorted(windows)) or "none"
    return (f"{dX}{idx(e, c, h, w)} = Σ_f,u,v {dZ}[{e},f,i,j]·{K}[f,{c},u,v] over i·{s}+u = {h}+{p}, j·{s}+v = {w}+{p}",
            sum_of(terms), value,
            [f"the outputs whose window covers this input: {where}; each passes back its gradient times "
             f"the weight that joined them" if windows else "no window covers this input: it gets no gradient"])


def _maxpool_backward(op, index):
    (dS, M), (dA,) = names(op)
    e, c, h, w = index
    k, s = op.attrs["kernel_size"], op.attrs["stride"]
    G, wins = op.inputs[dS], float(op.inputs[M][index])
    oh, ow = G.shape[2:]
    windows = [(i, j) for i, _ in covering(h, k, s, oh) for j, _ in covering(w, k, s, ow)]
    at = idx(e, c, h, w)
    if not windows:
        return (f"{dA}{at} = 0", "0", 0.0, [f"no {k}×{k} window covers this cell: pooling never read it"])
    if len(windows) == 1:
        (i, j), = windows
        g = float(G[e, c, i, j])
        won = f"{M}{at} = 1: this cell was the max of window ({i},{j}), so it gets that window's gradient"
        lost = f"{M}{at} = 0: another cell won window ({i},{j}), so this one gets no gradient"
        return (f"{dA}{at} = {dS}{idx(e, c, i, j)}·{M}{at}", f"{n(g)}·{n(wins)}", g * wins, [won if wins else lost])
    if wins not in (0, len(windows)):  # overlapping windows: the mask counts wins, not which ones
        raise ValueError(f"explain: {dA}{at} lies in {len(windows)} overlapping windows and won {int(wins)} of "
                         f"them; the mask {M} counts wins but not which. `explain` on the forward op's output "
                         f"names each window's winner")
    cells = [f"{dS}{idx(e, c, i, j)}" for i, j in windows]
    total = float(sum(G[e, c, i, j] for i, j in windows)) if wins else 0.0
    return (f"{dA}{at} = Σ over the windows it won of {dS}[{e},{c},i,j]",
            sum_of([n(G[e, c, i, j]) for i, j in windows]) if wins else "0", total,
            [f"it won {int(wins)} of its {len(windows)} windows ({', '.join(cells)})"])


def _avgpool_backward(op, index):
    (dS,), (dA,) = names(op)
    e, c, h, w = index
    k, s = op.attrs["kernel_size"], op.attrs["stride"]
    G = op.inputs[dS]
    oh, ow = G.shape[2:]
    windows = [(i, j) for i, _ in covering(h, k, s, oh) for j, _ in covering(w, k, s, ow)]
    shares = [f"{n(G[e, c, i, j])}/{k * k}" for i, j in windows]
    return (f"{dA}{idx(e, c, h, w)} = Σ over the windows covering it of {dS}[{e},{c},i,j]/{k}²",
            sum_of(shares), float(sum(G[e, c, i, j] for i, j in windows)) / (k * k),
            [f"each of the {k * k} cells of a window gets an equal share of its gradient; windows covering "
             f"this cell: {', '.join(f'({i},{j})' for i, j in windows) or 'none'}"])


def _flatten_forward(op, index):
    (A,), (F,) = names(op)
    e, q = index
    chw = np.unravel_index(q, op.inputs[A].shape[1:])
    a = float(op.inputs[A][(e, *chw)])
    C, H, W = op.inputs[A].shape[1:]
    return (f"{F}[{e},{q}] = {A}{idx(e, *chw)}", n(a), a,
            [f"column {q} = c·{H}·{W} + h·{W} + w with (c, h, w) = ({', '.join(map(str, chw))})"])


def _flatten_backward(op, index):
    (dF,), (dA,) = names(op)
    e, *chw = index
    q = int(np.ravel_multi_index(chw, op.outputs[dA].shape[1:]))
    g = float(op.inputs[dF][e, q])
    return f"{dA}{idx(*index)} = {dF}[{e},{q}]", n(g), g, ["flatten only reshapes: the gradient goes back unchanged"]


def _rnn_inputs(op) -> dict[str, str]:
    """The roles of an RNN forward step's operands, by their position (see engine/recurrent.py)."""
    return dict(zip(("x", "Wx", "b", "h_prev", "Wh"), op.inputs))


def step_roles(op, now: tuple, before: tuple = (), after: tuple = ()) -> dict[str, str]:
    """The arrays a backward timestep op of layer k at step t reads and writes, by role: ``now`` names
    step t's (``dh`` → dh1_t), ``before`` step t−1's (``c_prev`` → c1_t−1), ``after`` step t+1's
    (``dz_next`` → dz1_t+1); plus the layer's ``Wh`` and ``up``, the gradient from the layer above.
    Roles whose array the op does not have (no step t+1 at the last timestep) are left out."""
    k = re.fullmatch(r"d?h(\d+)_\d+", next(iter(op.outputs))).group(1)
    t = op.attrs["t"]
    names = {key: f"{key}{k}_{t}" for key in now}
    names |= {key: f"{key.removesuffix('_prev')}{k}_{t - 1}" for key in before}
    names |= {key: f"{key.removesuffix('_next')}{k}_{t + 1}" for key in after}
    present = op.inputs.keys() | op.outputs.keys()
    roles = {key: name for key, name in names.items() if name in present} | {"Wh": f"Wh{k}"}
    up = [name for name in op.inputs if name not in roles.values()]
    if up:
        roles["up"] = up[0]  # dH1_t (many-to-many) or dH1 (many-to-one, last step)
    return roles


def _rnn_back_roles(op) -> dict[str, str]:
    return step_roles(op, ("h", "dh", "dz"), after=("dz_next",))


def _rnn_step(op, index):
    r, (h,) = _rnn_inputs(op), list(op.outputs)
    i, j = index
    a = op.inputs
    x_terms, z = products(a[r["x"]][i], a[r["Wx"]][:, j])
    parts, inner = [f"Σₖ {r['x']}[{i},k]·{r['Wx']}[k,{j}]"], [sum_of(x_terms)]
    if "h_prev" in r:
        h_terms, zh = products(a[r["h_prev"]][i], a[r["Wh"]][:, j])
        z += zh
        parts.append(f"Σₖ {r['h_prev']}[{i},k]·{r['Wh']}[k,{j}]")
        inner.append(sum_of(h_terms))
    bias = float(a[r["b"]][j])
    z += bias
    t = op.attrs["t"]
    return (f"{h}{idx(i, j)} = tanh({' + '.join(parts)} + {r['b']}[{j}])", f"tanh({' + '.join(inner)} + {n(bias)})",
            float(np.tanh(z)),
            [f"the pre-activation is {fmt(z)}; tanh squashes it into (−1, 1)"]
            + (["t = 0: there is no previous state (h_{−1} = 0)"] if t == 0 else
               [f"the previous state {r['h_prev']} carries what steps 0…{t - 1} saw"]))


def hidden_gradient(op, index, up: str | None, next_grad: str | None, Wh: str) -> tuple[str, str, float]:
    """``dh_t[i,j] = up[i,j] + Σₖ next_grad[i,k]·Wh[j,k]``: from the layer above and from step t+1."""
    i, j = index
    a = op.inputs
    parts, numbers, value = [], [], 0.0
    if up:
        g = float(a[up][i, j])
        parts.append(f"{up}{idx(i, j)}")
        numbers.append(n(g))
        value += g
    if next_grad:
        terms, back = products(a[next_grad][i], a[Wh][j])
        parts.append(f"Σₖ {next_grad}[{i},k]·{Wh}[{j},k]")
        numbers.append(sum_of(terms))
        value += back
    dh = next(iter(op.outputs))
    return f"{dh}{idx(i, j)} = {' + '.join(parts)}", " + ".join(numbers), value


def _rnn_step_back(op, index):
    r, (dh, dz) = _rnn_back_roles(op), list(op.outputs)
    formula, numbers, value = hidden_gradient(op, index, r.get("up"), r.get("dz_next"), r["Wh"])
    size = f"‖{dh}‖ = {fmt(float(np.linalg.norm(op.outputs[dh])))}"
    return (formula, numbers, value,
            [f"{size}: the gradient from step {op.attrs['t'] + 1} came back through {r['Wh']}ᵀ and tanh′ = 1 − h²; "
             f"repeated step after step, that product can shrink (or grow) it" if "dz_next" in r else
             f"{size}: the last timestep, so only the gradient from the layer above reaches it"])


def _rnn_dz(op, index):
    r, (dh, dz) = _rnn_back_roles(op), list(op.outputs)
    g, h = float(op.outputs[dh][index]), float(op.inputs[r["h"]][index])
    at = idx(*index)
    return (f"{dz}{at} = {dh}{at}·(1 − {r['h']}{at}²)", f"{n(g)}·(1 − {n(h)}²)", g * (1 - h * h),
            [f"tanh′ = 1 − h² = {fmt(1 - h * h)}" + (": the unit is saturated, little gradient gets through"
                                                      if 1 - h * h < 0.1 else "")])


def _rnn_output(op, index):
    states, (H,) = list(op.inputs), list(op.outputs)
    if len(index) == 3:  # many-to-many: every state
        i, t, j = index
        state = states[t]  # the op reads h1_0 … h1_T−1 in order
        return f"{H}{idx(i, t, j)} = {state}{idx(i, j)}", n(op.inputs[state][i, j]), float(op.inputs[state][i, j]), []
    i, j = index
    last = states[-1]
    return (f"{H}{idx(i, j)} = {last}{idx(i, j)}", n(op.inputs[last][i, j]), float(op.inputs[last][i, j]),
            ["many-to-one: only the last state goes on to the next layer"])


def sigmoid(a: float) -> float:
    return float(0.5 * (1 + np.tanh(0.5 * a)))


GATE_NAMES = ("input gate", "forget gate", "candidate", "output gate")


def _lstm_gate(op, index, q: int):
    ins, outs = names(op)
    x, Wx, b = ins[:3]
    gate = outs[2 + q]
    i, j = index
    a = op.inputs
    nh = op.outputs[gate].shape[1]
    col = q * nh + j
    x_terms, z = products(a[x][i], a[Wx][:, col])
    parts, inner = [f"Σₖ {x}[{i},k]·{Wx}[k,{col}]"], [sum_of(x_terms)]
    if len(ins) > 3:
        h_prev, Wh = ins[3], ins[4]
        h_terms, zh = products(a[h_prev][i], a[Wh][:, col])
        z += zh
        parts.append(f"Σₖ {h_prev}[{i},k]·{Wh}[k,{col}]")
        inner.append(sum_of(h_terms))
    z += float(a[b][col])
    squash, value = ("tanh", float(np.tanh(z))) if q == 2 else ("σ", sigmoid(z))
    return (f"{gate}{idx(i, j)} = {squash}({' + '.join(parts)} + {b}[{col}])",
            f"{squash}({' + '.join(inner)} + {n(a[b][col])})", value,
            [f"the {GATE_NAMES[q]} of unit {j} uses column {col} = {q}·{nh} + {j} of {Wx}, "
             f"{ins[4] if len(ins) > 3 else Wx.replace('Wx', 'Wh')} and {b}; its pre-activation is {fmt(z)}"])


def _lstm_c(op, index):
    ins, (h, c, ig, fg, gg, og) = names(op)
    o = op.outputs
    i_, g_ = float(o[ig][index]), float(o[gg][index])
    at = idx(*index)
    if len(ins) == 3:  # t = 0: no previous cell
        return f"{c}{at} = {ig}{at}·{gg}{at}", f"{n(i_)}·{n(g_)}", i_ * g_, ["t = 0: the cell starts empty (c_{−1} = 0)"]
    c_prev = ins[5]
    f_, cp = float(o[fg][index]), float(op.inputs[c_prev][index])
    return (f"{c}{at} = {fg}{at}·{c_prev}{at} + {ig}{at}·{gg}{at}", f"{n(f_)}·{n(cp)} + {n(i_)}·{n(g_)}",
            f_ * cp + i_ * g_, [f"the forget gate keeps {fmt(f_)} of the old cell, the input gate adds "
                                f"{fmt(i_)} of the candidate"])


def _lstm_h(op, index):
    _, (h, c, ig, fg, gg, og) = names(op)
    o_, c_ = float(op.outputs[og][index]), float(op.outputs[c][index])
    at = idx(*index)
    return f"{h}{at} = {og}{at}·tanh({c}{at})", f"{n(o_)}·tanh({n(c_)})", o_ * float(np.tanh(c_)), []


def _lstm_back_roles(op) -> dict[str, str]:
    return step_roles(op, ("c", "i", "f", "g", "o", "dh", "dc", "da"), before=("c_prev",),
                      after=("da_next", "dc_next", "f_next"))


def _lstm_dh(op, index):
    r = _lstm_back_roles(op)
    formula, numbers, value = hidden_gradient(op, index, r.get("up"), r.get("da_next"), r["Wh"])
    return (formula, numbers, value,
            [f"‖{r['dh']}‖ = {fmt(float(np.linalg.norm(op.outputs[r['dh']])))}; k runs over all four gates' "
             f"columns of {r['Wh']}"])


def _lstm_dc(op, index):
    r, a = _lstm_back_roles(op), op.inputs
    at = idx(*index)
    dh, o, c = float(op.outputs[r["dh"]][index]), float(a[r["o"]][index]), float(a[r["c"]][index])
    tc = float(np.tanh(c))
    formula = f"{r['dc']}{at} = {r['dh']}{at}·{r['o']}{at}·(1 − tanh²{r['c']}{at})"
    numbers, value = f"{n(dh)}·{n(o)}·(1 − tanh²{n(c)})", dh * o * (1 - tc * tc)
    notes = []
    if "dc_next" in r:
        dc_next, f_next = float(a[r["dc_next"]][index]), float(a[r["f_next"]][index])
        formula += f" + {r['dc_next']}{at}·{r['f_next']}{at}"
        numbers += f" + {n(dc_next)}·{n(f_next)}"
        value += dc_next * f_next
        notes.append(f"the cell path: {r['f_next']}{at} = {fmt(f_next)} of the next step's cell gradient comes "
                     f"straight back, with no weight matrix and no squashing in between: a forget gate near 1 "
                     f"keeps the gradient from vanishing")
    return formula, numbers, value, notes


def _lstm_da(op, index):
    r, a = _lstm_back_roles(op), op.inputs
    i, col = index
    nh = a[r["i"]].shape[1]
    q, j = divmod(col, nh)
    at = idx(i, j)
    dc, dh = float(op.outputs[r["dc"]][i, j]), float(op.outputs[r["dh"]][i, j])
    ig, fg, gg, og, c = (float(a[r[key]][i, j]) for key in ("i", "f", "g", "o", "c"))
    da = f"{r['da']}{idx(i, col)}"
    note = [f"column {col} = {q}·{nh} + {j}: the {GATE_NAMES[q]} of unit {j}"]
    if q == 0:
        return (f"{da} = {r['dc']}{at}·{r['g']}{at}·{r['i']}{at}·(1 − {r['i']}{at})",
                f"{n(dc)}·{n(gg)}·{n(ig)}·(1 − {n(ig)})", dc * gg * ig * (1 - ig), note)
    if q == 1:
        if "c_prev" not in r:
            return f"{da} = 0", "0", 0.0, note + ["t = 0: the forget gate had no old cell to forget"]
        cp = float(a[r["c_prev"]][i, j])
        return (f"{da} = {r['dc']}{at}·{r['c_prev']}{at}·{r['f']}{at}·(1 − {r['f']}{at})",
                f"{n(dc)}·{n(cp)}·{n(fg)}·(1 − {n(fg)})", dc * cp * fg * (1 - fg), note)
    if q == 2:
        return (f"{da} = {r['dc']}{at}·{r['i']}{at}·(1 − {r['g']}{at}²)", f"{n(dc)}·{n(ig)}·(1 − {n(gg)}²)",
                dc * ig * (1 - gg * gg), note)
    tc = float(np.tanh(c))
    return (f"{da} = {r['dh']}{at}·tanh({r['c']}{at})·{r['o']}{at}·(1 − {r['o']}{at})",
            f"{n(dh)}·tanh({n(c)})·{n(og)}·(1 − {n(og)})", dh * tc * og * (1 - og), note)


def _rnn_dWx(op, index):
    ins, (dWx,) = names(op)
    X, dz = ins[0], ins[1]
    k, j = index
    terms, value = products(op.inputs[X][:, :, k], op.inputs[dz][:, :, j])
    formula, numbers, value = with_l2(op, index, f"{dWx}{idx(k, j)} = Σₜ Σᵢ {X}[i,t,{k}]·{dz}[i,t,{j}]",
                                      sum_of(terms), value)
    m, T = op.inputs[X].shape[:2]
    return formula, numbers, value, [f"the same weight is used at all {T} timesteps of all {m} examples, "
                                     f"so its gradient sums over both"]


def _rnn_dWh(op, index):
    ins, (dWh,) = names(op)
    h, dz = ins[0], ins[1]
    k, j = index
    terms, value = products(op.inputs[h][:, :-1, k], op.inputs[dz][:, 1:, j])
    formula, numbers, value = with_l2(op, index, f"{dWh}{idx(k, j)} = Σ_t≥1 Σᵢ {h}[i,t−1,{k}]·{dz}[i,t,{j}]",
                                      sum_of(terms), value)
    return formula, numbers, value, ["t starts at 1: the state before step 0 is 0, so step 0 adds nothing"]


def _rnn_db(op, index):
    (dz,), (db,) = names(op)
    (j,) = index
    col = op.inputs[dz][:, :, j]
    return f"{db}[{j}] = Σₜ Σᵢ {dz}[i,t,{j}]", sum_of([n(v) for v in col.ravel()]), float(col.sum()), []


def _rnn_dX(op, index):
    (dz, Wx), (dX,) = names(op)
    i, t, k = index
    terms, value = products(op.inputs[dz][i, t], op.inputs[Wx][k])
    return f"{dX}{idx(i, t, k)} = Σⱼ {dz}[{i},{t},j]·{Wx}[{k},j]", sum_of(terms), value, []


EXPLAINERS = {
    "conv.forward": _conv_forward, "maxpool.forward": _pool_forward, "avgpool.forward": _pool_forward,
    "conv.dK": _conv_dK, "conv.db": _conv_db, "conv.dX": _conv_dX,
    "maxpool.backward": _maxpool_backward, "avgpool.backward": _avgpool_backward,
    "flatten.forward": _flatten_forward, "flatten.backward": _flatten_backward,
    "rnn.step": _rnn_step, "rnn.output": _rnn_output, "rnn.step_back": (_rnn_step_back, _rnn_dz),
    "rnn.dWx": _rnn_dWx, "rnn.dWh": _rnn_dWh, "rnn.db": _rnn_db, "rnn.dX": _rnn_dX,
    "lstm.step": (_lstm_h, _lstm_c, *(partial(_lstm_gate, q=q) for q in range(4))), "lstm.output": _rnn_output,
    "lstm.step_back": (_lstm_dh, _lstm_dc, _lstm_da),
    "lstm.dWx": _rnn_dWx, "lstm.dWh": _rnn_dWh, "lstm.db": _rnn_db, "lstm.dX": _rnn_dX,
    "dense.forward": _dense_forward, "dense.dW": _dense_dW, "dense.db": _dense_db, "dense.dX": _dense_dX,
    "relu.forward": _elementwise_forward, "leakyrelu.forward": _elementwise_forward,
    "sigmoid.forward": _elementwise_forward, "tanh.forward": _elementwise_forward,
    "softmax.forward": _softmax_forward, "softmax_ce.softmax": _softmax_forward,
    "relu.backward": _activation_backward, "leakyrelu.backward": _activation_backward,
    "sigmoid.backward": _activation_backward, "tanh.backward": _activation_backward,
    "softmax.backward": _activation_backward,
    "softmax_ce.loss": _ce_loss, "softmax_ce.backward": _ce_backward,
    "mse.loss": _mse_loss, "mse.backward": _mse_backward,
    "bce.sigmoid": _bce_sigmoid, "bce.loss": _bce_loss, "bce.backward": _bce_backward,
    "dropout.forward": (_dropout_forward, _dropout_mask), "dropout.backward": _dropout_backward,
    "dropout.eval": _dropout_eval,
    "sgd.update": _sgd, "momentum.velocity": _velocity, "momentum.update": _momentum_update,
    "nesterov.update": _nesterov_update, "adam.m": _adam_moment, "adam.v": _adam_moment,
    "adam.update": _adam_update, "l2.penalty": _l2_penalty,
}


def explain_op_element(op: Op, symbol: str, index: tuple) -> Explanation:
    """Explain ``symbol[index]`` as op ``op`` computed it."""
    if op.kind not in EXPLAINERS:
        raise ValueError(f"explain does not know {op.kind} ops yet; `print {symbol}` shows the values "
                         f"and `show` the equation {op.equation!r}")
    explainer = EXPLAINERS[op.kind]
    if isinstance(explainer, tuple):  # one formula per result: dropout's D and M, an LSTM step's h, c, gates
        explainer = explainer[list(op.outputs).index(symbol)]
    formula, numbers, value, notes = explainer(op, index)
    recorded = float(np.asarray(op.outputs[symbol])[index]) if index else float(np.asarray(op.outputs[symbol]))
    target = symbol + (idx(*index) if index else "")
    if abs(value - recorded) > 1e-6 * max(1.0, abs(recorded)):
        notes.append(f"the code computed {fmt(recorded)} but this formula gives {fmt(value)}: "
                     f"the code of {op.layer} does not compute what its equation says")
    return Explanation(target, op.name, formula, numbers, recorded, float(value), notes)
