"""``explain``: how one element of one op's result was computed, with its numbers.

Each engine module has its explainers here (dense, activations, losses, optim, conv, recurrent),
one per op kind; each reads the op's operands by the roles the layer gave them (``op.role("W")``,
``op.roles["W"]`` for the symbol) and returns the general formula for that element, the formula
with the numbers put in, and the value the numbers give, which the caller checks against what the
code computed. An op kind none of them knows gets the generic explainer: its equation and its
operands by role.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine import Op

from ..render import fmt
from . import activations, conv, dense, losses, optim, recurrent
from .common import MAX_TERMS, idx, n, products, read, sum_of, with_l2
from .generic import generic

__all__ = ["EXPLAINERS", "Explanation", "explain_op_element", "generic", "MAX_TERMS", "idx", "n", "products",
           "read", "sum_of", "with_l2"]

# op kind → explainer(op, index) → (formula, numbers, value, notes); or, for an op with several results,
# result role → explainer (dropout's out and mask; an LSTM step's h, c and gates).
EXPLAINERS = {**dense.EXPLAINERS, **activations.EXPLAINERS, **losses.EXPLAINERS, **optim.EXPLAINERS,
              **conv.EXPLAINERS, **recurrent.EXPLAINERS}


@dataclass
class Explanation:
    target: str
    op: str
    formula: str
    numbers: str
    value: float
    recomputed: float
    notes: list[str] = field(default_factory=list)
    expected: float | None = None  # the reference's value of an op checked against one (--use FILE)

    @property
    def text(self) -> str:
        return f"{self.formula} = {self.numbers} = {fmt(self.value)}"


def explain_op_element(op: Op, symbol: str, index: tuple) -> Explanation:
    """Explain ``symbol[index]`` as op ``op`` computed it."""
    explainer = EXPLAINERS.get(op.kind)
    if isinstance(explainer, dict):  # one formula per result, by the result's role
        explainer = explainer.get(next((role for role, sym in op.roles.items() if sym == symbol), None))
    if explainer is None:
        formula, numbers, value, notes = generic(op, symbol, index)
    else:
        formula, numbers, value, notes = explainer(op, index)
    recorded = float(np.asarray(op.outputs[symbol])[index]) if index else float(np.asarray(op.outputs[symbol]))
    target = symbol + (idx(*index) if index else "")
    want = None
    if symbol in op.expected:  # computed by code checked against a reference (--use FILE): the formula is the reference's
        want = np.asarray(op.expected[symbol])
        want = float(want[index]) if index else float(want)
    elif abs(value - recorded) > 1e-6 * max(1.0, abs(recorded)):
        notes.append(f"the code computed {fmt(recorded)} but this formula gives {fmt(value)}: "
                     f"the code of {op.layer} does not compute what its equation says")
    return Explanation(target, op.name, formula, numbers, recorded, float(value), notes, want)
