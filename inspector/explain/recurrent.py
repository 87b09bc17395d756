"""Explainers for the ops of engine/recurrent.py: RNN and LSTM steps, forward and back, and the gradients through time."""
from __future__ import annotations

from functools import partial

import numpy as np

from ..render import fmt
from .activations import sigmoid
from .common import idx, n, products, read, sum_of, with_l2

GATE_NAMES = ("input gate", "forget gate", "candidate", "output gate")
GATES = ("i", "f", "g", "o")


def state_weight(op) -> str:
    """The symbol of the layer's Wh, for a note that names it where the op does not read it (the
    first step forward has no previous state, the last step back no next step). Roles name only
    the operands an op has, so here, and only here, explain spells a symbol itself, from the
    step's own result and the layer's naming (engine/recurrent.py: ``h{k}_{t}``, ``Wh{k}``)."""
    if "Wh" in op.roles:
        return op.roles["Wh"]
    key = "h" if "h" in op.roles else "dh"
    return "Wh" + op.roles[key][len(key):-len(f"_{op.t}")]


def pre_activation(op, i: int, col: int) -> tuple[list[str], list[str], float]:
    """``x_t[i]·Wx[:, col] (+ h_t−1[i]·Wh[:, col])`` of a step op: the sums as written, the sums
    with their numbers, and their value (the bias not included)."""
    x, Wx = op.roles["x"], op.roles["Wx"]
    x_terms, z = products(read(op, "x")[i], read(op, "Wx")[:, col])
    parts, inner = [f"Σₖ {x}[{i},k]·{Wx}[k,{col}]"], [sum_of(x_terms)]
    if "h_prev" in op.roles:
        h_prev, Wh = op.roles["h_prev"], op.roles["Wh"]
        h_terms, zh = products(read(op, "h_prev")[i], read(op, "Wh")[:, col])
        z += zh
        parts.append(f"Σₖ {h_prev}[{i},k]·{Wh}[k,{col}]")
        inner.append(sum_of(h_terms))
    return parts, inner, z


def rnn_step(op, index):
    h, b = op.roles["h"], op.roles["b"]
    i, j = index
    parts, inner, z = pre_activation(op, i, j)
    bias = float(read(op, "b")[j])
    z += bias
    t = op.t
    return (f"{h}{idx(i, j)} = tanh({' + '.join(parts)} + {b}[{j}])", f"tanh({' + '.join(inner)} + {n(bias)})",
            float(np.tanh(z)),
            [f"the pre-activation is {fmt(z)}; tanh squashes it into (−1, 1)"]
            + (["t = 0: there is no previous state (h_{−1} = 0)"] if t == 0 else
               [f"the previous state {op.roles['h_prev']} carries what steps 0…{t - 1} saw"]))


def hidden_gradient(op, index, next_grad: str) -> tuple[str, str, float]:
    """``dh_t[i,j] = up[i,j] + Σₖ next_grad[i,k]·Wh[j,k]``: from the layer above (role ``dH``, one
    timestep of it, or ``dout`` at a many-to-one layer's last step) and from step t+1 (role
    ``next_grad``: ``dz_next`` or ``da_next``, through ``Wh``); either may be absent."""
    i, j = index
    parts, numbers, value = [], [], 0.0
    up = next((role for role in ("dH", "dout") if role in op.roles), None)
    if up:
        g = float(read(op, up)[i, j])
        parts.append(f"{op.roles[up]}{idx(i, j)}")
        numbers.append(n(g))
        value += g
    if next_grad in op.roles:
        terms, back = products(read(op, next_grad)[i], read(op, "Wh")[j])
        parts.append(f"Σₖ {op.roles[next_grad]}[{i},k]·{op.roles['Wh']}[{j},k]")
        numbers.append(sum_of(terms))
        value += back
    return f"{op.roles['dh']}{idx(i, j)} = {' + '.join(parts)}", " + ".join(numbers), value


def rnn_dh(op, index):
    dh = op.roles["dh"]
    formula, numbers, value = hidden_gradient(op, index, "dz_next")
    size = f"‖{dh}‖ = {fmt(float(np.linalg.norm(op.role('dh'))))}"
    return (formula, numbers, value,
            [f"{size}: the gradient from step {op.t + 1} came back through {op.roles['Wh']}ᵀ and tanh′ = 1 − h²; "
             f"repeated step after step, that product can shrink (or grow) it" if "dz_next" in op.roles else
             f"{size}: the last timestep, so only the gradient from the layer above reaches it"])


def rnn_dz(op, index):
    dh, dz, h = op.roles["dh"], op.roles["dz"], op.roles["h"]
    g, hv = float(op.role("dh")[index]), float(read(op, "h")[index])
    at = idx(*index)
    return (f"{dz}{at} = {dh}{at}·(1 − {h}{at}²)", f"{n(g)}·(1 − {n(hv)}²)", g * (1 - hv * hv),
            [f"tanh′ = 1 − h² = {fmt(1 - hv * hv)}" + (": the unit is saturated, little gradient gets through"
                                                        if 1 - hv * hv < 0.1 else "")])


def recurrent_output(op, index):
    H = op.roles["out"]
    if len(index) == 3:  # many-to-many: every state, read in time order (the inputs h1_0 … h1_T−1)
        i, t, j = index
        state = list(op.inputs)[t]
        return f"{H}{idx(i, t, j)} = {state}{idx(i, j)}", n(op.inputs[state][i, j]), float(op.inputs[state][i, j]), []
    i, j = index
    last, value = op.roles["h"], float(read(op, "h")[i, j])
    return (f"{H}{idx(i, j)} = {last}{idx(i, j)}", n(value), value,
            ["many-to-one: only the last state goes on to the next layer"])


def lstm_gate(op, index, q: int):
    gate, b, Wx = op.roles[GATES[q]], op.roles["b"], op.roles["Wx"]
    i, j = index
    nh = op.role(GATES[q]).shape[1]
    col = q * nh + j
    parts, inner, z = pre_activation(op, i, col)
    bias = read(op, "b")[col]
    z += float(bias)
    squash, value = ("tanh", float(np.tanh(z))) if q == 2 else ("σ", sigmoid(z))
    return (f"{gate}{idx(i, j)} = {squash}({' + '.join(parts)} + {b}[{col}])",
            f"{squash}({' + '.join(inner)} + {n(bias)})", value,
            [f"the {GATE_NAMES[q]} of unit {j} uses column {col} = {q}·{nh} + {j} of {Wx}, "
             f"{state_weight(op)} and {b}; its pre-activation is {fmt(z)}"])


def lstm_c(op, index):
    c, ig, fg, gg = (op.roles[r] for r in ("c", "i", "f", "g"))
    i_, g_ = float(op.role("i")[index]), float(op.role("g")[index])
    at = idx(*index)
    if "c_prev" not in op.roles:  # t = 0: no previous cell
        return f"{c}{at} = {ig}{at}·{gg}{at}", f"{n(i_)}·{n(g_)}", i_ * g_, ["t = 0: the cell starts empty (c_{−1} = 0)"]
    c_prev = op.roles["c_prev"]
    f_, cp = float(op.role("f")[index]), float(read(op, "c_prev")[index])
    return (f"{c}{at} = {fg}{at}·{c_prev}{at} + {ig}{at}·{gg}{at}", f"{n(f_)}·{n(cp)} + {n(i_)}·{n(g_)}",
            f_ * cp + i_ * g_, [f"the forget gate keeps {fmt(f_)} of the old cell, the input gate adds "
                                f"{fmt(i_)} of the candidate"])


def lstm_h(op, index):
    h, c, og = op.roles["h"], op.roles["c"], op.roles["o"]
    o_, c_ = float(op.role("o")[index]), float(op.role("c")[index])
    at = idx(*index)
    return f"{h}{at} = {og}{at}·tanh({c}{at})", f"{n(o_)}·tanh({n(c_)})", o_ * float(np.tanh(c_)), []


def lstm_dh(op, index):
    formula, numbers, value = hidden_gradient(op, index, "da_next")
    return (formula, numbers, value,
            [f"‖{op.roles['dh']}‖ = {fmt(float(np.linalg.norm(op.role('dh'))))}; k runs over all four gates' "
             f"columns of {state_weight(op)}"])


def lstm_dc(op, index):
    r = op.roles
    at = idx(*index)
    dh, o, c = float(op.role("dh")[index]), float(read(op, "o")[index]), float(read(op, "c")[index])
    tc = float(np.tanh(c))
    formula = f"{r['dc']}{at} = {r['dh']}{at}·{r['o']}{at}·(1 − tanh²{r['c']}{at})"
    numbers, value = f"{n(dh)}·{n(o)}·(1 − tanh²{n(c)})", dh * o * (1 - tc * tc)
    notes = []
    if "dc_next" in r:
        dc_next, f_next = float(read(op, "dc_next")[index]), float(read(op, "f_next")[index])
        formula += f" + {r['dc_next']}{at}·{r['f_next']}{at}"
        numbers += f" + {n(dc_next)}·{n(f_next)}"
        value += dc_next * f_next
        notes.append(f"the cell path: {r['f_next']}{at} = {fmt(f_next)} of the next step's cell gradient comes "
                     f"straight back, with no weight matrix and no squashing in between: a forget gate near 1 "
                     f"keeps the gradient from vanishing")
    return formula, numbers, value, notes


def lstm_da(op, index):
    r = op.roles
    i, col = index
    nh = read(op, "i").shape[1]
    q, j = divmod(col, nh)
    at = idx(i, j)
    dc, dh = float(op.role("dc")[i, j]), float(op.role("dh")[i, j])
    ig, fg, gg, og, c = (float(read(op, key)[i, j]) for key in ("i", "f", "g", "o", "c"))
    da = f"{r['da']}{idx(i, col)}"
    note = [f"column {col} = {q}·{nh} + {j}: the {GATE_NAMES[q]} of unit {j}"]
    if q == 0:
        return (f"{da} = {r['dc']}{at}·{r['g']}{at}·{r['i']}{at}·(1 − {r['i']}{at})",
                f"{n(dc)}·{n(gg)}·{n(ig)}·(1 − {n(ig)})", dc * gg * ig * (1 - ig), note)
    if q == 1:
        if "c_prev" not in r:
            return f"{da} = 0", "0", 0.0, note + ["t = 0: the forget gate had no old cell to forget"]
        cp = float(read(op, "c_prev")[i, j])
        return (f"{da} = {r['dc']}{at}·{r['c_prev']}{at}·{r['f']}{at}·(1 − {r['f']}{at})",
                f"{n(dc)}·{n(cp)}·{n(fg)}·(1 − {n(fg)})", dc * cp * fg * (1 - fg), note)
    if q == 2:
        return (f"{da} = {r['dc']}{at}·{r['i']}{at}·(1 − {r['g']}{at}²)", f"{n(dc)}·{n(ig)}·(1 − {n(gg)}²)",
                dc * ig * (1 - gg * gg), note)
    tc = float(np.tanh(c))
    return (f"{da} = {r['dh']}{at}·tanh({r['c']}{at})·{r['o']}{at}·(1 − {r['o']}{at})",
            f"{n(dh)}·tanh({n(c)})·{n(og)}·(1 − {n(og)})", dh * tc * og * (1 - og), note)


# The gradients through time read the stacked pre-activation gradients in role ``pre``: dz1 (RNN), da1 (LSTM).
def through_time_dWx(op, index, pre: str):
    X, dz, dWx = op.roles["X"], op.roles[pre], op.roles["dWx"]
    k, j = index
    Xv = read(op, "X")
    terms, value = products(Xv[:, :, k], read(op, pre)[:, :, j])
    formula, numbers, value = with_l2(op, index, "Wx", f"{dWx}{idx(k, j)} = Σₜ Σᵢ {X}[i,t,{k}]·{dz}[i,t,{j}]",
                                      sum_of(terms), value)
    m, T = Xv.shape[:2]
    return formula, numbers, value, [f"the same weight is used at all {T} timesteps of all {m} examples, "
                                     f"so its gradient sums over both"]


def through_time_dWh(op, index, pre: str):
    h, dz, dWh = op.roles["h"], op.roles[pre], op.roles["dWh"]
    k, j = index
    terms, value = products(read(op, "h")[:, :-1, k], read(op, pre)[:, 1:, j])
    formula, numbers, value = with_l2(op, index, "Wh", f"{dWh}{idx(k, j)} = Σ_t≥1 Σᵢ {h}[i,t−1,{k}]·{dz}[i,t,{j}]",
                                      sum_of(terms), value)
    return formula, numbers, value, ["t starts at 1: the state before step 0 is 0, so step 0 adds nothing"]


def through_time_db(op, index, pre: str):
    dz, db = op.roles[pre], op.roles["db"]
    (j,) = index
    col = read(op, pre)[:, :, j]
    return f"{db}[{j}] = Σₜ Σᵢ {dz}[i,t,{j}]", sum_of([n(v) for v in col.ravel()]), float(col.sum()), []


def through_time_dX(op, index, pre: str):
    dz, Wx, dX = op.roles[pre], op.roles["Wx"], op.roles["dX"]
    i, t, k = index
    terms, value = products(read(op, pre)[i, t], read(op, "Wx")[k])
    return f"{dX}{idx(i, t, k)} = Σⱼ {dz}[{i},{t},j]·{Wx}[{k},j]", sum_of(terms), value, []


def through_time(kind: str, pre: str) -> dict:
    return {f"{kind}.{grad}": partial(explainer, pre=pre) for grad, explainer in
            (("dWx", through_time_dWx), ("dWh", through_time_dWh), ("db", through_time_db), ("dX", through_time_dX))}


EXPLAINERS = {
    "rnn.step": rnn_step, "rnn.output": recurrent_output, "rnn.step_back": {"dh": rnn_dh, "dz": rnn_dz},
    **through_time("rnn", "dz"),
    "lstm.step": {"h": lstm_h, "c": lstm_c, **{g: partial(lstm_gate, q=q) for q, g in enumerate(GATES)}},
    "lstm.output": recurrent_output, "lstm.step_back": {"dh": lstm_dh, "dc": lstm_dc, "da": lstm_da},
    **through_time("lstm", "da"),
}
