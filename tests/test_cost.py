"""The cost view (issue 14): FLOP formulas against hand counts, the roofline cache, the GPU
estimate's arithmetic, the `cost` command's JSON and errors. No timing is ever a pass/fail test."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from rich.console import Console

from engine import RecordingTracer
from engine.conv import AvgPool2D, Flatten, MaxPool2D
from engine.layers import Dense
from engine.losses import MSE, BinaryCrossEntropy, SoftmaxCrossEntropy
from engine.model import Sequential
from engine.optim import SGD, Adam
from engine.recurrent import LSTM, RNN
from inspector import roofline as R
from inspector.commands import Interpreter
from inspector.complete import Names, complete
from inspector.cost import cost_report, owner
from inspector.render import render_result
from inspector.sources import open_preset
from session_helpers import diff_fingerprints, fingerprint
from conftest import REPO

MACHINE = {"gflops": 50.0, "gbps": 10.0}


def traced(model, X, Y, loss=None, optimizer=None):
    loss = loss or SoftmaxCrossEntropy()
    optimizer = optimizer or SGD(model.parameters(), lr=0.1)
    tracer = RecordingTracer()
    model.tracer = tracer
    model.train_step(X, Y, loss, optimizer)
    model.tracer = None
    return tracer.tape, loss, optimizer


def flops_of(tape, model, loss, optimizer):
    return [(op, owner(op, model, loss, optimizer).op_cost(op)["flops"]) for op in tape]


# -- FLOPs by hand -----------------------------------------------------------------------------------
@pytest.mark.parametrize("k, s", [(2, 2), (3, 1), (2, 1)])
def test_pooling_and_flatten_flops_by_hand(k, s):
    m, C, H, W = 2, 3, 6, 6
    oh, ow = (H - k) // s + 1, (W - k) // s + 1
    S = m * C * oh * ow
    for pool, fwd, bwd in ((MaxPool2D(k, s), (k * k - 1) * S, k * k * S),  # comparisons
                           (AvgPool2D(k, s), k * k * S, (k * k + 1) * S)):   # adds and a divide
        model = Sequential(pool, Flatten(), Dense(C * oh * ow, 2), seed=0)
        rng = np.random.default_rng(0)
        tape, loss, opt = traced(model, rng.normal(size=(m, C, H, W)), np.array([0, 1]))
        model.layers[2].need_dX = True
        got = {op.kind: f for op, f in flops_of(tape, model, loss, opt)}
        assert got[f"{pool.kind}.forward"] == fwd and got["flatten.forward"] == 0
        assert pool.op_cost(next(op for op in tape if op.kind == f"{pool.kind}.backward"))["flops"] == bwd


@pytest.mark.parametrize("cls, step, back", [(RNN, (2, 1), (3, 1)), (LSTM, (20, 6), (22, 3))])
def test_recurrent_flops_by_hand(cls, step, back):
    """Products 2·r·k·c; a step's elementwise math per example and hidden unit, counted in the code."""
    m, T, n_in, n, k = 3, 4, 2, 5, 6
    g = n * (4 if cls is LSTM else 1)
    model = Sequential(RNN(n_in, k, return_sequences=True), cls(k, n), Dense(n, 2), seed=0, l2=0.1)
    rng = np.random.default_rng(1)
    tape, loss, opt = traced(model, rng.normal(size=(m, T, n_in)), np.array([0, 1, 0]))
    layer = model.layers[1]
    mine = [(op, f) for op, f in flops_of(tape, model, loss, opt) if op.layer == layer.name and op.phase != "update"]
    for op, flops in mine:
        what = op.kind.rpartition(".")[2]
        if what == "step":
            expected = 2 * m * k * g + m * n * step[0] + (2 * m * n * g + m * n * step[1] if op.t > 0 else 0)
        elif what == "step_back":
            expected = m * n * back[0] + (2 * m * g * n + m * n * back[1] if op.t < T - 1 else 0)
        else:
            expected = {"output": 0, "dWx": 2 * m * T * k * g + 2 * k * g, "dWh": 2 * m * (T - 1) * n * g + 2 * n * g,
                        "db": m * T * g, "dX": 2 * m * T * g * k}[what]
        assert flops == expected, (op.name, flops, expected)
    assert {op.kind.rpartition(".")[2] for op, _ in mine} == {"step", "output", "step_back", "dWx", "dWh", "db", "dX"}


@pytest.mark.parametrize("loss, Y, per", [
    (SoftmaxCrossEntropy(), np.array([0, 2, 1, 0]), {"softmax": 6, "loss": 2, "backward": 2}),
    (MSE(), np.ones((4, 3)), {"loss": 3, "backward": 2}),
    (BinaryCrossEntropy(), np.ones((4, 3)), {"sigmoid": 4, "loss": 9, "backward": 2})])
def test_loss_flops_by_hand(loss, Y, per):
    model = Sequential(Dense(2, 3), seed=0)
    tape, loss, opt = traced(model, np.ones((4, 2)), Y, loss)
    got = {op.kind.rpartition(".")[2]: f for op, f in flops_of(tape, model, loss, opt) if op.layer == "loss"}
    assert got == {what: k * 4 * 3 for what, k in per.items()}  # k FLOPs per element of the 4×3 output


@pytest.mark.parametrize("make, per", [
    (lambda p: SGD(p, lr=0.1), {"sgd.update": 2}),
    (lambda p: SGD(p, lr=0.1, momentum=0.9), {"momentum.velocity": 2, "momentum.update": 2}),
    (lambda p: SGD(p, lr=0.1, momentum=0.9, nesterov=True), {"momentum.velocity": 2, "nesterov.update": 4}),
    (lambda p: Adam(p), {"adam.m": 3, "adam.v": 4, "adam.update": 7})])
def test_optimizer_and_l2_flops_by_hand(make, per):
    model = Sequential(Dense(3, 4), Dense(4, 2), seed=0, l2=0.5)
    opt = make(model.parameters())
    tape, loss, opt = traced(model, np.ones((5, 3)), np.array([0, 1, 0, 1, 1]), optimizer=opt)
    sizes = {"W1": 12, "b1": 4, "W2": 8, "b2": 2}
    for op, flops in flops_of(tape, model, loss, opt):
        if op.phase == "update":
            assert flops == per[op.kind] * sizes[op.roles["W"] if "W" in op.roles else op.roles["dW"][1:]], op.name
        if op.kind == "l2.penalty":
            assert flops == 2 * (12 + 8)  # a square and an add per weight, not the biases


def test_every_op_of_every_offline_preset_has_a_cost():
    from engine import load_preset
    for name in ("xor", "moons", "spiral", "seq", "seq-lstm", "bars", "segments"):
        p = load_preset(name, seed=0)
        tape, _, _ = traced(p.model, p.X[:4], p.Y[:4], p.loss, p.optimizer)
        for op, flops in flops_of(tape, p.model, p.loss, p.optimizer):
            assert isinstance(flops, int) and flops >= 0, (name, op.name)


# -- the roofline --------------------------------------------------------------------------------------
def test_the_roofline_cache_is_written_reused_and_remeasured_when_corrupt(tmp_path):
    path = tmp_path / "nndb" / "roofline.json"
    calls = []

    def fake():
        calls.append(1)
        return {"gflops": 80.0, "gbps": 20.0, "dtype": "float64"}
    first = R.roofline(path=path, measure=fake)
    assert first["source"] == "measured" and first["balance"] == 4.0 and len(calls) == 1
    assert json.loads(path.read_text())["gflops"] == 80.0
    again = R.roofline(path=path, measure=fake)
    assert again["source"] == "cache" and again["gbps"] == 20.0 and len(calls) == 1
    for junk in ("{not json", '{"gflops": -1, "gbps": 3}', '["x"]', ""):
        path.write_text(junk)
        assert R.roofline(path=path, measure=fake)["source"] == "measured"
        assert json.loads(path.read_text())["gflops"] == 80.0  # rewritten whole
    assert len(calls) == 5 and list(path.parent.iterdir()) == [path]  # no temporary file left
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert R.roofline(path=blocked / "roofline.json", measure=fake)["source"] == "measured"  # cannot write: no crash
    assert R.roofline(figures=MACHINE)["source"] == "given"
    with pytest.raises(ValueError):
        R.roofline(figures={"gflops": 0, "gbps": 1})


def test_the_cache_lives_in_the_xdg_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert R.cache_path() == tmp_path / "nndb" / "roofline.json"


def test_an_op_is_compute_or_memory_bound_by_its_intensity():
    machine = R.roofline(figures=MACHINE)  # balance 5 FLOP/byte
    hot = R.place(flops=1000, nbytes=100, seconds=1e-6, machine=machine)  # 10 FLOP/byte, 1 GFLOP/s
    assert hot["bound"] == "compute" and hot["limit_gflops"] == 50.0 and hot["of_limit"] == pytest.approx(1 / 50)
    cold = R.place(flops=100, nbytes=1000, seconds=1e-6, machine=machine)  # 0.1 FLOP/byte, 1 GB/s
    assert cold["bound"] == "memory" and cold["limit_gflops"] == pytest.approx(1.0)
    assert cold["of_limit"] == pytest.approx(1 / 10)


def test_the_gpu_estimate_follows_the_table():
    ops = [{"flops": 2e9, "bytes": 1e6}, {"flops": 10, "bytes": 4e9}, {"flops": 0, "bytes": 0}]
    gpu = {"name": "G", "peak_gflops": 1000.0, "gbps": 500.0, "launch_us": 10.0}
    (est,) = R.gpu_estimate(ops, cpu_seconds=1.0, gpus=[gpu])
    work = 2e9 / 1e12 + 4e9 / 500e9  # compute-bound 2 ms, memory-bound 8 ms, nothing
    assert est["seconds"] == pytest.approx(3 * 10e-6 + work)
    assert est["launch_share"] == pytest.approx(30e-6 / est["seconds"])
    assert est["speedup"] == pytest.approx(1.0 / est["seconds"])
    names = [g["name"] for g in R.GPUS]
    assert len(names) >= 3 and all(5 <= g["launch_us"] <= 10 for g in R.GPUS)


def test_batch_4_is_launch_bound_and_batch_1024_pays_off():
    """The estimate's point, from the arithmetic alone: same ops, 256× the work."""
    small = [{"flops": 2 * 4 * 784 * 128, "bytes": 8 * (4 * 784 + 784 * 128)}] * 20
    big = [{"flops": 2 * 1024 * 784 * 128, "bytes": 8 * (1024 * 784 + 784 * 128)}] * 20
    for g in R.gpu_estimate(small, 1.0):
        assert g["launch_share"] > 0.5
    for g in R.gpu_estimate(big, 1.0):
        assert g["seconds"] < 20 * R.GPUS[0]["launch_us"] * 1e-6 * 20


# -- the command -------------------------------------------------------------------------------------
@pytest.fixture
def cached(tmp_path, monkeypatch):
    """A roofline cache with known figures, so no test runs the probe."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "nndb").mkdir()
    (tmp_path / "nndb" / "roofline.json").write_text(json.dumps(MACHINE))
    return tmp_path


def documented(kind: str) -> str:
    doc = (REPO / "docs" / "json.md").read_text()
    start = doc.index(f"### `{kind}`")
    return doc[start:doc.index("\n### ", start + 1)]


def test_cost_json_has_the_documented_fields(cached):
    s = open_preset("moons")
    r = Interpreter(s).run("cost")
    assert r.ok and r.kind == "cost", r.message
    data = json.loads(json.dumps(r.to_json()))["data"]
    section = documented("cost")
    for field in data:
        assert f"`{field}`" in section, field
    assert [op["name"] for op in data["ops"]] == [op.name for op in s.tape]
    for op in data["ops"]:
        assert {"name", "kind", "flops", "bytes", "seconds"} <= set(op)
        for field in op:
            assert f"`{field}`" in section, field
        assert op["bytes"] == op["bytes_read"] + op["bytes_written"]
    assert set(data["totals"]) == {"forward", "loss", "backward", "update", "iteration"}
    for name, t in data["totals"].items():
        assert set(t) == {"ops", "flops", "bytes", "seconds", "share"}
        assert all(f"`{f}`" in section for f in t)
    assert data["totals"]["iteration"]["flops"] == sum(op["flops"] for op in data["ops"])
    assert data["machine"]["source"] == "cache" and data["machine"]["balance"] == 5.0
    for sub in ("epoch", "machine", "backward_forward"):
        assert all(f"`{f}`" in section for f in data[sub]), sub
    assert all(f"`{f}`" in section for g in data["gpu"] for f in g)
    assert data["epoch"]["iterations"] == -(-len(s.problem.X) // 4)


def test_cost_flops_match_the_layers_formulas(cached):
    s = open_preset("xor")  # 2 → 2 → 1 … whatever the preset: the formula, not the numbers
    data = cost_report(s, machine=MACHINE, budget=0.01)
    dense = {l.name: l for l in s.model.layers if isinstance(l, Dense)}
    for op in data["ops"]:
        if op["kind"] == "dense.forward":
            layer = dense[op["layer"]]
            assert op["flops"] == 2 * 4 * layer.n_in * layer.n_out


def test_cost_batch_and_loop_leave_the_session_unchanged(cached):
    s = open_preset("moons")
    interp = Interpreter(s)
    interp.run("step 3")
    before = fingerprint(s)
    big = interp.run("cost --batch 64")
    assert big.ok and big.data["batch"] == 64 and big.data["drawn"]
    assert big.data["epoch"]["iterations"] == -(-len(s.problem.X) // 64)
    loop = interp.run("cost --loop --batch 8")
    assert loop.ok and loop.kind == "vectorize" and loop.data["same"] and loop.data["batch"] == 8
    assert diff_fingerprints(before, fingerprint(s)) == []


def test_cost_loop_compares_three_forms_of_the_dense_layer(cached):
    s = open_preset("moons")
    interp = Interpreter(s)
    interp.run("until dense2.forward")
    d = interp.run("cost --loop").data
    assert d["layer"] == "dense2"  # the layer the cursor is in
    layer = s.model.layer("dense2")
    assert (d["n_in"], d["n_out"], d["batch"]) == (layer.n_in, layer.n_out, 4)
    assert d["flops"] == 2 * 4 * layer.n_in * layer.n_out
    assert [f["form"] for f in d["forms"]] == ["matrix", "examples", "pairs"]
    assert [f["calls"] for f in d["forms"]] == [1, 4, 4 * layer.n_out] and d["same"]
    section = documented("vectorize")
    assert all(f"`{f}`" in section for f in d) and all(f"`{f}`" in section for f in d["forms"][0])


@pytest.mark.parametrize("line, says", [
    ("cost --batch 0", "--batch needs a whole number ≥ 1, got '0'"),
    ("cost --batch x", "--batch needs a whole number ≥ 1, got 'x'"),
    ("cost --batch", "--batch needs a number of examples"),
    ("cost --bogus", "unknown option '--bogus'"),
    ("cost 12", "unknown option '12'"),
    ("cost --batch 10000000", "--batch must be between 1 and"),
])
def test_bad_cost_input_is_one_clear_error(cached, line, says):
    s = open_preset("xor")
    before = fingerprint(s)
    r = Interpreter(s).run(line)
    assert not r.ok and r.kind == "error" and says in r.message and r.message.count("\n") == 0
    assert r.data["usage"] == "cost [--batch N] [--loop]"
    assert diff_fingerprints(before, fingerprint(s)) == []


def test_completion_and_help_come_from_the_declaration():
    offered = [c.text for c in complete("cost --", Names())]
    assert offered == ["--batch", "--loop"]
    assert [c.text for c in complete("cost --batch 4 --l", Names())] == ["--loop"]
    assert "cost" in [c.text for c in complete("cos", Names())]
    r = Interpreter(open_preset("xor")).run("help cost")
    assert r.data["commands"][0]["usage"] == "cost [--batch N] [--loop]" and "GPU" in r.data["commands"][0]["help"]


@pytest.mark.parametrize("line", ["cost", "cost --loop"])
def test_the_cost_view_reads_at_80_columns(cached, line):
    s = open_preset("seq" if line == "cost" else "moons")
    console = Console(width=80, record=True, color_system=None)
    for part in render_result(Interpreter(s).run(line)):
        console.print(part)
    text = console.export_text()
    assert max(len(l) for l in text.splitlines()) <= 80
    if line == "cost":
        assert "GPU estimate — not measured" in text and "rnn1.forward.h1_0" in text and "backward/forward" in text
    else:
        assert re.search(r"pairs +for i, j", text) and "same result" in text
