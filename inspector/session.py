"""The debugging session: one training iteration recorded op by op, stepped, edited and checked.

How it keeps the guarantees of DESIGN.md: at the start of every iteration the session takes a
snapshot (parameters, optimizer state, RNG state, hyperparameters, the batch). It then runs the
whole iteration through the engine's own ``train_step`` with a tracer that records every op,
and stepping only moves a cursor over that tape. An edit made while stopped at op k is stored
with k; the iteration is re-run from the snapshot and the tracer applies the edit right after
op k, on the very arrays the code goes on to use. So what is shown is always what the code
computes, and stepping back past an edit just drops it and re-runs.

The Session keeps the snapshots, the replay, the values and the cursor (stepping moves it). The
rooms that work on a session live beside it: breakpoints and watches (breakpoints.py), `set` and
its effects (editing.py), gradient checks (checking.py), `train` (running.py), and where a
problem comes from and how a model file is swapped in (sources.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine import NULL_TRACER, Op, Tracer
from engine.losses import SoftmaxCrossEntropy
from engine.presets import Problem

from . import expr as E
from .breakpoints import Breakpoint, Breakpoints, Watches
from .errors import SessionError
from .metrics import METRICS, metric
from .ops import is_timestep, op_matches

HISTORY_LIMIT = 100


@dataclass
class Snapshot:
    """Everything an iteration depends on, copied at its start."""

    params: dict[str, np.ndarray]
    opt_state: dict[str, np.ndarray]
    opt_t: int
    hyper: dict[str, float]
    rng: dict
    X: np.ndarray
    Y: np.ndarray
    batch: np.ndarray


@dataclass
class Edit:
    """``set target = value`` made while stopped at op ``pos`` (−1: before the first op)."""

    pos: int
    target: str
    symbol: str
    key: tuple | None
    value: object


@dataclass
class Iteration:
    number: int
    snapshot: Snapshot
    edits: list[Edit] = field(default_factory=list)
    tape: list[Op] | None = None
    edited: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    loss: float | None = None


@dataclass
class StepReport:
    """What a stepping command did: where it stopped and why."""

    moved: int = 0
    reason: str = ""
    breakpoint: Breakpoint | None = None
    notes: list[str] = field(default_factory=list)


# Hyperparameters `set` can change: name → (owner, attribute, description).
HYPERPARAMETERS = {
    "lr": ("optimizer", "lr", "learning rate α"),
    "momentum": ("optimizer", "momentum", "momentum μ"),
    "beta1": ("optimizer", "beta1", "Adam's β₁"),
    "beta2": ("optimizer", "beta2", "Adam's β₂"),
    "eps": ("optimizer", "eps", "Adam's ε"),
    "l2": ("model", "l2", "L2 strength λ"),
}


class SessionTracer(Tracer):
    """Records the ops of one run (copies) and applies the session's edits on the live arrays."""

    enabled = True

    def __init__(self, session: "Session", edits: list[Edit], X: np.ndarray, Y: np.ndarray):
        self.session, self.edits, self.X, self.Y = session, edits, X, Y
        self.tape: list[Op] = []
        self.edited: dict[int, dict[str, np.ndarray]] = {}
        self.live: dict[str, np.ndarray] = {}

    def begin_iteration(self, model) -> None:
        self.live = self.session.live_state(self.X, self.Y)
        self.apply(-1)

    def record(self, op: Op) -> None:
        op.index = len(self.tape)
        self.live.update(op.outputs)
        op.inputs = {k: np.array(v, copy=True) for k, v in op.inputs.items()}
        op.outputs = {k: np.array(v, copy=True) for k, v in op.outputs.items()}
        self.tape.append(op)
        self.apply(op.index)

    def apply(self, pos: int) -> None:
        for edit in self.edits:
            if edit.pos != pos:
                continue
            if edit.symbol in HYPERPARAMETERS:
                self.session.set_hyper(edit.symbol, edit.value)
                self.edited.setdefault(pos, {})[edit.symbol] = np.asarray(edit.value)
                continue
            array = self.live[edit.symbol]
            array[edit.key] = edit.value
            self.edited.setdefault(pos, {})[edit.symbol] = array.copy()


class Session:
    """A model, its data and one iteration under the debugger's control."""

    def __init__(self, factory, seed: int = 0, batch=None, source: str = ""):
        """``factory(seed)`` builds the Problem; ``reset`` and ``seed`` call it again."""
        self.factory, self.seed = factory, seed
        self.source = source
        self.breakpoints = Breakpoints()  # kept across reset, seed and load
        self.watches = Watches()
        self.open(factory(seed), batch)

    def open(self, problem: Problem, batch=None) -> None:
        """Start iteration 1 of ``problem``; breakpoints and watches are kept."""
        self.problem = problem
        self.model, self.loss, self.optimizer = problem.model, problem.loss, problem.optimizer
        self.model.astype(np.float64)  # the debugger shows exact float64 values
        self.source = self.source or problem.name
        self.history: list[Iteration] = []
        self.losses: list[tuple[int, float]] = []  # (iteration, loss) of every iteration completed
        self.trained: list[tuple[int, int]] = []  # (first, last) iterations each `train` ran untraced
        self.curve: list[dict] = []  # per epoch of `train`, with a validation set: metrics.record_epoch
        self.batch = np.arange(min(len(problem.X), 4)) if batch is None else self.check_batch(batch)
        self.batch_from = 1  # the first iteration of the stepped ones on this batch (set_batch and train move it)
        self.start_iteration(1)

    def reset(self, seed: int | None = None) -> None:
        self.reopen(self.factory, self.source, seed)

    def reopen(self, factory, source: str, seed: int | None = None, problem: Problem | None = None) -> None:
        """Start over on what ``factory(seed)`` builds (``problem``, when it is built already), and
        rebuild from ``factory`` on every later reset; ``source`` names it. The batch is kept if it fits."""
        seed = self.seed if seed is None else seed
        problem = factory(seed) if problem is None else problem  # first: if that fails, nothing changed
        self.factory, self.source, self.seed = factory, source, seed
        self.open(problem, self.batch if self.batch.max() < len(problem.X) else None)

    def model_at_cursor(self):
        """A copy of the model with the parameters as they are at the current op."""
        model = self.model.copy()
        values = self.values_at()
        model.load_state_dict({p.name: values[p.symbol] for p in model.parameters()})
        return model

    # -- state ---------------------------------------------------------------------------
    def targets(self, rows: np.ndarray) -> np.ndarray:
        """The labels of ``rows`` in the form the loss reads: one-hot rows for cross-entropy."""
        Y = np.asarray(self.problem.Y)[rows]
        if isinstance(self.loss, SoftmaxCrossEntropy) and Y.ndim == 1:
            K = self.model.output_shape()[0]
            one_hot = np.zeros((len(Y), K))
            one_hot[np.arange(len(Y)), Y.astype(int)] = 1.0
            return one_hot
        Y = Y.astype(np.float64)
        return Y[:, None] if Y.ndim == 1 else Y

    def take_snapshot(self) -> Snapshot:
        opt = self.optimizer
        return Snapshot(
            params=self.model.state_dict(),
            opt_state={k: v.copy() for k, v in opt.state_arrays().items()},
            opt_t=opt.t,
            hyper={name: self.get_hyper(name) for name in self.hyper_names()},
            rng=self.model.rng.bit_generator.state,
            X=np.asarray(self.problem.X, dtype=np.float64)[self.batch].copy(),
            Y=self.targets(self.batch),
            batch=self.batch.copy(),
        )

    def restore(self, snap: Snapshot) -> None:
        self.model.load_state_dict(snap.params)
        self.optimizer.load_state_arrays(snap.opt_state, snap.opt_t)
        for name, value in snap.hyper.items():
            self.set_hyper(name, value)
        self.model.rng.bit_generator.state = snap.rng

    def hyper_names(self) -> list[str]:
        return [name for name, (owner, attr, _) in HYPERPARAMETERS.items()
                if hasattr(self.optimizer if owner == "optimizer" else self.model, attr)]

    def get_hyper(self, name: str) -> float:
        owner, attr, _ = HYPERPARAMETERS[name]
        return float(getattr(self.optimizer if owner == "optimizer" else self.model, attr))

    def set_hyper(self, name: str, value) -> None:
        owner, attr, _ = HYPERPARAMETERS[name]
        setattr(self.optimizer if owner == "optimizer" else self.model, attr, float(value))

    def live_state(self, X: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray]:
        """Symbol → the live array the code will use, at the start of an iteration."""
        state = {"X": X, "Y": Y}
        for p in self.model.parameters():
            state[p.symbol] = p.value
        for symbol, (name, slot) in self.optimizer.state_symbols().items():
            state[symbol] = self.optimizer.state[name][slot]
        return state

    def base_values(self, snap: Snapshot) -> dict[str, object]:
        """Symbol → value at the start of an iteration, from its snapshot."""
        values: dict[str, object] = {"X": snap.X, "Y": snap.Y}
        for p in self.model.parameters():
            values[p.symbol] = snap.params[p.name]
        for symbol, (name, slot) in self.optimizer.state_symbols().items():
            values[symbol] = snap.opt_state[f"{name}.{slot}"]
        values.update(snap.hyper)
        return values

    # -- running iterations --------------------------------------------------------------
    def run(self, it: Iteration) -> None:
        """(Re)compute iteration ``it`` from its snapshot with its edits; leaves the model after it."""
        self.restore(it.snapshot)
        X, Y = it.snapshot.X.copy(), it.snapshot.Y.copy()
        tracer = SessionTracer(self, it.edits, X, Y)
        self.model.tracer = tracer
        try:
            with np.errstate(all="ignore"):
                it.loss = self.model.train_step(X, Y, self.loss, self.optimizer)
        finally:
            self.model.tracer = NULL_TRACER
            self.loss.tracer = self.optimizer.tracer = NULL_TRACER
        it.tape, it.edited = tracer.tape, tracer.edited

    def start_iteration(self, number: int) -> None:
        self.current = Iteration(number, self.take_snapshot())
        self.run(self.current)
        self.pos = -1

    def archive(self) -> None:
        """Keep the current iteration in the history (its snapshot; tapes only for the last few)."""
        self.losses.append((self.current.number, self.current.loss))
        self.history.append(self.current)
        if len(self.history) > HISTORY_LIMIT:
            self.history.pop(0)
        for old in self.history[:-3]:
            old.tape = None  # keep memory flat; a tape is recomputed from its snapshot when needed

    def finish_iteration(self) -> None:
        """Move on: the state after the current iteration becomes the next one's start."""
        self.archive()
        self.start_iteration(self.current.number + 1)

    def rewind_iteration(self) -> Iteration:
        """Go back to the previous iteration (re-run from its snapshot, with its edits)."""
        if not self.history:
            raise SessionError("already at the start of the oldest iteration kept "
                               f"(history keeps {HISTORY_LIMIT} iterations)")
        prev = self.history.pop()
        if self.losses and self.losses[-1][0] == prev.number:
            self.losses.pop()
        self.current = prev
        self.run(prev)
        self.pos = len(prev.tape) - 1
        return prev

    @property
    def tape(self) -> list[Op]:
        return self.current.tape

    @property
    def op(self) -> Op | None:
        return self.tape[self.pos] if self.pos >= 0 else None

    # -- values --------------------------------------------------------------------------
    def values_at(self, pos: int | None = None) -> dict[str, object]:
        """Symbol → value after op ``pos`` of the current iteration (edits included)."""
        pos = self.pos if pos is None else pos
        values = self.base_values(self.current.snapshot)
        values.update(self.current.edited.get(-1, {}))
        for op in self.tape[:pos + 1]:
            values.update(op.inputs)  # also names only ops read: an RNN's X_3, dH1_3, the stacks h1, dz1
            values.update(op.outputs)
            values.update(self.current.edited.get(op.index, {}))
        if "L" in values:
            values["loss"] = values["L"]
        return values

    def producer(self, symbol: str) -> Op | None:
        """The first op of this iteration that writes ``symbol``."""
        return next((op for op in self.tape if symbol in op.outputs), None)

    def known_symbols(self) -> list[str]:
        """Every name print and explain can reach in this iteration: inputs, results, and what ops only read."""
        names = dict.fromkeys(self.base_values(self.current.snapshot))
        for op in self.tape:
            names |= dict.fromkeys(op.inputs) | dict.fromkeys(op.outputs)
        return list(names)

    def canonical(self, name: str) -> str:
        """``dense1.W`` → ``W1``, ``dense1.dW`` → ``dW1``, ``relu1`` → ``A1`` (its output), ``loss`` → ``L``."""
        if name == "loss":
            return "L"
        try:
            return self.model.param(name).symbol
        except KeyError:
            pass
        if "." in name:
            layer, _, attr = name.rpartition(".")
            if attr.startswith("d"):
                try:
                    return "d" + self.model.param(f"{layer}.{attr[1:]}").symbol
                except KeyError:
                    pass
        if name in self.model._by_layer:
            return self.model.layer(name).sym["out"]
        return name

    def resolver(self, values: dict[str, object]):
        def resolve(name: str):
            symbol = self.canonical(name)
            if symbol in values:
                return values[symbol]
            if symbol in METRICS:  # train_acc, val_acc …: the whole sets, at the cursor's weights
                return metric(self, symbol)
            producer = self.producer(symbol)
            if producer is not None:  # `until rnn1.backward` stops at dh1_7, short of dh1_2: name the op then
                phase = f"{producer.layer}.{producer.phase}"
                ahead = next((op for op in self.tape[self.pos + 1:] if op_matches(op, phase)), None)
                raise E.ExprError(f"{symbol} is not computed yet at this point of iteration "
                                  f"{self.current.number}: op [{producer.index}] {producer.name} writes it "
                                  f"(`until {phase if ahead is producer else producer.result}` goes there)")
            raise E.ExprError(f"unknown name {name!r}; arrays here: {', '.join(self.known_symbols())}")
        return resolve

    def evaluate(self, text: str, pos: int | None = None, allow_compare: bool = False):
        tree = E.parse(text, allow_compare)
        return tree, E.evaluate(tree, self.resolver(self.values_at(pos)))

    # -- stepping ------------------------------------------------------------------------
    def move_to(self, target: int) -> StepReport:
        """Put the cursor on op ``target`` of the current iteration; undo edits stepped back past."""
        report = StepReport(moved=target - self.pos)
        if target < self.pos:
            undone = [e for e in self.current.edits if e.pos > target]
            if undone:
                self.current.edits = [e for e in self.current.edits if e.pos <= target]
                self.run(self.current)
                report.notes.append("stepping back undid " + ", ".join(f"set {e.target}" for e in undone))
        self.pos = target
        return report

    def step(self, count: int = 1) -> StepReport:
        moved = 0
        for _ in range(count):
            if self.pos + 1 < len(self.tape):
                self.pos += 1
            else:
                self.finish_iteration()
                self.pos = 0
            moved += 1
        return StepReport(moved=moved)

    def back(self, count: int = 1) -> StepReport:
        report = StepReport()
        for _ in range(count):
            if self.pos >= 0:
                sub = self.move_to(self.pos - 1)
                report.notes += sub.notes
            else:
                if not self.history and report.moved:  # went part of the way: stop there, not an error
                    report.notes.append(f"stopped at the start of iteration {self.current.number}, "
                                        f"the oldest kept")
                    break
                self.rewind_iteration()
                report.notes.append(f"back into iteration {self.current.number}")
            report.moved -= 1
        return report

    def next(self) -> StepReport:
        """To the first op of the next layer (or phase)."""
        here = self.op
        for op in self.tape[self.pos + 1:]:
            if here is None or (op.layer, op.phase) != (here.layer, here.phase):
                return self.move_to(op.index)
        self.finish_iteration()  # the last layer of the iteration: the next one is op 0 of the next iteration
        self.pos = 0
        return StepReport(moved=1, notes=[f"into iteration {self.current.number}"])

    def finish(self) -> StepReport:
        """To the last op of the current phase (of the next one, when already at its end)."""
        if self.pos + 1 >= len(self.tape):
            self.finish_iteration()
        phase = self.tape[self.pos + 1].phase
        end = self.pos + 1
        while end + 1 < len(self.tape) and self.tape[end + 1].phase == phase:
            end += 1
        return self.move_to(end)

    def timestep(self, t: int | None = None) -> StepReport:
        """To timestep ``t`` of the recurrent phase at the cursor (else the next one ahead).

        Without ``t``: the next timestep in that phase's own order (forward t = 0 … T−1, backward
        T−1 … 0); from the last one, on to the op after it. Past the last recurrent op of the
        iteration, on into the next iteration, as a step would. Per-step ops are those whose
        attrs carry ``t`` (an RNN's ``h1_t`` and ``dh1_t``, see ``is_timestep``).
        """
        here = self.op
        if here is not None and is_timestep(here):
            target = here
        else:
            stepped_ops = [op for op in self.tape if is_timestep(op)]
            if not stepped_ops:
                raise SessionError("timestep: this model has no recurrent layer, so no op has a timestep "
                                   "(the seq preset has an RNN: `nndb repl --preset seq`)")
            # the first recurrent op ahead; past the last one, the first of the next iteration
            target = next((op for op in stepped_ops if op.index > self.pos), stepped_ops[0])
        steps = [op for op in self.tape if op.layer == target.layer and op.kind == target.kind]
        if t is not None:
            by_t = {op.attrs["t"]: op for op in steps}
            if t not in by_t:
                raise SessionError(f"timestep: {target.layer} has timesteps 0..{len(steps) - 1}, got {t}")
            target = by_t[t]
        elif target is here:
            later = [op for op in steps if op.index > self.pos]
            if not later:
                report = self.step()
                report.notes.append(f"that was the last timestep of {here.layer}.{here.phase}: on to the next op")
                return report
            target = later[0]
        if here is not None and not is_timestep(here) and target.index <= self.pos:
            self.finish_iteration()  # nothing recurrent ahead in this iteration
            report = self.move_to(target.index)
            report.notes.append(f"into iteration {self.current.number}")
            return report
        return self.move_to(target.index)

    def find_ops(self, pattern: str) -> list[Op]:
        return [op for op in self.tape if op_matches(op, pattern)]

    def resolve_op(self, spec: str) -> Op:
        """An op by index (``12``) or name pattern (``dense2.backward``, ``dW2``, ``update``)."""
        if spec.lstrip("-").isdigit():
            i = int(spec)
            if not 0 <= i < len(self.tape):
                raise SessionError(f"op index {i} is out of range: this iteration has ops 0..{len(self.tape) - 1}")
            return self.tape[i]
        ops = self.find_ops(spec)
        if not ops:
            raise SessionError(f"no op matches {spec!r}; ops are named like {self.tape[-1].name} "
                               f"(layer.phase.result); layers: {', '.join(sorted({o.layer for o in self.tape}))}")
        return ops[0]

    def until(self, spec: str) -> StepReport:
        """Run forward to the next op matching ``spec`` (into the next iteration if need be)."""
        target = self.resolve_op(spec)  # validates the pattern before moving
        if spec.strip().lstrip("-").isdigit():
            if target.index > self.pos:
                return self.move_to(target.index)
            self.finish_iteration()
            return self.move_to(min(target.index, len(self.tape) - 1))
        for op in self.tape[self.pos + 1:]:
            if op_matches(op, spec):
                return self.move_to(op.index)
        self.finish_iteration()
        first = next((op for op in self.tape if op_matches(op, spec)), None)
        if first is None:  # an edit of l2 dropped the op from the new iteration
            return StepReport(notes=[f"into iteration {self.current.number}: no op matches {spec!r} in it; "
                                     f"stopped at its start"])
        report = self.move_to(first.index)
        report.notes.append(f"into iteration {self.current.number}")
        return report

    def goto(self, spec: str) -> StepReport:
        """Jump to an op of this iteration, forward or back (``-1`` is the iteration's start)."""
        if spec.strip() in ("-1", "start"):
            return self.move_to(-1)
        return self.move_to(self.resolve_op(spec).index)

    def continue_(self, iterations: int = 1) -> StepReport:
        """To the next breakpoint hit; else the end of the ``iterations``-th iteration from here."""
        if iterations < 1:
            raise SessionError(f"continue: the count must be ≥ 1, got {iterations}")
        active = self.breakpoints.active()
        done = 0
        if self.pos == len(self.tape) - 1:
            self.finish_iteration()
        while True:
            hit = self.breakpoints.first_hit(self, self.pos + 1, active)
            if hit is not None:
                op_index, bp = hit
                bp.hits += 1
                report = self.move_to(op_index)
                report.reason, report.breakpoint = f"breakpoint {bp.number} ({bp.spec})", bp
                return report
            done += 1
            if done >= iterations:
                report = self.move_to(len(self.tape) - 1)
                report.reason = f"end of iteration {self.current.number}"
                return report
            if not active:
                self.archive()
                self.fast_forward(iterations - done - 1)
                done = iterations - 1
                self.start_iteration(self.current.number + 1)
            else:
                self.finish_iteration()

    def fast_forward(self, count: int) -> None:
        """Run ``count`` iterations at engine speed (no tape) into the history, snapshots kept."""
        for _ in range(count):
            it = Iteration(self.current.number + 1, self.take_snapshot())
            with np.errstate(all="ignore"):
                it.loss = self.model.train_step(it.snapshot.X.copy(), it.snapshot.Y.copy(),
                                                self.loss, self.optimizer)
            self.current = it
            self.archive()

    # -- edits and the batch -------------------------------------------------------------------
    def apply_edit(self, edit: Edit) -> None:
        """Add ``edit`` to the current iteration and recompute it; if the re-run fails, drop it again."""
        self.current.edits.append(edit)
        try:
            self.run(self.current)
        except Exception:
            self.current.edits.pop()
            self.run(self.current)
            raise

    def check_batch(self, rows) -> np.ndarray:
        rows = np.asarray(rows, dtype=int).ravel()
        n = len(self.problem.X)
        if rows.size == 0:
            raise SessionError("batch: choose at least one example")
        if rows.min() < 0 or rows.max() >= n:
            raise SessionError(f"batch: examples are numbered 0..{n - 1}, got {rows.min()}..{rows.max()}")
        return rows

    def set_batch(self, rows) -> list[str]:
        rows = self.check_batch(rows)
        notes = []
        if self.current.edits:
            notes.append("the new batch restarts the iteration: dropped " +
                         ", ".join(f"set {e.target}" for e in self.current.edits))
        self.restore(self.current.snapshot)
        self.batch, self.batch_from = rows, self.current.number
        self.start_iteration(self.current.number)
        return notes

    def where(self) -> dict:
        op = self.op
        values = self.values_at()
        return {"iteration": self.current.number, "position": self.pos, "ops": len(self.tape),
                "phase": op.phase if op else "start", "op": op.name if op else None,
                "equation": op.equation if op else None,
                "loss": float(values["L"]) if "L" in values else None,
                "edits": [e.target for e in self.current.edits], "batch": self.batch.tolist()}


__all__ = ["Session", "SessionError", "Breakpoint", "Edit", "StepReport", "op_matches", "is_timestep",
           "HYPERPARAMETERS"]
