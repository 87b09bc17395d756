"""The debugger's Boundary tab: the class the model predicts over the plane, for 2-input data.

Drawn from the weights at the cursor (``Session.model_at_cursor``), so it follows every step, every
edit (`set`) and every `train`; the training points sit on top in their true class's colour.
"""
from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..boundary import Boundary, decision_boundary, is_two_input
from ..runs import MAX_POINTS, spread_rows
from .replaydraw import boundary_legend, draw_boundary


class BoundaryPanel(VerticalScroll):
    """The decision boundary of the session's model, or why there is none to draw."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.boundary: Boundary | None = None  # what the tab shows now (tests compare it with the model)

    def compose(self) -> ComposeResult:
        yield Static(id="boundary-body")

    def on_resize(self, event) -> None:
        if getattr(self, "session", None) is not None:
            self.show(self.session)

    def show(self, session) -> None:
        self.session = session
        body = self.query_one("#boundary-body", Static)
        X = np.asarray(session.problem.X)
        if not is_two_input(X):
            self.boundary = None
            shape = "×".join(map(str, X.shape[1:]))
            body.update(Text(f"Nothing to draw: a decision boundary needs examples with 2 inputs, a point of the "
                             f"plane (the moons, circles, spiral and xor presets, or a 2-column CSV); these examples are "
                             f"{shape} each.", style="dim"))
            return
        width, height = self.content_region.width, self.content_region.height
        if not width:  # just shown: not laid out yet
            self.call_after_refresh(self.show, session)
            return
        rows = spread_rows(len(X), MAX_POINTS)
        points = (X[rows], np.asarray(session.loss.labels(np.asarray(session.problem.Y)[rows])))
        b = decision_boundary(session.model_at_cursor(), session.loss, X, max(width - 1, 10),
                              2 * max(height - 4, 3))
        self.boundary = b
        w = session.where()
        title = Text(f"iteration {w['iteration']}, the weights at this op: the class predicted over the plane",
                     style="bold")
        classes = list(getattr(session.problem, "classes", []) or [])
        body.update(Group(title, *draw_boundary(b, points), boundary_legend(b, classes)))
