"""Frame-step latency of `nndb replay` (through App.run_test, headless): p50/p95 per run, terminal size and panel.

A key → (right arrow) is put on the app's input queue, exactly as a terminal delivers it; the
step's latency is the time until the frame that shows the new frame's title ("frame k/F") is
written ("shown"), and until the last frame the key caused ("settled": the screen then stays quiet
for a while). At 80×24 one panel shows at a time, so each is measured; at 120×40 all four show.

Each case runs twice: "cold", every frame drawn when its key arrives, and "prefetched", as the
replay runs: while a frame is on screen the next one (in the direction of the last step) is drawn
in the idle time, so a step at human pace (here: after the screen was quiet for 60 ms) only shows it.

Two more cases at 120×40, prefetch on as in the app: "first draw", a jump to a frame not drawn yet
(a click on the scrub bar at a random frame: End, Home and clicks draw a frame from nothing), and
"fast repeat", → pressed every 33 ms (a key held down: faster than the prefetch), each key's latency
until its frame (or a later one) is shown. The time a cold step spends per part (each panel's
drawing, laying the lines out, the rest of show_frame, Textual's compositor) is printed as shares,
which a busy machine changes less than the milliseconds.

Runs are recorded first, in a temporary folder: moons (2-8-8-2, the decision boundary) and a
784-128-10 digits MLP on MNIST from $NNDB_MNIST or ../shared/data/mnist when present (the digits
preset's network: 128 tiles of 28×28), else a 120-24-10 net on the segments preset's 12×10 images.

Target (issue 13): p95 ≤ 50 ms per frame step. Figures only: this script never fails a build.

    python benchmarks/replay_latency.py [--steps 60] [--data FOLDER]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from tui_latency import FrameProbe, mnist_folder, percentile  # noqa: E402

TARGET = 0.050


def record(path: Path, preset: str, epochs: int, model=None, flatten=False, image_shape=None, data=None):
    from engine.build import mlp, optimizer  # noqa: F401
    from engine.presets import load_preset
    from inspector.runs import Recorder, load_run
    p = load_preset(preset, seed=0, data=data)
    X = p.X.reshape(len(p.X), -1) if flatten else p.X
    if model is not None:
        p.model, p.optimizer = model, optimizer("adam", model.parameters(), lr=0.01)
    n_batches = -(-len(X) // p.batch_size)
    rec = Recorder(p.model, p.loss, (X, p.Y), p.classes, iterations_per_epoch=n_batches,
                   total_iterations=n_batches * epochs, preset=preset, image_shape=image_shape)
    p.model.fit(X, p.Y, p.loss, p.optimizer, epochs=epochs, batch_size=p.batch_size,
                validation_data=(X[:500], p.Y[:500]), on_batch=rec.on_batch, on_epoch=rec.on_epoch)
    return load_run(rec.save(path))


def runs(folder: Path, data: str | None) -> list[tuple[str, object]]:
    from engine.build import mlp
    out = [("moons 2-8-8-2", record(folder / "moons.run.npz", "moons", epochs=30))]
    mnist = mnist_folder(data)
    if mnist is not None:
        out.append(("digits 784-128-10", record(folder / "digits.run.npz", "digits", epochs=1, data=str(mnist),
                                                     image_shape=(28, 28))))
    else:
        out.append(("segments 120-24-10 (no MNIST folder)",
                    record(folder / "segments.run.npz", "segments", epochs=5, model=mlp([120, 24, 10], "relu", "he",
                                                                                          seed=0),
                           flatten=True, image_shape=(12, 10))))
    return out


async def measure(run, size, panel: str | None, steps: int, prefetch: bool) -> dict:
    from textual import events

    from inspector.tui.replay import ReplayApp
    app = ReplayApp(run)
    app.prefetch = prefetch
    probe = FrameProbe(app)
    shown, settled = [], []
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        if panel:
            await pilot.press(panel)
        await probe.quiet_after(0)
        for _ in range(3):  # warm: first renders of each widget
            await pilot.press("right")
            await pilot.pause()
        await probe.quiet_after(0)
        for _ in range(steps):
            if app.frame >= run.frames - 1:
                await pilot.press("home")
                await pilot.pause()
                await probe.quiet_after(0)
            count = len(probe.times)
            probe.expect(f"frame {app.frame + 2}/{run.frames}")
            t0 = time.perf_counter()
            app._driver.send_message(events.Key("right", None))
            last = await probe.quiet_after(count)
            if last is not None:
                settled.append(last - t0)
            if probe.seen is not None:
                shown.append(probe.seen - t0)
    return {"shown": shown, "settled": settled}


async def measure_jumps(run, size, steps: int) -> dict:
    """Seeks to random frames not drawn yet (as a click on the scrub bar): each a first draw."""
    import random

    from inspector.tui.replay import ReplayApp, Timeline
    app = ReplayApp(run)
    probe = FrameProbe(app)
    order = list(range(1, run.frames))
    random.Random(0).shuffle(order)
    shown = []
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await probe.quiet_after(0)
        for target in order[:steps]:
            if target == app.frame or any(k[1] == target for k in app.pictures):
                continue
            count = len(probe.times)
            probe.expect(f"frame {target + 1}/{run.frames}")
            t0 = time.perf_counter()
            app.query_one(Timeline).post_message(Timeline.Seek(target))
            await probe.quiet_after(count)
            if probe.seen is not None:
                shown.append(probe.seen - t0)
    return {"shown": shown}


async def measure_repeat(run, size, steps: int, interval: float = 0.033) -> dict:
    """→ every ``interval`` s, without waiting: each key's time until its frame (or a later one) shows."""
    from textual import events

    from inspector.tui.replay import ReplayApp
    app = ReplayApp(run)
    seen_at: dict[int, float] = {}
    original = app._display

    def display(screen, renderable):
        original(screen, renderable)
        seen_at.setdefault(app.frame, time.perf_counter())  # the frame drawn is the app's current one
    app._display = display
    sent: dict[int, float] = {}
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await asyncio.sleep(0.2)
        start = app.frame
        n = min(steps, run.frames - 1 - start)
        t_next = time.perf_counter()
        for k in range(1, n + 1):
            await asyncio.sleep(max(t_next - time.perf_counter(), 0))
            sent[start + k] = time.perf_counter()
            app._driver.send_message(events.Key("right", None))
            t_next += interval
        await asyncio.sleep(0.5)
    shown = []
    for frame, t0 in sent.items():
        later = [t for f, t in seen_at.items() if f >= frame and t >= t0]
        if later:
            shown.append(min(later) - t0)
    return {"shown": shown}


def cost_shares(run, size, steps: int) -> str:
    """Where a cold step's time goes: process time per part, as shares of the whole step."""
    from textual.screen import Screen

    from inspector.tui.replay import PANELS, LinesView, ReplayApp
    spent: dict[str, float] = {}
    patched = []

    def timed(owner, name, key):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            t0 = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent[key] = spent.get(key, 0.0) + time.process_time() - t0
        patched.append((owner, name, original))
        setattr(owner, name, wrapper)
    for panel in PANELS:
        timed(ReplayApp, f"draw_{panel}", panel)
    timed(LinesView, "lay_out", "lines laid out")
    timed(ReplayApp, "show_frame", "show_frame")
    timed(Screen, "_compositor_refresh", "compositor")
    try:
        asyncio.run(measure(run, size, None, steps, False))
    finally:
        for owner, name, original in patched:
            setattr(owner, name, original)
    whole = spent.get("show_frame", 0.0) + spent.get("compositor", 0.0)
    if not whole:
        return "(nothing measured)"
    parts = {k: spent.get(k, 0.0) for k in (*PANELS, "lines laid out")}
    parts["rest of show_frame"] = spent.get("show_frame", 0.0) - sum(parts.values())
    parts["compositor"] = spent.get("compositor", 0.0)
    return " · ".join(f"{k} {v / whole:.0%}" for k, v in parts.items())


def line(label: str, values: list[float]) -> str:
    if not values:
        return f"{label:<52} (no frames measured)"
    p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
    verdict = "ok" if p95 <= TARGET else "OVER"
    return f"{label:<52} p50 {p50 * 1000:6.1f} ms   p95 {p95 * 1000:6.1f} ms   (p95/target {p95 / TARGET:.2f}, {verdict})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--data", help="MNIST folder (else $NNDB_MNIST or ../shared/data/mnist)")
    parser.add_argument("--wide-only", action="store_true", help="only 120×40 (all four panels)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        recorded = runs(Path(tmp), args.data)
        print(f"frame step latency of nndb replay, {args.steps} steps each; target p95 ≤ {TARGET * 1000:.0f} ms")
        for name, run in recorded:
            print(f"\n{name}: {run.frames} frames")
            cases = [((80, 24), key, label) for key, label in (("1", "network"), ("2", "boundary/units"),
                                                               ("3", "weights"), ("4", "curves"))]
            cases = [] if args.wide_only else cases
            cases.append(((120, 40), None, "all four panels"))
            for size, key, label in cases:
                for prefetch in (False, True):
                    result = asyncio.run(measure(run, size, key, args.steps, prefetch))
                    how = "prefetched" if prefetch else "cold"
                    print(line(f"  {size[0]}×{size[1]} {label}, {how}: shown", result["shown"]))
                    print(line(f"  {size[0]}×{size[1]} {label}, {how}: settled", result["settled"]))
            wide = (120, 40)
            print(line(f"  {wide[0]}×{wide[1]} all four, first draw (jump): shown",
                       asyncio.run(measure_jumps(run, wide, args.steps))["shown"]))
            print(line(f"  {wide[0]}×{wide[1]} all four, fast repeat (33 ms): shown",
                       asyncio.run(measure_repeat(run, wide, args.steps))["shown"]))
            print(f"  cold step at 120×40, share of process time: {cost_shares(run, wide, min(args.steps, 30))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
