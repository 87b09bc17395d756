"""The replay's speed measures keep what is drawn: lines built in one Strip, the collector's full pass only when idle."""
from __future__ import annotations

import asyncio
import gc

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from inspector.tui.replay import NO_FULL_PASS, LinesView, ReplayApp
from test_replay import moons_run, record  # noqa: F401  (the module's fixture, shared)


def test_lines_view_draws_a_line_as_the_strip_api_would(moons_run):  # noqa: F811
    """render_line builds one Strip per line; its segments are those of Strip.extend_cell_length + apply_style."""
    async def go():
        app = ReplayApp(moons_run)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            view = app.query_one("#panel-curves", LinesView)
            view.line_style, view.line_width = Style(bgcolor="black"), 30
            text = Text.assemble(("ab", "red"), ("c", "bold"))
            lines, rows = LinesView.lay_out([text], 30, app.console)
            view.show(lines, rows)
            expected = Strip(rows[0][0], rows[0][1]).extend_cell_length(30).apply_style(view.line_style)
            got = view.render_line(0)
            assert list(got) == list(expected)
            assert got.cell_length == 30
            assert view.plain == "abc"
            # a line wider than the panel is cropped to it, padded the same way
            wide = Text("x" * 40, style="red")
            view.show(*LinesView.lay_out([wide], 60, app.console))
            assert view.render_line(0).cell_length == 30
            assert view.render_line(0).text == "x" * 30
            assert view.render_line(5).text == " " * 30  # below the picture: blank
    asyncio.run(go())


def test_full_collection_waits_until_idle_and_thresholds_come_back(moons_run):  # noqa: F811
    before = gc.get_threshold()

    async def go():
        app = ReplayApp(moons_run)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert gc.get_threshold() == (before[0], before[1], NO_FULL_PASS)
            await pilot.press("right")
            await pilot.pause()
            assert app.stepped_since_collect
            app.collect_when_idle()  # a step just now: not idle yet
            assert app.stepped_since_collect
            app.last_step -= 5  # five seconds without a step
            app.collect_when_idle()
            assert not app.stepped_since_collect
    asyncio.run(go())
    assert gc.get_threshold() == before


def test_stepping_redraws_every_changed_line(moons_run):  # noqa: F811
    """Only the lines that differ are refreshed on a step: the screen after steps → → → is the one an app
    started at that frame draws in full."""
    async def screen_after(steps: int, start: int) -> str:
        app = ReplayApp(moons_run)
        app.frame = start
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            for _ in range(steps):
                await pilot.press("right")
                await pilot.pause()
            await pilot.pause()
            assert app.frame == start + steps
            return app.export_screenshot()

    async def go():
        stepped = await screen_after(3, 0)
        drawn = await screen_after(0, 3)
        assert "frame&#160;4/" in stepped  # the SVG writes spaces as &#160;
        assert stepped == drawn
    asyncio.run(go())
