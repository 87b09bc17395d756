"""Seconds per epoch and test accuracy of a 784-128-10 MLP on MNIST: the engine vs plain NumPy vs PyTorch.

The three train the same network from the same He initialization on the same shuffled
minibatches (the first 8,000 test digits; the last 2,000 are held out): (a) the engine through
``model.fit`` with its default (null) tracer, (b) a plain vectorized NumPy loop written here,
op for op the engine's math, and (c) PyTorch (when installed) with the same thread count as
NumPy's BLAS. Epochs of the three alternate, in every order in turn and each after a short rest
(idle BLAS and OpenMP threads spin for a while and would slow whoever runs next), so drifting
machine load hits each alike; the table reports the median seconds per epoch.

    python benchmarks/mlp_mnist.py [--data FOLDER] [--epochs 5] [--repeats 5] [-v]

Targets: engine ≤ 1.15× the NumPy loop and ≤ 1.0× PyTorch per epoch, and accuracy within 0.5
points of PyTorch. Figures only: this script never fails a build.
"""
from __future__ import annotations

import argparse
import ctypes
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import SGD, Dense, ReLU, Sequential, SoftmaxCrossEntropy  # noqa: E402
from engine.datasets import load_mnist  # noqa: E402
from engine.errors import DataError  # noqa: E402

MNIST_ENV = "NNDB_MNIST"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mnist"
N_TRAIN, N_TEST = 8000, 2000
TARGET_NUMPY, TARGET_TORCH, TARGET_ACC = 1.15, 1.0, 0.5


# -- threads -----------------------------------------------------------------------------------
def _openblas():
    """NumPy's OpenBLAS, found among the libraries this process has loaded (None if not OpenBLAS)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def _blas_call(names: tuple[str, ...], *args):
    lib = _openblas()
    for name in names:
        fn = getattr(lib, name, None) if lib is not None else None
        if fn is not None:
            return fn(*args)
    return None


def numpy_threads() -> int:
    """How many threads NumPy's BLAS uses (OpenBLAS asked directly; else the environment/CPU count)."""
    n = _blas_call(("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                    "openblas_get_num_threads"))
    if n:
        return int(n)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def set_numpy_threads(n: int) -> None:
    _blas_call(("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                "openblas_set_num_threads"), ctypes.c_int(n))


# -- (a) the engine ----------------------------------------------------------------------------
class EngineRun:
    name = "engine (model.fit)"

    def __init__(self, args, X, y):
        self.X, self.y, self.args = X, y, args
        self.model = Sequential(Dense(784, args.hidden, init="he"), ReLU(), Dense(args.hidden, 10, init="he"),
                                seed=args.seed, dtype=np.float32)
        self.loss_fn = SoftmaxCrossEntropy()
        self.opt = SGD(self.model.parameters(), lr=args.lr)

    def initial_weights(self):
        return [p.value.copy() for p in self.model.parameters()]

    def epoch(self):
        h = self.model.fit(self.X, self.y, self.loss_fn, self.opt, epochs=1, batch_size=self.args.batch_size)
        return h["loss"][0]

    def accuracy(self, X, y):
        return float(np.mean(self.model.predict(X).argmax(axis=1) == y))

    def weights(self):
        return [p.value for p in self.model.parameters()]


# -- (b) plain NumPy -----------------------------------------------------------------------------
class NumpyRun:
    """A plain vectorized NumPy training loop: what one writes by hand from a tutorial."""

    name = "plain NumPy loop"

    def __init__(self, args, X, y):
        self.X, self.y, self.args = X, y, args
        rng = np.random.default_rng(args.seed)  # same generator, same draws as the engine's He init
        self.W1 = (rng.standard_normal((784, args.hidden)) * np.sqrt(2.0 / 784)).astype(np.float32)
        self.b1 = np.zeros(args.hidden, np.float32)
        self.W2 = (rng.standard_normal((args.hidden, 10)) * np.sqrt(2.0 / args.hidden)).astype(np.float32)
        self.b2 = np.zeros(10, np.float32)
        self.rng = rng  # then one permutation per epoch, as fit shuffles

    def initial_weights(self):
        return [a.copy() for a in (self.W1, self.b1, self.W2, self.b2)]

    def epoch(self):
        X, y, bs, lr = self.X, self.y, self.args.batch_size, self.args.lr
        W1, b1, W2, b2 = self.W1, self.b1, self.W2, self.b2
        n = len(X)
        order = self.rng.permutation(n)
        total = 0.0
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            Xb, yb = X[idx], y[idx]
            m = len(idx)
            rows = np.arange(m)
            # forward
            Z1 = Xb @ W1 + b1
            A1 = np.maximum(Z1, 0)
            Z2 = A1 @ W2 + b2
            # softmax cross-entropy (log-sum-exp) and its gradient (P − Y)/m
            shifted = Z2 - Z2.max(axis=1, keepdims=True)
            log_P = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            total -= float(log_P[rows, yb].sum())
            dZ2 = np.exp(log_P)
            dZ2[rows, yb] -= 1
            dZ2 /= m
            # backward (no dX for the first layer)
            dW2 = A1.T @ dZ2
            db2 = dZ2.sum(axis=0)
            dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
            dW1 = Xb.T @ dZ1
            db1 = dZ1.sum(axis=0)
            # SGD
            W1 = W1 - lr * dW1
            b1 = b1 - lr * db1
            W2 = W2 - lr * dW2
            b2 = b2 - lr * db2
        self.W1, self.b1, self.W2, self.b2 = W1, b1, W2, b2
        return total / n

    def accuracy(self, X, y):
        Z2 = np.maximum(X @ self.W1 + self.b1, 0) @ self.W2 + self.b2
        return float(np.mean(Z2.argmax(axis=1) == y))

    def weights(self):
        return [self.W1, self.b1, self.W2, self.b2]


# -- (c) PyTorch -----------------------------------------------------------------------------
class TorchRun:
    name = "PyTorch"

    def __init__(self, args, X, y, init, torch):
        self.torch, self.args = torch, args
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        nn = torch.nn
        self.net = nn.Sequential(nn.Linear(784, args.hidden), nn.ReLU(), nn.Linear(args.hidden, 10))
        with torch.no_grad():  # the engine's initial weights; torch stores W as (out, in)
            W1, b1, W2, b2 = init
            for lin, W, b in ((self.net[0], W1, b1), (self.net[2], W2, b2)):
                lin.weight.copy_(torch.from_numpy(W.T.copy()))
                lin.bias.copy_(torch.from_numpy(b))
        self.opt = torch.optim.SGD(self.net.parameters(), lr=args.lr)
        self.rng = np.random.default_rng(args.seed)
        self.rng.standard_normal((784, args.hidden))  # advance past the init draws: same shuffles
        self.rng.standard_normal((args.hidden, 10))

    def epoch(self):
        torch, F = self.torch, self.torch.nn.functional
        X, y, bs, net, opt = self.X, self.y, self.args.batch_size, self.net, self.opt
        order = torch.from_numpy(self.rng.permutation(len(X)))
        total = 0.0
        for start in range(0, len(X), bs):
            idx = order[start:start + bs]
            loss = F.cross_entropy(net(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        return total / len(X)

    def accuracy(self, X, y):
        with self.torch.no_grad():
            out = self.net(self.torch.from_numpy(X))
        return float(np.mean(out.argmax(dim=1).numpy() == y))


# -- main ------------------------------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=f"Data: --data, else ${MNIST_ENV}, else {DEFAULT_DATA} "
               f"(t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz).")
    p.add_argument("--data", help=f"folder with the MNIST test-set IDX files (default: ${MNIST_ENV} or "
                                  f"../shared/data/mnist from the repository)")
    p.add_argument("--epochs", type=int, default=5, help="training epochs per run (default 5)")
    p.add_argument("--repeats", type=int, default=5,
                   help="independent runs from the same init; times are pooled over all (default 5)")
    p.add_argument("--batch-size", type=int, default=64, help="minibatch size (default 64)")
    p.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (default 0.1)")
    p.add_argument("--hidden", type=int, default=128, help="hidden units (default 128)")
    p.add_argument("--seed", type=int, default=0, help="seed of the init and the shuffling (default 0)")
    p.add_argument("--pause", type=float, default=0.2,
                   help="seconds of rest before each timed epoch, so that one library's idle threads "
                        "(which spin for a while) do not slow the next (default 0.2)")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS/torch threads for all three (default: what NumPy's BLAS already uses)")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    p.add_argument("-v", "--verbose", action="store_true", help="also print every epoch's time")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.repeats < 1 or args.batch_size < 1:
        p.error("--epochs, --repeats and --batch-size must be ≥ 1")
    if args.pause < 0:
        p.error("--pause must be ≥ 0")
    return args


def load(args):
    folder = Path(args.data or os.environ.get(MNIST_ENV) or DEFAULT_DATA)
    try:
        X, y = load_mnist(folder, split="test")
    except DataError as e:
        sys.exit(f"mlp_mnist: {e}\nmlp_mnist: nothing was measured (the data comes from --data, "
                 f"else ${MNIST_ENV}, else {DEFAULT_DATA})")
    if len(X) < N_TRAIN + N_TEST:
        sys.exit(f"mlp_mnist: {folder} holds {len(X)} digits, the benchmark needs {N_TRAIN + N_TEST}")
    X = X.astype(np.float32)
    return folder, X[:N_TRAIN], y[:N_TRAIN], X[-N_TEST:], y[-N_TEST:]


def main(argv=None) -> int:
    args = parse_args(argv)
    folder, Xtr, ytr, Xte, yte = load(args)
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("PyTorch is not installed: its row is left out")
    if args.threads:
        set_numpy_threads(args.threads)
    threads = numpy_threads()
    if torch is not None:
        torch.set_num_threads(threads)

    print(f"MNIST test-set digits from {folder}: {len(Xtr)} to train, {len(Xte)} to test")
    print(f"784-{args.hidden}-10 ReLU MLP, softmax cross-entropy, batch {args.batch_size}, SGD lr {args.lr}, "
          f"float32, {args.epochs} epochs × {args.repeats} runs")
    print(f"threads: NumPy BLAS {threads}" + (f", torch.set_num_threads({threads}) "
                                             f"(torch {torch.__version__})" if torch is not None else ""))

    def make_runs():
        runs = [EngineRun(args, Xtr, ytr), NumpyRun(args, Xtr, ytr)]
        init = runs[0].initial_weights()
        for a, b in zip(init, runs[1].initial_weights()):
            assert np.array_equal(a, b), "the NumPy loop must start from the engine's initial weights"
        if torch is not None:
            runs.append(TorchRun(args, Xtr, ytr, init, torch))
        return runs

    # Warm-up: one untimed epoch each (BLAS thread pools, torch's first-call setup).
    for run in make_runs():
        run.epoch()

    names = [r.name for r in make_runs()]
    seconds = {name: [] for name in names}
    losses: dict[str, list[float]] = {}
    accuracy: dict[str, float] = {}
    orders = list(itertools.permutations(range(len(names))))
    for rep in range(args.repeats):
        runs = make_runs()
        rep_losses = {r.name: [] for r in runs}
        for epoch in range(args.epochs):
            for k in orders[(rep * args.epochs + epoch) % len(orders)]:  # every order in turn
                run = runs[k]
                time.sleep(args.pause)  # let the last run's spinning BLAS/OpenMP threads go idle
                start = time.perf_counter()
                loss = run.epoch()
                seconds[run.name].append(time.perf_counter() - start)
                rep_losses[run.name].append(loss)
        if rep == 0:
            losses = rep_losses
            accuracy = {r.name: r.accuracy(Xte, yte) for r in runs}
            diff = max(float(np.max(np.abs(a - b))) for a, b in zip(runs[0].weights(), runs[1].weights()))

    med = {name: statistics.median(ts) for name, ts in seconds.items()}
    if args.verbose:
        print("\nms per epoch, in the order measured:")
        for name in names:
            print(f"  {name:<20}", " ".join(f"{1e3 * t:.0f}" for t in seconds[name]))
    print()
    print(f"{'':<20} {'s/epoch (median)':>17} {'min':>8} {'max':>8} {'last train loss':>16} {'test acc':>9}")
    for name in names:
        ts = seconds[name]
        print(f"{name:<20} {med[name]:>17.4f} {min(ts):>8.4f} {max(ts):>8.4f} "
              f"{losses[name][-1]:>16.4f} {100 * accuracy[name]:>8.2f}%")
    print(f"({len(seconds[names[0]])} timed epochs each, alternating; ratios are medians of the "
          f"per-round ratios;\n "
          f"engine vs NumPy loop final weights differ by at most {diff:.3g})")
    spread = max(med[name] / min(seconds[name]) for name in names)
    if spread > 1.25:
        print(f"warning: the machine was busy (a median epoch took {spread:.2f}× its fastest one); "
              f"the ratios may be off; rerun, or try --threads 1 or more --repeats")
    print()

    def verdict(ok):
        return "met" if ok else "MISSED"

    def ratio(a, b):
        """Median over rounds of a's epoch time / b's in the same round (drift cancels), then
        the ratios of the medians and of the minima, as text."""
        paired = statistics.median(x / y for x, y in zip(seconds[a], seconds[b]))
        return paired, f"medians {med[a] / med[b]:.3f}×, minima {min(seconds[a]) / min(seconds[b]):.3f}×"

    eng, ref = names[0], names[1]
    r_np, others = ratio(eng, ref)
    print(f"engine / NumPy loop : {r_np:.3f}×  (ratio of {others}; "
          f"target ≤ {TARGET_NUMPY}×: {verdict(r_np <= TARGET_NUMPY)})")
    if torch is not None:
        tor = names[2]
        r_t, others = ratio(eng, tor)
        d_acc = 100 * (accuracy[eng] - accuracy[tor])
        print(f"engine / PyTorch    : {r_t:.3f}×  (ratio of {others}; "
              f"target ≤ {TARGET_TORCH}×: {verdict(r_t <= TARGET_TORCH)})")
        print(f"accuracy vs PyTorch : {d_acc:+.2f} points  "
              f"(target within ±{TARGET_ACC}: {verdict(abs(d_acc) <= TARGET_ACC)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
