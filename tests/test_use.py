"""`--use FILE` (issue 12): the learner's functions run in the network, every op compared with the engine's.

Pinned: which functions are swapped in; every op agrees for the reference solutions (moons, xor, bars,
segments); a planted bug in dense_backward marks the first wrong op (the TUI's listing with Pilot, the
REPL's list/where/explain, scripted and --json, `nndb trace`); `nndb train --use` reaches the engine's
accuracy with a correct file; the learner's failures (missing file, syntax error, an exception, a wrong
shape, an endless loop) each give one message naming their file and line, and the session goes on.
"""
from __future__ import annotations

import asyncio
import json
import re

import numpy as np
import pytest

from engine import RecordingTracer, load_preset
from inspector.session import Session
from lessons.cli import main
from lessons.exercises.use import UseError, learner_problem, load_learner

from exercise_solutions import BUGS, SOLUTIONS

MOONS = SOLUTIONS["dense"] + SOLUTIONS["relu"] + SOLUTIONS["softmax-ce"] + SOLUTIONS["sgd-momentum"]
MOONS_FUNCTIONS = ["relu_forward", "relu_backward", "dense_forward", "dense_backward", "softmax_ce_forward",
                   "softmax_ce_backward", "momentum_update"]


def bug(exercise: str, wrong: str) -> tuple[str, str]:
    """The (right line, wrong line) of the planted bug of ``exercise`` whose wrong line is ``wrong``."""
    return next((right, bad) for _, right, bad, _, _ in BUGS[exercise] if bad == wrong)


DW_OVER_M = bug("dense", "dW = X.T @ dZ / X.shape[0]")  # a realistic dense_backward bug: an extra 1/m


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)


def write(tmp_path, text: str, name: str = "mine.py"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def planted(*bugs) -> str:
    text = MOONS
    for right, wrong in bugs:
        assert right in text
        text = text.replace(right, wrong)
    return text


def one_iteration(problem):
    tracer = RecordingTracer()
    problem.model.tracer = tracer
    problem.model.train_step(problem.X[:4], problem.Y[:4], problem.loss, problem.optimizer)
    return tracer.tape


def cli(argv, capsys) -> tuple[int, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out + out.err


# -- the API: which functions, and op by op agreement -----------------------------------------------------------
def test_a_correct_file_swaps_its_functions_in_and_every_op_agrees(tmp_path):
    problem, used = learner_problem(load_preset("moons"), write(tmp_path, MOONS))
    assert used == MOONS_FUNCTIONS
    assert type(problem.model.layers[0]).__module__ == "lessons.exercises.use"
    assert type(problem.model.layers[0]).__name__ == "Dense"  # a saved model names the engine's layer
    tape = one_iteration(problem)
    checked = [op for op in tape if op.expected]
    assert len(checked) == len(tape) - 1  # every op but the softmax's P, which no learner function computes
    assert [op.name for op in tape if not op.expected] == ["loss.loss.P"]
    assert all(op.agreement() == {"agrees": True} for op in checked)


def test_the_learners_values_are_what_the_iteration_goes_on_with(tmp_path):
    problem, _ = learner_problem(load_preset("moons"), write(tmp_path, planted(DW_OVER_M)))
    W3 = problem.model.param("W3").value.copy()
    tape = one_iteration(problem)
    dW3 = next(op for op in tape if op.name == "dense3.backward.dW3")
    a = dW3.agreement()
    assert a["agrees"] is False and a["symbol"] == "dW3" and a["index"] == (0, 0)
    m = 4
    assert a["yours"] == pytest.approx(a["expected"] / m)  # the planted 1/m
    assert np.allclose(dW3.outputs["dW3"], dW3.expected["dW3"] / m)
    # momentum's first step: v = dW, W ← W − α·v, with the learner's dW
    assert np.allclose(problem.model.param("W3").value, W3 - 0.05 * dW3.outputs["dW3"])
    first = next(op for op in tape if op.agreement() and not op.agreement()["agrees"])
    assert first is dW3  # the first wrong op: the last layer's dW, the first backward computes


def test_stubs_left_unwritten_are_not_swapped_in(tmp_path):
    stub = (tmp_path / "stub.txt")
    from lessons.exercises import EXERCISES
    text = EXERCISES["dense"].stub_text("x") + SOLUTIONS["relu"]
    problem, used = learner_problem(load_preset("moons"), write(tmp_path, text))
    assert used == ["relu_forward", "relu_backward"]
    learner = load_learner(tmp_path / "mine.py")
    assert learner.not_written == ["dense_forward", "dense_backward"]
    assert not stub.exists()
    assert type(problem.model.layers[0]).__module__ == "engine.layers"  # nndb's dense layer stays
    tape = one_iteration(problem)
    assert [op.name for op in tape if op.expected] == ["relu1.forward.A1", "relu2.forward.A2", "relu2.backward.dZ2",
                                                        "relu1.backward.dZ1"]


@pytest.mark.parametrize("preset, exercises", [("xor", ("sigmoid", "mse", "dense")),
                                               ("bars", ("conv2d", "relu", "adam", "dense")),
                                               ("segments", ("conv2d", "maxpool", "relu", "softmax-ce"))])
def test_other_networks_agree_everywhere_with_the_reference_solutions(tmp_path, preset, exercises):
    problem, used = learner_problem(load_preset(preset), write(tmp_path, "".join(SOLUTIONS[e] for e in exercises)))
    from lessons.exercises import EXERCISES
    assert set(used) == {f for e in exercises for f in EXERCISES[e].functions} - {"mse_forward"} | (
        {"mse_forward"} if "mse" in exercises else set())
    tape = one_iteration(problem)
    checked = [op for op in tape if op.expected]
    assert checked and all(op.agreement()["agrees"] for op in checked), \
        [(op.name, op.agreement()) for op in checked if not op.agreement()["agrees"]]


def test_a_planted_adam_bug_marks_the_first_update_op(tmp_path):
    right, wrong = bug("adam", "W_new = W - lr * m_new / (np.sqrt(v_new) + eps)")
    text = SOLUTIONS["adam"].replace(right, wrong)
    problem, used = learner_problem(load_preset("bars"), write(tmp_path, text))
    assert used == ["adam_update"]
    tape = one_iteration(problem)
    wrong_ops = [op for op in tape if op.agreement() and not op.agreement()["agrees"]]
    assert wrong_ops[0].name == "conv1.update.K1" and wrong_ops[0].kind == "adam.update"
    assert all(op.agreement()["agrees"] for op in tape if op.kind in ("adam.m", "adam.v"))


# -- the learner's failures --------------------------------------------------------------------------------------
def test_files_that_cannot_be_used_get_one_message(tmp_path):
    with pytest.raises(UseError, match=r"no file .*nothing\.py"):
        load_learner(tmp_path / "nothing.py")
    with pytest.raises(UseError, match=r"SyntaxError: .*mine\.py, line 3"):
        load_learner(write(tmp_path, "import numpy as np\n\ndef relu_forward(Z)\n    return Z\n"))
    with pytest.raises(UseError, match=r"ZeroDivisionError: division by zero — mine\.py, line 2: x = 1 / 0"):
        load_learner(write(tmp_path, "import numpy as np\nx = 1 / 0\ndef relu_forward(Z):\n    return Z\n"))
    with pytest.raises(UseError, match=r"moons network uses none of your functions \(conv2d_forward"):
        learner_problem(load_preset("moons"), write(tmp_path, SOLUTIONS["conv2d"]))


def test_a_raising_function_marks_its_op_and_the_session_goes_on(tmp_path):
    text = MOONS.replace("    dW = X.T @ dZ\n", "    dW = X.T @ dZ\n    raise ValueError('not yet')\n")
    path = write(tmp_path, text)
    session = Session(lambda seed: learner_problem(load_preset("moons", seed=seed), path)[0])
    op = next(op for op in session.tape if op.name == "dense3.backward.dW3")
    a = op.agreement()
    assert a["agrees"] is False
    line = text.splitlines().index("    raise ValueError('not yet')") + 1
    assert a["mismatch"] == (f"your dense_backward: ValueError: not yet — mine.py, line {line}: "
                             f"raise ValueError('not yet')")
    assert np.array_equal(op.outputs["dW3"], op.expected["dW3"])  # nndb's values stand in
    session.start_iteration(2)  # the next iteration runs too
    assert session.current.number == 2 and np.isfinite(session.current.loss if session.current.loss else 0.0)


def test_a_wrong_shape_or_none_is_named_with_the_hint(tmp_path):
    right, wrong = bug("dense", "dW = (dZ.T @ X)")
    problem, _ = learner_problem(load_preset("moons"), write(tmp_path, planted((right, wrong))))
    op = next(op for op in one_iteration(problem) if op.name == "dense3.backward.dW3")
    assert op.agreement()["mismatch"] == ("your dense_backward: wrong shape: dW is (2, 8), expected (8, 2); "
                                          "transposed: dW is the transpose of the expected array (mine.py)")
    problem, _ = learner_problem(load_preset("moons"), write(tmp_path, MOONS.replace("return np.maximum(Z, 0.0)",
                                                                                     "np.maximum(Z, 0.0)")))
    op = next(op for op in one_iteration(problem) if op.name == "relu1.forward.A1")
    assert op.agreement()["mismatch"] == ("your relu_forward: relu_forward returned None: did you forget `return`? "
                                          "(mine.py)")


def test_an_endless_loop_is_stopped_by_the_time_limit_and_nndb_stands_in(tmp_path):
    path = write(tmp_path, SOLUTIONS["relu"].replace("    return np.maximum(Z, 0.0)",
                                                     "    while True:\n        pass"))
    learner = load_learner(path)
    learner.limit = 0.2
    problem, _ = learner_problem(load_preset("moons"), path, learner)
    tape = one_iteration(problem)
    first, second = (op for op in tape if op.kind == "relu.forward")
    assert re.fullmatch(r"your relu_forward: relu_forward did not finish within 0\.2 s \(the time limit\): an endless "
                        r"loop\? stopped at mine\.py, line \d+: (while True:|pass); nndb's code stands in for it "
                        r"from now on", first.agreement()["mismatch"]), first.agreement()["mismatch"]
    assert second.agreement()["mismatch"] == first.agreement()["mismatch"]  # not run again: no second wait
    assert all(op.agreement()["agrees"] for op in tape if op.kind == "relu.backward")


# -- the front ends ----------------------------------------------------------------------------------------------
def moons_session(path) -> Session:
    return Session(lambda seed: learner_problem(load_preset("moons", seed=seed), path)[0], source="moons")


def pilot(session, script):
    pytest.importorskip("textual")
    from inspector.tui.app import NndbApp

    app = NndbApp(session)

    async def run():
        async with app.run_test(size=(80, 24)) as p:
            await p.pause()
            await script(app, p)
    asyncio.run(run())
    return app


def listing(app) -> list[tuple[str | None, str]]:
    from inspector.tui.widgets import OpList
    ops = app.query_one("#ops", OpList)
    return [(ops.get_option_at_index(i).id, ops.get_option_at_index(i).prompt.plain) for i in range(ops.option_count)]


def test_tui_marks_the_first_wrong_op_of_a_planted_dense_backward_bug(tmp_path):
    session = moons_session(write(tmp_path, planted(DW_OVER_M)))
    seen = {}

    async def script(app, p):
        seen["rows"] = listing(app)
        from inspector.tui.widgets import OpPanel
        app.interp.run("until dense3.backward")
        app.refresh_views()
        await p.pause()
        seen["header"] = str(app.query_one(OpPanel).query_one("#equation").render())
    pilot(session, script)
    rows = seen["rows"]
    ids = [i for i, _ in rows]
    mark = ids.index("first-disagreement")
    assert ids[mark + 1] == "8"  # right above op 8, dense3's dW3
    assert rows[mark][1].startswith("✗ first disagreement: dW3[0,0]: yours -0.0159, expected -0.0636")
    by_op = {i: text for i, text in rows if i and i.isdigit()}
    assert by_op["8"].startswith("  ✗  8 dW3") and by_op["12"].startswith("  ✗ 12 dW2")
    assert by_op["9"].startswith("  ✓  9 db3") and by_op["5"].startswith("   ")  # P: nothing to compare
    assert "✗ the first disagreement of this iteration: dW3[0,0]: yours -0.0159" in seen["header"]


def test_tui_with_a_correct_file_every_op_agrees(tmp_path):
    session = moons_session(write(tmp_path, MOONS))
    seen = {}

    async def script(app, p):
        seen["rows"] = listing(app)
    pilot(session, script)
    ops = [text for i, text in seen["rows"] if i and i.isdigit()]
    assert len(ops) == 30 and "first-disagreement" not in [i for i, _ in seen["rows"]]
    assert sum(text.startswith("  ✓") for text in ops) == 29 and not any("✗" in text for text in ops)


def test_repl_script_marks_the_first_disagreement_and_explains_with_both_values(tmp_path, capsys):
    path = write(tmp_path, planted(DW_OVER_M))
    script = write(tmp_path, "list\nuntil dense3.backward\nwhere\nexplain dW3[0,0]\nstep\n", "s.txt")
    code, out = cli(["repl", "--preset", "moons", "--use", str(path), "--script", str(script)], capsys)
    assert code == 0, out
    flat = re.sub(r"\s+", " ", out)
    assert ("--use mine.py: your relu_forward, relu_backward, dense_forward, dense_backward, softmax_ce_forward, "
            "softmax_ce_backward, momentum_update run in place of nndb's") in flat
    assert "✗ first disagreement: [8] dense3.backward.dW3 dW3[0,0]: yours -0.0159, expected -0.0636 " \
           "(12 of 16 entries differ)" in flat
    assert re.search(r"✓ +7 +backward +loss +dZ3 = \(P − Y\)/m", out) and re.search(r"✗ +8 +backward +dense3", out)
    assert "= -0.0636 expected (nndb's code) yours -0.0159 ✗ differs" in flat
    assert "✓ agrees with nndb's code" in flat  # op 9, db3, after `step`


def test_repl_json_has_the_agreement_fields(tmp_path, capsys):
    path = write(tmp_path, planted(DW_OVER_M))
    script = write(tmp_path, "list\nuntil dense3.backward\nwhere\nexplain dW3[0,0]\n", "s.txt")
    code, out = cli(["repl", "--preset", "moons", "--use", str(path), "--script", str(script), "--json"], capsys)
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    listed, stop, where, explained = rows
    ops = listed["data"]["ops"]
    assert [op.get("agrees") for op in ops][:10] == [True] * 5 + [None, True, True, False, True]
    assert "agrees" not in ops[5]  # the softmax's P: nothing of the learner's to compare
    first = {"index": 8, "op": "dense3.backward.dW3",
             "message": "dW3[0,0]: yours -0.0159, expected -0.0636 (12 of 16 entries differ)"}
    assert listed["data"]["first_disagreement"] == first and where["data"]["first_disagreement"] == first
    a = stop["data"]["agreement"]
    assert a["agrees"] is False and a["symbol"] == "dW3" and a["index"] == [0, 0] and a["differ"] == 12
    assert a["yours"] == pytest.approx(a["expected"] / 4)
    assert explained["data"]["expected"] == pytest.approx(a["expected"])
    assert explained["data"]["value"] == pytest.approx(a["yours"])


def test_trace_marks_each_op_and_the_first_disagreement(tmp_path, capsys):
    code, out = cli(["trace", "--preset", "moons", "--use", str(write(tmp_path, planted(DW_OVER_M))),
                     "--no-values"], capsys)
    assert code == 0
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("✗ first disagreement: [8] dense3.backward.dW3"))
    assert lines[first + 2].startswith("[ 8] backward dense3") and lines[first + 2].endswith("dense.dW  ✗")
    assert sum(line.endswith("  ✓") for line in lines) == 26 and sum(line.endswith("  ✗") for line in lines) == 3


def test_errors_at_the_command_line_are_one_line_each(tmp_path, capsys):
    code, out = cli(["tui", "--preset", "moons", "--use", str(tmp_path / "gone.py")], capsys)
    assert code == 2 and "error: --use: no file" in out and "Traceback" not in out
    bad = write(tmp_path, "def dense_forward(X, W, b):\n    return X @ W +\n")
    code, out = cli(["repl", "--preset", "moons", "--use", str(bad)], capsys)
    assert code == 2 and re.search(r"error: --use .*mine\.py: SyntaxError: .* mine\.py, line 2", re.sub(r"\s+", " ", out))
    code, out = cli(["train", "--preset", "moons", "--use", str(write(tmp_path, SOLUTIONS["conv2d"], "c.py")),
                     "--out", str(tmp_path / "m.npz"), "--epochs", "1"], capsys)
    assert code == 2 and "this network uses none of your functions (conv2d_forward, conv2d_backward)" in \
        re.sub(r"\s+", " ", out)


# -- nndb train --use --------------------------------------------------------------------------------------------
def test_train_with_a_correct_file_reaches_the_engines_accuracy(tmp_path, capsys):
    flags = ["--preset", "moons", "--epochs", "30", "--dtype", "float64"]
    code, engine_out = cli(["train", *flags, "--out", str(tmp_path / "engine.npz")], capsys)
    assert code == 0
    engine_accuracy = re.search(r"test accuracy ([\d.]+) %", engine_out).group(1)
    code, out = cli(["train", *flags, "--use", str(write(tmp_path, MOONS)), "--out", str(tmp_path / "m.npz")], capsys)
    flat = re.sub(r"\s+", " ", out)
    assert code == 0, out
    compared = re.search(r"✓ your code agreed with nndb's on every op compared \((\d+) ops: the first batch of each "
                         r"epoch\)", flat)
    assert compared and int(compared.group(1)) >= 30 * 29  # 29 ops of the learner's in each first batch
    assert f"your implementation reached {float(engine_accuracy):.1f} % test accuracy" in flat
    from engine import load
    assert type(load(tmp_path / "m.npz").layers[0]).__module__ == "engine.layers"  # the file loads as nndb's


def test_train_with_a_bug_says_where_at_each_epoch(tmp_path, capsys):
    code, out = cli(["train", "--preset", "moons", "--epochs", "2", "--use", str(write(tmp_path, planted(DW_OVER_M))),
                     "--out", str(tmp_path / "m.npz")], capsys)
    flat = re.sub(r"\s+", " ", out)
    assert code == 0
    assert re.search(r"✗ epoch 1, first batch: dense3\.backward\.dW3 disagrees with nndb's code: dW3\[\d,\d\]: yours", flat)
    assert "✗ epoch 2, first batch: dense3.backward.dW3" in flat
    assert "✗ your code disagreed with nndb's on the first batch of epochs 1, 2" in flat
    assert re.search(r"your implementation reached \d+\.\d % test accuracy", flat)


def test_train_stops_with_the_learners_line_when_their_function_raises(tmp_path, capsys):
    text = MOONS.replace("    v_new = mu * v + dW\n", "    v_new = mu * v + dW\n    assert v_new.ndim == 3\n")
    code, out = cli(["train", "--preset", "moons", "--epochs", "2", "--use", str(write(tmp_path, text)),
                     "--out", str(tmp_path / "m.npz")], capsys)
    line = text.splitlines().index("    assert v_new.ndim == 3") + 1
    assert code == 2 and "Traceback" not in out
    assert f"error: your momentum_update: AssertionError — mine.py, line {line}: assert v_new.ndim == 3" in \
        re.sub(r"\s+", " ", out)


def test_an_interrupted_function_is_not_run_again(tmp_path):
    """Escape in the TUI (a KeyboardInterrupt raised in the worker) stops a stuck function; nndb's code
    stands in for it afterwards, so recomputing the iteration cannot get stuck there again."""
    path = write(tmp_path, SOLUTIONS["relu"].replace("    return np.maximum(Z, 0.0)",
                                                     "    raise KeyboardInterrupt"))
    learner = load_learner(path)
    problem, _ = learner_problem(load_preset("moons"), path, learner)
    with pytest.raises(KeyboardInterrupt):
        one_iteration(problem)
    assert list(learner.disabled) == ["relu_forward"]
    tape = one_iteration(learner_problem(load_preset("moons"), path, learner)[0])
    mismatch = next(op for op in tape if op.kind == "relu.forward").agreement()["mismatch"]
    assert re.fullmatch(r"your relu_forward: interrupted — mine\.py, line \d+: raise KeyboardInterrupt; nndb's code "
                        r"stands in for it from now on", mismatch), mismatch


def test_the_opening_line_says_which_functions_run_and_which_not(tmp_path, capsys):
    from lessons.exercises import EXERCISES
    text = SOLUTIONS["relu"] + SOLUTIONS["rnn"] + SOLUTIONS["adam"] + EXERCISES["sigmoid"].stub_text("x")
    code, out = cli(["trace", "--preset", "moons", "--no-values", "--use", str(write(tmp_path, text))], capsys)
    assert code == 0
    assert ("--use mine.py: your relu_forward, relu_backward run in place of nndb's; not written yet (nndb's code "
            "runs): sigmoid_forward, sigmoid_backward; not used by this network: adam_update, rnn_step_forward, "
            "rnn_backward") in re.sub(r"\s+", " ", out)  # moons has no RNN, and SGD with momentum


def test_escape_stops_a_stuck_function_in_the_tuis_worker_and_the_session_goes_on(tmp_path):
    """`train N` runs in a worker thread; the learner's relu_forward never returns on a minibatch of 16
    (the stepped iteration's 4 rows are fine); Escape stops it inside their loop, nndb's code stands in
    for it from then on, and the debugger steps on."""
    text = MOONS.replace("def relu_forward(Z):\n", "def relu_forward(Z):\n    while len(Z) > 4:\n        pass\n")
    path = write(tmp_path, text)
    learner = load_learner(path)
    session = Session(lambda seed: learner_problem(load_preset("moons", seed=seed), path, learner)[0])
    seen = {}

    async def script(app, p):
        from inspector.tui.widgets import CommandBar
        await p.press("colon")
        app.query_one(CommandBar).value = "train 3"
        await p.press("enter")
        await p.pause(0.5)
        seen["busy"] = app.busy
        await p.press("escape")
        for _ in range(100):
            if not app.busy:
                break
            await p.pause(0.05)
        seen["after"] = app.busy
        seen["step"] = app.interp.run("step").ok
    pilot(session, script)
    assert seen == {"busy": True, "after": False, "step": True}
    assert re.fullmatch(r"your relu_forward: interrupted — mine\.py, line \d+: (while len\(Z\) > 4:|pass); nndb's "
                        r"code stands in for it from now on", learner.disabled["relu_forward"])
    relu = next(op for op in session.tape if op.kind == "relu.forward")
    assert relu.agreement()["mismatch"] == learner.disabled["relu_forward"]


def test_with_json_the_learners_prints_go_to_stderr(tmp_path, capsys):
    text = ("print('loading my file')\n" + MOONS).replace("def relu_forward(Z):\n",
                                                         "def relu_forward(Z):\n    print('relu on', Z.shape)\n")
    script = write(tmp_path, "step\nlist\n", "s.txt")
    code = main(["repl", "--preset", "moons", "--use", str(write(tmp_path, text)), "--script", str(script), "--json"])
    out = capsys.readouterr()
    assert code == 0
    assert [json.loads(line)["command"] for line in out.out.splitlines()] == ["step", "list"]
    assert "loading my file" in out.err and "relu on (4, 8)" in out.err and "--use mine.py: your" in out.err


def test_nndb_tui_use_opens_with_the_line_saying_whose_code_runs(tmp_path, monkeypatch, capsys):
    import inspector.tui.app as tui_app
    opened = {}
    monkeypatch.setattr(tui_app, "run_tui", lambda session, interp=None: opened.setdefault("session", session) and 0)
    assert main(["tui", "--preset", "moons", "--use", str(write(tmp_path, planted(DW_OVER_M)))]) == 0
    session = opened["session"]
    assert session.opening_notes[0].startswith("--use mine.py: your relu_forward, relu_backward, dense_forward")
    assert [op.index for op in session.tape if op.agreement() and not op.agreement()["agrees"]] == [8, 12, 16]
    seen = {}

    async def script(app, p):
        from textual.widgets import RichLog
        seen["log"] = "\n".join(line.text for line in app.query_one("#log", RichLog).lines)
    pilot(session, script)
    assert "--use mine.py: your relu_forward" in seen["log"] and "✓/✗ beside an op" in seen["log"]


def test_l2_gradient_joins_dense_backward_when_lambda_is_set(tmp_path):
    problem, used = learner_problem(load_preset("moons"), write(tmp_path, MOONS + SOLUTIONS["l2"]))
    assert "l2_gradient" in used
    problem.model.l2 = 0.1
    tape = one_iteration(problem)
    dWs = [op for op in tape if op.kind == "dense.dW"]
    assert all("l2" in op.attrs and op.agreement() == {"agrees": True} for op in dWs)
    right, wrong = bug("l2", "return lam * W")
    problem, _ = learner_problem(load_preset("moons"), write(tmp_path, MOONS + SOLUTIONS["l2"].replace(right, wrong)))
    problem.model.l2 = 0.1
    tape = one_iteration(problem)
    first = next(op for op in tape if op.agreement() and not op.agreement()["agrees"])
    a = first.agreement()
    W3 = first.inputs["W3"]
    i, j = a["index"]
    assert first.name == "dense3.backward.dW3"
    assert a["yours"] - a["expected"] == pytest.approx(0.1 * W3[i, j] - 0.1 / 4 * W3[i, j])  # λ·W, not (λ/m)·W


@pytest.mark.parametrize("exercise, wrong, first_op", [
    ("conv2d", "Z[n, f, i, j] = np.sum(window * K[f, :, ::-1, ::-1]) + b[f]", "conv1.forward.Z1"),
    ("conv2d", "dK[f] += dZ[n, f, i, j] * window / m", "conv1.backward.dK1"),
    ("maxpool", "X[:, :, i * stride:i * stride + size - 1, j * stride:j * stride + size - 1].max(axis=(2, 3))",
     "maxpool1.forward.S1"),
    ("maxpool", "dX[n, c, i * stride + u, j * stride + v] = dS[n, c, i, j]", None)])
def test_planted_conv_and_pool_bugs_mark_their_op(tmp_path, exercise, wrong, first_op):
    right, bad = bug(exercise, wrong)
    preset = "bars" if exercise == "conv2d" else "segments"
    problem, used = learner_problem(load_preset(preset), write(tmp_path, SOLUTIONS[exercise].replace(right, bad)))
    assert used == list(__import__("lessons.exercises", fromlist=["EXERCISES"]).EXERCISES[exercise].functions)
    tape = one_iteration(problem)
    wrong_ops = [op.name for op in tape if op.agreement() and not op.agreement()["agrees"]]
    if first_op is None:  # `=` for `+=` matters only where windows overlap or a window is hit twice: not here
        assert wrong_ops == []
    else:
        assert wrong_ops[0] == first_op


# -- the RNN (one call of rnn_step_forward per step, one of rnn_backward for BPTT) and the model's L2 penalty ---
RNN_OPS = [f"rnn1.forward.h1_{t}" for t in range(8)] + ["rnn1.backward.dWx1", "rnn1.backward.dWh1", "rnn1.backward.db1"]


def test_a_correct_rnn_agrees_on_every_op_of_seq_and_is_what_the_iteration_runs(tmp_path):
    problem, used = learner_problem(load_preset("seq"), write(tmp_path, SOLUTIONS["rnn"]))
    assert used == ["rnn_step_forward", "rnn_backward"]
    rnn = problem.model.layers[0]
    assert (type(rnn).__module__, type(rnn).__name__) == ("lessons.exercises.use_rnn", "RNN")
    rnn.b[:] = 0.3  # a bias that matters (seq starts at 0)
    tape = one_iteration(problem)
    assert [op.name for op in tape if op.expected] == RNN_OPS
    assert all(op.agreement() == {"agrees": True} for op in tape if op.expected)
    # the per-step BPTT ops stay nndb's (rnn_backward returns no dh_t), unmarked, between forward and dWx1
    assert [op.name for op in tape if op.kind == "rnn.step_back" and op.agreement() is None] == \
        [f"rnn1.backward.dh1_{t}" for t in reversed(range(8))]
    h7 = next(op for op in tape if op.name == "rnn1.forward.h1_7")
    assert np.array_equal(next(op for op in tape if op.kind == "rnn.output").outputs["H1"], h7.outputs["h1_7"])


@pytest.mark.parametrize("wrong, first_op", [
    ("return np.tanh(x_t @ Wx + h_prev @ Wh)", "rnn1.forward.h1_0"),
    ("return x_t @ Wx + h_prev @ Wh + b", "rnn1.forward.h1_0"),
    ("dz = dh * (1 - H[:, t])", "rnn1.backward.dWx1"),
    ("dh += dz_next @ Wh", "rnn1.backward.dWx1"),
    ("dWh += H[:, t].T @ dz", "rnn1.backward.dWh1")])
def test_planted_rnn_bugs_mark_their_first_op(tmp_path, wrong, first_op):
    right, bad = bug("rnn", wrong)
    problem, _ = learner_problem(load_preset("seq"), write(tmp_path, SOLUTIONS["rnn"].replace(right, bad)))
    problem.model.layers[0].b[:] = 0.3
    tape = one_iteration(problem)
    wrong_ops = [op.name for op in tape if op.agreement() and not op.agreement()["agrees"]]
    assert wrong_ops[0] == first_op
    if wrong == "dWh += H[:, t].T @ dz":  # the states and the other gradients are right
        assert wrong_ops == ["rnn1.backward.dWh1"]


def test_rnn_explain_shows_nndbs_sum_beside_the_learners_value(tmp_path, capsys):
    right, wrong = bug("rnn", "dWh += H[:, t].T @ dz")
    path = write(tmp_path, SOLUTIONS["rnn"].replace(right, wrong))
    script = write(tmp_path, "until dWh1\nexplain dWh1[0,0]\n", "s.txt")
    code, out = cli(["repl", "--preset", "seq", "--use", str(path), "--script", str(script), "--json"], capsys)
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    stop, explained = rows
    a = stop["data"]["agreement"]
    assert stop["data"]["first_disagreement"]["op"] == "rnn1.backward.dWh1" and a["symbol"] == "dWh1"
    assert explained["data"]["expected"] == pytest.approx(a["expected"])
    assert explained["data"]["value"] == pytest.approx(a["yours"]) and a["yours"] != pytest.approx(a["expected"])


def test_train_with_a_correct_rnn_reaches_the_engines_accuracy(tmp_path, capsys):
    flags = ["--preset", "seq", "--epochs", "6", "--dtype", "float64"]
    code, engine_out = cli(["train", *flags, "--out", str(tmp_path / "engine.npz")], capsys)
    engine_accuracy = re.search(r"test accuracy ([\d.]+) %", engine_out).group(1)
    code, out = cli(["train", *flags, "--use", str(write(tmp_path, SOLUTIONS["rnn"])), "--out", str(tmp_path / "m.npz")],
                    capsys)
    flat = re.sub(r"\s+", " ", out)
    assert code == 0, out
    assert "✓ your code agreed with nndb's on every op compared (66 ops: the first batch of each epoch)" in flat
    assert f"your implementation reached {float(engine_accuracy):.1f} % test accuracy" in flat


def test_l2_penalty_is_the_learners_in_the_penalty_op_when_lambda_is_set(tmp_path):
    problem, used = learner_problem(load_preset("moons"), write(tmp_path, SOLUTIONS["l2"]))
    assert used == ["l2_penalty", "l2_gradient"]
    problem.model.l2 = 0.1
    penalty = next(op for op in one_iteration(problem) if op.kind == "l2.penalty")
    assert penalty.agreement() == {"agrees": True}
    right, wrong = bug("l2", "return lam / m * sum")  # twice the penalty
    problem, _ = learner_problem(load_preset("moons"), write(tmp_path, SOLUTIONS["l2"].replace(right, wrong)))
    problem.model.l2 = 0.1
    tape = one_iteration(problem)
    penalty = next(op for op in tape if op.kind == "l2.penalty")
    a = penalty.agreement()
    data_loss = float(penalty.inputs["L"])
    assert penalty.name == "l2.loss.L" and a["agrees"] is False and a["symbol"] == "L"
    assert a["yours"] - data_loss == pytest.approx(2 * (a["expected"] - data_loss))
    assert [op.name for op in tape if op.agreement() and not op.agreement()["agrees"]] == ["l2.loss.L"]
    problem.model.l2 = 0.0  # no penalty: the learner's function is not called, no op
    assert not any(op.kind == "l2.penalty" for op in one_iteration(problem))


def test_stacked_rnns_many_to_many_with_l2_agree_and_pass_dX_down(tmp_path):
    import dataclasses
    from engine import optim
    from engine.layers import Dense
    from engine.model import Sequential
    from engine.recurrent import RNN
    model = Sequential(RNN(1, 4, return_sequences=True, seed=1), RNN(4, 3, seed=2), Dense(3, 2), seed=0, l2=0.1)
    problem = dataclasses.replace(load_preset("seq"), model=model, optimizer=optim.SGD(model.parameters(), lr=0.1))
    problem, used = learner_problem(problem, write(tmp_path, SOLUTIONS["rnn"]))
    tape = one_iteration(problem)
    compared = [op.name for op in tape if op.expected]
    assert compared[-7:] == ["rnn2.backward.dWx2", "rnn2.backward.dWh2", "rnn2.backward.db2", "rnn2.backward.dH1",
                             "rnn1.backward.dWx1", "rnn1.backward.dWh1", "rnn1.backward.db1"]
    assert len(compared) == 2 * 8 + 7 and all(op.agreement() == {"agrees": True} for op in tape if op.expected)


def test_an_op_whose_code_and_reference_both_give_nan_agrees_and_a_lone_nan_does_not():
    """Diverged weights make both computations NaN: that is agreement, not the learner's bug."""
    from engine.trace import Op
    both = Op("forward", "dense1", "dense.forward", "Z1 = X·W1 + b1", {}, {"Z1": np.array([[np.nan, 1.0]])},
              expected={"Z1": np.array([[np.nan, 1.0]])})
    assert both.agreement() == {"agrees": True}
    lone = Op("forward", "dense1", "dense.forward", "Z1 = X·W1 + b1", {}, {"Z1": np.array([[np.nan, 1.0]])},
              expected={"Z1": np.array([[0.5, 1.0]])})
    verdict = lone.agreement()
    assert (verdict["agrees"], verdict["index"], verdict["differ"]) == (False, (0, 0), 1)
