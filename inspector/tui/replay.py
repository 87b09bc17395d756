"""`nndb replay RUN`: a recorded training run, frame by frame, every panel following the timeline."""
from __future__ import annotations

import gc
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
from rich.segment import Segment
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.events import Click
from textual.message import Message
from textual.widgets import Footer, Header, Static, Tab, Tabs

from engine.losses import LOSSES

from .. import runview
from ..boundary import decision_boundary
from ..guards import clean
from . import replaydraw as draw

SPEEDS = (1, 2, 5, 10, 20, 30)  # frames per second that + and − step through
WIDE = (120, 36)  # columns and rows from which every panel shows at once (a 2×2 grid)
PANELS = ("network", "view", "weights", "curves")
MAX_PICTURES = 256  # panels kept drawn (a frame's four, for the frames around the cursor)
PREFETCH_DELAY = 0.03  # seconds after a frame is shown before the next is drawn (a key pressed meanwhile first)
IDLE_COLLECT = 1.0  # seconds without a frame step before the garbage collector's full pass runs
NO_FULL_PASS = 1_000_000  # the collector's third threshold while the replay runs: no automatic full pass


class LinesView(ScrollView):
    """A panel's picture as lines of styled text, wrapped to the panel once per frame and drawn line by line
    (Textual's line API): a Static would lay out and wrap its whole content again on every frame step.

    A picture is kept as plain lists of segments, one a line: a Strip per line kept for every frame
    drawn (each Strip holds seven small caches) cost more to build and to carry than the drawing; a
    Strip is made only for the lines on screen, already padded to the panel and in its style."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rows: list[tuple[list[Segment], int]] = []
        self.lines: list[Text] = []

    def show(self, lines: list[Text], rows: list[tuple[list[Segment], int]]) -> None:
        old, self.lines, self.rows = self.rows, lines, rows
        size = Size(max((n for _, n in rows), default=0), len(rows))
        if size != self.virtual_size:  # an unchanged size needs no new scrollbars nor layout
            self.virtual_size = size
            self.refresh()
        elif rows is not old:
            # only the lines that differ from the last frame's are drawn again (Textual renders each
            # refreshed line through the panel's border and colours: half a step's time when all are)
            regions, width = [], max(self.virtual_size.width, self.size.width)
            changed = [k for k, row in enumerate(rows) if k >= len(old) or row != old[k]]
            for k in changed:
                if regions and regions[-1].bottom == k - self.scroll_offset.y:
                    regions[-1] = regions[-1].grow((0, 0, 1, 0))
                else:
                    regions.append(Region(0, k - self.scroll_offset.y, width, 1))
            if regions:
                self.refresh(*regions)

    @staticmethod
    def lay_out(picture, width: int, console) -> tuple[list, list[tuple[list[Segment], int]]]:
        """The lines of ``picture`` (a Text, or a list of Texts and PixelLines) wrapped to ``width``, and
        their rows (segments ready to draw, and their cells); a PixelLine is already its segments."""
        width = max(width, 1)
        lines, rows = [], []
        for part in [picture] if isinstance(picture, Text) else picture:
            if isinstance(part, draw.PixelLine):
                lines.append(part)
                rows.append((part.segments, part.cell_len))
                continue
            for line in part.split("\n", allow_blank=True) if "\n" in part.plain else [part]:
                # wrapping costs: only the lines that need it
                for piece in [line] if line.cell_len <= width else line.wrap(console, width, overflow="fold"):
                    lines.append(piece)
                    rows.append((list(piece.render(console)), piece.cell_len))
        return lines, rows

    @property
    def plain(self) -> str:
        return "\n".join(line.plain for line in self.lines)

    def render_lines(self, crop):
        # the widget's style (its background) and width once per refresh, not once per line
        self.line_style, self.line_width = self.rich_style, self.scrollable_content_region.width
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        x0, y0 = self.scroll_offset
        width, style = self.line_width, self.line_style
        k = y + y0
        if k >= len(self.rows):
            return Strip.blank(width, style)
        segments, cells = self.rows[k]
        if x0 or cells > width:  # scrolled sideways, or wider than the panel: Strip's own cropping
            return Strip(segments, cells).crop(x0, x0 + width).extend_cell_length(width).apply_style(style)
        # as Strip(...).extend_cell_length(width).apply_style(style) would, in one Strip
        styled = list(Segment.apply_style(segments, style))
        if cells < width:
            styled.append(Segment(" " * (width - cells), style))
        return Strip(styled, width)


class Timeline(Static):
    """The scrub bar: a track with the frame's position (●) and the epochs' ends (┃), clickable."""

    class Seek(Message):
        def __init__(self, frame: int):
            super().__init__()
            self.frame = frame

    def __init__(self, frames: int, marks: list[int], **kwargs):
        super().__init__(**kwargs)
        self.frames, self.marks = frames, marks
        self.state = (0, False, SPEEDS[2])

    def show(self, frame: int, playing: bool, fps: int) -> None:
        self.state = (frame, playing, fps)
        self.update(self.render_bar(), layout=False)  # two lines, always: no layout per frame

    def track_width(self) -> int:
        return max(self.content_region.width - 2, 10)

    def position(self, frame: int) -> int:
        return round(frame / max(self.frames - 1, 1) * (self.track_width() - 1))

    def render_bar(self) -> Text:
        frame, playing, fps = self.state
        width = self.track_width()
        track = ["─"] * width
        for k in self.marks:
            track[self.position(k)] = "┃"
        at = self.position(frame)
        bar = Text("▶ " if playing else "‖ ", style="bold")
        bar.append("".join(track[:at]), style="cyan")
        bar.append("●", style="bold yellow")
        bar.append("".join(track[at + 1:]), style="dim")
        status = f"{'playing' if playing else 'paused'} · {fps} fps · ┃ epoch end · ←→ Home End · space play · +/− speed"
        return bar + Text("\n") + Text(status, style="dim")

    def on_click(self, event: Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        x = offset.x - 2  # the track starts after "▶ "
        if 0 <= x < self.track_width() and offset.y == 0:
            self.post_message(self.Seek(round(x / max(self.track_width() - 1, 1) * (self.frames - 1))))


class ReplayApp(App):
    """The replay of a run: a timeline and the panels (all at once on a large terminal, one at a time at 80×24)."""

    CSS_PATH = Path(__file__).with_name("replay.tcss")
    TITLE = "nndb replay"
    BINDINGS = [
        Binding("left", "step(-1)", "Back", priority=True, tooltip="one frame back"),
        Binding("right", "step(1)", "Fwd", priority=True, tooltip="one frame forward"),
        Binding("space", "play", "Play/pause", priority=True, tooltip="play the frames, or pause"),
        Binding("home", "seek(0)", "First", priority=True, show=False, tooltip="the first frame"),
        Binding("end", "seek(-1)", "Last", priority=True, show=False, tooltip="the last frame"),
        Binding("plus,equals_sign", "speed(1)", "Faster", key_display="+", show=False, tooltip="more frames per second"),
        Binding("minus", "speed(-1)", "Slower", key_display="−", show=False, tooltip="fewer frames per second"),
        Binding("tab", "next_panel", "Panel", priority=True, tooltip="the next panel (80×24 shows one)"),
        Binding("1", "panel('network')", "Network", show=False),
        Binding("2", "panel('view')", "Boundary/units", show=False),
        Binding("3", "panel('weights')", "Weights", show=False),
        Binding("4", "panel('curves')", "Curves", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, run):
        super().__init__()
        self.run_data = run
        self.frame = 0
        self.playing = False
        self.fps = SPEEDS[2]
        self.timer = None
        self.model = run.model_at(0)  # the structure; each frame's weights are loaded into it
        self.loss = LOSSES[run.meta["loss"]]() if run.meta.get("loss") in LOSSES else None
        self.units = runview.pick_units(self.model, run.params(run.frames - 1))
        self.edges = runview.histogram_edges(run)
        self.first_hists = runview.histograms(run.params(0), self.edges)
        self.marks = runview.epoch_marks(run)
        self.x_max = max(float(np.nanmax(run.epoch)) if run.frames else 1.0, 1e-9)
        self.points = run.points
        self.view_kind = ("boundary" if self.points is not None and self.loss is not None
                          else "units" if run.image_shape else "none")
        self.active = "network"
        self.sub_title = clean(run.label, newlines=False)
        self.pictures: OrderedDict = OrderedDict()  # (panel, frame, width, height) → lines, rows, data
        self.loaded = 0  # the frame whose weights self.model holds
        self.direction = 1  # the way the last step went: the frame prefetched is the next one that way
        self.prefetch = True
        self.prefetch_timer = None
        self.chart_cache: dict = {}  # the curves' dots by chart and size: only the cursor moves
        self.shown: dict[str, object] = {}  # panel → what it draws now (tests read the values)
        self.last_step, self.stepped_since_collect = time.monotonic(), False  # for collect_when_idle
        self.gc_thresholds = gc.get_threshold()  # restored on unmount

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="frame-title")
        view_label = {"boundary": "2 Boundary", "units": "2 Units", "none": "2 Units"}[self.view_kind]
        yield Tabs(Tab("1 Network", id="network"), Tab(view_label, id="view"), Tab("3 Weights", id="weights"),
                   Tab("4 Curves", id="curves"), id="panel-tabs")
        with Container(id="panels"):
            for name, title in zip(PANELS, ("network: weights of this frame", view_label[2:].lower(),
                                            "weights: distribution and update ratio", "loss and accuracy")):
                panel = LinesView(id=f"panel-{name}", classes="panel")
                panel.border_title = title
                yield panel
        yield Timeline(self.run_data.frames, self.marks, id="timeline")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#panel-tabs", Tabs).can_focus = False  # ← → move frames, not tabs
        if self.view_kind == "boundary":
            self.query_one("#panel-view").border_title = "decision boundary: class predicted over the plane"
        elif self.view_kind == "units":
            self.query_one("#panel-view").border_title = "what the first layer's units see"
        self.set_active("network")
        self.call_after_refresh(self.show_frame)
        # The collector's full pass walks every object kept (Textual's, the run's, the panels drawn:
        # hundreds of thousands) and paused a frame step by 40–90 ms every ten or so. What startup built
        # is frozen (out of its passes, as in the debugger's app); the full pass runs only when the
        # replay is idle (collect_when_idle), which freezes what survived; the young generations still
        # collect as usual (≤ 2 ms). Both undone on unmount.
        gc.set_threshold(self.gc_thresholds[0], self.gc_thresholds[1], NO_FULL_PASS)
        gc.freeze()
        self.set_interval(IDLE_COLLECT / 2, self.collect_when_idle)

    def on_unmount(self) -> None:
        gc.set_threshold(*self.gc_thresholds)
        gc.unfreeze()

    def collect_when_idle(self) -> None:
        if self.stepped_since_collect and time.monotonic() - self.last_step >= IDLE_COLLECT and not self.playing:
            self.stepped_since_collect = False
            gc.collect()
            gc.freeze()  # what survived stays out of the next passes: the next one walks only what is newer

    def on_resize(self, event) -> None:
        wide = event.size.width >= WIDE[0] and event.size.height >= WIDE[1]
        self.screen.set_class(wide, "wide")
        self.call_after_refresh(self.show_frame)

    # -- what is shown ---------------------------------------------------------------------------
    def visible_panels(self) -> list[str]:
        return list(PANELS) if self.screen.has_class("wide") else [self.active]

    def set_active(self, name: str) -> None:
        self.active = name
        for panel in PANELS:
            self.query_one(f"#panel-{panel}").set_class(panel == name, "active")
        tabs = self.query_one("#panel-tabs", Tabs)
        if tabs.active != name:
            tabs.active = name

    def show_frame(self) -> None:
        """Draw frame ``self.frame`` in the title, the timeline and every visible panel."""
        run, i = self.run_data, self.frame
        title = self.query_one("#frame-title", Static)
        text = runview.frame_title(run, i)
        width = max(title.content_region.width, 1)
        height = -(-len(text) // width)
        # a layout pass only when the title needs another number of lines than the last frame's
        title.update(Text(text, style="bold"), layout=height != getattr(self, "title_height", None))
        self.title_height = height
        self.query_one("#timeline", Timeline).show(i, self.playing, self.fps)
        for name in self.visible_panels():
            lines, rows, self.shown[name] = self.picture(name, i)
            self.query_one(f"#panel-{name}", LinesView).show(lines, rows)
        if self.prefetch and self.prefetch_timer is None:
            # the next frame drawn while the user looks at this one: the next step only shows it
            self.prefetch_timer = self.set_timer(PREFETCH_DELAY, self.prefetch_next)
        self.last_step, self.stepped_since_collect = time.monotonic(), True

    def picture(self, name: str, frame: int):
        """Panel ``name`` of ``frame`` at the panel's size: (lines, rows, what it shows), kept for reuse."""
        width, height = self.panel_size(name)
        key = (name, frame, width, height)
        if key in self.pictures:
            self.pictures.move_to_end(key)
            return self.pictures[key]
        params = self.run_data.params(frame)
        if self.loaded != frame:
            for p in self.model.parameters():
                p.value = np.asarray(params[p.symbol], dtype=self.model.dtype)
            self.loaded = frame
        text, shown = getattr(self, f"draw_{name}")(frame, params, width, height)
        self.pictures[key] = (*LinesView.lay_out(text, width, self.console), shown)
        if len(self.pictures) > MAX_PICTURES:
            self.pictures.popitem(last=False)
        return self.pictures[key]

    def prefetch_next(self) -> None:
        self.prefetch_timer = None
        nxt = self.frame + 1 if self.direction > 0 else self.frame - 1
        if 0 <= nxt < self.run_data.frames:
            for name in self.visible_panels():
                self.picture(name, nxt)

    def panel_size(self, name: str) -> tuple[int, int]:
        # the width whether or not the vertical scrollbar shows (its column kept free): a picture drawn
        # before the scrollbar appeared would otherwise be wider than the panel, and redrawn after
        panel = self.query_one(f"#panel-{name}")
        width = panel.content_region.width - panel.styles.scrollbar_size_vertical
        return max(width, 20), max(panel.scrollable_content_region.height, 6)

    def draw_network(self, frame: int, params, width: int, height: int):
        d = runview.diagram(self.model, params, self.units)
        return draw.draw_diagram(d), d

    def draw_view(self, frame: int, params, width: int, height: int):
        if self.view_kind == "boundary":
            b = decision_boundary(self.model, self.loss, self.points[0], width, 2 * max(height - 3, 2))
            classes = self.run_data.meta["data"].get("classes") or []
            return [*draw.draw_boundary(b, self.points), draw.boundary_legend(b, classes)], b
        if self.view_kind == "units":
            tiles = runview.unit_tiles(self.model, params, self.run_data.image_shape)
            if tiles is not None:
                return draw.draw_tiles(tiles, width, height), tiles
        kind = self.run_data.meta["data"].get("kind", "table")
        return Text(f"nothing to draw here for {kind} data: a decision boundary needs 2 inputs (moons, circles, "
                    f"spiral, xor, a 2-column CSV) and the units' tiles need image inputs.", style="dim"), None

    def draw_weights(self, frame: int, params, width: int, height: int):
        hists = runview.histograms(params, self.edges)
        ratios = runview.update_ratios(self.run_data, frame, list(self.edges))
        return draw.draw_weights(hists, self.edges, ratios, width, self.first_hists), (hists, ratios)

    def draw_curves(self, frame: int, params, width: int, height: int):
        c = runview.curves(self.run_data, frame)
        return draw.draw_curves(c, self.x_max, width, height, self.chart_cache), c

    # -- the timeline ------------------------------------------------------------------------------
    def go_to(self, frame: int) -> None:
        frame = min(max(frame, 0), self.run_data.frames - 1)
        if frame != self.frame:
            self.direction = 1 if frame > self.frame else -1
            self.frame = frame
            self.show_frame()

    def action_step(self, delta: int) -> None:
        self.pause()
        self.go_to(self.frame + delta)

    def action_seek(self, frame: int) -> None:
        self.pause()
        self.go_to(frame if frame >= 0 else self.run_data.frames - 1)

    def on_timeline_seek(self, event: Timeline.Seek) -> None:
        self.action_seek(event.frame)

    def action_play(self) -> None:
        if self.playing:
            self.pause()
            self.show_frame()
            return
        if self.frame >= self.run_data.frames - 1:
            self.frame = 0  # play again from the start
        self.playing = True
        self.start_timer()
        self.show_frame()

    def start_timer(self) -> None:
        if self.timer is not None:
            self.timer.stop()
        self.timer = self.set_interval(1 / self.fps, self.tick)

    def pause(self) -> None:
        if self.timer is not None:
            self.timer.stop()
            self.timer = None
        self.playing = False

    def tick(self) -> None:
        if self.frame >= self.run_data.frames - 1:
            self.pause()
            self.show_frame()
            return
        self.go_to(self.frame + 1)

    def action_speed(self, direction: int) -> None:
        k = SPEEDS.index(self.fps) if self.fps in SPEEDS else 2
        self.fps = SPEEDS[min(max(k + direction, 0), len(SPEEDS) - 1)]
        if self.playing:
            self.start_timer()
        self.query_one("#timeline", Timeline).show(self.frame, self.playing, self.fps)

    # -- panels ------------------------------------------------------------------------------------
    def action_panel(self, name: str) -> None:
        self.set_active(name)
        self.call_after_refresh(self.show_frame)  # drawn to the size the panel has once shown

    def action_next_panel(self) -> None:
        self.action_panel(PANELS[(PANELS.index(self.active) + 1) % len(PANELS)])

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if event.tab is not None and event.tab.id != self.active:
            self.action_panel(event.tab.id)


def run_replay(run) -> int:
    ReplayApp(run).run()
    return 0
