"""Recording from the front ends: `nndb train --record`, `nndb sweep`, and the debugger's `train N --record FILE`.

Each builds a ``runs.Recorder`` for its training loop, with the hyperparameters a comparison names
and a file name checked before training starts, and writes the run file when training stops.
"""
from __future__ import annotations

import time
from pathlib import Path

from engine import Sequential
from engine.build import optimizer_name
from engine.layers import Dropout

from .errors import SessionError
from .runs import SUFFIX, Recorder, run_path, save_run


def hyperparameters_of(model: Sequential, optimizer, epochs: int | None, batch_size: int, seed: int,
                       lr: float | None = None) -> dict:
    """meta["hyperparameters"]: what a legend of `nndb compare` tells runs apart by. ``optimizer`` is
    an optimizer, or its name with ``lr`` given."""
    dropout = [layer.p for layer in model.layers if isinstance(layer, Dropout)]
    name = optimizer if isinstance(optimizer, str) else optimizer_name(optimizer)
    lr = optimizer.lr if lr is None else lr
    return {"lr": float(lr), "optimizer": name, "batch_size": int(batch_size),
            "epochs": epochs, "l2": float(model.l2), "dropout": max(dropout, default=0.0), "seed": int(seed),
            "network": model.describe(), "dtype": model.dtype.name}


def chain(*hooks):
    """One callback calling each of ``hooks`` (None ones skipped) in order, with the same arguments."""
    hooks = [hook for hook in hooks if hook is not None]

    def call(*args):
        for hook in hooks:
            hook(*args)
    return call


def train_hooks(recorder: Recorder | None, on_batch=None, on_epoch=None) -> dict:
    """``fit``'s on_batch/on_epoch: the caller's, then the recorder's (which reads, never changes, the model)."""
    if recorder is None:
        return {"on_batch": on_batch, "on_epoch": on_epoch}
    return {"on_batch": chain(on_batch, recorder.on_batch), "on_epoch": chain(on_epoch, recorder.on_epoch)}


def check_writable(path, flag: str) -> Path:
    """``path`` if a run file may be written there (a new or regular file in an existing folder, not
    through a link), else ValueError saying why."""
    from .guards import check_output
    path = Path(path)
    check_output(path, flag=flag)
    if not (path.parent if str(path.parent) else Path(".")).is_dir():
        raise ValueError(f"{flag} {path}: the folder {path.parent} does not exist")
    return path


def writable(path, flag: str) -> Path:
    """``check_writable`` for the CLI: a SessionError (one line, exit status 2)."""
    try:
        return check_writable(path, flag)
    except ValueError as e:
        raise SessionError(str(e)) from None


def record_target(name: str) -> Path:
    """The file `train N --record FILE` writes: FILE, or FILE.run.npz when FILE does not end in .npz."""
    return check_writable(name if name.lower().endswith(".npz") else name + SUFFIX, "--record")


def flat_image_shape(data) -> tuple | None:
    """(28, 28) for digits given as 784 columns (images given as (1, 28, 28) say it themselves)."""
    side = data.image_side
    return (side, side) if side and data.train[0].ndim == 2 else None


def for_training(args, plan, data, out, done: int, n_batches: int) -> Recorder | None:
    """`nndb train --record [EVERY]`'s recorder, its file beside ``out``; None without --record."""
    every = getattr(args, "record", None)
    if every is None:
        return None
    try:
        recorder = Recorder(plan.model, plan.loss, data.train, data.classes, iterations_per_epoch=n_batches,
                            total_iterations=(plan.epochs - done) * n_batches, every=every or None,
                            preset=data.source.get("preset"), start_epoch=done,
                            hyperparameters=hyperparameters_of(plan.model, plan.optimizer, plan.epochs,
                                                               plan.batch_size, args.seed),
                            image_shape=flat_image_shape(data))
    except ValueError as e:
        raise SessionError(f"--record: {e}") from None
    recorder.path = writable(run_path(out), "--record")
    return recorder


def for_sweep(model, loss, data, folder: Path, lr: float, hidden: int | None, l2: float, optimizer: str,
              epochs: int, batch: int, seed: int) -> Recorder:
    """The recorder of one run of `nndb sweep`, its file in the sweep's folder named by the grid's values
    (``lr0.1-hidden128-l2_0.run.npz``; a CNN or RNN preset keeps its network: ``lr0.1-l2_0.run.npz``)."""
    name = f"lr{lr:g}" + (f"-hidden{hidden}" if hidden else "") + f"-l2_{l2:g}"
    n_batches = -(-len(data.train[0]) // min(batch, len(data.train[0])))
    recorder = Recorder(model, loss, data.train, data.classes, iterations_per_epoch=n_batches,
                        total_iterations=epochs * n_batches, preset=data.source.get("preset"),
                        hyperparameters=hyperparameters_of(model, optimizer, epochs, batch, seed, lr=lr),
                        image_shape=flat_image_shape(data))
    recorder.path = writable(folder / f"{name}{SUFFIX}", "--out")
    return recorder


def every_text(every: int) -> str:
    return "every iteration" if every == 1 else f"every {every} iterations"


def save_recording(recorder: Recorder | None, console) -> Path | None:
    """Write the recorder's run file (what it has: an interrupted run keeps its frames) and say where."""
    if recorder is None:
        return None
    path = recorder.save(recorder.path)
    if console is not None:
        console.print(f"recorded {len(recorder.frames['iteration'])} frames ({every_text(recorder.every)}) "
                      f"in {path} ({path.stat().st_size / 1e6:.1f} MB): `nndb replay {path}`, `nndb compare`")
    return path


class SessionRecording:
    """The debugger's `train N --record FILE`: a Recorder fed by `train`'s progress callback, with the
    whole dataset's loss and accuracy measured at each epoch's end (on the recorder's copy)."""

    def __init__(self, session, iterations: int, path, size: int | None = None):
        s = session
        self.path = Path(path)
        n = len(s.problem.X)
        size = min(size or s.problem.batch_size, n)
        self.recorder = Recorder(s.model, s.loss, (s.problem.X, s.problem.Y), s.problem.classes,
                                 iterations_per_epoch=-(-n // size), total_iterations=iterations,
                                 preset=getattr(s.problem, "name", None),
                                 hyperparameters=hyperparameters_of(s.model, s.optimizer, None, size, s.seed))
        self.X, self.Y = s.problem.X, s.problem.Y
        self.val = (s.problem.X_val, s.problem.Y_val) if getattr(s.problem, "X_val", None) is not None else None
        self.started = time.perf_counter()

    def progress(self, inner=None):
        """``train``'s progress callback: record, then ask ``inner`` (the front end's) whether to stop."""
        rec = self.recorder

        def progress(done: int, total: int, loss: float) -> bool:
            rec.on_batch(loss=loss)
            if done % rec.iterations_per_epoch == 0:
                now = time.perf_counter()
                train = rec.evaluate(self.X, self.Y)
                val = rec.evaluate(*self.val) if self.val is not None else {}
                rec.on_epoch(logs={"loss": train["loss"], "accuracy": train["accuracy"], "val_loss": val.get("loss"),
                                   "val_accuracy": val.get("accuracy"), "seconds": now - self.started})
                self.started = now
            stop = bool(inner(done, total, loss)) if inner is not None else False
            if stop:
                rec.finish()  # the last iteration trained gets its frame
            return stop
        return progress

    def save(self) -> dict:
        """Write the file; what was written (``error`` says why nothing was: the training is kept)."""
        rec = self.recorder
        try:  # not rec.save: its finish would take the model past `train`, into the debugger's next iteration
            path = save_run(self.path, rec.arrays())
        except OSError as e:
            return {"path": str(self.path), "frames": 0, "every": rec.every, "bytes": 0,
                    "error": f"cannot write {self.path}: {e.strerror or e}"}
        return {"path": str(path), "frames": len(rec.frames["iteration"]), "every": rec.every,
                "bytes": path.stat().st_size, "error": None}
