"""The guided lessons: every built-in lesson played, wrong attempts refused, texts checked; format, progress, CLI, REPL and TUI."""
from __future__ import annotations

import asyncio
import io
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from engine.presets import PRESETS
from inspector.commands import lookup
from inspector.expr import FUNCTIONS
from inspector.repl import run_script
from inspector.session import Session
from lessons import LessonFormatError, all_lessons, load_lessons, parse_lesson
from lessons.checks import CHECKS, COMMANDS, is_figure
from lessons.cli import main as lessons_main
from lessons.library import validate_lesson
from lessons.progress import ProgressStore
from lessons.runner import LessonRunner
from lessons.setups import INITS, NETS, OPTIMIZERS, POOLS, merged, setup_problem

LESSONS = all_lessons()
BY_ID = {lesson.id: lesson for lesson in LESSONS}
ORIGINAL = [lesson for lesson in LESSONS if lesson.order <= 21]  # lessons 1-21; others add lessons concurrently
PLAYABLE = list(BY_ID)  # the build track's too: their exercises folder holds correct files (state_home)
SOLUTIONS = Path(__file__).resolve().parent.parent / "lessons" / "solutions"


@pytest.fixture(autouse=True)
def state_home(tmp_path, monkeypatch, solved_exercises):
    """Every test gets its own $XDG_STATE_HOME: progress never touches the real one. The build track's
    `check` and `use:` read the exercises folder: one with a correct file for every exercise."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("NNDB_EXERCISES_DIR", str(solved_exercises))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path / "state"


def solution(lesson_id: str) -> list[str]:
    return [line for line in (SOLUTIONS / f"{lesson_id}.txt").read_text(encoding="utf-8").splitlines()
            if line.strip()]


def play(runner: LessonRunner, lines) -> list:
    return [runner.run(line) for line in lines]


def feedback(results) -> list[str]:
    return [line for r in results for line in r.extra]


# -- the built-in lessons --------------------------------------------------------------------------------------
def test_the_built_in_lessons_come_in_order_with_their_solutions():
    ids = [lesson.id for lesson in ORIGINAL]
    assert ids == ["one-neuron", "dense-layer", "activations", "softmax-cross-entropy", "output-backward",
                   "chain-rule", "learning-rate", "gradient-check", "initialization", "dead-relus",
                   "vanishing-gradients", "l2-regularization", "optimizers", "convolution", "pooling", "cnn", "rnn",
                   "vanishing-through-time", "what-an-iteration-costs", "loops-and-matrices", "why-gpus"]
    assert [lesson.order for lesson in ORIGINAL] == list(range(1, 22))
    for lesson in LESSONS:
        assert lesson.path.name == f"{lesson.order:02d}-{lesson.id}.md"
        assert (SOLUTIONS / f"{lesson.id}.txt").is_file(), f"no reference solution for {lesson.id}"
        assert 4 <= len(lesson.steps) <= 7, f"{lesson.id} has {len(lesson.steps)} steps"
        assert len(lesson.intro.splitlines()) <= 6, f"{lesson.id}: the intro is longer than 6 lines"
        for step in lesson.steps:
            assert len(step.text.splitlines()) <= 5, f"{lesson.id}: step {step.title!r} is longer than 5 lines"
            assert step.hints, f"{lesson.id}: step {step.title!r} has no hint"
    with_predict = [lesson.id for lesson in LESSONS if any(step.predict for step in lesson.steps)]
    assert len(with_predict) >= len(LESSONS) / 2, with_predict


TIMED = ("loop_pairs", "loop_examples")  # predictions of a measured speedup (lesson 20)


@pytest.mark.parametrize("lesson_id", PLAYABLE)
def test_the_reference_solution_passes_every_step(lesson_id):
    lesson = BY_ID[lesson_id]
    runner = LessonRunner(lesson)
    results = []
    for line in solution(lesson_id):
        results.append(runner.run(line))
        if runner.predictions.missed is not None and runner.step.predict.target in TIMED:
            results.append(runner.run("reveal"))  # a measured time, missed on this machine: move on
    failed = [(r.command, r.message) for r in results if not r.ok]
    assert failed == [], f"commands of the reference solution failed: {failed}"
    assert runner.done and runner.completed == list(range(len(lesson.steps))), feedback(results)
    lines = feedback(results)
    assert [line for line in lines if line.startswith("✓ step")] == [
        f"✓ step {i + 1}/{len(lesson.steps)} done: {step.title}" for i, step in enumerate(lesson.steps)]
    assert lines[-1].startswith(f"🎉 lesson {lesson_id} complete")
    verdicts = [line for line in lines if line.startswith(("✓ your prediction", "✗ not quite:", "(no verdict"))]
    predicts = [step for step in lesson.steps if step.predict]
    assert len(verdicts) == len(predicts), verdicts
    for step, verdict in zip(predicts, verdicts):
        if lesson_id == "gradient-check":  # the bug hunt: judged by the equation; the code disagrees with it
            assert verdict == ("✓ your prediction was right: you said 0, its equation gives dZ2[0,1] = "
                               "dA2[0,1] * (Z2[0,1] > 0) = 0; the code disagrees: it computed dZ2[0,1] = -0.077745 "
                               "— that is the bug")
        elif step.predict.target in TIMED:  # a measured time: machines differ, the verdict may go either way
            assert verdict.startswith(("✓ your prediction was right", "✗ not quite: you said")), verdict
            assert f"cost found {step.predict.target} = " in verdict or verdict.startswith("✗ not quite: you said")
        else:
            assert verdict.startswith("✓ your prediction was right"), f"{step.title}: {verdict}"
            source = "cost found" if is_figure(step.predict.target) else "the code computed"
            assert f"{source} {step.predict.target} = " in verdict
    timed = sum(step.predict.target in TIMED for step in predicts)
    tally = runner.predictions.tally()  # right first time, never seen before it was typed
    assert tally["total"] == len(predicts) and tally["seen"] == 0 and tally["right"] >= len(predicts) - timed


@pytest.mark.parametrize("lesson_id", list(BY_ID))
def test_an_empty_attempt_does_not_pass(lesson_id):
    runner = LessonRunner(BY_ID[lesson_id])
    assert (runner.step_index, runner.completed, runner.done) == (0, [], False)
    result = runner.run("step")
    assert result.ok and runner.completed == [] and runner.step_index == 0
    assert not any(line.startswith("✓") for line in result.extra)


WANDERING = ["where", "list", "show", "help", "print X", "step", "step", "back", "watch norm(X)",
             "continue", "step 3", "goto start", "lesson", "hint", "bogus", "print nope"]


@pytest.mark.parametrize("lesson_id", list(BY_ID))
def test_commands_other_than_the_ones_asked_do_not_pass(lesson_id):
    runner = LessonRunner(BY_ID[lesson_id])
    results = play(runner, WANDERING)
    assert runner.completed == [] and not runner.done
    assert [r.ok for r in results][-2:] == [False, False]


@pytest.mark.parametrize("lesson_id", [i for i in PLAYABLE if any(s.predict for s in BY_ID[i].steps)])
def test_wrong_predictions_are_judged_but_do_not_block(lesson_id):
    """Two wrong answers per prediction: the first gets the step's why, the second the value; the lesson ends."""
    lesson = BY_ID[lesson_id]
    wrong = {"shape": "predict 1x1", "value": "predict 12345", "sign": "predict 0"}
    runner = LessonRunner(lesson)
    results = []
    for line in solution(lesson_id):
        if line.startswith("predict "):
            line = wrong[runner.step.predict.kind]
        results.append(runner.run(line))
        if runner.predictions.missed is not None:  # the first miss: the value is still hidden, one more try
            results.append(runner.run(wrong[runner.step.predict.kind]))
    assert all(r.ok for r in results)
    assert runner.done
    lines = feedback(results)
    predicts = [step for step in lesson.steps if step.predict]
    assert len([line for line in lines if line.startswith("✗ not quite: you said")]) == len(predicts)
    assert len([line for line in lines if line.startswith("✗ not quite again")]) == len(predicts)
    assert [line.removeprefix("why: ") for line in lines if line.startswith("why: ")] == [
        s.why or "re-read the step's text: what does the operation compute, from what?" for s in predicts]
    assert runner.predictions.tally()["right"] == 0


def test_a_step_with_a_prediction_waits_for_it():
    runner = LessonRunner(BY_ID["dense-layer"])
    play(runner, ["print shape(X)", "print shape(W1)"])
    result = runner.run("step")
    assert runner.step_index == 1 and 1 not in runner.completed
    assert result.extra == ["predict first: what shape will Z1 have? (type `predict ANSWER`), then carry on (or "
                            "`reveal`: a wrong prediction never blocks: it is a self-test)"]
    bad = runner.run("predict four by eight")
    assert not bad.ok and "a size per axis: 4x8 or (4, 8)" in bad.message
    result = runner.run("predict 4x8")
    assert result.extra[:2] == ["✓ your prediction was right: you said 4x8, the code computed Z1 = 4×8 — it was on "
                                "screen before you typed it, so it counts as seen",
                                "✓ step 2/5 done: Predict the shape of Z1"]


def test_a_wrong_answer_does_not_complete_the_bug_hunt():
    runner = LessonRunner(BY_ID["gradient-check"])
    play(runner, [line for line in solution("gradient-check") if not line.startswith("answer")])
    assert runner.step_index == 4 and not runner.done
    step = runner.step
    for guess in ("dense2", "relu1", "d"):  # d: the fourth option, dense3
        result = runner.run(f"answer {guess}")
        assert result.ok and not runner.done
        choice = next(c for c in step.choices if c.option == {"d": "dense3"}.get(guess, guess))
        assert result.extra == [f"✗ {choice.option}: {choice.feedback}"] and choice.feedback.startswith("no: ")
    assert runner.run("answer  ReLU2 ").extra[:2] == [f"✓ relu2: {step.choices[2].feedback}",
                                                     "✓ step 5/5 done: Name the culprit"]
    assert runner.done


def test_the_planted_bug_shows_in_explain_and_in_gradcheck():
    runner = LessonRunner(BY_ID["gradient-check"])
    assert runner.run("gradcheck dense3").data["verdict"] == "excellent"
    assert runner.run("gradcheck dense2").data["verdict"] == "wrong"
    runner.run("until relu2.backward")
    explained = runner.run("explain dZ2[0,1]")
    assert explained.data["value"] == pytest.approx(-0.077745, abs=1e-6)
    assert any("does not compute what its equation says" in note for note in explained.data["notes"])


# -- the lessons' texts name only commands and arrays that exist ---------------------------------------------
def step_setups(lesson):
    """(setup, texts) for the intro and for each step: the setup in force while that text is shown."""
    setup = merged(lesson.setup, lesson.steps[0].setup)
    yield setup, [lesson.intro]
    for step in lesson.steps:
        setup = merged(setup, step.setup)
        yield setup, [step.text, *step.hints]


def scratch_session(setup) -> Session:
    return Session(lambda seed: setup_problem(setup, seed), seed=int(setup.get("seed", 0)))


PLACEHOLDER = re.compile(r"[A-Z]{2,}")                          # NAME, ANSWER, OP
ARRAY = re.compile(r"(?:d|v|m)?[A-Z][A-Za-z]*\d*(?:_\d+)?")      # W1, dZ2, A1, vW1, X, P, L_data


def backticked(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


@pytest.mark.parametrize("lesson_id", list(BY_ID))
def test_texts_name_only_commands_that_exist(lesson_id):
    lesson = BY_ID[lesson_id]
    names = {"lr", "loss", "momentum", "l2", *FUNCTIONS, *NETS, *INITS, *OPTIMIZERS}
    checked = 0
    for setup, texts in step_setups(lesson):
        s = scratch_session(setup)
        layers = {op.layer for op in s.tape}
        for span in (span for text in texts for span in backticked(text)):
            first = span.split()[0]
            if not re.fullmatch(r"[a-z]+", first) or first in names | layers:
                continue
            assert lookup(first, COMMANDS) is not None, f"{lesson_id}: `{span}` names no command"
            checked += 1
            word, _, rest = span.partition(" ")
            if lookup(word, COMMANDS).name in ("until", "goto") and rest.strip() not in ("", "start"):
                assert s.find_ops(rest.strip()), f"{lesson_id}: `{span}`: no op matches in this step's network"
            if lookup(word, COMMANDS).name == "break" and rest.strip():
                s.breakpoints.add(s, rest)  # raises for an unknown array or op
            if lookup(word, COMMANDS).name == "watch" and rest.strip():
                s.watches.add(s, rest)
    assert checked >= 3


@pytest.mark.parametrize("lesson_id", list(BY_ID))
def test_texts_name_only_arrays_that_exist(lesson_id):
    lesson = BY_ID[lesson_id]
    checked = 0
    for setup, texts in step_setups(lesson):
        s = scratch_session(setup)
        read = {name for op in s.tape for name in op.inputs}  # X_3, M1: read by an op, printable too
        known = set(s.known_symbols()) | set(s.hyper_names()) | read | {"loss"}
        for span in (span for text in texts for span in backticked(text)):
            for token in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", span):
                if PLACEHOLDER.fullmatch(token) or not ARRAY.fullmatch(token):
                    continue
                assert token in known, f"{lesson_id}: `{span}` names {token}, which this step's network lacks"
                checked += 1
    assert checked >= 3


def test_the_text_checks_catch_a_made_up_command_and_array(tmp_path):
    path = tmp_path / "bad.md"
    path.write_text(LESSON.replace("Print `X`.", "Type `frobnicate X` and look at `W9`."), encoding="utf-8")
    lesson = parse_lesson(path.read_text(encoding="utf-8"), path, CHECKS)
    BY_ID["bad"] = lesson
    try:
        with pytest.raises(AssertionError, match="`frobnicate X` names no command"):
            test_texts_name_only_commands_that_exist("bad")
        with pytest.raises(AssertionError, match="names W9, which this step's network lacks"):
            test_texts_name_only_arrays_that_exist("bad")
    finally:
        del BY_ID["bad"]


# -- the lesson format -------------------------------------------------------------------------------------------
LESSON = """---
id: tiny
title: A tiny lesson
learn: how a test lesson looks
preset: xor
---

Intro text.

## Step: Look
Print `X`.
check: ran print X
hint: `print X`.

## Step: Step
`step` once, then `print W1`.
predict: shape Z1
check: reached dense1.forward
check: ran print W1
"""


def format_error(text: str, name="lesson.md") -> str:
    with pytest.raises(LessonFormatError) as info:
        lesson = parse_lesson(text, Path("teacher") / name, CHECKS)
        validate_lesson(lesson)
    return str(info.value)


def test_a_good_lesson_parses():
    lesson = parse_lesson(LESSON, "tiny.md", CHECKS)
    assert (lesson.id, lesson.title, lesson.learn, lesson.intro) == ("tiny", "A tiny lesson", "how a test lesson looks",
                                                                      "Intro text.")
    assert [s.title for s in lesson.steps] == ["Look", "Step"]
    assert [str(c) for c in lesson.steps[1].checks] == ["reached dense1.forward", "ran print W1"]
    assert lesson.steps[0].hints == ["`print X`."]
    assert (lesson.steps[1].predict.kind, lesson.steps[1].predict.target) == ("shape", "Z1")
    assert lesson.steps[1].line == 15 and lesson.setup["preset"] == "xor"


@pytest.mark.parametrize("change, expected", [
    (lambda t: t.replace("---\nid: tiny", "id: tiny", 1),
     "teacher/lesson.md:1: a lesson starts with a front matter"),
    (lambda t: t.replace("preset: xor\n---", "preset: xor\n"),
     "teacher/lesson.md:1: the front matter is not closed by a line `---`"),
    (lambda t: t.replace("preset: xor", "colour: blue"),
     "teacher/lesson.md:5: unknown front-matter key 'colour'; known: batch, "),
    (lambda t: t.replace("id: tiny\n", ""),
     "teacher/lesson.md:1: the front matter needs `id:`"),
    (lambda t: t.replace("id: tiny", "id: Tiny Lesson"),
     "teacher/lesson.md:2: id 'Tiny Lesson' must be lowercase letters, digits and dashes"),
    (lambda t: t.replace("check: ran print X\n", ""),
     "teacher/lesson.md:10: step 'Look' has no `check:` line: nothing could ever complete it"),
    (lambda t: t.replace("check: ran print X", "check: typed print X"),
     "teacher/lesson.md:12: unknown check 'typed'; known checks: advanced, answered, at,"),
    (lambda t: t.replace("predict: shape Z1", "predict: size Z1"),
     "teacher/lesson.md:17: predict needs a kind first: one of shape, value, sign, got 'size'"),
    (lambda t: t.replace("predict: shape Z1", "predict: value Z1[0,0] ± lots"),
     "teacher/lesson.md:17: the tolerance after ± must be a number, got 'lots'"),
    (lambda t: t.replace("predict: shape Z1", "predict: value"),
     "teacher/lesson.md:17: predict needs a target"),
    (lambda t: t.replace("## Step: Look", "## Look"),
     "teacher/lesson.md:10: a section heading must read `## Step: TITLE`, got '## Look'"),
    (lambda t: t.replace("Intro text.", "check: ran step"),
     "teacher/lesson.md:8: `check:` outside a step; put it under a `## Step:` heading"),
    (lambda t: t.replace("check: reached dense1.forward", "check: expr W1[0,0 =="),
     "teacher/lesson.md:18: check expr:"),
    (lambda t: t.replace("check: ran print W1", "check: ran frobnicate"),
     "teacher/lesson.md:19: check ran: no command 'frobnicate'"),
    (lambda t: t.replace("preset: xor", "preset: xor\nnet: capsule"),
     "teacher/lesson.md:1: net must be one of relu, sigmoid, tanh, leakyrelu, deep-sigmoid, planted-bug"),
    (lambda t: t.replace("## Step: Step\n", "## Step: Step\nsetup: colour: red\n"),
     "teacher/lesson.md:16: a step cannot change 'colour'; `setup:` takes batch, "),
    (lambda t: t.replace("## Step: Step\n", "## Step: Step\nsetup: init: huge\n"),
     "teacher/lesson.md:15: step 'Step': setup: init must be one of he, xavier, small, zeros, large, got 'huge'"),
    (lambda t: t.split("## Step")[0],
     "teacher/lesson.md:6: a lesson needs at least one `## Step: TITLE` section"),
])
def test_a_malformed_lesson_gets_an_error_naming_the_file_the_line_and_the_problem(change, expected):
    message = format_error(change(LESSON))
    assert message.startswith(expected), message


def test_a_duplicate_id_across_files_names_both(tmp_path):
    (tmp_path / "a.md").write_text(LESSON, encoding="utf-8")
    (tmp_path / "b.md").write_text(LESSON.replace("title: A tiny lesson", "title: Another"), encoding="utf-8")
    with pytest.raises(LessonFormatError) as info:
        load_lessons(tmp_path, CHECKS)
    assert str(info.value) == f"{tmp_path / 'b.md'}: lesson id 'tiny' is also used by {tmp_path / 'a.md'}"


def test_an_unreadable_lesson_file_is_reported(tmp_path):
    (tmp_path / "a.md").write_bytes(b"---\nid: \xff\xfe\n")
    with pytest.raises(LessonFormatError, match=r"a\.md: cannot read the lesson: 'utf-8' codec"):
        load_lessons(tmp_path, CHECKS)


def test_a_step_setup_restarts_the_session_keeping_breakpoints_and_watches():
    text = LESSON.replace("## Step: Step\n", "## Step: Step\nsetup: lr: 0.5\nsetup: seed: 3\n")
    lesson = parse_lesson(text, "tiny.md", CHECKS)
    assert lesson.steps[1].setup == {"lr": "0.5", "seed": "3"}
    runner = LessonRunner(lesson)
    play(runner, ["break dense2.forward", "watch norm(W1)", "step", "step"])
    assert runner.session.current.number == 1 and runner.session.pos == 1
    result = runner.run("print X")
    assert "↻ the debugger restarted with lr: 0.5, seed: 3 (iteration 1; breakpoints and watches kept)" in result.extra
    s = runner.session
    assert (s.current.number, s.pos, s.seed, s.get_hyper("lr")) == (1, -1, 3, 0.5)
    assert [b.spec for b in s.breakpoints] == ["dense2.forward"] and [w.text for w in s.watches] == ["norm(W1)"]
    assert runner.run("reset").ok and s.get_hyper("lr") == 0.5  # `reset` rebuilds the step's setup


def test_the_advanced_and_hit_checks():
    lesson = parse_lesson(LESSON.replace("check: ran print X", "check: advanced 3\ncheck: hit if loss"), "t.md", CHECKS)
    runner = LessonRunner(lesson)
    play(runner, ["continue 3"])
    assert runner.step_index == 0, "3 iterations ran but no breakpoint was hit"
    play(runner, ["break if loss > 0", "continue"])
    assert runner.session.breakpoints[0].hits == 1 and runner.step_index == 1


# -- teachers' folders and the CLI ----------------------------------------------------------------------------
def run_cli(capsys, *argv, stdin: str | None = None, monkeypatch=None) -> tuple[int, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    status = lessons_main(list(argv))
    return status, capsys.readouterr().out


def test_a_teachers_folder_adds_its_lessons(tmp_path, capsys):
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "99-tiny.md").write_text(LESSON.replace("preset: xor", "preset: xor\norder: 99"), encoding="utf-8")
    lessons = all_lessons([folder])
    foundations = [lesson.id for lesson in lessons if lesson.track == "foundations"]
    assert foundations[-1] == "tiny" and len(lessons) == len(LESSONS) + 1  # listed by track, then order
    status, out = run_cli(capsys, "lessons", "--lessons-dir", str(folder))
    assert status == 0
    assert "14" in out and "tiny" in out and "A tiny lesson" in out and "how a test lesson looks" in out


def test_a_malformed_file_in_a_teachers_folder_gives_a_clear_error(tmp_path, capsys):
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "tiny.md").write_text(LESSON.replace("check: ran print X", "check: typed X"), encoding="utf-8")
    status, out = run_cli(capsys, "lessons", "--lessons-dir", str(folder))
    assert status == 2
    assert f"error: {folder / 'tiny.md'}:12: unknown check 'typed'" in " ".join(out.split())
    status, out = run_cli(capsys, "lessons", "--lessons-dir", str(tmp_path / "nowhere"))
    assert status == 2 and "no such lessons folder" in out


def test_a_teachers_lesson_is_tested_with_its_solution_on_stdin(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "tiny.md").write_text(LESSON, encoding="utf-8")
    status, out = run_cli(capsys, "lesson", "tiny", "--repl", "--lessons-dir", str(folder),
                          stdin="print X\npredict 4x2\nstep\nprint W1\n", monkeypatch=monkeypatch)
    assert status == 0
    assert "✓ step 1/2 done: Look" in out and "✓ step 2/2 done: Step" in out
    assert "🎉 lesson tiny complete" in out
    status, out = run_cli(capsys, "lesson", "nope", "--lessons-dir", str(folder))
    assert status == 2 and "error: no lesson 'nope'" in out


# -- progress ---------------------------------------------------------------------------------------------------
def test_progress_is_saved_per_user_in_the_xdg_state_directory(state_home):
    store = ProgressStore()
    assert store.path == state_home / "nndb" / "progress.json"
    runner = LessonRunner(BY_ID["one-neuron"], store)
    play(runner, ["print X", "help", "print W1[:,0]", "bogus"])
    data = json.loads(store.path.read_text(encoding="utf-8"))
    assert data == {"version": 1, "lessons": {"one-neuron": {
        "step": 1, "done": False, "commands": ["print X", "print W1[:,0]"], "completed": [0], "predictions": []}}}
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["progress.json", "progress.json.lock"], \
        "no temporary file left behind (the lock file stays: it guards concurrent writers)"


def test_a_failed_write_leaves_the_previous_progress_intact(state_home, monkeypatch):
    store = ProgressStore()
    runner = LessonRunner(BY_ID["one-neuron"], store)
    runner.run("print X")
    before = store.path.read_bytes()

    def fail(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("engine.serialize.os.replace", fail)
    result = runner.run("print W1[:,0]")
    assert store.path.read_bytes() == before
    assert store.warning == f"progress NOT saved to {store.path}: No space left on device"
    assert any("NOT saved" in line for line in result.extra), "a failed save is reported, not silent"
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["progress.json", "progress.json.lock"]


def test_resume_replays_to_the_same_step_and_the_same_session_position(state_home):
    lesson = BY_ID["activations"]
    first_half = solution("activations")[:8]           # ends inside step 3, after `set Z1[0,0] = 0`
    runner = LessonRunner(lesson, ProgressStore())
    play(runner, first_half + ["quit"])
    s = runner.session
    where = (runner.step_index, runner.completed, s.current.number, s.pos, [e.target for e in s.current.edits])
    values = {k: np.array(v, copy=True) for k, v in s.values_at().items()}
    assert where == (2, [0, 1], 1, 0, ["Z1[0,0]"]) and runner.setup["net"] == "sigmoid"

    again = LessonRunner(lesson, ProgressStore())
    s2 = again.session
    assert (again.step_index, again.completed, s2.current.number, s2.pos, [e.target for e in s2.current.edits]) == where
    assert again.commands == first_half and again.setup["net"] == "sigmoid"
    assert [layer.name for layer in s2.model.layers] == ["dense1", "sigmoid1", "dense2"]
    for k, v in s2.values_at().items():
        np.testing.assert_array_equal(v, values[k], err_msg=k)
    play(again, solution("activations")[8:])
    assert again.done and ProgressStore().get("activations")["done"] is True


def test_quit_in_the_middle_of_lesson_3_and_resume_it_from_the_cli(capsys, monkeypatch):
    lines = solution("activations")
    status, out = run_cli(capsys, "lesson", "3", stdin="\n".join(lines[:8] + ["quit"]) + "\n", monkeypatch=monkeypatch)
    assert status == 0 and "✓ step 2/6 done" in out and "✓ step 3/6" not in out
    assert ProgressStore().get("activations")["step"] == 2
    status, out = run_cli(capsys, "lessons")
    assert re.search(r"activations .* step 3/6", out)
    status, out = run_cli(capsys, "lesson", "activations", stdin="\n".join(lines[8:]) + "\n", monkeypatch=monkeypatch)
    assert status == 0
    assert "✓ step 3/6 done: Sigmoid squashes into (0, 1)" in out and "🎉 lesson activations complete" in out
    assert "✓ step 1/6" not in out, "the resumed lesson does not repeat the steps already done"


def test_a_corrupt_progress_file_is_kept_aside_and_reported(state_home, capsys):
    path = state_home / "nndb" / "progress.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    store = ProgressStore()
    kept = [p for p in path.parent.iterdir() if p.name.startswith("progress.json.corrupt-")]
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == "{not json"
    assert store.lessons == {} and not path.exists()
    assert store.warning.startswith(f"your progress file {path} could not be read (")
    assert store.warning.endswith(f"it was kept as {kept[0].name} and a fresh one started")
    path.write_text(json.dumps({"version": 1, "lessons": {"x": {"step": "two"}}}), encoding="utf-8")
    status, out = run_cli(capsys, "lessons")
    flat = " ".join(out.split())  # the console wraps long paths wherever the terminal width falls
    assert status == 0 and "could not be read (unexpected structure)" in flat and "kept as progress.json.corrupt-" in flat


def test_reset_one_lesson_or_all(state_home, capsys):
    store = ProgressStore()
    play(LessonRunner(BY_ID["one-neuron"], store), ["print X"])
    play(LessonRunner(BY_ID["dense-layer"], store), ["print shape(X)"])
    status, out = run_cli(capsys, "lessons", "--reset", "1")
    assert status == 0 and "progress reset: 1" in out
    assert set(ProgressStore().lessons) == {"dense-layer"}
    status, out = run_cli(capsys, "lessons", "--reset", "all")
    assert ProgressStore().lessons == {}
    status, out = run_cli(capsys, "lessons", "--reset", "no-such-lesson")
    assert status == 2 and "no lesson 'no-such-lesson'" in out


def test_nndb_lessons_lists_every_lesson_with_its_status(state_home, capsys):
    store = ProgressStore()
    play(LessonRunner(BY_ID["one-neuron"], store), solution("one-neuron"))
    play(LessonRunner(BY_ID["activations"], store), solution("activations")[:8])
    status, out = run_cli(capsys, "lessons")
    assert status == 0
    rows = {lesson.id: next(line for line in out.splitlines() if f" {lesson.id} " in line) for lesson in LESSONS}
    assert rows["one-neuron"].rstrip().endswith("done")
    assert rows["activations"].rstrip().endswith("step 3/6")
    for lesson in LESSONS[1:]:
        if lesson.id != "activations":
            assert rows[lesson.id].rstrip().endswith("not started"), rows[lesson.id]
    assert re.search(r"^\s+13\s+optimizers\s", out, re.M)


# -- the REPL and the TUI in lesson mode -------------------------------------------------------------------------
def test_the_repl_prints_the_lesson_feedback():
    runner = LessonRunner(BY_ID["dense-layer"])
    buffer = io.StringIO()
    status = run_script(runner.session, solution("dense-layer"), Console(file=buffer, width=200), interp=runner)
    text = buffer.getvalue()
    assert status == 0
    assert "✓ step 1/5 done: Read the shapes" in text
    assert "predict first: what shape will Z1 have? — type `predict ANSWER`" in text
    assert "✓ your prediction was right: you said 4x8, the code computed Z1 = 4×8" in text
    assert "🎉 lesson dense-layer complete" in text
    out = io.StringIO()
    runner = LessonRunner(BY_ID["dense-layer"])
    run_script(runner.session, ["hint", "lesson", "print shape(X)"], Console(file=io.StringIO()), json_mode=True,
               out=out, interp=runner)
    hint, lesson, printed = [json.loads(line) for line in out.getvalue().splitlines()]
    assert hint["data"]["lines"] == ["hint 1/2: Ask for the shape of the data, then of the first layer's weights."]
    assert lesson["message"] == "lesson dense-layer: A dense layer is a matrix product — step 1/5"
    assert printed["data"]["values"] == [4, 2] and "extra" not in printed


def plain(static) -> str:
    console = Console(file=io.StringIO(), width=200)
    console.print(static.content)
    return console.file.getvalue()


def test_the_tui_lesson_panel_shows_steps_hints_browsing_and_ticks():
    pytest.importorskip("textual")
    from textual.widgets import Static

    from inspector.tui.widgets import CommandBar
    from lessons.tui import LessonApp

    runner = LessonRunner(BY_ID["one-neuron"])
    app = LessonApp(runner)
    seen = {}

    async def command(pilot, line):
        bar = app.query_one(CommandBar)
        bar.focus()
        bar.value = line
        await pilot.press("enter")
        await pilot.pause()

    async def main():
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            seen["start"] = plain(app.query_one("#lesson-steps", Static))
            seen["text"] = plain(app.query_one("#lesson-text", Static))
            seen["log"] = [strip.text for strip in app.query_one("#log").lines]
            app.query_one("#ops").focus()
            await pilot.press("H")
            await pilot.pause()
            seen["hint"] = plain(app.query_one("#lesson-feedback", Static))
            await pilot.press("right_square_bracket")
            await pilot.pause()
            seen["browsed"] = plain(app.query_one("#lesson-text", Static))
            await pilot.press("left_square_bracket")
            await pilot.pause()
            seen["back"] = plain(app.query_one("#lesson-text", Static))
            await command(pilot, "print X")
            await command(pilot, "print W1[:,0]")
            seen["ticked"] = plain(app.query_one("#lesson-steps", Static))
            seen["after"] = plain(app.query_one("#lesson-text", Static))
            seen["feedback"] = plain(app.query_one("#lesson-feedback", Static))

    asyncio.run(main())
    welcome = [line for line in seen["log"] if line.startswith("nndb — ")]
    assert len(welcome) == 1, f"the welcome line once, not {len(welcome)} times: {seen['log']}"
    assert "▶ 1. Look at the inputs and the weights" in seen["start"]
    assert "· 2. Predict, then run the weighted sum" in seen["start"]
    assert "1. Look at the inputs and the weights" in seen["text"] and "print X" in seen["text"]
    assert "hint 1/2: Rows of X are examples, columns the two inputs" in seen["hint"]
    assert "2. Predict, then run the weighted sum" in seen["browsed"] and "viewing another step" in seen["browsed"]
    assert "1. Look at the inputs" in seen["back"] and "viewing another step" not in seen["back"]
    assert "✓ 1. Look at the inputs and the weights" in seen["ticked"]
    assert "▶ 2. Predict, then run the weighted sum" in seen["ticked"]
    assert "Predict first:" in seen["after"] and "Z1[1,0]" in seen["after"]
    assert "✓ step 1/5 done: Look at the inputs and the weights" in seen["feedback"]
    assert "hint 1/2" not in seen["feedback"], "a passed step's hints are cleared"
    assert runner.completed == [0] and runner.step_index == 1


def test_docs_describe_every_check_and_every_setup_key():
    docs = (Path(__file__).resolve().parent.parent / "docs" / "lessons.md").read_text(encoding="utf-8")
    for kind in CHECKS.values():
        assert f"| `{kind.usage}` | {kind.help} |" in docs, f"docs/lessons.md lacks the check {kind.name}"
    for key in ("id", "title", "learn", "order", "preset", "seed", "batch", "hidden", "net", "init", "optimizer",
                "lr", "l2", "filters", "pool"):
        assert f"| `{key}` |" in docs, key
    for value in (*NETS, *INITS, *OPTIMIZERS, *POOLS, *(n for n, p in PRESETS.items() if not p.needs_data)):
        assert f"`{value}`" in docs, value
    assert "nndb lesson ID --repl --reset --lessons-dir PATH < solution.txt" in docs


def test_the_tui_follows_a_step_that_restarts_the_debugger():
    pytest.importorskip("textual")
    from textual.widgets import Static

    from inspector.tui.widgets import CommandBar
    from lessons.tui import LessonApp

    runner = LessonRunner(BY_ID["activations"])
    app = LessonApp(runner)
    lines = solution("activations")
    seen = {}

    async def main():
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            for i, line in enumerate(lines):
                bar = app.query_one(CommandBar)
                bar.focus()
                bar.value = line
                await pilot.press("enter")
                await pilot.pause()
                if i == 5:  # step 2 done: the sigmoid network has replaced the ReLU one
                    seen["restart"] = plain(app.query_one("#lesson-feedback", Static))
                    seen["listing"] = [op.layer for op in app.session.tape]
            seen["steps"] = plain(app.query_one("#lesson-steps", Static))

    asyncio.run(main())
    assert "↻ the debugger restarted with net: sigmoid" in seen["restart"]
    assert "sigmoid1" in seen["listing"] and "relu1" not in seen["listing"]
    assert all(f"✓ {i + 1}. {step.title}" in seen["steps"] for i, step in enumerate(BY_ID["activations"].steps))
    assert runner.done


def test_a_step_setup_rebuilds_the_lessons_network_even_after_a_load(tmp_path):
    text = LESSON.replace("## Step: Step\n", "## Step: Step\nsetup: hidden: 3\n")
    runner = LessonRunner(parse_lesson(text, "tiny.md", CHECKS))
    model = tmp_path / "m.npz"
    play(runner, [f"save {model}", f"load {model}"])
    assert runner.session.source == str(model)
    runner.run("print X")
    s = runner.session
    assert runner.step_index == 1 and s.source == "lesson tiny"
    assert s.model.param("W1").value.shape == (2, 3)


# -- issue 15: statements that are true for the numbers nndb computes -------------------------------------------
def test_l2_the_learner_sees_the_trained_norm_before_the_restart_even_printing_it_too_early():
    runner = LessonRunner(BY_ID["l2-regularization"])
    play(runner, solution("l2-regularization")[:9])
    assert runner.step_index == 3
    printed = runner.run("print norm(W2)")          # before training: 3.94, and the step is not done
    assert float(printed.data["values"]) == pytest.approx(3.935, abs=1e-3) and runner.step_index == 3
    trained = runner.run("train 500")                # now the step is done, and the next one restarts
    assert trained.extra[:3] == ["✓ step 4/5 done: Without L2 the weights grow",
                                 "before the restart: norm(W2) = 5.612",
                                 "↻ the debugger restarted with l2: 1 (iteration 1; breakpoints and watches kept)"]


def test_the_bug_hunt_judges_what_the_equation_gives_and_says_the_code_disagrees():
    lines = solution("gradient-check")
    for guess, mark in (("0", "✓ your prediction was right"), ("-0.0777", "✗ not quite again")):
        runner = LessonRunner(BY_ID["gradient-check"])
        results = play(runner, [f"predict {guess}" if line.startswith("predict") else line for line in lines])
        if guess != "0":  # the first miss keeps the value hidden; the second try shows it
            assert not any("its equation gives" in line for line in feedback(results))
            results.append(runner.run(f"predict {guess}"))
        verdict = next(line for line in feedback(results) if "its equation gives" in line)
        assert verdict.startswith(f"{mark}: you said {guess}, its equation gives dZ2[0,1] = ")
        assert verdict.endswith("the code disagrees: it computed dZ2[0,1] = -0.077745 — that is the bug")


def test_optimizers_momentum_is_sgd_at_its_effective_rate_except_on_an_ill_conditioned_problem():
    runner = LessonRunner(BY_ID["optimizers"])
    results = play(runner, solution("optimizers"))
    trained = {}
    for r in results:
        if r.command.startswith("train"):
            m = re.search(r"whole dataset: loss ([0-9.]+), accuracy ([0-9.]+)%", r.message)
            trained[len(trained)] = (float(m.group(1)), float(m.group(2)))
    momentum, sgd_effective, sgd_stretched, momentum_stretched = (trained[i] for i in (1, 2, 3, 4))
    assert sgd_effective[0] <= momentum[0] * 1.2            # moons: SGD at α/(1−μ) = 0.5 does as well
    assert sgd_stretched[0] > 20 * momentum_stretched[0]      # stretched circles: momentum really helps
    assert momentum_stretched[1] == 100.0 and sgd_stretched[1] < 100.0
    assert runner.done


def test_chain_rule_step_4_needs_the_small_nudge_the_gradient_predicts():
    lines = solution("chain-rule")
    start = lines.index("set W1[1,2] = W1[1,2] + 0.1")
    runner = LessonRunner(BY_ID["chain-rule"])
    play(runner, lines[:start])
    assert runner.step_index == 3
    play(runner, ["set W1[1,2] = 9", "until L"])
    assert float(runner.session.evaluate("L")[1]) > 1.01 and runner.step_index == 3, "a huge edit is not the nudge"
    play(runner, ["goto start", "set W1[1,2] = W1[1,2] + 0.1", "until L"])
    assert runner.step_index == 3 and float(runner.session.evaluate("W1[1,2]")[1]) > 9, "edits add up"
    play(runner, ["reset", "set W1[1,2] = W1[1,2] + 0.1", "until L"])
    assert runner.step_index == 4


def test_dead_relus_a_few_momentum_updates_kill_them_not_one():
    lines = solution("dead-relus")
    runner = LessonRunner(BY_ID["dead-relus"])
    play(runner, lines[:lines.index("continue 200") + 1])
    s = runner.session
    assert runner.step_index == 4 and s.current.number == 5, "the break stops after four updates"
    b1 = np.asarray(s.evaluate("b1")[1])
    assert (b1 < 0).all() and b1.min() == pytest.approx(-4.22, abs=0.01)
    play(runner, ["print b1"])
    assert runner.step_index == 5


def test_initialization_the_huge_loss_is_finite_thanks_to_log_sum_exp():
    runner = LessonRunner(BY_ID["initialization"])
    lines = iter(solution("initialization"))
    while runner.step_index < 2:
        runner.run(next(lines))
    runner.run("until L")
    P = np.asarray(runner.session.evaluate("P")[1])
    assert ((P < 1e-100) | (P > 1 - 1e-12)).all() and (P == 0).sum() == 3, "0 and 1, three exactly 0"
    assert float(runner.session.evaluate("L")[1]) == pytest.approx(557, abs=1), "finite: log-sum-exp"
    assert "(557)" in BY_ID["initialization"].steps[2].hints[0] and "log-sum-exp" in BY_ID["initialization"].steps[2].hints[0]


@pytest.mark.parametrize("lesson_id, step, shown", [("output-backward", 1, ["dZ2[1,0]", "P[1,0]"]),
                                                      ("optimizers", 1, ["W1[0,0]", "dW1[0,0]"])])
def test_the_value_to_predict_is_not_already_on_screen(lesson_id, step, shown):
    """What was on screen when the step began (or what it asks to print first) is not the answer."""
    lesson = BY_ID[lesson_id]
    runner = LessonRunner(lesson)
    seen, verdicts = [], []
    for line in solution(lesson_id):
        if runner.step_index == step and runner.prediction is None:  # on screen before the learner predicts
            for name in shown:
                try:
                    seen.append(float(runner.session.evaluate(name)[1]))
                except Exception:
                    pass
        verdicts += [x for x in runner.run(line).extra if x.startswith("✓ your prediction")]
        if runner.step_index > step:
            break
    value = float(verdicts[-1].rsplit("= ", 1)[1])
    tolerance = lesson.steps[step].predict.tolerance
    assert seen and all(abs(value - v) > tolerance for v in seen), (value, seen)


def test_dense_layer_the_bias_broadcast_is_visible():
    runner = LessonRunner(BY_ID["dense-layer"])
    play(runner, ["print shape(X)", "print shape(W1)", "predict 4x8", "step", "explain Z1[2,5]"])
    assert runner.step_index == 3
    before = np.asarray(runner.session.evaluate("Z1[:,5]")[1])
    play(runner, ["until dense2.forward", "print shape(b2)", "print Z1[:,5]"])
    assert runner.step_index == 3, "with b1 = 0 nothing is broadcast that the learner could see"
    play(runner, ["goto start", "set b1[5] = 1", "step"])
    assert runner.step_index == 4
    np.testing.assert_allclose(np.asarray(runner.session.evaluate("Z1[:,5]")[1]), before + 1)


def test_activations_tanh_passes_one_minus_a_squared():
    runner = LessonRunner(BY_ID["activations"])
    play(runner, solution("activations"))
    a = float(runner.session.evaluate("A1[3,2]")[1])
    ratio = float(runner.session.evaluate("dZ1[3,2] / dA1[3,2]")[1])
    assert round(a, 4) == 0.7526 and round(1 - 0.7526 ** 2, 2) == round(ratio, 2) == 0.43
    assert "A1[3,2] = 0.7526, so only 1 − 0.7526² = 0.43" in BY_ID["activations"].steps[-1].text
