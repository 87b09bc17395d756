"""Breakpoint and watch commands: break, disable, enable, delete, watch, unwatch."""
from __future__ import annotations

import re

from ..session import Session
from .core import Result, UsageError, command
from .views import watch_data


def breakpoint_rows(s: Session) -> list[dict]:
    return [{"number": b.number, "spec": b.spec, "kind": b.kind, "enabled": b.enabled, "hits": b.hits}
            for b in s.breakpoints]


@command("break", aliases=("b",), usage="break [OP | if CONDITION]", args="break",
         summary="stop at ops (break dense2.backward, break update) or when a condition holds",
         help="""
Conditions are checked after each op that writes one of their arrays:
  break if nan                 any result of an op is NaN or infinite
  break if norm(dW1) > 10      exploding gradients
  break if dead(relu1) > 0.5   more than half of relu1's units output 0 for the whole batch
  break if loss > 2
With no argument, lists the breakpoints with their hit counts.""")
def do_break(s, arg, line="break"):
    if not arg.strip():
        return Result(line, True, "breakpoints", "", {"breakpoints": breakpoint_rows(s)})
    bp = s.breakpoints.add(s, arg)
    return Result(line, True, "breakpoints", f"breakpoint {bp.number}: {bp.spec}",
                  {"breakpoints": breakpoint_rows(s), "added": bp.number})


def _breakpoint_numbers(s: Session, cmd: str, arg: str) -> list[int]:
    arg = arg.strip()
    if arg == "all":
        return [b.number for b in s.breakpoints]
    if not re.fullmatch(r"\d+(\s+\d+)*", arg):
        raise UsageError(f"{cmd}: expected breakpoint numbers or `all`, got {arg!r}")
    numbers = [int(x) for x in arg.split()]
    for number in numbers:
        s.breakpoints.find(number)  # validate all before changing any
    return numbers


@command("disable", usage="disable N… | all", args="breaknum", summary="turn breakpoints off (kept in the list)")
def do_disable(s, arg, line="disable"):
    for number in _breakpoint_numbers(s, "disable", arg):
        s.breakpoints.find(number).enabled = False
    return Result(line, True, "breakpoints", "", {"breakpoints": breakpoint_rows(s)})


@command("enable", usage="enable N… | all", args="breaknum", summary="turn breakpoints back on")
def do_enable(s, arg, line="enable"):
    for number in _breakpoint_numbers(s, "enable", arg):
        s.breakpoints.find(number).enabled = True
    return Result(line, True, "breakpoints", "", {"breakpoints": breakpoint_rows(s)})


@command("delete", aliases=("clear", "cl"), usage="delete N… | all", args="breaknum",
         summary="remove breakpoints",
         help="""
`delete 2` removes breakpoint 2, `delete all` every one. `clear` is the same command under pdb's
name, and like pdb's `clear` with no argument it removes every breakpoint (it does not clear the
screen).""")
def do_delete(s, arg, line="delete"):
    if not arg.strip() and line.split()[0] in ("clear", "cl"):  # pdb: `clear` alone clears all breaks
        gone = [f"{b.number}: {b.spec}" for b in s.breakpoints]
        s.breakpoints.delete({b.number for b in s.breakpoints})
        message = (f"cleared {len(gone)} breakpoint{'s' if len(gone) != 1 else ''} ({'; '.join(gone)})" if gone
                   else "no breakpoints to clear (`clear` removes breakpoints, as in pdb; watches stay)")
        return Result(line, True, "breakpoints", message, {"breakpoints": breakpoint_rows(s)})
    numbers = set(_breakpoint_numbers(s, "delete", arg))
    s.breakpoints.delete(numbers)
    return Result(line, True, "breakpoints", f"deleted {len(numbers)}", {"breakpoints": breakpoint_rows(s)})


@command("watch", aliases=("wa",), usage="watch [EXPR]", args="expr",
         summary="show an expression after every step: watch norm(dW1), watch W1[0,1]")
def do_watch(s, arg, line="watch"):
    if arg.strip():
        w = s.watches.add(s, arg)
        message = f"watch {w.number}: {w.text}"
    else:
        message = ""
    return Result(line, True, "watches", message, {"watches": watch_data(s)})


@command("unwatch", usage="unwatch N… | all", args="watchnum", summary="remove watches")
def do_unwatch(s, arg, line="unwatch"):
    arg = arg.strip()
    have = {w.number for w in s.watches}
    if arg == "all":
        numbers = have
    elif re.fullmatch(r"\d+(\s+\d+)*", arg):
        numbers = {int(x) for x in arg.split()}
        missing = numbers - have
        if missing:
            raise UsageError(f"unwatch: no watch {min(missing)}; watches: {', '.join(map(str, sorted(have))) or 'none'}")
    else:
        raise UsageError(f"unwatch: expected watch numbers or `all`, got {arg!r}")
    s.watches.delete(numbers)
    return Result(line, True, "watches", "", {"watches": watch_data(s)})
