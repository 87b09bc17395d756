"""The network drawn as columns of units with their weights as colour grids (small nets), or a summary.

Everything here comes from what the layers say about themselves (docs/layers.md): their units,
parameters, symbols and equations, so a layer defined outside the engine is drawn like Dense.
"""
from __future__ import annotations

import numpy as np
from rich.table import Table
from rich.text import Text

from engine.activations import Activation
from engine.errors import shape_str

from ..render import fmt, side_by_side, value_style
from ..runview import weight_parameter

MAX_UNITS = 16


def unit_columns(session) -> list[tuple[str, list[str]]]:
    """(symbol of the layer output the diagram shows, its unit labels) per layer with units, input first:
    the output of the layer right after it when that one keeps its units (an activation, dropout)."""
    model = session.model
    columns = [("X", [])]
    for i, layer in enumerate(model.layers):
        if layer.units():
            out = layer.sym["out"]
            nxt = model.layers[i + 1] if i + 1 < len(model.layers) else None
            if nxt is not None and nxt.passes_units:
                out = nxt.sym["out"]
            columns.append((out, []))
    return columns


def is_small(session) -> bool:
    """Small enough to draw unit by unit: every layer with parameters is dense-like (``weight_parameter``),
    with at most MAX_UNITS inputs and units."""
    layers = [l for l in session.model.layers if l.params]
    return bool(layers) and all(
        weight_parameter(l) is not None and getattr(l, weight_parameter(l)).shape[0] <= MAX_UNITS and l.units() <= MAX_UNITS
        for l in layers)


def diagram(session, example: int = 0) -> Text:
    """Units (values for one example) and weight grids: row j of a grid is neuron j's incoming weights."""
    values = session.values_at()
    dense = [l for l in session.model.layers if l.units()]  # all dense-like (is_small)
    outs = [sym for sym, _ in unit_columns(session)]
    if not session.loss.kind == "mse" and "P" in values:
        outs[-1] = "P"
    n_in = getattr(dense[0], weight_parameter(dense[0])).shape[0]
    height = max([n_in] + [l.units() for l in dense])
    columns: list[list[Text]] = []

    def unit_column(symbol: str, n: int) -> list[Text]:
        v = values.get(symbol)
        a = np.asarray(v) if v is not None else None
        cells = [Text(f"{symbol:^9}", style="bold")]
        scale = float(np.nanmax(np.abs(a[example]))) if a is not None and a.ndim == 2 and a.size else 0.0
        for j in range(n):
            if a is None or a.ndim != 2:
                cells.append(Text(f"○ {'·':>6} ", style="dim"))
            else:
                x = float(a[example, j])
                cells.append(Text.assemble(("● ", value_style(x, scale)), (f"{fmt(x, 6):>6} ", "")))
        return cells

    def weight_grid(layer) -> list[Text]:
        symbol = layer.sym[weight_parameter(layer)]
        W = np.asarray(values[symbol])
        scale = float(np.nanmax(np.abs(W))) if W.size else 0.0
        cells = [Text(f"{symbol + 'ᵀ':^{max(W.shape[0], 3)}}", style="bold")]
        for j in range(layer.units()):
            row = Text()
            for i in range(W.shape[0]):
                row.append("■", style=value_style(float(W[i, j]), scale))
            cells.append(row)
        return cells

    columns.append(unit_column(outs[0], n_in))
    for k, layer in enumerate(dense):
        columns.append(weight_grid(layer))
        columns.append(unit_column(outs[k + 1], layer.units()))
    lines = side_by_side(columns, gap=2, height=height + 1)
    caption = Text(f"units: example {example} of the batch, after the activation (○: not computed yet)\n"
                   f"grids: row j = neuron j's incoming weights; red +, blue −, brighter = larger", style="dim")
    diagram = Text("\n").join(lines + [Text(""), caption])
    diagram.no_wrap = True  # wider than the pane: it scrolls sideways rather than breaking columns
    return diagram


def summary(session) -> Table:
    """Per-layer table for nets too big to draw: weight shapes and norms, output shapes, dead units."""
    values = session.values_at()
    table = Table(box=None, padding=(0, 1))
    for col in ("layer", "computes", "weights", "‖·‖", "‖d·‖", "output", "dead units"):
        table.add_column(col, justify="left" if col in ("layer", "computes", "weights") else "right")
    for layer in session.model.layers:
        row = [layer.name, layer.summary_equation()]  # the first equation only
        if layer.params:  # W of a dense layer, K of a convolution, Wx of a recurrent one
            name = layer.sym[layer.params[0]]
            W, dW = np.asarray(values[name]), values.get("d" + name)
            row += [f"{name} {shape_str(W.shape)}", fmt(float(np.linalg.norm(W))),
                    fmt(float(np.linalg.norm(dW))) if dW is not None else "·"]
        else:
            row += ["", "", ""]
        out = values.get(layer.sym["out"])
        if out is not None:
            row.append(shape_str(np.shape(out)))
            # after an activation: a unit (a neuron, or one position of one feature map) that is 0 for
            # the whole batch, so no gradient reaches its weights through it (a dead ReLU)
            dead = float(np.mean(np.all(np.asarray(out) == 0, axis=0))) if isinstance(layer, Activation) else None
            row.append(f"{dead:.0%}" if dead is not None else "")
        else:
            row += ["·", ""]
        table.add_row(*[Text(str(c)) for c in row])
    return table
