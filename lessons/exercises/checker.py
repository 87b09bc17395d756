"""`nndb check FILE`: run a learner's functions on seeded cases and compare them with the engine.

The learner's file is the one piece of outside Python nndb runs, and only because the learner
asked. Each function is checked in a child process of its own (forked: a fresh module namespace,
nothing the file does can reach nndb's state), under a time limit: a SIGALRM in the child stops
an endless loop where it is (so the message names the learner's line), and the parent kills a
child that does not answer shortly after. nndb's own frames are never shown; the learner's are.

A result is a dict, JSON-ready (one per function with `--json`): ``status`` is one of ``pass``,
``fail`` (a wrong shape, dtype or value), ``not written`` (the stub still raises
NotImplementedError), ``missing``, ``error`` (an exception, or a file that does not load) or
``timeout``; a value failure names the array and the element, yours and the expected value, the
element's equation with its numbers (the engine's op, written by ``explain``), and a hint.
"""
from __future__ import annotations

import ast
import importlib.util
import multiprocessing
import os
import signal
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from engine.gradcheck import noise_floor, numerical_gradient, relative_error, verdict
from inspector.explain import explain_op_element
from inspector.render import fmt

from . import EXERCISES, exercise_of
from .reference import FUNCTIONS, Case, Function

TIME_LIMIT = 10.0  # seconds per function, all its cases and its gradient check together
RTOL, ATOL = 1e-6, 1e-9
STATUSES = ("pass", "fail", "not written", "missing", "error", "timeout")


class TimeLimit(BaseException):
    """Raised in the child by SIGALRM: the function ran over the time limit."""


class Failure(Exception):
    """One function's failure, as the fields of its result."""

    def __init__(self, status: str, message: str, **fields):
        super().__init__(message)
        self.fields = {"status": status, "message": message, **fields}


# -- which functions a file holds ------------------------------------------------------------
def functions_to_check(path: Path) -> list[str]:
    """An exercise's functions for a file named after it (``dense.py``), else the exercise functions
    the file defines, found by parsing it (nothing runs). Raises Failure for a file that does not parse."""
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise Failure("error", f"{path.name} is not UTF-8 text (byte {e.start}): save it as UTF-8") from None
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as e:
        raise Failure("error", f"SyntaxError: {e.msg} — {path.name}, line {e.lineno}: {(e.text or '').strip()}",
                      line=e.lineno) from None
    if path.stem in EXERCISES:
        return list(EXERCISES[path.stem].functions)
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    names = [name for e in EXERCISES.values() for name in e.functions if name in defined]
    if not names:
        raise Failure("missing", f"{path.name} defines none of the exercises' functions (sigmoid_forward, "
                                 f"dense_backward, …); `nndb exercises` lists them")
    return names


# -- the learner's code: loading, calling, describing what went wrong -------------------------
def load(path: Path):
    """The learner's file as a fresh module (its folder on sys.path, for its own helpers)."""
    name = "nndb_learner_" + "".join(c if c.isalnum() else "_" for c in path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def learner_frame(exc: BaseException, path: Path) -> traceback.FrameSummary | None:
    """The innermost frame of the traceback in the learner's file (nndb's own are never shown)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == path]
    return frames[-1] if frames else None


def where(frame: traceback.FrameSummary | None, path: Path) -> str:
    if frame is None:
        return path.name
    return f"{path.name}, line {frame.lineno}" + (f": {frame.line.strip()}" if frame.line else "")


def exception_failure(exc: BaseException, path: Path, name: str, case: Case | None, limit: float) -> Failure:
    frame = learner_frame(exc, path)
    if isinstance(exc, SyntaxError) and Path(exc.filename or "").resolve() == path:
        return Failure("error", f"SyntaxError: {exc.msg} — {path.name}, line {exc.lineno}: "
                                f"{(exc.text or '').strip()}", line=exc.lineno)
    line = {"line": frame.lineno} if frame else {}
    on = {"case": case.label} if case else {}
    if isinstance(exc, TimeLimit):
        return Failure("timeout", f"{name} did not finish within {limit:g} s (the time limit): an endless loop? "
                                  f"stopped at {where(frame, path)}", **line, **on)
    if isinstance(exc, NotImplementedError) and frame is not None:
        return Failure("not written", f"not written yet: {name} still raises NotImplementedError "
                                      f"({where(frame, path)})", **line)
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    during = f" on case {case.label!r}" if case else " while loading the file"
    return Failure("error", f"{text} — {where(frame, path)}{during}", **line, **on)


# -- comparing one output --------------------------------------------------------------------
def shape_str(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def as_output(spec: Function, got) -> dict:
    """The returned value(s) by output name; Failure for None or the wrong number of values."""
    names = spec.outputs
    if got is None:
        raise Failure("fail", f"{spec.name} returned None: did you forget `return`?")
    if len(names) == 1:
        return {names[0]: got}
    if not isinstance(got, (tuple, list)) or len(got) != len(names):
        what = f"{len(got)} values" if isinstance(got, (tuple, list)) else f"a {type(got).__name__}"
        raise Failure("fail", f"{spec.name} must return {len(names)} values ({', '.join(names)}), got {what}")
    return dict(zip(names, got))


def check_form(name: str, value, expected) -> np.ndarray | float:
    """``value`` as a float64 array (or a float, for a scalar output), or Failure saying why it is not one."""
    if isinstance(expected, float):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number, np.ndarray)):
            raise Failure("fail", f"{name} must be a number (a float), got a {type(value).__name__}", array=name)
        if isinstance(value, np.ndarray) and value.shape != ():
            raise Failure("fail", f"wrong shape: {name} must be one number, got an array of shape "
                                  f"{shape_str(value.shape)} (a sum or a mean missing?)", array=name)
        return float(value)
    if value is None:
        raise Failure("fail", f"{name} is None: did you forget to compute it?", array=name)
    if not isinstance(value, np.ndarray):
        kind = "a list: return a NumPy array (np.array(...))" if isinstance(value, (list, tuple)) else \
            f"a {type(value).__name__}"
        raise Failure("fail", f"{name} must be an array of shape {shape_str(expected.shape)}, got {kind}", array=name)
    if value.dtype != np.float64:
        why = ("an integer or boolean array: a float array was expected" if value.dtype.kind in "biu"
               else "the inputs are float64; something converted them")
        raise Failure("fail", f"wrong dtype: {name} is {value.dtype}, expected float64 ({why})", array=name)
    if value.shape != expected.shape:
        hint = None
        if value.shape == expected.T.shape and np.allclose(value, expected.T, rtol=RTOL, atol=ATOL):
            hint = f"transposed: {name} is the transpose of the expected array"
        elif value.ndim > expected.ndim:
            hint = "an extra axis: a sum over an axis is missing?"
        elif value.ndim == expected.ndim == 1:
            hint = "summed over the wrong axis?"
        raise Failure("fail", f"wrong shape: {name} is {shape_str(value.shape)}, expected {shape_str(expected.shape)}",
                      array=name, hint=hint)
    return value


def factor_hint(spec: Function, inputs: dict, yours, expected) -> str | None:
    """Yours = c × expected everywhere: the constant says what was dropped or added."""
    y, e = np.atleast_1d(yours).ravel(), np.atleast_1d(expected).ravel()
    nz = np.abs(e) > 1e-12
    if not nz.any() or not np.all(np.isfinite(y)) or (np.abs(y[~nz]) > 1e-12).any():
        return None
    r = y[nz] / e[nz]
    c = float(r[0])
    if not np.allclose(r, c, rtol=1e-6) or abs(c - 1) < 1e-9:
        return None
    m, mname = spec.batch(inputs), spec.batch_name
    candidates = [(-1, "the sign is flipped"), (2, "twice the expected value: a factor 2 too many"),
                  (0.5, "half the expected value: a factor 2 missing")]
    if m and m != 1:
        candidates[:0] = [(m, f"missing 1/{mname} ({mname} = {m}): yours is {m}× the expected value"),
                          (1 / m, f"divided by {mname} once too often ({mname} = {m})")]
    for value, text in candidates:
        if np.isclose(c, value, rtol=1e-6):
            return text
    return f"yours is {c:.4g}× the expected value everywhere: a constant factor is off"


def value_hint(spec: Function, case: Case, number: int, name: str, yours, expected, mistakes) -> str | None:
    for text, wrong in mistakes:
        if name in wrong and np.shape(wrong[name]) == np.shape(yours) and \
                np.allclose(yours, wrong[name], rtol=RTOL, atol=ATOL):
            return text
    if not np.all(np.isfinite(yours)) and np.all(np.isfinite(expected)):
        return "yours is not finite (nan or inf): an overflow or a division by 0" + \
            (f"; {case.hint}" if case.hint else "")
    if np.ndim(expected) and np.all(np.asarray(yours) == 0) and np.any(np.asarray(expected) != 0):
        return "db is all zeros: forgot the bias gradient (db = Σᵢ dZ[i, :])" if name == "db" else \
            f"{name} is all zeros: never computed?"
    hint = factor_hint(spec, case.inputs, yours, expected)
    if hint:
        return hint
    e = np.asarray(expected)
    if e.ndim == 2 and e.shape[0] == e.shape[1] and np.allclose(yours, e.T, rtol=RTOL, atol=ATOL):
        return f"transposed: {name} is the transpose of the expected array"
    return case.hint if number > 0 else None


def explanation(expected, name: str, index: tuple) -> str | None:
    """The element's equation with its numbers, as the engine's op computed it (`explain`)."""
    if name not in expected.ops:
        return None
    op, symbol = expected.ops[name]
    try:
        ex = explain_op_element(op, symbol, index)
    except Exception:  # an element explain cannot write (overlapping pooling windows): no line
        return None
    return f"{ex.formula} = {ex.numbers} = {fmt(ex.recomputed)}"


def compare(spec: Function, case: Case, number: int, got: dict, expected) -> dict:
    """Every output in form first, then their values; Failure at the first wrong one. Returns the
    outputs as arrays (for the gradient check)."""
    values = {name: check_form(name, got[name], expected.values[name]) for name in spec.outputs}
    for name in [*spec.compared_first, *(n for n in spec.outputs if n not in spec.compared_first)]:
        y, e = values[name], expected.values[name]
        close = np.isclose(y, e, rtol=RTOL, atol=ATOL)
        if np.all(close):
            continue
        index = tuple(int(i) for i in np.argwhere(~np.atleast_1d(close))[0]) if np.ndim(e) else ()
        yv, ev = (y[index], e[index]) if index else (y, e)
        at = "[" + ",".join(map(str, index)) + "]" if index else ""
        wrong = int(np.size(close) - np.count_nonzero(close))
        count = f" ({wrong} of {np.size(e)} entries differ)" if np.ndim(e) else ""
        hint = value_hint(spec, case, number, name, y, e, spec.mistakes(case.inputs, expected.values))
        raise Failure("fail", f"{name}{at}: yours {fmt(float(yv))}, expected {fmt(float(ev))}{count}",
                      array=name, index=list(index), yours=float(yv) + 0.0, expected=float(ev) + 0.0, case=case.label,
                      explanation=explanation(expected, name, index), hint=hint)
    return values


def changed_inputs(before: dict, after: dict) -> str | None:
    for key, a in before.items():
        b = after[key]
        pairs = list(zip(a, b)) if isinstance(a, list) else [(a, b)]
        for x, y in pairs:
            if isinstance(x, np.ndarray) and not np.array_equal(x, y, equal_nan=True):
                return key
    return None


def copied(inputs: dict) -> dict:
    return {k: ([a.copy() for a in v] if isinstance(v, list) else v.copy() if isinstance(v, np.ndarray) else v)
            for k, v in inputs.items()}


# -- the gradient check and the timings --------------------------------------------------------
def gradient_check(spec: Function, inputs: dict, outputs: dict) -> dict:
    """Central differences (float64, ε = 1e-6) of the engine's objective with respect to every entry
    of every input a returned gradient belongs to; the worst relative error per gradient."""
    x = {k: (v.astype(np.float64) if isinstance(v, np.ndarray) else v) for k, v in copied(inputs).items()}
    report = {}
    for out, inp in spec.wrt.items():
        analytic, array, worst = outputs[out], x[inp], 0.0
        for index in np.ndindex(array.shape):
            losses: list = []
            num = numerical_gradient(lambda: spec.objective(x), array, index, 1e-6, losses)
            if abs(analytic[index] - num) > max(noise_floor(*losses, 1e-6), 1e-9):
                worst = max(worst, relative_error(float(analytic[index]), num))
        report[out] = {"relative_error": worst, "verdict": verdict(worst)}
    return report


def timings(module, spec: Function, fn) -> dict | None:
    loop = getattr(module, spec.timed_against or "", None)
    if not callable(loop):
        return None
    r = np.random.default_rng(0)
    X, W, b = r.normal(size=(32, 64)), r.normal(size=(64, 32)), r.normal(size=32)

    def best(f, repeat):
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            f(X, W, b)
            times.append(time.perf_counter() - start)
        return min(times)
    t_loop, t_vec = best(loop, 2), best(fn, 20)
    return {"shape": "X 32×64, W 64×32", "loop_s": t_loop, "vectorized_s": t_vec,
            "speedup": t_loop / t_vec if t_vec > 0 else None}


# -- one function, in the child ----------------------------------------------------------------
def check_function(path: Path, name: str, limit: float) -> dict:
    spec = FUNCTIONS[name]
    base = {"exercise": exercise_of(name).id, "function": name, "file": str(path)}
    try:
        module = load(path)
    except BaseException as e:  # the learner's file: anything may come out of it
        return {**base, **exception_failure(e, path, name, None, limit).fields}
    fn = getattr(module, name, None)
    if not callable(fn):
        return {**base, "status": "missing", "message": f"{path.name} has no function {spec.signature}"}
    cases, first, report = spec.cases(), None, {}
    try:
        for number, case in enumerate(cases):
            expected = spec.reference(copied(case.inputs))
            args = copied(case.inputs)
            try:
                got = fn(*(args[a] for a in spec.args))
            except BaseException as e:
                raise exception_failure(e, path, name, case, limit) from None
            changed = changed_inputs(case.inputs, args)
            if changed:
                raise Failure("fail", f"{name} changed its argument {changed} in place: compute new arrays "
                                      f"and leave the inputs as they were", array=changed, case=case.label)
            try:
                values = compare(spec, case, number, as_output(spec, got), expected)
            except Failure as failure:
                if number == 0 and spec.objective and "index" in failure.fields:
                    outputs = as_output(spec, got)
                    try:
                        failure.fields["gradcheck"] = gradient_check(spec, case.inputs, outputs)
                    except Exception:  # an output the check cannot index: the failure says enough
                        pass
                raise
            if number == 0:
                first = values
        if spec.objective:
            report["gradcheck"] = gradient_check(spec, cases[0].inputs, first)
        if spec.timed_against:
            report["timings"] = timings(module, spec, fn)
    except Failure as failure:
        return {**base, **failure.fields}
    except TimeLimit:
        return {**base, "status": "timeout", "message": f"the check of {name} ran over the time limit of {limit:g} s"}
    return {**base, "status": "pass", "message": f"{len(cases)} cases agree with the engine", "cases": len(cases),
            **report}


def child(conn, path: str, name: str, limit: float, quiet: bool) -> None:
    if quiet:  # the learner's prints go to stderr: stdout carries the JSON
        sys.stdout.flush()
        os.dup2(2, 1)
        sys.stdout = sys.stderr
    np.seterr(all="ignore")

    def stop(signum, frame):
        raise TimeLimit()
    signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        result = check_function(Path(path), name, limit)
    except BaseException as e:  # not the learner's: say so, in one line
        result = {"exercise": exercise_of(name).id, "function": name, "file": path, "status": "error",
                  "message": f"nndb could not check {name}: {type(e).__name__}: {e}"}
    signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        conn.send(result)
    finally:
        conn.close()


def run_isolated(path: Path, name: str, limit: float = TIME_LIMIT, quiet: bool = False) -> dict:
    """Check one function in a forked child; a child that neither answers nor ends is killed."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    sys.stdout.flush()
    sys.stderr.flush()
    proc = ctx.Process(target=child, args=(send, str(path), name, limit, quiet), daemon=True)
    proc.start()
    send.close()
    base = {"exercise": exercise_of(name).id, "function": name, "file": str(path)}
    try:
        if receive.poll(limit + 3.0):
            return receive.recv()
        return {**base, "status": "timeout",
                "message": f"{name} did not finish within {limit:g} s (the time limit) and was stopped: an endless loop?"}
    except EOFError:
        proc.join(1.0)
        return {**base, "status": "error",
                "message": f"checking {name} ended the process (exit code {proc.exitcode}): does the file call "
                           f"exit() or os._exit()?"}
    finally:
        receive.close()
        if proc.is_alive():
            proc.kill()
        proc.join()


def check_file(path: str | Path, limit: float = TIME_LIMIT, quiet: bool = False) -> list[dict]:
    """Check every exercise function of a learner's file; one result per function."""
    path = Path(path).resolve()
    try:
        names = functions_to_check(path)
    except Failure as failure:
        return [{"exercise": EXERCISES[path.stem].id if path.stem in EXERCISES else None, "function": None,
                 "file": str(path), **failure.fields}]
    return [run_isolated(path, name, limit, quiet) for name in names]
