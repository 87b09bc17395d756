"""Numerical gradient checking by central differences, in float64 (CS231n's recipe).

``check_parameters`` compares the analytic gradient that ``backward`` computes with
``(L(w + ε) − L(w − ε)) / 2ε`` for chosen entries of a model's parameters, on a float64 copy
of the model, so the model itself is never touched.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# The verdicts' thresholds on a relative error (CS231n). Every front end reads them from here: the
# gradcheck help and the colours of its table (inspector.render.verdict_style); lesson 8's text
# quotes them, and tests/test_build.py keeps it in step.
EXCELLENT, ACCEPTABLE, WRONG = 1e-7, 1e-4, 1e-2

# The noise floor of a central difference in float64: each of L(w ± ε) is exact only to a few units
# of roundoff u·max(|L|, 1) (u = 2.2e-16; NOISE_ULPS of them for the sums a loss makes; at least
# 1, as a small loss is still computed from activations and logits of order 1), so
# (L(w+ε) − L(w−ε))/2ε carries an absolute error up to about NOISE_ULPS·u·max(|L|, 1)/ε (2e-9 with
# ε = 1e-6). A gradient near it (3e-10 against noise of 1e-11) has a large relative error that
# says nothing: an analytic and a numerical value closer than the floor agree as far as central
# differences can tell.
UNIT_ROUNDOFF = float(np.finfo(np.float64).eps)
NOISE_ULPS = 10
NOISE_VERDICT = "excellent (within float64 noise)"
KINK_VERDICT = "unreliable: ±ε crossed a kink"


def noise_floor(loss_plus: float, loss_minus: float, eps: float) -> float:
    """The absolute error a float64 central difference can carry, from the size of the losses."""
    return NOISE_ULPS * UNIT_ROUNDOFF * max(abs(loss_plus), abs(loss_minus), 1.0) / eps


def power_of_ten(x: float) -> str:
    """A threshold as the help and the lessons write it: ``1e-7`` (Python's ``str`` says ``1e-07``)."""
    return f"1e{round(math.log10(x))}"


def relative_error(analytic: float, numerical: float) -> float:
    """``|a − n| / (|a| + |n|)``: scale-free, and 0 when both are exactly 0.

    Not CS231n's ``max(|a|, |n|)`` denominator, which gives up to twice these figures: the verdicts'
    thresholds are nndb's own, read on this error.
    """
    denom = abs(analytic) + abs(numerical)
    return 0.0 if denom == 0 else abs(analytic - numerical) / denom


def verdict(rel_error: float, abs_error: float = math.inf, noise: float = 0.0, kink: bool = False) -> str:
    """The reading of a relative error (|a − n|/(|a| + |n|)), where the difference is above the float64
    noise floor of the central difference and ±ε did not cross a kink."""
    if rel_error <= EXCELLENT:
        return "excellent"
    if abs_error <= noise:
        return NOISE_VERDICT
    if kink:
        return KINK_VERDICT
    if rel_error <= ACCEPTABLE:
        return "acceptable near kinks, suspicious elsewhere"
    if rel_error <= WRONG:
        return "suspicious: probably wrong unless it is near a kink"
    return "wrong"


def numerical_gradient(f, x: np.ndarray, index: tuple, eps: float = 1e-6, losses: list | None = None) -> float:
    """∂f/∂x[index] by central differences; ``x`` is perturbed in place and restored. ``losses``,
    if given, receives f(x + ε) and f(x − ε)."""
    old = x[index]
    x[index] = old + eps
    f_plus = f()
    x[index] = old - eps
    f_minus = f()
    x[index] = old
    if losses is not None:
        losses[:] = [f_plus, f_minus]
    return (f_plus - f_minus) / (2 * eps)


# How bad each verdict is, for the worst row of a check: a wrong row outranks any number of kinks.
SEVERITY = {"excellent": 0, NOISE_VERDICT: 0, KINK_VERDICT: 1,
            "acceptable near kinks, suspicious elsewhere": 2,
            "suspicious: probably wrong unless it is near a kink": 3, "wrong": 4}


@dataclass
class GradRow:
    parameter: str       # W1[0,3]
    analytic: float
    numerical: float
    rel_error: float
    kink: bool           # ±ε changed a choice of a non-smooth layer (a ReLU's side, a max-pool's winner)
    noise: float = 0.0   # the float64 noise floor of this central difference (noise_floor)

    @property
    def verdict(self) -> str:
        return verdict(self.rel_error, abs(self.analytic - self.numerical), self.noise, self.kink)

    @property
    def severity(self) -> int:
        return SEVERITY[self.verdict]


def worst_row(rows: list[GradRow]) -> GradRow:
    """The row that decides a check's verdict: the most severe, then the largest relative error."""
    return max(rows, key=lambda r: (r.severity, r.rel_error))


def _kink_states(model) -> list:
    """Every layer's non-smooth choices of the last forward (Layer.kink_state), None for smooth ones."""
    return [layer.kink_state() for layer in model.layers]


def _same_states(a: list, b: list) -> bool:
    return all((x is None and y is None) or (x is not None and y is not None and np.array_equal(x, y))
               for x, y in zip(a, b))


def format_index(index: tuple) -> str:
    return "[" + ",".join(str(i) for i in index) + "]"


def check_parameters(model, loss_fn, X, Y, entries, eps: float = 1e-6) -> list[GradRow]:
    """Gradient-check ``entries``: (parameter name, index tuple) pairs, e.g. ("W1", (0, 3)).

    Runs on a float64 copy in eval mode (dropout would make L random), with the L2 penalty
    included, on the batch (X, Y).
    """
    clone = model.copy(dtype=np.float64).eval()
    loss = type(loss_fn)(**loss_fn.config())
    X = np.asarray(X, dtype=np.float64)
    clone.loss(X, Y, loss)
    clone.backward(loss.backward())
    rows = []
    for name, index in entries:
        p = clone.param(name)
        x = p.value
        analytic = float(p.grad[index])
        states, losses = [], []

        def f():
            value = clone.loss(X, Y, loss)
            states.append(_kink_states(clone))
            return value

        numerical = numerical_gradient(f, x, index, eps, losses)
        kink = not _same_states(states[0], states[1])
        rows.append(GradRow(f"{p.symbol}{format_index(index)}", analytic, numerical,
                            relative_error(analytic, numerical), kink, noise_floor(*losses, eps)))
    return rows


def neuron_entries(model, layer_name: str, neuron: int) -> list[tuple[str, tuple]]:
    """The parameter entries that make up unit ``neuron`` of a layer, as the layer declares them
    (``Layer.unit_entries``): a dense neuron's ``W[:, j]`` and ``b[j]``, a filter's ``K[j]`` and
    ``b[j]``, an RNN unit's ``Wx[:, j]``, ``Wh[:, j]``, ``b[j]`` (an LSTM's for each of its gates)."""
    return model.layer(layer_name).unit_entries(neuron)
