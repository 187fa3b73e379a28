"""A probability drawn as a bar of block characters: one drawing for the app and `dl-tui classify`."""

from __future__ import annotations

_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(fraction: float, width: int) -> str:
    """`fraction` (clamped to [0, 1]) as a bar of `width` cells, in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[part] if part else "")).ljust(width)
