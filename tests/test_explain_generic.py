"""explain on an op kind no explainer knows: a layer written outside the engine still gets its equation,
its value and its operands by role, and the value passes the caller's check."""
from __future__ import annotations

import numpy as np
import pytest

from engine import SGD, Dense, Op, RecordingTracer, Sequential, SoftmaxCrossEntropy
from engine.layers import Layer
from engine.presets import Problem
from inspector.commands import Interpreter
from inspector.explain import EXPLAINERS, explain_op_element
from inspector.session import Session


@pytest.fixture
def square_layer():
    """A learner's own layer, ``A = Z ⊙ Z``, defined here and nowhere else; unregistered afterwards."""

    class Square(Layer):
        kind = "square"
        passes_units = True

        def describe(self, s):
            return {"A": f"{s['out']} = {s['in']} ⊙ {s['in']}", "dZ": f"{s['din']} = 2·{s['in']} ⊙ {s['dout']}"}

        def forward(self, Z):
            self.Z = Z
            A = Z * Z
            if self.tracer.enabled:
                s = self.sym
                self.emit("forward", "square.forward", self.equations["A"], {s["in"]: Z}, {s["out"]: A})
            return A

        def backward(self, dA):
            dZ = 2 * self.Z * dA
            if self.tracer.enabled:
                s = self.sym
                self.emit("backward", "square.backward", self.equations["dZ"], {s["dout"]: dA, s["in"]: self.Z},
                          {s["din"]: dZ})
            return dZ

    yield Square
    Layer.registry.pop("Square", None)


def square_session(Square) -> Session:
    def factory(seed):
        model = Sequential(Dense(2, 3), Square(), Dense(3, 2), seed=seed)
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((4, 2))
        Y = np.eye(2)[(X[:, 0] > 0).astype(int)]
        return Problem("square", "a learner's layer", model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1),
                       X, Y, 4, 1)
    return Session(factory, seed=0)


def explained(interp, line):
    r = interp.run(line)
    assert r.ok, r.message
    return r.data


def test_an_unknown_op_kind_is_explained_by_its_equation_and_operands(square_layer):
    assert "square.forward" not in EXPLAINERS and "square.backward" not in EXPLAINERS
    s = square_session(square_layer)
    interp = Interpreter(s)
    forward = next(op for op in s.tape if op.kind == "square.forward")
    s.goto(str(forward.index))
    Z1, A1 = forward.inputs["Z1"], forward.outputs["A1"]
    d = explained(interp, "explain A1[2,1]")
    assert d["op"] == "square1.forward.A1" and d["target"] == "A1[2,1]"
    assert d["formula"] == "A1 = Z1 ⊙ Z1"  # the op's own equation
    assert d["numbers"] == "A1[2,1] as the code recorded it"
    assert d["value"] == d["recomputed"] == float(A1[2, 1])  # the caller's check passes: nothing recomputed
    assert not any("does not compute" in note for note in d["notes"])
    assert d["text"].startswith(d["formula"]) and d["numbers"] in d["text"]
    assert any("no per-element formula for square.forward ops" in note for note in d["notes"])
    assert any("the 'out' result of op square1.forward.A1" in note for note in d["notes"])
    assert f"  X: Z1, 4×3; Z1[2,1] = {Z1[2, 1]:.4f}" in d["notes"]  # the operand by role, at the same index


def test_an_unknown_backward_op_labels_each_operand_by_role(square_layer):
    s = square_session(square_layer)
    interp = Interpreter(s)
    back = next(op for op in s.tape if op.kind == "square.backward")
    s.goto(str(back.index))
    dA1, Z1, dZ1 = back.inputs["dA1"], back.inputs["Z1"], back.outputs["dZ1"]
    d = explained(interp, "explain dZ1[3,0]")
    assert d["formula"] == "dZ1 = 2·Z1 ⊙ dA1"
    assert d["value"] == d["recomputed"] == float(dZ1[3, 0])
    assert f"  dout: dA1, 4×3; dA1[3,0] = {dA1[3, 0]:.4f}" in d["notes"]
    assert f"  X: Z1, 4×3; Z1[3,0] = {Z1[3, 0]:.4f}" in d["notes"]
    assert float(dZ1[3, 0]) == pytest.approx(2 * Z1[3, 0] * dA1[3, 0])
    for op in s.tape:  # every element of every op, the layer's own ones included, passes the check
        s.goto(str(op.index))
        for sym, array in op.outputs.items():
            for index in ((0,) * np.ndim(array), tuple(n - 1 for n in np.shape(array))):
                text = sym + ("[" + ",".join(map(str, index)) + "]" if index else "")
                d = explained(interp, f"explain {text}")
                assert not any("does not compute" in note for note in d["notes"]), (text, d["notes"])


def test_generic_explainer_shows_shapes_of_other_operands_and_those_without_a_role():
    X, w = np.arange(6.0).reshape(3, 2), np.array([[0.5], [-1.0]])
    op = Op("forward", "mine1", "mine.forward", "Y1 = X·w", {"X": X, "w": w}, {"Y1": X @ w},
            roles={"X": "X", "out": "Y1"})
    e = explain_op_element(op, "Y1", (2, 0))
    assert (e.formula, e.value, e.recomputed) == ("Y1 = X·w", -3.0, -3.0)
    assert "  X: X, 3×2" in e.notes  # not Y1's shape: no value at [2,0]
    assert "  (no role): w, 2×1" in e.notes
    scalar = Op("loss", "mine", "mine.loss", "L = Σ Y", {"Y": X}, {"L": np.asarray(15.0)}, roles={"L": "L"})
    e = explain_op_element(scalar, "L", ())
    assert e.target == "L" and e.value == e.recomputed == 15.0 and "  (no role): Y, 3×2" in e.notes


def test_a_known_op_with_a_tape_of_a_model_is_still_explained_by_its_own_module():
    model = Sequential(Dense(2, 2), seed=0)
    model.tracer = tracer = RecordingTracer()
    model.train_step(np.ones((3, 2)), np.eye(2)[[0, 1, 0]], SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1))
    op = tracer.tape[0]
    e = explain_op_element(op, "Z1", (1, 1))
    assert e.formula == "Z1[1,1] = Σₖ X[1,k]·W1[k,1] + b1[1]" and e.value == pytest.approx(e.recomputed)
