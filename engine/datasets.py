"""Datasets: seeded toy 2-D generators and a reader for MNIST-format IDX files.

Every generator returns ``(X, y)``: X is (n, 2) float64, y is (n,) integer class labels.
"""
from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

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


TOY = {"xor": xor, "moons": moons, "circles": circles, "spiral": spiral, "blobs": blobs}

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
    names = MNIST_FILES[split]
    found = []
    for stem in names:
        hit = next((folder / (stem + ext) for ext in (".gz", "") if (folder / (stem + ext)).is_file()), None)
        if hit is None:
            return None
        found.append(hit)
    return found[0], found[1]


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
    images, labels = read_idx(pair[0]), read_idx(pair[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{folder}: images {images.shape} and labels {labels.shape} do not match")
    X = images.reshape(len(images), -1).astype(np.float64) / 255.0
    return X, labels.astype(np.int64)
