"""The Cost tab: the latest `cost` (or `cost --loop`) result, as the REPL renders it.

Measuring takes a fraction of a second (and the first time, the machine's probe), so the tab does
not measure by itself: it appears the first time `cost` runs (command bar or palette) and shows that
result until the next one, saying when the iteration it measured is no longer the current one.
"""
from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..render import PHASE_STYLE, render_result
from ..render_cost import render_cost, render_vectorize


class CostPanel(VerticalScroll):
    """A scrollable view of one cost result."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.result = None
        self.iteration: int | None = None
        self.parts: list = []  # what the tab shows

    def compose(self) -> ComposeResult:
        yield Static(Text("`cost` measures what each op of this iteration costs; its result shows here.",
                          style="dim"), id="cost-body")

    def on_resize(self, event) -> None:
        if self.result is not None and getattr(self, "session", None) is not None:
            self.show(self.session)

    def show_result(self, result, iteration: int) -> None:
        """Show a `cost` result, measured at ``iteration``."""
        self.result, self.iteration = result, iteration
        self.scroll_home(animate=False)

    def show(self, session) -> None:
        self.session = session
        if self.result is None:
            return
        width = self.content_region.width
        if not width:  # just shown: not laid out yet
            self.call_after_refresh(self.show, session)
            return
        if self.result.kind == "cost":  # the compact table when the tab is narrow (80 columns)
            parts = render_cost(self.result.data, PHASE_STYLE, width)
        elif self.result.kind == "vectorize":  # a line per form when the tab is tiny (beside a lesson)
            parts = render_vectorize(self.result.data, width)
        else:
            parts = render_result(self.result)
        if session.current.number != self.iteration:
            parts.insert(0, Text(f"measured at iteration {self.iteration} (now {session.current.number}): "
                                 f"`cost` measures again", style="yellow"))
        self.parts = parts
        self.query_one("#cost-body", Static).update(Group(*parts))
