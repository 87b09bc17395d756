"""Data and training commands: choose the batch, train many iterations at engine speed."""
from __future__ import annotations

import re

import numpy as np

from ..metrics import curves
from ..running import train
from ..recording import SessionRecording, every_text, record_target
from .core import MAX_ITERATIONS, Result, UsageError, always_long, command
from .views import rows_text


def parse_rows(arg: str, n: int, current: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """``0:8``, ``3,5,7``, ``next``, ``random 8``: example numbers for the batch. ``random`` draws
    from ``rng`` (the session's seed, so a replayed session draws the same batch)."""
    arg = arg.strip()
    if arg == "next":
        size = len(current)
        start = (int(current.max()) + 1) % n
        return (np.arange(start, start + size) % n)
    m = re.fullmatch(r"random\s+(\d+)", arg)
    if m:
        k = int(m.group(1))
        if not 1 <= k <= n:
            raise UsageError(f"batch: random needs a size 1..{n}, got {k}")
        return np.sort((rng or np.random.default_rng(0)).choice(n, k, replace=False))
    m = re.fullmatch(r"(\d*)\s*:\s*(\d*)", arg)
    if m:
        a = int(m.group(1) or 0)
        b = int(m.group(2) or n)
        if not 0 <= a < b <= n:
            raise UsageError(f"batch: {arg} selects nothing in examples 0..{n - 1}")
        return np.arange(a, b)
    if re.fullmatch(r"\d+(\s*,\s*\d+)*", arg):
        rows = [int(x) for x in arg.split(",")]
        if max(rows) >= n:
            raise UsageError(f"batch: examples are numbered 0..{n - 1}, got {min(rows)}..{str(max(rows))[:20]}")
        return np.array(rows)
    raise UsageError(f"batch: expected 0:8, 3,5,7, next or random 8, got {arg!r}")


@command("batch", usage="batch [0:8 | 3,5,7 | next | random N]", args="batch",
         summary="show or choose the examples the iteration uses (restarts the iteration)")
def do_batch(s, arg, line="batch"):
    notes = []
    if arg.strip():
        rng = np.random.default_rng([abs(int(s.seed)), s.current.number, int(np.sum(s.batch)), len(s.batch)])
        notes = s.set_batch(parse_rows(arg, len(s.problem.X), s.batch, rng))
    return Result(line, True, "batch", " ".join(notes),
                  {"batch": s.batch.tolist(), "X": s.current.snapshot.X, "Y": s.current.snapshot.Y,
                   "notes": notes})


@command("train", usage="train N [epochs] [batch B] [--record FILE]", args="train",
         takes=("progress",), long=always_long,
         summary="train N iterations (or N epochs) on the whole dataset at engine speed, then stop",
         help="""
The current iteration is finished first, as it stands (your edits included); then minibatches
of the preset's batch size, shuffled, untraced: as fast as `fit`. Afterwards the debugger stops
at the start of the next iteration on your batch; history before it is cleared.
An epoch is one pass over the whole training set: ⌈examples / B⌉ iterations. `batch B` trains
with minibatches of B examples (1 up to the whole set) and reports the time per epoch; with a
validation set, the validation loss and accuracy are reported too (and `curves` draws them).
`--record FILE` keeps about 150 frames of the weights, and each epoch's loss and accuracy, in FILE
(a run file; .run.npz is added when FILE does not end in .npz), for `nndb replay` and `nndb compare`.""")
def do_train(s, arg, line="train", progress=None):
    m = re.fullmatch(r"\s*(\d+)\s*(epochs?|iterations?|iters?)?\s*(?:batch\s+(\d{1,9}|all))?\s*(?:--record\s+(\S+)\s*)?", arg)
    if not m:
        raise UsageError(f"train: expected `train N` or `train N epochs`, got {arg.strip()!r}; either may be "
                         f"followed by `batch B` (the minibatch size, or all) and `--record FILE`")
    count = int(m.group(1))
    if count < 1:
        raise UsageError("train: the count must be ≥ 1")
    size = None if m.group(3) is None else len(s.problem.X) if m.group(3) == "all" else int(m.group(3))
    if size is not None and not 1 <= size <= len(s.problem.X):
        raise UsageError(f"train: the minibatch size must be 1..{len(s.problem.X)} (the training set), or all; "
                         f"got {size}")
    epochs = count if m.group(2) and m.group(2).startswith("epoch") else None
    if epochs:
        per_epoch = -(-len(s.problem.X) // (size or s.problem.batch_size))
        count *= per_epoch
    if count > MAX_ITERATIONS:
        raise UsageError(f"train: {count} iterations is more than this debugger runs at once ({MAX_ITERATIONS:,})")
    rows, n, k = rows_text(s.batch), len(s.problem.X), len(s.batch)
    here = s.where()["loss"]  # the loss on the debugger's batch, this iteration's or the last one's
    batch_loss = here if here is not None else s.losses[-1][1] if s.losses else None
    try:
        recording = SessionRecording(s, count, record_target(m.group(4)), size) if m.group(4) else None
    except ValueError as e:
        raise UsageError(f"train: {e}") from None
    r = train(s, count, recording.progress(progress) if recording else progress, size)
    s.batch_from = s.current.number  # back on the debugger's own batch from here
    timed = epochs is not None or size is not None  # the time per epoch is reported only when asked about
    minibatch, seconds = r.pop("minibatch"), r.pop("seconds")
    if timed:
        r.update(minibatch=minibatch, seconds=seconds,
                 epoch_seconds=seconds * -(-n // minibatch) / max(r["iterations"], 1))
    r["batch_loss"] = batch_loss
    how = "interrupted" if r["interrupted"] else "stopped"
    stopped = f" ({how} after {r['iterations']} of {count})" if r["iterations"] < count else ""
    count = r["iterations"]
    if recording is not None and count:
        r["record"] = recording.save()
    if not count:
        message = (f"train: {how} before the first iteration finished; nothing was trained. Whole dataset: "
                   f"loss {r['dataset_loss']:.4f}, accuracy {r['dataset_accuracy']:.1%}")
        return Result(line, True, "train", message, r)
    message = (f"trained {count} iterations{stopped}: loss {r['first_loss']:.4f} → {r['last_loss']:.4f}; whole dataset: "
               f"loss {r['dataset_loss']:.4f}, accuracy {r['dataset_accuracy']:.1%}")
    if "validation_accuracy" in r:  # a held-out set: the figure that says whether it generalizes
        message += (f"\nvalidation set ({len(s.problem.X_val)} examples it never trains on): loss "
                    f"{r['validation_loss']:.4f}, accuracy {r['validation_accuracy']:.1%}")
    if timed:
        per_epoch = -(-n // minibatch)
        message += (f"\nminibatches of {minibatch}: {per_epoch} iteration{'s' if per_epoch > 1 else ''} per epoch (an epoch: all {n} "
                    f"examples once); {r['seconds']:.3g} s, {r['epoch_seconds'] * 1000:.3g} ms per epoch")
    if batch_loss is not None and r["first_loss"] > 1.5 * batch_loss:  # the jump a learner sees
        message += (f"\nwhy the loss jumped from {batch_loss:.4g}: stepping repeated your batch {rows} ({k} of {n} "
                    f"examples), which the network had learned by heart; train draws minibatches of "
                    f"{s.problem.batch_size} from all {n}, and measures the whole-dataset loss on all of them")
    if r.get("record"):
        rec = r["record"]
        message += ("\n" + rec["error"] if rec["error"] else
                    f"\nrecorded {rec['frames']} frames ({every_text(rec['every'])}) in {rec['path']}: `nndb replay {rec['path']}` plays them")
    return Result(line, True, "train", message, r)


@command("curves", usage="curves [acc | loss]", args="none", choices=("acc", "loss"),
         summary="draw the training curves: train vs validation per epoch, or the loss per iteration",
         help="""
With a validation set, `train` records the whole training set's and the validation set's accuracy
and loss after every epoch: `curves` (or `curves acc`) draws the two accuracies, `curves loss` the
two losses, and the title gives the gap (train − validation accuracy: overfitting when it grows).
Without one, `curves` draws the minibatch loss of every iteration so far, with its mean jump from
one iteration to the next: how noisy the minibatches make it.""")
def do_curves(s, arg, line="curves"):
    try:
        title, lines, data = curves(s, arg)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return Result(line, True, "curves", title, {**data, "lines": lines})
