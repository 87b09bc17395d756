"""The check vocabulary: the conditions a lesson step may name, each a function of the session state.

A check sees the session (its public state) and the commands the learner ran successfully since
the step began; it never changes either.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from inspector import expr as E
from inspector.commands import REGISTRY, lookup
from inspector.ops import op_matches
from inspector.session import Session

from .commands import LESSON_COMMANDS

COMMANDS = REGISTRY | LESSON_COMMANDS  # what a lesson's learner can run, and so what `ran` may name


@dataclass
class Context:
    session: Session
    ran: list[tuple[str, str]] = field(default_factory=list)   # (command name, its argument text)
    answers: list[str] = field(default_factory=list)             # what `answer` was given in this step
    start_iteration: int = 1


@dataclass(frozen=True)
class CheckKind:
    name: str
    usage: str
    help: str
    test: Callable[[Context, str], bool]


CHECKS: dict[str, CheckKind] = {}


def check(name: str, usage: str, help: str):
    def register(fn):
        CHECKS[name] = CheckKind(name, usage, help, fn)
        return fn
    return register


def normalize(text: str) -> str:
    return " ".join(text.replace(" ,", ",").replace(", ", ",").split())


@check("at", "at OP", "the debugger is stopped at an op matching OP (dense1.forward, dW2, update, 12)")
def at(ctx: Context, arg: str) -> bool:
    op = ctx.session.op
    return op is not None and op_matches(op, arg)


@check("reached", "reached OP", "an op matching OP has run in this iteration (or a later iteration began)")
def reached(ctx: Context, arg: str) -> bool:
    s = ctx.session
    if s.current.number > ctx.start_iteration:
        return True
    return any(op_matches(op, arg) for op in s.tape[:s.pos + 1])


@check("ran", "ran COMMAND [ARGUMENTS]", "the learner ran COMMAND successfully in this step, "
       "with arguments that start with ARGUMENTS")
def ran(ctx: Context, arg: str) -> bool:
    word, _, args = arg.partition(" ")
    cmd = lookup(word, COMMANDS)
    name = cmd.name if cmd else word
    want = normalize(args)
    return any(n == name and normalize(a).startswith(want) for n, a in ctx.ran)


@check("expr", "expr CONDITION", "a condition in the debugger's expression grammar holds at the current "
       "op, e.g. `expr W1[0,1] == 0.5` or `expr loss < 0.1`")
def holds(ctx: Context, arg: str) -> bool:
    try:
        _, value = ctx.session.evaluate(arg, allow_compare=True)
    except (E.ExprError, ValueError, TypeError, IndexError, KeyError):
        return False
    return bool(np.all(value))


@check("edited", "edited NAME", "an edit of NAME (W1, lr, X …) is in effect in the current iteration")
def edited(ctx: Context, arg: str) -> bool:
    return any(e.symbol == arg or e.target.startswith(arg) for e in ctx.session.current.edits)


@check("iteration", "iteration N", "the session is at iteration N or later")
def iteration(ctx: Context, arg: str) -> bool:
    return arg.isdigit() and ctx.session.current.number >= int(arg)


@check("advanced", "advanced N", "the session is at least N iterations past the one where this step began "
       "(`continue 50`, `train 50` and stepping all count)")
def advanced(ctx: Context, arg: str) -> bool:
    return arg.isdigit() and ctx.session.current.number - ctx.start_iteration >= int(arg)


@check("breakpoint", "breakpoint SPEC", "a breakpoint whose spec starts with SPEC exists")
def has_breakpoint(ctx: Context, arg: str) -> bool:
    want = normalize(arg)
    return any(normalize(b.spec).startswith(want) for b in ctx.session.breakpoints)


@check("hit", "hit SPEC", "a breakpoint whose spec starts with SPEC has stopped the debugger at least once "
       "(`hit nan`, `hit if dead(relu1)`)")
def hit(ctx: Context, arg: str) -> bool:
    want = normalize(arg)
    return any(b.hits > 0 and normalize(b.spec).startswith(want) for b in ctx.session.breakpoints)


@check("watching", "watching EXPR", "a watch on EXPR exists")
def watching(ctx: Context, arg: str) -> bool:
    want = normalize(arg)
    return any(normalize(w.text) == want for w in ctx.session.watches)


@check("answered", "answered TEXT", "the learner gave `answer TEXT` in this step (case and spaces ignored)")
def answered(ctx: Context, arg: str) -> bool:
    return normalize(arg).lower() in [normalize(a).lower() for a in ctx.answers]


def validate(name: str, arg: str) -> str | None:
    """A problem with a check's argument that can be seen without a session, or None."""
    if name in ("expr",):
        try:
            E.parse(arg, allow_compare=True)
        except E.ExprError as e:
            return f"check expr: {e}"
    if name == "ran" and lookup(arg.partition(" ")[0], COMMANDS) is None:
        return f"check ran: no command {arg.partition(' ')[0]!r}"
    if name in ("iteration", "advanced") and not arg.isdigit():
        return f"check {name}: expected a whole number, got {arg!r}"
    if not arg and name != "answered":
        return f"check {name}: needs an argument ({CHECKS[name].usage})"
    return None
