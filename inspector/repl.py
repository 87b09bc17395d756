"""The line REPL (prompt_toolkit + rich) and the scripted mode (commands from a file or a pipe)."""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Iterable, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import Completer, Completion, PathCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, InMemoryHistory
from rich.console import Console
from rich.text import Text
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from .commands import Interpreter, Result, lookup
from .guards import clean
from .complete import complete, names_of
from .render import render_result
from .session import Session

PROMPT = "(nndb) "


def state_dir() -> Path:
    """$XDG_STATE_HOME/nndb (default ~/.local/state/nndb), where history and progress live."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "nndb"


class SessionCompleter(Completer):
    """Thin wrapper: prompt_toolkit asks, ``complete`` answers; file arguments complete paths."""

    def __init__(self, session: Session, commands=None):
        self.session, self.commands = session, commands
        self.paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, complete_event):
        text = document.text_before_cursor
        head, sep, rest = text.lstrip().partition(" ")
        cmd = lookup(head, self.commands) if sep else None
        for c in complete(text, names_of(self.session), self.commands):  # a file command's declared choices too
            yield Completion(c.text, start_position=c.start, display_meta=c.meta)
        if cmd is not None and cmd.args == "file":
            yield from self.paths.get_completions(Document(rest, len(rest)), complete_event)


def toolbar(session: Session) -> str:
    w = session.where()
    loss = f" · loss {w['loss']:.5g}" if w["loss"] is not None else ""
    op = f"op {w['position']}/{w['ops'] - 1} {w['phase']} {w['op']}" if w["op"] else "start of iteration"
    return f" {clean(session.source)} · iteration {w['iteration']} · {op}{loss} · help: commands · Ctrl-D: quit"


def print_result(console: Console, result: Result) -> None:
    for part in render_result(result):
        console.print(part)


def run_with_progress(interp: Interpreter, line: str, console: Console) -> Result:
    """Run a line; a `train` gets a progress bar."""
    head = line.strip().partition(" ")[0]
    cmd = lookup(head, getattr(interp, "command_table", None))
    if cmd is None or cmd.name != "train":
        return interp.run(line)
    columns = (TextColumn("training"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("loss {task.fields[loss]:.4f}"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("train", total=None, loss=float("nan"))

        def update(done, total, loss):
            if done % 10 == 0 or done == total:
                progress.update(task, completed=done, total=total, loss=loss)
        return interp.run(line, progress=update)


def repl(session: Session, console: Console | None = None, input=None, output=None, interp=None,
         banner=None) -> int:
    """The interactive loop. ``input``/``output`` let tests drive it through a pipe; ``interp``
    (anything with Interpreter's ``run`` and ``command_table``) lets a wrapper such as a lesson see every command."""
    console = console or Console()
    interp = interp or Interpreter(session)
    try:
        folder = state_dir()
        folder.mkdir(parents=True, exist_ok=True)
        history = FileHistory(str(folder / "repl_history"))
    except OSError:
        history = InMemoryHistory()
    prompt = PromptSession(history=history, auto_suggest=AutoSuggestFromHistory(),
                           completer=SessionCompleter(session, interp.command_table), complete_while_typing=False,
                           bottom_toolbar=lambda: toolbar(session), input=input, output=output)
    console.print(Text.assemble(("nndb", "bold"), f" — {session.problem.description}. ",
                                ("step (s), next (n), back, continue (c), print, explain, set, gradcheck; "
                                 "help lists all.", "dim")))
    for part in banner or []:
        console.print(part)
    print_result(console, interp.run("show"))
    while True:
        try:
            line = prompt.prompt(PROMPT)
        except KeyboardInterrupt:
            continue
        except EOFError:
            return 0
        try:  # Ctrl-C stops the command (the interpreter reports it) or its output, never the session
            result = run_with_progress(interp, line, console)
            print_result(console, result)
        except KeyboardInterrupt:
            console.print(Text("interrupted (Ctrl-C)", style="yellow"))
            continue
        if result.kind == "quit":
            return 0


def json_line(obj) -> str:
    """One JSON object on one line: U+2028/U+2029 (line breaks to some readers) and the C1 controls
    escaped too, which ``json.dumps(ensure_ascii=False)`` would leave raw."""
    text = json.dumps(obj, ensure_ascii=False)
    return re.sub("[\u0080-\u009f\u2028\u2029]", lambda m: f"\\u{ord(m.group()):04x}", text)


def run_script(session: Session, lines: Iterable[str], console: Console, json_mode: bool = False,
               out: TextIO | None = None, interp=None) -> int:
    """Run commands without prompts. Exit status 1 if any command failed, else 0."""
    out = out or sys.stdout
    interp = interp or Interpreter(session)
    failed = 0
    for raw in lines:
        line = raw.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue  # in scripts an empty line does not repeat: what you read is what runs
        result = interp.run(line)
        failed += not result.ok
        if json_mode:
            out.write(json_line(result.to_json()) + "\n")
            out.flush()
        else:
            console.print(Text(PROMPT + clean(line), style="dim"))
            print_result(console, result)
        if result.kind == "quit":
            break
    return 1 if failed else 0
