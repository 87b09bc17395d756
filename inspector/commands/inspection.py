"""Inspection commands: print an expression, explain how one element was computed."""
from __future__ import annotations

import numpy as np

from engine.errors import shape_str

from .. import expr as E
from ..explain import explain_op_element
from ..session import HYPERPARAMETERS
from .core import Result, UsageError, command
from .views import array_data


@command("print", aliases=("p",), usage="print EXPR", args="expr",
         summary="an array, a slice or a function of them: W1[:,2], norm(dW1), shape(X), lr",
         help="""
Names: every array the iteration has produced so far (Z1, A1, P, L, dZ2, dW1 …), parameters
(W1, b1, or dense1.W), inputs X and labels Y, optimizer state (vW1, mW1), hyperparameters (lr,
l2 …), and a layer name for its output (relu1 is A1). Functions: """ + ", ".join(sorted(E.FUNCTIONS)) + """.
Arithmetic + - * / works on arrays and numbers.""")
def do_print(s, arg, line="print"):
    if not arg.strip():
        raise UsageError("print: give an expression, e.g. `print W1`, `print dZ1[0]`, `print norm(dW1)`")
    tree, value = s.evaluate(arg)
    name = E.to_text(tree)
    message = ""
    if isinstance(tree, E.Call) and tree.func == "shape":  # dimensions are whole numbers: (4, 2)
        message = str(tuple(int(n) for n in np.ravel(value)))
    return Result(line, True, "value", message, array_data(name, value))


@command("explain", aliases=("x",), usage="explain NAME[i,j]", args="expr",
         summary="how one element was computed, with its numbers: explain Z1[3,2]")
def do_explain(s, arg, line="explain"):
    if not arg.strip():
        raise UsageError("explain: name one element, e.g. `explain Z1[0,2]` or `explain L`")
    tree = E.parse(arg)
    base, items = (tree.base, tree.items) if isinstance(tree, E.Index) else (tree, ())
    if not isinstance(base, E.Name):
        raise UsageError(f"explain: expected one element like Z1[0,2], got {arg.strip()!r}")
    symbol = s.canonical(base.name)
    values = s.values_at()
    if symbol not in values:
        s.resolver(values)(symbol)  # raises "not computed yet" / "unknown"
    array = np.asarray(values[symbol])
    if len(items) != array.ndim or any(isinstance(i, E.Slice) for i in items):
        dims = shape_str(array.shape)
        raise UsageError(f"explain: {symbol} is {dims}; name one element with {array.ndim} "
                         f"ind{'ex' if array.ndim == 1 else 'ices'}, e.g. {symbol}[{','.join(['0'] * array.ndim)}]"
                         if array.ndim else f"explain: {symbol} is a single number; write `explain {symbol}`")
    key = E.index_key(items, array.shape, s.resolver(values), symbol)
    key = tuple(k % n for k, n in zip(key, array.shape))
    op = next((o for o in reversed(s.tape[:s.pos + 1]) if symbol in o.outputs), None)
    if op is None:
        origin = ("the previous update" if s.history or s.current.number > 1 else "initialization")
        what = ("a parameter" if symbol in {p.symbol for p in s.model.parameters()} else
                "a hyperparameter" if symbol in HYPERPARAMETERS else "an input of this iteration")
        value = float(array[key]) if array.ndim else float(array)
        data = {"target": symbol + (E.to_text(tree)[len(base.name):] if items else ""), "op": None,
                "formula": None, "numbers": None, "value": value,
                "notes": [f"{symbol} is {what}: no op of this iteration has written it yet; "
                          f"its value comes from {origin if what == 'a parameter' else 'the batch' if symbol in ('X', 'Y') else 'the settings'}"]}
        return Result(line, True, "explain", "", data)
    exp = explain_op_element(op, symbol, key)
    now = float(array[key]) if array.ndim else float(array)
    if now != exp.value and not (np.isnan(now) and np.isnan(exp.value)):  # `set` changed it after the op
        exp.notes.append(f"an edit changed it after this op: {exp.target} is now {now:.6g} (print shows that)")
    data = {"target": exp.target, "op": exp.op, "formula": exp.formula, "numbers": exp.numbers,
            "value": exp.value, "recomputed": exp.recomputed, "text": exp.text, "notes": exp.notes,
            **({"expected": exp.expected} if exp.expected is not None else {})}  # --use FILE: nndb's value
    return Result(line, True, "explain", "", data)
