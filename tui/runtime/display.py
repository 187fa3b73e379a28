"""A picture file in colour for people to look at (the model gets `load_image`'s grey copy)."""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from PIL import Image as PILImage
from PIL import ImageOps

# The supported decoders only (never Ghostscript), the file's size checked, never mapped.
from tui.runtime.preprocess import MAX_FILE_BYTES, open_image, reduce_in_bands

# Enough pixels for a Sixel or Kitty picture filling half a large terminal, few enough to render quickly.
MAX_SIDE = 640
# Pictures decoded at once for the screen: a big one takes a few hundred MB while it is decoded,
# and a file passed by on the way to the next is given up at its next read, so one is enough.
DECODES = 1
# Long-lived threads: memory a thread's decoding frees stays with that thread's malloc arena, so
# a fresh thread per picture (as each screen worker is) would keep a few hundred MB per thread.
_decoders = ThreadPoolExecutor(DECODES, thread_name_prefix="dl-tui-decode")
T = TypeVar("T")


def decode(job: Callable[[], T], cancelled: Callable[[], bool]) -> T | None:
    """`job()` run on one of the DECODES decoding threads, once one is free; what it returns or
    raises. None as soon as `cancelled()` says so: the user has moved on. A job still waiting
    then never starts, and one running stops at its next read if it reads with `cancelled`."""
    future = _decoders.submit(_run, job, cancelled)
    while True:
        try:
            return future.result(timeout=0.05)
        except FutureTimeout:
            if cancelled():
                future.cancel()
                return None


def _run(job: Callable[[], T], cancelled: Callable[[], bool]) -> T | None:
    if cancelled():
        return None
    try:
        return job()
    finally:
        _give_back_memory()


def _give_back_memory() -> None:
    """Return the memory a decoding freed to the system (glibc keeps it for the next one)."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def _find_malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc; musl has none
    except (OSError, AttributeError):
        return None


_malloc_trim = _find_malloc_trim()


def thumbnail(image: PILImage.Image) -> PILImage.Image:
    """An RGB copy no larger than MAX_SIDE a side, made in a worker so rendering stays cheap."""
    image = image.convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    return image


def display_copy(path: str | os.PathLike[str], grey: PILImage.Image, max_bytes: int = MAX_FILE_BYTES,
                 cancelled: Callable[[], bool] | None = None) -> PILImage.Image:
    """The file in colour for the eye, or the runtime's grey copy if colour decoding fails
    (or is cancelled: see `open_image`)."""
    try:
        with open_image(path, max_bytes, cancelled) as image:
            if image.mode.startswith(("I", "F")):
                # 16-bit and float pictures: Pillow clamps them when converting; the runtime scales them.
                return thumbnail(grey)
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode straight to a small copy
            factor = max(image.size) // MAX_SIDE
            if factor >= 2:
                # Shrink first: each step below (rotate, convert, composite) makes a copy of its own.
                reduced = reduce_in_bands(image, factor)
                reduced.info = image.info  # its EXIF orientation, used next
                image = reduced
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA", "PA", "P"):
                # Transparent pixels shown on white, as most viewers do.
                rgba = image.convert("RGBA")
                image = PILImage.new("RGBA", rgba.size, "white")
                image.alpha_composite(rgba)
            return thumbnail(image)
    except Exception:  # noqa: BLE001  the grey copy already decoded; any decoder trouble here only costs colour
        return thumbnail(grey)
