"""Load, preprocess and classify files in their order, on worker processes when there are many.

Two ways to use the workers: decode only (the caller runs the model, e.g. on a GPU), or
decode and run the model too (on the CPU), so that every core does both kinds of work and
the caller only writes the results.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from time import perf_counter

import numpy as np
from PIL import Image

from tui.classify.plan import CHUNK, Prep
from tui.classify.pool import DIED, memory_limit, ordered
from tui.classify.sources import Source
from tui.runtime import ModelError, ModelInfo, Runtime
from tui.runtime.classifier import predict  # the app's checks and errors, for batches
from tui.runtime.ood import Ood
from tui.runtime.preprocess import ImageError, load_image
from tui.text import one_line


@dataclass(frozen=True)
class Loaded:
    """One file after load+preprocess: its inputs, one per view of the run's Prep (dropped
    once classified), or why it failed; and the time it took. A file is good when `error` is None."""

    path: Path
    image: tuple[np.ndarray, ...] | None
    error: str | None
    seconds: float


# A classified chunk as it comes back from a worker: per file its error and seconds,
# then the probabilities and the inference time, as in Done.
Outcome = tuple[list["str | None"], list[float], dict[str, np.ndarray], float, dict[str, Ood]]


@dataclass(frozen=True)
class Done:
    """Some files, in order, and each model's probabilities [good files, C] for them."""

    files: list[Loaded]
    probs: dict[str, np.ndarray]
    infer_seconds: float  # summed over the models
    ood: dict[str, Ood] = field(default_factory=dict)  # models with an OOD calibration only


def quiet_pillow() -> None:
    """Silence Pillow's warnings (a decompression bomb, corrupt EXIF, a malformed MPO or APNG):
    load_image turns what matters into an error row, and stderr is for our own lines."""
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    warnings.filterwarnings("ignore", module=r"PIL\.")


def load_chunk(chunk: list[Source], prep: Prep) -> list[Loaded]:
    """Load and preprocess some files, one result each, never raising for a bad file; no
    file may make the process grow by more than `prep.memory` (its error row says so)."""
    results = []
    with memory_limit(prep.memory):
        for path, error in chunk:
            start = perf_counter()
            image = None
            if error is None:
                try:  # read once, each view made once
                    picture = load_image(path, prep.max_bytes, colour=prep.colour)
                    image = tuple(view.make(picture) for view in prep.views)
                except ImageError as problem:
                    error = str(problem)
            results.append(Loaded(path, image, error, perf_counter() - start))
    return results


def infer(files: list[Loaded], runtime: Runtime, models: list[ModelInfo], prep: Prep) -> Done:
    """Run every model once on the good files, each on its own view; the images are dropped
    from the result."""
    good = [item.image for item in files if item.error is None and item.image is not None]
    probs: dict[str, np.ndarray] = {}
    oods: dict[str, Ood] = {}
    seconds = 0.0
    if good:
        stacked: dict[int, np.ndarray] = {}
        for info in models:
            view = prep.view_of(info)
            if view not in stacked:
                stacked[view] = np.stack([image[view] for image in good])
            start = perf_counter()
            probs[info.name], ood = predict(runtime, info, stacked[view])
            if ood is not None:
                oods[info.name] = ood
            seconds += perf_counter() - start
    # Only the probabilities travel back from a worker, not 3 KB of pixels per file.
    files = [Loaded(item.path, None, item.error, item.seconds) for item in files]
    return Done(files, probs, seconds, oods)


def load_all(sources: Iterable[Source], prep: Prep, workers: int = 1,
             chunk: int = CHUNK) -> Iterator[Loaded]:
    """Every source loaded, in order, streamed: at most a few chunks are in flight.

    With `workers` > 1, decoding runs on that many processes, `chunk` files a task,
    while the caller runs the model on what came back.
    """
    for loaded in ordered(load_chunk, _chunks(sources, chunk), (prep,), workers,
                          (quiet_pillow, ()), _lost_files):
        yield from loaded


def classify_all(sources: Iterable[Source], prep: Prep, runtime: Runtime,
                 models: list[ModelInfo], workers: int, chunk: int = CHUNK) -> Iterator[Done]:
    """Every source loaded and classified on the CPU, in order, `chunk` files at a time.

    With `workers` > 1, each worker process loads a chunk and runs the models on it with
    a session of its own (one thread each: the processes already fill the cores);
    otherwise everything runs here on `runtime`.
    """
    chunks = _chunks(sources, chunk)
    if workers <= 1:
        for files in chunks:
            yield infer(load_chunk(files, prep), runtime, models, prep)
        return
    names = [info.name for info in models]
    sent: deque[list[Source]] = deque()

    def send() -> Iterator[list[tuple[str, str | None]]]:
        # Names as str: a Path is rebuilt (parsed) on each side of a pipe.
        for files in chunks:
            sent.append(files)
            yield [(str(path), error) for path, error in files]

    for errors, seconds, probs, infer_seconds, oods in ordered(
            _classify_chunk, send(), (prep,), workers,
            (_start_classifier, (list(runtime.folders), names, runtime.precision)), _lost_outcome):
        files = sent.popleft()
        yield Done([Loaded(path, None, error, time) for (path, _), error, time
                    in zip(files, errors, seconds, strict=False)], probs, infer_seconds, oods)


# What a chunk leaves when its worker died every time it ran it: an error row per file.
def _lost_files(chunk: list[Source]) -> list[Loaded]:
    return [Loaded(path, None, DIED, 0.0) for path, _ in chunk]


def _lost_outcome(chunk: list[tuple[str, str | None]]) -> Outcome:
    return [DIED] * len(chunk), [0.0] * len(chunk), {}, 0.0, {}


def _chunks(sources: Iterable[Source], size: int) -> Iterator[list[Source]]:
    it = iter(sources)
    while chunk := list(islice(it, size)):
        yield chunk


# A worker's own runtime and models (onnxruntime sessions must not cross a fork), or
# why it has none: raised from each task, so the parent reports it as a ModelError.
_worker: tuple[Runtime, list[ModelInfo]] | str | None = None


def _start_classifier(folders: list[Path], names: list[str], precision: str) -> None:
    global _worker
    quiet_pillow()
    try:
        # One thread and no spinning: every worker is one core's worth of work. The same
        # folders and precision as the parent's runtime, so a name finds the same file.
        runtime = Runtime(folders, "cpu", interactive=True, threads=1, precision=precision)
        _worker = runtime, [runtime.info(name) for name in names]
    except Exception as error:  # noqa: BLE001  an initializer that raises only breaks the pool
        _worker = one_line(error)


def _classify_chunk(chunk: list[tuple[str, str | None]], prep: Prep) -> Outcome:
    """In a worker: what the parent needs to write the rows, and nothing more (it has
    the paths already)."""
    assert _worker is not None, "worker not started"
    if isinstance(_worker, str):
        raise ModelError(_worker)
    runtime, models = _worker
    done = infer(load_chunk(chunk, prep), runtime, models, prep)  # type: ignore[arg-type]
    return ([f.error for f in done.files], [f.seconds for f in done.files], done.probs,
            done.infer_seconds, done.ood)
