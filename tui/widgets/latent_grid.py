"""The decoded latent grid as one picture, with a cursor moved by arrow keys or a click."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from textual import events, on
from textual.binding import Binding
from textual.containers import Container
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from tui.runtime import latent
from tui.widgets.halfcell import HalfcellPicture
from tui.widgets.picture import Graphics, from_array, picture, shown_region


class LatentGrid(Container, can_focus=True):
    """n x n decoded digits drawn as one picture; the cursor cell is framed in the picture itself."""

    DEFAULT_CSS = """
    LatentGrid {
        border-title-color: $foreground;
        width: 1fr;
        height: 1fr;
        align: center middle;
        border: round $primary 50%;
    }
    LatentGrid:focus { border: round $primary; }
    #grid-picture { width: auto; height: auto; }
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("up", "move(-1, 0)", "Up", show=False),
        Binding("down", "move(1, 0)", "Down", show=False),
        Binding("left", "move(0, -1)", "Left", show=False),
        Binding("right", "move(0, 1)", "Right", show=False),
        Binding("home", "jump(0, 0)", "First", show=False),
    ]

    @dataclass
    class CursorMoved(Message):
        """The cursor is on a new cell."""

        grid: LatentGrid
        row: int
        col: int

        @property
        def control(self) -> LatentGrid:
            """The grid that sent it."""
            return self.grid

    @dataclass
    class Resized(Message):
        """The grid's box has a new size."""

        grid: LatentGrid

        @property
        def control(self) -> LatentGrid:
            """The grid that sent it."""
            return self.grid

    cursor: reactive[tuple[int, int]] = reactive((0, 0), init=False)

    def __init__(self, graphics: Graphics, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._graphics = graphics
        self.n = 0
        self.tiles: np.ndarray | None = None

    def compose(self):
        """One picture widget; the grid is drawn into it."""
        yield picture(self._graphics, id="grid-picture")

    @property
    def picture(self) -> Widget:
        """The picture widget the grid is drawn into."""
        return self.query_one("#grid-picture")

    @property
    def coarse(self) -> bool:
        """Drawn in half-cell blocks, where a 28x28 digit is only a few cells wide."""
        return isinstance(self.picture, HalfcellPicture)

    def show(self, tiles: np.ndarray, n: int) -> None:
        """Show a new grid picture [n*28, n*28] and keep the cursor on the grid."""
        self.tiles, self.n = tiles, n
        row, col = self.cursor
        moved = (min(row, n - 1), min(col, n - 1))
        if moved != self.cursor:
            self.cursor = moved
        else:
            self._draw()
            self.post_message(self.CursorMoved(self, *moved))

    def on_resize(self) -> None:
        """Tell the screen (its first grid's size depends on the space it has)."""
        self.post_message(self.Resized(self))

    def watch_cursor(self, cursor: tuple[int, int]) -> None:
        """Redraw the frame and tell the screen."""
        self._draw()
        self.post_message(self.CursorMoved(self, *cursor))

    def _draw(self) -> None:
        if self.tiles is None:
            return
        row, col = self.cursor
        self.picture.image = from_array(latent.with_cursor(self.tiles, row, col), scale=1)

    def action_move(self, rows: int, cols: int) -> None:
        """Move the cursor, stopping at the edges."""
        if self.n:
            row, col = self.cursor
            self.cursor = (max(0, min(self.n - 1, row + rows)), max(0, min(self.n - 1, col + cols)))

    def action_jump(self, row: int, col: int) -> None:
        """Put the cursor on a cell."""
        if self.n:
            self.cursor = (row, col)

    @on(events.Click)
    def _click(self, event: events.Click) -> None:
        """Move the cursor to the clicked cell of the picture."""
        image = self.picture
        offset = event.get_content_offset(image)
        if offset is None or not self.n:
            return
        left, top, width, height = shown_region(image)
        x, y = offset.x - left, offset.y - top
        if 0 <= x < width and 0 <= y < height:
            self.focus()
            self.cursor = (y * self.n // height, x * self.n // width)
