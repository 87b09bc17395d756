"""Cold start and per-step latency of the Textual TUI (through App.run_test) on the tiny default net and a 784-128-10 net.

What is measured, headless, at a 120×40 terminal:

- start: from constructing the session and the app to the first frame that shows the op
  listing, in this process (imports done), median of several runs; and a whole fresh process
  (interpreter start, imports, session, app, first frame), median of a few runs.
- step: a key "s" is put on the app's input queue, exactly as a terminal delivers it, and
  the time until the last frame the key caused is written (the screen then stays quiet for a
  while) is the step's latency. p50/p95 over many steps, stepping through iterations and into
  the next ones. For reference, the Pilot round trip `await pilot.press("s"); await
  pilot.pause()` is timed too: it includes Pilot's own idle waits (≈20 ms each) and forces
  extra renders, so it overstates what a user sees.

The 784-128-10 net uses real digits from $NNDB_MNIST or ../shared/data/mnist when present
(the `digits` preset), else random digits-shaped data; the batch is 4 examples either way.

Targets (issue 4): start ≤ 1.5 s, step p95 ≤ 50 ms (tiny) and ≤ 150 ms (784-128-10).
Figures only: this script never fails a build.

    python benchmarks/tui_latency.py [--steps 120] [--starts 5] [--data FOLDER] [--size 120x40]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mnist"
TARGET_START = 1.5
TARGET_STEP = {"tiny": 0.050, "784-128-10": 0.150}
QUIET = 0.060      # a key's effects are over when no frame was written for this long
MAX_WAIT = 2.0     # give up waiting for quiet after this long


def mnist_folder(data: str | None) -> Path | None:
    for candidate in (data, os.environ.get("NNDB_MNIST"), DEFAULT_DATA):
        if candidate and Path(candidate).is_dir() and any(Path(candidate).glob("t10k-images-idx3-ubyte*")):
            return Path(candidate)
    return None


def big_session(data: str | None):
    """A 784-128-10 session on real digits when a folder is found, else on random digits-shaped data."""
    import numpy as np

    from engine.activations import ReLU
    from engine.layers import Dense
    from engine.losses import SoftmaxCrossEntropy
    from engine.model import Sequential
    from engine.optim import SGD
    from engine.presets import Problem
    from inspector.session import Session
    from inspector.sources import open_preset

    folder = mnist_folder(data)
    if folder is not None:
        return open_preset("digits", data=str(folder)), f"MNIST digits from {folder}"

    def factory(seed: int) -> Problem:
        rng = np.random.default_rng(seed)
        X, y = rng.random((256, 784)), rng.integers(0, 10, 256)
        model = Sequential(Dense(784, 128, init="he"), ReLU(), Dense(128, 10, init="he"), seed=seed)
        return Problem("random-digits", "784-128-10 on random digits-shaped data", model, SoftmaxCrossEntropy(),
                       SGD(model.parameters(), lr=0.1), X, y, batch_size=64, epochs=1,
                       classes=[str(k) for k in range(10)])
    return Session(factory, 0, source="random-digits"), "random digits-shaped data (no MNIST folder found)"


def make_session(net: str, data: str | None):
    from inspector.sources import open_preset
    if net == "tiny":
        return open_preset("moons"), "moons preset (2-8-8-2)"
    return big_session(data)


def frame_lines(update) -> list[str]:
    """The text of the lines a frame (a full or a partial update) writes."""
    if hasattr(update, "chops"):
        return ["".join(strip.text for strip in chop.values() if strip is not None) for chop in update.chops]
    if hasattr(update, "strips"):
        return ["".join(strip.text for strip in line) for line in update.strips]
    return []


class FrameProbe:
    """Timestamps every frame the app writes to its (headless) driver; notes when a text first shows."""

    def __init__(self, app):
        self.app, self.times = app, []
        self.first_listing: float | None = None
        self.wanted: str | None = None
        self.seen: float | None = None
        original = app._display

        def display(screen, renderable):
            original(screen, renderable)
            now = time.perf_counter()
            self.times.append(now)
            if self.wanted is not None and self.seen is None and renderable is not None:
                if any(self.wanted in line for line in frame_lines(renderable)):
                    self.seen = now
            if self.first_listing is None:
                try:
                    if app.query_one("#ops").option_count:
                        self.first_listing = now
                except Exception:
                    pass
        app._display = display

    def expect(self, text: str) -> None:
        self.wanted, self.seen = text, None

    async def quiet_after(self, start_count: int) -> float | None:
        """Wait until at least one frame came after ``start_count`` and none for QUIET; the last frame's time."""
        deadline = time.perf_counter() + MAX_WAIT
        while time.perf_counter() < deadline:
            await asyncio.sleep(0.002)
            if len(self.times) > start_count and time.perf_counter() - self.times[-1] >= QUIET:
                return self.times[-1]
        return self.times[-1] if len(self.times) > start_count else None


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


async def measure_start(net: str, data: str | None, size) -> float:
    from inspector.tui.app import NndbApp
    t0 = time.perf_counter()
    session, _ = make_session(net, data)
    app = NndbApp(session)
    probe = FrameProbe(app)
    async with app.run_test(size=size):
        while probe.first_listing is None and time.perf_counter() - t0 < 30:
            await asyncio.sleep(0.001)
    return probe.first_listing - t0


async def measure_steps(net: str, data: str | None, size, steps: int) -> dict:
    from textual import events

    from inspector.tui.app import NndbApp
    session, description = make_session(net, data)
    app = NndbApp(session)
    probe = FrameProbe(app)
    shown, settled, pilot_latency, missed, unseen = [], [], [], 0, 0
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await probe.quiet_after(0)
        for _ in range(5):  # warm caches (first renders of each widget)
            await pilot.press("s")
            await pilot.pause()
        await probe.quiet_after(0)
        for _ in range(steps):
            before, count = (session.current.number, session.pos), len(probe.times)
            nxt = session.tape[session.pos + 1] if session.pos + 1 < len(session.tape) else session.tape[0]
            probe.expect(f"[{nxt.index}] {nxt.layer}")  # the first line of the current op's panel
            t0 = time.perf_counter()
            app._driver.send_message(events.Key("s", "s"))
            last = await probe.quiet_after(count)
            if last is None or (session.current.number, session.pos) == before:
                missed += 1
                continue
            settled.append(last - t0)
            if probe.seen is not None:
                shown.append(probe.seen - t0)
            else:
                unseen += 1
        for _ in range(min(steps, 60)):
            t0 = time.perf_counter()
            await pilot.press("s")
            await pilot.pause()
            pilot_latency.append(time.perf_counter() - t0)
        ops = len(session.tape)
        where = (session.current.number, session.pos)
    return {"description": description, "shown": shown, "settled": settled, "pilot": pilot_latency,
            "missed": missed, "unseen": unseen, "ops": ops, "where": where}


def child_start(t_parent: float, net: str, data: str | None, size) -> None:
    """In a fresh process: import, build, show; print seconds since the parent launched us."""
    from textual.app import App  # noqa: F401  (the imports are part of a cold start)

    from inspector.tui.app import NndbApp

    async def main():
        session, _ = make_session(net, data)
        app = NndbApp(session)
        probe = FrameProbe(app)
        async with app.run_test(size=size):
            while probe.first_listing is None:
                await asyncio.sleep(0.001)
        print(f"{probe.first_listing - time.perf_counter() + time.time() - t_parent:.4f}")
    asyncio.run(main())


def process_start(net: str, data: str | None, size, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t = time.time()
        args = [sys.executable, __file__, "--child-start", repr(t), "--net", net, "--size", f"{size[0]}x{size[1]}"]
        if data:
            args += ["--data", data]
        out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-2000:])
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return times


def verdict(value: float, target: float) -> str:
    return "ok" if value <= target else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--steps", type=int, default=120, help="steps timed per network (default 120)")
    parser.add_argument("--starts", type=int, default=5, help="in-process cold starts per network (default 5)")
    parser.add_argument("--process-starts", type=int, default=3,
                        help="fresh-process starts of the tiny net (default 3; 0 skips)")
    parser.add_argument("--data", help="MNIST folder for the 784-128-10 net (default: $NNDB_MNIST, "
                                       "../shared/data/mnist, else random data)")
    parser.add_argument("--size", default="120x40", help="terminal size WxH (default 120x40)")
    parser.add_argument("--net", choices=["tiny", "784-128-10", "both"], default="both")
    parser.add_argument("--child-start", help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    if args.child_start:
        child_start(float(args.child_start), "tiny" if args.net == "both" else args.net, args.data, size)
        return 0

    nets = ["tiny", "784-128-10"] if args.net == "both" else [args.net]
    print(f"nndb TUI latency, headless App.run_test at {size[0]}×{size[1]}, Python {sys.version.split()[0]}")
    if args.process_starts:
        runs = process_start("tiny", args.data, size, args.process_starts)
        med = statistics.median(runs)
        print(f"  start, fresh process (tiny):   median {med:6.3f} s   runs {', '.join(f'{r:.3f}' for r in runs)}"
              f"   target ≤ {TARGET_START} s  {verdict(med, TARGET_START)}")
    for net in nets:
        starts = [asyncio.run(measure_start(net, args.data, size)) for _ in range(args.starts)]
        med = statistics.median(starts)
        print(f"  start, in process ({net}): {' ' * max(0, 10 - len(net))}median {med:6.3f} s   "
              f"runs {', '.join(f'{r:.3f}' for r in starts)}   target ≤ {TARGET_START} s  {verdict(med, TARGET_START)}")
    for net in nets:
        r = asyncio.run(measure_steps(net, args.data, size, args.steps))
        target = TARGET_STEP[net]
        print(f"  step ({net}: {r['description']}; {r['ops']} ops per iteration, ended at iteration "
              f"{r['where'][0]} op {r['where'][1]})")
        for label, values in (("key → new op on screen", r["shown"]), ("key → screen settled  ", r["settled"])):
            if values:
                p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
                print(f"      {label}: p50 {p50 * 1000:6.1f} ms   p95 {p95 * 1000:6.1f} ms   max "
                      f"{max(values) * 1000:6.1f} ms   n={len(values)}   target p95 ≤ {target * 1000:.0f} ms  "
                      f"{verdict(p95, target)}")
        if r["missed"]:
            print(f"      {r['missed']} key(s) produced no frame or did not step (not counted)")
        if r["unseen"]:
            print(f"      {r['unseen']} step(s) never showed the op's header line (not counted in 'new op')")
        if r["pilot"]:
            pilot = r["pilot"]
            print(f"      Pilot press+pause:      p50 {percentile(pilot, 0.5) * 1000:6.1f} ms   p95 "
                  f"{percentile(pilot, 0.95) * 1000:6.1f} ms   n={len(pilot)}  (includes Pilot's idle waits)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
