"""The panels of the main screen: op listing, current op, parameters, network, loss, command bar."""
from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Footer, Input, OptionList, Sparkline, Static, Tree
from textual.widgets.option_list import Option

from engine.errors import shape_str

from ..guards import clean
from ..complete import complete, names_of
from ..render import PHASE_STYLE, agreement_lines, agreement_mark, first_disagreement, fmt, shaped_equation
from ..ops import is_timestep, op_matches
from ..session import Session
from .matrix import MatrixView

POOL = 8  # matrix views kept mounted for the current op's arrays (the l2 op has the most)


class OpList(OptionList):
    """The iteration as a program listing: ▶ the current op, ● a breakpoint; Enter runs to the highlighted op."""

    # not in the footer (full at 80 columns): the hint line under the panels names them while focused
    BINDINGS = [Binding("t", "app.run_to_selected", "Run to", show=False, tooltip="run (or go back) to the highlighted op"),
                Binding("b", "app.toggle_breakpoint", "Break", show=False,
                        tooltip="toggle a breakpoint on the highlighted op"),
                Binding("tab", "app.focus_pane", "Into the op", show=False,
                        tooltip="into the tab's first matrix (past the tab strip)")]

    def show(self, session: Session, follow: bool = True) -> None:
        marks = [bp.spec for bp in session.breakpoints if bp.enabled and bp.kind == "op"]
        options: list = []
        phase = None
        checked = any(op.expected for op in session.tape)  # --use FILE: ✓/✗ beside each of the learner's ops
        first = first_disagreement(session.tape) if checked else None
        for op in session.tape:
            if op.phase != phase:
                phase = op.phase
                options.append(Option(Text(f"── {phase} ──", style=PHASE_STYLE[phase]), id=f"phase-{phase}",
                                      disabled=True))
            if first is not None and op.index == first["index"]:
                note = Text.assemble(("✗ first disagreement: ", "bold red"), first["message"])
                options.append(Option(note, id="first-disagreement", disabled=True))
            mark = "●" if any(op_matches(op, m) for m in marks) else " "
            here = "▶" if op.index == session.pos else " "
            line = Text.assemble((mark, "bold red"), (here, "bold yellow"),
                                 agreement_mark(op.agreement()) if checked else "", (f"{op.index:>3} ", "dim"),
                                 (op.equation.split(",  ")[0], "bold" if op.index == session.pos else ""))
            line.no_wrap, line.overflow = True, "ellipsis"
            options.append(Option(line, id=str(op.index)))
        highlighted = self.highlighted
        self.set_options(options)
        if follow:
            self.highlight_op(max(session.pos, 0))
        elif highlighted is not None and highlighted < self.option_count:
            self.highlighted = highlighted

    def highlight_op(self, index: int) -> None:
        try:
            self.highlighted = self.get_option_index(str(index))
        except Exception:  # OptionDoesNotExist: the listing is being rebuilt
            pass

    @property
    def selected_op(self) -> int | None:
        if self.highlighted is None:
            return None
        option = self.get_option_at_index(self.highlighted)
        return int(option.id) if option.id and option.id.isdigit() else None


class OpPanel(Vertical):
    """The current op: equation, its shapes, then every result and operand as a matrix view."""

    def compose(self):
        yield Static(id="equation")
        with VerticalScroll(id="arrays"):
            for i in range(POOL):
                yield MatrixView(slices=getattr(self.app, "slices", None), axes=getattr(self.app, "axis_names", None),
                                 id=f"array-{i}", classes="array")

    def views(self) -> list[MatrixView]:
        return list(self.query(MatrixView))

    def show(self, session: Session, baseline: dict[int, dict[str, np.ndarray]]) -> None:
        """Show the current op; cells that differ from ``baseline`` (the tape before an edit) are marked."""
        op = session.op
        header = self.query_one("#equation", Static)
        values = session.values_at()
        previous: dict[str, np.ndarray] = {}
        if op is None:
            nxt = session.tape[0]
            header.update(Text.assemble((f"iteration {session.current.number}: at the start, before op 0\n", "bold"),
                                        ("next: ", "dim"), (nxt.equation, ""),
                                        ("\nparameters, inputs X and labels Y as the iteration starts", "dim")))
            names = ["X", "Y"] + [p.symbol for p in session.model.parameters()]
            arrays = [(k, values[k], None, "") for k in names]
        else:
            shapes = op.shapes()
            grads = [n for n in op.arrays if op.is_gradient(n)]
            text = Text.assemble((f"[{op.index}] ", "dim"), (op.layer, "bold"), " · ",
                                 (op.phase, PHASE_STYLE.get(op.phase, "")), " · ", (op.kind, "dim"), "\n",
                                 (op.equation, "bold"), "\n", (shaped_equation(op.equation, shapes), "dim"))
            if grads:
                text.append("\n" + ",  ".join(f"{g} = ∂L/∂{g[1:]}" for g in grads), style=PHASE_STYLE["backward"])
            if is_timestep(op):  # an RNN's step: its state's norm, and where every step's is
                norm = float(np.linalg.norm(values[op.result]))
                text.append(f"\n‖{op.result}‖ = {fmt(norm)}   (every timestep: the Time tab, 5)",
                            style=PHASE_STYLE["backward"] if op.phase == "backward" else "")
            edited = session.current.edited.get(op.index)
            if edited:
                text.append(f"\nedited right after this op: {', '.join(edited)}", style="yellow")
            first = first_disagreement(session.tape) if op.expected else None
            for line in agreement_lines({"agreement": op.agreement(), "first_disagreement": first,
                                         "position": op.index}):  # --use FILE: yours against nndb's
                text.append("\n")
                text.append_text(line)
            header.update(text)
            # results as they are now (an edit made at this op shows), operands as the op read them,
            # or, edited right after this op, as they are now with the edited cells marked
            previous = baseline.get(op.index, {})
            arrays = [(k, values[k], previous.get(k), "") for k in op.outputs]
            for k, v in op.inputs.items():
                if edited and k in edited and k not in op.outputs:
                    arrays.append((k, values[k], v, "edited after this op"))
                else:
                    arrays.append((k, v, None if k in op.outputs else previous.get(k),
                                   "before" if k in op.outputs else ""))
        views = self.views()
        for view, (name, value, before, note) in zip(views, arrays):
            view.display = True
            view.show(name, value, before, note=note)
            rows, cols = view.grid.shape
            # borders and the header lines, plus a line for the scrollbar when the columns overflow
            view.styles.height = min(rows, 12) + 2 + view.top + view.overflows(cols)
        for view in views[len(arrays):]:
            view.display = False

    def selected_view(self) -> MatrixView | None:
        focused = self.app.focused
        if isinstance(focused, MatrixView):
            return focused
        visible = [v for v in self.views() if v.display]
        return visible[0] if visible else None


class ParamsPanel(Vertical):
    """A tree of layers → parameters and optimizer state with statistics; the selected one below."""

    def compose(self):
        yield Tree("model", id="param-tree")
        view = MatrixView(slices=getattr(self.app, "slices", None), axes=getattr(self.app, "axis_names", None),
                          id="param-view")
        view.display = False  # until a parameter is picked in the tree
        yield view

    def show(self, session: Session) -> None:
        tree = self.query_one(Tree)
        values = session.values_at()
        tree.clear()
        tree.root.set_label(Text(f"{clean(session.source)}  (values at iteration {session.current.number}, "
                                 f"op {session.pos})"))
        state = session.optimizer.state_symbols()
        for layer in session.model.layers:
            node = tree.root.add(Text(f"{layer.name}  {type(layer).__name__}"), expand=bool(layer.params))
            for attr in layer.params:
                symbol = layer.sym[attr]
                a = np.asarray(values[symbol])
                grad = values.get("d" + symbol)
                label = Text.assemble((f"{symbol:<5}", "bold"), f" {shape_str(a.shape):<8}",
                                      f" ‖·‖ {fmt(float(np.linalg.norm(a)))}",
                                      f"  [{fmt(float(a.min()))}, {fmt(float(a.max()))}]",
                                      (f"  ‖d{symbol}‖ {fmt(float(np.linalg.norm(grad)))}" if grad is not None
                                       else "  (no gradient yet)", PHASE_STYLE["backward"]))
                node.add_leaf(label, data=symbol)
                for s, (name, slot) in state.items():
                    if name == f"{layer.name}.{attr}":
                        v = np.asarray(values[s])
                        node.add_leaf(Text(f"{s:<5} {shape_str(v.shape):<8} ‖·‖ {fmt(float(np.linalg.norm(v)))}",
                                           style="cyan"), data=s)
        tree.root.expand()
        self.session = session

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        symbol = event.node.data
        if symbol:
            value = self.session.values_at().get(symbol)
            if value is not None:
                view = self.query_one("#param-view", MatrixView)
                view.display = True
                view.show(symbol, value)


class LossPanel(Vertical):
    """Loss per iteration (a sparkline and its figures) and the watches."""

    def compose(self):
        yield Static(id="loss-figures")
        yield Sparkline([], id="loss-plot")
        yield Static(id="watches")

    def show(self, session: Session) -> None:
        losses = [loss for _, loss in session.losses[-200:]]
        current = session.current.loss
        figures = Text.assemble(("loss per iteration", "bold"), f"  ({len(session.losses)} done)")
        if losses:
            figures.append(f"\nfirst {fmt(session.losses[0][1])}  last {fmt(losses[-1])}  "
                           f"min {fmt(min(losses))}")
        for first, last in session.trained:
            figures.append(f"\niterations {first}–{last} trained at engine speed (train)", style="dim")
        if session.curve:  # a validation set: the two accuracies `curves` draws per epoch
            last = session.curve[-1]
            figures.append(f"\nafter {len(session.curve)} epochs: train accuracy {last['train_acc']:.1%}, "
                           f"validation {last['val_acc']:.1%} (`curves` draws them)")
        figures.append(f"\nthis iteration: {fmt(current)}" if current is not None else "")
        self.query_one("#loss-figures", Static).update(figures)
        points = losses + ([current] if current is not None else [])
        plot = self.query_one("#loss-plot", Sparkline)
        plot.display = len(points) >= 3  # one or two bars say nothing about a trend
        plot.data = points
        lines = Text("watches", style="bold")
        if not session.watches:
            lines.append("\n(none: `watch norm(dW1)`)", style="dim")
        for w, value, error in session.watches.values(session):
            lines.append(f"\n{w.number}: {w.text} = ")
            if error:
                lines.append("not computed yet" if "not computed yet" in error else error, style="dim")
            else:
                v = np.asarray(value)
                lines.append(fmt(float(v)) if v.ndim == 0 else np.array2string(v, precision=4, threshold=8),
                             style="cyan")
        self.query_one("#watches", Static).update(lines)


class KeysFooter(Footer):
    """The footer without the keys that no longer fit left of the palette key (at 80 columns one
    showed a letter or two beside it); `?` lists every key."""

    async def recompose(self) -> None:
        await super().recompose()
        self.call_after_refresh(self.fit)

    def on_resize(self) -> None:
        self.call_after_refresh(self.recompose)  # every key back, then fit again

    def fit(self, tries: int = 10) -> None:
        palette = [w for w in self.children if w.has_class("-command-palette")]
        if any(not w.region.width for w in self.children):  # the new keys are not laid out yet
            if tries:
                self.call_after_refresh(self.fit, tries - 1)
            return
        limit = palette[0].region.x if palette else self.region.right
        cut = False
        for widget in self.children:
            if widget not in palette:
                cut = cut or widget.region.right > limit
                widget.display = not cut


class CommandBar(Input):
    """Takes every REPL command; Tab completes (the same completion as the REPL), ↑/↓ walk the history."""

    BINDINGS = [Binding("tab", "complete", "Complete", show=False, tooltip="complete the command or name"),
                Binding("up", "history(-1)", "Previous command", show=False, tooltip="the previous command"),
                Binding("down", "history(1)", "Next command", show=False, tooltip="the next command"),
                Binding("escape", "leave", "Back to the listing", show=False, tooltip="back to the op listing")]

    PROMPT = "command — help lists them; Tab completes; Esc leaves"  # unfocused, it says where focus is

    def __init__(self, session_getter, commands=None, **kwargs):
        # select_on_focus off: the palette puts `explain ` here and typing must continue after it
        super().__init__(placeholder=self.PROMPT, select_on_focus=False, **kwargs)
        self.session_getter = session_getter
        self.commands = commands  # the table completed from (None: the registry)
        self.history: list[str] = []
        self.history_pos = 0
        self.candidates: list[str] = []

    def remember(self, line: str) -> None:
        if line.strip() and (not self.history or self.history[-1] != line):
            self.history.append(line)
        self.history_pos = len(self.history)

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        self.history_pos = max(0, min(len(self.history), self.history_pos + step))
        self.value = self.history[self.history_pos] if self.history_pos < len(self.history) else ""
        self.cursor_position = len(self.value)

    def action_complete(self) -> None:
        before = self.value[:self.cursor_position]
        found = complete(before, names_of(self.session_getter()), self.commands)
        self.candidates = [c.text for c in found]
        if not found:
            return
        start = found[0].start
        texts = [c.text for c in found]
        prefix = texts[0]
        for t in texts[1:]:
            while not t.startswith(prefix):
                prefix = prefix[:-1]
        if len(found) == 1:
            prefix += "" if prefix.endswith("(") else " "
        if len(prefix) > -start:
            self.value = before[:len(before) + start] + prefix + self.value[self.cursor_position:]
            self.cursor_position = len(before) + start + len(prefix)
        if len(found) > 1:
            self.app.notify("  ".join(texts[:24]) + ("  …" if len(texts) > 24 else ""), title="completions",
                            timeout=4)

    def action_leave(self) -> None:
        self.app.action_focus_listing()
