"""The latent-space grid: where to sample the VAE, and how to tile its digits into one picture."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

DIGIT = 28
DEFAULT_N = 20
MIN_N, MAX_N = 2, 40
CURSOR_RGB = (255, 170, 0)


def quantiles(n: int) -> np.ndarray:
    """The standard normal's quantiles at n evenly spaced levels from 0.05 to 0.95, as in the notebook."""
    # statistics.NormalDist keeps SciPy and TensorFlow Probability out of the app.
    levels = np.linspace(0.05, 0.95, n)
    return np.array([NormalDist().inv_cdf(float(p)) for p in levels], dtype=np.float32)


def grid_points(n: int) -> np.ndarray:
    """Latent points [n*n, 2] in row-major order: row i has y = q[i], column j has x = q[j]."""
    q = quantiles(n)
    # The notebook's loop: for i, yi in enumerate(grid_x): for j, xi in enumerate(grid_y): z = [xi, yi].
    xs, ys = np.meshgrid(q, q)
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Pixel probabilities from the decoder's logits, without overflow warnings for large logits."""
    return (0.5 * (1.0 + np.tanh(0.5 * logits.astype(np.float32)))).astype(np.float32)


def to_digits(logits: np.ndarray, n: int) -> np.ndarray:
    """The decoder's logits [n*n, 28, 28, 1] as pixel probabilities [n, n, 28, 28]."""
    return sigmoid(logits).reshape(n, n, DIGIT, DIGIT)


def tile(digits: np.ndarray) -> np.ndarray:
    """Digits [n, n, 28, 28] in [0, 1] as one greyscale picture [n*28, n*28] of uint8."""
    n = digits.shape[0]
    picture = digits.transpose(0, 2, 1, 3).reshape(n * DIGIT, n * DIGIT)
    return np.clip(np.rint(picture * 255.0), 0, 255).astype(np.uint8)


def with_cursor(picture: np.ndarray, row: int, col: int, width: int = 3) -> np.ndarray:
    """The grid picture as RGB [H, W, 3] with cell (row, col) outlined in the cursor colour.

    The outline straddles the cell's edge, `width` pixels either side: it lies in the empty margins
    of MNIST-style digits, so the digit itself keeps its own pixels, and it stays thick enough to
    see when the picture is scaled down to a few cells per digit.
    """
    rgb = np.repeat(picture[:, :, None], 3, axis=2)
    height, full_width = picture.shape[:2]
    top, left = row * DIGIT, col * DIGIT
    bottom, right = top + DIGIT, left + DIGIT
    rows = slice(max(0, top - width), min(height, bottom + width))
    cols = slice(max(0, left - width), min(full_width, right + width))
    for edge in (top, bottom):
        rgb[max(0, edge - width) : min(height, edge + width), cols] = CURSOR_RGB
    for edge in (left, right):
        rgb[rows, max(0, edge - width) : min(full_width, edge + width)] = CURSOR_RGB
    return rgb


def clamp_n(n: int) -> int:
    """n kept within the sizes the grid supports."""
    return max(MIN_N, min(MAX_N, n))
