"""The command language: every command declared once, in one registry, parsed and run against a Session.

The registry feeds the REPL, the TUI's command bar, the command palette, completion and help.
``core`` holds the Result, the registry and the Interpreter; the handlers live by topic and are
declared here in the order `help` lists them. A lesson's commands are not in the registry: the
lesson passes them to its own Interpreter (``Interpreter(session, REGISTRY | lesson_commands(runner))``).
"""
from __future__ import annotations

from . import stepping, inspection, breaks, editing, data, cost, control  # noqa: F401  (declare, in help's order)
from .core import (ALIASES, FEEDBACK_KINDS, MAX_ITERATIONS, REGISTRY, Command, Feedback, Interpreter, Result,
                   UsageError, aliases_of, always_long, close_commands, command, count_arg, count_from, jsonable,
                   lookup)
from .data import parse_rows
from .views import array_data, op_data, stepped, watch_data

__all__ = ["ALIASES", "FEEDBACK_KINDS", "MAX_ITERATIONS", "REGISTRY", "Command", "Feedback", "Interpreter", "Result",
           "UsageError", "aliases_of", "always_long", "count_from", "close_commands", "command", "count_arg", "jsonable",
           "lookup", "parse_rows",
           "array_data", "op_data", "stepped", "watch_data"]
