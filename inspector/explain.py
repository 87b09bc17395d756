"""``explain``: how one element of one op's result was computed, with its numbers.

Each explainer reads the op's recorded operands (by the order the engine lists them) and returns
the general formula for that element, the formula with the numbers put in, and the value the
numbers give, which the caller checks against what the code computed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

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


def _dense_forward(op, index):
    (X, W, b), (Z,) = names(op)
    i, j = index
    x, w, bias = op.inputs[X][i], op.inputs[W][:, j], op.inputs[b][j]
    terms = [f"{n(a)}·{n(c)}" for a, c in zip(x, w)]
    value = float(x @ w + bias)
    return (f"{Z}{idx(i, j)} = Σₖ {X}[{i},k]·{W}[k,{j}] + {b}[{j}]", f"{sum_of(terms)} + {n(bias)}", value,
            [f"k runs over the {len(x)} inputs of neuron {j}"])


def _dense_dW(op, index):
    ins, (dW,) = names(op)
    X, dZ = ins[0], ins[1]
    k, j = index
    x, dz = op.inputs[X][:, k], op.inputs[dZ][:, j]
    terms = [f"{n(a)}·{n(c)}" for a, c in zip(x, dz)]
    value = float(x @ dz)
    formula, numbers = f"{dW}{idx(k, j)} = Σᵢ {X}[i,{k}]·{dZ}[i,{j}]", sum_of(terms)
    notes = [f"i runs over the {len(x)} examples of the batch"]
    if len(ins) == 3:
        W = ins[2]
        lam, m = op.attrs["l2"], op.attrs["m"]
        w = op.inputs[W][k, j]
        value += lam / m * w
        formula += f" + (λ/m)·{W}{idx(k, j)}"
        numbers += f" + ({n(lam)}/{m})·{n(w)}"
    return formula, numbers, value, notes


def _dense_db(op, index):
    (dZ,), (db,) = names(op)
    (j,) = index
    col = op.inputs[dZ][:, j]
    return f"{db}[{j}] = Σᵢ {dZ}[i,{j}]", sum_of([n(v) for v in col]), float(col.sum()), []


def _dense_dX(op, index):
    (dZ, W), (dX,) = names(op)
    i, k = index
    dz, w = op.inputs[dZ][i], op.inputs[W][k]
    terms = [f"{n(a)}·{n(c)}" for a, c in zip(dz, w)]
    return (f"{dX}{idx(i, k)} = Σⱼ {dZ}[{i},j]·{W}[{k},j]", sum_of(terms), float(dz @ w),
            [f"j runs over the {len(dz)} neurons that input {k} feeds"])


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


def _receptive_field(X: np.ndarray, e: int, i: int, j: int, k: int, s: int, p: int) -> np.ndarray:
    """The (C, k, k) window of example e that output (i, j) sees, with the zero padding included."""
    Xp = np.pad(X[e], ((0, 0), (p, p), (p, p))) if p else X[e]
    return Xp[:, i * s:i * s + k, j * s:j * s + k]


def _conv_forward(op, index):
    (X, K, b), (Z,) = names(op)
    e, f, i, j = index
    s, p = op.attrs["stride"], op.attrs["padding"]
    kernel = op.inputs[K][f]
    patch = _receptive_field(op.inputs[X], e, i, j, kernel.shape[-1], s, p)
    bias = op.inputs[b][f]
    terms = [f"{n(a)}·{n(w)}" for a, w in zip(patch.ravel(), kernel.ravel())]
    patch_rows = "; ".join(" ".join(fmt(v, 6) for v in row) for row in patch[0])
    kernel_rows = "; ".join(" ".join(fmt(v, 6) for v in row) for row in kernel[0])
    return (f"{Z}{idx(e, f, i, j)} = Σ_c,u,v {X}[{e},c,{i}·{s}+u,{j}·{s}+v]·{K}[{f},c,u,v] + {b}[{f}]",
            f"{sum_of(terms)} + {n(bias)}", float(np.sum(patch * kernel) + bias),
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


EXPLAINERS = {
    "conv.forward": _conv_forward, "maxpool.forward": _pool_forward, "avgpool.forward": _pool_forward,
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
    "dropout.forward": _dropout_forward, "dropout.backward": _dropout_backward, "dropout.eval": _dropout_eval,
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
    if op.kind == "dropout.forward" and symbol == list(op.outputs)[1]:
        explainer = _dropout_mask  # the op's second result, the mask M, has its own formula
    formula, numbers, value, notes = explainer(op, index)
    recorded = float(np.asarray(op.outputs[symbol])[index]) if index else float(np.asarray(op.outputs[symbol]))
    target = symbol + (idx(*index) if index else "")
    if abs(value - recorded) > 1e-6 * max(1.0, abs(recorded)):
        notes.append(f"the code computed {fmt(recorded)} but this formula gives {fmt(value)}: "
                     f"the code of {op.layer} does not compute what its equation says")
    return Explanation(target, op.name, formula, numbers, recorded, float(value), notes)
