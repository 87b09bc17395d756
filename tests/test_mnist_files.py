"""MNIST files: the cache folder, the search order, load_mnist_splits, and download_mnist without a network."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from engine import DataError
from engine import datasets
from engine.datasets import (MNIST_SOURCES, cache_dir, download_mnist, find_mnist, load_mnist_splits,
                             mnist_search_path)

from conftest import mnist_folder

SHARED_MNIST = mnist_folder()  # looked up now: the autouse fixture below clears $NNDB_MNIST
FILES = ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
         "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]


@pytest.fixture
def mnist_dir() -> Path:
    if SHARED_MNIST is None:
        pytest.skip("no MNIST folder: set NNDB_MNIST or put the files in ../shared/data/mnist")
    return SHARED_MNIST


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """Every test starts with no NNDB_* variables and an empty cache under tmp_path."""
    monkeypatch.delenv("NNDB_MNIST", raising=False)
    monkeypatch.delenv("NNDB_FASHION_MNIST", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def idx_gz(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return gzip.compress(header + array.tobytes(), mtime=0)


def write_pair(folder: Path, split: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Write a gzipped (images, labels) pair of ``split`` with n random 28×28 digits; return them."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    stem_img, stem_lab = datasets.MNIST_FILES[split]
    (folder / (stem_img + ".gz")).write_bytes(idx_gz(images))
    (folder / (stem_lab + ".gz")).write_bytes(idx_gz(labels))
    return images, labels


# -- cache folder and search path ----------------------------------------------------------

def test_cache_dir(monkeypatch, tmp_path):
    assert cache_dir() == tmp_path / "xdg" / "nndb"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "nndb"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # the XDG spec says: ignore it
    assert cache_dir() == tmp_path / "home" / ".cache" / "nndb"


def test_search_path_order(monkeypatch, tmp_path):
    cache = tmp_path / "xdg" / "nndb"
    assert mnist_search_path() == [cache / "mnist"]
    monkeypatch.setenv("NNDB_MNIST", str(tmp_path / "env"))
    assert mnist_search_path() == [tmp_path / "env", cache / "mnist"]
    assert mnist_search_path(tmp_path / "flag") == [tmp_path / "flag", tmp_path / "env", cache / "mnist"]
    # Fashion-MNIST has its own variable and cache folder
    assert mnist_search_path(name="fashion-mnist") == [cache / "fashion-mnist"]
    monkeypatch.setenv("NNDB_FASHION_MNIST", str(tmp_path / "fenv"))
    assert mnist_search_path(name="fashion-mnist") == [tmp_path / "fenv", cache / "fashion-mnist"]
    with pytest.raises(DataError, match="unknown dataset 'kmnist'.*mnist, fashion-mnist"):
        mnist_search_path(name="kmnist")


def test_find_mnist_takes_the_first_folder_with_files(monkeypatch, tmp_path):
    cache = tmp_path / "xdg" / "nndb" / "mnist"
    env, flag = tmp_path / "env", tmp_path / "flag"
    write_pair(cache, "test", 3)
    assert find_mnist() == cache
    monkeypatch.setenv("NNDB_MNIST", str(env))
    assert find_mnist() == cache, "an env folder without files falls through to the cache"
    write_pair(env, "train", 3)
    assert find_mnist() == env, "the environment variable comes before the cache"
    write_pair(flag, "test", 3)
    assert find_mnist(flag) == flag, "--data comes first"
    assert find_mnist(str(flag)) == flag


def test_find_mnist_incomplete_pair_is_not_a_hit(tmp_path):
    cache = tmp_path / "xdg" / "nndb" / "mnist"
    write_pair(cache, "test", 3)
    (cache / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="no complete train or t10k pair"):
        find_mnist()


def test_find_mnist_given_folder_does_not_fall_back(monkeypatch, tmp_path):
    cache = tmp_path / "xdg" / "nndb" / "mnist"
    write_pair(cache, "test", 3)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as e:
        find_mnist(empty)
    msg = str(e.value)
    assert msg.startswith(f"{empty}: no MNIST files found") and "t10k-images-idx3-ubyte[.gz]" in msg, msg
    with pytest.raises(DataError, match=f"{tmp_path / 'missing'}: no such folder; --data"):
        find_mnist(tmp_path / "missing")


def test_find_mnist_nothing_found_lists_every_place(monkeypatch, tmp_path):
    env = tmp_path / "env"
    env.mkdir()
    monkeypatch.setenv("NNDB_MNIST", str(env))
    with pytest.raises(DataError) as e:
        find_mnist()
    msg = str(e.value)
    cache = tmp_path / "xdg" / "nndb" / "mnist"
    assert msg.startswith("no MNIST files found; looked in:"), msg
    assert f"$NNDB_MNIST={env}: no complete train or t10k pair" in msg, msg
    assert f"{cache} (the cache folder): no such folder" in msg, msg
    assert "nndb data download mnist" in msg and "--data" in msg and f"into {cache}" in msg, msg
    with pytest.raises(DataError, match="(?s)no Fashion-MNIST files found.*nndb data download fashion-mnist"
                                        ".*NNDB_FASHION_MNIST"):
        find_mnist(name="fashion-mnist")


def test_load_mnist_splits(tmp_path):
    folder = tmp_path / "d"
    test_images, test_labels = write_pair(folder, "test", 4, seed=1)
    got = load_mnist_splits(folder)
    assert got["train"] is None
    X, y = got["test"]
    assert X.shape == (4, 784) and X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(X, test_images.reshape(4, 784) / 255.0)
    np.testing.assert_array_equal(y, test_labels)
    train_images, train_labels = write_pair(folder, "train", 6, seed=2)
    got = load_mnist_splits(folder)
    assert got["train"][0].shape == (6, 784) and got["test"][0].shape == (4, 784)
    np.testing.assert_array_equal(got["train"][1], train_labels)
    assert 0.0 <= got["train"][0].min() and got["train"][0].max() <= 1.0


def test_load_mnist_splits_from_the_cache(tmp_path):
    write_pair(tmp_path / "xdg" / "nndb" / "fashion-mnist", "train", 2)
    got = load_mnist_splits(name="fashion-mnist")
    assert got["test"] is None and got["train"][0].shape == (2, 784)


def test_load_mnist_splits_shared_copy(mnist_dir):
    got = load_mnist_splits(mnist_dir)
    assert got["train"] is None
    X, y = got["test"]
    assert X.shape == (10000, 784) and np.bincount(y).sum() == 10000 and y[:3].tolist() == [7, 2, 1]


# -- download ------------------------------------------------------------------------------

def make_source(tmp_path, monkeypatch, name="mnist") -> tuple[Path, dict[str, bytes]]:
    """A folder holding four small IDX files, registered in MNIST_SOURCES with their real digests."""
    src = tmp_path / "src"
    src.mkdir()
    blobs = {}
    for i, file_name in enumerate(FILES):
        n = 3 if file_name.startswith("t10k") else 5
        shape = (n, 28, 28) if "images" in file_name else (n,)
        blobs[file_name] = idx_gz(np.full(shape, i, np.uint8))
        (src / file_name).write_bytes(blobs[file_name])
    files = {f: {"md5": hashlib.md5(b).hexdigest(), "sha256": hashlib.sha256(b).hexdigest()}
             for f, b in blobs.items()}
    monkeypatch.setitem(MNIST_SOURCES, name, {"base_url": "http://invalid.invalid/", "files": files})
    return src, blobs


def test_download_from_file_url(tmp_path, monkeypatch):
    src, blobs = make_source(tmp_path, monkeypatch)
    calls = []
    dest = download_mnist(tmp_path / "dest", base_url=src.as_uri(),  # no trailing slash: added
                          progress=lambda *a: calls.append(a))
    assert dest == tmp_path / "dest"
    assert sorted(p.name for p in dest.iterdir()) == sorted(FILES), "no temp files left behind"
    for f, b in blobs.items():
        assert (dest / f).read_bytes() == b
    for f, b in blobs.items():
        mine = [c for c in calls if c[0] == f]
        assert mine[0] == (f, 0, len(b)) and mine[-1] == (f, len(b), len(b)), mine
    got = load_mnist_splits(dest)
    assert got["train"][0].shape == (5, 784) and got["test"][1].tolist() == [1, 1, 1]


def test_download_default_dest_is_the_cache_and_reruns_skip(tmp_path, monkeypatch):
    src, blobs = make_source(tmp_path, monkeypatch)
    dest = download_mnist(base_url=src.as_uri() + "/")
    assert dest == tmp_path / "xdg" / "nndb" / "mnist" and find_mnist() == dest
    # a second run fetches nothing: the source is gone, yet the good files are kept and it succeeds
    for f in FILES:
        (src / f).unlink()
    calls = []
    assert download_mnist(base_url=src.as_uri(), progress=lambda *a: calls.append(a)) == dest
    assert calls == [(f, len(blobs[f]), len(blobs[f])) for f in FILES]


def test_download_refetches_a_bad_file(tmp_path, monkeypatch):
    src, blobs = make_source(tmp_path, monkeypatch)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / FILES[0]).write_bytes(b"half a file")
    download_mnist(dest, base_url=src.as_uri())
    assert (dest / FILES[0]).read_bytes() == blobs[FILES[0]]


@pytest.mark.parametrize("algo", ["md5", "sha256"])
def test_download_checksum_mismatch(tmp_path, monkeypatch, algo):
    src, blobs = make_source(tmp_path, monkeypatch)
    victim = FILES[1]
    corrupted = bytearray(blobs[victim])
    corrupted[-5] ^= 0xFF
    (src / victim).write_bytes(bytes(corrupted))
    dest = tmp_path / "dest"
    files = MNIST_SOURCES["mnist"]["files"]
    for f in files:  # a source that lists one digest only is checked on that one
        files[f] = {algo: files[f][algo]}
    want = getattr(hashlib, algo)(blobs[victim]).hexdigest()
    got = getattr(hashlib, algo)(bytes(corrupted)).hexdigest()
    with pytest.raises(DataError) as e:
        download_mnist(dest, base_url=src.as_uri())
    msg = str(e.value)
    assert msg.startswith(f"{victim}: checksum mismatch: {algo} expected {want}, got {got}. "), msg
    assert sorted(p.name for p in dest.iterdir()) == [FILES[0]], "the bad file is not kept, even as a temp file"


def test_download_both_digests_are_checked(tmp_path, monkeypatch):
    src, blobs = make_source(tmp_path, monkeypatch)
    files = MNIST_SOURCES["mnist"]["files"]
    files[FILES[0]]["sha256"] = "0" * 64  # md5 right, sha256 wrong: still refused
    with pytest.raises(DataError) as e:
        download_mnist(tmp_path / "dest", base_url=src.as_uri())
    msg = str(e.value)
    assert f"checksum mismatch: sha256 expected {'0' * 64}, got {hashlib.sha256(blobs[FILES[0]]).hexdigest()}" \
        in msg and "md5" not in msg.split(". ")[0], msg
    assert list((tmp_path / "dest").iterdir()) == []


def test_download_missing_file_is_a_clear_error(tmp_path, monkeypatch):
    src, _ = make_source(tmp_path, monkeypatch)
    (src / FILES[2]).unlink()
    dest = tmp_path / "dest"
    with pytest.raises(DataError) as e:
        download_mnist(dest, base_url=src.as_uri())
    msg = str(e.value)
    assert msg.startswith(f"downloading {src.as_uri()}/{FILES[2]} failed"), msg
    assert f"copy them into {dest}" in msg and "--data" in msg, msg
    assert sorted(p.name for p in dest.iterdir()) == FILES[:2], "the files fetched before the failure stay"


def test_download_unreachable_host(tmp_path, monkeypatch):
    make_source(tmp_path, monkeypatch)
    # port 9 on loopback: nothing listens, so the connection is refused at once; no network used
    with pytest.raises(DataError, match=r"downloading http://127\.0\.0\.1:9/t10k-images.* failed .*copy them into"):
        download_mnist(tmp_path / "dest", base_url="http://127.0.0.1:9/")


def test_download_unknown_dataset(tmp_path):
    with pytest.raises(DataError, match="unknown dataset 'emnist'"):
        download_mnist(tmp_path, name="emnist")


def test_mnist_sources_digests():
    """Every official file has at least one digest; the shared t10k files match every one listed."""
    for name, source in MNIST_SOURCES.items():
        assert sorted(source["files"]) == sorted(FILES), name
        for f, digests in source["files"].items():
            assert digests and set(digests) <= {"md5", "sha256"}, (name, f)
            assert all(len(d) == {"md5": 32, "sha256": 64}[a] for a, d in digests.items()), (name, f)
    assert MNIST_SOURCES["mnist"]["base_url"] == "https://ossci-datasets.s3.amazonaws.com/mnist/"


def test_download_verifies_the_real_t10k_files(mnist_dir, tmp_path):
    """The shared official t10k files pass both md5 and sha256; the train files are absent, so it stops there."""
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz failed"):
        download_mnist(tmp_path / "dest", base_url=mnist_dir.as_uri())
    got = sorted(p.name for p in (tmp_path / "dest").iterdir())
    assert got == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"], got


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_source(tmp_path, monkeypatch):
    """make_source's files served over HTTP on 127.0.0.1 (a free port), stopped after the test."""
    src, blobs = make_source(tmp_path, monkeypatch, name="fashion-mnist")
    handler = lambda *a, **k: QuietHandler(*a, directory=str(src), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", src, blobs
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_download_over_http(tmp_path, http_source):
    url, src, blobs = http_source
    calls = []
    dest = download_mnist(name="fashion-mnist", base_url=url, progress=lambda *a: calls.append(a))
    assert dest == tmp_path / "xdg" / "nndb" / "fashion-mnist"
    assert {f: (dest / f).read_bytes() for f in FILES} == blobs
    assert [c for c in calls if c[1] == c[2]] == [(f, len(blobs[f]), len(blobs[f])) for f in FILES]


def test_download_over_http_404(tmp_path, http_source):
    url, src, _ = http_source
    (src / FILES[0]).unlink()
    with pytest.raises(DataError, match=f"downloading {url}{FILES[0]} failed \\(HTTP 404 File not found\\)"):
        download_mnist(tmp_path / "dest", name="fashion-mnist", base_url=url)
    assert list((tmp_path / "dest").iterdir()) == []
