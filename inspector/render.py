"""Rich renderables for arrays and ops: shape headers, aligned values coloured by sign and size."""
from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from engine.errors import shape_str
from engine.trace import Op

MAX_ROWS, MAX_COLS = 8, 8


def fmt(x: float, width: int = 8) -> str:
    """A number in at most ``width`` characters: fixed point when readable, else scientific."""
    if not np.isfinite(x):
        return str(x)
    a = abs(x)
    if a != 0 and (a >= 1e4 or a < 1e-3):
        return f"{x:.2e}"
    return f"{x:.4f}"


def value_style(x: float, scale: float) -> str:
    """Blue for negative, red for positive, brighter with magnitude relative to ``scale``."""
    if not np.isfinite(x):
        return "bold magenta"
    if x == 0 or scale == 0:
        return "dim"
    strength = min(1.0, abs(x) / scale)
    base = "red" if x > 0 else "blue"
    return f"bold {base}" if strength > 0.66 else base if strength > 0.25 else f"dim {base}"


def describe_array(name: str, a: np.ndarray) -> str:
    label = f"∂L/∂{name[1:]}" if Op.is_gradient(name) else ""
    return f"{name}  {shape_str(a.shape)}" + (f"  ({label})" if label else "")


def stats(a: np.ndarray) -> str:
    if a.size == 0:
        return "empty"
    finite = a[np.isfinite(a)]
    extra = f"  non-finite={a.size - finite.size}" if finite.size != a.size else ""
    if finite.size == 0:
        return "all non-finite"
    return (f"min={fmt(finite.min())} max={fmt(finite.max())} mean={fmt(finite.mean())} "
            f"norm={fmt(float(np.linalg.norm(finite)))}{extra}")


def _elide(n: int, limit: int) -> list[int | None]:
    """Indices to show, with None for the gap: [0, 1, 2, None, n-2, n-1]."""
    if n <= limit:
        return list(range(n))
    head = limit // 2
    return list(range(head)) + [None] + list(range(n - (limit - head - 1), n))


def array_view(name: str, a: np.ndarray, max_rows: int = MAX_ROWS, max_cols: int = MAX_COLS) -> Group:
    """A titled grid of values; large arrays elided in the middle, with statistics."""
    a = np.asarray(a)
    title = Text(describe_array(name, a), style="bold")
    if a.ndim == 0:
        return Group(title, Text(fmt(float(a)), style=value_style(float(a), abs(float(a)))))
    grid = a.reshape(1, -1) if a.ndim == 1 else a.reshape(a.shape[0], -1)
    finite = grid[np.isfinite(grid)]
    scale = float(np.abs(finite).max()) if finite.size else 0.0
    rows, cols = _elide(grid.shape[0], max_rows), _elide(grid.shape[1], max_cols)
    table = Table(show_header=True, header_style="dim", box=None, pad_edge=False, padding=(0, 1))
    table.add_column("", style="dim", justify="right")
    for j in cols:
        table.add_column("…" if j is None else str(j), justify="right")
    for i in rows:
        if i is None:
            table.add_row("⋮", *["⋮" if j is not None else "⋱" for j in cols])
            continue
        cells = [Text("…", style="dim") if j is None else Text(fmt(grid[i, j]), style=value_style(grid[i, j], scale))
                 for j in cols]
        table.add_row("" if a.ndim == 1 else str(i), *cells)
    parts = [title, table]
    if grid.shape[0] > max_rows or grid.shape[1] > max_cols or a.ndim > 2:
        parts.append(Text(stats(a), style="dim"))
    return Group(*parts)


def op_header(op: Op) -> Text:
    text = Text()
    text.append(f"[{op.index:>2}] ", style="dim")
    text.append(f"{op.phase:<8} ", style={"forward": "green", "loss": "yellow", "backward": "magenta",
                                          "update": "cyan"}.get(op.phase, ""))
    text.append(f"{op.layer:<10} ", style="bold")
    text.append(op.equation)
    return text


def shape_line(op: Op) -> Text:
    return Text("   " + ",  ".join(f"{k}: {shape_str(np.shape(v))}" for k, v in op.arrays.items()), style="dim")
