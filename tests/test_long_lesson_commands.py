"""Lesson commands in the front ends: long ones (declared ``long=``) in the TUI's worker, a lesson's `check`
too, which Escape stops; the T box's label; the JSON fields of the lesson commands, all in docs/json.md."""
from __future__ import annotations

import asyncio
import multiprocessing
import signal
from pathlib import Path

import pytest

from inspector.commands import REGISTRY, Result, always_long, command, count_from
from inspector.tui.longwork import LONG_STEPS, is_long
from lessons import all_lessons
from lessons.commands import EXERCISES_ENV, LESSON_COMMANDS, learner_file
from lessons.runner import LessonRunner

TABLE = REGISTRY | LESSON_COMMANDS
BUILD_SIGMOID = next(lesson for lesson in all_lessons() if lesson.id == "build-sigmoid")
ENDLESS = '''"""A learner's sigmoid that never returns."""
import time


def sigmoid_forward(Z):
    while True:
        time.sleep(0.01)


def sigmoid_backward(dA, Z):
    while True:
        pass
'''


@pytest.fixture(autouse=True)
def folders(tmp_path, monkeypatch):
    monkeypatch.setenv(EXERCISES_ENV, str(tmp_path / "exercises"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path


@pytest.mark.parametrize("line, long", [
    ("train 3", True), ("train 2 epochs batch 8", True), (":train 1", True),
    ("continue 5", True), ("c 2", True), ("continue", False), ("continue 1", False),
    (f"step {LONG_STEPS}", True), (f"s {LONG_STEPS - 1}", False), (f"back {LONG_STEPS}", True), ("step", False),
    ("step 99999999999999", False),  # no count (too long to be one): the command says so, at once
    ("check", True), ("check sigmoid", True), ("exercise sigmoid", False), ("print W1", False), ("nosuch", False),
])
def test_is_long_reads_the_commands_declaration(line, long):
    assert is_long(line, TABLE) is long


def test_a_command_declared_long_runs_long_without_a_list_of_names():
    table: dict = {}

    @command("crunch", usage="crunch [N]", summary="a test command", long=count_from(3), registry=table)
    def do_crunch(s, arg, line="crunch"):
        return Result(line, True, "message")

    @command("wait", usage="wait", summary="a test command", long=always_long, registry=table)
    def do_wait(s, arg, line="wait"):
        return Result(line, True, "message")

    @command("quick", usage="quick", summary="a test command", registry=table)
    def do_quick(s, arg, line="quick"):
        return Result(line, True, "message")

    assert [is_long(line, table) for line in ("crunch 3", "crunch 2", "crunch", "wait", "quick")] == \
        [True, False, False, True, False]
    assert "crunch" not in REGISTRY  # declared in its own table


def test_escape_stops_a_check_of_an_endless_loop_kills_its_child_and_the_lesson_goes_on():
    pytest.importorskip("textual")
    from textual.widgets import RichLog

    from inspector.tui.widgets import CommandBar
    from lessons.tui import LessonApp

    runner = LessonRunner(BUILD_SIGMOID, resume=False)
    path = learner_file("sigmoid")
    path.parent.mkdir(parents=True)
    path.write_text(ENDLESS, encoding="utf-8")
    app = LessonApp(runner)
    seen = {}

    async def main():
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            bar = app.query_one(CommandBar)
            bar.value = "check"
            await pilot.press("enter")
            children = []
            for _ in range(500):  # the checker's child starts on the worker's thread
                await pilot.pause(0.02)
                children = multiprocessing.active_children()
                if children:
                    break
            seen["busy"] = app.busy
            seen["notes"] = [n.message for n in app._notifications]
            viewing = app.viewing
            await pilot.press("right_square_bracket")  # the screen still takes keys: the next step's text
            await pilot.pause()
            seen["viewed"] = app.viewing - viewing
            seen["still busy"] = app.busy
            await pilot.press("escape")
            for _ in range(400):  # well under the checker's 10 s limit: the kill ends it, not the alarm
                await pilot.pause(0.02)
                if not app.busy:
                    break
            seen["busy after"] = app.busy
            seen["children"] = [(p.exitcode, Path(f"/proc/{p.pid}").exists()) for p in children]
            seen["left"] = multiprocessing.active_children()
            seen["log"] = " ".join("\n".join(s.text for s in app.query_one("#log", RichLog).lines).split())
            seen["errors"] = [n.message for n in app._notifications if n.severity == "error"]
            bar.focus()
            bar.value = "exercise"
            await pilot.press("enter")
            await pilot.pause()
            seen["after"] = " ".join("\n".join(s.text for s in app.query_one("#log", RichLog).lines).split())

    asyncio.run(main())
    assert seen["busy"] and seen["still busy"] and "running… Esc or q stops it" in seen["notes"]
    assert seen["viewed"] == 1
    assert seen["busy after"] is False
    assert seen["children"] and seen["children"] == [(-signal.SIGKILL, False)] * len(seen["children"])
    assert seen["left"] == []
    stopped = "check: stopped before sigmoid.py was checked to the end; nothing was recorded."
    assert seen["log"].count(stopped) == 1 and "Ctrl-C" not in seen["log"]
    assert len(seen["errors"]) == 1 and seen["errors"][0].startswith(stopped)
    assert "already exists (not overwritten)" in seen["after"]  # the lesson takes commands again
    assert runner.step_index == 1 and runner.commands == ["exercise sigmoid"]  # its step done; the stopped check not kept


def test_an_interrupted_check_says_so_in_one_message_in_the_repl_too(monkeypatch, folders):
    import lessons.exercises.checker as checker

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(checker, "check_file", interrupted)
    runner = LessonRunner(BUILD_SIGMOID, resume=False)
    path = learner_file("sigmoid")
    path.parent.mkdir(parents=True)
    path.write_text(ENDLESS, encoding="utf-8")
    result = runner.run("check")
    assert (result.ok, result.kind) == (False, "error")
    assert result.message == ("check: stopped before sigmoid.py was checked to the end; nothing was recorded. (A "
                              "function that never returns is stopped after 10 s and reported: `check` again to "
                              "see which one.)")
    assert not (folders / "state").exists() or not any((folders / "state").rglob("exercises.json"))


def test_the_train_box_names_what_train_takes_whole_at_80x24():
    pytest.importorskip("textual")
    from inspector.sources import open_preset
    from inspector.tui.app import NndbApp
    from inspector.tui.screens import TrainScreen
    from test_lesson_tui import screen_lines

    app = NndbApp(open_preset("moons", seed=0))
    seen = {}

    async def main():
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("T")
            await pilot.pause()
            seen["screen"] = isinstance(app.screen, TrainScreen)
            seen["lines"] = [" ".join(line.split()) for line in screen_lines(app)]

    asyncio.run(main())
    assert seen["screen"]
    for text in ("train on the whole dataset: N iterations, or N epochs",
                 "then, optionally: batch B (minibatch size) · --record FILE"):
        assert sum(text in line for line in seen["lines"]) == 1, text  # on one row, not cut


def test_every_field_of_a_lesson_commands_result_is_in_docs_json_md(folders):
    doc = (Path(__file__).resolve().parent.parent / "docs" / "json.md").read_text(encoding="utf-8")
    runner = LessonRunner(next(lesson for lesson in all_lessons() if lesson.id == "why-nonlinearity"), resume=False)
    results = [runner.run(line) for line in ("until identity1", "lesson", "hint", "hint")]
    sigmoid = LessonRunner(BUILD_SIGMOID, resume=False)
    results += [sigmoid.run("exercise"), sigmoid.run("check"), sigmoid.run("lesson")]
    runner.step_index = next(i for i, step in enumerate(runner.lesson.steps) if step.choices)
    results += [runner.run("answer a")]
    assert [r.ok for r in results] == [True] * len(results)
    assert {r.kind for r in results} == {"op", "lesson", "message", "check"}
    assert set(results[1].to_json()["data"]) == {"lines", "step", "done", "predictions"}
    assert set(results[1].data["predictions"]) == {"right", "total", "seen"}
    assert results[3].data["lines"][1].startswith("hint 2/")
    for result in results:
        row = result.to_json()
        assert f"### `{row['kind']}`" in doc, row["kind"]
        for name in [*row["data"], *row["data"].get("predictions", {})]:
            assert f"`{name}`" in doc, (result.command, name)
        if row.get("feedback"):
            assert {f["kind"] for f in row["feedback"]} <= {"ask", "pass", "fail", "step", "done", "restart", "info",
                                                            "text"}
