"""Stepping commands: they move the session's cursor (step, next, finish, continue, back, until, goto,
timestep) or show where it is (where, show, list)."""
from __future__ import annotations

import re

from ..ops import op_matches
from ..session import Session
from .core import LONG_STEPS, MAX_STEPS, Result, UsageError, command, count_arg, count_from, no_args
from .views import agreement_data, batch_note, op_data, stepped, watch_data


@command("step", aliases=("s",), usage="step [N]", args="count", repeat=True, long=count_from(LONG_STEPS),
         summary="run the next op (or the next N), into the next iteration after the last one")
def do_step(s: Session, arg: str, line: str = "step") -> Result:
    return stepped(s, line, s.step(count_arg("step", arg, limit=MAX_STEPS, hint="; `continue N` or `train N` go further")))


@command("next", aliases=("n",), usage="next", repeat=True,
         summary="run to the first op of the next layer")
def do_next(s, arg, line="next"):
    no_args("next", arg)
    return stepped(s, line, s.next())


@command("finish", aliases=("fin", "r"), usage="finish", repeat=True,
         summary="run to the end of the current phase (forward, loss, backward, update)")
def do_finish(s, arg, line="finish"):
    no_args("finish", arg)
    return stepped(s, line, s.finish())


@command("continue", aliases=("c", "cont"), usage="continue [N]", args="count", repeat=True, long=count_from(2),
         summary="run to the next breakpoint, else to the end of the iteration (of the N-th with a count)",
         help="""
With a count, `continue 500` runs up to 500 iterations and stops at the first breakpoint hit,
showing that op. Without breakpoints the iterations in between run at engine speed.""")
def do_continue(s, arg, line="continue"):
    count = count_arg("continue", arg, hint="; `train` is the faster way to go far")
    result = stepped(s, line, s.continue_(count))
    if count > 1:  # many iterations on one batch: say so, and how to move on
        result.data["batch_note"] = batch_note(s)
    return result


@command("back", aliases=("bk",), usage="back [N]", args="count", repeat=True, long=count_from(LONG_STEPS),
         summary="step back one op (or N): time travel; edits stepped back past are undone",
         help="""
Back from the start of an iteration goes to the last op of the previous one, as long as the
history (the last 100 iterations) allows.""")
def do_back(s, arg, line="back"):
    return stepped(s, line, s.back(count_arg("back", arg, limit=MAX_STEPS)))


@command("until", aliases=("unt",), usage="until OP", args="op", repeat=False,
         summary="run forward to the next op matching OP (dense2.backward, update, dW1, 12)")
def do_until(s, arg, line="until"):
    if not arg.strip():
        raise UsageError("until: name an op, e.g. `until dense2.backward` or `until update`")
    return stepped(s, line, s.until(arg.strip()))


@command("goto", aliases=("j", "jump"), usage="goto OP", args="op",
         summary="jump to an op of this iteration, forward or back (an index, a name, or start)")
def do_goto(s, arg, line="goto"):
    if not arg.strip():
        raise UsageError("goto: name an op, e.g. `goto 5`, `goto dense1.backward` or `goto start`")
    return stepped(s, line, s.goto(arg.strip()))


@command("timestep", aliases=("ts",), usage="timestep [T]", args="none", repeat=True,
         summary="step by timestep through an RNN: the next one in this phase, or timestep T",
         help="""
In an RNN's forward ops (h1_0, h1_1, …) the next timestep is t+1; in backpropagation through
time (dh1_7, dh1_6, …) it is t−1. `timestep 3` jumps to timestep 3 of the phase at the cursor
(or of the next recurrent phase ahead). Each stop shows ‖h_t‖ or ‖dh_t‖ of every timestep run
so far, on a log scale, so a gradient vanishing through time can be seen.""")
def do_timestep(s, arg, line="timestep"):
    text = arg.strip()
    if text and not re.fullmatch(r"\d+", text):
        raise UsageError(f"timestep: expected a timestep (a whole number ≥ 0), got {text!r}")
    return stepped(s, line, s.timestep(int(text) if text else None))


@command("where", aliases=("w",), usage="where", summary="iteration, phase, op and loss so far")
def do_where(s, arg, line="where"):
    no_args("where", arg)
    w = s.where()
    w["batch_note"] = batch_note(s)
    w.update(agreement_data(s))
    return Result(line, True, "where", "", w)


@command("show", aliases=("sh",), usage="show",
         summary="the current op again: equation, every operand and result with names and shapes")
def do_show(s, arg, line="show"):
    no_args("show", arg)
    data = op_data(s)
    data["watches"] = watch_data(s)
    data["full"] = True
    return Result(line, True, "op", "", data)


@command("list", aliases=("l", "ll"), usage="list",
         summary="the ops of this iteration as a program listing, the current one marked")
def do_list(s, arg, line="list"):
    no_args("list", arg)
    marks = {bp.spec for bp in s.breakpoints if bp.enabled and bp.kind == "op"}
    ops = [{"index": op.index, "name": op.name, "phase": op.phase, "layer": op.layer, "equation": op.equation,
            "current": op.index == s.pos,
            "breakpoint": any(op_matches(op, spec) for spec in marks),
            **({"agrees": a["agrees"]} if (a := op.agreement()) is not None else {})} for op in s.tape]
    first = agreement_data(s)
    extra = {"first_disagreement": first["first_disagreement"]} if first else {}
    return Result(line, True, "list", "", {"where": s.where(), "ops": ops, **extra})
