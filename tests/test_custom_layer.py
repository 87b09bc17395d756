"""Layers that describe themselves (issue 11): two layer types written here, in this file only, as a
learner would write them (docs/layers.md), and everything nndb does with a layer done with them —
with no change anywhere else: a Sequential with built-in layers, stepping in a Session, the ops
and their roles, explain, gradcheck of one unit, save/load, the summary, the TUI's Network tab
and the mapping of a cell to its unit."""
from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest

from engine import SGD, Dense, ReLU, Sequential, SoftmaxCrossEntropy, datasets, load, save
from engine.activations import Activation
from engine.layers import Layer
from engine.presets import Problem
from inspector.commands import Interpreter
from inspector.render import op_header
from inspector.session import Session
from inspector.sources import guess_preset, open_model_file


# -- the learner's file ----------------------------------------------------------------------------------------------
class Swish(Activation):
    """``A = Z ⊙ σ(Z)``;  ``dZ = dA ⊙ (σ(Z) + A ⊙ (1 − σ(Z)))``. Elementwise: unit j in is unit j out."""

    kind = "swish"

    def describe(self, s):
        return {"A": f"{s['out']} = {s['in']} ⊙ σ({s['in']})",
                "dZ": f"{s['din']} = {s['dout']} ⊙ (σ({s['in']}) + {s['out']} ⊙ (1 − σ({s['in']})))"}

    def forward(self, Z):
        S = 0.5 * (1.0 + np.tanh(0.5 * Z))  # σ(Z), with no overflow
        A = Z * S
        self.Z, self.S, self.A = Z, S, A  # what backward needs
        if self.tracer.enabled:
            self.trace_forward(Z, A)
        return A

    def backward(self, dA):
        dZ = dA * (self.S + self.A * (1.0 - self.S))
        if self.tracer.enabled:
            self.trace_backward(dA, {self.sym["in"]: self.Z, self.sym["out"]: self.A}, dZ)
        return dZ


class ScaledLinear(Layer):
    """``Z = s·X·W + b`` with a fixed scale s: W (n_in, n_out), b (n_out,); neuron j owns ``W[:, j]`` and ``b[j]``."""

    kind = "scaledlinear"
    params = ("W", "b")
    decayed = ("W",)                 # L2 shrinks W, not b
    unit_axes = {"W": 1, "b": 0}     # unit j: column j of W, entry j of b
    unit_word = "neuron"
    out_prefix = "Z"

    def __init__(self, n_in: int, n_out: int, scale: float = 1.0):
        self.n_in, self.n_out, self.scale = int(n_in), int(n_out), float(scale)
        self.l2 = 0.0
        super().__init__()
        self.reset_parameters(np.random.default_rng(0))

    def reset_parameters(self, rng):
        self.W = rng.normal(0.0, np.sqrt(2.0 / self.n_in), (self.n_in, self.n_out))
        self.b = np.zeros(self.n_out)
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)

    def config(self):
        return {"n_in": self.n_in, "n_out": self.n_out, "scale": self.scale}

    def description(self):
        return f"{self.name} {self.n_in}→{self.n_out} ×{self.scale:g}"

    def output_shape(self, input_shape):
        return (self.n_out,)

    def describe(self, s):
        return {"Z": f"{s['out']} = s·{s['in']}·{s['W']} + {s['b']}",
                "dW": f"{s['dW']} = s·{s['in']}ᵀ·{s['dout']} + (λ/m)·{s['W']}",
                "db": f"{s['db']} = Σᵢ {s['dout']}[i,:]",
                "dX": f"{s['din']} = s·{s['dout']}·{s['W']}ᵀ"}

    def forward(self, X):
        self.check_input(X, self.n_in)
        Z = self.scale * (X @ self.W) + self.b
        self.X = X
        if self.tracer.enabled:
            s = self.sym
            self.emit("forward", "scaledlinear.forward", self.equations["Z"],
                      {s["in"]: X, s["W"]: self.W, s["b"]: self.b}, {s["out"]: Z}, s=self.scale)
        return Z

    def backward(self, dZ):
        s, m = self.sym, len(dZ)
        self.dW = self.scale * (self.X.T @ dZ) + (self.l2 / m) * self.W
        self.db = dZ.sum(axis=0)
        if self.tracer.enabled:
            self.emit("backward", "scaledlinear.dW", self.equations["dW"],
                      {s["in"]: self.X, s["dout"]: dZ, s["W"]: self.W}, {s["dW"]: self.dW}, s=self.scale, l2=self.l2, m=m)
            self.emit("backward", "scaledlinear.db", self.equations["db"], {s["dout"]: dZ}, {s["db"]: self.db})
        if not self.need_dX:
            return None  # the first layer: nothing below it needs a gradient
        dX = self.scale * (dZ @ self.W.T)
        if self.tracer.enabled:
            self.emit("backward", "scaledlinear.dX", self.equations["dX"], {s["dout"]: dZ, s["W"]: self.W},
                      {s["din"]: dX}, s=self.scale)
        return dX
# -- end of the learner's file ---------------------------------------------------------------------------------------


@pytest.fixture(autouse=True, scope="module")
def registered():
    """Subclassing registered both (what save/load finds them by); forget them when this file is done."""
    assert Layer.registry["Swish"] is Swish and Layer.registry["ScaledLinear"] is ScaledLinear
    yield
    for name in ("Swish", "ScaledLinear"):
        Layer.registry.pop(name, None)


def network(seed=0, hidden=6) -> Sequential:
    return Sequential(ScaledLinear(2, hidden, scale=0.5), Swish(), Dense(hidden, 6), ReLU(),
                      ScaledLinear(6, 2, scale=2.0), seed=seed)


def problem(seed=0, hidden=6) -> Problem:
    X, y = datasets.moons(64, noise=0.1, seed=seed)
    model = network(seed, hidden)
    return Problem("moons", "a learner's layers on the moons", model, SoftmaxCrossEntropy(),
                   SGD(model.parameters(), lr=0.1, momentum=0.9), X, y, batch_size=8, epochs=1, classes=["0", "1"])


def session(hidden=6) -> Session:
    return Session(lambda seed: problem(seed, hidden), seed=0, source="custom")


def ok(interp, line):
    r = interp.run(line)
    assert r.ok, (line, r.message)
    return r.data


# -- a Sequential with built-in layers -------------------------------------------------------------------------------
def test_it_fits_in_a_sequential_names_its_symbols_and_learns():
    model = network()
    assert [l.name for l in model.layers] == ["scaledlinear1", "swish1", "dense2", "relu1", "scaledlinear3"]
    assert [p.symbol for p in model.parameters()] == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert [p.symbol for p in model.decayed_parameters()] == ["W1", "W2", "W3"]
    assert model.output_shape() == (2,) and model.describe().startswith("scaledlinear1 2→6 ×0.5 → swish1 → dense2 6→6")
    X, y = datasets.moons(64, noise=0.1, seed=0)
    history = model.fit(X, y, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1, momentum=0.9),
                        epochs=15, batch_size=8, shuffle=False)
    assert history["loss"][-1] < 0.7 * history["loss"][0]


def test_the_summary_lists_it_with_its_equation():
    rows = {line.split()[0]: line for line in network().summary().splitlines()[1:]}
    assert "Z1 = s·X·W1 + b1" in rows["scaledlinear1"] and rows["scaledlinear1"].split()[-1] == "18"
    assert "A1 = Z1 ⊙ σ(Z1)" in rows["swish1"] and rows["swish1"].split()[-1] == "0"
    assert "Z3 = s·A2·W3 + b3" in rows["scaledlinear3"] and rows["total"].split()[-1] == f"{18 + 42 + 14}"


# -- stepping, the ops and their roles -------------------------------------------------------------------------------
def test_a_session_steps_through_its_ops_and_each_names_its_operands_roles():
    s = session()
    roles = {op.kind: op.roles for op in s.tape if op.kind.split(".")[0] in ("scaledlinear", "swish")}
    assert roles == {
        "scaledlinear.forward": {"X": "A2", "W": "W3", "b": "b3", "out": "Z3"},  # the last one of each kind
        "swish.forward": {"X": "Z1", "out": "A1"},
        "swish.backward": {"dout": "dA1", "X": "Z1", "out": "A1", "dX": "dZ1"},
        "scaledlinear.dW": {"X": "X", "dout": "dZ1", "W": "W1", "dW": "dW1"},
        "scaledlinear.db": {"dout": "dZ1", "db": "db1"},
        "scaledlinear.dX": {"dout": "dZ3", "W": "W3", "dX": "dA2"},  # the first layer sends nothing down
    }
    first = s.tape[0]
    assert (first.name, first.role("W").shape) == ("scaledlinear1.forward.Z1", (2, 6))
    interp = Interpreter(s)
    op = ok(interp, "step")["op"]  # the JSON op: its kind and its roles
    assert op["kind"] == "scaledlinear.forward" and op["roles"] == {"X": "X", "W": "W1", "b": "b1", "out": "Z1"}
    assert op["attrs"] == {"s": 0.5}
    assert "scaledlinear.forward" in op_header(first).plain  # the screen's header names the kind too
    op = ok(interp, "step")["op"]
    assert op["name"] == "swish1.forward.A1" and op["roles"] == {"X": "Z1", "out": "A1"}
    values = s.values_at()
    np.testing.assert_allclose(values["A1"], values["Z1"] / (1 + np.exp(-values["Z1"])))
    ok(interp, "continue")  # the whole iteration, its update included
    assert s.current.loss is not None and np.isfinite(s.current.loss)


def test_explain_answers_for_its_elements():
    s = session()
    interp = Interpreter(s)
    ok(interp, "goto swish1.forward.A1")
    A1 = s.values_at()["A1"]
    d = ok(interp, "explain A1[3,2]")
    assert d["value"] == pytest.approx(float(A1[3, 2])) and d["recomputed"] == pytest.approx(d["value"])
    assert "A1 = Z1 ⊙ σ(Z1)" in d["formula"] + d["text"]
    ok(interp, "goto scaledlinear3.backward.dA2")
    d = ok(interp, "explain dA2[0,1]")
    assert d["value"] == pytest.approx(float(s.values_at()["dA2"][0, 1]))
    assert not any("does not compute" in note for note in d.get("notes", []))


def test_gradcheck_checks_one_of_its_units_and_passes():
    s = session()
    interp = Interpreter(s)
    assert s.model.layer("scaledlinear1").unit_entries(2) == [("W1", (0, 2)), ("W1", (1, 2)), ("b1", (2,))]
    d = ok(interp, "gradcheck scaledlinear1 2")
    assert [r["parameter"] for r in d["rows"]] == ["W1[0,2]", "W1[1,2]", "b1[2]"]
    assert d["worst"] < 1e-6 and not any(r["verdict"] == "wrong" for r in d["rows"])
    d = ok(interp, "gradcheck scaledlinear3 1")
    assert [r["parameter"] for r in d["rows"]] == [f"W3[{k},1]" for k in range(6)] + ["b3[1]"]
    assert d["worst"] < 1e-6
    r = interp.run("gradcheck scaledlinear3 2")
    assert not r.ok and "neurons 0..1" in r.message  # its unit_word, from the layer


def test_model_unit_of_maps_its_cells_through_the_swish_and_the_optimizer_state():
    model = session().model
    unit = lambda symbol, index: (lambda r: r and (r[0].name, r[1]))(model.unit_of(symbol, index))
    assert unit("W1", (1, 4)) == unit("dW1", (0, 4)) == unit("b1", (4,)) == ("scaledlinear1", 4)
    assert unit("Z1", (7, 5)) == unit("A1", (7, 5)) == unit("dA1", (0, 5)) == ("scaledlinear1", 5)  # through swish1
    assert unit("vW3", (3, 1)) == unit("Z3", (0, 1)) == ("scaledlinear3", 1)
    assert unit("A2", (2, 3)) == ("dense2", 3) and unit("X", (0, 1)) is None
    assert model.axis_names("W1") is None


# -- files -------------------------------------------------------------------------------------------------------------
def test_save_and_load_round_trip_it(tmp_path):
    model = network(seed=3)
    path = save(model, tmp_path / "mine.npz")
    again = load(path)
    assert [type(l) for l in again.layers] == [ScaledLinear, Swish, Dense, ReLU, ScaledLinear]
    assert again.layers[4].scale == 2.0 and again.config() == model.config()
    X, _ = datasets.moons(16, seed=1)
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert guess_preset(again) == "moons"  # asked of the data: 2 inputs, 2 outputs
    s = open_model_file(path)  # and a session opens it on that data and steps it
    assert s.tape[0].kind == "scaledlinear.forward"
    s.step(3)
    assert s.op.name == "dense2.forward.Z2"


# -- the TUI's Network tab ---------------------------------------------------------------------------------------------
def network_tab(s: Session, size=(160, 48)) -> tuple[str, str, tuple | None]:
    """The Network tab's text after one whole iteration, the op panel's header, and the unit of A1[0,4]."""
    pytest.importorskip("textual")
    from rich.console import Console
    from textual.widgets import Static

    from inspector.tui.app import NndbApp

    def text(renderable) -> str:
        console = Console(width=size[0], record=True, file=io.StringIO())
        console.print(renderable)
        return console.export_text()

    async def main():
        app = NndbApp(s)
        async with app.run_test(size=size) as pilot:
            await pilot.press("c")  # one whole iteration: every value exists
            await pilot.press("3")
            await pilot.pause()
            assert app.query_one("#tabs").active == "tab-network"
            return (text(app.query_one("#network", Static).content), text(app.query_one("#equation", Static).content),
                    app.neuron_of("A1", (0, 4)))
    return asyncio.run(main())


def test_the_network_tab_draws_it_unit_by_unit():
    s = session()
    drawing, header, neuron = network_tab(s)
    assert "W1ᵀ" in drawing and "W2ᵀ" in drawing and "W3ᵀ" in drawing  # its weights, drawn like Dense's
    columns = drawing.splitlines()[0].split()
    assert columns == ["X", "W1ᵀ", "A1", "W2ᵀ", "A2", "W3ᵀ", "P"]  # the units after the swish and the relu
    assert neuron == ("scaledlinear1", 4)  # g on a cell of A1 checks the unit it belongs to
    assert s.op.kind in header  # the op panel names the op's kind


def test_the_network_tab_summarizes_it_when_it_is_too_wide_to_draw():
    s = session(hidden=24)
    table, _, _ = network_tab(s)
    rows = {line.split()[0]: line.split() for line in table.splitlines()[1:] if line.strip()}
    assert rows["scaledlinear1"][1:6] == ["Z1", "=", "s·X·W1", "+", "b1"] and rows["scaledlinear1"][6:8] == ["W1", "2×24"]
    A1 = s.values_at()["A1"]
    assert rows["swish1"][-1] == f"{np.mean(np.all(A1 == 0, axis=0)):.0%}"  # an activation: its dead units
    m = len(A1)  # the session's batch
    assert rows["scaledlinear3"][-1] == f"{m}×2"  # no dead-units figure: not an activation
    assert rows["relu1"][-2:] == [f"{m}×6", f"{np.mean(np.all(s.values_at()['A2'] <= 0, axis=0)):.0%}"]
