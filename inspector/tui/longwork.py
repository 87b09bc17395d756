"""Long commands in the TUI run in a worker thread, so the screen stays live; q and Escape stop them.

Stopping raises KeyboardInterrupt in the worker (as Ctrl-C does in the REPL); the interpreter turns
it into an error result and recomputes the iteration at the cursor, so the session goes on.
While one runs, other commands wait (the session is the worker's until it ends).
"""
from __future__ import annotations

import ctypes
import threading

from textual import work

from ..commands import Result, lookup

LONG_STEPS = 1000  # `step N`/`back N` from this many ops on run in the worker


def is_long(line: str, commands) -> bool:
    """Whether ``line`` may run for a while: `train`, `continue N`, `step N`/`back N` with a large N."""
    word, _, arg = line.strip().removeprefix(":").lstrip().partition(" ")
    cmd = lookup(word, commands)
    if cmd is None:
        return False
    text = arg.strip()
    count = int(text) if text.isdigit() and len(text) < 13 else 0
    return (cmd.name == "train" or (cmd.name == "continue" and count > 1)
            or (cmd.name in ("step", "back") and count >= LONG_STEPS))


def _raise_in(thread_id: int, exc) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc else None)


class LongWork:
    """Mixed into NndbApp: ``start_long(line)``, ``interrupt_long()``, and ``busy`` while one runs."""

    busy = False
    _long_thread: int | None = None
    _long_lock = threading.Lock()

    def start_long(self, line: str) -> None:
        self.busy = True
        self.notify("running… Esc or q stops it", timeout=3)
        self.long_worker(line)

    def interrupt_long(self) -> None:
        with self._long_lock:
            if self._long_thread is not None:
                _raise_in(self._long_thread, KeyboardInterrupt)

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
        self.call_from_thread(self.long_done, result)

    def long_done(self, result: Result) -> None:
        self.busy = False
        self.show_result(result, quiet_steps=False)
