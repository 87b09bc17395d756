"""The build-it-yourself track: each lesson guides one exercise, played with the learner's file solved, untouched and bugged."""
from __future__ import annotations

from pathlib import Path

import pytest

from exercise_solutions import BUGS, SOLUTIONS
from lessons import all_lessons, parse_lesson
from lessons.checks import CHECKS, Context, validate
from lessons.commands import EXERCISES_ENV, exercises_dir, learner_file
from lessons.exercises import EXERCISES
from lessons.runner import LessonRunner

TRACK = ["sigmoid", "relu", "dense", "softmax-ce", "l2", "sgd-momentum", "adam", "vectorize", "conv2d", "maxpool",
         "rnn"]
BUILD = {lesson.setup["exercise"]: lesson for lesson in all_lessons() if lesson.setup.get("track") == "build"}
USED = TRACK  # the last step of every lesson runs the learner's functions (`use:`)
SOLUTIONS_DIR = Path(__file__).resolve().parent.parent / "lessons" / "solutions"


@pytest.fixture(autouse=True)
def folders(tmp_path, monkeypatch):
    """A fresh exercises folder and state folder per test: nothing touches the learner's real ones."""
    monkeypatch.setenv(EXERCISES_ENV, str(tmp_path / "exercises"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "exercises"


def solution(lesson) -> list[str]:
    return [line for line in (SOLUTIONS_DIR / f"{lesson.id}.txt").read_text(encoding="utf-8").splitlines()
            if line.strip()]


def is_check(line: str) -> bool:
    return line.split()[0] == "check"


def play(runner: LessonRunner, lines, learner_text: str | None = None) -> list:
    """Run the lines; just before each `check`, the learner's file gets ``learner_text`` (None: left as it is)."""
    results = []
    for line in lines:
        if is_check(line) and learner_text is not None:
            learner_file(runner.lesson.setup["exercise"]).write_text(learner_text, encoding="utf-8")
        results.append(runner.run(line))
    return results


def with_bug(exercise_id: str, bug) -> str:
    function, right, wrong, array, _ = bug
    text = SOLUTIONS[exercise_id]
    assert text.count(right) == 1, (exercise_id, right)
    return text.replace(right, wrong)


def test_the_track_has_one_lesson_per_exercise_in_order():
    lessons = [lesson for lesson in all_lessons() if lesson.setup.get("track") == "build"]
    assert [lesson.setup["exercise"] for lesson in lessons] == TRACK
    assert [lesson.order for lesson in lessons] == list(range(30, 41))
    for lesson in lessons:
        assert lesson.id == f"build-{lesson.setup['exercise']}"
        assert lesson.path.name == f"{lesson.order}-{lesson.id}.md"
        assert lesson.steps[0].checks[0].name == "ran" and lesson.steps[0].checks[0].arg == "exercise"
        passed = [i for i, step in enumerate(lesson.steps) if any(c.name == "passed" for c in step.checks)]
        assert len(passed) == 1, lesson.id
        assert lesson.steps[passed[0]].checks[0].arg == lesson.setup["exercise"]
        assert any(step.predict for step in lesson.steps), f"{lesson.id} asks for no prediction"


@pytest.mark.parametrize("exercise_id", TRACK)
def test_the_solution_with_a_correct_file_completes_every_step(exercise_id, folders):
    lesson = BUILD[exercise_id]
    runner = LessonRunner(lesson, resume=False)
    lines = solution(lesson)
    first = runner.run(lines[0])  # `exercise`: the stub, with no solution in it
    path = folders / f"{exercise_id}.py"
    assert first.ok and first.message == f"wrote {path}: write {', '.join(EXERCISES[exercise_id].functions)} in it, " \
                                         f"then `check`"
    assert path.read_text(encoding="utf-8") == EXERCISES[exercise_id].stub_text(path)
    results = play(runner, lines[1:], SOLUTIONS[exercise_id])
    assert [(r.command, r.message) for r in results if not r.ok] == []
    assert runner.done and runner.completed == list(range(len(lesson.steps)))
    check = next(r for r in results if r.kind == "check")
    n = len(EXERCISES[exercise_id].functions)
    assert check.message == f"✓ {n} of {n} functions pass ({path.resolve()})"
    assert check.data["passed"] and [f["status"] for f in check.data["functions"]] == ["pass"] * n
    assert [line.split()[:2] for line in check.data["lines"]] == [["✓", name]
                                                                  for name in EXERCISES[exercise_id].functions]
    if exercise_id in USED:  # the last step runs the learner's functions, nndb's alongside
        assert f"↻ the debugger restarted with use: {exercise_id} (iteration 1; breakpoints and watches kept)" \
            in check.extra
        s = runner.session
        swapped = [part for part in (*s.model.layers, s.loss, s.optimizer)
                   if type(part).__module__ in ("lessons.exercises.use", "lessons.exercises.use_rnn")]
        assert swapped and {part.learner.path for part in swapped} == {path.resolve()}
        explained = results[-1]
        assert explained.kind == "explain"
        if exercise_id != "l2":  # l2_gradient's term is inside dW's op, which nndb's code does not compare
            assert explained.data["expected"] == pytest.approx(explained.data["value"])
    verdicts = [line for r in results for line in r.extra if line.startswith(("✓ your prediction", "✗ not quite"))]
    assert len(verdicts) == sum(1 for step in lesson.steps if step.predict)
    assert all(v.startswith("✓ your prediction was right") for v in verdicts), verdicts


@pytest.mark.parametrize("exercise_id", TRACK)
def test_the_untouched_stub_fails_the_check_and_the_step_waits(exercise_id, folders):
    lesson = BUILD[exercise_id]
    runner = LessonRunner(lesson, resume=False)
    results = play(runner, solution(lesson))  # the stub is left as `exercise` wrote it
    check_step = next(i for i, step in enumerate(lesson.steps) if any(c.name == "passed" for c in step.checks))
    assert runner.step_index == check_step and not runner.done
    check = next(r for r in results if r.kind == "check")
    n = len(EXERCISES[exercise_id].functions)
    assert check.ok and not check.data["passed"]
    assert check.message == f"✗ 0 of {n} functions pass ({(folders / f'{exercise_id}.py').resolve()})"
    for name, line in zip(EXERCISES[exercise_id].functions, check.data["lines"]):
        assert line.startswith(f"✗ {name}  not written yet: {name} still raises NotImplementedError")
    assert check.data["lines"][-1] == "fix what each ✗ line says in your file, then `check` again"
    assert not any(line.startswith("✓ step") for line in check.extra)


@pytest.mark.parametrize("exercise_id", TRACK)
def test_a_planted_bug_is_named_by_array_and_element_then_fixing_it_passes(exercise_id, folders):
    lesson = BUILD[exercise_id]
    bug = BUGS[exercise_id][0]
    function, _, _, array, _ = bug
    runner = LessonRunner(lesson, resume=False)
    lines = solution(lesson)
    results = play(runner, lines, with_bug(exercise_id, bug))
    check = next(r for r in results if r.kind == "check")
    failing = [f for f in check.data["functions"] if f["status"] != "pass"]
    assert [f["function"] for f in failing] == [function]
    wrong = failing[0]
    assert wrong["array"] == array
    at = "[" + ",".join(map(str, wrong["index"])) + "]" if wrong["index"] else ""
    shown = next(line for line in check.data["lines"] if line.startswith(f"✗ {function}"))
    assert shown.startswith(f"✗ {function}  {array}{at}: yours ") and ", expected " in shown
    if wrong.get("explanation"):
        assert f"    {wrong['explanation']}" in check.data["lines"]
    assert check.data["lines"][-1].startswith("read the first wrong element, yours against expected, and its equation")
    assert not runner.done
    check_step = runner.step_index
    learner_file(exercise_id).write_text(SOLUTIONS[exercise_id], encoding="utf-8")  # fixed
    fixed = runner.run("check")
    assert fixed.data["passed"] and check_step in runner.completed


def test_the_feedback_on_a_bug_in_dense_backward_reads_like_nndb_check(folders):
    runner = LessonRunner(BUILD["dense"], resume=False)
    runner.run("exercise")
    learner_file("dense").write_text(SOLUTIONS["dense"].replace("dW = X.T @ dZ", "dW = X.T @ dZ / X.shape[0]"),
                                     encoding="utf-8")
    result = runner.run("check dense")
    assert result.ok and result.command == "check dense"
    lines = result.data["lines"]
    assert lines[0].startswith("✓ dense_forward  ")
    assert lines[1].startswith("✗ dense_backward  dW[0,0]: yours ") and "expected" in lines[1]
    assert lines[2].startswith("    case: ")
    assert lines[3].startswith("    dW[0,0] = Σᵢ X[i,0]·dZ[i,0] = ")
    assert lines[4] == "    hint: divided by m once too often (m = 4)"


def test_exercise_never_overwrites_and_says_where_the_file_is(folders):
    runner = LessonRunner(BUILD["relu"], resume=False)
    folders.mkdir(parents=True)
    mine = folders / "relu.py"
    mine.write_text("# my own work\n", encoding="utf-8")
    result = runner.run("exercise")
    assert result.ok and result.message == f"{mine} already exists (not overwritten): edit it, then `check`"
    assert result.data == {"path": str(mine)}
    assert mine.read_text(encoding="utf-8") == "# my own work\n"
    other = runner.run("exercise dense")  # another exercise, named
    assert other.ok and (folders / "dense.py").is_file() and not runner.completed[1:]


def test_resuming_replays_the_check_and_comes_back_on_the_learners_code(folders):
    from lessons.progress import ProgressStore
    lesson = BUILD["maxpool"]
    lines = solution(lesson)
    first = LessonRunner(lesson, ProgressStore())
    play(first, lines[:lines.index("check") + 1], SOLUTIONS["maxpool"])
    assert first.step_index == len(lesson.steps) - 1
    again = LessonRunner(lesson, ProgressStore())  # a new session: the commands are replayed
    assert (again.step_index, again.completed) == (first.step_index, first.completed)
    assert [type(layer).__module__ for layer in again.session.model.layers if layer.kind == "maxpool"] == \
        ["lessons.exercises.use"]
    assert (folders / "maxpool.py").read_text(encoding="utf-8") == SOLUTIONS["maxpool"]  # `exercise` kept it


def test_the_exercises_folder_defaults_to_nndb_exercises(monkeypatch):
    monkeypatch.delenv(EXERCISES_ENV)
    assert exercises_dir() == Path("nndb-exercises")
    assert learner_file("dense") == Path("nndb-exercises") / "dense.py"


def test_bad_arguments_get_one_clear_message(folders, tmp_path):
    runner = LessonRunner(BUILD["sigmoid"], resume=False)
    missing = runner.run("check")
    assert not missing.ok
    assert missing.message == f"check: no file {folders / 'sigmoid.py'} (`exercise` writes the stub)"
    unknown = runner.run("exercise softmax")
    assert not unknown.ok and unknown.message.startswith("exercise: no exercise 'softmax'; the exercises are sigmoid, ")
    folder = runner.run(f"check {tmp_path}")
    assert not folder.ok and folder.message == f"check: not a file: {tmp_path}"
    other = LessonRunner(all_lessons()[0], resume=False)  # a lesson without an exercise
    for command in ("check", "exercise"):
        result = other.run(command)
        assert not result.ok and result.message.startswith(f"{command}: this lesson has no exercise; name one, "
                                                            f"e.g. `{command} dense`")
    assert runner.step_index == 0 and other.step_index == 0


def test_an_exercises_folder_that_is_a_file_gets_one_message(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv(EXERCISES_ENV, str(blocker))
    runner = LessonRunner(BUILD["adam"], resume=False)
    result = runner.run("exercise")
    assert not result.ok and result.message.startswith(f"exercise: cannot write {blocker / 'adam.py'}: ")
    assert result.message.endswith(f"; set {EXERCISES_ENV} to a folder you can write")
    assert blocker.read_text(encoding="utf-8") == "x" and runner.step_index == 0


def test_check_takes_a_file_of_any_name(folders, tmp_path):
    runner = LessonRunner(BUILD["relu"], resume=False)
    runner.run("exercise")
    mine = tmp_path / "homework.py"
    mine.write_text(SOLUTIONS["relu"], encoding="utf-8")
    result = runner.run(f"check {mine}")
    assert result.ok and result.data["passed"] and result.data["file"] == str(mine)
    assert [f["function"] for f in result.data["functions"]] == ["relu_forward", "relu_backward"]


def test_a_check_records_the_exercise_status(folders, tmp_path):
    from lessons.exercises.cli import StatusStore
    runner = LessonRunner(BUILD["sgd-momentum"], resume=False)
    runner.run("exercise")
    runner.run("check")
    assert StatusStore().status("sgd-momentum") == "failing"
    learner_file("sgd-momentum").write_text(SOLUTIONS["sgd-momentum"], encoding="utf-8")
    runner.run("check")
    assert StatusStore().status("sgd-momentum") == "passing"


# -- the check `passed ID` ---------------------------------------------------------------------------------------
def test_passed_holds_only_for_a_check_of_this_step_that_passed_every_function(folders):
    lesson = parse_lesson("""---
id: tiny-build
title: t
learn: t
preset: xor
exercise: relu
---

## Step: Check it
`check`.
check: passed relu
hint: `check`.
""", "t.md", CHECKS)
    runner = LessonRunner(lesson, resume=False)
    assert runner.run("exercise").ok and runner.step_index == 0
    half = SOLUTIONS["relu"].replace("return dA * (Z > 0)", "return dA * (Z >= 0)")
    learner_file("relu").write_text(half, encoding="utf-8")
    result = runner.run("check")
    assert [f["status"] for f in result.data["functions"]] == ["pass", "fail"] and runner.step_index == 0
    learner_file("relu").write_text(SOLUTIONS["relu"], encoding="utf-8")
    assert runner.run("check").extra[0] == "✓ step 1/1 done: Check it" and runner.done


def test_passed_reads_only_checks_of_that_exercise():
    def ctx(*checks):
        return Context(session=None, results=[("check", {"functions": functions}) for functions in checks])
    relu_ok = [{"exercise": "relu", "function": f, "status": "pass"} for f in ("relu_forward", "relu_backward")]
    test = CHECKS["passed"].test
    assert test(ctx(relu_ok), "relu") and not test(ctx(relu_ok), "sigmoid")
    assert not test(ctx(relu_ok[:1]), "relu") and test(ctx(relu_ok[:1], relu_ok), "relu")
    assert not test(Context(session=None, results=[("value", {"functions": relu_ok})]), "relu")
    assert validate("passed", "relu") is None
    assert validate("passed", "capsule").startswith("check passed: no exercise 'capsule'; the exercises are sigmoid")


# -- the step on the learner's own code ---------------------------------------------------------------------------
def test_every_lesson_but_rnn_ends_on_the_learners_code():
    for exercise_id, lesson in BUILD.items():
        uses = [step.setup.get("use") for step in lesson.steps if "use" in step.setup]
        assert uses == ([exercise_id] if exercise_id in USED else []), lesson.id
        if uses:
            assert "use" in lesson.steps[-1].setup, f"{lesson.id}: the step on the learner's code comes last"


TINY_USE = """---
id: tiny-use
title: t
learn: t
preset: moons
exercise: relu
---

## Step: Look
`print X`.
check: ran print X
hint: `print X`.

## Step: Yours
setup: use: relu
`until relu1.backward`.
check: reached relu1.backward
hint: `until relu1.backward`.
"""


def test_a_learners_file_that_cannot_run_is_said_and_reset_tries_again(folders):
    runner = LessonRunner(parse_lesson(TINY_USE, "t.md", CHECKS), resume=False)
    result = runner.run("print X")
    assert result.ok and runner.step_index == 1
    failed = next(f for f in result.feedback if f.kind == "fail")
    assert failed.text == (f"✗ the debugger could not restart with use: relu: --use: no file {folders / 'relu.py'} "
                           f"(nndb exercise ID writes one). Fix that, then `reset`")
    assert not any(hasattr(layer, "learner") for layer in runner.session.model.layers)  # nndb's network goes on
    runner.run("exercise")
    still = runner.run("reset")
    assert not still.ok and "uses none of your functions (none written yet" in still.message
    learner_file("relu").write_text(SOLUTIONS["relu"], encoding="utf-8")
    assert runner.run("reset").ok
    assert [type(layer).__module__ for layer in runner.session.model.layers if layer.kind == "relu"] == \
        ["lessons.exercises.use"] * 2
    explained = runner.run("until relu1.backward")
    assert explained.ok and runner.done


# -- in the TUI ---------------------------------------------------------------------------------------------------
def test_the_tui_shows_the_check_report_and_moves_on_when_it_passes(folders):
    pytest.importorskip("textual")
    import asyncio

    from textual.widgets import RichLog

    from inspector.tui.widgets import CommandBar
    from lessons.tui import LessonApp

    runner = LessonRunner(BUILD["dense"], resume=False)
    lines = solution(BUILD["dense"])
    play(runner, lines[:lines.index("check")])
    assert runner.step_index == 3  # the check step
    app = LessonApp(runner)
    seen = {}

    async def main():
        async with app.run_test(size=(80, 24)) as pilot:
            async def type_line(line):
                bar = app.query_one(CommandBar)
                bar.focus()
                bar.value = line
                await pilot.press("enter")
                await app.workers.wait_for_complete()  # `check` runs in the TUI's long-work worker
                await pilot.pause()
            learner_file("dense").write_text(with_bug("dense", BUGS["dense"][0]), encoding="utf-8")
            await type_line("check")
            seen["bug"] = "\n".join(strip.text for strip in app.query_one("#log", RichLog).lines)
            seen["step"] = runner.step_index
            learner_file("dense").write_text(SOLUTIONS["dense"], encoding="utf-8")
            await type_line("check")
            seen["listing"] = [type(layer).__module__ for layer in app.session.model.layers if layer.kind == "dense"]

    asyncio.run(main())
    log = " ".join(seen["bug"].split())  # lines wrap at 80 columns
    assert "✗ 1 of 2 functions pass" in log and "✓ dense_forward" in log
    assert "✗ dense_backward dW[0,0]: yours" in log and "hint: divided by m once too often (m = 4)" in log
    assert seen["step"] == 3
    assert runner.step_index == 4 and seen["listing"] == ["lessons.exercises.use"] * 3  # the use step began
