"""Lessons that teach: why after a wrong prediction, one more try, the tally of right and seen, multiple choice, hints."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from lessons import LessonFormatError, all_lessons, parse_lesson
from lessons.checks import CHECKS
from lessons.library import validate_lesson
from lessons.runner import LessonRunner, reflowed

SOLUTIONS = Path(__file__).resolve().parent.parent / "lessons" / "solutions"
LESSONS = all_lessons()
BY_ID = {lesson.id: lesson for lesson in LESSONS}
ORIGINAL = [lesson for lesson in LESSONS if 1 <= lesson.order <= 21]  # this issue's own lessons


@pytest.fixture(autouse=True)
def state_home(tmp_path, monkeypatch):
    """Every test gets its own $XDG_STATE_HOME: progress never touches the real one."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path / "state"


QUIZ = """---
id: quiz
title: A quiz
learn: how a question with options looks
preset: xor
track: build
exercise: dense
---

## Step: Predict
`step`.
predict: value Z1[1,0] ± 0.01
why: b1 is zero, so Z1[1,0] is W1[1,0].
why: Read it from the weights.
check: reached dense1.forward
hint: look at W1.

## Step: Ask
Which layer?
choice: dense1 -- it has the weights
choice: relu2 — no, there is no relu2 in this net
choice: sigmoid1 — it squashes
check: answered dense1
hint: the one with weights.
"""


def format_error(text: str) -> str:
    with pytest.raises(LessonFormatError) as info:
        validate_lesson(parse_lesson(text, Path("teacher") / "quiz.md", CHECKS))
    return str(info.value)


def test_why_choice_track_and_exercise_parse():
    lesson = parse_lesson(QUIZ, "quiz.md", CHECKS)
    validate_lesson(lesson)
    assert (lesson.track, lesson.exercise) == ("build", "dense")
    assert lesson.steps[0].why == "b1 is zero, so Z1[1,0] is W1[1,0]. Read it from the weights."
    assert [(c.option, c.feedback, c.line) for c in lesson.steps[1].choices] == [
        ("dense1", "it has the weights", 20), ("relu2", "no, there is no relu2 in this net", 21),
        ("sigmoid1", "it squashes", 22)]
    assert lesson.steps[1].text == "Which layer?"
    plain = parse_lesson(QUIZ.replace("track: build\nexercise: dense\n", ""), "quiz.md", CHECKS)
    assert (plain.track, plain.exercise, plain.steps[1].why) == ("foundations", None, None)


@pytest.mark.parametrize("change, expected", [
    (lambda t: t.replace("predict: value Z1[1,0] ± 0.01\n", ""),
     "teacher/quiz.md:12: `why:` explains a prediction: the step needs a `predict:` line"),
    (lambda t: t.replace("check: answered dense1", "check: ran print X"),
     "teacher/quiz.md:20: `choice:` lines make an `answer` question multiple choice: the step needs a "
     "`check: answered TEXT`"),
    (lambda t: t.replace("choice: relu2 — no, there is no relu2 in this net\nchoice: sigmoid1 — it squashes\n", ""),
     "teacher/quiz.md:20: a multiple-choice question needs at least two `choice:` lines"),
    (lambda t: t.replace("choice: sigmoid1 — it squashes", "choice: sigmoid1 it squashes"),
     "teacher/quiz.md:22: expected `choice: OPTION — FEEDBACK` (an em dash or ` -- ` between them)"),
    (lambda t: t.replace("choice: sigmoid1 — it squashes", "choice: Dense1 — again"),
     "teacher/quiz.md:22: the option 'Dense1' is given twice"),
    (lambda t: t.replace("check: answered dense1", "check: answered dense2"),
     "teacher/quiz.md:23: the right answer 'dense2' is not one of the step's `choice:` options (dense1, relu2, "
     "sigmoid1)"),
    (lambda t: t.replace("track: build", "track: Build It"),
     "teacher/quiz.md:6: track must be a name of lowercase letters, digits, dashes and underscores, got 'Build It'"),
    (lambda t: t.replace("exercise: dense", "exercise: capsule"),
     "teacher/quiz.md:1: exercise 'capsule' is not one of the exercises"),
    (lambda t: t.replace("## Step: Ask\n", "## Step: Ask\nsetup: track: other\n"),
     "teacher/quiz.md:19: a step cannot change 'track'"),
])
def test_a_malformed_why_choice_track_or_exercise_names_the_file_and_line(change, expected):
    message = format_error(change(QUIZ))
    assert message.startswith(expected), message


# -- playing lessons with wrong predictions ---------------------------------------------------------------------
def solution(lesson_id: str) -> list[str]:
    return [line for line in (SOLUTIONS / f"{lesson_id}.txt").read_text(encoding="utf-8").splitlines() if line.strip()]


def play(runner, lines) -> list[str]:
    """The lesson's feedback lines of every command; each must succeed."""
    out = []
    for line in lines:
        result = runner.run(line)
        assert result.ok, (line, result.message)
        out += result.extra
    return out


def runner_at(lesson_id: str, step: int, store=None):
    """A runner of the lesson played by its reference solution up to (not into) step ``step`` (0-based)."""
    from lessons.runner import LessonRunner
    runner = LessonRunner(BY_ID[lesson_id], store)
    for line in solution(lesson_id):
        if runner.step_index >= step:
            break
        runner.run(line)
    assert runner.step_index == step
    return runner


ONE_NEURON_WHY = BY_ID["one-neuron"].steps[1].why


def test_an_absurd_value_gets_the_why_and_one_more_try_without_the_value():
    runner = runner_at("one-neuron", 1)
    assert play(runner, ["predict 5"]) == []
    lines = play(runner, ["step"])  # the check holds: judged. `step` itself showed Z1, so a retry is "seen"
    assert lines == ["✗ not quite: you said 5 (it may be on screen now: a second try then counts as seen)",
                     f"why: {ONE_NEURON_WHY}",
                     "one more try: `predict ANSWER`, or `reveal` to see it (a wrong prediction never blocks: it is "
                     "a self-test)"]
    assert runner.step_index == 1 and not any("0.45" in line for line in lines)
    reminder = play(runner, ["print b1"])  # other commands: the step waits, saying how to go on
    assert reminder == ["one more try: `predict ANSWER` (what value will Z1[1,0] have (within ±0.01)?), or "
                        "`reveal` to see the value and move on"]
    lines = play(runner, ["predict 0.45"])
    assert lines[:2] == ["✓ right on the second try: you said 0.45, the code computed Z1[1,0] = 0.452847 — it was on "
                         "screen before you typed it, so it counts as seen",
                         "✓ step 2/5 done: Predict, then run the weighted sum"]
    assert runner.predictions.tally() == {"right": 0, "total": 1, "seen": 1}


def test_a_second_miss_reveals_the_value_and_completes_the_step():
    runner = runner_at("activations", 1)  # dZ1[1,1] of a ReLU whose Z1[1,1] < 0: 0
    play(runner, ["predict -3"])  # wrong, and nothing showed dZ1 before
    lines = play(runner, ["until relu1.backward"])
    assert lines == []  # the step also asks for `explain dZ1[1,1]`: not judged yet
    lines = play(runner, ["explain dZ1[1,1]"])
    assert lines[0] == "✗ not quite: you said -3 (it may be on screen now: a second try then counts as seen)"
    assert lines[1] == f"why: {BY_ID['activations'].steps[1].why}" and "1[Z1 > 0]" not in lines[1]
    lines = play(runner, ["predict 7"])
    assert lines[0] == "✗ not quite again: you said 7, the code computed dZ1[1,1] = 0"
    assert runner.step_index == 2 and runner.predictions.outcomes == {1: "seen"}  # `explain` showed it


def test_a_wrong_sign_retried_after_the_value_was_shown_counts_as_seen():
    runner = runner_at("output-backward", 0)
    play(runner, ["print Y", "predict +"])
    lines = play(runner, ["until dZ2", "print P"])
    assert lines[0] == "✗ not quite: you said + (it may be on screen now: a second try then counts as seen)"
    assert lines[1].startswith("why: dZ2 = (P − Y)/m and example 0 is of class 0")
    lines = play(runner, ["predict 0"])
    assert lines[0].startswith("✗ not quite again: you said 0, the code computed dZ2[0,0] = -")
    assert lines[0].endswith("(negative)")
    assert runner.predictions.outcomes == {0: "seen"}  # `until dZ2` showed dZ2 before the second try


def test_two_misses_count_wrong_when_what_is_judged_was_never_on_screen():
    runner = runner_at("gradient-check", 3)  # judged by the equation (0); the screen shows the code's -0.0777
    lines = play(runner, ["predict 5", "until relu2.backward", "explain dZ2[0,1]"])
    assert lines[0] == "✗ not quite: you said 5 (the value stays hidden for one more try)"
    lines = play(runner, ["predict -0.0777"])
    assert lines[0].startswith("✗ not quite again: you said -0.0777, its equation gives dZ2[0,1] = ")
    assert runner.predictions.outcomes == {3: "wrong"}
    assert runner.predictions.tally() == {"right": 0, "total": 1, "seen": 0}


def test_a_wrong_shape_is_validated_as_a_shape_and_a_bad_one_is_not_an_attempt():
    runner = runner_at("dense-layer", 1)
    for bad in ("4", "4x", "x8", "four by eight", "4x8x"):
        result = runner.run(f"predict {bad}")
        assert not result.ok, bad
        assert result.message == (f"predict: this step asks for a shape, a size per axis: 4x8 or (4, 8) (one axis: "
                                  f"(8,)), got {bad!r}")
    assert runner.prediction is None and "predict 4" not in runner.commands
    play(runner, ["predict 8x4"])
    lines = play(runner, ["step"])
    assert lines[0].startswith("✗ not quite: you said 8x4") and not any("4×8" in line for line in lines)
    lines = play(runner, ["predict (4, 8)"])
    assert lines[0] == ("✓ right on the second try: you said (4, 8), the code computed Z1 = 4×8 — it was on screen "
                        "before you typed it, so it counts as seen")
    assert runner.predictions.tally() == {"right": 0, "total": 1, "seen": 1}


@pytest.mark.parametrize("text, value", [("4x8", (4, 8)), ("4 × 8", (4, 8)), ("(4, 8)", (4, 8)), ("4,8", (4, 8)),
                                         ("(8,)", (8,)), ("4x2x4x4", (4, 2, 4, 4))])
def test_shape_answers(text, value):
    from lessons.predictions import parse_prediction
    assert parse_prediction("shape", text) == value


def test_a_sign_or_a_value_in_the_wrong_form_is_refused_with_the_right_form():
    runner = runner_at("output-backward", 0)
    result = runner.run("predict 4x8")
    assert not result.ok and result.message == ("predict: this step asks for a sign: +, - or 0 (or positive, "
                                                 "negative, zero), got '4x8'")
    runner = runner_at("one-neuron", 1)
    result = runner.run("predict W1")
    assert not result.ok and result.message.startswith("predict: a value is a number like 0.25")


def test_a_prediction_made_after_printing_the_target_counts_as_seen():
    runner = runner_at("initialization", 3)  # He's scale: predict std(W2), then print it
    lines = play(runner, ["print std(W2)"])
    assert lines[0].startswith("predict first: what value will std(W2) have")
    lines = play(runner, ["predict 0.5"])
    assert lines[0].startswith("✓ your prediction was right: you said 0.5, the code computed std(W2) = ")
    assert lines[0].endswith("— it was on screen before you typed it, so it counts as seen")
    assert runner.predictions.outcomes[3] == "seen"
    assert runner.predictions.tally() == {"right": 2, "total": 3, "seen": 1}


def test_printing_another_element_or_an_op_is_not_seeing_the_target():
    from lessons.predictions import mentions
    assert mentions("print Z1", "Z1[1,0]") and mentions("explain  Z1[1, 0]", "Z1[1,0]")
    assert mentions("print P", "sum(P[2,:])") and mentions("p norm(dW1) / norm(dW5)", "norm(dW1) / norm(dW5)")
    assert not mentions("print Z1[0,0]", "Z1[1,0]") and not mentions("until relu1.forward", "dead(relu1)")
    assert not mentions("print dW1", "norm(dW1) / norm(dW5)")  # one of the two: not the ratio


def test_reveal_moves_on_without_a_prediction_and_after_a_miss():
    runner = runner_at("one-neuron", 1)
    result = runner.run("reveal")
    assert result.ok and result.extra == [] and runner.step_index == 1  # not computed yet: shown when it is
    lines = play(runner, ["step"])
    assert lines[:2] == ["revealed: the code computed Z1[1,0] = 0.452847",
                         "✓ step 2/5 done: Predict, then run the weighted sum"]
    result = runner.run("reveal")
    assert not result.ok and result.message.startswith("reveal: this step asks for no prediction")
    runner = runner_at("one-neuron", 1)
    play(runner, ["predict 0.45", "reveal"])  # a prediction not judged yet, given up
    assert play(runner, ["step"])[0] == "revealed: the code computed Z1[1,0] = 0.452847"
    assert runner.predictions.outcomes == {1: "revealed"}
    runner = runner_at("dense-layer", 1)
    play(runner, ["predict 1x1", "step"])
    assert play(runner, ["reveal"])[:2] == ["revealed: the code computed Z1 = 4×8",
                                            "✓ step 2/5 done: Predict the shape of Z1"]
    assert runner.predictions.outcomes == {1: "wrong"}


def test_the_lesson_says_wrong_predictions_never_block():
    assert "a wrong prediction never blocks you, it is a\nself-test" in BY_ID["one-neuron"].intro
    assert "`reveal`" in BY_ID["one-neuron"].intro


# -- multiple choice ----------------------------------------------------------------------------------------------
def test_multiple_choice_shows_the_options_and_answers_each_one():
    runner = runner_at("gradient-check", 4)
    step = runner.step
    assert [c.option for c in step.choices] == ["dense2", "relu1", "relu2", "dense3"]
    status = runner.run("lesson")
    assert "a) dense2   b) relu1   c) relu2   d) dense3 — type `answer` and a letter or an option" in status.data["lines"]
    result = runner.run("answer e")
    assert not result.ok and result.message == ("answer: 'e' is not one of the options: a) dense2  b) relu1  c) relu2  "
                                                "d) dense3 — type `answer b` (its letter) or `answer relu1` (its text)")
    assert play(runner, ["answer b"]) == [f"✗ relu1: {step.choices[1].feedback}"]
    assert play(runner, ["answer Dense2"]) == [f"✗ dense2: {step.choices[0].feedback}"]
    assert not runner.done
    assert play(runner, ["answer c"])[:2] == [f"✓ relu2: {step.choices[2].feedback}", "✓ step 5/5 done: Name the culprit"]
    assert runner.done


def test_every_question_of_lessons_1_to_21_is_multiple_choice_with_one_right_option():
    from lessons.checks import normalize
    questions = 0
    for lesson in ORIGINAL:
        for step in lesson.steps:
            right = [c.arg for c in step.checks if c.name == "answered"]
            if not right:
                assert not step.choices
                continue
            questions += 1
            assert 3 <= len(step.choices) <= 4, (lesson.id, step.title)
            marks = [normalize(c.option).lower() == normalize(right[0]).lower() for c in step.choices]
            assert marks.count(True) == 1, (lesson.id, step.title)
            for c, is_right in zip(step.choices, marks):
                assert c.feedback.startswith("right: " if is_right else "no: "), (lesson.id, c)
    assert questions == 7


# -- the texts ----------------------------------------------------------------------------------------------------
def commands_in(text: str) -> list[tuple[str, str]]:
    from inspector.commands import lookup
    from lessons.checks import COMMANDS
    out = []
    for span in re.findall(r"`([^`]+)`", text):
        word = span.split()[0] if span.split() else ""
        cmd = lookup(word, COMMANDS)
        if cmd is not None:
            out.append((cmd.name, span[len(word):].strip()))
    return out


@pytest.mark.parametrize("lesson", ORIGINAL, ids=lambda lesson: lesson.id)
def test_hints_go_from_a_nudge_to_the_exact_commands(lesson):
    from lessons.checks import Context, ran
    for step in lesson.steps:
        where = f"{lesson.id}: {step.title}"
        assert len(step.hints) >= 2, where
        last = commands_in(step.hints[-1])
        assert last, f"{where}: the last hint names no command"
        for name, arg in commands_in(step.hints[0]):
            solves = any(c.name == "ran" and ran(Context(None, ran=[(name, arg)]), c.arg) for c in step.checks)
            assert name not in ("predict", "answer", "reveal") and (name, arg) not in last and not solves, \
                f"{where}: the first hint gives away `{name} {arg}`"


@pytest.mark.parametrize("lesson", ORIGINAL, ids=lambda lesson: lesson.id)
def test_every_prediction_of_lessons_1_to_21_has_its_why(lesson):
    for step in lesson.steps:
        if step.predict:
            assert step.why and len(step.why) > 40, f"{lesson.id}: {step.title}"


# -- the tally in progress, `nndb lessons` and `lesson` ----------------------------------------------------------
def test_the_tally_is_saved_resumed_and_listed(state_home, capsys):
    from lessons.cli import main
    from lessons.progress import ProgressStore, prediction_tally
    from lessons.runner import LessonRunner
    store = ProgressStore()
    play(LessonRunner(BY_ID["one-neuron"], store), solution("one-neuron"))  # right first time
    runner = runner_at("activations", 3, store)  # steps 2 and 3 right; step 4 seen
    play(runner, ["until sigmoid1.backward", "explain dZ1[0,0]", "predict 0.25"])
    assert runner.predictions.outcomes == {1: "right", 2: "right", 3: "seen"}
    record = ProgressStore().get("activations")
    assert record["predictions"] == [[1, "right"], [2, "right"], [3, "seen"]]
    assert prediction_tally(record) == {"right": 2, "total": 3, "seen": 1}
    resumed = LessonRunner(BY_ID["activations"], ProgressStore())  # replays the commands: the same outcomes
    assert resumed.predictions.outcomes == runner.predictions.outcomes
    status = resumed.run("lesson")
    assert "your predictions so far: 2/3 right first time · 1 seen" in status.data["lines"]
    assert status.data["predictions"] == {"right": 2, "total": 3, "seen": 1}
    assert main(["lessons"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    row = next(i for i, line in enumerate(lines) if " activations " in line)
    assert "step 5/6" in lines[row] and "2/3 right first time · 1 seen" in " ".join(lines[row:row + 3])
    row = next(i for i, line in enumerate(lines) if " one-neuron " in line)
    assert "done" in lines[row] and "1/1 right first time" in " ".join(lines[row:row + 3])
    assert "── foundations" in out


def test_an_old_progress_file_without_predictions_still_loads(state_home, capsys):
    import json
    from lessons.cli import main
    from lessons.progress import ProgressStore
    from lessons.runner import LessonRunner
    path = state_home / "nndb" / "progress.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"version": 1, "lessons": {"one-neuron": {
        "step": 1, "done": False, "commands": ["print X", "print W1[:,0]"], "completed": [0]}}}), encoding="utf-8")
    store = ProgressStore()
    assert store.warning is None and store.get("one-neuron")["step"] == 1
    runner = LessonRunner(BY_ID["one-neuron"], store)
    assert runner.step_index == 1 and runner.predictions.tally() == {"right": 0, "total": 0, "seen": 0}
    assert main(["lessons"]) == 0 and "step 2/5" in capsys.readouterr().out
    path.write_text(json.dumps({"version": 1, "lessons": {"one-neuron": {  # a miss saved before the second try
        "step": 2, "done": False, "commands": ["print X", "print W1[:,0]", "predict 5", "step"],
        "completed": [0, 1]}}}), encoding="utf-8")
    runner = LessonRunner(BY_ID["one-neuron"], ProgressStore())
    assert runner.step_index == 2 and runner.predictions.outcomes == {1: "wrong"}  # resumed where it was
    assert runner.run("explain Z1[1,0]").extra[0] == "✓ step 3/5 done: See the numbers behind one neuron"
    assert ProgressStore().get("one-neuron")["predictions"] == [[1, "wrong"]]
    again = LessonRunner(BY_ID["one-neuron"], ProgressStore())  # resumed again: the old commands still replay so
    assert again.step_index == 3 and again.predictions.outcomes == {1: "wrong"}
    assert ProgressStore().get("one-neuron")["legacy_commands"] == 4
    path.write_text(json.dumps({"version": 1, "lessons": {"one-neuron": {
        "step": 1, "done": False, "commands": [], "completed": [0], "predictions": [[0, "lucky"]]}}}),
        encoding="utf-8")
    store = ProgressStore()  # an outcome nndb never writes: the file is kept aside, as any corrupt one
    assert "could not be read" in store.warning and store.lessons == {}


def test_the_right_option_before_the_rest_of_the_step_says_what_is_left():
    runner = runner_at("cnn", 4)  # print K1[1,0], until maxpool1, print S1[1,1], then the question
    step = runner.step
    assert play(runner, ["answer b"]) == [f"✓ horizontal: {step.choices[1].feedback}",
                                          "the step is done when you have also run what it asks (`lesson` shows it "
                                          "again)"]
    assert runner.step_index == 4
    lines = play(runner, ["print K1[1,0]", "until maxpool1", "print S1[1,1]"])
    assert "✓ step 5/5 done: What a filter learned" in lines and runner.done


def test_resuming_a_lesson_in_the_repl_says_the_tally(state_home):
    from lessons.cli import lesson_banner
    from lessons.progress import ProgressStore
    from lessons.runner import LessonRunner
    play(LessonRunner(BY_ID["one-neuron"], ProgressStore()), ["print X", "print W1[:,0]", "predict 0.45", "step"])
    banner = [text.plain for text in lesson_banner(LessonRunner(BY_ID["one-neuron"], ProgressStore()))]
    assert banner[1] == "resumed: replayed your 4 commands; your predictions so far: 1/1 right first time"
    assert banner[0] == "lesson one-neuron: One neuron" and "step 3/5: See the numbers behind one neuron" in banner


def test_the_repl_shows_a_steps_text_as_paragraphs_not_the_files_line_breaks():
    """The file's short lines are joined so the terminal wraps the text once; lists keep their lines."""
    assert reflowed("Predict the\nshape of `dW1`,\nthen `step`.") == "Predict the shape of `dW1`, then `step`."
    assert reflowed("One:\n\n- a\n- b\n  more\n1. c") == "One:\n\n- a\n- b\n  more\n1. c"
    runner = LessonRunner(BY_ID["build-dense"], resume=False)
    texts = [f.text for f in runner.step_feedback() if f.kind == "text"]
    assert "\n" not in texts[1]
