"""Explainers for the ops of engine/conv.py: Conv2D (forward, dK, db, dX), max and average pooling, and Flatten."""
from __future__ import annotations

import numpy as np

from ..render import fmt
from .common import idx, n, products, read, sum_of, with_l2


def padded(X: np.ndarray, p: int) -> np.ndarray:
    return np.pad(X, ((0, 0), (0, 0), (p, p), (p, p))) if p else X


def pair(k) -> tuple[int, int]:
    """An op's ``kernel_size`` or ``stride`` attr, one int (square) or (height, width), as a pair."""
    return (int(k), int(k)) if np.ndim(k) == 0 else (int(k[0]), int(k[1]))


def receptive_field(X: np.ndarray, e: int, i: int, j: int, kh: int, kw: int, s: int, p: int) -> np.ndarray:
    """The (C, kh, kw) window of example e that output (i, j) sees, with the zero padding included."""
    return padded(X[e:e + 1], p)[0, :, i * s:i * s + kh, j * s:j * s + kw]


def covering(h: int, k: int, s: int, size: int) -> list[tuple[int, int]]:
    """(i, u): the output rows i of a k-wide, stride-s window whose offset u lands on input row h."""
    return [((h - u) // s, u) for u in range(k) if (h - u) % s == 0 and 0 <= (h - u) // s < size]


def conv_forward(op, index):
    X, K, b, Z = (op.roles[r] for r in ("X", "K", "b", "out"))
    e, f, i, j = index
    s, p = op.attrs["stride"], op.attrs["padding"]
    kernel = read(op, "K")[f]
    patch = receptive_field(read(op, "X"), e, i, j, kernel.shape[-2], kernel.shape[-1], s, p)
    bias = read(op, "b")[f]
    terms, value = products(patch, kernel)
    patch_rows = "; ".join(" ".join(fmt(v, 6) for v in row) for row in patch[0])
    kernel_rows = "; ".join(" ".join(fmt(v, 6) for v in row) for row in kernel[0])
    return (f"{Z}{idx(e, f, i, j)} = Σ_c,u,v {X}[{e},c,{i}·{s}+u,{j}·{s}+v]·{K}[{f},c,u,v] + {b}[{f}]",
            f"{sum_of(terms)} + {n(bias)}", value + float(bias),
            [f"the receptive field (channel 0, rows ;-separated): {patch_rows}",
             f"filter {f} (channel 0): {kernel_rows}"
             + (f"   ({kernel.shape[0]} channels in all)" if kernel.shape[0] > 1 else ""),
             f"stride {s}, padding {p}: the window starts at row {i * s - p}, column {j * s - p} of the input"])


def conv_dK(op, index):
    X, dZ, dK = (op.roles[r] for r in ("X", "dout", "dK"))
    f, c, u, v = index
    s, p = op.attrs["stride"], op.attrs["padding"]
    G = read(op, "dout")[:, f]                               # (m, oh, ow)
    oh, ow = G.shape[1:]
    touched = padded(read(op, "X"), p)[:, c, u:u + s * (oh - 1) + 1:s, v:v + s * (ow - 1) + 1:s]
    terms, value = products(G, touched)
    shift = f"−{p}" if p else ""  # X's own rows: the padded input's row i·s+u is X's row i·s+u−p
    formula, numbers, value = with_l2(
        op, index, "K", f"{dK}{idx(f, c, u, v)} = Σ_n,i,j {dZ}[n,{f},i,j]·{X}[n,{c},i·{s}+{u}{shift},j·{s}+{v}{shift}]",
        sum_of(terms), value)
    weight = dK[1:]  # the trace's naming rule: dK1 = ∂L/∂K1 (the op reads K1 itself only with L2)
    return formula, numbers, value, [
        f"n, i, j run over the {G.shape[0]} examples and the {oh}×{ow} output positions: every place where "
        f"weight {weight}{idx(f, c, u, v)} touched the input" + (f" (the padding around it reads 0)" if p else "")]


def conv_db(op, index):
    dZ, db = op.roles["dout"], op.roles["db"]
    (f,) = index
    G = read(op, "dout")[:, f]
    return (f"{db}[{f}] = Σ_n,i,j {dZ}[n,{f},i,j]", sum_of([n(g) for g in G.ravel()]), float(G.sum()),
            [f"filter {f}'s bias is added at every one of the {G[0].size} positions of every example"])


def conv_dX(op, index):
    dZ, K, dX = (op.roles[r] for r in ("dout", "K", "dX"))
    e, c, h, w = index
    s, p = op.attrs["stride"], op.attrs["padding"]
    G, Kv = read(op, "dout"), read(op, "K")
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


def window(op, index):
    """The kh×kw window of the pooled input (role X) that output ``index`` reads, the window's names,
    its size written ``kh×kw`` and its stride (sh, sw)."""
    A, S = op.roles["X"], op.roles["out"]
    e, c, i, j = index
    (kh, kw), (sh, sw) = pair(op.attrs["kernel_size"]), pair(op.attrs["stride"])
    return A, S, read(op, "X")[e, c, i * sh:i * sh + kh, j * sw:j * sw + kw], f"{kh}×{kw}", (sh, sw)


def maxpool_forward(op, index):
    A, S, win, size, (sh, sw) = window(op, index)
    e, c, i, j = index
    cells = [fmt(v, 6) for v in win.ravel()]
    r, q = np.unravel_index(int(np.argmax(win)), win.shape)
    return (f"{S}{idx(e, c, i, j)} = max over the {size} window of {A}[{e},{c}]", f"max({', '.join(cells)})",
            float(win.max()), [f"the winner is {A}{idx(e, c, i * sh + r, j * sw + q)}: in backward only it "
                               f"receives the gradient"])


def avgpool_forward(op, index):
    A, S, win, size, _ = window(op, index)
    e, c, i, j = index
    cells = [fmt(v, 6) for v in win.ravel()]
    return (f"{S}{idx(e, c, i, j)} = mean over the {size} window of {A}[{e},{c}]",
            f"({' + '.join(cells)})/{win.size}", float(win.mean()),
            ["in backward each cell of the window receives 1/" + str(win.size) + " of the gradient"])


def maxpool_backward(op, index):
    dS, M, dA = (op.roles[r] for r in ("dout", "mask", "dX"))
    e, c, h, w = index
    (kh, kw), (sh, sw) = pair(op.attrs["kernel_size"]), pair(op.attrs["stride"])
    G, wins = read(op, "dout"), float(read(op, "mask")[index])
    oh, ow = G.shape[2:]
    windows = [(i, j) for i, _ in covering(h, kh, sh, oh) for j, _ in covering(w, kw, sw, ow)]
    at = idx(e, c, h, w)
    if not windows:
        return (f"{dA}{at} = 0", "0", 0.0, [f"no {kh}×{kw} window covers this cell: pooling never read it"])
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


def avgpool_backward(op, index):
    dS, dA = op.roles["dout"], op.roles["dX"]
    e, c, h, w = index
    (kh, kw), (sh, sw) = pair(op.attrs["kernel_size"]), pair(op.attrs["stride"])
    G = read(op, "dout")
    oh, ow = G.shape[2:]
    windows = [(i, j) for i, _ in covering(h, kh, sh, oh) for j, _ in covering(w, kw, sw, ow)]
    shares = [f"{n(G[e, c, i, j])}/{kh * kw}" for i, j in windows]
    k2 = f"{kh}²" if kh == kw else f"({kh}·{kw})"
    return (f"{dA}{idx(e, c, h, w)} = Σ over the windows covering it of {dS}[{e},{c},i,j]/{k2}",
            sum_of(shares), float(sum(G[e, c, i, j] for i, j in windows)) / (kh * kw),
            [f"each of the {kh * kw} cells of a window gets an equal share of its gradient; windows covering "
             f"this cell: {', '.join(f'({i},{j})' for i, j in windows) or 'none'}"])


def flatten_forward(op, index):
    A, F = op.roles["X"], op.roles["out"]
    e, q = index
    shape = read(op, "X").shape[1:]
    chw = np.unravel_index(q, shape)
    a = float(read(op, "X")[(e, *chw)])
    C, H, W = shape
    return (f"{F}[{e},{q}] = {A}{idx(e, *chw)}", n(a), a,
            [f"column {q} = c·{H}·{W} + h·{W} + w with (c, h, w) = ({', '.join(map(str, chw))})"])


def flatten_backward(op, index):
    dF, dA = op.roles["dout"], op.roles["dX"]
    e, *chw = index
    q = int(np.ravel_multi_index(chw, op.role("dX").shape[1:]))
    g = float(read(op, "dout")[e, q])
    return f"{dA}{idx(*index)} = {dF}[{e},{q}]", n(g), g, ["flatten only reshapes: the gradient goes back unchanged"]


EXPLAINERS = {
    "conv.forward": conv_forward, "conv.dK": conv_dK, "conv.db": conv_db, "conv.dX": conv_dX,
    "maxpool.forward": maxpool_forward, "avgpool.forward": avgpool_forward,
    "maxpool.backward": maxpool_backward, "avgpool.backward": avgpool_backward,
    "flatten.forward": flatten_forward, "flatten.backward": flatten_backward,
}
