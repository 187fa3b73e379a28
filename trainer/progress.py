"""Progress reporting: rich bars for people, JSON lines for programs (the TUI), or nothing.

The events are tui/contract.py's typed dataclasses (documented in docs/model-contract.md):
`emit("batch", ...)` builds a `contract.Batch`, so a misspelt field fails at once.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Any

from tui import contract
from tui.contract import Event
from tui.streams import write_lines

BATCH_INTERVAL_S = 0.25  # at most four batch events a second: enough for a live bar


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become null, numpy scalars become floats."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Reporter:
    """Receives training events; subclasses decide how they are shown."""

    def __init__(self) -> None:
        self._last_batch = 0.0

    def emit(self, event: str, **fields: Any) -> None:
        """Report the event of kind EVENT with these fields (a contract.Event subclass's)."""
        self.send(contract.EVENTS[event](**fields))

    def send(self, event: Event) -> None:
        """Report one typed event; batch events at most every BATCH_INTERVAL_S, and each epoch's last."""
        if isinstance(event, contract.Batch):
            now = time.monotonic()
            if now - self._last_batch < BATCH_INTERVAL_S and event.step != event.steps:
                return
            self._last_batch = now
        self.handle(_clean(event.to_dict()))

    def handle(self, event: dict) -> None:
        """Show one event."""

    def info(self, text: str) -> None:
        """A line for people (not an event)."""

    def close(self) -> None:
        """Finish output (stop live bars)."""


class NullReporter(Reporter):
    """Shows nothing but errors."""

    def handle(self, event: dict) -> None:
        if event["event"] == "error":
            print(f"error: {event['message']}", file=sys.stderr)


class JsonlReporter(Reporter):
    """One JSON object per line on the real stdout; everything else printed goes to stderr."""

    def __init__(self) -> None:
        super().__init__()
        # TensorFlow, tf2onnx and friends print to fd 1 now and then; keep the
        # event stream clean by moving fd 1 to stderr and writing events to a copy.
        sys.stdout.flush()
        self._fd = os.dup(1)
        os.dup2(2, 1)

    def handle(self, event: dict) -> None:
        write_lines(self._fd, (json.dumps(event, separators=(",", ":")) + "\n").encode())

    def info(self, text: str) -> None:
        print(text, file=sys.stderr)

    def close(self) -> None:
        """Nothing is buffered: each event went out whole, by itself."""


class RichReporter(Reporter):
    """Epoch and batch bars on the terminal, one summary line per epoch."""

    def __init__(self) -> None:
        super().__init__()
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description:<14}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._epochs = self._batches = None
        self._model = ""

    def send(self, event: Event) -> None:
        # Bars redraw at their own rate: no need to throttle batch updates here.
        self.handle(_clean(event.to_dict()))

    def handle(self, event: dict) -> None:
        kind = event["event"]
        if kind == "start":
            self._model = event["model"]
            self.progress.start()
            self._epochs = self.progress.add_task(f"{self._model} epochs", total=event["epochs"], status="")
            self._batches = self.progress.add_task("batches", total=event["steps"], status="")
        elif kind == "epoch_start":
            self.progress.update(self._epochs, completed=event["epoch"] - 1)
            self.progress.reset(self._batches, status="")
        elif kind == "batch":
            status = _format_metrics({"loss": event.get("loss"), **event.get("metrics", {})})
            self.progress.update(self._batches, completed=event["step"], total=event["steps"], status=status)
        elif kind == "epoch_end":
            self.progress.update(self._epochs, completed=event["epoch"])
            train = _format_metrics({"loss": event.get("loss"), **event.get("metrics", {})})
            val = _format_metrics({f"val_{k}": v for k, v in event.get("val_metrics", {}).items()})
            self.console.print(
                f"[bold]{self._model}[/] epoch {event['epoch']}/{event['epochs']}  {train}  {val}  "
                f"[dim]{event['seconds']:.1f}s[/]",
                highlight=False,
            )
        elif kind == "export":
            self.console.print(f"wrote [bold]{event['path']}[/] (parity {event['parity']:.1e})", highlight=False)
        elif kind == "done":
            self.close()
            self.console.print(f"[green]{self._model} done[/]: {_format_metrics(event['metrics'])}", highlight=False)
        elif kind == "error":
            self.close()
            from rich.markup import escape

            self.console.print(f"[red]error:[/] {escape(event['message'])}", highlight=False)

    def info(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False)

    def close(self) -> None:
        self.progress.stop()
        for task in list(self.progress.task_ids):
            self.progress.remove_task(task)


def _format_metrics(metrics: dict) -> str:
    parts = []
    for key, value in metrics.items():
        if value is None:
            continue
        parts.append(f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}")
    return "  ".join(parts)


def make_reporter(mode: str) -> Reporter:
    """auto: bars on a terminal, JSON lines when stdout is a pipe or file."""
    if mode == "auto":
        mode = "rich" if sys.stdout.isatty() else "jsonl"
    return {"rich": RichReporter, "jsonl": JsonlReporter, "none": NullReporter}[mode]()
