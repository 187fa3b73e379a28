"""Near duplicates by perceptual hash (pHash), our own thirty lines: the `imagehash` package
would pull in SciPy and PyWavelets for the one hash we use.

A picture's pHash: its 32x32 grey thumbnail, the thumbnail's 2-D DCT, and one bit for each of
the lowest frequencies (the mean left out) saying whether it is above their median. The
16x16 lowest give the 256-bit hash that decides (two pictures are near duplicates when
their hashes differ in at most `--near` bits); the 8x8 lowest give a 64-bit hash that finds
the candidates fast (pairs within CANDIDATE_BITS of 64).

Measured on Fashion-MNIST (28x28): a copy recompressed as JPEG at quality 75 moves the
256-bit hash by at most 16 bits, doubled in size or made brighter by at most 10; the same
garment photographed with another print on it stays within 20; different shirts of the same
cut differ in 22 bits and more. Hence DEFAULT_NEAR = 20. (A 64-bit dHash or pHash alone
pairs thousands of distinct boots; the thumbnails' correlation pairs distinct trousers.)
"""

from __future__ import annotations

import numpy as np

DEFAULT_NEAR = 20  # bits of 256 two pictures' pHashes may differ in and be near duplicates
CANDIDATE_BITS = 12  # of 64: the pairs looked at (copies measured above move 4 at most)
THUMB = 32  # the side of the grey thumbnail the hashes are made from
FINE_WORDS = 4  # the 256-bit hash as four uint64
_CELLS = 1 << 22  # hash pairs compared at once (8 bytes each, 32 MB)


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)
    matrix = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n))
    matrix[0] /= np.sqrt(2.0)
    return matrix


_DCT = _dct_matrix(THUMB)


def _bits(low: np.ndarray) -> np.ndarray:
    """One bit per coefficient but the first (the mean), above their median; padded with a 0."""
    rest = low.ravel()[1:]
    return np.append(rest > np.sort(rest)[len(rest) // 2], False)


def phash(thumb: np.ndarray) -> tuple[int, bytes]:
    """The pHashes of a THUMBxTHUMB grey thumbnail (uint8): (64 bits as an int, 256 bits as 32 bytes)."""
    spectrum = _DCT @ thumb.astype(np.float64) @ _DCT.T
    coarse = int(np.packbits(_bits(spectrum[:8, :8])).view(">u8")[0])
    return coarse, np.packbits(_bits(spectrum[:16, :16])).tobytes()


def near_pairs(coarse: list[int], fine: list[bytes], within: int = DEFAULT_NEAR) -> list[tuple[int, int, int]]:
    """(i, j, distance of the 256-bit hashes) for every i < j within WITHIN bits, among the
    pairs whose 64-bit hashes are within CANDIDATE_BITS. All pairs of 64-bit hashes are
    compared, in blocks: 10,000 pictures in well under a second, 60,000 in seconds."""
    if len(coarse) < 2:
        return []
    values = np.array(coarse, dtype=np.uint64)
    words = np.frombuffer(b"".join(fine), dtype=np.uint64).reshape(len(fine), FINE_WORDS)
    pairs: list[tuple[int, int, int]] = []
    rows_at_once = max(1, _CELLS // len(values))
    for start in range(0, len(values), rows_at_once):
        block = values[start:start + rows_at_once]
        distance = _popcount(block[:, None] ^ values[None, start:])  # only pairs with j >= i
        rows, cols = np.nonzero(distance <= CANDIDATE_BITS)
        keep = cols > rows
        rows, cols = rows[keep] + start, cols[keep] + start
        if not len(rows):
            continue
        close = _popcount(words[rows] ^ words[cols]).sum(axis=1, dtype=np.int64)
        near = close <= within
        pairs += zip(rows[near].tolist(), cols[near].tolist(), close[near].tolist(), strict=True)
    return pairs


def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy 2
        return np.bitwise_count(x)
    return np.unpackbits(x.view(np.uint8).reshape(*x.shape, 8), axis=-1).sum(axis=-1, dtype=np.uint8)
