"""Toy datasets made on the spot, no download: 2-D points, bar and seven-segment images, bit sequences.

Every generator returns ``(X, y)`` with y the (n,) integer class labels; X is (n, 2) float64
for the points (``TOY``), (n, 1, H, W) for the images, (n, T, 1) for the sequences. Each is
seeded: the same seed gives the same data.
"""
from __future__ import annotations

import numpy as np

__all__ = ["xor", "moons", "circles", "spiral", "blobs", "bars", "segment_digits", "bit_sums", "SEGMENTS",
           "TOY"]


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
