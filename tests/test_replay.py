"""`nndb replay`: the panels' data (runview, boundary), the replay screen at 80×24 and 120×40, the CLI, the debugger's Boundary tab."""
from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from rich.console import Console

from engine.build import mlp
from engine.losses import LOSSES
from engine.presets import load_preset
from inspector import runview
from inspector.boundary import decision_boundary, grid
from inspector.cli import main
from inspector.runs import Recorder, load_run
from inspector.sources import open_preset
from inspector.tui.app import NndbApp
from inspector.tui.replay import PANELS, ReplayApp, Timeline
from inspector.tui.replaydraw import boundary_pixels


def record(path, preset, epochs, every, model=None, image_shape=None, flatten=False):
    """Train ``preset`` (or ``model`` on its data) with a Recorder; the loaded run."""
    p = load_preset(preset, seed=0)
    model = model or p.model
    X = p.X.reshape(len(p.X), -1) if flatten else p.X
    if model is not p.model:
        from engine.build import optimizer
        p.optimizer = optimizer("adam", model.parameters(), lr=0.01)
    n_batches = -(-len(X) // p.batch_size)
    rec = Recorder(model, p.loss, (X, p.Y), p.classes, iterations_per_epoch=n_batches,
                   total_iterations=n_batches * epochs, every=every, preset=preset, image_shape=image_shape,
                   hyperparameters={"batch_size": p.batch_size, "epochs": epochs})
    model.fit(X, p.Y, p.loss, p.optimizer, epochs=epochs, batch_size=p.batch_size,
              validation_data=(X[:60], p.Y[:60]), on_batch=rec.on_batch, on_epoch=rec.on_epoch)
    return load_run(rec.save(path))


@pytest.fixture(scope="module")
def moons_run(tmp_path_factory):
    return record(tmp_path_factory.mktemp("runs") / "moons.run.npz", "moons", epochs=12, every=4)


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A dense net on images, as the digits preset is (784-128-10 on MNIST): 120-24-10 on 12×10 digits."""
    model = mlp([120, 24, 10], "relu", "he", seed=0)
    return record(tmp_path_factory.mktemp("runs") / "segments-mlp.run.npz", "segments", epochs=3, every=3,
                  model=model, image_shape=(12, 10), flatten=True)


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    return record(tmp_path_factory.mktemp("runs") / "segments.run.npz", "segments", epochs=1, every=5)


def model_classes(model, loss_name, points):
    return LOSSES[loss_name]().classify(model.predict(points))


# -- the data behind the panels ------------------------------------------------------------------
def test_boundary_classes_are_the_models_predictions_at_the_grid_points(moons_run):
    model, loss = moons_run.model_at(moons_run.frames - 1), LOSSES["softmax_ce"]()
    X = moons_run.points[0]
    b = decision_boundary(model, loss, X, 30, 16)
    assert b.classes.shape == b.probability.shape == (16, 30)
    gx, gy = np.meshgrid(b.xs, b.ys)
    expected = model_classes(model, "softmax_ce", np.column_stack([gx.ravel(), gy.ravel()]))
    np.testing.assert_array_equal(b.classes.ravel(), expected)
    assert np.all((b.probability >= 0.5) & (b.probability <= 1))
    # the grid covers the points with a 10 % margin; top row is the largest x1
    span = X.max(axis=0) - X.min(axis=0)
    assert b.xs[0] == pytest.approx(X[:, 0].min() - 0.1 * span[0], rel=1e-5)
    assert b.ys[0] > b.ys[-1] and b.ys[0] == pytest.approx(X[:, 1].max() + 0.1 * span[1], rel=1e-5)
    # the trained model classifies most training points as the region under them says
    r, c = b.cell_of(X)
    assert np.mean(b.classes[r, c] == moons_run.points[1]) > 0.9


def test_boundary_of_a_one_output_model_reads_the_output_as_class_1():
    p = load_preset("xor", seed=0)
    b = decision_boundary(p.model, p.loss, p.X, 5, 4)
    out = p.model.predict(np.column_stack([g.ravel() for g in np.meshgrid(*grid(p.X, 5, 4))]))[:, 0]
    np.testing.assert_array_equal(b.classes.ravel(), (out > 0.5).astype(int))
    np.testing.assert_allclose(b.probability.ravel(), np.where(out > 0.5, out, 1 - out))
    with pytest.raises(ValueError, match="2-input"):
        decision_boundary(p.model, p.loss, np.zeros((3, 4)), 5, 4)


def test_diagram_draws_every_weight_of_a_small_net_and_its_strongest_is_the_largest(moons_run):
    model = moons_run.model_at(0)
    for i in (0, moons_run.frames // 2, moons_run.frames - 1):
        params = moons_run.params(i)
        d = runview.diagram(model, params)
        assert [l.rule for l in d.layers] == ["W1: all 2×8 weights", "W2: all 8×8 weights", "W3: all 8×2 weights"]
        sym, inp, unit, w = d.strongest
        biggest = max(("W1", "W2", "W3"), key=lambda n: np.abs(params[n]).max())
        assert sym == biggest and w == params[sym][inp, unit] == params[sym].flat[np.abs(params[sym]).argmax()]
        np.testing.assert_array_equal(d.layers[1].weights, params["W2"].T)
        np.testing.assert_array_equal(d.layers[0].bias, params["b1"])


def test_diagram_keeps_the_strongest_inputs_of_a_large_layer_and_says_so(image_run):
    params = image_run.params(image_run.frames - 1)
    d = runview.diagram(image_run.model_at(0), params, max_units=16)
    first = d.layers[0]
    assert first.rule == "W1: the 8 strongest of 120 incoming weights per unit; 16 of 24 units (largest ‖w‖)"
    W = params["W1"]
    norms = np.linalg.norm(W, axis=0)
    assert set(first.units) == set(np.argsort(-norms)[:16])
    for r, j in enumerate(first.units):
        expected = np.sort(np.abs(W[:, j]))[::-1][:8]
        np.testing.assert_allclose(np.abs(first.weights[r]), expected)
        np.testing.assert_array_equal(first.weights[r], W[first.inputs[r], j])
    assert d.layers[1].rule == "W2: the 8 strongest of 24 incoming weights per unit"


def test_tiles_are_first_layer_weights_as_images_or_filters(image_run, cnn_run):
    params = image_run.params(2)
    t = runview.unit_tiles(image_run.model_at(0), params, image_run.image_shape)
    assert t.tiles.shape == (24, 12, 10)
    np.testing.assert_array_equal(t.tiles[5], params["W1"][:, 5].reshape(12, 10))
    k = runview.unit_tiles(cnn_run.model_at(0), cnn_run.params(1), cnn_run.image_shape)
    np.testing.assert_array_equal(k.tiles, cnn_run.params(1)["K1"][:, 0])
    assert k.caption.startswith("K1: filter j (3×3)")
    assert runview.unit_tiles(image_run.model_at(0), params, None) is None


def test_histograms_use_bins_fixed_over_the_run_and_ratios_read_the_run(moons_run):
    edges = runview.histogram_edges(moons_run)
    assert list(edges) == ["W1", "W2", "W3"]
    series = moons_run.param_series("W2")
    assert edges["W2"][0] == series.min() and edges["W2"][-1] == series.max()
    for i in (0, moons_run.frames - 1):
        counts = runview.histograms(moons_run.params(i), edges)
        assert counts["W2"].sum() == 64 and len(counts["W2"]) == runview.HIST_BINS
    ratios = runview.update_ratios(moons_run, 3)
    assert [r.value for r in ratios] == pytest.approx([moons_run.stat("update_ratio", n)[3] for n in edges])
    assert runview.update_ratios(moons_run, 0)[0].verdict == "no update (yet)"  # the first frame precedes any update
    assert [runview.ratio_verdict(v) for v in (1e-5, 1e-3, 5e-2)] == \
        ["small: learning slowly", "about right", "large: may be unstable"]


def test_curves_and_epoch_marks(moons_run):
    assert len(runview.epoch_marks(moons_run)) == 12
    mark = runview.epoch_marks(moons_run)[0]
    assert moons_run.iteration[mark] >= 13 > moons_run.iteration[mark - 1]
    c = runview.curves(moons_run, 7)
    assert c.cursor == moons_run.epoch[7]
    assert set(c.loss) == {"iteration loss", "train loss", "validation loss"}
    np.testing.assert_array_equal(c.accuracy["validation accuracy"][0], np.arange(1, 13))
    title = runview.frame_title(moons_run, moons_run.frames - 1)
    assert title.startswith(f"frame {moons_run.frames}/{moons_run.frames} · iteration 156 · epoch 12.00")
    assert f"val acc {moons_run.epochs['val_acc'][-1]:.1%} (epoch 12)" in title


# -- the replay screen ---------------------------------------------------------------------------
def visible(app) -> list[str]:
    return [p for p in PANELS if app.query_one(f"#panel-{p}").display]


def text_of(app, panel: str) -> str:
    return app.query_one(f"#panel-{panel}").plain


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_replay_scrubs_plays_and_switches_panels(moons_run, size):
    async def go():
        app = ReplayApp(moons_run)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            last = moons_run.frames - 1
            await pilot.press("right", "right")
            assert app.frame == 2
            await pilot.press("left")
            assert app.frame == 1
            await pilot.press("end")
            assert app.frame == last
            await pilot.press("right")
            assert app.frame == last  # the timeline stops at the ends
            await pilot.press("home")
            assert app.frame == 0
            title = plain(app.query_one("#frame-title"))
            assert title.startswith(f"frame 1/{moons_run.frames} · iteration 0")
            await pilot.press("space")
            assert app.playing
            for _ in range(50):  # 5 frames per second: two frames within 0.4 s, unless the machine is busy
                await pilot.pause(0.1)
                if app.frame >= 2:
                    break
            await pilot.press("space")
            played = app.frame
            assert not app.playing and played >= 2
            await pilot.pause(0.4)
            assert app.frame == played  # paused: it stays
            await pilot.press("plus", "plus")
            assert app.fps == 20
            await pilot.press("minus")
            assert app.fps == 10
            # a click on the scrub bar goes to that frame: the track's last cell is the last frame
            timeline = app.query_one("#timeline", Timeline)
            await pilot.click("#timeline", offset=(1 + 2 + timeline.track_width() - 1, 0))
            assert app.frame == last
            await pilot.click("#timeline", offset=(1 + 2, 0))
            assert app.frame == 0
            if size == (80, 24):
                assert visible(app) == ["network"]
                await pilot.press("2")
                await pilot.pause()
                assert visible(app) == ["view"]
                await pilot.press("tab")
                await pilot.pause()
                assert visible(app) == ["weights"] and app.active == "weights"
            else:
                assert visible(app) == list(PANELS)  # a large terminal shows every panel at once
            await pilot.pause()
            # what the panels draw is this frame's: the diagram's strongest weight, the boundary's classes
            params = moons_run.params(app.frame)
            await pilot.press("1")
            await pilot.pause()
            d = app.shown["network"]
            biggest = max(np.abs(params[n]).max() for n in ("W1", "W2", "W3"))
            assert abs(d.strongest[3]) == biggest
            await pilot.press("2")
            await pilot.pause()
            b = app.shown["view"]
            gx, gy = np.meshgrid(b.xs, b.ys)
            expected = model_classes(moons_run.model_at(app.frame), "softmax_ce", np.column_stack([gx.ravel(), gy.ravel()]))
            np.testing.assert_array_equal(b.classes.ravel(), expected)
            # the boundary fills its panel: two cells per character row, one per column
            region = app.query_one("#panel-view").scrollable_content_region
            assert b.classes.shape[1] == region.width - 1 and b.classes.shape[0] == 2 * (region.height - 3)
            # the timeline's lines fit the terminal (nothing a learner must read is cut off)
            timeline = app.query_one("#timeline", Timeline)
            assert all(len(line) <= timeline.content_region.width for line in plain(timeline).splitlines())
    asyncio.run(go())


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_replay_of_an_image_run_shows_the_units_tiles(image_run, size):
    async def go():
        app = ReplayApp(image_run)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await pilot.press("end", "2")
            await pilot.pause()
            tiles = app.shown["view"]
            np.testing.assert_array_equal(tiles.tiles[3], image_run.params(app.frame)["W1"][:, 3].reshape(12, 10))
            assert "W1: unit j's 120 incoming weights as a 12×10 image" in text_of(app, "view")
            await pilot.press("1")
            await pilot.pause()
            assert "W1: the 8 strongest of 120 incoming weights per unit" in text_of(app, "network")
            await pilot.press("3")
            await pilot.pause()
            ratio = image_run.stat("update_ratio", "W1")[app.frame]
            assert f"‖ΔW1‖/‖W1‖ {ratio:.1e} · {runview.ratio_verdict(ratio)}" in text_of(app, "weights")
            before = app.shown["weights"][0]["W1"].copy()
            await pilot.press("home")
            await pilot.pause()
            assert not np.array_equal(app.shown["weights"][0]["W1"], before)  # the histogram follows the frame
    asyncio.run(go())


def test_a_prefetched_frame_shows_that_frames_weights(moons_run):
    """The next frame is drawn while one is on screen (into the same model): stepping onto it must show
    its own weights, and stepping back must redraw the previous frame with the previous weights."""
    async def go():
        app = ReplayApp(moons_run)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("right")
            app.prefetch_next()
            assert ("view", 2) in {(k[0], k[1]) for k in app.pictures}  # drawn before it is asked for
            for key, frame in (("right", 2), ("left", 1), ("left", 0)):
                await pilot.press(key)
                await pilot.pause()
                assert app.frame == frame
                b = app.shown["view"]
                gx, gy = np.meshgrid(b.xs, b.ys)
                expected = model_classes(moons_run.model_at(frame), "softmax_ce", np.column_stack([gx.ravel(), gy.ravel()]))
                np.testing.assert_array_equal(b.classes.ravel(), expected)
                np.testing.assert_array_equal(app.shown["network"].layers[0].weights, moons_run.params(frame)["W1"].T)
    asyncio.run(go())


def test_replay_of_a_cnn_run_draws_its_filters(cnn_run):
    async def go():
        app = ReplayApp(cnn_run)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("2")
            await pilot.pause()
            np.testing.assert_array_equal(app.shown["view"].tiles, cnn_run.params(0)["K1"][:, 0])
            await pilot.press("1")
            await pilot.pause()
            assert "conv1: 8 units, K1 8×1×3×3" in text_of(app, "network")
    asyncio.run(go())


# -- the command line ----------------------------------------------------------------------------
def test_replay_command_refuses_a_bad_run_file_in_one_line(tmp_path, capsys):
    assert main(["replay", str(tmp_path / "nothing.run.npz")]) == 2
    out = capsys.readouterr().out
    assert "no such run file" in out and out.count("\n") == 1
    junk = tmp_path / "junk.run.npz"
    junk.write_bytes(b"not a zip")
    assert main(["replay", str(junk)]) == 2
    assert "not an nndb run file" in capsys.readouterr().out
    assert main(["replay", str(junk), "--fps", "5"]) == 2
    assert "--fps: only with --export PATH" in capsys.readouterr().out


def test_replay_export_hands_its_options_to_video_export(moons_run, monkeypatch):
    from inspector import video
    calls = []
    monkeypatch.setattr(video, "export", lambda run, path, **kw: calls.append((run.frames, path, kw)) or 0)
    assert main(["replay", str(moons_run.path), "--export", "out.gif", "--fps", "4", "--size", "320x200",
                 "--frames", "0:10"]) == 0
    (frames, path, kw), = calls
    assert frames == moons_run.frames and path == "out.gif"
    assert (kw["fps"], kw["size"], kw["frames"]) == ("4", "320x200", "0:10") and kw["console"] is not None


# -- the debugger's Boundary tab -----------------------------------------------------------------
def plain(static) -> str:
    """What a Static shows, as plain text."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(static.content)
    return console.export_text()


def assert_shows_model(app):
    b = app.query_one("#boundary-panel").boundary
    gx, gy = np.meshgrid(b.xs, b.ys)
    model = app.session.model_at_cursor()
    np.testing.assert_array_equal(b.classes.ravel(), app.session.loss.classify(
        model.predict(np.column_stack([gx.ravel(), gy.ravel()]))))
    return b, plain(app.query_one("#boundary-body"))


def test_debugger_boundary_tab_redraws_after_set_and_train():
    async def go():
        app = NndbApp(open_preset("moons", seed=0))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("6")
            await pilot.pause()
            assert app.query_one("#tabs").active == "tab-boundary"
            before, text0 = assert_shows_model(app)
            model_before = app.session.model_at_cursor()
            app.run_command("set W3[0,0] = 40")
            await pilot.pause()
            after_set, text1 = assert_shows_model(app)
            assert after_set is not before
            # the unedited model over the new grid (the edit's report grew the output panel: a smaller grid)
            unedited = decision_boundary(model_before, app.session.loss, app.session.problem.X,
                                         len(after_set.xs), len(after_set.ys))
            assert not np.array_equal(after_set.probability, unedited.probability)
            app.run_command("train 100")
            await pilot.pause()
            after_train, text2 = assert_shows_model(app)
            assert "iteration 1," in text1 and f"iteration {app.session.where()['iteration']}," in text2
            assert app.session.where()["iteration"] > 100
            assert not np.array_equal(boundary_pixels(after_train), boundary_pixels(after_set))  # what is drawn
    asyncio.run(go())


def test_debugger_boundary_tab_says_why_on_image_data():
    async def go():
        app = NndbApp(open_preset("bars", seed=0))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("6")
            await pilot.pause()
            assert app.query_one("#boundary-panel").boundary is None
            text = plain(app.query_one("#boundary-body"))
            assert "needs examples with 2 inputs" in text and "1×6×6 each" in text
    asyncio.run(go())
