"""A small line chart drawn with braille dots: several series on shared axes, no plotting library."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.widget import Widget

# Braille dot bits for (column, row) in a 2x4 cell, in Unicode's order.
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
_AXIS_WIDTH = 7


@dataclass(frozen=True)
class Line:
    """One named series of points and the colour to draw it in."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str


def _segment(x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int]]:
    """The dots on a straight line between two dots, ends included."""
    steps = max(abs(x1 - x0), abs(y1 - y0), 1)
    return [(round(x0 + (x1 - x0) * i / steps), round(y0 + (y1 - y0) * i / steps)) for i in range(steps + 1)]


def _label(value: float) -> str:
    return f"{value:.3g}"[:_AXIS_WIDTH - 1].rjust(_AXIS_WIDTH - 1)


class LineChart(Widget):
    """Lines over x from 0 to `x_max`, y scaled to the data; a legend on the last row."""

    DEFAULT_CSS = "LineChart { height: 8; }"

    def __init__(self, title: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.border_title = title
        self.lines: list[Line] = []
        self.x_max = 1.0

    def plot(self, lines: Sequence[Line], x_max: float) -> None:
        """Replace the lines and redraw."""
        self.lines = [line for line in lines]
        self.x_max = max(float(x_max), 1e-9)
        self.refresh()

    def _dot_x(self, x: float, width: int) -> int:
        return min(width * 2 - 1, max(0, round(x / self.x_max * (width * 2 - 1))))

    @staticmethod
    def _dot_y(y: float, low: float, high: float, height: int) -> int:
        return min(height * 4 - 1, max(0, round((high - y) / (high - low) * (height * 4 - 1))))

    def render(self) -> Text:
        """Draw the axes' labels, the dots and the legend."""
        width = max(1, self.size.width - _AXIS_WIDTH)
        height = max(1, self.size.height - 1)
        points = [y for line in self.lines for y in line.ys]
        text = Text(no_wrap=True, overflow="crop")
        if not points:
            text.append("no data yet", style="dim")
            return text
        low, high = min(points), max(points)
        if high - low < 1e-12:
            low, high = low - 0.5, high + 0.5
        cells: dict[tuple[int, int], tuple[int, str]] = {}
        for line in self.lines:
            dots = [(self._dot_x(x, width), self._dot_y(y, low, high, height)) for x, y in zip(line.xs, line.ys)]
            # Consecutive points are joined, so a few batches a second still draw a curve.
            for (x0, y0), (x1, y1) in zip(dots, dots[1:] or dots):
                for px, py in _segment(x0, y0, x1, y1):
                    key = (py // 4, px // 2)
                    bits, _ = cells.get(key, (0, line.color))
                    # Dots of all series accumulate; a cell takes the colour of the last series drawn.
                    cells[key] = (bits | _DOTS[px % 2][py % 4], line.color)
        for row in range(height):
            axis = _label(high) if row == 0 else _label(low) if row == height - 1 else ""
            text.append(axis.ljust(_AXIS_WIDTH - 1) + "│", style="dim")
            for col in range(width):
                bits, color = cells.get((row, col), (0, ""))
                text.append(chr(0x2800 + bits) if bits else " ", style=color)
            text.append("\n")
        text.append(" " * (_AXIS_WIDTH - 1) + "└", style="dim")
        for line in self.lines:
            text.append(" ━ ", style=line.color)
            text.append(line.name)
        text.append(f"   epochs 0–{self.x_max:g}", style="dim")
        return text
