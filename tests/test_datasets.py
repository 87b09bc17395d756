"""Datasets: the seeded toy generators, the IDX reader on files written here, and load_mnist."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from engine import DataError, load_preset
from engine import datasets
from engine.datasets import load_mnist, read_idx

# -- toy generators -----------------------------------------------------------------------


def test_xor():
    X, y = datasets.xor()
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, X[:, 0].astype(int) ^ X[:, 1].astype(int))


@pytest.mark.parametrize("name,kwargs,n_out,classes", [
    ("moons", {"n": 200}, 200, 2),
    ("moons", {"n": 51}, 51, 2),
    ("circles", {"n": 200}, 200, 2),
    ("circles", {"n": 33}, 33, 2),
    ("spiral", {"n": 300, "classes": 3}, 300, 3),
    ("spiral", {"n": 100, "classes": 4}, 100, 4),
    ("spiral", {"n": 301, "classes": 3}, 300, 3),  # n // classes per arm
    ("blobs", {"n": 90, "centers": 3}, 90, 3),
    ("blobs", {"n": 10, "centers": 4}, 10, 4),
])
def test_toy_shapes_and_balance(name, kwargs, n_out, classes):
    X, y = datasets.TOY[name](**kwargs)
    assert X.shape == (n_out, 2) and X.dtype == np.float64, f"{name}: X {X.shape} {X.dtype}"
    assert y.shape == (n_out,) and np.issubdtype(y.dtype, np.integer)
    counts = np.bincount(y, minlength=classes)
    assert len(counts) == classes and counts.min() >= n_out // classes and counts.max() <= -(-n_out // classes), (
        f"{name}: class counts {counts}")
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("name", ["moons", "circles", "spiral", "blobs"])
def test_toy_seeded_determinism(name):
    gen = datasets.TOY[name]
    X1, y1 = gen(seed=3)
    X2, y2 = gen(seed=3)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2), f"{name}: same seed, different data"
    X3, y3 = gen(seed=4)
    assert not np.array_equal(X1, X3), f"{name}: seeds 3 and 4 gave the same points"
    assert not np.array_equal(y1, y3), f"{name}: the order should be shuffled differently"


@pytest.mark.parametrize("name,key,values", [
    ("moons", "noise", (0.0, 0.3)),
    ("circles", "noise", (0.0, 0.2)),
    ("spiral", "noise", (0.0, 0.5)),
    ("blobs", "spread", (0.1, 1.0)),
])
def test_toy_noise_changes_data(name, key, values):
    gen = datasets.TOY[name]
    Xa, ya = gen(seed=0, **{key: values[0]})
    Xb, yb = gen(seed=0, **{key: values[1]})
    assert not np.allclose(Xa, Xb)
    assert np.array_equal(np.bincount(ya), np.bincount(yb))


def test_noiseless_shapes_are_exact():
    X, y = datasets.moons(100, noise=0.0, seed=0)
    top, bottom = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(top[:, 0], top[:, 1]), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.hypot(bottom[:, 0] - 1, bottom[:, 1] - 0.5), 1.0, rtol=1e-12)
    X, y = datasets.circles(100, noise=0.0, factor=0.3, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0, rtol=1e-12)
    np.testing.assert_allclose(r[y == 1], 0.3, rtol=1e-12)
    X, y = datasets.blobs(30, centers=3, spread=0.0, seed=0)
    np.testing.assert_allclose(np.hypot(X[:, 0], X[:, 1]), 2.0, rtol=1e-12)
    assert len(np.unique(np.round(X, 9), axis=0)) == 3


# -- IDX files ----------------------------------------------------------------------------

def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.tobytes()


def write(path, data: bytes, gz: bool = False):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_images_and_labels(tmp_path, images, gz):
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    img = read_idx(write(tmp_path / "img", idx_bytes(images), gz))
    lab = read_idx(write(tmp_path / "lab", idx_bytes(labels), gz))
    assert img.dtype == np.uint8 and img.shape == (5, 4, 3)
    assert np.array_equal(img, images), f"mine={img.ravel()[:6]} reference={images.ravel()[:6]}"
    assert lab.shape == (5,) and np.array_equal(lab, labels)


@pytest.mark.parametrize("code,dtype", [(0x09, np.int8), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")])
def test_read_idx_other_types(tmp_path, code, dtype):
    a = (np.arange(12).reshape(3, 4) - 5).astype(dtype)
    got = read_idx(write(tmp_path / "a", idx_bytes(a, code)))
    assert got.shape == (3, 4) and np.array_equal(got, a), f"type {code:#x}: mine={got} reference={a}"


def test_read_idx_missing(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_idx(tmp_path / "nope")


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("cut", [1, 7])
def test_read_idx_truncated_data(tmp_path, images, gz, cut):
    data = idx_bytes(images)[:-cut]
    with pytest.raises(DataError, match=r"truncated or padded.*\(5, 4, 3\).*60 bytes.*file has " + str(60 - cut)):
        read_idx(write(tmp_path / "t", data, gz))


def test_read_idx_truncated_header(tmp_path, images):
    with pytest.raises(DataError, match="truncated IDX header"):
        read_idx(write(tmp_path / "h", idx_bytes(images)[:9]))


def test_read_idx_truncated_gzip(tmp_path, images):
    blob = gzip.compress(idx_bytes(images))
    path = tmp_path / "g.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="truncated"):
        read_idx(path)


@pytest.mark.parametrize("at", [10, 12, 20, 30])
def test_read_idx_corrupted_gzip(tmp_path, images, at):
    blob = bytearray(gzip.compress(idx_bytes(images) * 20))
    blob[at] ^= 0xFF
    path = tmp_path / "c.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError, match="cannot read"):
        read_idx(path)


def test_read_idx_padded(tmp_path, images):
    with pytest.raises(DataError, match="truncated or padded.*file has 61"):
        read_idx(write(tmp_path / "p", idx_bytes(images) + b"\x00"))


@pytest.mark.parametrize("data,shown", [
    (b"\x01\x00\x08\x01\x00\x00\x00\x00", "01000801"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x00", "00000701"),
    (b"PK\x03\x04 a zip", "504b0304"),
    (b"\x00\x00", "0000"),
    (b"", "empty"),
])
def test_read_idx_wrong_magic(tmp_path, data, shown):
    with pytest.raises(DataError, match=f"not an IDX file.*{shown}"):
        read_idx(write(tmp_path / "m", data))


# -- load_mnist ---------------------------------------------------------------------------

def test_load_mnist_missing_folder(tmp_path):
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path / "nowhere")
    msg = str(e.value)
    assert "no such folder" in msg and "t10k-images-idx3-ubyte.gz" in msg, msg


def test_load_mnist_missing_files(tmp_path, images):
    with pytest.raises(DataError, match="no MNIST files found.*train-images-idx3-ubyte.*t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    write(tmp_path / "t10k-images-idx3-ubyte.gz", idx_bytes(images), gz=True)  # labels missing
    with pytest.raises(DataError, match="no MNIST files found"):
        load_mnist(tmp_path)
    with pytest.raises(DataError, match="no MNIST files found.*train-images"):
        load_mnist(tmp_path, split="train")


def test_load_mnist_from_written_files(tmp_path, images):
    labels = np.array([0, 9, 2, 7, 7], dtype=np.uint8)
    write(tmp_path / "t10k-images-idx3-ubyte.gz", idx_bytes(images), gz=True)
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(labels))  # raw is fine too
    X, y = load_mnist(tmp_path)
    assert X.shape == (5, 12) and X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(X, images.reshape(5, 12) / 255.0)
    np.testing.assert_array_equal(y, labels)
    # training files, when present, win over the test files by default
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(images[:2]))
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(labels[:2]))
    assert load_mnist(tmp_path)[0].shape == (2, 12)
    assert load_mnist(tmp_path, split="test")[0].shape == (5, 12)


def test_load_mnist_mismatched_counts(tmp_path, images):
    write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(images))
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(DataError, match="do not match"):
        load_mnist(tmp_path)


def test_shared_mnist(mnist_dir):
    X, y = load_mnist(mnist_dir)
    assert X.shape == (10000, 784) and y.shape == (10000,)
    assert X.dtype == np.float64 and X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    counts = np.bincount(y)
    assert counts.min() > 800 and counts.max() < 1200, f"class counts {counts}"
    images = read_idx(next(mnist_dir.glob("t10k-images-idx3-ubyte*")))
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(X[0], images[0].ravel() / 255.0)


def test_segment_digits_draw_each_digit_with_its_segments():
    X, y = datasets.segment_digits(200, noise=0.0, seed=3)
    assert X.shape == (200, 1, 12, 10) and np.bincount(y).tolist() == [20] * 10
    for k in range(10):
        image = X[np.flatnonzero(y == k)[0], 0]
        rows, cols = np.nonzero(image)
        r, c = rows.min(), cols.min()
        if k == 1:  # only the right strokes: its box starts at column c + 5 of the glyph
            c -= 5
        glyph = image[r:r + 9, c:c + 6] > 0
        lit = {s for s, (i, j) in {"a": (0, 2), "b": (2, 5), "c": (6, 5), "d": (8, 2), "e": (6, 0), "f": (2, 0),
                                   "g": (4, 2)}.items() if glyph[i, j]}
        assert lit == set(datasets.SEGMENTS[k]), f"digit {k}: lit {sorted(lit)}, expected {datasets.SEGMENTS[k]}"
    again, _ = datasets.segment_digits(200, noise=0.0, seed=3)
    assert np.array_equal(X, again), "seeded"


def test_segments_preset_learns_digits_without_a_download():
    problem = load_preset("segments", seed=0)
    model = problem.model
    model.fit(problem.X, problem.Y, problem.loss, problem.optimizer, epochs=problem.epochs,
              batch_size=problem.batch_size)
    X, y = datasets.segment_digits(400, seed=1)
    accuracy = float((model.predict(X).argmax(1) == y).mean())
    assert accuracy >= 0.97, f"segments: held-out accuracy {accuracy:.3f}"
