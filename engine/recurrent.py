"""Recurrent layers: a vanilla tanh RNN over sequences, with backpropagation through time.

Layout: a sequence batch ``X`` is ``(m, T, n_in)``: rows are examples, then timesteps, then
features. The hidden state of example i after timestep t is the row ``H[i, t, :]``.

Names in the trace (the RNN is the k-th parameterized layer, here k = 1):

- parameters ``Wx1`` (n_in, n_h), ``Wh1`` (n_h, n_h), ``b1`` (n_h,); gradients ``dWx1``, ``dWh1``, ``db1``;
- per timestep, indices 0-based as in the arrays: ``X_t = X[:, t]``, ``h1_t = H1[:, t]`` (the state
  after step t; the state before step 0 is 0), ``dh1_t = ∂L/∂h1_t`` (everything that reaches h1_t:
  from the layer above at t and from step t+1), ``dz1_t = ∂L/∂(pre-activation at t)``;
- stacked over time (read by the final gradient ops): ``h1`` (m, T, n_h) all states and ``dz1``
  (m, T, n_h) all ``dz1_t``, so ``h1_t = h1[:, t]``;
- the layer's output ``H1``: all states (m, T, n_h) when ``return_sequences`` (many-to-many), else
  the last state ``h1_{T−1}`` (m, n_h) (many-to-one); the gradient arriving from above is ``dH1``,
  with ``dH1_t = dH1[:, t]`` in many-to-many.

Ops of one iteration, in order: forward ``rnn1.forward.h1_0`` … ``rnn1.forward.h1_{T−1}``, then
``rnn1.forward.H1``; backward ``rnn1.backward.dh1_{T−1}`` … ``rnn1.backward.dh1_0`` (each also
writes ``dz1_t``; attrs ``t`` and ``norm`` = ‖dh1_t‖, so a vanishing gradient shows step by step),
then ``dWx1``, ``dWh1``, ``db1`` and (not for the first layer) ``dX``. Every op name is unique
within an iteration because the per-step results carry their timestep. The per-step arrays are
views into the stacked ones, so a debugger edit of ``h1_3`` or ``dh1_3`` changes what follows.
"""
from __future__ import annotations

import numpy as np

from .errors import ShapeError, shape_str
from .init import get_initializer
from .layers import Layer


class RNN(Layer):
    """Vanilla RNN: ``h_t = tanh(x_t·Wx + h_{t−1}·Wh + b)``, ``h_{−1} = 0``.

    Shapes: X (m, T, n_in), Wx (n_in, n_h), Wh (n_h, n_h), b (n_h,), h_t (m, n_h); output
    H (m, T, n_h) with ``return_sequences`` (many-to-many), else the last state h_{T−1} (m, n_h)
    (many-to-one). Hidden unit j owns ``Wx[:, j]``, ``Wh[:, j]`` and ``b[j]``. With L2 strength
    λ (set by the model) ``dWx`` and ``dWh`` gain ``(λ/m)·Wx`` and ``(λ/m)·Wh``.
    """

    kind = "rnn"
    params = ("Wx", "Wh", "b")
    out_prefix = "H"

    def __init__(self, input_size: int, hidden_size: int, return_sequences: bool = False,
                 init: str = "xavier", seed: int | None = None):
        if int(input_size) < 1 or int(hidden_size) < 1:
            raise ValueError(f"RNN needs input_size ≥ 1 and hidden_size ≥ 1, got {input_size} and {hidden_size}")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.return_sequences, self.init = bool(return_sequences), init
        self.l2 = 0.0
        super().__init__()
        self.reset_parameters(np.random.default_rng(seed))

    def reset_parameters(self, rng: np.random.Generator, dtype=np.float64) -> None:
        init = get_initializer(self.init)
        self.Wx = init(rng, self.input_size, self.hidden_size).astype(dtype)
        self.Wh = init(rng, self.hidden_size, self.hidden_size).astype(dtype)
        self.b = np.zeros(self.hidden_size, dtype=dtype)
        self.dWx, self.dWh, self.db = np.zeros_like(self.Wx), np.zeros_like(self.Wh), np.zeros_like(self.b)

    def config(self) -> dict:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size,
                "return_sequences": self.return_sequences, "init": self.init}

    def step_symbols(self, t: int) -> dict[str, str]:
        """The per-timestep symbols at step t: ``X_3``, ``h1_3``, ``h1_2``, ``dh1_3``, ``dz1_3``, ``dH1_3``."""
        s, k = self.sym, self.sym["Wx"][2:]
        return {"x": f"{s['in']}_{t}", "h": f"h{k}_{t}", "h_prev": f"h{k}_{t - 1}", "dh": f"dh{k}_{t}",
                "dz": f"dz{k}_{t}", "dz_next": f"dz{k}_{t + 1}", "dH": f"{s['dout']}_{t}"}

    def describe(self, s):
        k = s["Wx"][2:]
        h, dz = f"h{k}", f"dz{k}"
        return {
            "h0": f"{h}_0 = tanh({s['in']}_0·{s['Wx']} + {s['b']})  (the state before step 0 is 0)",
            "h": f"{h}_t = tanh({s['in']}_t·{s['Wx']} + {h}_t−1·{s['Wh']} + {s['b']})",
            "H": (f"{s['out']} = [{h}_0, …, {h}_T−1]  (all states: many-to-many)" if self.return_sequences
                  else f"{s['out']} = {h}_T−1  (the last state: many-to-one)"),
            "dh": f"d{h}_t = {s['dout']}_t + {dz}_t+1·{s['Wh']}ᵀ;  {dz}_t = d{h}_t ⊙ (1 − {h}_t²)",
            "dWx": f"{s['dWx']} = Σₜ {s['in']}_tᵀ·{dz}_t",  # reads the stacks X and dz1
            "dWh": f"{s['dWh']} = Σₜ {h}_t−1ᵀ·{dz}_t",
            "db": f"{s['db']} = Σₜ Σᵢ {dz}_t[i,:]",
            "dX": f"{s['din']}_t = {dz}_t·{s['Wx']}ᵀ  (all t at once)",
        }

    def step_equation(self, key: str, t: int, T: int) -> str:
        """The equation of the op at timestep t, written with that step's symbols."""
        n = self.step_symbols(t)
        s = self.sym
        if key == "h":
            if t == 0:
                return f"{n['h']} = tanh({n['x']}·{s['Wx']} + {s['b']})  (the state before step 0 is 0)"
            return f"{n['h']} = tanh({n['x']}·{s['Wx']} + {n['h_prev']}·{s['Wh']} + {s['b']})"
        terms = []
        if self.return_sequences or t == T - 1:
            terms.append(n["dH"] if self.return_sequences else s["dout"])
        if t < T - 1:
            terms.append(f"{n['dz_next']}·{s['Wh']}ᵀ")
        return f"{n['dh']} = {' + '.join(terms)};  {n['dz']} = {n['dh']} ⊙ (1 − {n['h']}²)"

    def check_input(self, X: np.ndarray, n_features: int) -> None:
        if X.ndim != 3 or X.shape[2] != n_features or X.shape[1] < 1:
            raise ShapeError(f"{self.name}: expected a sequence batch of shape (batch, time, {n_features}), "
                             f"got {shape_str(X.shape)}")

    def forward(self, X: np.ndarray) -> np.ndarray:
        self.check_input(X, self.input_size)
        m, T, _ = X.shape
        Wx, Wh, b = self.Wx, self.Wh, self.b
        H = np.empty((m, T, self.hidden_size), dtype=np.result_type(X, Wx))
        tracing, s = self.tracer.enabled, self.sym
        for t in range(T):
            z = X[:, t] @ Wx + b
            if t > 0:
                z += H[:, t - 1] @ Wh
            H[:, t] = np.tanh(z)
            if tracing:
                n = self.step_symbols(t)
                inputs = {n["x"]: X[:, t], s["Wx"]: Wx, s["b"]: b}
                if t > 0:
                    inputs |= {n["h_prev"]: H[:, t - 1], s["Wh"]: Wh}
                self.emit("forward", "rnn.step", self.step_equation("h", t, T), inputs, {n["h"]: H[:, t]}, t=t)
        self.X, self.H = X, H  # backward needs the inputs and every state
        out = H if self.return_sequences else H[:, -1]
        if tracing:
            k = s["Wx"][2:]
            steps = range(T) if self.return_sequences else [T - 1]
            self.emit("forward", "rnn.output", self.equations["H"], {f"h{k}_{t}": H[:, t] for t in steps},
                      {s["out"]: out})
        return out

    def backward(self, dH: np.ndarray) -> np.ndarray | None:
        X, H, Wx, Wh = self.X, self.H, self.Wx, self.Wh
        m, T, _ = X.shape
        tracing, s = self.tracer.enabled, self.sym
        dh_all = np.zeros_like(H)  # dh_all[:, t] = dh_t, the whole gradient reaching h_t
        dZ = np.empty_like(H)      # dZ[:, t] = dz_t
        if self.return_sequences:
            dh_all += dH
        else:
            dh_all[:, -1] = dH
        for t in reversed(range(T)):  # backpropagation through time
            if t < T - 1:
                dh_all[:, t] += dZ[:, t + 1] @ Wh.T
            dZ[:, t] = dh_all[:, t] * (1.0 - H[:, t] * H[:, t])
            if tracing:
                n = self.step_symbols(t)
                inputs = {n["h"]: H[:, t]}
                if self.return_sequences:
                    inputs[n["dH"]] = dH[:, t]
                elif t == T - 1:
                    inputs[s["dout"]] = dH
                if t < T - 1:
                    inputs |= {n["dz_next"]: dZ[:, t + 1], s["Wh"]: Wh}
                self.emit("backward", "rnn.step_back", self.step_equation("dh", t, T), inputs,
                          {n["dh"]: dh_all[:, t], n["dz"]: dZ[:, t]},
                          t=t, norm=float(np.linalg.norm(dh_all[:, t])))
        H_prev = H[:, :-1]  # h_{t−1} for t = 1 … T−1 (h_{−1} = 0 adds nothing)
        dWx = np.einsum("mti,mtj->ij", X, dZ)
        dWh = np.einsum("mti,mtj->ij", H_prev, dZ[:, 1:])
        if self.l2:
            dWx += (self.l2 / m) * Wx
            dWh += (self.l2 / m) * Wh
        self.dWx, self.dWh, self.db = dWx, dWh, dZ.sum(axis=(0, 1))
        if tracing:
            hs, dzs = f"h{s['Wx'][2:]}", f"dz{s['Wx'][2:]}"
            l2 = {"l2": self.l2, "m": m} if self.l2 else {}
            suffix = "  + (λ/m)·{}" if self.l2 else ""
            decayed = {name: ({s[name]: getattr(self, name)} if self.l2 else {}) for name in ("Wx", "Wh")}
            self.emit("backward", "rnn.dWx", self.equations["dWx"] + suffix.format(s["Wx"]),
                      {s["in"]: X, dzs: dZ, **decayed["Wx"]}, {s["dWx"]: self.dWx}, **l2)
            self.emit("backward", "rnn.dWh", self.equations["dWh"] + suffix.format(s["Wh"]),
                      {hs: H, dzs: dZ, **decayed["Wh"]}, {s["dWh"]: self.dWh}, **l2)
            self.emit("backward", "rnn.db", self.equations["db"], {dzs: dZ}, {s["db"]: self.db})
        if not self.need_dX:
            return None  # the first layer's input needs no gradient
        dX = dZ @ Wx.T
        if tracing:
            self.emit("backward", "rnn.dX", self.equations["dX"], {dzs: dZ, s["Wx"]: Wx},
                      {s["din"]: dX})
        return dX
