"""Session commands: start over (reset, seed), save and load the model, help, quit."""
from __future__ import annotations

import re

from engine import ModelFileError, load, save

from ..errors import SessionError
from ..guards import check_output, clean
from ..session import StepReport
from ..sources import file_extra, replace_model
from .core import REGISTRY, Command, Result, UsageError, command, lookup, no_args
from .views import stepped


@command("reset", usage="reset", summary="start over from the same preset or file and seed (breakpoints and watches stay)")
def do_reset(s, arg, line="reset"):
    no_args("reset", arg)
    s.reset()
    return stepped(s, line, StepReport(reason=f"reset: iteration 1 of {s.source}, seed {s.seed}"))


@command("seed", usage="seed N", args="count", summary="start over with another seed (weights, data, dropout)")
def do_seed(s, arg, line="seed"):
    if not re.fullmatch(r"\s*\d+\s*", arg):
        raise UsageError(f"seed: expected a whole number, got {arg.strip()!r}")
    s.reset(seed=int(arg))
    return stepped(s, line, StepReport(reason=f"reset with seed {s.seed}"))


@command("save", usage="save FILE", args="file", summary="save the model as it is at this point (.npz, atomic)")
def do_save(s, arg, line="save"):
    path = arg.strip()
    if not path:
        raise UsageError("save: give a file name, e.g. `save model.npz`")
    try:  # never onto a device, a FIFO, a folder or through a symbolic link
        check_output(path, flag="save:")
    except ValueError as e:
        raise SessionError(str(e)) from None
    model = s.model_at_cursor()
    try:
        save(model, path, extra=file_extra(s))
    except OSError as e:
        raise SessionError(f"save: cannot write {clean(path)[:200]}: {e.strerror or e}") from None
    return Result(line, True, "message", f"saved {s.source} at iteration {s.current.number}, op {s.pos} to {path}",
                  {"path": path})


@command("load", usage="load FILE", args="file", summary="replace the model's weights by a saved model's and restart")
def do_load(s, arg, line="load"):
    path = arg.strip()
    if not path:
        raise UsageError("load: give a file name, e.g. `load model.npz`")
    try:
        model = load(path)
    except ModelFileError as e:
        raise SessionError(f"load: {e}") from None
    except OSError as e:  # a name too long, a folder, no permission
        raise SessionError(f"load: cannot read {clean(path)[:200]}: {e.strerror or e}") from None
    replace_model(s, model, path)
    return stepped(s, line, StepReport(reason=f"loaded {path}"))


@command("help", aliases=("h", "?"), usage="help [COMMAND]", args="command", takes=("commands",),
         summary="list the commands, or explain one")
def do_help(s, arg, line="help", commands=None):
    """``commands``: the interpreter's table (a lesson's includes its own commands)."""
    commands = REGISTRY if commands is None else commands
    word = arg.strip()
    if word:
        cmd = lookup(word, commands)
        if cmd is None:
            raise UsageError(f"help: no command {word!r}; `help` lists them")
        return Result(line, True, "help", "", {"commands": [command_data(cmd)], "detail": True})
    return Result(line, True, "help", "", {"commands": [command_data(c) for c in commands.values()]})


def command_data(c: Command) -> dict:
    return {"name": c.name, "aliases": list(c.aliases), "usage": c.usage, "summary": c.summary, "help": c.help}


@command("quit", aliases=("q", "exit"), usage="quit", summary="leave the debugger")
def do_quit(s, arg, line="quit"):
    return Result(line, True, "quit", "bye")
