"""Rich renderables for arrays and ops: shape headers, aligned values coloured by sign and size."""
from __future__ import annotations

import dataclasses
import re

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from engine.errors import shape_str
from engine.gradcheck import EXCELLENT, WRONG
from engine.layers import Layer
from engine.trace import Op

from .guards import clean
from .render_cost import render_cost, render_vectorize

MAX_ROWS, MAX_COLS = 8, 8
SLICE_ROWS = 12  # a slice of an image batch shows this many rows: all of a 12×10 seven-segment digit


def fmt(x: float, width: int = 8) -> str:
    """A number in at most ``width`` characters: fixed point when readable, else scientific."""
    if isinstance(x, (int, np.integer)):
        return str(int(x))  # a count, an index, a dimension: no decimals
    if not np.isfinite(x):
        return str(x)
    if x == 0:
        return "0"  # exact zeros (a dead ReLU, a masked gradient) stand out from small numbers
    a = abs(x)
    if a != 0 and (a >= 1e4 or a < 1e-3):
        return f"{x:.2e}"
    return f"{x:.4f}"


POSITIVE = ("#7a3a36", "#d0473c", "bold #ff6a5c")   # weak, medium, strong: one palette everywhere
NEGATIVE = ("#34467a", "#3f74d0", "bold #6aa4ff")


def value_style(x: float, scale: float) -> str:
    """Red for positive, blue for negative, brighter with magnitude relative to ``scale``."""
    if not np.isfinite(x):
        return "bold magenta"
    if x == 0 or scale == 0:
        return "dim"
    strength = min(1.0, abs(x) / scale)
    level = 2 if strength > 0.66 else 1 if strength > 0.2 else 0
    return (POSITIVE if x > 0 else NEGATIVE)[level]


def gradient_of(name: str) -> str | None:
    """``dW1`` → ``W1``, ``dZ1[0,:]`` → ``Z1[0,:]``: what a gradient is of; None for other arrays.

    The engine's naming rule (``Op.is_gradient``: a symbol that starts with ``d``) decides, for a
    name that is an array's symbol, optionally indexed: any identifier that is not a layer's name
    (``dense1``, ``dropout2``: a registered layer kind and its number). Expressions (``dW1 * 2``,
    ``dead(A1)``) are not."""
    base, bracket, index = name.partition("[")
    if not Op.is_gradient(base) or (bracket and (not index.endswith("]") or "]" in index[:-1])):
        return None
    return name[1:] if base.isidentifier() and not is_layer_name(base) else None


def is_layer_name(name: str) -> bool:
    """``dense1``, ``relu2``: a layer kind (of any registered layer class) and its number."""
    kind = name.rstrip("0123456789")
    return kind != name and kind in {cls.kind for cls in Layer.registry.values()}


def describe_array(name: str, a: np.ndarray) -> str:
    label = f"∂L/∂{gradient_of(name)}" if gradient_of(name) else ""
    return f"{name}  {shape_str(a.shape)}" + (f"  ({label})" if label else "")


def stats(a: np.ndarray) -> str:
    if a.size == 0:
        return "empty"
    finite = a[np.isfinite(a)]
    extra = f"  non-finite={a.size - finite.size}" if finite.size != a.size else ""
    if finite.size == 0:
        return "all non-finite"
    return (f"min={fmt(finite.min())} max={fmt(finite.max())} mean={fmt(finite.mean())} "
            f"norm={fmt(float(np.linalg.norm(finite)))}{extra}")


def _elide(n: int, limit: int) -> list[int | None]:
    """Indices to show, with None for the gap: [0, 1, 2, None, n-2, n-1]."""
    if n <= limit:
        return list(range(n))
    head = limit // 2
    return list(range(head)) + [None] + list(range(n - (limit - head - 1), n))


def array_view(name: str, a: np.ndarray, max_rows: int = MAX_ROWS, max_cols: int = MAX_COLS) -> Group:
    """A titled grid of values; large arrays elided in the middle, with statistics."""
    a = np.asarray(a)
    title = Text(describe_array(name, a), style="bold")
    if a.ndim == 0:
        return Group(title, Text(fmt(a.item()), style=value_style(float(a), abs(float(a)))))
    if a.ndim > 2:  # images and sequences: the first 2-D slice, as the TUI shows one at a time
        lead = a.ndim - 2
        index = ", ".join(["0"] * lead + [":", ":"])
        if "[" in name:
            title.append(f"   showing its [{index}] slice", style="dim")
        else:
            letters = ",".join("nc"[:lead] if lead <= 2 else ["i"] * lead)
            title.append(f"   showing {name}[{index}]; `print {name}[{letters}]` shows another", style="dim")
        grid = a[(0,) * lead]
        max_rows = max(max_rows, SLICE_ROWS)
    else:
        grid = a.reshape(1, -1) if a.ndim == 1 else a
    finite = a[np.isfinite(a)]
    scale = float(np.abs(finite).max()) if finite.size else 0.0
    rows, cols = _elide(grid.shape[0], max_rows), _elide(grid.shape[1], max_cols)
    table = Table(show_header=True, header_style="dim", box=None, pad_edge=False, padding=(0, 1))
    table.add_column("", style="dim", justify="right")
    for j in cols:
        table.add_column("…" if j is None else str(j), justify="right")
    for i in rows:
        if i is None:
            table.add_row("⋮", *["⋮" if j is not None else "⋱" for j in cols])
            continue
        cells = [Text("…", style="dim") if j is None else Text(fmt(grid[i, j]), style=value_style(grid[i, j], scale))
                 for j in cols]
        table.add_row("" if a.ndim == 1 else str(i), *cells)
    parts = [title, table]
    if grid.shape[0] > max_rows or grid.shape[1] > max_cols or a.ndim > 2:
        parts.append(Text(stats(a), style="dim"))
    return Group(*parts)


def op_header(op: Op) -> Text:
    text = Text()
    text.append(f"[{op.index:>2}] ", style="dim")
    text.append(f"{op.phase:<8} ", style=PHASE_STYLE.get(op.phase, ""))
    text.append(f"{op.layer:<10} ", style="bold")
    text.append(op.equation)
    text.append(f"   {op.kind}", style="dim")  # the engine's name for the op: its code and its explainer
    a = op.agreement()
    if a is not None:  # computed by code checked against a reference (--use FILE)
        text.append("  ")
        text.append_text(agreement_mark(a))
    return text


def disagreement_text(a: dict) -> str:
    """An op's disagreement with its reference (``Op.agreement``): ``dW1[3,1]: yours 0.1204, expected
    0.0812 (5 of 16 entries differ)``, or why the two could not be compared."""
    if a.get("mismatch"):
        return a["mismatch"]
    at = "[" + ",".join(map(str, a["index"])) + "]" if a["index"] else ""
    count = f" ({a['differ']} of {a['size']} entries differ)" if a["size"] > 1 else ""
    return f"{a['symbol']}{at}: yours {fmt(a['yours']).strip()}, expected {fmt(a['expected']).strip()}{count}"


def agreement_mark(a: dict | None) -> Text:
    """✓ where an op checked against a reference agrees with it, ✗ where not; a blank for the rest."""
    if a is None:
        return Text(" ")
    return Text("✓", style="green") if a["agrees"] else Text("✗", style="bold red")


def first_disagreement(tape) -> dict | None:
    """The first op of an iteration that disagrees with its reference (``Op.agreement``), JSON-ready:
    its ``index``, ``op`` name and ``message``; None when every checked op agrees (or none is checked)."""
    for op in tape:
        a = op.agreement()
        if a is not None and not a["agrees"]:
            return {"index": op.index, "op": op.name, "message": disagreement_text(a)}
    return None


def agreement_lines(d: dict) -> list[Text]:
    """--use FILE: whether the current op agrees with nndb's (``agreement``), and the iteration's
    first disagreement (``first_disagreement``), for a result that carries them."""
    lines = []
    a, first = d.get("agreement"), d.get("first_disagreement")
    here = d.get("position", (d.get("where") or {}).get("position"))
    if first and first["index"] == here:  # the cursor is on it: one line says both
        return [Text.assemble(("✗ the first disagreement of this iteration: ", "bold red"), first["message"])]
    if a is not None:
        lines.append(Text.assemble(agreement_mark(a), " agrees with nndb's code" if a["agrees"] else
                                   f" disagrees with nndb's code: {disagreement_text(a)}"))
    if first:
        lines.append(first_disagreement_line(first))
    return lines


def first_disagreement_line(first: dict) -> Text:
    return Text.assemble(("✗ first disagreement: ", "bold red"), (f"[{first['index']}] {first['op']}  ", "bold"),
                         first["message"])


def shape_line(op: Op) -> Text:
    return Text("   " + ",  ".join(f"{k}: {shape_str(np.shape(v))}" for k, v in op.arrays.items()), style="dim")


# -- command results ------------------------------------------------------------------------------
SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def shape_text(shape: tuple) -> str:
    """``(4×8)``; a vector as NumPy writes it, ``(8,)``; a scalar as ``()``."""
    return f"({shape[0]},)" if len(shape) == 1 else f"({shape_str(shape)})" if shape else "()"


def shaped_equation(equation: str, shapes: dict[str, tuple]) -> str:
    """The equation with its arrays replaced by their shapes: ``(4×2)·(2×8) + (8,) → (4×8)``."""
    main = equation.split(",  ")[0]
    for arrow in (" = ", " ← "):
        if arrow in main:
            lhs, rhs = main.split(arrow, 1)
            break
    else:
        lhs, rhs = "", main

    def sub(text: str) -> str:
        return SYMBOL.sub(lambda m: shape_text(shapes[m.group()]) if m.group() in shapes else m.group(), text)
    result = sub(rhs.strip())
    return f"{result} → {sub(lhs.strip())}" if lhs else result


def where_line(w: dict) -> Text:
    text = Text()
    text.append(f"iteration {w['iteration']}", style="bold")
    if w["op"] is None:
        text.append(" · at the start, before op 0", style="dim")
    else:
        text.append(f" · op {w['position']}/{w['ops'] - 1} · ", style="dim")
        text.append(w["phase"], style=PHASE_STYLE.get(w["phase"], ""))
    if w.get("loss") is not None:
        text.append(f" · loss {w['loss']:.6g}", style="dim")
    if w.get("edits"):
        text.append(f" · edits: {', '.join(w['edits'])}", style="yellow")
    return text


# The colour of each phase, the one table of them: its ops, its values' bars, and the gradients
# (which backward makes) everywhere the REPL and the TUI show them.
PHASE_STYLE = {"forward": "green", "loss": "yellow", "backward": "magenta", "update": "cyan"}


def verdict_style(rel_error: float, verdict: str | None = None) -> str:
    """A gradient check's relative error in colour, at engine.gradcheck's thresholds; with its
    verdict, a row within the float64 noise floor is green and a kink yellow, whatever the error."""
    if verdict is not None and verdict.startswith("excellent"):
        return "green"
    if verdict is not None and verdict != "wrong":
        return "yellow"
    return "green" if rel_error <= EXCELLENT else "yellow" if rel_error <= WRONG else "bold red"


def kink_mark(row: dict) -> str:
    """A gradcheck row's verdict, with ``(kink)`` when ±ε crossed one and the verdict does not say so."""
    return row["verdict"] + (" (kink)" if row["kink"] and "kink" not in row["verdict"] else "")


KINKS_NOTE = "crossed a kink (a ReLU at 0, a max-pool tie): their numerical gradient is unreliable"


def render_op(data: dict) -> list:
    parts: list = []
    if data.get("reason"):
        parts.append(Text(f"stopped: {data['reason']}", style="bold yellow"))
    for note in data.get("notes", []):
        parts.append(Text(note, style="yellow"))
    parts.append(where_line(data["where"]))
    parts += agreement_lines(data)
    op = data["op"]
    if op is None:
        nxt = data["next"]
        parts.append(Text(f"next: [{nxt['index']}] {nxt['name']}   {nxt['equation']}", style="dim"))
    else:
        parts.append(Text.assemble((f"[{op['index']}] ", "dim"), (f"{op['layer']} ", "bold"),
                                   (op["phase"], PHASE_STYLE.get(op["phase"], "")), (f"  {op['kind']}", "dim")))
        parts.append(Text("  " + op["equation"], style="bold"))
        shapes = {a["name"]: tuple(a["shape"]) for a in op["inputs"] + op["outputs"]}
        parts.append(Text("  " + shaped_equation(op["equation"], shapes), style="dim"))
        shown = op["inputs"] + op["outputs"] if data.get("full") else op["outputs"]
        for a in shown:
            parts.append(array_view(a["name"], a["values"]))
        if op.get("edited_after"):
            parts.append(Text(f"edited after this op: {', '.join(op['edited_after'])}", style="yellow"))
    parts += render_timesteps(data.get("timesteps"))
    parts += render_watches(data.get("watches", []))
    return parts


DECADES = 6     # a log-scale bar spans this many factors of 10 below the largest value
PER_DECADE = 3  # characters per factor of 10
BAR = DECADES * PER_DECADE


def log_bar(value: float, top: float, style: str = "") -> Text:
    """``value`` on a log scale, full at ``top``; each ┊ marks one factor of 10 less. Tiny but not 0: one █."""
    length = 0
    if value > 0 and top > 0 and np.isfinite(value):
        length = max(1, min(BAR, round(PER_DECADE * (DECADES + np.log10(value / top)))))
    text = Text("█" * length, style=style)
    for i in range(length, BAR):
        text.append("┊" if (BAR - i) % PER_DECADE == 0 else " ", style="dim")
    return text


def gradient_verdict(ratio: float, complete: bool) -> Text:
    """What ‖dh_earliest‖ / ‖dh_last‖ says about the gradient through time, in words."""
    where = "the first step" if complete else "the earliest step so far"
    if ratio == 0:
        return Text(f"  no gradient reaches {where}", style="bold red")
    if not np.isfinite(ratio):
        return Text("  the last step got no gradient", style="bold red")
    if ratio < 1e-2:
        return Text(f"  vanishing: {where} gets {1 / ratio:.0f}× less gradient than the last", style="bold red")
    if ratio > 1e2:
        return Text(f"  exploding: {where} gets {ratio:.0f}× more gradient than the last", style="bold red")
    return Text("  the gradient reaches back through time" + ("" if complete else " (so far)"), style="green")


def render_timesteps(view: dict | None) -> list:
    """‖h_t‖ or ‖dh_t‖ of each timestep run so far, as log-scale bars, the current one marked."""
    if not view or not (view["forward"] or view["backward"]):
        return []
    phase = "backward" if view["backward"] else "forward"
    rows, symbol = view[phase], view["symbols"][phase]
    top = max(v for _, v in rows)
    out = [Text(f"‖{symbol}_t‖ per timestep: {view['layer']} {phase}, {len(rows)} of {view['T']} "
                f"(log scale: ┊ = ×10)", style="bold")]
    for t, v in rows:
        mark = "▶" if t == view["t"] else " "
        line = Text.assemble((f"{mark} t={t:<3}", "bold" if t == view["t"] else ""), (f"{fmt(v):>9} ", ""))
        out.append(line + log_bar(v, top, PHASE_STYLE[phase]))
    if phase == "backward" and len(rows) > 1:
        (t0, last), (t1, earliest) = rows[0], rows[-1]
        ratio = earliest / last if last else np.inf
        out.append(Text(f"  ‖{symbol}_{t1}‖ / ‖{symbol}_{t0}‖ = {ratio:.1e}", style="bold")
                   + gradient_verdict(ratio, t1 == 0))
    return out


def render_watches(watches: list[dict]) -> list:
    out = []
    for w in watches:
        if w["error"]:
            out.append(Text(f"watch {w['number']}: {w['expr']} = (not available: {w['error'].split(':')[0]})",
                            style="dim"))
        else:
            v = np.asarray(w["value"])
            shown = fmt(float(v)) if v.ndim == 0 else np.array2string(v, precision=4, threshold=12)
            out.append(Text(f"watch {w['number']}: {w['expr']} = {shown}", style="cyan"))
    return out


def render_list(data: dict) -> list:
    table = Table(box=None, show_header=False, padding=(0, 1))
    for col in ("mark", "index", "phase", "layer", "equation"):
        table.add_column(col, justify="right" if col == "index" else "left")
    for op in data["ops"]:
        mark = ("●" if op["breakpoint"] else " ") + ("▶" if op["current"] else " ")
        style = "reverse" if op["current"] else ""
        if "agrees" in op:  # --use FILE: the learner's op agrees with nndb's (✓) or not (✗)
            mark = Text.assemble((mark, "red"), agreement_mark(op))
        table.add_row(Text(mark, style="red") if isinstance(mark, str) else mark, Text(str(op["index"])),
                      Text(op["phase"], style=PHASE_STYLE.get(op["phase"], "")),
                      Text(op["layer"]), Text(op["equation"]), style=style)
    first = data.get("first_disagreement")
    return [where_line(data["where"]), *([first_disagreement_line(first)] if first else []), table]


def render_gradcheck(data: dict) -> list:
    table = Table(title=f"gradcheck {data['spec']}", box=None, padding=(0, 1))
    for col in ("parameter", "analytic", "numerical", "rel. error", "verdict"):
        table.add_column(col, justify="left" if col in ("parameter", "verdict") else "right")
    for r in data["rows"]:
        style = verdict_style(r["rel_error"], r["verdict"])
        table.add_row(Text(r["parameter"]), Text(f"{r['analytic']:.8g}"), Text(f"{r['numerical']:.8g}"),
                      Text(f"{r['rel_error']:.2e}", style=style), Text(kink_mark(r)))
    parts = [table, Text(data["explanation"], style="dim")]
    if data["kinks"]:
        parts.append(Text(f"{data['kinks']} row(s) {KINKS_NOTE}", style="yellow"))
    return parts


def render_edit(data: dict, message: str) -> list:
    where = "at the start of the iteration" if data["at_op"] < 0 else f"right after op {data['at_op']}"
    parts = [Text(f"set {message} ({where})", style="bold")]
    lb, la = data["loss_before"], data["loss_after"]
    line = f"loss of this iteration: {lb:.6g} → {la:.6g} (Δ {la - lb:+.3g})"
    if data["predicted_change"] is not None:
        line += f"; predicted by ∂L/∂w·Δw: {data['predicted_change']:+.3g}"
    parts.append(Text(line))
    if data.get("note"):
        parts.append(Text(data["note"], style="yellow"))
    if data["changed"]:
        changed = ", ".join(f"{c['name']} (max |Δ| {c['max_abs_change']:.3g})" for c in data["changed"][:12])
        more = f" and {len(data['changed']) - 12} more" if len(data["changed"]) > 12 else ""
        parts.append(Text(f"changed downstream: {changed}{more}", style="dim"))
    else:
        parts.append(Text("nothing downstream changed", style="dim"))
    return parts


def render_explain(data: dict) -> list:
    parts = []
    if data["formula"]:
        parts.append(Text(f"{data['target']}  (op {data['op']})", style="dim"))
        parts.append(Text(data["formula"], style="bold"))
        parts.append(Text(f"  = {data['numbers']}"))
        if data.get("expected") is not None:  # --use FILE: the sum is nndb's; the learner's value beside it
            parts.append(Text(f"  = {fmt(data['expected']).strip()}  expected (nndb's code)", style="bold"))
            agrees = abs(data["expected"] - data["value"]) <= 1e-6 * max(1.0, abs(data["expected"]))
            parts.append(Text(f"    yours {fmt(data['value']).strip()}" + ("  ✓" if agrees else "  ✗ differs"),
                              style="bold green" if agrees else "bold red"))
        else:
            parts.append(Text(f"  = {fmt(data['value'])}", style="bold"))
    else:
        parts.append(Text(f"{data['target']} = {fmt(data['value'])}", style="bold"))
    parts += [Text(note, style="dim") for note in data["notes"]]
    return parts


def reflow(text: str) -> str:
    """Join the lines of prose a help text breaks at ~100 columns, so it wraps at the console's width;
    indented lines and aligned examples (runs of spaces) keep their line breaks."""
    def prose(line: str) -> bool:
        return bool(line.strip()) and not line[0].isspace() and "   " not in line
    out: list[str] = []
    for line in text.splitlines():
        if out and prose(line) and prose(out[-1]) and not out[-1].endswith(":"):
            out[-1] += " " + line
        else:
            out.append(line)
    return "\n".join(out)


def render_help(data: dict) -> list:
    if data.get("detail"):
        c = data["commands"][0]
        aliases = f"  (aliases: {', '.join(c['aliases'])})" if c["aliases"] else ""
        return [Text(c["usage"] + aliases, style="bold"), Text(c["summary"])] + ([Text(reflow(c["help"]))] if c["help"] else [])
    table = Table(box=None, show_header=False, padding=(0, 2))
    table.add_column("usage", style="bold", no_wrap=True)
    table.add_column("summary")
    for c in data["commands"]:
        table.add_row(Text(c["usage"]), Text(c["summary"]))
    return [table, Text("An empty line repeats the last stepping command. `help COMMAND` for more.", style="dim")]


def render_result(result) -> list:
    """Rich renderables for a command Result (the REPL prints them; the TUI reuses pieces)."""
    result = clean_result(result)  # text from files, labels and scripts: never control codes
    diverged = [Text(result.data["diverged"], style="bold red")] if result.data.get("diverged") else []
    return render_body(result) + diverged + feedback_lines(result)


def feedback_lines(result) -> list[Text]:
    """A wrapper's feedback (a lesson's verdicts and next step), one line per item; the REPL shows
    every kind (commands.FEEDBACK_KINDS), the next step's text included, in the same bold green."""
    return [Text(clean(f.text), style="bold green") for f in result.feedback]


def clean_result(result):
    """A copy of ``result`` whose strings (message, feedback, data) show control characters as
    escapes (guards.clean): what a lesson file, a CSV label or a file name holds reaches no terminal."""
    return dataclasses.replace(result, command=clean(result.command), message=clean(result.message),
                               data=_clean_data(result.data),
                               feedback=[dataclasses.replace(f, text=clean(f.text)) for f in result.feedback])


def _clean_data(x):
    if isinstance(x, str):
        return clean(x)
    if isinstance(x, dict):
        return {k: _clean_data(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_clean_data(v) for v in x) if not hasattr(x, "_fields") else x
    return x


def render_body(result) -> list:
    d, kind = result.data, result.kind
    if not result.ok:
        parts = [Text(f"error: {result.message}", style="bold red")]
        if d.get("usage"):
            parts.append(Text(f"usage: {d['usage']}", style="dim"))
        return parts
    if kind == "op":
        return render_op(d) + ([Text(d["batch_note"], style="yellow")] if d.get("batch_note") else [])
    if kind == "value":
        if result.message:  # a shape: (4, 2), not a grid of floats
            return [Text.assemble((d["name"], "bold"), f" = {result.message}")]
        return [array_view(d["name"], d["values"])]
    if kind == "explain":
        return render_explain(d)
    if kind == "where":
        return [where_line(d)] + ([Text(f"current op: {d['op']}   {d['equation']}")] if d["op"] else []) + \
            agreement_lines(d) + ([Text(d["batch_note"], style="dim")] if d.get("batch_note") else [])
    if kind == "list":
        return render_list(d)
    if kind == "breakpoints":
        parts = [Text(result.message, style="bold")] if result.message else []
        if not d["breakpoints"]:
            return parts + [Text("no breakpoints", style="dim")]
        for b in d["breakpoints"]:
            parts.append(Text(f"{b['number']:>3} {'on ' if b['enabled'] else 'off'} {b['spec']}   hits: {b['hits']}",
                              style="" if b["enabled"] else "dim"))
        return parts
    if kind == "watches":
        parts = [Text(result.message, style="bold")] if result.message else []
        return parts + (render_watches(d["watches"]) or [Text("no watches", style="dim")])
    if kind == "edit":
        return render_edit(d, result.message)
    if kind == "gradcheck":
        return render_gradcheck(d) + [Text(result.message, style="bold")]
    if kind == "batch":
        parts = [Text(f"batch: examples {d['batch']}", style="bold")]
        if result.message:
            parts.append(Text(result.message, style="yellow"))
        return parts + [array_view("X", d["X"]), array_view("Y", d["Y"])]
    if kind == "help":
        return render_help(d)
    if kind == "cost":
        return render_cost(d, PHASE_STYLE)
    if kind == "vectorize":
        return render_vectorize(d)
    if kind in ("train", "message", "quit"):
        return [Text(result.message)]
    # kinds added by wrappers (a lesson's `hint`, `predict` …): a message and plain lines
    return ([Text(result.message, style="bold")] if result.message else []) + \
        [Text(line) for line in d.get("lines", [])]


def side_by_side(columns: list[list[Text]], gap: int = 1, height: int | None = None) -> list[Text]:
    """Columns of Text cells laid out as lines, each column padded to its widest cell plus ``gap``."""
    widths = [max((c.cell_len for c in col), default=0) for col in columns]
    lines = []
    for r in range(max((len(col) for col in columns), default=0) if height is None else height):
        line = Text()
        for col, w in zip(columns, widths):
            cell = col[r] if r < len(col) else Text("")
            line.append_text(cell)
            line.append(" " * (w - cell.cell_len + gap))
        lines.append(line)
    return lines
