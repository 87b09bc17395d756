"""Breakpoints and watches: where `continue` stops, and what is shown after every step.

A session holds one ``Breakpoints`` and one ``Watches`` list; they are kept across `reset`,
`seed` and `load`. Both ask the session for names and values and never move its cursor.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine import Op

from . import expr as E
from .errors import SessionError
from .ops import op_matches


@dataclass
class Breakpoint:
    number: int
    spec: str
    condition: object = None     # parsed tree for ``break if …``; None for an op pattern
    names: tuple[str, ...] = ()  # arrays whose writing triggers a check of the condition
    enabled: bool = True
    hits: int = 0

    @property
    def kind(self) -> str:
        return "condition" if self.condition is not None or self.spec == "nan" else "op"


@dataclass
class Watch:
    number: int
    text: str
    tree: object


class Numbered(list):
    """A list of numbered items; numbers count from 1 and are never reused."""

    def __init__(self):
        super().__init__()
        self.next_number = 1

    def take_number(self) -> int:
        self.next_number += 1
        return self.next_number - 1

    def delete(self, numbers) -> None:
        self[:] = [item for item in self if item.number not in set(numbers)]


class Breakpoints(Numbered):
    """The session's breakpoints: op patterns and conditions."""

    def add(self, session, spec: str) -> Breakpoint:
        spec = spec.strip()
        if not spec:
            raise SessionError("break: give an op pattern (break dense2.backward) or a condition (break if nan)")
        condition, names = None, ()
        if spec.startswith("if ") or spec == "if":
            text = spec[2:].strip()
            if text == "nan":
                spec = "nan"
            else:
                condition = E.parse(text, allow_compare=True)
                names = tuple(session.canonical(n) for n in E.names_in(condition))
                known = set(session.known_symbols()) | {"loss"}
                unknown = [n for n in names if n not in known]
                if unknown:
                    raise SessionError(f"break if: unknown name {unknown[0]!r}; "
                                       f"arrays: {', '.join(session.known_symbols())}")
                if not names:
                    raise SessionError("break if: the condition names no array, so it could never change")
                spec = f"if {E.to_text(condition)}"
        elif not session.find_ops(spec):
            session.resolve_op(spec)  # raises with the list of layers
        bp = Breakpoint(self.take_number(), spec, condition, names)
        self.append(bp)
        return bp

    def find(self, number: int) -> Breakpoint:
        for bp in self:
            if bp.number == number:
                return bp
        have = ", ".join(str(b.number) for b in self) or "none"
        raise SessionError(f"no breakpoint {number}; breakpoints: {have}")

    def active(self) -> list[Breakpoint]:
        return [b for b in self if b.enabled]

    @staticmethod
    def first_hit(session, start: int, active: list[Breakpoint]):
        """First (op index, breakpoint) hit at or after op ``start`` of the session's current tape."""
        if not active:
            return None
        values = session.values_at(start - 1)
        for op in session.tape[start:]:
            values.update(op.outputs)
            values.update(session.current.edited.get(op.index, {}))
            for bp in active:
                if hits(session, bp, op, values):
                    return op.index, bp
        return None


def hits(session, bp: Breakpoint, op: Op, values: dict) -> bool:
    """Whether ``bp`` stops the debugger right after ``op``, with ``values`` as they are then."""
    if bp.kind == "op":
        return op_matches(op, bp.spec)
    if bp.spec == "nan":
        return any(not np.all(np.isfinite(a)) for a in op.outputs.values())
    if not any(name in op.outputs for name in bp.names):
        return False
    try:
        if "L" in values:
            values["loss"] = values["L"]
        return bool(E.evaluate(bp.condition, session.resolver(values), E.WATCH_LIMITS))
    except (E.ExprError, ValueError, TypeError, IndexError):
        return False


MAX_WATCHES = 16


class Watches(Numbered):
    """The session's watches: expressions shown after every step."""

    def add(self, session, text: str) -> Watch:
        tree = E.parse(text)
        names = [session.canonical(n) for n in E.names_in(tree)]
        known = set(session.known_symbols()) | {"loss"}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SessionError(f"watch: unknown name {unknown[0]!r}; arrays: {', '.join(session.known_symbols())}")
        if len(self) >= MAX_WATCHES:
            raise SessionError(f"watch: at most {MAX_WATCHES} watches (each is computed after every step); "
                               f"`unwatch N` one first")
        try:  # a watch runs after every command: one too costly is refused now, not paid for at every step
            E.evaluate(tree, session.resolver(session.values_at()), E.WATCH_LIMITS)
        except E.CostError as e:
            raise SessionError(f"watch: {e} (a watch is computed after every step, so it is limited to "
                               f"{E.WATCH_LIMITS[0]:,} entries)") from None
        except (E.ExprError, ValueError, TypeError, IndexError):
            pass  # not computed yet at this op: shown as such until it is
        text = E.to_text(tree)
        watch = Watch(self.take_number(), text, tree)
        self.append(watch)
        return watch

    def values(self, session) -> list[tuple[Watch, object, str | None]]:
        """(watch, value or None, error or None) at the session's current position."""
        resolve = session.resolver(session.values_at())
        out = []
        for w in self:
            try:
                out.append((w, E.evaluate(w.tree, resolve, E.WATCH_LIMITS), None))
            except (E.ExprError, ValueError, TypeError, IndexError) as e:
                out.append((w, None, str(e)))
        return out
