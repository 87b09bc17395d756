"""A recorded run as a video: `nndb replay RUN --export training.gif` (or PNG frames in a folder).

Each frame shows the network diagram coloured by weight (red positive, blue negative, brighter
for larger), or for image inputs what each first-layer unit sees (its incoming weights as a tile);
the decision boundary for two-input data; the loss curve with a cursor at the frame; and a title
with the frame's epoch, iteration and accuracy. Frames are drawn straight into one fixed
256-colour palette, so a GIF needs no quantization and stays small.

Pillow is an optional extra (``pip install 'nndb[video]'``): it is imported when a video is made,
never when this module is, so the rest of nndb runs without it.
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape

from engine.serialize import atomic_write

from .guards import check_output, clean

INSTALL = "pip install 'nndb[video]'"
DEFAULT_FPS = 10
DEFAULT_SIZE = (640, 360)
MIN_SIZE, MAX_SIZE = (320, 180), (1920, 1080)
MAX_FPS = 50  # GIF delays count hundredths of a second; players slow anything faster than 50 fps
DEFAULT_FRAMES = 150  # a longer run is sampled evenly: the GIF of any run stays a few MB
MAX_FRAMES = 1000
MAX_GIF_PIXELS = 200_000_000  # all the frames of one GIF are held in memory while it is written
FRAME_NAME = "frame_{:04d}.png"


class VideoError(ValueError):
    """A bad option or output path: the message says what was wrong and what would be right."""


# -- options ---------------------------------------------------------------------------------------
def parse_fps(value) -> float:
    """Frames per second: a number from 1 to MAX_FPS."""
    try:
        fps = float(value)
    except (TypeError, ValueError):
        fps = math.nan
    if not 1 <= fps <= MAX_FPS:
        raise VideoError(f"--fps {clean(str(value), newlines=False)[:30]}: expected frames per second from 1 to "
                         f"{MAX_FPS}, like --fps {DEFAULT_FPS}")
    return fps


def parse_size(value) -> tuple[int, int]:
    """``WxH`` (or a (width, height) pair) within MIN_SIZE … MAX_SIZE."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        value = f"{value[0]}x{value[1]}"
    text = clean(str(value), newlines=False)[:30]
    m = re.fullmatch(r"\s*(\d{1,5})\s*[x×X]\s*(\d{1,5})\s*", str(value))
    (lo_w, lo_h), (hi_w, hi_h) = MIN_SIZE, MAX_SIZE
    if not m:
        raise VideoError(f"--size {text}: expected WIDTHxHEIGHT in pixels, like --size "
                         f"{DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]}")
    width, height = int(m.group(1)), int(m.group(2))
    if not (lo_w <= width <= hi_w and lo_h <= height <= hi_h):
        raise VideoError(f"--size {text}: the width must be from {lo_w} to {hi_w} and the height from {lo_h} to "
                         f"{hi_h} pixels, like --size {DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]}")
    return width, height


def parse_frames(spec, total: int) -> list[int]:
    """The frame indices ``spec`` selects of a run's ``total``: None (all, or DEFAULT_FRAMES evenly
    spaced for a longer run), ``N`` (N evenly spaced, first and last included), ``A:B`` or ``A:B:STEP``
    (Python's slice of 0 … total−1; a part left out takes its default)."""
    if total < 1:
        raise VideoError("the run has no frames to draw")
    every = f"the run has {total} frame{'s' if total != 1 else ''}, 0–{total - 1}"
    if spec is None or str(spec).strip() == "":
        return evenly_spaced(min(total, DEFAULT_FRAMES), total)
    text = str(spec).strip()
    shown = clean(text, newlines=False)[:30]
    usage = f"write N (N evenly spaced frames), A:B or A:B:STEP ({every})"
    if re.fullmatch(r"\d{1,9}", text):
        n = int(text)
        if not 1 <= n <= total:
            raise VideoError(f"--frames {shown}: N must be from 1 to {total} ({every})")
        chosen = evenly_spaced(n, total)
    else:
        m = re.fullmatch(r"(\d{0,9}):(\d{0,9})(?::(\d{0,9}))?", text)
        if not m:
            raise VideoError(f"--frames {shown}: {usage}")
        start, stop, step = (int(g) if g else None for g in m.groups())
        if step == 0:
            raise VideoError(f"--frames {shown}: the STEP of A:B:STEP must be 1 or more")
        if start is not None and start >= total:
            raise VideoError(f"--frames {shown}: A is past the last frame ({every})")
        chosen = list(range(total))[start:stop:step]
        if not chosen:
            raise VideoError(f"--frames {shown} selects no frame: A must be less than B ({every})")
    if len(chosen) > MAX_FRAMES:
        raise VideoError(f"--frames {shown}: {len(chosen)} frames is more than {MAX_FRAMES}; sample the run with "
                         f"--frames {DEFAULT_FRAMES} or a STEP (A:B:STEP)")
    return chosen


def evenly_spaced(n: int, total: int) -> list[int]:
    """``n`` distinct indices of 0 … total−1, evenly spread, first and last included."""
    return sorted({int(round(x)) for x in np.linspace(0, total - 1, n)})


def output_kind(path) -> str:
    """``gif`` for a PATH ending in .gif, ``frames`` for a folder (an existing one, or a PATH ending in /)."""
    text = str(path)
    if text.endswith(("/", os.sep)) or Path(text).is_dir():
        return "frames"
    if text.lower().endswith(".gif"):
        return "gif"
    raise VideoError(f"--export {clean(text, newlines=False)[:200]}: give a file ending in .gif (an animated GIF) "
                     f"or a folder ending in / (one PNG file per frame)")


def check_target(path, kind: str, run_path=None) -> Path:
    """The path to write, refused with the reason when nndb may not or cannot write it."""
    path = Path(path)
    shown = clean(str(path), newlines=False)[:200]
    if kind == "frames" and path.exists() and not path.is_dir():
        raise VideoError(f"--export {shown} is a file, not a folder; give a folder for the PNG frames")
    if not path.parent.is_dir():  # the GIF's folder, or the folder that gets the frames' folder
        raise VideoError(f"--export {shown}: the folder {clean(str(path.parent), newlines=False)[:200]} does not "
                         f"exist; create it first or choose another path")
    if kind == "gif":
        try:
            check_output(path, inputs=[run_path], flag="--export")
        except ValueError as e:
            raise VideoError(str(e)) from None
    return path


# -- the entry point ---------------------------------------------------------------------------------
def export(run, path, fps=DEFAULT_FPS, size=DEFAULT_SIZE, frames=None, console: Console | None = None) -> int:
    """Write ``run`` as an animated GIF (``path`` ends in .gif) or as PNG frames (``path`` is a folder);
    print what was written and return 0, or print one clear message and return 2."""
    console = console or Console()
    try:
        fps = DEFAULT_FPS if fps is None else parse_fps(fps)
        width, height = parse_size(DEFAULT_SIZE if size is None else size)
        chosen = parse_frames(frames, run.frames)
        kind = output_kind(path)
        if kind == "gif" and len(chosen) * width * height > MAX_GIF_PIXELS:
            raise VideoError(f"{len(chosen)} frames of {width}×{height} are too many pixels for one GIF (at most "
                             f"{MAX_GIF_PIXELS // 10**6} million in all): choose fewer --frames, a smaller --size, "
                             f"or export PNG frames to a folder")
        target = check_target(path, kind, getattr(run, "path", None))
        pillow()
    except VideoError as e:
        console.print(f"[red]error:[/] {escape(str(e))}", soft_wrap=True, emoji=False)
        return 2
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    scene = Scene(run, (width, height), chosen)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    shown = clean(str(target), newlines=False)
    try:
        with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
            task = progress.add_task("drawing frames", total=len(chosen))

            def drawn():
                for i in chosen:
                    yield scene.render(i)
                    progress.advance(task)

            if kind == "gif":
                images = list(drawn())
                progress.update(task, description="writing the GIF")
                size_bytes = write_gif(target, images, fps)
            else:
                count, stale = write_frames(target, drawn())
    except OSError as e:
        left = "nothing was left behind" if kind == "gif" else "the frames written before it are complete"
        console.print(f"[red]error:[/] cannot write {escape(shown)}: {escape(e.strerror or str(e))}; {left}",
                      soft_wrap=True, emoji=False)
        return 2
    of_run = f" (of the run's {run.frames})" if len(chosen) < run.frames else ""
    if kind == "gif":
        console.print(f"wrote {escape(shown)}: {len(chosen)} frames{of_run} of {width}×{height} at {fps:g} fps, "
                      f"{size_bytes / 2**20:.1f} MB", soft_wrap=True, emoji=False)
    else:
        console.print(f"wrote {count} PNG frames{of_run} of {width}×{height} to {escape(shown)} "
                      f"({FRAME_NAME.format(0)} … {FRAME_NAME.format(count - 1)})", soft_wrap=True, emoji=False)
        if stale:
            console.print(f"[yellow]note:[/] the folder also holds {stale} older frame files numbered {count} and "
                          f"up, from an earlier export; remove them before making a video of these", emoji=False)
    return 0


def pillow():
    """The PIL module, or a VideoError saying exactly what to install."""
    try:
        import PIL.Image  # noqa: F401
        import PIL.ImageDraw  # noqa: F401
        import PIL.ImageFont  # noqa: F401
    except ImportError:
        raise VideoError(f"making a video needs Pillow, which is not installed; install it with: {INSTALL}  "
                         f"(or: pip install pillow)") from None
    import PIL
    return PIL


def write_gif(path: Path, images: list, fps: float) -> int:
    """Write ``images`` (palette images sharing one palette) as a looping GIF, atomically; its size in bytes.

    Pillow stores each frame as the rectangle that changed, with unchanged pixels transparent
    (``optimize``); two identical frames in a row become one frame shown twice as long."""
    first, rest = images[0], images[1:]
    duration = int(round(1000 / fps))
    atomic_write(path, lambda f: first.save(f, format="GIF", save_all=True, append_images=rest, duration=duration,
                                            loop=0, optimize=True, disposal=1))
    return path.stat().st_size


def write_frames(folder: Path, images) -> tuple[int, int]:
    """Write each image as FOLDER/frame_NNNN.png, each atomically; the count written and how many
    older frame files numbered past them the folder still holds."""
    folder.mkdir(parents=False, exist_ok=True)
    count = 0
    for count, image in enumerate(images, start=1):
        try:
            target = check_output(folder / FRAME_NAME.format(count - 1), flag="--export")
        except ValueError as e:
            raise OSError(str(e)) from None
        atomic_write(target, lambda f: image.save(f, format="PNG", optimize=False))
    pattern = re.compile(r"frame_(\d{4,})\.png")
    stale = sum(1 for name in os.listdir(folder) if (m := pattern.fullmatch(name)) and int(m.group(1)) >= count)
    return count, stale


# -- drawing ---------------------------------------------------------------------------------------
# One palette for every frame: interface colours, four shades per class (the points' colour, then the
# boundary's tints from unsure to sure), and a diverging ramp for signed values around ZERO.
BG, EDGE, TEXT, DIM, LOSS, TRAIN, VAL, CURSOR = range(8)
UI_COLOURS = [(16, 18, 22), (58, 63, 70), (232, 232, 232), (150, 156, 164), (240, 192, 64), (240, 130, 60),
              (90, 200, 250), (255, 255, 255)]
CLASS_BASE, MAX_CLASSES = 16, 10
CLASS_COLOURS = [(0, 190, 200), (255, 170, 30), (120, 200, 60), (190, 120, 255), (255, 110, 180), (200, 200, 200),
                 (170, 120, 80), (110, 150, 255), (255, 90, 70), (230, 230, 90)]
TINTS = (0.14, 0.27, 0.42)  # how much of the class colour a boundary cell gets, by how sure the model is
ZERO, RAMP = 128, 48  # signed value v is ZERO + sign(v)·level, level 0 … RAMP by |v| / scale
ZERO_COLOUR, POSITIVE, NEGATIVE = (44, 48, 54), (255, 60, 40), (40, 120, 255)
MAX_TILES = 128
ASCII_SIGNS = str.maketrans({"−": "-", "×": "x", "‖": "|", "≥": ">=", "≤": "<=", "→": "->", "≈": "~", "²": "^2",
                             "ᵀ": "^T", "Δ": "d", "–": "-", "—": "-"})
BOUNDARY_CELL = 3  # pixels per boundary grid cell


def palette() -> list[int]:
    colours = [(0, 0, 0)] * 256
    colours[:len(UI_COLOURS)] = UI_COLOURS
    for k, c in enumerate(CLASS_COLOURS):
        colours[CLASS_BASE + 4 * k] = c
        for level, t in enumerate(TINTS, start=1):
            colours[CLASS_BASE + 4 * k + level] = mix(UI_COLOURS[BG], c, t)
    for level in range(RAMP + 1):
        t = (level / RAMP) ** 0.8  # a gentle gamma: small weights stay visible
        colours[ZERO + level] = mix(ZERO_COLOUR, POSITIVE, t)
        colours[ZERO - level] = mix(ZERO_COLOUR, NEGATIVE, t)
    return [v for c in colours for v in c]


def mix(a, b, t: float) -> tuple[int, int, int]:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


def signed_index(values, scale: float) -> np.ndarray:
    """Palette indices of signed values: red for +, blue for −, brighter up to |v| = scale."""
    v = np.nan_to_num(np.asarray(values, dtype=float))
    scale = scale if np.isfinite(scale) and scale > 0 else 1.0  # all zero, or a diverged run's inf
    level = np.rint(np.clip(np.abs(v) / scale, 0, 1) * RAMP)
    return (ZERO + np.sign(v) * level).astype(np.uint8)


def nearest(native: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """``native`` resized to out_h × out_w by nearest neighbour (palette indices cannot be blended)."""
    rows = np.minimum(np.arange(out_h) * native.shape[0] // max(out_h, 1), native.shape[0] - 1)
    cols = np.minimum(np.arange(out_w) * native.shape[1] // max(out_w, 1), native.shape[1] - 1)
    return native[np.ix_(rows, cols)]



def column_noun(d, k: int) -> str:
    """What the diagram's column k holds: the network's inputs only when the first drawn layer reads X
    (after an RNN, which is not drawn, the first column is its units)."""
    return "input" if k == 0 and d.layers[0].input_symbol == "X" else "unit"

class Scene:
    """The frames of one run at one size: what never changes (captions, curves, the points) is drawn
    once; ``render(i)`` adds frame i's weights, boundary, cursor and title, as a palette image."""

    def __init__(self, run, size: tuple[int, int], chosen: list[int]):
        from PIL import Image, ImageDraw, ImageFont

        from engine.build import loss as loss_named
        from engine.losses import Loss

        from . import runview
        from .boundary import grid, is_two_input
        self.Image, self.ImageDraw, self.runview = Image, ImageDraw, runview
        self.run, self.size = run, size
        W, H = size
        self.fs = max(10, round(H / 30))
        self.font = ImageFont.load_default(size=self.fs)
        self.title_font = ImageFont.load_default(size=round(self.fs * 1.2))
        self.pad = pad = max(4, W // 128)
        self.glyphs: dict[str, bool] = {}
        try:
            self.loss = loss_named(run.meta.get("loss") or "")
        except (KeyError, ValueError):
            self.loss = Loss()  # classify and labels alone: argmax, or a threshold at 0.5
        last = run.params(run.frames - 1)
        self.model = run.model_at(run.frames - 1)  # the structure; frames bring their own values
        self.units = runview.pick_units(self.model, last)
        self.tiles = runview.unit_tiles(self.model, last, run.image_shape)
        self.diagram = None if self.tiles is not None else runview.diagram(self.model, last, self.units)
        points = run.points
        self.points = points if points is not None and is_two_input(points[0]) else None

        title_h = round(self.fs * 1.2) + 2 * pad
        curves_h = round((H - title_h) * 0.3)
        top, bottom = title_h, H - curves_h - pad
        main = (pad, top, W - pad, bottom)
        self.boundary_rect = None
        if self.points is not None:
            side = min(bottom - top, (W - 2 * pad) * 45 // 100)
            self.boundary_rect = (W - pad - side, top, W - pad, top + side)
            main = (pad, top, W - 3 * pad - side, bottom)
        self.title_rect = (0, 0, W, title_h)
        self.curves_rect = (pad, bottom + pad, W - pad, H - pad)

        base = Image.new("P", size, BG)
        self.palette = palette()
        base.putpalette(self.palette)
        draw = ImageDraw.Draw(base)
        self.main_rect = self._prepare_main(draw, main, chosen)
        if self.boundary_rect:
            self._prepare_boundary(draw, grid)
        self._prepare_curves(draw)
        self.base = np.array(base)

    # -- the static parts -------------------------------------------------------------------------
    def caption(self, draw, rect, text: str, fill=DIM) -> tuple[int, int, int, int]:
        """Write a one-line caption at the top of ``rect`` (cut to fit); the rect below it."""
        x0, y0, x1, y1 = rect
        draw.text((x0, y0), self.fit(text, x1 - x0), font=self.font, fill=fill)
        return x0, y0 + self.fs + 4, x1, y1

    def fit(self, text: str, width: int, font=None) -> str:
        """``text`` in characters the font has, cut with "…" to ``width`` pixels (measured as drawn on a
        palette image: without anti-aliasing, whose glyphs are wider)."""
        font = font or self.font
        text = self.plain(text)
        if font.getlength(text, mode="1") <= width:
            return text
        while text and font.getlength(text + "…", mode="1") > width:
            text = text[:-1]
        return text + "…"

    def plain(self, text: str) -> str:
        """``text`` with the math signs Pillow's default font lacks spelled in ASCII, and any other
        character it lacks (it would show as a box) as "?"."""
        text = clean(text, newlines=False).translate(ASCII_SIGNS)
        return "".join(ch if ch.isascii() or self.has_glyph(ch) else "?" for ch in text)

    def has_glyph(self, ch: str) -> bool:
        if ch not in self.glyphs:
            def ink(c):
                image = self.Image.new("L", (2 * self.fs, 2 * self.fs))
                self.ImageDraw.Draw(image).text((1, 1), c, font=self.font, fill=255)
                return image.tobytes()
            self.glyphs[ch] = ink(ch) != ink("\uffff")
        return self.glyphs[ch]

    def _prepare_main(self, draw, rect, chosen):
        run = self.run
        if self.tiles is not None:
            area = self.caption(draw, rect, f"what the first layer's units see · {self.tiles.caption}")
            tiles = self.tiles.tiles[:MAX_TILES]
            n, th, tw = tiles.shape
            if n < len(self.tiles.tiles):
                area = self.caption(draw, area, f"the first {n} of {len(self.tiles.tiles)} units")
            aw, ah = area[2] - area[0], area[3] - area[1]
            best = max(range(1, n + 1), key=lambda cols: min(aw / (cols * (tw + 1)),
                                                             ah / (math.ceil(n / cols) * (th + 1))))
            cols, rows = best, math.ceil(n / best)
            native_w, native_h = cols * (tw + 1) - 1, rows * (th + 1) - 1
            s = min(aw / native_w, ah / native_h)
            self.tile_layout = (cols, rows, th, tw, int(native_h * s), int(native_w * s))
            ends = [run.params(i) for i in (chosen[0], chosen[-1])]
            self.tile_scale = max(np.percentile(np.abs(self.runview.unit_tiles(self.model, p, run.image_shape)
                                                       .tiles[:MAX_TILES]), 99.5) for p in ends)
            return area
        d = self.diagram
        if not d.layers:
            return self.caption(draw, rect, "no weight matrix to draw (" + "; ".join(d.skipped) + ")")
        series = [np.asarray(run.param_series(layer.symbol))[chosen] for layer in d.layers]
        self.weight_scale = max(float(np.max(np.abs(s))) for s in series)
        biases = [np.asarray(run.param_series(layer.bias_symbol))[chosen] for layer in d.layers if layer.bias_symbol]
        self.bias_scale = max([float(np.max(np.abs(b))) for b in biases if b.size] + [1e-12])
        area = self.caption(draw, rect, f"weights: red positive, blue negative, full at |w| = "
                                        f"{self.weight_scale:.3g}; nodes: bias")
        notes = [layer.rule for layer in d.layers if layer.reduced] + d.skipped
        x0, y0, x1, y1 = area
        for k, note in enumerate(reversed(notes[:2])):
            draw.text((x0, y1 - (k + 1) * (self.fs + 2)), self.fit(note, x1 - x0), font=self.font, fill=DIM)
        y1 -= min(len(notes), 2) * (self.fs + 2)
        sizes = [d.layers[0].n_inputs] + [layer.n_units for layer in d.layers]
        ids = [np.arange(sizes[0])] + [layer.units for layer in d.layers]
        label_y = y1 - self.fs - 2
        columns = len(ids)
        xs = [x0 + 40 + (x1 - x0 - 80) * k // max(columns - 1, 1) for k in range(columns)]
        self.node_y = []
        top, bot = y0 + 8, label_y - 8
        for k, (column, n) in enumerate(zip(ids, sizes)):
            m = len(column)
            if m <= 40:
                ys = {int(u): top + (bot - top) * (r + 0.5) / m for r, u in enumerate(column)}
            else:  # many inputs: a position by index, and no circles
                ys = {int(u): top + (bot - top) * u / max(n - 1, 1) for u in column}
            self.node_y.append(ys)
            label = f"{m} of {n}" if m < n else f"{n} {column_noun(d, k)}" + "s" * (n != 1)
            draw.text((xs[k] - self.font.getlength(label, mode="1") / 2, label_y), label, font=self.font, fill=DIM)
        self.node_x = xs
        spacing = min((bot - top) / max(len(c), 1) for c in ids)
        self.radius = int(max(2, min(8, spacing * 0.35)))
        return area

    def _prepare_boundary(self, draw, grid):
        x0, y0, x1, y1 = self.boundary_rect
        area = self.caption(draw, self.boundary_rect, "decision boundary")
        side = min(area[2] - area[0], area[3] - area[1])
        self.boundary_area = (x1 - side, area[1], x1, area[1] + side)
        self.boundary_cells = max(8, side // BOUNDARY_CELL)
        X, y = self.points
        xs, ys = grid(X, self.boundary_cells, self.boundary_cells)
        px = (np.asarray(X[:, 0], float) - xs[0]) / (xs[-1] - xs[0]) * (side - 1)
        py = (ys[0] - np.asarray(X[:, 1], float)) / (ys[0] - ys[-1]) * (side - 1)
        layer = self.Image.new("L", (side, side), 255)
        dots = self.ImageDraw.Draw(layer)
        r = max(2, side // 90)
        for a, b, k in zip(px, py, np.asarray(y)):
            dots.ellipse((a - r, b - r, a + r, b + r), fill=CLASS_BASE + 4 * (int(k) % MAX_CLASSES), outline=BG)
        self.point_layer = np.array(layer)

    def _prepare_curves(self, draw):
        c = self.runview.curves(self.run, 0)
        x0, y0, x1, y1 = self.curves_rect
        charts = [("loss", c.loss)] + ([("accuracy", c.accuracy)] if c.accuracy else [])
        width = (x1 - x0 - self.pad * (len(charts) - 1)) // len(charts)
        self.charts = []
        for k, (name, series) in enumerate(charts):
            left = x0 + k * (width + self.pad)
            self.charts.append(self._chart(draw, (left, y0, left + width, y1), name, series))

    def _chart(self, draw, rect, name, series):
        """Draw ``series`` (label → (epochs, values)) in ``rect`` under a legend in their colours; the
        chart's name, plot rectangle and its (epoch, value) → pixel mapping, for the cursor."""
        colours = {"iteration loss": LOSS, "train loss": TRAIN, "validation loss": VAL,
                   "train accuracy": TRAIN, "validation accuracy": VAL}
        x0, y0, x1, y1 = rect
        gap = self.fs * 0.6  # Pillow measures no trailing space
        x = x0 + self.font.getlength(f"{name}:", mode="1") + gap
        draw.text((x0, y0), f"{name}:", font=self.font, fill=DIM)
        for label in series:
            if x + self.font.getlength(label, mode="1") > x1:
                break
            draw.text((x, y0), label, font=self.font, fill=colours.get(label, TEXT))
            x += self.font.getlength(label, mode="1") + gap
        xmax = max([float(np.max(x)) for x, _ in series.values() if len(x)] + [1e-9])
        values = np.concatenate([y[np.isfinite(y)] for _, y in series.values()] + [np.zeros(0)])
        if name == "accuracy":
            lo, hi, log = 0.0, 1.0, False
        else:
            lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
            log = lo > 0 and hi / lo > 30
            if log:
                lo, hi = math.log10(lo), math.log10(hi)
            if hi - lo < 1e-12:
                lo, hi = lo - 0.5, hi + 0.5

        def shown(v):
            return f"{10 ** v:.2g}" if log else (f"{v:.0%}" if name == "accuracy" else f"{v:.3g}")
        labels = shown(hi), shown(lo)
        px0 = x0 + int(max(self.font.getlength(t, mode="1") for t in labels)) + 4
        py0, px1, py1 = y0 + self.fs + 6, x1 - 2, y1 - self.fs - 4
        draw.rectangle((px0, py0, px1, py1), outline=EDGE)
        draw.text((x0, py0), labels[0], font=self.font, fill=DIM)
        draw.text((x0, py1 - self.fs), labels[1], font=self.font, fill=DIM)
        end = f"epoch {xmax:.3g}"
        draw.text((px0, py1 + 2), "0", font=self.font, fill=DIM)
        draw.text((px1 - self.font.getlength(end, mode="1"), py1 + 2), end, font=self.font, fill=DIM)

        def to_px(x, y):
            y = np.log10(np.maximum(y, 1e-300)) if log else y
            return (px0 + (np.asarray(x, float) / xmax) * (px1 - px0),
                    py1 - (np.asarray(y, float) - lo) / (hi - lo) * (py1 - py0))

        for label, (x, y) in series.items():
            keep = np.isfinite(y)
            if not keep.any():
                continue
            X, Y = to_px(x[keep], y[keep])
            pts = list(zip(X.tolist(), Y.tolist()))
            colour = colours.get(label, TEXT)
            if len(pts) > 1:
                draw.line(pts, fill=colour, width=1)
            if label != "iteration loss":
                for a, b in pts:
                    draw.rectangle((a - 1, b - 1, a + 1, b + 1), fill=colour)
        return name, (px0, py0, px1, py1), to_px

    # -- one frame --------------------------------------------------------------------------------
    def render(self, i: int):
        """Frame ``i`` of the run as a palette image of ``size``."""
        arr = self.base.copy()
        params = self.run.params(i)
        if self.tiles is not None:
            self._paint_tiles(arr, params)
        if self.boundary_rect:
            with np.errstate(all="ignore"):  # a diverging run's huge weights overflow: drawn as they are
                self._paint_boundary(arr, self.run.model_at(i))
        image = self.Image.fromarray(arr)
        image.putpalette(self.palette)
        draw = self.ImageDraw.Draw(image)
        if self.diagram is not None and self.diagram.layers:
            self._draw_diagram(draw, params)
        self._draw_cursors(draw, i)
        title = f"{self.run.label} · {self.runview.frame_title(self.run, i)}"
        draw.text((self.pad, self.pad), self.fit(title, self.size[0] - 2 * self.pad, self.title_font),
                  font=self.title_font, fill=TEXT)
        return image

    def _paint_tiles(self, arr, params):
        cols, rows, th, tw, out_h, out_w = self.tile_layout
        tiles = self.runview.unit_tiles(self.model, params, self.run.image_shape).tiles[:MAX_TILES]
        native = np.full((rows * (th + 1) - 1, cols * (tw + 1) - 1), BG, np.uint8)
        for j, tile in enumerate(tiles):
            r, c = divmod(j, cols)
            native[r * (th + 1):r * (th + 1) + th, c * (tw + 1):c * (tw + 1) + tw] = signed_index(tile, self.tile_scale)
        x0, y0 = self.main_rect[:2]
        arr[y0:y0 + out_h, x0:x0 + out_w] = nearest(native, out_h, out_w)

    def _paint_boundary(self, arr, model):
        from .boundary import decision_boundary
        X, _ = self.points
        n = self.boundary_cells
        b = decision_boundary(model, self.loss, X, n, n)
        sure = np.nan_to_num((b.probability - 1 / b.n_classes) / (1 - 1 / b.n_classes))
        level = 1 + np.clip((sure * len(TINTS)).astype(int), 0, len(TINTS) - 1)
        cells = (CLASS_BASE + 4 * (b.classes % MAX_CLASSES) + level).astype(np.uint8)
        x0, y0, x1, y1 = self.boundary_area
        region = nearest(cells, y1 - y0, x1 - x0)
        arr[y0:y1, x0:x1] = np.where(self.point_layer != 255, self.point_layer, region)

    def _draw_diagram(self, draw, params):
        d = self.runview.diagram(self.model, params, self.units)
        edges = []
        for k, layer in enumerate(d.layers):
            src_y, dst_y = self.node_y[k], self.node_y[k + 1]
            for r, unit in enumerate(layer.units):
                for c, w in zip(layer.inputs[r], layer.weights[r]):
                    if int(c) in src_y:
                        edges.append((abs(w), w, k, src_y[int(c)], dst_y[int(unit)]))
        edges.sort(key=lambda e: e[0])  # the strongest drawn last, on top
        width = 2 if len(edges) <= 150 else 1
        colours = signed_index([e[1] for e in edges], self.weight_scale)
        for (_, _, k, ya, yb), colour in zip(edges, colours):
            draw.line((self.node_x[k], ya, self.node_x[k + 1], yb), fill=int(colour), width=width)
        r = self.radius
        for k, ys in enumerate(self.node_y):
            if len(ys) > 40:
                draw.line((self.node_x[k], min(ys.values()), self.node_x[k], max(ys.values())), fill=DIM, width=2)
                continue
            layer = d.layers[k - 1] if k else None
            fills = (signed_index(layer.bias, self.bias_scale) if layer is not None and layer.bias is not None
                     else [EDGE] * len(ys))
            for y, fill in zip(ys.values(), fills):
                x = self.node_x[k]
                draw.ellipse((x - r, y - r, x + r, y + r), fill=int(fill), outline=DIM)

    def _draw_cursors(self, draw, i):
        x = float(self.run.epoch[i])
        for name, (px0, py0, px1, py1), to_px in self.charts:
            cx = float(to_px(x, 0.0)[0])
            draw.line((cx, py0 + 1, cx, py1 - 1), fill=CURSOR, width=1)
            if name == "loss" and np.isfinite(self.run.loss[i]):
                cy = float(np.clip(to_px(x, float(self.run.loss[i]))[1], py0, py1))
                draw.ellipse((cx - 3, cy - 3, cx + 3, cy + 3), fill=CURSOR)
