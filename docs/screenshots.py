"""Regenerate the SVG screenshots in docs/ (run from the repository root: python docs/screenshots.py)."""
from __future__ import annotations

import asyncio
from pathlib import Path

from inspector.sources import open_preset
from inspector.tui.app import NndbApp

DOCS = Path(__file__).parent


async def shoot(name: str, size: tuple[int, int], keys: list[str], preset: str = "moons",
                commands: tuple[str, ...] = ()) -> None:
    app = NndbApp(open_preset(preset))
    async with app.run_test(size=size) as pilot:
        for line in commands:
            app.run_command(line)
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
    # a CNN's 4-D arrays one H×W slice at a time: relu1.backward on example 1, channel 1
    await shoot("tui-cnn", (120, 36), ["greater_than_sign", "full_stop"], preset="bars", commands=("goto 11",))
    # an RNN's Time tab: ‖dh1_t‖ per timestep when backward has reached t = 2
    await shoot("tui-time", (120, 36), ["5"], preset="seq", commands=("goto rnn1.backward.dh1_2",))


if __name__ == "__main__":
    asyncio.run(main())
