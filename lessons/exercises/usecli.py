"""`nndb tui|repl|trace|train --use FILE`: the flag, and the hooks that put the learner's functions in (use.py)."""
from __future__ import annotations

import numpy as np
from rich.console import Console

from engine.presets import Problem

from .use import Learner, UseError, learner_problem, load_learner, swap_in, swap_summary


class TrainHook:
    """`nndb train --use FILE`: their functions train the network (in float64, as `nndb check` runs
    them); the first batch of each epoch is also computed by nndb's code and compared, op by op."""

    def __init__(self, learner: Learner):
        self.learner = learner
        self.compared, self.first, self.epochs_disagreeing = 0, None, []

    def prepare(self, plan, n_train: int, console) -> None:
        model = plan.model.astype(np.float64)
        used = swap_in(self.learner, [*model.layers, plan.loss, plan.optimizer])
        if not used:
            raise UseError(f"--use {self.learner.path.name}: this network uses none of your functions "
                           f"({', '.join(self.learner.functions) or 'none written yet'})")
        per_epoch = -(-n_train // max(1, min(plan.batch_size, n_train)))
        self.model, self.loss, self.per_epoch = model, plan.loss, per_epoch
        self.learner.strict = True
        self.learner.compare_when = lambda: model.training and model.iteration % per_epoch == 0
        self.learner.on_compared = self.seen
        self.console = console
        console.print(swap_summary(self.learner, used), style="yellow", soft_wrap=True)
        console.print("the first batch of each epoch is also computed by nndb's code and compared with yours",
                      style="dim")

    def seen(self, ops) -> None:
        epoch = self.model.iteration // self.per_epoch + 1
        self.compared += sum(bool(op.expected) for op in ops)
        for op in ops:
            a = op.agreement()
            if a is not None and not a["agrees"]:
                if epoch not in self.epochs_disagreeing:
                    self.epochs_disagreeing.append(epoch)
                    from inspector.render import disagreement_text
                    self.first = self.first or f"epoch {epoch}, first batch: {op.name}  {disagreement_text(a)}"
                    self.console.print(f"✗ epoch {epoch}, first batch: {op.name} disagrees with nndb's code: "
                                       f"{disagreement_text(a)}", style="bold red", soft_wrap=True, markup=False)
                return

    def finish(self, data, console) -> None:
        on, where = (data.test, "test") if data.test is not None else (data.train, "training")
        result = self.model.evaluate(*on, self.loss)
        if self.epochs_disagreeing:
            console.print(f"✗ your code disagreed with nndb's on the first batch of epoch"
                          f"{'s' if len(self.epochs_disagreeing) > 1 else ''} "
                          f"{', '.join(map(str, self.epochs_disagreeing))}; the first: {self.first}",
                          style="bold red", soft_wrap=True, markup=False)
        else:
            console.print(f"✓ your code agreed with nndb's on every op compared ({self.compared} ops: the first "
                          f"batch of each epoch)", style="green")
        console.print(f"your implementation reached {100 * result['accuracy']:.1f} % {where} accuracy",
                      style="bold", markup=False)


def run_with_use(args, console) -> int:
    """tui, repl, trace and train, each with the learner's functions where `--use FILE` is given."""
    from inspector import cli
    if getattr(args, "use", None):
        learner = load_learner(args.use, quiet=bool(getattr(args, "json", False)))
        if args.command == "train":
            args.train_hook = TrainHook(learner)
        else:
            lines: list[str] = []

            def change(problem: Problem) -> Problem:
                _, used = learner_problem(problem, args.use, learner)
                line = swap_summary(learner, used)
                if line not in lines:
                    lines.append(line)
                    if args.command != "tui":  # with --json, stdout carries JSON only
                        say = Console(stderr=True) if getattr(args, "json", False) else console
                        say.print(line, style="yellow", soft_wrap=True, markup=False)
                return problem
            args.change_problem = change
            if args.command == "tui":
                return run_tui_noted(args, lines)
    handlers = {"tui": cli.cmd_tui, "repl": cli.cmd_repl, "trace": cli.cmd_trace, "train": cli.run_training_command}
    return handlers[args.command](args, console)


def run_tui_noted(args, lines: list[str]) -> int:
    """The TUI, its output pane opening with the line that says whose code runs."""
    from inspector import cli
    from inspector.tui.app import run_tui
    session = cli.open_session(args)
    session.opening_notes = [*lines, "✓/✗ beside an op: your code agrees with nndb's there, or not"]
    return run_tui(session, cli.interpreter(args, session))


def add_use_flags(sub) -> None:
    """`--use FILE` on `nndb tui`, `repl`, `trace` and `train` (inspector.cli's parsers)."""
    for name in ("tui", "repl", "trace", "train"):
        parser = sub.choices[name]
        parser.add_argument("--use", metavar="FILE",
                            help="run your exercise functions from FILE in place of nndb's, each op compared "
                                 "with nndb's (FILE is run: the one outside code nndb runs)")
        parser.set_defaults(run=run_with_use)
