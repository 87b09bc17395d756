"""Run files: a training run's frames (weights, per-layer statistics) and epoch metrics in one .npz.

``Recorder`` rides along ``Sequential.fit`` (its ``on_batch``/``on_epoch`` hooks) and keeps a frame
every ``every`` iterations; ``save_run`` writes the file atomically; ``load_run`` reads it back with
``allow_pickle=False``, checks every entry and raises one ``RunFileError`` naming what is wrong.
docs/runs.md documents every key.
"""
from __future__ import annotations

import json
import math
import queue
import threading
import zipfile
from pathlib import Path

import numpy as np

from engine import Sequential
from engine.activations import Activation
from engine.serialize import atomic_write

FORMAT = "nndb-run/1"
SUFFIX = ".run.npz"
DEFAULT_FRAMES = 150            # frames of a run when --record gives no EVERY
MAX_FRAME_BYTES = 40 * 2**20    # the frames' weights (float32) stay under this: a run file < 50 MB
MAX_PROBE = 256                 # examples in the probe batch (dead units, replay's activations)
LARGE_INPUT = 256               # inputs of more features get an eighth of the probe: its forward pass runs at
                                # every frame, and with 256 digits would cost as much as four training iterations
MAX_POINTS = 600                # training points kept for a decision boundary (2-input data)
MAX_INFLATED = 2 * 2**30        # a run file whose entries inflate to more is refused unread
MAX_RECORD_BYTES = 2**30        # an EVERY that would keep more frames than this is refused before training
STATS = ("norm", "grad_norm", "update_ratio", "dead")
EPOCH_KEYS = ("iteration", "train_loss", "val_loss", "train_acc", "val_acc")
META_KEYS = ("architecture", "loss", "hyperparameters", "data", "record_every", "iterations_per_epoch",
             "parameters", "layers", "seconds_per_epoch")


class RunFileError(Exception):
    """A run file that is missing, truncated, foreign or inconsistent: the message says which."""


def run_path(model_path) -> Path:
    """Where a model's run file goes: ``digits.npz`` → ``digits.run.npz`` (``model`` → ``model.run.npz``)."""
    path = Path(model_path)
    stem = path.name[:-4] if path.name.lower().endswith(".npz") else path.name
    return path.with_name(stem + SUFFIX)


def default_every(total_iterations: int, bytes_per_frame: int, frames: int = DEFAULT_FRAMES) -> int:
    """EVERY giving about ``frames`` frames over ``total_iterations``, fewer when the weights are big
    enough that ``frames`` of them would pass MAX_FRAME_BYTES (the digits MLP: about 100)."""
    frames = max(2, min(frames, MAX_FRAME_BYTES // max(bytes_per_frame, 1)))
    return max(1, math.ceil(total_iterations / (frames - 1)))


def data_info(X, classes, image_shape=None) -> dict:
    """meta["data"]: what kind of inputs the run saw, so a viewer knows how to draw them."""
    X = np.asarray(X)
    if X.ndim == 4:
        kind, image_shape = "images", tuple(X.shape[2:])
    elif image_shape is not None:
        kind = "images"
    elif X.ndim == 3:
        kind = "sequences"
    else:
        kind = "points" if X.ndim == 2 and X.shape[1] == 2 else "table"
    return {"kind": kind, "n_features": int(np.prod(X.shape[1:])), "input_shape": [int(n) for n in X.shape[1:]],
            "image_shape": [int(n) for n in image_shape] if image_shape is not None else None,
            "classes": [str(c) for c in classes]}


def spread_rows(n: int, k: int) -> np.ndarray:
    """``k`` row indices spread evenly over ``n`` rows (all of them when n ≤ k): a fixed sample."""
    return np.arange(n) if n <= k else np.linspace(0, n - 1, k).round().astype(np.int64)


class Recorder:
    """Keeps frames of a model while it trains; pass ``on_batch``/``on_epoch`` to ``fit`` (or call them).

    A frame at iteration k holds the weights after k updates, the k-th iteration's loss, ‖W‖, ‖dW‖
    and ‖ΔW‖/‖W‖ of that iteration, and the dead-unit fraction of each activation layer on the probe
    batch. The first frame is the model as the recorder found it (its loss is the probe batch's, its
    gradient statistics NaN); the last iteration always gets a frame (``finish``).
    """

    def __init__(self, model: Sequential, loss, train: tuple, classes, *, iterations_per_epoch: int,
                 total_iterations: int | None = None, every: int | None = None, preset: str | None = None,
                 hyperparameters: dict | None = None, image_shape=None, start_epoch: float = 0.0):
        X, Y = train
        self.model, self.loss = model, loss
        self.params = model.parameters()
        self.activations = [layer for layer in model.layers if isinstance(layer, Activation)]
        self.iterations_per_epoch = max(1, int(iterations_per_epoch))
        self.total = total_iterations
        bytes_per_frame = sum(p.value.size for p in self.params) * 4
        if every is None:
            every = default_every(total_iterations or self.iterations_per_epoch, bytes_per_frame)
        if int(every) < 1:
            raise ValueError(f"record every must be a whole number ≥ 1, got {every}")
        self.every = int(every)
        if self.total and (self.total // self.every + 2) * bytes_per_frame > MAX_RECORD_BYTES:
            least = math.ceil(self.total * bytes_per_frame / (MAX_RECORD_BYTES - 2 * bytes_per_frame))
            raise ValueError(f"recording every {self.every} iterations would keep {self.total // self.every + 2:,} "
                             f"frames of {bytes_per_frame / 2**20:.1f} MiB, over the {MAX_RECORD_BYTES // 2**30} GiB "
                             f"a run file may hold; record every {least} iterations or more (or leave EVERY out)")
        self.start_iteration = model.iteration
        self.start_epoch = float(start_epoch)
        features = int(np.prod(np.asarray(X).shape[1:]))
        rows = spread_rows(len(X), MAX_PROBE if features <= LARGE_INPUT else MAX_PROBE // 8)
        self.probe_X, self.probe_Y = np.asarray(X)[rows].astype(model.dtype), np.asarray(Y)[rows]
        self.probe_y = np.asarray(loss.labels(self.probe_Y)).astype(np.int64)
        self.points = None
        if np.asarray(X).ndim == 2 and np.asarray(X).shape[1] == 2:
            rows = spread_rows(len(X), MAX_POINTS)
            self.points = (np.asarray(X)[rows].astype(np.float32),
                           np.asarray(loss.labels(np.asarray(Y)[rows])).astype(np.int64))
        self.meta = {"preset": preset, "architecture": model.config(), "loss": loss.kind,
                     "hyperparameters": dict(hyperparameters or {}),
                     "data": data_info(X, classes, image_shape), "record_every": self.every,
                     "iterations_per_epoch": self.iterations_per_epoch,
                     "parameters": [p.symbol for p in self.params], "layers": [l.name for l in model.layers],
                     "seconds_per_epoch": []}
        self._probe_model = model.copy()  # dead units measured on a copy: the live model's caches stay
        self._probe_loss = type(loss)()
        self.frames: dict[str, list] = {"iteration": [], "epoch": [], "loss": []}
        # the frames' weights, preallocated (float32) when the run's length is known: no copy at the end
        capacity = self.total // self.every + 2 if self.total else 64
        self.values = {p.symbol: np.empty((capacity, *p.value.shape), np.float32) for p in self.params}
        self.stats = {f"{kind}_{p.symbol}": [] for kind in STATS[:3] for p in self.params}
        self.stats.update({f"dead_{layer.name}": [] for layer in self.activations})
        self.epochs = {key: [] for key in EPOCH_KEYS}
        self._before = None  # the weights before the iteration about to run, when it gets a frame
        # kept in buffers allocated once (a fresh 400 KB array a frame costs its page faults each time),
        # which then take the update ΔW in place: the less memory a frame touches, the less it slows training
        self._before_buffers = [np.empty_like(p.value) for p in self.params]
        self.path, self._writer = None, None  # with a path and a known length: frames written as taken
        self._streaming = True
        self._last_loss = math.nan
        self._capture(None)
        self._prepare_next()

    # -- hooks -----------------------------------------------------------------------------------
    def on_batch(self, epoch=None, batch=None, n_batches=None, loss: float = math.nan) -> None:
        """After each training iteration (``fit``'s on_batch signature; only the loss is used)."""
        done = self.model.iteration - self.start_iteration
        if done % self.every == 0 or (self.total is not None and done == self.total):
            self._capture(float(loss))
        else:
            self._last_loss = float(loss)
        self._prepare_next()

    def on_epoch(self, epoch=None, logs: dict | None = None) -> None:
        """At each epoch's end (``fit``'s on_epoch signature): the epoch's metrics and seconds."""
        logs = logs or {}
        self.epochs["iteration"].append(float(self.model.iteration))
        for key, log in (("train_loss", "loss"), ("val_loss", "val_loss"), ("train_acc", "accuracy"),
                         ("val_acc", "val_accuracy")):
            value = logs.get(log)
            self.epochs[key].append(math.nan if value is None else float(value))
        if logs.get("seconds") is not None:
            self.meta["seconds_per_epoch"].append(float(logs["seconds"]))

    def evaluate(self, X, Y) -> dict:
        """Loss and accuracy of the current weights on (X, Y), measured on the recorder's copy."""
        probe = self._synced_probe()
        with np.errstate(all="ignore"):
            result = probe.evaluate(X, Y, self._probe_loss)
        return {"loss": float(result["loss"]), "accuracy": float(result["accuracy"])}

    def finish(self) -> None:
        """Give the last iteration trained a frame, if the grid missed it (an interrupted run)."""
        if self.frames["iteration"][-1] != self.model.iteration:
            self._before = None  # prepared for an iteration that never ran
            self._capture(self._last_loss)

    # -- frames ----------------------------------------------------------------------------------
    def _prepare_next(self) -> None:
        upcoming = self.model.iteration + 1 - self.start_iteration
        if upcoming % self.every == 0 or (self.total is not None and upcoming == self.total):
            for buffer, p in zip(self._before_buffers, self.params):
                np.copyto(buffer, p.value)
            self._before = self._before_buffers
        else:
            self._before = None

    def foreseen_frames(self) -> int | None:
        """How many frames the run will have if it trains all its ``total_iterations``."""
        if self.total is None:
            return None
        return self.total // self.every + 1 + (self.total % self.every != 0)

    def _stream(self) -> None:
        """Hand the frames taken to the background writer (started at the first, once a path is set)."""
        n = len(self.frames["iteration"])
        if self._writer is None and self._streaming and self.path is not None and self.total is not None:
            biggest = max(self.params, key=lambda p: p.value.size).symbol
            self._writer = RunWriter(self.path, f"param_{biggest}", self.values[biggest], self.foreseen_frames())
            for i in range(n - 1):
                self._writer.push(i)
        if self._writer is None:
            return
        if n <= self._writer.count:
            self._writer.push(n - 1)
        else:  # more frames than foreseen: write the file at the end instead
            self._writer.abandon()
            self._writer, self._streaming = None, False

    def _capture(self, loss: float | None) -> None:
        iteration = self.model.iteration
        first = loss is None
        if first:
            loss = self._probe_forward(measure_loss=True)
        else:
            self._probe_forward()
        self.frames["iteration"].append(iteration)
        self.frames["epoch"].append(self.start_epoch + (iteration - self.start_iteration) / self.iterations_per_epoch)
        self.frames["loss"].append(loss)
        for i, p in enumerate(self.params):
            value = p.value
            frames = self.values[p.symbol]
            if len(self.frames["iteration"]) > len(frames):  # more frames than foreseen: twice the room
                frames = self.values[p.symbol] = np.concatenate([frames, np.empty_like(frames)])
            np.copyto(frames[len(self.frames["iteration"]) - 1], value, casting="same_kind")
            norm = float(np.linalg.norm(value))
            self.stats[f"norm_{p.symbol}"].append(norm)
            self.stats[f"grad_norm_{p.symbol}"].append(math.nan if first else float(np.linalg.norm(p.grad)))
            before = self._before[i] if self._before is not None and not first else None
            ratio = (math.nan if before is None else
                     float(np.linalg.norm(np.subtract(value, before, out=before))) / max(norm, 1e-30))
            self.stats[f"update_ratio_{p.symbol}"].append(ratio)
        self._stream()

    def _synced_probe(self) -> Sequential:
        """The recorder's copy of the model, carrying the live weights (shared, not copied: it only reads)."""
        for mine, live in zip(self._probe_model.parameters(), self.params):
            mine.value = live.value
        return self._probe_model

    def _probe_forward(self, measure_loss: bool = False) -> float:
        """Run the probe batch through a copy carrying the current weights: dead units (and a loss)."""
        probe = self._synced_probe()
        probe.eval()
        out = self.probe_X
        with np.errstate(all="ignore"):
            for layer in probe.layers:
                out = layer.forward(out)
                if isinstance(layer, Activation):
                    units = out.reshape(out.shape[0], -1) if out.ndim == 2 else (
                        np.moveaxis(out, 1, -1) if out.ndim == 4 else out)
                    alive = np.any(units.reshape(-1, units.shape[-1]) != 0, axis=0)
                    self.stats[f"dead_{layer.name}"].append(float(1.0 - alive.mean()))
            if not measure_loss:
                return math.nan
            try:
                return float(self._probe_loss.forward(out, self.probe_Y))
            except Exception:  # a loss that cannot take this batch alone: no loss is better than none
                return math.nan

    # -- the file --------------------------------------------------------------------------------
    def _frame_arrays(self) -> dict[str, np.ndarray]:
        n = len(self.frames["iteration"])
        return {f"param_{name}": frames[:n] for name, frames in self.values.items()}

    def arrays(self) -> dict[str, np.ndarray]:
        """Every entry of the run file, by key (docs/runs.md)."""
        arrays = {"format": np.array(FORMAT), "meta": np.array(json.dumps(self.meta)),
                  "frame_iteration": np.array(self.frames["iteration"], dtype=np.int64),
                  "frame_epoch": np.array(self.frames["epoch"], dtype=np.float64),
                  "frame_loss": np.array(self.frames["loss"], dtype=np.float32)}
        arrays.update(self._frame_arrays())
        arrays.update({key: np.array(values, dtype=np.float32) for key, values in self.stats.items()})
        arrays.update({f"epoch_{key}": np.array(values, dtype=np.float64) for key, values in self.epochs.items()})
        arrays["probe_X"] = np.asarray(self.probe_X, dtype=np.float32)
        arrays["probe_y"] = self.probe_y
        if self.points is not None:
            arrays["points_X"], arrays["points_y"] = self.points
        return arrays

    def save(self, path) -> Path:
        """Write the run file (its biggest parameter's frames may be written already: see RunWriter)."""
        self.finish()
        writer, self._writer = self._writer, None
        if writer is not None and writer.path == Path(path) and len(self.frames["iteration"]) == writer.count:
            return writer.finish({k: v for k, v in self.arrays().items() if k != writer.key})
        if writer is not None:  # a run stopped short of its foreseen frames
            writer.abandon()
        return save_run(path, self.arrays())


def save_run(path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` as an .npz at ``path``, atomically (a temporary file, then a rename).

    Stored uncompressed, as ``np.savez`` does: float32 weights deflate by about 6 %, and deflating the
    40 MB of a digits run takes a second, most of the 10 % of the training time recording may cost."""
    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
            write_members(zf, arrays)
    atomic_write(path, write)
    return Path(path)


def write_members(zf: zipfile.ZipFile, arrays: dict[str, np.ndarray]) -> None:
    for key, value in arrays.items():
        value = np.asanyarray(value)
        with zf.open(key + ".npy", "w", force_zip64=True) as member:
            if value.dtype.kind == "f" and value.flags.c_contiguous:  # the frames: written as they lie
                np.lib.format.write_array_header_2_0(member, np.lib.format.header_data_from_array_1_0(value))
                member.write(value.reshape(-1).view(np.uint8))
            else:  # write_array copies through a buffer: fine for the small entries
                np.lib.format.write_array(member, value, allow_pickle=False)


class _Abandoned(Exception):
    pass


class RunWriter(threading.Thread):
    """Writes a run file while the run trains: the biggest parameter's frames (W1 holds 99 % of a
    digits run's 40 MB) go into its entry, declared with the foreseen frame count, as they are taken;
    ``finish`` adds the other entries and waits. The CRC and the writes release the GIL, so they run
    beside the training instead of after it. A run that stops short of its foreseen frames is
    ``abandon``ed (its temporary file removed) and written whole at the end. A daemon: a run that
    stops without either (an unforeseen error) leaves a temporary file, which the next write removes."""

    def __init__(self, path, key: str, frames: np.ndarray, count: int):
        super().__init__(name=f"run file {path}", daemon=True)
        self.path, self.key, self.frames, self.count = Path(path), key, frames, count
        self.taken: queue.SimpleQueue = queue.SimpleQueue()
        self.rest: dict | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.start()

    def push(self, i: int) -> None:
        """Frame ``i`` is complete (the recorder never changes it again): write it."""
        self.taken.put(i)

    def run(self) -> None:
        def write(f):
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
                with zf.open(self.key + ".npy", "w", force_zip64=True) as member:
                    header = np.lib.format.header_data_from_array_1_0(self.frames[:1])
                    header["shape"] = (self.count, *self.frames.shape[1:])
                    np.lib.format.write_array_header_2_0(member, header)
                    for _ in range(self.count):
                        i = self.taken.get()
                        if i is None:
                            raise _Abandoned()
                        member.write(self.frames[i].reshape(-1).view(np.uint8))
                self.ready.wait()
                if self.rest is None:
                    raise _Abandoned()
                write_members(zf, self.rest)
        try:
            atomic_write(self.path, write)  # an exception removes the temporary file
        except BaseException as e:  # handed to finish, in the caller's thread
            self.error = e

    def finish(self, rest: dict[str, np.ndarray]) -> Path:
        self.rest = rest
        self.ready.set()
        self.join()
        if self.error is not None:
            raise self.error
        return self.path

    def abandon(self) -> None:
        self.taken.put(None)
        self.ready.set()
        self.join()


# -- reading -------------------------------------------------------------------------------------
class Run:
    """A run file, read and checked: frames, statistics, epoch metrics and the probe batch."""

    def __init__(self, path: Path, meta: dict, arrays: dict[str, np.ndarray]):
        self.path, self.meta, self._arrays = path, meta, arrays
        self.iteration = arrays["frame_iteration"]
        self.epoch = arrays["frame_epoch"]
        self.loss = arrays["frame_loss"]
        self.frames = len(self.iteration)
        self.parameters: list[str] = list(meta["parameters"])
        self.layers: list[str] = list(meta["layers"])
        self.probe_X, self.probe_y = arrays["probe_X"], arrays["probe_y"]

    @property
    def label(self) -> str:
        name = self.path.name
        return name[:-len(SUFFIX)] if name.endswith(SUFFIX) else self.path.stem

    @property
    def image_shape(self) -> tuple | None:
        shape = self.meta["data"].get("image_shape")
        return tuple(shape) if shape else None

    @property
    def hyperparameters(self) -> dict:
        return self.meta["hyperparameters"]

    @property
    def seconds_per_epoch(self) -> list[float]:
        return list(self.meta["seconds_per_epoch"])

    @property
    def epochs(self) -> dict[str, np.ndarray]:
        return {key: self._arrays[f"epoch_{key}"] for key in EPOCH_KEYS}

    @property
    def points(self) -> tuple[np.ndarray, np.ndarray] | None:
        if "points_X" not in self._arrays:
            return None
        return self._arrays["points_X"], self._arrays["points_y"]

    @property
    def dead_layers(self) -> list[str]:
        """The activation layers with a dead-unit series (``stat("dead", name)``)."""
        return [name for name in self.layers if f"dead_{name}" in self._arrays]

    def params(self, i: int) -> dict[str, np.ndarray]:
        """Frame ``i``'s parameters by math name (W1, b1, K1, ...), float32."""
        return {name: self._arrays[f"param_{name}"][i] for name in self.parameters}

    def param_series(self, name: str) -> np.ndarray:
        """All frames of one parameter: (F, *shape)."""
        return self._arrays[f"param_{name}"]

    def stat(self, kind: str, name: str) -> np.ndarray:
        """(F,) series: ``kind`` is norm, grad_norm or update_ratio of a parameter, or dead of a layer."""
        if kind not in STATS:
            raise KeyError(f"no statistic {kind!r}; run files keep {', '.join(STATS)}")
        key = f"{kind}_{name}"
        if key not in self._arrays:
            known = self.dead_layers if kind == "dead" else self.parameters
            raise KeyError(f"{self.label} has no {kind} series for {name!r}; it has {', '.join(known) or 'none'}")
        return self._arrays[key]

    def model_at(self, i: int) -> Sequential:
        """An engine model with frame ``i``'s weights (in the architecture's dtype)."""
        model = Sequential.from_config(self.meta["architecture"])
        for name, value in self.params(i).items():
            p = model.param(name)
            p.value = value.astype(model.dtype)
        model.iteration = int(self.iteration[i])
        return model

    def __repr__(self):
        return f"<Run {self.label}: {self.frames} frames, {len(self.epochs['iteration'])} epochs>"


def load_run(path) -> Run:
    """Read and check a run file; raises RunFileError with one line saying what is wrong."""
    path = Path(path)
    try:
        return _load(path)
    except RunFileError as e:
        raise RunFileError(f"{path}: {e}") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, TypeError, IndexError) as e:
        raise RunFileError(f"{path}: unreadable or truncated run file ({type(e).__name__}: {e})") from None


def _load(path: Path) -> Run:
    if not path.exists():
        raise RunFileError("no such run file (record one with `nndb train ... --record`)")
    if not path.is_file():
        raise RunFileError("not a file; give a NAME.run.npz file (or, to `nndb compare`, a folder of them)")
    with open(path, "rb") as f:
        if not f.read(4).startswith(b"PK"):
            raise RunFileError("not an nndb run file (not a NumPy .npz archive)")
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if sum(info.file_size for info in infos) > MAX_INFLATED:
            raise RunFileError(f"its entries inflate to more than {MAX_INFLATED // 2**30} GiB; nothing was read")
        names = {info.filename[:-4] for info in infos if info.filename.endswith(".npy")}
    if "format" not in names:
        hint = (f"; it is an nndb model file — its run file would be {run_path(path).name}"
                if "__architecture__" in names else "")
        raise RunFileError(f"not an nndb run file (no 'format' entry){hint}")
    with np.load(path, allow_pickle=False) as npz:
        fmt = str(npz["format"])
        if fmt != FORMAT:
            raise RunFileError(f"format {fmt[:40]!r}, this nndb reads {FORMAT!r}")
        try:
            meta = json.loads(str(npz["meta"]))
        except (KeyError, ValueError) as e:
            raise RunFileError(f"its 'meta' entry is missing or not JSON ({e})") from None
        _check_meta(meta)
        arrays = {name: npz[name] for name in names}
    _check_arrays(meta, arrays)
    return Run(path, meta, arrays)


def _check_meta(meta) -> None:
    if not isinstance(meta, dict):
        raise RunFileError("its 'meta' entry is not a JSON object")
    missing = [key for key in META_KEYS if key not in meta]
    if missing:
        raise RunFileError(f"its meta lacks {', '.join(missing)}")
    for key in ("parameters", "layers", "seconds_per_epoch"):
        if not isinstance(meta[key], list):
            raise RunFileError(f"meta.{key} is not a list")
    if not all(isinstance(n, str) for n in meta["parameters"] + meta["layers"]):
        raise RunFileError("meta.parameters and meta.layers must be lists of names")
    if not isinstance(meta["data"], dict) or not isinstance(meta["hyperparameters"], dict):
        raise RunFileError("meta.data and meta.hyperparameters must be JSON objects")


def _check_arrays(meta: dict, arrays: dict[str, np.ndarray]) -> None:
    need = ["frame_iteration", "frame_epoch", "frame_loss", "probe_X", "probe_y"]
    need += [f"param_{n}" for n in meta["parameters"]]
    need += [f"{kind}_{n}" for kind in STATS[:3] for n in meta["parameters"]]
    need += [f"epoch_{key}" for key in EPOCH_KEYS]
    missing = [key for key in need if key not in arrays]
    if missing:
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        raise RunFileError(f"incomplete run file: no {shown}")
    frames = len(arrays["frame_iteration"])
    if frames < 1:
        raise RunFileError("it holds no frames")
    series = [k for k in arrays if k.startswith(("frame_", "norm_", "grad_norm_", "update_ratio_", "dead_", "param_"))]
    for key in series:
        if arrays[key].ndim < 1 or len(arrays[key]) != frames:
            raise RunFileError(f"{key} has {len(arrays[key]) if arrays[key].ndim else 0} frames, "
                               f"frame_iteration has {frames}")
    n_epochs = {len(arrays[f"epoch_{key}"]) for key in EPOCH_KEYS}
    if len(n_epochs) != 1:
        raise RunFileError("its epoch_* arrays differ in length")
    try:
        model = Sequential.from_config(meta["architecture"])
    except Exception as e:  # a hand-edited architecture: KeyError, TypeError, ValueError...
        raise RunFileError(f"meta.architecture does not build a model ({type(e).__name__}: {e})") from None
    for name in meta["parameters"]:
        try:
            shape = model.param(name).value.shape
        except KeyError:
            raise RunFileError(f"parameter {name} is not in meta.architecture") from None
        if arrays[f"param_{name}"].shape[1:] != shape:
            raise RunFileError(f"param_{name} holds frames of shape {arrays[f'param_{name}'].shape[1:]}, "
                               f"the architecture's {name} is {shape}")
    if len(arrays["probe_X"]) != len(arrays["probe_y"]):
        raise RunFileError("probe_X and probe_y differ in length")
