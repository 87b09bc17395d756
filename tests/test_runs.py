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


def test_the_frames_are_written_while_the_run_trains(tmp_path):
    from inspector.runs import RunWriter
    for foreseen, epochs in ((26, 2), (13, 2), (39, 2)):  # past what it foresaw; stopped short of it
        p = load_preset("moons")
        rec = Recorder(p.model, p.loss, (p.X, p.Y), p.classes, iterations_per_epoch=13, total_iterations=foreseen)
        rec.path = tmp_path / f"early{foreseen}.run.npz"
        writers = []
        p.model.fit(p.X, p.Y, p.loss, p.optimizer, epochs=epochs, batch_size=p.batch_size,
                    on_batch=lambda *a: (rec.on_batch(*a), writers.append(rec._writer)), on_epoch=rec.on_epoch)
        assert isinstance(writers[min(foreseen, 26) - 1], RunWriter)  # writing since the second frame
        rec.save(rec.path)
        run = load_run(rec.path)
        assert list(run.iteration) == list(range(27)) and len(run.epochs["iteration"]) == 2
        np.testing.assert_array_equal(run.params(26)["W1"], p.model.param("W1").value.astype(np.float32))
    assert sorted(f.name for f in tmp_path.iterdir()) == ["early13.run.npz", "early26.run.npz", "early39.run.npz"]


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


# -- compare -------------------------------------------------------------------------------------
from rich.console import Console  # noqa: E402

from inspector.cli import main  # noqa: E402
from inspector.compare import differing, load_runs, render, summary  # noqa: E402
from inspector.runs import save_run  # noqa: E402


def with_epochs(path, out, val_acc, seconds, lr):
    """A copy of the run at ``path`` with made-up validation accuracies, epoch times and lr."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["meta"]))
    meta["seconds_per_epoch"], meta["hyperparameters"]["lr"] = seconds, lr
    n = len(val_acc)
    arrays["meta"] = np.array(json.dumps(meta))
    arrays["epoch_val_acc"] = np.array(val_acc, dtype=np.float64)
    for key in ("iteration", "train_loss", "val_loss", "train_acc"):
        arrays[f"epoch_{key}"] = np.linspace(1, 2, n)
    return save_run(out, arrays)


def test_compare_summarizes_best_and_final_epochs(tmp_path):
    path, _, _ = record_moons(tmp_path, epochs=1)
    a = load_run(with_epochs(path, tmp_path / "a.run.npz", [0.5, 0.9, 0.8], [0.2, 0.4, 0.3], 0.3))
    b = load_run(with_epochs(path, tmp_path / "b.run.npz", [0.6, 0.7, 0.75, 0.95], [1.0] * 4, 0.05))
    assert summary(a) == {"run": "a", "on": "validation", "epochs": 3, "final_acc": 0.8, "best_acc": 0.9,
                          "best_epoch": 2, "final_loss": 2.0, "seconds_per_epoch": pytest.approx(0.3)}
    assert (summary(b)["best_epoch"], summary(b)["final_acc"]) == (4, 0.95)
    assert differing([a, b]) == ["lr"]
    console = Console(width=100, record=True, color_system=None)
    console.print(render([a, b], 100))
    text = console.export_text()
    rows = [line for line in text.splitlines() if line.startswith(("│ 1 ━━", "│ 2 ━━"))]
    assert [" ".join(r.replace("│", " ").split()) for r in rows] == ["1 ━━ a 0.3 80.00 90.00 2 0.3",
                                                                      "2 ━━ b 0.05 95.00 95.00 4 1"]
    assert "they differ in lr" in " ".join(text.split())
    assert "validation accuracy by epoch" in text and "W1" in text and "W3" in text and "b1" not in text


def test_compare_cli_reports_each_bad_file_in_one_line_and_exits_2(tmp_path, capsys):
    path, _, _ = record_moons(tmp_path, epochs=2)
    (tmp_path / "broken.run.npz").write_bytes(b"PK\x03\x04 not really")
    rc = main(["compare", str(path), str(tmp_path / "broken.run.npz"), str(tmp_path / "absent.run.npz")])
    out = capsys.readouterr().out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert rc == 2 and len(errors) == 2
    assert "broken.run.npz: unreadable or truncated run file" in errors[0]
    assert "absent.run.npz: no such run file" in errors[1]
    assert "comparing the 1 run that could be read" in out
    assert main(["compare", str(tmp_path / "empty")]) == 2  # no such folder, no such file
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(tmp_path / "empty")]) == 2
    assert "a folder without *.run.npz files" in capsys.readouterr().out


def test_sweep_records_each_run_and_compare_reads_the_folder(tmp_path, capsys):
    folder = tmp_path / "sw"
    rc = main(["sweep", "--preset", "moons", "--lr", "0.3,0.05", "--hidden", "4", "--epochs", "3",
               "--out", f"{folder}/"])
    assert rc == 0 and "nndb compare" in " ".join(capsys.readouterr().out.split())
    runs, errors = load_runs([folder])
    assert not errors and [r.label for r in runs] == ["lr0.05-hidden4-l2_0", "lr0.3-hidden4-l2_0"]
    assert [r.hyperparameters["lr"] for r in runs] == [0.05, 0.3]
    assert all(len(r.epochs["val_acc"]) == 3 and np.all(np.isfinite(r.epochs["val_acc"])) for r in runs)
    ranked = json.loads((folder / "sweep.json").read_text())["rows"]
    for r in runs:  # the run file's final weights are those the sweep's figures measured
        row = next(x for x in ranked if x["lr"] == r.hyperparameters["lr"])
        assert r.epochs["train_acc"][-1] == pytest.approx(row["train_accuracy"])
    assert main(["compare", str(folder)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "they differ in lr" in text and "lr0.05-hidden4-l2_0" in text


# -- nndb train --record --------------------------------------------------------------------------
def test_train_record_writes_the_run_beside_the_model(tmp_path, capsys):
    from engine import load
    out = tmp_path / "m.npz"
    assert main(["train", "--preset", "moons", "--epochs", "3", "--record", "--out", str(out)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    run = load_run(tmp_path / "m.run.npz")
    assert f"in {tmp_path / 'm.run.npz'}" in printed
    history = json.loads((tmp_path / "m.history.json").read_text())["rows"]
    assert run.epochs["val_acc"].tolist() == pytest.approx([row["val_accuracy"] for row in history])
    assert run.epochs["train_loss"].tolist() == pytest.approx([row["loss"] for row in history])
    assert len(run.seconds_per_epoch) == 3
    final = load(out)
    for name, value in run.params(run.frames - 1).items():
        np.testing.assert_array_equal(value, final.param(name).value.astype(np.float32))
    assert run.meta["hyperparameters"]["epochs"] == 3 and run.meta["data"]["kind"] == "points"
    assert main(["train", "--preset", "moons", "--epochs", "2", "--record", "4", "--out", str(out)]) == 0
    run = load_run(tmp_path / "m.run.npz")
    assert run.meta["record_every"] == 4 and list(np.diff(run.iteration)[:-1]) == [4] * (run.frames - 2)


def test_train_record_refuses_a_link_in_one_line(tmp_path, capsys):
    (tmp_path / "elsewhere").write_text("keep me")
    (tmp_path / "m.run.npz").symlink_to(tmp_path / "elsewhere")
    assert main(["train", "--preset", "moons", "--epochs", "1", "--record", "--out", str(tmp_path / "m.npz")]) == 2
    assert "--record" in capsys.readouterr().out and (tmp_path / "elsewhere").read_text() == "keep me"


MNIST = __import__("os").environ.get("NNDB_MNIST") or "/work/shared/data/mnist"


@pytest.mark.skipif(not __import__("pathlib").Path(MNIST).is_dir(), reason="needs MNIST-format digits")
def test_digits_runs_know_their_images(tmp_path):
    out = tmp_path / "d.npz"
    assert main(["train", "--preset", "digits", "--data", MNIST, "--epochs", "1", "--layers", "784,16,10",
                 "--record", "--out", str(out)]) == 0
    run = load_run(tmp_path / "d.run.npz")
    assert run.image_shape == (28, 28) and run.meta["data"]["kind"] == "images"
    assert run.probe_X.shape == (32, 784) and 100 <= run.frames <= 160


# -- the debugger's train N --record FILE -------------------------------------------------------------
def test_debugger_train_records_what_it_trains(tmp_path):
    from inspector.commands import Interpreter
    from inspector.sources import open_preset
    s = open_preset("moons")
    interp = Interpreter(s)
    start = {p.symbol: p.value.astype(np.float32) for p in s.model.parameters()}
    result = interp.run(f"train 2 epochs --record {tmp_path / 'lesson'}")
    assert result.ok, result.message
    record = result.data["record"]
    assert record["path"] == str(tmp_path / "lesson.run.npz") and record["error"] is None
    assert f"recorded {record['frames']} frames" in result.message
    run = load_run(tmp_path / "lesson.run.npz")
    assert run.frames == record["frames"] and run.meta["preset"] == "moons"
    np.testing.assert_array_equal(run.params(0)["W1"], start["W1"])  # the model as train found it
    trained = s.current.snapshot.params  # the weights the trained iterations left
    np.testing.assert_allclose(run.params(run.frames - 1)["W2"], trained["dense2.W"].astype(np.float32))
    assert run.iteration[-1] - run.iteration[0] == result.data["iterations"]
    assert len(run.epochs["train_acc"]) == 2 and np.all(np.isnan(run.epochs["val_acc"]))
    bad = interp.run("train 3 --record /no/such/folder/x.run.npz")
    assert not bad.ok and "the folder /no/such/folder does not exist" in bad.message


def test_T_in_the_tui_records_too(tmp_path):
    import asyncio
    from textual.widgets import Input
    from inspector.sources import open_preset
    from inspector.tui.app import NndbApp

    app = NndbApp(open_preset("moons"))

    async def main_():
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("T")
            await pilot.pause()
            box = app.screen.query_one(Input)
            box.value = f"30 --record {tmp_path / 't.run.npz'}"
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
    asyncio.run(main_())
    run = load_run(tmp_path / "t.run.npz")
    assert run.iteration[-1] - run.iteration[0] == 30
