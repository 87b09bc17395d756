"""Numerical gradient checking by central differences, in float64 (CS231n's recipe).

``check_parameters`` compares the analytic gradient that ``backward`` computes with
``(L(w + ε) − L(w − ε)) / 2ε`` for chosen entries of a model's parameters, on a float64 copy
of the model, so the model itself is never touched.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .activations import LeakyReLU, ReLU

# The verdicts' thresholds on a relative error (CS231n). Every front end reads them from here: the
# gradcheck help and the colours of its table (inspector.render.verdict_style); lesson 8's text
# quotes them, and tests/test_build.py keeps it in step.
EXCELLENT, ACCEPTABLE, WRONG = 1e-7, 1e-4, 1e-2


def power_of_ten(x: float) -> str:
    """A threshold as the help and the lessons write it: ``1e-7`` (Python's ``str`` says ``1e-07``)."""
    return f"1e{round(math.log10(x))}"


def relative_error(analytic: float, numerical: float) -> float:
    """``|a − n| / max(|a| + |n|, tiny)``: scale-free, and 0 when both are exactly 0."""
    denom = abs(analytic) + abs(numerical)
    return 0.0 if denom == 0 else abs(analytic - numerical) / denom


def verdict(rel_error: float) -> str:
    """CS231n's reading of a relative error."""
    if rel_error <= EXCELLENT:
        return "excellent"
    if rel_error <= ACCEPTABLE:
        return "acceptable near kinks, suspicious elsewhere"
    if rel_error <= WRONG:
        return "suspicious: probably wrong unless it is near a kink"
    return "wrong"


def numerical_gradient(f, x: np.ndarray, index: tuple, eps: float = 1e-6) -> float:
    """∂f/∂x[index] by central differences; ``x`` is perturbed in place and restored."""
    old = x[index]
    x[index] = old + eps
    f_plus = f()
    x[index] = old - eps
    f_minus = f()
    x[index] = old
    return (f_plus - f_minus) / (2 * eps)


@dataclass
class GradRow:
    parameter: str       # W1[0,3]
    analytic: float
    numerical: float
    rel_error: float
    kink: bool           # the ±ε perturbation flipped a ReLU, so the difference spans a kink

    @property
    def verdict(self) -> str:
        return verdict(self.rel_error)


def _relu_signs(model) -> list[np.ndarray]:
    return [layer.Z > 0 for layer in model.layers if isinstance(layer, (ReLU, LeakyReLU))]


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
        signs = []

        def f():
            value = clone.loss(X, Y, loss)
            signs.append(_relu_signs(clone))
            return value

        numerical = numerical_gradient(f, x, index, eps)
        kink = any(not np.array_equal(a, b) for a, b in zip(signs[0], signs[1]))
        rows.append(GradRow(f"{p.symbol}{format_index(index)}", analytic, numerical,
                            relative_error(analytic, numerical), kink))
    return rows


def neuron_entries(model, layer_name: str, neuron: int) -> list[tuple[str, tuple]]:
    """The parameter entries that make up unit ``neuron`` of a layer, as the layer declares them
    (``Layer.unit_entries``): a dense neuron's ``W[:, j]`` and ``b[j]``, a filter's ``K[j]`` and
    ``b[j]``, an RNN unit's ``Wx[:, j]``, ``Wh[:, j]``, ``b[j]`` (an LSTM's for each of its gates)."""
    return model.layer(layer_name).unit_entries(neuron)
