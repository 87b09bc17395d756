"""The TUI in lesson mode: the debugger with a lesson panel beside it (current step, ticks, hints)."""
from __future__ import annotations

from pathlib import Path

from rich.markdown import Markdown
from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from inspector.commands import Feedback
from inspector.guards import clean
from inspector.tui.app import NndbApp

from .runner import LessonRunner

# The feedback the panel keeps from a command (the step's text is in the panel already; a note is not
# kept), and how the panel shows each kind.
KEPT = ("pass", "fail", "step", "done", "restart", "ask")
PANEL_STYLE = {"pass": "green", "step": "green", "done": "green", "fail": "yellow", "ask": "yellow",
               "restart": "yellow", "info": "yellow"}


class LessonPanel(VerticalScroll):
    """The lesson's steps with ticks, the step being viewed, its hints and feedback."""

    def compose(self):
        yield Static(id="lesson-steps")
        yield Static(id="lesson-text")
        yield Static(id="lesson-feedback")

    def show(self, runner: LessonRunner, viewing: int, feedback: list[Feedback], hints: list[str]) -> None:
        lesson = runner.lesson
        steps = Text(f"{clean(lesson.title, newlines=False)}\n", style="bold")
        for i, step in enumerate(lesson.steps):
            mark = "✓" if i in runner.completed else "▶" if i == runner.step_index else "·"
            style = "green" if i in runner.completed else "bold yellow" if i == runner.step_index else "dim"
            steps.append(f"{mark} {i + 1}. {clean(step.title, newlines=False)}\n", style=style + (" reverse" if i == viewing else ""))
        self.query_one("#lesson-steps", Static).update(steps)
        if viewing < len(lesson.steps):
            step = lesson.steps[viewing]
            body = f"**{viewing + 1}. {step.title}**\n\n{step.text}"
            if step.predict and viewing == runner.step_index:
                body += f"\n\n*Predict first:* {runner.predict_question(step.predict)} Type `predict ANSWER`."
            if viewing != runner.step_index:
                body += "\n\n*(viewing another step: `]`/`[` move, the current one is ▶)*"
            self.query_one("#lesson-text", Static).update(Markdown(clean(body)))
        else:
            self.query_one("#lesson-text", Static).update(Text("Lesson complete! `nndb lessons` lists the next ones.",
                                                                style="bold green"))
        lines = Text()
        for h in hints:
            lines.append(clean(h) + "\n", style="cyan")
        for f in feedback[-4:]:
            lines.append(clean(f.text) + "\n", style=PANEL_STYLE[f.kind])
        self.query_one("#lesson-feedback", Static).update(lines)


class LessonApp(NndbApp):
    """NndbApp plus the lesson: every command goes through the LessonRunner, which checks the step."""

    BINDINGS = NndbApp.BINDINGS + [
        Binding("H", "hint", "Hint", tooltip="reveal the next hint for this lesson step"),
        Binding("right_square_bracket", "view_step(1)", "Next step", show=False, tooltip="view the next step's text"),
        Binding("left_square_bracket", "view_step(-1)", "Prev step", show=False,
                tooltip="view the previous step's text"),
    ]
    CSS_PATH = [NndbApp.CSS_PATH, Path(__file__).with_name("lesson.tcss")]

    def __init__(self, runner: LessonRunner):
        super().__init__(runner.session, interp=runner)
        self.runner = runner
        self.viewing = runner.step_index
        self.feedback: list[Feedback] = []
        self.hints: list[str] = []

    def compose_extra(self):
        yield LessonPanel(id="lesson")

    def after_mount(self) -> None:
        panel = self.query_one(LessonPanel)
        panel.border_title = f"lesson {self.runner.lesson.id}"
        if self.runner.commands:
            self.feedback.append(Feedback("info", f"resumed where you stopped ({len(self.runner.commands)} "
                                                  f"commands replayed)"))
        self.update_panel()

    def update_panel(self) -> None:
        self.query_one(LessonPanel).show(self.runner, self.viewing, self.feedback, self.hints)

    def after_command(self, result) -> None:
        self.feedback += [f for f in result.feedback if f.kind in KEPT]
        if result.kind == "lesson" and result.data.get("lines") and result.command == "hint":
            self.hints = list(result.data["lines"])
        if any(f.kind == "step" for f in result.feedback):
            self.hints = []
            self.viewing = self.runner.step_index
        self.update_panel()

    def action_hint(self) -> None:
        self.run_command("hint", quiet_steps=False)

    def action_view_step(self, delta: int) -> None:
        self.viewing = max(0, min(len(self.runner.lesson.steps) - 1, self.viewing + delta))
        self.update_panel()
