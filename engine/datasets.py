"""Datasets: toy 2-D generators, MNIST-format IDX files (find, load, download), CSV, splits, scaling.

Every generator returns ``(X, y)``: X is (n, 2) float64, y is (n,) integer class labels.
The rest of the module reads the data a user brings: MNIST or Fashion-MNIST from a folder
(``--data``, an environment variable, or the cache folder; :func:`download_mnist` fills the
cache), their own CSV (:func:`read_csv`), and prepares it for training without leaking test
data into the statistics (:func:`train_val_test_split`, :class:`Standardizer`).
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import http.client
import math
import os
import re
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import DataError


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The four XOR points: y = x₁ XOR x₂."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return X, np.array([0, 1, 1, 0])


def moons(n: int = 200, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles, half the points each, with Gaussian noise."""
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t0 = np.linspace(0, np.pi, n0)
    t1 = np.linspace(0, np.pi, n - n0)
    X = np.concatenate([np.c_[np.cos(t0), np.sin(t0)], np.c_[1 - np.cos(t1), 0.5 - np.sin(t1)]])
    X += rng.normal(0.0, noise, X.shape)
    y = np.r_[np.zeros(n0, int), np.ones(n - n0, int)]
    order = rng.permutation(n)
    return X[order], y[order]


def circles(n: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int = 0):
    """A small circle (class 1) inside a large one (class 0)."""
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t = rng.uniform(0, 2 * np.pi, n)
    r = np.where(np.arange(n) < n0, 1.0, factor)
    X = np.c_[r * np.cos(t), r * np.sin(t)] + rng.normal(0.0, noise, (n, 2))
    y = (np.arange(n) >= n0).astype(int)
    order = rng.permutation(n)
    return X[order], y[order]


def spiral(n: int = 300, classes: int = 3, noise: float = 0.2, seed: int = 0):
    """CS231n's spiral: ``classes`` arms winding around the origin."""
    rng = np.random.default_rng(seed)
    per = n // classes
    X, y = [], []
    for k in range(classes):
        r = np.linspace(0.0, 1.0, per)
        t = np.linspace(k * 4.0, (k + 1) * 4.0, per) + rng.normal(0.0, noise, per)
        X.append(np.c_[r * np.sin(t), r * np.cos(t)])
        y.append(np.full(per, k))
    X, y = np.concatenate(X), np.concatenate(y)
    order = rng.permutation(len(y))
    return X[order], y[order]


def blobs(n: int = 200, centers: int = 3, spread: float = 0.5, seed: int = 0):
    """Gaussian blobs around centers spaced on a circle of radius 2."""
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * np.arange(centers) / centers
    C = 2.0 * np.c_[np.cos(angles), np.sin(angles)]
    y = np.arange(n) % centers
    X = C[y] + rng.normal(0.0, spread, (n, 2))
    order = rng.permutation(n)
    return X[order], y[order]


def bars(n: int = 200, size: int = 6, noise: float = 0.1, seed: int = 0):
    """Tiny images of one bar: horizontal (class 0) or vertical (class 1), X is (n, 1, size, size).

    Each image is 0 with one full row (or column), at a random position, set to 1, plus
    Gaussian noise; half the images of each class. Small enough to read every number.
    """
    rng = np.random.default_rng(seed)
    y = (np.arange(n) >= n // 2).astype(int)
    X = rng.normal(0.0, noise, (n, 1, size, size))
    where = rng.integers(0, size, n)
    for k in range(n):
        if y[k] == 0:
            X[k, 0, where[k], :] += 1.0
        else:
            X[k, 0, :, where[k]] += 1.0
    order = rng.permutation(n)
    return X[order], y[order]


# Seven-segment digits: which of the segments a (top), b (top right), c (bottom right), d (bottom),
# e (bottom left), f (top left), g (middle) each digit lights.
SEGMENTS = ("abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg")


def segment_digits(n: int = 600, noise: float = 0.1, seed: int = 0):
    """Digits 0–9 drawn as seven-segment glyphs on 12×10 images: X is (n, 1, 12, 10), y the digit.

    Each glyph (6 wide, 9 tall, strokes one pixel thick) sits at a random offset of up to one
    pixel each way, with a random ink level in [0.6, 1] and Gaussian noise: a digit task a tiny
    CNN learns in seconds, with no download. Ten classes, balanced.
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    X = rng.normal(0.0, noise, (n, 1, 12, 10))
    strokes = {"a": (slice(0, 1), slice(0, 6)), "g": (slice(4, 5), slice(0, 6)), "d": (slice(8, 9), slice(0, 6)),
               "f": (slice(0, 5), slice(0, 1)), "b": (slice(0, 5), slice(5, 6)),
               "e": (slice(4, 9), slice(0, 1)), "c": (slice(4, 9), slice(5, 6))}
    for k in range(n):
        glyph = np.zeros((9, 6))
        for segment in SEGMENTS[y[k]]:
            glyph[strokes[segment]] = 1.0
        r, c = rng.integers(0, 4), rng.integers(0, 5)  # the 9×6 glyph somewhere in the 12×10 image
        X[k, 0, r:r + 9, c:c + 6] += glyph * rng.uniform(0.6, 1.0)
    order = rng.permutation(n)
    return X[order], y[order]


TOY = {"xor": xor, "moons": moons, "circles": circles, "spiral": spiral, "blobs": blobs}


def bit_sums(n: int = 400, length: int = 8, noise: float = 0.1, seed: int = 0):
    """Sequences of bits for an RNN: y = 1 if at least half the bits are 1, else 0.

    X is (n, length, 1): one noisy bit per timestep (0 or 1 plus Gaussian noise); y is (n,).
    Balanced: half the sequences of each class, the number of ones uniform within the class
    (0 … length/2 − 1 for class 0, length/2 … length for class 1), at random positions.
    """
    rng = np.random.default_rng(seed)
    half = (length + 1) // 2
    y = (np.arange(n) >= n // 2).astype(int)
    ones = np.where(y == 1, rng.integers(half, length + 1, n), rng.integers(0, half, n))
    bits = (rng.random((n, length)).argsort(axis=1) < ones[:, None]).astype(np.float64)
    X = (bits + rng.normal(0.0, noise, bits.shape))[:, :, None]
    order = rng.permutation(n)
    return X[order], y[order]

# IDX: magic = 0, 0, type code, number of dimensions; then one big-endian uint32 per dimension.
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (as MNIST and Fashion-MNIST ship), gzipped or raw."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (OSError, EOFError, zlib.error) as e:  # zlib.error: corrupted deflate data
        raise DataError(f"{path}: cannot read ({e}); the gzip file may be truncated or corrupted") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'}); "
                        f"expected 0000 08 0d-style headers as in MNIST's files")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(f"{path}: truncated or padded IDX data: header says {shape} "
                        f"({expected} bytes), file has {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def find_idx_pair(folder: Path, split: str) -> tuple[Path, Path] | None:
    """The (images, labels) files of ``split`` in ``folder``, each ``.gz`` or raw; None if either is missing."""
    names = MNIST_FILES[split]
    found = []
    for stem in names:
        hit = next((folder / (stem + ext) for ext in (".gz", "") if (folder / (stem + ext)).is_file()), None)
        if hit is None:
            return None
        found.append(hit)
    return found[0], found[1]


def _read_pair(folder: Path, pair: tuple[Path, Path]) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(pair[0]), read_idx(pair[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{folder}: images {images.shape} and labels {labels.shape} do not match")
    X = images.reshape(len(images), -1).astype(np.float64) / 255.0
    return X, labels.astype(np.int64)


def as_images(X: np.ndarray) -> np.ndarray:
    """Rows of side² pixels (784 for MNIST) as (n, 1, side, side) single-channel images, for a CNN."""
    side = math.isqrt(X.shape[1])
    if side * side != X.shape[1]:
        raise DataError(f"{X.shape[1]} pixels per row do not make a square image")
    return X.reshape(len(X), 1, side, side)


def load_mnist(path: str | os.PathLike, split: str | None = None):
    """Images as (n, 784) floats in [0, 1] and labels as (n,) ints from a folder of IDX files.

    ``split`` picks "train" or "test"; by default the training files if present, else the
    test files (the shared copy here holds only the 10,000 test digits).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder; pass --data with a folder that holds the MNIST "
                        f"IDX files (t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, …)")
    splits = [split] if split else ["train", "test"]
    pair = next((p for s in splits if (p := find_idx_pair(folder, s))), None)
    if pair is None:
        wanted = ", ".join(n + "[.gz]" for s in splits for n in MNIST_FILES[s])
        raise DataError(f"{folder}: no MNIST files found; expected {wanted}")
    return _read_pair(folder, pair)


# -- where the MNIST files live: --data, an environment variable, the cache folder ---------

MNIST_ENV = {"mnist": "NNDB_MNIST", "fashion-mnist": "NNDB_FASHION_MNIST"}
MNIST_TITLE = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


def cache_dir() -> Path:
    """nndb's cache folder: ``$XDG_CACHE_HOME/nndb``, or ``~/.cache/nndb`` when that is unset.

    As the XDG spec asks, an empty or relative ``$XDG_CACHE_HOME`` is ignored.
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "nndb"


def _check_name(name: str) -> str:
    if name not in MNIST_ENV:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(MNIST_ENV)}")
    return name


def mnist_search_path(data: str | os.PathLike | None = None, name: str = "mnist") -> list[Path]:
    """The folders :func:`find_mnist` tries, in order.

    ``data`` when given (``--data``); then the environment variable (``NNDB_MNIST`` for
    "mnist", ``NNDB_FASHION_MNIST`` for "fashion-mnist") when set; then ``cache_dir()/name``.
    """
    env = MNIST_ENV[_check_name(name)]
    folders = []
    if data is not None and str(data) != "":
        folders.append(Path(data).expanduser())
    if os.environ.get(env):
        folders.append(Path(os.environ[env]).expanduser())
    folders.append(cache_dir() / name)
    return folders


def _files_wanted() -> str:
    return ", ".join(stem + ".gz" for split in ("train", "test") for stem in MNIST_FILES[split])


def _holds_pair(folder: Path) -> bool:
    return folder.is_dir() and any(find_idx_pair(folder, s) for s in MNIST_FILES)


def find_mnist(data: str | os.PathLike | None = None, name: str = "mnist") -> Path:
    """The first folder of :func:`mnist_search_path` that holds a complete train or test pair.

    A ``data`` folder given on purpose must hold the files itself: it is an error naming it,
    not a silent fall-back to the environment variable or the cache. When nothing is found the
    :class:`DataError` lists every place tried and how to get the files.
    """
    env = MNIST_ENV[_check_name(name)]
    title = MNIST_TITLE[name]
    folders = mnist_search_path(data, name)
    if data is not None and str(data) != "":
        folder = folders[0]
        if not folder.is_dir():
            raise DataError(f"{folder}: no such folder; --data must name a folder that holds the {title} "
                            f"IDX files ({_files_wanted()}; raw or .gz, the train or the t10k pair)")
        if not _holds_pair(folder):
            raise DataError(f"{folder}: no {title} files found; expected the train pair "
                            f"(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz]) or the test pair "
                            f"(t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) in that folder")
        return folder
    for folder in folders:
        if _holds_pair(folder):
            return folder
    tried = []
    for folder in folders:
        where = f"${env}={folder}" if os.environ.get(env) and folder == Path(os.environ[env]).expanduser() \
            else f"{folder} (the cache folder)"
        why = "no such folder" if not folder.is_dir() else "no complete train or t10k pair of IDX files"
        tried.append(f"  {where}: {why}")
    cache = cache_dir() / name
    raise DataError(f"no {title} files found; looked in:\n" + "\n".join(tried) + "\n"
                    f"Get them with `nndb data download {name}` on a machine with internet, or copy the "
                    f"four files ({_files_wanted()}) into {cache}, or pass --data FOLDER or set {env}=FOLDER "
                    f"to a folder that holds them.")


def load_mnist_splits(data: str | os.PathLike | None = None, name: str = "mnist") -> dict:
    """``{"train": (X, y) or None, "test": (X, y) or None}`` from the folder :func:`find_mnist` picks.

    X is (n, 784) float64 in [0, 1], y is (n,) int64; a split is None when its pair of files
    is not in the folder (the shared copy here has only the t10k pair).
    """
    folder = find_mnist(data, name)
    out = {}
    for split in ("train", "test"):
        pair = find_idx_pair(folder, split)
        out[split] = _read_pair(folder, pair) if pair else None
    return out


# -- downloading the four official files ---------------------------------------------------

# Digests per file: every one listed is checked. MNIST md5s are the ones torchvision checks;
# the t10k sha256s were computed here from the official files. Fashion-MNIST md5s are from
# its README. The t10k files come first: they are small and enough to evaluate a model.
MNIST_SOURCES: dict[str, dict] = {
    "mnist": {
        "base_url": "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "files": {
            "t10k-images-idx3-ubyte.gz": {
                "md5": "9fb629c4189551a2d022fa330f9573f3",
                "sha256": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"},
            "t10k-labels-idx1-ubyte.gz": {
                "md5": "ec29112dd5afa0611ce80d1b7f02629c",
                "sha256": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"},
            "train-images-idx3-ubyte.gz": {"md5": "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
            "train-labels-idx1-ubyte.gz": {"md5": "d53e105ee54ea40749a09fcbcd1e9432"},
        },
    },
    "fashion-mnist": {
        "base_url": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "files": {
            "t10k-images-idx3-ubyte.gz": {"md5": "bef4ecab320f06d8554ea6380940ec79"},
            "t10k-labels-idx1-ubyte.gz": {"md5": "bb300cfdad3c16e7a12a480ee83cd310"},
            "train-images-idx3-ubyte.gz": {"md5": "8d4fb7e6c68d591d4c3dfef9ec88bf0d"},
            "train-labels-idx1-ubyte.gz": {"md5": "25c81989df183df01b3e8a0aad5dffbe"},
        },
    },
}
CHUNK = 1 << 16
DOWNLOAD_TIMEOUT = 60.0


def file_digests(path: str | os.PathLike, algorithms=("md5", "sha256")) -> dict[str, str]:
    """Hex digests of the file at ``path``, one per algorithm name."""
    hashes = {a: hashlib.new(a) for a in algorithms}
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            for h in hashes.values():
                h.update(chunk)
    return {a: h.hexdigest() for a, h in hashes.items()}


def _mismatch(expected: dict[str, str], actual: dict[str, str]) -> str | None:
    """'md5 expected X, got Y' for every digest that differs (joined by '; '); None when all match."""
    bad = [f"{algo} expected {want.lower()}, got {actual[algo]}"
           for algo, want in expected.items() if actual[algo] != want.lower()]
    return "; ".join(bad) or None


def download_mnist(dest: str | os.PathLike | None = None, name: str = "mnist", base_url: str | None = None,
                   progress: Callable[[str, int, int | None], None] | None = None) -> Path:
    """Fetch the four official files of ``name`` into ``dest`` (default ``cache_dir()/name``).

    Each file is streamed from ``base_url + file_name`` (urllib: http, https and file URLs)
    into a temporary file in ``dest``, its md5/sha256 checked against :data:`MNIST_SOURCES`,
    and only then renamed into place, so a final name never holds a partial or corrupt file.
    A file already there with good digests is skipped (so a second run resumes); one with bad
    digests is fetched again. ``progress(file_name, bytes_done, bytes_total)`` is called as
    bytes arrive (``bytes_total`` is None when the server does not say). Returns ``dest``.
    Raises :class:`DataError` on a network failure or a checksum mismatch.
    """
    source = MNIST_SOURCES[_check_name(name)]
    folder = Path(dest).expanduser() if dest is not None else cache_dir() / name
    base = base_url if base_url is not None else source["base_url"]
    base = base if base.endswith("/") else base + "/"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{folder}: cannot create the download folder ({e}); pick another with --dest") from None
    for file_name, expected in source["files"].items():
        final = folder / file_name
        if final.is_file() and _mismatch(expected, file_digests(final, expected)) is None:
            size = final.stat().st_size
            if progress:
                progress(file_name, size, size)
            continue
        _fetch(base + file_name, final, expected, progress, name)
    return folder


def _fetch(url: str, final: Path, expected: dict[str, str], progress, name: str) -> None:
    file_name, folder = final.name, final.parent

    def failed(e) -> DataError:
        if isinstance(e, urllib.error.HTTPError):
            reason = f"HTTP {e.code} {e.reason}"
        else:
            reason = getattr(e, "reason", None) or e
        return DataError(f"downloading {url} failed ({reason}). Without internet, fetch the four files "
                         f"({_files_wanted()}) on another machine and copy them into {folder}, "
                         f"or pass --data FOLDER to a folder that holds them")

    try:
        response = urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT)
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as e:
        raise failed(e) from None
    hashes = {a: hashlib.new(a) for a in expected}
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{file_name}.", suffix=".part", dir=folder)
    except OSError as e:
        response.close()
        raise DataError(f"{folder}: cannot write there ({e}); pick another folder") from None
    try:
        with response, os.fdopen(fd, "wb") as f:
            length = response.headers.get("Content-Length") if response.headers else None
            total = int(length) if length and length.isdigit() else None
            done = 0
            if progress:
                progress(file_name, 0, total)
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as e:
                    raise failed(e) from None
                if not chunk:
                    break
                f.write(chunk)
                for h in hashes.values():
                    h.update(chunk)
                done += len(chunk)
                if progress:
                    progress(file_name, done, total)
            f.flush()
            os.fsync(f.fileno())
        if total is not None and done != total:
            raise DataError(f"downloading {url} stopped after {done} of {total} bytes; run the download "
                            f"again (files already complete are kept)")
        bad = _mismatch(expected, {a: h.hexdigest() for a, h in hashes.items()})
        if bad:
            raise DataError(f"{file_name}: checksum mismatch: {bad}. The download is corrupted or the "
                            f"source changed; nothing was saved under {final}. Run the download again, "
                            f"or fetch the file from another source and check its digest")
        os.replace(tmp, final)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError):
            raise DataError(f"{final}: cannot write the download ({e})") from None
        raise


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
    Raises :class:`DataError`, with ``file:line`` where a line is at fault.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file; give the path of a CSV file with numeric feature "
                        f"columns and a label column")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give the path of a CSV file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); save the CSV as UTF-8") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    first_line = next((ln for ln in text.splitlines() if ln.strip()), "")
    reader = csv.reader(text.splitlines(keepends=True), delimiter=_delimiter(first_line))
    rows: list[tuple[int, list[str]]] = []  # (line number, stripped cells)
    try:
        for cells in reader:
            cells = [c.strip() for c in cells]
            if any(cells):
                rows.append((reader.line_num, cells))
    except csv.Error as e:
        raise DataError(f"{path}:{reader.line_num}: not valid CSV ({e})") from None
    if not rows:
        raise DataError(f"{path}: empty file; expected rows of numeric features and a label column "
                        f"(a header row is optional)")
    first_no, first = rows[0]
    width = len(first)
    if width < 2:
        raise DataError(f"{path}:{first_no}: only one column; expected at least one numeric feature column "
                        f"and a label column, separated by commas")
    for line_no, cells in rows[1:]:
        if len(cells) != width:
            raise DataError(f"{path}:{line_no}: {len(cells)} cells, but the first row (line {first_no}) has "
                            f"{width}; every row needs the same number of columns")

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
    data = rows[1:] if has_header else rows
    names = first if has_header else [f"col{k}" for k in range(width)]
    features = [k for k in range(width) if k != j]
    if len(data) < 2:
        raise DataError(f"{path}: {len(data)} data row{'s' if len(data) != 1 else ''}; need at least 2 "
                        f"(and at least two classes) to train a classifier")
    X = np.empty((len(data), len(features)), dtype=np.float64)
    labels = []
    for i, (line_no, cells) in enumerate(data):
        for c, k in enumerate(features):
            v = _number(cells[k])
            if v is None:
                raise DataError(f"{path}:{line_no}: column {names[k]!r} (column {k}): {cells[k]!r} is not a "
                                f"number; every column except the label ({names[j]!r}) must be numeric")
            if not math.isfinite(v):
                raise DataError(f"{path}:{line_no}: column {names[k]!r} (column {k}): {cells[k]!r} is not a "
                                f"finite number; remove that row or fill in the missing value")
            X[i, c] = v
        if cells[j] == "":
            raise DataError(f"{path}:{line_no}: the label ({names[j]!r}, column {j}) is empty; every row "
                            f"needs a label")
        labels.append(cells[j])
    numeric = [_number(t) for t in labels]
    if all(v is not None for v in numeric):
        bad = next((i for i, v in enumerate(numeric) if not math.isfinite(v)), None)
        if bad is not None:
            raise DataError(f"{path}:{data[bad][0]}: the label {labels[bad]!r} is not a finite number; "
                            f"every label must be a class name or number")
        keys = numeric
    else:
        keys = labels
    first_text: dict = {}
    for key, t in zip(keys, labels):
        first_text.setdefault(key, t)
    if len(first_text) < 2:
        raise DataError(f"{path}: every row has the label {labels[0]!r} (column {names[j]!r}); a classifier "
                        f"needs at least two classes. Is the label column right? Pass label=NAME or an index")
    order = sorted(first_text)
    index = {key: k for k, key in enumerate(order)}
    y = np.array([index[key] for key in keys], dtype=np.int64)
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
