"""A line chart drawn with braille dots, as TensorBoard's scalars are read: ticks on both axes,
the values under the mouse, smoothing, a log scale; several series on shared axes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.reactive import reactive
from textual.widget import Widget

from tui.curves import can_log, label, nearest, nice_step, smooth

# Braille dot bits for (column, row) in a 2x4 cell, in Unicode's order.
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
_AXIS_WIDTH = 7
_HOVER = "on grey23"


@dataclass(frozen=True)
class Line:
    """One named series of points and the colour to draw it in."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str
    smoothable: bool = False  # noisy (per batch): with smoothing on, drawn faint under its average
    legend: bool = True


def _segment(x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int]]:
    """The dots on a straight line between two dots, ends included."""
    steps = max(abs(x1 - x0), abs(y1 - y0), 1)
    return [(round(x0 + (x1 - x0) * i / steps), round(y0 + (y1 - y0) * i / steps)) for i in range(steps + 1)]


def y_ticks(low: float, high: float, height: int) -> dict[int, float]:
    """Round values between LOW and HIGH by the row they fall in, about one every other row."""
    step = nice_step(high - low, max(2, height // 2))
    rows = height * 4 - 1
    ticks: dict[int, float] = {}
    for k in range(math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9) + 1):
        value = k * step
        ticks.setdefault(min(rows, max(0, round((high - value) / (high - low) * rows))) // 4, value)
    return ticks


class LineChart(Widget):
    """Lines over x from 0 to `x_max` epochs, y scaled to the data; the legend under the border."""

    DEFAULT_CSS = "LineChart { height: 8; }"

    smoothing: reactive[float] = reactive(0.0)
    log_y: reactive[bool] = reactive(False)
    hover: reactive[float | None] = reactive(None)  # the epoch under the mouse

    def __init__(self, title: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.border_title = Text(title)  # a metric's name, from the trainer: never markup
        self.lines: list[Line] = []
        self.x_max = 1.0

    def plot(self, lines: Sequence[Line], x_max: float) -> None:
        """Replace the lines and redraw."""
        self.lines = list(lines)
        self.x_max = max(float(x_max), 1e-9)
        self.border_subtitle = " ".join(f"[{line.color}]━[/] {line.name}" for line in self.lines if line.legend)
        self._retitle()
        self.refresh()

    def drawn(self) -> list[Line]:
        """The lines as drawn, in drawing order: with smoothing on, each noisy line faint and
        then its average in full colour."""
        out = []
        for line in self.lines:
            if line.smoothable and self.smoothing:
                out.append(Line(line.name, line.xs, line.ys, f"{line.color} dim", legend=False))
                line = Line(line.name, line.xs, smooth(line.ys, self.smoothing), line.color)
            out.append(line)
        return out

    @property
    def log_scale(self) -> bool:
        """A log scale is asked for and the data allows it (an ELBO never does)."""
        return self.log_y and can_log([y for line in self.lines for y in line.ys])

    def watch_smoothing(self) -> None:
        self._retitle()
        self.refresh()

    def watch_log_y(self) -> None:
        self._retitle()
        self.refresh()

    def watch_hover(self) -> None:
        self._retitle()
        self.refresh()

    def _retitle(self) -> None:
        """The title, then the scale and smoothing in use, then the values under the mouse."""
        parts = [self.title]
        if self.log_y:
            parts.append("log" if self.log_scale else "linear (values ≤ 0)")
        if self.smoothing:
            parts.append(f"smoothed {self.smoothing:g}")
        if self.hover is not None:
            values = [(line.name, nearest(line.xs, line.ys, self.hover))
                      for line in self.drawn() if line.legend]
            shown = " ".join(f"{name} {point[1]:.4g}" for name, point in values if point is not None)
            parts.append(f"epoch {self.hover:.2f}: {shown}")
        self.border_title = Text(" · ".join(parts))

    def _plot_size(self) -> tuple[int, int]:
        return max(1, self.size.width - _AXIS_WIDTH), max(1, self.size.height - 2)

    def _dot_x(self, x: float, width: int) -> int:
        return min(width * 2 - 1, max(0, round(x / self.x_max * (width * 2 - 1))))

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """Show the values at the point nearest the mouse, as TensorBoard snaps to a step."""
        offset = event.get_content_offset(self)
        width, _ = self._plot_size()
        column = None if offset is None else offset.x - _AXIS_WIDTH
        x = None if column is None or not 0 <= column < width else (2 * column + 0.5) / (width * 2 - 1) * self.x_max
        points = [] if x is None else [nearest(line.xs, line.ys, x) for line in self.lines if line.legend]
        xs = [point[0] for point in points if point is not None]
        self.hover = min(xs, key=lambda near: abs(near - x)) if xs and x is not None else None

    def on_leave(self, event: events.Leave) -> None:
        """The mouse left: no values in the title."""
        self.hover = None

    def render(self) -> Text:
        """Draw the y ticks, the dots, the x axis with its ticks."""
        width, height = self._plot_size()
        log = self.log_scale
        lines = [(line, [math.log10(y) for y in line.ys] if log else list(line.ys)) for line in self.drawn()]
        values = [y for _, ys in lines for y in ys]
        text = Text(no_wrap=True, overflow="crop")
        if not values:
            text.append("no data yet", style="dim")
            return text
        low, high = min(values), max(values)
        if high - low < 1e-12:
            low, high = low - 0.5, high + 0.5
        rows = height * 4 - 1
        cells: dict[tuple[int, int], tuple[int, str]] = {}
        for line, ys in lines:
            dots = [(self._dot_x(x, width), min(rows, max(0, round((high - y) / (high - low) * rows))))
                    for x, y in zip(line.xs, ys, strict=False)]
            # Consecutive points are joined, so a few batches a second still draw a curve.
            for (x0, y0), (x1, y1) in zip(dots, dots[1:] or dots, strict=False):
                for px, py in _segment(x0, y0, x1, y1):
                    key = (py // 4, px // 2)
                    bits, _ = cells.get(key, (0, line.color))
                    # Dots of all series accumulate; a cell takes the colour of the last series drawn.
                    cells[key] = (bits | _DOTS[px % 2][py % 4], line.color)
        hover = None if self.hover is None else self._dot_x(self.hover, width) // 2
        ticks = y_ticks(low, high, height)
        for row in range(height):
            value = ticks.get(row)
            shown = "" if value is None else label(10**value if log else value, _AXIS_WIDTH - 1)
            text.append(shown.rjust(_AXIS_WIDTH - 1) + ("┤" if value is not None else "│"), style="dim")
            for col in range(width):
                bits, color = cells.get((row, col), (0, ""))
                style = f"{color} {_HOVER}" if col == hover else color
                text.append(chr(0x2800 + bits) if bits else " ", style=style)
            text.append("\n")
        self._x_axis(text, width)
        return text

    def _x_axis(self, text: Text, width: int) -> None:
        """`└─┬──┬─` with whole epochs as ticks, and their numbers under them."""
        step = max(1, round(nice_step(self.x_max, max(1, width // 5))))
        epochs = range(0, int(self.x_max) + 1, step)
        columns = {self._dot_x(epoch, width) // 2: str(epoch) for epoch in epochs}
        axis = "".join("┬" if col in columns else "─" for col in range(width))
        text.append(" " * (_AXIS_WIDTH - 1) + "└" + axis + "\n", style="dim")
        numbers = [" "] * (width + _AXIS_WIDTH + 8)
        for col, name in columns.items():
            start = _AXIS_WIDTH + col - len(name) // 2
            if all(c == " " for c in numbers[max(0, start - 1): start + len(name) + 1]):
                numbers[start: start + len(name)] = name
        tail = "".join(numbers).rstrip()
        room = _AXIS_WIDTH + width - len(tail) - 1
        text.append(tail + (" " * (room - 6) + "epoch" if room >= 7 else ""), style="dim")
