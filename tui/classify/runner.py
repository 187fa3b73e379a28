"""The classify loop: files in, batches through the models, rows out, as a stream."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from time import perf_counter

import numpy as np

from tui.classify.pipeline import Loaded, Prep, load_all
from tui.classify.report import ProgressBar, Stats
from tui.classify.rows import Row, classified, failed
from tui.classify.sources import Source
from tui.classify.writers import Writer
from tui.runtime import ModelError, ModelInfo, Runtime
from tui.text import one_line


@dataclass(frozen=True)
class Plan:
    """Everything a run needs, already checked."""

    models: list[ModelInfo]
    prep: Prep
    batch_size: int = 256
    workers: int = 1


def classify(
    sources: Iterable[Source], plan: Plan, runtime: Runtime, writer: Writer, bar: ProgressBar
) -> Stats:
    """Classify every source; bad files become error rows. ModelError if a model fails."""
    stats = Stats()
    batch: list[Loaded] = []
    for item in load_all(sources, plan.prep, plan.workers):
        batch.append(item)
        if len(batch) >= plan.batch_size:
            _flush(batch, plan, runtime, writer, stats)
            bar.advance(len(batch))
            batch = []
    if batch:
        _flush(batch, plan, runtime, writer, stats)
        bar.advance(len(batch))
    return stats


def _flush(batch: list[Loaded], plan: Plan, runtime: Runtime, writer: Writer, stats: Stats) -> None:
    good = [item for item in batch if item.image is not None]
    probs: dict[str, np.ndarray] = {}
    if good:
        images = np.stack([item.image for item in good])
        for info in plan.models:
            start = perf_counter()
            probs[info.name] = _predict(runtime, info, images)
            stats.infer_seconds += perf_counter() - start
    out: list[list[Row]] = []
    index = 0
    for item in batch:
        stats.files += 1
        stats.load_seconds += item.seconds
        if item.image is None:
            stats.failed += 1
            out.append([failed(item.path, info.name, item.error or "failed") for info in plan.models])
            continue
        out.append([classified(item.path, info.name, info.labels, probs[info.name][index])
                    for info in plan.models])
        index += 1
    writer.write(out)


def _predict(runtime: Runtime, info: ModelInfo, images: np.ndarray) -> np.ndarray:
    # Our preprocessing makes white on black; a model may say it wants the reverse.
    if info.preprocessing.get("polarity") == "black-on-white":
        images = 1.0 - images
    try:
        return runtime.predict(info.name, images)
    except ModelError:
        raise
    except Exception as error:  # onnxruntime's own types: a model that breaks its contract
        raise ModelError(f"model {info.name} failed to run: {one_line(error)}") from None
