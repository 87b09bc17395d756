"""MatrixView: a virtual, navigable view of one array — only the visible cells are ever rendered.

Values are coloured by sign (red +, blue −) and magnitude; cells an edit changed are marked;
``h`` switches to a heat-map overview of the whole array, one character per block of values.
A 3-D or 4-D array (a sequence batch (m, T, n), feature maps (m, C, H, W), filters (F, C, kh, kw))
shows one 2-D slice at a time, ``Z1[0, 1, :, :]``, moved with ``,``/``.`` (first index) and
``<``/``>`` (second index) or by clicking the ◀ ▶ of its header line. The choice is remembered per
kind of axis, not per view: every array's example axis shows the same example, and every array
with C channels the same channel, so X, Z1, A1, dA1 and dZ1 stay on one example and channel while
stepping (clamped where an array is smaller).
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

from engine.errors import shape_str

from ..render import NEGATIVE, POSITIVE, describe_array, fmt, stats, value_style

CELL = 8
SLICE = Binding.Group("Slice", compact=True)  # one footer entry, ",.<> Slice": the footer is full
SLICE_KEYS = [  # the app's action: it picks the view (the focused matrix, else the op's first sliced one)
    Binding("comma", "app.slice(0, -1)", "Previous example", key_display=",", group=SLICE,
            tooltip="3-D/4-D array: the previous slice along its first index (the example; a kernel's filter)"),
    Binding("full_stop", "app.slice(0, 1)", "Next example", key_display=".", group=SLICE,
            tooltip="3-D/4-D array: the next slice along its first index (the example; a kernel's filter)"),
    Binding("less_than_sign", "app.slice(1, -1)", "Previous channel", key_display="<", group=SLICE,
            tooltip="4-D array: the previous slice along its second index (the channel)"),
    Binding("greater_than_sign", "app.slice(1, 1)", "Next channel", key_display=">", group=SLICE,
            tooltip="4-D array: the next slice along its second index (the channel)"),
]
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
        Binding("h", "toggle_heatmap", "Heat map", show=False,  # the hint line names it; the footer is full
                tooltip="overview of the whole array, one colour per block"),
        *SLICE_KEYS,
    ]

    cursor: reactive[tuple[int, int]] = reactive((0, 0), always_update=True)
    heatmap: reactive[bool] = reactive(False)

    @dataclass
    class Selected(Message):
        """A cell was clicked or the cursor moved onto it."""

        view: "MatrixView"
        row: int
        col: int

    @dataclass
    class SliceChanged(Message):
        """The slice shown of a 3-D/4-D array moved: the other views should ``sync_slice``."""

        view: "MatrixView"

    def __init__(self, slices: dict[str, int] | None = None, axes=None, **kwargs):
        """``slices``: the index chosen per kind of axis (``slice_key``), shared by the views.
        ``axes``: symbol → what the leading axes of that array index, as its layer says
        (``model.axis_names``: a kernel's filters and channels), or None for the default."""
        super().__init__(**kwargs)
        self.axes = axes
        self.symbol = ""
        self.array = np.zeros((0,))
        self.grid = np.zeros((0, 0))
        self.changed = np.zeros((0, 0), dtype=bool)
        self.changed_all = self.changed  # over the whole array; ``changed`` is the slice's part
        self.scale = 0.0
        self.label_width = 3
        self.note = ""
        self.lead: tuple[int, ...] = ()  # the leading indices of the slice shown (3-D and 4-D arrays)
        self.axis_names: tuple[str, ...] = ()
        self.axis_keys: tuple[str, ...] = ()  # where ``slices`` keeps each leading index
        self.slices = {} if slices is None else slices
        self.arrows: list[tuple[int, int, int, int]] = []  # (x0, x1, axis, delta) of the header's ◀ ▶

    # -- data ------------------------------------------------------------------------------
    def show(self, symbol: str, array, previous=None, note: str = "") -> None:
        """Display ``array`` under ``symbol``; cells that differ from ``previous`` are marked.

        ``note`` goes in the title after the name (``before``: the operand as the op read it).
        """
        a = np.asarray(array, dtype=float)
        if symbol != self.symbol:
            self.heatmap = False  # `h` was for that array; the next op's may be small enough to read
        was_sliced = bool(self.lead)
        self.symbol, self.array, self.note = symbol, a, note
        self.axis_names = slice_axes(symbol, a.ndim, self.axes) if a.size else ()
        self.axis_keys = tuple(slice_key(name, a.shape[k]) for k, name in enumerate(self.axis_names))
        self.lead = self.remembered()
        if previous is not None and np.shape(previous) == a.shape:
            with np.errstate(invalid="ignore"):
                self.changed_all = np.asarray(previous, dtype=float) != a
        else:
            self.changed_all = np.zeros(a.shape, dtype=bool)
        finite = np.abs(a[np.isfinite(a)])
        self.scale = float(finite.max()) if finite.size else 0.0  # the whole array's: slices compare
        self.border_subtitle = stats(a) if a.size > 64 else ""
        self.fill()
        if was_sliced != bool(self.lead) and self.has_focus:
            self.app.refresh_bindings()  # the slice keys show in the footer for sliced arrays only

    def fill(self) -> None:
        """Take the grid (the slice shown) from the array, with its marks, title and cursor."""
        a = self.array
        if self.lead:
            self.grid, self.changed = a[self.lead], self.changed_all[self.lead]
        else:
            self.grid = a.reshape(1, -1) if a.ndim <= 1 else a.reshape(a.shape[0], -1)
            self.changed = self.changed_all.reshape(self.grid.shape)
        self.label_width = len(str(max(self.grid.shape[0] - 1, 0))) + 2
        self.fit_virtual_size()
        name = self.symbol + (slice_text(self.lead) if self.lead else "")
        if self.note:
            self.border_title = f"{name} ({self.note})  {shape_str(a.shape)}"
        else:  # Z1[0, 1, :, :]  4×2×4×4, dZ1[0, 1, :, :]  4×2×4×4  (∂L/∂Z1)
            self.border_title = name + describe_array(self.symbol, a)[len(self.symbol):]
        r, c = self.cursor
        self.cursor = (max(0, min(r, self.grid.shape[0] - 1)), max(0, min(c, self.grid.shape[1] - 1)))
        self.refresh()

    @property
    def top(self) -> int:
        """Lines above the first row: the slice header (sliced arrays) and the column numbers."""
        return 2 if self.lead else 1

    def remembered(self) -> tuple[int, ...]:
        """The leading indices ``slices`` holds for this array, clamped to its shape."""
        return tuple(max(0, min(self.slices.get(key, 0), self.array.shape[k] - 1))
                     for k, key in enumerate(self.axis_keys))

    def sync_slice(self) -> None:
        """Show the slice ``slices`` now holds (another view moved it)."""
        lead = self.remembered()
        if lead != self.lead:
            self.lead = lead
            self.fill()

    def set_slice(self, axis: int, value: int) -> bool:
        """Show index ``value`` (clamped) of leading axis ``axis``, and remember it for that kind of axis."""
        if axis >= len(self.lead):
            return False
        value = max(0, min(value, self.array.shape[axis] - 1))
        if value == self.lead[axis]:
            return False
        self.slices[self.axis_keys[axis]] = value
        self.lead = self.lead[:axis] + (value,) + self.lead[axis + 1:]
        self.fill()
        self.post_message(self.SliceChanged(self))
        return True

    def step_slice(self, axis: int, delta: int) -> bool:
        return axis < len(self.lead) and self.set_slice(axis, self.lead[axis] + delta)

    def slice_header(self) -> list[tuple[str, str, tuple[int, int] | None]]:
        """The header line of a slice: (text, style, (axis, delta) of an arrow or None) pieces."""
        keys = (", .", "< >")
        pieces: list = []
        for k, (name, i) in enumerate(zip(self.axis_names, self.lead)):
            n = self.array.shape[k]
            pieces += [("◀", "bold" if i > 0 else "dim", (k, -1)), (f" {name} {i} of {n} ", "bold cyan", None),
                       ("▶", "bold" if i < n - 1 else "dim", (k, 1)), (f" ({keys[k]})   ", "dim", None)]
        if self.array.ndim == 3:
            pieces.append(("rows: timestep t", "dim", None))
        return pieces

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
        return self.lead + (row, col)

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
            self.virtual_size = Size(self.label_width + self.grid.shape[1] * CELL, self.grid.shape[0] + self.top)

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
        height = max(1, self.scrollable_content_region.height - self.top)
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
        if offset is None or not self.grid.size:
            return
        if self.lead and offset.y == 0:
            for x0, x1, axis, delta in self.arrows:
                if x0 <= offset.x < x1:
                    self.focus()
                    self.step_slice(axis, delta)
            return
        if self.heatmap:
            return
        row = self.scroll_offset.y + offset.y - self.top
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
        if self.lead and y == 0:
            return self.header_line(width)
        if self.heatmap:
            return self.heat_line(y - self.top + 1, width)
        scroll_y = self.scroll_offset.y
        first_col = self.first_col
        cols = range(first_col, min(self.grid.shape[1], first_col + self.visible_cols()))
        y -= self.top - 1
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

    def header_line(self, width: int) -> Strip:
        """The slice header: ◀ example 0 of 4 ▶ (, .)   ◀ channel 1 of 2 ▶ (< >); the arrows click."""
        segments, arrows, x = [], [], 0
        for text, style, arrow in self.slice_header():
            segments.append(Segment(text, Style.parse(style)))
            if arrow is not None:
                arrows.append((x, x + len(text), *arrow))
            x += len(text)
        self.arrows = arrows
        return Strip(segments).crop_extend(0, width, None)

    def heat_line(self, y: int, width: int) -> Strip:
        """One line of the overview: each character is the mean of a block of the array (or slice)."""
        rows, cols = self.grid.shape
        height = max(1, self.scrollable_content_region.height - self.top + 1)
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


def slice_axes(symbol: str, ndim: int, axes=None) -> tuple[str, ...]:
    """What the leading indices of a 3-D/4-D array count (the last two are the 2-D slice shown): what
    its layer says (``axes(symbol)``, the model's ``axis_names``: a kernel K1, dK1 or mK1 is
    (filter, channel, …)), else an example (and a channel)."""
    if ndim == 3:
        default = ("example",)  # a sequence batch (m, T, n): one example's T×n at a time
    elif ndim == 4:
        default = ("example", "channel")
    else:
        return tuple("index" for _ in range(max(0, ndim - 2)))
    named = tuple(axes(symbol) or ()) if axes is not None else ()
    return named[:ndim - 2] + default[len(named):]


def slice_key(axis_name: str, size: int) -> str:
    """Where an index is remembered: one example for every array, one channel per channel count.

    So X (m, 1, 6, 6) and Z1 (m, 2, 4, 4) show the same example; Z1, A1 and dZ1 the same channel;
    S1 and the next conv's kernels K2 (16, 8, 5, 5) the same one of 8 channels. A kernel's filters
    are counted apart from channels: K (8, 8, …) must not move both indices at once.
    """
    return axis_name if axis_name == "example" else f"{axis_name}:{size}"


def slice_text(lead: tuple[int, ...]) -> str:
    """``(0, 1)`` → ``[0, 1, :, :]``."""
    return "[" + ", ".join([str(i) for i in lead] + [":", ":"]) + "]"
