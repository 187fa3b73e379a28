"""The classify loop: files in, batches through the models, rows out, as a stream."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import closing
from itertools import islice

from tui.classify.pipeline import Done, classify_all, infer, load_all
from tui.classify.plan import Plan
from tui.classify.report import ProgressBar, Stats
from tui.classify.rows import Row, classified, failed
from tui.classify.sources import Source
from tui.classify.writers import Writer, write
from tui.runtime import Runtime
from tui.runtime.classifier import Verdict, verdict


def classify(
    sources: Iterable[Source], plan: Plan, runtime: Runtime, writer: Writer, bar: ProgressBar
) -> Stats:
    """Classify every source; bad files become error rows. ModelError if a model fails,
    OutputError if stdout takes no more."""
    stats = Stats()
    if any(info.preprocessing.stretch for info in plan.models):  # a model trained on a folder
        stats.unlike = "their training images"
    # Closed at once on any way out, so the workers stop with the run.
    with closing(_batches(sources, plan, runtime)) as batches:
        for done in batches:
            _write(done, plan, writer, stats)
            bar.advance(len(done.files))
    return stats


def _batches(sources: Iterable[Source], plan: Plan, runtime: Runtime) -> Iterator[Done]:
    if plan.infer_in_workers and plan.workers > 1:
        yield from classify_all(sources, plan.prep, runtime, plan.models, plan.workers, plan.chunk)
        return
    loaded = load_all(sources, plan.prep, plan.workers, plan.chunk)
    while batch := list(islice(loaded, plan.batch_size)):
        yield infer(batch, runtime, plan.models, plan.prep)


def _write(done: Done, plan: Plan, writer: Writer, stats: Stats) -> None:
    stats.infer_seconds += done.infer_seconds
    out: list[list[Row]] = []
    index = 0
    for item in done.files:
        stats.files += 1
        stats.load_seconds += item.seconds
        if item.error is not None:
            rows = [failed(item.path, info.name, item.error) for info in plan.models]
        else:
            rows = [classified(item.path, info.name, info.labels, done.probs[info.name][index],
                               _item(verdict(done.ood.get(info.name), index)))
                    for info in plan.models]
            index += 1
            stats.ood_checked |= any(row.ood is not None for row in rows)
            stats.flagged += any(row.ood is not None and row.ood["flagged"] for row in rows)
        # A file fails when any model could not classify it (a NaN, say).
        stats.failed += any(row.error is not None for row in rows)
        out.append(rows)
    write(writer, out)


def _item(found: Verdict | None) -> dict | None:
    return None if found is None else found.item()
