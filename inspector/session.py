"""The debugging session: one training iteration recorded op by op, stepped, edited and checked.

How it keeps the guarantees of DESIGN.md: at the start of every iteration the session takes a
snapshot (parameters, optimizer state, RNG state, hyperparameters, the batch). It then runs the
whole iteration through the engine's own ``train_step`` with a tracer that records every op,
and stepping only moves a cursor over that tape. An edit made while stopped at op k is stored
with k; the iteration is re-run from the snapshot and the tracer applies the edit right after
op k, on the very arrays the code goes on to use. So what is shown is always what the code
computes, and stepping back past an edit just drops it and re-runs.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

import numpy as np

from engine import NULL_TRACER, Op, Tracer
from engine.gradcheck import check_parameters, format_index, neuron_entries
from engine.losses import SoftmaxCrossEntropy
from engine.presets import Problem

from . import expr as E

HISTORY_LIMIT = 100
GRADCHECK_SAMPLE = 24


class SessionError(Exception):
    """A command that cannot be done as asked; the message says what was wrong and what would be right."""


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
class Breakpoint:
    number: int
    spec: str
    condition: object = None     # parsed tree for ``break if …``; None for an op pattern
    names: tuple[str, ...] = ()  # arrays whose writing triggers a check of the condition
    enabled: bool = True
    hits: int = 0

    @property
    def kind(self) -> str:
        return "condition" if self.condition is not None or self.spec == "nan" else "op"


@dataclass
class Watch:
    number: int
    text: str
    tree: object


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
        self.breakpoints: list[Breakpoint] = []
        self.watches: list[Watch] = []
        self._next_number = {"break": 1, "watch": 1}
        self.open(factory(seed), batch)

    def open(self, problem: Problem, batch=None) -> None:
        """Start iteration 1 of ``problem``; breakpoints and watches are kept."""
        self.problem = problem
        self.model, self.loss, self.optimizer = problem.model, problem.loss, problem.optimizer
        self.model.astype(np.float64)  # the debugger shows exact float64 values
        self.source = self.source or problem.name
        self.history: list[Iteration] = []
        self.losses: list[tuple[int, float]] = []  # (iteration, loss) of every iteration completed
        self.batch = np.arange(min(len(problem.X), 4)) if batch is None else self.check_batch(batch)
        self.start_iteration(1)

    def reset(self, seed: int | None = None) -> None:
        seed = self.seed if seed is None else seed
        problem = self.factory(seed)  # first: if rebuilding fails, the session stays as it was
        self.seed = seed
        self.open(problem, self.batch if self.batch.max() < len(problem.X) else None)

    def model_at_cursor(self):
        """A copy of the model with the parameters as they are at the current op."""
        model = self.model.copy()
        values = self.values_at()
        model.load_state_dict({p.name: values[p.symbol] for p in model.parameters()})
        return model

    def file_extra(self) -> dict:
        """What a saved model needs to be reopened here: loss, optimizer, preset, seed."""
        return {"loss": self.loss.kind, "optimizer": {"type": self.optimizer.kind, **self.optimizer.config()},
                "preset": self.problem.name, "seed": self.seed, "batch_size": self.problem.batch_size}

    def replace_model(self, model, path: str) -> None:
        """Put a loaded model in place of the current one, if it fits the data; then restart."""
        from .sources import model_file_factory, problem_with_model
        problem = problem_with_model(model, self.problem, path)  # raises when it does not fit
        self.factory, self.source = model_file_factory(path, self.problem), path
        self.open(problem, self.batch)

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
            producer = self.producer(symbol)
            if producer is not None:
                raise E.ExprError(f"{symbol} is not computed yet at this point of iteration "
                                  f"{self.current.number}: op [{producer.index}] {producer.name} writes it "
                                  f"(`until {producer.layer}.{producer.phase}` goes there)")
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

    def timestep_view(self) -> dict | None:
        """The per-timestep norms of the recurrent layer at (or next after) the cursor, so far.

        ``{"layer", "T", "t", "forward": [(t, ‖h_t‖)…], "backward": [(t, ‖dh_t‖)…], "symbols":
        {"forward": "h1", "backward": "dh1"}}`` in the order the ops ran, up to the cursor; None for a
        model without per-step ops.
        """
        here = self.op
        stepped_ops = [op for op in self.tape if is_timestep(op)]
        if not stepped_ops:
            return None
        layer = here.layer if here is not None and is_timestep(here) else next(
            (op.layer for op in stepped_ops if op.index > self.pos), stepped_ops[-1].layer)
        view = {"layer": layer, "t": here.attrs["t"] if here is not None and here.layer == layer
                and is_timestep(here) else None, "forward": [], "backward": [], "symbols": {}}
        values = self.values_at()  # edits included
        for op in stepped_ops:
            if op.layer == layer and op.index <= self.pos:
                name = next(iter(op.outputs))  # h1_t, or dh1_t
                state = values[name]
                view["symbols"][op.phase] = name.rsplit("_", 1)[0]
                view[op.phase].append((op.attrs["t"], float(np.linalg.norm(state))))
        view["T"] = sum(1 for op in stepped_ops if op.layer == layer and op.phase == "forward")
        return view

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
        active = [b for b in self.breakpoints if b.enabled]
        done = 0
        if self.pos == len(self.tape) - 1:
            self.finish_iteration()
        while True:
            hit = self.scan(self.pos + 1, active)
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

    def scan(self, start: int, active: list[Breakpoint]):
        """First (op index, breakpoint) hit at or after ``start`` in the current tape."""
        if not active:
            return None
        values = self.values_at(start - 1)
        for op in self.tape[start:]:
            values.update(op.outputs)
            values.update(self.current.edited.get(op.index, {}))
            for bp in active:
                if self.hits(bp, op, values):
                    return op.index, bp
        return None

    def hits(self, bp: Breakpoint, op: Op, values: dict) -> bool:
        if bp.kind == "op":
            return op_matches(op, bp.spec)
        if bp.spec == "nan":
            return any(not np.all(np.isfinite(a)) for a in op.outputs.values())
        if not any(name in op.outputs for name in bp.names):
            return False
        try:
            if "L" in values:
                values["loss"] = values["L"]
            return bool(E.evaluate(bp.condition, self.resolver(values)))
        except (E.ExprError, ValueError, TypeError, IndexError):
            return False

    # -- breakpoints and watches -----------------------------------------------------------
    def add_breakpoint(self, spec: str) -> Breakpoint:
        spec = spec.strip()
        if not spec:
            raise SessionError("break: give an op pattern (break dense2.backward) or a condition (break if nan)")
        condition, names = None, ()
        if spec.startswith("if ") or spec == "if":
            text = spec[2:].strip()
            if text == "nan":
                spec = "nan"
            else:
                condition = E.parse(text, allow_compare=True)
                names = tuple(self.canonical(n) for n in E.names_in(condition))
                known = set(self.known_symbols()) | {"loss"}
                unknown = [n for n in names if n not in known]
                if unknown:
                    raise SessionError(f"break if: unknown name {unknown[0]!r}; arrays: {', '.join(self.known_symbols())}")
                if not names:
                    raise SessionError("break if: the condition names no array, so it could never change")
                spec = f"if {E.to_text(condition)}"
        elif not self.find_ops(spec):
            self.resolve_op(spec)  # raises with the list of layers
        bp = Breakpoint(self._next_number["break"], spec, condition, names)
        self._next_number["break"] += 1
        self.breakpoints.append(bp)
        return bp

    def find_breakpoint(self, number: int) -> Breakpoint:
        for bp in self.breakpoints:
            if bp.number == number:
                return bp
        have = ", ".join(str(b.number) for b in self.breakpoints) or "none"
        raise SessionError(f"no breakpoint {number}; breakpoints: {have}")

    def add_watch(self, text: str) -> Watch:
        tree = E.parse(text)
        names = [self.canonical(n) for n in E.names_in(tree)]
        known = set(self.known_symbols()) | {"loss"}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SessionError(f"watch: unknown name {unknown[0]!r}; arrays: {', '.join(self.known_symbols())}")
        watch = Watch(self._next_number["watch"], E.to_text(tree), tree)
        self._next_number["watch"] += 1
        self.watches.append(watch)
        return watch

    def watch_values(self) -> list[tuple[Watch, object, str | None]]:
        """(watch, value or None, error or None) at the current position."""
        resolve = self.resolver(self.values_at())
        out = []
        for w in self.watches:
            try:
                out.append((w, E.evaluate(w.tree, resolve), None))
            except (E.ExprError, ValueError, TypeError, IndexError) as e:
                out.append((w, None, str(e)))
        return out

    # -- editing -------------------------------------------------------------------------
    def set(self, target_text: str, value_text: str) -> dict:
        """``set W1[0,1] = 0.5``: edit right after the current op and recompute what follows."""
        tree = E.parse(target_text)
        if isinstance(tree, E.Name):
            symbol, items = self.canonical(tree.name), ()
        elif isinstance(tree, E.Index) and isinstance(tree.base, E.Name):
            symbol, items = self.canonical(tree.base.name), tree.items
        else:
            raise SessionError(f"set: the target must be a name or an indexed name like W1[0,1] or lr, "
                               f"got {target_text.strip()!r}")
        values = self.values_at()
        value_tree = E.parse(value_text)
        value = E.evaluate(value_tree, self.resolver(values))
        value = np.asarray(value, dtype=float) if not np.isscalar(value) else float(value)
        if not np.all(np.isfinite(value)):
            raise SessionError(f"set: the value must be a finite number, got {value_text.strip()}")
        if symbol in HYPERPARAMETERS:
            if symbol not in self.hyper_names():
                raise SessionError(f"set: this model's optimizer has no {symbol}; it has "
                                   f"{', '.join(self.hyper_names())}")
            if items or np.ndim(value) != 0:
                raise SessionError(f"set: {symbol} is a single number")
            if value < 0:
                raise SessionError(f"set: {symbol} must be ≥ 0, got {value}")
            if symbol == "momentum" and not self.optimizer.momentum:
                raise SessionError("set: momentum cannot be switched on for an SGD made without it; "
                                   "reset with a momentum preset instead")
            edit = Edit(self.pos, f"{symbol}", symbol, None, float(value))
            old = values.get(symbol)
        else:
            if symbol == "L":
                raise SessionError("set: nothing downstream reads the loss value L (backward starts "
                                   "from dZ = ∂L/∂Z); edit P, a logit or a weight instead")
            if symbol not in values:
                self.resolver(values)(symbol)  # raises "not computed yet" or "unknown name"
            current = np.asarray(values[symbol])
            try:
                key = E.index_key(items, current.shape, self.resolver(values), symbol) if items else (...,)
            except E.ExprError as e:
                raise SessionError(f"set: {e}") from None
            selected = current[key]
            if np.ndim(value) and np.shape(value) != np.shape(selected):
                try:
                    np.broadcast_to(value, np.shape(selected))
                except ValueError:
                    raise SessionError(
                        f"set: {E.to_text(tree)} is {shape_words(np.shape(selected))}, the value is "
                        f"{shape_words(np.shape(value))}; give a single number or an array of that shape"
                    ) from None
            old = np.array(selected, copy=True)
            edit = Edit(self.pos, E.to_text(tree), symbol, key, value)
        before = self.current.tape
        loss_before = self.current.loss
        self.current.edits.append(edit)
        try:
            self.run(self.current)
        except Exception:
            self.current.edits.pop()
            self.run(self.current)
            raise
        return {"edit": edit, "old": old, "loss_before": loss_before, "loss_after": self.current.loss,
                "changed": changed_downstream(before, self.current.tape, self.pos),
                "predicted": self.predicted_change(edit, old, before)}

    def predicted_change(self, edit: Edit, old, before: list[Op]) -> float | None:
        """First-order prediction ΔL ≈ Σ ∂L/∂w·Δw, when the edit precedes the loss and its gradient exists."""
        first_use = next((op for op in before if edit.symbol in op.inputs), None)
        if edit.key is None or first_use is None or edit.pos >= first_use.index:
            return None  # the loss of this iteration never sees the new value
        grad = next((op.outputs["d" + edit.symbol] for op in before if "d" + edit.symbol in op.outputs), None)
        if grad is None:
            return None
        delta = np.asarray(edit.value, dtype=float) - np.asarray(old, dtype=float)
        return float(np.sum(np.asarray(grad)[edit.key] * delta))

    # -- batch, gradcheck, training ------------------------------------------------------------
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
        self.batch = rows
        self.start_iteration(self.current.number)
        return notes

    def gradcheck_entries(self, spec: str) -> list[tuple[str, tuple]]:
        """Entries to check from ``dense1 3``, ``dense1``, ``W2[:,1]`` or ``b1``."""
        parts = spec.split()
        if not parts:
            raise SessionError("gradcheck: name a neuron (gradcheck dense1 3), a layer (gradcheck dense1) "
                               "or parameters (gradcheck W2[:,1])")
        if parts[0] in self.model._by_layer:
            layer = self.model.layer(parts[0])
            if not layer.params:
                raise SessionError(f"gradcheck: {parts[0]} has no parameters; pick one of "
                                   f"{', '.join(l.name for l in self.model.layers if l.params)}")
            if len(parts) == 2:
                if not parts[1].isdigit():
                    raise SessionError(f"gradcheck: the neuron must be a number, got {parts[1]!r}")
                try:
                    return neuron_entries(self.model, parts[0], int(parts[1]))
                except (IndexError, ValueError) as e:
                    raise SessionError(f"gradcheck: {e}") from None
            if len(parts) > 2:
                raise SessionError("gradcheck: expected `gradcheck LAYER [NEURON]`")
            return [(layer.sym[a], idx) for a in layer.params for idx in np.ndindex(getattr(layer, a).shape)]
        tree = E.parse(spec)
        base = tree.base if isinstance(tree, E.Index) else tree
        if not isinstance(base, E.Name):
            raise SessionError(f"gradcheck: expected a layer or a parameter like W2[:,1], got {spec!r}")
        try:
            p = self.model.param(base.name)
        except KeyError as e:
            raise SessionError(f"gradcheck: {e.args[0]}") from None
        shape = p.value.shape
        key = E.index_key(tree.items, shape, self.resolver({}), p.symbol) if isinstance(tree, E.Index) else ()
        idx = np.arange(int(np.prod(shape))).reshape(shape)[key]
        return [(p.symbol, np.unravel_index(int(i), shape)) for i in np.ravel(idx)]

    @staticmethod
    def sample_entries(entries: list, clone, loss, X, Y) -> list:
        """At most GRADCHECK_SAMPLE entries, seeded, preferring those whose gradient is not 0 on
        this batch (a background pixel's weights would pass trivially, 0 against 0)."""
        clone.loss(X, Y, loss)
        clone.backward(loss.backward())
        biases = [e for e in entries if clone.param(e[0]).attr == "b"]
        # a neuron's bias always, it is half of "a neuron" (an LSTM unit has one per gate)
        keep = biases if len(biases) <= 4 else []
        live = [e for e in entries if clone.param(e[0]).grad[e[1]] != 0 and e not in keep]
        rest = [e for e in entries if clone.param(e[0]).grad[e[1]] == 0 and e not in keep]
        rng = np.random.default_rng(0)
        pick = keep + [live[i] for i in rng.permutation(len(live))[:GRADCHECK_SAMPLE - len(keep)]]
        pick += [rest[i] for i in rng.permutation(len(rest))[:GRADCHECK_SAMPLE - len(pick)]]
        order = {e: i for i, e in enumerate(entries)}
        return sorted(pick, key=order.get)

    def gradcheck(self, spec: str):
        """Central differences on this iteration's batch and starting weights; the model is untouched.
        Returns the rows and how many entries the spec named (more than the rows when sampled)."""
        entries = [(sym, tuple(int(i) for i in idx)) for sym, idx in self.gradcheck_entries(spec)]
        clone = self.model.copy()
        snap = self.current.snapshot
        clone.load_state_dict(snap.params)
        clone.l2 = snap.hyper.get("l2", 0.0)
        X, Y = snap.X.copy(), snap.Y.copy()
        for edit in self.current.edits:  # edits made before the first op change the starting point
            if edit.pos == -1 and edit.symbol not in HYPERPARAMETERS:
                target = {"X": X, "Y": Y}.get(edit.symbol)
                if target is None:
                    target = clone.param(edit.symbol).value
                target[edit.key] = edit.value
        with np.errstate(all="ignore"):
            chosen = entries if len(entries) <= GRADCHECK_SAMPLE else \
                self.sample_entries(entries, clone.copy().eval(), type(self.loss)(), X, Y)
            rows = check_parameters(clone, self.loss, X, Y, chosen)
        return rows, len(entries)

    def train(self, iterations: int, progress=None) -> dict:
        """Finish this iteration as it stands (edits included), then train ``iterations`` minibatch
        steps over the whole dataset at engine speed, untraced."""
        if iterations < 1:
            raise SessionError(f"train: the count must be ≥ 1, got {iterations}")
        self.archive()  # the model is already past the current iteration, with its edits
        X_all = np.asarray(self.problem.X, dtype=np.float64)
        n = len(X_all)
        size = self.problem.batch_size
        rng = np.random.default_rng(self.seed + self.current.number)
        order = np.array([], dtype=int)
        losses = []
        with np.errstate(all="ignore"):
            for i in range(iterations):
                if len(order) < size:
                    order = np.concatenate([order, rng.permutation(n)])
                rows, order = order[:size], order[size:]
                L = self.model.train_step(X_all[rows], self.targets(rows), self.loss, self.optimizer)
                losses.append(L)
                if progress is not None and progress(i + 1, iterations, L):
                    break  # the front end asked to stop: keep what was trained so far
        self.history.clear()  # the iterations in between were not recorded: no stepping back across them
        evaluation = self.model.evaluate(X_all, self.problem.Y, self.loss)  # the trained weights, before
        self.start_iteration(self.current.number + 1 + len(losses))  # the recorded one runs one more step
        return {"iterations": len(losses), "requested": iterations, "first_loss": losses[0],
                "last_loss": losses[-1], "dataset_loss": evaluation["loss"],
                "dataset_accuracy": evaluation["accuracy"]}

    def where(self) -> dict:
        op = self.op
        values = self.values_at()
        return {"iteration": self.current.number, "position": self.pos, "ops": len(self.tape),
                "phase": op.phase if op else "start", "op": op.name if op else None,
                "equation": op.equation if op else None,
                "loss": float(values["L"]) if "L" in values else None,
                "edits": [e.target for e in self.current.edits], "batch": self.batch.tolist()}


def is_timestep(op: Op) -> bool:
    """Whether ``op`` is one timestep of a recurrent layer (its attrs carry ``t``; Adam's ``t`` counts updates)."""
    return op.phase in ("forward", "backward") and "t" in op.attrs


def op_matches(op: Op, pattern: str) -> bool:
    """``dense2.backward``, ``dense2``, ``update``, ``dW2``, ``dense*.forward`` or a full op name."""
    candidates = (op.name, f"{op.layer}.{op.phase}", op.layer, op.phase, op.result)
    return any(fnmatch.fnmatchcase(c, pattern) for c in candidates)


def shape_words(shape) -> str:
    return f"an array of shape {'×'.join(map(str, shape))}" if len(shape) else "a single number"


def changed_downstream(before: list[Op], after: list[Op], pos: int) -> list[tuple[str, float]]:
    """(symbol, max |Δ|) for every result after op ``pos`` that the re-run changed."""
    changed = []
    earlier = {op.name: op for op in before[pos + 1:]}  # by name: an edit of l2 adds or drops an op
    for new in after[pos + 1:]:
        old = earlier.get(new.name)
        if old is None:
            continue
        for name, value in new.outputs.items():
            a, b = np.asarray(old.outputs[name]), np.asarray(value)
            if a.shape != b.shape:
                continue
            with np.errstate(all="ignore"):
                diff = np.abs(a - b)
            worst = float(np.nanmax(diff)) if diff.size and not np.all(np.isnan(diff)) else 0.0
            if worst > 0 or not np.array_equal(np.isnan(a), np.isnan(b)):
                changed.append((name, worst))
    return changed


def grad_rows_data(rows) -> list[dict]:
    return [{"parameter": r.parameter, "analytic": r.analytic, "numerical": r.numerical,
             "rel_error": r.rel_error, "kink": r.kink, "verdict": r.verdict} for r in rows]


__all__ = ["Session", "SessionError", "Breakpoint", "Watch", "Edit", "StepReport", "op_matches", "is_timestep",
           "HYPERPARAMETERS", "grad_rows_data", "format_index"]
