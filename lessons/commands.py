"""The lesson commands — lesson, hint, predict, answer — bound to one lesson's runner.

They are not in the debugger's registry: a lesson runs them through its own interpreter,
``Interpreter(session, REGISTRY | lesson_commands(runner))``, so importing ``lessons`` changes
no command table, and outside a lesson these words are unknown commands.
"""
from __future__ import annotations

from inspector.commands import Command, command
from inspector.errors import SessionError


def lesson_commands(runner=None) -> dict[str, Command]:
    """The four lesson commands, running against ``runner`` (a LessonRunner). Without one (to
    look names up), running them says that no lesson is running."""
    table: dict[str, Command] = {}

    def runner_of(name: str):
        if runner is None:
            raise SessionError(f"{name}: no lesson is running; `nndb lessons` lists them, `nndb lesson ID` starts one")
        return runner

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

    @command("answer", usage="answer TEXT", registry=table,
             summary="answer a lesson's question, e.g. `answer relu2` (in a lesson)")
    def do_answer(s, arg, line="answer"):
        return runner_of("answer").answer(arg)

    return table


# The lesson commands' names, usage and summaries, for lookups that need no runner (checks, validation).
LESSON_COMMANDS = lesson_commands()
