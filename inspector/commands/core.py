"""The command language: every command declared once, parsed and run against a Session.

The registry feeds the REPL, the TUI's command bar, the command palette, completion and help.
A command returns a Result (ok, kind, message, data); front ends render it by kind, and the
scripted mode prints it as JSON. An error never changes the session.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from engine import EngineError, ModelFileError, load, save
from engine.errors import shape_str

from . import expr as E
from .explain import explain_op_element
from .render import gradient_of
from .session import HYPERPARAMETERS, Session, SessionError, StepReport, grad_rows_data, is_timestep


@dataclass
class Result:
    """What one command line produced."""

    command: str
    ok: bool
    kind: str
    message: str = ""
    data: dict = field(default_factory=dict)
    extra: list[str] = field(default_factory=list)  # lines a wrapper adds (a lesson's feedback)

    def to_json(self) -> dict:
        out = {"command": self.command, "ok": self.ok, "kind": self.kind, "message": self.message,
               "data": jsonable(self.data)}
        if self.extra:
            out["extra"] = list(self.extra)
        return out


def jsonable(x):
    """Arrays as nested lists; numpy scalars as Python numbers; NaN/inf as strings (valid JSON)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if np.isfinite(x) else str(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    return x


@dataclass(frozen=True)
class Command:
    name: str
    aliases: tuple[str, ...]
    usage: str
    summary: str
    help: str
    args: str               # what completion offers after the name: none, count, op, expr, …
    repeat: bool            # an empty line repeats it (stepping commands, as in pdb)
    run: Callable[[Session, str], Result]


REGISTRY: dict[str, Command] = {}
ALIASES: dict[str, str] = {}


def command(name: str, *, usage: str, summary: str, help: str = "", aliases: tuple[str, ...] = (),
            args: str = "none", repeat: bool = False):
    def register(fn):
        REGISTRY[name] = Command(name, aliases, usage, summary, help.strip(), args, repeat, fn)
        for alias in (name, *aliases):
            ALIASES[alias] = name
        return fn
    return register


def lookup(word: str) -> Command | None:
    name = ALIASES.get(word)
    return REGISTRY[name] if name else None


MAX_ITERATIONS = 1_000_000


class UsageError(SessionError):
    """Arguments that do not fit the command's usage line."""


def count_arg(cmd: str, text: str, default: int = 1) -> int:
    text = text.strip()
    if not text:
        return default
    if not re.fullmatch(r"\d+", text):
        raise UsageError(f"{cmd}: expected a count (a whole number ≥ 1), got {text!r}")
    value = int(text)
    if value < 1:
        raise UsageError(f"{cmd}: the count must be ≥ 1, got {value}")
    return value


# -- views of the session that several commands return -----------------------------------------
def array_data(name: str, value) -> dict:
    a = np.asarray(value)
    return {"name": name, "shape": list(a.shape), "gradient": gradient_of(name) is not None,
            "values": a}


def op_data(session: Session) -> dict:
    op = session.op
    where = session.where()
    if op is None:
        nxt = session.tape[0]
        return {"where": where, "op": None, "next": {"index": 0, "name": nxt.name, "equation": nxt.equation}}
    edits = session.current.edited.get(op.index, {})
    return {"where": where,
            "op": {"index": op.index, "name": op.name, "phase": op.phase, "layer": op.layer, "kind": op.kind,
                   "equation": op.equation, "attrs": dict(op.attrs),
                   "inputs": [array_data(k, v) for k, v in op.inputs.items()],
                   "outputs": [array_data(k, v) for k, v in op.outputs.items()],
                   "edited_after": sorted(edits)}}


def watch_data(session: Session) -> list[dict]:
    return [{"number": w.number, "expr": w.text, "value": value, "error": error}
            for w, value, error in session.watch_values()]


def stepped(session: Session, line: str, report: StepReport) -> Result:
    data = op_data(session)
    data["notes"] = report.notes
    data["reason"] = report.reason
    data["watches"] = watch_data(session)
    if session.op is not None and is_timestep(session.op):  # an RNN step: the norms through time so far
        data["timesteps"] = session.timestep_view()
    message = report.reason or ""
    return Result(line, True, "op", message, data)


# -- stepping ----------------------------------------------------------------------------------
@command("step", aliases=("s",), usage="step [N]", args="count", repeat=True,
         summary="run the next op (or the next N), into the next iteration after the last one")
def do_step(s: Session, arg: str, line: str = "step") -> Result:
    return stepped(s, line, s.step(count_arg("step", arg)))


@command("next", aliases=("n",), usage="next", repeat=True,
         summary="run to the first op of the next layer")
def do_next(s, arg, line="next"):
    _no_args("next", arg)
    return stepped(s, line, s.next())


@command("finish", aliases=("fin", "r"), usage="finish", repeat=True,
         summary="run to the end of the current phase (forward, loss, backward, update)")
def do_finish(s, arg, line="finish"):
    _no_args("finish", arg)
    return stepped(s, line, s.finish())


@command("continue", aliases=("c", "cont"), usage="continue [N]", args="count", repeat=True,
         summary="run to the next breakpoint, else to the end of the iteration (of the N-th with a count)",
         help="""
With a count, `continue 500` runs up to 500 iterations and stops at the first breakpoint hit,
showing that op. Without breakpoints the iterations in between run at engine speed.""")
def do_continue(s, arg, line="continue"):
    count = count_arg("continue", arg)
    if count > MAX_ITERATIONS:
        raise UsageError(f"continue: {count} iterations is more than this debugger runs at once "
                         f"({MAX_ITERATIONS:,}); `train` is the faster way to go far")
    return stepped(s, line, s.continue_(count))


@command("back", aliases=("bk",), usage="back [N]", args="count", repeat=True,
         summary="step back one op (or N): time travel; edits stepped back past are undone",
         help="""
Back from the start of an iteration goes to the last op of the previous one, as long as the
history (the last 100 iterations) allows.""")
def do_back(s, arg, line="back"):
    return stepped(s, line, s.back(count_arg("back", arg)))


@command("until", aliases=("unt",), usage="until OP", args="op", repeat=False,
         summary="run forward to the next op matching OP (dense2.backward, update, dW1, 12)")
def do_until(s, arg, line="until"):
    if not arg.strip():
        raise UsageError("until: name an op, e.g. `until dense2.backward` or `until update`")
    return stepped(s, line, s.until(arg.strip()))


@command("goto", aliases=("j", "jump"), usage="goto OP", args="op",
         summary="jump to an op of this iteration, forward or back (an index, a name, or start)")
def do_goto(s, arg, line="goto"):
    if not arg.strip():
        raise UsageError("goto: name an op, e.g. `goto 5`, `goto dense1.backward` or `goto start`")
    return stepped(s, line, s.goto(arg.strip()))


@command("timestep", aliases=("ts",), usage="timestep [T]", args="none", repeat=True,
         summary="step by timestep through an RNN: the next one in this phase, or timestep T",
         help="""
In an RNN's forward ops (h1_0, h1_1, …) the next timestep is t+1; in backpropagation through
time (dh1_7, dh1_6, …) it is t−1. `timestep 3` jumps to timestep 3 of the phase at the cursor
(or of the next recurrent phase ahead). Each stop shows ‖h_t‖ or ‖dh_t‖ of every timestep run
so far, on a log scale, so a gradient vanishing through time can be seen.""")
def do_timestep(s, arg, line="timestep"):
    text = arg.strip()
    if text and not re.fullmatch(r"\d+", text):
        raise UsageError(f"timestep: expected a timestep (a whole number ≥ 0), got {text!r}")
    return stepped(s, line, s.timestep(int(text) if text else None))


@command("where", aliases=("w",), usage="where", summary="iteration, phase, op and loss so far")
def do_where(s, arg, line="where"):
    _no_args("where", arg)
    w = s.where()
    return Result(line, True, "where", "", w)


@command("show", aliases=("sh",), usage="show",
         summary="the current op again: equation, every operand and result with names and shapes")
def do_show(s, arg, line="show"):
    _no_args("show", arg)
    data = op_data(s)
    data["watches"] = watch_data(s)
    data["full"] = True
    return Result(line, True, "op", "", data)


@command("list", aliases=("l", "ll"), usage="list",
         summary="the ops of this iteration as a program listing, the current one marked")
def do_list(s, arg, line="list"):
    _no_args("list", arg)
    marks = {bp.spec for bp in s.breakpoints if bp.enabled and bp.kind == "op"}
    from .session import op_matches
    ops = [{"index": op.index, "name": op.name, "phase": op.phase, "layer": op.layer, "equation": op.equation,
            "current": op.index == s.pos,
            "breakpoint": any(op_matches(op, spec) for spec in marks)} for op in s.tape]
    return Result(line, True, "list", "", {"where": s.where(), "ops": ops})


# -- inspection --------------------------------------------------------------------------------
@command("print", aliases=("p",), usage="print EXPR", args="expr",
         summary="an array, a slice or a function of them: W1[:,2], norm(dW1), shape(X), lr",
         help="""
Names: every array the iteration has produced so far (Z1, A1, P, L, dZ2, dW1 …), parameters
(W1, b1, or dense1.W), inputs X and labels Y, optimizer state (vW1, mW1), hyperparameters (lr,
l2 …), and a layer name for its output (relu1 is A1). Functions: """ + ", ".join(sorted(E.FUNCTIONS)) + """.
Arithmetic + - * / works on arrays and numbers.""")
def do_print(s, arg, line="print"):
    if not arg.strip():
        raise UsageError("print: give an expression, e.g. `print W1`, `print dZ1[0]`, `print norm(dW1)`")
    tree, value = s.evaluate(arg)
    name = E.to_text(tree)
    return Result(line, True, "value", "", array_data(name, value))


@command("explain", aliases=("x",), usage="explain NAME[i,j]", args="expr",
         summary="how one element was computed, with its numbers: explain Z1[3,2]")
def do_explain(s, arg, line="explain"):
    if not arg.strip():
        raise UsageError("explain: name one element, e.g. `explain Z1[0,2]` or `explain L`")
    tree = E.parse(arg)
    base, items = (tree.base, tree.items) if isinstance(tree, E.Index) else (tree, ())
    if not isinstance(base, E.Name):
        raise UsageError(f"explain: expected one element like Z1[0,2], got {arg.strip()!r}")
    symbol = s.canonical(base.name)
    values = s.values_at()
    if symbol not in values:
        s.resolver(values)(symbol)  # raises "not computed yet" / "unknown"
    array = np.asarray(values[symbol])
    if len(items) != array.ndim or any(isinstance(i, E.Slice) for i in items):
        dims = shape_str(array.shape)
        raise UsageError(f"explain: {symbol} is {dims}; name one element with {array.ndim} "
                         f"ind{'ex' if array.ndim == 1 else 'ices'}, e.g. {symbol}[{','.join(['0'] * array.ndim)}]"
                         if array.ndim else f"explain: {symbol} is a single number; write `explain {symbol}`")
    key = E.index_key(items, array.shape, s.resolver(values), symbol)
    key = tuple(k % n for k, n in zip(key, array.shape))
    op = next((o for o in reversed(s.tape[:s.pos + 1]) if symbol in o.outputs), None)
    if op is None:
        origin = ("the previous update" if s.history or s.current.number > 1 else "initialization")
        what = ("a parameter" if symbol in {p.symbol for p in s.model.parameters()} else
                "a hyperparameter" if symbol in HYPERPARAMETERS else "an input of this iteration")
        value = float(array[key]) if array.ndim else float(array)
        data = {"target": symbol + (E.to_text(tree)[len(base.name):] if items else ""), "op": None,
                "formula": None, "numbers": None, "value": value,
                "notes": [f"{symbol} is {what}: no op of this iteration has written it yet; "
                          f"its value comes from {origin if what == 'a parameter' else 'the batch' if symbol in ('X', 'Y') else 'the settings'}"]}
        return Result(line, True, "explain", "", data)
    exp = explain_op_element(op, symbol, key)
    now = float(array[key]) if array.ndim else float(array)
    if now != exp.value and not (np.isnan(now) and np.isnan(exp.value)):  # `set` changed it after the op
        exp.notes.append(f"an edit changed it after this op: {exp.target} is now {now:.6g} (print shows that)")
    data = {"target": exp.target, "op": exp.op, "formula": exp.formula, "numbers": exp.numbers,
            "value": exp.value, "recomputed": exp.recomputed, "text": exp.text, "notes": exp.notes}
    return Result(line, True, "explain", "", data)


# -- breakpoints and watches ---------------------------------------------------------------------
def breakpoint_rows(s: Session) -> list[dict]:
    return [{"number": b.number, "spec": b.spec, "kind": b.kind, "enabled": b.enabled, "hits": b.hits}
            for b in s.breakpoints]


@command("break", aliases=("b",), usage="break [OP | if CONDITION]", args="break",
         summary="stop at ops (break dense2.backward, break update) or when a condition holds",
         help="""
Conditions are checked after each op that writes one of their arrays:
  break if nan                 any result of an op is NaN or infinite
  break if norm(dW1) > 10      exploding gradients
  break if dead(relu1) > 0.5   more than half of relu1's units output 0 for the whole batch
  break if loss > 2
With no argument, lists the breakpoints with their hit counts.""")
def do_break(s, arg, line="break"):
    if not arg.strip():
        return Result(line, True, "breakpoints", "", {"breakpoints": breakpoint_rows(s)})
    bp = s.add_breakpoint(arg)
    return Result(line, True, "breakpoints", f"breakpoint {bp.number}: {bp.spec}",
                  {"breakpoints": breakpoint_rows(s), "added": bp.number})


def _breakpoint_numbers(s: Session, cmd: str, arg: str) -> list[int]:
    arg = arg.strip()
    if arg == "all":
        return [b.number for b in s.breakpoints]
    if not re.fullmatch(r"\d+(\s+\d+)*", arg):
        raise UsageError(f"{cmd}: expected breakpoint numbers or `all`, got {arg!r}")
    numbers = [int(x) for x in arg.split()]
    for number in numbers:
        s.find_breakpoint(number)  # validate all before changing any
    return numbers


@command("disable", usage="disable N… | all", args="breaknum", summary="turn breakpoints off (kept in the list)")
def do_disable(s, arg, line="disable"):
    for number in _breakpoint_numbers(s, "disable", arg):
        s.find_breakpoint(number).enabled = False
    return Result(line, True, "breakpoints", "", {"breakpoints": breakpoint_rows(s)})


@command("enable", usage="enable N… | all", args="breaknum", summary="turn breakpoints back on")
def do_enable(s, arg, line="enable"):
    for number in _breakpoint_numbers(s, "enable", arg):
        s.find_breakpoint(number).enabled = True
    return Result(line, True, "breakpoints", "", {"breakpoints": breakpoint_rows(s)})


@command("delete", aliases=("clear", "cl"), usage="delete N… | all", args="breaknum",
         summary="remove breakpoints")
def do_delete(s, arg, line="delete"):
    numbers = set(_breakpoint_numbers(s, "delete", arg))
    s.breakpoints = [b for b in s.breakpoints if b.number not in numbers]
    return Result(line, True, "breakpoints", f"deleted {len(numbers)}", {"breakpoints": breakpoint_rows(s)})


@command("watch", aliases=("wa",), usage="watch [EXPR]", args="expr",
         summary="show an expression after every step: watch norm(dW1), watch W1[0,1]")
def do_watch(s, arg, line="watch"):
    if arg.strip():
        w = s.add_watch(arg)
        message = f"watch {w.number}: {w.text}"
    else:
        message = ""
    return Result(line, True, "watches", message, {"watches": watch_data(s)})


@command("unwatch", usage="unwatch N… | all", args="watchnum", summary="remove watches")
def do_unwatch(s, arg, line="unwatch"):
    arg = arg.strip()
    have = {w.number for w in s.watches}
    if arg == "all":
        numbers = have
    elif re.fullmatch(r"\d+(\s+\d+)*", arg):
        numbers = {int(x) for x in arg.split()}
        missing = numbers - have
        if missing:
            raise UsageError(f"unwatch: no watch {min(missing)}; watches: {', '.join(map(str, sorted(have))) or 'none'}")
    else:
        raise UsageError(f"unwatch: expected watch numbers or `all`, got {arg!r}")
    s.watches = [w for w in s.watches if w.number not in numbers]
    return Result(line, True, "watches", "", {"watches": watch_data(s)})


# -- editing and checking ---------------------------------------------------------------------------
@command("set", usage="set TARGET = VALUE", args="target",
         summary="edit a weight, a slice, an input, a label or a hyperparameter; the rest recomputes",
         help="""
Examples: set W1[0,1] = 0.5    set W2[:,0] = 0    set b1 = [0.1, 0, 0, 0, 0, 0, 0, 0]
          set X[0,1] = 2       set lr = 0.01      set l2 = 0.001
The edit takes effect right after the current op; everything after it is recomputed, and the
loss before/after is reported (with the first-order prediction ∂L/∂w·Δw when it applies).
Stepping back past the edit undoes it.""")
def do_set(s, arg, line="set"):
    target, sep, value = arg.partition("=")
    if not sep or not target.strip() or not value.strip():
        raise UsageError("set: expected `set TARGET = VALUE`, e.g. `set W1[0,1] = 0.5` or `set lr = 0.01`")
    r = s.set(target, value)
    edit = r["edit"]
    message = f"{edit.target}: {_short(r['old'])} → {_short(edit.value)}"
    data = {"target": edit.target, "old": r["old"], "new": edit.value, "at_op": s.pos,
            "loss_before": r["loss_before"], "loss_after": r["loss_after"], "predicted_change": r["predicted"],
            "changed": [{"name": n, "max_abs_change": d} for n, d in r["changed"]]}
    return Result(line, True, "edit", message, data)


def _short(v) -> str:
    a = np.asarray(v)
    return f"{float(a):.6g}" if a.ndim == 0 else f"{shape_str(a.shape)} array"


@command("gradcheck", aliases=("gc",), usage="gradcheck LAYER [NEURON] | PARAM[index]", args="gradcheck",
         summary="compare backprop's gradient with central differences: gradcheck dense1 3, gradcheck W2[:,1]",
         help="""
Runs in float64 on this iteration's batch and starting weights, on a copy: the model is not
changed. Each row: the parameter, the analytic gradient (backward), the numerical one
(L(w+ε) − L(w−ε))/2ε, and their relative error. Verdicts (CS231n): ≤ 1e-7 excellent,
≤ 1e-4 acceptable near a kink, > 1e-2 wrong. A row is marked when ±ε crossed a ReLU kink.""")
def do_gradcheck(s, arg, line="gradcheck"):
    rows, total = s.gradcheck(arg)
    worst = max(rows, key=lambda r: r.rel_error)
    kinks = sum(r.kink for r in rows)
    message = f"worst relative error {worst.rel_error:.2e} ({worst.parameter}): {worst.verdict}"
    explanation = ("analytic = the gradient backward computed; numerical = "
                   "(L(w+ε) − L(w−ε))/2ε with ε = 1e-6, on this batch")
    if total > len(rows):
        explanation += (f"; a sample of {len(rows)} of the {total} entries, those with a non-zero "
                        f"gradient first")
    return Result(line, True, "gradcheck", message,
                  {"spec": arg.strip(), "rows": grad_rows_data(rows), "worst": worst.rel_error,
                   "verdict": worst.verdict, "kinks": kinks, "checked": len(rows), "entries": total,
                   "explanation": explanation})


# -- data and training ----------------------------------------------------------------------------
def parse_rows(arg: str, n: int, current: np.ndarray) -> np.ndarray:
    """``0:8``, ``3,5,7``, ``next``, ``random 8``: example numbers for the batch."""
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
        return np.sort(np.random.default_rng().choice(n, k, replace=False))
    m = re.fullmatch(r"(\d*)\s*:\s*(\d*)", arg)
    if m:
        a = int(m.group(1) or 0)
        b = int(m.group(2) or n)
        if not 0 <= a < b <= n:
            raise UsageError(f"batch: {arg} selects nothing in examples 0..{n - 1}")
        return np.arange(a, b)
    if re.fullmatch(r"\d+(\s*,\s*\d+)*", arg):
        return np.array([int(x) for x in arg.split(",")])
    raise UsageError(f"batch: expected 0:8, 3,5,7, next or random 8, got {arg!r}")


@command("batch", usage="batch [0:8 | 3,5,7 | next | random N]", args="batch",
         summary="show or choose the examples the iteration uses (restarts the iteration)")
def do_batch(s, arg, line="batch"):
    notes = []
    if arg.strip():
        notes = s.set_batch(parse_rows(arg, len(s.problem.X), s.batch))
    return Result(line, True, "batch", " ".join(notes),
                  {"batch": s.batch.tolist(), "X": s.current.snapshot.X, "Y": s.current.snapshot.Y,
                   "notes": notes})


@command("train", usage="train N [epochs]", args="train",
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
    r = s.train(count, progress)
    stopped = f" (stopped after {r['iterations']} of {count})" if r["iterations"] < count else ""
    count = r["iterations"]
    message = (f"trained {count} iterations{stopped}: loss {r['first_loss']:.4f} → {r['last_loss']:.4f}; whole dataset: "
               f"loss {r['dataset_loss']:.4f}, accuracy {r['dataset_accuracy']:.1%}")
    return Result(line, True, "train", message, r)


# -- session ------------------------------------------------------------------------------------
@command("reset", usage="reset", summary="start over from the same preset or file and seed (breakpoints and watches stay)")
def do_reset(s, arg, line="reset"):
    _no_args("reset", arg)
    s.reset()
    return stepped(s, line, StepReport(reason=f"reset: iteration 1 of {s.source}, seed {s.seed}"))


@command("seed", usage="seed N", args="count", summary="start over with another seed (weights, data, dropout)")
def do_seed(s, arg, line="seed"):
    if not re.fullmatch(r"\s*\d+\s*", arg):
        raise UsageError(f"seed: expected a whole number, got {arg.strip()!r}")
    s.reset(seed=int(arg))
    return stepped(s, line, StepReport(reason=f"reset with seed {s.seed}"))


@command("save", usage="save FILE", args="file", summary="save the model as it is at this point (.npz, atomic)")
def do_save(s, arg, line="save"):
    path = arg.strip()
    if not path:
        raise UsageError("save: give a file name, e.g. `save model.npz`")
    model = s.model_at_cursor()
    try:
        save(model, path, extra=s.file_extra())
    except OSError as e:
        raise SessionError(f"save: cannot write {path}: {e.strerror or e}") from None
    return Result(line, True, "message", f"saved {s.source} at iteration {s.current.number}, op {s.pos} to {path}",
                  {"path": path})


@command("load", usage="load FILE", args="file", summary="replace the model's weights by a saved model's and restart")
def do_load(s, arg, line="load"):
    path = arg.strip()
    if not path:
        raise UsageError("load: give a file name, e.g. `load model.npz`")
    try:
        model = load(path)
    except ModelFileError as e:
        raise SessionError(f"load: {e}") from None
    s.replace_model(model, path)
    return stepped(s, line, StepReport(reason=f"loaded {path}"))


@command("help", aliases=("h", "?"), usage="help [COMMAND]", args="command",
         summary="list the commands, or explain one")
def do_help(s, arg, line="help"):
    word = arg.strip()
    if word:
        cmd = lookup(word)
        if cmd is None:
            raise UsageError(f"help: no command {word!r}; `help` lists them")
        return Result(line, True, "help", "", {"commands": [command_data(cmd)], "detail": True})
    return Result(line, True, "help", "", {"commands": [command_data(c) for c in REGISTRY.values()]})


def command_data(c: Command) -> dict:
    return {"name": c.name, "aliases": list(c.aliases), "usage": c.usage, "summary": c.summary, "help": c.help}


@command("quit", aliases=("q", "exit"), usage="quit", summary="leave the debugger")
def do_quit(s, arg, line="quit"):
    return Result(line, True, "quit", "bye")


def _no_args(cmd: str, arg: str) -> None:
    if arg.strip():
        raise UsageError(f"{cmd}: takes no arguments, got {arg.strip()!r} (usage: {REGISTRY[cmd].usage})")


# -- the interpreter -------------------------------------------------------------------------------
class Interpreter:
    """Runs command lines against a session: errors become results; an empty line repeats."""

    def __init__(self, session: Session):
        self.session = session
        self.last: str | None = None

    def run(self, line: str, progress=None) -> Result:
        text = line.strip().removeprefix(":").lstrip()  # ":step", typed from habit (vim, the TUI's ':' key)
        if not text:
            if self.last is None:
                return Result("", True, "empty")
            text = self.last
        word, _, arg = text.partition(" ")
        cmd = lookup(word)
        if cmd is None:
            hint = close_commands(word)
            return Result(text, False, "error", f"unknown command {word!r}" +
                          (f"; did you mean {hint}?" if hint else "; `help` lists the commands"))
        try:
            if cmd.name == "train":
                result = do_train(self.session, arg, text, progress)
            else:
                result = cmd.run(self.session, arg, text)
        except (SessionError, E.ExprError, EngineError) as e:
            return Result(text, False, "error", str(e), {"usage": cmd.usage})
        except (KeyError, IndexError, ValueError, TypeError) as e:  # a gap in validation: still no crash
            return Result(text, False, "error", f"{cmd.name}: {e.args[0] if e.args else e}", {"usage": cmd.usage})
        if cmd.repeat:
            self.last = text  # an empty line repeats the last stepping command, even after a print
        return result


def close_commands(word: str) -> str:
    matches = difflib.get_close_matches(word, list(ALIASES), n=3, cutoff=0.6)
    names = []
    for m in matches:
        if ALIASES[m] not in names:
            names.append(ALIASES[m])
    return " or ".join(f"`{n}`" for n in names)


