"""Guards for what comes from outside: text shown on a terminal, flags, files to write, divergence.

- ``clean(text)``: the one sanitizer for text from a file, a label or a script before it is
  rendered: control characters (ESC sequences included) are shown as ``\\x1b``-style escapes,
  never sent to the terminal.
- argparse types that refuse negative seeds, NaN/inf, counts below 1.
- ``check_output(path, inputs)``: an output must be a regular file (or not exist yet), not one of
  the inputs, not a device or a FIFO; a symbolic link is refused, never written through.
- ``Diverged``: a training loss that became NaN or inf, with the message that names the cause.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import stat
from pathlib import Path

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides that reorder text
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _show(m: re.Match) -> str:
    c = m.group()
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def clean(text, newlines: bool = True) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``): safe to print.
    With ``newlines=False`` a newline and a tab are shown too (a one-line field: a label, a name)."""
    text = str(text)
    text = _CONTROL.sub(_show, text)
    if not newlines:
        text = text.replace("\n", "\\n").replace("\t", "\\t")
    return text


# -- flags ---------------------------------------------------------------------------------------
def _whole(text: str, lo: int, hi: int, what: str, words: str) -> int:
    """A whole number lo … hi, or argparse's error in ``what``'s words (``a seed is``, ``expected``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} a whole number ≥ {lo}, got {text!r}") from None
    if not lo <= value <= hi:
        raise argparse.ArgumentTypeError(f"{what} a whole number from {lo} to {words}, got {text[:30]}")
    return value


def seed_int(text: str) -> int:
    """A seed: a whole number 0 … 2³²−1 (NumPy's generators take no negative seed)."""
    return _whole(text, 0, 2**32 - 1, "a seed is", str(2**32 - 1))


def count_int(text: str) -> int:
    """A count ≥ 1 (epochs, a batch size)."""
    return _whole(text, 1, 10**9, "expected", "1,000,000,000")


def nonnegative_int(text: str) -> int:
    """A count ≥ 0 (how many samples to show)."""
    return _whole(text, 0, 10**9, "expected", "1,000,000,000")


def finite_float(text: str) -> float:
    """A finite number (no nan, no inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value




# -- files written -------------------------------------------------------------------------------
def check_output(path, inputs=(), flag: str = "--out") -> Path:
    """``path`` if nndb may write it: not yet there, or a regular file that is none of ``inputs``.

    A symbolic link is refused (nndb never writes through one: give the file's own path), as is a
    device, a FIFO, a socket or a folder. Raises ValueError with the reason."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:  # a name too long, a loop of links: not a file nndb can write
        raise ValueError(f"{flag} {clean(str(path))[:200]}: {e.strerror or e}") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise ValueError(f"{flag} {clean(str(path))} is a symbolic link (to {clean(os.readlink(path))}); nndb does "
                             f"not write through links: give the file's own path")
        if stat.S_ISDIR(st.st_mode):
            raise ValueError(f"{flag} {clean(str(path))} is a folder; give a file name like model.npz")
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{flag} {clean(str(path))} is not a regular file (a device, a FIFO or a socket); "
                             f"nndb writes only regular files")
    for source in inputs:
        if source is None:
            continue
        if same_file(path, source):
            raise ValueError(f"{flag} {clean(str(path))} is also an input ({clean(str(source))}): writing it would "
                             f"destroy the input; choose another name")
    return path


def same_file(a, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


# -- divergence ----------------------------------------------------------------------------------
class Diverged(Exception):
    """A training loss (or the weights) became NaN or inf."""

    def __init__(self, epoch: int, batch: int | None, loss: float, lr: float | None):
        self.epoch, self.batch, self.loss, self.lr = epoch, batch, loss, lr
        where = f"epoch {epoch}" + (f", batch {batch}" if batch is not None else "")
        rate = f" (lr {lr:g})" if lr is not None else ""
        super().__init__(
            f"training diverged: the loss became {loss} in {where}. The learning rate{rate} is most likely "
            f"too large for this network (or the data has huge values): the updates grew the weights until "
            f"the numbers overflowed. Try a learning rate 10× smaller")


def stop_if_diverged(lr: float):
    """A fit's ``on_batch`` that stops the run at its first non-finite loss."""
    def check(epoch, b, nb, L):
        if not math.isfinite(L):
            raise Diverged(epoch + 1, b + 1, L, lr)
    return check
