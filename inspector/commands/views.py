"""Views of the session that several commands return: an array, the op at the cursor, the watches."""
from __future__ import annotations

import numpy as np

from ..ops import is_timestep, timestep_view
from ..render import first_disagreement, gradient_of
from ..session import Session, StepReport
from .core import Result


def array_data(name: str, value) -> dict:
    a = np.asarray(value)
    return {"name": name, "shape": list(a.shape), "gradient": gradient_of(name) is not None,
            "values": a}


def agreement_data(session: Session) -> dict:
    """Where ops are checked against a reference (--use FILE): the current op's ``agreement`` and the
    iteration's ``first_disagreement`` (None when all agree); nothing for the engine's own ops."""
    if not any(op.expected for op in session.tape):
        return {}
    op = session.op
    return {"agreement": op.agreement() if op is not None else None,
            "first_disagreement": first_disagreement(session.tape)}


def op_data(session: Session) -> dict:
    op = session.op
    where = session.where()
    if op is None:
        nxt = session.tape[0]
        return {"where": where, "op": None, "next": {"index": 0, "name": nxt.name, "equation": nxt.equation},
                **agreement_data(session)}
    edits = session.current.edited.get(op.index, {})
    return {**agreement_data(session), "where": where,
            "op": {"index": op.index, "name": op.name, "phase": op.phase, "layer": op.layer, "kind": op.kind,
                   "roles": dict(op.roles),
                   "equation": op.equation, "attrs": dict(op.attrs),
                   "inputs": [array_data(k, v) for k, v in op.inputs.items()],
                   "outputs": [array_data(k, v) for k, v in op.outputs.items()],
                   "edited_after": sorted(edits)}}


def watch_data(session: Session) -> list[dict]:
    return [{"number": w.number, "expr": w.text, "value": value, "error": error}
            for w, value, error in session.watches.values(session)]


def stepped(session: Session, line: str, report: StepReport) -> Result:
    data = op_data(session)
    data["notes"] = report.notes
    data["reason"] = report.reason
    data["watches"] = watch_data(session)
    if session.op is not None and is_timestep(session.op):  # an RNN step: the norms through time so far
        data["timesteps"] = timestep_view(session)
    message = report.reason or ""
    return Result(line, True, "op", message, data)


def rows_text(rows) -> str:
    """Example numbers as `batch` takes them: ``0:4`` for a run, else ``3,5,7``."""
    rows = [int(r) for r in rows]
    if rows and rows == list(range(rows[0], rows[-1] + 1)):
        return f"{rows[0]}:{rows[-1] + 1}"
    return ",".join(map(str, rows))


def batch_note(session: Session) -> str:
    """Which examples this iteration uses, since when, and how to move on: stepping repeats one batch."""
    s = session
    k, n, now = len(s.batch), len(s.problem.X), s.current.number
    since = min(getattr(s, "batch_from", 1), now)
    head = f"iteration {now} uses examples {rows_text(s.batch)} ({k} of {n})"
    if since < now:
        head += (f", the same batch as every iteration since {since}: repeating it, the loss can fall by "
                 f"memorising these {k}")
    else:
        head += "; step and continue repeat this batch every iteration"
    return head + f"; `batch next` moves to the next {k}, `train N` trains on minibatches of all {n}"
