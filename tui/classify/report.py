"""What a run tells the user on stderr: a progress bar for long runs, then one summary line."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING

from tui.text import clean

if TYPE_CHECKING:
    from rich.progress import Progress


_DELAY = 1.0  # seconds before a bar appears: short runs finish without one


@dataclass
class Stats:
    """Counts and times for the summary line."""

    files: int = 0
    failed: int = 0
    flagged: int = 0  # files some model's OOD check says do not look like its training data
    ood_checked: bool = False  # some model had an OOD calibration
    load_seconds: float = 0.0  # summed over files, on whichever process decoded them
    infer_seconds: float = 0.0  # summed over batches and models
    unlike: str = "a digit"  # what a flagged image is not like: "their training images" beside folder models
    started: float = field(default_factory=perf_counter)

    def summary(self, models: list[str], provider: str) -> str:
        """One line, as `yolo classify predict` ends: counts, wall time, time per image."""
        wall = perf_counter() - self.started
        classified = self.files - self.failed
        load = 1000 * self.load_seconds / max(self.files, 1)
        infer = 1000 * self.infer_seconds / max(classified, 1)
        failed = f", {self.failed} failed" if self.failed else ""
        flagged = f", {self.flagged} flagged (?) as not like {self.unlike}" if self.ood_checked else ""
        return (f"{classified} of {self.files} images classified{failed}{flagged} in {wall:.2f} s; "
                f"per image {load:.2f} ms load+preprocess, {infer:.2f} ms inference "
                f"({clean(', '.join(models))} on {clean(provider)})")


class ProgressBar:
    """A transient bar on stderr, shown only on a terminal and only once a run is long."""

    def __init__(self, enabled: bool, count: Callable[[], int]) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.count = count
        self.started = perf_counter()
        self.done = 0
        self.progress: Progress | None = None

    def advance(self, n: int) -> None:
        self.done += n
        if self.progress is None and self.enabled and perf_counter() - self.started > _DELAY:
            self._show()
        if self.progress is not None:
            self.progress.update(self.task, completed=self.done)

    def close(self) -> None:
        progress, self.progress = self.progress, None
        if progress is not None:
            with suppress(OSError):  # the terminal is gone (SSH dropped): nothing left to tidy
                progress.stop()

    def _show(self) -> None:
        # Imported here: most runs are short and never show a bar.
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeRemainingColumn)

        # Rows printed to a terminal on stdout must pass above the bar; when stdout is a
        # file or pipe it must be left alone, or the output would land on the terminal.
        self.progress = Progress(
            TextColumn("classifying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True,
            redirect_stdout=sys.stdout.isatty(), redirect_stderr=False,
        )
        self.task = self.progress.add_task("classify", total=None, completed=self.done)
        self.progress.start()
        # Counting the files is a second walk over the names: do it beside the work.
        threading.Thread(target=self._count, daemon=True).start()

    def _count(self) -> None:
        total = self.count()
        progress = self.progress  # close() may clear it meanwhile
        if progress is not None:
            progress.update(self.task, total=total)
