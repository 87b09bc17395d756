"""The ``nndb`` command line: the debugger's front ends and tools, as subcommands."""
from __future__ import annotations

import argparse
import sys

from rich.console import Console

from engine import PRESETS, EngineError, RecordingTracer, load_preset
from engine.presets import DEFAULT

from .render import array_view, op_header, shape_line
from .session import SessionError


def add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default=None, choices=sorted(PRESETS), help=f"network and dataset (default {DEFAULT})")
    p.add_argument("--model", metavar="FILE", help="open a saved model (.npz) instead of a preset")
    p.add_argument("--data", metavar="FOLDER", help="folder with MNIST-format files (digits)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights, data and dropout (default 0)")
    p.add_argument("--batch", metavar="ROWS", help="examples the iteration uses: 0:8 or 3,5,7 (default 0:4)")


def open_session(args):
    from .commands import parse_rows
    from .sources import open_model_file, open_preset
    if args.model:
        session = open_model_file(args.model, data=args.data, seed=args.seed, preset=args.preset)
    else:
        session = open_preset(args.preset or DEFAULT, seed=args.seed, data=args.data)
    if args.batch:
        session.set_batch(parse_rows(args.batch, len(session.problem.X), session.batch))
    return session


def cmd_repl(args, console: Console) -> int:
    from .repl import repl, run_script
    session = open_session(args)
    if args.script:
        try:
            with open(args.script, encoding="utf-8") as f:
                lines = f.readlines()
        except OSError as e:
            raise SessionError(f"--script: cannot read {args.script}: {e.strerror or e}") from None
        return run_script(session, lines, console, json_mode=args.json)
    if args.json or not sys.stdin.isatty():
        return run_script(session, sys.stdin, console, json_mode=args.json)
    return repl(session, console)


def cmd_tui(args, console: Console) -> int:
    from .tui.app import run_tui
    return run_tui(open_session(args))


def cmd_trace(args, console: Console) -> int:
    """Print every op of one training iteration with its equation, shapes and values."""
    problem = load_preset(args.preset or DEFAULT, seed=args.seed, data=args.data)
    tracer = RecordingTracer()
    problem.model.tracer = tracer
    rows = slice(0, 4)
    L = problem.model.train_step(problem.X[rows], problem.Y[rows], problem.loss, problem.optimizer)
    console.print(f"[bold]{problem.name}[/]: {problem.description}; one iteration on "
                  f"{len(problem.X[rows])} examples, loss {L:.4f}\n")
    for op in tracer.tape:
        console.print(op_header(op))
        console.print(shape_line(op))
        if args.values:
            for name, array in op.outputs.items():
                console.print(array_view(name, array))
        console.print()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nndb", description="A step-debugger for neural networks, made for learning.")
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
    add_source_args(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        if args.command == "trace":
            return cmd_trace(args, console)
        if args.command == "repl":
            return cmd_repl(args, console)
        if args.command == "tui" or sys.stdin.isatty() and sys.stdout.isatty():
            return cmd_tui(args, console)
        args.script, args.json = None, False  # plain `nndb` fed by a pipe: the scripted REPL
        return cmd_repl(args, console)
    except (EngineError, SessionError) as e:
        console.print(f"[red]error:[/] {e}")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
