"""Issue 16, items 18–21: gradcheck's noise floor, the iteration as it is (set l2), kinks beyond ReLU,
how many entries a layer's check covers; no false "wrong" on any preset over 50 iterations, and a
planted bug in every layer's backward still caught."""
from __future__ import annotations

import numpy as np
import pytest

from engine import (LSTM, MSE, RNN, SGD, AvgPool2D, Conv2D, Dense, Flatten, LeakyReLU, MaxPool2D, PRESETS, ReLU,
                    Sequential, Sigmoid, SoftmaxCrossEntropy, Tanh)
from engine.gradcheck import GradRow, check_parameters, noise_floor, relative_error, worst_row
from engine.presets import Problem
from inspector.commands import Interpreter
from inspector.session import Session
from inspector.sources import open_preset

# the presets that need no data folder
PRESETS_HERE = [p for p in PRESETS if p not in ("digits", "digits-cnn")]


def layer_of(session, kind: str) -> str:
    return next(layer.name for layer in session.model.layers if layer.kind == kind)


# -- 18: the float64 noise floor -------------------------------------------------------------------
def test_a_difference_below_the_noise_floor_is_not_wrong_and_says_why():
    noise = noise_floor(0.7, 0.7, 1e-6)
    assert 1e-10 < noise < 1e-8
    row = GradRow("W1[0,0]", 3e-10, 3.1e-10, relative_error(3e-10, 3.1e-10), False, noise)
    assert row.rel_error > 1e-2 and row.verdict.startswith("excellent") and "noise" in row.verdict
    loud = GradRow("W1[0,0]", 3e-3, 3.1e-3, relative_error(3e-3, 3.1e-3), False, noise)
    assert loud.verdict == "wrong"  # the floor is absolute: a real difference still reads wrong


def test_segments_iteration_30_reads_no_false_alarm():
    s = open_preset("segments")
    for _ in range(29):
        s.finish_iteration()
    r = Interpreter(s).run(f"gradcheck {layer_of(s, 'dense')} 0")
    assert r.ok and "wrong" not in r.message and "suspicious" not in r.message, r.message
    assert all(row["verdict"].startswith("excellent") for row in r.data["rows"]), r.data["rows"]


def test_spiral_neurons_at_iteration_1_are_all_excellent():
    s = open_preset("spiral")
    interp = Interpreter(s)
    for layer in (layer for layer in s.model.layers if layer.params):
        for j in range(layer.units()):
            r = interp.run(f"gradcheck {layer.name} {j}")
            assert r.ok and r.data["verdict"].startswith("excellent"), (layer.name, j, r.message)


@pytest.mark.parametrize("preset", PRESETS_HERE)
def test_no_false_wrong_on_any_preset_over_50_iterations(preset):
    s = open_preset(preset)
    interp = Interpreter(s)
    layers = [layer.name for layer in s.model.layers if layer.params]
    for iteration in range(50):
        for name in layers:
            r = interp.run(f"gradcheck {name}")
            bad = [row for row in r.data["rows"] if row["verdict"] not in
                   ("excellent", "excellent (within float64 noise)", "unreliable: ±ε crossed a kink")]
            assert not bad, f"{preset} iteration {iteration + 1} gradcheck {name}: {bad}"
        s.finish_iteration()


# -- 19: the iteration as it is --------------------------------------------------------------------
class _HalfL2Dense(Dense):
    """Planted: the weight decay term of dW is (λ/2m)·W instead of (λ/m)·W."""

    registered = False

    def backward(self, dZ):
        dX = super().backward(dZ)
        if self.l2:
            self.dW -= (self.l2 / (2 * self.X.shape[0])) * self.W
        return dX


def l2_problem(Layer):
    def factory(seed):
        model = Sequential(Layer(2, 3), Tanh(), Dense(3, 1), seed=seed)
        X = np.random.default_rng(seed).standard_normal((6, 2))
        return Problem("l2", "l2", model, MSE(), SGD(model.parameters(), lr=0.1), X, X[:, :1] * X[:, 1:], 6, 1)
    return factory


def test_gradcheck_uses_the_l2_set_in_this_iteration():
    s = Session(l2_problem(Dense), seed=0)
    interp = Interpreter(s)
    assert interp.run("set l2 = 0.5").ok
    r = interp.run(f"gradcheck {layer_of(s, 'dense')}")
    assert r.data["verdict"] == "excellent", r.data["rows"]
    dW1 = s.producer("dW1").outputs["dW1"]  # what `print dW1` shows
    rows = {row["parameter"]: row["analytic"] for row in r.data["rows"]}
    np.testing.assert_allclose([rows[f"W1[{k},{j}]"] for k in range(2) for j in range(3)], dW1.ravel(), rtol=1e-12)


def test_a_planted_bug_in_the_l2_term_reads_wrong_after_set_l2():
    s = Session(l2_problem(_HalfL2Dense), seed=0)
    interp = Interpreter(s)
    name = layer_of(s, "dense")
    assert interp.run(f"gradcheck {name}").data["verdict"] == "excellent"  # λ = 0: the bug sleeps
    assert interp.run("set l2 = 0.5").ok
    r = interp.run(f"gradcheck {name}")
    assert r.data["verdict"] == "wrong", r.data["rows"]


# -- 20: kinks beyond ReLU --------------------------------------------------------------------------
def test_a_max_pool_tie_flipped_by_eps_reads_kink_not_wrong():
    conv = Conv2D(2, 1, 1)
    conv.K[:] = 1.0
    model = Sequential(conv, MaxPool2D((1, 2)), Flatten(), Dense(1, 1), seed=None)
    model.layers[3].W[:] = 1.0
    X = np.array([[[[1.0, 2.0]], [[2.0, 1.0]]]])  # both cells of the window are 3: a tie
    rows = check_parameters(model, MSE(), X, np.zeros((1, 1)), [("K1", (0, 0, 0, 0))])
    (row,) = rows
    assert row.rel_error > 1e-2 and row.kink and "kink" in row.verdict, row
    assert worst_row(rows).verdict != "wrong"


# -- 21: how many entries, `all`, the largest gradients first -------------------------------------
def test_a_layers_check_says_how_many_entries_and_offers_all():
    s = open_preset("spiral")
    interp = Interpreter(s)
    name = layer_of(s, "dense")
    layer = s.model.layer(name)
    total = sum(getattr(layer, a).size for a in layer.params)
    r = interp.run(f"gradcheck {name}")
    assert f"24 of {total} entries checked" in r.message and f"gradcheck {name} all" in r.message, r.message
    everything = interp.run(f"gradcheck {name} all")
    assert everything.ok and len(everything.data["rows"]) == total
    by_size = sorted((abs(row["analytic"]) for row in everything.data["rows"]
                      if not row["parameter"].startswith("b")), reverse=True)
    sampled = [abs(row["analytic"]) for row in r.data["rows"] if not row["parameter"].startswith("b")]
    assert min(sampled) >= by_size[len(sampled) - 1] * (1 - 1e-9), "the sample is the largest gradients"


class _OneWrongEntry(Dense):
    registered = False

    def backward(self, dZ):
        dX = super().backward(dZ)
        self.dW[1, 2] *= 1.5  # one entry of the layer, not among its largest gradients
        return dX


def test_gradcheck_layer_all_finds_one_wrong_entry():
    def factory(seed):
        model = Sequential(_OneWrongEntry(3, 40), Tanh(), Dense(40, 2), seed=seed)
        rng = np.random.default_rng(seed)
        return Problem("one", "one", model, MSE(), SGD(model.parameters(), lr=0.1), rng.normal(size=(8, 3)),
                       rng.normal(size=(8, 2)), 8, 1)
    s = Session(factory, seed=0)
    r = Interpreter(s).run(f"gradcheck {layer_of(s, 'dense')} all")
    assert r.data["verdict"] == "wrong" and "W1[1,2]" in r.message, r.message


# -- every layer's backward, planted wrong, is caught -----------------------------------------------
def planted(cls, grad: str | None):
    """``cls`` with a wrong backward: its gradient ``grad`` (or, with None, the dX it sends down) × 1.3."""
    def backward(self, d):
        dX = cls.backward(self, d)
        if grad is None:
            return dX * 1.3
        setattr(self, grad, getattr(self, grad) * 1.3)
        return dX
    return type(f"_Planted{cls.__name__}", (cls,), {"backward": backward, "registered": False})


def dense_case(Layer, grad=None):
    return lambda: (Sequential(Dense(3, 4), planted(Layer, grad)(), Dense(4, 2), seed=0), 0,
                    np.random.default_rng(0).normal(size=(5, 3)), MSE(), np.random.default_rng(1).normal(size=(5, 2)))


def image_case(make, grad=None, checked=0):
    def build():
        rng = np.random.default_rng(0)
        layers = make(lambda cls, *a, **k: planted(cls, grad)(*a, **k))
        model = Sequential(*layers, seed=0)
        return model, checked, rng.normal(size=(3, 1, 6, 6)), SoftmaxCrossEntropy(), rng.integers(0, 2, 3)
    return build


def sequence_case(Cell, grad=None, checked=0):
    def build():
        rng = np.random.default_rng(0)
        first = Dense(2, 3)
        cell = planted(Cell, grad)(3, 4, return_sequences=True)
        model = Sequential(first, cell, Dense(4, 2), seed=0)
        return model, checked, rng.normal(size=(3, 4, 2)), MSE(), rng.normal(size=(3, 4, 2))
    return build


CASES = {
    "Dense dW": lambda: (Sequential(planted(Dense, "dW")(3, 4), Tanh(), Dense(4, 2), seed=0), 0,
                         np.random.default_rng(0).normal(size=(5, 3)), MSE(), np.random.default_rng(1).normal(size=(5, 2))),
    "Dense db": lambda: (Sequential(planted(Dense, "db")(3, 4), Tanh(), Dense(4, 2), seed=0), 0,
                         np.random.default_rng(0).normal(size=(5, 3)), MSE(), np.random.default_rng(1).normal(size=(5, 2))),
    "Dense dX": lambda: (Sequential(Dense(3, 4), Tanh(), planted(Dense, None)(4, 2), seed=0), 0,
                         np.random.default_rng(0).normal(size=(5, 3)), MSE(), np.random.default_rng(1).normal(size=(5, 2))),
    "ReLU": dense_case(ReLU), "LeakyReLU": dense_case(LeakyReLU), "Sigmoid": dense_case(Sigmoid),
    "Tanh": dense_case(Tanh),
    "Conv2D dK": image_case(lambda p: [p(Conv2D, 1, 2, (3, 2)), ReLU(), Flatten(), Dense(2 * 4 * 5, 2)], "dK"),
    "Conv2D db": image_case(lambda p: [p(Conv2D, 1, 2, 3), Tanh(), Flatten(), Dense(2 * 4 * 4, 2)], "db"),
    "Conv2D dX": image_case(lambda p: [Conv2D(1, 2, 3), Tanh(), p(Conv2D, 2, 2, 2), Flatten(), Dense(2 * 3 * 3, 2)]),
    "MaxPool2D": image_case(lambda p: [Conv2D(1, 2, 3), p(MaxPool2D, (2, 1)), Flatten(), Dense(2 * 2 * 4, 2)]),
    "AvgPool2D": image_case(lambda p: [Conv2D(1, 2, 3), p(AvgPool2D, 2, 1), Flatten(), Dense(2 * 3 * 3, 2)]),
    "Flatten": image_case(lambda p: [Conv2D(1, 2, 3), Tanh(), p(Flatten), Dense(2 * 4 * 4, 2)]),
    "RNN dWx": sequence_case(RNN, "dWx", 1), "RNN dWh": sequence_case(RNN, "dWh", 1),
    "RNN db": sequence_case(RNN, "db", 1), "RNN dX": sequence_case(RNN),
    "LSTM dWx": sequence_case(LSTM, "dWx", 1), "LSTM dWh": sequence_case(LSTM, "dWh", 1),
    "LSTM db": sequence_case(LSTM, "db", 1), "LSTM dX": sequence_case(LSTM),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_planted_bug_in_every_layers_backward_reads_wrong(case):
    model, checked, X, loss, Y = CASES[case]()
    layer = model.layers[checked]
    entries = [(layer.sym[a], idx) for a in layer.params for idx in np.ndindex(getattr(layer, a).shape)]
    rows = check_parameters(model, loss, X, Y, entries)
    assert worst_row(rows).verdict == "wrong", (case, max(r.rel_error for r in rows))
