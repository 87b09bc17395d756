"""Run files: recording while training, the file's round trip and refusals, compare, and the front ends."""
from __future__ import annotations

import json
import math
import zipfile

import numpy as np
import pytest

from engine import save
from engine.presets import load_preset
from inspector.runs import FORMAT, Recorder, RunFileError, load_run, run_path


def record_moons(tmp_path, epochs=6, every=None, seed=0, name="moons.run.npz", lr=None, snapshots=None):
    """Train moons for ``epochs`` with a Recorder; the saved run's path, the model, and the recorder.

    ``snapshots`` (a dict) collects the model's W1 after every iteration, to compare frames against."""
    p = load_preset("moons", seed=seed)
    if lr is not None:
        p.optimizer.lr = lr
    n_batches = -(-len(p.X) // p.batch_size)
    rec = Recorder(p.model, p.loss, (p.X, p.Y), p.classes, iterations_per_epoch=n_batches,
                   total_iterations=n_batches * epochs, every=every, preset="moons",
                   hyperparameters={"lr": p.optimizer.lr, "batch_size": p.batch_size, "epochs": epochs})
    if snapshots is not None:
        snapshots[0] = p.model.param("W1").value.copy()

    def on_batch(*args):
        if snapshots is not None:
            snapshots[p.model.iteration] = p.model.param("W1").value.copy()
        rec.on_batch(*args)

    p.model.fit(p.X, p.Y, p.loss, p.optimizer, epochs=epochs, batch_size=p.batch_size,
                validation_data=(p.X[:60], p.Y[:60]), on_batch=on_batch, on_epoch=rec.on_epoch)
    path = rec.save(tmp_path / name)
    return path, p.model, rec


def test_round_trip_keeps_frames_stats_and_epochs(tmp_path):
    path, model, rec = record_moons(tmp_path, epochs=6, every=5)
    run = load_run(path)
    assert run.label == "moons" and run.meta["preset"] == "moons" and run.meta["record_every"] == 5
    n = 6 * 13  # 200 points in batches of 16
    assert list(run.iteration) == list(range(0, n, 5)) + [n]  # the grid, then the last iteration
    np.testing.assert_allclose(run.epoch, run.iteration / 13)
    assert run.parameters == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert run.params(run.frames - 1)["W3"].dtype == np.float32
    np.testing.assert_allclose(run.model_at(run.frames - 1).param("W2").value, model.param("W2").value, rtol=1e-6)
    assert run.stat("norm", "W1")[-1] == pytest.approx(np.linalg.norm(model.param("W1").value), rel=1e-5)
    assert math.isnan(run.stat("grad_norm", "W1")[0]) and run.stat("grad_norm", "W1")[1] > 0
    assert 0 < run.stat("update_ratio", "W1")[1] < 1
    assert run.dead_layers == ["relu1", "relu2"]
    assert set(np.unique(run.stat("dead", "relu1") * 8)) <= set(range(9))  # eighths of 8 units
    assert run.epochs["iteration"].tolist() == [13.0 * e for e in range(1, 7)]
    assert np.all((run.epochs["val_acc"] >= 0) & (run.epochs["val_acc"] <= 1))
    assert len(run.seconds_per_epoch) == 6
    X, y = run.points
    assert X.shape == (200, 2) and y.dtype == np.int64 and run.probe_X.shape == (200, 2)
    with np.load(path, allow_pickle=False) as npz:  # plain NumPy reads it
        assert str(npz["format"]) == FORMAT and json.loads(str(npz["meta"]))["loss"] == "softmax_ce"


def test_frames_hold_the_weights_of_their_iteration(tmp_path):
    snapshots = {}
    path, _, _ = record_moons(tmp_path, epochs=3, every=7, snapshots=snapshots)
    run = load_run(path)
    for i, it in enumerate(run.iteration):
        np.testing.assert_allclose(run.params(i)["W1"], snapshots[int(it)].astype(np.float32))


def test_update_ratio_is_that_of_the_frames_iteration(tmp_path):
    snapshots = {}
    path, _, _ = record_moons(tmp_path, epochs=2, every=4, snapshots=snapshots)
    run = load_run(path)
    i = 3
    it = int(run.iteration[i])
    delta = np.linalg.norm(snapshots[it] - snapshots[it - 1]) / np.linalg.norm(snapshots[it])
    assert run.stat("update_ratio", "W1")[i] == pytest.approx(delta, rel=1e-4)


def test_default_every_gives_about_150_frames(tmp_path):
    path, _, rec = record_moons(tmp_path, epochs=20)
    run = load_run(path)
    assert 130 <= run.frames <= 160 and rec.every == math.ceil(20 * 13 / 149)


def test_run_path_sits_beside_the_model():
    assert run_path("out/digits.npz").as_posix() == "out/digits.run.npz"
    assert run_path("model").as_posix() == "model.run.npz"


@pytest.mark.parametrize("make, says", [
    (lambda p: None, "no such run file"),
    (lambda p: p.write_bytes(b"hello, not a zip"), "not a NumPy .npz archive"),
    (lambda p: np.savez(p, a=np.zeros(3)), "not an nndb run file (no 'format' entry)"),
    (lambda p: np.savez(p, format=np.array("nndb-run/9"), meta=np.array("{}")), "this nndb reads 'nndb-run/1'"),
])
def test_foreign_and_missing_files_are_refused_in_one_line(tmp_path, make, says):
    path = tmp_path / "x.run.npz"
    make(path)
    with pytest.raises(RunFileError) as e:
        load_run(path)
    assert says in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


def test_truncated_and_incomplete_files_are_refused(tmp_path):
    path, _, _ = record_moons(tmp_path, epochs=1)
    data = path.read_bytes()
    cut = tmp_path / "cut.run.npz"
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(RunFileError, match="unreadable or truncated run file"):
        load_run(cut)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files if k != "param_W2"}
    np.savez(tmp_path / "part.run.npz", **arrays)
    with pytest.raises(RunFileError, match="incomplete run file: no param_W2"):
        load_run(tmp_path / "part.run.npz")


def test_a_model_file_is_named_as_such(tmp_path):
    model = load_preset("moons").model
    save(model, tmp_path / "m.npz")
    with pytest.raises(RunFileError, match="it is an nndb model file — its run file would be m.run.npz"):
        load_run(tmp_path / "m.npz")


def test_the_file_is_a_zip_of_npy_members(tmp_path):
    path, _, _ = record_moons(tmp_path, epochs=1)
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
    assert {"format.npy", "meta.npy", "param_W1.npy", "dead_relu1.npy", "epoch_val_acc.npy"} <= names
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary behind
