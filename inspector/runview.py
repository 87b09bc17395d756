"""What the replay's panels show, as data: pure functions of a recorded run and one of its frames.

The replay screen (``inspector/tui/replay.py``) draws these in the terminal and the video export
(``inspector/video.py``) draws them with Pillow; neither computes anything of its own. A run is the
``inspector.runs.Run`` API (docs/runs.md); the structure of its network comes from the layers, as
everywhere else (docs/layers.md): a layer's units, its parameters and the axis of each that indexes
the units.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MAX_INPUTS = 16  # incoming weights drawn per unit before the diagram keeps only the strongest TOP_K
MAX_UNITS = 16  # units drawn per layer before the diagram keeps the strongest
TOP_K = 8
RATIO_TARGET = 1e-3  # the rule of thumb for ‖ΔW‖/‖W‖ per update (CS231n)
RATIO_BAND = 10.0  # within a factor of this of the target: "about right"
HIST_BINS = 24


# -- the network diagram ------------------------------------------------------------------------
@dataclass
class DiagramLayer:
    """One drawn layer: row r is unit ``units[r]`` with its strongest (or all) incoming weights.

    ``inputs[r, c]`` is the input index of the weight ``weights[r, c]`` (all inputs in order, or the
    strongest ``TOP_K`` by |w|, strongest first); ``bias[r]`` the unit's bias (None without one)."""

    name: str
    symbol: str
    n_inputs: int
    n_units: int
    units: np.ndarray
    inputs: np.ndarray
    weights: np.ndarray
    bias: np.ndarray | None
    bias_symbol: str | None
    rule: str
    reduced: bool = False
    input_symbol: str = "X"  # what the layer reads: X, or the output of the layer before it (A1, F1, h1)


@dataclass
class Diagram:
    layers: list[DiagramLayer]
    skipped: list[str] = field(default_factory=list)  # layers drawn elsewhere (filters), one line each
    scale: float = 0.0  # max |w| drawn: colours go from 0 to it
    bias_scale: float = 0.0

    @property
    def strongest(self) -> tuple[str, int, int, float] | None:
        """(weight symbol, input, unit, value) of the connection with the largest |w| drawn."""
        best = None
        for layer in self.layers:
            if not layer.weights.size:
                continue
            r, c = np.unravel_index(np.argmax(np.abs(layer.weights)), layer.weights.shape)
            w = float(layer.weights[r, c])
            if best is None or abs(w) > abs(best[3]):
                best = (layer.symbol, int(layer.inputs[r, c]), int(layer.units[r]), w)
        return best


def weight_parameter(layer) -> str | None:
    """The attribute holding a dense-like layer's incoming weights (``W``: a matrix (inputs, units)
    indexed by units on axis 1); None for layers whose units own more (filters, recurrent blocks)."""
    if not layer.units() or layer.blocks != 1:
        return None
    matrices = [p for p in layer.params if np.ndim(getattr(layer, p)) > 1]
    if len(matrices) != 1 or np.ndim(getattr(layer, matrices[0])) != 2 or layer.unit_axes.get(matrices[0]) != 1:
        return None
    return matrices[0]


def bias_parameter(layer) -> str | None:
    """The 1-D parameter with one entry per unit (``b``), if the layer has one."""
    return next((p for p in layer.params if np.ndim(getattr(layer, p)) == 1 and layer.unit_axes.get(p) == 0), None)


def pick_units(model, params: dict[str, np.ndarray], max_units: int = MAX_UNITS) -> dict[str, np.ndarray]:
    """The units drawn per dense-like layer: all of them, or the ``max_units`` with the largest ‖w_j‖ in
    ``params`` (in index order). The replay picks them once, from the last frame, so rows stay put."""
    picked = {}
    for layer in model.layers:
        attr = weight_parameter(layer)
        if attr is None:
            continue
        W = np.asarray(params[layer.sym[attr]])
        n = W.shape[1]
        if n <= max_units:
            picked[layer.name] = np.arange(n)
        else:
            picked[layer.name] = np.sort(np.argsort(-np.linalg.norm(W, axis=0), kind="stable")[:max_units])
    return picked


def diagram(model, params: dict[str, np.ndarray], units: dict[str, np.ndarray] | None = None,
            max_inputs: int = MAX_INPUTS, top_k: int = TOP_K, max_units: int = MAX_UNITS) -> Diagram:
    """The network as rows of signed weights per unit, layer by layer, with the rule each layer was
    reduced by. ``model`` gives the structure (any frame's), ``params`` the frame's values by symbol."""
    units = units if units is not None else pick_units(model, params, max_units)
    drawn, skipped = [], []
    for layer in model.layers:
        if not layer.params:
            continue
        attr = weight_parameter(layer)
        if attr is None:
            first = layer.params[0]
            shape = "×".join(map(str, np.shape(params[layer.sym[first]])))
            skipped.append(f"{layer.name}: {layer.units()} units, {layer.sym[first]} {shape}: not one weight matrix, "
                           f"not drawn here")
            continue
        symbol = layer.sym[attr]
        W = np.asarray(params[symbol], dtype=float)
        n_in, n_units = W.shape
        rows = units.get(layer.name, np.arange(n_units))
        cols = W[:, rows].T  # (shown units, inputs)
        if n_in <= max_inputs:
            inputs = np.broadcast_to(np.arange(n_in), cols.shape).copy()
            rule = f"{symbol}: all {n_in}×{n_units} weights"
        else:
            inputs = np.argsort(-np.abs(cols), axis=1, kind="stable")[:, :top_k]
            cols = np.take_along_axis(cols, inputs, axis=1)
            rule = f"{symbol}: the {top_k} strongest of {n_in} incoming weights per unit"
        if len(rows) < n_units:
            rule += f"; {len(rows)} of {n_units} units (largest ‖w‖)"
        battr = bias_parameter(layer)
        bias = np.asarray(params[layer.sym[battr]], dtype=float)[rows] if battr else None
        drawn.append(DiagramLayer(layer.name, symbol, n_in, n_units, np.asarray(rows), inputs, cols, bias,
                                  layer.sym[battr] if battr else None, rule,
                                  reduced=n_in > max_inputs or len(rows) < n_units, input_symbol=layer.sym["in"]))
    scale = max((float(np.max(np.abs(d.weights))) for d in drawn if d.weights.size), default=0.0)
    bias_scale = max((float(np.max(np.abs(d.bias))) for d in drawn if d.bias is not None and d.bias.size),
                     default=0.0)
    return Diagram(drawn, skipped, scale, bias_scale)


# -- what hidden units see ----------------------------------------------------------------------
@dataclass
class Tiles:
    """One image per first-layer unit (``tiles[j]``, h × w) and what they are."""

    tiles: np.ndarray
    caption: str
    scale: float  # max |w| over the tiles: one colour scale for all of them


def unit_tiles(model, params: dict[str, np.ndarray], image_shape) -> Tiles | None:
    """The incoming weights of each unit of the first layer with parameters, drawn as the input image:
    a dense layer's column j reshaped to the image, a convolution's filter j (its first input channel
    when it has several). None when the input is not an image or the units' weights are not images."""
    if not image_shape:
        return None
    layer = next((l for l in model.layers if l.params and l.units()), None)
    if layer is None:
        return None
    attr = max(layer.unit_axes, key=lambda p: np.ndim(getattr(layer, p)))
    P = np.asarray(params[layer.sym[attr]], dtype=float)
    axis = layer.unit_axes[attr]
    per_unit = np.moveaxis(P, axis, 0)  # (units, ...)
    n = per_unit.shape[0]
    image = tuple(int(s) for s in image_shape)
    symbol = layer.sym[attr]
    if per_unit[0].size == int(np.prod(image)):
        tiles = per_unit.reshape((n,) + image)
        caption = f"{symbol}: unit j's {per_unit[0].size} incoming weights as a {image[0]}×{image[1]} image"
    elif per_unit.ndim == 4:  # (filters, channels, kh, kw)
        tiles = per_unit[:, 0]
        channels = per_unit.shape[1]
        caption = (f"{symbol}: filter j ({tiles.shape[1]}×{tiles.shape[2]})"
                   + (f", input channel 0 of {channels}" if channels > 1 else ""))
    else:
        return None
    return Tiles(tiles, caption + "; red +, blue −", float(np.max(np.abs(tiles))) if tiles.size else 0.0)


# -- weight distributions and update ratios ------------------------------------------------------
def weight_names(run) -> list[str]:
    """The run's parameters with more than one axis (weights and kernels, not biases)."""
    frame = run.params(0)
    return [n for n in run.parameters if np.ndim(frame[n]) > 1]


def histogram_edges(run, names=None, bins: int = HIST_BINS) -> dict[str, np.ndarray]:
    """Bin edges per parameter, fixed over the whole run (its smallest to its largest value in any
    frame), so the histograms of two frames compare bar by bar."""
    names = list(names if names is not None else weight_names(run))
    lo, hi = {}, {}
    for n in names:
        series = np.asarray(run.param_series(n))
        lo[n], hi[n] = (float(series.min()), float(series.max())) if series.size else (np.inf, -np.inf)
    edges = {}
    for n in names:
        a, b = (lo[n], hi[n]) if np.isfinite(lo[n]) and hi[n] > lo[n] else (lo[n] - 0.5, lo[n] + 0.5) \
            if np.isfinite(lo[n]) else (-1.0, 1.0)
        edges[n] = np.linspace(a, b, bins + 1)
    return edges


def histograms(params: dict[str, np.ndarray], edges: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Counts of each parameter's values in its fixed bins."""
    # equal bins given as a count and a range: NumPy's fast path (no search per value)
    return {n: np.histogram(np.asarray(params[n]), bins=len(e) - 1, range=(e[0], e[-1]))[0] for n, e in edges.items()}


@dataclass
class Ratio:
    name: str
    value: float
    verdict: str  # "about right", "small: learning slowly", "large: may be unstable", "no update"


def ratio_verdict(value: float) -> str:
    if not np.isfinite(value) or value <= 0:
        return "no update (yet)"
    if value < RATIO_TARGET / RATIO_BAND:
        return "small: learning slowly"
    if value > RATIO_TARGET * RATIO_BAND:
        return "large: may be unstable"
    return "about right"


def update_ratios(run, i: int, names=None) -> list[Ratio]:
    """‖ΔW‖/‖W‖ of frame ``i``'s update per weight parameter, with its reading against ~1e-3."""
    names = names if names is not None else weight_names(run)
    out = []
    for n in names:
        v = float(run.stat("update_ratio", n)[i])
        out.append(Ratio(n, v, ratio_verdict(v)))
    return out


# -- curves and the timeline --------------------------------------------------------------------
@dataclass
class Curves:
    """Series as (x, y) with x in epochs (fractional for the per-iteration loss), and the cursor's x."""

    loss: dict[str, tuple[np.ndarray, np.ndarray]]
    accuracy: dict[str, tuple[np.ndarray, np.ndarray]]
    cursor: float


def epoch_x(run) -> np.ndarray:
    """The x of each epoch-end measurement: its iteration in epochs (1, 2, … for whole epochs)."""
    per_epoch = max(int(run.meta.get("iterations_per_epoch") or 1), 1)
    return np.asarray(run.epochs["iteration"], dtype=float) / per_epoch


def curves(run, i: int) -> Curves:
    """Loss (per recorded iteration, and train/validation per epoch) and accuracy, the cursor at frame i."""
    ex = epoch_x(run)
    e = run.epochs
    loss = {"iteration loss": (np.asarray(run.epoch, float), np.asarray(run.loss, float))}
    accuracy = {}
    for key, label, into in (("train_loss", "train loss", loss), ("val_loss", "validation loss", loss),
                             ("train_acc", "train accuracy", accuracy), ("val_acc", "validation accuracy", accuracy)):
        y = np.asarray(e.get(key, np.zeros(0)), dtype=float)
        keep = np.isfinite(y)
        if keep.any():
            into[label] = (ex[keep], y[keep])
    return Curves(loss, accuracy, float(run.epoch[i]))


def epoch_marks(run) -> list[int]:
    """The frame at (or just after) each epoch's end: where the scrub bar marks the epochs."""
    iters = np.asarray(run.iteration)
    marks = []
    for it in np.asarray(run.epochs["iteration"]):
        k = int(np.searchsorted(iters, it))
        if k < run.frames and (not marks or marks[-1] != k):
            marks.append(k)
    return marks


def latest_epoch(run, i: int) -> dict[str, float] | None:
    """The last epoch-end measurement at or before frame i (epoch number and its metrics), or None."""
    iters = np.asarray(run.epochs["iteration"])
    done = np.nonzero(iters <= run.iteration[i])[0]
    if not len(done):
        return None
    k = int(done[-1])
    row = {key: float(np.asarray(v)[k]) for key, v in run.epochs.items()}
    row["epoch"] = k + 1
    return row


def frame_title(run, i: int) -> str:
    """One line for the frame: where it is in the run and how the model was doing."""
    text = (f"frame {i + 1}/{run.frames} · iteration {int(run.iteration[i])} · epoch {float(run.epoch[i]):.2f}"
            f" · loss {float(run.loss[i]):.4g}")
    last = latest_epoch(run, i)
    if last is not None:
        acc = last.get("val_acc", float("nan"))
        which = "val"
        if not np.isfinite(acc):
            acc, which = last.get("train_acc", float("nan")), "train"
        if np.isfinite(acc):
            text += f" · {which} acc {acc:.1%} (epoch {last['epoch']})"
    return text
