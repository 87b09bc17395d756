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


# -- 3. multi-line results are readable at 80×24, and the log scrolls with a key shown on it ---------------
def visible_log(app) -> list[str]:
    log = app.query_one("#log")
    return [log.render_line(y).text.rstrip() for y in range(log.scrollable_content_region.height)]


def test_explain_at_80x24_shows_every_line_in_the_output_panel():
    async def script(app, pilot):
        await pilot.press("s")
        await pilot.pause()
        view_of(app, "Z1").focus()
        await pilot.press("right", "right", "x")
        await pilot.pause()
        await pilot.pause()
        shown = "\n".join(visible_log(app))
        assert "» explain Z1[0,2]" in shown
        assert "= 0.5428" in shown and "k runs over the 2 inputs" in shown, shown
        assert not [n for n in app._notifications if n.title.startswith("explain")]  # no toast over the matrix
        assert isinstance(app.focused, type(view_of(app, "Z1")))  # the learner stays in the matrix
        await pilot.press("s")  # a one-line result: the panel is small again
        await pilot.pause()
        assert app.query_one("#log").region.height <= 4
        assert view_of(app, "A1").region.height > 2
    drive(script, size=SMALL)


def test_o_focuses_the_output_to_scroll_it_and_esc_goes_back():
    async def script(app, pilot):
        log = app.query_one("#log")
        assert "o" in str(log.border_subtitle)  # the key is on the panel itself
        await command(pilot, "help")  # longer than any panel
        await pilot.press("escape", "o")
        await pilot.pause()
        assert app.focused is log
        y = log.scroll_offset.y
        await pilot.press("up", "up", "up")
        await pilot.pause()
        assert log.scroll_offset.y < y
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is app.query_one("#ops")
    drive(script, size=SMALL)


# -- 4. where focus is and how to move it; the learner's keys fit the 80-column footer ----------------------
def footer_keys(app) -> dict[str, object]:
    from textual.widgets._footer import FooterKey
    return {k.key: k for k in app.query(FooterKey)}


def test_footer_at_80_columns_shows_the_learners_keys_and_nothing_stray_at_its_edge():
    async def script(app, pilot):
        keys = footer_keys(app)
        palette = next(k for k in keys.values() if k.has_class("-command-palette"))
        assert palette.region.right == 80  # no column of a hidden key shows through beside it
        for key in ("question_mark", "s", "p", "e", "x", "g", "colon"):
            assert key in keys and keys[key].display and keys[key].region.right <= palette.region.x, key
        shown = [k for k in keys.values() if k.display and k is not palette]
        assert all(k.region.right <= palette.region.x for k in shown)  # none cut, a letter showing
    drive(script, size=SMALL)


def test_a_hint_line_says_where_focus_is_and_tab_goes_from_the_listing_to_a_matrix():
    async def script(app, pilot):
        bar = app.query_one(CommandBar)
        assert "listing" in bar.placeholder and "Tab" in bar.placeholder
        await pilot.press("s", "tab")
        await pilot.pause()
        assert app.focused is view_of(app, "Z1")  # not the tab strip
        assert "Z1" in bar.placeholder and "e edit" in bar.placeholder and "Esc" in bar.placeholder
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is view_of(app, "X")
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is app.query_one("#ops") and "listing" in bar.placeholder
        await pilot.press("colon")
        await pilot.pause()
        assert "Tab completes" in bar.placeholder
        assert len(bar.placeholder) <= 78
    drive(script, size=SMALL)


# -- 5. an edit at the op that already read the value says so, and shows the new value marked --------------
def test_editing_an_operand_the_op_already_read_says_so_and_shows_it_edited():
    async def script(app, pilot):
        await pilot.press("s")  # op 0: Z1 = X·W1 + b1 has read W1
        await pilot.pause()
        w1 = view_of(app, "W1")
        w1.focus()
        await pilot.press("right", "e", "ctrl+u")
        await type_text(pilot, "0.5")
        await pilot.press("enter")
        await pilot.pause()
        w1 = view_of(app, "W1")
        assert w1.array[0, 1] == 0.5 and w1.changed_all[0, 1] and w1.changed_all.sum() == 1
        assert "edited" in str(w1.border_title)
        text = " ".join(" ".join(visible_log(app)).split())
        assert "takes effect for the ops after this one" in text and "goto start" in text, text
    drive(script, size=SMALL)


def test_readme_edit_example_changes_the_loss():
    from inspector.commands import Interpreter
    interp = Interpreter(open_preset("moons", seed=0))
    readme = open("README.md", encoding="utf-8").read()
    block = readme[readme.index("(nndb) step 3"):]
    lines = [row[:33].removeprefix("(nndb)").strip() for row in block[:block.index("```")].splitlines()]
    sets = [line for line in lines if line.startswith("set ")]
    assert sets
    for line in lines:
        if line.startswith(("gradcheck", "back", "continue", "break")):
            break
        result = interp.run(line)
        assert result.ok, (line, result.message)
        if line.startswith("set "):
            assert abs(result.data["loss_after"] - result.data["loss_before"]) > 1e-4, line


# -- 6. the Time tab fits beside the lesson panel at 120×40 -------------------------------------------------
def test_time_tab_fits_beside_the_lesson_panel_at_120x40():
    from lessons import all_lessons
    from lessons.runner import LessonRunner
    from lessons.tui import LessonApp
    lesson = next(item for item in all_lessons() if item.id == "vanishing-through-time")
    app = LessonApp(LessonRunner(lesson))

    async def main():
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            app.run_command("goto rnn1.backward.dh1_2")
            await pilot.press("escape", "5")  # a lesson starts in the command bar; Esc for single keys
            await pilot.pause()
            panel, body = app.query_one("#time-panel"), app.query_one("#time")
            assert body.region.width <= panel.scrollable_content_region.width
            console = Console(file=io.StringIO(), width=panel.scrollable_content_region.width)
            console.print(body.content)
            text = console.file.getvalue()
            assert all(len(line.rstrip()) <= panel.scrollable_content_region.width for line in text.splitlines())
            assert "‖dh1_t‖" in text and "▶  2" in text
    import asyncio
    asyncio.run(main())
