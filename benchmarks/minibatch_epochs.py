"""Time per epoch of the debugger's `train N epochs batch B` on the moons (lesson 24): minibatches of 1, 16 and all 200.

Lesson 24 says an epoch of 200 single-point iterations takes many times longer than one full-batch
iteration, although both compute the gradient of all 200 points: one matrix product over 200 rows
costs little more than one over a single row, and every iteration pays the same fixed per-call costs.
This script prints the milliseconds per epoch (median of ``--repeat`` runs of ``--epochs`` epochs each),
the time per example, and the ratios to the full batch. Times vary from machine to machine: figures
only, never a pass/fail test.

    python benchmarks/minibatch_epochs.py [--epochs 5] [--repeat 5]

Measured on the development machine (2 shared CPUs, other jobs beside it): batch 1 37 ms per epoch,
batch 16 2.4 ms, the full batch 0.14 ms: 270× and 18× the full batch's epoch.
"""
from __future__ import annotations

import argparse
import statistics

from inspector.commands import Interpreter
from inspector.session import Session
from lessons.setups import setup_problem

SETUP = {"preset": "moons", "optimizer": "sgd", "lr": "0.1"}  # lesson 24's network and data


def epoch_ms(batch: str, epochs: int) -> float:
    session = Session(lambda seed: setup_problem(SETUP, seed), seed=0)
    result = Interpreter(session).run(f"train {epochs} epochs batch {batch}")
    assert result.ok, result.message
    return result.data["epoch_seconds"] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = {}
    for batch in ("1", "16", "all"):
        rows[batch] = statistics.median(epoch_ms(batch, args.epochs) for _ in range(args.repeat))
    print(f"{'minibatch':>9}  {'iterations/epoch':>16}  {'ms/epoch':>9}  {'µs/example':>10}  {'× full batch':>12}")
    for batch, ms in rows.items():
        per_epoch = {"1": 200, "16": 13, "all": 1}[batch]
        print(f"{batch:>9}  {per_epoch:>16}  {ms:>9.3f}  {ms * 1000 / 200:>10.2f}  {ms / rows['all']:>12.1f}")


if __name__ == "__main__":
    main()
