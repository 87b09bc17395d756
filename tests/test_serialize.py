"""Model files: bit-identical round trips, atomic saves, and one clear ModelFileError for every bad file."""
from __future__ import annotations

import json
import pickle
import zipfile

import numpy as np
import pytest

from engine import (
    MSE, SGD, Dense, Dropout, LeakyReLU, ModelFileError, ReLU, Sequential, Sigmoid, Softmax,
    SoftmaxCrossEntropy, Tanh, load, save,
)
from engine.serialize import ARCH_KEY, FORMAT, VERSION

UNPICKLED = []


def _record_unpickle():
    UNPICKLED.append(True)
    return "boom"


class Bomb:
    """Unpickling this calls _record_unpickle: a loader that unpickles gets caught."""

    def __reduce__(self):
        return (_record_unpickle, ())


def full_model(dtype=np.float64, l2=0.25):
    return Sequential(Dense(3, 5, init="xavier"), LeakyReLU(0.07), Dropout(0.3), Dense(5, 4), Tanh(),
                      Dense(4, 4, init="small"), Sigmoid(), Dense(4, 2), Softmax(), ReLU(),
                      seed=42, dtype=dtype, l2=l2)


def header_of(model) -> dict:
    return {"format": FORMAT, "version": VERSION, **model.config(), "extra": {}}


def write_npz(path, header=None, arrays=None, raw_header: bytes | None = None):
    """A hand-made model file: ``header`` as the architecture JSON (or raw bytes), plus ``arrays``."""
    entries = dict(arrays or {})
    if raw_header is not None:
        entries[ARCH_KEY] = np.frombuffer(raw_header, dtype=np.uint8)
    elif header is not None:
        entries[ARCH_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **entries)
    return path


def expect_error(path, *fragments):
    with pytest.raises(ModelFileError) as e:
        load(path)
    msg = str(e.value)
    assert str(path) in msg, f"the message should name the file: {msg}"
    for frag in fragments:
        assert frag in msg, f"message {msg!r} should mention {frag!r}"
    return msg


# -- round trip ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip(tmp_path, dtype):
    model = full_model(dtype=dtype)
    X = np.random.default_rng(0).standard_normal((6, 3))
    model.fit(X, np.random.default_rng(1).integers(0, 2, 6), SoftmaxCrossEntropy(),
              SGD(model.parameters(), lr=0.1), epochs=2, batch_size=3)
    path = tmp_path / "model.npz"
    assert save(model, path, extra={"epochs": 2, "note": "hi"}) == path
    loaded = load(path)
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    assert [a.name for a in loaded.layers] == [b.name for b in model.layers]
    assert loaded.config() == model.config()
    assert loaded.dtype == np.dtype(dtype) and loaded.l2 == 0.25
    assert loaded.layers[1].alpha == 0.07 and loaded.layers[2].p == 0.3
    assert [layer.init for layer in loaded.layers if isinstance(layer, Dense)] == ["xavier", "he", "small", "he"]
    for a, b in zip(loaded.parameters(), model.parameters()):
        assert a.value.dtype == np.dtype(dtype), f"{a.name}: dtype {a.value.dtype}"
        assert np.array_equal(a.value, b.value), f"{a.name}: mine={a.value.ravel()[:3]} saved={b.value.ravel()[:3]}"
    assert loaded.file_extra == {"epochs": 2, "note": "hi"}
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_save_uses_exactly_the_given_name(tmp_path):
    path = tmp_path / "weights.bin"
    save(Sequential(Dense(2, 1), seed=0), path)
    assert path.is_file() and not (tmp_path / "weights.bin.npz").exists()
    assert load(path).param("W1").value.shape == (2, 1)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == sorted([f"{ARCH_KEY}.npy", "dense1.W.npy", "dense1.b.npy"])


def test_save_overwrites(tmp_path):
    path = tmp_path / "m.npz"
    save(Sequential(Dense(2, 1), seed=0), path)
    second = Sequential(Dense(2, 3), ReLU(), Dense(3, 1), seed=1)
    save(second, path)
    assert load(path).config() == second.config()


# -- atomic save --------------------------------------------------------------------------

def test_atomic_save_leaves_no_temp_file(tmp_path):
    save(full_model(), tmp_path / "m.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_failing_write_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    old = Sequential(Dense(2, 2), seed=0)
    save(old, path)
    before = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save(full_model(), path)
    assert path.read_bytes() == before, "a failed save must leave the old file intact"
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"], "the temporary file must be removed"
    monkeypatch.undo()
    assert np.array_equal(load(path).param("W1").value, old.param("W1").value)


def test_failing_first_write_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(np, "savez", lambda f, **a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        save(full_model(), tmp_path / "new.npz")
    assert list(tmp_path.iterdir()) == []


# -- bad files ----------------------------------------------------------------------------

@pytest.fixture
def good(tmp_path):
    """(model, path to its saved file, the file's bytes)."""
    model = Sequential(Dense(2, 3), ReLU(), Dense(3, 1), seed=0)
    path = save(model, tmp_path / "good.npz")
    return model, path, path.read_bytes()


def test_nonexistent_path(tmp_path):
    expect_error(tmp_path / "missing.npz", "no such model file")
    expect_error(tmp_path, "no such model file")  # a folder is not a model file


def test_not_a_zip(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("layers: dense, relu, dense\n")
    msg = expect_error(path, "not an nndb model file")
    assert "allow_pickle" not in msg, f"never suggest unpickling: {msg}"
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    expect_error(empty, "not an nndb model file")


@pytest.mark.parametrize("keep", [0.9, 0.5, 0.1, 30])
def test_truncated_zip(good, tmp_path, keep):
    _, _, data = good
    cut = tmp_path / "cut.npz"
    n = keep if isinstance(keep, int) else int(len(data) * keep)
    cut.write_bytes(data[:n])
    expect_error(cut, "truncated")


def test_corrupted_member(good, tmp_path):
    _, _, data = good
    i = data.index(b"dense1.W.npy") + 200  # inside the stored array bytes
    bad = bytearray(data)
    bad[i] ^= 0xFF
    path = tmp_path / "crc.npz"
    path.write_bytes(bytes(bad))
    expect_error(path)


def test_npy_file(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.zeros((2, 3)))
    expect_error(path, "single NumPy array", ".npz")


def test_npz_without_architecture(tmp_path):
    path = write_npz(tmp_path / "plain.npz", arrays={"dense1.W": np.zeros((2, 3))})
    expect_error(path, "no architecture entry")
    zpath = tmp_path / "other.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("readme.txt", "hello")
    expect_error(zpath, "no architecture entry")


def test_bad_json(good, tmp_path):
    model = good[0]
    state = model.state_dict()
    expect_error(write_npz(tmp_path / "a.npz", raw_header=b'{"format": "nndb-model", "version": 1,', arrays=state),
                 "not valid JSON")
    expect_error(write_npz(tmp_path / "b.npz", raw_header=b"\xff\xfe\x00garbage", arrays=state), "not valid JSON")
    expect_error(write_npz(tmp_path / "c.npz", raw_header=b"[1, 2, 3]", arrays=state), "not a JSON object")
    path = tmp_path / "d.npz"
    with open(path, "wb") as f:
        np.savez(f, **{ARCH_KEY: np.array([1.5, 2.5])}, **state)
    expect_error(path, "not JSON text")


@pytest.mark.parametrize("field,value,fragment", [
    ("format", "keras-model", "'keras-model'"),
    ("format", None, "expected 'nndb-model'"),
    ("version", 2, "version 2"),
    ("version", "1", "version '1'"),
])
def test_wrong_format_or_version(good, tmp_path, field, value, fragment):
    model = good[0]
    header = header_of(model)
    if value is None:
        del header[field]
    else:
        header[field] = value
    expect_error(write_npz(tmp_path / "m.npz", header, model.state_dict()), fragment)


@pytest.mark.parametrize("spec,fragment", [
    ({"type": "Transformer", "heads": 3}, "unknown type 'Transformer'"),
    ({"type": ["Dense"]}, "unknown type ['Dense']"),
    ({"n_in": 2, "n_out": 3}, "unknown type None"),
    ("Dense", "unknown type 'Dense'"),
])
def test_unknown_layer_type(good, tmp_path, spec, fragment):
    model = good[0]
    header = header_of(model)
    header["layers"][1] = spec
    msg = expect_error(write_npz(tmp_path / "m.npz", header, model.state_dict()), "layer 2", fragment)
    assert "Dense" in msg and "ReLU" in msg and "LSTM" in msg, f"the message should list known types: {msg}"


@pytest.mark.parametrize("edit,fragment", [
    (lambda h: h.update(layers=[]), "non-empty list"),
    (lambda h: h.update(layers="dense"), "non-empty list"),
    (lambda h: h["layers"][0].update(n_in="two"), "invalid architecture"),
    (lambda h: h["layers"][0].pop("n_out"), "invalid architecture"),
    (lambda h: h["layers"][0].update(bogus=1), "invalid architecture"),
    (lambda h: h["layers"][0].update(init="magic"), "invalid architecture"),
    (lambda h: h.update(dtype="int32"), "invalid architecture"),
    (lambda h: h.update(l2=-1), "invalid architecture"),
    (lambda h: h.update(l2=None), "invalid architecture"),
])
def test_invalid_architecture(good, tmp_path, edit, fragment):
    model = good[0]
    header = header_of(model)
    edit(header)
    expect_error(write_npz(tmp_path / "m.npz", header, model.state_dict()), fragment)


def test_missing_array(good, tmp_path):
    model = good[0]
    state = model.state_dict()
    del state["dense2.b"]
    expect_error(write_npz(tmp_path / "m.npz", header_of(model), state), "missing arrays", "dense2.b")


def test_extra_array(good, tmp_path):
    model = good[0]
    state = {**model.state_dict(), "dense3.W": np.zeros((1, 1))}
    expect_error(write_npz(tmp_path / "m.npz", header_of(model), state), "dense3.W", "do not belong")


def test_wrong_shape(good, tmp_path):
    model = good[0]
    state = model.state_dict()
    state["dense1.W"] = np.zeros((3, 2))
    expect_error(write_npz(tmp_path / "m.npz", header_of(model), state), "dense1.W", "W1", "3×2", "2×3")
    header = header_of(model)
    header["layers"][0]["n_in"] = 5  # architecture edited, arrays not
    expect_error(write_npz(tmp_path / "n.npz", header, model.state_dict()), "dense1.W", "2×3", "5×3")


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.complex128, "U3"])
def test_non_float_dtype(good, tmp_path, dtype):
    model = good[0]
    state = model.state_dict()
    state["dense2.W"] = np.zeros((3, 1), dtype=dtype)
    expect_error(write_npz(tmp_path / "m.npz", header_of(model), state), "dense2.W", "dtype", "floating point")


def test_pickled_object_array_is_never_unpickled(good, tmp_path):
    model = good[0]
    UNPICKLED.clear()
    state = model.state_dict()
    state["dense1.W"] = np.array([[Bomb()] * 3] * 2, dtype=object)
    expect_error(write_npz(tmp_path / "m.npz", header_of(model), state), "Object arrays")
    # the architecture entry itself as a pickled object
    path = tmp_path / "arch.npz"
    with open(path, "wb") as f:
        np.savez(f, **{ARCH_KEY: np.array([Bomb()], dtype=object)}, **model.state_dict())
    expect_error(path)
    # a .npy holding a pickle, and a bare pickle
    npy = tmp_path / "bomb.npy"
    np.save(npy, np.array([Bomb()], dtype=object), allow_pickle=True)
    expect_error(npy)
    pkl = tmp_path / "bomb.pkl"
    pkl.write_bytes(pickle.dumps({"dense1.W": Bomb()}))
    msg = expect_error(pkl, "not an nndb model file")
    assert "allow_pickle" not in msg
    assert UNPICKLED == [], "load() unpickled data from a model file"


def test_float32_arrays_in_float64_model_are_cast(good, tmp_path):
    model = good[0]
    state = {k: v.astype(np.float32) for k, v in model.state_dict().items()}
    loaded = load(write_npz(tmp_path / "m.npz", header_of(model), state))
    assert loaded.param("W1").value.dtype == np.float64
    np.testing.assert_array_equal(loaded.param("W1").value, state["dense1.W"].astype(np.float64))


def test_loaded_model_trains_like_the_original(good, tmp_path):
    model = good[0]
    loaded = load(good[1])
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((5, 2)), rng.standard_normal((5, 1))
    La = model.train_step(X, Y, MSE(), SGD(model.parameters(), lr=0.1))
    Lb = loaded.train_step(X, Y, MSE(), SGD(loaded.parameters(), lr=0.1))
    assert La == Lb
    for a, b in zip(model.parameters(), loaded.parameters()):
        assert np.array_equal(a.value, b.value), a.name
