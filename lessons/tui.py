"""The TUI in lesson mode: the debugger with a lesson column (progress, the step, hints, feedback) beside it.

The learner types the commands a lesson asks for, so the command bar has the focus: printable keys
go into it, never to the single-key shortcuts (`step` would otherwise run s, t, e and p). Esc leaves
it for single-key stepping (s, p, n, c …) and `:` or Enter comes back; the column's bottom edge,
the command bar's empty line and the footer always say which of the two is on.
"""
from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

from rich.console import Console, RenderableType
from rich.markdown import Markdown
from rich.text import Text
from textual.actions import parse as parse_action
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.keys import key_to_character
from textual.widgets import RichLog, Static

from inspector.commands import Feedback
from inspector.guards import clean
from inspector.tui.app import NndbApp
from inspector.tui.longwork import is_long
from inspector.tui.widgets import CommandBar, OpList

from .runner import LessonRunner

# how the panel shows each kind of feedback; "text" (the next step's text) is not kept: the panel shows the step
PANEL_STYLE = {"pass": "green", "step": "bold green", "done": "bold green", "fail": "yellow", "ask": "yellow",
               "restart": "yellow", "info": "yellow"}
FEEDBACK_KEPT = 60        # items of feedback the panel keeps (it scrolls; the newest at the bottom)
MIN_FEEDBACK_ROWS = 3     # rows the feedback keeps below a long instruction
# the whole step list is shown while it leaves the feedback a third of the column, else one line of marks
NARROW = 120              # columns below which the op listing makes room for the lesson column
TYPING = "◂ typing commands · Esc: single keys"
KEYS = "single keys: s step · p back… · : type"
BAR_TYPING = "type here · Enter runs · Esc: keys"  # 80 columns leave the bar 36
BAR_TYPING_WIDE = "type the lesson's commands here, Enter runs one · Esc: single keys"
BAR_KEYS = "s step · p back · H hint · : type"
BAR_KEYS_WIDE = "▸ single keys: s step · p back · n next · c cont · H hint · : or Enter to type"


def plain_height(renderable: RenderableType, width: int) -> int:
    """Rows ``renderable`` takes at ``width`` columns (as a Static of that width shows it)."""
    console = Console(file=io.StringIO(), width=max(width, 1), legacy_windows=False)
    return len(console.render_lines(renderable, console.options.update_width(max(width, 1)), pad=False))


def instruction(runner: LessonRunner, viewing: int, titled: bool = True) -> RenderableType:
    """What the step being viewed asks: its title (unless the progress line shows it), its text, the
    prediction it wants first and its choices."""
    lesson = runner.lesson
    if viewing >= len(lesson.steps):
        return Text("Lesson complete! `nndb lessons` lists the next ones.", style="bold green")
    step = lesson.steps[viewing]
    body = f"**{viewing + 1}. {step.title}**\n\n{step.text}" if titled else step.text
    current = viewing == runner.step_index
    if step.predict and current:
        again = "One more try" if runner.predictions.missed else "Predict first"
        body += f"\n\n*{again}:* {runner.predict_question(step.predict)} Type `predict ANSWER`."
    if step.choices:
        body += "\n\n" + "\n".join(f"- {option}" for option in runner.options(step))
    if not current:
        body += "\n\n*(viewing another step: `]`/`[` move, the current one is ▶)*"
    return Markdown(clean(body))


def step_mark(runner: LessonRunner, index: int, viewing: int) -> tuple[str, str]:
    """A step's mark and its style: ✓ done, ▶ current, · to come; the step being viewed reversed."""
    done, current = index in runner.completed, index == runner.step_index
    style = "green" if done else "bold yellow" if current else "dim"
    return "✓" if done else "▶" if current else "·", style + (" reverse" if index == viewing else "")


def step_list(runner: LessonRunner, viewing: int) -> Text:
    """Every step, one per line, with its mark and title."""
    lines = []
    for i, step in enumerate(runner.lesson.steps):
        mark, style = step_mark(runner, i, viewing)
        lines.append(Text(f"{mark} {i + 1}. {clean(step.title, newlines=False)}", style=style))
    return Text("\n").join(lines)


def progress_line(runner: LessonRunner, viewing: int) -> Text:
    """The step list in one line: the marks, then the title of the step being viewed."""
    line = Text.assemble(*(step_mark(runner, i, viewing) for i in range(len(runner.lesson.steps))))
    steps = runner.lesson.steps
    if viewing >= len(steps):
        return line.append(f" all {len(steps)} steps done", style="bold green")
    return line.append(f" {viewing + 1}/{len(steps)} {clean(steps[viewing].title, newlines=False)}",
                       style="bold yellow" if viewing == runner.step_index else "bold")


class LessonPanel(Vertical):
    """The lesson beside the debugger: the steps (all, or one line when room is short), the step
    being viewed in full, then hints and feedback, scrolled so the newest is in view."""

    compact = False  # the step list is one line (marks and the viewed step's title)
    anchor = 0       # the feedback item scrolled to the top of the feedback area

    def compose(self):
        yield Static(id="lesson-steps")
        with VerticalScroll(id="lesson-body"):
            yield Static(id="lesson-text")
        with VerticalScroll(id="lesson-log", can_focus=False):
            yield Static(id="lesson-feedback")

    def show(self, runner: LessonRunner, viewing: int, feedback: list[Feedback], hints: list[str],
             anchor: int | None = None) -> None:
        """``anchor``: the first item of feedback (hints follow the feedback) that is new, scrolled to the
        top of the feedback area so it is read from its start; None keeps the last one."""
        width = self.scrollable_content_region.width or 40
        rows = self.scrollable_content_region.height or 20
        text = instruction(runner, viewing)
        text_rows = plain_height(text, width) + 1  # + its top margin
        steps = step_list(runner, viewing)
        self.compact = plain_height(steps, width) + text_rows + max(MIN_FEEDBACK_ROWS, rows // 3) > rows
        if self.compact:  # no room for the list: a line of marks and the title of the step being viewed
            steps = progress_line(runner, viewing)
            text = instruction(runner, viewing, titled=False)
        self.query_one("#lesson-steps", Static).update(steps)
        body = self.query_one("#lesson-body", VerticalScroll)
        body.styles.margin = (0, 0, 0, 0) if self.compact else (1, 0, 0, 0)
        body.styles.max_height = max(3, rows - plain_height(steps, width) - (not self.compact) - MIN_FEEDBACK_ROWS)
        self.query_one("#lesson-text", Static).update(text)
        items = [(clean(f.text), PANEL_STYLE.get(f.kind, "")) for f in feedback] + [(clean(h), "cyan") for h in hints]
        self.anchor = self.anchor if anchor is None else anchor
        before = Text("\n".join(text for text, _ in items[:self.anchor]))
        lines = Text("\n").join(Text(text, style=style) for text, style in items)
        self.query_one("#lesson-feedback", Static).update(lines)
        log = self.query_one("#lesson-log", VerticalScroll)
        # the new items from their first line (scroll_to stops at the end: a short one shows what came before)
        top = plain_height(before, width - 1) if self.anchor else 0  # - 1: the scrollbar's gutter
        self.call_after_refresh(log.scroll_to, y=top, animate=False)

    def on_resize(self) -> None:
        if isinstance(self.app, LessonApp):
            self.call_after_refresh(self.app.update_panel)


class LessonApp(NndbApp):
    """NndbApp plus the lesson: every command goes through the LessonRunner, which checks the step."""

    BINDINGS = NndbApp.BINDINGS + [
        Binding("H", "hint", "Hint", tooltip="reveal the next hint for this lesson step"),
        Binding("f2", "toggle_lesson", "Lesson", tooltip="hide the lesson column (the debugger takes the width) "
                                                          "or show it again"),
        Binding("right_square_bracket", "view_step(1)", "Next step", show=False, tooltip="view the next step's text"),
        Binding("left_square_bracket", "view_step(-1)", "Prev step", show=False,
                tooltip="view the previous step's text"),
        Binding("enter", "focus_command", "Type", show=False, tooltip="back to typing commands (as `:`)"),
        Binding("ctrl+up", "scroll_feedback(-1)", "Feedback up", show=False,
                tooltip="scroll the lesson's feedback up a page (also while typing)"),
        Binding("ctrl+down", "scroll_feedback(1)", "Feedback down", show=False,
                tooltip="scroll the lesson's feedback down a page (also while typing)"),
    ]
    CSS_PATH = [NndbApp.CSS_PATH, Path(__file__).with_name("lesson.tcss")]

    def __init__(self, runner: LessonRunner):
        super().__init__(runner.session, interp=runner)
        self.runner = runner
        self.viewing = runner.step_index
        self.feedback: list[Feedback] = []
        self.hints: list[str] = []
        self.panel_shows: tuple = ()  # what the lesson panel was last drawn from
        self.back_to_typing = False  # a long command from the bar took the focus (Esc stops it); it comes back
        # while typing, the keys that are characters type; their actions leave the footer
        self.typed_actions = {parse_action(b.action)[1:] for b in self.BINDINGS
                              if all(key_to_character(k.strip()) and key_to_character(k.strip()).isprintable()
                                     for k in b.key.split(","))}

    def compose(self):
        yield from super().compose()
        yield LessonPanel(id="lesson")  # docked right, from under the header to the footer

    def after_mount(self) -> None:
        panel = self.query_one(LessonPanel)
        panel.border_title = clean(f"lesson {self.runner.lesson.order or self.runner.lesson.id}: "
                                   f"{self.runner.lesson.title}", newlines=False)
        self.query_one(CommandBar).PROMPT = BAR_TYPING
        log = self.query_one("#log", RichLog)
        log.clear()  # NndbApp's welcome names the single keys; here the learner starts typing
        self.log_line(Text.assemble(("nndb", "bold"), f" — {self.session.problem.description}."))
        self.log_line(Text("type the lesson's commands below · Esc: single keys (s, p…)",
                           style="dim"))
        if self.runner.commands:
            self.feedback.append(Feedback("info", f"resumed where you stopped ({len(self.runner.commands)} "
                                                  f"commands replayed)"))
        self.update_panel()
        self.action_focus_command()  # the learner types what the lesson asks for

    def on_resize(self, event) -> None:
        self.screen.set_class(event.size.width < NARROW, "narrow")
        # docked, it is laid out over the whole screen: its margins keep the header's and the footer's row
        self.query_one(LessonPanel).styles.height = max(event.size.height - 2, 3)
        self.call_after_refresh(self.show_mode)

    # -- the panel ---------------------------------------------------------------------------
    def update_panel(self, anchor: int | None = None) -> None:
        panel = self.query_one(LessonPanel)
        runner = self.runner
        # most commands (a step, a print) change nothing here: not redrawn, stepping stays quick
        shown = (runner.step_index, tuple(runner.completed), self.viewing, tuple(self.hints),
                 tuple(id(f) for f in self.feedback[-3:]), len(self.feedback), runner.predictions.missed is None,
                 panel.scrollable_content_region.size)
        if anchor is None and shown == self.panel_shows:
            return
        self.panel_shows = shown
        panel.show(runner, self.viewing, self.feedback, self.hints, anchor)

    def show_result(self, result, quiet_steps: bool = True):
        # the lesson's feedback (verdicts, the next step) is the lesson column's: the output panel keeps
        # the commands' own output, and its room
        super().show_result(replace(result, feedback=[]), quiet_steps)
        if result.kind != "quit":
            self.follow_lesson(result)
        return result

    def follow_lesson(self, result) -> None:
        """After a command: its feedback into the column, the hints, a new step's text."""
        began = any(f.kind == "step" for f in result.feedback)
        # a new step's question is part of its instruction; an `ask` later (checks passed, no prediction) is not
        kept = [f for f in result.feedback if f.kind != "text" and not (began and f.kind == "ask")]
        self.feedback = (self.feedback + kept)[-FEEDBACK_KEPT:]
        anchor = len(self.feedback) - len(kept) if kept else None
        if result.kind == "lesson" and result.data.get("lines") and result.command == "hint":
            self.hints = list(result.data["lines"])
            anchor = len(self.feedback) + len(self.hints) - 1  # the hint just revealed
        if began:
            self.hints = []
            self.viewing = self.runner.step_index
            self.query_one("#lesson-body", VerticalScroll).scroll_home(animate=False)
        self.update_panel(anchor)
        if self.back_to_typing:
            self.back_to_typing = False
            self.action_focus_command()

    # -- typing and single keys --------------------------------------------------------------
    @property
    def typing(self) -> bool:
        return isinstance(self.focused, CommandBar)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.typing and (action, parameters) in self.typed_actions:
            return False  # the key types a character here: not offered in the footer
        return super().check_action(action, parameters)

    def on_descendant_focus(self, event) -> None:
        self.call_after_refresh(self.show_mode)  # after NndbApp's handler has set the bar's line

    def show_mode(self) -> None:
        panel = self.query_one(LessonPanel)
        panel.border_subtitle = TYPING if self.typing else KEYS
        panel.set_class(self.typing, "typing")
        bar = self.query_one(CommandBar)
        narrow = self.size.width < NARROW
        if self.typing:
            # (set here too: the focus events of startup may arrive out of order)
            bar.placeholder = bar.PROMPT = BAR_TYPING if narrow else BAR_TYPING_WIDE
        elif self.focused is None or self.focused in panel.query("*"):
            bar.placeholder = BAR_KEYS if narrow else BAR_KEYS_WIDE

    def action_focus_listing(self) -> None:
        """Esc: single keys. The op listing takes them, or, where it made room for the lesson, the lesson."""
        if self.query_one("#ops", OpList).display:
            super().action_focus_listing()
            return
        if self.busy:
            self.interrupt_long()
        self.query_one("#lesson-body", VerticalScroll).focus()

    def on_input_submitted(self, event) -> None:
        if event.input.id == "command" and is_long(event.value, self.command_table) and not self.busy:
            self.back_to_typing = True  # NndbApp's handler moves the focus so that Esc can stop it

    def action_hint(self) -> None:
        self.run_command("hint", quiet_steps=False)

    def action_view_step(self, delta: int) -> None:
        last = len(self.runner.lesson.steps) - (not self.runner.done)  # a finished lesson: its "complete" too
        self.viewing = max(0, min(last, self.viewing + delta))
        self.update_panel()

    def action_toggle_lesson(self) -> None:
        hidden = not self.screen.has_class("lesson-hidden")
        self.screen.set_class(hidden, "lesson-hidden")
        if hidden and self.focused in self.query_one(LessonPanel).query("*"):
            self.action_focus_command()  # the focus does not stay in a hidden column

    def action_scroll_feedback(self, direction: int) -> None:
        log = self.query_one("#lesson-log", VerticalScroll)
        (log.scroll_page_down if direction > 0 else log.scroll_page_up)(animate=False)
