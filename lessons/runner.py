"""Plays a lesson over a debugging session: runs commands, checks the current step after each, saves progress.

The runner wraps an Interpreter that runs the debugger's commands and the lesson's own
(``REGISTRY | lesson_commands(runner)``); front ends call ``run`` as they would the interpreter's,
and the runner adds the lesson's feedback to each result as typed items (``Feedback``: a kind
and a text), which front ends render by kind. Progress is the list of commands
the learner ran; resuming replays them, so the debugger comes back exactly where it was.

A step's prediction is judged when the step's checks first hold (so ``predict: value W1[0,0]``
before an update is compared with the updated weight, not the old one). A step with ``setup:``
lines restarts the session with the lesson's setup so changed when that step begins
(breakpoints and watches are kept, as `reset` keeps them).
"""
from __future__ import annotations

import re

import numpy as np

from inspector import expr as E
from inspector.commands import REGISTRY, Feedback, Interpreter, Result, lookup, parse_rows
from inspector.errors import SessionError
from inspector.session import Session

from .checks import CHECKS, COMMANDS, Context, figure_value, is_figure
from .commands import lesson_commands
from .format import Lesson, Predict
from .progress import ProgressStore, empty_record
from .setups import merged, setup_problem

NOT_RECORDED = {"help", "quit", "hint", "lesson", "where", "list", "show"}  # they change nothing
WRITES_FILES = {"save"}  # recorded, but not redone when a lesson resumes


def parse_prediction(kind: str, text: str):
    """The learner's answer as a value of ``kind``; raises SessionError with the expected form."""
    text = text.strip()
    if kind == "shape":
        parts = [p for p in re.split(r"[\s×x,()]+", text) if p]
        if not parts or not all(p.isdigit() for p in parts):
            raise SessionError(f"predict: a shape looks like 4x8 or (4, 8), got {text!r}")
        return tuple(int(p) for p in parts)
    if kind == "sign":
        signs = {"+": 1, "positive": 1, "pos": 1, "-": -1, "−": -1, "negative": -1, "neg": -1, "0": 0, "zero": 0}
        if text.lower() not in signs:
            raise SessionError(f"predict: a sign is +, - or 0 (or positive, negative, zero), got {text!r}")
        return signs[text.lower()]
    try:
        value = float(E.evaluate(E.parse(text), lambda name: (_ for _ in ()).throw(
            E.ExprError(f"a prediction is a number, not a name ({name})"))))
    except (E.ExprError, TypeError, ValueError) as e:
        raise SessionError(f"predict: a value is a number like 0.25 or -1.5e-3 ({e})") from None
    if not np.isfinite(value):
        raise SessionError("predict: the value must be a finite number")
    return value


class LessonRunner:
    """A lesson in progress: its session, current step, the learner's commands and predictions."""

    def __init__(self, lesson: Lesson, store: ProgressStore | None = None, resume: bool = True):
        self.lesson, self.store = lesson, store
        self.setup = merged(lesson.setup, lesson.steps[0].setup)  # what the session is built from now
        self.session = Session(self.build, seed=int(self.setup.get("seed", 0)), source=f"lesson {lesson.id}")
        if "batch" in self.setup:
            self.session.set_batch(parse_rows(self.setup["batch"], len(self.session.problem.X),
                                              self.session.batch))
        self.interp = Interpreter(self.session, REGISTRY | lesson_commands(self))
        self.step_index = 0
        self.completed: list[int] = []
        self.commands: list[str] = []
        self.hints_shown = 0
        self.prediction: tuple[object, str] | None = None   # (parsed answer, what the learner typed)
        self.ctx = Context(self.session, start_iteration=self.session.current.number)
        self.replaying = False
        self.save_failed = False
        record = store.get(lesson.id) if store else empty_record()
        if resume and record["commands"]:
            self.replaying = True
            try:
                for line in record["commands"]:
                    if self.writes_a_file(line):  # a side effect: never redone (it would overwrite a newer file)
                        self.commands.append(line)
                        continue
                    self.run(line)
            finally:
                self.replaying = False

    def build(self, seed: int):
        """The session's factory: the lesson's network as the current step's setup describes it."""
        return setup_problem(self.setup, seed)

    # -- state -------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.step_index >= len(self.lesson.steps)

    @property
    def step(self):
        return None if self.done else self.lesson.steps[self.step_index]

    def writes_a_file(self, line: str) -> bool:
        cmd = self.interp.lookup(line.strip().removeprefix(":").lstrip().partition(" ")[0])
        return cmd is not None and cmd.name in WRITES_FILES

    def save(self) -> bool:
        """Record the progress; False (and the store's warning says why) when it could not be saved."""
        if self.store is not None and not self.replaying:
            return self.store.put(self.lesson.id, {"step": self.step_index, "done": self.done,
                                                   "commands": self.commands, "completed": self.completed})
        return True

    # -- running -----------------------------------------------------------------------------
    @property
    def last(self):
        return self.interp.last

    @property
    def command_table(self):
        """The commands this lesson runs: the debugger's and the lesson's (front ends offer them)."""
        return self.interp.command_table

    def run(self, line: str, progress=None) -> Result:
        """Run a command as the Interpreter would, then check the lesson's current step."""
        result = self.interp.run(line, progress)
        word, _, arg = result.command.partition(" ")
        cmd = self.interp.lookup(word)
        if result.ok and cmd is not None and cmd.name != "quit":
            if cmd.name not in NOT_RECORDED:
                self.commands.append(result.command)
            self.ctx.ran.append((cmd.name, arg))
            self.ctx.results.append((result.kind, result.data))
        if cmd is not None and cmd.name in ("reset", "seed", "load"):
            self.ctx.start_iteration = self.session.current.number
        result.feedback += self.after(cmd.name if cmd is not None and result.ok else None, arg)
        saved = self.save()
        if not saved and self.store.writable and not self.save_failed:  # a full disk: said (once a streak)
            result.feedback.append(Feedback("info", f"⚠ {self.store.warning}; your progress is kept only "
                                                    f"while this lesson runs"))
        self.save_failed = not saved and self.store.writable
        return result

    def after(self, command: str | None = None, arg: str = "") -> list[Feedback]:
        """Feedback after a command: a prediction judged, a step completed, the next step's text."""
        out: list[Feedback] = []
        step = self.step
        if step is None:
            return out
        passed = all(CHECKS[c.name].test(self.ctx, c.arg) for c in step.checks)
        if step.predict and self.prediction is None:
            if passed:
                out.append(Feedback("ask", f"predict first: {self.predict_question(step.predict)} "
                                           f"(type `predict ANSWER`), then carry on"))
            return out
        if not passed:
            wanted = [c.arg for c in step.checks if c.name == "answered"]
            if command == "answer" and wanted and not any(CHECKS["answered"].test(
                    Context(self.session, answers=[arg]), w) for w in wanted):
                out.append(Feedback("fail", f"✗ {arg.strip()!r} is not the answer this step is looking for: "
                                            f"look again (`hint` helps)"))
            return out
        if step.predict:
            out.append(self.compare_prediction(step.predict) or Feedback(
                "info", f"(no verdict on your prediction: {step.predict.target} is not computed at this point)"))
        self.completed.append(self.step_index)
        out.append(Feedback("step", f"✓ step {self.step_index + 1}/{len(self.lesson.steps)} done: {step.title}"))
        following = self.step_index + 1
        if following < len(self.lesson.steps) and self.lesson.steps[following].setup:
            out += self.read_before_restart(step)
        self.step_index += 1
        self.hints_shown = 0
        self.prediction = None
        if self.done:
            out.append(Feedback("done", f"🎉 lesson {self.lesson.id} complete: {self.lesson.title}. "
                                        f"`nndb lessons` shows what comes next."))
        else:
            out += self.begin_step()
            out += self.step_feedback()
        self.ctx = Context(self.session, start_iteration=self.session.current.number)
        return out

    def read_before_restart(self, step) -> list[Feedback]:
        """What the step asked the learner to print, as it stands now: the next step's restart wipes it."""
        out = []
        for c in step.checks:
            word, _, target = c.arg.partition(" ")
            cmd = lookup(word, COMMANDS)
            if c.name != "ran" or cmd is None or cmd.name != "print" or not target.strip():
                continue
            try:
                value = np.asarray(self.session.evaluate(target)[1])
            except (E.ExprError, SessionError, ValueError, IndexError, TypeError):
                continue
            shown = f"{float(value):.4g}" if value.ndim == 0 else f"an array of shape {value.shape}"
            out.append(Feedback("info", f"before the restart: {target.strip()} = {shown}"))
        return out

    def begin_step(self) -> list[Feedback]:
        """Apply the new current step's ``setup:`` changes: restart the session with them."""
        changes = self.step.setup
        if not changes:
            return []
        self.setup = merged(self.setup, changes)
        # the lesson's network again, even after a `load`
        self.session.reopen(self.build, f"lesson {self.lesson.id}",
                            seed=int(changes["seed"]) if "seed" in changes else None)
        if "batch" in changes:
            self.session.set_batch(parse_rows(changes["batch"], len(self.session.problem.X), self.session.batch))
        shown = ", ".join(f"{k}: {v}" for k, v in changes.items())
        return [Feedback("restart", f"↻ the debugger restarted with {shown} (iteration 1; breakpoints and watches kept)")]

    # -- predictions -------------------------------------------------------------------------
    @staticmethod
    def predict_question(p: Predict) -> str:
        return {"shape": f"what shape will {p.target} have?",
                "value": f"what value does {p.target}'s equation give (within ±{p.tolerance:g})?" if p.equation
                else f"what value will {p.target} have (within ±{p.tolerance * 100:g}%)?" if p.relative
                else f"what value will {p.target} have (within ±{p.tolerance:g})?",
                "sign": f"will {p.target} be positive, negative or zero?"}[p.kind]

    def compare_prediction(self, p: Predict) -> Feedback | None:
        """The verdict on the learner's prediction, or None when the target cannot be computed here."""
        try:
            # a measured figure (`loop_pairs`) comes from this step's `cost` results, anything else from the session
            judged = p.equation or p.target
            value = figure_value(self.ctx, judged) if is_figure(judged) else self.session.evaluate(judged)[1]
            if p.kind != "shape" and not np.isfinite(float(np.asarray(value))):
                return None
        except (E.ExprError, SessionError, ValueError, IndexError, TypeError):
            return None
        guess, typed = self.prediction
        if p.kind == "shape":
            actual = tuple(np.shape(value))
            ok = tuple(guess) == actual
            shown = "×".join(map(str, actual))
        elif p.kind == "sign":
            v = float(np.asarray(value))
            actual_sign = int(np.sign(v))
            ok = guess == actual_sign
            shown = f"{v:.4g} ({'positive' if v > 0 else 'negative' if v < 0 else 'zero'})"
        else:
            v = float(np.asarray(value)) + 0.0  # + 0.0: a −0 is shown as 0
            ok = abs(v - guess) <= p.tolerance * (abs(v) if p.relative else 1.0)
            shown = f"{v:.6g}"
        mark = "✓ your prediction was right" if ok else "✗ not quite"
        if p.equation:
            return Feedback("pass" if ok else "fail", f"{mark}: you said {typed}, its equation gives {p.target} = "
                                                      f"{p.equation} = {shown}" + self.disagreement(p))
        source = "cost found" if is_figure(p.target) else "the code computed"
        return Feedback("pass" if ok else "fail", f"{mark}: you said {typed}, {source} {p.target} = {shown}")

    def disagreement(self, p: Predict) -> str:
        """After a prediction judged by the target's equation: whether the code computed the same."""
        try:
            code = float(np.asarray(self.session.evaluate(p.target)[1])) + 0.0
            equation = float(np.asarray(self.session.evaluate(p.equation)[1])) + 0.0
        except (E.ExprError, SessionError, ValueError, IndexError, TypeError):
            return ""
        if abs(code - equation) <= max(p.tolerance * (abs(equation) if p.relative else 1.0), 1e-12):
            return f"; the code computed {p.target} = {code:.6g} too"
        return f"; the code disagrees: it computed {p.target} = {code:.6g} — that is the bug"

    def predict(self, text: str) -> Result:
        step = self.step
        if step is None or step.predict is None:
            raise SessionError("predict: this step asks for no prediction")
        guess = parse_prediction(step.predict.kind, text)
        self.prediction = (guess, text.strip())
        return Result(f"predict {text}", True, "lesson", f"noted: {step.predict.target} → {text.strip()}")

    # -- views -------------------------------------------------------------------------------
    def step_feedback(self) -> list[Feedback]:
        """The current step: its title and text, and the prediction it asks for first."""
        step = self.step
        if step is None:
            return [Feedback("text", f"lesson {self.lesson.id} is complete")]
        lines = [Feedback("text", f"step {self.step_index + 1}/{len(self.lesson.steps)}: {step.title}"),
                 Feedback("text", step.text)]
        if step.predict:
            lines.append(Feedback("ask", f"predict first: {self.predict_question(step.predict)} "
                                         f"— type `predict ANSWER`"))
        return lines

    def step_lines(self) -> list[str]:
        return [f.text for f in self.step_feedback()]

    def hint(self) -> Result:
        step = self.step
        if step is None:
            raise SessionError("hint: the lesson is complete")
        if not step.hints:
            return Result("hint", True, "lesson", "no hint for this step: re-read it, or `help COMMAND`")
        self.hints_shown = min(self.hints_shown + 1, len(step.hints))
        lines = [f"hint {i + 1}/{len(step.hints)}: {h}" for i, h in enumerate(step.hints[:self.hints_shown])]
        return Result("hint", True, "lesson", "", {"lines": lines})

    def answer(self, text: str) -> Result:
        if not text.strip():
            raise SessionError("answer: type your answer after the word, e.g. `answer relu2`")
        self.ctx.answers.append(text.strip())
        return Result(f"answer {text}", True, "lesson", f"answer noted: {text.strip()}")

    def status(self) -> Result:
        header = f"lesson {self.lesson.id}: {self.lesson.title} — step {min(self.step_index + 1, len(self.lesson.steps))}" \
                 f"/{len(self.lesson.steps)}"
        return Result("lesson", True, "lesson", header, {"lines": self.step_lines(),
                                                          "step": self.step_index, "done": self.done})
