"""`gradcheck`: the entries a spec names, a sample of them, and central differences on a copy.

It runs in float64 on the current iteration as it is: its batch and starting weights, with the
edits of the batch and the weights made before the first op that reads them and the L2 strength
in effect when backward ran (`set l2`); the session's model is never touched.
"""
from __future__ import annotations

import numpy as np

from engine.gradcheck import check_parameters, neuron_entries

from . import expr as E
from .errors import SessionError

GRADCHECK_SAMPLE = 24


def gradcheck_entries(session, spec: str) -> list[tuple[str, tuple]]:
    """Entries to check from ``dense1 3``, ``dense1``, ``W2[:,1]`` or ``b1``."""
    model = session.model
    parts = spec.split()
    if not parts:
        raise SessionError("gradcheck: name a neuron (gradcheck dense1 3), a layer (gradcheck dense1) "
                           "or parameters (gradcheck W2[:,1])")
    if parts[0] in model._by_layer:
        layer = model.layer(parts[0])
        if not layer.params:
            raise SessionError(f"gradcheck: {parts[0]} has no parameters; pick one of "
                               f"{', '.join(l.name for l in model.layers if l.params)}")
        if len(parts) == 2 and parts[1] == "all":  # every entry, no sample
            return [(layer.sym[a], idx) for a in layer.params for idx in np.ndindex(getattr(layer, a).shape)]
        if len(parts) == 2:
            if not parts[1].isdigit():
                raise SessionError(f"gradcheck: the neuron must be a number, got {parts[1]!r}")
            try:
                return neuron_entries(model, parts[0], int(parts[1]))
            except (IndexError, ValueError) as e:
                raise SessionError(f"gradcheck: {e}") from None
        if len(parts) > 2:
            raise SessionError("gradcheck: expected `gradcheck LAYER [NEURON]` or `gradcheck LAYER all`")
        return [(layer.sym[a], idx) for a in layer.params for idx in np.ndindex(getattr(layer, a).shape)]
    tree = E.parse(spec)
    base = tree.base if isinstance(tree, E.Index) else tree
    if not isinstance(base, E.Name):
        raise SessionError(f"gradcheck: expected a layer or a parameter like W2[:,1], got {spec!r}")
    try:
        p = model.param(base.name)
    except KeyError as e:
        raise SessionError(f"gradcheck: {e.args[0]}") from None
    shape = p.value.shape
    key = E.index_key(tree.items, shape, session.resolver({}), p.symbol) if isinstance(tree, E.Index) else ()
    idx = np.arange(int(np.prod(shape))).reshape(shape)[key]
    return [(p.symbol, np.unravel_index(int(i), shape)) for i in np.ravel(idx)]


def sample_entries(entries: list, clone, loss, X, Y) -> list:
    """At most GRADCHECK_SAMPLE entries: those with the largest gradients on this batch first (a
    wrong backward shows most where the gradient is large; a background pixel's weights would pass
    trivially, 0 against 0), then a seeded sample of the rest."""
    clone.loss(X, Y, loss)
    clone.backward(loss.backward())
    biases = [e for e in entries if clone.param(e[0]).attr == "b"]
    # a neuron's bias always, it is half of "a neuron" (an LSTM unit has one per gate)
    keep = biases if len(biases) <= 4 else []
    live = [e for e in entries if clone.param(e[0]).grad[e[1]] != 0 and e not in keep]
    rest = [e for e in entries if clone.param(e[0]).grad[e[1]] == 0 and e not in keep]
    rng = np.random.default_rng(0)
    live.sort(key=lambda e: -abs(float(clone.param(e[0]).grad[e[1]])))
    pick = keep + live[:GRADCHECK_SAMPLE - len(keep)]
    pick += [rest[i] for i in rng.permutation(len(rest))[:GRADCHECK_SAMPLE - len(pick)]]
    order = {e: i for i, e in enumerate(entries)}
    return sorted(pick, key=order.get)


def first_reads(tape) -> dict[str, int]:
    """Symbol → the index of the first op that reads it; ``"backward"`` → the first backward op."""
    first: dict[str, int] = {}
    for op in tape:
        for symbol in op.inputs:
            first.setdefault(symbol, op.index)
        if op.phase == "backward":
            first.setdefault("backward", op.index)
    return first


def gradcheck(session, spec: str):
    """Central differences on this iteration as it is (see the module); the model is untouched.
    Returns the rows and how many entries the spec named (more than the rows when sampled)."""
    entries = [(sym, tuple(int(i) for i in idx)) for sym, idx in gradcheck_entries(session, spec)]
    clone = session.model.copy()
    snap = session.current.snapshot
    clone.load_state_dict(snap.params)
    clone.l2 = snap.hyper.get("l2", 0.0)
    X, Y = snap.X.copy(), snap.Y.copy()
    first = first_reads(session.tape or [])
    params = {p.symbol for p in clone.parameters()}
    for edit in session.current.edits:
        if edit.symbol == "l2":  # the λ of the penalty and of every dW, as backward used it
            if edit.pos < first.get("backward", len(session.tape or [])):
                clone.l2 = float(edit.value)
        elif edit.symbol in ("X", "Y") or edit.symbol in params:
            if edit.pos < first.get(edit.symbol, 0):  # an edit made before the code read it
                target = {"X": X, "Y": Y}.get(edit.symbol)
                if target is None:
                    target = clone.param(edit.symbol).value
                target[edit.key] = edit.value
    with np.errstate(all="ignore"):
        every = spec.split()[-1:] == ["all"]  # `gradcheck dense2 all`: no sample
        chosen = entries if every or len(entries) <= GRADCHECK_SAMPLE else \
            sample_entries(entries, clone.copy().eval(), type(session.loss)(), X, Y)
        rows = check_parameters(clone, session.loss, X, Y, chosen)
    return rows, len(entries)


def grad_rows_data(rows) -> list[dict]:
    return [{"parameter": r.parameter, "analytic": r.analytic, "numerical": r.numerical,
             "rel_error": r.rel_error, "kink": r.kink, "noise": r.noise, "verdict": r.verdict} for r in rows]
