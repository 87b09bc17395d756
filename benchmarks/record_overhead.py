"""What `--record` costs: `nndb train --preset digits` with and without it, and the run file's size.

The same run (same seed, same data, same flags) is trained ``--repeats`` times each way, the two
alternating so that drifting machine load hits both alike, each inside this process through the
``nndb`` entry point's ``main`` (its output discarded), so with one BLAS thread as ``nndb`` runs. Reported: the median wall time of the whole command
each way, the median training time of the plain run (its history's ``seconds``), the overhead
(wall with − wall without) as a share of that training time, the same for the CPU time the process
used, and the run file's size. On a shared machine, where other processes' load swings every
timing, the steadiest figure is the last: the seconds spent inside the recorder (its hooks and the
file's write, timed in the same run) as a share of that run's training time.

    python benchmarks/record_overhead.py [--data FOLDER] [--repeats 3] [--epochs N] [--threads T]

``--threads T`` sets another BLAS thread count (OPENBLAS/OMP/MKL_NUM_THREADS) before NumPy loads.

Targets (issue 13): overhead ≤ 10 % of the training time, run file < 50 MB. Figures only: this
script never fails a build.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if "--threads" in sys.argv[:-1]:  # before NumPy loads, or it is too late
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = sys.argv[sys.argv.index("--threads") + 1]

from lessons.cli import main  # noqa: E402  (the `nndb` entry point, first: one BLAS thread unless told)
from inspector import runs  # noqa: E402

MNIST_ENV = "NNDB_MNIST"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mnist"
TARGET_OVERHEAD, TARGET_MB = 0.10, 50.0


INSIDE = {"seconds": 0.0, "save": 0.0}


def timed(method, name):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            INSIDE["seconds"] += time.perf_counter() - start
            if name == "save":
                INSIDE["save"] += time.perf_counter() - start
    return wrapper


for name in ("__init__", "on_batch", "on_epoch", "save"):  # everything --record adds to a run
    setattr(runs.Recorder, name, timed(getattr(runs.Recorder, name), name))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def train_once(folder: Path, data: str, record: bool, epochs: int | None) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of the whole command, training seconds from its history) of one `nndb train`."""
    out = folder / ("recorded.npz" if record else "plain.npz")
    argv = ["train", "--preset", "digits", "--data", data, "--out", str(out)]
    argv += ["--epochs", str(epochs)] if epochs else []
    argv += ["--record"] if record else []
    INSIDE.update(seconds=0.0, save=0.0)
    start, cpu = time.perf_counter(), cpu_seconds()
    with contextlib.redirect_stdout(io.StringIO()):
        status = main(argv)
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    if status != 0:
        sys.exit(f"nndb {' '.join(argv)} exited with status {status}")
    seconds = json.loads(out.with_name(out.stem + ".history.json").read_text())["seconds"]
    return wall, cpu, seconds


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get(MNIST_ENV) or str(DEFAULT_DATA),
                        help=f"MNIST-format folder (default ${MNIST_ENV} or {DEFAULT_DATA})")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, help="epochs per run (default: the preset's 15)")
    parser.add_argument("--threads", type=int, help="BLAS threads (default: nndb's, 1)")
    args = parser.parse_args()
    if not Path(args.data).is_dir():
        sys.exit(f"no MNIST folder at {args.data}: pass --data FOLDER or set {MNIST_ENV}")
    walls, cpus, trains = {False: [], True: []}, {False: [], True: []}, {False: [], True: []}
    inside, saving = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for r in range(args.repeats):
            for record in ((False, True) if r % 2 == 0 else (True, False)):
                wall, cpu, seconds = train_once(folder, args.data, record, args.epochs)
                walls[record].append(wall)
                cpus[record].append(cpu)
                if record:
                    inside.append(INSIDE["seconds"] / seconds)
                    saving.append(INSIDE["save"] / seconds)
                trains[record].append(seconds)
                print(f"  run {r + 1} {'with' if record else 'without'} --record: {wall:.2f} s "
                      f"(CPU {cpu:.2f} s, training {seconds:.2f} s)", flush=True)
        size = (folder / "recorded.run.npz").stat().st_size / 1e6
    plain, recorded = statistics.median(walls[False]), statistics.median(walls[True])
    training = statistics.median(trains[False])
    overhead = (recorded - plain) / training
    n = args.threads or int(os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    threads = f", {n} BLAS thread{'s' if n > 1 else ''}"
    print(f"nndb train --preset digits, median of {args.repeats}{threads}:")
    print(f"  without --record  {plain:7.2f} s   (training {training:.2f} s)")
    print(f"  with --record     {recorded:7.2f} s   (training {statistics.median(trains[True]):.2f} s)")
    print(f"  ratio             {recorded / plain:7.3f}")
    print(f"  overhead          {100 * overhead:6.1f} % of the training time (target ≤ {100 * TARGET_OVERHEAD:.0f} %)")
    cpu_plain, cpu_recorded = statistics.median(cpus[False]), statistics.median(cpus[True])
    print(f"  CPU time          {cpu_plain:7.2f} s without, {cpu_recorded:.2f} s with: ratio {cpu_recorded / cpu_plain:.3f}, "
          f"overhead {100 * (cpu_recorded - cpu_plain) / (cpu_plain * training / plain):.1f} % of the training's share")
    print(f"  inside the recorder {100 * statistics.median(inside):4.1f} % of the same run's training time "
          f"(median; each run: {', '.join(f'{100 * v:.1f}' for v in inside)} %), of which "
          f"{100 * statistics.median(saving):.1f} % waiting for the file's write to end")
    print(f"  run file          {size:7.1f} MB (target < {TARGET_MB:.0f} MB)")


if __name__ == "__main__":
    main_()
