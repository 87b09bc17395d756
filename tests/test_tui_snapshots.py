"""SVG snapshots of the TUI (pytest-textual-snapshot): main screen, gradcheck, help, CNN slices, RNN Time tab."""
# Regenerate after an intended change of the layout with
#     python -m pytest tests/test_tui_snapshots.py --snapshot-update
# and look at the SVGs in tests/__snapshots__/test_tui_snapshots/. Everything shown is
# deterministic: seeded presets, no clock in the header, no notification on these paths, the
# command bar (the only blinking cursor) unfocused, and the gradcheck rows fixed (their last
# digits are floating-point noise that differs between BLAS builds; the real computation is
# tested in test_tui.py and test_session.py).
from __future__ import annotations

import pytest

pytest.importorskip("pytest_textual_snapshot")

from engine.gradcheck import GradRow  # noqa: E402
from inspector.commands import editing as editing_commands  # noqa: E402
from inspector.sources import open_preset  # noqa: E402
from inspector.tui.app import NndbApp  # noqa: E402
from inspector.tui.matrix import MatrixView  # noqa: E402

# rows of `gradcheck dense1 2` at op 0 of moons seed 0, to 9 digits; the errors as measured once
GRADCHECK_ROWS = [
    GradRow("W1[0,2]", 0.109566352, 0.109566352, 1.71e-10, False),
    GradRow("W1[1,2]", 0.0503609923, 0.0503609923, 1.05e-10, False),
    GradRow("b1[2]", 0.114960788, 0.114960788, 1.61e-10, False),
]


def app() -> NndbApp:
    return NndbApp(open_preset("moons", seed=0))


def test_main_screen_80x24_after_three_steps(snap_compare):
    assert snap_compare(app(), press=["s", "s", "s"], terminal_size=(80, 24))


def test_main_screen_160x48_in_the_second_iteration(snap_compare):
    # a whole iteration (the loss column has a point), then three ops into the next one
    assert snap_compare(app(), press=["c", "s", "s", "s"], terminal_size=(160, 48))


def test_gradcheck_view(snap_compare, monkeypatch):
    monkeypatch.setattr(editing_commands, "gradcheck", lambda session, spec: (list(GRADCHECK_ROWS), len(GRADCHECK_ROWS)))

    async def open_gradcheck(pilot):
        await pilot.press("s")
        await pilot.pause()
        view = next(v for v in pilot.app.query(MatrixView) if v.display and v.symbol == "Z1")
        view.focus()
        await pilot.pause()
        await pilot.press("right", "right", "g")
        await pilot.pause()
    assert snap_compare(app(), run_before=open_gradcheck, terminal_size=(120, 40))


def test_help_screen(snap_compare):
    assert snap_compare(app(), press=["question_mark"], terminal_size=(120, 40))


def test_conv_feature_maps_one_slice_at_a_time(snap_compare):
    # bars: relu1.backward shows dZ1, dA1 and Z1 on example 1, channel 1 (the keys move all three)
    async def go(pilot):
        pilot.app.run_command("goto 11")
        await pilot.pause()
        await pilot.press("greater_than_sign", "full_stop")
        await pilot.pause()
    assert snap_compare(NndbApp(open_preset("bars", seed=0)), run_before=go, terminal_size=(120, 40))


def test_rnn_time_tab_mid_backward(snap_compare):
    # seq: backward has reached t = 2; ‖dh1_t‖ for t = 7 … 2, the current step highlighted
    async def go(pilot):
        pilot.app.run_command("goto rnn1.backward.dh1_2")
        await pilot.press("5")
        await pilot.pause()
    assert snap_compare(NndbApp(open_preset("seq", seed=0)), run_before=go, terminal_size=(120, 40))
