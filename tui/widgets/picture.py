"""Pictures as terminal graphics: Kitty or Sixel where the terminal has them, half-cell blocks elsewhere."""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage
from textual.geometry import Region
from textual.widget import Widget

from tui.terminal import Graphics
from tui.widgets.halfcell import HalfcellPicture
from tui.widgets.sixel import SixelPicture


def picture(graphics: Graphics, *, id: str | None = None, classes: str | None = None) -> Widget:
    """An empty picture widget for the protocol `tui.terminal.detect` chose ("auto" means half-cells).

    Half-cells are drawn by our own widget (textual-image's builds a Style per cell, too slow to
    redraw the latent grid on every key), and so is Sixel (see `tui.widgets.sixel`).
    """
    if graphics == "sixel":
        return SixelPicture(None, id=id, classes=classes)
    if graphics == "kitty":
        from textual_image.widget import TGPImage

        return TGPImage(None, id=id, classes=classes)
    return HalfcellPicture(None, id=id, classes=classes)


def shown_region(widget: Widget) -> Region:
    """Where a picture widget's picture lies within its content area (textual-image's fills it)."""
    if isinstance(widget, HalfcellPicture):
        return widget.picture_region()
    return Region(0, 0, *widget.content_size)


def from_array(pixels: np.ndarray, scale: int = 10) -> PILImage.Image:
    """A [H, W] array in [0, 1] (or [H, W, 3] uint8) as a picture with crisp, enlarged pixels."""
    if pixels.dtype != np.uint8:
        pixels = np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)
    image = PILImage.fromarray(pixels)
    # Nearest-neighbour enlargement, so the terminal's own scaling does not blur a 28x28 digit.
    return image.resize((image.width * scale, image.height * scale), PILImage.Resampling.NEAREST)
