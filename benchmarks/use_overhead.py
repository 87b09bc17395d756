"""What `--use FILE` costs in `nndb train`: the learner's (reference) functions against the engine's own.

One 784-128-10 ReLU network (digits' shape; random data, so no download) trained for a few epochs
in float64 three ways: the engine alone; the reference solutions swapped in with nndb's comparison on
the first batch of each epoch (what `nndb train --use` does); and the same comparing every batch
(what it would cost to check them all). Each is the median of ``--repeats`` runs, alternating.

    OPENBLAS_NUM_THREADS=1 python benchmarks/use_overhead.py [--repeats 3] [--epochs 3]

(One BLAS thread: on a busy two-core machine threaded BLAS swings every figure tenfold.) Seen on
such a machine, 1 epoch, median of 3: engine 0.36 s; first batch of each epoch 0.58 s (×1.6: the
reference dense_backward also computes the first layer's dX, which the engine skips, and the
softmax runs in both of the learner's loss functions); every batch 1.12 s (×3.2).

Figures only: this script never fails a build.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from engine import SoftmaxCrossEntropy  # noqa: E402
from engine.build import mlp, optimizer  # noqa: E402
from exercise_solutions import SOLUTIONS  # noqa: E402
from lessons.exercises.use import load_learner, swap_in  # noqa: E402

N, BATCH = 6400, 64


def run(mode: str, path: Path, epochs: int) -> float:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(N, 784)), rng.integers(0, 10, N)
    model = mlp([784, 128, 10], "relu", "he", seed=0)
    loss, opt = SoftmaxCrossEntropy(), optimizer("momentum", model.parameters(), lr=0.05)
    if mode != "engine":
        learner = load_learner(path)
        swap_in(learner, [*model.layers, loss, opt])
        per_epoch = N // BATCH
        learner.strict = True
        learner.compare_when = (lambda: model.training) if mode == "every batch" else \
            (lambda: model.training and model.iteration % per_epoch == 0)
    start = time.perf_counter()
    model.fit(X, y, loss, opt, epochs=epochs, batch_size=BATCH)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    modes = ("engine", "first batch of each epoch", "every batch")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mine.py"
        path.write_text(SOLUTIONS["dense"] + SOLUTIONS["relu"] + SOLUTIONS["softmax-ce"] + SOLUTIONS["sgd-momentum"])
        times: dict[str, list[float]] = {m: [] for m in modes}
        for _ in range(args.repeats):
            for mode in modes:
                times[mode].append(run(mode, path, args.epochs))
    base = statistics.median(times["engine"])
    print(f"784-128-10 ReLU, {N} examples, batch {BATCH}, {args.epochs} epochs, float64, median of {args.repeats}")
    for mode in modes:
        t = statistics.median(times[mode])
        print(f"  {mode:<28} {t:7.2f} s   × {t / base:.2f} of the engine's")


if __name__ == "__main__":
    main()
