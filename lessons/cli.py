"""The ``nndb`` entry point: inspector.cli's one argparse tree, with ``lessons`` and ``lesson`` added to it.

It sits in lessons/ because lessons is the outermost layer (lessons → inspector → engine): the
debugger's CLI never imports the lessons; this module hands it the lesson subcommands
(``add_lesson_parsers``) to put in the same tree, so `nndb --help` lists them all.
"""
from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.table import Table
from rich.text import Text

from inspector import cli as debugger_cli
from inspector.errors import SessionError
from inspector.guards import clean

from .commands import lesson_commands
from .exercises.cli import add_exercise_parsers
from .format import LessonFormatError
from .library import all_lessons, find_lesson
from .setup_data import MNIST_NOTE, missing_data
from .predictions import tally_text
from .progress import ProgressStore, prediction_tally


def status_of(store: ProgressStore, lesson) -> str:
    record = store.get(lesson.id)
    if record["done"]:
        return "done"
    if record["commands"]:
        return f"step {record['step'] + 1}/{len(lesson.steps)}"
    return "not started"


def cmd_lessons(args, console: Console) -> int:
    errors: list[str] = []  # a lesson that cannot be read is reported; the others are still listed
    lessons = all_lessons(args.lessons_dir, errors)
    store = ProgressStore()
    if args.reset:
        if args.reset == "all":
            store.reset()
        else:
            store.reset(find_lesson(lessons, args.reset).id)
        console.print(f"progress reset: {args.reset}")
    if store.warning:
        console.print(Text(store.warning, style="bold yellow"))
    table = Table(title="nndb lessons", box=None, padding=(0, 2), title_justify="left", title_style="bold")
    for col in ("#", "id", "lesson: what you will learn", "status"):
        table.add_column(col, justify="right" if col == "#" else "left", no_wrap=col in ("#", "id"))
    track = None
    for i, lesson in enumerate(lessons, 1):
        if lesson.track != track:  # lessons come grouped by track (library.by_track)
            track = lesson.track
            table.add_row("", Text(f"── {clean(track, newlines=False)}", style="bold"), "", "")
        status = status_of(store, lesson)
        style = "green" if status == "done" else "yellow" if status.startswith("step") else "dim"
        about = Text.assemble((clean(lesson.title), "bold"), "\n", (clean(lesson.learn), "dim"))
        if missing_data(lesson.setup):  # a lesson on MNIST, and no MNIST folder here: say so before it is started
            about.append(f"\n{MNIST_NOTE}", style="yellow")
        tally = tally_text(prediction_tally(store.get(lesson.id)))  # under the status: "4/6 right first time"
        table.add_row(str(i), clean(lesson.id, newlines=False), about,
                      Text.assemble((status, style), ("\n" + tally if tally else "", "cyan")))
    console.print(table)
    console.print(Text("nndb lesson ID (or its number) starts or resumes one; --repl for the line REPL", style="dim"))
    for message in errors:  # listed above without them; exit 2 says some could not be read
        console.print(Text(clean(f"error: {message} (this lesson is not listed)"), style="bold red"))
    return 2 if errors else 0


def lesson_banner(runner) -> list[Text]:
    """What the REPL shows when a lesson starts or resumes: its title, intro, current step and, resumed, the tally."""
    lesson = runner.lesson
    banner = [Text(clean(f"lesson {lesson.id}: {lesson.title}"), style="bold"),
              Text(clean(f"you will learn: {lesson.learn}")),
              Text(clean(lesson.intro))] + [Text(clean(line), style="green") for line in runner.step_lines()]
    if runner.commands:
        tally = tally_text(runner.predictions.tally())
        banner.insert(1, Text(f"resumed: replayed your {len(runner.commands)} commands"
                              + (f"; your predictions so far: {tally}" if tally else ""), style="yellow"))
    return banner


def cmd_lesson(args, console: Console) -> int:
    from .runner import LessonRunner
    errors: list[str] = []
    lessons = all_lessons(args.lessons_dir, errors)
    try:
        lesson = find_lesson(lessons, args.id)
    except KeyError as e:
        if errors:  # the one asked for may be a lesson that could not be read: say why
            raise LessonFormatError("\n".join([e.args[0], *errors])) from None
        raise
    store = ProgressStore()
    if store.warning:
        console.print(Text(store.warning, style="bold yellow"))
    if args.reset:
        store.reset(lesson.id)
    runner = LessonRunner(lesson, store)
    banner = lesson_banner(runner)
    if args.repl or not (sys.stdin.isatty() and sys.stdout.isatty()):
        from inspector.repl import repl, run_script
        if not sys.stdin.isatty():
            return run_script(runner.session, debugger_cli.stdin_lines(), console, interp=runner)
        return repl(runner.session, console, interp=runner, banner=banner)
    from .tui import LessonApp
    LessonApp(runner).run()
    return 0


def add_lesson_parsers(sub) -> None:
    """`nndb lessons` and `nndb lesson ID`, in inspector.cli's tree of subcommands."""
    listing = sub.add_parser("lessons", help="the guided lessons, with your progress")
    listing.add_argument("--reset", metavar="ID|all", help="forget the progress of one lesson, or all")
    listing.set_defaults(run=lesson_errors(cmd_lessons))
    one = sub.add_parser("lesson", help="start or resume a lesson (in the TUI; --repl for the REPL)")
    one.add_argument("id", help="lesson id or number (nndb lessons lists them)")
    one.add_argument("--repl", action="store_true", help="in the line REPL instead of the TUI")
    one.add_argument("--reset", action="store_true", help="start the lesson over")
    one.set_defaults(run=lesson_errors(cmd_lesson))
    for p in (listing, one):
        p.add_argument("--lessons-dir", action="append", default=[], metavar="PATH",
                       help="a folder of extra lessons (docs/lessons.md); may be repeated")


def lesson_errors(command):
    """``command(args, console)``, with a lesson file's, a lesson id's or a session's error reported."""
    def run(args, console: Console) -> int:
        try:
            return command(args, console)
        except (LessonFormatError, SessionError, KeyError) as e:
            console.print(Text(f"error: {e.args[0] if isinstance(e, KeyError) else e}", style="bold red"))
            return 2
    return run


def main(argv: list[str] | None = None) -> int:
    try:
        # outside a lesson, `hint` or `answer` in the debugger says how to start one
        return debugger_cli.main(argv, extensions=[add_lesson_parsers, add_exercise_parsers],
                                 commands=lesson_commands())
    except BrokenPipeError:  # `nndb --help | head`: the reader left; nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
