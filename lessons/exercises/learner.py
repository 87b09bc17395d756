"""The learner's functions as `--use` runs them: each call time-limited, form-checked and compared with the engine's ops.

``Learner.run`` is where one of their functions runs in place of a layer's, loss's or optimizer's
own code (the wrappers in use.py and use_rnn.py call it): the engine's code runs on the same
inputs on a capturing tracer, its ops are passed on with the learner's values as outputs and the
engine's in ``op.expected``.
"""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager, nullcontext, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from engine.errors import EngineError
from engine.trace import Tracer

from .checker import TIME_LIMIT, Failure, TimeLimit, as_output, check_form, exception_failure
from .reference import FUNCTIONS


class LearnerError(EngineError):
    """A learner's function failed where nothing can stand in for it (`nndb train`)."""


class LearnerFailure(Exception):
    """One call of a learner's function failed; ``message`` says how and where."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Capture(Tracer):
    """Keeps the ops the engine's code reports, uncopied, to be passed on with the learner's values."""

    enabled = True

    def __init__(self):
        self.ops = []

    def record(self, op) -> None:
        self.ops.append(op)


@contextmanager
def time_limit(seconds: float):
    """SIGALRM stops an endless loop in the learner's code where it is (main thread only: a TUI
    worker thread is stopped by Escape instead, which raises KeyboardInterrupt in it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise TimeLimit()
    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def printing(quiet: bool):
    """Where the learner's prints go: stdout, or stderr when stdout carries JSON."""
    return redirect_stdout(sys.stderr) if quiet else nullcontext()


def template(shape):
    """What check_form compares a value's form with when the engine's value was not computed."""
    return 0.0 if shape == () else np.broadcast_to(np.float64(0.0), shape)


@dataclass
class Learner:
    """The learner's functions, and how their calls are checked.

    ``strict``: a failure raises LearnerError (`nndb train`) instead of letting the engine's value
    stand in. ``compare_when()``: whether an untraced call is also compared (traced ones always
    are). ``disabled``: functions that ran over the time limit or were interrupted, by message:
    the engine's code stands in for them from then on, so a stuck function costs its time once.
    """

    path: Path
    functions: dict[str, Callable]
    not_written: list[str]
    limit: float = TIME_LIMIT
    strict: bool = False
    compare_when: Callable[[], bool] = lambda: False
    disabled: dict[str, str] = field(default_factory=dict)
    on_compared: Callable | None = None  # called with the ops of an untraced compared call
    quiet: bool = False  # their prints go to stderr (--json: stdout carries JSON only)

    def __deepcopy__(self, memo):
        return self  # a model's copy (the cost view, model_at_cursor) runs the same learner's code

    def has(self, name: str) -> bool:
        return name in self.functions

    def failure(self, exc: BaseException, name: str) -> str:
        message = exception_failure(exc, self.path, name, None, self.limit).fields["message"]
        return f"your {name}: " + message.removesuffix(" while loading the file")

    def call(self, name: str, args: tuple, forms: dict) -> dict:
        """The learner's ``name(*args)`` by output name, each output checked for form against ``forms``."""
        if name in self.disabled:
            raise LearnerFailure(self.disabled[name])
        try:
            with time_limit(self.limit), printing(self.quiet):
                got = self.functions[name](*args)
        except TimeLimit as e:
            self.disabled[name] = self.failure(e, name) + "; nndb's code stands in for it from now on"
            raise LearnerFailure(self.disabled[name]) from None
        except KeyboardInterrupt as e:  # Escape in the TUI, Ctrl-C in the REPL: maybe an endless loop
            self.disabled[name] = (self.failure(e, name).replace("KeyboardInterrupt", "interrupted", 1)
                                   + "; nndb's code stands in for it from now on")
            raise
        except (Exception, SystemExit) as e:  # the learner's code: anything may come out of it
            raise LearnerFailure(self.failure(e, name)) from None
        spec = FUNCTIONS[name]
        try:
            values = as_output(spec, got)
            return {out: check_form(out, values[out], forms[out]) for out in spec.outputs}
        except Failure as f:
            hint = f"; {f.fields['hint']}" if f.fields.get("hint") else ""
            raise LearnerFailure(f"your {name}: {f.fields['message']}{hint} ({self.path.name})") from None

    def run(self, owner, name: str, args: tuple, engine: Callable[[], dict], symbols: dict[str, str],
            shapes: dict, adjust: Callable[[dict], dict] | None = None) -> dict:
        """One call of the learner's ``name`` where ``owner`` (a layer, loss or optimizer) would run its own code.

        ``engine()`` runs the engine's code and returns its values by output name; ``symbols`` names
        each output's symbol in the ops; ``shapes`` each output's shape (``()``: a number), for the
        form check of a call not compared; ``adjust`` completes the learner's values (the L2 term).
        Returns the values the iteration goes on with: the learner's, or the engine's where theirs failed.
        """
        live = owner.tracer
        compare = live.enabled or self.compare_when()
        expected, ops = None, []
        if compare:
            capture = Capture()
            owner.tracer = capture
            try:
                expected = engine()
            finally:
                owner.tracer = live
            ops = capture.ops
            args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)  # theirs may write into them
        forms = {k: expected[k] if expected and expected.get(k) is not None else template(shapes[k]) for k in shapes}
        mismatch = ""
        try:
            got = self.call(name, args, forms)
            if adjust is not None:
                got = adjust(got)
        except LearnerFailure as f:
            if self.strict:
                raise LearnerError(f.message) from None
            if expected is None:
                expected = engine()  # untraced: nothing is reported
            got, mismatch = dict(expected), f.message
        if compare:
            mine = {symbols[k]: v for k, v in got.items() if k in symbols}
            for op in ops:
                ours = [s for s in op.outputs if s in mine]
                if ours:
                    op.outputs = {s: (mine[s] if isinstance(mine[s], np.ndarray) else np.asarray(mine[s]))
                                  if s in mine else a for s, a in op.outputs.items()}
                    op.expected = {s: np.asarray(expected[k]) for k, s in symbols.items() if s in ours}
                    op.mismatch = mismatch
                if live.enabled:
                    live.record(op)
            if not live.enabled and self.on_compared is not None:
                self.on_compared(ops)
        return got


NO_LEARNER = Learner(Path(), {}, [])
