"""Whole-dataset figures of the network as it stands: training and validation accuracy and loss, and their curves.

The expression names ``train_acc``, ``train_loss``, ``val_acc`` and ``val_loss`` evaluate the
model with the weights at the cursor (edits included) on the whole training set and on the
held-out validation set (a lesson's ``validation:`` key makes one); losses are data losses,
without the L2 penalty, in eval mode (dropout off). ``train`` records them once per epoch when
the problem has a validation set (``session.curve``), and ``curves`` draws that record, or the
loss per iteration, as a text chart both front ends show.
"""
from __future__ import annotations

import math

import numpy as np

from .expr import ExprError

METRICS = {
    "train_acc": ("train", "accuracy", "accuracy on the whole training set"),
    "train_loss": ("train", "loss", "data loss on the whole training set"),
    "val_acc": ("val", "accuracy", "accuracy on the validation set"),
    "val_loss": ("val", "loss", "data loss on the validation set"),
    "trained_iterations": ("train", "", "how many iterations the latest `train` ran"),
    "loss_jump": ("train", "", "the mean |L − L_previous| over the minibatch losses of the latest `train`: "
                  "how noisy its loss curve is"),
}
NO_VALIDATION = ("this network has no validation set (a lesson's `validation: N` holds N examples out); "
                 "train_acc and train_loss are the training set's")


def has_validation(session) -> bool:
    return getattr(session.problem, "X_val", None) is not None


def evaluate_sets(session, model) -> dict[str, float]:
    """``train_acc``, ``train_loss`` (and ``val_acc``, ``val_loss`` with a validation set) of ``model``."""
    p = session.problem
    out = {}
    sets = [("train", p.X, p.Y)] + ([("val", p.X_val, p.Y_val)] if has_validation(session) else [])
    with np.errstate(all="ignore"):
        for name, X, Y in sets:
            r = model.evaluate(np.asarray(X, dtype=np.float64), np.asarray(Y), session.loss)
            out[f"{name}_acc"], out[f"{name}_loss"] = float(r["accuracy"]), float(r["loss"])
    return out


def metric(session, name: str) -> float:
    """One of METRICS at the cursor; cached until the cursor, the iteration, an edit or the problem changes."""
    if METRICS[name][0] == "val" and not has_validation(session):
        raise ExprError(NO_VALIDATION)
    if name in ("trained_iterations", "loss_jump"):
        return latest_train(session, name)
    it = session.current  # a new Iteration for every start, reset and restart: the cache lives on it
    key = (session.pos, tuple((e.pos, e.target, repr(e.value)) for e in it.edits))
    cache = getattr(it, "metrics_cache", None)
    if cache is None or cache[0] != key:
        cache = (key, evaluate_sets(session, session.model_at_cursor()))
        it.metrics_cache = cache
    return cache[1][name]


def latest_train(session, name: str) -> float:
    """``trained_iterations`` or ``loss_jump`` of the latest `train` (an ExprError before any)."""
    if not session.trained:
        raise ExprError(f"{name}: no `train` has run since the network was opened")
    first, last = session.trained[-1]
    if name == "trained_iterations":
        return float(last - first + 1)
    losses = np.array([L for i, L in session.losses if first <= i <= last and L is not None], dtype=float)
    losses = losses[np.isfinite(losses)]
    return float(np.mean(np.abs(np.diff(losses)))) if len(losses) > 1 else 0.0


def record_epoch(session, iteration: int) -> None:
    """Append the live model's figures after ``iteration`` to ``session.curve`` (with a validation set only)."""
    if has_validation(session):
        session.curve.append({"iteration": iteration, **evaluate_sets(session, session.model)})


# -- the text chart -----------------------------------------------------------------------------------
GLYPHS = ("o", "x", "+", "#")  # one per series: readable without colour, in a pipe or a file


def text_chart(series: dict[str, list[float]], width: int = 60, height: int = 10,
               x_label: str = "iteration", x_range: tuple[int, int] = (1, 1)) -> list[str]:
    """Lines of a chart: each series drawn with its own glyph (``*`` where two meet), y range on the left."""
    values = [v for vs in series.values() for v in vs if math.isfinite(v)]
    if not values:
        return ["(nothing to draw yet)"]
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    grid = [[" "] * width for _ in range(height)]
    for (name, vs), glyph in zip(series.items(), GLYPHS):
        n = len(vs)
        for i, v in enumerate(vs):
            if not math.isfinite(v):
                continue
            x = round(i * (width - 1) / max(n - 1, 1))
            y = round((hi - v) / (hi - lo) * (height - 1))
            grid[y][x] = glyph if grid[y][x] in (" ", glyph) else "*"
    label = max(len(f"{hi:.3g}"), len(f"{lo:.3g}"))
    lines = []
    for r, row in enumerate(grid):
        tick = f"{hi:.3g}" if r == 0 else f"{lo:.3g}" if r == height - 1 else ""
        lines.append(f"{tick:>{label}} ┤{''.join(row).rstrip()}")
    lines.append(" " * label + " └" + "─" * width)
    first, last = x_range
    lines.append(" " * (label + 2) + f"{x_label} {first}" + f"{last:>{max(width - len(x_label) - len(str(first)) - 1, 1)}}")
    lines.append(" " * (label + 2) + "   ".join(f"{glyph} {name} (last {vs[-1]:.4g})"
                                                for (name, vs), glyph in zip(series.items(), GLYPHS) if vs))
    return lines


def curves(session, what: str = "") -> tuple[str, list[str], dict]:
    """(title, chart lines, data) for `curves`: accuracy (``acc``, the default with a validation record)
    or loss (``loss``) per epoch of train and validation; without a record, the loss per iteration."""
    what = what.strip() or ("acc" if session.curve else "loss")
    if what not in ("acc", "loss"):
        raise ValueError(f"curves: expected `curves`, `curves acc` or `curves loss`, got {what!r}")
    record = session.curve
    if record:
        key = "acc" if what == "acc" else "loss"
        series = {f"train {'accuracy' if key == 'acc' else 'loss'}": [r[f"train_{key}"] for r in record],
                  f"validation {'accuracy' if key == 'acc' else 'loss'}": [r[f"val_{key}"] for r in record]}
        gap = record[-1]["train_acc"] - record[-1]["val_acc"]
        title = (f"{'accuracy' if key == 'acc' else 'loss'} per epoch over {len(record)} epochs (iterations "
                 f"{record[0]['iteration']}–{record[-1]['iteration']}); train − validation accuracy now "
                 f"{gap:+.1%}")
        lines = text_chart(series, x_label="epoch", x_range=(1, len(record)))
        data = {"what": what, "epochs": record, "losses": []}
        return title, lines, data
    if what == "acc":
        raise ValueError("curves acc: no accuracy recorded yet: `train` records the training and validation "
                         "accuracy once per epoch when the network has a validation set; `curves loss` draws "
                         "the loss per iteration")
    losses = [(i, float(L)) for i, L in session.losses if L is not None]
    if not losses:
        return "loss per iteration: no iteration finished yet (`train 100`, or `continue`)", [], \
            {"what": what, "epochs": [], "losses": []}
    finite = [L for _, L in losses if math.isfinite(L)]
    wiggle = float(np.mean(np.abs(np.diff(finite)))) if len(finite) > 1 else 0.0
    jump = (f"the latest train's loss_jump (mean |L − L_previous|) {latest_train(session, 'loss_jump'):.3g}"
            if session.trained else f"mean jump from one iteration to the next {wiggle:.3g}")
    title = f"minibatch loss per iteration, iterations {losses[0][0]}–{losses[-1][0]} ({len(losses)}); {jump}"
    lines = text_chart({"minibatch loss": [L for _, L in losses]}, x_range=(losses[0][0], losses[-1][0]))
    return title, lines, {"what": what, "epochs": [], "losses": [L for _, L in losses]}
