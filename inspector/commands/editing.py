"""Editing and checking commands: set a value and see what follows, gradient-check a neuron."""
from __future__ import annotations

import difflib
import re

import numpy as np

from engine.errors import shape_str
from engine.gradcheck import ACCEPTABLE, EXCELLENT, NOISE_ULPS, WRONG, power_of_ten, worst_row

from ..checking import grad_rows_data, gradcheck
from ..editing import set_value
from .core import Result, UsageError, command


@command("set", usage="set TARGET = VALUE", args="target",
         summary="edit a weight, a slice, an input, a label or a hyperparameter; the rest recomputes",
         help="""
Examples: set W1[0,1] = 0.5    set W2[:,0] = 0    set b1 = [0.1, 0, 0, 0, 0, 0, 0, 0]
          set X[0,1] = 2       set lr = 0.01      set l2 = 0.001
The edit takes effect right after the current op; everything after it is recomputed, and the
loss before/after is reported (with the first-order prediction ∂L/∂w·Δw when it applies).
Stepping back past the edit undoes it.""")
def do_set(s, arg, line="set"):
    target, sep, value = arg.partition("=")
    if not sep or not target.strip() or not value.strip():
        raise UsageError("set: expected `set TARGET = VALUE`, e.g. `set W1[0,1] = 0.5` or `set lr = 0.01`")
    r = set_value(s, target, value)
    edit = r["edit"]
    message = f"{edit.target}: {_short(r['old'])} → {_short(edit.value)}"
    data = {"target": edit.target, "old": r["old"], "new": edit.value, "at_op": s.pos,
            "loss_before": r["loss_before"], "loss_after": r["loss_after"], "predicted_change": r["predicted"],
            "changed": [{"name": n, "max_abs_change": d} for n, d in r["changed"]], "note": r["note"]}
    return Result(line, True, "edit", message, data)


def _short(v) -> str:
    a = np.asarray(v)
    return f"{float(a):.6g}" if a.ndim == 0 else f"{shape_str(a.shape)} array"


@command("gradcheck", aliases=("gc",), usage="gradcheck LAYER [NEURON] | PARAM[index]", args="gradcheck",
         summary="compare backprop's gradient with central differences: gradcheck dense1 3, gradcheck W2[:,1]",
         help=f"""
Runs in float64 on this iteration's batch and starting weights, on a copy: the model is not
changed. Each row: the parameter, the analytic gradient (backward), the numerical one
(L(w+ε) − L(w−ε))/2ε, and their relative error |a − n|/(|a| + |n|). Verdicts: ≤ {power_of_ten(EXCELLENT)} excellent,
≤ {power_of_ten(ACCEPTABLE)} acceptable near a kink, > {power_of_ten(WRONG)} wrong. A difference below the float64
noise floor of the central difference ({NOISE_ULPS}·u·|L|/ε, u = 2.2e-16) is excellent whatever its
relative error. A row is marked when ±ε crossed a kink (a ReLU at 0, a max-pool tie): its numerical
value is unreliable. A layer's check samples the entries with the largest gradients;
`gradcheck LAYER all` checks every one.""")
def do_gradcheck(s, arg, line="gradcheck"):
    _known_layer_or_parameter(s, arg)
    rows, total = gradcheck(s, arg)
    worst = worst_row(rows)
    kinks = sum(r.kink for r in rows)
    message = f"worst relative error {worst.rel_error:.2e} ({worst.parameter}): {worst.verdict}"
    explanation = ("analytic = the gradient backward computed; numerical = "
                   "(L(w+ε) − L(w−ε))/2ε with ε = 1e-6, on this batch")
    if total > len(rows):
        word = arg.split()[0]
        every = (f"`gradcheck {word} all` checks every one" if word in {l.name for l in s.model.layers}
                 else "name fewer entries to check every one")
        message += f" — {len(rows)} of {total} entries checked, those with the largest gradients; {every}"
        explanation += (f"; a sample of {len(rows)} of the {total} entries, those with the largest "
                        f"gradients first")
    return Result(line, True, "gradcheck", message,
                  {"spec": arg.strip(), "rows": grad_rows_data(rows), "worst": worst.rel_error,
                   "verdict": worst.verdict, "kinks": kinks, "checked": len(rows), "entries": total,
                   "explanation": explanation})


def _known_layer_or_parameter(s, spec: str) -> None:
    """`gradcheck dense7 2` names no layer: say so and list the layers, before any parsing."""
    if len(spec.split()) < 2:  # one word: a parameter's name, checked (and refused clearly) by gradcheck
        return
    word = spec.split()[0]
    if not re.fullmatch(r"[A-Za-z_]\w*", word) or word in {layer.name for layer in s.model.layers}:
        return
    try:
        s.model.param(word)
        return
    except KeyError:
        pass
    layers = [layer.name for layer in s.model.layers if layer.params]
    close = difflib.get_close_matches(word, layers, n=1, cutoff=0.6)
    params = ", ".join(p.symbol for p in s.model.parameters())
    raise UsageError(f"gradcheck: there is no layer {word}; the layers with parameters are "
                     f"{', '.join(layers)}" + (f" (did you mean `gradcheck {close[0]}`?)" if close else "") +
                     f"; parameters: {params}")
