"""Build-it-yourself exercises (issue 12): stubs, `nndb check` on reference solutions and planted bugs,
the learner's failures (exceptions, None, wrong shape, an endless loop), --json, and the status."""
from __future__ import annotations

import ast
import json
import re

import numpy as np
import pytest

from lessons.cli import main
from lessons.exercises import EXERCISES
from lessons.exercises.checker import check_file, run_isolated
from lessons.exercises.cli import StatusStore
from lessons.exercises.reference import FUNCTIONS

from exercise_solutions import BUGS, SOLUTIONS

TABLE = {  # the table: IDs and signatures, exactly
    "sigmoid": ["sigmoid_forward(Z)", "sigmoid_backward(dA, Z)"],
    "relu": ["relu_forward(Z)", "relu_backward(dA, Z)"],
    "dense": ["dense_forward(X, W, b)", "dense_backward(dZ, X, W, b)"],
    "softmax-ce": ["softmax_ce_forward(Z, Y)", "softmax_ce_backward(Z, Y)"],
    "mse": ["mse_forward(A, Y)", "mse_backward(A, Y)"],
    "l2": ["l2_penalty(Ws, lam, m)", "l2_gradient(W, lam, m)"],
    "sgd-momentum": ["momentum_update(W, dW, v, lr, mu)"],
    "adam": ["adam_update(W, dW, m, v, t, lr, beta1, beta2, eps)"],
    "conv2d": ["conv2d_forward(X, K, b, stride, pad)", "conv2d_backward(dZ, X, K, b, stride, pad)"],
    "maxpool": ["maxpool_forward(X, size, stride)", "maxpool_backward(dS, X, size, stride)"],
    "rnn": ["rnn_step_forward(x_t, h_prev, Wx, Wh, b)", "rnn_backward(dH, X, H, h0, Wx, Wh, b)"],
    "vectorize": ["dense_forward_vectorized(X, W, b)"],
}


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)


def run(argv, capsys):
    code = main(argv)
    return code, capsys.readouterr().out


def write(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_stubs_have_the_tables_signatures_docstrings_and_no_solution(tmp_path):
    assert list(EXERCISES) == list(TABLE)
    for ex_id, signatures in TABLE.items():
        text = EXERCISES[ex_id].stub_text(f"nndb-exercises/{ex_id}.py")
        tree = ast.parse(text)
        defs = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
        for sig in signatures:
            name = sig.split("(")[0]
            f = defs[name]
            assert f"{name}({', '.join(a.arg for a in f.args.args)})" == sig
            assert FUNCTIONS[name].signature == sig
            doc = ast.get_docstring(f)
            assert "Returns" in doc and "=" in doc, name  # what to return, and the equation
            for arg in FUNCTIONS[name].args:
                assert arg in doc, (name, arg)  # every argument is described
            body = f.body[1:]  # after the docstring: raise NotImplementedError, nothing else
            assert len(body) == 1 and isinstance(body[0], ast.Raise), name
        assert "# TODO" in text
        assert f"nndb check nndb-exercises/{ex_id}.py" in text


def test_exercise_writes_a_stub_and_never_overwrites(tmp_path, capsys):
    code, out = run(["exercise", "relu"], capsys)
    path = tmp_path / "nndb-exercises" / "relu.py"
    assert code == 0 and path.exists() and "wrote nndb-exercises/relu.py" in out
    path.write_text("# mine\n", encoding="utf-8")
    code, out = run(["exercise", "relu"], capsys)
    assert code == 0 and "already exists (not overwritten)" in out and "nndb-exercises/relu.py" in out
    assert path.read_text(encoding="utf-8") == "# mine\n"
    code, out = run(["exercise", "dense", "--dir", str(tmp_path / "elsewhere")], capsys)
    assert (tmp_path / "elsewhere" / "dense.py").exists()


def test_untouched_stub_fails_clearly_and_the_listing_shows_status(tmp_path, capsys):
    code, out = run(["exercise", "sigmoid", "--check"], capsys)
    assert code == 1
    assert "✗ sigmoid_forward  not written yet" in out and "NotImplementedError" in out
    assert "sigmoid.py, line" in out and "Traceback" not in out and "lessons/" not in out
    code, out = run(["exercises"], capsys)
    assert code == 0
    assert re.search(r"sigmoid .*failing \(0/2 pass\)", out.replace("\n", " "))
    assert "not started" in out
    write(tmp_path / "nndb-exercises", "sigmoid.py", SOLUTIONS["sigmoid"])
    assert run(["check", "nndb-exercises/sigmoid.py"], capsys)[0] == 0
    assert StatusStore().status("sigmoid") == "passing"
    assert re.search(r"sigmoid .*passing", run(["exercises"], capsys)[1].replace("\n", " "))


def test_every_reference_solution_passes(tmp_path, capsys):
    # one file holding every exercise (checked in one call), and each exercise named by its own file
    whole = write(tmp_path, "all.py", "\n".join(SOLUTIONS.values()))
    code, out = run(["check", str(whole), "--json"], capsys)
    results = [json.loads(line) for line in out.splitlines()]
    assert {r["function"] for r in results} == set(FUNCTIONS)
    failed = [r for r in results if not r["passed"]]
    assert not failed, failed
    assert code == 0
    for r in results:
        for out_name, g in (r.get("gradcheck") or {}).items():
            assert g["relative_error"] < 1e-6, (r["function"], out_name, g)
    backward = {r["function"]: r for r in results}
    assert set(backward["rnn_backward"]["gradcheck"]) == {"dX", "dWx", "dWh", "db", "dh0"}
    assert set(backward["conv2d_backward"]["gradcheck"]) == {"dX", "dK", "db"}
    t = backward["dense_forward_vectorized"]["timings"]
    assert t["loop_s"] > t["vectorized_s"] > 0


@pytest.mark.parametrize("ex_id", list(BUGS))
def test_planted_bugs_are_caught_with_array_and_element(tmp_path, ex_id):
    assert len(BUGS[ex_id]) >= 3
    for k, (function, old, new, array, hint) in enumerate(BUGS[ex_id]):
        assert old in SOLUTIONS[ex_id], (ex_id, old)
        path = write(tmp_path, f"bug{k}.py", SOLUTIONS[ex_id].replace(old, new, 1))
        r = run_isolated(path.resolve(), function, limit=10)
        assert r["status"] == "fail", (ex_id, new, r)
        assert r["array"] == array, (ex_id, new, r)
        if "wrong shape" not in r["message"]:
            index = "[" + ",".join(map(str, r["index"])) + "]" if r["index"] else ""
            assert r["message"].startswith(f"{array}{index}: yours "), r["message"]
            assert "expected" in r["message"] and r["case"]
        if hint:
            assert hint in (r.get("hint") or ""), (ex_id, new, r.get("hint"))


def test_the_failure_writes_the_element_out_with_the_engines_equation(tmp_path, capsys):
    bug = SOLUTIONS["dense"].replace("dW = X.T @ dZ", "dW = X.T @ dZ / X.shape[0]")
    path = write(tmp_path / "nndb-exercises", "dense.py", bug)
    code, out = run(["check", str(path)], capsys)
    assert code == 1
    assert "✓ dense_forward" in out
    assert re.search(r"✗ dense_backward  dW\[0,0\]: yours [-\d.]+, expected [-\d.]+", out)
    assert re.search(r"dW\[0,0\] = Σᵢ X\[i,0\]·dZ\[i,0\] = .*·.* = ", out.replace("\n", ""))
    assert "hint: divided by m once too often (m = 4)" in out
    assert "gradient check of dW" in out and "wrong" in out


def test_json_fields(tmp_path, capsys):
    bug = SOLUTIONS["relu"].replace("return dA * (Z > 0)", "return dA * (Z >= 0)")
    path = write(tmp_path, "relu.py", bug)
    code, out = run(["check", str(path), "--json"], capsys)
    assert code == 1
    first, second = (json.loads(line) for line in out.splitlines())
    assert first == {**first, "passed": True, "status": "pass", "function": "relu_forward", "exercise": "relu"}
    assert second["status"] == "fail" and second["passed"] is False
    assert second["array"] == "dZ" and second["case"] == "Z exactly 0"
    assert isinstance(second["index"], list) and isinstance(second["yours"], float)
    assert second["explanation"].startswith("dZ[") and "Z > 0" in second["hint"]
    assert second["file"] == str(path.resolve())


LEARNER_FAILURES = {
    "exception": ("def relu_forward(Z):\n    return Z[0, 0] / 0 + undefined_name\n", "error",
                  r"NameError: name 'undefined_name' is not defined — bad\.py, line 2: return Z\[0, 0\] / 0"),
    "None": ("def relu_forward(Z):\n    A = Z * (Z > 0)\n", "fail", r"returned None: did you forget `return`\?"),
    "shape": ("import numpy as np\ndef relu_forward(Z):\n    return np.maximum(Z, 0).ravel()\n", "fail",
              r"wrong shape: A is \(12,\), expected \(4, 3\)"),
    "dtype": ("import numpy as np\ndef relu_forward(Z):\n    return np.maximum(Z, 0).astype(np.float32)\n", "fail",
              r"wrong dtype: A is float32, expected float64"),
    "list": ("def relu_forward(Z):\n    return [[max(z, 0) for z in row] for row in Z]\n", "fail",
             r"A must be an array of shape \(4, 3\), got a list"),
    "loop": ("def relu_forward(Z):\n    while True:\n        Z = Z + 1\n", "timeout",
             r"did not finish within 1 s \(the time limit\).*stopped at bad\.py, line [23]: (while True:|Z = Z \+ 1)"),
    "import": ("import numpy as np\nraise RuntimeError('boom')\n\ndef relu_forward(Z):\n    return Z\n", "error",
               r"RuntimeError: boom — bad\.py, line 2: raise RuntimeError\('boom'\) while loading the file"),
    "syntax": ("def relu_forward(Z)\n    return Z\n", "error", r"SyntaxError: .* bad\.py, line 1"),
    "exit": ("import os\ndef relu_forward(Z):\n    os._exit(3)\n", "error", r"ended the process \(exit code 3\)"),
    "in place": ("import numpy as np\ndef relu_forward(Z):\n    np.maximum(Z, 0, out=Z)\n    return Z\n", "fail",
                 r"changed its argument Z in place"),
}


@pytest.mark.parametrize("kind", list(LEARNER_FAILURES))
def test_the_learners_failures_each_get_one_clear_message(tmp_path, kind):
    source, status, pattern = LEARNER_FAILURES[kind]
    path = write(tmp_path, "bad.py", source)
    (r,) = check_file(path, limit=1.0)
    assert r["status"] == status, r
    assert re.search(pattern, r["message"]), r["message"]
    assert "Traceback" not in r["message"] and "lessons/" not in r["message"]


def test_missing_functions_and_files(tmp_path, capsys):
    path = write(tmp_path / "x", "dense.py", SOLUTIONS["dense"].split("def dense_backward")[0])
    results = check_file(path)
    assert [r["status"] for r in results] == ["pass", "missing"]
    assert "has no function dense_backward(dZ, X, W, b)" in results[1]["message"]
    other = write(tmp_path, "notes.py", "x = 1\n")
    (r,) = check_file(other)
    assert r["status"] == "missing" and "none of the exercises' functions" in r["message"]
    code, out = run(["check", "nope.py"], capsys)
    assert code == 2 and "no file nope.py" in out


def test_hints_of_the_usual_causes():
    from lessons.exercises.checker import value_hint
    spec, case = FUNCTIONS["dense_backward"], FUNCTIONS["dense_backward"].cases()[0]
    e = np.arange(1.0, 7.0).reshape(3, 2)
    assert "sign" in value_hint(spec, case, 0, "dW", -e, e, [])
    assert "missing 1/m (m = 4)" in value_hint(spec, case, 0, "dW", 4 * e, e, [])
    square = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert "transposed" in value_hint(spec, case, 0, "dW", square.T, square, [])
    assert "not finite" in value_hint(spec, case, 0, "dW", e * np.nan, e, [])


def test_json_stays_json_when_the_learner_prints(tmp_path, capfd):
    path = write(tmp_path, "mse.py", SOLUTIONS["mse"].replace("def mse_forward(A, Y):\n",
                                                             "def mse_forward(A, Y):\n    print('debug', A.shape)\n"))
    assert main(["check", str(path), "--json"]) == 0
    out, err = capfd.readouterr()
    assert [json.loads(line)["passed"] for line in out.splitlines()] == [True, True]
    assert "debug (4, 3)" in err


def test_the_listing_says_when_a_stub_exists_unchecked(tmp_path, capsys):
    run(["exercise", "adam"], capsys)
    code, out = run(["exercises"], capsys)
    assert re.search(r"adam .*not started \(stub written\)", out.replace("\n", " "))


def test_bad_status_file_timeouts_encodings_and_folders_get_one_message(tmp_path, capsys):
    """A hand-edited exercises.json, --timeout nan/-1, a non-UTF-8 file and a --dir that is a file:
    each one message, never a traceback."""
    status = tmp_path / "state" / "nndb" / "exercises.json"
    status.parent.mkdir(parents=True)
    status.write_text(json.dumps({"version": 1, "exercises": {"relu": {"status": "weird"},
                                                              "dense": {"status": "failing", "functions": [1]}}}))
    code, out = run(["exercises"], capsys)
    assert code == 0 and "relu" in out and "weird" not in out
    for bad in ("nan", "-1", "1e30"):
        with pytest.raises(SystemExit) as e:
            main(["check", "x.py", "--timeout", bad])
        assert e.value.code == 2 and "--timeout" in capsys.readouterr().err
    binary = tmp_path / "relu.py"
    binary.write_bytes(b"\xff\xfe not text")
    code, out = run(["check", str(binary)], capsys)
    assert code == 1 and "not UTF-8 text" in out
    (tmp_path / "afile").write_text("")
    code, out = run(["exercise", "relu", "--dir", str(tmp_path / "afile" / "sub")], capsys)
    assert code == 2 and "cannot write" in out and "Not a directory" in out


@pytest.mark.parametrize("ex_id, wrong, written", [
    ("rnn", "return np.tanh(x_t @ Wx + h_prev @ Wh)", "h_t[0,0] = tanh(Σₖ x_t[0,k]·Wx[k,0] + Σₖ h_prev[0,k]·Wh[k,0] + b[0])"),
    ("rnn", "dz = dh * (1 - H[:, t])", "dX[0,0,0] = Σⱼ dz[0,0,j]·Wx[0,j]"),
    ("l2", "return lam / m * sum", "L ← L + (λ/2m)·Σ‖W‖²"),
    ("l2", "return lam * W", "dW[0,0] = Σᵢ X[i,0]·dZ[i,0] + (λ/m)·W[0,0]")])
def test_rnn_and_l2_failures_write_the_element_with_its_numbers(tmp_path, ex_id, wrong, written):
    function, right, bad, array, _ = next(b for b in BUGS[ex_id] if b[2] == wrong)
    r = run_isolated(write(tmp_path, f"{ex_id}.py", SOLUTIONS[ex_id].replace(right, bad, 1)).resolve(), function, limit=10)
    assert r["status"] == "fail" and r["array"] == array
    formula, _, value = r["explanation"].rpartition(" = ")
    assert formula.startswith(written + " = ")
    assert float(value) == pytest.approx(r["expected"], rel=1e-3, abs=1e-4)  # the sum written is the expected value
