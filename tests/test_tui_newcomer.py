"""Issue 16, items 1–6: what a newcomer met in the TUI at 80×24 and 120×40, each pinned by a Pilot test."""
from __future__ import annotations

import io

import numpy as np
import pytest
from rich.console import Console

pytest.importorskip("textual")

from textual.command import CommandPalette  # noqa: E402
from textual.widgets import Sparkline, Static, TabbedContent, Tree  # noqa: E402

from inspector.render import render_help  # noqa: E402
from inspector.commands import REGISTRY  # noqa: E402
from inspector.commands.control import command_data  # noqa: E402
from inspector.sources import open_preset  # noqa: E402
from inspector.tui.screens import HelpScreen  # noqa: E402
from inspector.tui.widgets import CommandBar  # noqa: E402
from test_tui import command, drive, type_text, view_of  # noqa: E402

SMALL = (80, 24)


# -- 1. the command palette leaves the cursor after the command it inserts -------------------------------
def test_palette_inserts_a_command_and_typing_continues_after_it():
    async def script(app, pilot):
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await type_text(pilot, "explain")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        bar = app.query_one(CommandBar)
        assert app.focused is bar and bar.value == "explain "
        assert bar.selection.is_empty and bar.cursor_position == len("explain ")
        await type_text(pilot, "Z1[0,2]")
        assert bar.value == "explain Z1[0,2]"
    drive(script, size=SMALL)


# -- 6. the smaller ones ----------------------------------------------------------------------------------
def test_heat_map_does_not_carry_over_to_the_next_ops_small_matrix():
    async def script(app, pilot):
        await pilot.press("s")
        await pilot.pause()
        z1 = view_of(app, "Z1")
        z1.focus()
        await pilot.press("h")
        await pilot.pause()
        assert z1.heatmap
        await pilot.press("s")  # relu1: A1 is shown in the view that held Z1
        await pilot.pause()
        assert not any(v.heatmap for v in app.query("#op-panel MatrixView") if v.display)
    drive(script, size=SMALL)


def test_optimizer_state_rows_line_up_with_their_parameter_in_the_parameters_tab():
    async def script(app, pilot):
        await pilot.press("c", "2")
        await pilot.pause()
        tree = app.query_one("#param-tree", Tree)
        dense1 = tree.root.children[0]
        w1, vw1, b1, vb1 = [leaf.label.plain for leaf in dense1.children]
        assert w1.index("2×8") == vw1.index("2×8")
        assert b1.index("8 ") == vb1.index("8 ")
        assert w1.index("‖·‖") == vw1.index("‖·‖")
    drive(script)


def test_help_of_a_command_reflows_its_prose_to_the_width_of_a_pipe():
    data = {"commands": [command_data(REGISTRY["gradcheck"])], "detail": True}
    out = io.StringIO()
    console = Console(file=out, width=80, color_system=None)
    for part in render_help(data)[2:]:  # the help text after usage and summary
        console.print(part)
    lines = out.getvalue().splitlines()
    # every line but the paragraph's last runs to the width: none is a word or two left by a hard break
    assert len(lines) >= 3 and all(len(line.rstrip()) >= 60 for line in lines[:-1]), lines
    data = {"commands": [command_data(REGISTRY["break"])], "detail": True}
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(*render_help(data))
    assert "  break if nan" in out.getvalue()  # an example table keeps its lines


def test_toasts_do_not_cover_the_help_screen():
    async def script(app, pilot):
        await command(pilot, "nonsense")  # an error toast
        assert list(app._notifications)
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert not list(app._notifications)
    drive(script, size=SMALL)


# -- 2. the Loss tab counts the iterations `train` ran ----------------------------------------------------
def test_loss_tab_shows_every_iteration_train_ran_and_marks_them():
    async def script(app, pilot):
        s = app.session
        await pilot.press("c")  # iteration 1 stepped through
        await pilot.pause()
        await command(pilot, "train 30")
        assert s.current.number == 32
        await pilot.press("escape", "4")
        await pilot.pause()
        figures = str(app.query_one("#loss-tab #loss-figures", Static).content)
        assert "(31 done)" in figures
        assert "2–31 trained at engine speed" in figures
        assert [i for i, _ in s.losses] == list(range(1, 32))
        plot = app.query_one("#loss-tab #loss-plot", Sparkline)
        assert len(plot.data) == 31 + 1  # every iteration's loss, and this one's
        await pilot.press("R")
        await pilot.pause()
        assert "trained" not in str(app.query_one("#loss-tab #loss-figures", Static).content)
    drive(script, size=SMALL)
