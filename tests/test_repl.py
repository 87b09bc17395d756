"""The REPL through prompt_toolkit's pipe input, and `nndb repl` scripted and JSON modes through a subprocess."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from engine import load_preset
from inspector.render import fmt
from inspector.repl import SessionCompleter, repl, run_script, state_dir, toolbar
from inspector.sources import open_preset
from session_helpers import check_array

REPO = Path(__file__).resolve().parent.parent


def xor_W1() -> np.ndarray:
    return load_preset("xor", seed=0).model.param("W1").value.copy()


def drive(session, keys: str) -> tuple[int, str]:
    """Type ``keys`` into the REPL through a pipe; return its exit status and what the console printed."""
    out = io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        pipe.close()  # then the prompt reads end of input, like Ctrl-D
        status = repl(session, console=Console(file=out, width=120), input=pipe, output=DummyOutput())
    return status, out.getvalue()


@pytest.fixture(autouse=True)
def state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


# -- the interactive REPL, through a pipe ----------------------------------------------------------------------
def test_repl_steps_prints_and_shows_the_values(state_home):
    s = open_preset("xor")
    status, text = drive(s, "step\nprint W1\nwhere\n")
    assert status == 0
    assert "2-2-1 sigmoid net" in text and "help lists all" in text
    assert "iteration 1 · at the start, before op 0" in text and "next: [0] dense1.forward.Z1" in text
    assert "[0] dense1 forward" in text and "Z1 = X·W1 + b1" in text and "(4×2)·(2×2) + (2,) → (4×2)" in text
    assert "W1  2×2" in text
    W1 = xor_W1()
    for value in W1.ravel():
        assert fmt(value) in text, f"W1 entry {fmt(value)} not printed:\n{text}"
    assert "current op: dense1.forward.Z1" in text
    assert (s.current.number, s.pos) == (1, 0)


def test_repl_repeats_stepping_on_an_empty_line_and_survives_errors_and_ctrl_c():
    s = open_preset("xor")
    status, text = drive(s, "step\n\n\nbogus\n\x03print dW1\nstep 2\n\n")
    assert status == 0
    assert (s.current.number, s.pos) == (1, 6), "step, two empty lines, step 2 and one more empty line"
    assert "error: unknown command 'bogus'; `help` lists the commands" in text
    assert "error: dW1 is not computed yet" in text and "usage: print EXPR" in text
    assert "[6] sigmoid2 backward" in text


def test_repl_quit_and_ctrl_d_end_with_status_0():
    s = open_preset("xor")
    status, text = drive(s, "step\nquit\nstep\n")
    assert status == 0 and text.rstrip().endswith("bye") and s.pos == 0, "nothing after quit runs"
    status, _ = drive(open_preset("xor"), "\x04")
    assert status == 0


def test_repl_renders_explain_edits_gradcheck_breakpoints_and_help():
    s = open_preset("xor")
    keys = ("until dense1.forward\nexplain Z1[3,1]\nset W1[0,1] = 0.5\nprint W1[0,1]\ngradcheck dense1 1\n"
            "break if loss > 2\nbreak\nwatch norm(W1)\nhelp\nhelp set\nlist\n")
    status, text = drive(s, keys)
    assert status == 0
    assert "Z1[3,1] = Σₖ X[3,k]·W1[k,1] + b1[1]" in text
    assert "set W1[0,1]:" in text and "→ 0.5" in text and "(right after op 0)" in text
    assert "loss of this iteration:" in text and "changed downstream:" in text
    assert "gradcheck dense1 1" in text and "W1[0,1]" in text and "excellent" in text
    assert "breakpoint 1: if loss > 2" in text and "hits: 0" in text
    assert "watch 1: norm(W1)" in text
    assert "step [N]" in text and "gradcheck LAYER [NEURON] | PARAM[index]" in text  # the help table
    assert "set TARGET = VALUE" in text and "set lr = 0.01" in text  # help set
    assert "▶" in text and "W2 ← W2 − α·dW2" in text  # the listing
    assert s.where()["edits"] == ["W1[0,1]"]


def test_repl_keeps_history_in_the_xdg_state_directory(state_home):
    drive(open_preset("xor"), "step\nprint W2\n")
    assert state_dir() == state_home / "nndb"
    history = (state_home / "nndb" / "repl_history").read_text()
    assert "+step" in history and "+print W2" in history


def test_toolbar_shows_iteration_phase_op_and_loss():
    s = open_preset("xor")
    assert toolbar(s) == " xor · iteration 1 · start of iteration · help: commands · Ctrl-D: quit"
    s.goto("4")
    bar = toolbar(s)
    assert "iteration 1 · op 4/16 loss loss.loss.L · loss " in bar
    assert f"loss {s.values_at()['L']:.5g}" in bar


def test_the_completer_wraps_complete_and_completes_paths_for_files(tmp_path):
    s = open_preset("xor")
    completer = SessionCompleter(s)

    def offered(text):
        return [(c.text, c.start_position) for c in completer.get_completions(Document(text, len(text)), CompleteEvent())]

    assert offered("print W") == [("W1", -1), ("W2", -1)]
    assert offered("gradcheck d") == [("dense1", -1), ("dense2", -1)]
    (tmp_path / "model-a.npz").write_bytes(b"")
    (tmp_path / "model-b.npz").write_bytes(b"")
    got = offered(f"save {tmp_path}/mod")
    assert sorted(t for t, _ in got) == ["el-a.npz", "el-b.npz"]


# -- scripted mode, in process --------------------------------------------------------------------------------
def test_run_script_skips_comments_and_blank_lines_and_reports_failure():
    s = open_preset("xor")
    out = io.StringIO()
    status = run_script(s, ["# a comment\n", "step\n", "\n", "print b1\n", "   # indented comment\n"],
                        Console(file=io.StringIO()), json_mode=True, out=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert status == 0 and [r["command"] for r in rows] == ["step", "print b1"]
    assert s.pos == 0, "an empty line in a script does not repeat the step"
    out = io.StringIO()
    status = run_script(open_preset("xor"), ["step\n", "print nope\n", "step\n"], Console(file=io.StringIO()),
                        json_mode=True, out=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert status == 1 and [r["ok"] for r in rows] == [True, False, True], "a failure does not stop the script"


# -- scripted mode, through a subprocess ----------------------------------------------------------------------------
def nndb(args: list[str], stdin: str = "", tmp_path: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path or REPO / ".pytest_cache"), "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "inspector.cli", *args], input=stdin, capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=60)


def json_lines(stdout: str) -> list[dict]:
    rows = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    for row in rows:
        assert set(row) == {"command", "ok", "kind", "message", "data"}, row
        assert isinstance(row["ok"], bool) and isinstance(row["message"], str) and isinstance(row["data"], dict)
    return rows


def test_json_mode_prints_one_object_per_command_with_the_values(tmp_path):
    script = "step\nprint W1\nexplain Z1[1,0]\nwhere\ngradcheck dense2 0\nset W2[0,0] = 0.5\nbreak update\nwatch norm(W1)\n"
    p = nndb(["repl", "--preset", "xor", "--json"], script, tmp_path)
    assert p.returncode == 0, p.stderr
    rows = json_lines(p.stdout)
    assert [r["command"] for r in rows] == script.splitlines()
    assert all(r["ok"] for r in rows)
    assert [r["kind"] for r in rows] == ["op", "value", "explain", "where", "gradcheck", "edit", "breakpoints", "watches"]
    W1 = xor_W1()
    step, printed, explained, where, grad, edit, brk, watch = rows
    assert step["data"]["op"]["name"] == "dense1.forward.Z1" and step["data"]["where"]["position"] == 0
    z1 = step["data"]["op"]["outputs"][0]
    assert z1["name"] == "Z1" and z1["shape"] == [4, 2] and z1["gradient"] is False
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    check_array("Z1 in JSON", z1["values"], X @ W1)
    assert printed["data"]["name"] == "W1" and printed["data"]["shape"] == [2, 2]
    check_array("print W1 in JSON", printed["data"]["values"], W1)
    check_array("explain Z1[1,0] in JSON", explained["data"]["value"], W1[1, 0])
    assert explained["data"]["target"] == "Z1[1,0]" and explained["data"]["op"] == "dense1.forward.Z1"
    assert where["data"]["iteration"] == 1 and where["data"]["phase"] == "forward"
    assert [r["parameter"] for r in grad["data"]["rows"]] == ["W2[0,0]", "W2[1,0]", "b2[0]"]
    assert grad["data"]["verdict"] == "excellent"
    assert edit["data"]["target"] == "W2[0,0]" and edit["data"]["new"] == 0.5 and edit["data"]["at_op"] == 0
    assert brk["data"]["breakpoints"] == [{"number": 1, "spec": "update", "kind": "op", "enabled": True, "hits": 0}]
    check_array("watch in JSON", watch["data"]["watches"][0]["value"], np.linalg.norm(W1))


# The fields docs/json.md documents for each kind of result: keep the two in step.
DOCUMENTED = {
    "op": {"where", "op", "reason", "notes", "watches"},
    "op at start": {"where", "op", "next", "reason", "notes", "watches"},
    "op from show": {"where", "op", "watches", "full"},
    "value": {"name", "shape", "gradient", "values"},
    "explain": {"target", "op", "formula", "numbers", "value", "recomputed", "text", "notes"},
    "explain of a parameter": {"target", "op", "formula", "numbers", "value", "notes"},
    "where": {"iteration", "position", "ops", "phase", "op", "equation", "loss", "edits", "batch", "batch_note"},
    "list": {"where", "ops"},
    "breakpoints": {"breakpoints"},
    "breakpoints after break": {"breakpoints", "added"},
    "watches": {"watches"},
    "edit": {"target", "old", "new", "at_op", "loss_before", "loss_after", "predicted_change", "changed", "note"},
    "gradcheck": {"spec", "rows", "worst", "verdict", "kinks", "checked", "entries", "explanation"},
    "batch": {"batch", "X", "Y", "notes"},
    "train": {"iterations", "requested", "first_loss", "last_loss", "dataset_loss", "dataset_accuracy", "batch_loss",
              "interrupted"},
    "help": {"commands"},
    "help detail": {"commands", "detail"},
    "message": {"path"},
    "quit": set(),
    "error": {"usage"},
    "unknown command": set(),
}
SCRIPT = [  # (command, which documented field set its data has)
    ("reset", "op at start"), ("step", "op"), ("show", "op from show"), ("print W1", "value"),
    ("explain Z1[0,1]", "explain"), ("explain W2[0,0]", "explain of a parameter"), ("where", "where"),
    ("list", "list"), ("break update", "breakpoints after break"), ("disable 1", "breakpoints"),
    ("watch W1[0,1]", "watches"), ("set W1[0,1] = 0.5", "edit"), ("gradcheck dense1 0", "gradcheck"),
    ("batch 0:2", "batch"), ("train 3", "train"), ("help", "help"), ("help set", "help detail"),
    ("save {tmp}/m.npz", "message"), ("print nope", "error"), ("nope", "unknown command"), ("quit", "quit"),
]


def test_every_kind_has_exactly_the_fields_docs_json_md_lists(tmp_path):
    doc = (REPO / "docs" / "json.md").read_text()
    lines = [c.format(tmp=tmp_path) for c, _ in SCRIPT]
    p = nndb(["repl", "--preset", "xor", "--json"], "\n".join(lines) + "\n", tmp_path)
    rows = json_lines(p.stdout)
    assert len(rows) == len(SCRIPT) and p.returncode == 1
    for row, (command, fields) in zip(rows, SCRIPT):
        assert set(row["data"]) == DOCUMENTED[fields], (command, sorted(row["data"]))
        assert f"### `{row['kind']}`" in doc, f"kind {row['kind']} is not documented"
        for field in row["data"]:
            assert f"`{field}`" in doc, f"{command}: field {field!r} is not in docs/json.md"
    op = rows[1]["data"]["op"]
    assert set(op) == {"index", "name", "phase", "layer", "kind", "roles", "equation", "attrs", "inputs",
                       "outputs", "edited_after"}
    assert op["roles"] == {"X": "X", "W": "W1", "b": "b1", "out": "Z1"}  # xor's first op, dense1.forward
    for field in op:
        assert f"`{field}`" in doc, field


def test_json_mode_exits_non_zero_when_any_command_fails(tmp_path):
    p = nndb(["repl", "--preset", "xor", "--json"], "step\nset W1[0,1,2] = 1\nprint W1\n", tmp_path)
    assert p.returncode == 1
    rows = json_lines(p.stdout)
    assert [r["ok"] for r in rows] == [True, False, True]
    bad = rows[1]
    assert bad["kind"] == "error" and "W1 is 2×2" in bad["message"] and bad["data"] == {"usage": "set TARGET = VALUE"}


def test_json_mode_writes_non_finite_numbers_as_strings(tmp_path):
    p = nndb(["repl", "--preset", "xor", "--json"], "print 1/0\nprint -1/0\n", tmp_path)
    assert p.returncode == 0, p.stderr
    assert [r["data"]["values"] for r in json_lines(p.stdout)] == ["inf", "-inf"]


def test_script_file_with_json_and_plain_output(tmp_path):
    script = tmp_path / "exercise.nndb"
    script.write_text("# step to the first backward op and look at it\nuntil backward\n\nprint dA2\nshow\n")
    p = nndb(["repl", "--preset", "xor", "--script", str(script), "--json"], "", tmp_path)
    assert p.returncode == 0, p.stderr
    rows = json_lines(p.stdout)
    assert [r["command"] for r in rows] == ["until backward", "print dA2", "show"]
    assert rows[0]["data"]["op"]["name"] == "loss.backward.dA2" and rows[2]["data"]["full"] is True
    dA2 = np.asarray(rows[1]["data"]["values"])
    assert dA2.shape == (4, 1) and rows[1]["data"]["gradient"] is True

    p = nndb(["repl", "--preset", "xor", "--script", str(script)], "", tmp_path)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "(nndb) until backward" in out and "(nndb) print dA2" in out and "(nndb) show" in out
    assert "dA2  4×1  (∂L/∂A2)" in out
    for value in dA2.ravel():
        assert fmt(value) in out, f"{fmt(value)} not in the plain output:\n{out}"
    assert "dA2 = 2·(A2 − Y)/n" in out


def test_piped_stdin_without_json_renders_values_and_fails_with_status_1(tmp_path):
    p = nndb(["repl", "--preset", "xor"], "print W1\nprint nothing\n", tmp_path)
    assert p.returncode == 1
    assert "W1  2×2" in p.stdout and fmt(xor_W1()[0, 0]) in p.stdout
    assert "error: unknown name 'nothing'" in p.stdout


def test_a_missing_script_or_a_bad_preset_is_reported(tmp_path):
    p = nndb(["repl", "--preset", "xor", "--script", str(tmp_path / "none.txt")], "", tmp_path)
    assert p.returncode == 2 and "cannot read" in p.stdout
    p = nndb(["repl", "--preset", "nosuch"], "", tmp_path)
    assert p.returncode == 2 and "invalid choice" in p.stderr


def test_an_image_batch_prints_as_its_first_slice_with_the_whole_arrays_statistics():
    from rich.console import Console

    from inspector.render import array_view
    Z = np.arange(4 * 8 * 12 * 10, dtype=float).reshape(4, 8, 12, 10)
    console = Console(file=io.StringIO(), width=120)
    console.print(array_view("Z1", Z))
    text = console.file.getvalue()
    lines = text.splitlines()
    assert lines[0].startswith("Z1  4×8×12×10   showing Z1[0, 0, :, :]; `print Z1[n,c]` shows another")
    assert [line.split()[0] for line in lines[2:14]] == [str(i) for i in range(12)], "all 12 rows of the slice"
    table = text.split("min=")[0]
    assert lines[2].split()[1:3] == ["0", "1.0000"] and "119.0000" in table and "120.0000" not in table
    assert "max=3839.0000" in text, "the statistics are of the whole array"
    console = Console(file=io.StringIO(), width=120)
    console.print(array_view("X[0]", Z[0]))
    assert "showing its [0, :, :] slice" in console.file.getvalue()


def test_lesson_words_outside_a_lesson_say_how_to_start_one(tmp_path):
    """`nndb repl` (the console script, lessons.cli) knows the lesson commands without a lesson
    running, and says how to start one, while `python -m inspector.cli` (no lessons) does not."""
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path), "COLUMNS": "120"}
    p = subprocess.run([sys.executable, "-m", "lessons.cli", "repl", "--json"], input="hint\nanswer relu2\nstep\n",
                       capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    rows = json_lines(p.stdout)
    assert [r["ok"] for r in rows] == [False, False, True]
    assert rows[0]["message"].startswith("hint: no lesson is running; `nndb lessons` lists them")
    assert rows[1]["message"].startswith("answer: no lesson is running")
    plain = json_lines(nndb(["repl", "--json"], "hint\n", tmp_path).stdout)
    assert plain[0]["message"].startswith("unknown command 'hint'")
