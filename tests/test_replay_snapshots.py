"""SVG snapshots of `nndb replay` (pytest-textual-snapshot): a moons run at 80×24, an image run at 120×40."""
# Regenerate after an intended change of the layout with
#     python -m pytest tests/test_replay_snapshots.py --snapshot-update
# and look at the SVGs in tests/__snapshots__/test_replay_snapshots/. The runs are recorded here,
# seeded, under fixed file names (the label in the header is the file's stem).
from __future__ import annotations

import pytest

pytest.importorskip("pytest_textual_snapshot")

from engine.build import mlp  # noqa: E402
from inspector.tui.replay import ReplayApp  # noqa: E402
from test_replay import record  # noqa: E402


def test_moons_run_80x24_decision_boundary_at_the_last_frame(tmp_path, snap_compare):
    run = record(tmp_path / "moons.run.npz", "moons", epochs=12, every=4)
    assert snap_compare(ReplayApp(run), press=["end", "2"], terminal_size=(80, 24))


def test_image_run_120x40_every_panel(tmp_path, snap_compare):
    model = mlp([120, 24, 10], "relu", "he", seed=0)
    run = record(tmp_path / "segments-mlp.run.npz", "segments", epochs=3, every=3, model=model,
                 image_shape=(12, 10), flatten=True)
    assert snap_compare(ReplayApp(run), press=["end"], terminal_size=(120, 40))
