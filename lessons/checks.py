"""The check vocabulary: the conditions a lesson step may name, each a function of the session state.

A check sees the session (its public state) and the commands the learner ran successfully since
the step began; it never changes either.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from inspector import expr as E
from inspector.commands import REGISTRY, lookup
from inspector.ops import op_matches
from inspector.session import Session

from .commands import LESSON_COMMANDS
from .exercises import EXERCISES

COMMANDS = REGISTRY | LESSON_COMMANDS  # what a lesson's learner can run, and so what `ran` may name


@dataclass
class Context:
    session: Session
    ran: list[tuple[str, str]] = field(default_factory=list)   # (command name, its argument text)
    answers: list[str] = field(default_factory=list)             # what `answer` was given in this step
    start_iteration: int = 1
    results: list[tuple[str, dict]] = field(default_factory=list)  # (result kind, its data) of those commands


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


# -- measured figures: what the learner's latest `cost` and `cost --loop` of this step found ------------------
FIGURE = re.compile(r"cost_batch|flops|backward_forward|launching|gpu_speedup|loop_(batch|calls|matrix|examples|pairs)"
                    r"|(flops|share|intensity)_\w+")


def is_figure(text: str) -> bool:
    """Whether an expression names measured figures only (``loop_pairs``, ``flops_Z1 / flops_Z2``)."""
    try:
        names = E.names_in(E.parse(text, allow_compare=True))
    except E.ExprError:
        return False
    return bool(names) and all(FIGURE.fullmatch(n) for n in names)


def figures(ctx: Context) -> dict[str, float]:
    """The figures of the latest `cost` (kind cost) and `cost --loop` (kind vectorize) run in this step.

    From `cost`: ``cost_batch``, ``flops`` (the iteration's), ``backward_forward`` (the FLOPs ratio),
    ``launching`` and ``gpu_speedup`` (the GPU table's last card: its estimated time's share spent
    launching kernels, and this CPU's time over its estimate); per op, by the array it writes,
    ``flops_Z1`` and ``intensity_Z1`` (FLOPs per byte); per layer ``flops_dense1`` and
    ``share_dense1`` (its ops' share of the iteration's time). From `cost --loop`: ``loop_batch``,
    ``loop_calls`` (the pair loop's dot products), ``loop_examples`` and ``loop_pairs`` (× the
    matrix product's time).
    """
    out: dict[str, float] = {}
    cost = next((data for kind, data in reversed(ctx.results) if kind == "cost"), None)
    loop = next((data for kind, data in reversed(ctx.results) if kind == "vectorize"), None)
    if cost:
        out.update(cost_batch=cost["batch"], flops=cost["totals"]["iteration"]["flops"],
                   backward_forward=cost["backward_forward"]["flops"])
        if cost["gpu"]:
            out.update(launching=cost["gpu"][-1]["launch_share"], gpu_speedup=cost["gpu"][-1]["speedup"])
        for op in cost["ops"]:
            array = op["name"].rsplit(".", 1)[-1]
            out[f"flops_{array}"], out[f"intensity_{array}"] = op["flops"], op["intensity"]
            out[f"flops_{op['layer']}"] = out.get(f"flops_{op['layer']}", 0) + op["flops"]
            out[f"share_{op['layer']}"] = out.get(f"share_{op['layer']}", 0.0) + op["share"]
    if loop:
        out.update(loop_batch=loop["batch"])
        for form in loop["forms"]:
            out[f"loop_{form['form']}"] = form["vs_matrix"]
            if form["form"] == "pairs":
                out["loop_calls"] = form["calls"]
    return out


def figure_value(ctx: Context, text: str):
    """An expression over the step's measured figures; raises ExprError when one is not measured yet."""
    known = figures(ctx)

    def resolve(name: str):
        if name not in known:
            raise E.ExprError(f"{name} is not measured in this step yet")
        return float(known[name])
    return E.evaluate(E.parse(text, allow_compare=True), resolve)


@check("measured", "measured CONDITION", "a condition on what the learner's latest `cost` or `cost --loop` of "
       "this step measured, e.g. `measured cost_batch == 1024` or `measured loop_pairs > 1`")
def measured(ctx: Context, arg: str) -> bool:
    try:
        return bool(np.all(figure_value(ctx, arg)))
    except (E.ExprError, ValueError, TypeError, ZeroDivisionError):
        return False


@check("passed", "passed ID", "a `check` run in this step found every function of exercise ID passing")
def passed(ctx: Context, arg: str) -> bool:
    wanted = set(EXERCISES[arg].functions) if arg in EXERCISES else None
    if not wanted:
        return False
    return any(wanted <= {r.get("function") for r in data.get("functions", ())
                          if r.get("exercise") == arg and r.get("status") == "pass"}
               for kind, data in ctx.results if kind == "check")


def validate(name: str, arg: str) -> str | None:
    """A problem with a check's argument that can be seen without a session, or None."""
    if name == "measured" and arg and not is_figure(arg):
        return f"check measured: {arg!r} names something other than a measured figure (cost_batch, loop_pairs, " \
               f"flops_Z1, …; see docs/lessons.md)"
    if name in ("expr",):
        try:
            E.parse(arg, allow_compare=True)
        except E.ExprError as e:
            return f"check expr: {e}"
    if name == "ran" and lookup(arg.partition(" ")[0], COMMANDS) is None:
        return f"check ran: no command {arg.partition(' ')[0]!r}"
    if name == "passed" and arg not in EXERCISES:
        return f"check passed: no exercise {arg[:40]!r}; the exercises are {', '.join(EXERCISES)}"
    if name in ("iteration", "advanced") and not re.fullmatch(r"[0-9]{1,9}", arg, re.ASCII):
        return f"check {name}: expected a whole number (at most 9 digits), got {arg[:40]!r}"
    if not arg:
        return f"check {name}: needs an argument ({CHECKS[name].usage})"
    return None
