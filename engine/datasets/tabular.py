"""The user's own data: a CSV file read as a classification dataset, train/val/test splits, standardization.

Prepared for training without leaking test data into the statistics: split first
(:func:`train_val_test_split`), then fit the :class:`Standardizer` on the training rows only.
"""
from __future__ import annotations

import csv
import itertools
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["CSVData", "read_csv", "train_val_test_split", "Standardizer"]


# -- the user's own CSV --------------------------------------------------------------------

@dataclass
class CSVData:
    """A CSV file as a classification dataset.

    ``X`` is (n, d) float64; ``y`` is (n,) int64 indexes into ``classes``, the original label
    texts; ``feature_names`` names X's columns (from the header, else ``col0``, ``col1``, …
    after their 0-based column in the file); ``label_name`` names the label column likewise.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    classes: list[str]
    label_name: str = ""
    has_header: bool = False


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _delimiter(first_line: str) -> str:
    """',' unless the first line has none and has a tab or a ';' (tab- or semicolon-separated files)."""
    if "," in first_line:
        return ","
    for d in ("\t", ";"):
        if d in first_line:
            return d
    return ","


CHUNK_ROWS = 4096  # rows parsed into one preallocated block: the peak stays near the size of X itself


def _open_text(path: Path):
    if not path.exists():
        raise DataError(f"{path}: no such file; give the path of a CSV file with numeric feature "
                        f"columns and a label column")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give the path of a CSV file")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file (a device, a pipe or a socket); give the path of a CSV file")
    try:
        return open(path, newline="", encoding="utf-8-sig")
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None


def read_csv(path: str | os.PathLike, label: int | str | None = None) -> CSVData:
    """Read numeric features and a class label column from the CSV file at ``path``.

    Header: the first row is a header when any of its feature cells is not a number.
    Label column: ``label`` as a header name (needs a header); as an int, a 0-based column
    index (negative counts from the end); a str that names no header column but reads as an
    integer ("0", "-1") is an index too; by default the last column.
    Labels may be numbers or text. Classes are numbered 0..K-1 in sorted order, not in order of
    appearance, so shuffling the rows never renumbers them: numerically when every label is a
    number (2 < 10, and "1" and "1.0" are one class), as text otherwise. ``classes[k]`` is the
    label text of class k as first seen. Blank lines are skipped; cells are stripped; the
    delimiter is ',' (or a tab or ';' when the first line has no comma).
    The file is streamed row by row into blocks of X, so reading it needs about twice the size
    of X (not of the text). Only regular files are read.
    Raises :class:`DataError`, with ``file:line`` where a line is at fault.
    """
    path = Path(path)
    with _open_text(path) as f:
        try:
            return _read_rows(path, f, label)
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start} of a block); "
                            f"save the CSV as UTF-8") from None
        except OSError as e:
            raise DataError(f"{path}: cannot read ({e.strerror or e})") from None


def _read_rows(path: Path, f, label) -> CSVData:
    skipped = []
    for line in f:  # the first non-blank line decides the delimiter
        skipped.append(line)
        if line.strip():
            break
    first_line = skipped[-1] if skipped else ""
    reader = csv.reader(itertools.chain(skipped, f), delimiter=_delimiter(first_line))

    def rows():
        try:
            for cells in reader:
                cells = [c.strip() for c in cells]
                if any(cells):
                    yield reader.line_num, cells
        except csv.Error as e:
            raise DataError(f"{path}:{reader.line_num}: not valid CSV ({e})") from None

    stream = rows()
    head = next(stream, None)
    if head is None:
        raise DataError(f"{path}: empty file; expected rows of numeric features and a label column "
                        f"(a header row is optional)")
    first_no, first = head
    width = len(first)
    if width < 2:
        raise DataError(f"{path}:{first_no}: only one column; expected at least one numeric feature column "
                        f"and a label column, separated by commas")

    def as_index(value: int) -> int:
        if not -width <= value < width:
            raise DataError(f"{path}: label column index {value} is out of range: the file has {width} "
                            f"columns (0..{width - 1}, or -1 for the last)")
        return value % width

    def header_wanted(j: int) -> bool:  # is the first row a header, with the label in column j?
        return any(_number(c) is None for k, c in enumerate(first) if k != j)

    if label is None:
        j = width - 1
        has_header = header_wanted(j)
    elif isinstance(label, bool) or not isinstance(label, (int, str, np.integer)):
        raise DataError(f"label must be a column name or a 0-based column index, got {label!r}")
    elif isinstance(label, str) and label in first and header_wanted(first.index(label)):
        j = first.index(label)
        has_header = True
    elif isinstance(label, str) and re.fullmatch(r"[+-]?[0-9]+", label):
        j = as_index(int(label))
        has_header = header_wanted(j)
    elif isinstance(label, str) and label in first:
        raise DataError(f"{path}:{first_no}: the label column {label!r} needs a header row, but the first "
                        f"row is all numbers; add a header or give the label column's 0-based index")
    elif isinstance(label, str):
        if any(_number(c) is None for c in first):
            raise DataError(f"{path}: no column named {label!r}; the header has: {', '.join(first)}")
        raise DataError(f"{path}: no column named {label!r}: the file has no header row (its first "
                        f"row, line {first_no}, is all numbers); give the label column's 0-based index")
    else:
        j = as_index(int(label))
        has_header = header_wanted(j)
    names = first if has_header else [f"col{k}" for k in range(width)]
    features = [k for k in range(width) if k != j]
    data = stream if has_header else itertools.chain([head], stream)
    blocks: list[np.ndarray] = []
    code_blocks: list[np.ndarray] = []
    seen: dict[str, tuple[int, int]] = {}  # label text → (code, first line): memory per class, not per row
    X = np.empty((CHUNK_ROWS, len(features)), dtype=np.float64)
    codes = np.empty(CHUNK_ROWS, dtype=np.int64)
    i = n = 0
    for line_no, cells in data:
        if len(cells) != width:
            raise DataError(f"{path}:{line_no}: {len(cells)} cells, but the first row (line {first_no}) has "
                            f"{width}; every row needs the same number of columns")
        for c, k in enumerate(features):
            v = _number(cells[k])
            if v is None:
                raise DataError(f"{path}:{line_no}: column {names[k]!r} (column {k}): {cells[k]!r} is not a "
                                f"number; every column except the label ({names[j]!r}) must be numeric")
            if not math.isfinite(v):
                raise DataError(f"{path}:{line_no}: column {names[k]!r} (column {k}): {cells[k]!r} is not a "
                                f"finite number; remove that row or fill in the missing value")
            X[i, c] = v
        text = cells[j]
        if text == "":
            raise DataError(f"{path}:{line_no}: the label ({names[j]!r}, column {j}) is empty; every row "
                            f"needs a label")
        if text not in seen:
            seen[text] = (len(seen), line_no)
        codes[i] = seen[text][0]
        i += 1
        n += 1
        if i == CHUNK_ROWS:
            blocks.append(X)
            code_blocks.append(codes)
            X = np.empty((CHUNK_ROWS, len(features)), dtype=np.float64)
            codes = np.empty(CHUNK_ROWS, dtype=np.int64)
            i = 0
    if n < 2:
        raise DataError(f"{path}: {n} data row{'s' if n != 1 else ''}; need at least 2 "
                        f"(and at least two classes) to train a classifier")
    blocks.append(X[:i].copy())
    code_blocks.append(codes[:i].copy())
    X = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    del blocks
    codes = code_blocks[0] if len(code_blocks) == 1 else np.concatenate(code_blocks)
    texts = sorted(seen, key=lambda t: seen[t][1])  # in order of first appearance
    numeric = {t: _number(t) for t in texts}
    if all(v is not None for v in numeric.values()):
        bad = next((t for t in texts if not math.isfinite(numeric[t])), None)
        if bad is not None:
            raise DataError(f"{path}:{seen[bad][1]}: the label {bad!r} is not a finite number; "
                            f"every label must be a class name or number")
        key_of = numeric
    else:
        key_of = {t: t for t in texts}
    first_text: dict = {}
    for t in texts:
        first_text.setdefault(key_of[t], t)
    if len(first_text) < 2:
        raise DataError(f"{path}: every row has the label {texts[0]!r} (column {names[j]!r}); a classifier "
                        f"needs at least two classes. Is the label column right? Pass label=NAME or an index")
    order = sorted(first_text)
    index = {key: k for k, key in enumerate(order)}
    remap = np.empty(len(seen), dtype=np.int64)
    for t, (code, _) in seen.items():
        remap[code] = index[key_of[t]]
    y = remap[codes]
    return CSVData(X, y, [names[k] for k in features], [first_text[key] for key in order],
                   label_name=names[j], has_header=has_header)


# -- splits and normalization --------------------------------------------------------------

def _split_count(n: int, fraction: float) -> int:
    """round(n·fraction), halves up, but at least 1 when the fraction is above 0."""
    k = int(math.floor(n * fraction + 0.5))
    return max(k, 1) if fraction > 0 and n > 0 else k


def train_val_test_split(X, y, val: float = 0.1, test: float = 0.1, seed: int = 0, shuffle: bool = True) -> dict:
    """``{"train": (X, y), "val": (X, y), "test": (X, y)}``: disjoint parts of (X, y) covering every row.

    ``val`` and ``test`` are fractions of the rows, each in [0, 1), rounded half up but at
    least one row when above 0; a fraction of 0 gives an empty part. The rows are permuted
    with ``seed`` first when ``shuffle`` (the same seed gives the same split); without it the
    parts are consecutive: train first, then val, then test (so ``test=0.2, val=0,
    shuffle=False`` is "the first 80 % train, the last 20 % test"). Parts are copies.
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise DataError(f"X has {len(X)} rows but y has {len(y)}; they must match")
    for name, frac in (("val", val), ("test", test)):
        if not (isinstance(frac, (int, float, np.floating)) and 0.0 <= frac < 1.0):
            raise DataError(f"{name} must be a fraction in [0, 1), got {frac!r}")
    n = len(X)
    n_val, n_test = _split_count(n, val), _split_count(n, test)
    n_train = n - n_val - n_test
    if n_train < 1:
        raise DataError(f"val={val} and test={test} of {n} rows leave no training data "
                        f"({n_val} val + {n_test} test); use smaller fractions or more rows")
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    parts = {"train": order[:n_train], "val": order[n_train:n_train + n_val], "test": order[n_train + n_val:]}
    return {k: (X[idx], y[idx]) for k, idx in parts.items()}


class Standardizer:
    """Per-feature standardization: ``X' = (X − mean) / std``, mean and std from the data given to fit.

    Fit it on the training rows only and apply it to every split, so no statistic of the
    validation or test rows leaks into training. A feature with std 0 gets std 1 (it is only
    centered). :meth:`to_dict` / :meth:`from_dict` store it as JSON beside a model's weights.
    """

    kind = "standardizer"

    def __init__(self, mean=None, std=None):
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.std = None if std is None else np.asarray(std, dtype=np.float64)

    def fit(self, X) -> "Standardizer":
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) == 0:
            raise DataError(f"Standardizer.fit needs a non-empty (n, features) array, got shape {X.shape}")
        self.mean = X.mean(axis=0)
        std = X.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X) -> np.ndarray:
        if self.mean is None:
            raise DataError("Standardizer.transform before fit: call fit(X_train) first")
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != len(self.mean):
            raise DataError(f"Standardizer fitted on {len(self.mean)} features, got an array of shape "
                            f"{X.shape}; transform rows with the same columns as the training data")
        dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64
        return ((X - self.mean) / self.std).astype(dtype, copy=False)

    def fit_transform(self, X) -> np.ndarray:
        return self.fit(X).transform(X)

    def to_dict(self) -> dict:
        if self.mean is None:
            raise DataError("Standardizer.to_dict before fit: there is nothing to save yet")
        return {"kind": self.kind, "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Standardizer":
        if not isinstance(d, dict) or d.get("kind", cls.kind) != cls.kind or "mean" not in d or "std" not in d:
            raise DataError(f"not a saved Standardizer: expected {{'kind': 'standardizer', 'mean': [...], "
                            f"'std': [...]}}, got {str(d)[:80]}")
        try:
            mean, std = np.asarray(d["mean"], dtype=np.float64), np.asarray(d["std"], dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError("a saved Standardizer's mean and std must be lists of numbers") from None
        if mean.ndim != 1 or mean.shape != std.shape or not (np.all(np.isfinite(mean)) and np.all(std > 0)):
            raise DataError(f"a saved Standardizer needs mean and std of equal length, finite, std > 0; "
                            f"got {mean.shape} and {std.shape}")
        return cls(mean, std)
