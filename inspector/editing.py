"""`set`: an edit made while stopped at an op, what it changed downstream, and the first-order prediction.

The edit itself is kept by the session with the op it was made at (``Session.apply_edit`` re-runs
the iteration with it); this module validates the target and value and reports the effect.
"""
from __future__ import annotations

import numpy as np

from engine import Op

from . import expr as E
from .errors import SessionError
from .session import HYPERPARAMETERS, Edit


def set_value(session, target_text: str, value_text: str) -> dict:
    """``set W1[0,1] = 0.5``: edit right after the current op and recompute what follows."""
    s = session
    tree = E.parse(target_text)
    if isinstance(tree, E.Name):
        symbol, items = s.canonical(tree.name), ()
    elif isinstance(tree, E.Index) and isinstance(tree.base, E.Name):
        symbol, items = s.canonical(tree.base.name), tree.items
    else:
        raise SessionError(f"set: the target must be a name or an indexed name like W1[0,1] or lr, "
                           f"got {target_text.strip()!r}")
    values = s.values_at()
    value_tree = E.parse(value_text)
    value = E.evaluate(value_tree, s.resolver(values))
    value = np.asarray(value, dtype=float) if not np.isscalar(value) else float(value)
    if not np.all(np.isfinite(value)):
        raise SessionError(f"set: the value must be a finite number, got {value_text.strip()}")
    if symbol in HYPERPARAMETERS:
        if symbol not in s.hyper_names():
            raise SessionError(f"set: this model's optimizer has no {symbol}; it has "
                               f"{', '.join(s.hyper_names())}")
        if items or np.ndim(value) != 0:
            raise SessionError(f"set: {symbol} is a single number")
        if value < 0:
            raise SessionError(f"set: {symbol} must be ≥ 0, got {value}")
        if symbol in ("momentum", "beta1", "beta2") and value >= 1:  # the running averages would never decay
            raise SessionError(f"set: {symbol} must be < 1 (it weighs the past; at 1 or more the updates grow "
                               f"without bound), got {value:g}")
        if symbol == "momentum" and not s.optimizer.momentum:
            raise SessionError("set: momentum cannot be switched on for an SGD made without it; "
                               "reset with a momentum preset instead")
        edit = Edit(s.pos, f"{symbol}", symbol, None, float(value))
        old = values.get(symbol)
    else:
        if symbol == "L":
            raise SessionError("set: nothing downstream reads the loss value L (backward starts "
                               "from dZ = ∂L/∂Z); edit P, a logit or a weight instead")
        if symbol not in values:
            s.resolver(values)(symbol)  # raises "not computed yet" or "unknown name"
        current = np.asarray(values[symbol])
        try:
            key = E.index_key(items, current.shape, s.resolver(values), symbol) if items else (...,)
        except E.ExprError as e:
            raise SessionError(f"set: {e}") from None
        selected = current[key]
        if np.ndim(value) and np.shape(value) != np.shape(selected):
            try:
                np.broadcast_to(value, np.shape(selected))
            except ValueError:
                raise SessionError(
                    f"set: {E.to_text(tree)} is {shape_words(np.shape(selected))}, the value is "
                    f"{shape_words(np.shape(value))}; give a single number or an array of that shape"
                ) from None
        old = np.array(selected, copy=True)
        edit = Edit(s.pos, E.to_text(tree), symbol, key, value)
    before = s.current.tape
    loss_before = s.current.loss
    s.apply_edit(edit)
    return {"edit": edit, "old": old, "loss_before": loss_before, "loss_after": s.current.loss,
            "changed": changed_downstream(before, s.current.tape, s.pos),
            "predicted": predicted_change(edit, old, before), "note": read_already(edit, before)}


def read_already(edit: Edit, before: list[Op]) -> str | None:
    """Why an edit shows no effect here: an op up to the current one read the value already."""
    op = next((op for op in before[:edit.pos + 1] if edit.symbol in op.inputs), None)
    if op is None:
        return None
    return (f"op {op.index} ({op.equation.split(',  ')[0]}) read {edit.symbol} already: the edit takes effect "
            f"for the ops after this one; go back to the start (`goto start`) and set it there to see it "
            f"change {', '.join(op.outputs)}")


def predicted_change(edit: Edit, old, before: list[Op]) -> float | None:
    """First-order prediction ΔL ≈ Σ ∂L/∂w·Δw, when the edit precedes the loss and its gradient exists."""
    first_use = next((op for op in before if edit.symbol in op.inputs), None)
    if edit.key is None or first_use is None or edit.pos >= first_use.index:
        return None  # the loss of this iteration never sees the new value
    grad = next((op.outputs["d" + edit.symbol] for op in before if "d" + edit.symbol in op.outputs), None)
    if grad is None:
        return None
    delta = np.asarray(edit.value, dtype=float) - np.asarray(old, dtype=float)
    return float(np.sum(np.asarray(grad)[edit.key] * delta))


def shape_words(shape) -> str:
    return f"an array of shape {'×'.join(map(str, shape))}" if len(shape) else "a single number"


def changed_downstream(before: list[Op], after: list[Op], pos: int) -> list[tuple[str, float]]:
    """(symbol, max |Δ|) for every result after op ``pos`` that the re-run changed."""
    changed = []
    earlier = {op.name: op for op in before[pos + 1:]}  # by name: an edit of l2 adds or drops an op
    for new in after[pos + 1:]:
        old = earlier.get(new.name)
        if old is None:
            continue
        for name, value in new.outputs.items():
            a, b = np.asarray(old.outputs[name]), np.asarray(value)
            if a.shape != b.shape:
                continue
            with np.errstate(all="ignore"):
                diff = np.abs(a - b)
            worst = float(np.nanmax(diff)) if diff.size and not np.all(np.isnan(diff)) else 0.0
            if worst > 0 or not np.array_equal(np.isnan(a), np.isnan(b)):
                changed.append((name, worst))
    return changed
