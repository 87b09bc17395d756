"""The Textual app: the session's iteration on one screen, driven by keys, mouse and the command bar."""
from __future__ import annotations

import gc
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Header, Input, OptionList, RichLog, Static, TabbedContent, TabPane, Tabs, Tree

from engine.gradcheck import format_index

from ..commands import REGISTRY, Interpreter, Result
from ..guards import clean
from ..render import feedback_lines, render_result, where_line
from ..session import Session
from .boundarytab import BoundaryPanel
from .costtab import CostPanel
from .longwork import LongWork, is_long
from .matrix import SLICE_KEYS, MatrixView
from .network import diagram, is_small, summary
from .timeline import TimePanel, has_timesteps
from .screens import EditScreen, GradcheckScreen, HelpScreen, TrainScreen
from .widgets import CommandBar, KeysFooter, LossPanel, OpList, OpPanel, ParamsPanel

WIDE = 160  # columns from which the loss and watches get a column of their own


class CommandsProvider(Provider):
    """The command palette offers every command the app's interpreter runs."""

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for c in self.app.command_table.values():
            score = matcher.match(f"{c.name} {c.summary}")
            if score > 0:
                yield Hit(score, matcher.highlight(f"{c.name}: {c.summary}"),
                          partial(self.app.palette_command, c.name), help=c.usage)

    async def discover(self) -> Hits:
        for c in self.app.command_table.values():
            yield Hit(1.0, f"{c.name}: {c.summary}", partial(self.app.palette_command, c.name), help=c.usage)


class NndbApp(LongWork, App):
    """nndb's terminal UI."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    TITLE = "nndb"
    COMMANDS = App.COMMANDS | {CommandsProvider}
    BINDINGS = [
        # the footer shows them in this order and an 80-column one ends after `:`; `?` lists them all
        Binding("question_mark,f1", "help", "Help", tooltip="every key and command"),
        Binding("s", "command('step')", "Step", tooltip="run the next op"),
        Binding("p", "command('back')", "Back", tooltip="step back one op (time travel)"),
        Binding("e", "edit_cell", "Edit", tooltip="edit the selected cell"),
        Binding("x", "explain_cell", "Explain", tooltip="explain how the selected cell was computed"),
        Binding("g", "gradcheck_cell", "Gradcheck", tooltip="gradient-check the selected cell's neuron"),
        Binding("T", "train", "Train", tooltip="train N iterations at full speed"),
        Binding("colon", "focus_command", "Command", tooltip="type a command (the REPL's language)"),
        Binding("n", "command('next')", "Next", tooltip="run to the next layer"),
        Binding("c", "command('continue')", "Cont", tooltip="run to a breakpoint or the end of the iteration"),
        Binding("r", "command('finish')", "Finish", tooltip="run to the end of this phase"),
        Binding("q", "quit", "Quit", tooltip="leave nndb"),
        Binding("o", "focus_output", "Output", show=False,
                tooltip="the output panel: ↑↓ PgUp PgDn scroll it, Esc leaves"),
        Binding("escape", "focus_listing", "Listing", show=False, tooltip="back to the op listing"),
        Binding("R", "command('reset')", "Reset", show=False, tooltip="start over (same preset and seed)"),
        Binding("1", "tab('tab-op')", "Op tab", show=False),
        Binding("2", "tab('tab-params')", "Parameters tab", show=False),
        Binding("3", "tab('tab-network')", "Network tab", show=False),
        Binding("4", "tab('tab-loss')", "Loss tab", show=False),
        Binding("5", "tab('tab-time')", "Time tab", show=False,
                tooltip="Time tab: ‖dh_t‖ per timestep (models with an RNN)"),
        Binding("6", "tab('tab-boundary')", "Boundary tab", show=False,
                tooltip="Boundary tab: the class predicted over the plane (2-input data)"),
        Binding("l", "focus_listing", "Listing", show=False, tooltip="focus the op listing"),
        # shown in the footer by a focused matrix (MatrixView.BINDINGS); these act from anywhere
        *[replace(b, action=b.action.removeprefix("app."), show=False) for b in SLICE_KEYS],
    ]

    def __init__(self, session: Session, interp=None):
        """``interp``: anything with Interpreter's ``run`` and ``command_table`` (a lesson wraps the interpreter)."""
        super().__init__()
        self.session = session
        self.interp = interp or Interpreter(session)
        self.command_table = getattr(self.interp, "command_table", REGISTRY)  # what the palette and help offer
        self.baseline: dict[int, dict[str, np.ndarray]] = {}  # the tape before the latest edit
        self.baseline_at: int | None = None
        self.cancel_training = False
        self.slices: dict[str, int] = {}  # the index shown per kind of axis of 3-D/4-D arrays (matrix.slice_key)

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield OpList(id="ops")
            with TabbedContent(initial="tab-op", id="tabs"):
                with TabPane("Op", id="tab-op"):
                    yield OpPanel(id="op-panel")
                with TabPane("Parameters", id="tab-params"):
                    yield ParamsPanel(id="params")
                with TabPane("Network", id="tab-network"):
                    with VerticalScroll():
                        yield Static(id="network")
                with TabPane("Loss", id="tab-loss"):
                    yield LossPanel(id="loss-tab")
                with TabPane("Time", id="tab-time"):
                    yield TimePanel(id="time-panel")
                with TabPane("Boundary", id="tab-boundary"):
                    yield BoundaryPanel(id="boundary-panel")
                with TabPane("Cost", id="tab-cost"):
                    yield CostPanel(id="cost-panel")
            with Vertical(id="side"):
                yield LossPanel(id="loss-side")
            yield from self.compose_extra()
        # min_width: RichLog's default 78 is wider than the panel at 80 columns, cutting each line's last character
        yield RichLog(id="log", wrap=True, markup=False, highlight=False, max_lines=500, min_width=20)
        yield CommandBar(lambda: self.session, self.command_table, id="command")
        yield KeysFooter(compact=True)

    def compose_extra(self) -> ComposeResult:
        """Hook for subclasses: panels placed right of the main view (the lesson panel)."""
        return iter(())

    def after_mount(self) -> None:
        """Hook for subclasses, run at the end of on_mount. (A subclass's own on_mount would run as
        well as this one, Textual calls the handlers of every class in the MRO, so a super() call
        in it would run this one twice.)"""

    def on_mount(self) -> None:
        self.has_time = True  # the Time tab until refresh_views hides it for a model without an RNN
        self.query_one("#tabs", TabbedContent).hide_tab("tab-cost")  # until `cost` runs (costtab.py)
        self.query_one("#ops", OpList).border_title = "iteration"
        log = self.query_one("#log", RichLog)
        log.border_title, log.border_subtitle = "output", "o scrolls"
        self.refresh_views()
        self.log_line(Text.assemble(("nndb", "bold"), f" — {self.session.problem.description}."))
        self.log_line(Text("s step · p back · e edit · x explain · g gradcheck · : command · ? help",
                           style="dim"))  # one line at 80 columns
        for note in getattr(self.session, "opening_notes", ()):  # `--use FILE`: whose code runs
            self.log_line(Text(note, style="yellow"))
        self.query_one("#ops", OpList).focus()
        self.after_mount()
        # Keep what startup built (Textual, NumPy, the dataset) out of the collector's full passes,
        # which otherwise pause a step for 50 ms every few steps; thawed again on unmount.
        gc.freeze()

    def on_unmount(self) -> None:
        gc.unfreeze()

    def on_resize(self, event) -> None:
        self.screen.set_class(event.size.width >= WIDE, "wide")
        self.screen.set_class(event.size.height < 30, "short")

    # -- refreshing --------------------------------------------------------------------------
    def refresh_views(self, follow: bool = True) -> None:
        s = self.session
        w = s.where()
        self.sub_title = where_line(w).plain
        self.query_one("#ops", OpList).border_title = f"iteration {w['iteration']}"
        self.query_one("#ops", OpList).show(s, follow=follow)
        if self.baseline_at != s.current.number or not s.current.edits:
            self.baseline, self.baseline_at = {}, None
        self.query_one("#op-panel", OpPanel).show(s, self.baseline)
        tabs = self.query_one("#tabs", TabbedContent)
        has_time = has_timesteps(s)
        if has_time != self.has_time:  # a loaded model may bring or drop its RNN
            self.has_time = has_time
            if not has_time and tabs.active == "tab-time":
                tabs.active = "tab-op"
            (tabs.show_tab if has_time else tabs.hide_tab)("tab-time")
        active = tabs.active
        if active == "tab-time":
            self.query_one("#time-panel", TimePanel).show(s)
        if active == "tab-cost":
            self.query_one("#cost-panel", CostPanel).show(s)
        if active == "tab-boundary":
            self.query_one("#boundary-panel", BoundaryPanel).show(s)
        if active == "tab-params":
            self.query_one("#params", ParamsPanel).show(s)
        if active == "tab-network":
            self.query_one("#network", Static).update(diagram(s) if is_small(s) else summary(s))
        for panel in self.query(LossPanel):
            if panel.id == "loss-side" and not self.screen.has_class("wide") and active != "tab-loss":
                continue
            panel.show(s)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if not self.busy:  # a long command's worker owns the session; its end refreshes the views
            self.refresh_views(follow=False)

    def log_line(self, renderable) -> None:
        self.query_one("#log", RichLog).write(renderable)

    def log_parts(self, parts: list) -> None:
        """Write one command's output; the panel grows while that output is longer than it (80×24
        leaves it two lines), showing the output's first line, and shrinks for the next short one."""
        log = self.query_one("#log", RichLog)
        start = len(log.lines)
        for part in parts:
            self.log_line(part)
        if not log.has_class("expanded"):
            self.log_base = log.scrollable_content_region.height
        log.set_class(len(log.lines) - start > getattr(self, "log_base", 5), "expanded")
        if log.has_class("expanded"):
            self.call_after_refresh(self.show_output_from, start)

    def show_output_from(self, start: int) -> None:
        """After the panel grew: the output's first line at its top, the focused cell still in view."""
        self.query_one("#log", RichLog).scroll_to(y=start, animate=False)
        if self.focused is not None:
            self.focused.scroll_visible(animate=False)

    def on_descendant_focus(self, event) -> None:
        """The command bar's empty line says where focus is on the main screen and how to move it."""
        bar = self.query_one("#command", CommandBar)
        if event.widget.screen is bar.screen:  # not a dialog's widget
            bar.placeholder = focus_hint(event.widget) if event.widget is not bar else bar.PROMPT

    # -- running commands ----------------------------------------------------------------------
    def run_command(self, line: str, quiet_steps: bool = True) -> Result:
        """Run one command line through the shared interpreter and show what it produced."""
        if self.busy:  # a long command owns the session until it ends
            self.notify("a command is still running: Esc or q stops it", severity="warning", timeout=3)
            return Result(line, False, "error", "a command is still running")
        before = {op.index: dict(op.outputs) for op in self.session.tape}
        number = self.session.current.number
        try:
            result = self.interp.run(line)
        except Exception as e:  # the interpreter catches user errors; this is a last guard
            result = Result(line, False, "error", f"internal error: {type(e).__name__}: {e}")
        if result.ok and result.kind == "edit" and self.session.current.number == number:
            if self.baseline_at != number:
                self.baseline, self.baseline_at = before, number
        return self.show_result(result, quiet_steps)

    def show_result(self, result: Result, quiet_steps: bool = True) -> Result:
        if result.kind == "quit":
            self.exit()
            return result
        if result.kind == "op" and quiet_steps:
            w = result.data["where"]
            parts = [where_line(w) + Text(f"   {w['equation'] or ''}")]
            parts += [Text(n, style="yellow") for n in result.data.get("notes", [])]
            if result.data.get("reason"):
                parts.insert(0, Text(f"stopped: {result.data['reason']}", style="bold yellow"))
            parts += feedback_lines(result)
        elif result.ok and result.kind in ("cost", "vectorize"):  # the table goes to the Cost tab
            self.show_cost(result)
            parts = [Text(f"» {result.command}", style="dim"), Text(f"{result.message} (the Cost tab)")]
        else:
            parts = [Text(f"» {result.command}", style="dim")] + render_result(result)
        self.log_parts(parts)
        if not result.ok:
            self.notify(clean(result.message), title="error", severity="error", timeout=6)
        self.refresh_views()
        self.after_command(result)
        return result

    def show_cost(self, result: Result) -> None:
        """Put a `cost` result in the Cost tab (shown from the first one on) and switch to it."""
        self.query_one("#tabs", TabbedContent).show_tab("tab-cost")
        self.query_one("#cost-panel", CostPanel).show_result(result, self.session.current.number)
        self.action_tab("tab-cost")

    def after_command(self, result: Result) -> None:
        """Hook for subclasses (the lesson app updates its panel here)."""

    def action_command(self, line: str) -> None:
        self.run_command(line)

    def palette_command(self, name: str) -> None:
        cmd = self.command_table[name]
        takes_args = "[" in cmd.usage or any(ch.isupper() for ch in cmd.usage)
        if takes_args:
            bar = self.query_one("#command", CommandBar)
            bar.value = name + " "
            bar.cursor_position = len(bar.value)
            bar.focus()
        else:
            self.run_command(name)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "command":
            return
        line = event.value
        event.input.remember(line)
        event.input.value = ""
        if is_long(line, self.command_table) and not self.busy:  # in a worker: Esc or q stops it
            self.action_focus_listing()
            self.start_long(line)
            return
        self.run_command(line, quiet_steps=False)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id and event.option.id.isdigit():
            self.run_command(f"goto {event.option.id}")

    # -- actions -----------------------------------------------------------------------------
    def action_focus_command(self) -> None:
        self.query_one("#command", CommandBar).focus()

    def action_focus_listing(self) -> None:
        if self.busy:
            self.interrupt_long()
        self.query_one("#ops", OpList).focus()

    async def action_quit(self) -> None:
        if self.busy:  # q stops the long command first; a second q (after it) leaves
            self.interrupt_long()
            return
        self.exit()

    def action_focus_output(self) -> None:
        self.query_one("#log", RichLog).focus()

    def action_focus_pane(self) -> None:
        """Tab from the listing: into the tab's first matrix (or tree), past the tab strip."""
        tabs = self.query_one("#tabs", TabbedContent)
        pane = tabs.get_pane(tabs.active) if tabs.active else None
        targets = [w for w in pane.query("MatrixView, Tree") if w.display and w.focusable] if pane else []
        if targets:
            targets[0].focus()
        else:
            self.screen.focus_next()

    def action_tab(self, tab: str) -> None:
        tabs = self.query_one("#tabs", TabbedContent)
        if tab == "tab-time" and not self.has_time:
            self.notify("the Time tab shows ‖dh_t‖ per timestep of a recurrent layer; this model has none",
                        severity="warning")
            return
        if tab != tabs.active and self.focused is not None and tabs.active \
                and tabs.get_pane(tabs.active) in self.focused.ancestors:
            # a focused widget in the pane being hidden passes focus to a sibling there, which
            # switches the tab straight back: leave the pane first
            self.screen.set_focus(self.query_one("#ops", OpList))
        tabs.active = tab

    def action_run_to_selected(self) -> None:
        index = self.query_one("#ops", OpList).selected_op
        if index is not None:
            self.run_command(f"goto {index}")

    def action_toggle_breakpoint(self) -> None:
        index = self.query_one("#ops", OpList).selected_op
        if index is None or self.busy:  # the worker may be replacing the tape right now
            return
        name = self.session.tape[index].name
        existing = [b for b in self.session.breakpoints if b.spec == name]
        if existing:
            self.run_command(f"delete {existing[0].number}", quiet_steps=False)
        else:
            self.run_command(f"break {name}", quiet_steps=False)
        self.query_one("#ops", OpList).highlight_op(index)  # stay on the op whose mark changed

    def focused_matrix(self) -> MatrixView | None:
        """The matrix focused on the main screen, also while a dialog is open over it."""
        focused = self.screen_stack[0].focused if self.screen_stack else None
        return focused if isinstance(focused, MatrixView) else None

    def slice_view(self, axis: int) -> MatrixView | None:
        """The array the slice keys move: the focused matrix, else the op's first one with that index."""
        focused = self.focused_matrix()
        if focused is not None:
            return focused
        views = [v for v in self.query_one("#op-panel", OpPanel).views() if v.display]
        return next((v for v in views if axis < len(v.lead)), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A focused matrix offers the slice keys (in the footer) only for the indices it can move."""
        if action == "slice":
            focused = self.focused_matrix()
            return focused is None or parameters[0] < len(focused.lead)
        return True

    def action_slice(self, axis: int, delta: int) -> None:
        """Show the previous/next slice of a 3-D/4-D array along its first (axis 0) or second index."""
        view = self.slice_view(axis)
        if view is None or axis >= len(view.lead):
            what = ("a 3-D or 4-D array (a sequence batch, feature maps, filters)" if axis == 0
                    else "a 4-D array (feature maps or filters)")
            self.notify(f"nothing to slice: the {'first' if axis == 0 else 'second'} index moves through {what}",
                        severity="warning")
            return
        view.step_slice(axis, delta)

    def on_matrix_view_slice_changed(self, event: MatrixView.SliceChanged) -> None:
        """Every other view follows: the op's arrays stay on one example and channel."""
        for view in self.query(MatrixView):
            if view is not event.view and view.lead:
                view.sync_slice()

    def selected_cell(self) -> tuple[MatrixView, str] | None:
        """The cell the keys act on: the focused matrix view's cursor, else the op's first result."""
        focused = self.focused
        view = focused if isinstance(focused, MatrixView) else self.query_one("#op-panel", OpPanel).selected_view()
        if view is None or not view.grid.size:
            self.notify("no cell selected: Tab into a matrix, move with the arrows", severity="warning")
            return None
        return view, view.symbol + (format_index(view.selected_index) if view.array.ndim else "")

    def action_edit_cell(self) -> None:
        picked = self.selected_cell()
        if picked is None:
            return
        view, target = picked

        def apply(value: str) -> str | None:
            result = self.run_command(f"set {target} = {value}", quiet_steps=False)
            if not result.ok:
                return result.message
            return None  # the output panel shows the loss before/after and what changed (no toast over the matrix)
        self.push_screen(EditScreen(target, view.selected_value, apply))

    def action_explain_cell(self) -> None:
        picked = self.selected_cell()
        if picked is None:
            return
        self.run_command(f"explain {picked[1]}", quiet_steps=False)  # the output panel grows to show it

    def neuron_of(self, symbol: str, index: tuple) -> tuple[str, int] | None:
        """The layer and unit a cell belongs to, as the layers say (``model.unit_of``): dense W1[:,j],
        b1[j], Z1[:,j], A1[:,j], dZ1[:,j]…; conv filter j: K1[j], b1[j], channel j of Z1 and A1; RNN
        hidden unit j: Wx1[:,j], h1_t[:,j]… (an LSTM's Wx1[:,n·q+j] for each gate q); vW1 as W1."""
        found = self.session.model.unit_of(symbol, tuple(index)) if index else None
        return (found[0].name, found[1]) if found else None

    def axis_names(self, symbol: str) -> tuple[str, ...] | None:
        """What the leading axes of a 3-D/4-D array index, as its layer says (the matrix views ask)."""
        return self.session.model.axis_names(symbol)

    def action_gradcheck_cell(self) -> None:
        picked = self.selected_cell()
        if picked is None:
            return
        view, _ = picked
        neuron = self.neuron_of(view.symbol, view.selected_index)
        if neuron is None:
            self.notify(f"{view.symbol} does not belong to a neuron; select a cell of W, b, Z or A",
                        severity="warning")
            return
        result = self.run_command(f"gradcheck {neuron[0]} {neuron[1]}", quiet_steps=False)
        if result.ok:
            self.push_screen(GradcheckScreen(result.data, result.message))

    def action_help(self) -> None:
        rows, listed = [], set()
        for source, where in ((self.BINDINGS, "anywhere"), (OpList.BINDINGS, "op listing"),
                              (MatrixView.BINDINGS, "matrix"), (CommandBar.BINDINGS, "command bar")):
            for b in source:
                if (b.key, b.action.removeprefix("app.")) in listed:
                    continue  # the slice keys: listed once, under "anywhere"
                listed.add((b.key, b.action.removeprefix("app.")))
                rows.append((b.key_display or b.key.replace("question_mark", "?").replace("colon", ":"),
                             b.tooltip or b.description, where))
        rows += [("enter / click", "run (or go back) to that op", "op listing"),
                 ("click", "select a cell", "matrix"),
                 ("click ◀ ▶", "the previous/next slice of a 3-D/4-D array (its header line)", "matrix"),
                 ("tab", "move between panels", "anywhere"),
                 ("ctrl+p", "command palette: every command", "anywhere")]
        self.clear_notifications()  # a toast would sit over the help's top right corner
        self.push_screen(HelpScreen(rows, self.command_table))

    # -- training in a worker ----------------------------------------------------------------
    def action_train(self) -> None:
        self.push_screen(TrainScreen())

    def start_training(self, text: str, screen: TrainScreen) -> None:
        screen.running = True
        self.cancel_training = False
        self.train_worker(text.strip(), screen)

    def stop_training(self) -> None:
        self.cancel_training = True

    @work(thread=True, exclusive=True, group="train")
    def train_worker(self, text: str, screen: TrainScreen) -> None:
        def progress(done: int, total: int, loss: float) -> bool:
            if done == total or done % max(1, total // 100) == 0:
                self.call_from_thread(screen.progress, done, total, loss)
            return self.cancel_training
        result = self.interp.run(f"train {text}", progress=progress)
        self.call_from_thread(self.training_done, result, screen)

    def training_done(self, result: Result, screen: TrainScreen) -> None:
        screen.running = False
        self.log_parts([Text(f"» {result.command}", style="dim")] + render_result(result))
        if result.ok:
            screen.dismiss()  # the output panel shows what was trained (no toast over it)
        else:
            screen.status(result.message, error=True)
        self.refresh_views()


def focus_hint(widget) -> str:
    """One line (under 78 columns) for the focused panel: what it is, its keys, how to leave it."""
    if isinstance(widget, OpList):
        return "▸ listing: ↑↓ pick an op · Enter run to it · b break · Tab into the op"
    if isinstance(widget, MatrixView):
        return f"▸ {widget.symbol}: arrows move · e edit · x explain · g check · h heat map · Esc back"
    if isinstance(widget, RichLog):
        return "▸ output: ↑↓ PgUp PgDn scroll · Esc back to the listing"
    if isinstance(widget, Tree):
        return "▸ parameters: ↑↓ pick one, its values below · Tab into them · Esc back"
    if isinstance(widget, Tabs):
        return "▸ tabs: ←→ switch (or 1–6) · Tab into the tab · Esc back to the listing"
    return "Tab moves between panels · Esc back to the listing · ? every key"


def run_tui(session: Session, interp=None) -> int:
    NndbApp(session, interp).run()
    return 0
