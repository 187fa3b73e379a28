"""Pictures as coloured half blocks (▀): two pixels per cell, in any terminal, drawn fast enough to redraw per key."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image as PILImage
from rich.cells import cell_len
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from tui import terminal

SHAPE_ERROR = 0.03  # how far from the picture's own width/height a picture may be drawn


@lru_cache(maxsize=65536)
def _style(upper: tuple[int, int, int], lower: tuple[int, int, int]) -> Style:
    # Building a Style per cell dominated redraws; grey pictures reuse a few hundred of them.
    return Style(color=Color.from_rgb(*upper), bgcolor=Color.from_rgb(*lower))


def fit(width: int, height: int, max_width: int, max_height: int, aspect: float = 2.0) -> tuple[int, int]:
    """The largest cell size (columns, rows), within max_width x max_height (0: rows unlimited), that shows a
    width x height picture undistorted in cells `aspect` times taller than wide.

    Rows are whole cells, so the width is chosen as well: the widest that keeps the shape within
    SHAPE_ERROR, else the one that comes closest (a 12-column picture with rows rounded off by
    half a row would be 8% off).
    """
    if not (width and height and max_width):
        return 0, 0
    per_column = height / width / aspect  # rows per column for the picture's shape
    widest = max_width
    if max_height:
        widest = max(1, min(widest, int((max_height + 0.5) / per_column)))
    best = (float("inf"), -widest, 1)
    for columns in range(widest, max(0, widest - widest // 4 - 1), -1):
        rows = rows_for(width, height, columns, max_height, aspect)
        error = abs(rows / (columns * per_column) - 1)
        if error <= SHAPE_ERROR:
            return columns, rows
        best = min(best, (error, -columns, rows))
    return -best[1], best[2]


def rows_for(width: int, height: int, columns: int, max_height: int, aspect: float) -> int:
    """The rows that keep a width x height picture's shape at `columns` wide (at most max_height, if set)."""
    rows = max(1, round(columns * height / width / aspect))
    return min(rows, max_height) if max_height else rows


class HalfcellPicture(Widget):
    """A PIL picture scaled to the widget, one cell per pixel column and two pixel rows."""

    DEFAULT_CSS = "HalfcellPicture { width: auto; height: auto; }"

    def __init__(self, image: PILImage.Image | None = None, *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._image: PILImage.Image | None = None
        self._strips: list[Strip] = []
        self._strips_size = Size(0, 0)
        self.image = image

    @property
    def image(self) -> PILImage.Image | None:
        """The picture shown, or None for nothing."""
        return self._image

    @image.setter
    def image(self, value: PILImage.Image | None) -> None:
        self._image = value.convert("RGB") if value is not None else None
        self._strips, self._strips_size = [], Size(0, 0)
        self.refresh(layout=True)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        """As wide as the container (and max-width) allows, unless the height limits it first;
        never narrower than the border's title (the picture is then centred)."""
        if self._image is None:
            return 0
        columns = self._columns(container, viewport)
        wide = fit(*self._image.size, columns, self._rows(container, viewport), self.cell_aspect())[0]
        return min(max(wide, self._title_room()), columns) if columns else wide

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """The height that keeps the picture's proportions at this width (or at its own, if narrower)."""
        if self._image is None or not width:
            return 0
        rows = self._rows(container, viewport)
        wide, high = fit(*self._image.size, self._columns(container, viewport), rows, self.cell_aspect())
        return high if width >= wide else rows_for(*self._image.size, width, rows, self.cell_aspect())

    def _title_room(self) -> int:
        """Content columns the border's title needs: "╭─ title ─╮" has four more cells beside it."""
        title = self.border_title
        return cell_len(str(title)) + 4 if title and self.styles.border_top[0] not in ("", "none", "hidden") else 0

    def picture_region(self) -> Region:
        """Where the picture lies in the content area: all of it, unless the box is wider (its title)
        or taller than the picture's shape allows; then centred."""
        size = self.content_size
        if self._image is None or not size.width or not size.height:
            return Region(0, 0, 0, 0)
        columns, rows = fit(*self._image.size, size.width, size.height, self.cell_aspect())
        return Region((size.width - columns) // 2, (size.height - rows) // 2, columns, rows)

    def _columns(self, container: Size, viewport: Size) -> int:
        """Columns the picture may take: the container's, or fewer under max-width (less the border)."""
        columns = container.width
        if self.styles.max_width is not None:
            limit = max(1, int(self.styles.max_width.resolve(container, viewport)) - self.styles.gutter.width)
            columns = min(columns, limit) if columns else limit
        return columns

    def _rows(self, container: Size, viewport: Size) -> int:
        """Rows the picture may take: the container's, or fewer under max-height (less the border)."""
        # Without this a max-height crops the rows the width asked for, and the picture is squashed.
        rows = container.height
        if self.styles.max_height is not None:
            limit = max(1, int(self.styles.max_height.resolve(container, viewport)) - self.styles.gutter.height)
            rows = min(rows, limit) if rows else limit
        return rows

    def cell_aspect(self) -> float:
        """How many times taller than wide the terminal's cells are (two pixels a cell, each half as tall)."""
        width, height = terminal.cell_size()
        return height / width

    def render_line(self, y: int) -> Strip:
        """One row of cells, from strips made once per picture and size."""
        size = self.content_size
        if self._image is None or not size.width or not size.height:
            return Strip.blank(size.width, self.rich_style)
        if size != self._strips_size:
            self._strips, self._strips_size = self._make_strips(size), size
        return self._strips[y] if y < len(self._strips) else Strip.blank(size.width, self.rich_style)

    def _make_strips(self, size: Size) -> list[Strip]:
        assert self._image is not None
        left, top, width, height = self.picture_region()
        pixels = np.asarray(self._image.resize((width, height * 2), PILImage.Resampling.BILINEAR))
        before = [Segment(" " * left, self.rich_style)] if left else []
        after = [Segment(" " * (size.width - left - width), self.rich_style)] if size.width > left + width else []
        strips = [Strip.blank(size.width, self.rich_style)] * top
        for row in range(height):
            upper, lower = pixels[2 * row], pixels[2 * row + 1]
            segments = [Segment("▀", _style(tuple(a), tuple(b))) for a, b in zip(upper.tolist(), lower.tolist(), strict=False)]
            strips.append(Strip([*before, *Segment.simplify(segments), *after], size.width))
        return strips
