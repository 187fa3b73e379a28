"""Any image a user has, into what a model saw.

`load_image` turns a file in one of `SUPPORTED_FORMATS` into one 8-bit grey channel (or,
with `colour`, 8-bit RGB). For the MNIST models, `to_model_input` fixes the polarity and,
like MNIST itself was made, crops the digit, fits it in a 20x20 box keeping its aspect
ratio and puts its centre of mass in the middle of 28x28. For a model trained on a folder
(`dl-train folder`), `picture_array` stretches the whole picture to the model's size: the
trainer caches exactly that, and `dl-tui` gives exactly that to the model.
"""

from __future__ import annotations

import errno
import functools
import io
import os
import re
import stat
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

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
# Pillow keeps a pointer per row in each copy: a 1x39M picture would cost 300 MB of them.
MAX_SIDE_PIXELS = 65_536
MAX_FILE_BYTES = 200 << 20  # the default of --max-file-size: bigger files are not read
# What a file may hold besides its pixels (PNG chunks, JPEG APPn and COM segments): Pillow
# keeps it all, sometimes twice. Photos carry well under 1 MB (EXIF, XMP, an ICC profile).
MAX_METADATA_BYTES = 16 << 20
# libjpeg makes a pass over every coefficient of the picture for each scan: a few
# thousand scans in a small file take minutes. Encoders write about 10.
MAX_SCANS = 100
MAX_SEGMENTS = 10_000  # JPEG segments we walk, in Python; photos have a few dozen
# What one file's decoding may add to a `dl-tui classify` process (tui.classify.pool).
DECODE_MEMORY = 400 << 20
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


# How `picture_array` resizes, by the name a model's `preprocessing.resize` gives; "area"
# averages every source pixel (Pillow's box filter), the others are Pillow's filters.
RESIZE_METHODS: dict[str, Image.Resampling] = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
    "area": Image.Resampling.BOX,
}
DEFAULT_RESIZE = "bilinear"


class ImageError(Exception):
    """A file that cannot be used as an image; the message is one line."""


@contextmanager
def open_image(path: str | os.PathLike[str], max_bytes: int = MAX_FILE_BYTES,
               cancelled: Callable[[], bool] | None = None) -> Iterator[Image.Image]:
    """The file opened lazily with the supported decoders only, once it is known to be a
    regular file of at most `max_bytes` whose declared sizes fit in it; ImageError if not,
    or if no decoder reads it. Pillow reads the open file, never the name again, and never
    maps it into memory (a file cut short under a mapping kills the process with SIGBUS).
    With `cancelled`, each read first asks it and stops the decoding when it says so."""
    path = os.fspath(path)
    guess = _BY_SUFFIX.get(os.path.splitext(path)[1].lower())
    # The format the name suggests first skips probing the others; a misnamed file
    # still opens, but only ever with a decoder from the list.
    formats = [guess] if guess else []
    formats += [name for name in SUPPORTED_FORMATS if name not in (guess, *_BY_NAME_ONLY)]
    file, size = _open_regular(path)
    with file:
        if size == 0:
            raise ImageError("empty file")
        if size > max_bytes:
            raise ImageError(f"too large: {_bytes(size)} file, over the {_bytes(max_bytes)} "
                             "limit (--max-file-size)")
        blocks = _Blocks(file, size)
        prefix = blocks.at(0, 16)
        _check_structure(blocks, prefix)
        # A small file, read whole by the checks, is decoded from those bytes.
        whole = blocks.start == 0 and len(blocks.data) == size
        data = io.BytesIO(blocks.data) if whole else file
        data.seek(0)
        try:
            source = data if cancelled is None else _Cancellable(data, cancelled)
            img = Image.open(source, formats=formats)
        except UnidentifiedImageError:
            raise ImageError(_unsupported(path, prefix)) from None
        with img:
            _check_pixels(img.size)
            _check_progressive(img)
            yield img


def load_image(path: str | os.PathLike[str], max_bytes: int = MAX_FILE_BYTES,
               cancelled: Callable[[], bool] | None = None, *, colour: bool = False) -> Image.Image:
    """Read a supported image into mode `L` (with `colour`, `RGB`): EXIF orientation applied,
    first frame, transparency flattened, 16-bit scaled, at most about 1024 pixels a side.
    ImageError says why a file cannot be used (`open_image` says what is refused)."""
    convert = _to_rgb if colour else _to_gray
    try:
        with open_image(path, max_bytes, cancelled) as img:
            # JPEG: decode straight to a smaller copy, grey where grey is asked for
            img.draft("RGB" if colour else "L", (_MAX_SIDE, _MAX_SIDE))
            _check_decoded(img)
            img.load()  # the first frame of an animation
            gray = convert(_shrink(img, colour))
            turn = _orientation(img)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError("no such file") from None
    except PermissionError:
        raise ImageError("permission denied") from None
    except Image.DecompressionBombError as error:
        raise ImageError(f"too large: {one_line(error)}") from None
    except MemoryError:  # over the limit a classify worker decodes under, or truly out
        raise ImageError(f"too large: decoding needs over the {_bytes(DECODE_MEMORY)} "
                         "a file may use") from None
    except OSError as error:
        if error.filename is not None:  # the file system's, not a decoder's
            raise ImageError(f"cannot read: {one_line(error.strerror or error)}") from None
        raise ImageError(f"cannot decode: {one_line(error) or type(error).__name__}") from None
    except Exception as error:  # noqa: BLE001  a damaged file can make any decoder raise anything
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
    max_bytes: int = MAX_FILE_BYTES,
) -> np.ndarray:
    """`load_image` then `to_model_input`: a file into one model input [H, W]."""
    return to_model_input(load_image(path, max_bytes), polarity, normalize, size)


def _unsupported(path: str, prefix: bytes) -> str:
    supported = ", ".join(SUPPORTED_FORMATS)
    name = _sniff(prefix)
    suffix = os.path.splitext(path)[1].lower()
    if name is None and suffix not in _BY_SUFFIX:
        name = Image.registered_extensions().get(suffix)
    if name in SUPPORTED_FORMATS:
        return f"cannot decode: damaged {name} header"
    if name:
        return f"unsupported format {name} (supported: {supported})"
    return f"not an image in a supported format ({supported})"


def _sniff(prefix: bytes) -> str | None:
    """The format a file's first bytes say, ours first; only signatures, nothing decodes."""
    Image.init()
    for name in [*SUPPORTED_FORMATS, *Image.OPEN]:
        accept = Image.OPEN[name][1]
        try:
            said = accept and accept(prefix)
        except Exception:  # noqa: BLE001  a signature check that trips over a short file
            continue
        if said and not isinstance(said, str):  # a string is Pillow's "yes, but cannot"
            return name
    return None


# Read only, and never wait: opening a FIFO to read otherwise waits for a writer.
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
               | getattr(os, "O_BINARY", 0))
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _open_regular(path: str) -> tuple[BinaryIO, int]:
    """The file at `path`, open for reading, and its size, if it is a regular file
    (ImageError if not).

    What is checked is what was opened: `fstat` on the descriptor, so a FIFO or a device
    put in its place after the first look is refused, not read. The first look (`stat`,
    which opens nothing) keeps us from opening a device named directly: opening some
    has effects (a tape rewinds). The open itself follows no link (O_NOFOLLOW, where
    there is one): a link that appears after the look fails, and is then followed here,
    to a target looked at first in turn. So a linked picture, common in folders of
    pictures, is still read; links in the folders above the file are followed as usual.
    """
    _check_kind(os.stat(path))
    try:
        fd = os.open(path, _OPEN_FLAGS | _NOFOLLOW)
    except OSError as error:
        if not _NOFOLLOW or error.errno not in (errno.ELOOP, errno.EMLINK):  # EMLINK: BSD
            raise
        target = os.path.realpath(path)
        _check_kind(os.stat(target))
        fd = os.open(target, _OPEN_FLAGS | _NOFOLLOW)
    file = os.fdopen(fd, "rb")
    try:
        info = os.fstat(fd)
        _check_kind(info)
    except BaseException:
        file.close()
        raise
    return file, info.st_size


def _check_kind(info: os.stat_result) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise ImageError("is a folder, not an image")
    if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
        raise ImageError("not a regular file")


class _Cancellable:
    """A file whose reads stop (ImageError) once `cancelled()` says so: Pillow reads as it
    decodes, so a decoding nobody waits for any more ends at its next read."""

    def __init__(self, file: BinaryIO, cancelled: Callable[[], bool]) -> None:
        self._file, self._cancelled = file, cancelled

    def read(self, size: int = -1) -> bytes:
        if self._cancelled():
            raise ImageError("cancelled")
        return self._file.read(size)

    def __getattr__(self, name: str):
        return getattr(self._file, name)


def _bytes(count: int) -> str:
    for unit, shift in (("GB", 30), ("MB", 20), ("KB", 10)):
        if count >= 1 << shift:
            return f"{count / (1 << shift):.4g} {unit}"
    return f"{count} bytes"


_PNG = b"\x89PNG\r\n\x1a\n"
_PIXEL_CHUNKS = (b"IDAT", b"fdAT")  # fdAT: an APNG frame's pixels


def _check_structure(blocks: _Blocks, prefix: bytes) -> None:
    """Refuse a PNG or JPEG whose declared sizes do not fit in the file, or that holds
    more metadata or scans than any picture needs, before a decoder reads any of it."""
    if prefix.startswith(_PNG):
        _check_png(blocks, blocks.size)
    elif prefix.startswith(b"\xff\xd8\xff"):
        _check_jpeg(blocks, blocks.size)


class _Blocks:
    """A file read a block at a time, to walk its structure in few system calls."""

    FIRST = 1 << 20  # most pictures are smaller: read whole at the first look
    SIZE = 1 << 16

    def __init__(self, file: BinaryIO, size: int) -> None:
        self.file, self.size, self.start, self.data = file, size, 0, b""

    def at(self, position: int, count: int) -> bytes:
        """Up to `count` bytes from `position` (fewer at the end of the file)."""
        offset = position - self.start
        to_the_end = self.start + len(self.data) >= self.size  # nothing more to read
        if offset < 0 or (offset + count > len(self.data) and not to_the_end):
            self.file.seek(position)
            # No more than the file has: a big buffer costs more to get than a small file.
            wanted = min(max(count, self.SIZE if self.data else self.FIRST), self.size - position)
            self.data, self.start, offset = self.file.read(max(wanted, 0)), position, 0
        return self.data[offset : offset + count]


def _check_png(blocks: _Blocks, size: int) -> None:
    position, metadata = len(_PNG), 0
    while position + 12 <= size:
        head = blocks.at(position, 8)
        if len(head) < 8:
            return  # the file shrank: the decoder will say so
        length, kind = struct.unpack(">I4s", head)
        if length > size - position - 12:
            raise ImageError("cannot decode: truncated PNG: a chunk declares more bytes "
                             "than the file has")
        if kind not in _PIXEL_CHUNKS:
            metadata += length
            _check_metadata(metadata, "PNG")
        if kind == b"IEND":
            return
        position += 12 + length


# Where a scan's entropy-coded data ends: a marker, FF then a byte that is none of 00
# (a stuffed FF), D0-D7 (restart markers, inside the data) or FF (fill before a marker).
_NEXT_MARKER = re.compile(b"\xff[^\x00\xd0-\xd7\xff]")
_SOS, _EOI, _COM = 0xDA, 0xD9, 0xFE
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # markers without a length


def _check_jpeg(blocks: _Blocks, size: int) -> None:
    position, metadata, scans = 2, 0, 0
    for _ in range(MAX_SEGMENTS):
        head = blocks.at(position, 4)
        if len(head) < 2 or head[0] != 0xFF:
            return  # damaged: the decoder says how
        marker = head[1]
        if marker == 0xFF:  # a fill byte
            position += 1
            continue
        if marker == _EOI:
            return  # the end of the first picture (an MPO's others follow)
        if marker in _STANDALONE:
            position += 2
            continue
        length = int.from_bytes(head[2:], "big")
        if len(head) < 4 or length < 2:
            return
        if length > size - position - 2:
            raise ImageError("cannot decode: truncated JPEG: a segment declares more bytes "
                             "than the file has")
        if 0xE0 <= marker <= 0xEF or marker == _COM:
            metadata += length
            _check_metadata(metadata, "JPEG")
        position += 2 + length
        if marker == _SOS:
            scans += 1
            if scans > MAX_SCANS:
                raise ImageError(f"too many scans: a JPEG of over {MAX_SCANS} scans (each "
                                 "is a pass over the whole picture; encoders write about 10)")
            found = _next_marker(blocks, position)
            if found is None:
                return  # no end: a truncated file, which the decoder refuses
            position = found
    raise ImageError(f"too large: a JPEG of over {MAX_SEGMENTS} segments")


def _next_marker(blocks: _Blocks, position: int) -> int | None:
    while True:
        block = blocks.at(position, blocks.SIZE)
        if len(block) < 2:
            return None
        found = _NEXT_MARKER.search(block)
        if found:
            return position + found.start()
        position += len(block) - 1  # a marker may start on the block's last byte


def _check_metadata(total: int, kind: str) -> None:
    if total > MAX_METADATA_BYTES:
        raise ImageError(f"too large: over {_bytes(MAX_METADATA_BYTES)} of metadata in a "
                         f"{kind}, more than any picture needs")


def _check_pixels(size: tuple[int, int]) -> None:
    if max(size) > MAX_SIDE_PIXELS:
        raise ImageError(f"too large: {size[0]}x{size[1]} pixels, a side over the "
                         f"{MAX_SIDE_PIXELS}-pixel limit")
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


def _shrink(img: Image.Image, colour: bool = False) -> Image.Image:
    """A picture over twice the working size reduced by a whole factor (see `reduce_in_bands`)."""
    factor = max(img.size) // _MAX_SIDE
    return reduce_in_bands(img, factor, functools.partial(_reducible, colour=colour)) if factor >= 2 else img


def reduce_in_bands(img: Image.Image, factor: int,
                    band: Callable[[Image.Image], Image.Image] = lambda part: part) -> Image.Image:
    """`img.reduce(factor)` a band of rows at a time, each band first through `band`, so that
    no full-size copy is made besides the decoded picture (converting, or reducing a
    transparent picture, would make one or several)."""
    width, height = img.size
    rows = factor * max(1, _BAND // (width * factor))
    parts = [band(img.crop((0, top, width, min(top + rows, height)))).reduce(factor)
             for top in range(0, height, rows)]
    small = Image.new(parts[0].mode, (parts[0].width, sum(part.height for part in parts)))
    top = 0
    for part in parts:
        small.paste(part, (0, top))
        top += part.height
    return small


def _reducible(band: Image.Image, colour: bool = False) -> Image.Image:
    # Whatever needs the whole picture to decide (which background transparency goes on,
    # the range of 32-bit and float values) is decided later on the small copy.
    if band.mode in _ALPHA_MODES or "transparency" in band.info:
        return band.convert("RGBA")  # reduce() averages it premultiplied, as it should
    if band.mode in ("I", "F"):
        return band
    return _to_rgb(band) if colour else _to_gray(band)


def _orientation(img: Image.Image) -> Image.Transpose | None:
    if img.format in _NO_EXIF_FORMATS and "exif" not in img.info:
        return None  # reading EXIF costs as much as decoding a small PNG
    try:
        orientation = img.getexif().get(ExifTags.Base.Orientation)
        return None if orientation is None else _TRANSPOSE.get(orientation)
    except Exception:  # noqa: BLE001  broken EXIF: the pixels are still fine
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


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any mode into RGB for a colour model: grey kinds through `_to_gray` (16-bit scaled, not
    clamped), transparency laid on white (the usual sheet behind a cut-out picture)."""
    if img.mode == "RGB" and "transparency" not in img.info:
        return img
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        return _to_gray(img).convert("RGB")
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV


def picture_array(img: Image.Image, size: tuple[int, int], channels: int = 1,
                  resize: str = DEFAULT_RESIZE) -> np.ndarray:
    """uint8 [H, W, channels]: the whole picture (from `load_image`) stretched to `size`
    (height, width), with no crop, centring or change of polarity. A model trained on a
    folder was trained on exactly this (the trainer caches it) and is given exactly this,
    divided by 255."""
    mode = "RGB" if channels == 3 else "L"
    if img.mode != mode:
        img = _to_rgb(img) if mode == "RGB" else _to_gray(img)
    height, width = size
    if img.size != (width, height):
        img = img.resize((width, height), RESIZE_METHODS[resize])
    return np.asarray(img, dtype=np.uint8).reshape(height, width, channels)


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
