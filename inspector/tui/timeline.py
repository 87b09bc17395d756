"""The Time tab: ‖dh_t‖ per timestep of a recurrent layer, so a gradient vanishing through time shows."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..render import PHASE_STYLE, fmt, gradient_verdict, log_bar
from ..ops import is_timestep, timestep_view

def has_timesteps(session) -> bool:
    """Whether this iteration has per-timestep ops (a recurrent layer): the Time tab is shown then."""
    return any(is_timestep(op) for op in session.tape)


@dataclass
class StepNorms:
    """A recurrent layer's per-timestep norms in the current iteration, up to the cursor."""

    layer: str
    h: str                                               # the state's symbol without the step: h1
    Wh: str                                              # the recurrent weights: Wh1
    T: int = 0                                           # timesteps of this iteration
    forward: dict[int, float] = field(default_factory=dict)   # t → ‖h_t‖
    backward: dict[int, float] = field(default_factory=dict)  # t → ‖dh_t‖
    current: tuple[str, int] | None = None               # (phase, t) when the cursor is on a step of it

    @property
    def earliest(self) -> int | None:
        """The earliest timestep whose ‖dh_t‖ is computed (backward runs t = T−1 → 0)."""
        return min(self.backward) if self.backward else None

    @property
    def ratio(self) -> float | None:
        """‖dh_earliest‖ / ‖dh_{T−1}‖: how much of the last step's gradient reached back so far."""
        last = self.backward.get(self.T - 1)
        if last is None or self.earliest is None or self.earliest == self.T - 1:
            return None
        return self.backward[self.earliest] / last if last else math.inf


def step_norms(session) -> StepNorms | None:
    """‖h_t‖ of the forward steps and ‖dh_t‖ of the backward steps run so far, of the recurrent
    layer at (or next after) the cursor; None for a model without one.

    From ``ops.timestep_view`` (the REPL's `timestep` shows the same): the norms of the values
    as the iteration used them, so the engine's ``op.attrs["norm"]`` unless an edit changed dh_t.
    """
    view = timestep_view(session)
    if view is None:
        return None
    first = next(op for op in session.tape if is_timestep(op) and op.layer == view["layer"])
    layer = session.model.layer(view["layer"])
    n = StepNorms(view["layer"], first.result.rsplit("_", 1)[0], layer.sym.get("Wh", "Wh"), view["T"],
                  dict(view["forward"]), dict(view["backward"]))
    here = session.op
    if view["t"] is not None and here is not None:
        n.current = (here.phase, view["t"])
    return n


def layer_view(n: StepNorms, iteration: int, narrow: bool = False) -> Text:
    """One layer: a row per timestep (the cursor's step highlighted), then the ratio and its verdict.

    Fixed-width lines that never wrap: a narrow pane scrolls sideways instead of squeezing columns.
    ``narrow`` (beside the lesson panel): only t, ‖dh_t‖ and the bar, and the prose wraps.
    """
    h, dh, last = n.h, "d" + n.h, n.T - 1
    out = Text.assemble((n.layer, "bold"), f" · iteration {iteration} · {n.T} timesteps · "
                        f"backward runs t = {last} → 0\n",
                        (f"‖{dh}_t‖ = ‖∂L/∂{h}_t‖: the gradient reaching the state after{' ' if narrow else chr(10)}"
                         f"step t, from the layer above and from step t+1 through {n.Wh}.\n\n", "dim"))
    columns = (f"‖{h}_t‖", f"‖{dh}_t‖", f"÷‖{dh}_{last}‖")
    if narrow:
        out.append(f"    t {columns[1]:>9}  log: ┊ = ×10\n", style="bold")
    else:
        out.append(f"    t {columns[0]:>9} {columns[1]:>9} {columns[2]:>10}  log scale: ┊ = ×10\n", style="bold")
    top = max(n.backward.values(), default=0.0)
    reference = n.backward.get(last)
    for t in range(n.T):
        here = n.current is not None and n.current[1] == t
        phase = n.current[0] if here else None
        f, b = n.forward.get(t), n.backward.get(t)
        out.append(" ▶ " if here else "   ", style="bold yellow")
        out.append(f"{t:>2} ", style="bold" if here else "dim")
        if not narrow:
            out.append(f"{fmt(f) if f is not None else '·':>9} ", style="bold yellow" if phase == "forward" else "")
        if b is None:
            out.append(f"{'·':>9}\n", style="dim")
            continue
        hot = "bold yellow" if phase == "backward" else ""
        out.append(f"{fmt(b):>9} ", style=hot or PHASE_STYLE["backward"])
        if not narrow:
            out.append(f"{f'{b / reference:.1e}' if reference else '·':>10}  ", style=hot)
        out.append_text(log_bar(b, top, hot or PHASE_STYLE["backward"]))
        out.append("\n")
    if n.ratio is not None:
        out.append("\n")
        out.append(f"‖{dh}_{n.earliest}‖ / ‖{dh}_{last}‖ = ", style="bold")
        out.append(f"{n.ratio:.1e}", style="bold cyan")
        out.append_text(gradient_verdict(n.ratio, n.earliest == 0))
    elif not n.backward:
        out.append(f"\n‖{dh}_t‖ appears step by step once backward reaches {n.layer}\n"
                   f"(after the loss): step on, or `until {n.layer}.backward`.", style="dim")
    return out


class TimePanel(VerticalScroll):
    """Per-timestep ‖h_t‖ and ‖dh_t‖ of the recurrent layer at the cursor, up to the cursor."""

    def compose(self):
        yield Static(id="time")

    def show(self, session) -> None:
        self.session = session
        self.norms = step_norms(session)
        body = layer_view(self.norms, session.current.number) if self.norms is not None \
            else Text("this model has no recurrent layer", style="dim")
        room = self.scrollable_content_region.width
        narrow = self.norms is not None and 0 < room < max(cell_len(line) for line in body.plain.splitlines())
        if narrow:  # beside the lesson panel at 120 columns: the short form, wrapped to the pane
            body = layer_view(self.norms, session.current.number, narrow=True)
        body.no_wrap = not narrow
        static = self.query_one("#time", Static)
        static.set_class(narrow, "narrow")
        static.update(body)

    def on_resize(self) -> None:
        if getattr(self, "session", None) is not None:
            self.show(self.session)
