"""What each picture is (size, mode, colour, hashes), and the defaults chosen from them:
the training size and the number of channels."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tui.runtime.preprocess import SUPPORTED_FORMATS, ImageError, load_image, open_image

from . import layout
from .layout import Scan
from .phash import THUMB, phash

MAX_SIDE = 64  # the default training size's longer side at most (bigger pictures are scaled down)
MIN_SIDE = 8  # and each side at least this
SIZE_SAMPLE = 1000  # pictures whose headers choose_size reads from a Scan
COLOUR_SAMPLE = 50  # pictures per class choose_channels decodes from a Scan
COLOUR_SHARE = 0.1  # a class is colour when this share of its pictures has colour
# A picture has colour when over 1% of its pixels (at 32x32) differ between channels by over
# 12 of 255: JPEG's chroma noise on a grey photo stays under that, a red apple does not.
CHROMA, CHROMA_SHARE = 12, 0.01
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_DRAFT_FROM = 256  # JPEGs with a longer side are decoded smaller (at least this large)
_ORIENTATION = 0x0112  # EXIF: how the camera was held
_TURNS = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
          5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
          8: Image.Transpose.ROTATE_90}
_LOAD_IMAGE_SIDE = 1024  # load_image shrinks pictures with a longer side (tui.runtime.preprocess)
_GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
_FORMAT_OF_SUFFIX = {suffix: name for name, suffixes in SUPPORTED_FORMATS.items() for suffix in suffixes}


@dataclass(frozen=True)
class Look:
    """One file as the check sees it; `problem` set (kind, detail) when it cannot be used."""

    path: Path
    problem: tuple[str, str] | None = None
    format: str = ""
    mode: str = ""
    size: tuple[int, int] = (0, 0)  # (height, width), upright
    alpha: bool = False
    deep: bool = False  # 16 bits (or more) a channel
    colour: bool = False
    exact: str = ""  # a hash of the decoded pixels: equal for the same picture in any file
    near: int = 0  # the 64-bit pHash (finds candidates)
    fine: bytes = b""  # the 256-bit pHash (decides)

    @property
    def named_wrong(self) -> str | None:
        """The suffix the format has, when the file's name says another format; else None."""
        said = _FORMAT_OF_SUFFIX.get(os.path.splitext(self.path.name)[1].lower())
        actual = "JPEG" if self.format == "MPO" else self.format
        return None if said == actual or not actual else actual

    def kind(self) -> str:
        """grey, RGB, or the other modes by name: how the report counts modes."""
        return "grey" if self.mode in ("L", "1", "LA", "La") or self.mode.startswith("I") or self.mode == "F" \
            else "RGB" if self.mode in ("RGB", "RGBA", "RGBa") else self.mode


def look(path: Path) -> Look:
    """Open and decode one file (with the decoders and limits `dl-tui` uses) and describe it."""
    try:
        with open_image(path) as img:  # the header: nothing is decoded yet
            fmt, mode = img.format or "", img.mode
            alpha = mode in _ALPHA_MODES or "transparency" in img.info
            deep = mode.startswith("I;16") or mode in ("I", "F") or (fmt == "PNG" and _png_depth(img) == 16)
            size = (img.height, img.width)
            picture = _plain(img)
            if picture is None:
                picture, size = _drafted(img) or (None, size)
        if picture is None:
            picture = load_image(path, colour=mode not in _GREY_MODES)
            size = (picture.height, picture.width)
    except ImageError as error:
        return Look(path, problem=problem_of(str(error)))
    colour = False
    if picture.mode == "RGB":
        small = np.asarray(picture.resize((THUMB, THUMB), Image.Resampling.BILINEAR), dtype=np.int16)
        colour = bool(np.mean(small.max(axis=2) - small.min(axis=2) > CHROMA) > CHROMA_SHARE)
        if not colour:  # the same picture as a grey file: the same exact hash
            picture = picture.convert("L")
    pixels = np.ascontiguousarray(picture)
    digest = hashlib.blake2b(pixels.data, digest_size=16)
    digest.update(f"{picture.mode}{size}".encode())
    grey = picture if picture.mode == "L" else picture.convert("L")
    thumb = np.asarray(grey.resize((THUMB, THUMB), Image.Resampling.BILINEAR), dtype=np.uint8)
    return Look(path, None, fmt, mode, size, alpha, deep, colour, digest.hexdigest(),
                *phash(thumb))


def _plain(img: Image.Image) -> Image.Image | None:
    """The decoded picture, when it is one `load_image` would return as it is (a plain grey or
    RGB PNG or BMP, upright, not over its size limit): one open instead of two, for the many
    small files of a dataset. None for the rest, and for any file that fails to decode here,
    so that `load_image` reads it and says why."""
    if (img.format not in ("PNG", "BMP") or img.mode not in ("L", "RGB") or "transparency" in img.info
            or "exif" in img.info or max(img.size) > _LOAD_IMAGE_SIDE):
        return None
    try:
        img.load()
        return img.copy()
    except Exception:  # noqa: BLE001  load_image reads it again and says why, in one line
        return None


def _drafted(img: Image.Image) -> tuple[Image.Image, tuple[int, int]] | None:
    """A big JPEG decoded at 1/2 to 1/8 of its size (libjpeg's DCT scaling: several times
    faster; the check needs a 32x32 thumbnail, not the photo), turned upright, and its upright
    full size (height, width). The file is still read whole, so damage is still found. None
    when it is not a big grey or RGB JPEG, or fails here (then `load_image` says why)."""
    if img.format != "JPEG" or img.mode not in ("L", "RGB") or max(img.size) <= _DRAFT_FROM:
        return None
    try:
        turn = _TURNS.get(img.getexif().get(_ORIENTATION, 1))
    except Exception:  # noqa: BLE001  broken EXIF: load_image ignores it too
        turn = None
    width, height = img.size
    try:
        img.draft(img.mode, (_DRAFT_FROM, _DRAFT_FROM))
        img.load()
        picture = img.copy()
    except Exception:  # noqa: BLE001  load_image reads it again and says why, in one line
        return None
    if turn is None:
        return picture, (height, width)
    sideways = turn in (Image.Transpose.TRANSPOSE, Image.Transpose.ROTATE_270, Image.Transpose.TRANSVERSE,
                        Image.Transpose.ROTATE_90)
    return picture.transpose(turn), (width, height) if sideways else (height, width)


def _png_depth(img) -> int:
    # Pillow opens 16-bit grey PNGs as I;16 but 16-bit RGB ones as 8-bit RGB: ask the header.
    try:
        return int(img.png.im_info.get("bits", 8)) if hasattr(img, "png") and img.png else 8
    except Exception:  # noqa: BLE001  only a label in the report
        return 8


def problem_of(message: str) -> tuple[str, str]:
    """(kind, detail) for one of load_image's one-line refusals."""
    lower = message.lower()
    if lower == "empty file":
        kind = layout.EMPTY
    elif lower.startswith("unsupported format"):
        kind = layout.UNSUPPORTED
    elif lower.startswith("not an image"):
        kind = layout.NOT_IMAGE
    elif "truncated" in lower or "cut short" in lower:
        kind = layout.TRUNCATED
    elif lower.startswith("too large") or lower.startswith("too many"):
        kind = layout.TOO_LARGE
    elif lower.startswith("cannot decode"):
        kind = layout.DAMAGED
    else:
        kind = layout.UNREADABLE
    return kind, message


def choose_size(source: Scan | Iterable[tuple[int, int]], max_side: int = MAX_SIDE,
                min_side: int = MIN_SIDE) -> tuple[int, int]:
    """The training size (height, width) chosen from the pictures: the median height and the
    median width (so a folder of non-square pictures trains non-square), scaled down to
    MAX_SIDE (64) on the longer side if over it, each side at least MIN_SIDE (8). SOURCE is a
    Scan (up to 1,000 of its pictures' headers are read, a seeded sample) or (height, width)
    pairs. (28, 28) when there is nothing to go by."""
    sizes = _sizes(source) if isinstance(source, Scan) else [tuple(size) for size in source]
    if not sizes:
        return (28, 28)
    height, width = (float(np.median([size[axis] for size in sizes])) for axis in (0, 1))
    scale = min(1.0, max_side / max(height, width))
    return (max(min_side, round(height * scale)), max(min_side, round(width * scale)))


def choose_channels(source: Scan | Mapping[str, Sequence[bool]]) -> int:
    """3 when the pictures of some class really have colour (at least 10% of them: an RGB
    file whose channels are all equal is grey, see CHROMA), else 1. SOURCE is a Scan (up to
    50 pictures a class are decoded, a seeded sample) or {class: [has colour, ...]}."""
    flags = _colours(source) if isinstance(source, Scan) else source
    for values in flags.values():
        if values and sum(bool(value) for value in values) >= max(1, COLOUR_SHARE * len(values)):
            return 3
    return 1


def _sample(paths: list[Path], count: int) -> list[Path]:
    if len(paths) <= count:
        return paths
    chosen = np.random.default_rng(0).choice(len(paths), count, replace=False)
    return [paths[i] for i in sorted(chosen)]


def _sizes(scan: Scan) -> list[tuple[int, int]]:
    sizes = []
    for path in _sample([path for path, _, _ in scan.all_files()], SIZE_SAMPLE):
        try:
            with open_image(path) as img:
                sizes.append((img.height, img.width))
        except ImageError:
            continue
    return sizes


def _colours(scan: Scan) -> dict[str, list[bool]]:
    result: dict[str, list[bool]] = {}
    for name in scan.classes:
        for path in _sample(scan.class_files(name), COLOUR_SAMPLE):
            seen = look(path)
            if seen.problem is None:
                result.setdefault(name, []).append(seen.colour)
    return result
