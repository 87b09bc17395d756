"""The ``nndb`` command line: the debugger's front ends and tools, as subcommands."""
from __future__ import annotations

import argparse
import difflib
import sys

from rich.console import Console
from rich.markup import escape

from engine import PRESETS, EngineError, RecordingTracer, load_preset
from engine.build import NAMES
from engine.presets import DEFAULT

from .render import array_view, first_disagreement, first_disagreement_line, op_header, shape_line
from .session import SessionError
from .guards import clean, count_int, finite_float, nonnegative_int, seed_int
from .training import name_flag


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, with "did you mean" for a mistyped choice (`nndb trian`, `--preset sprial`)."""

    def _check_value(self, action, value):
        if action.choices is not None and value not in action.choices:
            close = difflib.get_close_matches(str(value), [str(c) for c in action.choices], n=1, cutoff=0.6)
            if close:
                raise argparse.ArgumentError(action, f"invalid choice: {value!r}; did you mean {close[0]!r}? "
                                                     f"(choose from {', '.join(map(str, action.choices))})")
        super()._check_value(action, value)


def add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default=None, choices=sorted(PRESETS), help=f"network and dataset (default {DEFAULT})")
    p.add_argument("--model", metavar="FILE", help="open a saved model (.npz) instead of a preset")
    p.add_argument("--data", metavar="FOLDER", help="folder with MNIST-format files (digits)")
    p.add_argument("--csv", metavar="FILE", help="with --model: the CSV it was trained on (a path stored in a "
                                                 "model file is never opened)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed for weights, data and dropout (default 0)")
    p.add_argument("--batch", metavar="ROWS", help="examples the iteration uses: 0:8 or 3,5,7 (default 0:4)")


def open_session(args):
    from .commands import parse_rows
    from .sources import open_model_file, open_preset
    if args.model:
        session = open_model_file(args.model, data=args.data, seed=args.seed, preset=args.preset,
                                  csv=getattr(args, "csv", None))
    elif getattr(args, "csv", None):
        raise SessionError("--csv FILE names the data of a saved model: use it with --model FILE")
    else:
        session = open_preset(args.preset or DEFAULT, seed=args.seed, data=args.data)
    change = getattr(args, "change_problem", None)  # `--use FILE` (lessons/exercises/use.py): Problem → Problem
    if change is not None:
        session.reopen(lambda seed, build=session.factory: change(build(seed)), session.source)
    if args.batch:
        session.set_batch(parse_rows(args.batch, len(session.problem.X), session.batch))
    return session


def interpreter(args, session):
    """The interpreter of a plain debugging session: the debugger's commands, plus those the
    caller of ``main`` added (the lessons' words, which outside a lesson say how to start one)."""
    from .commands import REGISTRY, Interpreter
    return Interpreter(session, REGISTRY | dict(getattr(args, "extra_commands", None) or {}))


def cmd_repl(args, console: Console) -> int:
    from .repl import repl, run_script
    session = open_session(args)
    interp = interpreter(args, session)
    if args.script:
        lines = read_script(args.script)
        return run_script(session, lines, console, json_mode=args.json, interp=interp)
    if args.json or not sys.stdin.isatty():
        return run_script(session, stdin_lines(), console, json_mode=args.json, interp=interp)
    return repl(session, console, interp=interp)


MAX_SCRIPT = 8 * 2**20  # bytes: a script is commands typed by a person, not a device's endless stream


def read_script(path: str) -> list[str]:
    """The lines of a --script file: UTF-8 text of at most MAX_SCRIPT bytes, else a SessionError
    (exit status 2), read no further than the limit (so /dev/zero or a FIFO cannot grow memory)."""
    name = clean(path, newlines=False)[:200]
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_SCRIPT + 1)
    except (OSError, ValueError) as e:
        raise SessionError(f"--script: cannot read {name}: {getattr(e, 'strerror', None) or e}") from None
    if len(raw) > MAX_SCRIPT:
        raise SessionError(f"--script: {name} is longer than {MAX_SCRIPT // 2**20} MB (or endless); a script is "
                           f"a list of commands, one a line")
    if b"\0" in raw:
        raise SessionError(f"--script: {name} is a binary file (it holds NUL bytes), not a list of commands")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SessionError(f"--script: {name} is not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    return text.splitlines(keepends=True)


def stdin_lines(limit: int = 2**20):
    """Lines of standard input for the scripted mode: bytes that are not UTF-8 shown as U+FFFD (the
    command is then refused, not the session ended); a line longer than ``limit`` (an endless stream
    without newlines, /dev/zero) ends the script with a SessionError (exit status 2)."""
    try:
        sys.stdin.reconfigure(errors="replace")
    except (AttributeError, ValueError):
        pass
    while True:
        line = sys.stdin.readline(limit)
        if not line:
            return
        if len(line) >= limit and not line.endswith("\n"):
            raise SessionError(f"standard input: a line longer than {limit // 2**20} MB; a script is a list of "
                               f"commands, one a line")
        yield line


def cmd_tui(args, console: Console) -> int:
    from .tui.app import run_tui
    session = open_session(args)
    return run_tui(session, interpreter(args, session))


def cmd_trace(args, console: Console) -> int:
    """Print every op of one training iteration with its equation, shapes and values."""
    problem = load_preset(args.preset or DEFAULT, seed=args.seed, data=args.data)
    problem = getattr(args, "change_problem", None) and args.change_problem(problem) or problem  # `--use FILE`
    tracer = RecordingTracer()
    problem.model.tracer = tracer
    rows = slice(0, 4)
    L = problem.model.train_step(problem.X[rows], problem.Y[rows], problem.loss, problem.optimizer)
    console.print(f"[bold]{problem.name}[/]: {problem.description}; one iteration on "
                  f"{len(problem.X[rows])} examples, loss {L:.4f}\n")
    first = first_disagreement(tracer.tape)  # `--use FILE`: the first op where the learner's code differs
    for op in tracer.tape:
        if first is not None and op.index == first["index"]:
            console.print(first_disagreement_line(first))
        console.print(op_header(op))
        console.print(shape_line(op))
        if args.values:
            for name, array in op.outputs.items():
                console.print(array_view(name, array))
        console.print()
    return 0


def run_training_command(args, console: Console) -> int:
    from . import training
    from .evaluate import cmd_eval
    from .compare import cmd_compare
    command = {"train": training.cmd_train, "eval": cmd_eval, "sweep": training.cmd_sweep,
               "data": training.cmd_data, "compare": cmd_compare}[args.command]
    try:
        return command(args, console)
    except OSError as e:
        raise training.CommandError(f"{getattr(e, 'filename', None) or ''}: {e.strerror or e}".lstrip(": ")) from None


def build_parser(extensions=()) -> argparse.ArgumentParser:
    """The one argparse tree of `nndb`. Each of ``extensions`` adds subcommands to it (``extend(sub)``,
    sub being the subparsers; the lessons add `lessons` and `lesson`), each with ``run=handler(args,
    console)`` as its default, so `nndb --help` lists every subcommand."""
    parser = ArgumentParser(prog="nndb", description="A step-debugger for neural networks, made for learning.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    repl = sub.add_parser("repl", help="the debugger as a line REPL (scripted with --script or a pipe)")
    add_source_args(repl)
    repl.add_argument("--script", metavar="FILE", help="run the commands in FILE without prompts")
    repl.add_argument("--json", action="store_true", help="print one JSON object per command (scripted mode)")
    tui = sub.add_parser("tui", help="the debugger's terminal UI (what plain `nndb` opens)")
    add_source_args(tui)
    trace = sub.add_parser("trace", help="print every op of one training iteration")
    add_source_args(trace)
    trace.add_argument("--no-values", dest="values", action="store_false", help="equations and shapes only")
    add_training_parsers(sub)
    add_replay_parser(sub)
    for extend in extensions:
        extend(sub)
    add_source_args(parser)
    return parser


def add_data_args(p: argparse.ArgumentParser, preset_help: str) -> None:
    p.add_argument("--preset", choices=sorted(PRESETS), help=preset_help)
    p.add_argument("--data", metavar="FOLDER", help="folder with MNIST-format files (the digits preset; "
                   "else $NNDB_MNIST or the cache folder)")
    p.add_argument("--csv", metavar="FILE", help="your own data: numeric columns and a label column")
    p.add_argument("--label", metavar="COL", help="the CSV's label column, by name or number (default: the last)")


def add_training_parsers(sub) -> None:
    train = sub.add_parser("train", help="train a network with a progress bar; save the model, its history and plots")
    add_data_args(train, "network and dataset to start from (digits: MNIST from --data)")
    train.add_argument("--layers", metavar="SIZES", help="layer sizes, e.g. 784,128,10 (input first, classes last)")
    train.add_argument("--activation", choices=NAMES["activation"], type=name_flag("activation"), help="hidden activation (relu)")
    train.add_argument("--init", choices=NAMES["initializer"], type=name_flag("initializer"), help="weight init (he for relu, else xavier)")
    train.add_argument("--dropout", type=finite_float, metavar="P", help="dropout after each hidden layer (0)")
    train.add_argument("--epochs", type=count_int, help="passes over the training data (the preset's)")
    train.add_argument("--batch-size", type=count_int, help="examples per update (the preset's)")
    train.add_argument("--lr", type=finite_float, help="learning rate (the preset's)")
    train.add_argument("--optimizer", choices=NAMES["optimizer"], type=name_flag("optimizer"), help="update rule (the preset's; momentum is 0.9)")
    train.add_argument("--l2", type=finite_float, help="L2 strength λ (0)")
    train.add_argument("--seed", type=seed_int, default=0, help="seed for weights, shuffling and splits (0)")
    train.add_argument("--dtype", choices=["float32", "float64"], default="float32", help="float32 (fast, default) or float64")
    train.add_argument("--val", type=finite_float, default=0.1, help="fraction of the training data held out for validation (0.1)")
    train.add_argument("--out", required=True, metavar="MODEL.npz", help="model file; MODEL.history.csv/.json go beside it")
    train.add_argument("--resume", action="store_true",
                       help="continue an interrupted run of the same flags from its last complete epoch")
    train.add_argument("--record", nargs="?", const=0, type=count_int, metavar="EVERY",
                       help="keep frames of the weights every EVERY iterations (default: about 150 frames) "
                            "in MODEL.run.npz, for `nndb replay` and `nndb compare` (docs/runs.md)")
    ev = sub.add_parser("eval", help="test accuracy, confusion matrix and sample predictions of a saved model")
    ev.add_argument("model", metavar="MODEL.npz")
    ev.add_argument("--data", metavar="FOLDER", help="folder with MNIST-format files (digits models)")
    ev.add_argument("--csv", metavar="FILE", help="evaluate on every row of this CSV")
    ev.add_argument("--label", metavar="COL", help="the CSV's label column (default: as in training, else the last)")
    ev.add_argument("--samples", type=nonnegative_int, default=12, metavar="N", help="sample predictions to show (12; 0: none)")
    ev.add_argument("--mistakes", action="store_true", help="show misclassified examples only")
    sweep = sub.add_parser("sweep", help="train every combination of a small grid and rank them")
    add_data_args(sweep, "dataset (and default epochs and batch size) to use (digits: MNIST from --data)")
    sweep.add_argument("--lr", default="0.1", metavar="LIST", help="learning rates, comma-separated (0.1)")
    sweep.add_argument("--hidden", metavar="LIST",
                       help="hidden layer sizes of a dense network, comma-separated (128; a CNN or RNN preset "
                            "keeps its own network)")
    sweep.add_argument("--l2", default="0", metavar="LIST", help="L2 strengths, comma-separated (0)")
    sweep.add_argument("--activation", choices=NAMES["activation"], type=name_flag("activation"), default="relu")
    sweep.add_argument("--optimizer", choices=NAMES["optimizer"], type=name_flag("optimizer"), help="update rule (the preset's)")
    sweep.add_argument("--epochs", type=count_int, help="epochs per run (the preset's)")
    sweep.add_argument("--batch-size", type=count_int, help="examples per update (the preset's)")
    sweep.add_argument("--seed", type=seed_int, default=0)
    sweep.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    sweep.add_argument("--val", type=finite_float, default=0.1, help="validation fraction the runs are ranked on (0.1)")
    sweep.add_argument("--out", metavar="FILE.csv|FOLDER/", help="ranked table as CSV, and .json beside; a folder "
                       "gets sweep.csv and sweep.json (default: a new folder sweep-PRESET)")
    compare = sub.add_parser("compare", help="recorded runs side by side: curves, a table, final weight histograms")
    compare.add_argument("runs", nargs="+", metavar="RUN", help="run files (NAME.run.npz, from `train --record` "
                         "or `sweep`), or folders: every *.run.npz in them")
    data = sub.add_parser("data", help="datasets: download MNIST or Fashion-MNIST")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    dl = data_sub.add_parser("download", help="fetch the four IDX files (sha256-checked) into the cache or --dest")
    dl.add_argument("name", choices=["mnist", "fashion-mnist"])
    dl.add_argument("--dest", metavar="FOLDER", help="where to put the files (default: the cache folder)")


def add_replay_parser(sub) -> None:
    replay = sub.add_parser("replay", help="replay a recorded run frame by frame (or --export it as a GIF)")
    replay.add_argument("run_file", metavar="RUN", help="a run file written by `nndb train ... --record` (NAME.run.npz)")
    replay.add_argument("--export", metavar="PATH", help="write a video instead: PATH.gif, or a folder for PNG frames")
    # checked by inspector/video.py, which says what it expects
    replay.add_argument("--fps", metavar="N", help="with --export: frames per second (10)")
    replay.add_argument("--size", metavar="WxH", help="with --export: the size in pixels (640x360)")
    replay.add_argument("--frames", metavar="SPEC", help="with --export: which frames, A:B[:STEP] or N evenly spaced")
    replay.set_defaults(run=cmd_replay)


def cmd_replay(args, console: Console) -> int:
    """`nndb replay RUN`: the replay screen, or with --export a GIF or PNG frames (inspector/video.py)."""
    from .runs import RunFileError, load_run
    video_options = [f"--{name}" for name in ("fps", "size", "frames") if getattr(args, name) is not None]
    if video_options and not args.export:
        console.print(f"[red]error:[/] {', '.join(video_options)}: only with --export PATH (a .gif file or a "
                      f"folder for PNG frames), which they shape", soft_wrap=True)
        return 2
    try:
        run = load_run(args.run_file)
    except RunFileError as e:
        console.print(f"[red]error:[/] {escape(clean(str(e), newlines=False))}", soft_wrap=True)
        return 2
    if args.export:
        from . import video
        return video.export(run, args.export, fps=args.fps, size=args.size, frames=args.frames, console=console)
    from .tui.replay import run_replay
    return run_replay(run)


def main(argv: list[str] | None = None, extensions=(), commands=None) -> int:
    """Run `nndb ARGV`. ``extensions`` add subcommands; ``commands`` (name → Command) join the
    debugger's commands in `repl` and `tui`."""
    args = build_parser(extensions).parse_args(argv)
    args.extra_commands = commands
    console = Console()
    from .training import CommandError
    try:
        if getattr(args, "run", None) is not None:  # a subcommand an extension added
            return args.run(args, console)
        if args.command in ("train", "eval", "sweep", "data", "compare"):
            return run_training_command(args, console)
        if args.command == "trace":
            return cmd_trace(args, console)
        if args.command == "repl":
            return cmd_repl(args, console)
        if args.command == "tui" or sys.stdin.isatty() and sys.stdout.isatty():
            return cmd_tui(args, console)
        args.script, args.json = None, False  # plain `nndb` fed by a pipe: the scripted REPL
        return cmd_repl(args, console)
    except (EngineError, SessionError, CommandError) as e:
        console.print(f"[red]error:[/] {escape(str(e))}")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
