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


class Recurrent(Layer):
    """What a vanilla RNN and an LSTM share: parameters Wx, Wh, b over ``blocks`` blocks of
    ``n_h`` columns (1 block for the RNN, one per gate for the LSTM), the input checks, and the
    parameter gradients summed over time from the stacked pre-activation gradients."""

    registered = False  # a base: the layers are RNN and LSTM
    params = ("Wx", "Wh", "b")
    decayed = ("Wx", "Wh")
    unit_axes = {"Wx": 1, "Wh": 1, "b": 0}
    unit_word = "hidden unit"
    out_prefix = "H"
    blocks = 1
    pre = "z"  # the stacked pre-activation gradient is d{pre}{k}: dz1 (RNN), da1 (LSTM)

    def __init__(self, input_size: int, hidden_size: int, return_sequences: bool = False,
                 init: str = "xavier", seed: int | None = None):
        if int(input_size) < 1 or int(hidden_size) < 1:
            raise ValueError(f"{type(self).__name__} needs input_size ≥ 1 and hidden_size ≥ 1, "
                             f"got {input_size} and {hidden_size}")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.return_sequences, self.init = bool(return_sequences), init
        self.l2 = 0.0
        super().__init__()
        self.reset_parameters(np.random.default_rng(seed))

    def reset_parameters(self, rng: np.random.Generator, dtype=np.float64) -> None:
        init, n, h = get_initializer(self.init), self.input_size, self.hidden_size
        self.Wx = np.hstack([init(rng, n, h) for _ in range(self.blocks)]).astype(dtype)
        self.Wh = np.hstack([init(rng, h, h) for _ in range(self.blocks)]).astype(dtype)
        self.b = np.zeros(self.blocks * h, dtype=dtype)
        self.dWx, self.dWh, self.db = np.zeros_like(self.Wx), np.zeros_like(self.Wh), np.zeros_like(self.b)

    @classmethod
    def parameter_shapes(cls, input_size, hidden_size, return_sequences=False, init="xavier", seed=None):
        n, h = int(input_size), int(hidden_size)
        return {"Wx": (n, cls.blocks * h), "Wh": (h, cls.blocks * h), "b": (cls.blocks * h,)}

    def config(self) -> dict:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size,
                "return_sequences": self.return_sequences, "init": self.init}

    def description(self) -> str:
        return f"{self.name} {self.input_size}→{self.hidden_size}" + (" (sequences)" if self.return_sequences else "")

    def output_shape(self, input_shape):
        T = input_shape[0] if input_shape is not None and len(input_shape) == 2 else None
        return (T, self.hidden_size) if self.return_sequences else (self.hidden_size,)

    def unit_of(self, symbol: str, index: tuple) -> int | None:
        """Besides the parameters and the output: every per-timestep state and gradient
        (``h1_3``, ``dz1_3``, an LSTM's gates ``f1_3`` and its ``da1_3`` of 4·n_h columns) and the
        stacks ``h1``, ``dz1``: unit j is column j (of each gate block)."""
        found = super().unit_of(symbol, index)
        if found is not None or not index:
            return found
        _, _, t = symbol.rpartition("_")
        steps = self.step_symbols(int(t)) if t.isdigit() else {}
        mine = {v for key, v in steps.items() if key != "x"} | {f"h{self.k}", f"d{self.pre}{self.k}"}
        return int(index[-1]) % self.hidden_size if symbol in mine else None

    # Elementwise FLOPs per example and hidden unit of one step, counted from the code below (a
    # sigmoid ½·(1 + tanh(½·a)) counts 4, a tanh 1): (at every step, more when a neighbouring step
    # adds its term). RNN forward: + b, tanh; + h_t−1·Wh. RNN back: h², 1 − h², ·dh; + dz_t+1·Whᵀ.
    step_flops, back_flops = (2, 1), (3, 1)

    def op_cost(self, op) -> dict[str, int]:
        """A product of (r, k) by (k, c) costs 2·r·k·c FLOPs: a step's x_t·Wx and h_t−1·Wh, the way
        back's dz_t+1·Whᵀ; the elementwise math of a step is ``step_flops``/``back_flops`` per example
        and hidden unit. The gradients through time: dWx and dX 2·m·T·n_in·g, dWh 2·m·(T−1)·n_h·g
        (h_t−1 exists for t ≥ 1), db m·T·g (g = blocks·n_h); L2 adds 2 per weight. The output op
        only picks states: 0 FLOPs."""
        cost = super().op_cost(op)
        n, g, n_in = self.hidden_size, self.blocks * self.hidden_size, self.input_size
        what = op.kind.rpartition(".")[2]
        if what == "step":
            m = op.role("x").shape[0]
            cost["flops"] = 2 * m * n_in * g + m * n * self.step_flops[0]
            if "h_prev" in op.roles:
                cost["flops"] += 2 * m * n * g + m * n * self.step_flops[1]
        elif what == "step_back":
            m = op.role("dh").shape[0]
            cost["flops"] = m * n * self.back_flops[0]
            if "Wh" in op.roles:
                cost["flops"] += 2 * m * g * n + m * n * self.back_flops[1]
        elif what in ("dWx", "dWh", "dX", "db"):
            m, T = op.role("d" + self.pre).shape[:2]
            width = {"dWx": n_in, "dWh": n, "dX": n_in}.get(what)
            steps = T - 1 if what == "dWh" else T
            cost["flops"] = m * T * g if width is None else 2 * m * steps * width * g
            if "l2" in op.attrs:
                cost["flops"] += 2 * getattr(self, what[1:]).size
        elif what == "output":
            cost["flops"] = 0
        return cost

    @property
    def k(self) -> str:
        """The layer's number in its symbols: ``1`` for Wx1, h1_t."""
        return self.sym["Wx"][2:]

    def gradient_equations(self, s) -> dict[str, str]:
        h, d = f"h{self.k}", f"d{self.pre}{self.k}"
        return {
            "dWx": f"{s['dWx']} = Σₜ {s['in']}_tᵀ·{d}_t",  # reads the stacks X and dz1
            "dWh": f"{s['dWh']} = Σₜ {h}_t−1ᵀ·{d}_t",
            "db": f"{s['db']} = Σₜ Σᵢ {d}_t[i,:]",
            "dX": f"{s['din']}_t = {d}_t·{s['Wx']}ᵀ  (all t at once)",
        }

    def output_equation(self, s) -> str:
        h = f"h{self.k}"
        return (f"{s['out']} = [{h}_0, …, {h}_T−1]  (all states: many-to-many)" if self.return_sequences
                else f"{s['out']} = {h}_T−1  (the last state: many-to-one)")

    def check_input(self, X: np.ndarray, n_features: int) -> None:
        if X.ndim != 3 or X.shape[2] != n_features or X.shape[1] < 1:
            raise ShapeError(f"{self.name}: expected a sequence batch of shape (batch, time, {n_features}), "
                             f"got {shape_str(X.shape)}")

    def dh_equation(self, n: dict, t: int, T: int, next_grad: str) -> str:
        """``dh1_t = dH1_t + dz1_t+1·Wh1ᵀ``: what reaches h_t, from above and from step t+1."""
        terms = []
        if self.return_sequences or t == T - 1:
            terms.append(n["dH"] if self.return_sequences else self.sym["dout"])
        if t < T - 1:
            terms.append(f"{n[next_grad]}·{self.sym['Wh']}ᵀ")
        return f"{n['dh']} = {' + '.join(terms)}"

    def from_above(self, dH: np.ndarray, n: dict, t: int, T: int) -> dict:
        """The gradient the layer above sends to step t: dH1_t (many-to-many), dH1 at the last step, else none."""
        if self.return_sequences:
            return {n["dH"]: dH[:, t]}
        return {self.sym["dout"]: dH} if t == T - 1 else {}

    def emit_output(self, H: np.ndarray, out: np.ndarray) -> None:
        T = H.shape[1]
        steps = range(T) if self.return_sequences else [T - 1]
        self.emit("forward", f"{self.kind}.output", self.equations["H"],
                  {f"h{self.k}_{t}": H[:, t] for t in steps}, {self.sym["out"]: out}, roles={"h": f"h{self.k}_{T - 1}"})

    def gradients_through_time(self, dA: np.ndarray) -> np.ndarray | None:
        """dWx, dWh, db (and dX) from the stacked pre-activation gradients ``dA`` (m, T, blocks·n_h)."""
        X, H, Wx, Wh = self.X, self.H, self.Wx, self.Wh
        m = X.shape[0]
        dWx = np.einsum("mti,mtj->ij", X, dA)
        dWh = np.einsum("mti,mtj->ij", H[:, :-1], dA[:, 1:])  # h_{t−1} for t ≥ 1 (h_{−1} = 0 adds nothing)
        if self.l2:
            dWx += (self.l2 / m) * Wx
            dWh += (self.l2 / m) * Wh
        self.dWx, self.dWh, self.db = dWx, dWh, dA.sum(axis=(0, 1))
        s, kind = self.sym, self.kind
        if self.tracer.enabled:
            hs, ds = f"h{self.k}", f"d{self.pre}{self.k}"
            l2 = {"l2": self.l2, "m": m} if self.l2 else {}
            suffix = "  + (λ/m)·{}" if self.l2 else ""
            decayed = {name: ({s[name]: getattr(self, name)} if self.l2 else {}) for name in ("Wx", "Wh")}
            stacks = {"h": hs, "d" + self.pre: ds}
            self.emit("backward", f"{kind}.dWx", self.equations["dWx"] + suffix.format(s["Wx"]),
                      {s["in"]: X, ds: dA, **decayed["Wx"]}, {s["dWx"]: self.dWx}, roles=stacks, **l2)
            self.emit("backward", f"{kind}.dWh", self.equations["dWh"] + suffix.format(s["Wh"]),
                      {hs: H, ds: dA, **decayed["Wh"]}, {s["dWh"]: self.dWh}, roles=stacks, **l2)
            self.emit("backward", f"{kind}.db", self.equations["db"], {ds: dA}, {s["db"]: self.db}, roles=stacks)
        if not self.need_dX:
            return None  # the first layer's input needs no gradient
        dX = dA @ Wx.T
        if self.tracer.enabled:
            self.emit("backward", f"{kind}.dX", self.equations["dX"], {f"d{self.pre}{self.k}": dA, s["Wx"]: Wx},
                      {s["din"]: dX}, roles={"d" + self.pre: f"d{self.pre}{self.k}"})
        return dX


class RNN(Recurrent):
    """Vanilla RNN: ``h_t = tanh(x_t·Wx + h_{t−1}·Wh + b)``, ``h_{−1} = 0``.

    Shapes: X (m, T, n_in), Wx (n_in, n_h), Wh (n_h, n_h), b (n_h,), h_t (m, n_h); output
    H (m, T, n_h) with ``return_sequences`` (many-to-many), else the last state h_{T−1} (m, n_h)
    (many-to-one). Hidden unit j owns ``Wx[:, j]``, ``Wh[:, j]`` and ``b[j]``. With L2 strength
    λ (set by the model) ``dWx`` and ``dWh`` gain ``(λ/m)·Wx`` and ``(λ/m)·Wh``.
    """

    kind = "rnn"

    def step_symbols(self, t: int) -> dict[str, str]:
        """The per-timestep symbols at step t: ``X_3``, ``h1_3``, ``h1_2``, ``dh1_3``, ``dz1_3``, ``dH1_3``."""
        s, k = self.sym, self.k
        return {"x": f"{s['in']}_{t}", "h": f"h{k}_{t}", "h_prev": f"h{k}_{t - 1}", "dh": f"dh{k}_{t}",
                "dz": f"dz{k}_{t}", "dz_next": f"dz{k}_{t + 1}", "dH": f"{s['dout']}_{t}"}

    def describe(self, s):
        h, dz = f"h{self.k}", f"dz{self.k}"
        return {
            "h": f"{h}_t = tanh({s['in']}_t·{s['Wx']} + {h}_t−1·{s['Wh']} + {s['b']})",
            "H": self.output_equation(s),
            "dh": f"d{h}_t = {s['dout']}_t + {dz}_t+1·{s['Wh']}ᵀ;  {dz}_t = d{h}_t ⊙ (1 − {h}_t²)",
            **self.gradient_equations(s),
        }

    def step_equation(self, key: str, t: int, T: int) -> str:
        """The equation of the op at timestep t, written with that step's symbols."""
        n = self.step_symbols(t)
        s = self.sym
        if key == "h":
            if t == 0:
                return f"{n['h']} = tanh({n['x']}·{s['Wx']} + {s['b']})  (the state before step 0 is 0)"
            return f"{n['h']} = tanh({n['x']}·{s['Wx']} + {n['h_prev']}·{s['Wh']} + {s['b']})"
        return f"{self.dh_equation(n, t, T, 'dz_next')};  {n['dz']} = {n['dh']} ⊙ (1 − {n['h']}²)"

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
                self.emit("forward", "rnn.step", self.step_equation("h", t, T), inputs, {n["h"]: H[:, t]},
                          roles=n, t=t)
        self.X, self.H = X, H  # backward needs the inputs and every state
        out = H if self.return_sequences else H[:, -1]
        if tracing:
            self.emit_output(H, out)
        return out

    def backward(self, dH: np.ndarray) -> np.ndarray | None:
        H, Wh = self.H, self.Wh
        T = H.shape[1]
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
                inputs = {n["h"]: H[:, t], **self.from_above(dH, n, t, T)}
                if t < T - 1:
                    inputs |= {n["dz_next"]: dZ[:, t + 1], s["Wh"]: Wh}
                self.emit("backward", "rnn.step_back", self.step_equation("dh", t, T), inputs,
                          {n["dh"]: dh_all[:, t], n["dz"]: dZ[:, t]}, roles=n,
                          t=t, norm=float(np.linalg.norm(dh_all[:, t])))
        return self.gradients_through_time(dZ)


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # = 1/(1 + e^(−a)), with no overflow


class LSTM(Recurrent):
    """Long short-term memory: a cell state ``c`` that gates add to and forget from.

    At step t, with ``a_t = x_t·Wx + h_{t−1}·Wh + b`` split into four blocks of n_h columns
    (gate order i, f, g, o, as PyTorch):

        i_t = σ(a_i)   input gate      f_t = σ(a_f)   forget gate
        g_t = tanh(a_g) candidate      o_t = σ(a_o)   output gate
        c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t          h_t = o_t ⊙ tanh(c_t)          (h_{−1} = c_{−1} = 0)

    Shapes: X (m, T, n_in), Wx (n_in, 4·n_h), Wh (n_h, 4·n_h), b (4·n_h,); h_t, c_t and each gate
    (m, n_h); output as the RNN's. Hidden unit j owns the columns j, n_h+j, 2n_h+j, 3n_h+j.
    The forget gate's bias starts at 1, so the cell remembers by default (Jozefowicz et al., 2015).

    Backward per step, in reverse: ``dh_t = dH_t + da_{t+1}·Whᵀ``, ``dc_t = dh_t ⊙ o_t ⊙ (1 −
    tanh²c_t) + dc_{t+1} ⊙ f_{t+1}`` — the second term is the path along the cell that a forget
    gate near 1 keeps from vanishing — then ``da_t`` = the four gates' pre-activation gradients.
    Trace names: ``h1_t``, ``c1_t``, ``i1_t``, ``f1_t``, ``g1_t``, ``o1_t`` forward; ``dh1_t``,
    ``dc1_t``, ``da1_t`` backward (attrs ``t``, ``norm`` = ‖dh1_t‖); the stacks ``h1`` and ``da1``.
    """

    kind = "lstm"
    blocks = 4
    pre = "a"
    GATES = ("i", "f", "g", "o")
    # forward: + b (4), three σ (12), tanh g, i·g, tanh c, o·tanh c = 20; + h_t−1·Wh (4), f·c_t−1 and + = 6.
    # back: tanh c, dc += dh·o·(1 − tanh²c) = 6, the four gates' da (4 each) = 16; + da_t+1·Whᵀ, dc_t+1·f_t+1 = 3.
    step_flops, back_flops = (20, 6), (22, 3)

    def reset_parameters(self, rng: np.random.Generator, dtype=np.float64) -> None:
        super().reset_parameters(rng, dtype)
        n = self.hidden_size
        self.b[n:2 * n] = 1.0  # forget gate open: remember by default

    def step_symbols(self, t: int) -> dict[str, str]:
        """The per-timestep symbols at t: ``h1_3``, ``c1_3``, ``i1_3`` … ``da1_3``, and t±1's."""
        s, k = self.sym, self.k
        names = {"x": f"{s['in']}_{t}", "dH": f"{s['dout']}_{t}"}
        for key in ("h", "c", *self.GATES, "dh", "dc", "da"):
            names[key] = f"{key}{k}_{t}"
        names |= {"h_prev": f"h{k}_{t - 1}", "c_prev": f"c{k}_{t - 1}", "da_next": f"da{k}_{t + 1}",
                  "dc_next": f"dc{k}_{t + 1}", "f_next": f"f{k}_{t + 1}"}
        return names

    def describe(self, s):
        k = self.k
        return {
            "h": (f"h{k}_t = o⊙tanh(c{k}_t);  c{k}_t = f⊙c{k}_t−1 + i⊙g;  i,f,o = σ(a), g = tanh(a) (by block);  "
                  f"a = {s['in']}_t·{s['Wx']} + h{k}_t−1·{s['Wh']} + {s['b']}"),
            "H": self.output_equation(s),
            "dh": (f"dh{k}_t = {s['dout']}_t + da{k}_t+1·{s['Wh']}ᵀ;  dc{k}_t = dh{k}_t⊙o⊙(1 − tanh²c{k}_t) + "
                   f"dc{k}_t+1⊙f{k}_t+1;  da{k}_t = [dc⊙g⊙i(1−i), dc⊙c_t−1⊙f(1−f), dc⊙i⊙(1−g²), dh⊙tanh c⊙o(1−o)]"),
            **self.gradient_equations(s),
        }

    def step_equation(self, key: str, t: int, T: int) -> str:
        """The equation of the op at timestep t, written with that step's symbols."""
        n, s = self.step_symbols(t), self.sym
        gates = f"{n['i']}, {n['f']}, {n['o']} = σ(a), {n['g']} = tanh(a)"
        if key == "h":
            a = f"{n['x']}·{s['Wx']}" + (f" + {n['h_prev']}·{s['Wh']}" if t else "") + f" + {s['b']}"
            c = f"{n['f']}⊙{n['c_prev']} + {n['i']}⊙{n['g']}" if t else f"{n['i']}⊙{n['g']}"
            return f"{n['h']} = {n['o']}⊙tanh({n['c']});  {n['c']} = {c};  {gates};  a = {a}"  # result first
        dc = f"{n['dh']}⊙{n['o']}⊙(1 − tanh²{n['c']})" + (f" + {n['dc_next']}⊙{n['f_next']}" if t < T - 1 else "")
        return (f"{self.dh_equation(n, t, T, 'da_next')};  {n['dc']} = {dc};  "
                f"{n['da']} = [d{n['i']}⊙{n['i']}(1−{n['i']}), …] with d{n['i']} = {n['dc']}⊙{n['g']}, "
                f"d{n['f']} = {n['dc']}⊙{n['c_prev'] if t else '0'}, d{n['g']} = {n['dc']}⊙{n['i']}, "
                f"d{n['o']} = {n['dh']}⊙tanh({n['c']})")

    def forward(self, X: np.ndarray) -> np.ndarray:
        self.check_input(X, self.input_size)
        m, T, _ = X.shape
        n, Wx, Wh, b = self.hidden_size, self.Wx, self.Wh, self.b
        dtype = np.result_type(X, Wx)
        H, C = np.empty((m, T, n), dtype=dtype), np.empty((m, T, n), dtype=dtype)
        G = np.empty((m, T, 4 * n), dtype=dtype)  # the activated gates i, f, g, o side by side
        tracing, s = self.tracer.enabled, self.sym
        for t in range(T):
            a = X[:, t] @ Wx + b
            if t > 0:
                a += H[:, t - 1] @ Wh
            G[:, t, :n], G[:, t, n:2 * n] = sigmoid(a[:, :n]), sigmoid(a[:, n:2 * n])
            G[:, t, 2 * n:3 * n], G[:, t, 3 * n:] = np.tanh(a[:, 2 * n:3 * n]), sigmoid(a[:, 3 * n:])
            i, f, g, o = (G[:, t, q * n:(q + 1) * n] for q in range(4))
            C[:, t] = i * g
            if t > 0:
                C[:, t] += f * C[:, t - 1]
            H[:, t] = o * np.tanh(C[:, t])
            if tracing:
                names = self.step_symbols(t)
                inputs = {names["x"]: X[:, t], s["Wx"]: Wx, s["b"]: b}
                if t > 0:
                    inputs |= {names["h_prev"]: H[:, t - 1], s["Wh"]: Wh, names["c_prev"]: C[:, t - 1]}
                outputs = {names["h"]: H[:, t], names["c"]: C[:, t]} | {names[q]: v for q, v in zip(self.GATES, (i, f, g, o))}
                self.emit("forward", "lstm.step", self.step_equation("h", t, T), inputs, outputs, roles=names, t=t)
        self.X, self.H, self.C, self.G = X, H, C, G  # backward needs the inputs, states and gates
        out = H if self.return_sequences else H[:, -1]
        if tracing:
            self.emit_output(H, out)
        return out

    def backward(self, dH: np.ndarray) -> np.ndarray | None:
        H, C, G, Wh = self.H, self.C, self.G, self.Wh
        T, n = H.shape[1], self.hidden_size
        tracing, s = self.tracer.enabled, self.sym
        dh_all = np.zeros_like(H)  # dh_all[:, t] = dh_t
        dc_all = np.zeros_like(C)  # dc_all[:, t] = dc_t, the whole gradient reaching c_t
        dA = np.empty_like(G)      # dA[:, t] = da_t, the gates' pre-activation gradients
        if self.return_sequences:
            dh_all += dH
        else:
            dh_all[:, -1] = dH
        for t in reversed(range(T)):  # backpropagation through time
            i, f, g, o = (G[:, t, q * n:(q + 1) * n] for q in range(4))
            if t < T - 1:
                dh_all[:, t] += dA[:, t + 1] @ Wh.T
            tanh_c = np.tanh(C[:, t])
            dc = dc_all[:, t]
            dc += dh_all[:, t] * o * (1.0 - tanh_c * tanh_c)
            if t < T - 1:
                dc += dc_all[:, t + 1] * G[:, t + 1, n:2 * n]  # along the cell, through f_{t+1}
            c_prev = C[:, t - 1] if t > 0 else 0.0
            dA[:, t, :n] = dc * g * i * (1.0 - i)
            dA[:, t, n:2 * n] = dc * c_prev * f * (1.0 - f)
            dA[:, t, 2 * n:3 * n] = dc * i * (1.0 - g * g)
            dA[:, t, 3 * n:] = dh_all[:, t] * tanh_c * o * (1.0 - o)
            if tracing:
                names = self.step_symbols(t)
                inputs = self.from_above(dH, names, t, T)
                if t < T - 1:
                    inputs |= {names["da_next"]: dA[:, t + 1], s["Wh"]: Wh, names["dc_next"]: dc_all[:, t + 1],
                               names["f_next"]: G[:, t + 1, n:2 * n]}
                inputs |= {names["c"]: C[:, t]} | {names[q]: v for q, v in zip(self.GATES, (i, f, g, o))}
                if t > 0:
                    inputs[names["c_prev"]] = C[:, t - 1]
                self.emit("backward", "lstm.step_back", self.step_equation("dh", t, T), inputs,
                          {names["dh"]: dh_all[:, t], names["dc"]: dc, names["da"]: dA[:, t]}, roles=names,
                          t=t, norm=float(np.linalg.norm(dh_all[:, t])))
        return self.gradients_through_time(dA)
