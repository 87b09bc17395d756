"""Completion of `train`'s keywords, `curves`' views, exercise IDs and a lesson step's multiple-choice options."""
from __future__ import annotations

import pytest

from inspector.commands import REGISTRY, Result, command
from inspector.complete import Names, complete
from lessons import all_lessons
from lessons.commands import LESSON_COMMANDS, lesson_commands
from lessons.exercises import EXERCISES
from lessons.runner import LessonRunner

BY_ID = {lesson.id: lesson for lesson in all_lessons()}
NAMES = Names(symbols=("X", "W1"), layers=("dense1",))


@pytest.fixture(autouse=True)
def state_folder(tmp_path, monkeypatch):
    """A lesson's progress goes to a fresh folder, never the learner's."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def offered(text, commands=None):
    return [(c.text, c.start) for c in complete(text, NAMES, commands)]


def texts(text, commands=None):
    return [c.text for c in complete(text, NAMES, commands)]


@pytest.mark.parametrize("text, expected", [
    ("train 5 ", ["epochs", "batch", "--record"]),
    ("train 5 e", ["epochs"]),
    ("train 5 b", ["batch"]),
    ("train 5 --", ["--record"]),
    ("train 5 epochs ", ["batch", "--record"]),
    ("train 5 iterations ", ["batch", "--record"]),
    ("train 5 epochs batch 8 ", ["--record"]),
    ("train 5 batch 8 ", ["--record"]),
    ("train 5 batch ", ["all"]),
    ("train 5 batch a", ["all"]),
    ("train 5 --record ", []),            # a file name comes next
    ("train 5 --record run.npz ", []),    # nothing after it
    ("train 5 batch 8 e", []),            # epochs only right after the count
    ("train 5 epochs batch 8 --record", []),  # typed in full
    ("train ", []), ("train 5", []), ("train x ", []),
])
def test_train_offers_the_keywords_its_usage_allows_next(text, expected):
    assert texts(text) == expected


def test_a_keyword_replaces_the_word_typed_so_far():
    assert offered("train 5 --re") == [("--record", -4)]
    assert offered("train 5 ep") == [("epochs", -2)]
    assert {c.meta for c in complete("train 5 ", NAMES)} == {"unit: N passes over the dataset", "minibatch size B",
                                                            "keep the run in FILE"}


def test_curves_offers_acc_and_loss():
    assert offered("curves ") == [("acc", 0), ("loss", 0)]
    assert offered("curves l") == [("loss", -1)]
    assert texts("curves loss") == [] and texts("curves x") == []


def test_check_and_exercise_offer_the_exercise_ids():
    table = REGISTRY | LESSON_COMMANDS
    assert texts("check ", table) == list(EXERCISES) and texts("exercise ", table) == list(EXERCISES)
    assert offered("check re", table) == [("relu", -2)]
    assert set(texts("exercise s", table)) == {"sigmoid", "softmax-ce", "sgd-momentum"}
    assert texts("check ./my/dense.py", table) == []  # a file: nothing to offer
    assert texts("check ", REGISTRY) == []            # outside a lesson `check` is no command


def test_answer_offers_the_current_steps_options_and_nothing_for_an_open_question():
    runner = LessonRunner(BY_ID["why-nonlinearity"], resume=False)
    table = REGISTRY | lesson_commands(runner)
    assert texts("answer ", table) == []  # step 1 asks no multiple-choice question
    runner.step_index = next(i for i, step in enumerate(runner.lesson.steps) if step.choices)
    assert texts("answer ", table) == ["it is one linear map", "too few iterations",
                                       "the learning rate is too small", "8 neurons are too few"]
    assert offered("answer it is", table) == [("it is one linear map", -5)]  # options of several words
    assert offered("answer t", table) == [("too few iterations", -1), ("the learning rate is too small", -1)]
    assert texts("answer 8 neurons are too few", table) == []
    assert texts("answer ", REGISTRY | LESSON_COMMANDS) == []  # no lesson running: no options


def test_a_commands_declared_choices_feed_completion():
    table: dict = {}

    @command("paint", usage="paint [red | blue]", summary="a test command", choices=("red", "blue"), registry=table)
    def do_paint(s, arg, line="paint"):
        return Result(line, True, "message")

    now = ["one"]

    @command("pick", usage="pick X", summary="a test command", choices=lambda: tuple(now), registry=table)
    def do_pick(s, arg, line="pick"):
        return Result(line, True, "message")

    assert offered("paint b", table) == [("blue", -1)]
    assert texts("pick ", table) == ["one"]
    now[:] = ["two", "three"]  # asked each time: what holds now
    assert texts("pick t", table) == ["two", "three"]


def test_tab_in_a_lessons_command_bar_completes_an_exercise_id():
    pytest.importorskip("textual")
    import asyncio

    from inspector.tui.widgets import CommandBar
    from lessons.tui import LessonApp

    app = LessonApp(LessonRunner(BY_ID["build-sigmoid"], resume=False))
    seen = {}

    async def main():
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            bar = app.query_one(CommandBar)
            bar.focus()
            bar.value = "check sigm"
            bar.cursor_position = len(bar.value)
            await pilot.press("tab")
            await pilot.pause()
            seen["value"] = bar.value

    asyncio.run(main())
    assert seen["value"] == "check sigmoid "


def test_the_line_repl_offers_exercise_ids_for_check_and_still_completes_paths(tmp_path):
    """`check` takes an ID or a FILE: the REPL's completer offers the IDs, then the paths."""
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    from inspector.repl import SessionCompleter
    runner = LessonRunner(BY_ID["build-dense"], resume=False)
    completer = SessionCompleter(runner.session, runner.command_table)

    def shown(text):
        return [c.text for c in completer.get_completions(Document(text), CompleteEvent())]

    assert shown("check sig") == ["sigmoid"]
    (tmp_path / "mine.py").write_text("", encoding="utf-8")
    assert "ne.py" in shown(f"check {tmp_path}/mi")
