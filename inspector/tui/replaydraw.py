"""The replay's panels drawn as rich Text: the network diagram, unit tiles, histograms, ratios, curves, the boundary.

Each function takes the data ``inspector/runview.py`` or ``inspector/boundary.py`` computed and the
cells it may use; none reads the run itself. Colours: red positive, blue negative, brighter with size.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from ..plots import BRAILLE_BASE, DOTS
from ..render import fmt, side_by_side, value_style
from ..runview import RATIO_TARGET

BLOCKS = " ▁▂▃▄▅▆▇█"
# class colours of the decision boundary: (region, point); regions muted so the points stand out
CLASS_COLOURS = [((40, 70, 130), (110, 170, 255)), ((130, 50, 45), (255, 120, 100)), ((45, 110, 55), (120, 230, 130)),
                 ((120, 100, 35), (250, 220, 90)), ((95, 55, 125), (210, 150, 255)), ((40, 110, 115), (110, 230, 235))]
RATIO_RANGE = (-6, 0)  # the ratio axis: 1e-6 … 1e0, log scale


def signed_rgb(x: float, scale: float) -> tuple[int, int, int]:
    """Dark grey at 0, towards red (positive) or blue (negative) with |x|/scale."""
    t = min(1.0, abs(x) / scale) if scale > 0 and np.isfinite(x) else 0.0
    base, target = (30, 30, 30), (255, 80, 60) if x > 0 else (70, 140, 255)
    return tuple(int(b + (c - b) * t) for b, c in zip(base, target))


LEVELS = 8  # brightness steps per sign in the pixel panels: neighbours share colours, so fewer spans to draw


def signed_rgb_array(a: np.ndarray, scale: float, levels: int = LEVELS) -> np.ndarray:
    """``signed_rgb`` of every entry, |a|/scale rounded to ``levels`` steps: an (..., 3) array of colours."""
    a = np.nan_to_num(np.asarray(a, dtype=float))
    t = np.clip(np.abs(a) / scale, 0, 1)[..., None] if scale > 0 else np.zeros(a.shape + (1,))
    t = np.round(t * levels) / levels
    target = np.where((a > 0)[..., None], np.array([255, 80, 60]), np.array([70, 140, 255]))
    return (30 + (target - 30) * t).astype(int)


def rgb(c) -> str:
    return f"rgb({c[0]},{c[1]},{c[2]})"


@lru_cache(maxsize=16384)
def pair_style(top: tuple, bottom: tuple) -> Style:
    """▀ in ``top``'s colour on ``bottom``'s: one character, two pixels (Style objects, cached: a frame
    of the boundary has a thousand cells and parsing a style string each time costs more than drawing)."""
    return Style(color=Color.from_rgb(*top), bgcolor=Color.from_rgb(*bottom))


class PixelLine:
    """One line of half blocks, built as segments (no rich Text to assemble and render again: a frame of
    pixel panels has thousands of cells). Renders like Text; ``plain`` and ``cell_len`` as Text's."""

    def __init__(self, segments: list[Segment]):
        self.segments = segments
        self.cell_len = sum(len(s.text) for s in segments)

    @property
    def plain(self) -> str:
        return "".join(s.text for s in self.segments)

    def __rich_console__(self, console, options):
        yield from self.segments
        yield Segment.line()


def quantize(img: np.ndarray) -> np.ndarray:
    """Colours rounded to steps of 8 per channel (invisible; the styles repeat, so their cache works)."""
    return (np.asarray(img, dtype=int) // 8 * 8 + 4).clip(0, 255)


def half_block_segments(top: np.ndarray, bottom: np.ndarray | None) -> list[Segment]:
    """Two quantized pixel rows ((cols, 3) colours) as ▀ segments, runs of the same two colours in one."""
    tops = [tuple(c) for c in top.tolist()]
    bottoms = [tuple(c) for c in bottom.tolist()] if bottom is not None else [(0, 0, 0)] * len(tops)
    segments = []
    run, count = None, 0
    for key in zip(tops, bottoms):
        if key == run:
            count += 1
            continue
        if run is not None:
            segments.append(Segment("▀" * count, pair_style(*run)))
        run, count = key, 1
    if run is not None:
        segments.append(Segment("▀" * count, pair_style(*run)))
    return segments


def styled_runs(cells) -> Text:
    """A Text of (character, style) cells, each run of one style appended once (a span per run, not per
    cell: a frame's charts and weight grids have a thousand cells, and each span costs when drawn)."""
    text = Text()
    run, style = [], None
    for ch, s in cells:
        if s != style and run:
            text.append("".join(run), style=style)
            run = []
        run.append(ch)
        style = s
    if run:
        text.append("".join(run), style=style)
    return text


# -- the network diagram --------------------------------------------------------------------------
def draw_diagram(d) -> Text:
    """Columns: the inputs, then per layer its weight grid (row = a unit's incoming weights) and its
    units (● coloured by bias), as ``runview.diagram`` reduced them; the rules and the strongest below."""
    if not d.layers:
        lines = [Text("no dense-like layer to draw", style="dim")] + [Text(s, style="dim") for s in d.skipped]
        return Text("\n").join(lines)
    first = d.layers[0]
    columns: list[list[Text]] = []
    head = Text(first.input_symbol, style="bold")
    if first.reduced and first.n_inputs > first.inputs.shape[1]:
        columns.append([head, Text(f"{first.n_inputs}", style="dim")])
    else:
        columns.append([head] + [Text(f"{i}", style="dim") for i in range(first.n_inputs)])
    for layer in d.layers:
        grid = [Text(layer.symbol + "ᵀ", style="bold")]
        for r in range(len(layer.units)):
            grid.append(styled_runs([("■", value_style(float(w), d.scale)) for w in layer.weights[r]]))
        columns.append(grid)
        nodes = [Text(layer.bias_symbol or layer.name, style="bold")]
        for r, j in enumerate(layer.units):
            b = float(layer.bias[r]) if layer.bias is not None else 0.0
            cell = Text()
            cell.append("●", style=value_style(b, d.bias_scale))  # the unit's number after it stays plain
            if layer.reduced or len(layer.units) < layer.n_units:
                cell.append(f"{int(j)}", style="dim")
            nodes.append(cell)
        columns.append(nodes)
    lines = side_by_side(columns, gap=1)
    for layer in d.layers:
        lines.append(Text(layer.rule, style="dim"))
    for s in d.skipped:
        lines.append(Text(s, style="dim"))
    strongest = d.strongest
    if strongest is not None:
        sym, i, j, w = strongest
        lines.append(Text.assemble(("strongest: ", "dim"), (f"{sym}[{i},{j}] = {fmt(w)}", value_style(w, d.scale))))
    lines.append(Text("■ weight, row j = unit j's inputs; ● unit's bias; red +, blue −, brighter = larger", style="dim"))
    return Text("\n").join(lines)


# -- tiles ----------------------------------------------------------------------------------------
def pool(tile: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor×factor blocks (the edges padded with zeros)."""
    if factor <= 1:
        return tile
    h, w = tile.shape
    H, W = -(-h // factor) * factor, -(-w // factor) * factor
    padded = np.zeros((H, W))
    padded[:h, :w] = tile
    return padded.reshape(H // factor, factor, W // factor, factor).mean(axis=(1, 3))


def tile_layout(shape, n: int, width: int, height: int) -> tuple[int, int, int, int]:
    """(zoom, pooling, tiles per row, rows of tiles): the largest size (each weight up to 12 dots wide for
    tiny filters, down to one dot per 4×4 weights for big images) that shows min(n, 8) tiles."""
    h0, w0 = shape
    zooms = [z for z in (4, 3, 2) if max(h0, w0) * z <= 12]
    choice = None
    for zoom, factor in [(z, 1) for z in zooms] + [(1, f) for f in (1, 2, 3, 4)]:
        th, tw = -(-h0 * zoom // factor), -(-w0 * zoom // factor)
        per_row = max((width + 1) // (tw + 1), 1)
        rows = max((height + 1) // (-(-th // 2) + 1), 1)
        choice = (zoom, factor, per_row, rows)
        if per_row * rows >= min(n, 8):
            break
    return choice


def draw_tiles(tiles, width: int, height: int) -> list:
    """Unit j's image in half-block cells (two pixels a cell), each tile on its own colour scale: a caption
    (Text) and lines of tiles (PixelLine)."""
    if tiles is None:
        return [Text("")]
    T = tiles.tiles
    n = len(T)
    zoom, factor, per_row, rows = tile_layout(T.shape[1:], n, width, max(height - 2, 1))
    if zoom > 1:
        T = T.repeat(zoom, axis=1).repeat(zoom, axis=2)
    shown = min(n, per_row * rows)
    lines: list = [Text(f"{tiles.caption}; units 0–{shown - 1} of {n}"
                        + (f", {factor}×{factor} weights a dot" if factor > 1 else "") + "; each on its own scale",
                        style="dim")]
    gap = Segment(" ")
    for start in range(0, shown, per_row):
        group = [pool(t, factor) for t in T[start:start + per_row]]
        th = group[0].shape[0]
        colours = [quantize(signed_rgb_array(t, float(np.max(np.abs(t))) or 1.0)) for t in group]
        for r in range(0, th, 2):
            segments = []
            for c in colours:
                segments += half_block_segments(c[r], c[r + 1] if r + 1 < th else None)
                segments.append(gap)
            lines.append(PixelLine(segments))
        lines.append(Text(""))
    return lines[:-1] if len(lines) > 1 else lines


# -- weight distributions and update ratios ---------------------------------------------------------
def bars(counts: np.ndarray, height: int = 3, repeat: int = 1, style: str = "cyan") -> list[Text]:
    """A bar chart of ``counts``, ``repeat`` columns per bin, ``height`` rows of eighth blocks."""
    top = max(int(np.max(counts)), 1) if len(counts) else 1
    levels = np.repeat(np.asarray(counts, float) / top * height * 8, repeat)
    lines = []
    for row in range(height - 1, -1, -1):
        fill = np.clip(levels - row * 8, 0, 8).astype(int)
        lines.append(Text("".join(BLOCKS[f] for f in fill), style=style))
    return lines


def ratio_line(value: float, width: int) -> Text:
    """A log axis 1e-6 … 1, the ~1e-3 target marked ┼, the value ●."""
    lo, hi = RATIO_RANGE
    axis = ["─"] * width

    def at(v):
        return int(round((min(max(math.log10(v), lo), hi) - lo) / (hi - lo) * (width - 1)))
    axis[at(RATIO_TARGET)] = "┼"
    line = Text("".join(axis), style="dim")
    if np.isfinite(value) and value > 0:
        k = at(value)
        line = Text("".join(axis[:k]), style="dim") + Text("●", style="bold yellow") + Text("".join(axis[k + 1:]), style="dim")
    return line


def ratio_scale(width: int) -> Text:
    """The labels under a ratio axis: 1e-6 at its left, 1e-3 under ┼, 1 at its right."""
    lo, hi = RATIO_RANGE
    mid = int(round((math.log10(RATIO_TARGET) - lo) / (hi - lo) * (width - 1)))
    scale = [" "] * width
    for text, at in (("1e-6", 0), ("1e-3", max(mid - 2, 5)), ("1", width - 1)):
        scale[at:at + len(text)] = text
    return Text("".join(scale[:width]), style="dim")


def draw_weights(hists: dict, edges: dict, ratios, width: int, first: dict | None = None) -> Text:
    """Per weight: its histogram in this frame (bins fixed over the run), under it the first frame's (one
    dim row, to see how far the distribution moved), and ‖ΔW‖/‖W‖ against ~1e-3."""
    lines = [Text("histograms: bins fixed over the run · the update ‖ΔW‖/‖W‖ on a log axis, ┼ = the ~1e-3 rule of "
                  "thumb", style="dim")]
    by_name = {r.name: r for r in ratios}
    for name, counts in hists.items():
        e = edges[name]
        lines.append(Text.assemble((name, "bold"), f"  {fmt(float(e[0]))} … {fmt(float(e[-1]))}"))
        repeat = min(max((width - 8) // max(len(counts), 1), 1), 3)
        lines += bars(counts, repeat=repeat)
        if first is not None and name in first:
            lines.append(bars(first[name], height=1, repeat=repeat, style="bright_black")[0] + Text(" frame 1", style="dim"))
        r = by_name.get(name)
        if r is not None:
            style = "green" if r.verdict == "about right" else "yellow"
            value = f"{r.value:.1e}" if np.isfinite(r.value) else "—"
            lines.append(Text.assemble("‖Δ", name, "‖/‖", name, f"‖ {value} · ", (r.verdict, style)))
            axis_w = max(min(width, 60), 16)
            lines.append(ratio_line(r.value, axis_w))
            lines.append(ratio_scale(axis_w))
    return Text("\n").join(lines)


# -- curves ------------------------------------------------------------------------------------------
SERIES_COLOURS = ("cyan", "magenta", "yellow", "green")


def xy_chart(title: str, series: dict, cursor: float, x_max: float, width: int, height: int,
             cache: dict | None = None) -> list[Text]:
    """A braille chart of (x, y) series over 0 … x_max epochs, the cursor's column highlighted. The dots
    do not depend on the cursor: with a ``cache`` they are computed once per title and size."""
    width, height = max(width, 10), max(height, 2)
    ys = [v for _, (x, y) in series.items() for v in y if math.isfinite(v)]
    lines = [Text(title, style="bold")]
    if not ys:
        return lines + [Text("  (not measured)", style="dim")]
    lo, hi = min(ys), max(ys)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    label_w = max(len(f"{hi:.3g}"), len(f"{lo:.3g}"))
    width = max(width - label_w - 2, 8)
    x_max = x_max or 1.0
    key = (tuple(series), width, height, x_max)
    if cache is not None and key in cache:
        cells, owner = cache[key]
    else:
        cells, owner = plot_dots(series, x_max, lo, hi, width, height)
        if cache is not None:
            cache[key] = cells, owner
    W = width * 2
    cursor_col = min(max(int(round(cursor / x_max * (W - 1))) // 2, 0), width - 1)
    for r in range(height):
        label = f"{hi:.3g}" if r == 0 else f"{lo:.3g}" if r == height - 1 else ""
        row = Text(f"{label:>{label_w}} ┤", style="dim")
        chars = [(chr(BRAILLE_BASE + dots) if dots else " ", style) for dots, style in zip(cells[r], owner[r])]
        ch, style = chars[cursor_col]
        chars[cursor_col] = (ch if cells[r][cursor_col] else "│"), f"{style or 'yellow'} on #3a3a3a"
        lines.append(row + styled_runs(chars))
    lines.append(Text(" " * label_w + f" └ epoch 0{'':{max(width - 9 - len(f'{x_max:g}'), 1)}}{x_max:g}", style="dim"))
    legend = Text(" " * (label_w + 2))
    for (name, (x, y)), colour in zip(series.items(), SERIES_COLOURS):
        legend.append("━ ", style=colour)
        legend.append(f"{name}  ")
    legend.no_wrap = False
    lines.append(legend)
    return lines


def plot_dots(series: dict, x_max: float, lo: float, hi: float, width: int, height: int):
    """The braille cells (dot bits) of a chart and the colour of the series that owns each cell."""
    W, H = width * 2, height * 4
    cells = [[0] * width for _ in range(height)]
    owner = [[""] * width for _ in range(height)]
    for (name, (x, y)), colour in zip(series.items(), SERIES_COLOURS):
        pts = [(round(xi / x_max * (W - 1)), round((hi - yi) / (hi - lo) * (H - 1))) for xi, yi in zip(x, y)
               if math.isfinite(yi)]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:] or pts):
            steps = max(abs(x1 - x0), abs(y1 - y0), 1)
            for s in range(steps + 1):
                px = min(max(round(x0 + (x1 - x0) * s / steps), 0), W - 1)
                py = min(max(round(y0 + (y1 - y0) * s / steps), 0), H - 1)
                cells[py // 4][px // 2] |= DOTS[py % 4][px % 2]
                owner[py // 4][px // 2] = colour
    return cells, owner


def draw_curves(curves, x_max: float, width: int, height: int, cache: dict | None = None) -> Text:
    """Loss and accuracy charts stacked, each with the cursor at the frame's epoch."""
    chart_h = max((height - 7) // 2, 2)
    lines = xy_chart(f"loss (cursor: epoch {curves.cursor:.2f})", curves.loss, curves.cursor, x_max, width, chart_h,
                     cache)
    lines += xy_chart("accuracy", curves.accuracy, curves.cursor, x_max, width, chart_h, cache)
    return Text("\n").join(lines)


# -- the decision boundary -----------------------------------------------------------------------
def boundary_pixels(b, points=None) -> np.ndarray:
    """(rows, cols, 3) colours: each cell its predicted class, paler where the model is unsure, and the
    training points (X, y) on top in their true class's bright colour."""
    k = len(CLASS_COLOURS)
    region = np.array([CLASS_COLOURS[c % k][0] for c in range(max(b.n_classes, 1))], float)
    bright = np.array([CLASS_COLOURS[c % k][1] for c in range(max(b.n_classes, 1))], float)
    # certainty 1/n … 1 → 0.35 … 1 of the region colour (the boundary itself darkest)
    floor = 1.0 / b.n_classes
    sure = np.round(np.clip((b.probability - floor) / max(1 - floor, 1e-9), 0, 1) * LEVELS) / LEVELS
    img = region[b.classes % len(region)] * (0.35 + 0.65 * sure)[..., None]
    if points is not None:
        X, y = points
        r, c = b.cell_of(X)
        img[r, c] = bright[np.asarray(y) % len(bright)]
    return img.astype(int)


def draw_boundary(b, points=None) -> list[PixelLine]:
    """The plane in half blocks: cell (r, c) of the boundary grid is the top or bottom half of a character."""
    img = quantize(boundary_pixels(b, points))
    rows = len(img)
    return [PixelLine(half_block_segments(img[r], img[r + 1] if r + 1 < rows else None)) for r in range(0, rows, 2)]


def boundary_legend(b, classes) -> Text:
    """Which colour is which class, and how to read the shading."""
    legend = Text()
    for c in range(b.n_classes):
        name = classes[c] if c < len(classes) else str(c)
        legend.append("██", style=rgb(CLASS_COLOURS[c % len(CLASS_COLOURS)][1]))
        legend.append(f" {name}  ")
    x0, x1, y0, y1 = b.extent
    legend.append(f"· x0 {x0:.2g}…{x1:.2g}, x1 {y0:.2g}…{y1:.2g} · darker = less sure · dots: training points",
                  style="dim")
    return legend
