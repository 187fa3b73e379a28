"""A picture file in colour for people to look at (the model gets `load_image`'s grey copy)."""

from __future__ import annotations

import os

from PIL import Image as PILImage
from PIL import ImageOps

from tui.runtime.preprocess import open_image  # the supported decoders only, never Ghostscript

# Enough pixels for a Sixel or Kitty picture filling half a large terminal, few enough to render quickly.
MAX_SIDE = 640


def thumbnail(image: PILImage.Image) -> PILImage.Image:
    """An RGB copy no larger than MAX_SIDE a side, made in a worker so rendering stays cheap."""
    image = image.convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    return image


def display_copy(path: str | os.PathLike[str], grey: PILImage.Image) -> PILImage.Image:
    """The file in colour for the eye, or the runtime's grey copy if colour decoding fails."""
    try:
        with open_image(path) as image:
            if image.mode.startswith(("I", "F")):
                # 16-bit and float pictures: Pillow clamps them when converting; the runtime scales them.
                return thumbnail(grey)
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode straight to a small copy
            factor = max(image.size) // MAX_SIDE
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
