"""Long commands in the TUI run in a worker thread, so the screen stays live; q and Escape stop them.

Which commands: those declared with ``long`` (`train`, `continue N`, `step N` from LONG_STEPS ops,
a lesson's `check`). Stopping raises KeyboardInterrupt in the worker (as Ctrl-C does in the REPL); the
interpreter turns it into an error result and recomputes the iteration at the cursor, so the session
goes on. The child processes the command started (the checker's, one per function) are killed too:
the worker may be waiting on one, and an orphan must not keep running the learner's endless loop.
While one runs, other commands wait (the session is the worker's until it ends).
"""
from __future__ import annotations

import ctypes
import multiprocessing
import threading

from textual import work

from ..commands import Result, lookup
from ..commands.core import LONG_STEPS  # noqa: F401  (where `step N` starts to run in the worker)


def is_long(line: str, commands) -> bool:
    """Whether ``line`` may run for a while: what its command's declaration (``long``) says of its argument."""
    word, _, arg = line.strip().removeprefix(":").lstrip().partition(" ")
    cmd = lookup(word, commands)
    return cmd is not None and cmd.long is not None and cmd.long(arg)


def kill_children(before: set[int]) -> list:
    """Kill this process's multiprocessing children whose pids are not in ``before``; returns them."""
    killed = [child for child in multiprocessing.active_children() if child.pid not in before]
    for child in killed:
        child.kill()
    return killed


def _raise_in(thread_id: int, exc) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc else None)


class LongWork:
    """Mixed into NndbApp: ``start_long(line)``, ``interrupt_long()``, and ``busy`` while one runs."""

    busy = False
    _long_thread: int | None = None
    _long_lock = threading.Lock()
    _children_before: set[int] = set()  # the child processes that were there before the long command

    def start_long(self, line: str) -> None:
        self.busy = True
        self._children_before = {p.pid for p in multiprocessing.active_children()}
        self.notify("running… Esc or q stops it", timeout=3)
        self.long_worker(line)

    def interrupt_long(self) -> None:
        with self._long_lock:
            if self._long_thread is not None:
                _raise_in(self._long_thread, KeyboardInterrupt)
                kill_children(self._children_before)  # a worker waiting on a child wakes up now

    @work(thread=True, exclusive=True, group="long")
    def long_worker(self, line: str) -> None:
        me = threading.get_ident()
        try:
            with self._long_lock:
                self._long_thread = me
            try:
                result = self.interp.run(line)
            finally:
                with self._long_lock:
                    self._long_thread = None
                    _raise_in(me, None)  # an interrupt that came too late is dropped
        except KeyboardInterrupt:  # one that landed outside the command itself
            self._long_thread = None
            result = Result(line, False, "error", "interrupted")
        for child in kill_children(self._children_before):  # one started after Escape's kill: none outlives it
            child.join(1.0)
        self.call_from_thread(self.long_done, result)

    def long_done(self, result: Result) -> None:
        self.busy = False
        self.show_result(result, quiet_steps=False)
