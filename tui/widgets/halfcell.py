"""Pictures as coloured half blocks (▀): two pixels per cell, in any terminal, drawn fast enough to redraw per key."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image as PILImage
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget


@lru_cache(maxsize=65536)
def _style(upper: tuple[int, int, int], lower: tuple[int, int, int]) -> Style:
    # Building a Style per cell dominated redraws; grey pictures reuse a few hundred of them.
    return Style(color=Color.from_rgb(*upper), bgcolor=Color.from_rgb(*lower))


def fit(width: int, height: int, max_width: int, max_height: int, aspect: float = 2.0) -> tuple[int, int]:
    """The largest cell size (width, height) that shows a width x height picture undistorted,
    in cells `aspect` times taller than wide."""
    if not (width and height and max_width):
        return 0, 0
    cells_wide = max_width
    cells_high = max(1, round(cells_wide * height / width / aspect))
    if max_height and cells_high > max_height:
        cells_high = max_height
        cells_wide = max(1, round(cells_high * aspect * width / height))
    return cells_wide, cells_high


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
        """As wide as the container allows, unless the height limits it first."""
        if self._image is None:
            return 0
        return fit(*self._image.size, container.width, self._rows(container, viewport), self.cell_aspect())[0]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """The height that keeps the picture's proportions at this width."""
        if self._image is None:
            return 0
        return fit(*self._image.size, width, self._rows(container, viewport), self.cell_aspect())[1]

    def _rows(self, container: Size, viewport: Size) -> int:
        """Rows the picture may take: the container's, or fewer under max-height (less the border)."""
        # Without this a max-height crops the rows the width asked for, and the picture is squashed.
        rows = container.height
        if self.styles.max_height is not None:
            limit = max(1, int(self.styles.max_height.resolve(container, viewport)) - self.styles.gutter.height)
            rows = min(rows, limit) if rows else limit
        return rows

    def cell_aspect(self) -> float:
        """How many times taller than wide a picture's pixel is drawn: two pixels a cell."""
        return 2.0

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
        pixels = np.asarray(self._image.resize((size.width, size.height * 2), PILImage.Resampling.BILINEAR))
        strips = []
        for row in range(size.height):
            upper, lower = pixels[2 * row], pixels[2 * row + 1]
            segments = [Segment("▀", _style(tuple(a), tuple(b))) for a, b in zip(upper.tolist(), lower.tolist())]
            strips.append(Strip(Segment.simplify(segments), size.width))
        return strips
