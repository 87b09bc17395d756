"""Issue 17: every file nndb reads is checked before it is trusted — model files (sizes declared
in headers, zip bombs, hostile JSON), IDX and CSV data, lesson files. One clear error each, bounded
time and memory."""
from __future__ import annotations

import io
import json
import struct
import time
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

from engine import Dense, ModelFileError, ReLU, Sequential, load, save
from engine.serialize import ARCH_KEY, FORMAT, VERSION


def npy_header(shape, dtype="<f8") -> bytes:
    """The bytes of an .npy header declaring ``shape`` (no data follows)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()


def arch_entry(header: dict) -> bytes:
    text = json.dumps(header).encode()
    out = io.BytesIO()
    np.lib.format.write_array(out, np.frombuffer(text, dtype=np.uint8))
    return out.getvalue()


def model_header(layers, **extra) -> dict:
    return {"format": FORMAT, "version": VERSION, "dtype": "float64", "l2": 0.0, "layers": layers,
            "extra": {}, **extra}


def refused_fast(path, *fragments, seconds=1.0, megabytes=200):
    """load(path) raises ModelFileError naming the fragments, in under ``seconds`` and ``megabytes``."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ModelFileError) as e:
            load(path)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    msg = str(e.value)
    assert str(path) in msg
    for frag in fragments:
        assert frag in msg, f"{msg!r} should mention {frag!r}"
    assert elapsed < seconds, f"refusing took {elapsed:.2f} s"
    assert peak < megabytes * 2**20, f"refusing allocated {peak / 2**20:.0f} MB"
    return msg


# -- model files: sizes declared in headers ------------------------------------------------

def test_architecture_over_the_limit_is_refused_before_allocating(tmp_path):
    """A 1 KB file declaring a 30000×30000 Dense layer (7.2 GB) whose arrays declare the same shapes."""
    path = tmp_path / "big.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(ARCH_KEY + ".npy", arch_entry(model_header([{"type": "Dense", "n_in": 30000, "n_out": 30000}])))
        z.writestr("dense1.W.npy", npy_header((30000, 30000)))
        z.writestr("dense1.b.npy", npy_header((30000,)))
    msg = refused_fast(path, "MAX_PARAMETER_BYTES", "limit", "dense1.W")
    assert "30000×30000" in msg


@pytest.mark.parametrize("n", [10**62, 2**63, 1e62])
def test_astronomical_sizes(tmp_path, n):
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(ARCH_KEY + ".npy", arch_entry(model_header([{"type": "Dense", "n_in": n, "n_out": 3}])))
    refused_fast(path, "limit")


def test_array_header_declaring_a_huge_shape(tmp_path):
    model = Sequential(Dense(2, 3), seed=0)
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(ARCH_KEY + ".npy", arch_entry(model_header(model.config()["layers"])))
        z.writestr("dense1.W.npy", npy_header((10**9, 10**9)))
        z.writestr("dense1.b.npy", npy_header((3,)))
    refused_fast(path, "dense1.W")


@pytest.mark.parametrize("raw", ids=["nested", "Infinity", "NaN", "1e999", "5000 digits", "negative", "-Infinity"], argvalues=[
    b"[" * 100_000 + b"]" * 100_000,
    b'{"format": "nndb-model", "version": 1, "l2": Infinity, "layers": [{"type": "ReLU"}]}',
    b'{"format": "nndb-model", "version": 1, "l2": NaN, "layers": [{"type": "ReLU"}]}',
    b'{"format": "nndb-model", "version": 1, "l2": 1e999, "layers": [{"type": "ReLU"}]}',
    b'{"format": "nndb-model", "version": 1, "layers": [{"type": "Dense", "n_in": ' + b"9" * 5000 + b', "n_out": 2}]}',
    b'{"format": "nndb-model", "version": 1, "layers": [{"type": "Dense", "n_in": 2, "n_out": -3}]}',
    b'{"format": "nndb-model", "version": 1, "layers": [{"type": "LeakyReLU", "alpha": -Infinity}]}',
])
def test_hostile_json_is_one_clear_error(tmp_path, raw):
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w") as z:
        out = io.BytesIO()
        np.lib.format.write_array(out, np.frombuffer(raw, dtype=np.uint8))
        z.writestr(ARCH_KEY + ".npy", out.getvalue())
    refused_fast(path)


def _deflate_zeros(megabytes: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``megabytes`` MiB of zeros, built by repeating one sync-flushed block:
    about 1 KB per MiB, made without compressing (or holding) the whole."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(2**20)) + c.flush(zlib.Z_SYNC_FLUSH)
    return block * megabytes + zlib.compressobj(9, zlib.DEFLATED, -15).flush(), megabytes * 2**20


def _zip_bomb(path, header: bytes, megabytes: int, declared: int | None = None, arch: bytes | None = None):
    """A zip whose W member is ``header`` followed by ``megabytes`` MiB of zeros, deflated; its
    directory says ``declared`` bytes (the true size unless given)."""
    stream, size = _deflate_zeros(megabytes)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(header) + c.flush(zlib.Z_SYNC_FLUSH)
    data = head + stream
    true_size = len(header) + size
    with zipfile.ZipFile(path, "w") as z:
        if arch is not None:
            z.writestr(ARCH_KEY + ".npy", arch)
        z.writestr("dense1.W.npy", data)  # stored: the deflate bytes as they are, patched below
        z.writestr("dense1.b.npy", npy_header((3,)) + bytes(24))
    raw = bytearray(path.read_bytes())
    name = b"dense1.W.npy"
    claim = min(declared if declared is not None else true_size, 0xFFFFFFFF)
    for sig, method_at, size_at in ((b"PK\x03\x04", 8, 22), (b"PK\x01\x02", 10, 24)):
        at = 0
        while True:
            at = raw.index(sig, at)
            name_at = at + (30 if sig == b"PK\x03\x04" else 46)
            if raw[name_at:name_at + len(name)] == name:
                break
            at += 4
        raw[at + method_at:at + method_at + 2] = struct.pack("<H", zipfile.ZIP_DEFLATED)
        raw[at + size_at:at + size_at + 4] = struct.pack("<I", claim)
    path.write_bytes(bytes(raw))
    return path


def test_zip_bomb_is_refused_by_its_declared_size(tmp_path):
    """~4 MB of zip that inflates to 4 GiB, honestly declared in the zip directory."""
    arch = arch_entry(model_header([{"type": "Dense", "n_in": 2, "n_out": 3}]))
    path = _zip_bomb(tmp_path / "bomb.npz", npy_header((2, 3)), 4095, arch=arch)
    assert path.stat().st_size < 8 * 2**20
    refused_fast(path, "inflate", "limit")


def test_zip_bomb_that_lies_about_its_size_is_refused(tmp_path):
    """The directory says 48 bytes (what the .npy header declares); the member inflates to 1 GiB."""
    arch = arch_entry(model_header([{"type": "Dense", "n_in": 2, "n_out": 3}]))
    header = npy_header((2, 3))
    path = _zip_bomb(tmp_path / "liar.npz", header, 1024, declared=len(header) + 48, arch=arch)
    refused_fast(path)


def test_member_larger_than_its_header_declares(tmp_path):
    arch = arch_entry(model_header([{"type": "Dense", "n_in": 2, "n_out": 3}]))
    path = _zip_bomb(tmp_path / "padded.npz", npy_header((2, 3)), 16, arch=arch)
    refused_fast(path, "dense1.W", "header declares")


def test_twenty_thousand_relus_load_in_linear_time(tmp_path):
    model = Sequential(Dense(2, 3), *[ReLU() for _ in range(20_000)], seed=0)
    path = save(model, tmp_path / "deep.npz")
    start = time.perf_counter()
    loaded = load(path)
    assert time.perf_counter() - start < 10
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert loaded.layers[-1].sym == model.layers[-1].sym


def test_layer_names_unchanged():
    model = Sequential(Dense(2, 3), ReLU(), ReLU(), ReLU(), Dense(3, 2), ReLU(), ReLU(), seed=0)
    assert [layer.name for layer in model.layers] == ["dense1", "relu1", "relu2", "relu3", "dense2", "relu4", "relu5"]
    assert [layer.sym["out"] for layer in model.layers] == ["Z1", "A1", "A1_2", "A1_3", "Z2", "A2", "A2_2"]


# -- IDX files -----------------------------------------------------------------------------

from engine import DataError  # noqa: E402
from engine.datasets import load_mnist, read_csv, read_idx  # noqa: E402


def idx(shape, data: bytes = b"", type_code=0x08) -> bytes:
    return bytes([0, 0, type_code, len(shape)]) + b"".join(struct.pack(">I", n) for n in shape) + data


def mnist_folder(tmp_path, images: bytes, labels: bytes):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(images)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(labels)
    return tmp_path


def test_idx_dimensions_whose_product_wraps_int64(tmp_path):
    path = tmp_path / "wrap"  # 2^32-1 ... : the product passes 2^64, and wraps to a small number in int64
    path.write_bytes(idx((0xFFFFFFFF, 0xFFFFFFFF, 0x10000, 1), b"\0" * 16))
    with pytest.raises(DataError, match="limit"):
        read_idx(path)
    path.write_bytes(idx((2**31, 2**31, 4)))
    with pytest.raises(DataError, match="MAX_IDX_BYTES"):
        read_idx(path)


def test_idx_with_255_dimensions(tmp_path):
    path = tmp_path / "d"
    path.write_bytes(bytes([0, 0, 8, 255]) + struct.pack(">I", 1) * 255 + b"\0")
    with pytest.raises(DataError, match="255 dimensions"):
        read_idx(path)


@pytest.mark.parametrize("n", [0, 1])
def test_zero_or_one_image(tmp_path, n):
    folder = mnist_folder(tmp_path, idx((n, 28, 28), bytes(n * 784)), idx((n,), bytes(n)))
    with pytest.raises(DataError, match=f"{n} image"):
        load_mnist(folder)


def test_labels_beyond_the_classes(tmp_path):
    folder = mnist_folder(tmp_path, idx((3, 2, 2), bytes(12)), idx((3,), bytes([1, 12, 3])))
    with pytest.raises(DataError, match="label 12 at index 1"):
        load_mnist(folder)


@pytest.mark.parametrize("code,dtype", [(0x0D, ">f4"), (0x0C, ">i4"), (0x0E, ">f8")])
def test_non_pixel_images_are_not_divided_by_255(tmp_path, code, dtype):
    data = np.full((3, 2, 2), 0.5, dtype=dtype).tobytes()
    folder = mnist_folder(tmp_path, idx((3, 2, 2), data, code), idx((3,), bytes([1, 2, 3])))
    with pytest.raises(DataError, match="uint8 pixels"):
        load_mnist(folder)


def test_gzip_inflating_past_its_header_is_refused_early(tmp_path):
    """A gzip of ~1 MB that would inflate to 1 GiB: its header declares 12 bytes."""
    stream, _ = _deflate_zeros(1024)
    head = idx((3, 2, 2), bytes(12))
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = c.compress(head) + c.flush(zlib.Z_SYNC_FLUSH) + stream
    gz = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + body + struct.pack("<II", 0, 0)
    path = tmp_path / "bomb.gz"
    path.write_bytes(gz)
    assert len(gz) < 2 * 2**20
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(DataError, match="padded"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 2 and peak < 100 * 2**20


def test_gzip_header_declaring_gigabytes_is_refused_before_inflating(tmp_path):
    import gzip
    path = tmp_path / "big.gz"
    path.write_bytes(gzip.compress(idx((60000, 30000, 30000))))
    with pytest.raises(DataError, match="limit"):
        read_idx(path)


def test_idx_from_a_device_or_pipe(tmp_path):
    with pytest.raises(DataError, match="not a regular file"):
        read_idx("/dev/zero")


# -- CSV -----------------------------------------------------------------------------------

def test_csv_is_streamed_with_a_bounded_peak(tmp_path):
    rng = np.random.default_rng(0)
    rows = 20_000
    X = rng.random((rows, 3))
    path = tmp_path / "big.csv"
    with open(path, "w") as f:
        f.write("a,b,c,label\n")
        labels = np.where(X[:, 0] > 0.5, "yes", "no")
        for block in range(0, rows, 10_000):
            f.write("".join(f"{a:.6f},{b:.6f},{c:.6f},{y}\n" for (a, b, c), y in
                            zip(X[block:block + 10_000], labels[block:block + 10_000])))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        data = read_csv(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data.X.shape == (rows, 3) and data.classes == ["no", "yes"]
    np.testing.assert_allclose(data.X, np.round(X, 6))
    assert list(data.y[:5]) == [int(v == "yes") for v in labels[:5]]
    x_bytes = data.X.nbytes
    print(f"peak {peak / 2**20:.2f} MB, X {x_bytes / 2**20:.2f} MB, file {size / 2**20:.2f} MB")
    assert peak < 2.5 * x_bytes + 2**20, f"peak {peak / 2**20:.1f} MB for a {size / 2**20:.1f} MB file"


def test_csv_from_a_device(tmp_path):
    with pytest.raises(DataError, match="not a regular file"):
        read_csv("/dev/zero")


# -- lesson files --------------------------------------------------------------------------

import os  # noqa: E402

from lessons import all_lessons  # noqa: E402
from lessons.cli import main as lessons_main  # noqa: E402
from lessons.runner import LessonRunner  # noqa: E402

TINY = """---
id: {id}
title: Tiny {id}
learn: how a test lesson looks
preset: xor
{front}
---

Intro text.

## Step: Look
Print `X`.
check: ran print X
{step}
"""


def lesson_text(id, front="", step=""):
    return TINY.format(id=id, front=front, step=step)


# (file name, text, the line the error names, a fragment of the message)
BAD_LESSONS = [
    ("sup-order.md", lesson_text("sup-order", "order: ²"), 1, "order must be a whole number"),
    ("sup-seed.md", lesson_text("sup-seed", "seed: ³"), 1, "seed must be a whole number"),
    ("sup-hidden.md", lesson_text("sup-hidden", "net: relu\nhidden: 8,²"), 1, "hidden must list"),
    ("sup-iteration.md", lesson_text("sup-iteration", step="check: iteration ²"), 14, "check iteration"),
    ("long-order.md", lesson_text("long-order", "order: " + "9" * 5000), 1, "order must be a whole number"),
    ("long-seed.md", lesson_text("long-seed", "seed: " + "9" * 5000), 1, "seed must be a whole number"),
    ("long-lr.md", lesson_text("long-lr", "lr: " + "9" * 5000), 1, "lr must be a number"),
    ("many-hidden.md", lesson_text("many-hidden", "net: relu\nhidden: " + ",".join(["256"] * 200_000)), 1,
     "hidden must list"),
    ("nan-tolerance.md", lesson_text("nan-tolerance", step="predict: value X[0,0] ± nan"), 14, "tolerance"),
    ("negative-tolerance.md", lesson_text("negative-tolerance", step="predict: value X[0,0] ± -1"), 14,
     "tolerance"),
    ("inf-tolerance.md", lesson_text("inf-tolerance", step="predict: value X[0,0] ± 1e999"), 14, "tolerance"),
    ("answered.md", lesson_text("answered", step="check: answered"), 14, "check answered: needs an argument"),
]


def test_hostile_lessons_each_get_an_error_and_the_others_still_list_and_start(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "250")
    folder = tmp_path / "course"
    folder.mkdir()
    for name, text, _, _ in BAD_LESSONS:
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "good.md").write_text(lesson_text("good", "order: 98"), encoding="utf-8")
    (folder / "bom.md").write_bytes(b"\xef\xbb\xbf" + lesson_text("bom", "order: 99").encode())
    os.mkfifo(folder / "fifo.md")
    (folder / "zero.md").symlink_to("/dev/zero")
    with open(folder / "huge.md", "wb") as f:  # 57 MB, sparse: nothing is written
        f.truncate(57 * 2**20)

    errors: list[str] = []
    start = time.perf_counter()
    lessons = all_lessons([folder], errors)
    assert time.perf_counter() - start < 5
    ids = [lesson.id for lesson in lessons]
    assert "good" in ids and "bom" in ids
    assert not any(name[:-3] in ids for name, *_ in BAD_LESSONS)
    for name, _, line, fragment in BAD_LESSONS:
        hits = [e for e in errors if e.startswith(f"{folder / name}:{line}:")]
        assert hits and fragment in hits[0], (name, errors)
    for name, fragment in (("fifo.md", "not a regular file"), ("zero.md", "not a regular file"),
                           ("huge.md", "MAX_LESSON_BYTES")):
        assert any(e.startswith(str(folder / name)) and fragment in e for e in errors), (name, errors)
    for lesson in [lesson for lesson in lessons if lesson.id in ("good", "bom")]:  # a lesson listed also starts
        assert LessonRunner(lesson).lesson.id in ("good", "bom")

    status, out = 0, ""
    status = lessons_main(["lessons", "--lessons-dir", str(folder)])
    out = capsys.readouterr().out
    assert status == 2
    assert "Tiny good" in out and "Tiny bom" in out
    assert "not a regular file" in out and "check answered: needs an argument" in out


def test_a_lesson_with_a_bom_reads_like_one_without(tmp_path):
    from lessons import parse_lesson
    text = lesson_text("bom")
    assert parse_lesson("\ufeff" + text, "b.md").steps == parse_lesson(text, "b.md").steps


# -- a model file's metadata is data --------------------------------------------------------

from inspector.errors import SessionError  # noqa: E402
from inspector.sources import open_model_file  # noqa: E402


def xor_model_file(tmp_path, extra, name="m.npz", outputs=1):
    model = Sequential(Dense(2, 4), ReLU(), Dense(4, outputs), seed=0)
    return save(model, tmp_path / name, extra=extra)


def test_a_path_stored_in_a_model_file_is_never_opened(tmp_path, capsys):
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)  # opening it would hang for ever
    for stored in (str(fifo), "/dev/zero", "/etc/passwd"):
        path = xor_model_file(tmp_path, {"data": {"csv": stored}, "preset": "xor"})
        start = time.perf_counter()
        with pytest.raises(SessionError, match="--csv FILE") as e:
            open_model_file(path)
        assert time.perf_counter() - start < 2 and "root:" not in str(e.value)
        status = lessons_main(["eval", str(path)])
        out = capsys.readouterr().out
        assert status == 2 and "--csv FILE" in " ".join(out.split()) and "root:" not in out
    # the same file on the preset the user names opens
    assert open_model_file(path, preset="xor").problem.name == "xor"


def test_a_csv_named_by_the_user_is_read(tmp_path):
    csv_path = tmp_path / "d.csv"
    csv_path.write_text("a,b,label\n0,0,x\n0,1,y\n1,0,y\n1,1,x\n")
    path = xor_model_file(tmp_path, {"data": {"csv": "/dev/zero"}, "preset": None}, outputs=2)
    session = open_model_file(path, csv=csv_path)
    assert session.problem.X.shape == (4, 2)


@pytest.mark.parametrize("extra,fragment", [
    ({"seed": "42"}, "'seed'"),
    ({"seed": -1}, "'seed'"),
    ({"batch_size": [1]}, "'batch_size'"),
    ({"loss": "hinge"}, "'loss'"),
    ({"optimizer": {"type": "sgd", "lr": -0.1}}, "'lr'"),
    ({"optimizer": {"type": "sgd", "lr": "fast"}}, "'lr'"),
    ({"optimizer": ["sgd"]}, "'optimizer'"),
    ({"data": ["x.csv"]}, "'data'"),
    ({"preset": 3}, "'preset'"),
])
def test_wrong_typed_metadata_is_one_clear_error(tmp_path, capsys, extra, fragment):
    path = xor_model_file(tmp_path, {"preset": "xor", **extra})
    with pytest.raises(SessionError, match=fragment):
        open_model_file(path)
    status = lessons_main(["eval", str(path)])
    out = " ".join(capsys.readouterr().out.split())
    assert status == 2 and "metadata" in out and "Traceback" not in out


def test_metadata_that_is_not_an_object_or_holds_nan(tmp_path):
    model = Sequential(Dense(2, 4), ReLU(), Dense(4, 2), seed=0)
    path = save(model, tmp_path / "list.npz", extra={})
    raw = dict(np.load(path))
    header = json.loads(raw[ARCH_KEY].tobytes())
    for extra, fragment in ((["a", "b"], "metadata"), ({"optimizer": {"lr": float("nan")}}, "not valid JSON")):
        header["extra"] = extra
        raw[ARCH_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        with open(path, "wb") as f:
            np.savez(f, **raw)
        with pytest.raises(ModelFileError, match=fragment):
            load(path)
