"""The op trace: order, equations, names, shapes and values of every recorded op, checked against NumPy."""
from __future__ import annotations

import numpy as np
import pytest

from engine import (
    MSE, SGD, Adam, BinaryCrossEntropy, Dense, Dropout, LeakyReLU, Op, RecordingTracer, ReLU,
    Sequential, Sigmoid, Softmax, SoftmaxCrossEntropy, Tanh,
)
from engine.trace import NULL_TRACER, PHASES, Tracer


def check_array(label: str, mine, ref, rtol: float = 1e-12, atol: float = 1e-14) -> None:
    mine, ref = np.asarray(mine), np.asarray(ref)
    assert mine.shape == ref.shape, f"{label}: shape mine={mine.shape} reference={ref.shape}"
    assert np.allclose(mine, ref, rtol=rtol, atol=atol), (
        f"{label}: values differ\nmine      = {mine!r}\nreference = {ref!r}\n"
        f"max |diff| = {np.max(np.abs(mine - ref)) if mine.size else 0:.3e}")


def check_op(op: Op, phase, layer, kind, equation, inputs: dict, outputs: dict) -> None:
    where = f"op {op.index} ({op.kind})"
    assert (op.phase, op.layer, op.kind) == (phase, layer, kind), f"{where}: got {(op.phase, op.layer, op.kind)}"
    assert op.equation == equation, f"{where}: equation mine={op.equation!r} expected={equation!r}"
    assert list(op.inputs) == list(inputs), f"{where}: input symbols {list(op.inputs)} != {list(inputs)}"
    assert list(op.outputs) == list(outputs), f"{where}: output symbols {list(op.outputs)} != {list(outputs)}"
    for sym, ref in inputs.items():
        check_array(f"{where} input {sym}", op.inputs[sym], ref)
    for sym, ref in outputs.items():
        check_array(f"{where} output {sym}", op.outputs[sym], ref)


def mlp(seed=0, **kw):
    return Sequential(Dense(3, 4), ReLU(), Dense(4, 3), seed=seed, **kw)


def batch(seed=0, m=5, n=3, k=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, n)), rng.integers(0, k, m)


def traced_step(model, X, Y, loss, opt):
    tracer = RecordingTracer()
    model.tracer = tracer
    params = {p.symbol: p.value.copy() for p in model.parameters()}
    model.train_step(X, Y, loss, opt)
    return tracer.tape, params


# -- the reference iteration: Dense, ReLU, Dense, SoftmaxCrossEntropy, SGD ----------------

def test_mlp_iteration_tape_order_equations_and_values():
    model = mlp(seed=1)
    X, y = batch(1)
    lr = 0.1
    loss, opt = SoftmaxCrossEntropy(), SGD(model.parameters(), lr=lr)
    tape, p0 = traced_step(model, X, y, loss, opt)
    W1, b1, W2, b2 = p0["W1"], p0["b1"], p0["W2"], p0["b2"]

    # the same iteration, written out in NumPy
    m = X.shape[0]
    Y = np.eye(3)[y]
    Z1 = X @ W1 + b1
    A1 = np.maximum(0, Z1)
    Z2 = A1 @ W2 + b2
    E = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
    P = E / E.sum(axis=1, keepdims=True)
    L = -np.sum(Y * np.log(P)) / m
    dZ2 = (P - Y) / m
    dW2 = A1.T @ dZ2
    db2 = dZ2.sum(axis=0)
    dA1 = dZ2 @ W2.T
    dZ1 = dA1 * (Z1 > 0)
    dW1 = X.T @ dZ1
    db1 = dZ1.sum(axis=0)

    expected = [
        ("forward", "dense1", "dense.forward", "Z1 = X·W1 + b1", {"X": X, "W1": W1, "b1": b1}, {"Z1": Z1}),
        ("forward", "relu1", "relu.forward", "A1 = max(0, Z1)", {"Z1": Z1}, {"A1": A1}),
        ("forward", "dense2", "dense.forward", "Z2 = A1·W2 + b2", {"A1": A1, "W2": W2, "b2": b2}, {"Z2": Z2}),
        ("loss", "loss", "softmax_ce.softmax", "P[i,j] = e^Z2[i,j] / Σₖ e^Z2[i,k]", {"Z2": Z2}, {"P": P}),
        ("loss", "loss", "softmax_ce.loss", "L = −(1/m)·Σᵢ Σⱼ Y[i,j]·log P[i,j]", {"P": P, "Y": Y}, {"L": L}),
        ("backward", "loss", "softmax_ce.backward", "dZ2 = (P − Y)/m", {"P": P, "Y": Y}, {"dZ2": dZ2}),
        ("backward", "dense2", "dense.dW", "dW2 = A1ᵀ·dZ2", {"A1": A1, "dZ2": dZ2}, {"dW2": dW2}),
        ("backward", "dense2", "dense.db", "db2 = Σᵢ dZ2[i,:]", {"dZ2": dZ2}, {"db2": db2}),
        ("backward", "dense2", "dense.dX", "dA1 = dZ2·W2ᵀ", {"dZ2": dZ2, "W2": W2}, {"dA1": dA1}),
        ("backward", "relu1", "relu.backward", "dZ1 = dA1 ⊙ 1[Z1 > 0]", {"dA1": dA1, "Z1": Z1}, {"dZ1": dZ1}),
        ("backward", "dense1", "dense.dW", "dW1 = Xᵀ·dZ1", {"X": X, "dZ1": dZ1}, {"dW1": dW1}),
        ("backward", "dense1", "dense.db", "db1 = Σᵢ dZ1[i,:]", {"dZ1": dZ1}, {"db1": db1}),
        ("update", "dense1", "sgd.update", "W1 ← W1 − α·dW1", {"W1": W1, "dW1": dW1}, {"W1": W1 - lr * dW1}),
        ("update", "dense1", "sgd.update", "b1 ← b1 − α·db1", {"b1": b1, "db1": db1}, {"b1": b1 - lr * db1}),
        ("update", "dense2", "sgd.update", "W2 ← W2 − α·dW2", {"W2": W2, "dW2": dW2}, {"W2": W2 - lr * dW2}),
        ("update", "dense2", "sgd.update", "b2 ← b2 − α·db2", {"b2": b2, "db2": db2}, {"b2": b2 - lr * db2}),
    ]
    assert [op.equation for op in tape] == [e[3] for e in expected], "tape order/equations differ"
    for i, (op, exp) in enumerate(zip(tape, expected)):
        assert op.index == i
        check_op(op, *exp)

    # op names are unique and read layer.phase.result
    names = [op.name for op in tape]
    assert names[:3] == ["dense1.forward.Z1", "relu1.forward.A1", "dense2.forward.Z2"]
    assert names[-1] == "dense2.update.b2"
    assert len(set(names)) == len(names), f"duplicate op names: {names}"
    # phases come in order, never going back
    order = [PHASES.index(op.phase) for op in tape]
    assert order == sorted(order)
    # shapes, as the screen will show them
    assert tape[0].shapes() == {"X": (5, 3), "W1": (3, 4), "b1": (4,), "Z1": (5, 4)}
    assert tape[4].shapes() == {"P": (5, 3), "Y": (5, 3), "L": ()}
    assert tape[12].shapes() == {"W1": (3, 4), "dW1": (3, 4)}
    # scalars of the ops
    assert tape[5].attrs == {"m": 5} and tape[12].attrs == {"lr": lr}
    # the model's parameters are what the update ops wrote
    for op in tape[12:]:
        sym = op.result
        assert np.array_equal(model.param(sym).value, op.outputs[sym]), sym
    # gradients of the loss, by the naming rule
    grads = {s for op in tape for s in op.arrays if Op.is_gradient(s)}
    assert grads == {"dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1"}


def test_op_properties():
    op = Op("update", "dense1", "sgd.update", "W1 ← W1 − α·dW1",
            {"W1": np.zeros((2, 3)), "dW1": np.ones((2, 3))}, {"W1": np.full((2, 3), 5.0)}, {"lr": 0.1})
    assert op.result == "W1" and op.name == "dense1.update.W1"
    assert op.arrays["W1"][0, 0] == 5.0, "an output wins over an input of the same symbol"
    assert set(op.arrays) == {"W1", "dW1"}
    assert op.shapes() == {"W1": (2, 3), "dW1": (2, 3)}
    assert op.index == -1
    for sym in ("dW1", "db2", "dZ1", "dA1", "dX", "dL"):
        assert Op.is_gradient(sym), sym
    for sym in ("W1", "b1", "Z1", "A1", "X", "Y", "P", "L", "D1", "M1", "d", "", "vW1", "mW1", "L_data"):
        assert not Op.is_gradient(sym), sym


def test_default_tracer_records_nothing_and_is_disabled():
    assert NULL_TRACER.enabled is False and isinstance(NULL_TRACER, Tracer)
    model = mlp()
    assert model.tracer is NULL_TRACER
    model.tracer = None
    assert model.tracer is NULL_TRACER and all(layer.tracer is NULL_TRACER for layer in model.layers)


def test_tracer_hooks_called_once_per_iteration():
    class Counting(Tracer):
        enabled = True

        def __init__(self):
            self.events = []

        def begin_iteration(self, model):
            self.events.append(("begin", model.iteration))

        def record(self, op):
            self.events.append(("op", op.kind))

        def end_iteration(self, model):
            self.events.append(("end", model.iteration))

    model = mlp()
    t = Counting()
    model.tracer = t
    X, y = batch()
    loss, opt = SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1)
    model.train_step(X, y, loss, opt)
    model.train_step(X, y, loss, opt)
    assert t.events[0] == ("begin", 0) and t.events[17] == ("end", 1)
    assert t.events[18] == ("begin", 1) and t.events[-1] == ("end", 2)
    assert len(t.events) == 2 * (16 + 2)


# -- optimizers ---------------------------------------------------------------------------

def _update_ops(tape):
    return [op for op in tape if op.phase == "update"]


def test_momentum_update_ops():
    model = mlp(seed=2)
    X, y = batch(2)
    lr, mu = 0.05, 0.9
    loss, opt = SoftmaxCrossEntropy(), SGD(model.parameters(), lr=lr, momentum=mu)
    model.train_step(X, y, loss, opt)  # the velocity is non-zero from here on
    v = {p.symbol: opt.state[p.name]["v"].copy() for p in model.parameters()}
    tape, p0 = traced_step(model, X, y, loss, opt)
    grads = {op.result: op.outputs[op.result] for op in tape if op.kind in ("dense.dW", "dense.db")}
    ups = _update_ops(tape)
    assert [op.kind for op in ups] == ["momentum.velocity", "momentum.update"] * 4
    for i, sym in enumerate(["W1", "b1", "W2", "b2"]):
        vel, upd = ups[2 * i], ups[2 * i + 1]
        v_new = mu * v[sym] + grads["d" + sym]
        check_op(vel, "update", vel.layer, "momentum.velocity", f"v{sym} ← μ·v{sym} + d{sym}",
                 {f"v{sym}": v[sym], f"d{sym}": grads["d" + sym]}, {f"v{sym}": v_new})
        check_op(upd, "update", vel.layer, "momentum.update", f"{sym} ← {sym} − α·v{sym}",
                 {sym: p0[sym], f"v{sym}": v_new}, {sym: p0[sym] - lr * v_new})
        assert vel.layer == ("dense1" if sym.endswith("1") else "dense2")
        assert vel.attrs == {"momentum": mu} and upd.attrs == {"lr": lr}
        assert np.array_equal(model.param(sym).value, upd.outputs[sym])


def test_nesterov_update_ops():
    model = mlp(seed=3)
    X, y = batch(3)
    lr, mu = 0.05, 0.8
    loss, opt = SoftmaxCrossEntropy(), SGD(model.parameters(), lr=lr, momentum=mu, nesterov=True)
    model.train_step(X, y, loss, opt)
    v = {p.symbol: opt.state[p.name]["v"].copy() for p in model.parameters()}
    tape, p0 = traced_step(model, X, y, loss, opt)
    grads = {op.result: op.outputs[op.result] for op in tape if op.kind in ("dense.dW", "dense.db")}
    ups = _update_ops(tape)
    assert [op.kind for op in ups] == ["momentum.velocity", "nesterov.update"] * 4
    for i, sym in enumerate(["W1", "b1", "W2", "b2"]):
        g = grads["d" + sym]
        v_new = mu * v[sym] + g
        upd = ups[2 * i + 1]
        check_array(f"v{sym}", ups[2 * i].outputs[f"v{sym}"], v_new)
        check_op(upd, "update", upd.layer, "nesterov.update", f"{sym} ← {sym} − α·(d{sym} + μ·v{sym})",
                 {sym: p0[sym], f"d{sym}": g, f"v{sym}": v_new}, {sym: p0[sym] - lr * (g + mu * v_new)})
        assert upd.attrs == {"lr": lr, "momentum": mu}


def test_nesterov_needs_momentum():
    with pytest.raises(ValueError, match="momentum"):
        SGD(mlp().parameters(), lr=0.1, nesterov=True)


def test_adam_update_ops():
    model = mlp(seed=4)
    X, y = batch(4)
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    loss, opt = SoftmaxCrossEntropy(), Adam(model.parameters(), lr=lr, betas=(b1, b2), eps=eps)
    ms = {p.symbol: np.zeros_like(p.value) for p in model.parameters()}
    vs = {p.symbol: np.zeros_like(p.value) for p in model.parameters()}
    for t in (1, 2, 3):
        tape, p0 = traced_step(model, X, y, loss, opt)
        grads = {op.result: op.outputs[op.result] for op in tape if op.kind in ("dense.dW", "dense.db")}
        ups = _update_ops(tape)
        assert [op.kind for op in ups] == ["adam.m", "adam.v", "adam.update"] * 4
        for i, s in enumerate(["W1", "b1", "W2", "b2"]):
            g = grads["d" + s]
            m_new = b1 * ms[s] + (1 - b1) * g
            v_new = b2 * vs[s] + (1 - b2) * g * g
            W_new = p0[s] - lr * (m_new / (1 - b1 ** t)) / (np.sqrt(v_new / (1 - b2 ** t)) + eps)
            om, ov, ou = ups[3 * i: 3 * i + 3]
            check_op(om, "update", om.layer, "adam.m", f"m{s} ← β₁·m{s} + (1 − β₁)·d{s}",
                     {f"m{s}": ms[s], f"d{s}": g}, {f"m{s}": m_new})
            check_op(ov, "update", om.layer, "adam.v", f"v{s} ← β₂·v{s} + (1 − β₂)·d{s}²",
                     {f"v{s}": vs[s], f"d{s}": g}, {f"v{s}": v_new})
            check_op(ou, "update", om.layer, "adam.update",
                     f"{s} ← {s} − α·m̂/(√v̂ + ε),  m̂ = m{s}/(1 − β₁ᵗ), v̂ = v{s}/(1 − β₂ᵗ)",
                     {s: p0[s], f"m{s}": m_new, f"v{s}": v_new}, {s: W_new})
            assert ou.attrs == {"lr": lr, "t": t, "eps": eps, "beta1": b1, "beta2": b2}
            ms[s], vs[s] = m_new, v_new
        assert opt.t == t


# -- other losses and layers --------------------------------------------------------------

def test_mse_sigmoid_tanh_ops():
    model = Sequential(Dense(2, 3), Tanh(), Dense(3, 1), Sigmoid(), seed=5)
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((4, 2)), rng.uniform(0, 1, (4, 1))
    tape, p = traced_step(model, X, Y, MSE(), SGD(model.parameters(), lr=0.5))
    Z1 = X @ p["W1"] + p["b1"]
    A1 = np.tanh(Z1)
    Z2 = A1 @ p["W2"] + p["b2"]
    A2 = 1 / (1 + np.exp(-Z2))
    n = A2.size
    L = np.mean((A2 - Y) ** 2)
    dA2 = 2 * (A2 - Y) / n
    dZ2 = dA2 * A2 * (1 - A2)
    dA1 = dZ2 @ p["W2"].T
    dZ1 = dA1 * (1 - A1 ** 2)
    ops = {op.name: op for op in tape}
    check_op(ops["tanh1.forward.A1"], "forward", "tanh1", "tanh.forward", "A1 = tanh(Z1)", {"Z1": Z1}, {"A1": A1})
    check_op(ops["sigmoid1.forward.A2"], "forward", "sigmoid1", "sigmoid.forward", "A2 = σ(Z2) = 1/(1 + e^(−Z2))",
             {"Z2": Z2}, {"A2": A2})
    check_op(ops["loss.loss.L"], "loss", "loss", "mse.loss", "L = (1/n)·Σ (A2 − Y)²,  n = m·k",
             {"A2": A2, "Y": Y}, {"L": L})
    assert ops["loss.loss.L"].attrs == {"n": 4}
    check_op(ops["loss.backward.dA2"], "backward", "loss", "mse.backward", "dA2 = 2·(A2 − Y)/n",
             {"A2": A2, "Y": Y}, {"dA2": dA2})
    check_op(ops["sigmoid1.backward.dZ2"], "backward", "sigmoid1", "sigmoid.backward",
             "dZ2 = dA2 ⊙ A2 ⊙ (1 − A2)",
             {"dA2": dA2, "A2": A2}, {"dZ2": dZ2})
    check_op(ops["tanh1.backward.dZ1"], "backward", "tanh1", "tanh.backward", "dZ1 = dA1 ⊙ (1 − A1²)",
             {"dA1": dA1, "A1": A1}, {"dZ1": dZ1})
    check_array("dW1", ops["dense1.backward.dW1"].outputs["dW1"], X.T @ dZ1)
    assert [op.kind for op in tape[:4]] == ["dense.forward", "tanh.forward", "dense.forward", "sigmoid.forward"]


def test_bce_ops():
    model = Sequential(Dense(3, 1), seed=6)
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((6, 3)), rng.integers(0, 2, 6)
    tape, p = traced_step(model, X, y, BinaryCrossEntropy(), SGD(model.parameters(), lr=0.1))
    Z1 = X @ p["W1"] + p["b1"]
    Y = y[:, None].astype(float)
    P = 1 / (1 + np.exp(-Z1))
    L = -np.mean(Y * np.log(P) + (1 - Y) * np.log(1 - P))
    assert [op.kind for op in tape[:6]] == ["dense.forward", "bce.sigmoid", "bce.loss", "bce.backward",
                                           "dense.dW", "dense.db"], [op.kind for op in tape]
    check_op(tape[1], "loss", "loss", "bce.sigmoid", "P = σ(Z1)", {"Z1": Z1}, {"P": P})
    check_op(tape[2], "loss", "loss", "bce.loss", "L = (1/n)·Σ [max(Z1, 0) − Z1·Y + log(1 + e^(−|Z1|))]",
             {"Z1": Z1, "Y": Y}, {"L": L})
    check_op(tape[3], "backward", "loss", "bce.backward", "dZ1 = (P − Y)/n", {"P": P, "Y": Y}, {"dZ1": (P - Y) / 6})
    assert not any(op.kind == "dense.dX" for op in tape), "the first layer's dX is never computed"


def test_leaky_relu_and_softmax_layer_ops():
    model = Sequential(Dense(2, 4), LeakyReLU(0.2), Dense(4, 3), Softmax(), seed=7)
    rng = np.random.default_rng(7)
    X, Y = rng.standard_normal((5, 2)), np.eye(3)[rng.integers(0, 3, 5)]
    tape, p = traced_step(model, X, Y, MSE(), SGD(model.parameters(), lr=0.1))
    Z1 = X @ p["W1"] + p["b1"]
    A1 = np.where(Z1 > 0, Z1, 0.2 * Z1)
    Z2 = A1 @ p["W2"] + p["b2"]
    E = np.exp(Z2)
    A2 = E / E.sum(axis=1, keepdims=True)
    dA2 = 2 * (A2 - Y) / A2.size
    dZ2 = A2 * (dA2 - np.sum(dA2 * A2, axis=1, keepdims=True))
    dA1 = dZ2 @ p["W2"].T
    dZ1 = dA1 * np.where(Z1 > 0, 1.0, 0.2)
    ops = {op.name: op for op in tape}
    check_op(ops["leakyrelu1.forward.A1"], "forward", "leakyrelu1", "leakyrelu.forward",
             "A1 = Z1 if Z1 > 0 else α·Z1", {"Z1": Z1}, {"A1": A1})
    assert ops["leakyrelu1.forward.A1"].attrs == {"alpha": 0.2}
    check_op(ops["softmax1.forward.A2"], "forward", "softmax1", "softmax.forward",
             "A2[i,j] = e^Z2[i,j] / Σₖ e^Z2[i,k]", {"Z2": Z2}, {"A2": A2})
    check_op(ops["softmax1.backward.dZ2"], "backward", "softmax1", "softmax.backward",
             "dZ2 = A2 ⊙ (dA2 − Σₖ dA2[:,k]·A2[:,k])", {"dA2": dA2, "A2": A2}, {"dZ2": dZ2})
    check_op(ops["leakyrelu1.backward.dZ1"], "backward", "leakyrelu1", "leakyrelu.backward",
             "dZ1 = dA1 ⊙ (1 if Z1 > 0 else α)", {"dA1": dA1, "Z1": Z1}, {"dZ1": dZ1})


def test_dropout_ops_train_and_eval():
    model = Sequential(Dense(3, 6), ReLU(), Dropout(0.5), Dense(6, 2), seed=8)
    X, y = batch(8, m=4, k=2)
    loss, opt = SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1)
    rng_copy = np.random.default_rng()
    rng_copy.bit_generator.state = model.rng.bit_generator.state
    tape, p = traced_step(model, X, y, loss, opt)
    Z1 = X @ p["W1"] + p["b1"]
    A1 = np.maximum(Z1, 0)
    M = (rng_copy.random(A1.shape) >= 0.5) / 0.5
    D1 = A1 * M
    ops = {op.name: op for op in tape}
    drop = ops["dropout1.forward.D1"]
    check_op(drop, "forward", "dropout1", "dropout.forward", "D1 = A1 ⊙ M1,  M1 = 1[U ≥ p]/(1 − p)",
             {"A1": A1}, {"D1": D1, "M1": M})
    assert drop.attrs == {"p": 0.5}
    check_array("Z2", ops["dense2.forward.Z2"].inputs["D1"], D1)
    dD1 = ops["dense2.backward.dD1"].outputs["dD1"]
    check_op(ops["dropout1.backward.dA1"], "backward", "dropout1", "dropout.backward", "dA1 = dD1 ⊙ M1",
             {"dD1": dD1, "M1": M}, {"dA1": dD1 * M})
    # in eval mode the op says so and passes A through
    model.eval()
    model.train_step(X, y, loss, opt)
    tape = model.tracer.tape
    ev = next(op for op in tape if op.layer == "dropout1" and op.phase == "forward")
    assert ev.kind == "dropout.eval" and ev.equation == "D1 = A1  (eval mode: dropout off)"
    np.testing.assert_array_equal(ev.outputs["D1"], ev.inputs["A1"])
    back = next(op for op in tape if op.layer == "dropout1" and op.phase == "backward")
    assert list(back.inputs) == ["dD1"]
    np.testing.assert_array_equal(back.outputs["dA1"], back.inputs["dD1"])


def test_l2_penalty_op_and_dW():
    lam = 0.7
    model = mlp(seed=9, l2=lam)
    X, y = batch(9)
    tape, p = traced_step(model, X, y, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1))
    m = X.shape[0]
    pen = next(op for op in tape if op.kind == "l2.penalty")
    data = next(op for op in tape if op.kind == "softmax_ce.loss")
    assert pen.phase == "loss" and tape.index(pen) == tape.index(data) + 1
    assert pen.equation == "L ← L + (λ/2m)·Σ‖W‖²  (W1, W2)"
    L_data = float(data.outputs["L"])
    L_ref = L_data + lam / (2 * m) * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
    assert pen.name == "l2.loss.L"
    check_op(pen, "loss", "l2", "l2.penalty", pen.equation,
             {"L": L_data, "W1": p["W1"], "W2": p["W2"]}, {"L": L_ref})
    assert pen.attrs == {"l2": lam, "m": m}
    names = [op.name for op in tape]
    assert len(set(names)) == len(names), f"op names must be unique within an iteration: {names}"
    dW = next(op for op in tape if op.name == "dense1.backward.dW1")
    assert dW.equation == "dW1 = Xᵀ·dZ1 + (λ/m)·W1" and dW.attrs == {"l2": lam, "m": m}
    dZ1 = dW.inputs["dZ1"]
    check_op(dW, "backward", "dense1", "dense.dW", dW.equation, {"X": X, "dZ1": dZ1, "W1": p["W1"]},
             {"dW1": X.T @ dZ1 + lam / m * p["W1"]})
    db = next(op for op in tape if op.name == "dense1.backward.db1")
    check_array("db1 has no L2 term", db.outputs["db1"], dZ1.sum(axis=0))


# -- the tracer never changes the numbers, and keeps copies -------------------------------

@pytest.mark.parametrize("opt_name", ["sgd", "momentum", "adam"])
def test_recording_tracer_is_bit_identical_to_default(opt_name):
    def run(tracer):
        model = Sequential(Dense(3, 8), ReLU(), Dropout(0.3), Dense(8, 3), seed=11, l2=0.01)
        model.tracer = tracer
        loss = SoftmaxCrossEntropy()
        opt = {"sgd": lambda ps: SGD(ps, lr=0.1), "momentum": lambda ps: SGD(ps, lr=0.1, momentum=0.9),
               "adam": lambda ps: Adam(ps, lr=0.01)}[opt_name](model.parameters())
        rng = np.random.default_rng(0)
        losses = []
        for _ in range(6):
            X, y = rng.standard_normal((10, 3)), rng.integers(0, 3, 10)
            losses.append(model.train_step(X, y, loss, opt))
        return model, losses

    plain, l_plain = run(None)
    traced, l_traced = run(RecordingTracer())
    assert l_plain == l_traced, f"losses mine(traced)={l_traced} reference(untraced)={l_plain}"
    for a, b in zip(plain.parameters(), traced.parameters()):
        assert np.array_equal(a.value, b.value), f"{a.name}: tracing changed training"
    assert plain.rng.bit_generator.state == traced.rng.bit_generator.state
    assert len(traced.tracer.tape) > 0


@pytest.mark.parametrize("copy", [True, False])
def test_tape_keeps_values_of_its_iteration(copy):
    model = mlp(seed=12)
    tracer = RecordingTracer(copy=copy)
    model.tracer = tracer
    X, y = batch(12)
    loss, opt = SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.5)
    W1_before = model.param("W1").value.copy()
    model.train_step(X, y, loss, opt)
    tape1 = tracer.tape
    snapshot = [({k: v.copy() for k, v in op.inputs.items()}, {k: v.copy() for k, v in op.outputs.items()})
                for op in tape1]
    for _ in range(3):
        model.train_step(X, y, loss, opt)
    assert tracer.tape is not tape1 and len(tracer.tape) == len(tape1)
    assert tracer.tape[0].index == 0
    for op, (ins, outs) in zip(tape1, snapshot):
        for k in ins:
            assert np.array_equal(op.inputs[k], ins[k]), f"{op.name} input {k} changed after later steps"
        for k in outs:
            assert np.array_equal(op.outputs[k], outs[k]), f"{op.name} output {k} changed after later steps"
    np.testing.assert_array_equal(tape1[0].inputs["W1"], W1_before)
    if copy:  # a copying tracer is immune even to in-place edits of the live arrays
        recorded = tracer.tape[0].inputs["W1"].copy()
        model.param("W1").value[...] = 123.0
        np.testing.assert_array_equal(tracer.tape[0].inputs["W1"], recorded)
        assert not np.shares_memory(tracer.tape[0].inputs["W1"], model.param("W1").value)


def test_copying_tracer_arrays_do_not_alias_live_arrays():
    model = mlp(seed=13)
    tracer = RecordingTracer()
    model.tracer = tracer
    X, y = batch(13)
    model.train_step(X, y, SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.1))
    first = tracer.tape[0]
    assert not np.shares_memory(first.inputs["X"], X)
    W2_op = next(op for op in tracer.tape if op.name == "dense2.update.W2")
    assert not np.shares_memory(W2_op.outputs["W2"], model.param("W2").value)
    before = W2_op.outputs["W2"].copy()
    model.param("W2").value[...] = -1.0
    np.testing.assert_array_equal(W2_op.outputs["W2"], before)
