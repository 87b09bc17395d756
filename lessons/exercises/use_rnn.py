"""`--use FILE` for the RNN and the model's L2 penalty: the learner's rnn_step_forward, rnn_backward and l2_penalty swapped in.

The engine's RNN runs its T steps in one loop; the exercise splits it otherwise: ``rnn_step_forward``
is one step, called here once per timestep (its op ``rnn1.forward.h1_t`` carries the learner's
``h1_t``, the engine's step on the same ``h1_t−1`` as expected), and ``rnn_backward`` is the whole
of backpropagation through time, called once. It returns only ``(dX, dWx, dWh, db, dh0)``, from
which the per-step ``dh1_t``/``dz1_t`` cannot be recovered (``dX_t = dz_t·Wxᵀ`` loses them when
n_in < n_h), so the per-step ops ``rnn1.backward.dh1_t`` stay nndb's, unmarked: what nndb's sums
read; the learner's values arrive at ``dWx1``, ``dWh1``, ``db1`` (and ``dX``), each compared with
nndb's. The engine's state before step 0 is 0, so the learner gets ``h_prev = h0 = 0`` at t = 0
and their ``dh0`` is only checked for its form.

``l2_penalty`` is the model's own: the op ``l2.loss.L`` (``L ← L + (λ/2m)·Σ‖W‖²``) carries the data
loss plus the learner's penalty, the engine's total as expected.
"""
from __future__ import annotations

import numpy as np

from engine import recurrent
from engine.model import Sequential
from engine.trace import Tracer

from .learner import NO_LEARNER, Learner, LearnerError, LearnerFailure, template


class RNN(recurrent.RNN):
    """The engine's RNN; ``rnn_step_forward`` (each step) and ``rnn_backward`` (the whole BPTT) are the learner's."""

    registered = False
    learner: Learner = NO_LEARNER  # a copy made with type(part)() runs nndb's code

    def engine_step(self, X, t: int, h_prev):
        """The engine's step t on the learner's previous state, reported as the engine's loop reports it."""
        s, T = self.sym, X.shape[1]
        z = X[:, t] @ self.Wx + self.b
        if t > 0:
            z = z + h_prev @ self.Wh
        h = np.tanh(z)
        if self.tracer.enabled:
            n = self.step_symbols(t)
            inputs = {n["x"]: X[:, t], s["Wx"]: self.Wx, s["b"]: self.b}
            if t > 0:
                inputs |= {n["h_prev"]: h_prev, s["Wh"]: self.Wh}
            self.emit("forward", "rnn.step", self.step_equation("h", t, T), inputs, {n["h"]: h}, roles=n, t=t)
        return {"h_t": h}

    def forward(self, X):
        learner = self.learner
        if not learner.has("rnn_step_forward"):
            return super().forward(X)
        self.check_input(X, self.input_size)
        m, T, _ = X.shape
        H = np.empty((m, T, self.hidden_size), dtype=np.result_type(X, self.Wx))
        h_prev = np.zeros((m, self.hidden_size), dtype=H.dtype)  # the engine's state before step 0
        for t in range(T):
            got = learner.run(self, "rnn_step_forward", (X[:, t], h_prev, self.Wx, self.Wh, self.b),
                              lambda t=t, h=h_prev: self.engine_step(X, t, h),
                              {"h_t": self.step_symbols(t)["h"]}, {"h_t": (m, self.hidden_size)})
            H[:, t] = got["h_t"]  # read after the op was shown: a debugger edit of h1_t carries on
            h_prev = H[:, t]
        self.X, self.H = X, H
        out = H if self.return_sequences else H[:, -1]
        if self.tracer.enabled:
            self.emit_output(H, out)
        return out

    def backward(self, dH):
        learner = self.learner
        if not learner.has("rnn_backward"):
            return super().backward(dH)
        X, H, Wx, Wh, b = self.X, self.H, self.Wx, self.Wh, self.b
        m = len(X)
        dH_all = dH if self.return_sequences else np.zeros_like(H)
        if not self.return_sequences:
            dH_all[:, -1] = dH  # many-to-one: only the last state reaches the layer above

        def engine():
            dX = recurrent.RNN.backward(self, dH)
            return {"dX": dX, "dWx": self.dWx, "dWh": self.dWh, "db": self.db, "dh0": None}

        def decay(v):  # the exercise's gradients are the data loss's; the model's L2 adds (λ/m)·W
            return {**v, "dWx": v["dWx"] + (self.l2 / m) * Wx, "dWh": v["dWh"] + (self.l2 / m) * Wh}
        s = self.sym
        symbols = {"dWx": s["dWx"], "dWh": s["dWh"], "db": s["db"], **({"dX": s["din"]} if self.need_dX else {})}
        got = learner.run(self, "rnn_backward", (dH_all, X, H, np.zeros((m, self.hidden_size)), Wx, Wh, b), engine,
                          symbols, {"dX": X.shape, "dWx": Wx.shape, "dWh": Wh.shape, "db": b.shape,
                                    "dh0": (m, self.hidden_size)}, adjust=decay if self.l2 else None)
        self.dWx, self.dWh, self.db = got["dWx"], got["dWh"], got["db"]
        return got["dX"] if self.need_dX else None


class PenaltyCheck(Tracer):
    """The model's tracer during one iteration, which gives the L2 penalty op its expected total first."""

    def __init__(self, live: Tracer, model: "Model"):
        self.live, self.model = live, model

    @property
    def enabled(self) -> bool:
        return self.live.enabled

    def begin_iteration(self, model) -> None:
        self.live.begin_iteration(model)

    def end_iteration(self, model) -> None:
        self.live.end_iteration(model)

    def record(self, op) -> None:
        pending = self.model.pending
        if op.kind == "l2.penalty" and pending is not None:
            expected, mismatch = pending
            op.expected = {"L": np.asarray(float(op.inputs["L"]) + expected)}
            op.mismatch = mismatch
            self.model.pending = None
        self.live.record(op)


class Model(Sequential):
    """The engine's Sequential; ``l2_penalty`` is the learner's."""

    learner: Learner = NO_LEARNER
    pending = None  # (the engine's penalty, why the learner's could not be compared): for the penalty op

    def l2_penalty(self, m: int) -> float:
        engine = Sequential.l2_penalty(self, m)
        if not self.l2 or not self.learner.has("l2_penalty"):
            return engine
        Ws = [p.value for p in self.decayed_parameters()]
        try:
            got, mismatch = float(self.learner.call("l2_penalty", (Ws, self.l2, m), {"penalty": template(())})
                                  ["penalty"]), ""
        except LearnerFailure as f:
            if self.learner.strict:
                raise LearnerError(f.message) from None
            got, mismatch = engine, f.message
        self.pending = (engine, mismatch)
        return got

    def train_step(self, X, Y, loss_fn, optimizer) -> float:
        live = self._tracer
        if not self.l2 or not self.learner.has("l2_penalty") or not live.enabled:
            return super().train_step(X, Y, loss_fn, optimizer)
        self._tracer = PenaltyCheck(live, self)
        try:
            return super().train_step(X, Y, loss_fn, optimizer)
        finally:
            self._tracer = live
            loss_fn.tracer = optimizer.tracer = live
            self.pending = None
