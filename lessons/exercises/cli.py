"""`nndb exercises`, `nndb exercise ID [--dir DIR] [--check]` and `nndb check FILE`, in the one argparse tree.

Status lives in $XDG_STATE_HOME/nndb/exercises.json: the result of the latest check of each
exercise (passing or failing, which file, when), written atomically by every check. An
exercise with no check recorded is "not started" (the listing says whether its stub exists).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from engine.serialize import atomic_write
from inspector.guards import finite_float
from inspector.repl import state_dir

from . import DEFAULT_DIR, EXERCISES
from .checker import TIME_LIMIT, check_file
from .usecli import add_use_flags

VERSION = 1


class StatusStore:
    """Each exercise's latest check: {"status": "passing"|"failing", "file", "checked", "functions"}."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else state_dir() / "exercises.json"
        self.warning: str | None = None
        self.records: dict = self._read()

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            records = data["exercises"]
            if data.get("version") != VERSION or not isinstance(records, dict):
                raise ValueError("unexpected structure")
            return {k: v for k, v in records.items() if k in EXERCISES and self._valid(v)}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError) as e:
            self.warning = f"could not read {self.path} ({e}); statuses start afresh"
            return {}

    @staticmethod
    def _valid(record) -> bool:
        """A record as `record` writes it; a hand-edited one that is not is ignored (never a crash)."""
        return (isinstance(record, dict) and record.get("status") in ("passing", "failing")
                and isinstance(record.get("functions", {}), dict))

    def status(self, exercise_id: str) -> str:
        return self.records.get(exercise_id, {}).get("status", "not started")

    def record(self, results: list[dict]) -> None:
        by_exercise: dict[str, list[dict]] = {}
        for r in results:
            if r.get("exercise") and r.get("function"):
                by_exercise.setdefault(r["exercise"], []).append(r)
        for ex_id, rs in by_exercise.items():
            self.records[ex_id] = {"status": "passing" if all(r["status"] == "pass" for r in rs) else "failing",
                                   "file": rs[0]["file"], "checked": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                   "functions": {r["function"]: r["status"] for r in rs}}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps({"version": VERSION, "exercises": self.records}, indent=1, ensure_ascii=False)
            atomic_write(self.path, lambda f: f.write(text.encode("utf-8")))
        except OSError as e:
            self.warning = f"could not save the exercises' status to {self.path} ({e.strerror or e})"


STATUS_STYLE = {"passing": "green", "failing": "red", "not started": "dim"}



def timeout_seconds(text: str) -> float:
    """--timeout: a finite number of seconds, more than 0 and at most an hour."""
    value = finite_float(text)
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"expected seconds between 0 and 3600, got {text}")
    return value

def cmd_exercises(args, console: Console) -> int:
    store = StatusStore()
    if store.warning:
        console.print(Text(store.warning, style="bold yellow"))
    table = Table(title="nndb exercises: write the functions, nndb checks them", box=None, padding=(0, 2),
                  title_justify="left", title_style="bold")
    for col in ("#", "id", "you write", "status"):
        table.add_column(col, justify="right" if col == "#" else "left", no_wrap=col != "you write")
    for i, ex in enumerate(EXERCISES.values(), 1):
        status = store.status(ex.id)
        label = status
        if status == "not started" and (Path(args.dir) / f"{ex.id}.py").exists():
            label = "not started (stub written)"
        elif status == "failing":
            fns = store.records[ex.id].get("functions", {})
            label = f"failing ({sum(s == 'pass' for s in fns.values())}/{len(fns)} pass)"
        about = Text.assemble((ex.title, "bold"), "\n", (", ".join(ex.functions), "dim"))
        table.add_row(str(i), ex.id, about, Text(label, style=STATUS_STYLE[status]))
    console.print(table)
    console.print(Text(f"nndb exercise ID writes a stub ({args.dir}/ID.py); nndb check FILE checks it. "
                       f"Status: each exercise's latest check ({store.path}).", style="dim"))
    return 0


def cmd_exercise(args, console: Console) -> int:
    ex = EXERCISES[args.id]
    path = Path(args.dir) / f"{ex.id}.py"
    if path.exists():
        if not args.check:
            console.print(Text(f"{path} already exists (not overwritten): edit it, then nndb check {path}"))
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "x", encoding="utf-8") as f:  # "x": never replaces a file, even one made just now
                f.write(ex.stub_text(path))
        except FileExistsError:
            console.print(Text(f"{path} already exists (not overwritten)"))
        except OSError as e:  # --dir names a file, or a folder we may not write
            console.print(Text(f"error: cannot write {path}: {e.strerror or e}; pick another --dir",
                               style="bold red"))
            return 2
        else:
            console.print(Text(f"wrote {path}: {', '.join(ex.functions)}. Fill them in, then nndb check {path}"))
    if args.check:
        return run_check(path, args, console)
    return 0


def cmd_check(args, console: Console) -> int:
    return run_check(Path(args.file), args, console)


def run_check(path: Path, args, console: Console) -> int:
    if not path.is_file():
        console.print(Text(f"error: no file {path}" + (" (nndb exercise ID writes one)" if not path.exists() else ""),
                           style="bold red"))
        return 2
    results = check_file(path, limit=args.timeout, quiet=args.json)
    store = StatusStore()
    store.record(results)
    if args.json:
        for r in results:
            print(json.dumps({"passed": r["status"] == "pass", **r}, ensure_ascii=False))
        return 0 if all(r["status"] == "pass" for r in results) else 1
    for r in results:
        for line in render(r):
            console.print(line)
    passed = sum(r["status"] == "pass" for r in results)
    summary = f"{passed} of {len(results)} functions pass"
    console.print(Text(summary, style="bold green" if passed == len(results) else "bold red"))
    if store.warning:
        console.print(Text(store.warning, style="yellow"))
    return 0 if passed == len(results) else 1


def render(r: dict) -> list[Text]:
    """One function's result as the lines `nndb check` prints."""
    name = r.get("function") or Path(r["file"]).name
    if r["status"] == "pass":
        extra = []
        if r.get("gradcheck"):
            worst = max(g["relative_error"] for g in r["gradcheck"].values())
            extra.append(f"gradient check of {', '.join(r['gradcheck'])}: max relative error {worst:.1e}")
        t = r.get("timings")
        if t:
            extra.append(f"loop {t['loop_s'] * 1e3:.2f} ms, vectorized {t['vectorized_s'] * 1e3:.3f} ms "
                         f"({t['speedup']:.0f}× faster, {t['shape']})" if t.get("speedup") else "")
        return [Text.assemble(("✓ ", "bold green"), (name, "bold"), f"  {r['message']}",
                              *(("; " + e) for e in extra if e))]
    lines = [Text.assemble(("✗ ", "bold red"), (name, "bold"), "  ", r["message"])]
    if r.get("case") and r["status"] == "fail":
        lines.append(Text(f"    case: {r['case']}", style="dim"))
    if r.get("explanation"):
        lines.append(Text(f"    {r['explanation']}"))
    if r.get("hint"):
        lines.append(Text.assemble("    hint: ", (r["hint"], "yellow")))
    for out, g in (r.get("gradcheck") or {}).items():
        if g["verdict"] not in ("excellent",):
            lines.append(Text(f"    gradient check of {out} (case 1): relative error {g['relative_error']:.2g}, "
                              f"{g['verdict']}", style="dim"))
    return lines


def add_exercise_parsers(sub) -> None:
    """`nndb exercises`, `nndb exercise ID` and `nndb check FILE`, in inspector.cli's tree."""
    default = str(DEFAULT_DIR)
    listing = sub.add_parser("exercises", help="build-it-yourself exercises, with the status of your last check")
    listing.add_argument("--dir", default=default, help=f"where your exercise files are (default ./{default})")
    listing.set_defaults(run=cmd_exercises)
    one = sub.add_parser("exercise", help="write an exercise's stub file (never overwrites); --check checks it")
    one.add_argument("id", choices=list(EXERCISES), metavar="ID", help="exercise id (nndb exercises lists them)")
    one.add_argument("--dir", default=default, help=f"folder for the file ID.py (default ./{default})")
    one.add_argument("--check", action="store_true", help="check the file (as nndb check DIR/ID.py)")
    check = sub.add_parser("check", help="check your exercise functions against nndb's engine (runs FILE)")
    check.add_argument("file", metavar="FILE", help="your Python file (it is run: the one outside code nndb runs)")
    for p in (one, check):
        p.add_argument("--json", action="store_true", help="one JSON object per function")
        p.add_argument("--timeout", type=timeout_seconds, default=TIME_LIMIT, metavar="SECONDS",
                       help=f"time limit per function, its cases and gradient check together ({TIME_LIMIT:g})")
    one.set_defaults(run=cmd_exercise)
    check.set_defaults(run=cmd_check)
    add_use_flags(sub)  # `nndb tui|repl|trace|train --use FILE`: their functions run in the network

