"""The header row: every screen by its key, the one shown highlighted, then what runs the models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.widget import Widget

from tui.text import clean

# Each tab is " key title "; the title side gets what the tabs leave, down to this many columns.
TITLE_ROOM = 24
# The smallest terminal the screens are laid out for: below it the header says so, in place of the title.
SMALLEST = (80, 24)


class ScreenTabs(Widget):
    """One row naming every screen (`1 Classify  2 Latent space ...`), the current one highlighted;
    click a name to go there. The app's title and sub-title (provider, models folder) fill the rest."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"screen-tabs--tab", "screen-tabs--current", "screen-tabs--hover",
                                             "screen-tabs--title", "screen-tabs--small"}

    DEFAULT_CSS = """
    ScreenTabs { dock: top; width: 100%; height: 1; background: $panel; color: $foreground; }
    ScreenTabs > .screen-tabs--tab { color: $foreground 70%; }
    ScreenTabs > .screen-tabs--current { background: $primary; color: $text; text-style: bold; }
    ScreenTabs > .screen-tabs--hover { background: $primary 40%; color: $text; }
    ScreenTabs > .screen-tabs--title { color: $foreground 70%; }
    ScreenTabs > .screen-tabs--small { color: $warning; text-style: bold; }
    """

    def __init__(self, screens: Sequence[tuple[str, str, str]], current: str, *, id: str | None = None) -> None:
        """`screens` holds (key, mode, title) for each screen, in order; `current` is this screen's mode."""
        super().__init__(id=id)
        self.screens = list(screens)
        self.current = current
        self._spans: list[tuple[int, int, str]] = []  # (start, end, mode) of each tab as last drawn
        self._hover: str | None = None  # the tab under the mouse

    def on_mount(self) -> None:
        """Redraw when the title or sub-title changes (the provider arrives from a worker)."""
        self.watch(self.app, "title", self._title_changed, init=False)
        self.watch(self.app, "sub_title", self._title_changed, init=False)
        # A terminal made shorter only leaves this row's width alone: the layout signal still comes.
        self.screen.screen_layout_refresh_signal.subscribe(self, self._layout_changed)
        self._small = self.too_small()

    def too_small(self) -> bool:
        """Whether the terminal is smaller than the screens are laid out for."""
        columns, rows = self.app.size
        return columns < SMALLEST[0] or rows < SMALLEST[1]

    def _layout_changed(self, _screen: object) -> None:
        if self.too_small() != self._small:
            self._small = not self._small
            self.refresh()

    def _title_changed(self) -> None:
        self.refresh()

    def labels(self, width: int) -> list[str]:
        """Each tab's text, as long as WIDTH allows: full titles, first words, or keys beside the current one's."""
        full = [f" {key} {title} " for key, _, title in self.screens]
        short = [f" {key} {title.split()[0]} " for key, _, title in self.screens]
        keys = [f" {key} {title.split()[0]} " if mode == self.current else f" {key} " for key, mode, title in self.screens]
        for labels in (full, short):
            if sum(map(len, labels)) + TITLE_ROOM <= width:
                return labels
        return short if sum(map(len, short)) <= width else keys

    def title_text(self, room: int) -> str:
        """The app's title and sub-title, as the stock header shows them; the sub-title alone (what runs
        the models, and from where) if both do not fit in ROOM."""
        title, sub_title = clean(self.app.title), clean(self.app.sub_title)
        both = f"{title} — {sub_title}" if sub_title else title
        return sub_title if len(both) > room and sub_title else both

    def render(self) -> Text:
        """The tabs from the left, the title against the right edge, cut with an ellipsis if short of room."""
        width = self.size.width
        tab_style = self.get_component_rich_style("screen-tabs--tab")
        current_style = self.get_component_rich_style("screen-tabs--current")
        hover_style = self.get_component_rich_style("screen-tabs--hover")
        text = Text(no_wrap=True, overflow="crop")
        self._spans = []
        for (_, mode, _), label in zip(self.screens, self.labels(width), strict=False):
            start = text.cell_len
            style = current_style if mode == self.current else hover_style if mode == self._hover else tab_style
            text.append(label, style=style)
            self._spans.append((start, text.cell_len, mode))
        room = width - text.cell_len - 2
        if self.too_small():  # parts of the screens are cut off: say so
            title = Text(f"⚠ needs {SMALLEST[0]}×{SMALLEST[1]}", style=self.get_component_rich_style("screen-tabs--small"))
            title.truncate(max(room, 0), overflow="ellipsis")
            text.append(" " * max(0, width - text.cell_len - title.cell_len - 1))
            text.append_text(title)
        elif room >= 8:
            title = Text(self.title_text(room), style=self.get_component_rich_style("screen-tabs--title"))
            title.truncate(room, overflow="ellipsis")
            text.append(" " * (width - text.cell_len - title.cell_len - 1))
            text.append_text(title)
        return text

    def mode_at(self, x: int) -> str | None:
        """The screen whose tab covers column X, if any."""
        return next((mode for start, end, mode in self._spans if start <= x < end), None)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """Light up the tab under the mouse: it can be clicked."""
        hover = self.mode_at(event.x)
        if hover != self._hover:
            self._hover = hover
            self.refresh()

    def on_leave(self) -> None:
        """The mouse left: no tab lit."""
        self._hover = None
        self.refresh()

    async def on_click(self, event: events.Click) -> None:
        """Go to the screen whose name was clicked."""
        mode = self.mode_at(event.x)
        if mode is not None and mode != self.current:
            event.stop()
            await self.app.run_action(f"goto('{mode}')")
