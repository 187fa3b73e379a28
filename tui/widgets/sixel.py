"""Pictures as Sixel graphics, drawn one text row at a time so that no repaint leaves stale pixels.

Why our own widget and encoder rather than textual-image's (0.12.0, the newest the registry serves):
- its widget sends the whole picture with the widget's last line and leaves the other lines empty.
  A repaint of only some lines then writes blank cells over part of the picture without redrawing
  it (the band across the top seen in xterm), and the empty lines leave the previous screen's text
  and pixels behind. Here every line carries exactly its own slice of the picture.
- its encoder numbers colour registers per picture from 0. xterm shares the registers between
  pictures, so each new picture recolours the ones already on screen. Here every picture uses one
  fixed palette, so a register always means the same colour.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
from PIL import Image as PILImage
from rich.segment import ControlType, Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip

from tui import terminal
from tui.widgets.halfcell import HalfcellPicture

# A no-op control code: Rich and Textual then pass the segment through as zero-width.
_ZERO_WIDTH = ((ControlType.CURSOR_FORWARD, 0),)
_NO_STYLE = Style()
GREYS = 64  # registers 0-63: grey levels; 64 on: a 6x6x5 colour cube (244 of xterm's 256 registers)
_CUBE = (6, 6, 5)
_RUN = re.compile(rb"(.)\1{3,}")  # four or more equal sixels are shorter as a repeat (!n)


@lru_cache(maxsize=1)
def palette() -> np.ndarray:
    """The fixed palette every picture is drawn with: [registers, 3] uint8."""
    greys = np.repeat(np.round(np.arange(GREYS) * 255 / (GREYS - 1)), 3).reshape(-1, 3)
    axes = [np.round(np.arange(n) * 255 / (n - 1)) for n in _CUBE]
    cube = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    return np.concatenate([greys, cube]).astype(np.uint8)


@lru_cache(maxsize=1)
def _palette_image() -> PILImage.Image:
    image = PILImage.new("P", (1, 1))
    image.putpalette(palette().tobytes())
    return image


def registers(image: PILImage.Image) -> np.ndarray:
    """[H, W] register numbers for the picture: grey levels directly, colours to the nearest."""
    if image.mode == "L":
        return np.round(np.asarray(image, dtype=np.float32) * ((GREYS - 1) / 255)).astype(np.uint8)
    rgb = image.convert("RGB")
    quantised = rgb.quantize(palette=_palette_image(), dither=PILImage.Dither.NONE)
    return np.asarray(quantised, dtype=np.uint8)


def encode(indices: np.ndarray) -> bytes:
    """A Sixel picture of [H, W] register numbers, defining only the registers it uses.

    P2=1 leaves pixels that no sixel sets as they are, so the partial last band of a slice
    (rows are rarely a multiple of 6 pixels tall) never paints over the row below.
    """
    height, width = indices.shape
    colours = palette()
    used = np.unique(indices)
    out = [b'\x1bP0;1;0q"1;1;%d;%d' % (width, height)]
    for register in used.tolist():
        r, g, b = (round(int(c) * 100 / 255) for c in colours[register])
        out.append(b"#%d;2;%d;%d;%d" % (register, r, g, b))
    weights = (1 << np.arange(6, dtype=np.uint8))[:, None]
    for top in range(0, height, 6):
        band = indices[top:top + 6]
        rows = []
        for register in np.unique(band).tolist():
            bits = ((band == register) * weights[: len(band)]).sum(axis=0, dtype=np.uint8)
            sixels = (bits + 63).tobytes().rstrip(b"?")
            rows.append(b"#%d" % register + _RUN.sub(lambda m: b"!%d%s" % (len(m.group()), m.group(1)), sixels))
        out.append(b"$".join(rows) + b"-")
    out.append(b"\x1b\\")
    return b"".join(out)


def scaled(image: PILImage.Image, width: int, height: int) -> PILImage.Image:
    """The picture at exactly width x height: crisp blocks when enlarged, averaged when shrunk.

    Lanczos (textual-image's choice) rings around the hard edges of a 28x28 digit.
    """
    if (width, height) == image.size:
        return image
    enlarging = width >= image.width and height >= image.height
    method = PILImage.Resampling.NEAREST if enlarging else PILImage.Resampling.BOX
    return image.resize((width, height), method)


def paletted(image: PILImage.Image) -> PILImage.Image:
    """Grey pictures as `L`, so they keep every grey level the palette has."""
    if image.mode == "L":
        return image
    rgb = image.convert("RGB")
    red, green, blue = rgb.split()
    if red.tobytes() == green.tobytes() == blue.tobytes():
        return red
    return rgb


class SixelPicture(HalfcellPicture):
    """A PIL picture as Sixel graphics filling the widget, undistorted; blank cells around it."""

    DEFAULT_CSS = "SixelPicture { width: auto; height: auto; }"
    _strips_cell = (0, 0)  # the cell size the strips were made for: the font can change

    def on_mount(self) -> None:
        """Redraw when another screen comes over this one or goes away (see `render_line`)."""
        self.app.screen_change_signal.subscribe(self, lambda _screen: self.refresh())

    def render_line(self, y: int) -> Strip:
        """Blank cells that also carry this row's slice of the picture, on the active screen only:
        under a dialog, Textual draws this screen's lines through its dimming filter, which would
        print the Sixel data as text."""
        size = self.content_size
        blank = Strip.blank(size.width, self.rich_style)
        if self._image is None or not size.width or not size.height or not self.screen.is_active:
            return blank
        if (size, terminal.cell_size()) != (self._strips_size, self._strips_cell):
            self._strips, self._strips_size = self._make_strips(size), size
        if y >= len(self._strips):
            return blank
        return self._strips[y]

    def _make_strips(self, size: Size) -> list[Strip]:
        assert self._image is not None
        self._strips_cell = cell_width, cell_height = terminal.cell_size()
        left, top, width, height = self.picture_region()
        picture = registers(paletted(scaled(self._image, width * cell_width, height * cell_height)))
        strips = [Strip.blank(size.width, self.rich_style)] * top
        for row in range(height):
            sixels = encode(picture[row * cell_height:(row + 1) * cell_height]).decode("ascii")
            # Blank cells first (text written later over a picture erases its pixels), then back
            # to the picture's first cell in the row, draw, and restore the cursor where Textual expects it.
            draw = f"\x1b7\x1b[{size.width - left}D{sixels}\x1b8"
            cells = list(Strip.blank(size.width, self.rich_style))
            strips.append(Strip([*cells, Segment(draw, _NO_STYLE, _ZERO_WIDTH)], size.width))
        return strips
