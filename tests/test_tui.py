"""Pilot-driven tests of the Textual TUI: every key and command path, checked on the session and the widgets."""
from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from rich.text import Text

pytest.importorskip("textual")

from textual.command import CommandList, CommandPalette  # noqa: E402
from textual.widgets import DataTable, Input, RichLog, Sparkline, Static, TabbedContent, Tree  # noqa: E402

from engine.activations import ReLU  # noqa: E402
from engine.layers import Dense  # noqa: E402
from engine.losses import SoftmaxCrossEntropy  # noqa: E402
from engine.model import Sequential  # noqa: E402
from engine.optim import SGD  # noqa: E402
from engine.presets import Problem  # noqa: E402
from inspector import commands  # noqa: E402
from inspector.session import Session  # noqa: E402
from inspector.sources import open_preset  # noqa: E402
from inspector.tui import matrix as matrix_module  # noqa: E402
from inspector.tui.app import NndbApp  # noqa: E402
from inspector.tui.matrix import MatrixView  # noqa: E402
from inspector.tui.screens import EditScreen, GradcheckScreen, HelpScreen, TrainScreen  # noqa: E402
from inspector.tui.widgets import CommandBar, OpList  # noqa: E402

SIZE = (120, 40)


# -- driving the app -----------------------------------------------------------------------------
def drive(script, session: Session | None = None, size=SIZE) -> NndbApp:
    """Run ``await script(app, pilot)`` inside App.run_test on a fresh moons session; return the app."""
    app = NndbApp(session or open_preset("moons"))

    async def main():
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(app, pilot)

    asyncio.run(main())
    return app


async def type_text(pilot, text: str) -> None:
    await pilot.press(*["space" if ch == " " else ch for ch in text])


async def command(pilot, line: str) -> None:
    """Open the command bar with ':', put ``line`` in it and press Enter (typing each key is slow)."""
    if not isinstance(pilot.app.focused, CommandBar):
        await pilot.press("colon")
    bar = pilot.app.query_one(CommandBar)
    bar.value = line
    bar.cursor_position = len(line)
    await pilot.press("enter")
    await pilot.pause()


# -- reading the widgets -------------------------------------------------------------------------
def listing(app) -> dict[str, str]:
    """Option id → the plain text of its prompt, for every line of the op listing."""
    ops = app.query_one("#ops", OpList)
    out = {}
    for i in range(ops.option_count):
        option = ops.get_option_at_index(i)
        prompt = option.prompt
        out[option.id] = prompt.plain if isinstance(prompt, Text) else str(prompt)
    return out


def marked_current(app) -> list[int]:
    return [int(k) for k, line in listing(app).items() if k.isdigit() and "▶" in line]


def marked_breaks(app) -> list[int]:
    return [int(k) for k, line in listing(app).items() if k.isdigit() and "●" in line]


def equation(app) -> str:
    return str(app.query_one("#equation", Static).content)


def log_text(app) -> str:
    return "\n".join(strip.text for strip in app.query_one("#log", RichLog).lines)


def notes(app) -> list:
    return list(app._notifications)


def visible_views(app) -> list[MatrixView]:
    return [v for v in app.query_one("#op-panel").query(MatrixView) if v.display]


def view_symbols(app) -> list[str]:
    return [v.symbol for v in visible_views(app)]


def view_of(app, symbol: str) -> MatrixView:
    return next(v for v in visible_views(app) if v.symbol == symbol)


def assert_at(app, pos: int) -> None:
    """The session, the header, the listing and the equation all agree on op ``pos``."""
    s = app.session
    assert s.pos == pos
    assert marked_current(app) == ([pos] if pos >= 0 else [])
    assert app.query_one("#ops", OpList).selected_op == max(pos, 0)
    if pos >= 0:
        op = s.tape[pos]
        assert f"op {pos}/" in app.sub_title
        assert op.equation in equation(app)
        assert view_symbols(app)[:len(op.outputs)] == list(op.outputs)
    else:
        assert "at the start" in app.sub_title
        assert "at the start, before op 0" in equation(app)


# -- the start screen ------------------------------------------------------------------------------
def test_start_screen_shows_the_iteration_listing_and_start_values():
    async def script(app, pilot):
        s = app.session
        assert_at(app, -1)
        lines = listing(app)
        ops = [k for k in lines if k.isdigit()]
        assert ops == [str(op.index) for op in s.tape]
        assert [k for k in lines if k.startswith("phase-")] == [
            "phase-forward", "phase-loss", "phase-backward", "phase-update"]
        assert lines["0"].endswith("Z1 = X·W1 + b1")
        assert view_symbols(app) == ["X", "Y", "W1", "b1", "W2", "b2", "W3", "b3"]
        w1 = view_of(app, "W1")
        assert w1.array.shape == (2, 8)
        np.testing.assert_array_equal(w1.array, s.current.snapshot.params[s.model.param("W1").name])
        assert "2-8-8-2 ReLU net" in log_text(app)
        assert app.query_one("#ops", OpList).border_title == "iteration 1"
        assert isinstance(app.focused, OpList)
    drive(script)


# -- stepping keys -----------------------------------------------------------------------------------
def test_s_steps_one_op_and_every_view_follows():
    async def script(app, pilot):
        s = app.session
        for expected in range(3):
            await pilot.press("s")
            await pilot.pause()
            assert_at(app, expected)
        assert view_symbols(app) == ["Z2", "A1", "W2", "b2"]
        np.testing.assert_array_equal(view_of(app, "Z2").array, s.tape[2].outputs["Z2"])
        assert "(4×8)" in equation(app)  # the shapes under the symbols
        assert "op 2/29 · forward" in log_text(app)
    drive(script)


def test_n_runs_to_the_next_layer_and_r_to_the_end_of_the_phase():
    async def script(app, pilot):
        s = app.session
        await pilot.press("s", "n")
        await pilot.pause()
        assert_at(app, 1)
        assert s.op.layer == "relu1"
        await pilot.press("r")
        await pilot.pause()
        assert s.op.phase == "forward" and s.tape[s.pos + 1].phase == "loss"
        assert_at(app, s.pos)
        await pilot.press("r")
        await pilot.pause()
        assert s.op.phase == "loss" and s.tape[s.pos + 1].phase == "backward"
        assert "loss" in app.sub_title
    drive(script)


def test_c_continues_to_the_end_of_the_iteration_then_into_the_next():
    async def script(app, pilot):
        s = app.session
        await pilot.press("c")
        await pilot.pause()
        assert_at(app, len(s.tape) - 1)
        assert "stopped: end of iteration 1" in log_text(app)
        await pilot.press("c")
        await pilot.pause()
        assert s.current.number == 2
        assert app.query_one("#ops", OpList).border_title == "iteration 2"
        assert "iteration 2" in app.sub_title
        assert [n for n, _ in s.losses] == [1]
    drive(script)


def test_p_steps_back_and_errors_at_the_oldest_start():
    async def script(app, pilot):
        s = app.session
        await pilot.press("s", "s", "s", "p")
        await pilot.pause()
        assert_at(app, 1)
        await pilot.press("p", "p")
        await pilot.pause()
        assert_at(app, -1)
        await pilot.press("p")  # nothing before iteration 1: an error in the UI, not a crash
        await pilot.pause()
        assert_at(app, -1)
        assert "error: already at the start of the oldest iteration" in log_text(app)
        errors = [n for n in notes(app) if n.severity == "error"]
        assert errors and "oldest iteration" in errors[-1].message
        await pilot.press("s")
        await pilot.pause()
        assert_at(app, 0)
    drive(script)


def test_p_goes_back_into_the_previous_iteration():
    async def script(app, pilot):
        s = app.session
        await pilot.press("c", "s")
        await pilot.pause()
        assert (s.current.number, s.pos) == (2, 0)
        await pilot.press("p", "p")
        await pilot.pause()
        assert (s.current.number, s.pos) == (1, len(s.tape) - 1)
        assert_at(app, len(s.tape) - 1)
        assert "back into iteration 1" in log_text(app)
    drive(script)


def test_t_runs_to_the_highlighted_op_forward_and_back():
    async def script(app, pilot):
        await pilot.press("s", "down", "down", "down")
        await pilot.pause()
        assert app.query_one("#ops", OpList).selected_op == 3
        assert app.session.pos == 0  # moving the highlight runs nothing
        await pilot.press("t")
        await pilot.pause()
        assert_at(app, 3)
        await pilot.press("down", "down")  # across the "── loss ──" header, which is skipped
        await pilot.pause()
        assert app.query_one("#ops", OpList).selected_op == 5
        await pilot.press("up", "up", "up", "up", "t")
        await pilot.pause()
        assert_at(app, 1)
        await pilot.press("down", "enter")  # Enter runs to the highlighted op too
        await pilot.pause()
        assert_at(app, 2)
    drive(script)


def test_b_toggles_a_breakpoint_that_c_stops_at():
    async def script(app, pilot):
        s = app.session
        ops = app.query_one("#ops", OpList)
        ops.highlighted = ops.get_option_index("9")
        await pilot.press("b")
        await pilot.pause()
        name = s.tape[9].name
        assert [(b.spec, b.enabled) for b in s.breakpoints] == [(name, True)]
        assert marked_breaks(app) == [9]
        assert s.pos == -1 and ops.selected_op == 9  # the highlight stays where it was
        assert "breakpoint 1" in log_text(app)
        await pilot.press("c")
        await pilot.pause()
        assert_at(app, 9)
        assert f"stopped: breakpoint 1 ({name})" in log_text(app)
        await pilot.press("b")  # the highlight follows the current op: b removes it
        await pilot.pause()
        assert s.breakpoints == [] and marked_breaks(app) == []
        await pilot.press("c")
        await pilot.pause()
        assert_at(app, len(s.tape) - 1)
    drive(script)


def test_R_resets_to_the_start():
    async def script(app, pilot):
        s = app.session
        start_w1 = s.current.snapshot.params[s.model.param("W1").name].copy()
        await pilot.press("c", "c", "s")
        await pilot.pause()
        assert s.current.number == 3
        await pilot.press("R")
        await pilot.pause()
        assert (s.current.number, s.pos) == (1, -1)
        assert_at(app, -1)
        np.testing.assert_array_equal(view_of(app, "W1").array, start_w1)
    drive(script)


# -- matrix views: arrows, mouse, heat map --------------------------------------------------------------
def test_arrows_move_the_cell_cursor_within_bounds():
    async def script(app, pilot):
        x = view_of(app, "X")
        x.focus()
        await pilot.pause()
        await pilot.press("down", "right")
        assert x.cursor == (1, 1) and x.selected_index == (1, 1)
        assert x.selected_value == app.session.current.snapshot.X[1, 1]
        await pilot.press("right", "down", "down", "down", "down")
        assert x.cursor == (3, 1)  # clamped to the 4×2 array
        await pilot.press("left", "up")
        assert x.cursor == (2, 0)
        assert app.session.pos == -1  # arrows in a matrix step nothing
        await pilot.press("l")  # back to the listing
        assert isinstance(app.focused, OpList)
    drive(script)


def test_clicking_an_op_runs_to_it_and_clicking_a_cell_selects_it():
    async def script(app, pilot):
        # listing: border row, "── forward ──", then ops 0..4
        await pilot.click("#ops", offset=(6, 1 + 1 + 3))
        await pilot.pause()
        assert_at(app, 3)
        view = visible_views(app)[1]
        assert view.symbol == "Z2" and view.array.shape == (4, 8)
        # the content starts inside the border; row 0 is the column header; the label is 3 wide
        await pilot.click(f"#{view.id}", offset=(1 + view.label_width + 9 + 2, 1 + 1 + 2))
        await pilot.pause()
        assert view.cursor == (2, 1)
        assert app.focused is view
    drive(script)


def test_a_narrow_matrix_shows_whole_cells_and_scrolls_to_the_cursor():
    async def script(app, pilot):
        await pilot.press("s", "s", "s")
        await pilot.pause()
        z2 = view_of(app, "Z2")
        visible = z2.visible_cols()
        assert 1 <= visible < 8  # 4×8 does not fit at 80 columns

        def shown(row: int) -> list[str]:
            return z2.render_line(row + 1).text.split()[1:]  # after the row label

        def expected(row: int, cols) -> list[str]:
            return [matrix_module.fmt(float(z2.grid[row, c]), matrix_module.CELL - 1).strip() for c in cols]
        assert z2.render_line(0).text.split() == [str(c) for c in range(visible)]
        assert shown(0) == expected(0, range(visible))  # whole numbers only, none cut off
        z2.focus()
        await pilot.press(*["right"] * 7)
        await pilot.pause()
        assert z2.cursor == (0, 7)
        first = z2.first_col
        assert z2.render_line(0).text.split() == [str(c) for c in range(first, 8)]
        assert shown(0) == expected(0, range(first, 8))
        # a click lands on the cell drawn there, scrolled or not
        await pilot.click(f"#{z2.id}", offset=(1 + z2.label_width + 2, 1 + 1 + 1))
        await pilot.pause()
        assert z2.cursor == (1, first)
        await pilot.press("home")
        await pilot.pause()
        assert z2.cursor == (0, 0) and z2.first_col == 0
    drive(script, size=(80, 24))


def test_h_toggles_the_heat_map():
    async def script(app, pilot):
        w1 = view_of(app, "W1")
        w1.focus()
        await pilot.press("h")
        await pilot.pause()
        assert w1.heatmap
        strip = w1.render_line(0)
        colours = [seg.style.bgcolor for seg in strip if seg.style is not None and seg.style.bgcolor]
        assert len(colours) == 8  # one block per column of the 2×8 array
        await pilot.press("h")
        await pilot.pause()
        assert not w1.heatmap
        assert "0" in w1.render_line(0).text  # the column header is back
    drive(script)


# -- edit, explain, gradcheck ----------------------------------------------------------------------------
def test_e_edits_a_weight_the_rest_recomputes_and_changed_cells_are_marked():
    async def script(app, pilot):
        s = app.session
        loss_before = s.current.loss
        z1_before = s.tape[0].outputs["Z1"].copy()
        w1 = view_of(app, "W1")
        w1.focus()
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, EditScreen)
        assert app.screen.target == "W1[0,0]"
        field = app.screen.query_one("#edit-value", Input)
        assert float(field.value) == pytest.approx(w1.selected_value, rel=1e-5)
        await pilot.press("ctrl+u")
        await type_text(pilot, "2.5")
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, EditScreen)
        assert [(e.pos, e.target) for e in s.current.edits] == [(-1, "W1[0,0]")]
        assert view_of(app, "W1").array[0, 0] == 2.5
        assert s.current.loss != loss_before
        assert "loss of this iteration: " in log_text(app)  # in the output panel, no toast
        assert "» set W1[0,0] = 2.5" in log_text(app)
        await pilot.press("s")
        await pilot.pause()
        z1 = view_of(app, "Z1")
        w1_old = s.current.snapshot.params[s.model.param("W1").name][0, 0]
        expected = z1_before.copy()
        expected[:, 0] += (2.5 - w1_old) * s.current.snapshot.X[:, 0]
        np.testing.assert_allclose(z1.array, expected)
        # only neuron 0 of dense1 reads W1[0,0]: its column changed, nothing else
        assert z1.changed[:, 0].all() and not z1.changed[:, 1:].any()
        await pilot.press("s")
        await pilot.pause()
        a1 = view_of(app, "A1")
        assert not a1.changed[:, 1:].any()
    drive(script)


def test_e_with_a_bad_value_keeps_the_dialog_open_with_the_error():
    async def script(app, pilot):
        s = app.session
        await pilot.press("s")
        await pilot.pause()
        view_of(app, "Z1").focus()
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("ctrl+u")
        await type_text(pilot, "bogus")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, EditScreen)
        error = str(app.screen.query_one("#edit-error", Static).content)
        assert "bogus" in error
        assert s.current.edits == []
        assert "error:" in log_text(app)
        assert any(n.severity == "error" for n in notes(app))
        await pilot.press("ctrl+u", "enter")  # empty: asks for a value
        await pilot.pause()
        assert "type a value" in str(app.screen.query_one("#edit-error", Static).content)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, EditScreen)
        assert s.current.edits == [] and s.pos == 0
    drive(script)


def test_e_on_a_result_marks_it_and_stepping_back_undoes_the_edit():
    async def script(app, pilot):
        s = app.session
        await pilot.press("s")
        await pilot.pause()
        z1 = view_of(app, "Z1")
        z1.focus()
        await pilot.press("right", "e")
        await pilot.pause()
        assert app.screen.target == "Z1[0,1]"
        await pilot.press("ctrl+u")
        await type_text(pilot, "5")
        await pilot.press("enter")
        await pilot.pause()
        z1 = view_of(app, "Z1")
        assert z1.array[0, 1] == 5.0
        assert z1.changed.sum() == 1 and z1.changed[0, 1]
        assert "edited right after this op: Z1" in equation(app)
        await pilot.press("p")
        await pilot.pause()
        assert s.current.edits == [] and s.pos == -1
        assert "stepping back undid set Z1[0,1]" in log_text(app)
    drive(script)


def test_x_explains_the_selected_cell():
    async def script(app, pilot):
        await pilot.press("s")
        await pilot.pause()
        view_of(app, "Z1").focus()
        await pilot.press("down", "x")
        await pilot.pause()
        assert "» explain Z1[1,0]" in log_text(app)
        assert "Z1[1,0] = Σₖ X[1,k]·W1[k,0] + b1[0]" in log_text(app)  # in the output panel, no toast
        assert app.session.pos == 0
    drive(script)


def test_g_gradchecks_the_selected_neuron_in_a_modal():
    async def script(app, pilot):
        await pilot.press("s")
        await pilot.pause()
        view_of(app, "Z1").focus()
        await pilot.press("right", "right", "g")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, GradcheckScreen)
        assert screen.data["spec"].startswith("dense1")
        table = screen.query_one(DataTable)
        parameters = [table.get_row_at(i)[0] for i in range(table.row_count)]
        assert parameters == ["W1[0,2]", "W1[1,2]", "b1[2]"]  # neuron 2: its column of W1 and its bias
        assert all(r["rel_error"] < 1e-6 for r in screen.data["rows"])
        assert str(screen.query_one("#gradcheck-verdict", Static).content) == screen.message
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, GradcheckScreen)
        assert "» gradcheck dense1 2" in log_text(app)
    drive(script)


def test_g_on_an_input_warns_instead_of_checking():
    async def script(app, pilot):
        await pilot.press("g")  # at the start the first view is X: no neuron owns it
        await pilot.pause()
        assert not isinstance(app.screen, GradcheckScreen)
        warnings = [n for n in notes(app) if n.severity == "warning"]
        assert warnings and "X does not belong to a neuron" in warnings[-1].message
    drive(script)


# -- training -----------------------------------------------------------------------------------------
def test_T_trains_in_a_worker_with_progress():
    async def script(app, pilot):
        s = app.session
        await pilot.press("T")
        await pilot.pause()
        assert isinstance(app.screen, TrainScreen)
        await pilot.press("ctrl+u")
        await type_text(pilot, "30")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.pause()
        assert not isinstance(app.screen, TrainScreen)
        assert (s.current.number, s.pos) == (32, -1)
        assert "trained 30 iterations" in log_text(app)
        assert "» train 30" in log_text(app)
        assert "iteration 32" in app.sub_title
    drive(script)


def test_T_with_a_bad_count_shows_the_error_and_esc_closes():
    async def script(app, pilot):
        await pilot.press("T")
        await pilot.pause()
        await pilot.press("ctrl+u")
        await type_text(pilot, "lots")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, TrainScreen)
        assert "expected `train N`" in str(app.screen.query_one("#train-status", Static).content)
        assert app.session.current.number == 1
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, TrainScreen)
    drive(script)


# -- the command bar -----------------------------------------------------------------------------------
def test_command_bar_runs_commands_and_an_empty_line_repeats_stepping():
    async def script(app, pilot):
        s = app.session
        await pilot.press("colon")
        assert isinstance(app.focused, CommandBar)
        await type_text(pilot, "step 3")
        await pilot.press("enter")
        await pilot.pause()
        assert_at(app, 2)
        assert app.query_one(CommandBar).value == ""
        assert "» step 3" in log_text(app)
        await pilot.press("enter")  # still in the bar: the empty line repeats `step 3`
        await pilot.pause()
        assert_at(app, 5)
        await command(pilot, "until dense2.backward")
        assert s.op.layer == "dense2" and s.op.phase == "backward"
        await command(pilot, "goto 1")
        assert_at(app, 1)
        await pilot.press("escape")  # leaves the bar for the listing
        assert isinstance(app.focused, OpList)
    drive(script)


def test_command_bar_break_watch_print_set_and_where():
    async def script(app, pilot):
        s = app.session
        await command(pilot, "break dense3.backward")
        assert marked_breaks(app) == [8, 9, 10]
        await command(pilot, "watch norm(dW1)")
        await command(pilot, "continue")
        assert s.pos == 8 and "stopped: breakpoint 1" in log_text(app)
        await command(pilot, "print W1[0,0]")
        w = s.current.snapshot.params[s.model.param("W1").name][0, 0]
        assert f"{w:.4g}"[:5] in log_text(app)
        await command(pilot, "set lr = 0.5")
        assert s.get_hyper("lr") == 0.5 and [e.target for e in s.current.edits] == ["lr"]
        await command(pilot, "where")
        assert "» where" in log_text(app)
        await command(pilot, "delete all")
        assert s.breakpoints == [] and marked_breaks(app) == []
        await pilot.press("4")
        await pilot.pause()
        watches = str(app.query_one("#loss-tab #watches", Static).content)
        assert "norm(dW1)" in watches and "not computed yet" in watches
    drive(script)


def test_command_errors_show_in_the_log_and_a_notification_and_change_nothing():
    async def script(app, pilot):
        s = app.session
        await command(pilot, "s")
        for line, expected in [("frobnicate", "unknown command 'frobnicate'"),
                               ("set W1[9,0] = 1", "set:"),
                               ("goto 999", "out of range"),
                               ("print (((", "error"),
                               ("step -1", "expected a count")]:
            await command(pilot, line)
            assert app.is_running
            assert f"» {line}" in log_text(app)
            assert expected in log_text(app), line
            assert notes(app)[-1].severity == "error"
            assert (s.current.number, s.pos, s.current.edits) == (1, 0, [])
        await pilot.press("escape", "s")
        await pilot.pause()
        assert_at(app, 1)
    drive(script)


def test_command_bar_tab_completes_and_arrows_walk_the_history():
    async def script(app, pilot):
        await pilot.press("colon")
        bar = app.query_one(CommandBar)
        await type_text(pilot, "gradc")
        await pilot.press("tab")
        assert bar.value == "gradcheck "
        await pilot.press("ctrl+u")
        await type_text(pilot, "break dense2.ba")
        await pilot.press("tab")  # the longest common prefix of dense2.backward and its ops
        assert bar.value == "break dense2.backward"
        assert {"dense2.backward", "dense2.backward.dW2"} <= set(bar.candidates)
        await pilot.press("ctrl+u")
        await type_text(pilot, "s")
        await pilot.press("tab")  # several commands start with s: a notification lists them
        assert "step" in bar.candidates and "set" in bar.candidates
        assert any(n.title == "completions" and "step" in n.message for n in notes(app))
        await pilot.press("ctrl+u")
        for line in ("step 2", "where"):
            await type_text(pilot, line)
            await pilot.press("enter")
            await pilot.pause()
        await pilot.press("up")
        assert bar.value == "where"
        await pilot.press("up")
        assert bar.value == "step 2"
        await pilot.press("up")
        assert bar.value == "step 2"  # the oldest stays
        await pilot.press("down", "down")
        assert bar.value == ""
    drive(script)


def test_command_bar_quit_and_q_key_leave_the_app():
    async def script(app, pilot):
        await command(pilot, "quit")
    app = drive(script)
    assert not app.is_running and app.return_code == 0

    async def script_q(app, pilot):
        await pilot.press("s", "q")
        await pilot.pause()
    app = drive(script_q)
    assert not app.is_running and app.return_code == 0 and app.session.pos == 0


def test_command_palette_offers_the_commands():
    async def script(app, pilot):
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await type_text(pilot, "finish")
        await pilot.pause(0.3)
        hits = app.screen.query_one(CommandList)
        prompts = [str(hits.get_option_at_index(i).prompt) for i in range(hits.option_count)]
        assert prompts and prompts[0].startswith("finish: " + commands.REGISTRY["finish"].summary[:20])
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, CommandPalette)
        s = app.session
        assert s.op.phase == "forward" and s.tape[s.pos + 1].phase == "loss"
        assert_at(app, s.pos)
    drive(script)


# -- help and tabs -------------------------------------------------------------------------------------
def help_cells(screen) -> list[str]:
    cells = []
    for static in screen.query(Static):
        table = static.content
        if hasattr(table, "columns"):
            for column in table.columns:
                cells += [str(c) for c in column._cells]
    return cells


@pytest.mark.parametrize("key", ["question_mark", "f1"])
def test_help_lists_every_command_and_key(key):
    async def script(app, pilot):
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        cells = help_cells(app.screen)
        for c in commands.REGISTRY.values():
            assert any(cell.startswith(c.usage) for cell in cells), c.name
            assert c.summary in cells
        for k in ["?,f1", "s", "n", "p", "c", "r", "e", "x", "g", "T", ":", "q", "t", "b", "h", "tab"]:
            assert k in cells, k
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
    drive(script)


def test_number_keys_switch_tabs_params_network_loss():
    async def script(app, pilot):
        s = app.session
        tabs = app.query_one("#tabs", TabbedContent)
        await pilot.press("c")  # one whole iteration: gradients and a loss exist
        await pilot.press("2")
        await pilot.pause()
        assert tabs.active == "tab-params"
        tree = app.query_one("#param-tree", Tree)
        leaves = [leaf.data for layer in tree.root.children for leaf in layer.children]
        assert leaves == ["W1", "vW1", "b1", "vb1", "W2", "vW2", "b2", "vb2", "W3", "vW3", "b3", "vb3"]
        w1_label = tree.root.children[0].children[0].label.plain
        assert "2×8" in w1_label and "‖dW1‖" in w1_label
        tree.focus()
        await pilot.press("down", "down")  # root → dense1 → W1
        await pilot.pause()
        view = app.query_one("#param-view", MatrixView)
        assert view.symbol == "W1"
        np.testing.assert_array_equal(view.array, s.values_at()["W1"])

        await pilot.press("3")
        await pilot.pause()
        assert tabs.active == "tab-network"
        drawing = str(app.query_one("#network", Static).content)
        assert "W1ᵀ" in drawing and "W3ᵀ" in drawing and "units: example 0" in drawing

        await pilot.press("4")
        await pilot.pause()
        assert tabs.active == "tab-loss"
        plot = app.query_one("#loss-tab #loss-plot", Sparkline)
        assert list(plot.data) == [s.current.loss]
        assert "this iteration" in str(app.query_one("#loss-tab #loss-figures", Static).content)
        await pilot.press("c")  # into iteration 2, to its end
        await pilot.pause()
        assert list(plot.data) == [loss for _, loss in s.losses] + [s.current.loss]
        assert len(plot.data) == 2 and "(1 done)" in str(app.query_one("#loss-tab #loss-figures", Static).content)

        await pilot.press("1")
        await pilot.pause()
        assert tabs.active == "tab-op"
        visible_views(app)[0].focus()  # from inside a pane too: the focus leaves it, the tab switches
        await pilot.pause()
        await pilot.press("2")
        await pilot.pause()
        assert tabs.active == "tab-params" and isinstance(app.focused, OpList)
    drive(script)


def test_small_terminal_keeps_the_listing_current_op_and_command_bar():
    async def script(app, pilot):
        await pilot.press("s", "s")
        await pilot.pause()
        for selector in ("#ops", "#equation", "#command", "#log"):
            region = app.query_one(selector).region
            assert region.width > 0 and region.height > 0, selector
            assert region.right <= 80 and region.bottom <= 24, selector
        assert view_of(app, "A1").region.height > 2
        assert app.screen.has_class("short") and not app.screen.has_class("wide")
    drive(script, size=(80, 24))


def test_wide_terminal_shows_the_loss_column():
    async def script(app, pilot):
        await pilot.press("c")
        await pilot.pause()
        assert app.screen.has_class("wide")
        side = app.query_one("#side")
        assert side.region.width > 0
        assert list(app.query_one("#loss-side #loss-plot", Sparkline).data) == [app.session.current.loss]
    drive(script, size=(160, 48))


# -- a 784-128-10 network ---------------------------------------------------------------------------------
def big_session() -> Session:
    def factory(seed: int) -> Problem:
        rng = np.random.default_rng(seed)
        X = rng.random((64, 784))
        y = rng.integers(0, 10, 64)
        model = Sequential(Dense(784, 128, init="he"), ReLU(), Dense(128, 10, init="he"), seed=seed)
        return Problem("big", "784-128-10 on random digits-shaped data", model, SoftmaxCrossEntropy(),
                       SGD(model.parameters(), lr=0.1), X, y, batch_size=4, epochs=1,
                       classes=[str(k) for k in range(10)])
    return Session(factory, 0)


def test_big_network_shows_784x128_without_rendering_every_cell(monkeypatch):
    formatted = []
    real_fmt = matrix_module.fmt

    def counting_fmt(*args, **kwargs):
        formatted.append(args[0])
        return real_fmt(*args, **kwargs)

    async def script(app, pilot):
        s = app.session
        await command(pilot, "until dense1.update")
        assert s.op.name == "dense1.update.W1"
        w1 = view_of(app, "W1")
        assert w1.array.shape == (784, 128) and w1.grid.shape == (784, 128)
        assert "784×128" in w1.border_title
        assert w1.border_subtitle  # statistics for a big array
        np.testing.assert_array_equal(w1.array, s.model.param("W1").value)
        monkeypatch.setattr(matrix_module, "fmt", counting_fmt)
        w1.focus()
        await pilot.press("pagedown", "right")
        await pilot.pause()
        assert w1.cursor == (10, 1)
        assert formatted, "the view rendered no cell"
        assert len(formatted) < 5_000  # the visible window only, not 100,352 cells
        await pilot.press("h")
        await pilot.pause()
        assert w1.heatmap
        width = w1.scrollable_content_region.width
        lines = [w1.render_line(y) for y in range(w1.scrollable_content_region.height)]
        assert all(line.cell_length == width for line in lines)
        blocks = [seg for seg in lines[0] if seg.style is not None and seg.style.bgcolor]
        assert 0 < len(blocks) <= width  # the whole 128 columns, in blocks that fit the view
        assert len(formatted) < 5_000
    drive(script, session=big_session())


# -- 3-D and 4-D arrays: one 2-D slice at a time -------------------------------------------------------
def header_of(view: MatrixView) -> str:
    """The slice header line of a 3-D/4-D array's view."""
    return view.render_line(0).text


def test_conv_maps_show_one_slice_and_the_keys_move_example_and_channel():
    async def script(app, pilot):
        s = app.session
        await pilot.press("s")
        await pilot.pause()
        Z = s.tape[0].outputs["Z1"]
        z1, x, k1 = view_of(app, "Z1"), view_of(app, "X"), view_of(app, "K1")
        assert Z.shape == (4, 2, 4, 4)
        assert (z1.lead, x.lead, k1.lead) == ((0, 0), (0, 0), (0, 0))
        np.testing.assert_array_equal(z1.grid, Z[0, 0])
        assert z1.border_title == "Z1[0, 0, :, :]  4×2×4×4"
        assert "example 0 of 4" in header_of(z1) and "channel 0 of 2" in header_of(z1)
        assert "filter 0 of 2" in header_of(k1) and "channel 0 of 1" in header_of(k1)
        await pilot.press("greater_than_sign")  # from the listing: the op's first 4-D array
        await pilot.pause()
        assert z1.lead == (0, 1) and z1.border_title.startswith("Z1[0, 1, :, :]")
        np.testing.assert_array_equal(z1.grid, Z[0, 1])
        assert "channel 1 of 2" in header_of(z1)
        assert x.lead == (0, 0) and k1.lead == (0, 0)  # X has one channel; K1's first index is a filter
        await pilot.press("full_stop", "full_stop")
        await pilot.pause()
        assert z1.lead == (2, 1) and x.lead == (2, 0)  # every array of the batch shows the same example
        np.testing.assert_array_equal(x.grid, s.tape[0].inputs["X"][2, 0])
        assert k1.lead == (0, 0)
        await pilot.press("greater_than_sign", "full_stop", "full_stop", "full_stop")
        await pilot.pause()
        assert z1.lead == (3, 1)  # clamped to 4 examples, 2 channels
        await pilot.press("comma", "less_than_sign")
        await pilot.pause()
        assert z1.lead == (2, 0) and "example 2 of 4" in header_of(z1)
        await pilot.press("greater_than_sign", "s")  # the choice stays while stepping
        await pilot.pause()
        a1, z1 = view_of(app, "A1"), view_of(app, "Z1")
        assert a1.lead == (2, 1) and z1.lead == (2, 1)
        np.testing.assert_array_equal(a1.grid, s.tape[1].outputs["A1"][2, 1])
        a1.focus()
        await pilot.press("down", "right", "right")
        assert a1.selected_index == (2, 1, 1, 2)
        assert a1.selected_value == s.tape[1].outputs["A1"][2, 1, 1, 2]
        await command(pilot, "goto 11")  # relu backward: dA1, Z1 and dZ1 on the same slice
        assert [v.lead for v in visible_views(app)] == [(2, 1)] * 3
        assert view_of(app, "dZ1").border_title == "dZ1[2, 1, :, :]  4×2×4×4  (∂L/∂Z1)"
    drive(script, session=open_preset("bars"))


def test_a_focused_kernel_moves_by_filter_and_the_footer_offers_only_its_slice_keys():
    async def script(app, pilot):
        await pilot.press("s")
        await pilot.pause()
        k1 = view_of(app, "K1")
        k1.focus()
        await pilot.pause()
        shown = {b.action: enabled for _, b, enabled, _ in app.screen.active_bindings.values() if b.show}
        assert shown["app.slice(0, 1)"] and shown["app.slice(1, 1)"]
        await pilot.press("full_stop")
        await pilot.pause()
        assert k1.lead == (1, 0) and k1.border_title.startswith("K1[1, 0, :, :]")
        assert "filter 1 of 2" in header_of(k1)
        np.testing.assert_array_equal(k1.grid, app.session.tape[0].inputs["K1"][1, 0])
        assert view_of(app, "Z1").lead == (0, 0)  # filters and examples are different axes
        view_of(app, "b1").focus()
        await pilot.pause()
        active = app.screen.active_bindings.values()
        assert not any(enabled for _, b, enabled, _ in active if b.action.endswith("slice(0, 1)"))
        await pilot.press("full_stop")  # a 1-D array has nothing to slice: the key does nothing
        await pilot.pause()
        assert k1.lead == (1, 0) and view_of(app, "Z1").lead == (0, 0)
    drive(script, session=open_preset("bars"))


def test_clicking_the_arrows_of_a_slice_header_moves_the_slice():
    async def script(app, pilot):
        await pilot.press("s")
        await pilot.pause()
        z1 = view_of(app, "Z1")
        header_of(z1)  # lays the arrows out
        x0, _, axis, delta = next(a for a in z1.arrows if a[2:] == (1, 1))
        await pilot.click(f"#{z1.id}", offset=(1 + x0, 1))  # inside the border, the header line
        await pilot.pause()
        assert z1.lead == (0, 1) and app.focused is z1
        x0 = next(a for a in z1.arrows if a[2:] == (0, 1))[0]
        await pilot.click(f"#{z1.id}", offset=(1 + x0, 1))
        await pilot.pause()
        assert z1.lead == (1, 1)
        # a cell below the header and the column numbers is still a cell
        await pilot.click(f"#{z1.id}", offset=(1 + z1.label_width + 2, 1 + 2 + 3))
        await pilot.pause()
        assert z1.cursor == (3, 0) and z1.selected_index == (1, 1, 3, 0)
    drive(script, session=open_preset("bars"))


def test_editing_a_cell_of_a_slice_marks_it_and_the_heat_map_draws_the_slice():
    async def script(app, pilot):
        s = app.session
        await pilot.press("s")
        await pilot.pause()
        z1 = view_of(app, "Z1")
        z1.focus()
        await pilot.press("greater_than_sign", "right", "e")
        await pilot.pause()
        assert app.screen.target == "Z1[0,1,0,1]"
        await pilot.press("ctrl+u")
        await type_text(pilot, "5")
        await pilot.press("enter")
        await pilot.pause()
        z1 = view_of(app, "Z1")
        assert z1.array[0, 1, 0, 1] == 5.0 and z1.lead == (0, 1)
        assert z1.changed.shape == (4, 4) and z1.changed.sum() == 1 and z1.changed[0, 1]
        assert z1.changed_all.sum() == 1
        await pilot.press("less_than_sign")  # the other channel: nothing changed there
        await pilot.pause()
        assert z1.changed.sum() == 0
        await pilot.press("greater_than_sign", "h")
        await pilot.pause()
        assert z1.heatmap and "channel 1 of 2" in header_of(z1)  # the header stays above the blocks
        blocks = [seg for seg in z1.render_line(1) if seg.style is not None and (seg.style.bgcolor or seg.style.dim)]
        assert len(blocks) == 4  # one per column of the 4×4 slice (dim: a mean of 0)
        await pilot.press("h", "g")  # a cell of channel 1 belongs to filter 1 of conv1
        await pilot.pause()
        assert isinstance(app.screen, GradcheckScreen)
        assert app.screen.data["spec"] == "conv1 1"
        assert s.current.edits and s.current.edits[0].target == "Z1[0,1,0,1]"
    drive(script, session=open_preset("bars"))


def test_sequence_batches_show_one_example_and_a_smaller_batch_clamps_it():
    async def script(app, pilot):
        s = app.session
        await command(pilot, "until rnn1.backward.dWx1")
        x, dz1 = view_of(app, "X"), view_of(app, "dz1")
        assert x.array.shape == (4, 8, 1) and x.grid.shape == (8, 1)  # one example: T rows
        assert x.lead == (0,) and "rows: timestep t" in header_of(x)
        await pilot.press("escape", "full_stop", "full_stop", "full_stop")
        await pilot.pause()
        assert x.lead == (3,) and dz1.lead == (3,) and x.border_title.startswith("X[3, :, :]")
        np.testing.assert_array_equal(dz1.grid, s.op.inputs["dz1"][3])
        await pilot.press("greater_than_sign")  # no second index to move
        await pilot.pause()
        assert x.lead == (3,)
        await command(pilot, "batch 0:2")
        await command(pilot, "until rnn1.backward.dWx1")
        x = view_of(app, "X")
        assert x.array.shape == (2, 8, 1) and x.lead == (1,)  # clamped to the smaller batch
        np.testing.assert_array_equal(x.grid, s.op.inputs["X"][1])
    drive(script, session=open_preset("seq"))


def test_slice_keys_on_a_net_without_3d_arrays_warn():
    async def script(app, pilot):
        await pilot.press("s", "full_stop")
        await pilot.pause()
        warnings = [n for n in notes(app) if n.severity == "warning"]
        assert warnings and "nothing to slice" in warnings[-1].message
        assert all(not v.lead for v in visible_views(app))
    drive(script)


# -- the Time tab: ‖dh_t‖ per timestep of an RNN ---------------------------------------------------------
def test_time_tab_shows_the_norm_of_every_backward_step_computed_so_far():
    from inspector.render import fmt
    from inspector.tui.timeline import TimePanel

    async def script(app, pilot):
        s = app.session
        await pilot.press("5")
        await pilot.pause()
        tabs = app.query_one("#tabs", TabbedContent)
        panel = app.query_one("#time-panel", TimePanel)
        assert tabs.active == "tab-time"
        n = panel.norms
        assert (n.layer, n.T, n.backward, n.forward) == ("rnn1", 8, {}, {})
        await command(pilot, "until rnn1.backward")
        n = panel.norms
        first = s.op
        assert first.name == "rnn1.backward.dh1_7" and n.backward == pytest.approx({7: first.attrs["norm"]})
        assert n.current == ("backward", 7)
        assert n.forward == pytest.approx({t: float(np.linalg.norm(s.tape[t].outputs[f"h1_{t}"]))
                                           for t in range(8)})
        await pilot.press("escape", "s", "s", "s")
        await pilot.pause()
        n = panel.norms
        steps = {op.attrs["t"]: op.attrs["norm"] for op in s.tape[:s.pos + 1] if op.kind == "rnn.step_back"}
        assert sorted(steps) == [4, 5, 6, 7] and n.current == ("backward", 4)
        assert n.backward == pytest.approx(steps, rel=1e-12)  # the norms the engine recorded
        await command(pilot, "goto rnn1.backward.dh1_0")
        n = panel.norms
        steps = {op.attrs["t"]: op.attrs["norm"] for op in s.tape if op.kind == "rnn.step_back"}
        assert n.backward == pytest.approx(steps, rel=1e-12) and n.current == ("backward", 0)
        assert n.ratio == pytest.approx(steps[0] / steps[7])
        lines = rendered_lines(app.query_one("#time"))
        row0 = next(line for line in lines if line.split()[:2] == ["▶", "0"])
        assert fmt(steps[0]) in row0 and f"{steps[0] / steps[7]:.1e}" in row0
        for t in range(1, 8):
            assert any(line.split()[:1] == [str(t)] and fmt(steps[t]) in line for line in lines), t
        assert any(f"‖dh1_0‖ / ‖dh1_7‖ = {steps[0] / steps[7]:.1e}" in line for line in lines)
        await pilot.press("escape", "1")
        await pilot.pause()
        assert f"‖dh1_0‖ = {fmt(steps[0])}" in equation(app)
    drive(script, session=open_preset("seq"))


def test_time_tab_shows_an_edited_gradient_and_is_hidden_without_an_rnn():
    from inspector.tui.timeline import TimePanel

    async def script(app, pilot):
        s = app.session
        await command(pilot, "until rnn1.backward.dh1_5")
        await command(pilot, "set dh1_5 = 0")
        await pilot.press("escape", "5")
        await pilot.pause()
        n = app.query_one("#time-panel", TimePanel).norms
        assert n.backward[5] == 0.0 and s.op.attrs["norm"] != 0.0  # what the rest of the iteration used
    drive(script, session=open_preset("seq"))

    async def script_moons(app, pilot):
        tabs = app.query_one("#tabs", TabbedContent)
        await pilot.press("5")
        await pilot.pause()
        assert tabs.active == "tab-op"
        warnings = [n for n in notes(app) if n.severity == "warning"]
        assert warnings and "no" in warnings[-1].message and "Time tab" in warnings[-1].message
    drive(script_moons)


def rendered_lines(static) -> list[str]:
    """The plain text lines a Static draws (wide enough for its whole content)."""
    from rich.console import Console
    console = Console(width=200, record=True, color_system=None, file=io.StringIO())
    console.print(static.content)
    return console.export_text().splitlines()


def test_time_tab_bars_are_logarithmic_and_the_ratio_is_read_out():
    from inspector.render import BAR, PER_DECADE, gradient_verdict, log_bar

    assert log_bar(1.0, 1.0).plain == "█" * BAR
    assert log_bar(0.01, 1.0).plain.count("█") == BAR - 2 * PER_DECADE  # two factors of 10 less
    assert log_bar(1e-12, 1.0).plain.count("█") == 1  # below the scale: still visible
    assert log_bar(0.0, 1.0).plain.count("█") == 0
    verdict = gradient_verdict
    assert "vanishing" in verdict(3e-4, True).plain and "3333× less" in verdict(3e-4, True).plain
    assert "exploding" in verdict(500.0, False).plain and "so far" in verdict(500.0, False).plain
    assert "reaches back" in verdict(0.4, True).plain
    assert "no gradient reaches the first step" in verdict(0.0, True).plain


def test_network_summary_of_a_cnn_and_an_lstm_names_their_weights_and_output_shapes():
    from rich.console import Console

    from inspector.render import fmt
    from inspector.tui.network import summary

    def rows(preset):
        s = open_preset(preset)
        s.until("update")  # every gradient computed
        console = Console(file=io.StringIO(), width=140)
        console.print(summary(s))
        return s, {line.split()[0]: line.split() for line in console.file.getvalue().splitlines()[1:]}

    s, table = rows("segments")
    K1, dK1 = s.values_at()["K1"], s.values_at()["dK1"]
    assert table["conv1"][-5:] == ["K1", "8×1×3×3", fmt(float(np.linalg.norm(K1))), fmt(float(np.linalg.norm(dK1))),
                                    "4×8×12×10"]
    A1 = s.values_at()["A1"]
    assert table["relu1"][-1] == f"{np.mean(np.all(A1 <= 0, axis=0)):.0%}", "dead: 0 at that position for the batch"
    assert table["maxpool1"][-1] == "4×8×6×5" and table["dense2"][-5:-3] == ["W2", "240×10"]
    s, table = rows("seq-lstm")
    assert table["lstm1"][1:4] == ["h1_t", "=", "o⊙tanh(c1_t)"] and table["lstm1"][4:6] == ["Wx1", "1×32"]


def test_g_on_an_lstm_gate_column_checks_the_unit_it_belongs_to():
    async def script(app, pilot):
        n = app.session.model.layers[0].hidden_size
        assert app.neuron_of("Wx1", (0, 2 * n + 3)) == ("lstm1", 3), "column 2·n + 3: unit 3's candidate"
        assert app.neuron_of("b1", (3 * n + 5,)) == ("lstm1", 5)
        assert app.neuron_of("h1_2", (1, 4)) == ("lstm1", 4) and app.neuron_of("W2", (4, 1)) == ("dense2", 1)
        await command(pilot, "step")
        view_of(app, "h1_0").focus()
        await pilot.press("right", "right", "g")
        await pilot.pause()
        assert isinstance(app.screen, GradcheckScreen) and app.screen.data["spec"] == "lstm1 2"
    drive(script, session=open_preset("seq-lstm"))
