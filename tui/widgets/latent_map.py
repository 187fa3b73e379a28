"""The latent map: the encoded MNIST test digits as a scatter coloured by digit, with markers on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.text import Text
from textual import events, on
from textual.containers import Container
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from tui.runtime import latent
from tui.widgets.picture import Graphics, from_array, picture, shown_region

SEGMENT_RGB = (230, 230, 230)


@dataclass(frozen=True)
class Marker:
    """A point to show on the map: where it is, its colour and what to call it in the legend."""

    z: tuple[float, float]
    rgb: tuple[int, int, int]
    name: str


class LatentMapView(Container):
    """The scatter as one picture and a legend; a click says which latent point it was on."""

    DEFAULT_CSS = """
    LatentMapView {
        border-title-color: $foreground;
        width: 1fr;
        height: 1fr;
        align: center middle;
        border: round $primary 50%;
    }
    #map-picture { width: auto; height: auto; }
    #map-legend { dock: bottom; height: auto; width: 1fr; padding: 0 1; }
    """

    @dataclass
    class Clicked(Message):
        """A click on the map, at latent point z."""

        z: np.ndarray

    def __init__(self, graphics: Graphics, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._graphics = graphics
        self.base: np.ndarray | None = None  # the scatter without markers, RGB
        self.markers: list[Marker] = []
        self.segment: tuple[np.ndarray, np.ndarray] | None = None

    def compose(self):
        """The picture, and the legend under it."""
        yield picture(self._graphics, id="map-picture")
        yield Static("", id="map-legend")

    @property
    def picture(self) -> Widget:
        """The picture widget the map is drawn into."""
        return self.query_one("#map-picture")

    def show_map(self, base: np.ndarray) -> None:
        """A new scatter (another encoder)."""
        self.base = base
        self._draw()

    def show_error(self, message: str) -> None:
        """No map, and why."""
        self.base = None
        self.picture.image = None
        self.query_one("#map-legend", Static).update(Text(f"no latent map: {message}", style="dim"))

    def show_markers(self, markers: list[Marker], segment: tuple[np.ndarray, np.ndarray] | None) -> None:
        """Markers (drawn in order, the last on top) and the A-B segment, if any."""
        self.markers, self.segment = markers, segment
        self._draw()

    def _draw(self) -> None:
        if self.base is None:
            return
        rgb = self.base.copy()
        if self.segment is not None:
            latent.line(rgb, *self.segment, SEGMENT_RGB)
        for marker in self.markers:
            latent.mark(rgb, np.array(marker.z), marker.rgb)
        self.picture.image = from_array(rgb, scale=1)
        self.query_one("#map-legend", Static).update(self.legend())

    def legend(self) -> Text:
        """The digits in their colours, then each marker's name in its colour."""
        text = Text()
        for digit, rgb in enumerate(latent.DIGIT_RGB):
            text.append(f"{digit}", style=f"bold rgb({rgb[0]},{rgb[1]},{rgb[2]})")
            text.append(" ")
        for marker in self.markers:
            r, g, b = marker.rgb
            text.append("\n◯ ", style=f"bold rgb({r},{g},{b})")
            text.append(marker.name)
        return text

    @on(events.Click)
    def _click(self, event: events.Click) -> None:
        """Say which latent point was clicked."""
        image = self.picture
        offset = event.get_content_offset(image)
        left, top, width, height = shown_region(image)
        if offset is None or self.base is None or not (0 <= offset.x - left < width and 0 <= offset.y - top < height):
            return
        size = self.base.shape[0]
        self.post_message(self.Clicked(latent.from_map_pixel((offset.x - left + 0.5) * size / width,
                                                             (offset.y - top + 0.5) * size / height, size)))
