"""MNIST-style normalisation of a grey image: find the digit, fit it in 20x20 keeping its
aspect ratio, and put its centre of mass in the middle of 28x28 (how MNIST was made).

Works on 8-bit arrays (a table lookup stretches the contrast) and leaves filtering and
resizing to Pillow: it runs once per file in `dl-tui classify`, so every step counts.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageFilter

BOX = 20 / 28  # MNIST fitted each digit in 20x20 of its 28x28
FLOOR = 0.15  # after stretching, fainter pixels are background (noise, halos, shadows)
CORE = 0.5  # stretched pixels above this are a stroke's core, surely the digit
GROW = 0.05  # the core's box grows over soft edges by at most this share of its size
MIN_CONTRAST = 0.1  # below this an image is blank: nothing to crop
DENOISE_FROM = 64  # median-filter images at least this big: photos, not MNIST's 28x28
_SMALL = 64 * 64  # pixels: up to this, the frame's median is taken in plain Python


def border_median(a: np.ndarray) -> int:
    """The median of the outer frame: the background's level even where a digit touches it."""
    if a.size <= _SMALL:
        # A small frame sorts faster as Python ints than numpy can start its calls.
        frame = a[0].tolist() + a[-1].tolist() + a[:, 0].tolist() + a[:, -1].tolist()
        frame.sort()
        return frame[len(frame) // 2]
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    middle = len(border) // 2
    return int(np.partition(border, middle)[middle])  # np.median costs several times more


def centre(a: np.ndarray, background: int, height: int, width: int) -> np.ndarray:
    """A light digit on a dark `background`, uint8 [H, W] in, float32 [height, width] in
    [0, 1] out."""
    # Few numpy calls: on a 28x28 image each costs about what its arithmetic does.
    if min(a.shape) >= DENOISE_FROM:
        a = np.asarray(Image.fromarray(a).filter(ImageFilter.MedianFilter(3)))  # no speckle
        background = border_median(a)
    out = np.zeros((height, width), dtype=np.float32)
    # Each row's and column's brightest pixel: the stretch below keeps the order of
    # levels, so it maps these to the stretched image's own, and finding the digit's box
    # needs them alone, not the whole stretched image.
    row_max, col_max = a.max(axis=1).tolist(), a.max(axis=0).tolist()
    foreground = max(row_max)
    if foreground - background < MIN_CONTRAST * 255:
        return out
    table, levels, fractions = _stretch(background, foreground)
    top, bottom, left, right = _digit_box([levels[v] for v in row_max],
                                          [levels[v] for v in col_max])
    crop_h, crop_w = bottom - top, right - left
    scale = round(BOX * max(height, width)) / max(crop_h, crop_w)
    box_h = max(1, min(height, round(crop_h * scale)))
    box_w = max(1, min(width, round(crop_w * scale)))
    if (crop_h, crop_w) == (box_h, box_w):
        fitted = fractions.take(a[top:bottom, left:right])  # stretched, in [0, 1]
    else:
        # Pillow averages over the source pixels when it shrinks (antialiasing, as MNIST).
        resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BILINEAR
        crop = Image.fromarray(table.take(a[top:bottom, left:right]))
        fitted = np.asarray(crop.resize((box_w, box_h), resample)).astype(np.float32) / 255.0
    mass = float(fitted.sum())
    if mass <= 0:
        return out
    # MNIST put the centre of mass, not the box, in the middle of the field.
    cy = float(fitted.sum(axis=1) @ _positions(box_h)) / mass
    cx = float(fitted.sum(axis=0) @ _positions(box_w)) / mass
    top = min(max(round(height / 2 - cy), 0), height - box_h)
    left = min(max(round(width / 2 - cx), 0), width - box_w)
    out[top : top + box_h, left : left + box_w] = fitted
    return out


@lru_cache(maxsize=64)
def _stretch(background: int, foreground: int) -> tuple[np.ndarray, list[int], np.ndarray]:
    """Lookup tables: background..foreground to 0..255, fainter than FLOOR to 0; as uint8,
    as Python ints, and divided by 255 as float32 (what `astype(float32) / 255` gives)."""
    v = (np.arange(256) - background) / (foreground - background)
    v = np.where(v < FLOOR, 0.0, np.clip(v, 0.0, 1.0))
    table = np.round(v * 255).astype(np.uint8)
    return table, table.tolist(), table.astype(np.float32) / 255.0


@lru_cache(maxsize=64)
def _positions(n: int) -> np.ndarray:
    return np.arange(n)


def _digit_box(rows: list[int], cols: list[int]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) around the strokes' cores, grown over their soft edges
    by a few pixels at most, so faint shading (uneven light) cannot stretch it. `rows`
    and `cols`: the brightest stretched pixel of each row and column."""
    top, bottom = _core(rows)
    left, right = _core(cols)
    limit = max(2, round(GROW * max(bottom - top, right - left)))
    return (_grow(rows, top, -1, limit), _grow(rows, bottom - 1, 1, limit) + 1,
            _grow(cols, left, -1, limit), _grow(cols, right - 1, 1, limit) + 1)


def _core(line_max: list[int]) -> tuple[int, int]:
    """The first and one past the last line holding a stroke's core (the stretch maps
    the brightest pixel to 255, so there is one)."""
    core = [i for i, v in enumerate(line_max) if v > CORE * 255]
    return core[0], core[-1] + 1


def _grow(ink: list[int], edge: int, step: int, limit: int) -> int:
    """Move `edge` outwards while the next line still has ink (is not 0), at most `limit`
    times."""
    while limit and 0 <= edge + step < len(ink) and ink[edge + step]:
        edge, limit = edge + step, limit - 1
    return edge
