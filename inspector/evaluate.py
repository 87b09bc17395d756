"""`nndb eval MODEL`: test accuracy and loss, a confusion matrix, and sample predictions drawn as images."""
from __future__ import annotations

import numpy as np
from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from engine import datasets, load
from engine.errors import ShapeError
from engine.losses import LOSSES

from .plots import digit_image
from .sources import check_extra
from .training import CommandError, Data, class_indices, fmt_pct, load_data


def eval_data(model, args) -> tuple[Data, tuple, str]:
    """The data to evaluate on: --csv (every row), --data (the digits' test split), else the file's recipe."""
    extra = check_extra(model, args.model)
    seed = extra.get("seed") or 0
    if args.csv:
        if not hasattr(datasets, "read_csv"):
            raise CommandError("reading CSV files needs engine.datasets.read_csv, which this nndb lacks")
        table = datasets.read_csv(args.csv, label=args.label or (extra.get("data") or {}).get("label"))
        X = np.asarray(table.X, float)
        if extra.get("standardizer"):
            X = datasets.Standardizer.from_dict(extra["standardizer"]).transform(X)
        classes = extra.get("classes") or [str(c) for c in table.classes]
        y = class_indices(table.y, table.classes)
        if extra.get("classes") and [str(c) for c in table.classes] != list(extra["classes"]):
            raise CommandError(f"{args.csv} has classes {', '.join(map(str, table.classes))}; the model was "
                               f"trained on {', '.join(extra['classes'])}")
        data = Data((X, y), None, (X, y), classes, {"csv": str(args.csv)}, f"all {len(X):,} rows of {args.csv}")
        return data, (X, y), data.note
    source = dict(extra.get("data") or {})
    if args.data or not source:
        preset = extra.get("preset") or ("digits" if args.data else None)
        if preset is None:
            from .sources import guess_preset
            preset = guess_preset(model)
        source = {"preset": preset}
    if "csv" in source:  # a path stored in a model file is data, never opened unless the user names it
        raise CommandError(f"the model was trained on the CSV file {source['csv']!r}; nndb never opens a path "
                           f"stored in a model file: pass --csv FILE to evaluate on every row of it")
    data = load_data(source, data=args.data, seed=seed, val=extra.get("val", 0.1))
    if data.test is None:
        raise CommandError("this data has no test split to evaluate on")
    return data, data.test, data.note.split(";")[0] + " (the test split)"


def confusion(labels: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """counts[i, j]: examples of true class i predicted as class j."""
    counts = np.zeros((k, k), dtype=int)
    np.add.at(counts, (labels, predicted), 1)
    return counts


def confusion_table(counts: np.ndarray, classes: list[str]) -> Table:
    table = Table(title="confusion matrix (rows: true class, columns: predicted)", title_justify="left",
                  box=box.SIMPLE_HEAD, padding=(0, 1))
    table.add_column("true", justify="right", style="bold")
    for c in classes:
        table.add_column(c, justify="right")
    table.add_column("recall", justify="right")
    for i, c in enumerate(classes):
        total = counts[i].sum()
        cells = [Text(str(n), style="bold green" if i == j else ("red" if n else "dim")) for j, n in enumerate(counts[i])]
        table.add_row(c, *cells, f"{100 * counts[i, i] / total:.1f}%" if total else "—")
    table.add_section()
    totals = counts.sum(axis=0)
    table.add_row("total", *[str(n) for n in totals], str(int(counts.sum())))
    return table


def in_colour(console: Console) -> bool:
    """Whether digits can be drawn in colour: a terminal with colours (else a pipe or a file)."""
    return console.is_terminal and console.color_system is not None and not console.no_color


def sample_grid(X, labels, predicted, probs, classes, rows, side: int, per_row: int = 6, colour: bool = True) -> Group:
    """Digits side by side, each with true label, prediction and its probability (``colour``: half
    blocks, else a grey-level character ramp that a file or a pipe keeps)."""
    per_row = max(1, per_row)
    lines = []
    for start in range(0, len(rows), per_row):
        grid = Table.grid(padding=(0, 2))
        chunk = rows[start:start + per_row]
        for _ in chunk:
            grid.add_column(width=max(side, 16), no_wrap=True)
        images, captions = [], []
        for i in chunk:
            ok = predicted[i] == labels[i]
            images.append(digit_image(X[i], side, colour))
            captions.append(Text.assemble(f"true {classes[labels[i]]}\n", (f"pred {classes[predicted[i]]}",
                                          "bold green" if ok else "bold red"), f" {100 * probs[i]:.1f} %"))
        grid.add_row(*images)
        grid.add_row(*captions)
        lines.append(grid)
    return Group(*lines)


def cmd_eval(args, console: Console) -> int:
    model = load(args.model)
    extra = check_extra(model, args.model)
    data, (X, Y), note = eval_data(model, args)
    try:
        model.check_data(X)
    except ShapeError as e:
        raise CommandError(f"{args.model}: {e}") from None
    loss = LOSSES[extra.get("loss") or "softmax_ce"]()  # an unknown loss was refused by check_extra
    out = model.predict(X)
    result = model.evaluate(X, Y, loss)
    labels, predicted = loss.labels(Y), loss.classify(out)
    probs_all = loss.probabilities(out) if hasattr(loss, "probabilities") else None
    if probs_all is not None and probs_all.shape[1] > 1:
        probs = probs_all[np.arange(len(out)), predicted]
    else:
        p1 = probs_all[:, 0] if probs_all is not None else out[:, 0]
        probs = np.where(predicted == 1, p1, 1 - p1)
    k = max(len(data.classes), int(max(labels.max(initial=0), predicted.max(initial=0))) + 1)
    classes = list(data.classes) + [str(c) for c in range(len(data.classes), k)]
    console.print(Text.assemble(("nndb eval ", "bold"), f"{args.model} — ", (note, "dim")))
    console.print(Text.assemble(("test accuracy ", "bold"), (fmt_pct(result["accuracy"]), "bold green"),
                                f"  loss {result['loss']:.4f}  on {len(X):,} examples "
                                f"({int((labels == predicted).sum()):,} right, {int((labels != predicted).sum()):,} wrong)"))
    counts = confusion(labels, predicted, k)
    console.print(confusion_table(counts, classes))
    rows = np.flatnonzero(labels != predicted) if args.mistakes else np.arange(len(X))
    rows = rows[:args.samples]
    if args.mistakes and not len(rows):
        console.print("no mistakes to show")
    elif args.samples > 0:
        title = "mistakes" if args.mistakes else "sample predictions"
        side = data.image_side or (28 if X.shape[1] == 784 else None)
        console.print(Text(f"{title} ({len(rows)} of {int((labels != predicted).sum()) if args.mistakes else len(X)})",
                           style="bold"))
        if side:
            per_row = (console.width + 2) // (max(side, 16) + 2)
            console.print(sample_grid(X, labels, predicted, probs, classes, list(rows), side, per_row,
                                      in_colour(console)))
        else:
            table = Table()
            for col in ("row", "true", "predicted", "probability"):
                table.add_column(col, justify="right")
            for i in rows:
                table.add_row(str(i), classes[labels[i]], Text(classes[predicted[i]],
                              style="green" if labels[i] == predicted[i] else "red"), f"{100 * probs[i]:.1f} %")
            console.print(table)
    return 0
