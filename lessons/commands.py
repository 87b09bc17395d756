"""The lesson commands — lesson, hint, predict, reveal, answer, exercise, check — bound to one lesson's runner.

They are not in the debugger's registry: a lesson runs them through its own interpreter,
``Interpreter(session, REGISTRY | lesson_commands(runner))``, so importing ``lessons`` changes
no command table, and outside a lesson these words are unknown commands.

``exercise`` and ``check`` serve the build-it-yourself track: the stub of the lesson's exercise
is written into the exercises folder (``exercises_dir``), and ``check`` runs the checker on the
learner's file (each function in a child process, as `nndb check` does) and shows its report.
"""
from __future__ import annotations

import os
from pathlib import Path

from inspector.commands import Command, Result, always_long, command
from inspector.errors import SessionError

from .exercises import DEFAULT_DIR, EXERCISES

EXERCISES_ENV = "NNDB_EXERCISES_DIR"


def exercises_dir() -> Path:
    """Where a lesson writes the learner's exercise files: $NNDB_EXERCISES_DIR, else ./nndb-exercises."""
    return Path(os.environ.get(EXERCISES_ENV) or DEFAULT_DIR).expanduser()


def learner_file(exercise_id: str) -> Path:
    """The learner's file of an exercise in the exercises folder: ``nndb-exercises/dense.py``."""
    return exercises_dir() / f"{exercise_id}.py"


def known_exercise(cmd: str, exercise_id: str) -> str:
    if exercise_id not in EXERCISES:
        raise SessionError(f"{cmd}: no exercise {exercise_id[:40]!r}; the exercises are {', '.join(EXERCISES)}")
    return exercise_id


def write_stub(exercise_id: str) -> Result:
    """The exercise's stub in the exercises folder, unless a file is there already (never overwritten)."""
    ex = EXERCISES[exercise_id]
    path = learner_file(exercise_id)
    kept = Result(f"exercise {exercise_id}", True, "message",
                  f"{path} already exists (not overwritten): edit it, then `check`", {"path": str(path)})
    if path.exists():
        return kept
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # FileExistsError too when the folder's name is a file's
        with open(path, "x", encoding="utf-8") as f:  # "x": never replaces a file, even one made just now
            f.write(ex.stub_text(path))
    except OSError as e:
        if path.is_file():  # made between the check above and now
            return kept
        raise SessionError(f"exercise: cannot write {path}: {e.strerror or e}; set {EXERCISES_ENV} to a folder "
                           f"you can write") from None
    return Result(f"exercise {exercise_id}", True, "message",
                  f"wrote {path}: write {', '.join(ex.functions)} in it, then `check`", {"path": str(path)})


def run_check(target: Path, label: str) -> Result:
    """The checker's report on ``target``, line by line as `nndb check` prints it; the status is recorded."""
    from .exercises.checker import TIME_LIMIT, check_file
    from .exercises.cli import StatusStore, render

    if not target.is_file():
        missing = not target.exists()
        raise SessionError(f"check: {'no file' if missing else 'not a file:'} {target}" +
                           (" (`exercise` writes the stub)" if missing else ""))
    try:
        results = check_file(target)
    except KeyboardInterrupt:  # Escape in the TUI, Ctrl-C in the REPL: the child was killed
        raise SessionError(f"check: stopped before {target.name} was checked to the end; nothing was recorded. "
                           f"(A function that never returns is stopped after {TIME_LIMIT:g} s and reported: "
                           f"`check` again to see which one.)") from None
    store = StatusStore()
    store.record(results)
    lines = [text.plain for r in results for text in render(r)]
    passed = sum(r["status"] == "pass" for r in results)
    ok = passed == len(results)
    summary = f"{'✓' if ok else '✗'} {passed} of {len(results)} functions pass ({target})"
    if any(r["status"] == "fail" for r in results):
        lines.append("read the first wrong element, yours against expected, and its equation: fix your file, "
                     "then `check` again")
    elif not ok:
        lines.append("fix what each ✗ line says in your file, then `check` again")
    if store.warning:
        lines.append(store.warning)
    return Result(f"check {label}".strip(), True, "check", summary,
                  {"file": str(target), "passed": ok, "functions": results, "lines": lines})


def lesson_commands(runner=None) -> dict[str, Command]:
    """The lesson commands, running against ``runner`` (a LessonRunner). Without one (to
    look names up), running them says that no lesson is running."""
    table: dict[str, Command] = {}

    def runner_of(name: str):
        if runner is None:
            raise SessionError(f"{name}: no lesson is running; `nndb lessons` lists them, `nndb lesson ID` starts one")
        return runner

    def lesson_exercise(name: str) -> str:
        exercise_id = runner_of(name).lesson.setup.get("exercise")
        if not exercise_id:
            raise SessionError(f"{name}: this lesson has no exercise; name one, e.g. `{name} dense` "
                               f"(the exercises: {', '.join(EXERCISES)})")
        return known_exercise(name, exercise_id)

    @command("lesson", usage="lesson", summary="the current lesson step again (in a lesson)", registry=table)
    def do_lesson(s, arg, line="lesson"):
        return runner_of("lesson").status()

    @command("hint", usage="hint", summary="reveal the next hint for this lesson step (in a lesson)", registry=table)
    def do_hint(s, arg, line="hint"):
        return runner_of("hint").hint()

    @command("predict", usage="predict ANSWER", args="none", registry=table,
             summary="state your prediction (a shape 4x8, a value 0.5, a sign +) before the code computes it")
    def do_predict(s, arg, line="predict"):
        current = runner_of("predict")
        if not arg.strip():
            raise SessionError("predict: type your answer after the word, e.g. `predict 4x8` or `predict 0.5`")
        return current.predict(arg)

    def options() -> tuple[str, ...]:
        """The current step's multiple-choice options, for completion (none when it asks no such question)."""
        step = runner.step if runner is not None else None
        return tuple(choice.option for choice in step.choices) if step is not None else ()

    @command("answer", usage="answer TEXT", choices=options, registry=table,
             summary="answer a lesson's question, e.g. `answer relu2` (in a lesson)")
    def do_answer(s, arg, line="answer"):
        return runner_of("answer").answer(arg)

    @command("reveal", usage="reveal", registry=table,
             summary="show the value this step asks you to predict and move on (a prediction is a self-test)")
    def do_reveal(s, arg, line="reveal"):
        return runner_of("reveal").reveal()

    @command("exercise", usage="exercise [ID]", choices=tuple(EXERCISES), registry=table,
             summary="write the stub of this lesson's exercise (or of ID) into your exercises folder; never overwrites",
             help=f"""
The file is FOLDER/ID.py, FOLDER being ${EXERCISES_ENV} or ./{DEFAULT_DIR}. A file that is
there already is left alone: the command says where it is.""")
    def do_exercise(s, arg, line="exercise"):
        exercise_id = known_exercise("exercise", arg.strip()) if arg.strip() else lesson_exercise("exercise")
        return write_stub(exercise_id)

    @command("check", usage="check [ID|FILE]", args="file", long=always_long, choices=tuple(EXERCISES),
             registry=table,
             summary="check your exercise file against the engine: ✓, or the first wrong element and its equation",
             help=f"""
Without an argument: your file of this lesson's exercise (${EXERCISES_ENV} or ./{DEFAULT_DIR},
then ID.py); with an exercise ID, that exercise's file there; else the FILE named. Your file
runs in a child process per function, under a time limit, as `nndb check FILE` runs it.""")
    def do_check(s, arg, line="check"):
        text = arg.strip()
        if not text:
            exercise_id = lesson_exercise("check")
            return run_check(learner_file(exercise_id), "")
        if text in EXERCISES:
            return run_check(learner_file(text), text)
        return run_check(Path(text).expanduser(), text)

    return table


# The lesson commands' names, usage and summaries, for lookups that need no runner (checks, validation).
LESSON_COMMANDS = lesson_commands()
