"""Modal screens: help (keys and commands from the registries), gradcheck, cell edit, training."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, ProgressBar, Static

from ..commands import REGISTRY
from ..render import KINKS_NOTE, kink_mark, verdict_style


class HelpScreen(ModalScreen):
    """Every key (from the bindings) and every command (from the command registry)."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def __init__(self, key_rows: list[tuple[str, str, str]], commands=None):
        super().__init__()
        self.key_rows = key_rows
        self.commands = REGISTRY if commands is None else commands

    def compose(self):
        keys = Table(title="Keys", box=None, padding=(0, 2), title_justify="left", title_style="bold")
        keys.add_column("key", style="bold yellow", no_wrap=True)
        keys.add_column("does")
        keys.add_column("where", style="dim")
        for key, description, where in self.key_rows:
            keys.add_row(Text(key), Text(description), Text(where))
        commands = Table(title="Commands (the command bar, `:`, takes the same commands as `nndb repl`)",
                         box=None, padding=(0, 2), title_justify="left", title_style="bold")
        commands.add_column("usage", style="bold cyan", no_wrap=True)
        commands.add_column("does")
        for c in self.commands.values():
            aliases = f" ({', '.join(c.aliases)})" if c.aliases else ""
            commands.add_row(Text(c.usage + aliases), Text(c.summary))
        with VerticalScroll(id="help-body"):
            yield Static(Text("nndb help — Esc closes", style="bold"))
            yield Static(keys)
            yield Static(commands)


class GradcheckScreen(ModalScreen):
    """The rows of a gradient check, its verdict, and what was compared."""

    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close")]

    def __init__(self, data: dict, message: str):
        super().__init__()
        self.data, self.message = data, message

    def compose(self):
        with Vertical(id="gradcheck-body"):
            yield Label(Text(f"gradcheck {self.data['spec']}", style="bold"))
            table = DataTable(id="gradcheck-table", cursor_type="row", zebra_stripes=True)
            yield table
            worst = self.data["worst"]
            style = verdict_style(worst, self.data.get("verdict"))
            yield Static(Text(self.message, style=style), id="gradcheck-verdict")
            notes = self.data["explanation"]
            if self.data["kinks"]:
                notes += f"\n{self.data['kinks']} row(s) {KINKS_NOTE}."
            yield Static(Text(notes, style="dim"))
            yield Static(Text("Esc closes", style="dim"))

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("parameter", "analytic", "numerical", "rel. error", "verdict")
        for r in self.data["rows"]:
            style = verdict_style(r["rel_error"], r["verdict"])
            table.add_row(r["parameter"], f"{r['analytic']:.8g}", f"{r['numerical']:.8g}",
                          Text(f"{r['rel_error']:.2e}", style=style), kink_mark(r))


class EditScreen(ModalScreen[str | None]):
    """Type a new value for one cell; the app runs `set TARGET = VALUE` with it."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, target: str, current: float, apply):
        """``apply(text)`` runs the edit and returns an error message, or None when it was applied."""
        super().__init__()
        self.target, self.current, self.apply = target, current, apply

    def compose(self):
        with Vertical(id="edit-body"):
            yield Label(Text.assemble(("set ", "bold"), (self.target, "bold cyan"), " = "))
            yield Input(value=f"{self.current:.6g}", id="edit-value")
            yield Static(Text("a number or an expression (0.5, -W1[0,1], 2*b1[0]); Enter applies, Esc cancels. "
                              "The edit takes effect right after the current op.", style="dim"))
            yield Static(id="edit-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            self.show_error("type a value, or Esc to cancel")
            return
        error = self.apply(event.value)
        if error:
            self.show_error(error)  # stay open: fix the value or Esc
        else:
            self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def show_error(self, message: str) -> None:
        self.query_one("#edit-error", Static).update(Text(message, style="bold red"))


class TrainScreen(ModalScreen):
    """Ask how long to train, then show progress; Esc stops training (what was trained is kept)."""

    BINDINGS = [Binding("escape", "stop", "Stop / close")]

    def __init__(self, default: str = "100"):
        super().__init__()
        self.default = default
        self.running = False

    def compose(self):
        with Vertical(id="train-body"):
            # what `train` takes after its name (its usage line), in the box's 60 columns
            yield Label(Text("train on the whole dataset: N iterations, or N epochs\n", style="bold") +
                        Text("then, optionally: batch B (minibatch size) · --record FILE"), id="train-label")
            yield Input(value=self.default, id="train-count")
            bar = ProgressBar(id="train-progress", show_eta=True)
            bar.display = False  # until training starts
            yield bar
            yield Static(Text("Enter starts · Esc closes (while training: Esc stops, keeping what was trained)",
                              style="dim"), id="train-status")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not self.running:
            self.app.start_training(event.value, self)

    def action_stop(self) -> None:
        if self.running:
            self.app.stop_training()
        else:
            self.dismiss()

    def progress(self, done: int, total: int, loss: float) -> None:
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=total, progress=done)
        self.query_one("#train-status", Static).update(f"iteration {done}/{total}   loss {loss:.4f}   Esc stops")

    def status(self, message: str, error: bool = False) -> None:
        self.query_one("#train-status", Static).update(Text(message, style="bold red" if error else ""))
