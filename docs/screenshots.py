"""Regenerate the SVG screenshots in docs/ (run from the repository root: python docs/screenshots.py)."""
from __future__ import annotations

import asyncio
from pathlib import Path

from inspector.sources import open_preset
from inspector.tui.app import NndbApp

DOCS = Path(__file__).parent


async def shoot(name: str, size: tuple[int, int], keys: list[str]) -> None:
    app = NndbApp(open_preset("moons"))
    async with app.run_test(size=size) as pilot:
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await pilot.pause(0.3)
        app.save_screenshot(str(DOCS / f"{name}.svg"))
    print(f"wrote docs/{name}.svg")


async def main() -> None:
    await shoot("tui-main", (140, 42), ["s"] * 12)
    await shoot("tui-80x24", (80, 24), ["s"] * 3)
    await shoot("tui-gradcheck", (120, 36), ["s", "g"])
    await shoot("tui-help", (120, 40), ["question_mark"])
    await shoot("tui-network", (120, 36), ["s"] * 5 + ["3"])


if __name__ == "__main__":
    asyncio.run(main())
