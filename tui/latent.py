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
    """The grid picture as RGB [H, W, 3] with cell (row, col) tinted and framed in the cursor colour."""
    rgb = np.repeat(picture[:, :, None], 3, axis=2)
    top, left = row * DIGIT, col * DIGIT
    cell = rgb[top : top + DIGIT, left : left + DIGIT]
    colour = np.array(CURSOR_RGB, dtype=np.float32)
    # A tint, not only a thin frame: at 20x20 in half-cells a cell is four columns wide, and a
    # frame alone blurs away when the picture is scaled down.
    tinted = np.maximum(cell.astype(np.float32) / 255.0 * colour, 0.3 * colour)
    cell[:] = tinted.astype(np.uint8)
    cell[:width, :] = cell[-width:, :] = CURSOR_RGB
    cell[:, :width] = cell[:, -width:] = CURSOR_RGB
    return rgb


def clamp_n(n: int) -> int:
    """n kept within the sizes the grid supports."""
    return max(MIN_N, min(MAX_N, n))
