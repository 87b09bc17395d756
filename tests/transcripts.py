"""Golden transcripts: what `nndb repl --preset P --json` printed for a fixed script, recorded once.

The redesign of issue 11 must not change a single number the debugger reports. `record()` ran on
the main of 2026-11-29 (before the redesign) and wrote tests/data/transcripts/P.json.gz; the test
replays the same commands and compares with `same()`: every field recorded then must be present
now with an equal value (new fields, such as an op's roles, may be added).
"""
from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

from rich.console import Console

HERE = Path(__file__).parent / "data" / "transcripts"
PRESETS = ("xor", "moons", "circles", "spiral", "seq", "seq-lstm", "bars", "segments")
SCRIPT = ("step", "step 7", "finish", "next", "continue", "continue 3", "back 5", "where")


def explain_script(session) -> list[str]:
    """After the stepping script: explain the first and last element of every result of one
    iteration, and gradcheck the first unit of every layer with parameters."""
    lines = ["goto start"]
    for op in session.tape:
        lines.append(f"goto {op.index}")
        for sym, arr in op.outputs.items():
            if getattr(arr, "ndim", 0) == 0:
                lines.append(f"explain {sym}")
                continue
            for idx in ((0,) * arr.ndim, tuple(s - 1 for s in arr.shape)):
                lines.append(f"explain {sym}[{','.join(map(str, idx))}]")
    for layer in session.model.layers:
        if layer.params:
            lines.append(f"gradcheck {layer.name} 0")
    return lines


def run(preset: str, lines) -> list[dict]:
    from inspector.repl import run_script
    from inspector.sources import open_preset
    session = open_preset(preset)
    out = io.StringIO()
    run_script(session, lines, Console(file=io.StringIO()), json_mode=True, out=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def record(preset: str) -> None:
    from inspector.sources import open_preset
    script = list(SCRIPT)
    extra = explain_script(open_preset(preset))
    rows = run(preset, script + extra)
    for row in rows[len(script):]:
        if row["command"].startswith("goto") and row["ok"]:
            row["data"] = {"where": row["data"]["where"]}  # the op's values are in the stepping part
    HERE.mkdir(parents=True, exist_ok=True)
    with gzip.open(HERE / f"{preset}.json.gz", "wt", encoding="utf-8") as f:
        json.dump({"script": script + extra, "rows": rows}, f, ensure_ascii=False)


def load(preset: str) -> dict:
    with gzip.open(HERE / f"{preset}.json.gz", "rt", encoding="utf-8") as f:
        return json.load(f)


def same(then, now, path="") -> list[str]:
    """Differences between a recorded value and today's: recorded keys must match; new keys may appear."""
    if isinstance(then, dict):
        if not isinstance(now, dict):
            return [f"{path}: was an object, now {type(now).__name__}"]
        diffs = []
        for k, v in then.items():
            if k not in now:
                diffs.append(f"{path}.{k}: missing now")
            else:
                diffs += same(v, now[k], f"{path}.{k}")
        return diffs
    if isinstance(then, list):
        if not isinstance(now, list) or len(then) != len(now):
            return [f"{path}: was a list of {len(then)}, now {now!r:.200}"]
        diffs = []
        for i, (a, b) in enumerate(zip(then, now)):
            diffs += same(a, b, f"{path}[{i}]")
        return diffs
    return [] if then == now else [f"{path}: was {then!r:.300}, now {now!r:.300}"]


if __name__ == "__main__":
    import sys
    for p in sys.argv[1:] or PRESETS:
        record(p)
        print(p, (HERE / f"{p}.json.gz").stat().st_size)
