"""Any image a user has, into what the MNIST models saw: a white digit on black, centred.

`load_image` turns whatever Pillow reads into one 8-bit grey channel; `to_model_input`
fixes the polarity and, like MNIST itself was made, crops the digit, fits it in a 20x20
box keeping its aspect ratio and puts its centre of mass in the middle of 28x28.
"""

from __future__ import annotations

import os
import stat
from functools import lru_cache

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tui.runtime.mnist import border_median, centre
from tui.text import one_line

POLARITIES = ("auto", "keep", "invert")
MNIST_SIZE = (28, 28)
_MAX_SIDE = 1024  # big photos are decoded and processed at most this large
_NO_EXIF_FORMATS = ("PNG", "GIF", "BMP", "PPM")  # EXIF only ever in an `exif` chunk
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


class ImageError(Exception):
    """A file that cannot be used as an image; the message is one line."""


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Read any image Pillow can into mode `L`: EXIF orientation applied, first frame,
    transparency flattened, 16-bit scaled. ImageError says why a file cannot be used."""
    path = os.fspath(path)  # a str: a Path costs more to build than this whole check
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise ImageError("is a folder, not an image")
        if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
            raise ImageError("not a regular file")
        if info.st_size == 0:
            raise ImageError("empty file")
        with _open(path) as img:
            _check_pixels(img.size)
            img.draft("L", (_MAX_SIDE, _MAX_SIDE))  # JPEG: decode straight to a smaller grey
            img.load()  # the first frame of an animation
            gray = _to_gray(_upright(img))
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError("no such file") from None
    except PermissionError:
        raise ImageError("permission denied") from None
    except Image.DecompressionBombError as error:
        raise ImageError(f"too large: {one_line(error)}") from None
    except UnidentifiedImageError:
        raise ImageError("not an image Pillow can read") from None
    except Exception as error:  # a damaged file can make any decoder raise anything
        raise ImageError(f"cannot decode: {one_line(error) or type(error).__name__}") from None
    if max(gray.size) > _MAX_SIDE:
        gray.thumbnail((_MAX_SIDE, _MAX_SIDE))
    return gray


def to_model_input(
    img: Image.Image,
    polarity: str = "auto",
    normalize: bool = True,
    size: tuple[int, int] | list[int] = MNIST_SIZE,
) -> np.ndarray:
    """float32 [H, W] in [0, 1], white digit on black; MNIST-style centring if `normalize`.

    `polarity`: `auto` inverts images with a light background, `keep` and `invert` say
    what to do. Without `normalize` the whole image is squeezed to `size`, as the
    notebook did.
    """
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {', '.join(POLARITIES)}, not {polarity!r}")
    gray = img if img.mode == "L" else _to_gray(img)
    a = np.asarray(gray)
    background = border_median(a)
    if polarity == "invert" or (polarity == "auto" and background > 127):
        a, background = 255 - a, 255 - background
    height, width = size
    if not normalize:
        if a.shape != (height, width):
            # Pillow averages over the source pixels when it shrinks (antialiasing).
            a = np.asarray(Image.fromarray(a).resize((width, height), Image.Resampling.BILINEAR))
        return a.astype(np.float32) / 255.0
    if background > 127:
        # Kept dark on light: centre the dark digit, then give it back as it was.
        return 1.0 - centre(255 - a, 255 - background, height, width)
    return centre(a, background, height, width)


def prepare(
    path: str | os.PathLike[str],
    polarity: str = "auto",
    normalize: bool = True,
    size: tuple[int, int] | list[int] = MNIST_SIZE,
) -> np.ndarray:
    """`load_image` then `to_model_input`: a file into one model input [H, W]."""
    return to_model_input(load_image(path), polarity, normalize, size)


@lru_cache(maxsize=1)
def _formats_by_suffix() -> dict[str, str]:
    Image.preinit()  # the common formats first in Pillow's list, then all the others
    return Image.registered_extensions()


def _open(path: str) -> Image.Image:
    # Asking the format the name suggests first skips probing ~40 others (a third of the
    # time a small PNG takes); a misnamed file still opens on the second try.
    guess = _formats_by_suffix().get(os.path.splitext(path)[1].lower())
    if guess:
        try:
            return Image.open(path, formats=[guess])
        except UnidentifiedImageError:
            pass
    return Image.open(path)


def _check_pixels(size: tuple[int, int]) -> None:
    # Pillow only warns between its limit and twice it; we refuse the whole range.
    limit = Image.MAX_IMAGE_PIXELS
    if limit and size[0] * size[1] > limit:
        raise ImageError(
            f"too large: {size[0]}x{size[1]} pixels is over Pillow's "
            f"decompression-bomb limit of {limit} pixels"
        )


def _upright(img: Image.Image) -> Image.Image:
    if img.format in _NO_EXIF_FORMATS and "exif" not in img.info:
        return img  # reading EXIF costs as much as decoding a small PNG
    try:
        return ImageOps.exif_transpose(img) or img
    except Exception:  # broken EXIF: the pixels are still fine
        return img


def _to_gray(img: Image.Image) -> Image.Image:
    if img.mode == "L" and "transparency" not in img.info:
        return img
    if img.mode.startswith("I;16"):
        # Pillow clamps I;16 at 255 when converting to L: scale instead.
        return _from_array(np.asarray(img, dtype=np.float32) / 257.0)
    if img.mode == "I":  # 32-bit; some Pillow versions read 16-bit PNGs this way
        a = np.asarray(img, dtype=np.float32)
        return _from_array(a / 257.0 if a.max() > 255 else a)
    if img.mode == "F":
        a = np.asarray(img, dtype=np.float32)
        return _from_array(a * 255.0 if a.max() <= 1.0 else a)
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        return _flatten(img.convert("RGBA"))
    if img.mode not in ("L", "1", "P", "RGB"):  # CMYK, YCbCr, LAB, HSV
        img = img.convert("RGB")
    return img.convert("L")


def _flatten(rgba: Image.Image) -> Image.Image:
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255.0
    lum = np.asarray(rgba.convert("RGB").convert("L"), dtype=np.float32)
    weight = float(alpha.sum())
    # Lay the drawing on the background that shows it: a dark digit on a transparent
    # sheet goes on white, a light one on black. Either way polarity is then detected.
    dark = weight == 0 or float((lum * alpha).sum()) / weight < 128
    background = 255.0 if dark else 0.0
    return _from_array(lum * alpha + background * (1.0 - alpha))


def _from_array(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(a, 0, 255).round().astype(np.uint8), mode="L")
