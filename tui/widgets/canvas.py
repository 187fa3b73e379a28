"""A 28x28 drawing canvas: a soft brush drawn at four times the resolution and averaged down, like MNIST's strokes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from textual import events, on
from textual.binding import Binding
from textual.containers import Container
from textual.geometry import Region
from textual.message import Message
from textual.widget import Widget

from tui.widgets.picture import Graphics, from_array, picture, shown_region

SIZE = 28
SCALE = 4  # strokes are drawn on a 112x112 canvas, then each 4x4 block is averaged
# The brush at 28x28: solid within CORE pixels of the stroke's centre line, fading to nothing at
# EDGE. About 3 px of ink across with soft, antialiased edges, as MNIST's pen strokes are.
CORE, EDGE = 1.0, 2.1
UNDO_DEPTH = 50
CURSOR_RGB = (255, 170, 0)
PEN_RGB = (255, 60, 60)
# Unpainted pixels are shown dark grey, not black: on a black terminal the canvas must show where it is.
PAPER = 28


class Drawing:
    """The pixels (no Textual here): strokes, undo, and the 28x28 picture a model gets."""

    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self.ink = np.zeros((size * SCALE, size * SCALE), np.float32)
        self._undo: list[np.ndarray] = []

    @property
    def empty(self) -> bool:
        """Nothing drawn."""
        return not self.ink.any()

    @property
    def can_undo(self) -> bool:
        """Something to take back."""
        return bool(self._undo)

    def checkpoint(self) -> None:
        """Remember the picture before a stroke (or a clear), for undo."""
        self._undo = [*self._undo[-(UNDO_DEPTH - 1):], self.ink.copy()]

    def undo(self) -> bool:
        """Take back the last stroke or clear; False if there was none."""
        if not self._undo:
            return False
        self.ink = self._undo.pop()
        return True

    def clear(self) -> None:
        """Rub everything out (undo brings it back)."""
        if not self.empty:
            self.checkpoint()
            self.ink[:] = 0.0

    def stroke(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        """Ink the segment between two points (x, y) in 28x28 pixel units; a dot if they are equal."""
        (ax, ay), (bx, by) = (np.array(p, np.float32) * SCALE for p in (start, end))
        core, edge = CORE * SCALE, EDGE * SCALE
        n = self.ink.shape[0]
        x0, x1 = max(0, int(min(ax, bx) - edge)), min(n, int(max(ax, bx) + edge) + 2)
        y0, y1 = max(0, int(min(ay, by) - edge)), min(n, int(max(ay, by) + edge) + 2)
        if x0 >= x1 or y0 >= y1:
            return
        # Distance from each pixel centre to the segment: a capsule, so fast drags leave no gaps.
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = np.zeros_like(xs) if length2 == 0 else np.clip(((xs - ax) * dx + (ys - ay) * dy) / length2, 0, 1)
        distance = np.hypot(xs - (ax + t * dx), ys - (ay + t * dy))
        ink = np.clip((edge - distance) / (edge - core), 0.0, 1.0)
        np.maximum(self.ink[y0:y1, x0:x1], ink, out=self.ink[y0:y1, x0:x1])

    def pixels(self) -> np.ndarray:
        """The drawing as MNIST has digits: uint8 [28, 28], white on black, each pixel the mean of its block."""
        blocks = self.ink.reshape(self.size, SCALE, self.size, SCALE).mean(axis=(1, 3))
        return np.clip(np.rint(blocks * 255.0), 0, 255).astype(np.uint8)


class DrawingCanvas(Container, can_focus=True):
    """Draw with the mouse (press and drag), or move a cursor with the arrows and paint with space."""

    DEFAULT_CSS = """
    DrawingCanvas {
        border-title-color: $foreground;
        width: 1fr;
        height: 1fr;
        align: center middle;
        border: round $primary 50%;
    }
    DrawingCanvas:focus { border: round $primary; }
    #canvas-picture { width: auto; height: auto; }
    """

    BINDINGS: ClassVar[list[Binding]] = [
        Binding("up", "move(0, -1)", "Up", show=False),
        Binding("down", "move(0, 1)", "Down", show=False),
        Binding("left", "move(-1, 0)", "Left", show=False),
        Binding("right", "move(1, 0)", "Right", show=False),
        Binding("space", "pen", "Pen", tooltip="Pen down (the arrows draw) or up (they move)", id="draw.pen"),
    ]

    @dataclass
    class Changed(Message):
        """The drawing changed: its 28x28 pixels, white on black."""

        canvas: DrawingCanvas
        pixels: np.ndarray

        @property
        def control(self) -> DrawingCanvas:
            """The canvas that sent it."""
            return self.canvas

    def __init__(self, graphics: Graphics, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._graphics = graphics
        self.drawing = Drawing()
        self.cursor = (SIZE // 2, SIZE // 2)  # (x, y), keyboard drawing only
        self.pen_down = False
        self.show_cursor = False  # once the keyboard is used: the mouse needs no cursor
        self._last: tuple[float, float] | None = None  # where the mouse stroke is now

    def compose(self):
        """One picture widget; the drawing is drawn into it."""
        yield picture(self._graphics, id="canvas-picture")

    @property
    def picture(self) -> Widget:
        """The picture widget the drawing is shown in."""
        return self.query_one("#canvas-picture")

    def on_mount(self) -> None:
        """Show the empty canvas."""
        self._draw()

    def _draw(self) -> None:
        grey = PAPER + self.drawing.pixels().astype(np.float32) * ((255 - PAPER) / 255)
        rgb = np.repeat(np.rint(grey).astype(np.uint8)[:, :, None], 3, axis=2)
        if self.show_cursor:
            x, y = self.cursor
            rgb[y, x] = PEN_RGB if self.pen_down else CURSOR_RGB
        self.picture.image = from_array(rgb)

    def changed(self) -> None:
        """Redraw and tell the screen."""
        self._draw()
        self.post_message(self.Changed(self, self.drawing.pixels()))

    def clear(self) -> None:
        """Rub everything out."""
        self.drawing.clear()
        self.pen_down = False
        self.changed()

    def undo(self) -> bool:
        """Take back the last stroke or clear."""
        if self.drawing.undo():
            self.changed()
            return True
        return False

    # Keyboard -------------------------------------------------------------------
    def action_move(self, dx: int, dy: int) -> None:
        """Move the cursor one pixel; with the pen down, ink the way."""
        x, y = self.cursor
        moved = (max(0, min(SIZE - 1, x + dx)), max(0, min(SIZE - 1, y + dy)))
        self.show_cursor = True
        if self.pen_down and moved != self.cursor:
            self.drawing.stroke(_centre(self.cursor), _centre(moved))
            self.cursor = moved
            self.changed()
        else:
            self.cursor = moved
            self._draw()

    def action_pen(self) -> None:
        """Put the pen down (painting a dot) or lift it."""
        self.show_cursor = True
        self.pen_down = not self.pen_down
        if self.pen_down:
            self.drawing.checkpoint()
            self.drawing.stroke(_centre(self.cursor), _centre(self.cursor))
            self.changed()
        else:
            self._draw()

    # Mouse ----------------------------------------------------------------------
    def _point(self, event: events.MouseEvent) -> tuple[float, float] | None:
        """The event's position in 28x28 pixel units, clamped to the canvas (a drag may leave it)."""
        content, inner = self.picture.content_region, shown_region(self.picture)
        region = Region(content.x + inner.x, content.y + inner.y, inner.width, inner.height)
        if not region.width or not region.height:
            return None
        px, py = event.pointer_screen_x, event.pointer_screen_y
        # Whole numbers are a cell's corner: aim at its centre (a pixel-precise terminal gives fractions).
        px, py = (px + 0.5 if px == int(px) else px), (py + 0.5 if py == int(py) else py)
        x = (px - region.x) / region.width * SIZE
        y = (py - region.y) / region.height * SIZE
        return float(np.clip(x, 0, SIZE - 0.01)), float(np.clip(y, 0, SIZE - 0.01))

    @on(events.MouseDown)
    def _mouse_down(self, event: events.MouseDown) -> None:
        """Start a stroke where the button went down."""
        point = self._point(event)
        if point is None or event.get_content_offset(self.picture) is None:
            return
        self.focus()
        self.capture_mouse()
        self.drawing.checkpoint()
        self.drawing.stroke(point, point)
        self._last = point
        self.changed()

    @on(events.MouseMove)
    def _mouse_move(self, event: events.MouseMove) -> None:
        """Ink from the last point to this one while the button is down."""
        if self._last is None:
            return
        point = self._point(event)
        if point is None or point == self._last:
            return
        self.drawing.stroke(self._last, point)
        self._last = point
        self.changed()

    @on(events.MouseUp)
    def _mouse_up(self, event: events.MouseUp) -> None:
        """End the stroke."""
        if self._last is not None:
            self._last = None
            self.capture_mouse(False)


def _centre(cell: tuple[int, int]) -> tuple[float, float]:
    return cell[0] + 0.5, cell[1] + 0.5
