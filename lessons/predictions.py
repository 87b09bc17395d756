"""Predict first: the learner's answers read and judged, the reasoning and one more try after a miss, right and seen counted.

A step's prediction is judged when the step's checks hold. The first miss shows the step's
``why:`` and keeps the value hidden: the learner may ``predict`` once more (or ``reveal``); the
second answer is judged and the value shown either way, and the step is done. A wrong prediction
never blocks: it is a self-test.

Each step with a prediction ends with one outcome (OUTCOMES): ``right`` first time, ``second``
(right on the retry), ``wrong``, ``revealed`` (``reveal`` without a prediction), or ``seen``: the
judged answer was typed after the value had been displayed — printed or explained, or computed by
the op the debugger stopped at (`step` shows it) — so it tested reading, not reasoning.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from inspector import expr as E
from inspector.commands import Feedback
from inspector.errors import SessionError

from .checks import Context, figure_value, is_figure
from .format import Predict

OUTCOMES = ("right", "second", "wrong", "seen", "revealed")
SHAPE = re.compile(r"\(?\s*[0-9]{1,9}(\s*[x×,]\s*[0-9]{1,9})+\s*,?\s*\)?|\(\s*[0-9]{1,9}\s*,\s*\)", re.ASCII)
SIGNS = {"+": 1, "positive": 1, "pos": 1, "-": -1, "−": -1, "negative": -1, "neg": -1, "0": 0, "zero": 0}
NEVER = "a wrong prediction never blocks: it is a self-test"


def parse_prediction(kind: str, text: str):
    """The learner's answer as a value of ``kind``; raises SessionError with the expected form (and so is
    not counted as an attempt)."""
    text = text.strip()
    if kind == "shape":
        if not SHAPE.fullmatch(text):
            raise SessionError(f"predict: this step asks for a shape, a size per axis: 4x8 or (4, 8) (one axis: "
                               f"(8,)), got {text[:40]!r}")
        return tuple(int(p) for p in re.findall(r"[0-9]+", text))
    if kind == "sign":
        if text.lower() not in SIGNS:
            raise SessionError(f"predict: this step asks for a sign: +, - or 0 (or positive, negative, zero), "
                               f"got {text[:40]!r}")
        return SIGNS[text.lower()]
    try:
        value = float(E.evaluate(E.parse(text), lambda name: (_ for _ in ()).throw(
            E.ExprError(f"a prediction is a number, not a name ({name})"))))
    except (E.ExprError, TypeError, ValueError) as e:
        raise SessionError(f"predict: a value is a number like 0.25 or -1.5e-3 ({e})") from None
    if not np.isfinite(value):
        raise SessionError("predict: the value must be a finite number")
    return value


def question(p: Predict) -> str:
    return {"shape": f"what shape will {p.target} have?",
            "value": f"what value does {p.target}'s equation give (within ±{p.tolerance:g})?" if p.equation
            else f"what value will {p.target} have (within ±{p.tolerance * 100:g}%)?" if p.relative
            else f"what value will {p.target} have (within ±{p.tolerance:g})?",
            "sign": f"will {p.target} be positive, negative or zero?"}[p.kind]


def evaluate(text: str, session, ctx: Context):
    """``text``'s value now (a measured figure from this step's `cost` results), or None if not computed."""
    try:
        value = figure_value(ctx, text) if is_figure(text) else session.evaluate(text)[1]
        return np.asarray(value)
    except (E.ExprError, SessionError, ValueError, IndexError, TypeError, ZeroDivisionError):
        return None


def judged_value(p: Predict, session, ctx: Context):
    """What the prediction is judged against (the equation's value in a bug hunt), or None."""
    value = evaluate(p.equation or p.target, session, ctx)
    if value is None or (p.kind != "shape" and (value.size != 1 or not np.isfinite(float(value)))):
        return None
    return value


def agrees(p: Predict, guess, value) -> bool:
    """Whether an answer (parsed as ``p.kind``) agrees with a value."""
    if p.kind == "shape":
        return tuple(guess) == tuple(np.shape(value))
    if np.size(value) != 1:
        return False
    v = float(value)
    if p.kind == "sign":
        return guess == int(np.sign(v))
    return abs(v - guess) <= p.tolerance * (abs(v) if p.relative else 1.0)


def as_answer(p: Predict, value):
    """A displayed value in the form an answer takes, to compare it with the judged one; None if it has none."""
    if p.kind == "shape":
        return tuple(np.shape(value))
    if np.size(value) != 1 or not np.isfinite(float(value)):
        return None
    return int(np.sign(float(value))) if p.kind == "sign" else float(value)


def shown(p: Predict, value) -> str:
    if p.kind == "shape":
        return "×".join(map(str, np.shape(value)))
    v = float(value) + 0.0  # + 0.0: a −0 is shown as 0
    if p.kind == "sign":
        return f"{v:.4g} ({'positive' if v > 0 else 'negative' if v < 0 else 'zero'})"
    return f"{v:.6g}"


def mentions(arg: str, text: str) -> bool:
    """Whether a command's argument displays ``text``: names it whole (``explain dZ2[1,0]``) or prints every
    array in it whole (``print P`` shows ``P[0,1]``)."""
    if "".join(text.split()) in "".join(arg.split()):
        return True
    try:
        names = E.names_in(E.parse(text, allow_compare=True))
    except E.ExprError:
        return False
    # a bare name, not an element (Z1[0,0]) nor an op (relu1.forward)
    return bool(names) and all(re.search(rf"(?<![\w.]){re.escape(n)}(?![\w\[.])", arg) for n in names)


@dataclass
class Guess:
    value: object                 # the parsed answer
    typed: str                    # as the learner typed it
    shown: list = field(default_factory=list)  # the values displayed in this step before it was typed


@dataclass
class Predictions:
    """A lesson's predictions: the current step's answer, its miss, what it displayed; every step's outcome."""

    outcomes: dict[int, str] = field(default_factory=dict)
    guess: Guess | None = None
    missed: Guess | None = None      # the first, wrong answer (the value is still hidden)
    missed_seen: bool = False
    reveal_asked: bool = False
    displayed: list = field(default_factory=list)  # this step's target as displayed (answers' form)
    one_try: bool = False  # replaying progress saved before the second try existed: a miss is final, as it was

    def begin_step(self) -> None:
        self.guess = self.missed = None
        self.missed_seen = self.reveal_asked = False
        self.displayed = []

    def tally(self) -> dict[str, int]:
        return tally_of(self.outcomes.values())

    # -- what the learner typed and saw --------------------------------------------------------------------
    def predict(self, p: Predict, text: str) -> str:
        self.guess = Guess(parse_prediction(p.kind, text), text.strip(), list(self.displayed))
        self.reveal_asked = False
        again = " (your second try)" if self.missed else ""
        return f"noted{again}: {p.target} → {text.strip()}"

    def reveal(self, p: Predict) -> str:
        self.reveal_asked, self.guess = True, None  # giving up: a prediction not judged yet is dropped
        return f"{p.target} is shown when the step's checks hold (now, if they do); {NEVER}"

    def note_display(self, p: Predict, arg: str, kind: str, session, ctx: Context) -> None:
        """Record the target's value if the command just run displayed it, or stopped at the op that computes it."""
        judged = p.equation or p.target
        values = []
        if is_figure(judged):
            if kind in ("cost", "vectorize"):
                values.append(evaluate(judged, session, ctx))
        else:
            values += [evaluate(text, session, ctx) for text in filter(None, (p.target, p.equation))
                       if mentions(arg, text)]
            op = session.op
            try:
                names = set(E.names_in(E.parse(p.target, allow_compare=True)))
            except E.ExprError:
                names = set()
            if op is not None and names & set(op.outputs):
                values.append(evaluate(p.target, session, ctx))
        self.displayed += [a for a in (as_answer(p, v) for v in values if v is not None) if a is not None]

    # -- judging -------------------------------------------------------------------------------------------
    def judge(self, step, index: int, session, ctx: Context) -> tuple[list[Feedback], bool]:
        """Feedback when the step's checks hold, and whether the step is done."""
        p = step.predict
        if self.guess is None and not self.reveal_asked:
            if self.missed:
                return [Feedback("ask", f"one more try: `predict ANSWER` ({question(p)}), or `reveal` to see "
                                        f"the value and move on")], False
            return [Feedback("ask", f"predict first: {question(p)} (type `predict ANSWER`), then carry on "
                                    f"(or `reveal`: {NEVER})")], False
        value = judged_value(p, session, ctx)
        if value is None:
            return [Feedback("info", f"(no verdict on your prediction: {p.target} is not computed at this point)")], True
        said = f"{'cost found' if is_figure(p.target) else 'the code computed'} {p.target} = {shown(p, value)}"
        if p.equation:
            said = f"its equation gives {p.target} = {p.equation} = {shown(p, value)}" + disagreement(p, session)
        if self.guess is None:  # `reveal`
            self.outcomes[index] = "wrong" if self.missed else "revealed"
            return [Feedback("info", f"revealed: {said}")], True
        guess = self.guess
        ok = agrees(p, guess.value, value)
        seen = any(agrees(p, d, value) for d in guess.shown)
        seen_note = " — it was on screen before you typed it, so it counts as seen"
        if self.missed is None and not ok and not self.one_try:
            self.missed, self.missed_seen, self.guess = guess, seen, None
            why = step.why or "re-read the step's text: what does the operation compute, from what?"
            hidden = ("it may be on screen now: a second try then counts as seen"
                      if any(agrees(p, d, value) for d in self.displayed) else "the value stays hidden for one more try")
            return [Feedback("fail", f"✗ not quite: you said {guess.typed} ({hidden})"),
                    Feedback("fail", f"why: {why}"),
                    Feedback("ask", f"one more try: `predict ANSWER`, or `reveal` to see it ({NEVER})")], False
        if self.missed is None:
            self.outcomes[index] = "seen" if seen else "right" if ok else "wrong"
            mark = "✓ your prediction was right" if ok else "✗ not quite"
            return [Feedback("pass" if ok else "fail", f"{mark}: you said {guess.typed}, {said}"
                                                       + (seen_note if seen and ok else ""))], True
        self.outcomes[index] = "seen" if seen or self.missed_seen else "second" if ok else "wrong"
        mark = "✓ right on the second try" if ok else "✗ not quite again"
        note = seen_note if seen and ok else ""
        return [Feedback("pass" if ok else "fail", f"{mark}: you said {guess.typed}, {said}{note}")], True


def disagreement(p: Predict, session) -> str:
    """After a prediction judged by the target's equation: whether the code computed the same."""
    try:
        code = float(np.asarray(session.evaluate(p.target)[1])) + 0.0
        equation = float(np.asarray(session.evaluate(p.equation)[1])) + 0.0
    except (E.ExprError, SessionError, ValueError, IndexError, TypeError):
        return ""
    if abs(code - equation) <= max(p.tolerance * (abs(equation) if p.relative else 1.0), 1e-12):
        return f"; the code computed {p.target} = {code:.6g} too"
    return f"; the code disagrees: it computed {p.target} = {code:.6g} — that is the bug"


def tally_of(outcomes) -> dict[str, int]:
    outcomes = list(outcomes)
    return {"right": outcomes.count("right"), "total": len(outcomes), "seen": outcomes.count("seen")}


def tally_text(tally: dict[str, int]) -> str:
    """``4/6 right first time · 1 seen``; empty when no prediction was judged yet."""
    if not tally["total"]:
        return ""
    return f"{tally['right']}/{tally['total']} right first time" + (f" · {tally['seen']} seen" if tally["seen"] else "")
