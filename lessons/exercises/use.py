"""`--use FILE`: the learner's exercise functions swapped in for the engine's, every op compared with the engine's.

``learner_problem(problem, path)`` loads the learner's file (the one outside Python nndb runs, and
only because the learner asked) and turns each layer, the loss and the optimizer that one of its
functions implements into the wrapper class below (the RNN's and the model's: use_rnn.py; the
calls themselves: learner.py): a subclass of the engine's class (same name,
``registered = False``, so a saved model names the engine's layer) whose forward, backward or
update calls the learner's function. When the call is traced (the debugger) or compared (``nndb
train``: the first batch of each epoch), the engine's own code also runs on the same inputs, on a
capturing tracer; its ops are passed on with the learner's values as outputs (what the rest of
the iteration uses) and the engine's in ``op.expected``, so every front end can say whether the op
agrees (``Op.agreement``). The engine never learns that a learner exists.

A learner's function that raises, returns the wrong shape or dtype, or runs over the time limit
gives one message naming their file and line (checker.py's words); in the debugger that op is
marked with it and the engine's values stand in, so the session goes on; `nndb train` stops.
"""
from __future__ import annotations

import ast
from pathlib import Path

from engine import activations, conv, layers, losses, optim, recurrent
from engine.model import Sequential
from engine.presets import Problem
from inspector.errors import SessionError

from . import EXERCISES
from .checker import TIME_LIMIT, Failure, TimeLimit, exception_failure, functions_to_check, load
from .learner import NO_LEARNER, Learner, printing, template, time_limit
from .reference import FUNCTIONS
from .use_rnn import RNN, Model


class UseError(SessionError):
    """The file given to --use cannot be used: missing, not Python, raising on import, or none of
    its functions fits the network."""


def stub_only(node: ast.FunctionDef) -> bool:
    """A function whose body (its docstring aside) is only ``raise NotImplementedError``: still the stub."""
    body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


# -- the wrappers: the engine's classes, their math done by the learner's functions -------------
class Dense(layers.Dense):
    """The engine's Dense; ``dense_forward``/``dense_backward`` (and ``l2_gradient``) are the learner's."""

    registered = False
    learner: Learner = NO_LEARNER  # a copy made with type(part)() runs nndb's code

    def forward(self, X):
        learner = self.learner
        name = next((n for n in ("dense_forward", "dense_forward_vectorized") if learner.has(n)), None)
        if name is None or X.ndim != 2:  # a sequence batch (m, T, n): the exercise's layer takes rows
            return super().forward(X)
        self.check_input(X, self.n_in)
        got = learner.run(self, name, (X, self.W, self.b), lambda: {"Z": layers.Dense.forward(self, X)},
                    {"Z": self.sym["out"]}, {"Z": (len(X), self.n_out)})
        self.X = X
        return got["Z"]

    def decay(self, W, m):
        """The L2 term of dW: the learner's ``l2_gradient`` where written, else the engine's (λ/m)·W."""
        if not self.l2:
            return 0.0
        if self.learner.has("l2_gradient"):
            return self.learner.call("l2_gradient", (W, self.l2, m), {"dW_extra": template(W.shape)})["dW_extra"]
        return (self.l2 / m) * W

    def backward(self, dZ):
        learner, X, W = self.learner, self.X, self.W
        if not learner.has("dense_backward") or X.ndim != 2:
            return super().backward(dZ)

        def engine():
            dX = layers.Dense.backward(self, dZ)
            return {"dX": dX, "dW": self.dW, "db": self.db}
        s = self.sym
        got = learner.run(self, "dense_backward", (dZ, X, W, self.b), engine, {"dX": s["din"], "dW": s["dW"], "db": s["db"]},
                    {"dX": X.shape, "dW": W.shape, "db": self.b.shape},
                    adjust=lambda v: {**v, "dW": v["dW"] + self.decay(W, len(X))} if self.l2 else v)
        self.dW, self.db = got["dW"], got["db"]
        return got["dX"] if self.need_dX else None


class ReLU(activations.ReLU):
    registered = False
    learner: Learner = NO_LEARNER  # a copy made with type(part)() runs nndb's code

    def forward(self, Z):
        if not self.learner.has("relu_forward"):
            return super().forward(Z)
        got = self.learner.run(self, "relu_forward", (Z,), lambda: {"A": activations.ReLU.forward(self, Z)},
                               {"A": self.sym["out"]}, {"A": Z.shape})
        self.Z = Z
        return got["A"]

    def backward(self, dA):
        if not self.learner.has("relu_backward"):
            return super().backward(dA)
        return self.learner.run(self, "relu_backward", (dA, self.Z), lambda: {"dZ": activations.ReLU.backward(self, dA)},
                                {"dZ": self.sym["din"]}, {"dZ": self.Z.shape})["dZ"]


class Sigmoid(activations.Sigmoid):
    registered = False
    learner: Learner = NO_LEARNER  # a copy made with type(part)() runs nndb's code

    def forward(self, Z):
        self.Z = Z  # the learner's backward reads Z
        if not self.learner.has("sigmoid_forward"):
            return super().forward(Z)
        got = self.learner.run(self, "sigmoid_forward", (Z,), lambda: {"A": activations.Sigmoid.forward(self, Z)},
                               {"A": self.sym["out"]}, {"A": Z.shape})
        self.A = got["A"]
        return self.A

    def backward(self, dA):
        if not self.learner.has("sigmoid_backward"):
            return super().backward(dA)
        return self.learner.run(self, "sigmoid_backward", (dA, self.Z),
                                lambda: {"dZ": activations.Sigmoid.backward(self, dA)},
                                {"dZ": self.sym["din"]}, {"dZ": self.Z.shape})["dZ"]


class SoftmaxCrossEntropy(losses.SoftmaxCrossEntropy):
    registered = False
    learner: Learner = NO_LEARNER  # a copy made with type(part)() runs nndb's code

    def forward(self, Z, Y):
        if Z.ndim != 2 or not (self.learner.has("softmax_ce_forward") or self.learner.has("softmax_ce_backward")):
            return super().forward(Z, Y)
        Yh = self.one_hot(Z, Y)
        self.Z, self.Y = Z, Yh
        if not self.learner.has("softmax_ce_forward"):
            return super().forward(Z, Yh)
        ran = []

        def engine():
            ran.append(True)
            return {"L": losses.SoftmaxCrossEntropy.forward(self, Z, Yh)}
        got = self.learner.run(self, "softmax_ce_forward", (Z, Yh), engine, {"L": "L"}, {"L": ()})
        if not ran:
            self.P = self.probabilities(Z)  # what the engine's backward reads, should it run
        return float(got["L"])

    def backward(self):
        if not self.learner.has("softmax_ce_backward") or getattr(self, "Z", None) is None:
            return super().backward()
        return self.learner.run(self, "softmax_ce_backward", (self.Z, self.Y),
                                lambda: {"dZ": losses.SoftmaxCrossEntropy.backward(self)},
                                {"dZ": self.sym["din"]}, {"dZ": self.Z.shape})["dZ"]


class MSE(losses.MSE):
    registered = False
    learner: Learner = NO_LEARNER  # a copy made with type(part)() runs nndb's code

    def forward(self, A, Y):
        if not self.learner.has("mse_forward"):
            return super().forward(A, Y)
        Y = losses.as_column_targets("MSE", A, Y)
        got = self.learner.run(self, "mse_forward", (A, Y), lambda: {"L": losses.MSE.forward(self, A, Y)},
                               {"L": "L"}, {"L": ()})
        self.diff, self.A, self.Y = A - Y, A, Y
        return float(got["L"])

    def backward(self):
        if not self.learner.has("mse_backward"):
            return super().backward()
        return self.learner.run(self, "mse_backward", (self.A, self.Y), lambda: {"dA": losses.MSE.backward(self)},
                                {"dA": self.sym["din"]}, {"dA": self.A.shape})["dA"]


def optimizer_engine(owner, base, p, state: dict, outputs: dict[str, str]):
    """The engine's update of ``p`` as a reference: run, read, then undo (the learner's update counts)."""
    def engine():
        before = (p.value, dict(state))
        base.update(owner, p, state)
        values = {out: (p.value if slot == "W" else state[slot]) for out, slot in outputs.items()}
        p.value = before[0]
        state.update(before[1])
        return values
    return engine


class SGD(optim.SGD):
    registered = False
    learner: Learner = NO_LEARNER  # a copy made with type(part)() runs nndb's code

    def update(self, p, state):
        if not self.momentum or self.nesterov or not self.learner.has("momentum_update"):
            return super().update(p, state)
        W, w = p.value, p.symbol
        engine = optimizer_engine(self, optim.SGD, p, state, {"W_new": "W", "v_new": "v"})
        got = self.learner.run(self, "momentum_update", (W, p.grad, state["v"], self.lr, self.momentum), engine,
                               {"W_new": w, "v_new": "v" + w}, {"W_new": W.shape, "v_new": W.shape})
        p.value, state["v"] = got["W_new"], got["v_new"]


class Adam(optim.Adam):
    registered = False
    learner: Learner = NO_LEARNER  # a copy made with type(part)() runs nndb's code

    def update(self, p, state):
        if not self.learner.has("adam_update"):
            return super().update(p, state)
        W, w = p.value, p.symbol
        engine = optimizer_engine(self, optim.Adam, p, state, {"W_new": "W", "m_new": "m", "v_new": "v"})
        got = self.learner.run(self, "adam_update", (W, p.grad, state["m"], state["v"], self.t, self.lr, self.beta1,
                                                      self.beta2, self.eps), engine,
                               {"W_new": w, "m_new": "m" + w, "v_new": "v" + w},
                               {"W_new": W.shape, "m_new": W.shape, "v_new": W.shape})
        p.value, state["m"], state["v"] = got["W_new"], got["m_new"], got["v_new"]


class Conv2D(conv.Conv2D):
    registered = False
    learner: Learner = NO_LEARNER  # a copy made with type(part)() runs nndb's code

    def forward(self, X):
        if not self.learner.has("conv2d_forward"):
            return super().forward(X)
        conv.check_image(self, X, self.in_channels, self.kh, self.kw, self.padding)
        self.cols = None  # the engine's columns, which its backward reads: made only when its forward runs
        p, s = self.padding, self.stride
        shape = (len(X), self.out_channels, *self.output_shape(X.shape[1:])[1:])
        got = self.learner.run(self, "conv2d_forward", (X, self.K, self.b, s, p),
                               lambda: {"Z": conv.Conv2D.forward(self, X)}, {"Z": self.sym["out"]}, {"Z": shape})
        self.X = X
        return got["Z"]

    def backward(self, dZ):
        if self.cols is None and not self.learner.has("conv2d_backward"):
            conv.Conv2D.forward(self, self.X)  # untraced here: the engine's backward needs its columns
        if not self.learner.has("conv2d_backward"):
            return super().backward(dZ)
        X, K = self.X, self.K

        def engine():
            if self.cols is None:
                conv.Conv2D.forward(self, X)
            dX = conv.Conv2D.backward(self, dZ)
            return {"dX": dX, "dK": self.dK, "db": self.db}
        s = self.sym
        decay = (lambda v: {**v, "dK": v["dK"] + (self.l2 / len(X)) * K}) if self.l2 else None
        got = self.learner.run(self, "conv2d_backward", (dZ, X, K, self.b, self.stride, self.padding), engine,
                               {"dX": s["din"], "dK": s["dK"], "db": s["db"]},
                               {"dX": X.shape, "dK": K.shape, "db": self.b.shape}, adjust=decay)
        self.dK, self.db = got["dK"], got["db"]
        return got["dX"] if self.need_dX else None


class MaxPool2D(conv.MaxPool2D):
    registered = False
    learner: Learner = NO_LEARNER  # a copy made with type(part)() runs nndb's code

    def square(self) -> bool:
        """The exercise's pooling has one size and one stride for both axes."""
        return self.kh == self.kw and self.sh == self.sw

    def forward(self, X):
        if not self.learner.has("maxpool_forward") or not self.square():
            return super().forward(X)
        conv.check_image(self, X, None, self.kh, self.kw)
        self.cells = None
        shape = (*X.shape[:2], *self.output_shape(X.shape[1:])[1:])
        got = self.learner.run(self, "maxpool_forward", (X, self.kh, self.sh),
                               lambda: {"S": conv.MaxPool2D.forward(self, X)}, {"S": self.sym["out"]}, {"S": shape})
        self.X, self.in_shape = X, X.shape
        return got["S"]

    def backward(self, dS):
        if getattr(self, "cells", 1) is None:
            conv.MaxPool2D.forward(self, self.X)  # untraced here: the engine's backward needs its windows
        if not self.learner.has("maxpool_backward") or not self.square():
            return super().backward(dS)
        X = getattr(self, "X", None)
        if X is None or X.shape != self.in_shape:
            return super().backward(dS)
        return self.learner.run(self, "maxpool_backward", (dS, X, self.kh, self.sh),
                                lambda: {"dX": conv.MaxPool2D.backward(self, dS)},
                                {"dX": self.sym["din"]}, {"dX": X.shape})["dX"]


# -- which functions fit which part of the network --------------------------------------------
WRAPPERS = {layers.Dense: (Dense, ("dense_forward", "dense_forward_vectorized", "dense_backward", "l2_gradient")),
            activations.ReLU: (ReLU, ("relu_forward", "relu_backward")),
            activations.Sigmoid: (Sigmoid, ("sigmoid_forward", "sigmoid_backward")),
            conv.Conv2D: (Conv2D, ("conv2d_forward", "conv2d_backward")),
            conv.MaxPool2D: (MaxPool2D, ("maxpool_forward", "maxpool_backward")),
            losses.SoftmaxCrossEntropy: (SoftmaxCrossEntropy, ("softmax_ce_forward", "softmax_ce_backward")),
            losses.MSE: (MSE, ("mse_forward", "mse_backward")),
            optim.Adam: (Adam, ("adam_update",))}

WRAPPERS[recurrent.RNN] = (RNN, ("rnn_step_forward", "rnn_backward"))
WRAPPERS[Sequential] = (Model, ("l2_penalty",))  # the model itself: its L2 penalty


def wrapper_of(part) -> tuple[type, tuple[str, ...]] | None:
    """The wrapper class of a layer, loss or optimizer of exactly an engine class, and the functions it uses."""
    if type(part) is optim.SGD:
        return (SGD, ("momentum_update",)) if part.momentum and not part.nesterov else None
    return WRAPPERS.get(type(part))


def load_learner(path, quiet: bool = False) -> Learner:
    """The learner's file, run once (with the time limit); UseError for one that cannot be used.
    ``quiet``: what it prints goes to stderr."""
    given = Path(path)
    if not given.is_file():
        raise UseError(f"--use: no file {given}" + (" (nndb exercise ID writes one)" if not given.exists() else ""))
    resolved = given.resolve()
    try:
        functions_to_check(resolved)  # parses it (nothing runs): a syntax error names its line
        tree = ast.parse(resolved.read_text(encoding="utf-8"))
    except Failure as f:
        raise UseError(f"--use {given}: {f.fields['message']}") from None
    stubs = {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and stub_only(node)}
    try:
        with time_limit(TIME_LIMIT), printing(quiet):
            module = load(resolved)
    except (Exception, SystemExit, TimeLimit) as e:
        message = exception_failure(e, resolved, resolved.name, None, TIME_LIMIT).fields["message"]
        raise UseError(f"--use {given}: {message}") from None
    names = [n for e in EXERCISES.values() for n in e.functions if n in FUNCTIONS]
    written = {n: getattr(module, n) for n in names if callable(getattr(module, n, None)) and n not in stubs}
    return Learner(resolved, written, [n for n in names if n in stubs], quiet=quiet)


def swap_in(learner: Learner, parts) -> list[str]:
    """Turn each part (layer, loss, optimizer) that one of the learner's functions implements into
    its wrapper, in place; the names of the functions swapped in, in the exercises' order."""
    used: set[str] = set()
    for part in parts:
        found = wrapper_of(part)
        if found is None:
            continue
        cls, names = found
        mine = [n for n in names if learner.has(n)]
        if mine:
            part.__class__ = cls  # the same object (its weights, names, state), the wrapper's methods
            part.learner = learner
            used.update(mine)
    if "dense_forward" in used:
        used.discard("dense_forward_vectorized")  # dense_forward is the one called
    order = [n for e in EXERCISES.values() for n in e.functions]
    return [n for n in order if n in used]


def swap_summary(learner: Learner, used: list[str]) -> str:
    """One line: which of the learner's functions the network runs, and which it does not (and why)."""
    name = learner.path.name
    unused = [n for n in learner.functions if n not in used
              and not (n == "dense_forward_vectorized" and "dense_forward" in used)]
    parts = [f"--use {name}: your {', '.join(used)} run{'s' if len(used) == 1 else ''} in place of nndb's"]
    if learner.not_written:
        parts.append(f"not written yet (nndb's code runs): {', '.join(learner.not_written)}")
    if unused:
        parts.append(f"not used by this network: {', '.join(unused)}")
    return "; ".join(parts)


def learner_problem(problem: Problem, path, learner: Learner | None = None) -> tuple[Problem, list[str]]:
    """``problem`` with the learner's functions from ``path`` swapped in (its layers, loss and optimizer
    turned into wrappers, in place) and the names of those functions. UseError for a file that
    cannot be loaded or none of whose functions this network uses."""
    learner = learner or load_learner(path)
    used = swap_in(learner, [problem.model, *problem.model.layers, problem.loss, problem.optimizer])
    if not used:
        written = ", ".join(learner.functions) or "none written yet (each still raises NotImplementedError)"
        raise UseError(f"--use {learner.path.name}: the {problem.name} network uses none of your functions "
                       f"({written}); it has {', '.join(l.kind for l in problem.model.layers)}, "
                       f"{problem.loss.kind} and {problem.optimizer.kind}")
    return problem, used
