"""The lesson commands, declared in the debugger's one command registry: lesson, hint, predict, answer."""
from __future__ import annotations

from inspector.commands import command
from inspector.session import SessionError


def runner_of(session, name: str):
    runner = getattr(session, "lesson", None)
    if runner is None:
        raise SessionError(f"{name}: no lesson is running; `nndb lessons` lists them, `nndb lesson ID` starts one")
    return runner


@command("lesson", usage="lesson", summary="the current lesson step again (in a lesson)")
def do_lesson(s, arg, line="lesson"):
    return runner_of(s, "lesson").status()


@command("hint", usage="hint", summary="reveal the next hint for this lesson step (in a lesson)")
def do_hint(s, arg, line="hint"):
    return runner_of(s, "hint").hint()


@command("predict", usage="predict ANSWER", args="none",
         summary="state your prediction (a shape 4x8, a value 0.5, a sign +) before the code computes it")
def do_predict(s, arg, line="predict"):
    runner = runner_of(s, "predict")
    if not arg.strip():
        raise SessionError("predict: type your answer after the word, e.g. `predict 4x8` or `predict 0.5`")
    return runner.predict(arg)


@command("answer", usage="answer TEXT", summary="answer a lesson's question, e.g. `answer relu2` (in a lesson)")
def do_answer(s, arg, line="answer"):
    return runner_of(s, "answer").answer(arg)
