"""Terminal figures drawn with rich: braille line charts of training curves and half-block digit images."""
from __future__ import annotations

import math

import numpy as np
from rich.console import Group
from rich.text import Text

BRAILLE_BASE = 0x2800
# dot bit of (column 0..1, row 0..3) inside one braille cell
DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
COLOURS = ("cyan", "magenta", "yellow", "green", "bright_red", "bright_blue", "white", "bright_green")  # one a series


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"


def line_chart(title: str, series: dict[str, list[float]], width: int = 56, height: int = 8) -> Group:
    """A braille line chart: one coloured line per series over the epochs, y range on the left."""
    series = {k: [float(v) for v in vs] for k, vs in series.items() if vs}
    values = [v for vs in series.values() for v in vs if math.isfinite(v)]
    lines = [Text(title, style="bold")]
    if not values:
        return Group(*lines, Text("  (no data)", style="dim"))
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    W, H = width * 2, height * 4  # dots
    cells = [[0] * width for _ in range(height)]
    owner = [[None] * width for _ in range(height)]
    n = max(len(vs) for vs in series.values())

    def dot(x: int, y: int, colour: str) -> None:
        x, y = min(max(x, 0), W - 1), min(max(y, 0), H - 1)
        r, c = y // 4, x // 2
        cells[r][c] |= DOTS[y % 4][x % 2]
        owner[r][c] = colour

    for (name, vs), colour in zip(series.items(), COLOURS):
        pts = [(round(i * (W - 1) / max(n - 1, 1)), round((hi - v) / (hi - lo) * (H - 1)))
               for i, v in enumerate(vs) if math.isfinite(v)]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:] or pts):
            steps = max(abs(x1 - x0), abs(y1 - y0), 1)
            for s in range(steps + 1):
                dot(round(x0 + (x1 - x0) * s / steps), round(y0 + (y1 - y0) * s / steps), colour)
    label_w = max(len(_fmt(hi)), len(_fmt(lo)))
    for r in range(height):
        label = _fmt(hi) if r == 0 else _fmt(lo) if r == height - 1 else ""
        row = Text(f"{label:>{label_w}} ┤", style="dim")
        for c in range(width):
            row.append(chr(BRAILLE_BASE + cells[r][c]) if cells[r][c] else " ", style=owner[r][c] or "")
        lines.append(row)
    axis = Text(" " * label_w + " └" + "─" * width, style="dim")
    lines.append(axis)
    lines.append(Text(" " * (label_w + 2) + f"epoch 1{'':{max(width - 10 - len(str(n)), 1)}}{n}", style="dim"))
    legend = Text(" " * (label_w + 2))
    for (name, vs), colour in zip(series.items(), COLOURS):
        legend.append("━━ ", style=colour)
        legend.append(f"{name} (last {_fmt(vs[-1])})   ")
    lines.append(legend)
    return Group(*lines)


def training_curves(history: list[dict]) -> Group:
    """Loss and accuracy over epochs, train and validation, as two braille charts."""
    def col(key):
        return [row[key] for row in history if row.get(key) is not None]
    loss = {"train loss": col("loss")}
    acc = {"train accuracy": col("accuracy")}
    if col("val_loss"):
        loss["validation loss"] = col("val_loss")
        acc["validation accuracy"] = col("val_accuracy")
    return Group(line_chart("loss", loss), Text(), line_chart("accuracy", acc))


GREY_RAMP = " .:-=+*#%@"  # dark to bright, one character per grey level: survives without colour


def digit_image(pixels: np.ndarray, side: int = 28, colour: bool = True) -> Text:
    """A square grayscale image in [0, 1] as half blocks: ▀ with the top pixel as colour, the bottom as
    background. Without ``colour`` (a pipe, a file) half blocks would all look solid: each pair of rows
    is one line of characters from GREY_RAMP instead, by the pair's mean brightness."""
    img = np.clip(np.asarray(pixels, dtype=float).reshape(side, side), 0.0, 1.0)
    if side % 2:
        img = np.vstack([img, np.zeros((1, side))])
    if not colour:
        pairs = (img[0::2] + img[1::2]) / 2
        codes = np.minimum((pairs * len(GREY_RAMP)).astype(int), len(GREY_RAMP) - 1)
        return Text("\n".join("".join(GREY_RAMP[c] for c in row) for row in codes))
    levels = (img * 255).round().astype(int)
    text = Text()
    for r in range(0, len(levels), 2):
        for top, bottom in zip(levels[r], levels[r + 1]):
            text.append("▀", style=f"rgb({top},{top},{top}) on rgb({bottom},{bottom},{bottom})")
        if r + 2 < len(levels):
            text.append("\n")
    return text
