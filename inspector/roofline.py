"""This machine's limits and a few GPUs': the roofline the cost view measures ops against.

**The probe** (``probe()``, about 1–2 s) measures two figures of this machine with NumPy, in
float64 (the debugger's dtype):

- ``gflops``: the best rate of a 512×512 by 512×512 matrix product (2·512³ FLOPs), which the BLAS
  runs at close to the machine's peak;
- ``gbps``: the best rate of copying a 32 MiB array into another (reads 32 MiB, writes 32 MiB),
  larger than the caches, so it is main memory's bandwidth.

The figures are cached as JSON in ``$XDG_CACHE_HOME/nndb/roofline.json`` (default
``~/.cache/nndb``), written atomically; a missing, unreadable or corrupt cache is measured again,
never an error. ``roofline(figures=…)`` takes the figures as given (tests, or a machine you know).

**The roofline**: an op with arithmetic intensity I = FLOPs / bytes moved can run at most at
``min(gflops, I · gbps)``; below the machine balance ``gflops / gbps`` FLOP/byte it is
memory-bound (bandwidth limits it), above it compute-bound.

**The GPU estimate** (``gpu_estimate``): per op, ``launch + max(flops / peak, bytes / bandwidth)``,
from the published peak FP32 FLOP/s and memory bandwidth of the cards in ``GPUS`` and a typical
kernel-launch overhead (the time a GPU needs to start any kernel, however small: a few µs). It is
an estimate, never a measurement: one kernel per op, the data already on the card (no copy over
PCIe), peak rates (real kernels reach a fraction of them), and the bytes as this iteration moves
them (float64; a float32 run would move half).
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

# name, published peak FP32 (GFLOP/s, no tensor cores), memory bandwidth (GB/s), launch overhead (µs)
GPUS = (
    {"name": "NVIDIA T4", "peak_gflops": 8_100.0, "gbps": 320.0, "launch_us": 5.0},
    {"name": "RTX 3090", "peak_gflops": 35_600.0, "gbps": 936.0, "launch_us": 5.0},
    {"name": "A100 40GB", "peak_gflops": 19_500.0, "gbps": 1_555.0, "launch_us": 5.0},
    {"name": "H100 SXM", "peak_gflops": 66_900.0, "gbps": 3_350.0, "launch_us": 5.0},
)

MATMUL_N = 512
COPY_BYTES = 32 * 2 ** 20


def cache_path() -> Path:
    """``$XDG_CACHE_HOME/nndb/roofline.json`` (default ``~/.cache/nndb/roofline.json``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nndb" / "roofline.json"


def _best_rate(work: float, run, budget: float) -> float:
    """``work`` divided by the best time of ``run()`` over repeats that fit in ``budget`` seconds."""
    run()  # warm up: first-touch pages, BLAS threads
    best, spent = float("inf"), 0.0
    while spent < budget or best == float("inf"):
        t0 = time.perf_counter()
        run()
        dt = time.perf_counter() - t0
        best, spent = min(best, dt), spent + dt
    return work / best


def probe(budget: float = 0.6) -> dict:
    """Measure this machine's float64 matrix-product GFLOP/s and memory bandwidth (GB/s)."""
    rng = np.random.default_rng(0)
    n = MATMUL_N
    A, B = rng.random((n, n)), rng.random((n, n))
    out = np.empty((n, n))
    gflops = _best_rate(2.0 * n ** 3, lambda: np.matmul(A, B, out=out), budget) / 1e9
    src = np.ones(COPY_BYTES // 8)
    dst = np.empty_like(src)
    gbps = _best_rate(2.0 * COPY_BYTES, lambda: np.copyto(dst, src), budget) / 1e9
    return {"gflops": gflops, "gbps": gbps, "dtype": "float64", "measured": time.strftime("%Y-%m-%d %H:%M:%S"),
            "matmul": f"{n}×{n}·{n}×{n}", "copy_bytes": COPY_BYTES}


def _valid(figures) -> bool:
    return (isinstance(figures, dict) and all(isinstance(figures.get(k), (int, float)) and
                                              np.isfinite(figures[k]) and figures[k] > 0 for k in ("gflops", "gbps")))


def _write_atomically(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".roofline-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def roofline(figures: dict | None = None, path: Path | None = None, measure=probe) -> dict:
    """This machine's ``gflops`` and ``gbps``, with ``balance`` (FLOP/byte) and ``source``:
    ``given`` (``figures``), ``cache`` (read from ``path``), or ``measured`` (by ``measure()``,
    then cached; a cache that cannot be written is only a lost cache)."""
    if figures is not None:
        if not _valid(figures):
            raise ValueError(f"roofline figures need gflops > 0 and gbps > 0, got {figures!r}")
        result = dict(figures, source="given")
    else:
        path = cache_path() if path is None else Path(path)
        try:
            cached = json.loads(path.read_text())
        except (OSError, ValueError):
            cached = None
        if _valid(cached):
            result = dict(cached, source="cache")
        else:
            result = measure()
            try:
                _write_atomically(path, result)
            except OSError:
                pass
            result = dict(result, source="measured")
    result["balance"] = result["gflops"] / result["gbps"]
    return result


def place(flops: int, nbytes: int, seconds: float, machine: dict) -> dict:
    """Where an op sits on the roofline: ``intensity`` (FLOP/byte), ``bound`` (compute or memory),
    ``limit_gflops`` (what the machine allows at that intensity) and ``of_limit`` (achieved / limit)."""
    intensity = flops / nbytes if nbytes else (float("inf") if flops else 0.0)  # 0/0: a view, nothing done
    bound = "compute" if intensity >= machine["balance"] else "memory"
    limit = min(machine["gflops"], intensity * machine["gbps"])
    if seconds <= 0:
        of_limit = 0.0
    elif bound == "compute":  # achieved FLOP/s against the peak
        of_limit = flops / seconds / 1e9 / machine["gflops"]
    else:  # achieved bandwidth against the machine's (the same ratio in FLOP/s, and defined at 0 FLOPs)
        of_limit = nbytes / seconds / 1e9 / machine["gbps"]
    return {"intensity": intensity, "bound": bound, "limit_gflops": limit, "of_limit": of_limit}


def gpu_estimate(ops: list[dict], cpu_seconds: float, gpus=GPUS) -> list[dict]:
    """The same ops on each GPU of the table, estimated: per op ``launch + max(flops/peak,
    bytes/bandwidth)``; ``ops`` are dicts with ``flops`` and ``bytes``. ``launch_share`` is the part
    of the total spent starting kernels; ``speedup`` is the measured CPU time over the estimate."""
    out = []
    for g in gpus:
        launch = g["launch_us"] * 1e-6
        work = sum(max(op["flops"] / (g["peak_gflops"] * 1e9), op["bytes"] / (g["gbps"] * 1e9)) for op in ops)
        seconds = launch * len(ops) + work
        out.append({"name": g["name"], "peak_gflops": g["peak_gflops"], "gbps": g["gbps"],
                    "launch_us": g["launch_us"], "seconds": seconds, "launch_share": launch * len(ops) / seconds,
                    "speedup": cpu_seconds / seconds if seconds else 0.0})
    return out
