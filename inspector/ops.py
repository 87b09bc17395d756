"""Questions about the ops of a recorded tape, asked by stepping, breakpoints, the listing and the lessons:
which ops a pattern names, which are one timestep of a recurrent layer, and the norms through time so far."""
from __future__ import annotations

import fnmatch

import numpy as np

from engine import Op


def is_timestep(op: Op) -> bool:
    """Whether ``op`` is one timestep of a recurrent layer (``Op.t``; Adam's attr ``t`` counts updates)."""
    return op.t is not None


def op_matches(op: Op, pattern: str) -> bool:
    """``dense2.backward``, ``dense2``, ``update``, ``dW2``, ``dense*.forward`` or a full op name."""
    candidates = (op.name, f"{op.layer}.{op.phase}", op.layer, op.phase, op.result)
    return any(fnmatch.fnmatchcase(c, pattern) for c in candidates)


def timestep_view(session) -> dict | None:
    """The per-timestep norms of the recurrent layer at (or next after) the session's cursor, so far.

    ``{"layer", "T", "t", "forward": [(t, ‖h_t‖)…], "backward": [(t, ‖dh_t‖)…], "symbols":
    {"forward": "h1", "backward": "dh1"}}`` in the order the ops ran, up to the cursor; None for a
    model without per-step ops. The REPL's `timestep` and the TUI's Time tab show it.
    """
    here = session.op
    stepped_ops = [op for op in session.tape if is_timestep(op)]
    if not stepped_ops:
        return None
    layer = here.layer if here is not None and is_timestep(here) else next(
        (op.layer for op in stepped_ops if op.index > session.pos), stepped_ops[-1].layer)
    view = {"layer": layer, "t": here.attrs["t"] if here is not None and here.layer == layer
            and is_timestep(here) else None, "forward": [], "backward": [], "symbols": {}}
    values = session.values_at()  # edits included
    for op in stepped_ops:
        if op.layer == layer and op.index <= session.pos:
            name = next(iter(op.outputs))  # h1_t, or dh1_t
            state = values[name]
            view["symbols"][op.phase] = name.rsplit("_", 1)[0]
            view[op.phase].append((op.attrs["t"], float(np.linalg.norm(state))))
    view["T"] = sum(1 for op in stepped_ops if op.layer == layer and op.phase == "forward")
    return view
