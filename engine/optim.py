"""Optimizers: SGD (plain, momentum, Nesterov) and Adam, each update a traced op per parameter.

Updates follow PyTorch's formulas so the two agree to rounding. ``lr`` is a plain attribute:
change it between steps. Every update rebinds the parameter to a new array rather than
writing into the old one, so an op that recorded the old weights still sees them.
"""
from __future__ import annotations

import numpy as np

from .trace import NULL_TRACER, Op, elementwise_cost


class Optimizer:
    kind = "optimizer"
    slots: tuple[str, ...] = ()  # per-parameter state arrays, named slot + parameter symbol (vW1)
    # FLOPs per parameter entry of each update op, counted by hand from the code below (a square
    # root counts as one FLOP); op_cost multiplies by the parameter's size
    flops_per_element: dict[str, int] = {}

    def __init__(self, params, lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        self.lr = float(lr)
        self.tracer = NULL_TRACER
        self.t = 0
        self.state = {p.name: {s: np.zeros_like(p.value) for s in self.slots} for p in self.params}

    def emit(self, p, kind, equation, inputs, outputs, **attrs):
        """Report one update op; its roles: ``W`` the parameter, ``dW`` its gradient, and each
        state slot by its letter (``v``, ``m``), whatever the parameter is called."""
        present = inputs.keys() | outputs.keys()
        names = {"W": p.symbol, "dW": "d" + p.symbol} | {slot: slot + p.symbol for slot in ("v", "m")}
        roles = {role: sym for role, sym in names.items() if sym in present}
        self.tracer.record(Op("update", p.layer.name, kind, equation, inputs, outputs, attrs, roles=roles))

    def op_cost(self, op: Op) -> dict[str, int]:
        """FLOPs and bytes of one of its update ops: ``flops_per_element[kind]`` per parameter entry
        (elementwise; 1 for a kind the table lacks); bytes from the arrays."""
        return elementwise_cost(op, self.flops_per_element.get(op.kind, 1))

    def zero_grad(self) -> None:
        """Set every gradient to 0 (backward overwrites them anyway; here for PyTorch habits)."""
        for p in self.params:
            p.grad = np.zeros_like(p.value)

    def step(self) -> None:
        self.t += 1
        for p in self.params:
            self.update(p, self.state[p.name])

    def update(self, p, state: dict) -> None:
        raise NotImplementedError

    def config(self) -> dict:
        return {"lr": self.lr}

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Optimizer state by full name (``dense1.W.v``), for snapshots and files."""
        return {f"{name}.{slot}": a for name, st in self.state.items() for slot, a in st.items()}

    def load_state_arrays(self, arrays: dict[str, np.ndarray], t: int) -> None:
        for name, st in self.state.items():
            for slot in st:
                st[slot] = np.array(arrays[f"{name}.{slot}"], dtype=st[slot].dtype)
        self.t = int(t)

    def state_symbols(self) -> dict[str, tuple[str, str]]:
        """Math names of the state arrays: ``vW1`` → (``dense1.W``, ``v``)."""
        return {f"{slot}{p.symbol}": (p.name, slot) for p in self.params for slot in self.slots}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent: ``W ← W − α·dW``.

    With momentum μ: ``v ← μ·v + dW``, ``W ← W − α·v``; with Nesterov: ``W ← W − α·(dW + μ·v)``.
    """

    kind = "sgd"
    # W − α·dW: a multiply, a subtract; μ·v + dW: 2; W − α·(dW + μ·v): 4
    flops_per_element = {"sgd.update": 2, "momentum.velocity": 2, "momentum.update": 2, "nesterov.update": 4}

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False):
        if nesterov and not momentum:
            raise ValueError("SGD: nesterov=True needs a momentum > 0")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.slots = ("v",) if momentum else ()
        super().__init__(params, lr)

    def config(self):
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov}

    def update(self, p, state):
        W, dW, w, dw = p.value, p.grad, p.symbol, "d" + p.symbol
        lr, mu = self.lr, self.momentum
        tracing = self.tracer.enabled
        if not mu:
            W_new = W - lr * dW
            if tracing:
                self.emit(p, "sgd.update", f"{w} ← {w} − α·{dw}", {w: W, dw: dW}, {w: W_new}, lr=lr)
        else:
            v_old = state["v"]
            v = mu * v_old + dW
            state["v"] = v
            if tracing:
                self.emit(p, "momentum.velocity", f"v{w} ← μ·v{w} + {dw}",
                          {f"v{w}": v_old, dw: dW}, {f"v{w}": v}, momentum=mu)
            if self.nesterov:
                W_new = W - lr * (dW + mu * v)
                if tracing:
                    self.emit(p, "nesterov.update", f"{w} ← {w} − α·({dw} + μ·v{w})",
                              {w: W, dw: dW, f"v{w}": v}, {w: W_new}, lr=lr, momentum=mu)
            else:
                W_new = W - lr * v
                if tracing:
                    self.emit(p, "momentum.update", f"{w} ← {w} − α·v{w}", {w: W, f"v{w}": v}, {w: W_new}, lr=lr)
        p.value = W_new


class Adam(Optimizer):
    """Adam: moment estimates with bias correction.

    ``m ← β₁·m + (1 − β₁)·dW``, ``v ← β₂·v + (1 − β₂)·dW²``,
    ``W ← W − α·m̂/(√v̂ + ε)`` with ``m̂ = m/(1 − β₁ᵗ)``, ``v̂ = v/(1 − β₂ᵗ)``.
    """

    kind = "adam"
    slots = ("m", "v")
    # m: β₁·m, (1 − β₁)·dW, add; v: dW², (1 − β₂)·, β₂·v, add;
    # W: m/c₁, v/c₂, √, + ε, divide, ·α, subtract
    flops_per_element = {"adam.m": 3, "adam.v": 4, "adam.update": 7}

    def __init__(self, params, lr: float = 0.001, betas=(0.9, 0.999), eps: float = 1e-8):
        self.beta1, self.beta2 = (float(b) for b in betas)
        self.eps = float(eps)
        super().__init__(params, lr)

    def config(self):
        return {"lr": self.lr, "betas": [self.beta1, self.beta2], "eps": self.eps}

    def update(self, p, state):
        W, dW, w, dw = p.value, p.grad, p.symbol, "d" + p.symbol
        b1, b2, t, lr, eps = self.beta1, self.beta2, self.t, self.lr, self.eps
        m_old, v_old = state["m"], state["v"]
        m = b1 * m_old + (1 - b1) * dW
        v = b2 * v_old + (1 - b2) * (dW * dW)
        state["m"], state["v"] = m, v
        tracing = self.tracer.enabled
        if tracing:
            self.emit(p, "adam.m", f"m{w} ← β₁·m{w} + (1 − β₁)·{dw}", {f"m{w}": m_old, dw: dW}, {f"m{w}": m}, beta1=b1)
            self.emit(p, "adam.v", f"v{w} ← β₂·v{w} + (1 − β₂)·{dw}²", {f"v{w}": v_old, dw: dW}, {f"v{w}": v}, beta2=b2)
        c1, c2 = 1 - b1 ** t, 1 - b2 ** t
        W_new = W - lr * (m / c1) / (np.sqrt(v / c2) + eps)
        if tracing:
            self.emit(p, "adam.update", f"{w} ← {w} − α·m̂/(√v̂ + ε),  m̂ = m{w}/(1 − β₁ᵗ), v̂ = v{w}/(1 − β₂ᵗ)",
                      {w: W, f"m{w}": m, f"v{w}": v}, {w: W_new}, lr=lr, t=t, eps=eps, beta1=b1, beta2=b2)
        p.value = W_new
