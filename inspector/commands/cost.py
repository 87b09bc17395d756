"""The cost view: `cost` — what each op of this iteration costs, and loops against matrices."""
from __future__ import annotations

import re

from ..cost import cost_report, loop_report
from .core import Result, UsageError, command

USAGE = "cost [--batch N] [--loop]"


def parse_cost_args(arg: str) -> dict:
    """``--batch N`` (or ``--batch=N``) and ``--loop``, in any order; anything else is an error."""
    words = arg.replace("=", " ").split()
    options = {"batch": None, "loop": False}
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--loop":
            options["loop"] = True
        elif word == "--batch":
            if i + 1 >= len(words):
                raise UsageError(f"cost: --batch needs a number of examples, e.g. `cost --batch 256`")
            value = words[i + 1]
            if not re.fullmatch(r"\d+", value) or int(value) < 1:
                raise UsageError(f"cost: --batch needs a whole number ≥ 1, got {value!r}")
            options["batch"] = int(value)
            i += 1
        else:
            raise UsageError(f"cost: unknown option {word!r}; the options are --batch N and --loop")
        i += 1
    return options


@command("cost", usage=USAGE, args="options",
         summary="what each op of this iteration costs: FLOPs, bytes, measured time, roofline, a GPU estimate",
         help="""
For every op of the current iteration: its FLOPs and bytes (from the layer's own formula), its time
measured with the engine's default tracer (median of repeats, on a copy: the session is unchanged),
GFLOP/s achieved, share of the iteration, and whether it is compute- or memory-bound on this machine
(a short probe, cached). Then totals per phase, backward/forward, one epoch at this batch size, and
an estimate (not a measurement) for a few GPUs: per op a launch overhead + max(FLOPs/peak, bytes/bandwidth).
  cost --batch N   measure with N examples drawn from the data (batch 4 vs 1024: why GPUs need big batches)
  cost --loop      the current (or first) dense layer's forward as Python loops beside the matrix product""")
def do_cost(s, arg, line="cost"):
    options = parse_cost_args(arg)
    if options["loop"]:
        data = loop_report(s, options["batch"])
        slowest = data["forms"][-1]
        return Result(line, True, "vectorize",
                      f"{data['layer']}: the loop over (example, neuron) pairs takes {slowest['vs_matrix']:,.0f}× "
                      f"the matrix product's time", data)
    data = cost_report(s, options["batch"])
    top = max(data["ops"], key=lambda o: o["seconds"])
    return Result(line, True, "cost", f"batch {data['batch']}: {top['name']} takes the most time "
                                      f"({top['share']:.0%} of the iteration)", data)
