"""MNIST-format IDX files: read them, find them (--data, $NNDB_MNIST, the cache folder), download them.

MNIST or Fashion-MNIST, from a folder given with ``--data``, an environment variable, or the cache
folder that :func:`download_mnist` fills (sha256- and md5-checked).
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DataError

__all__ = ["read_idx", "MAX_IDX_BYTES", "find_idx_pair", "as_images", "load_mnist", "cache_dir", "mnist_search_path",
           "find_mnist", "load_mnist_splits", "file_digests", "download_mnist", "IDX_TYPES", "MNIST_FILES",
           "MNIST_ENV", "MNIST_TITLE", "MNIST_SOURCES", "CHUNK", "DOWNLOAD_TIMEOUT"]


# IDX: magic = 0, 0, type code, number of dimensions; then one big-endian uint32 per dimension.
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


MAX_IDX_BYTES = 512 * 2**20  # the data one IDX file may declare (MNIST's training images: 47 MB)
MAX_IDX_DIMS = 4  # MNIST's files have 1 (labels) or 3 (images)


def _read_exactly(f, n: int, path: Path) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise DataError(f"{path}: truncated IDX header")
    return data


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (as MNIST and Fashion-MNIST ship), gzipped or raw.

    The header is checked before any data is read: at most MAX_IDX_DIMS dimensions, a declared
    size under MAX_IDX_BYTES (computed without overflow), and a raw file exactly that long. A
    gzip file is inflated into an array of the declared size, never further: one that inflates
    to more (or less) than its header says is refused. Only regular files are read.
    """
    path = Path(path)
    try:
        if not path.exists():
            raise FileNotFoundError
        if not path.is_file():
            raise DataError(f"{path}: not a regular file (a folder, a device or a pipe); give an IDX file")
        with open(path, "rb") as raw_file:
            gzipped = raw_file.read(2) == b"\x1f\x8b"
            raw_file.seek(0)
            f = gzip.GzipFile(fileobj=raw_file) if gzipped else raw_file
            magic = f.read(4)
            if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_TYPES:
                raise DataError(f"{path}: not an IDX file (bad magic number {magic.hex() or 'empty'}); "
                                f"expected 0000 08 0d-style headers as in MNIST's files")
            ndim = magic[3]
            if not 1 <= ndim <= MAX_IDX_DIMS:
                raise DataError(f"{path}: the IDX header declares {ndim} dimensions; nndb reads files of 1 to "
                                f"{MAX_IDX_DIMS} (MNIST's labels have 1, its images 3)")
            dims = _read_exactly(f, 4 * ndim, path)
            shape = tuple(int.from_bytes(dims[4 * i: 4 * i + 4], "big") for i in range(ndim))
            dtype = np.dtype(IDX_TYPES[magic[2]])
            expected = math.prod(shape) * dtype.itemsize  # Python ints: no wrap-around
            if expected > MAX_IDX_BYTES:
                raise DataError(f"{path}: the IDX header declares {shape} ({expected:,} bytes), over the "
                                f"{MAX_IDX_BYTES // 2**20} MiB limit on one data file "
                                f"(engine.datasets.mnist.MAX_IDX_BYTES)")
            header = 4 + 4 * ndim
            if not gzipped:
                size = os.fstat(raw_file.fileno()).st_size
                if size - header != expected:
                    raise DataError(f"{path}: truncated or padded IDX data: header says {shape} "
                                    f"({expected} bytes), file has {size - header}")
            out = np.empty(shape, dtype=dtype)
            view = memoryview(out.reshape(-1).view(np.uint8))
            done = 0
            while done < expected:
                n = f.readinto(view[done:done + (1 << 22)])
                if not n:
                    break
                done += n
            extra = len(f.read(1)) if done == expected else 0
            if extra and gzipped:  # padded: read a bounded stretch on (discarded), so corruption says so
                for _ in range(64):
                    if not f.read(1 << 20):
                        break
            if done != expected or extra:
                raise DataError(f"{path}: truncated or padded IDX data: header says {shape} "
                                f"({expected} bytes), file has {'more' if extra else done}"
                                + (" (inflated past what its header declares)" if extra and gzipped else ""))
            return out
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (OSError, EOFError, zlib.error) as e:  # zlib.error: corrupted deflate data
        raise DataError(f"{path}: cannot read ({e}); the gzip file may be truncated or corrupted") from None


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


MNIST_CLASSES = 10


def _read_pair(folder: Path, pair: tuple[Path, Path]) -> tuple[np.ndarray, np.ndarray]:
    """(X, y): images must be uint8 pixels (0–255, scaled to [0, 1]) — an IDX file of another type
    is refused, not guessed at — and labels integers 0–9; at least 2 images."""
    images, labels = read_idx(pair[0]), read_idx(pair[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{folder}: images {images.shape} and labels {labels.shape} do not match")
    if images.dtype != np.uint8:
        raise DataError(f"{pair[0]}: images of type {images.dtype}; MNIST images are uint8 pixels (0–255), "
                        f"which nndb scales to [0, 1]. Convert the file to uint8 (type code 0x08)")
    if labels.dtype.kind not in "iu":
        raise DataError(f"{pair[1]}: labels of type {labels.dtype}; expected integer class numbers")
    if len(images) < 2:
        raise DataError(f"{pair[0]}: {len(images)} image{'s' if len(images) != 1 else ''}; need at least 2 "
                        f"to train or evaluate")
    bad = np.flatnonzero((labels < 0) | (labels >= MNIST_CLASSES))
    if bad.size:
        raise DataError(f"{pair[1]}: label {int(labels[bad[0]])} at index {int(bad[0])} is not a class "
                        f"0–{MNIST_CLASSES - 1}")
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
