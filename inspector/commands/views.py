"""Views of the session that several commands return: an array, the op at the cursor, the watches."""
from __future__ import annotations

import numpy as np

from ..ops import is_timestep, timestep_view
from ..render import gradient_of
from ..session import Session, StepReport
from .core import Result


def array_data(name: str, value) -> dict:
    a = np.asarray(value)
    return {"name": name, "shape": list(a.shape), "gradient": gradient_of(name) is not None,
            "values": a}


def op_data(session: Session) -> dict:
    op = session.op
    where = session.where()
    if op is None:
        nxt = session.tape[0]
        return {"where": where, "op": None, "next": {"index": 0, "name": nxt.name, "equation": nxt.equation}}
    edits = session.current.edited.get(op.index, {})
    return {"where": where,
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
