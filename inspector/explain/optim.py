"""Explainers for the ops of engine/optim.py: SGD, momentum, Nesterov and Adam updates, one parameter entry each."""
from __future__ import annotations

import numpy as np

from ..render import fmt
from .common import idx, n, read


def values(op, index, *roles) -> list[float]:
    """The entry at ``index`` of what the op read in each role (the old W, the old v, …)."""
    return [float(read(op, role)[index]) for role in roles]


def sgd(op, index):
    W, dW = op.roles["W"], op.roles["dW"]
    w, g = values(op, index, "W", "dW")
    lr = op.attrs["lr"]
    at = idx(*index)
    return f"{W}{at} ← {W}{at} − α·{dW}{at}", f"{n(w)} − {n(lr)}·{n(g)}", w - lr * g, []


def velocity(op, index):
    v, dW = op.roles["v"], op.roles["dW"]
    old, g = values(op, index, "v", "dW")
    mu = op.attrs["momentum"]
    at = idx(*index)
    return f"{v}{at} ← μ·{v}{at} + {dW}{at}", f"{n(mu)}·{n(old)} + {n(g)}", mu * old + g, []


def momentum_update(op, index):
    W, v = op.roles["W"], op.roles["v"]
    w, vel = values(op, index, "W", "v")
    lr = op.attrs["lr"]
    at = idx(*index)
    return f"{W}{at} ← {W}{at} − α·{v}{at}", f"{n(w)} − {n(lr)}·{n(vel)}", w - lr * vel, []


def nesterov_update(op, index):
    W, dW, v = (op.roles[r] for r in ("W", "dW", "v"))
    w, g, vel = values(op, index, "W", "dW", "v")
    lr, mu = op.attrs["lr"], op.attrs["momentum"]
    at = idx(*index)
    return (f"{W}{at} ← {W}{at} − α·({dW}{at} + μ·{v}{at})", f"{n(w)} − {n(lr)}·({n(g)} + {n(mu)}·{n(vel)})",
            w - lr * (g + mu * vel), [])


def adam_m(op, index):
    s, dW = op.roles["m"], op.roles["dW"]
    old, g = values(op, index, "m", "dW")
    b = op.attrs["beta1"]
    at = idx(*index)
    return f"{s}{at} ← β₁·{s}{at} + (1 − β₁)·{dW}{at}", f"{n(b)}·{n(old)} + {n(1 - b)}·{n(g)}", b * old + (1 - b) * g, []


def adam_v(op, index):
    s, dW = op.roles["v"], op.roles["dW"]
    old, g = values(op, index, "v", "dW")
    b = op.attrs["beta2"]
    at = idx(*index)
    return (f"{s}{at} ← β₂·{s}{at} + (1 − β₂)·{dW}{at}²", f"{n(b)}·{n(old)} + {n(1 - b)}·{n(g)}²",
            b * old + (1 - b) * g * g, [])


def adam_update(op, index):
    W, m, v = (op.roles[r] for r in ("W", "m", "v"))
    w, mv, vv = values(op, index, "W", "m", "v")
    a = op.attrs
    c1, c2 = 1 - a["beta1"] ** a["t"], 1 - a["beta2"] ** a["t"]
    m_hat, v_hat = mv / c1, vv / c2
    at = idx(*index)
    return (f"{W}{at} ← {W}{at} − α·m̂/(√v̂ + ε)", f"{n(w)} − {n(a['lr'])}·{n(m_hat)}/(√{n(v_hat)} + {a['eps']:g})",
            w - a["lr"] * m_hat / (np.sqrt(v_hat) + a["eps"]),
            [f"m̂ = {m}{at}/(1 − β₁^{a['t']}) = {fmt(m_hat)},  v̂ = {v}{at}/(1 − β₂^{a['t']}) = {fmt(v_hat)}"])


EXPLAINERS = {
    "sgd.update": sgd, "momentum.velocity": velocity, "momentum.update": momentum_update,
    "nesterov.update": nesterov_update, "adam.m": adam_m, "adam.v": adam_v, "adam.update": adam_update,
}
