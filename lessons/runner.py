"""Plays a lesson over a debugging session: runs commands, checks the current step after each, saves progress.

The runner wraps an Interpreter that runs the debugger's commands and the lesson's own
(``REGISTRY | lesson_commands(runner)``); front ends call ``run`` as they would the interpreter's,
and the runner adds the lesson's feedback to each result as typed items (``Feedback``: a kind
and a text), which front ends render by kind. Progress is the list of commands
the learner ran; resuming replays them, so the debugger comes back exactly where it was.

A step's prediction is judged when the step's checks first hold (so ``predict: value W1[0,0]``
before an update is compared with the updated weight, not the old one); lessons/predictions.py keeps
the answers, the second try after a miss, what was on screen and the tally. A step with ``setup:``
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

from .checks import CHECKS, COMMANDS, Context, normalize
from .commands import lesson_commands
from .format import Choice, Lesson, Predict
from .predictions import Predictions, question, tally_text
from .progress import ProgressStore, empty_record
from .setups import merged, setup_problem

NOT_RECORDED = {"help", "quit", "hint", "lesson", "where", "list", "show"}  # they change nothing
WRITES_FILES = {"save"}  # recorded, but not redone when a lesson resumes


def reflowed(text: str) -> str:
    """A step's text as paragraphs: the file's line breaks joined, so the terminal wraps it once.

    Blank lines, list items (``- ``, ``* ``, ``1. ``) and indented lines keep their own line."""
    out: list[str] = []
    for line in text.splitlines():
        keeps_its_line = not line.strip() or re.match(r"\s|[-*] |\d+\. ", line)
        if out and out[-1].strip() and not out[-1][0].isspace() and not keeps_its_line:
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return "\n".join(out)


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
        self.predictions = Predictions()
        self.ctx = Context(self.session, start_iteration=self.session.current.number)
        self.replaying = False
        self.save_failed = False
        record = store.get(lesson.id) if store else empty_record()
        # progress saved before the second try existed: its first commands replay with a miss final, as it was
        self.legacy = record.get("legacy_commands", 0) if "predictions" in record else len(record["commands"])
        if resume and record["commands"]:
            self.replaying = True
            try:
                for i, line in enumerate(record["commands"]):
                    self.predictions.one_try = i < self.legacy
                    if self.writes_a_file(line):  # a side effect: never redone (it would overwrite a newer file)
                        self.commands.append(line)
                        continue
                    self.run(line)
            finally:
                self.replaying = self.predictions.one_try = False

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
            record = {"step": self.step_index, "done": self.done, "commands": self.commands,
                      "completed": self.completed, "predictions": sorted(self.predictions.outcomes.items())}
            if self.legacy:
                record["legacy_commands"] = self.legacy
            return self.store.put(self.lesson.id, record)
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
            if self.step is not None and self.step.predict:
                self.predictions.note_display(self.step.predict, arg, result.kind, self.session, self.ctx)
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
        if command == "answer":
            out += self.answer_feedback(step, arg, passed)
        if not passed:
            return out
        if step.predict:
            verdict, finished = self.predictions.judge(step, self.step_index, self.session, self.ctx)
            out += verdict
            if not finished:
                return out
        self.completed.append(self.step_index)
        out.append(Feedback("step", f"✓ step {self.step_index + 1}/{len(self.lesson.steps)} done: {step.title}"))
        following = self.step_index + 1
        if following < len(self.lesson.steps) and self.lesson.steps[following].setup:
            out += self.read_before_restart(step)
        self.step_index += 1
        self.hints_shown = 0
        self.predictions.begin_step()
        if self.done:
            tally = tally_text(self.predictions.tally())
            out.append(Feedback("done", f"🎉 lesson {self.lesson.id} complete: {self.lesson.title}. "
                                        + (f"Your predictions: {tally}. " if tally else "")
                                        + "`nndb lessons` shows what comes next."))
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
        shown = ", ".join(f"{k}: {v}" for k, v in changes.items())
        try:  # the lesson's network again, even after a `load`
            self.session.reopen(self.build, f"lesson {self.lesson.id}",
                                seed=int(changes["seed"]) if "seed" in changes else None)
        except SessionError as e:  # `use: ID` and a learner's file that cannot run (a UseError): said, not raised
            return [Feedback("fail", f"✗ the debugger could not restart with {shown}: {e}. Fix that, then `reset`")]
        if "batch" in changes:
            self.session.set_batch(parse_rows(changes["batch"], len(self.session.problem.X), self.session.batch))
        return [Feedback("restart", f"↻ the debugger restarted with {shown} (iteration 1; breakpoints and watches kept)")]

    # -- predictions and questions ----------------------------------------------------------
    @property
    def prediction(self):
        """The current step's answer waiting to be judged (a predictions.Guess), or None."""
        return self.predictions.guess

    @staticmethod
    def predict_question(p: Predict) -> str:
        return question(p)

    def predict(self, text: str) -> Result:
        step = self.step
        if step is None or step.predict is None:
            raise SessionError("predict: this step asks for no prediction")
        return Result(f"predict {text}", True, "lesson", self.predictions.predict(step.predict, text))

    def reveal(self) -> Result:
        step = self.step
        if step is None or step.predict is None:
            raise SessionError("reveal: this step asks for no prediction; `hint` helps with what it asks")
        return Result("reveal", True, "lesson", self.predictions.reveal(step.predict))

    def choice_of(self, step, text: str) -> Choice | None:
        """The option an answer picks: its text (``relu2``) or its letter (``b``)."""
        wanted = normalize(text).lower()
        for choice in step.choices:
            if normalize(choice.option).lower() == wanted:
                return choice
        letters = "abcdefghijklmnopqrstuvwxyz"
        if len(wanted) == 1 and wanted in letters[:len(step.choices)]:
            return step.choices[letters.index(wanted)]
        return None

    def options(self, step) -> list[str]:
        return [f"{'abcdefghijklmnopqrstuvwxyz'[i]}) {c.option}" for i, c in enumerate(step.choices)]

    def answer(self, text: str) -> Result:
        if not text.strip():
            raise SessionError("answer: type your answer after the word, e.g. `answer relu2`")
        step, given = self.step, text.strip()
        if step is not None and step.choices:
            choice = self.choice_of(step, given)
            if choice is None:
                raise SessionError(f"answer: {given[:40]!r} is not one of the options: {'  '.join(self.options(step))} "
                                   f"— type `answer b` (its letter) or `answer {step.choices[1].option}` (its text)")
            given = choice.option
        self.ctx.answers.append(given)
        return Result(f"answer {text}", True, "lesson", f"answer noted: {given}")

    def answer_feedback(self, step, arg: str, passed: bool) -> list[Feedback]:
        """After `answer`: the chosen option's feedback; a wrong answer to an open question told so."""
        choice = self.choice_of(step, arg) if step.choices else None
        given = choice.option if choice is not None else arg
        wanted = [c.arg for c in step.checks if c.name == "answered"]
        right = any(CHECKS["answered"].test(Context(self.session, answers=[given]), w) for w in wanted)
        if choice is not None:
            verdict = Feedback("pass" if right else "fail", f"{'✓' if right else '✗'} {choice.option}: {choice.feedback}")
            if right and not passed:  # the right option, but the step asks for more (a print, a `cost`)
                return [verdict, Feedback("ask", "the step is done when you have also run what it asks (`lesson` "
                                                 "shows it again)")]
            return [verdict]
        if not passed and wanted and not right:
            return [Feedback("fail", f"✗ {arg.strip()!r} is not the answer this step is looking for: "
                                     f"look again (`hint` helps)")]
        return []

    # -- views -------------------------------------------------------------------------------
    def step_feedback(self) -> list[Feedback]:
        """The current step: its title and text, and the prediction it asks for first."""
        step = self.step
        if step is None:
            return [Feedback("text", f"lesson {self.lesson.id} is complete")]
        lines = [Feedback("text", f"step {self.step_index + 1}/{len(self.lesson.steps)}: {step.title}"),
                 Feedback("text", reflowed(step.text))]
        if step.choices:
            lines.append(Feedback("ask", "   ".join(self.options(step)) + " — type `answer` and a letter or an option"))
        if step.predict:
            again = "one more try" if self.predictions.missed else "predict first"
            lines.append(Feedback("ask", f"{again}: {self.predict_question(step.predict)} "
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

    def status(self) -> Result:
        header = f"lesson {self.lesson.id}: {self.lesson.title} — step {min(self.step_index + 1, len(self.lesson.steps))}" \
                 f"/{len(self.lesson.steps)}"
        tally = self.predictions.tally()
        lines = self.step_lines() + ([f"your predictions so far: {tally_text(tally)}"] if tally["total"] else [])
        return Result("lesson", True, "lesson", header, {"lines": lines, "step": self.step_index, "done": self.done,
                                                          "predictions": tally})
