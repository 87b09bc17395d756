"""What each op of an iteration costs: FLOPs and bytes (from the layers' own ``op_cost``), measured
time, achieved GFLOP/s, the machine's roofline, a GPU estimate; and loops against the matrix form.

No UI here: ``cost_report`` and ``loop_report`` return plain dicts that the ``cost`` command
returns as its data (rendered by ``render_cost.py``, printed as JSON by the scripted mode).

**Counting.** Every op's FLOPs and bytes come from its owner's ``op_cost(op)``: the layer's for a
layer's op (through ``Sequential.op_cost``, which also counts its own L2 penalty op), the loss's for
the loss ops, the optimizer's for the updates. Nothing here reads an op's kind.

**Timing, and why it is honest.** The session's iteration is re-run on a copy of the model, the
loss and the optimizer, restored from the iteration's snapshot before every run (so the session
is never touched), with the engine's default NULL tracer: the code that trains, nothing copied.
Each *call* the iteration makes — every layer's ``forward`` and ``backward``, the loss's
``forward`` and ``backward``, the L2 penalty, every optimizer ``update`` — is wrapped in a pair of
``perf_counter`` reads, and its time is the median over the repeats. A call that emits one op (most
do) gives that op its time. A call that emits several (a dense backward: dW, db, dX; an RNN's
steps) shares its measured time among them in the proportions a few extra runs with a light
clock tracer saw between their emits (that tracer copies nothing). A call that emits no op (the L2
penalty's sum) is charged to the op recorded next. The iteration's own time is the median of the
whole ``train_step`` with no wrapper at all, run in turn with the wrapped runs (so both see the
same machine, busy or not); what the ops do not account for is the Python between
calls (``between_ops_seconds``). The wrappers' own cost (about half a µs a call) stays inside the
op times, so tiny ops at batch 4 read a little slow. Edits made in the debugger are not replayed:
they change values, not what an op costs.
"""
from __future__ import annotations

import copy
import math
import statistics
import time

import numpy as np

from engine import NULL_TRACER, Tracer
from engine.layers import Dense
from engine.trace import PHASES

from .errors import SessionError
from .roofline import gpu_estimate, place, roofline
from .session import HYPERPARAMETERS

BUDGET_S = 0.5          # seconds of timed iterations, at most (and at least MIN_REPEATS runs)
MIN_REPEATS, MAX_REPEATS = 3, 31
CLOCK_RUNS = 3          # runs with the clock tracer, for sharing a call's time among its ops
MAX_BATCH = 65_536


class _Calls:
    """Wraps the calls of an iteration and times each (exclusive of wrapped calls inside it)."""

    def __init__(self):
        self.active: int | None = None
        self.calls: list[list] = []  # [label, start, end, exclusive seconds]
        self.wrapped: list[tuple] = []  # (object, attribute, the wrapper, its own instance attribute or None)

    def install(self, on: bool) -> None:
        """Put the wrappers in place (on) or take them away (the object's own method again)."""
        for obj, attr, timed, own in self.wrapped:
            if on:
                setattr(obj, attr, timed)
            elif own is None:
                obj.__dict__.pop(attr, None)
            else:
                setattr(obj, attr, own)  # an instance that had its own function there

    def wrap(self, obj, attr: str, label: str) -> None:
        fn, own = getattr(obj, attr), obj.__dict__.get(attr)

        def timed(*args, **kwargs):
            outer, i = self.active, len(self.calls)
            self.calls.append([label, 0.0, 0.0, 0.0])
            self.active = i
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                t1 = time.perf_counter()
                call = self.calls[i]
                call[1], call[2], call[3] = t0, t1, call[3] + (t1 - t0)
                self.active = outer
                if outer is not None:
                    self.calls[outer][3] -= t1 - t0
        self.wrapped.append((obj, attr, timed, own))
        setattr(obj, attr, timed)


class _Clock(Tracer):
    """Records each op (no copies) with the time it was reported and the call it came from."""

    enabled = True

    def __init__(self, calls: _Calls):
        self.calls, self.ops = calls, []

    def begin_iteration(self, model) -> None:
        self.ops = []

    def record(self, op) -> None:
        op.index = len(self.ops)
        self.ops.append((op, time.perf_counter(), self.calls.active))


def _clone(session):
    """Independent copies of the session's model, loss and optimizer (the optimizer's parameters
    are the copied model's)."""
    return copy.deepcopy((session.model, session.loss, session.optimizer))


def _restore(model, optimizer, snap) -> None:
    """Put a cloned model and optimizer in the state the iteration's snapshot recorded."""
    model.load_state_dict(snap.params)
    optimizer.load_state_arrays(snap.opt_state, snap.opt_t)
    for name, value in snap.hyper.items():
        owner, attr, _ = HYPERPARAMETERS[name]
        setattr(optimizer if owner == "optimizer" else model, attr, float(value))
    model.rng.bit_generator.state = snap.rng


def draw_batch(session, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n examples drawn from the problem's data (without replacement while there are enough; the
    same draw every time), as the session would feed them: rows, X (float64) and Y."""
    if not 1 <= n <= MAX_BATCH:
        raise SessionError(f"cost: --batch must be between 1 and {MAX_BATCH:,}, got {n}")
    total = len(session.problem.X)
    rows = np.random.default_rng(0).choice(total, size=n, replace=n > total)
    return rows, np.asarray(session.problem.X, dtype=np.float64)[rows], session.targets(rows)


def _inputs(session, batch: int | None):
    snap = session.current.snapshot
    if batch is None:
        return snap.X.copy(), snap.Y.copy()
    _, X, Y = draw_batch(session, batch)
    return X, Y


def _train_step(model, loss, optimizer, X, Y, snap) -> float:
    """One untimed-setup, timed iteration: restore, then the engine's own train_step."""
    _restore(model, optimizer, snap)
    with np.errstate(all="ignore"):
        t0 = time.perf_counter()
        model.train_step(X, Y, loss, optimizer)
        return time.perf_counter() - t0


def measure(session, batch: int | None = None, budget: float = BUDGET_S) -> dict:
    """Time the iteration as the module docstring says; return the ops (of the last clock run),
    their seconds, the iteration's seconds and the number of repeats."""
    snap = session.current.snapshot
    model, loss, optimizer = _clone(session)
    model.tracer = NULL_TRACER
    loss.tracer = optimizer.tracer = NULL_TRACER
    X, Y = _inputs(session, batch)
    first = _train_step(model, loss, optimizer, X, Y, snap)  # warm-up, and the size of one run
    repeats = int(min(MAX_REPEATS, max(MIN_REPEATS, budget / 2 / max(first, 1e-9))))

    calls = _Calls()
    for layer in model.layers:
        calls.wrap(layer, "forward", f"{layer.name}.forward")
        calls.wrap(layer, "backward", f"{layer.name}.backward")
    calls.wrap(loss, "forward", "loss.forward")
    calls.wrap(loss, "backward", "loss.backward")
    calls.wrap(model, "l2_penalty", "l2.penalty")
    calls.wrap(optimizer, "update", "optimizer.update")

    shares: list[list[float]] = []
    clock = _Clock(calls)
    for _ in range(CLOCK_RUNS):
        calls.calls = []
        model.tracer = clock
        try:
            _train_step(model, loss, optimizer, X, Y, snap)
        finally:
            model.tracer = NULL_TRACER
            loss.tracer = optimizer.tracer = NULL_TRACER
        shares.append(_op_shares(clock.ops, calls.calls))
    ops, layout = [op for op, _, _ in clock.ops], _charges(clock.ops, calls.calls)
    share = [statistics.median(run[k] for run in shares) for k in range(len(ops))]

    per_call: list[list[float]] = []
    whole: list[float] = []
    for _ in range(repeats):  # interleaved, so that both see the same state of a busy machine
        calls.install(False)
        whole.append(_train_step(model, loss, optimizer, X, Y, snap))
        calls.install(True)
        calls.calls = []
        _train_step(model, loss, optimizer, X, Y, snap)
        per_call.append([c[3] for c in calls.calls])
    iteration = statistics.median(whole)
    if any(len(run) != len(layout) for run in per_call):
        raise SessionError("cost: the iteration made different calls from run to run; cannot time it")
    median_call = [statistics.median(run[c] for run in per_call) for c in range(len(layout))]
    seconds = [0.0] * len(ops)
    for c, charged in enumerate(layout):
        weights = [share[k] for k in charged]
        total = sum(weights)
        for k, w in zip(charged, weights):
            seconds[k] += median_call[c] * (w / total if total > 0 else 1 / len(charged))
    return {"ops": ops, "seconds": seconds, "iteration": iteration, "repeats": repeats,
            "batch": len(X), "model": model, "loss": loss, "optimizer": optimizer}


def _charges(clocked, calls) -> list[list[int]]:
    """For each call, the ops its time goes to: those it emitted, or (none emitted) the next op."""
    emitted: list[list[int]] = [[] for _ in calls]
    for k, (_, _, c) in enumerate(clocked):
        if c is not None:
            emitted[c].append(k)
    layout = []
    for c, (_, _, end, _) in enumerate(calls):
        if emitted[c]:
            layout.append(emitted[c])
        else:
            later = [k for k, (_, t, _) in enumerate(clocked) if t >= end]
            layout.append([later[0] if later else len(clocked) - 1])
    return layout


def _op_shares(clocked, calls) -> list[float]:
    """Each op's share of the call that emitted it: the time since the call began or since its
    previous op, the last op also taking the rest of the call."""
    out, last_of = [1.0] * len(clocked), {}
    for k, (_, t, c) in enumerate(clocked):
        if c is None:
            continue
        prev = last_of.get(c)
        start = calls[c][1] if prev is None else clocked[prev][1]
        out[k] = max(t - start, 0.0)
        last_of[c] = k
    for c, k in last_of.items():
        out[k] += max(calls[c][2] - clocked[k][1], 0.0)
    for c, k in last_of.items():  # normalize within each call
        members = [j for j, (_, _, cc) in enumerate(clocked) if cc == c]
        total = sum(out[j] for j in members)
        for j in members:
            out[j] = out[j] / total if total > 0 else 1 / len(members)
    return out


def owner(op, model, loss, optimizer):
    """Whose ``op_cost`` counts an op: the optimizer's updates, the loss's ops, else the model's
    (its layers', and its own L2 penalty)."""
    if op.phase == "update":
        return optimizer
    return loss if op.layer == loss.name else model


def cost_report(session, batch: int | None = None, machine: dict | None = None, budget: float = BUDGET_S) -> dict:
    """The cost view's data (docs/json.md, kind ``cost``). ``batch``: measure with that many
    examples drawn from the data instead of the session's batch; ``machine``: the roofline figures
    (``gflops``, ``gbps``), else this machine's, probed once and cached."""
    machine = roofline() if machine is None else roofline(figures=machine)
    t = measure(session, batch, budget)
    iteration = t["iteration"]
    ops = []
    for op, seconds in zip(t["ops"], t["seconds"]):
        c = owner(op, t["model"], t["loss"], t["optimizer"]).op_cost(op)
        nbytes = c["bytes_read"] + c["bytes_written"]
        row = {"name": op.name, "kind": op.kind, "phase": op.phase, "layer": op.layer, "flops": c["flops"],
               "bytes": nbytes, "bytes_read": c["bytes_read"], "bytes_written": c["bytes_written"],
               "seconds": seconds, "gflops": c["flops"] / seconds / 1e9 if seconds > 0 else 0.0,
               "share": seconds / iteration if iteration > 0 else 0.0}
        row.update(place(c["flops"], nbytes, seconds, machine))
        ops.append(row)
    totals = {}
    for phase in (*PHASES, "iteration"):
        mine = [o for o in ops if phase in (o["phase"], "iteration")]
        seconds = iteration if phase == "iteration" else sum(o["seconds"] for o in mine)
        totals[phase] = {"ops": len(mine), "flops": sum(o["flops"] for o in mine),
                         "bytes": sum(o["bytes"] for o in mine), "seconds": seconds,
                         "share": seconds / iteration if iteration > 0 else 0.0}
    fwd, bwd = totals["forward"], totals["backward"]
    m, examples = t["batch"], len(session.problem.X)
    per_epoch = math.ceil(examples / m)
    return {
        "batch": m, "drawn": batch is not None, "repeats": t["repeats"],
        "ops": ops, "totals": totals,
        "backward_forward": {"flops": bwd["flops"] / fwd["flops"] if fwd["flops"] else 0.0,
                             "seconds": bwd["seconds"] / fwd["seconds"] if fwd["seconds"] else 0.0},
        "between_ops_seconds": max(iteration - sum(o["seconds"] for o in ops), 0.0),
        "epoch": {"examples": examples, "iterations": per_epoch, "seconds": per_epoch * iteration,
                  "flops": per_epoch * totals["iteration"]["flops"]},
        "machine": {k: machine[k] for k in ("gflops", "gbps", "balance", "source")},
        "gpu": gpu_estimate(ops, iteration),
    }


# -- vectorization, measured ----------------------------------------------------------------------
def _median_time(fn, budget: float, most: int = 15):
    """The median time of ``fn()`` over repeats that fit in ``budget`` seconds (one at least), and its result."""
    times, spent = [], 0.0
    while not times or (spent < budget and len(times) < most):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        spent += times[-1]
    return statistics.median(times), result


def dense_layer(session):
    """The dense layer the cursor is in, else the model's first dense layer."""
    model = session.model
    here = session.op.layer if session.op is not None else None
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    if not dense:
        raise SessionError("cost --loop: this network has no dense layer (Z = X·W + b) to write as a loop")
    return next((layer for layer in dense if layer.name == here), dense[0])


def loop_report(session, batch: int | None = None, budget: float = 0.3) -> dict:
    """The dense layer's forward ``Z = A·W + b`` three ways, timed (median of repeats within
    ``budget`` seconds each): the matrix product, a Python loop over examples (a vector-matrix
    product each), and a loop over (example, neuron) pairs (a dot product each)."""
    layer = dense_layer(session)
    model, _, _ = _clone(session)
    model.tracer = NULL_TRACER
    _restore(model, copy.deepcopy(session.optimizer), session.current.snapshot)
    X, _ = _inputs(session, batch)
    A = X
    for other in model.layers:  # the layer's input for this batch, as the network computes it
        if other.name == layer.name:
            break
        A = other.forward(A)
    if A.ndim != 2:
        raise SessionError(f"cost --loop: {layer.name} reads a sequence batch {A.shape}; the loops are "
                           f"written for a (batch, inputs) matrix")
    mine = model.layer(layer.name)
    W, b = mine.W, mine.b
    m, (n_in, n_out) = A.shape[0], W.shape

    def examples():
        Z = np.empty((m, n_out))
        for i in range(m):
            Z[i] = A[i] @ W + b
        return Z

    def pairs():
        Z = np.empty((m, n_out))
        for i in range(m):
            for j in range(n_out):
                Z[i, j] = A[i] @ W[:, j] + b[j]
        return Z

    forms = [("matrix", "Z = A @ W + b", lambda: A @ W + b),
             ("examples", "for i: Z[i] = A[i] @ W + b", examples),
             ("pairs", "for i, j: Z[i,j] = A[i] @ W[:,j] + b[j]", pairs)]
    flops = 2 * m * n_in * n_out
    reference = A @ W + b
    rows, same = [], True
    for form, code, fn in forms:
        seconds, Z = _median_time(fn, budget)
        same = same and bool(np.allclose(Z, reference))
        rows.append({"form": form, "code": code, "calls": {"matrix": 1, "examples": m, "pairs": m * n_out}[form],
                     "seconds": seconds, "gflops": flops / seconds / 1e9 if seconds > 0 else 0.0})
    for row in rows:
        row["vs_matrix"] = row["seconds"] / rows[0]["seconds"] if rows[0]["seconds"] > 0 else 0.0
    return {"layer": layer.name, "batch": m, "n_in": n_in, "n_out": n_out, "flops": flops,
            "forms": rows, "same": same}
