"""Decode a folder's pictures once, at the training size, into one uint8 array (the cache the
trainer's epochs read), with the same two calls `dl-tui` makes: `load_image` and `picture_array`."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tui.runtime.preprocess import DEFAULT_RESIZE, RESIZE_METHODS, ImageError, load_image, picture_array

from .layout import Scan
from .split import Split

# Files per task: big enough that a task's start (pickling paths, a result array) is noise,
# small enough that every worker stays busy to the end.
CHUNK = 256
# Below this many files a pool costs more than it saves (spawning a worker and importing
# numpy and Pillow there takes about half a second).
POOL_FROM = 2000
# Measured on 2 shared cores: 10,000 28x28 PNGs took 2.6 s in one process and 4.3 s with a
# pool of 2 (a 1600x1200 JPEG costs 80 ms either way), so a pool is the default only from 4.
POOL_CORES = 4
MAX_WORKERS = 8


def cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def decode(paths: Sequence[Path], size: tuple[int, int], channels: int, resize: str = DEFAULT_RESIZE,
           workers: int | None = None, progress: Callable[[int], None] | None = None,
           ) -> tuple[np.ndarray, list[tuple[Path, str]]]:
    """Every picture as `picture_array(load_image(path, colour=channels == 3), size, channels,
    resize)`: uint8 [N, H, W, C], the files that decoded, in the order given, and the
    (path, one-line reason) of each that did not (they have no row). With WORKERS over 1
    (default: the cores, up to 8, from 2,000 files and 4 cores) the files are read in worker
    processes (spawned: a script that calls this needs `if __name__ == "__main__"`);
    memory is the result plus one chunk of 256 pictures per worker. PROGRESS, if given, is
    called with the number of files done so far."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, not {channels}")
    if resize not in RESIZE_METHODS:
        raise ValueError(f"resize must be one of {', '.join(RESIZE_METHODS)}, not {resize!r}")
    height, width = size
    paths = [Path(path) for path in paths]
    images = np.zeros((len(paths), height, width, channels), dtype=np.uint8)
    failures: list[tuple[Path, str]] = []
    if workers is None:
        workers = default_workers(len(paths))
    chunks = [paths[start:start + CHUNK] for start in range(0, len(paths), CHUNK)]
    job = (tuple(size), channels, resize)
    kept = done = 0
    for chunk, (pictures, failed) in zip(chunks, in_chunks(_decode_chunk, chunks, job, workers), strict=True):
        images[kept:kept + len(pictures)] = pictures
        kept += len(pictures)
        failures += [(chunk[i], reason) for i, reason in failed]
        done += len(chunk)
        if progress is not None:
            progress(done)
    return images[:kept], failures


def default_workers(count: int) -> int:
    """Processes for COUNT files: the cores, up to 8, from 2,000 files and 4 cores; else 1."""
    return min(cores(), MAX_WORKERS) if count >= POOL_FROM and cores() >= POOL_CORES else 1


def in_chunks(work: Callable, chunks: list[list[Path]], job: tuple, workers: int) -> Iterator:
    """WORK(chunk, JOB) for each chunk, in order: in this process, or in a pool of WORKERS."""
    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            yield work(chunk, job)
        return
    # spawn, not fork: the trainer has TensorFlow's threads running by now, and a forked
    # copy of a process with threads can hang on a lock one of them held.
    context = multiprocessing.get_context("spawn")
    done = 0
    try:
        with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=context) as pool:
            for result in pool.map(work, chunks, [job] * len(chunks)):
                done += 1
                yield result
    except BrokenProcessPool:  # a worker killed (out of memory), or a script without a main guard
        for chunk in chunks[done:]:
            yield work(chunk, job)


def _decode_chunk(paths: list[Path], job: tuple) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """One chunk: the arrays of the files that decoded, and (index, reason) for the others."""
    size, channels, resize = job
    pictures, failed = [], []
    for i, path in enumerate(paths):
        try:
            pictures.append(picture_array(load_image(path, colour=channels == 3), size, channels, resize))
        except ImageError as error:
            failed.append((i, str(error)))
    height, width = size
    return np.stack(pictures) if pictures else np.zeros((0, height, width, channels), np.uint8), failed


@dataclass
class Cached:
    """A scanned folder decoded once: `scan` holds only the files that decoded, `images` their
    pictures (in `scan.all_files()` order), `rows` each file's row by its path from the root."""

    scan: Scan
    images: np.ndarray
    rows: dict[str, int]
    failures: list[tuple[Path, str]]

    def arrays(self, split: Split, name: str) -> tuple[np.ndarray, np.ndarray]:
        """One split's pictures (uint8 [n, H, W, C], a copy) and class indices (int64), in the
        split's order. The split must be made from `self.scan` (files that failed have no row)."""
        pairs = split.files.get(name, [])
        index = np.array([self.rows[path] for path, _ in pairs], dtype=np.int64)
        labels = np.array([label for _, label in pairs], dtype=np.int64)
        return self.images[index], labels


def cache_scan(scan: Scan, size: tuple[int, int], channels: int, resize: str = DEFAULT_RESIZE,
               workers: int | None = None, progress: Callable[[int], None] | None = None) -> Cached:
    """Decode every file of SCAN once (see `decode`); files that fail leave the scan (a class
    left without files becomes empty). Split `Cached.scan` afterwards, so the split and its
    manifest hold only usable files:

        cached = cache_scan(scan(root), size, channels)
        parts = split(cached.scan, val, test, seed)
        x_train, y_train = cached.arrays(parts, "train")
    """
    paths = [path for path, _, _ in scan.all_files()]
    images, failures = decode(paths, size, channels, resize, workers, progress)
    usable = scan.without(path for path, _ in failures)
    rows = {usable.relative(path): row for row, (path, _, _) in enumerate(usable.all_files())}
    return Cached(usable, images, rows, failures)
