"""`train N`: leave the op-by-op view and train many minibatch steps at engine speed, untraced.

The session stops again at the start of the iteration after them, on its own batch; the
iterations in between are not recorded, so stepping back cannot cross them.
"""
from __future__ import annotations

import time

import numpy as np

from .errors import SessionError
from .metrics import has_validation, record_epoch


def train(session, iterations: int, progress=None, size: int | None = None) -> dict:
    """Finish this iteration as it stands (edits included), then train ``iterations`` minibatch
    steps over the whole dataset at engine speed, untraced. ``progress(done, total, loss)``
    returning true stops early, keeping what was trained so far. ``size``: the minibatch size
    (default the problem's). With a validation set, the whole sets are evaluated after every epoch
    (``session.curve``, drawn by `curves`)."""
    s = session
    if iterations < 1:
        raise SessionError(f"train: the count must be ≥ 1, got {iterations}")
    s.archive()  # the model is already past the current iteration, with its edits
    X_all = np.asarray(s.problem.X, dtype=np.float64)
    n = len(X_all)
    size = min(size or s.problem.batch_size, n)
    per_epoch = -(-n // size)
    rng = np.random.default_rng(s.seed + s.current.number)
    order = np.array([], dtype=int)
    losses = []
    interrupted = False
    start = time.perf_counter()
    with np.errstate(all="ignore"):
        try:
            for i in range(iterations):
                if len(order) < size:
                    order = np.concatenate([order, rng.permutation(n)])
                rows, order = order[:size], order[size:]
                L = s.model.train_step(X_all[rows], s.targets(rows), s.loss, s.optimizer)
                losses.append(L)
                if (i + 1) % per_epoch == 0:  # an epoch: every example seen once
                    record_epoch(s, s.current.number + i + 1)
                if progress is not None and progress(i + 1, iterations, L):
                    break  # the front end asked to stop: keep what was trained so far
        except KeyboardInterrupt:
            # Ctrl-C (REPL) or Escape (TUI worker): keep what was trained, as a stop does. The
            # current iteration was already archived, so recomputing it from its snapshot would
            # lose the training and count iteration 1 twice.
            interrupted = True
    seconds = time.perf_counter() - start
    first = s.current.number + 1
    s.losses += [(first + i, float(L)) for i, L in enumerate(losses)]  # the Loss tab plots them too
    if losses:
        s.trained.append((first, first + len(losses) - 1))
    s.history.clear()  # the iterations in between were not recorded: no stepping back across them
    evaluation = s.model.evaluate(X_all, s.problem.Y, s.loss)  # the trained weights, before
    validation = {}
    if has_validation(s):
        held_out = s.model.evaluate(np.asarray(s.problem.X_val, dtype=np.float64), s.problem.Y_val, s.loss)
        validation = {"validation_loss": held_out["loss"], "validation_accuracy": held_out["accuracy"]}
    s.start_iteration(s.current.number + 1 + len(losses))  # the recorded one runs one more step
    return {"iterations": len(losses), "requested": iterations, "first_loss": losses[0] if losses else None,
            "last_loss": losses[-1] if losses else None, "dataset_loss": evaluation["loss"],
            "dataset_accuracy": evaluation["accuracy"], "interrupted": interrupted,
            **validation, "minibatch": size, "seconds": seconds}
