"""Lessons that teach: why after a wrong prediction, one more try, the tally of right and seen, multiple choice, hints."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from lessons import LessonFormatError, all_lessons, parse_lesson
from lessons.checks import CHECKS
from lessons.library import validate_lesson

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
