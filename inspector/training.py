"""Real training runs from the terminal: `nndb train`, `nndb sweep` and `nndb data download`.

Data comes from a preset (the toy sets, or ``digits``: MNIST-format files found by
``--data`` or the engine's search path) or from the user's CSV. With only the 10,000 t10k
digits present (as in ../shared/data/mnist), the first 8,000 train and the last 2,000 test,
as the benchmarks do; with the 60,000 training files present those train and t10k tests.
A ``--val`` fraction of the training part is held out for validation (the last rows for the
digits, a seeded shuffle for toy sets and CSVs).
"""
from __future__ import annotations

import csv
import io
import itertools
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table
from rich.text import Text

from engine import Sequential, load, save
from engine import datasets
from engine.build import canonical, mlp, optimizer_name, spelling_note
from engine.build import loss as loss_of
from engine.build import optimizer as optimizer_of
from engine.errors import DataError, ShapeError
from engine.losses import SoftmaxCrossEntropy
from engine.presets import PRESETS, load_preset
from engine.serialize import atomic_write

from .guards import Diverged, check_output, clean, stop_if_diverged
from . import recording
from .plots import training_curves

HISTORY_KEYS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")


class CommandError(Exception):
    """A bad flag or file: the CLI prints the message and exits with status 2."""


# -- data ----------------------------------------------------------------------------------------
@dataclass
class Data:
    """Train/validation/test splits of one dataset, with what is needed to rebuild them."""

    train: tuple
    val: tuple | None
    test: tuple | None
    classes: list[str]
    source: dict                     # JSON: {"preset": name} or {"csv": path, "label": col}
    note: str                        # where the splits came from, in words
    standardizer: object = None
    loss_kind: str = "softmax_ce"
    extra: dict = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return self.train[0].shape[1]

    @property
    def image_side(self) -> int | None:
        if self.source.get("preset") == "digits-cnn":
            return self.train[0].shape[-1]
        side = math.isqrt(self.n_features)
        return side if self.source.get("preset") == "digits" and side * side == self.n_features else None


def _split(X, y, val: float, test: float, seed: int) -> dict:
    """The engine's seeded train/val/test split (a local one until engine.datasets has it)."""
    if hasattr(datasets, "train_val_test_split"):
        return datasets.train_val_test_split(X, y, val=val, test=test, seed=seed)
    order = np.random.default_rng(seed).permutation(len(X))
    n_test, n_val = int(round(len(X) * test)), int(round(len(X) * val))
    parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    return {k: (X[idx], y[idx]) for k, idx in parts.items()}


def _nonempty(pair):
    return pair if pair is not None and len(pair[0]) else None


def mnist_splits(data=None) -> tuple[tuple, tuple, str]:
    """(train, test, note) from the MNIST-format files: train+t10k, or t10k's first 8000 / last 2000."""
    if hasattr(datasets, "load_mnist_splits"):
        splits = datasets.load_mnist_splits(data)
        train, test = splits.get("train"), splits.get("test")
    else:
        from engine.presets import mnist_path
        folder = Path(mnist_path(data))
        train = datasets.load_mnist(folder, "train") if datasets.find_idx_pair(folder, "train") else None
        test = datasets.load_mnist(folder, "test") if folder.is_dir() and datasets.find_idx_pair(folder, "test") else None
        if train is None and test is None:
            datasets.load_mnist(folder)  # raises the DataError that says what is missing
    if train is not None and test is not None:
        return train, test, f"{len(train[0]):,} training digits; {len(test[0]):,} t10k test digits"
    X, y = train if train is not None else test
    n_train = int(len(X) * 0.8)
    which = "training" if train is not None else "t10k"
    return ((X[:n_train], y[:n_train]), (X[n_train:], y[n_train:]),
            f"only the {which} files: the first {n_train:,} of {len(X):,} digits train, "
            f"the last {len(X) - n_train:,} test")


def class_indices(y, classes) -> np.ndarray:
    """Labels as 0..K-1 indices into ``classes`` (a CSV reader may give the names themselves)."""
    y = np.asarray(y)
    if y.dtype.kind in "iu":
        return y.astype(np.int64)
    index = {str(c): i for i, c in enumerate(classes)}
    return np.array([index[str(v)] for v in y], dtype=np.int64)


def load_data(source: dict, data=None, seed: int = 0, val: float = 0.1, test: float = 0.2) -> Data:
    """The splits for ``source`` ({"preset": name} or {"csv": path, "label": col})."""
    if not 0.0 <= val < 1.0:
        raise CommandError(f"--val must be a fraction in [0, 1), got {val}")
    if "csv" in source:
        if not hasattr(datasets, "read_csv"):
            raise CommandError("reading CSV files needs engine.datasets.read_csv, which this nndb lacks")
        table = datasets.read_csv(source["csv"], label=source.get("label"))
        parts = _split(np.asarray(table.X, float), class_indices(table.y, table.classes), val, 0.1, seed)
        st = datasets.Standardizer()
        st.fit(parts["train"][0])
        parts = {k: (st.transform(X), y) for k, (X, y) in parts.items()}
        return Data(parts["train"], _nonempty(parts["val"]), _nonempty(parts["test"]),
                    [clean(str(c), newlines=False) for c in table.classes], dict(source),
                    f"{source['csv']}: {len(table.X):,} rows, {len(parts['train'][0]):,} train / "
                    f"{len(parts['val'][0]):,} validation / {len(parts['test'][0]):,} test; "
                    f"standardized with the training rows' mean and std",
                    standardizer=st, extra={"feature_names": list(table.feature_names)})
    name = source["preset"]
    if name in ("digits", "digits-cnn"):
        (X, y), test_pair, note = mnist_splits(data)
        if name == "digits-cnn":  # the CNN reads (batch, 1, 28, 28) images
            X, test_pair = datasets.as_images(X), (datasets.as_images(test_pair[0]), test_pair[1])
        n_val = int(round(len(X) * val))
        train_pair = (X[:len(X) - n_val], y[:len(X) - n_val])
        val_pair = (X[len(X) - n_val:], y[len(X) - n_val:]) if n_val else None
        note += f"; the last {n_val:,} training digits validate" if n_val else ""
        return Data(train_pair, val_pair, test_pair, [str(k) for k in range(10)], {"preset": name}, note)
    problem = load_preset(name, seed=seed)
    if len(problem.X) < 20:  # xor: four points, nothing to hold out
        pair = (problem.X, problem.Y)
        return Data(pair, None, pair, problem.classes, {"preset": name},
                    f"all {len(problem.X)} {name} points (too few to hold any out): test = train",
                    loss_kind=problem.loss.kind)
    parts = _split(problem.X, problem.Y, val, test, seed)
    return Data(parts["train"], _nonempty(parts["val"]), _nonempty(parts["test"]), problem.classes,
                {"preset": name}, f"{len(problem.X)} {name} {'points' if problem.X.ndim == 2 else 'examples'}, seed {seed}: {len(parts['train'][0])} train / "
                f"{len(parts['val'][0])} validation / {len(parts['test'][0])} test", loss_kind=problem.loss.kind)


def data_source(args) -> dict:
    if getattr(args, "csv", None):
        if args.preset:
            raise CommandError("give --preset or --csv, not both")
        return {"csv": str(Path(args.csv).resolve()), "label": args.label}
    if args.preset:
        return {"preset": args.preset}
    if getattr(args, "data", None):
        return {"preset": "digits"}
    raise CommandError("no data: pass --preset NAME (one of " + ", ".join(PRESETS) +
                       "), --data FOLDER (MNIST-format digits) or --csv FILE")


# -- model ---------------------------------------------------------------------------------------
def parse_ints(text: str, flag: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise CommandError(f"{flag} takes whole numbers separated by commas, e.g. 784,128,10; got {text!r}") from None
    if not values or min(values) < 1:
        raise CommandError(f"{flag} needs positive sizes, got {text!r}")
    if max(values) > MAX_WIDTH:
        raise CommandError(f"{flag}: a layer of {str(max(values))[:24]} units is more than nndb builds "
                           f"(at most {MAX_WIDTH:,} a layer)")
    return values


MAX_WIDTH = 100_000  # units in one dense layer: 10⁵ × 10⁵ weights would already be 40 GB


def parse_floats(text: str, flag: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise CommandError(f"{flag} takes numbers separated by commas, e.g. 0.3,0.1; got {text!r}") from None
    if not values:
        raise CommandError(f"{flag} is empty")
    return values


def dense_net(sizes: list[int], activation: str = "relu", init: str | None = None, dropout: float = 0.0,
              seed: int = 0, dtype="float32", l2: float = 0.0) -> Sequential:
    """The engine's ``mlp``, with its complaints in the words of the flags."""
    if len(sizes) < 2:
        raise CommandError(f"--layers needs at least an input and an output size, got {sizes}")
    if not 0.0 <= dropout < 1.0:
        raise CommandError(f"--dropout must be in [0, 1), got {dropout}")
    return mlp(sizes, activation, init, dropout=dropout, seed=seed, dtype=dtype, l2=l2)


class Spelled(str):
    """A flag's name as the engine's table spells it; ``note`` tells of the old spelling typed, if one was."""

    note: str | None = None


def name_flag(kind: str):
    """argparse ``type=`` for a flag taking a name of ``kind``: an old spelling becomes the table's.

    Unknown names pass through unchanged, for argparse's ``choices`` (``NAMES[kind]``) to reject."""
    def convert(text: str) -> Spelled:
        name = Spelled(canonical(kind, text))
        name.note = spelling_note(kind, text)
        return name
    convert.__name__ = kind
    return convert


def spelling_notes(args, console: Console) -> None:
    """Print the note of each flag given in an old spelling (``'leaky-relu' is now spelled 'leakyrelu'``)."""
    for flag in ("activation", "init", "optimizer"):
        note = getattr(getattr(args, flag, None), "note", None)
        if note:
            console.print(Text(f"--{flag}: {note}", style="yellow"))


@dataclass
class Plan:
    """What ``nndb train`` will run: model, loss, optimizer, epochs, batch size."""

    model: Sequential
    loss: object
    optimizer: object
    epochs: int
    batch_size: int


def plan_training(args, data: Data) -> Plan:
    """The model and settings: the preset's, with every flag given overriding it."""
    preset = data.source.get("preset")
    base = load_preset(preset, seed=args.seed, data=args.data) if preset else None
    custom = args.layers or args.activation or args.init or args.dropout or base is None
    if custom:
        if base is not None and not args.layers and base.model.mlp_sizes() is None:
            raise CommandError(f"--activation, --init and --dropout rebuild a dense network, but the {preset} "
                               f"preset's network starts with a {base.model.layers[0].kind} layer; drop those "
                               f"flags (or give --layers for a dense network)")
        sizes = parse_ints(args.layers, "--layers") if args.layers else (base.model.mlp_sizes() if base else None)
        if sizes is None:
            raise CommandError("--csv needs --layers (e.g. --layers "
                               f"{data.n_features},32,{max(len(data.classes), 2)}) or a --preset")
        model = dense_net(sizes, args.activation or "relu", args.init, args.dropout or 0.0, args.seed, args.dtype)
        loss = loss_of(data.loss_kind) if base is None else type(base.loss)()
    else:
        model, loss = base.model.astype(args.dtype), base.loss
    try:
        model.check_data(data.train[0])
    except ShapeError as e:
        hint = f"; start --layers with {data.n_features}" if custom and data.train[0].ndim == 2 else ""
        raise CommandError(f"{e}{hint}") from None
    n_out = model.output_shape()[0]
    if isinstance(loss, SoftmaxCrossEntropy) and n_out < len(data.classes):
        raise CommandError(f"the network has {n_out} outputs but the data has {len(data.classes)} classes; "
                           f"end --layers with {len(data.classes)}")
    if args.l2 is not None:
        if not args.l2 >= 0:
            raise CommandError(f"--l2 must be ≥ 0, got {args.l2}")
        model.l2 = args.l2
    if base is not None and not args.optimizer and args.lr is None and not custom:
        optimizer = base.optimizer
    else:
        kind = args.optimizer or (optimizer_name(base.optimizer) if base else "momentum")
        lr = args.lr if args.lr is not None else (
            base.optimizer.lr if base and kind == optimizer_name(base.optimizer) else 0.001 if kind == "adam" else 0.05)
        if not (math.isfinite(lr) and lr > 0):
            raise CommandError(f"--lr must be > 0 and finite, got {lr}")
        optimizer = optimizer_of(kind, model.parameters(), lr=lr)
    epochs = args.epochs if args.epochs is not None else (base.epochs if base else 20)
    batch = args.batch_size if args.batch_size is not None else (base.batch_size if base else 32)
    if epochs < 1 or batch < 1:
        raise CommandError("--epochs and --batch-size must be ≥ 1")
    return Plan(model, loss, optimizer, epochs, batch)


def file_extra(plan: Plan, data: Data, args, epochs_done: int) -> dict:
    """The model file's metadata, as inspector.session's file_extra writes it, plus the data's recipe."""
    opt = plan.optimizer
    return {"loss": plan.loss.kind, "optimizer": {"type": opt.kind, **opt.config()},
            "preset": data.source.get("preset"), "seed": args.seed, "batch_size": plan.batch_size,
            "data": data.source, "val": args.val, "classes": data.classes, "epochs": epochs_done,
            "standardizer": data.standardizer.to_dict() if data.standardizer is not None else None,
            **data.extra}


# -- files ---------------------------------------------------------------------------------------
def history_paths(out) -> tuple[Path, Path]:
    """MODEL.history.csv and MODEL.history.json beside MODEL.npz."""
    stem = Path(out).with_suffix("")
    return Path(f"{stem}.history.csv"), Path(f"{stem}.history.json")


def write_table(rows: list[dict], csv_path: Path, json_path: Path, keys, meta: dict | None = None) -> None:
    """Rows as CSV and as JSON (with ``meta``), each written atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(keys), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(csv_path, lambda f: f.write(buf.getvalue().encode()))
    doc = json.dumps({**(meta or {}), "rows": rows}, indent=1)
    atomic_write(json_path, lambda f: f.write(doc.encode()))


def write_history(rows: list[dict], out, meta: dict) -> None:
    csv_path, json_path = history_paths(out)
    write_table(rows, csv_path, json_path, HISTORY_KEYS, meta)


def resume_from(out: Path, model) -> list[dict]:
    """The history rows of an interrupted run, with its last complete epoch's weights put into ``model``."""
    json_path = history_paths(out)[1]
    if not out.is_file() or not json_path.is_file():
        raise CommandError(f"--resume: {out} and {json_path.name} from an earlier `nndb train --out {out}` "
                           f"are needed; start without --resume")
    saved = load(out)
    extra = saved.file_extra if isinstance(saved.file_extra, dict) else {}
    epochs = extra.get("epochs")
    if epochs is not None and not (isinstance(epochs, int) and not isinstance(epochs, bool) and epochs >= 0):
        raise CommandError(f"--resume: {out} records {str(epochs)[:40]!r} epochs done, not a whole number ≥ 0; "
                           f"start without --resume")
    if saved.config()["layers"] != model.config()["layers"]:
        raise CommandError(f"--resume: {out} holds another architecture than these flags build; "
                           f"give the same flags as the interrupted run")
    try:
        rows = json.loads(json_path.read_text())["rows"]
    except (ValueError, KeyError, TypeError, OSError) as e:
        raise CommandError(f"--resume: cannot read {json_path}: {e}") from None
    if not isinstance(rows, list):
        raise CommandError(f"--resume: {json_path} holds no list of rows; start without --resume")
    model.load_state_dict(saved.state_dict())
    return [r for r in rows if isinstance(r, dict)][:epochs if epochs is not None else len(rows)]


def check_out(out, inputs=()) -> Path:
    """The --out path, if nndb may write it (and MODEL.history.csv/.json beside it): a regular file
    or a new one, never a symbolic link, a device or one of the ``inputs``."""
    try:
        for path in (out, *history_paths(out)):
            check_output(path, inputs)
    except ValueError as e:
        raise CommandError(str(e)) from None
    out = Path(out)
    if not out.parent.is_dir():
        raise CommandError(f"--out {out}: the folder {out.parent} does not exist")
    if out.is_dir():
        raise CommandError(f"--out {out} is a folder; give a file name like model.npz")
    return out


# -- train ---------------------------------------------------------------------------------------
def fmt_pct(x) -> str:
    return "—" if x is None else f"{100 * x:.2f} %"


def cmd_train(args, console: Console) -> int:
    source = data_source(args)
    out = check_out(args.out, [source.get("csv")])
    data = load_data(source, data=args.data, seed=args.seed, val=args.val)
    spelling_notes(args, console)
    plan = plan_training(args, data)
    use = getattr(args, "train_hook", None)  # `--use FILE`: the learner's functions (lessons/exercises/use.py)
    if use is not None:
        use.prepare(plan, len(data.train[0]), console)
    model, loss, opt = plan.model, plan.loss, plan.optimizer
    console.print(Text.assemble(("nndb train", "bold"), f": {source.get('preset') or Path(source['csv']).name} data — ",
                                (data.note, "dim")))
    console.print(Text(f"{model.describe()}  {loss.kind}, {optimizer_name(opt)} lr={opt.lr:g}, l2={model.l2:g}, "
                       f"{plan.epochs} epochs of batch {plan.batch_size}, {model.dtype.name}, seed {args.seed}",
                       style="dim"))
    rows: list[dict] = resume_from(out, model) if getattr(args, "resume", False) else []
    done0 = len(rows)
    if done0 >= plan.epochs:
        console.print(Text(f"{out} already has {done0} of {plan.epochs} epochs: nothing to resume", style="yellow"))
        return 0
    if done0:
        console.print(Text(f"resuming {out} after epoch {done0} (the optimizer's momentum and the shuffling "
                           f"start afresh)", style="yellow"))
    meta = {"model": str(out), "data": data.note, "seed": args.seed}
    n_train = len(data.train[0])
    n_batches = (n_train + min(plan.batch_size, n_train) - 1) // min(plan.batch_size, n_train)
    recorder = recording.for_training(args, plan, data, out, done0, n_batches)  # None without --record
    state = {"correct": 0, "seen": 0, "loss": 0.0}
    progress = Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("batch {task.fields[batch]}"), TextColumn("loss {task.fields[loss]}"),
                        TextColumn("acc {task.fields[acc]}"), TimeElapsedColumn(), TextColumn("ETA"),
                        TimeRemainingColumn(), console=console, transient=False)

    def on_batch(epoch, b, nb, L):
        if not math.isfinite(L):  # stop at the first non-finite loss: nothing after it is worth saving
            raise Diverged(epoch + done0 + 1, b + 1, L, opt.lr)
        Y = getattr(loss, "Y", None)
        if Y is not None and model.output is not None:
            state["correct"] += int(np.count_nonzero(loss.classify(model.output) == loss.labels(Y)))
            state["seen"] += len(Y)
        state["loss"] += L
        if b % 4 == 0 or b == nb - 1:
            progress.update(task, completed=(epoch + done0) * nb + b + 1, epoch=f"{epoch + done0 + 1}/{plan.epochs}",
                            batch=f"{b + 1}/{nb}", loss=f"{state['loss'] / (b + 1):.4f}",
                            acc=fmt_pct(state["correct"] / max(state["seen"], 1)))

    def on_epoch(epoch, logs):
        epoch += done0
        state.update(correct=0, seen=0, loss=0.0)
        if not all(np.all(np.isfinite(p.value)) for p in model.parameters()):  # the last update overflowed
            raise Diverged(epoch + 1, None, float("nan"), opt.lr)
        rows.append({"epoch": epoch + 1, **{k: logs.get(k) for k in HISTORY_KEYS[1:]}})
        save(model, out, extra=file_extra(plan, data, args, epoch + 1))  # atomic: always a whole epoch
        write_history(rows, out, meta)
        val = f"  val loss {logs['val_loss']:.4f} acc {100 * logs['val_accuracy']:.1f}%" if "val_loss" in logs else ""
        progress.console.print(f"epoch {epoch + 1:>3}/{plan.epochs}  train loss {logs['loss']:.4f} "
                               f"acc {100 * logs['accuracy']:.1f}%{val}  {logs['seconds']:.1f} s")

    interrupted, diverged = False, None
    start = time.perf_counter()
    with progress:
        task = progress.add_task("train", total=plan.epochs * n_batches, epoch=f"{done0 + 1}/{plan.epochs}",
                                 batch=f"0/{n_batches}", loss="—", acc="—", completed=done0 * n_batches)
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # a divergence is reported below, in words
                model.fit(data.train[0], data.train[1], loss, opt, epochs=plan.epochs - done0,
                          batch_size=plan.batch_size, validation_data=data.val, **recording.train_hooks(recorder, on_batch, on_epoch))
        except KeyboardInterrupt:
            interrupted = True
        except Diverged as e:
            diverged = e
    seconds = time.perf_counter() - start
    recording.save_recording(recorder, console)  # what was trained, diverged or interrupted runs too
    if diverged is not None:
        kept = (f"{out} keeps epoch {len(rows)}, the last one with finite weights" if rows else
                f"nothing was saved (no epoch finished with finite weights)")
        console.print(Text(f"error: {diverged}; {kept}", style="bold red"))
        if len(rows) > done0:
            write_history(rows, out, {**meta, "diverged": str(diverged)})
        return 3
    if interrupted:
        if len(rows) == done0 and not done0:
            console.print(Text(f"stopped (Ctrl-C) before the first epoch finished: nothing saved", style="yellow"))
            return 130
        console.print(Text(f"stopped (Ctrl-C) during epoch {len(rows) + 1}: {out} keeps epoch {len(rows)}, "
                           f"the last complete one", style="yellow"))
    final = load(out)  # what is on disk is what the numbers describe
    console.print(Text.assemble(("saved ", "green"), f"{out} ({len(rows)} epochs, {seconds:.1f} s); history in ",
                                f"{history_paths(out)[0].name} and {history_paths(out)[1].name}"))
    if data.test is not None:
        result = final.evaluate(*data.test, loss)
        console.print(Text.assemble(("test accuracy ", "bold"), (fmt_pct(result["accuracy"]), "bold green"),
                                    f"  loss {result['loss']:.4f}  on {len(data.test[0]):,} held-out examples"))
        meta.update(test_accuracy=result["accuracy"], test_loss=result["loss"])
    if use is not None:
        use.finish(data, console)
    meta.update(seconds=seconds, interrupted=interrupted)
    write_history(rows, out, meta)
    console.print()
    console.print(training_curves(rows))
    return 130 if interrupted else 0


# -- sweep ---------------------------------------------------------------------------------------
def cmd_sweep(args, console: Console) -> int:
    source = data_source(args)
    data = load_data(source, data=args.data, seed=args.seed, val=args.val)
    spelling_notes(args, console)
    lrs, l2s = parse_floats(args.lr, "--lr"), parse_floats(args.l2, "--l2")
    if not all(math.isfinite(v) and v > 0 for v in lrs) or not all(math.isfinite(v) and v >= 0 for v in l2s):
        raise CommandError(f"--lr values must be finite and > 0 and --l2 values finite and ≥ 0, got --lr {args.lr} "
                           f"--l2 {args.l2}")
    preset = source.get("preset")
    base = load_preset(preset, seed=args.seed, data=args.data) if preset else None
    own_network = base is not None and base.model.mlp_sizes() is None  # a CNN or an RNN
    if own_network and args.hidden:
        raise CommandError(f"--hidden sizes a dense network, but the {preset} preset's network starts with a "
                           f"{base.model.layers[0].kind} layer; sweep --lr and --l2 over it")
    hiddens = [None] if own_network else parse_ints(args.hidden or "128", "--hidden")
    epochs = args.epochs or (base.epochs if base else 20)
    batch = args.batch_size or (base.batch_size if base else 32)
    n_out = base.model.output_shape()[0] if base else max(len(data.classes), 2)
    loss_kind = base.loss.kind if base else data.loss_kind
    optimizer = args.optimizer or (optimizer_name(base.optimizer) if base else "momentum")
    eval_on = data.val if data.val is not None else data.test
    which = "validation" if data.val is not None else "test"
    if eval_on is None:
        raise CommandError("nothing to compare on: use --val > 0")
    out = sweep_out(args.out, preset or Path(source.get("csv", "sweep")).stem)  # each run's file goes beside it
    grid = list(itertools.product(lrs, hiddens, l2s))
    console.print(Text.assemble(("nndb sweep", "bold"), f": {len(grid)} runs of {epochs} epochs — ", (data.note, "dim")))
    rows, diverged = [], 0
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console) as progress:
        task = progress.add_task("sweep", total=len(grid))
        for lr, hidden, l2 in grid:
            progress.update(task, description=f"lr={lr:g} hidden={hidden or preset} l2={l2:g}")
            if own_network:
                model = load_preset(preset, seed=args.seed, data=args.data).model.astype(args.dtype)
                model.l2 = l2
            else:
                model = dense_net([data.n_features, hidden, n_out], args.activation, None, 0.0, args.seed,
                                  args.dtype, l2)
            loss = loss_of(loss_kind)
            rec = recording.for_sweep(model, loss, data, out.parent, lr, hidden, l2, optimizer, epochs, batch, args.seed)
            t0 = time.perf_counter()
            try:
                hist = model.fit(data.train[0], data.train[1], loss, optimizer_of(optimizer, model.parameters(), lr=lr),
                                 epochs=epochs, batch_size=batch, validation_data=data.val, **recording.train_hooks(rec, stop_if_diverged(lr)))
            except Diverged as e:  # ranked last, said so; the other runs go on
                progress.console.print(Text(f"lr={lr:g} hidden={hidden or preset} l2={l2:g}: {e}", style="red"))
                hist = {"accuracy": [0.0], "loss": [math.inf]}
                diverged += 1
            seconds = time.perf_counter() - t0
            recording.save_recording(rec, None)
            result = model.evaluate(*eval_on, loss) if hist["loss"][-1] != math.inf else {"accuracy": 0.0, "loss": math.inf}
            rows.append({"lr": lr, "hidden": hidden, "l2": l2, "val_accuracy": result["accuracy"],
                         "val_loss": result["loss"], "train_accuracy": hist["accuracy"][-1],
                         "train_loss": hist["loss"][-1], "seconds": round(seconds, 3)})
            progress.advance(task)
    rows.sort(key=lambda r: (-r["val_accuracy"], r["val_loss"] if math.isfinite(r["val_loss"]) else math.inf))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    table = Table(title=f"sweep: ranked by {which} accuracy ({len(eval_on[0]):,} examples)", title_justify="left")
    for col in ("#", "lr", "hidden", "l2", f"{which} acc", f"{which} loss", "train acc", "seconds"):
        table.add_column(col, justify="right")
    for row in rows:
        style = "bold green" if row["rank"] == 1 else ""
        table.add_row(str(row["rank"]), f"{row['lr']:g}", str(row["hidden"] or f"{preset}'s"), f"{row['l2']:g}",
                      fmt_pct(row["val_accuracy"]), f"{row['val_loss']:.4f}", fmt_pct(row["train_accuracy"]),
                      f"{row['seconds']:.1f}", style=style)
    console.print(table)
    json_path = out.with_suffix(".json") if out.suffix.lower() == ".csv" else Path(f"{out}.json")
    keys = ("rank", "lr", "hidden", "l2", "val_accuracy", "val_loss", "train_accuracy", "train_loss", "seconds")
    write_table(rows, out, json_path, keys, {"data": data.note, "compared_on": which, "epochs": epochs,
                                              "batch_size": batch, "optimizer": optimizer, "seed": args.seed})
    console.print(Text.assemble(("saved ", "green"), f"the ranked table in {out.parent.resolve()}: "
                                f"{out.name} and {json_path.name}; each run's frames as NAME.run.npz (`nndb compare {out.parent}`)"))
    return 3 if diverged else 0


def sweep_out(out: str | None, name: str) -> Path:
    """Where the sweep's table goes: ``--out FILE.csv`` (its .json beside it), ``--out FOLDER/``
    (sweep.csv in it), else a new folder ``sweep-NAME`` (``-2``, ``-3`` … when taken), never loose in
    the current directory."""
    if out is None:
        folder, n = Path(f"sweep-{name}"), 2
        while folder.exists():
            folder, n = Path(f"sweep-{name}-{n}"), n + 1
        folder.mkdir()
        return folder / "sweep.csv"
    path = Path(out)
    if path.is_dir() or out.endswith(("/", "\\")):
        if not path.parent.is_dir():
            raise CommandError(f"--out {out}: the folder {path.parent} does not exist")
        path.mkdir(exist_ok=True)
        return path / "sweep.csv"
    if not path.parent.is_dir():
        raise CommandError(f"--out {out}: the folder {path.parent} does not exist")
    try:
        return check_output(path)
    except ValueError as e:
        raise CommandError(str(e)) from None


# -- data download -------------------------------------------------------------------------------
def cmd_data(args, console: Console) -> int:
    if not hasattr(datasets, "download_mnist"):
        raise CommandError("this nndb's engine has no download_mnist; put the MNIST files in a folder "
                           "and pass --data FOLDER")
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[size]}"),
                  TimeRemainingColumn(), console=console) as progress:
        tasks: dict[str, int] = {}

        def report(name, done, total):
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total, size="")
            size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
            progress.update(tasks[name], completed=done, total=total, size=size)

        folder = datasets.download_mnist(args.dest, name=args.name, progress=report)
    console.print(Text.assemble(("done: ", "green"), f"{args.name} is in {folder}; "
                                f"train with: nndb train --preset digits --data {folder} --out model.npz"))
    return 0
