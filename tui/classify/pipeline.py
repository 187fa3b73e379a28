"""Load and preprocess files in their order, on worker processes when there are many."""

from __future__ import annotations

import signal
import sys
import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from time import perf_counter

import numpy as np
from PIL import Image

from tui.classify.sources import Source
from tui.runtime.preprocess import ImageError, prepare

CHUNK = 64  # files per task sent to a worker: big enough to hide the hand-over cost


@dataclass(frozen=True)
class Prep:
    """How to turn a file into a model input."""

    polarity: str = "auto"
    normalize: bool = True
    size: tuple[int, int] = (28, 28)


@dataclass(frozen=True)
class Loaded:
    """One file after load+preprocess: its input, or why it failed; and the time it took."""

    path: Path
    image: np.ndarray | None
    error: str | None
    seconds: float


def quiet_pillow() -> None:
    """Silence Pillow's decompression-bomb warning: load_image turns it into an error row."""
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)


def load_chunk(chunk: list[Source], prep: Prep) -> list[Loaded]:
    """Load and preprocess some files, one result each, never raising for a bad file."""
    results = []
    for path, error in chunk:
        start = perf_counter()
        image = None
        if error is None:
            try:
                image = prepare(path, prep.polarity, prep.normalize, prep.size)
            except ImageError as problem:
                error = str(problem)
        results.append(Loaded(path, image, error, perf_counter() - start))
    return results


def _start_worker() -> None:
    # Ctrl-C goes to the whole process group; the parent alone decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    quiet_pillow()


def _chunks(sources: Iterable[Source], size: int) -> Iterator[list[Source]]:
    it = iter(sources)
    while chunk := list(islice(it, size)):
        yield chunk


def load_all(sources: Iterable[Source], prep: Prep, workers: int = 1) -> Iterator[Loaded]:
    """Every source loaded, in order, streamed: at most a few chunks are in flight.

    With `workers` > 1 and more than one chunk of files, decoding runs on that many
    processes while the caller runs the model on what came back.
    """
    chunks = _chunks(sources, CHUNK)
    head = list(islice(chunks, 2))
    chunks = chain(head, chunks)
    if workers <= 1 or len(head) < 2:
        # One chunk or less: starting processes would cost more than it saves.
        for chunk in chunks:
            yield from load_chunk(chunk, prep)
        return
    import multiprocessing  # here: a short run never starts a process
    from concurrent.futures import ProcessPoolExecutor

    # fork starts workers in milliseconds; elsewhere only spawn is safe.
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker)
    pending: deque[Future[list[Loaded]]] = deque()
    try:
        for chunk in chunks:
            pending.append(pool.submit(load_chunk, chunk, prep))
            if len(pending) > 2 * workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
