"""The ``nndb`` command line: subcommands for the debugger's front ends."""
from __future__ import annotations

import argparse
import sys

from rich.console import Console

from engine import PRESETS, EngineError, RecordingTracer, load_preset
from engine.presets import DEFAULT

from .render import array_view, op_header, shape_line


def cmd_trace(args, console: Console) -> int:
    """Print every op of one training iteration with its equation, shapes and values."""
    problem = load_preset(args.preset, seed=args.seed, data=args.data)
    tracer = RecordingTracer()
    problem.model.tracer = tracer
    batch = slice(0, args.batch)
    L = problem.model.train_step(problem.X[batch], problem.Y[batch], problem.loss, problem.optimizer)
    console.print(f"[bold]{problem.name}[/]: {problem.description}; one iteration on "
                  f"{len(problem.X[batch])} examples, loss {L:.4f}\n")
    for op in tracer.tape:
        console.print(op_header(op))
        console.print(shape_line(op))
        if args.values:
            for name, array in op.outputs.items():
                console.print(array_view(name, array))
        console.print()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nndb", description="A step-debugger for neural networks.")
    sub = parser.add_subparsers(dest="command")
    trace = sub.add_parser("trace", help="print the ops of one training iteration")
    for p in (parser, trace):
        p.add_argument("--preset", default=DEFAULT, choices=sorted(PRESETS), help="network and dataset")
        p.add_argument("--seed", type=int, default=0, help="seed for weights and data")
        p.add_argument("--data", help="folder with MNIST-format files (digits preset)")
        p.add_argument("--batch", type=int, default=4, help="examples in the iteration")
        p.add_argument("--no-values", dest="values", action="store_false", help="equations and shapes only")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        return cmd_trace(args, console)
    except (EngineError, KeyError) as e:
        console.print(f"[red]error:[/] {e}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
