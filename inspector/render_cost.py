"""Rendering of the cost view (`cost`, `cost --loop`) as rich renderables, readable at 80 columns."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text


def count(n: float) -> str:
    """205.5M, 12.3k, 512."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


def nbytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}B"


def duration(s: float) -> str:
    if s >= 1:
        return f"{s:.2f}s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f}ms"
    return f"{s * 1e6:.1f}µs"


NARROW = 76  # below this width the tables drop bytes and GFLOP/s (the TUI's Cost tab at 80 columns)
TINY = 40    # below this, beside a lesson panel at 80 columns: op (by the array it writes), FLOPs and share;
             # the GPUs and the loops as lines that wrap


def render_cost(d: dict, phase_style: dict[str, str], width: int | None = None) -> list:
    """The `cost` result; ``phase_style``: the phase colours of render.py (which calls this);
    ``width``: the columns available, when known (narrower than NARROW: the compact tables)."""
    m, narrow = d["machine"], width is not None and width < NARROW
    tiny = width is not None and width < TINY
    table = Table(box=None, padding=(0, 1), header_style="bold", pad_edge=not narrow)  # narrow: 2 columns more
    columns = (("op", "left"), ("FLOPs", "right"), ("bytes", "right"), ("time", "right"), ("GFLOP/s", "right"),
               ("share", "right"), ("bound", "left"))
    keep = ("op", "FLOPs", "share") if tiny else ("op", "FLOPs", "time", "share", "bound") if narrow else \
        tuple(name for name, _ in columns)
    for name, justify in columns:
        if name in keep:
            table.add_column(name, justify=justify, no_wrap=True, overflow="ellipsis",
                             max_width=22 if name == "op" else None)
    for o in d["ops"]:
        bound = f"{o['bound'][:3] if narrow else o['bound']} {o['of_limit']:.0%}"
        name = o["name"].rsplit(".", 1)[-1] if tiny else o["name"]  # tiny: Z1, dW1 (the array it writes)
        cells = {"op": Text(name, style=phase_style.get(o["phase"], "")), "FLOPs": count(o["flops"]),
                 "bytes": nbytes(o["bytes"]), "time": duration(o["seconds"]), "GFLOP/s": f"{o['gflops']:.2f}",
                 "share": f"{o['share']:.0%}", "bound": bound}
        table.add_row(*(cells[name] for name in keep))
    if tiny:  # a line per phase, wrapping
        phases = Text("\n".join(f"{phase}: {count(t['flops'])}FLOPs, {t['share']:.0%} of the time"
                                for phase, t in d["totals"].items()))
    else:
        phases = Table(box=None, padding=(0, 1), header_style="bold")
        for name in ("phase", "ops", "FLOPs", "bytes", "time", "share"):
            phases.add_column(name, justify="left" if name == "phase" else "right")
        for phase, t in d["totals"].items():
            phases.add_row(Text(phase, style=phase_style.get(phase, "bold")), str(t["ops"]), count(t["flops"]),
                           nbytes(t["bytes"]), duration(t["seconds"]), f"{t['share']:.0%}")
    ratio, epoch = d["backward_forward"], d["epoch"]
    source = {"cache": "probed earlier, cached", "measured": "probed just now, cached", "given": "as given"}[m["source"]]
    parts = [
        Text(f"cost of one iteration at batch {d['batch']}" + (" (drawn from the data; the session is unchanged)"
                                                                 if d["drawn"] else "") +
             f" — time: median of {d['repeats']} untraced runs", style="bold"),
        table, phases,
        Text(f"backward/forward: {ratio['flops']:.2f}× the FLOPs, {ratio['seconds']:.2f}× the time; "
             f"between ops (Python): {duration(d['between_ops_seconds'])}"),
        Text(f"one epoch ({epoch['examples']:,} examples = {epoch['iterations']:,} iterations of {d['batch']}): "
             f"{duration(epoch['seconds'])}, {count(epoch['flops'])}FLOPs"),
        Text(f"this machine ({source}): {m['gflops']:.1f} GFLOP/s matmul, {m['gbps']:.1f} GB/s memory. An op "
             f"below {m['balance']:.1f} FLOP/byte is memory-bound, above it compute-bound; the % is how close it "
             f"comes to that limit (data already in cache can beat memory's).", style="dim"),
        Text("GPU estimate — not measured: per op, launch + max(FLOPs/peak, bytes/bandwidth)", style="bold yellow"),
    ]
    if tiny:  # a line per card, wrapping
        parts += [Text(f"{g['name']}: {duration(g['seconds'])}, {g['launch_share']:.0%} launching, "
                       f"{g['speedup']:.1f}× this CPU") for g in d["gpu"]]
        parts.append(Text(gpu_note(d), style="yellow"))
        return parts
    gpus = Table(box=None, padding=(0, 1), header_style="bold")
    names = ("GPU", "time", "launching", "vs this CPU") if narrow else \
        ("GPU", "peak GFLOP/s", "GB/s", "time", "launching", "vs this CPU")
    for name in names:
        gpus.add_column(name, justify="left" if name == "GPU" else "right", no_wrap=True)
    for g in d["gpu"]:
        cells = {"GPU": g["name"], "peak GFLOP/s": f"{g['peak_gflops']:,.0f}", "GB/s": f"{g['gbps']:,.0f}",
                 "time": duration(g["seconds"]), "launching": f"{g['launch_share']:.0%}",
                 "vs this CPU": f"{g['speedup']:.1f}×"}
        gpus.add_row(*(cells[name] for name in names))
    parts.append(gpus)
    parts.append(Text(gpu_note(d), style="yellow"))
    return parts


def gpu_note(d: dict) -> str:
    """Why a GPU gains nothing at a small batch and much at a large one: launches against work."""
    best = max(d["gpu"], key=lambda g: g["speedup"])
    n_ops, us = len(d["ops"]), best["launch_us"]
    launches = duration(n_ops * us * 1e-6)
    cpu = duration(d["totals"]["iteration"]["seconds"])
    if best["speedup"] < 3:
        verdict = "would be slower" if best["speedup"] < 1 else "gains little"
        return (f"At batch {d['batch']} even the {best['name']} {verdict} ({best['speedup']:.1f}×): starting "
                f"its {n_ops} kernels ({us:.0f} µs each, {launches}, whatever the work) costs about as much as "
                f"this CPU's whole iteration ({cpu}) or more. Try `cost --batch 1024`.")
    work = duration(max(best["seconds"] - n_ops * us * 1e-6, 0.0))
    return (f"At batch {d['batch']} this CPU needs {cpu}; the {best['name']} would do the same work in {work} "
            f"plus {launches} of kernel launches. The launches cost the same at any batch; now there is enough "
            f"work for its FLOP/s and bandwidth to pay for them ({best['speedup']:.0f}×).")


def render_vectorize(d: dict, width: int | None = None) -> list:
    """The `cost --loop` result; narrower than TINY, a line per form."""
    if width is not None and width < TINY:
        table = Text("\n".join(f"{f['form']}: {f['code']} — {f['calls']:,} calls, {duration(f['seconds'])}, "
                               f"{f['vs_matrix']:,.1f}× the matrix form's time" for f in d["forms"]))
    else:
        table = Table(box=None, padding=(0, 1), header_style="bold")
        for name in ("form", "code", "calls", "time", "GFLOP/s", "× matrix"):
            table.add_column(name, justify="left" if name in ("form", "code") else "right", no_wrap=name != "code")
        for f in d["forms"]:
            table.add_row(Text(f["form"]), Text(f["code"]), f"{f['calls']:,}", duration(f["seconds"]),
                          f"{f['gflops']:.2f}", f"{f['vs_matrix']:,.1f}×")
    return [Text(f"{d['layer']}: Z = A·W + b for a batch of {d['batch']} ({d['n_in']} inputs → {d['n_out']} "
                 f"neurons, {count(d['flops'])}FLOPs), three ways — time: median of repeats", style="bold"),
            table,
            Text("same result all three ways" if d["same"] else "the loops disagree with the matrix product!",
                 style="green" if d["same"] else "bold red"),
            Text("Each Python-level call costs about a microsecond before any arithmetic: the matrix form makes "
                 "one call and lets the BLAS run the whole product in compiled, vectorized code.", style="dim")]
