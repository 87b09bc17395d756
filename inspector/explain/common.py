"""What every explainer shares: numbers inside formulas, sums of terms, indices, dot products, weight decay."""
from __future__ import annotations

import numpy as np

from engine import Op

from ..render import fmt

MAX_TERMS = 6


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


def read(op: Op, role: str) -> np.ndarray:
    """The array the op read in ``role``: its input, even where the op also writes that symbol
    (an update reads the old ``W1`` and writes the new one; ``op.role`` gives the one it wrote)."""
    return op.inputs[op.roles[role]]


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


def with_l2(op: Op, index, param: str, formula: str, numbers: str, value: float) -> tuple[str, str, float]:
    """Add the weight decay term ``(λ/m)·W[index]`` of a gradient op that has one; ``param`` is the
    role of the decayed parameter (``W``, ``K``, ``Wx``, ``Wh``), which the op reads only with L2."""
    if "l2" not in op.attrs:
        return formula, numbers, value
    W = op.roles[param]
    lam, m, w = op.attrs["l2"], op.attrs["m"], float(read(op, param)[index])
    return (formula + f" + (λ/m)·{W}{idx(*index)}", numbers + f" + ({n(lam)}/{m})·{n(w)}",
            value + lam / m * w)
