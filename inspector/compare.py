"""`nndb compare RUN… | FOLDER`: several recorded runs side by side — curves, a table, final weight histograms.

The curves overlay each run's validation loss and accuracy by epoch, one colour per run; the
table names each run by the hyperparameters in which the runs differ and gives its final and
best validation accuracy, the epoch of the best and its seconds per epoch; the histograms show
each weight parameter's final values, one column per run, on a range shared across the row.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from .plots import COLOURS, line_chart
from .runs import SUFFIX, Run, RunFileError, load_run

BARS = " ▁▂▃▄▅▆▇█"
SHOWN_HYPERPARAMETERS = ("lr", "optimizer", "batch_size", "epochs", "l2", "dropout", "seed", "network", "dtype")


def run_files(paths) -> tuple[list[Path], list[str]]:
    """The run files named by ``paths`` (a folder stands for every NAME.run.npz in it, sorted), and
    one line per path that names nothing readable."""
    files, errors = [], []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(path.glob(f"*{SUFFIX}"))
            if not found:
                errors.append(f"{path}: a folder without *{SUFFIX} files (record some with `nndb train --record` "
                              f"or `nndb sweep`)")
            files += found
        else:
            files.append(path)
    return files, errors


def load_runs(paths) -> tuple[list[Run], list[str]]:
    """The runs that load, and one line for each path that does not (RunFileError's message)."""
    files, errors = run_files(paths)
    runs = []
    for path in files:
        try:
            runs.append(load_run(path))
        except RunFileError as e:
            errors.append(str(e))
    return runs, errors


def colour_of(i: int) -> str:
    return COLOURS[i % len(COLOURS)]


def differing(runs: list[Run]) -> list[str]:
    """The hyperparameters whose values differ between ``runs`` (in a fixed order, then any others)."""
    keys = list(SHOWN_HYPERPARAMETERS) + sorted({k for r in runs for k in r.hyperparameters} - set(SHOWN_HYPERPARAMETERS))
    return [k for k in keys if len({repr(r.hyperparameters.get(k)) for r in runs}) > 1]


def split_of(runs: list[Run]) -> str:
    """"validation" when any of ``runs`` measured a validation split at its epochs' ends, else "training"."""
    return "validation" if any(np.any(np.isfinite(r.epochs["val_acc"])) for r in runs) else "training"


def summary(run: Run, on: str | None = None) -> dict:
    """A run's row: final and best accuracy on the ``on`` split (by default validation when it measured
    one, else training), the epoch of the best (1-based), seconds per epoch, and the final loss."""
    epochs = run.epochs
    on = on or split_of([run])
    acc = epochs["val_acc"] if on == "validation" else epochs["train_acc"]
    loss = epochs["val_loss"] if on == "validation" else epochs["train_loss"]
    finite = np.isfinite(acc)
    best = int(np.argmax(np.where(finite, acc, -np.inf))) if finite.any() else None
    seconds = run.seconds_per_epoch
    return {"run": run.label, "on": on, "epochs": int(len(acc)),
            "final_acc": float(acc[-1]) if len(acc) and finite[-1] else None,
            "best_acc": float(acc[best]) if best is not None else None,
            "best_epoch": best + 1 if best is not None else None,
            "final_loss": float(loss[-1]) if len(loss) and np.isfinite(loss[-1]) else None,
            "seconds_per_epoch": float(np.mean(seconds)) if seconds else None}


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.2f}"


def _value(v) -> str:
    if v is None:
        return "—"
    return f"{v:g}" if isinstance(v, float) else str(v)


def curves(runs: list[Run], width: int) -> Group:
    """Loss and accuracy by epoch, one line per run (validation, or training when no run has it)."""
    on = split_of(runs)
    loss_key, acc_key = ("val_loss", "val_acc") if on == "validation" else ("train_loss", "train_acc")
    chart_width = max(20, min(72, width - 12))
    loss = {r.label: list(r.epochs[loss_key]) for r in runs}
    acc = {r.label: list(r.epochs[acc_key]) for r in runs}
    return Group(line_chart(f"{on} loss by epoch", loss, width=chart_width), Text(),
                 line_chart(f"{on} accuracy by epoch", acc, width=chart_width))


def table(runs: list[Run], width: int = 100) -> Table:
    """One row a run: its colour and name, the hyperparameters that differ, accuracies, best epoch, time."""
    keys = differing(runs)
    on = split_of(runs)
    rows = [summary(r, on) for r in runs]
    t = Table(title=f"runs: final and best {on} accuracy, the epoch of the best, seconds per epoch" +
              (f"; they differ in {', '.join(keys)}" if keys else ""), title_justify="left")
    cells = [[_value(run.hyperparameters.get(k)) for k in keys] +
             [_pct(row["final_acc"]), _pct(row["best_acc"]), _value(row["best_epoch"]),
              "—" if row["seconds_per_epoch"] is None else f"{row['seconds_per_epoch']:.2g}"]
             for run, row in zip(runs, rows)]
    headers = [*keys, "final %", "best %", "epoch", "s/epoch"]
    widths = [max(len(header), *(len(c[j]) for c in cells)) for j, header in enumerate(headers)]
    names = [Text(f"{i + 1} ").append("━━ ", style=colour_of(i)).append(run.label) for i, run in enumerate(runs)]
    room = width - sum(widths) - 3 * (len(headers) + 1) - 1  # each column's padding and rule
    t.add_column("run", no_wrap=True, overflow="ellipsis", width=max(8, min(room, max(len(n) for n in names))))
    for header, w in zip(headers, widths):
        t.add_column(header, justify="right", no_wrap=True, min_width=w)
    for name, row_cells in zip(names, cells):
        t.add_row(name, *row_cells)
    return t


def histogram(values: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    counts, _ = np.histogram(values[np.isfinite(values)], bins=bins, range=(lo, hi))
    return counts


def bars(counts: np.ndarray) -> str:
    """Counts as a row of block characters, the tallest bin a full block (an empty bin a space)."""
    top = counts.max() if counts.size and counts.max() > 0 else 1
    return "".join(BARS[0] if c == 0 else BARS[max(1, int(round(c / top * (len(BARS) - 1))))] for c in counts)


def weight_names(runs: list[Run]) -> list[str]:
    """The weight and kernel parameters (2-D and up: not biases) of the runs, in first-seen order."""
    names: list[str] = []
    for run in runs:
        for name in run.parameters:
            if run.param_series(name).ndim >= 3 and name not in names:
                names.append(name)
    return names


def weight_histograms(runs: list[Run], width: int) -> Table:
    """Each weight parameter's final values, one histogram per run, on the row's shared range."""
    bins = max(8, min(24, (width - 14) // max(len(runs), 1) - 3))
    t = Table(title=f"final weights, per layer ({bins} bins over each row's range: min to max of all runs)",
              title_justify="left")
    t.add_column("weights", no_wrap=True, min_width=8)
    for i, run in enumerate(runs):  # headed by the runs table's numbers: the names would not fit
        t.add_column(Text(f"{i + 1} ").append("━━", style=colour_of(i)), no_wrap=True)
    for name in weight_names(runs):
        finals = [run.params(run.frames - 1)[name].ravel() if name in run.parameters else None for run in runs]
        present = [f[np.isfinite(f)] for f in finals if f is not None]
        present = [f for f in present if f.size]
        if not present:
            continue
        lo, hi = min(float(f.min()) for f in present), max(float(f.max()) for f in present)
        if hi - lo < 1e-12:
            lo, hi = lo - 0.5, hi + 0.5
        cells = []
        for i, final in enumerate(finals):
            if final is None:
                cells.append(Text("—", style="dim"))
                continue
            finite = final[np.isfinite(final)]
            std = f"σ {finite.std():.3g}" if finite.size else "not finite"
            cells.append(Text(bars(histogram(final, lo, hi, bins)), style=colour_of(i)).append(f"\n{std}", style="dim"))
        t.add_row(Text(f"{name}\n{lo:.2g}…").append(f"{hi:.2g}"), *cells)
    return t


def render(runs: list[Run], width: int = 100) -> Group:
    """The whole comparison, for a console ``width`` columns wide."""
    return Group(curves(runs, width), Text(), table(runs, width), Text(), weight_histograms(runs, width))


def cmd_compare(args, console: Console) -> int:
    """`nndb compare RUN… | FOLDER`: status 2 when any path named no readable run (one line each)."""
    runs, errors = load_runs(args.runs)
    for line in errors:
        console.print(Text.assemble(("error: ", "red"), line), soft_wrap=True)  # one line, however long
    if runs:
        if errors:
            console.print(Text(f"comparing the {len(runs)} run{'s' if len(runs) > 1 else ''} that could be read",
                               style="yellow"))
        console.print(render(runs, console.width))
    return 2 if errors or not runs else 0
