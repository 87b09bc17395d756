"""The op trace: every primitive computation of an iteration reports itself to a tracer.

An op is one line of the math (``Z1 = X·W1 + b1``) with the arrays it read and wrote. Layers,
losses and optimizers call ``tracer.record(op)`` only when ``tracer.enabled`` is true, so the
default tracer costs one attribute test per op and nothing else.

Naming rule used everywhere (trace, REPL, TUI, lessons, files): an array whose symbol starts
with a lowercase ``d`` is a gradient of the loss, ``dW1 = ∂L/∂W1``; no other symbol starts so.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

PHASES = ("forward", "loss", "backward", "update")


@dataclass
class Op:
    """One primitive computation: where it runs, what it computes, and on which arrays.

    ``inputs``/``outputs`` map symbols (``X``, ``W1``, ``Z1``) to the arrays the code used,
    live views: a tracer that keeps them must copy them, and a tracer may also change an
    output in place before the code goes on (that is how the debugger applies an edit).
    ``attrs`` holds the scalars of the op (learning rate, batch size m, leak α, …; ``t`` for a
    timestep op). ``roles`` says which operand plays which part, filled by the layer that emits
    the op from its own symbol table: role → symbol, e.g. ``{"X": "A1", "W": "W2", "b": "b2",
    "out": "Z2"}``. Readers (explain, the matrix views, gradcheck) ask roles, never positions.
    The roles every layer uses: ``X`` its input, ``out`` its output, ``dout`` the gradient from
    above, ``dX`` the gradient it sends down, a parameter by its attribute (``W``, ``K``, ``Wx``)
    and its gradient with a ``d`` (``dW``); a layer may add its own (``mask``, ``h_prev``).
    """

    phase: str
    layer: str
    kind: str
    equation: str
    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    attrs: dict[str, Any] = field(default_factory=dict)
    index: int = -1
    roles: dict[str, str] = field(default_factory=dict)
    # Another computation of the same outputs from the same inputs, for code checked against a
    # reference (symbol → its value), and ``mismatch``: why they could not be compared (that code
    # raised, or returned the wrong shape). Empty for the engine's own ops; see ``agreement``.
    expected: dict[str, Any] = field(default_factory=dict)
    mismatch: str = ""

    def role(self, role: str) -> np.ndarray:
        """The array that plays ``role`` (``op.role("W")``); KeyError names the roles it has."""
        try:
            return self.arrays[self.roles[role]]
        except KeyError:
            raise KeyError(f"{self.kind} op {self.name} has no {role!r} operand; its roles: "
                           f"{', '.join(self.roles) or 'none'}") from None

    @property
    def t(self) -> int | None:
        """The timestep of a recurrent step op, else None (Adam's attr ``t`` counts updates)."""
        return self.attrs.get("t") if self.phase in ("forward", "backward") else None

    @property
    def result(self) -> str:
        """Symbol of the first result (``Z1``, ``dW2``): names the op within its layer."""
        return next(iter(self.outputs))

    @property
    def name(self) -> str:
        """Unique name within an iteration: ``dense2.backward.dW2``."""
        return f"{self.layer}.{self.phase}.{self.result}"

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """Inputs and outputs together; an output wins when a symbol is both (``W1 ← …``)."""
        return {**self.inputs, **self.outputs}

    @staticmethod
    def is_gradient(symbol: str) -> bool:
        """True for ``dW1``, ``dZ2``, ``db1``: arrays that hold ∂L/∂(the rest of the name)."""
        return len(symbol) > 1 and symbol[0] == "d"

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: tuple(np.shape(v)) for k, v in self.arrays.items()}

    def agreement(self, rtol: float = 1e-6, atol: float = 1e-9) -> dict | None:
        """None for an op with nothing ``expected``; else ``{"agrees": True}``, or the first output
        that disagrees: ``agrees`` False, ``symbol``, ``index``, ``yours`` and ``expected`` (that
        element's two values), ``differ`` and ``size`` (how many entries differ, of how many), and
        ``mismatch`` when the outputs could not be compared at all."""
        if not self.expected:
            return None
        if self.mismatch:
            return {"agrees": False, "mismatch": self.mismatch}
        for symbol, want in self.expected.items():
            mine, want = np.asarray(self.outputs[symbol], dtype=float), np.asarray(want, dtype=float)
            close = np.isclose(mine, want, rtol=rtol, atol=atol, equal_nan=True) if mine.shape == want.shape else np.zeros(1, bool)
            if np.all(close):
                continue
            where = np.argwhere(~np.atleast_1d(close))[0] if mine.shape == want.shape and mine.ndim else ()
            index = tuple(int(i) for i in where)
            return {"agrees": False, "symbol": symbol, "index": index,
                    "yours": float(mine[index]) if mine.shape == want.shape else float("nan"),
                    "expected": float(want[index]) if mine.shape == want.shape else float("nan"),
                    "differ": int(close.size - np.count_nonzero(close)), "size": int(want.size)}
        return {"agrees": True}


class Tracer:
    """The no-op tracer (bdb's ``user_*`` hooks): subclass and override what you need."""

    enabled = False

    def begin_iteration(self, model) -> None:
        """Called by ``train_step`` before the forward pass."""

    def record(self, op: Op) -> None:
        """Called after each op's results exist and before the code uses them."""

    def end_iteration(self, model) -> None:
        """Called by ``train_step`` after the last update."""


NULL_TRACER = Tracer()


def op_bytes(op: Op) -> dict[str, int]:
    """The bytes an op reads (its inputs) and writes (its outputs), from its arrays' sizes: what
    every ``op_cost`` reports beside its FLOPs (the cost view's memory traffic)."""
    return {"bytes_read": int(sum(np.asarray(a).nbytes for a in op.inputs.values())),
            "bytes_written": int(sum(np.asarray(a).nbytes for a in op.outputs.values()))}


def elementwise_cost(op: Op, flops_per_element: int) -> dict[str, int]:
    """The cost of an elementwise op: ``flops_per_element`` × the elements of its largest operand
    (a loss's m×k outputs, an update's parameter), and its bytes. Losses and optimizers use it."""
    n = max((np.asarray(a).size for a in op.arrays.values()), default=0)
    return {"flops": int(flops_per_element * n), **op_bytes(op)}


class RecordingTracer(Tracer):
    """Keeps a tape of the ops of the latest iteration, with copies of their arrays."""

    enabled = True

    def __init__(self, copy: bool = True):
        self.copy = copy
        self.tape: list[Op] = []

    def begin_iteration(self, model) -> None:
        self.tape = []

    def record(self, op: Op) -> None:
        op.index = len(self.tape)
        if self.copy:
            op.inputs = {k: np.array(v, copy=True) for k, v in op.inputs.items()}
            op.outputs = {k: np.array(v, copy=True) for k, v in op.outputs.items()}
        self.tape.append(op)
