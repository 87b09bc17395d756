"""`nndb replay RUN --export`: the GIF's frames, size and content, PNG frames, and every refusal."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from rich.console import Console

from engine.build import mlp, optimizer
from engine.losses import SoftmaxCrossEntropy
from engine.presets import load_preset
from inspector import video
from inspector.runs import Recorder, load_run

try:
    from PIL import Image
except ImportError:  # the export tests skip; the missing-Pillow message is tested either way
    Image = None
needs_pillow = pytest.mark.skipif(Image is None, reason="Pillow is not installed (pip install 'nndb[video]')")


def record(folder, model, loss, opt, X, Y, classes, epochs, batch_size, name, every=None, image_shape=None):
    """Train ``model`` with a Recorder and load the run file it writes."""
    n_batches = -(-len(X) // batch_size)
    rec = Recorder(model, loss, (X, Y), classes, iterations_per_epoch=n_batches, total_iterations=n_batches * epochs,
                   every=every, image_shape=image_shape)
    model.fit(X, Y, loss, opt, epochs=epochs, batch_size=batch_size, validation_data=(X[:60], Y[:60]),
              on_batch=lambda *a: rec.on_batch(*a), on_epoch=rec.on_epoch)
    return load_run(rec.save(folder / name))


def moons(folder, lr=None, epochs=4, name="moons.run.npz"):
    p = load_preset("moons", seed=0)
    if lr is not None:
        p.optimizer.lr = lr
    return record(folder, p.model, p.loss, p.optimizer, p.X, p.Y, p.classes, epochs, p.batch_size, name, every=2)


@pytest.fixture(scope="module")
def moons_run(tmp_path_factory):
    return moons(tmp_path_factory.mktemp("moons"))


@pytest.fixture(scope="module")
def frozen_run(tmp_path_factory):
    """A moons run with learning rate 0: every frame holds the same weights."""
    return moons(tmp_path_factory.mktemp("frozen"), lr=0.0, epochs=2, name="frozen.run.npz")


@pytest.fixture(scope="module")
def digits_sized_run(tmp_path_factory):
    """The digits network (784-128-10 on 28×28 images), 101 frames: one per iteration of 5 epochs of
    1,280 stroke-like images (the digits preset records about 100 frames)."""
    rng = np.random.default_rng(0)
    y = np.arange(1280) % 10
    X = rng.normal(0, 0.3, (1280, 28, 28))
    for k in range(10):
        X[y == k, 4 + 2 * k, 4:24] += 1.0  # class k: a bar at its own row
    model = mlp([784, 128, 10], "relu", "he", seed=0, dtype=np.float32)
    return record(tmp_path_factory.mktemp("digits"), model, SoftmaxCrossEntropy(),
                  optimizer("momentum", model.parameters(), lr=0.05), X.reshape(1280, 784).astype(np.float32), y,
                  [str(k) for k in range(10)], epochs=5, batch_size=64, name="digits.run.npz", every=1,
                  image_shape=(28, 28))


def export(run, path, **options):
    """video.export's exit status and what it printed, on one wide console."""
    out = io.StringIO()
    status = video.export(run, path, console=Console(file=out, width=300), **options)
    return status, out.getvalue()


def gif_frames(path) -> list[np.ndarray]:
    with Image.open(path) as im:
        frames = []
        for k in range(im.n_frames):
            im.seek(k)
            frames.append(np.asarray(im.convert("RGB")))
        return frames


def rgb(image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))


def crop(a: np.ndarray, rect) -> np.ndarray:
    x0, y0, x1, y1 = rect
    return a[y0:y1, x0:x1]


# -- the GIF ---------------------------------------------------------------------------------------
@needs_pillow
@pytest.mark.parametrize("frames, count", [("7", 7), ("2:12:3", 4), ("5:9", 4), (None, None)])
def test_gif_has_the_frames_and_size_asked(moons_run, tmp_path, frames, count):
    path = tmp_path / "training.gif"
    status, out = export(moons_run, path, size="400x240", frames=frames)
    assert status == 0, out
    with Image.open(path) as im:
        assert im.size == (400, 240)
        assert im.n_frames == (count or min(moons_run.frames, video.DEFAULT_FRAMES))
        assert im.info["duration"] == 100 and im.info["loop"] == 0  # --fps 10 by default, looping
    assert (f"{count} frames (of the run's {moons_run.frames}) of 400×240" if count
            else f"{moons_run.frames} frames of 400×240") in out


@needs_pillow
def test_gif_frames_are_the_rendered_frames_and_differ_while_weights_change(moons_run, tmp_path):
    path = tmp_path / "t.gif"
    assert export(moons_run, path, frames="0:10", fps="20")[0] == 0
    decoded = gif_frames(path)
    scene = video.Scene(moons_run, video.DEFAULT_SIZE, list(range(10)))
    for k, frame in enumerate(decoded):  # what the GIF shows is exactly what was drawn
        assert np.array_equal(frame, rgb(scene.render(k)))
    for a, b in zip(decoded, decoded[1:]):  # the weights change every frame: so do the pictures of them
        assert not np.array_equal(crop(a, scene.main_rect), crop(b, scene.main_rect))
        assert not np.array_equal(a, b)
    assert any(not np.array_equal(crop(a, scene.boundary_area), crop(b, scene.boundary_area))
               for a, b in zip(decoded, decoded[1:]))
    with Image.open(path) as im:
        assert im.info["duration"] == 50


@needs_pillow
def test_frames_with_the_same_weights_differ_only_in_title_and_cursor(frozen_run):
    before = frozen_run.params(0)["W1"]
    assert all(np.array_equal(frozen_run.params(i)["W1"], before) for i in range(frozen_run.frames))
    scene = video.Scene(frozen_run, (480, 270), list(range(frozen_run.frames)))
    first, again, later = rgb(scene.render(0)), rgb(scene.render(0)), rgb(scene.render(5))
    assert np.array_equal(first, again)  # same frame, same title: the same picture
    changed = np.any(first != later, axis=-1)
    title, curves = np.zeros_like(changed), np.zeros_like(changed)
    title[:scene.title_rect[3]] = True
    curves[scene.curves_rect[1]:scene.curves_rect[3], scene.curves_rect[0]:scene.curves_rect[2]] = True
    assert changed[title].any() and changed[curves].any()  # the frame number and the cursor moved
    assert not changed[~(title | curves)].any()  # the diagram and the boundary did not


@needs_pillow
def test_digits_sized_gif_shows_unit_tiles_and_stays_a_few_mb(digits_sized_run, tmp_path):
    run = digits_sized_run
    assert run.frames == 101
    path = tmp_path / "digits.gif"
    status, out = export(run, path)
    assert status == 0, out
    assert path.stat().st_size < 4 * 2**20
    scene = video.Scene(run, video.DEFAULT_SIZE, [0, 100])
    assert scene.tiles is not None and scene.boundary_rect is None
    with Image.open(path) as im:
        assert im.n_frames == 101 and im.size == video.DEFAULT_SIZE
    a, b = rgb(scene.render(0)), rgb(scene.render(100))
    assert not np.array_equal(crop(a, scene.main_rect), crop(b, scene.main_rect))


@needs_pillow
def test_a_terminal_sees_a_progress_bar(moons_run, tmp_path):
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=True)
    assert video.export(moons_run, tmp_path / "t.gif", frames="4", size="320x180", console=console) == 0
    assert "drawing frames" in out.getvalue() and "4/4" in out.getvalue()


@needs_pillow
def test_png_frames_export_writes_one_file_per_frame(moons_run, tmp_path):
    folder = tmp_path / "frames"
    status, out = export(moons_run, str(folder) + "/", frames="5", size="320x180")
    assert status == 0, out
    names = sorted(os.listdir(folder))
    assert names == [f"frame_{k:04d}.png" for k in range(5)]
    chosen = video.parse_frames("5", moons_run.frames)
    scene = video.Scene(moons_run, (320, 180), chosen)
    with Image.open(folder / "frame_0004.png") as im:
        assert im.size == (320, 180)
        assert np.array_equal(rgb(im), rgb(scene.render(chosen[-1])))
    # an existing folder needs no trailing slash; fewer frames than before: the older ones are named
    status, out = export(moons_run, folder, frames="3", size="320x180")
    assert status == 0 and "2 older frame files" in out


@needs_pillow
def test_the_replay_command_exports(moons_run, tmp_path, capsys):
    from inspector.cli import main
    path = tmp_path / "cli.gif"
    assert main(["replay", str(moons_run.path), "--export", str(path), "--frames", "3", "--size", "320x180"]) == 0
    with Image.open(path) as im:
        assert im.n_frames == 3 and im.size == (320, 180)
    assert main(["replay", str(moons_run.path), "--export", str(path), "--fps", "0"]) == 2
    assert "--fps 0: expected frames per second from 1 to 50" in capsys.readouterr().out


# -- refusals: one message, nothing written ------------------------------------------------------
@pytest.mark.parametrize("options, message", [
    ({"fps": "0"}, "--fps 0: expected frames per second from 1 to 50, like --fps 10"),
    ({"fps": "fast"}, "--fps fast: expected frames per second"),
    ({"fps": "nan"}, "--fps nan: expected frames per second"),
    ({"size": "10x10"}, "--size 10x10: the width must be from 320 to 1920 and the height from 180 to 1080"),
    ({"size": "640"}, "--size 640: expected WIDTHxHEIGHT in pixels, like --size 640x360"),
    ({"size": "-640x360"}, "--size -640x360: expected WIDTHxHEIGHT"),
    ({"frames": "0"}, "--frames 0: N must be from 1 to"),
    ({"frames": "9999"}, "--frames 9999: N must be from 1 to"),
    ({"frames": "5:2"}, "--frames 5:2 selects no frame: A must be less than B"),
    ({"frames": "0:10:0"}, "--frames 0:10:0: the STEP of A:B:STEP must be 1 or more"),
    ({"frames": "9999:"}, "--frames 9999:: A is past the last frame"),
    ({"frames": "1-5"}, "--frames 1-5: write N (N evenly spaced frames), A:B or A:B:STEP"),
    ({"frames": "-3:"}, "--frames -3:: write N"),
])
def test_bad_options_give_one_message(moons_run, tmp_path, options, message):
    path = tmp_path / "x.gif"
    status, out = export(moons_run, path, **options)
    assert status == 2
    assert out.startswith("error: ") and message in out and out.count("\n") == 1
    assert os.listdir(tmp_path) == []


def test_bad_paths_give_one_message(moons_run, tmp_path):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "link.gif").symlink_to(tmp_path / "a_file")
    cases = {
        tmp_path / "training.mp4": "give a file ending in .gif (an animated GIF) or a folder ending in /",
        tmp_path / "missing" / "t.gif": "the folder",
        str(tmp_path / "missing" / "frames") + "/": "does not exist",
        str(tmp_path / "a_file") + "/": "is a file, not a folder",
        tmp_path / "link.gif": "is a symbolic link",
    }
    for path, message in cases.items():
        status, out = export(moons_run, path)
        assert status == 2 and message in out and out.count("\n") == 1, (path, out)
    assert sorted(os.listdir(tmp_path)) == ["a_file", "link.gif"]
    fake_gif = tmp_path / "run.gif"
    os.link(moons_run.path, fake_gif)  # the run file itself, under a .gif name: never overwritten
    status, out = export(moons_run, fake_gif)
    assert status == 2 and "is also an input" in out


def test_too_many_pixels_for_one_gif_is_refused(moons_run, tmp_path, monkeypatch):
    monkeypatch.setattr(video, "MAX_GIF_PIXELS", 320 * 180 * 4)
    status, out = export(moons_run, tmp_path / "x.gif", frames="5", size="320x180")
    assert status == 2 and "5 frames of 320×180 are too many pixels for one GIF" in out
    assert os.listdir(tmp_path) == []


@needs_pillow
def test_a_failed_write_leaves_no_partial_file(moons_run, tmp_path, monkeypatch):
    (tmp_path / "training.gif").write_bytes(b"the previous GIF")
    real_save = Image.Image.save

    def save_then_fail(self, fp, *args, **kwargs):
        real_save(self, fp, *args, **kwargs)  # the bytes are written, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", save_then_fail)
    status, out = export(moons_run, tmp_path / "training.gif", frames="3")
    assert status == 2
    assert "cannot write" in out and "No space left on device" in out and out.count("\n") == 1
    assert os.listdir(tmp_path) == ["training.gif"]  # no temporary file left behind
    assert (tmp_path / "training.gif").read_bytes() == b"the previous GIF"  # and the old file untouched


def test_without_pillow_the_message_says_what_to_install(moons_run, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "PIL" or m.startswith("PIL.")] + ["PIL"]:
        monkeypatch.setitem(sys.modules, name, None)  # `import PIL` now fails, as where it is not installed
    status, out = export(moons_run, tmp_path / "x.gif")
    assert status == 2
    assert "making a video needs Pillow, which is not installed; install it with: pip install 'nndb[video]'" in out
    assert os.listdir(tmp_path) == []


def test_nndb_does_not_import_pillow_until_a_video_is_made():
    code = "import sys, inspector.cli, inspector.video, inspector.runs; print('PIL' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# -- the options' parsers ----------------------------------------------------------------------------
def test_frames_specs_select_the_frames_they_say():
    assert video.parse_frames("5", 21) == [0, 5, 10, 15, 20]
    assert video.parse_frames("1", 21) == [0]
    assert video.parse_frames("21", 21) == list(range(21))
    assert video.parse_frames("::50", 120) == [0, 50, 100]
    assert video.parse_frames("3:", 6) == [3, 4, 5]
    assert video.parse_frames("0:100", 6) == list(range(6))  # B past the end: up to the last frame
    assert video.parse_frames(None, 40) == list(range(40))
    default = video.parse_frames(None, 400)
    assert len(default) == video.DEFAULT_FRAMES and default[0] == 0 and default[-1] == 399
    assert video.parse_size("800x450") == (800, 450) and video.parse_size((320, 180)) == (320, 180)
    assert video.parse_fps("12.5") == 12.5


@needs_pillow
def test_a_diverging_run_still_draws(tmp_path):
    with np.errstate(all="ignore"):
        run = moons(tmp_path, lr=1e6, epochs=2, name="wild.run.npz")
    assert not np.isfinite(run.params(run.frames - 1)["W3"]).all()  # the weights overflowed to inf and NaN
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        status, out = export(run, tmp_path / "wild.gif", frames="4")
    assert status == 0, out
    with Image.open(tmp_path / "wild.gif") as im:
        assert im.n_frames == 4


def test_the_diagrams_first_column_is_called_inputs_only_when_it_is_the_networks_input():
    """After an RNN (not drawn), the first drawn column is the RNN's units, not the inputs."""
    from types import SimpleNamespace

    from inspector.video import column_noun
    reads = lambda symbol: SimpleNamespace(layers=[SimpleNamespace(input_symbol=symbol)])  # noqa: E731
    assert [column_noun(reads("X"), k) for k in (0, 1)] == ["input", "unit"]
    assert column_noun(reads("H1"), 0) == "unit"
