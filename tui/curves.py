"""Arithmetic for the training charts, without Textual: smoothing, log scale, axis ticks, the
point nearest an x. TensorBoard's scalars are the model: what people expect of a loss curve."""

from __future__ import annotations

import math
from collections.abc import Sequence

SMOOTHINGS = (0.0, 0.6, 0.9)  # off, TensorBoard's default, heavy


def smooth(ys: Sequence[float], weight: float) -> list[float]:
    """TensorBoard's smoothing: an exponential moving average, debiased so the first points
    are not pulled towards zero. `weight` 0 leaves the values as they are."""
    if not weight:
        return list(ys)
    out, last, debias = [], 0.0, 1.0
    for y in ys:
        last = last * weight + (1 - weight) * y
        debias *= weight
        out.append(last / (1 - debias))
    return out


def can_log(ys: Sequence[float]) -> bool:
    """A log scale shows these values only if all are above zero (an ELBO never is)."""
    return bool(ys) and min(ys) > 0


def nice_step(span: float, most: int) -> float:
    """The smallest of 1, 2, 5 times a power of ten that cuts `span` into at most `most` steps."""
    if span <= 0 or most < 1:
        return 1.0
    step = 10 ** math.floor(math.log10(span / most))
    for factor in (1, 2, 5, 10):
        if span / (step * factor) <= most + 1e-9:
            return step * factor
    return step * 10


def label(value: float, width: int) -> str:
    """A tick's value in at most `width` characters."""
    text = f"{value:.3g}"
    return text if len(text) <= width else f"{value:.0e}"[:width]


def nearest(xs: Sequence[float], ys: Sequence[float], x: float) -> tuple[float, float] | None:
    """The point whose x is nearest to `x`, or None for an empty series."""
    if not xs:
        return None
    index = min(range(len(xs)), key=lambda i: abs(xs[i] - x))
    return xs[index], ys[index]
