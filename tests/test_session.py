"""The debugging session against independent NumPy: stepping, values, edits, time travel, breakpoints, gradcheck, explain."""
from __future__ import annotations

import numpy as np
import pytest

from engine import (
    LSTM, MSE, RNN, SGD, Adam, AvgPool2D, BinaryCrossEntropy, Conv2D, Dense, Dropout, Flatten, LeakyReLU, MaxPool2D,
    RecordingTracer, ReLU, Sequential, Sigmoid, Softmax, SoftmaxCrossEntropy, Tanh, datasets, load, load_preset,
    save,
)
from engine.presets import Problem
from inspector.commands import Interpreter
from inspector.explain import EXPLAINERS
from inspector.session import Session
from inspector.sources import open_preset
from session_helpers import check_array, check_equal, diff_fingerprints, fingerprint

XOR_PARAMS = ("W1", "b1", "W2", "b2")
MOONS_PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")


# -- a hand-written iteration, op by op, with edits applied as the debugger promises ----------------
class Ref:
    """An iteration computed by hand: ``op(sym, value)`` in tape order; an edit (pos, sym, key, value)
    is written into the array right after op ``pos`` (−1: before the first), so every later
    computation reads the edited array, as the code does with its live arrays."""

    def __init__(self, env: dict, edits=()):
        self.env = {k: np.array(v, dtype=float, copy=True) for k, v in env.items()}
        self.edits = list(edits)
        self.tape: list[tuple[str, np.ndarray]] = []
        self.states: dict[int, dict[str, np.ndarray]] = {}
        self._apply(-1)

    def _apply(self, pos: int) -> None:
        for p, sym, key, value in self.edits:
            if p == pos:
                self.env[sym][key] = value
        self.states[pos] = {k: v.copy() for k, v in self.env.items()}

    def op(self, sym: str, value) -> None:
        value = np.array(value, dtype=float)
        self.env[sym] = value
        self.tape.append((sym, value.copy()))
        self._apply(len(self.tape) - 1)

    def params(self, names) -> dict[str, np.ndarray]:
        return {k: self.env[k].copy() for k in names}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def xor_iteration(params: dict, X, Y, lr: float, edits=(), l2: float = 0.0) -> Ref:
    """2-2-1 sigmoid net, MSE, plain SGD: the xor preset's iteration, written out."""
    r = Ref({**params, "X": X, "Y": Y, "lr": lr}, edits)
    e = r.env
    m = len(e["X"])
    r.op("Z1", e["X"] @ e["W1"] + e["b1"])
    r.op("A1", sigmoid(e["Z1"]))
    r.op("Z2", e["A1"] @ e["W2"] + e["b2"])
    r.op("A2", sigmoid(e["Z2"]))
    r.op("L", np.mean((e["A2"] - e["Y"]) ** 2))
    if l2:
        r.op("L", e["L"] + l2 / (2 * m) * (np.sum(e["W1"] ** 2) + np.sum(e["W2"] ** 2)))
    r.op("dA2", 2 * (e["A2"] - e["Y"]) / e["A2"].size)
    r.op("dZ2", e["dA2"] * e["A2"] * (1 - e["A2"]))
    r.op("dW2", e["A1"].T @ e["dZ2"] + l2 / m * e["W2"])
    r.op("db2", e["dZ2"].sum(axis=0))
    r.op("dA1", e["dZ2"] @ e["W2"].T)
    r.op("dZ1", e["dA1"] * e["A1"] * (1 - e["A1"]))
    r.op("dW1", e["X"].T @ e["dZ1"] + l2 / m * e["W1"])
    r.op("db1", e["dZ1"].sum(axis=0))
    for p in XOR_PARAMS:
        r.op(p, e[p] - e["lr"] * e["d" + p])
    return r


def relu_ce_momentum_iteration(params: dict, velocity: dict, X, Y, lr: float, mu: float, edits=()) -> Ref:
    """The moons preset's iteration: Dense-ReLU-Dense-ReLU-Dense, softmax cross-entropy, momentum SGD."""
    r = Ref({**params, **velocity, "X": X, "Y": Y, "lr": lr}, edits)
    e = r.env
    n_layers, m = 3, len(e["X"])
    inp = "X"
    for i in range(1, n_layers + 1):
        r.op(f"Z{i}", e[inp] @ e[f"W{i}"] + e[f"b{i}"])
        if i < n_layers:
            r.op(f"A{i}", np.maximum(e[f"Z{i}"], 0))
            inp = f"A{i}"
    Z = e[f"Z{n_layers}"]
    log_P = Z - Z.max(axis=1, keepdims=True)
    log_P = log_P - np.log(np.exp(log_P).sum(axis=1, keepdims=True))
    r.op("P", np.exp(log_P))
    r.op("L", -np.sum(e["Y"] * log_P) / m)
    r.op(f"dZ{n_layers}", (e["P"] - e["Y"]) / m)
    for i in range(n_layers, 0, -1):
        inp = "X" if i == 1 else f"A{i - 1}"
        r.op(f"dW{i}", e[inp].T @ e[f"dZ{i}"])
        r.op(f"db{i}", e[f"dZ{i}"].sum(axis=0))
        if i > 1:
            r.op(f"dA{i - 1}", e[f"dZ{i}"] @ e[f"W{i}"].T)
            r.op(f"dZ{i - 1}", e[f"dA{i - 1}"] * (e[f"Z{i - 1}"] > 0))
    for i in range(1, n_layers + 1):
        for p in (f"W{i}", f"b{i}"):
            r.op("v" + p, mu * e["v" + p] + e["d" + p])
            r.op(p, e[p] - e["lr"] * e["v" + p])
    return r


def initial_params(preset: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Starting weights from a freshly built preset: the engine's initializers, not the session."""
    model = load_preset(preset, seed=seed).model
    return {p.symbol: p.value.copy() for p in model.parameters()}


def xor_batch():
    X, y = datasets.xor()
    return X, y[:, None].astype(float)


def moons_batch(rows=slice(0, 4), seed: int = 0):
    X, y = datasets.moons(200, noise=0.1, seed=seed)
    y = y[rows]
    return X[rows], np.eye(2)[y]


def xor_ref(edits=(), params=None, lr: float = 2.0, l2: float = 0.0) -> Ref:
    X, Y = xor_batch()
    return xor_iteration(params or initial_params("xor"), X, Y, lr, edits, l2)


def moons_ref(edits=(), params=None, velocity=None, lr: float = 0.05) -> Ref:
    params = params or initial_params("moons")
    velocity = velocity or {"v" + k: np.zeros_like(v) for k, v in params.items()}
    X, Y = moons_batch()
    return relu_ce_momentum_iteration(params, velocity, X, Y, lr, 0.9, edits)


def compare_iteration(s: Session, ref: Ref, label: str) -> None:
    """Every recorded op result and every value at every position equals the hand computation."""
    assert [op.result for op in s.tape] == [sym for sym, _ in ref.tape], (
        f"{label}: ops mine={[op.result for op in s.tape]} reference={[sym for sym, _ in ref.tape]}")
    for op, (sym, value) in zip(s.tape, ref.tape):
        check_array(f"{label}: op [{op.index}] {op.name} result {sym}", op.outputs[sym], value)
    for pos in range(-1, len(s.tape)):
        values = s.values_at(pos)
        for sym, value in ref.states[pos].items():
            check_array(f"{label}: {sym} after op {pos}", values[sym], value)


def ok(interp: Interpreter, line: str):
    result = interp.run(line)
    assert result.ok, f"{line!r} failed: {result.message}"
    return result


def at(s: Session) -> tuple[int, int]:
    return s.current.number, s.pos


# -- stepping order -----------------------------------------------------------------------------------
def test_step_visits_every_op_in_order_then_crosses_into_the_next_iteration():
    s = open_preset("xor")
    interp = Interpreter(s)
    names = [op.name for op in s.tape]
    assert len(names) == 17 and at(s) == (1, -1)
    seen = []
    for k in range(17):
        r = ok(interp, "step")
        assert at(s) == (1, k)
        assert r.data["op"]["index"] == k and r.data["op"]["name"] == names[k]
        assert r.data["where"]["phase"] == s.tape[k].phase
        seen.append(s.op.phase)
    assert seen == ["forward"] * 4 + ["loss"] + ["backward"] * 8 + ["update"] * 4
    ok(interp, "step")
    assert at(s) == (2, 0) and s.op.name == "dense1.forward.Z1"


def test_step_n_equals_n_single_steps():
    a, b = open_preset("moons"), open_preset("moons")
    a.step(45)
    for _ in range(45):
        b.step()
    assert at(a) == at(b) == (2, 14)
    check_equal("W1 after 45 steps", a.values_at()["W1"], b.values_at()["W1"])


def test_next_goes_to_the_first_op_of_the_next_layer():
    s = open_preset("xor")
    stops = []
    for _ in range(12):
        s.next()
        stops.append(at(s))
    # dense1, sigmoid1, dense2, sigmoid2, loss(loss), loss(backward), sigmoid2, dense2 (3 ops),
    # sigmoid1, dense1 (2 ops), dense1 update (2 ops), dense2 update (2 ops), then iteration 2
    assert stops == [(1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 6), (1, 7), (1, 10), (1, 11),
                     (1, 13), (1, 15)]
    report = s.next()
    assert at(s) == (2, 0), "next from the last layer of an iteration goes to op 0 of the next one"
    assert any("iteration 2" in n for n in report.notes)


def test_finish_runs_to_the_end_of_each_phase():
    s = open_preset("xor")
    ends = []
    for _ in range(6):
        s.finish()
        ends.append((at(s), s.op.phase))
    assert ends == [((1, 3), "forward"), ((1, 4), "loss"), ((1, 12), "backward"), ((1, 16), "update"),
                    ((2, 3), "forward"), ((2, 4), "loss")]
    m = open_preset("moons")
    m.finish()
    m.finish()
    m.finish()
    assert at(m) == (1, 17) and m.tape[18].phase == "update"


def test_continue_without_breakpoints_ends_each_iteration():
    s = open_preset("xor")
    interp = Interpreter(s)
    r = ok(interp, "continue")
    assert at(s) == (1, 16) and r.message == "end of iteration 1"
    r = ok(interp, "continue")
    assert at(s) == (2, 16) and r.message == "end of iteration 2"
    s.goto("3")
    ok(interp, "continue 2")
    assert at(s) == (3, 16)


def test_back_steps_into_the_previous_iteration_and_stops_at_the_oldest():
    s = open_preset("xor")
    interp = Interpreter(s)
    ok(interp, "step 19")
    assert at(s) == (2, 1)
    ok(interp, "back")
    assert at(s) == (2, 0)
    ok(interp, "back")
    assert at(s) == (2, -1)
    r = ok(interp, "back")
    assert at(s) == (1, 16) and "back into iteration 1" in r.data["notes"]
    ok(interp, "back 17")
    assert at(s) == (1, -1)
    before = fingerprint(s)
    r = interp.run("back")
    assert not r.ok and "already at the start" in r.message
    assert fingerprint(s) == before
    ok(interp, "step 20")
    r = ok(interp, "back 100")  # more than the history holds: stops at the oldest start, and says so
    assert at(s) == (1, -1)
    assert any("stopped at the start of iteration 1" in n for n in r.data["notes"]), r.data["notes"]


def test_until_and_goto():
    s = open_preset("xor")
    s.until("dense2.backward")
    assert at(s) == (1, 7) and s.op.name == "dense2.backward.dW2"
    s.until("dense2.backward")
    assert at(s) == (1, 8), "until goes to the *next* matching op"
    s.until("update")
    assert at(s) == (1, 13)
    report = s.until("dense1.forward")
    assert at(s) == (2, 0) and "into iteration 2" in report.notes
    s.until("dW1")
    assert at(s) == (2, 11)
    s.goto("5")
    assert at(s) == (2, 5)
    s.goto("start")
    assert at(s) == (2, -1)
    s.goto("sigmoid1.backward")
    assert at(s) == (2, 10)
    s.goto("2")
    assert at(s) == (2, 2)
    s.goto("-1")
    assert at(s) == (2, -1)


def test_until_an_op_that_the_next_iteration_no_longer_has_stops_at_its_start():
    s = open_preset("xor")
    interp = Interpreter(s)
    ok(interp, "set l2 = 0.1")  # the iteration gains the op l2.loss.L …
    ok(interp, "goto 6")
    ok(interp, "set l2 = 0")  # … and the next one will not have it
    r = ok(interp, "until l2")
    assert at(s) == (2, -1) and "l2.loss.L" not in [op.name for op in s.tape]
    assert any("no op matches 'l2'" in n for n in r.data["notes"]), r.data["notes"]


def test_where_reports_iteration_phase_op_and_loss():
    s = open_preset("xor")
    interp = Interpreter(s)
    ref = xor_ref()
    w = ok(interp, "where").data
    assert (w["iteration"], w["position"], w["phase"], w["op"], w["loss"]) == (1, -1, "start", None, None)
    s.goto("4")
    w = ok(interp, "where").data
    assert (w["iteration"], w["position"], w["phase"], w["op"], w["ops"]) == (1, 4, "loss", "loss.loss.L", 17)
    check_array("where loss", w["loss"], ref.states[4]["L"])
    assert w["equation"] == "L = (1/n)·Σ (A2 − Y)²,  n = m·k" and w["batch"] == [0, 1, 2, 3]


# -- values: the screen shows what the code computes ---------------------------------------------------
def test_xor_values_match_a_hand_computation_over_two_iterations():
    s = open_preset("xor")
    ref1 = xor_ref()
    compare_iteration(s, ref1, "xor iteration 1")
    s.step(18)
    assert s.current.number == 2
    ref2 = xor_ref(params=ref1.params(XOR_PARAMS))
    compare_iteration(s, ref2, "xor iteration 2")


def test_moons_values_match_a_hand_computation_over_two_iterations():
    s = open_preset("moons")
    ref1 = moons_ref()
    compare_iteration(s, ref1, "moons iteration 1")
    s.continue_()
    s.step()
    ref2 = moons_ref(params=ref1.params(MOONS_PARAMS), velocity=ref1.params(["v" + p for p in MOONS_PARAMS]))
    compare_iteration(s, ref2, "moons iteration 2")
    check_array("velocity vW2 carried into iteration 2", s.values_at(-1)["vW2"], ref1.env["vW2"])


@pytest.mark.parametrize("preset", ["xor", "moons", "circles"])
def test_the_tape_is_bit_identical_to_the_engines_own_recording(preset):
    s = open_preset(preset)
    problem = load_preset(preset, seed=0)
    tracer = RecordingTracer()
    problem.model.tracer = tracer
    problem.model.train_step(problem.X[:4], s.targets(np.arange(4)), problem.loss, problem.optimizer)
    assert [op.name for op in s.tape] == [op.name for op in tracer.tape]
    for mine, ref in zip(s.tape, tracer.tape):
        for sym in ref.outputs:
            check_equal(f"{preset} {mine.name} {sym}", mine.outputs[sym], ref.outputs[sym])
        for sym in ref.inputs:
            check_equal(f"{preset} {mine.name} input {sym}", mine.inputs[sym], ref.inputs[sym])


def test_print_show_and_op_data_show_the_hand_computed_values():
    s = open_preset("xor")
    interp = Interpreter(s)
    ref = xor_ref()
    for k in range(17):
        r = ok(interp, "step")
        sym, value = ref.tape[k]
        out = r.data["op"]["outputs"]
        assert [a["name"] for a in out] == [sym]
        check_array(f"step {k} shows {sym}", out[0]["values"], value)
        assert out[0]["shape"] == list(np.shape(value))
        assert out[0]["gradient"] == sym.startswith("d")
        printed = ok(interp, f"print {sym}").data
        check_array(f"print {sym} at op {k}", printed["values"], ref.states[k][sym])
        shown = ok(interp, "show").data
        assert shown["full"] and shown["op"]["index"] == k
        for a in shown["op"]["inputs"]:
            check_array(f"show at op {k}: input {a['name']}", a["values"], ref.states[k - 1][a["name"]])
    # after the update, W1 is the new weight; indexing, slicing, functions and names
    cases = {"W1[:,1]": ref.env["W1"][:, 1], "dZ1[0]": ref.env["dZ1"][0], "norm(dW1)": np.linalg.norm(ref.env["dW1"]),
             "dense1.W": ref.env["W1"], "dense2.dW": ref.env["dW2"], "loss": ref.env["L"], "shape(Z1)": [4, 2],
             "Z1[-1,0]": ref.env["Z1"][-1, 0], "Z1[1:3,:]": ref.env["Z1"][1:3], "W1[::-1,0]": ref.env["W1"][::-1, 0],
             "mean(A1)": ref.env["A1"].mean(), "max(abs(dZ2))": np.abs(ref.env["dZ2"]).max(),
             "sum(db1)": ref.env["db1"].sum(), "argmax(A1)": ref.env["A1"].argmax(axis=1), "lr": 2.0,
             "2*W2 - b2": 2 * ref.env["W2"] - ref.env["b2"], "-A2[0,0] / 2": -ref.env["A2"][0, 0] / 2,
             "sigmoid1": ref.env["A1"], "min(X)": 0.0, "size(W2)": 2, "std(Z2)": ref.env["Z2"].std()}
    for text, expected in cases.items():
        check_array(f"print {text}", ok(interp, f"print {text}").data["values"], expected)


def test_values_at_a_past_position_and_producer():
    s = open_preset("moons")
    s.continue_()
    ref = moons_ref()
    for pos in (-1, 0, 7, 18, 29):
        check_array(f"W1 at {pos}", s.values_at(pos)["W1"], ref.states[pos]["W1"])
    assert s.producer("dW2").name == "dense2.backward.dW2"
    assert s.producer("W1").name == "dense1.update.W1"


# -- edits -----------------------------------------------------------------------------------------------
def test_edit_a_weight_at_the_start_equals_a_fresh_iteration_with_that_weight():
    s = open_preset("xor")
    interp = Interpreter(s)
    r = ok(interp, "set W1[0,1] = 0.5")
    edits = [(-1, "W1", (0, 1), 0.5)]
    ref = xor_ref(edits)
    compare_iteration(s, ref, "after set W1[0,1] = 0.5")
    # the engine itself, run fresh with that weight, computes the same tape bit for bit
    problem = load_preset("xor", seed=0)
    problem.model.param("W1").value[0, 1] = 0.5
    tracer = RecordingTracer()
    problem.model.tracer = tracer
    problem.model.train_step(problem.X, problem.Y, problem.loss, problem.optimizer)
    for mine, theirs in zip(s.tape, tracer.tape):
        check_equal(f"edited tape {mine.name}", mine.outputs[mine.result], theirs.outputs[theirs.result])
    d = r.data
    unedited = xor_ref()
    assert d["target"] == "W1[0,1]" and d["at_op"] == -1 and d["new"] == 0.5
    check_array("old value", d["old"], unedited.states[-1]["W1"][0, 1])
    check_array("loss before", d["loss_before"], unedited.states[4]["L"])
    check_array("loss after", d["loss_after"], ref.states[4]["L"])
    predicted = unedited.states[11]["dW1"][0, 1] * (0.5 - unedited.states[-1]["W1"][0, 1])
    check_array("predicted ΔL = ∂L/∂w·Δw", d["predicted_change"], predicted)
    changed = {c["name"] for c in d["changed"]}
    assert {"Z1", "A1", "Z2", "A2", "L", "dW1", "W1"} <= changed, changed
    assert s.where()["edits"] == ["W1[0,1]"]


def test_edit_an_activation_right_after_relu_recomputes_everything_after_it():
    s = open_preset("moons")
    interp = Interpreter(s)
    ok(interp, "until relu1.forward")
    assert s.pos == 1
    original = s.tape[1].outputs["A1"].copy()
    r = ok(interp, "set A1[0,2] = 3")
    ref = moons_ref([(1, "A1", (0, 2), 3.0)])
    compare_iteration(s, ref, "after set A1[0,2] = 3")
    check_equal("the op still records what relu computed", s.tape[1].outputs["A1"], original)
    assert s.values_at()["A1"][0, 2] == 3.0
    unedited = moons_ref()
    assert r.data["at_op"] == 1
    check_array("predicted ΔL = ∂L/∂A1·ΔA1", r.data["predicted_change"],
                unedited.env["dA1"][0, 2] * (3.0 - original[0, 2]))
    changed = {c["name"] for c in r.data["changed"]}
    assert "A1" not in changed and {"Z2", "A2", "Z3", "P", "L", "dW2"} <= changed, changed
    d = ok(interp, "explain A1[0,2]").data  # how relu computed it, and that an edit changed it since
    assert d["value"] == original[0, 2] and any("is now 3" in note for note in d["notes"]), d


def test_edit_a_weight_in_the_middle_of_the_iteration_takes_effect_from_there():
    s = open_preset("xor")
    interp = Interpreter(s)
    ok(interp, "goto 2")  # dense2.forward has used W2; its backward and the update have not
    ok(interp, "set W2[1,0] = -1")
    ref = xor_ref([(2, "W2", (1, 0), -1.0)])
    compare_iteration(s, ref, "after set W2[1,0] = -1 at op 2")
    check_array("Z2 used the old W2", s.values_at()["Z2"], xor_ref().env["Z2"])


@pytest.mark.parametrize("pos, line, edit", [
    (-1, "set W2[:,0] = [0.5, -0.5]", ("W2", (slice(None), 0), np.array([0.5, -0.5]))),
    (-1, "set b1 = 0.25", ("b1", (...,), 0.25)),
    (-1, "set X[0,1] = 2", ("X", (0, 1), 2.0)),
    (4, "set Y[0,0] = 1", ("Y", (0, 0), 1.0)),
    (9, "set dA1[1,:] = 0", ("dA1", (1, slice(None)), 0.0)),
    (12, "set lr = 0.5", ("lr", (), 0.5)),
    (13, "set W1 = W1 * 2", None),
])
def test_edits_of_slices_inputs_labels_gradients_and_hyperparameters(pos, line, edit):
    s = open_preset("xor")
    interp = Interpreter(s)
    if pos >= 0:
        s.goto(str(pos))
    if edit is None:  # an expression on the right: the value is what W1 is at this point, doubled
        edit = ("W1", (...,), 2 * xor_ref().states[pos]["W1"])
    ok(interp, line)
    ref = xor_ref([(pos, *edit)])
    compare_iteration(s, ref, line)
    if edit[0] == "lr":
        assert s.get_hyper("lr") == 0.5
        s.continue_()
        s.step()
        assert s.get_hyper("lr") == 0.5 and s.current.snapshot.hyper["lr"] == 0.5


def test_an_edit_carries_into_the_next_iteration_and_survives_stepping_back_into_it():
    s = open_preset("xor")
    interp = Interpreter(s)
    ok(interp, "set W1[0,1] = 0.5")
    ref1 = xor_ref([(-1, "W1", (0, 1), 0.5)])
    ok(interp, "step 18")
    compare_iteration(s, xor_ref(params=ref1.params(XOR_PARAMS)), "iteration 2 after the edited iteration 1")
    r = ok(interp, "back 2")
    assert at(s) == (1, 16) and "back into iteration 1" in r.data["notes"]
    assert [e.target for e in s.current.edits] == ["W1[0,1]"]
    compare_iteration(s, ref1, "iteration 1 again, edit kept")


def test_stepping_back_past_an_edit_undoes_it_and_says_so():
    s = open_preset("xor")
    interp = Interpreter(s)
    ok(interp, "goto 3")
    ok(interp, "set W2[0,0] = 1")
    ok(interp, "step 2")
    r = ok(interp, "back")
    assert s.pos == 4 and not r.data["notes"] and len(s.current.edits) == 1
    r = ok(interp, "back")
    assert s.pos == 3 and len(s.current.edits) == 1, "the edit was made at op 3: still in effect there"
    r = ok(interp, "back")
    assert s.pos == 2 and s.current.edits == []
    assert r.data["notes"] == ["stepping back undid set W2[0,0]"]
    compare_iteration(s, xor_ref(), "after undoing the edit")
    ok(interp, "goto 6")
    ok(interp, "set dZ2[0,0] = 5")
    r = ok(interp, "goto start")
    assert s.current.edits == [] and r.data["notes"] == ["stepping back undid set dZ2[0,0]"]


def test_back_then_forward_returns_identical_values():
    s = open_preset("moons")
    interp = Interpreter(s)
    ok(interp, "until relu2.forward")
    ok(interp, "set A2[1,3] = 2.5")
    ok(interp, "goto start")  # undone: start clean
    ok(interp, "set W3[0,1] = -0.75")
    seen = []
    for _ in range(70):  # iterations 1, 2 and part of 3
        ok(interp, "step")
        seen.append((at(s), {k: np.array(v, copy=True) for k, v in s.values_at().items()},
                     {k: v.copy() for k, v in s.op.outputs.items()}))
    def back_to_the_first_stop():
        for _ in range(100):
            if at(s) == seen[0][0]:
                return
            ok(interp, "back")
        raise AssertionError(f"back never reached {seen[0][0]}")

    back_to_the_first_stop()
    for _ in range(3):  # back and forth several times
        for where, values, outputs in seen[1:]:
            ok(interp, "step")
            assert at(s) == where
            now = s.values_at()
            assert now.keys() == values.keys()
            for k in values:
                check_equal(f"{where} {k} after back and forward", now[k], values[k])
            for k in outputs:
                check_equal(f"{where} op result {k}", s.op.outputs[k], outputs[k])
        back_to_the_first_stop()
    assert [e.target for e in s.current.edits] == ["W3[0,1]"]


# -- breakpoints ---------------------------------------------------------------------------------------
def test_op_breakpoints_fire_on_every_matching_op_with_hit_counts():
    s = open_preset("xor")
    interp = Interpreter(s)
    r = ok(interp, "break dense2.backward")
    assert r.message == "breakpoint 1: dense2.backward" and r.data["added"] == 1
    stops = []
    for _ in range(3):
        r = ok(interp, "continue")
        stops.append(at(s))
        assert r.data["reason"] == "breakpoint 1 (dense2.backward)"
    assert stops == [(1, 7), (1, 8), (1, 9)]
    r = ok(interp, "continue")  # no more hits in this iteration: continue stops at its end
    assert at(s) == (1, 16) and r.message == "end of iteration 1"
    ok(interp, "continue")
    assert at(s) == (2, 7) and s.breakpoints[0].hits == 4
    listing = ok(interp, "list").data["ops"]
    assert [op["index"] for op in listing if op["breakpoint"]] == [7, 8, 9]
    assert [op["index"] for op in listing if op["current"]] == [7]
    ok(interp, "break update")
    ok(interp, "continue")
    assert at(s) == (2, 8)
    ok(interp, "disable 1")
    r = ok(interp, "continue")
    assert at(s) == (2, 13) and r.data["reason"] == "breakpoint 2 (update)"
    ok(interp, "disable all")
    r = ok(interp, "continue")
    assert at(s) == (2, 16) and r.message == "end of iteration 2"
    ok(interp, "enable 1")
    ok(interp, "continue")
    assert at(s) == (3, 7)
    rows = ok(interp, "break").data["breakpoints"]
    assert [(b["number"], b["enabled"], b["hits"]) for b in rows] == [(1, True, 6), (2, False, 1)]
    ok(interp, "delete 1")
    ok(interp, "enable 2")
    ok(interp, "continue")
    assert at(s) == (3, 13)
    ok(interp, "delete all")
    assert s.breakpoints == []
    r = ok(interp, "continue")
    assert at(s) == (3, 16) and r.message == "end of iteration 3"


def first_non_finite(problem, X, Y, iterations: int):
    """(iteration, op index, op name) of the first op whose result is not finite, in a plain engine run."""
    tracer = RecordingTracer()
    problem.model.tracer = tracer
    with np.errstate(all="ignore"):
        for it in range(1, iterations + 1):
            problem.model.train_step(X, Y, problem.loss, problem.optimizer)
            for op in tracer.tape:
                if any(not np.all(np.isfinite(v)) for v in op.outputs.values()):
                    return it, op.index, op.name
    return None


def test_break_if_nan_stops_where_values_overflow():
    s = open_preset("moons")
    interp = Interpreter(s)
    ok(interp, "break if nan")
    ok(interp, "set lr = 1e300")
    problem = load_preset("moons", seed=0)
    problem.optimizer.lr = 1e300
    X, Y = moons_batch()
    expected = first_non_finite(problem, X, Y, 5)
    assert expected is not None and expected[0] == 2, expected
    r = ok(interp, "continue 5")
    assert (s.current.number, s.pos, s.op.name) == expected, f"mine={(s.current.number, s.pos, s.op.name)} reference={expected}"
    assert r.data["reason"] == "breakpoint 1 (nan)" and s.breakpoints[0].hits == 1
    assert not all(np.all(np.isfinite(v)) for v in s.op.outputs.values())


def test_break_if_norm_of_a_gradient_fires_in_the_iterations_where_it_holds():
    problem = load_preset("moons", seed=0)
    X, Y = moons_batch()
    tracer = RecordingTracer()
    problem.model.tracer = tracer
    norms = []
    for _ in range(12):
        problem.model.train_step(X, Y, problem.loss, problem.optimizer)
        norms.append(np.linalg.norm(next(op.outputs["dW1"] for op in tracer.tape if op.result == "dW1")))
    threshold = 0.3
    expected = [i + 1 for i, n in enumerate(norms) if n > threshold]
    assert expected and len(expected) < 12, f"pick another threshold for norms {norms}"
    s = open_preset("moons")
    interp = Interpreter(s)
    ok(interp, f"break if norm(dW1) > {threshold}")
    assert s.breakpoints[0].spec == f"if norm(dW1) > {threshold}"
    stops = []
    while True:
        r = ok(interp, "continue 12")
        if not r.data["reason"].startswith("breakpoint"):
            break
        assert s.op.result == "dW1", f"stopped at {s.op.name}"
        check_array(f"norm(dW1) in iteration {s.current.number}", ok(interp, "print norm(dW1)").data["values"],
                    norms[s.current.number - 1])
        stops.append(s.current.number)
    assert stops == expected, f"mine={stops} reference={expected} (norms {norms})"
    assert s.breakpoints[0].hits == len(expected)
    assert at(s) == (expected[-1] + 11, 29)


def test_break_if_dead_relu_fires_after_the_relu_that_died():
    s = open_preset("moons")
    interp = Interpreter(s)
    ok(interp, "break if dead(relu1) > 0.5")
    X, _ = moons_batch()
    W1, b1 = initial_params("moons")["W1"], initial_params("moons")["b1"]
    dead = np.mean(np.all(np.maximum(X @ W1 + b1, 0) <= 0, axis=0))
    assert dead <= 0.5, dead
    r = ok(interp, "continue")
    assert at(s) == (1, 29) and r.message == "end of iteration 1"
    ok(interp, "goto start")
    ok(interp, "set b1 = -10")
    r = ok(interp, "continue")
    assert at(s) == (1, 1) and s.op.name == "relu1.forward.A1" and r.data["reason"].startswith("breakpoint 1")
    check_array("dead(relu1)", ok(interp, "print dead(relu1)").data["values"], 1.0)
    assert s.breakpoints[0].hits == 1


def test_break_if_loss_fires_at_the_loss_op_only_when_it_holds():
    s = open_preset("xor")
    interp = Interpreter(s)
    ok(interp, "break if loss > 2")
    ok(interp, "continue")
    assert at(s) == (1, 16) and s.breakpoints[0].hits == 0
    ok(interp, "step")
    ok(interp, "set Y = 10")
    ref = xor_ref([(0, "Y", (...,), 10.0)], params=xor_ref().params(XOR_PARAMS))
    r = ok(interp, "continue")
    assert at(s) == (2, 4) and r.data["reason"] == "breakpoint 1 (if loss > 2)"
    check_array("loss at the breakpoint", s.values_at()["L"], ref.states[4]["L"])
    assert s.breakpoints[0].hits == 1


def test_a_condition_is_checked_only_after_ops_that_write_its_arrays():
    s = open_preset("xor")
    ok(Interpreter(s), "break if W1[0,0] > -100")  # true from the start, but only W1's update writes W1
    s.continue_()
    assert at(s) == (1, 13) and s.op.name == "dense1.update.W1"


def test_continue_50_equals_50_engine_train_steps_bit_for_bit():
    for preset, batch in (("xor", xor_batch()), ("moons", moons_batch())):
        s = open_preset(preset)
        r = ok(Interpreter(s), "continue 50")
        assert s.current.number == 50 and s.pos == len(s.tape) - 1, at(s)
        assert r.message == "end of iteration 50"
        problem = load_preset(preset, seed=0)
        for _ in range(50):
            problem.model.train_step(*batch, problem.loss, problem.optimizer)
        values = s.values_at()
        for p in problem.model.parameters():
            check_equal(f"{preset} {p.symbol} after continue 50", values[p.symbol], p.value)
            check_equal(f"{preset} live {p.symbol}", s.model.param(p.symbol).value, p.value)
        for name, array in problem.optimizer.state_arrays().items():
            check_equal(f"{preset} optimizer state {name}", s.optimizer.state_arrays()[name], array)
        assert s.optimizer.t == problem.optimizer.t == 50
        assert len(s.losses) == 49
        s.back(len(s.tape) + 1)  # the iterations run at engine speed are in the history too
        assert at(s) == (49, len(s.tape) - 1)
        problem = load_preset(preset, seed=0)
        for _ in range(49):
            problem.model.train_step(*batch, problem.loss, problem.optimizer)
        for p in problem.model.parameters():
            check_equal(f"{preset} {p.symbol} at the end of iteration 49", s.values_at()[p.symbol], p.value)


def test_continue_with_a_breakpoint_that_never_fires_equals_engine_steps():
    s = open_preset("xor")
    interp = Interpreter(s)
    ok(interp, "break if loss > 100")
    ok(interp, "continue 7")
    assert at(s) == (7, 16)
    problem = load_preset("xor", seed=0)
    for _ in range(7):
        problem.model.train_step(*xor_batch(), problem.loss, problem.optimizer)
    for p in problem.model.parameters():
        check_equal(f"{p.symbol} after continue 7", s.values_at()[p.symbol], p.value)


def test_dropout_masks_replay_exactly_across_back_forward_and_continue():
    """The RNG is part of the snapshot: the same masks come back, and fast iterations match the engine."""
    s = Session(adam_zoo, seed=0)
    interp = Interpreter(s)
    ok(interp, "until dropout1.forward")
    masks = [s.values_at()["M1"].copy()]
    ok(interp, "continue")
    ok(interp, "until dropout1.forward")
    masks.append(s.values_at()["M1"].copy())
    assert not np.array_equal(masks[0], masks[1]), "each iteration draws a new mask"
    ok(interp, "back 45")
    assert s.current.number == 1 and s.pos < 2
    ok(interp, "until dropout1.forward")
    check_equal("mask of iteration 1 after going back", s.values_at()["M1"], masks[0])
    ok(interp, "continue")
    ok(interp, "until dropout1.forward")
    check_equal("mask of iteration 2 after going forward again", s.values_at()["M1"], masks[1])
    ok(interp, "continue 20")
    assert s.current.number == 21
    problem = adam_zoo(0)
    X, Y = problem.X[:4], problem.Y[:4]
    for _ in range(21):
        problem.model.train_step(X, Y, problem.loss, problem.optimizer)
    for p in problem.model.parameters():
        check_equal(f"{p.symbol} after 21 iterations with dropout and Adam", s.values_at()[p.symbol], p.value)


# -- watches ----------------------------------------------------------------------------------------------
def test_watches_show_values_and_not_computed_yet():
    s = open_preset("xor")
    interp = Interpreter(s)
    ref = xor_ref()
    ok(interp, "watch norm(dW1)")
    r = ok(interp, "watch W1[0,1]")
    assert r.message == "watch 2: W1[0,1]"
    w = r.data["watches"]
    assert w[0]["value"] is None and "not computed yet" in w[0]["error"]
    check_array("W1[0,1] watch at the start", w[1]["value"], ref.states[-1]["W1"][0, 1])
    r = ok(interp, "until dW1")
    w = r.data["watches"]
    assert w[0]["error"] is None
    check_array("norm(dW1) watch", w[0]["value"], np.linalg.norm(ref.env["dW1"]))
    r = ok(interp, "until dense1.update")
    check_array("W1[0,1] watch after the update", r.data["watches"][1]["value"], ref.env["W1"][0, 1])
    r = ok(interp, "step")  # every stepping result carries the watches
    assert [x["expr"] for x in r.data["watches"]] == ["norm(dW1)", "W1[0,1]"]
    ok(interp, "unwatch 1")
    r = ok(interp, "watch")
    assert [x["number"] for x in r.data["watches"]] == [2]
    ok(interp, "unwatch all")
    assert ok(interp, "watch").data["watches"] == []


# -- gradient check ---------------------------------------------------------------------------------------
class WrongDense(Dense):
    """A dense layer with a classic bug: dW averaged over the batch a second time (Xᵀ·dZ / m)."""

    def backward(self, dZ):
        X, W, s = self.X, self.W, self.sym
        self.dW = X.T @ dZ / X.shape[0]  # the bug: the loss has already divided by m
        self.db = dZ.sum(axis=0)
        if self.tracer.enabled:
            self.emit("backward", "dense.dW", self.equations["dW"], {s["in"]: X, s["dout"]: dZ}, {s["dW"]: self.dW})
            self.emit("backward", "dense.db", self.equations["db"], {s["dout"]: dZ}, {s["db"]: self.db})
        if not self.need_dX:
            return None
        dX = dZ @ W.T
        if self.tracer.enabled:
            self.emit("backward", "dense.dX", self.equations["dX"], {s["dout"]: dZ, s["W"]: W}, {s["din"]: dX})
        return dX


def planted_bug_problem(seed: int) -> Problem:
    model = Sequential(WrongDense(2, 3), Tanh(), Dense(3, 1), seed=seed)
    X = np.random.default_rng(seed).standard_normal((6, 2))
    Y = (X[:, :1] * X[:, 1:]).copy()
    return Problem("planted", "a wrong dense backward", model, MSE(), SGD(model.parameters(), lr=0.1), X, Y, 6, 1)


def test_gradcheck_flags_a_planted_wrong_gradient_and_passes_a_right_one():
    s = Session(planted_bug_problem, seed=0)
    interp = Interpreter(s)
    before = fingerprint(s)
    r = ok(interp, "gradcheck dense1 2")
    rows = {row["parameter"]: row for row in r.data["rows"]}
    assert list(rows) == ["W1[0,2]", "W1[1,2]", "b1[2]"]
    # the true gradient, by hand: tanh net, MSE
    W1, b1 = s.current.snapshot.params["dense1.W"], s.current.snapshot.params["dense1.b"]
    W2, b2 = s.current.snapshot.params["dense2.W"], s.current.snapshot.params["dense2.b"]
    X, Y = s.current.snapshot.X, s.current.snapshot.Y
    A1 = np.tanh(X @ W1 + b1)
    dZ2 = 2 * (A1 @ W2 + b2 - Y) / Y.size
    dZ1 = (dZ2 @ W2.T) * (1 - A1 ** 2)
    true_dW1, true_db1 = X.T @ dZ1, dZ1.sum(axis=0)
    for k in range(2):
        row = rows[f"W1[{k},2]"]
        check_array(f"numerical dW1[{k},2]", row["numerical"], true_dW1[k, 2], rtol=1e-6, atol=1e-10)
        check_array(f"analytic dW1[{k},2] (the planted bug)", row["analytic"], true_dW1[k, 2] / len(X), rtol=1e-12)
        check_array(f"analytic = what the tape shows", row["analytic"], s.producer("dW1").outputs["dW1"][k, 2])
        assert row["rel_error"] > 1e-2 and row["verdict"] == "wrong", row
    assert rows["b1[2]"]["rel_error"] <= 1e-7 and rows["b1[2]"]["verdict"] == "excellent"
    assert r.data["verdict"] == "wrong" and "wrong" in r.message
    s.goto("dW1")  # explain, too, sees that the code does not compute what its equation says
    notes = ok(interp, "explain dW1[0,2]").data["notes"]
    assert any("does not compute what its equation says" in n for n in notes), notes
    s.goto("start")
    r = ok(interp, "gradcheck dense2")
    assert len(r.data["rows"]) == 4
    assert all(row["rel_error"] <= 1e-7 and row["verdict"] == "excellent" for row in r.data["rows"]), r.data["rows"]
    assert diff_fingerprints(before, fingerprint(s)) == []


@pytest.mark.parametrize("preset, spec, n_rows", [
    ("xor", "dense1 1", 3), ("xor", "dense2", 3), ("xor", "W2[:,0]", 2), ("xor", "b1", 2), ("xor", "W1[1,0]", 1),
    ("moons", "dense2 3", 9), ("moons", "W3[:,1]", 8), ("moons", "dense2", 24),
])
def test_gradcheck_passes_the_engines_gradients_and_leaves_the_model_unchanged(preset, spec, n_rows):
    s = open_preset(preset)
    interp = Interpreter(s)
    ok(interp, "step 3")
    before = fingerprint(s)
    r = ok(interp, f"gradcheck {spec}")
    assert len(r.data["rows"]) == n_rows
    for row in r.data["rows"]:
        assert row["rel_error"] <= 1e-7 or (row["kink"] and row["rel_error"] <= 1e-2), row
    assert diff_fingerprints(before, fingerprint(s)) == []


def test_gradcheck_uses_the_edited_starting_point():
    s = open_preset("xor")
    interp = Interpreter(s)
    ok(interp, "set W1[0,1] = 0.5")
    r = ok(interp, "gradcheck W1[0,1]")
    row = r.data["rows"][0]
    ref = xor_ref([(-1, "W1", (0, 1), 0.5)])
    check_array("analytic dW1[0,1] with the edit", row["analytic"], ref.env["dW1"][0, 1])
    check_array("numerical dW1[0,1] with the edit", row["numerical"], ref.env["dW1"][0, 1], rtol=1e-6, atol=1e-11)


def test_inspection_commands_leave_the_model_unchanged():
    s = open_preset("moons")
    interp = Interpreter(s)
    ok(interp, "step 12")
    ok(interp, "set W2[0,0] = 0.3")
    ok(interp, "break if nan")
    ok(interp, "watch norm(dW2)")
    before = fingerprint(s)
    model_before = {p.name: p.value.copy() for p in s.model.parameters()}
    for line in ["print W1", "print dZ2[0]", "print norm(dW3)", "explain Z2[1,3]", "explain dW3[0,1]", "explain L",
                 "explain W1[0,0]", "where", "list", "show", "gradcheck dense1 0", "gradcheck W3", "break", "watch",
                 "help", "help set", "batch"]:
        ok(interp, line)
        assert diff_fingerprints(before, fingerprint(s)) == [], line
    for p in s.model.parameters():
        check_equal(f"{p.name} after inspection", p.value, model_before[p.name])


# -- explain ----------------------------------------------------------------------------------------------
def adam_zoo(seed: int) -> Problem:
    """Adam, LeakyReLU, Tanh, a Softmax layer, Dropout and L2 in one model."""
    model = Sequential(Dense(2, 4), Tanh(), Dropout(0.5), Dense(4, 3), LeakyReLU(0.1), Dense(3, 2), Softmax(),
                       seed=seed, l2=0.1)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((10, 2))
    Y = np.eye(2)[(X[:, 0] > 0).astype(int)]
    return Problem("zoo", "adam zoo", model, MSE(), Adam(model.parameters(), lr=0.01), X, Y, 4, 1)


def nesterov_zoo(seed: int) -> Problem:
    """Binary cross-entropy on logits, Nesterov momentum, ReLU and a dropout that is off (p = 0)."""
    model = Sequential(Dense(2, 3), ReLU(), Dropout(0.0), Dense(3, 1), seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((8, 2))
    Y = (X[:, :1] > 0).astype(float)
    return Problem("bce", "nesterov zoo", model, BinaryCrossEntropy(),
                   SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True), X, Y, 4, 1)


def conv_zoo(seed: int) -> Problem:
    """Convolutions with stride and padding over 2 channels, both poolings (overlapping average), L2."""
    model = Sequential(Conv2D(2, 3, 3, stride=2, padding=1), ReLU(), MaxPool2D(2),
                       Conv2D(3, 2, 2, padding=1), AvgPool2D(2, stride=1), Flatten(), Dense(8, 2),
                       seed=seed, l2=0.1)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((6, 2, 7, 7))
    Y = np.eye(2)[rng.integers(0, 2, 6)]
    return Problem("conv", "conv zoo", model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1), X, Y, 4, 1)


def rnn_zoo(seed: int) -> Problem:
    """A many-to-many RNN feeding a many-to-one RNN (which passes dX back), L2 on Wx and Wh."""
    model = Sequential(RNN(2, 3, return_sequences=True), RNN(3, 2), Dense(2, 2), seed=seed, l2=0.1)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((6, 3, 2))
    Y = np.eye(2)[rng.integers(0, 2, 6)]
    return Problem("rnn", "rnn zoo", model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1), X, Y, 4, 1)


def lstm_zoo(seed: int) -> Problem:
    """A many-to-many LSTM feeding a many-to-one LSTM, L2; biases moved off their start."""
    model = Sequential(LSTM(2, 3, return_sequences=True), LSTM(3, 2), Dense(2, 2), seed=seed, l2=0.1)
    rng = np.random.default_rng(seed)
    for layer in model.layers[:2]:
        layer.b += rng.normal(0, 0.5, layer.b.shape)
    X = rng.standard_normal((6, 3, 2))
    Y = np.eye(2)[rng.integers(0, 2, 6)]
    return Problem("lstm", "lstm zoo", model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1), X, Y, 4, 1)


ZOOS = {"adam": adam_zoo, "nesterov": nesterov_zoo, "conv": conv_zoo, "rnn": rnn_zoo, "lstm": lstm_zoo}


def session_for(name: str) -> Session:
    if name in ("xor", "moons"):
        return open_preset(name)
    return Session(ZOOS[name], seed=0)


@pytest.mark.parametrize("name", ["xor", "moons", *ZOOS])
def test_explain_gives_the_recorded_value_for_every_element_of_every_op(name):
    s = session_for(name)
    interp = Interpreter(s)
    s.continue_()
    s.step()  # iteration 2: optimizer state and Adam's t are not trivial any more
    for op in s.tape:
        s.goto(str(op.index))
        for sym, array in op.outputs.items():
            array = np.asarray(array)
            for index in np.ndindex(array.shape):
                text = sym + ("[" + ",".join(map(str, index)) + "]" if index else "")
                d = ok(interp, f"explain {text}").data
                label = f"{name}: explain {text} at op [{op.index}] {op.name}"
                assert d["op"] == op.name, f"{label}: explained by {d['op']}"
                assert d["value"] == float(array[index]), f"{label}: mine={d['value']} recorded={array[index]}"
                check_array(f"{label}: the formula's numbers", d["recomputed"], array[index], rtol=1e-9, atol=1e-12)
                assert not any("does not compute" in note for note in d["notes"]), f"{label}: {d['notes']}"
                assert d["text"].startswith(d["formula"]) and d["numbers"] in d["text"]


def test_every_op_kind_of_the_engine_is_explained_by_some_model():
    kinds = set()
    for name in ("xor", "moons", *ZOOS):
        kinds |= {op.kind for op in session_for(name).tape}
    explained = set(EXPLAINERS)
    assert explained == kinds, f"not covered: {explained - kinds}; unknown: {kinds - explained}"


def test_explain_dense_element_shows_its_numbers():
    s = open_preset("xor")
    interp = Interpreter(s)
    s.goto("0")
    d = ok(interp, "explain Z1[3,1]").data
    W1 = initial_params("xor")["W1"]
    assert d["formula"] == "Z1[3,1] = Σₖ X[3,k]·W1[k,1] + b1[1]"
    assert d["numbers"].count("·") == 2
    check_array("Z1[3,1]", d["value"], W1[0, 1] + W1[1, 1])
    d = ok(interp, "explain W2[1,0]").data  # not written yet in this iteration
    assert d["op"] is None and d["formula"] is None and "is a parameter" in d["notes"][0]
    check_array("W2[1,0]", d["value"], initial_params("xor")["W2"][1, 0])


# -- hyperparameters, batch, train, reset, seed, save and load ---------------------------------------------------
def test_set_lr_and_l2_change_the_iteration_as_the_math_says():
    s = open_preset("xor")
    interp = Interpreter(s)
    ok(interp, "set lr = 0.5")
    compare_iteration(s, xor_ref(lr=0.5), "lr = 0.5")
    ok(interp, "goto 14")
    ok(interp, "set lr = 0.25")  # between the updates of W1 and b1
    compare_iteration(s, xor_ref([(14, "lr", (), 0.25)], lr=0.5), "lr = 0.5, then 0.25 from op 14")
    ok(interp, "back")
    assert s.get_hyper("lr") == 0.5, "stepping back past `set lr` restores it"
    s = open_preset("xor")
    interp = Interpreter(s)
    r = ok(interp, "set l2 = 0.1")
    assert "l2.loss.L" in [op.name for op in s.tape]
    compare_iteration(s, xor_ref(l2=0.1), "l2 = 0.1")
    check_array("loss before/after l2", [r.data["loss_before"], r.data["loss_after"]],
                [xor_ref().states[4]["L"], xor_ref(l2=0.1).states[5]["L"]])
    ok(interp, "continue")
    ok(interp, "step")
    assert s.get_hyper("l2") == 0.1 and len(s.tape) == 18


def test_batch_changes_the_examples_and_restarts_the_iteration():
    s = open_preset("xor")
    interp = Interpreter(s)
    ok(interp, "step 5")
    ok(interp, "set W1[0,0] = 1")
    r = ok(interp, "batch 1,2")
    assert at(s) == (1, -1) and s.current.edits == []
    assert "dropped set W1[0,0]" in r.message
    X, Y = xor_batch()
    check_array("batch X", r.data["X"], X[[1, 2]])
    compare_iteration(s, xor_iteration(initial_params("xor"), X[[1, 2]], Y[[1, 2]], 2.0), "batch 1,2")
    m = open_preset("moons")
    mi = Interpreter(m)
    assert ok(mi, "batch next").data["batch"] == [4, 5, 6, 7]
    assert ok(mi, "batch 0:8").data["batch"] == list(range(8))
    Xm, _ = datasets.moons(200, noise=0.1, seed=0)
    check_array("moons batch 0:8", m.values_at()["X"], Xm[:8])
    assert len(ok(mi, "batch random 5").data["batch"]) == 5


def test_train_runs_engine_steps_on_shuffled_minibatches_then_stops_at_the_next_iteration():
    s = open_preset("moons")
    interp = Interpreter(s)
    ok(interp, "step 3")
    calls = []
    r = interp.run("train 20", progress=lambda done, total, loss: calls.append((done, total)))
    assert r.ok and r.kind == "train", r.message
    assert calls[-1] == (20, 20) and len(calls) == 20
    assert at(s) == (22, -1) and s.history == [], "iteration 1 finished, then 20 trained, then stopped at 22"
    # the same steps through the engine: the rest of iteration 1 on the debug batch, then the minibatches
    problem = load_preset("moons", seed=0)
    X, y = problem.X, problem.Y
    problem.model.train_step(X[:4], np.eye(2)[y[:4]], problem.loss, problem.optimizer)
    rng = np.random.default_rng(0 + 1)
    order = np.array([], dtype=int)
    losses = []
    for _ in range(20):
        if len(order) < 16:
            order = np.concatenate([order, rng.permutation(len(X))])
        rows, order = order[:16], order[16:]
        losses.append(problem.model.train_step(X[rows], np.eye(2)[y[rows]], problem.loss, problem.optimizer))
    for p in problem.model.parameters():
        check_equal(f"{p.symbol} after train 20", s.values_at()[p.symbol], p.value)
    check_array("first and last loss", [r.data["first_loss"], r.data["last_loss"]], [losses[0], losses[-1]])
    assert r.data["iterations"] == 20
    ev = problem.model.evaluate(X, y, problem.loss)
    check_array("dataset loss", r.data["dataset_loss"], ev["loss"])
    before = fingerprint(s)
    assert not interp.run("back").ok and fingerprint(s) == before
    r = ok(interp, "train 2 epochs")
    assert r.data["iterations"] == 2 * 13 and s.current.number == 22 + 1 + 26


def test_train_keeps_the_edits_of_the_current_iteration():
    s = open_preset("moons")
    interp = Interpreter(s)
    W1 = s.values_at()["W1"].copy()
    ok(interp, "set lr = 0")
    ok(interp, "train 30")
    check_equal("W1 after training with lr = 0", s.values_at()["W1"], W1)
    assert s.get_hyper("lr") == 0.0
    ok(interp, "set W1 = 0")
    ok(interp, "train 1")
    check_equal("W1 after training from zero with lr = 0", s.values_at()["W1"], np.zeros_like(W1))


def test_reset_and_seed_start_over_and_keep_breakpoints_and_watches():
    s = open_preset("moons")
    interp = Interpreter(s)
    ok(interp, "break dense2.backward")
    ok(interp, "watch W1[0,0]")
    ok(interp, "continue 3")
    ok(interp, "set W1[0,0] = 3")
    r = ok(interp, "reset")
    assert at(s) == (1, -1) and s.current.edits == [] and s.history == []
    assert "reset" in r.data["reason"]
    compare_iteration(s, moons_ref(), "after reset")
    assert [b.spec for b in s.breakpoints] == ["dense2.backward"] and [w.text for w in s.watches] == ["W1[0,0]"]
    ok(interp, "seed 3")
    assert s.seed == 3 and at(s) == (1, -1)
    fresh = initial_params("moons", seed=3)
    for k, v in fresh.items():
        check_equal(f"{k} with seed 3", s.values_at()[k], v)
    X3, _ = moons_batch(seed=3)
    check_equal("seed 3 also draws the data", s.values_at()["X"], X3)
    ok(interp, "reset")
    assert s.seed == 3
    check_equal("reset keeps the seed", s.values_at()["W1"], fresh["W1"])


def test_save_and_load_from_the_session(tmp_path):
    s = open_preset("xor")
    interp = Interpreter(s)
    ok(interp, "step 14")  # after W1's update, before b1's
    ref = xor_ref()
    path = tmp_path / "m.npz"
    r = ok(interp, f"save {path}")
    assert r.kind == "message" and r.data["path"] == str(path)
    model = load(path)
    values = s.values_at()
    for p in model.parameters():
        check_equal(f"saved {p.symbol} is the value at the cursor", p.value, values[p.symbol])
    check_equal("saved W1 is the updated one", model.param("W1").value, ref.env["W1"])
    check_equal("saved b1 is not updated yet", model.param("b1").value, ref.states[13]["b1"])
    assert model.file_extra["preset"] == "xor" and model.file_extra["loss"] == "mse"
    ok(interp, "set W2 = 0")
    ok(interp, "continue 3")
    r = ok(interp, f"load {path}")
    assert at(s) == (1, -1) and s.source == str(path) and "loaded" in r.data["reason"]
    params = {p.symbol: p.value for p in model.parameters()}
    compare_iteration(s, xor_ref(params=params), "after load")
    ok(interp, "reset")  # reset reloads the file
    check_equal("reset after load", s.values_at()["W1"], params["W1"])


def test_loading_a_bad_file_is_an_error_that_changes_nothing(tmp_path):
    s = open_preset("xor")
    interp = Interpreter(s)
    ok(interp, "step 6")
    ok(interp, "set W2[0,0] = 0.3")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 this is not an archive")
    wrong = tmp_path / "wrong.npz"
    save(Sequential(Dense(3, 2), Sigmoid(), Dense(2, 1), seed=0), wrong)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    before = fingerprint(s)
    for line, words in [(f"load {garbage}", "unreadable"), (f"load {wrong}", "3 inputs"),
                        (f"load {notes}", "not an nndb model file"), (f"load {tmp_path / 'none.npz'}", "no such"),
                        (f"save {tmp_path / 'no' / 'such' / 'dir.npz'}", "cannot write")]:
        r = interp.run(line)
        assert not r.ok and words in r.message, (line, r.message)
        assert diff_fingerprints(before, fingerprint(s)) == [], line


def test_gradcheck_of_a_wide_neuron_samples_live_weights_and_keeps_the_bias():
    def factory(seed):
        rng = np.random.default_rng(seed)
        X = np.zeros((8, 100))
        X[:, :10] = rng.random((8, 10))  # like MNIST: most inputs are 0 (background pixels)
        y = rng.integers(0, 3, 8)
        model = Sequential(Dense(100, 6), ReLU(), Dense(6, 3), seed=seed)
        return Problem("wide", "wide", model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1), X, y, 4, 1,
                       ["0", "1", "2"])
    s = Session(factory, seed=0)
    r = Interpreter(s).run("gradcheck dense1 2")
    assert r.ok, r.message
    rows = r.data["rows"]
    assert r.data["entries"] == 101 and r.data["checked"] == len(rows) == 24
    assert rows[-1]["parameter"] == "b1[2]", "a neuron's bias is always checked"
    weights = [row for row in rows if row["parameter"].startswith("W1")]
    live = [row for row in weights if row["analytic"] != 0]
    assert len(live) >= 10 - 1, f"the inputs that are not 0 come first: {[w['parameter'] for w in weights]}"
    assert all(int(row["parameter"][3:].split(",")[0]) < 10 for row in live)
    assert "a sample of 24 of the 101 entries" in r.data["explanation"]
