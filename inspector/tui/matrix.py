"""MatrixView: a virtual, navigable view of one array — only the visible cells are ever rendered.

Values are coloured by sign (red +, blue −) and magnitude; cells an edit changed are marked;
``h`` switches to a heat-map overview of the whole array, one character per block of values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..render import NEGATIVE, POSITIVE, describe_array, fmt, stats, value_style

CELL = 8
BLOCK = {style: Style.parse(style.replace("bold ", "")).color for style in POSITIVE + NEGATIVE}
HEADER_STYLE = Style(dim=True)


class MatrixView(ScrollView, can_focus=True):
    """One named array; arrows move the cell cursor, and the app acts on the selected cell."""

    BINDINGS = [
        Binding("up", "move(-1, 0)", "Up", show=False, tooltip="move the cell cursor up"),
        Binding("down", "move(1, 0)", "Down", show=False, tooltip="move the cell cursor down"),
        Binding("left", "move(0, -1)", "Left", show=False, tooltip="move the cell cursor left"),
        Binding("right", "move(0, 1)", "Right", show=False, tooltip="move the cell cursor right"),
        Binding("pageup", "move(-10, 0)", "Page up", show=False, tooltip="up ten rows"),
        Binding("pagedown", "move(10, 0)", "Page down", show=False, tooltip="down ten rows"),
        Binding("home", "home", "First cell", show=False, tooltip="back to the first cell"),
        Binding("h", "toggle_heatmap", "Heat map", tooltip="overview of the whole array, one colour per block"),
    ]

    cursor: reactive[tuple[int, int]] = reactive((0, 0), always_update=True)
    heatmap: reactive[bool] = reactive(False)

    @dataclass
    class Selected(Message):
        """A cell was clicked or the cursor moved onto it."""

        view: "MatrixView"
        row: int
        col: int

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.symbol = ""
        self.array = np.zeros((0,))
        self.grid = np.zeros((0, 0))
        self.changed = np.zeros((0, 0), dtype=bool)
        self.scale = 0.0
        self.label_width = 3

    # -- data ------------------------------------------------------------------------------
    def show(self, symbol: str, array, previous=None, title: str | None = None) -> None:
        """Display ``array`` under ``symbol``; cells that differ from ``previous`` are marked."""
        a = np.asarray(array, dtype=float)
        self.symbol, self.array = symbol, a
        self.grid = a.reshape(1, -1) if a.ndim <= 1 else a.reshape(a.shape[0], -1)
        if previous is not None and np.shape(previous) == a.shape:
            with np.errstate(invalid="ignore"):
                self.changed = (np.asarray(previous, dtype=float) != a).reshape(self.grid.shape)
        else:
            self.changed = np.zeros(self.grid.shape, dtype=bool)
        finite = np.abs(self.grid[np.isfinite(self.grid)])
        self.scale = float(finite.max()) if finite.size else 0.0
        self.label_width = len(str(max(self.grid.shape[0] - 1, 0))) + 2
        self.fit_virtual_size()
        self.border_title = title or describe_array(symbol, a)
        big = self.grid.size > 64
        self.border_subtitle = stats(a) if big else ""
        r, c = self.cursor
        self.cursor = (min(r, self.grid.shape[0] - 1), min(c, self.grid.shape[1] - 1))
        self.refresh()

    def overflows(self, cols: int) -> bool:
        """Whether ``cols`` columns need the horizontal scrollbar (True before the first layout)."""
        inner = self.size.width - 3  # borders and the vertical scrollbar
        label = len(str(max(cols - 1, 0))) + 2
        return inner <= 0 or label + cols * CELL > inner

    def index_of(self, row: int, col: int) -> tuple[int, ...]:
        """The index into the original array of grid cell (row, col)."""
        if self.array.ndim == 0:
            return ()
        if self.array.ndim == 1:
            return (col,)
        return (row,) + tuple(np.unravel_index(col, self.array.shape[1:]))

    @property
    def selected_index(self) -> tuple[int, ...]:
        return self.index_of(*self.cursor)

    @property
    def selected_value(self) -> float:
        r, c = self.cursor
        return float(self.grid[r, c]) if self.grid.size else float("nan")

    # -- actions ---------------------------------------------------------------------------
    def action_move(self, dr: int, dc: int) -> None:
        if not self.grid.size:
            return
        r, c = self.cursor
        r = max(0, min(self.grid.shape[0] - 1, r + dr))
        c = max(0, min(self.grid.shape[1] - 1, c + dc))
        self.cursor = (r, c)
        self.scroll_to_cursor()
        self.post_message(self.Selected(self, r, c))

    def action_home(self) -> None:
        self.cursor = (0, 0)
        self.scroll_to(0, 0, animate=False)

    def action_toggle_heatmap(self) -> None:
        self.heatmap = not self.heatmap

    def watch_heatmap(self) -> None:
        self.fit_virtual_size()
        self.refresh()

    def fit_virtual_size(self) -> None:
        """The whole grid when showing values; no scrolling in the heat map, which fits the view."""
        if self.heatmap:
            self.virtual_size = Size(0, 0)
            self.scroll_to(0, 0, animate=False)
        else:
            self.virtual_size = Size(self.label_width + self.grid.shape[1] * CELL, self.grid.shape[0] + 1)

    def watch_cursor(self) -> None:
        self.refresh()

    def visible_cols(self) -> int:
        """How many whole cells fit beside the row labels (a cut-off number would misread)."""
        return max(1, (self.scrollable_content_region.width - self.label_width) // CELL)

    @property
    def first_col(self) -> int:
        """The column drawn first: the scroll offset rounded up to a whole cell (so the last is reachable)."""
        return -(-int(self.scroll_offset.x) // CELL)

    def scroll_to_cursor(self) -> None:
        r, c = self.cursor
        height = max(1, self.scrollable_content_region.height - 1)
        y = self.scroll_offset.y
        if r < y:
            y = r
        elif r >= y + height:
            y = r - height + 1
        first, visible = self.first_col, self.visible_cols()
        if c < first:
            first = c
        elif c >= first + visible:
            first = c - visible + 1
        self.scroll_to(first * CELL, y, animate=False)

    def on_click(self, event) -> None:
        offset = event.get_content_offset(self)
        if offset is None or not self.grid.size or self.heatmap:
            return
        row = self.scroll_offset.y + offset.y - 1
        cell = (offset.x - self.label_width) // CELL
        col = self.first_col + cell
        if 0 <= row < self.grid.shape[0] and 0 <= cell < self.visible_cols() and col < self.grid.shape[1]:
            self.cursor = (row, col)
            self.focus()
            self.post_message(self.Selected(self, row, col))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- rendering -------------------------------------------------------------------------
    def cell_style(self, value: float, changed: bool, selected: bool) -> Style:
        style = Style.parse(value_style(value, self.scale))  # rich caches parsed styles
        if changed:
            style = style + Style(underline=True, bgcolor="grey23")
        if selected:
            style = style + (Style(reverse=True, bold=True) if self.has_focus else Style(underline=True))
        return style

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if not self.grid.size:
            return Strip.blank(width)
        if self.heatmap:
            return self.heat_line(y, width)
        scroll_y = self.scroll_offset.y
        first_col = self.first_col
        cols = range(first_col, min(self.grid.shape[1], first_col + self.visible_cols()))
        if y == 0:
            segments = [Segment(" " * self.label_width, HEADER_STYLE)]
            segments += [Segment(f"{c:>{CELL - 1}} ", HEADER_STYLE) for c in cols]
            return Strip(segments).crop_extend(0, width, None)
        row = scroll_y + y - 1
        if row >= self.grid.shape[0]:
            return Strip.blank(width)
        cur_r, cur_c = self.cursor
        segments = [Segment(f"{row:>{self.label_width - 1}} ", HEADER_STYLE)]
        for c in cols:
            v = float(self.grid[row, c])
            text = fmt(v, CELL - 1)
            segments.append(Segment(f"{text:>{CELL - 1}}", self.cell_style(v, self.changed[row, c],
                                                                             (row, c) == (cur_r, cur_c))))
            segments.append(Segment(" "))
        return Strip(segments).crop_extend(0, width, None)

    def heat_line(self, y: int, width: int) -> Strip:
        """One line of the overview: each character is the mean of a block of the array."""
        rows, cols = self.grid.shape
        height = max(1, self.scrollable_content_region.height)
        per_row = max(1, math.ceil(rows / height))
        usable = max(1, width - 1)
        per_col = max(1, math.ceil(cols / usable))
        r0 = y * per_row
        if r0 >= rows:
            return Strip.blank(width)
        block = self.grid[r0:r0 + per_row]
        n_blocks = math.ceil(cols / per_col)
        pad = n_blocks * per_col - cols
        padded = np.pad(block, ((0, 0), (0, pad)), constant_values=np.nan) if pad else block
        with np.errstate(all="ignore"):
            means = np.nanmean(padded.reshape(block.shape[0], n_blocks, per_col), axis=(0, 2))
        segments = []
        for m in means:
            colour = BLOCK.get(value_style(m, self.scale).replace("bold ", "").strip()) if math.isfinite(m) else None
            segments.append(Segment("!" if not math.isfinite(m) else " ",
                                    Style(color="magenta", bold=True) if not math.isfinite(m) else
                                    Style(bgcolor=colour) if colour else Style(dim=True)))
        return Strip(segments).crop_extend(0, width, None)
