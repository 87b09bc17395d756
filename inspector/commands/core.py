"""The command language's core: Result, the one registry, and the Interpreter that runs lines.

A command returns a Result (ok, kind, message, data); front ends render it by kind, and the
scripted mode prints it as JSON. An error never changes the session. A wrapper (a lesson) may
add Feedback items to a result; each has a kind, so front ends render it without reading its text.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from engine import EngineError

from .. import expr as E
from ..errors import SessionError
from ..session import Session

# What a feedback line is: asks for a prediction, a prediction or answer right or wrong, a step
# or the whole lesson done, the debugger restarted for a step, a note, or the next step's text.
FEEDBACK_KINDS = ("ask", "pass", "fail", "step", "done", "restart", "info", "text")


@dataclass(frozen=True)
class Feedback:
    """One line a wrapper (a lesson) adds to a command's result."""

    kind: str
    text: str

    def __post_init__(self):
        if self.kind not in FEEDBACK_KINDS:
            raise ValueError(f"feedback kind {self.kind!r} is not one of {', '.join(FEEDBACK_KINDS)}")


@dataclass
class Result:
    """What one command line produced."""

    command: str
    ok: bool
    kind: str
    message: str = ""
    data: dict = field(default_factory=dict)
    feedback: list[Feedback] = field(default_factory=list)  # what a wrapper adds (a lesson's verdicts)

    @property
    def extra(self) -> list[str]:
        """The feedback's text, line by line."""
        return [f.text for f in self.feedback]

    def to_json(self) -> dict:
        out = {"command": self.command, "ok": self.ok, "kind": self.kind, "message": self.message,
               "data": jsonable(self.data)}
        if self.feedback:
            out["extra"] = self.extra
            out["feedback"] = [{"kind": f.kind, "text": f.text} for f in self.feedback]
        return out


def jsonable(x):
    """Arrays as nested lists; numpy scalars as Python numbers; NaN/inf as strings (valid JSON)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if np.isfinite(x) else str(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    return x


@dataclass(frozen=True)
class Command:
    name: str
    aliases: tuple[str, ...]
    usage: str
    summary: str
    help: str
    args: str               # what completion offers after the name: none, count, op, expr, …
    repeat: bool            # an empty line repeats it (stepping commands, as in pdb)
    run: Callable[..., Result]  # run(session, arg, line, **what it takes from the interpreter)
    takes: tuple[str, ...] = ()  # from the interpreter: "progress" (a train's callback), "commands" (its table)
    long: Callable[[str], bool] | None = None  # given the argument: whether it may run a while (a TUI worker runs it)
    # what its argument may be, for completion: words, or a function giving them now (a lesson step's options)
    choices: tuple[str, ...] | Callable[[], Sequence[str]] = ()


REGISTRY: dict[str, Command] = {}
ALIASES: dict[str, str] = {}


def command(name: str, *, usage: str, summary: str, help: str = "", aliases: tuple[str, ...] = (),
            args: str = "none", repeat: bool = False, takes: tuple[str, ...] = (),
            long: Callable[[str], bool] | None = None, choices: tuple[str, ...] | Callable[[], Sequence[str]] = (),
            registry: dict[str, Command] | None = None):
    """Declare a command: in the debugger's REGISTRY, or in ``registry`` (a lesson's own table).
    ``long(arg)`` says whether the command may run a while with that argument (``always_long``,
    ``count_from(N)``): the TUI runs it in a worker, which Escape stops. ``choices``: the words its
    argument may be (completion offers them), or a function that gives them when asked."""
    def register(fn):
        table = REGISTRY if registry is None else registry
        table[name] = Command(name, aliases, usage, summary, help.strip(), args, repeat, fn, takes, long,
                              choices)
        if table is REGISTRY:
            for alias in (name, *aliases):
                ALIASES[alias] = name
        return fn
    return register


def aliases_of(commands: dict[str, Command] | None = None) -> dict[str, str]:
    """Every word that names a command of ``commands`` (REGISTRY by default) → the command's name."""
    if commands is None or commands is REGISTRY:
        return ALIASES
    return {alias: c.name for c in commands.values() for alias in (c.name, *c.aliases)}


def lookup(word: str, commands: dict[str, Command] | None = None) -> Command | None:
    """The command ``word`` names (a name or an alias) in ``commands`` (REGISTRY by default)."""
    table = REGISTRY if commands is None else commands
    name = aliases_of(commands).get(word)
    return table[name] if name else None


def always_long(arg: str) -> bool:
    """A ``long`` test: the command may run a while whatever its argument (`train`, `check`)."""
    return True


def count_from(least: int):
    """A ``long`` test: the command may run a while when its argument is a count of at least ``least``."""
    def long(arg: str) -> bool:
        text = arg.strip()
        return text.isdigit() and len(text) < 13 and int(text) >= least
    return long


MAX_ITERATIONS = 1_000_000
LONG_STEPS = 1000  # `step N`/`back N` from this many ops may run a while
MAX_STEPS = 100_000  # ops one `step N`/`back N` moves: each crossing of an iteration's end runs it traced


class UsageError(SessionError):
    """Arguments that do not fit the command's usage line."""


def count_arg(cmd: str, text: str, default: int = 1, limit: int | None = None, hint: str = "") -> int:
    """A count ≥ 1, at most ``limit`` (MAX_ITERATIONS by default): a command's cost is bounded."""
    text = text.strip()
    if not text:
        return default
    if not re.fullmatch(r"\d+", text):
        raise UsageError(f"{cmd}: expected a count (a whole number ≥ 1), got {text[:40]!r}")
    limit = MAX_ITERATIONS if limit is None else limit
    if len(text) > 12 or int(text) > limit:
        raise UsageError(f"{cmd}: {text[:20]}{'…' if len(text) > 20 else ''} is more than this debugger runs at once "
                         f"(at most {limit:,}){hint}")
    value = int(text)
    if value < 1:
        raise UsageError(f"{cmd}: the count must be ≥ 1, got {value}")
    return value


def no_args(cmd: str, arg: str) -> None:
    if arg.strip():
        raise UsageError(f"{cmd}: takes no arguments, got {arg.strip()!r} (usage: {REGISTRY[cmd].usage})")


# -- the interpreter -------------------------------------------------------------------------------
class Interpreter:
    """Runs command lines against a session: errors become results; an empty line repeats.

    ``commands``: the table to run from, REGISTRY by default; a lesson passes
    ``REGISTRY | lesson_commands(runner)``.
    """

    def __init__(self, session: Session, commands: dict[str, Command] | None = None):
        self.session = session
        self.command_table = REGISTRY if commands is None else dict(commands)
        self.last: str | None = None
        self.diverged_at: int | None = None  # the iteration whose non-finite loss was reported (once)

    def lookup(self, word: str) -> Command | None:
        return lookup(word, self.command_table)

    def run(self, line: str, progress=None) -> Result:
        text = line.strip().removeprefix(":").lstrip()  # ":step", typed from habit (vim, the TUI's ':' key)
        if not text:
            if self.last is None:
                return Result("", True, "empty")
            text = self.last
        word, _, arg = text.partition(" ")
        cmd = self.lookup(word)
        if cmd is None:
            hint = close_commands(word, self.command_table)
            return Result(text, False, "error", f"unknown command {word!r}" +
                          (f"; did you mean {hint}?" if hint else "; `help` lists the commands"))
        context = {"progress": progress, "commands": self.command_table}
        try:
            with np.errstate(all="ignore"):  # a diverging network: one note below, not NumPy's warnings
                result = cmd.run(self.session, arg, text, **{k: context[k] for k in cmd.takes})
        except (SessionError, E.ExprError, EngineError) as e:
            return Result(text, False, "error", str(e), {"usage": cmd.usage})
        except (KeyError, IndexError, ValueError, TypeError, ArithmeticError) as e:  # a gap in validation: still no crash
            return Result(text, False, "error", f"{cmd.name}: {e.args[0] if e.args else e}", {"usage": cmd.usage})
        except OSError as e:  # a file command's path: too long, a folder, no permission
            return Result(text, False, "error", f"{cmd.name}: {e.strerror or e}", {"usage": cmd.usage})
        except (MemoryError, RecursionError) as e:
            return Result(text, False, "error", f"{cmd.name}: too large to compute here ({type(e).__name__}); "
                          f"nothing was changed", {"usage": cmd.usage})
        except KeyboardInterrupt:  # Ctrl-C: stop the command, keep the session
            where = self.recover()
            return Result(text, False, "error", f"{cmd.name}: interrupted (Ctrl-C); the session goes on {where}",
                          {"usage": cmd.usage, "interrupted": True})
        if cmd.repeat:
            self.last = text  # an empty line repeats the last stepping command, even after a print
        self.note_divergence(result)
        return result

    def recover(self) -> str:
        """After an interrupted command: the iteration at the cursor recomputed from its snapshot,
        so what the session shows is again what the code computes. Says where the cursor is."""
        s = self.session
        try:
            s.run(s.current)
            s.pos = min(s.pos, len(s.tape) - 1)
            return f"at op {s.pos} of iteration {s.current.number}" if s.pos >= 0 else \
                f"at the start of iteration {s.current.number}"
        except (Exception, KeyboardInterrupt):  # a second Ctrl-C while recovering: no traceback either
            return "where it stopped"

    def note_divergence(self, result: Result) -> None:
        """The first iteration whose loss is inf or nan, said once in ``data["diverged"]``."""
        s = self.session
        with np.errstate(all="ignore"):
            first = next(((n, L) for n, L in getattr(s, "losses", []) if not np.isfinite(L)), None)
            if first is None and hasattr(s, "where"):
                L = s.where()["loss"]
                first = None if L is None or np.isfinite(L) else (s.current.number, L)
        if first is None:
            self.diverged_at = None  # (after a reset) a later divergence is news again
            return
        if first[0] == self.diverged_at or not isinstance(result.data, dict):
            return
        self.diverged_at = first[0]
        lr = s.get_hyper("lr") if "lr" in s.hyper_names() else None
        rate = f" (lr = {lr:g})" if lr is not None else ""
        result.data["diverged"] = (
            f"loss became {'nan' if np.isnan(first[1]) else 'inf'} at iteration {first[0]}: the learning rate{rate} "
            f"is too large for this network (or an edit made the weights too large), so the updates grew "
            f"the weights until the numbers overflowed; every value after it is inf or nan. `reset` starts "
            f"over with the preset's learning rate; `set lr = …` a smaller one first to try again")


def close_commands(word: str, commands: dict[str, Command] | None = None) -> str:
    aliases = aliases_of(commands)
    matches = difflib.get_close_matches(word, list(aliases), n=3, cutoff=0.6)
    names = []
    for m in matches:
        if aliases[m] not in names:
            names.append(aliases[m])
    return " or ".join(f"`{n}`" for n in names)
