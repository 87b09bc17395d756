"""The Cost tab (issue 14): hidden until `cost` runs, then the result, readable at 80×24 and 120×40."""
from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("textual")

from textual.widgets import Static, TabbedContent  # noqa: E402

from inspector.sources import open_preset  # noqa: E402
from inspector.tui.app import NndbApp  # noqa: E402
from test_tui import command  # noqa: E402


@pytest.fixture(autouse=True)
def cached(tmp_path, monkeypatch):
    """Known roofline figures: no test runs the probe."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "nndb").mkdir()
    (tmp_path / "nndb" / "roofline.json").write_text(json.dumps({"gflops": 50.0, "gbps": 10.0}))


def body_text(app) -> str:
    """The tab's text as rendered at the panel's width."""
    from rich.console import Console
    panel = app.query_one("#cost-panel")
    console = Console(width=panel.content_region.width, record=True, color_system=None)
    for part in panel.parts:
        console.print(part)
    return console.export_text()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_the_cost_tab_appears_with_the_first_cost_and_follows_the_iteration(size):
    app = NndbApp(open_preset("moons"))
    seen = {}

    async def main():
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            tabs = app.query_one("#tabs", TabbedContent)
            seen["hidden"] = tabs.get_tab("tab-cost").display
            await pilot.press("s", "s")
            await command(pilot, "cost")
            seen["active"] = tabs.active
            seen["shown"] = tabs.get_tab("tab-cost").display
            seen["panel"] = app.query_one("#cost-panel").region.width
            seen["after cost"] = body_text(app)
            seen["width"] = app.query_one("#cost-panel").content_region.width
            await command(pilot, "continue")
            await command(pilot, "step")  # into iteration 2
            await pilot.pause()
            seen["next iteration"] = body_text(app)
            await command(pilot, "cost --loop")
            seen["loop"] = body_text(app)
            await command(pilot, "cost --batch 0")  # an error: the tab keeps the last result
            seen["after error"] = body_text(app)
            app.query_one("#ops").focus()
            await pilot.press("1")
            seen["op tab"] = tabs.active

    asyncio.run(main())
    assert seen["hidden"] is False and seen["shown"] is True and seen["active"] == "tab-cost"
    assert seen["panel"] > 0
    assert "dense1.forward.Z1" in seen["after cost"] and "GPU estimate" in seen["after cost"]
    assert "…" not in seen["after cost"] and max(map(len, seen["after cost"].splitlines())) <= seen["width"]
    header = next(line for line in seen["after cost"].splitlines() if line.lstrip().startswith("op "))
    assert ("GFLOP/s" in header) == (seen["width"] >= 76)  # the compact table when narrow
    assert "measured at iteration 1 (now 2)" in seen["next iteration"]
    assert "pairs" in seen["loop"] and "same result" in seen["loop"]
    assert seen["after error"] == seen["loop"] and seen["op tab"] == "tab-op"
