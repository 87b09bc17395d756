"""explain on convolution and pooling ops: the receptive field, the filter, and the value the code computed."""
from __future__ import annotations

import numpy as np
import pytest

from engine import PRESETS
from inspector.commands import Interpreter
from inspector.sources import open_preset

pytestmark = pytest.mark.skipif("bars" not in PRESETS, reason="the bars preset (a tiny CNN) is not in this engine")


def test_explain_a_conv_output_shows_its_receptive_field_and_filter():
    s = open_preset("bars")
    interp = Interpreter(s)
    assert interp.run("step").ok
    r = interp.run("explain Z1[0,1,2,3]")
    assert r.ok, r.message
    X, K, b = (s.values_at()[k] for k in ("X", "K1", "b1"))
    expected = float(np.sum(X[0, :, 2:5, 3:6] * K[1]) + b[1])
    assert abs(r.data["value"] - expected) < 1e-12, f"explain {r.data['value']} vs NumPy {expected}"
    assert abs(r.data["recomputed"] - expected) < 1e-12
    assert r.data["formula"].startswith("Z1[0,1,2,3] = Σ_c,u,v X[0,c,2·1+u,3·1+v]·K1[1,c,u,v] + b1[1]")
    assert any(note.startswith("the receptive field") for note in r.data["notes"])
    assert not any("does not compute what its equation says" in note for note in r.data["notes"])


@pytest.mark.parametrize("pool", ["MaxPool2D", "AvgPool2D"])
def test_explain_a_pooled_output_reads_its_window(pool):
    import engine
    from engine import SGD, Dense, ReLU, Sequential, SoftmaxCrossEntropy
    from engine.presets import Problem
    from inspector.session import Session

    def factory(seed):
        rng = np.random.default_rng(seed)
        X, y = rng.normal(size=(6, 1, 6, 6)), rng.integers(0, 2, 6)
        model = Sequential(engine.Conv2D(1, 2, 3), ReLU(), getattr(engine, pool)(2), engine.Flatten(), Dense(8, 2),
                           seed=seed)
        return Problem("pool", "pool", model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1), X, y, 6, 1,
                       ["0", "1"])
    s = Session(factory, seed=0)
    op = next(op for op in s.tape if op.kind.endswith("pool.forward"))
    interp = Interpreter(s)
    assert interp.run(f"goto {op.index}").ok
    A = op.inputs[next(iter(op.inputs))]
    window = A[1, 1, 2:4, 0:2]
    r = interp.run(f"explain {op.result}[1,1,1,0]")
    assert r.ok, r.message
    expected = window.max() if pool == "MaxPool2D" else window.mean()
    assert abs(r.data["value"] - expected) < 1e-12 and abs(r.data["recomputed"] - expected) < 1e-12, \
        f"{pool}: explain {r.data['value']} vs NumPy {expected}"
    if pool == "MaxPool2D":
        assert "the winner is" in r.data["notes"][0]


def overlapping_pool_session():
    import engine
    from engine import SGD, Dense, Sequential, SoftmaxCrossEntropy
    from engine.presets import Problem
    from inspector.session import Session

    def factory(seed):
        rng = np.random.default_rng(seed)
        X, Y = rng.normal(size=(4, 1, 5, 5)), np.eye(2)[rng.integers(0, 2, 4)]
        model = Sequential(engine.MaxPool2D(3, stride=1), engine.Flatten(), Dense(9, 2), seed=seed)
        return Problem("pool", "pool", model, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1), X, Y, 4, 1)
    return Session(factory, seed=0)


def test_explain_the_maxpool_gradient_where_windows_overlap():
    s = overlapping_pool_session()
    interp = Interpreter(s)
    op = next(op for op in s.tape if op.kind == "maxpool.backward")
    assert interp.run(f"goto {op.index}").ok
    (dS, M), (dA,) = list(op.inputs), list(op.outputs)
    wins = op.inputs[M][0, 0]
    # (2, 2) lies in all nine 3×3 windows of a 5×5 input: if it won some but not all, which ones is unknown
    lost = [(h, w) for h in range(5) for w in range(5) if wins[h, w] == 0]
    r = interp.run(f"explain {dA}[0,0,{lost[0][0]},{lost[0][1]}]")
    assert r.ok and r.data["value"] == 0 and r.data["recomputed"] == 0
    corner_won = wins[0, 0] == 1  # the corner lies in one window only: always exact
    r = interp.run(f"explain {dA}[0,0,0,0]")
    assert r.ok and r.data["recomputed"] == pytest.approx(op.inputs[dS][0, 0, 0, 0] * corner_won)
    ambiguous = 0
    for h in range(5):
        for w in range(5):
            covering = (min(h, 2) - max(0, h - 2) + 1) * (min(w, 2) - max(0, w - 2) + 1)
            r = interp.run(f"explain {dA}[0,0,{h},{w}]")
            if 0 < wins[h, w] < covering:
                ambiguous += 1
                assert not r.ok and f"won {int(wins[h, w])} of them" in r.message, r.message
            else:
                assert r.ok and r.data["recomputed"] == pytest.approx(op.outputs[dA][0, 0, h, w]), (h, w)
    assert ambiguous, "this batch should have a cell that won some of its windows but not all"
