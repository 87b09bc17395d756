"""Data and training commands: choose the batch, train many iterations at engine speed."""
from __future__ import annotations

import re

import numpy as np

from ..running import train
from .core import MAX_ITERATIONS, Result, UsageError, command
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


@command("train", usage="train N [epochs]", args="train",
         takes=("progress",),
         summary="train N iterations (or N epochs) on the whole dataset at engine speed, then stop",
         help="""
The current iteration is finished first, as it stands (your edits included); then minibatches
of the preset's batch size, shuffled, untraced: as fast as `fit`. Afterwards the debugger stops
at the start of the next iteration on your batch; history before it is cleared.""")
def do_train(s, arg, line="train", progress=None):
    m = re.fullmatch(r"\s*(\d+)\s*(epochs?|iterations?|iters?)?\s*", arg)
    if not m:
        raise UsageError(f"train: expected `train N` or `train N epochs`, got {arg.strip()!r}")
    count = int(m.group(1))
    if count < 1:
        raise UsageError("train: the count must be ≥ 1")
    if m.group(2) and m.group(2).startswith("epoch"):
        per_epoch = -(-len(s.problem.X) // s.problem.batch_size)
        count *= per_epoch
    if count > MAX_ITERATIONS:
        raise UsageError(f"train: {count} iterations is more than this debugger runs at once ({MAX_ITERATIONS:,})")
    rows, n, k = rows_text(s.batch), len(s.problem.X), len(s.batch)
    here = s.where()["loss"]  # the loss on the debugger's batch, this iteration's or the last one's
    batch_loss = here if here is not None else s.losses[-1][1] if s.losses else None
    r = train(s, count, progress)
    s.batch_from = s.current.number  # back on the debugger's own batch from here
    r["batch_loss"] = batch_loss
    how = "interrupted" if r["interrupted"] else "stopped"
    stopped = f" ({how} after {r['iterations']} of {count})" if r["iterations"] < count else ""
    count = r["iterations"]
    if not count:
        message = (f"train: {how} before the first iteration finished; nothing was trained. Whole dataset: "
                   f"loss {r['dataset_loss']:.4f}, accuracy {r['dataset_accuracy']:.1%}")
        return Result(line, True, "train", message, r)
    message = (f"trained {count} iterations{stopped}: loss {r['first_loss']:.4f} → {r['last_loss']:.4f}; whole dataset: "
               f"loss {r['dataset_loss']:.4f}, accuracy {r['dataset_accuracy']:.1%}")
    if batch_loss is not None and r["first_loss"] > 1.5 * batch_loss:  # the jump a learner sees
        message += (f"\nwhy the loss jumped from {batch_loss:.4g}: stepping repeated your batch {rows} ({k} of {n} "
                    f"examples), which the network had learned by heart; train draws minibatches of "
                    f"{s.problem.batch_size} from all {n}, and measures the whole-dataset loss on all of them")
    return Result(line, True, "train", message, r)
