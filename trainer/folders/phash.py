"""A 64-bit difference hash (dHash) and the pairs of hashes within a Hamming distance.

Our own twenty lines rather than the `imagehash` package: that pulls in SciPy and PyWavelets
for hashes we do not use, and dHash is all the check needs (it survives resizing, JPEG
recompression and small changes of brightness, which is what a near duplicate is).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

DEFAULT_NEAR = 4  # bits of 64 two dHashes may differ in and still be near duplicates
_CELLS = 1 << 22  # hash pairs compared at once (8 bytes each, 32 MB)


def dhash(grey: Image.Image) -> int:
    """Shrink to 9x8 (averaging every pixel), then one bit per pair of neighbours in a row:
    is the right one brighter? 64 bits, as an int."""
    small = np.asarray(grey.convert("L").resize((9, 8), Image.Resampling.BOX), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int(np.packbits(bits).view(">u8")[0])


def near_pairs(hashes: list[int], within: int) -> list[tuple[int, int, int]]:
    """(i, j, distance) for every i < j whose hashes differ in at most WITHIN bits; pairs of
    equal hashes included. Compares all pairs in blocks: 10,000 hashes in well under a second."""
    if len(hashes) < 2:
        return []
    values = np.array(hashes, dtype=np.uint64)
    pairs = []
    rows_at_once = max(1, _CELLS // len(values))
    for start in range(0, len(values), rows_at_once):
        block = values[start:start + rows_at_once]
        rest = values[start + 1:]
        distance = _popcount(block[:, None] ^ rest[None, :])
        rows, cols = np.nonzero(distance <= within)
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            i, j = start + row, start + 1 + col
            if j > i:
                pairs.append((i, j, int(distance[row, col])))
    return pairs


def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy 2
        return np.bitwise_count(x)
    return np.unpackbits(x.view(np.uint8).reshape(*x.shape, 8), axis=-1).sum(axis=-1, dtype=np.uint8)
