"""Pictures as terminal graphics: Kitty or Sixel where the terminal has them, half-cell blocks elsewhere."""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage
from textual.widget import Widget

from tui.terminal import Graphics
from tui.widgets.halfcell import HalfcellPicture
from tui.widgets.sixel import SixelPicture

# Enough pixels for a Sixel or Kitty picture filling half a large terminal, few enough to render quickly.
MAX_PIXELS = 640


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


def thumbnail(image: PILImage.Image) -> PILImage.Image:
    """An RGB copy no larger than MAX_PIXELS a side, made in a worker so rendering stays cheap."""
    image = image.convert("RGB")
    image.thumbnail((MAX_PIXELS, MAX_PIXELS))
    return image


def from_array(pixels: np.ndarray, scale: int = 10) -> PILImage.Image:
    """A [H, W] array in [0, 1] (or [H, W, 3] uint8) as a picture with crisp, enlarged pixels."""
    if pixels.dtype != np.uint8:
        pixels = np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)
    image = PILImage.fromarray(pixels)
    # Nearest-neighbour enlargement, so the terminal's own scaling does not blur a 28x28 digit.
    return image.resize((image.width * scale, image.height * scale), PILImage.Resampling.NEAREST)


def display_copy(path, grey: PILImage.Image) -> PILImage.Image:
    """The file in colour for the eye, or the runtime's grey copy if colour decoding fails."""
    from PIL import ImageOps

    from tui.runtime.preprocess import open_image  # the supported decoders only, never Ghostscript

    try:
        with open_image(path) as image:
            if image.mode.startswith(("I", "F")):
                # 16-bit and float pictures: Pillow clamps them when converting; the runtime scales them.
                return thumbnail(grey)
            image.draft("RGB", (MAX_PIXELS, MAX_PIXELS))  # JPEG: decode straight to a small copy
            factor = max(image.size) // MAX_PIXELS
            if factor >= 2:
                # Shrink first: each step below (rotate, convert, composite) makes a copy of its own.
                image = image.reduce(factor)
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA", "PA", "P"):
                # Transparent pixels shown on white, as most viewers do.
                rgba = image.convert("RGBA")
                image = PILImage.new("RGBA", rgba.size, "white")
                image.alpha_composite(rgba)
            return thumbnail(image)
    except Exception:  # the grey copy already decoded; any decoder trouble here only costs colour
        return thumbnail(grey)
