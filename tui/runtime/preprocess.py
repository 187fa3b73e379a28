"""Any image a user has, into what the MNIST models saw: a white digit on black, centred.

`load_image` turns a file in one of `SUPPORTED_FORMATS` into one 8-bit grey channel;
`to_model_input` fixes the polarity and, like MNIST itself was made, crops the digit,
fits it in a 20x20 box keeping its aspect ratio and puts its centre of mass in the middle
of 28x28.
"""

from __future__ import annotations

import os
import stat

import numpy as np
from PIL import ExifTags, Image, ImageChops, UnidentifiedImageError

from tui.runtime.choices import POLARITIES
from tui.runtime.mnist import border_median, centre
from tui.runtime.preprocessing import MNIST_SIZE
from tui.text import one_line

# The only decoders we let Pillow use, with the names we take from folders. Each runs in
# the process and is silent: none starts a program (EPS runs Ghostscript, which also
# prints what a file tells it to), reads another file, or writes to stdout or stderr
# (libtiff prints every decoding error, so no TIFF). The one the name suggests is tried
# first, then the others by their signatures.
SUPPORTED_FORMATS: dict[str, tuple[str, ...]] = {
    "PNG": (".png", ".apng"),
    "JPEG": (".jpg", ".jpeg", ".jpe", ".jfif", ".mpo"),  # MPO (camera pairs) opens as JPEG
    "GIF": (".gif",),
    "BMP": (".bmp",),
    "WEBP": (".webp",),
    "PPM": (".pbm", ".pgm", ".ppm", ".pnm", ".pfm"),
    "TGA": (".tga",),
}
_BY_NAME_ONLY = ("TGA",)  # no signature: any file would do, so only files named so
MAX_PIXELS = 40_000_000  # the most we decode: a full-size copy is then at most 160 MB
# Decoders that hold more than the picture while they work, in picture-sized copies:
# WebP its canvas and frame besides ours, PPM's plain-text reader its bytes twice.
_DECODER_COPIES = {"WEBP": 4, "PPM": 3}
_MAX_SIDE = 1024  # big photos are decoded and processed at most this large
_BAND = 1 << 20  # pixels: a big picture is shrunk this many at a time
_NO_EXIF_FORMATS = ("PNG", "GIF", "BMP", "PPM")  # EXIF only ever in an `exif` chunk
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_TRANSPOSE = {  # EXIF orientation: how to turn the picture upright (as ImageOps does)
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_BY_SUFFIX = {suffix: name for name, suffixes in SUPPORTED_FORMATS.items() for suffix in suffixes}
# File name endings taken from folders (the app's browser, `dl-tui classify`), lower case.
IMAGE_SUFFIXES = frozenset(_BY_SUFFIX)


class ImageError(Exception):
    """A file that cannot be used as an image; the message is one line."""


def open_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open a file lazily with the supported decoders only; ImageError if none reads it."""
    path = os.fspath(path)
    guess = _BY_SUFFIX.get(os.path.splitext(path)[1].lower())
    # The format the name suggests first skips probing the others; a misnamed file
    # still opens, but only ever with a decoder from the list.
    formats = [guess] if guess else []
    formats += [name for name in SUPPORTED_FORMATS if name not in (guess, *_BY_NAME_ONLY)]
    try:
        return Image.open(path, formats=formats)
    except UnidentifiedImageError:
        raise ImageError(_unsupported(path)) from None


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Read a supported image into mode `L`: EXIF orientation applied, first frame,
    transparency flattened, 16-bit scaled, at most about 1024 pixels a side.
    ImageError says why a file cannot be used."""
    path = os.fspath(path)  # a str: a Path costs more to build than this whole check
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise ImageError("is a folder, not an image")
        if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
            raise ImageError("not a regular file")
        if info.st_size == 0:
            raise ImageError("empty file")
        with open_image(path) as img:
            _check_pixels(img.size)
            _check_progressive(img)
            img.draft("L", (_MAX_SIDE, _MAX_SIDE))  # JPEG: decode straight to a smaller grey
            _check_decoded(img)
            img.load()  # the first frame of an animation
            gray = _to_gray(_shrink(img))
            turn = _orientation(img)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError("no such file") from None
    except PermissionError:
        raise ImageError("permission denied") from None
    except Image.DecompressionBombError as error:
        raise ImageError(f"too large: {one_line(error)}") from None
    except Exception as error:  # a damaged file can make any decoder raise anything
        raise ImageError(f"cannot decode: {one_line(error) or type(error).__name__}") from None
    if turn is not None:
        gray = gray.transpose(turn)
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


def _unsupported(path: str) -> str:
    supported = ", ".join(SUPPORTED_FORMATS)
    name = _sniff(path)
    suffix = os.path.splitext(path)[1].lower()
    if name is None and suffix not in _BY_SUFFIX:
        name = Image.registered_extensions().get(suffix)
    if name in SUPPORTED_FORMATS:
        return f"cannot decode: damaged {name} header"
    if name:
        return f"unsupported format {name} (supported: {supported})"
    return f"not an image in a supported format ({supported})"


def _sniff(path: str) -> str | None:
    """The format a file's first bytes say, ours first; only signatures, nothing decodes."""
    with open(path, "rb") as file:
        prefix = file.read(16)
    Image.init()
    for name in [*SUPPORTED_FORMATS, *Image.OPEN]:
        accept = Image.OPEN[name][1]
        try:
            said = accept and accept(prefix)
        except Exception:  # a signature check that trips over a short file
            continue
        if said and not isinstance(said, str):  # a string is Pillow's "yes, but cannot"
            return name
    return None


def _check_pixels(size: tuple[int, int]) -> None:
    # Pillow only warns between its limit and twice it; we refuse the whole range.
    limit = Image.MAX_IMAGE_PIXELS
    if limit and size[0] * size[1] > limit:
        raise ImageError(
            f"too large: {size[0]}x{size[1]} pixels is over Pillow's "
            f"decompression-bomb limit of {limit} pixels"
        )


def _check_progressive(img: Image.Image) -> None:
    # libjpeg keeps a progressive file's every coefficient, 2 bytes a pixel and channel,
    # at full size however small the draft: 9400x9400 in colour is over 500 MB.
    if img.format in ("JPEG", "MPO") and img.info.get("progressive"):
        copies = len(img.getbands()) / 2
        _refuse_over(img.size, int(MAX_PIXELS / copies), "progressive JPEG")


def _check_decoded(img: Image.Image) -> None:
    copies = _DECODER_COPIES.get(img.format or "", 1)
    _refuse_over(img.size, MAX_PIXELS // copies, img.format if copies > 1 else None)


def _refuse_over(size: tuple[int, int], limit: int, kind: str | None) -> None:
    # Before decoding, so a small file that unpacks into gigabytes costs nothing.
    width, height = size
    if width * height > limit:
        where = f" for {kind}" if kind else ""
        raise ImageError(
            f"too large: {width}x{height} pixels, over the {limit / 1e6:.0f} MP limit{where}"
        )


def _shrink(img: Image.Image) -> Image.Image:
    """A picture over twice the working size reduced by a whole factor, a band of rows at a
    time, so that no full-size copy is ever made (converting would make several)."""
    factor = max(img.size) // _MAX_SIDE
    if factor < 2:
        return img
    width, height = img.size
    rows = factor * max(1, _BAND // (width * factor))
    parts = [_reducible(img.crop((0, top, width, min(top + rows, height)))).reduce(factor)
             for top in range(0, height, rows)]
    small = Image.new(parts[0].mode, (parts[0].width, sum(part.height for part in parts)))
    top = 0
    for part in parts:
        small.paste(part, (0, top))
        top += part.height
    return small


def _reducible(band: Image.Image) -> Image.Image:
    # Whatever needs the whole picture to decide (which background transparency goes on,
    # the range of 32-bit and float values) is decided later on the small copy.
    if band.mode in _ALPHA_MODES or "transparency" in band.info:
        return band.convert("RGBA")  # reduce() averages it premultiplied, as it should
    if band.mode in ("I", "F"):
        return band
    return _to_gray(band)


def _orientation(img: Image.Image) -> Image.Transpose | None:
    if img.format in _NO_EXIF_FORMATS and "exif" not in img.info:
        return None  # reading EXIF costs as much as decoding a small PNG
    try:
        return _TRANSPOSE.get(img.getexif().get(ExifTags.Base.Orientation))
    except Exception:  # broken EXIF: the pixels are still fine
        return None


def _to_gray(img: Image.Image) -> Image.Image:
    if img.mode == "L" and "transparency" not in img.info:
        return img
    if img.mode.startswith("I;16"):
        # Pillow clamps I;16 at 255 when converting to L: scale instead.
        return _from_array(np.asarray(img, dtype=np.float32) / 257.0)
    if img.mode == "I":  # 32-bit; some Pillow versions read 16-bit PNGs this way
        a = np.asarray(img, dtype=np.float32)
        return _from_array(a / 257.0 if a.max() > 255 else a)
    if img.mode == "F":  # NaN and infinities are damage, not light
        a = np.nan_to_num(np.asarray(img, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        return _from_array(np.clip(a, 0.0, 1.0) * 255.0 if a.max() <= 1.0 else a)
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        return _flatten(img.convert("RGBA"))
    if img.mode not in ("L", "1", "P", "RGB"):  # CMYK, YCbCr, LAB, HSV
        img = img.convert("RGB")
    return img.convert("L")


def _flatten(rgba: Image.Image) -> Image.Image:
    # 8-bit throughout: a float copy per step would cost 4 bytes a pixel each.
    alpha = rgba.getchannel("A")
    ink = ImageChops.multiply(rgba.convert("L"), alpha)  # grey weighted by opacity
    # Lay the drawing on the background that shows it: a dark digit on a transparent
    # sheet goes on white, a light one on black. Either way polarity is then detected.
    weight = _total(alpha)
    dark = weight == 0 or 255 * _total(ink) < 128 * weight
    return ImageChops.add(ink, ImageChops.invert(alpha)) if dark else ink


def _total(channel: Image.Image) -> int:
    return sum(value * count for value, count in enumerate(channel.histogram()))


def _from_array(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(a, 0, 255).round().astype(np.uint8), mode="L")
