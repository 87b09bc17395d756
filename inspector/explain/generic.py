"""The explainer for an op kind no module knows (a learner's own layer): its equation, its operands by role."""
from __future__ import annotations

import numpy as np

from engine.errors import shape_str

from ..render import fmt
from .common import idx


def operand_line(label: str, symbol: str, array, index: tuple, shape: tuple) -> str:
    """``W: W1, 3×2`` and, where the operand has the result's shape, its value at the same index."""
    a = np.asarray(array)
    line = f"{label}: {symbol}, {shape_str(a.shape)}"
    if a.shape == shape:
        line += f"; {symbol}{idx(*index) if index else ''} = {fmt(float(a[index]) if index else float(a))}"
    return line


def generic(op, symbol: str, index: tuple) -> tuple[str, str, float, list[str]]:
    """No formula of its own: the op's equation, the value the code recorded, and the operands
    (by role, then any the op names no role for) with their shapes and, for those shaped like
    the result, the value at the same index. It recomputes nothing, so it reports the recorded
    value as its own."""
    result = np.asarray(op.outputs[symbol])
    value = float(result[index]) if index else float(result)
    target = symbol + (idx(*index) if index else "")
    roles = {sym: role for role, sym in op.roles.items()}
    mine = roles.get(symbol)
    notes = [f"explain has no per-element formula for {op.kind} ops: the equation is the op's own, "
             f"and the value is the one the code recorded",
             f"{target} is {'the ' + repr(mine) + ' result' if mine else 'a result'} of op {op.name}; its operands "
             f"by role, with their shapes and, where shaped like {symbol} ({shape_str(result.shape)}), "
             f"the value at the same index:"]
    others = [s for s in op.arrays if s != symbol]
    named = [(role, sym) for role, sym in op.roles.items() if sym in others]
    unnamed = [("(no role)", sym) for sym in others if sym not in roles]
    notes += ["  " + operand_line(label, sym, op.arrays[sym], index, result.shape) for label, sym in named + unnamed]
    return op.equation, f"{target} as the code recorded it", value, notes
