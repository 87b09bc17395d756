"""Issue 17: bounded commands, no tracebacks from odd input, progress never lost, writes that destroy
nothing, no control codes on the terminal, divergence reported, JSON one line each."""
from __future__ import annotations

import io
import json
import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from engine import load
from inspector.cli import main
from inspector.commands import Interpreter
from inspector.expr import CostError
from inspector.guards import clean
from inspector.render import render_result
from inspector.repl import run_script
from inspector.sources import open_preset
from lessons.progress import ProgressStore
from session_helpers import diff_fingerprints, fingerprint


@pytest.fixture
def state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path / "state"


def refused_unchanged(interp, line, seconds=1.0):
    before = fingerprint(interp.session)
    t0 = time.perf_counter()
    result = interp.run(line)
    took = time.perf_counter() - t0
    assert not result.ok and result.message, line[:60]
    assert took < seconds, f"{line[:60]!r} took {took:.2f} s to refuse"
    assert not diff_fingerprints(before, fingerprint(interp.session))
    return result


# -- 3. bounded cost ------------------------------------------------------------------------------
def test_step_10_to_the_12_is_refused_at_once_with_the_limit():
    interp = Interpreter(open_preset("xor"))
    for line in ("step 1000000000000", "back 1000000000000", "continue 99999999999999999999999",
                 "train 1000000000000"):
        r = refused_unchanged(interp, line, 0.5)
        assert "at most" in r.message or "more than" in r.message, r.message


def test_a_long_command_is_interrupted_by_ctrl_c_and_the_session_goes_on():
    interp = Interpreter(open_preset("xor"))
    interp.run("break if loss > 1e9")  # never hit: continue would run its 1,000,000 iterations traced

    def interrupt(*_):
        raise KeyboardInterrupt
    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        t0 = time.perf_counter()
        result = interp.run("continue 1000000")
        took = time.perf_counter() - t0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert not result.ok and "interrupted" in result.message and took < 5
    assert interp.run("step").ok and interp.run("print W1").ok  # the session is usable


def test_a_broadcasting_print_past_the_limit_is_refused_fast():
    interp = Interpreter(open_preset("xor"))
    column = "[" + ",".join(["[1]"] * 2100) + "]"      # 2100×1 (a 10 KB line)
    row = "[[" + ",".join(["1"] * 2100) + "]]"          # 1×2100: the product is 4,410,000 entries
    r = refused_unchanged(interp, f"print {column} * {row}", 2.0)  # 0.1 s alone; 2 s on a loaded CI machine
    assert "entries" in r.message and "MiB" in r.message
    small = "[" + ",".join(["[1]"] * 300) + "]"
    assert interp.run(f"print {small} * W1[0:1,0:1]").ok  # 300 entries: fine
    # lesson checks evaluate through the same session.evaluate
    with pytest.raises(CostError):
        interp.session.evaluate(f"{column} * {row} > 0", allow_compare=True)


def test_an_expensive_watch_is_refused_and_watches_are_few():
    interp = Interpreter(open_preset("xor"))
    column = "[" + ",".join(["[1]"] * 1000) + "]"
    row = "[[" + ",".join(["1"] * 1000) + "]]"   # a million entries after every step: refused
    r = refused_unchanged(interp, f"watch sum({column} * {row})")
    assert "after every step" in r.message
    for _ in range(16):
        assert interp.run("watch norm(W1)").ok
    refused_unchanged(interp, "watch norm(W1)")


# -- 6. no traceback --------------------------------------------------------------------------------
def test_odd_paths_and_indices_are_one_message_each():
    interp = Interpreter(open_preset("xor"))
    for line in ("load " + "a" * 300, "save " + "a" * 300 + "/m.npz", "batch 0,99999999999999999999",
                 "batch random 99999999999999999999", "seed 99999999999999999999999999x"):
        refused_unchanged(interp, line)


def run_cli(capsys, *argv):
    try:
        rc = main(list(argv))
    except SystemExit as e:  # argparse refusing a flag
        rc = e.code
    captured = capsys.readouterr()
    return rc, captured.out + captured.err


@pytest.mark.parametrize("argv, words", [
    (["repl", "--seed", "-1", "--script", "/dev/null"], "seed"),
    (["train", "--preset", "moons", "--l2", "nan", "--out", "{tmp}/m.npz"], "finite"),
    (["train", "--preset", "moons", "--layers", "2,99999999999999999999,2", "--out", "{tmp}/m.npz"], "at most"),
    (["train", "--preset", "moons", "--epochs", "0", "--out", "{tmp}/m.npz"], "--epochs"),
    (["train", "--preset", "moons", "--batch-size", "-3", "--out", "{tmp}/m.npz"], "--batch-size"),
    (["train", "--preset", "moons", "--lr", "0", "--out", "{tmp}/m.npz"], "--lr"),
    (["train", "--preset", "moons", "--lr", "inf", "--out", "{tmp}/m.npz"], "--lr"),
    (["sweep", "--preset", "moons", "--lr", "nan", "--out", "{tmp}/s.csv"], "--lr"),
    (["eval", "{tmp}/m.npz", "--samples", "-5"], "--samples"),
])
def test_bad_flags_are_one_message_not_a_traceback(tmp_path, capsys, argv, words):
    rc, text = run_cli(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert rc == 2 and words in text and "Traceback" not in text, text


def test_an_unreadable_script_is_exit_status_2_in_json_mode(tmp_path, capsys):
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"step\n\x00\xff\xfe")
    latin = tmp_path / "l.txt"
    latin.write_bytes(b"print W1 \xe9\n")
    for path in (binary, latin, "/dev/zero", tmp_path / "missing.txt"):
        rc, text = run_cli(capsys, "repl", "--preset", "xor", "--json", "--script", str(path))
        assert rc == 2 and "--script" in text and "Traceback" not in text, text


def test_resume_with_corrupt_metadata_is_one_message(tmp_path, capsys):
    out = tmp_path / "m.npz"
    rc, _ = run_cli(capsys, "train", "--preset", "moons", "--epochs", "1", "--out", str(out))
    assert rc == 0
    model = load(out)
    from engine import save
    save(model, out, extra={**model.file_extra, "epochs": "many"})
    rc, text = run_cli(capsys, "train", "--preset", "moons", "--epochs", "2", "--out", str(out), "--resume")
    assert rc == 2 and "--resume" in text and "Traceback" not in text, text


# -- 10. divergence -------------------------------------------------------------------------------------
def test_train_with_a_huge_learning_rate_stops_with_a_message_and_saves_no_nan_model(tmp_path, capsys):
    out = tmp_path / "m.npz"
    rc, text = run_cli(capsys, "train", "--preset", "moons", "--lr", "1e6", "--epochs", "3", "--out", str(out))
    flat = " ".join(text.split())
    assert rc != 0 and "diverged" in flat and "learning rate" in flat, flat
    if out.exists():  # only an epoch with finite weights is ever saved
        assert all(np.all(np.isfinite(v)) for v in load(out).state_dict().values())


def test_set_refuses_momentum_of_one():
    interp = Interpreter(open_preset("moons"))
    refused_unchanged(interp, "set momentum = 1")


# -- 7. lesson progress -----------------------------------------------------------------------------------
def test_two_stores_at_once_keep_both_lessons(state_home):
    a, b = ProgressStore(), ProgressStore()  # both read the (empty) file first, as two processes do
    record = {"step": 1, "done": False, "commands": ["print X"], "completed": [0]}
    assert a.put("one-neuron", record)
    assert b.put("dense-layer", record)
    assert set(json.loads(a.path.read_text())["lessons"]) == {"one-neuron", "dense-layer"}
    assert b.reset("dense-layer") and set(ProgressStore().lessons) == {"one-neuron"}


def _writer(path: str, lesson: str, n: int) -> None:
    store = ProgressStore(Path(path))
    for i in range(n):
        store.put(lesson, {"step": i, "done": False, "commands": ["print X"] * i, "completed": list(range(i))})


def test_two_concurrent_lesson_processes_keep_both_lessons(tmp_path):
    path = tmp_path / "progress.json"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(path), f"lesson-{k}", 30)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    lessons = json.loads(path.read_text())["lessons"]
    assert lessons["lesson-0"]["step"] == 29 and lessons["lesson-1"]["step"] == 29


def test_an_unreadable_progress_file_is_never_replaced(tmp_path):
    path = tmp_path / "progress.json"
    path.write_text('{"version": 1, "lessons": {}}')
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: every file is readable")
        store = ProgressStore(path)
        assert not store.put("one-neuron", {"step": 0, "done": False, "commands": [], "completed": []})
        path.chmod(0o600)
        assert path.read_text() == '{"version": 1, "lessons": {}}'
    finally:
        path.chmod(0o600)


def test_corrupt_progress_files_get_unique_backups_and_never_crash(tmp_path):
    path = tmp_path / "progress.json"
    for content in (b"\xff\xfe not utf-8", b"[" * 100000 + b"]" * 100000, b"{broken"):
        path.write_bytes(content)
        store = ProgressStore(path)
        assert store.lessons == {} and "could not be read" in store.warning
    kept = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert len(kept) == 3, kept


def test_resuming_a_lesson_does_not_redo_a_save(state_home, tmp_path, monkeypatch):
    from lessons.library import all_lessons
    from lessons.runner import LessonRunner
    monkeypatch.chdir(tmp_path)
    lesson = next(lesson for lesson in all_lessons() if lesson.id == "one-neuron")
    runner = LessonRunner(lesson, ProgressStore())
    assert runner.run("save mine.npz").ok
    Path("mine.npz").write_bytes(b"newer work")
    again = LessonRunner(lesson, ProgressStore())
    assert Path("mine.npz").read_bytes() == b"newer work"
    assert "save mine.npz" in again.commands


# -- 8. writes --------------------------------------------------------------------------------------------
def test_outputs_that_are_inputs_links_or_devices_are_refused(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    before = data.read_bytes()
    rc, text = run_cli(capsys, "train", "--csv", str(data), "--layers", "2,4,2", "--out", str(data))
    assert rc == 2 and "input" in text and data.read_bytes() == before
    target = tmp_path / "real.npz"
    target.write_bytes(b"keep")
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    rc, text = run_cli(capsys, "train", "--preset", "moons", "--epochs", "1", "--out", str(link))
    assert rc == 2 and "symbolic link" in text and link.is_symlink() and target.read_bytes() == b"keep"
    interp = Interpreter(open_preset("xor"))
    assert "not a regular file" in refused_unchanged(interp, "save /dev/null").message
    assert "symbolic link" in refused_unchanged(interp, f"save {link}").message


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    interp = Interpreter(open_preset("xor"))
    dead = multiprocessing.get_context("fork").Process(target=lambda: None)
    dead.start()
    dead.join()
    stale = tmp_path / f".m.npz.{dead.pid}-abcd.tmp"
    stale.write_bytes(b"half a model")
    assert interp.run(f"save {tmp_path / 'm.npz'}").ok
    assert not stale.exists() and [p.name for p in tmp_path.iterdir()] == ["m.npz"]


# -- 9. control codes -------------------------------------------------------------------------------------
EVIL = "\x1b[2J\x1b]0;pwned\x07\x9b31m"


def test_escape_sequences_in_lesson_text_never_reach_the_output(tmp_path, state_home, capsys):
    from lessons.cli import main as lessons_main
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "evil.md").write_text(f"""---
id: evil
title: Evil {EVIL} title
learn: what {EVIL} does
preset: xor
---

Intro {EVIL} text.

## Step: Look {EVIL}
Print `X` {EVIL}.
check: ran print X
hint: `print X` {EVIL}
""", encoding="utf-8")
    sys.stdin, old = io.StringIO("hint\nprint X\n"), sys.stdin
    try:
        rc = lessons_main(["lesson", "evil", "--repl", "--lessons-dir", str(folder)])
        rc2 = lessons_main(["lessons", "--lessons-dir", str(folder)])
    finally:
        sys.stdin = old
    out = capsys.readouterr().out
    assert rc == 0 and rc2 == 0 and "Evil" in out
    assert "\x1b]" not in out and "\x1b[2J" not in out and "\x9b" not in out and "\x07" not in out
    assert "\\x1b[2J" in out  # shown, as text


def test_rendered_results_and_script_echoes_show_control_characters():
    from inspector.commands import Result, Feedback
    result = Result("load " + EVIL, False, "error", f"no such file {EVIL}", {"usage": "load FILE"},
                    [Feedback("info", EVIL)])
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=200)
    for part in render_result(result):
        console.print(part)
    run_script(open_preset("xor"), [f"print {EVIL}\n"], console)
    text = buf.getvalue()
    assert "\x1b[2J" not in text and "\x1b]0" not in text and "\x07" not in text and "\\x1b" in text
    assert clean("a\tb\nc\x1b") == "a\tb\nc\\x1b" and clean("x\ny", newlines=False) == "x\\ny"


# -- 11. JSON lines and the seeded batch ----------------------------------------------------------------
def test_json_lines_stay_one_line_and_batch_random_is_seeded():
    out = io.StringIO()
    run_script(open_preset("xor"), ["print W1\u2028\u2029\n", "batch random 2\n"], Console(file=io.StringIO()),
               json_mode=True, out=out)
    lines = out.getvalue().split("\n")[:-1]
    assert len(lines) == 2 and all("\u2028" not in line and "\u2029" not in line for line in lines)
    for line in lines:
        json.loads(line)
    batches = []
    for _ in range(2):
        interp = Interpreter(open_preset("moons", seed=3))
        batches.append(interp.run("batch random 8").data["batch"])
    assert batches[0] == batches[1]


# -- 3. the TUI: long work in a worker that Escape and q stop ------------------------------------------
@pytest.mark.parametrize("key", ["escape", "q"])
def test_a_long_tui_command_runs_in_a_worker_that_escape_and_q_stop(key):
    import asyncio

    from inspector.tui.app import NndbApp
    from inspector.tui.widgets import CommandBar
    session = open_preset("xor")
    app = NndbApp(session)
    seen = {}

    async def main():
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            app.run_command("break if loss > 1e9", quiet_steps=False)  # never hit: a million traced iterations
            await pilot.press("colon")
            bar = app.query_one(CommandBar)
            bar.value = "continue 1000000"
            await pilot.press("enter")
            await pilot.pause(0.3)
            seen["busy"] = app.busy
            await pilot.press(key)
            for _ in range(100):
                if not app.busy:
                    break
                await pilot.pause(0.05)
            seen["after"] = app.busy
            seen["step"] = app.run_command("step").ok
            seen["running"] = app.is_running

    t0 = time.perf_counter()
    asyncio.run(main())
    assert seen["busy"] and not seen["after"], seen
    assert seen["step"] and seen["running"], seen  # the session goes on; q stopped the command, not the app
    assert time.perf_counter() - t0 < 20


def test_binary_or_endless_standard_input_in_json_mode(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"step\n\xff\xfe\x00bad\nwhere\n"), encoding="utf-8"))
    rc, text = run_cli(capsys, "repl", "--preset", "xor", "--json")
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert rc == 1 and [o["ok"] for o in lines] == [True, False, True], text
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\0" * (2**20 + 10)), encoding="utf-8"))
    rc, text = run_cli(capsys, "repl", "--preset", "xor", "--json")
    assert rc == 2 and "longer than" in text and "Traceback" not in text


def test_interrupting_train_keeps_what_was_trained_and_the_history_straight(monkeypatch):
    """Ctrl-C (or Escape in the TUI) during `train` keeps the iterations trained so far; the
    current iteration, already archived, is neither recomputed nor counted twice."""
    from inspector.commands import Interpreter
    from inspector.sources import open_preset
    from engine.model import Sequential

    interp = Interpreter(open_preset("xor"))
    s = interp.session
    real, calls = Sequential.train_step, []

    def interrupted_on_the_fifth(self, *a, **k):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(Sequential, "train_step", interrupted_on_the_fifth)
    result = interp.run("train 100")
    monkeypatch.setattr(Sequential, "train_step", real)
    assert result.ok and result.data["interrupted"] is True and result.data["iterations"] == 4
    assert "interrupted after 4 of 100" in result.message
    assert s.current.number == 6  # iteration 1 archived, 2–5 trained, the next one recorded
    numbers = [n for n, _ in s.losses]
    assert numbers == sorted(set(numbers)) and numbers[-4:] == [2, 3, 4, 5]
    assert interp.run("step").ok and interp.run("continue").ok
    assert [h.number for h in s.history] == sorted({h.number for h in s.history})


def test_interrupting_train_before_the_first_iteration_says_nothing_was_trained(monkeypatch):
    from inspector.commands import Interpreter
    from inspector.sources import open_preset
    from engine.model import Sequential

    interp = Interpreter(open_preset("xor"))
    real, calls = Sequential.train_step, []

    def at_once(self, *a, **k):  # train's first step
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(Sequential, "train_step", at_once)
    result = interp.run("train 10")
    monkeypatch.undo()
    assert result.ok and result.data["iterations"] == 0 and result.data["first_loss"] is None
    assert "nothing was trained" in result.message
    assert interp.run("where").ok and interp.run("step").ok
