"""The `dl-train` subprocess and its JSON-lines progress events (docs/model-contract.md), with no Textual in it."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.extras import TRAIN_EXTRA as INSTALL_HINT  # noqa: F401  (the Train screen's; dl-train says the same)

TRAINABLE = ("cnn", "iris", "vae", "vae-classifier", "all")
EVENTS = {"start", "epoch_start", "batch", "epoch_end", "export", "done", "error"}
# Which commands take which options: one home for the command line and the form.
INVERT_MODELS = ("cnn",)
MNIST_MODELS = tuple(name for name in TRAINABLE if name != "iris")


@dataclass(frozen=True)
class TrainOptions:
    """One run's choices, as dl-train's command line takes them."""

    model: str
    epochs: int
    invert: bool = False
    restart: bool = False
    data: str = ""  # --data: an mnist.npz or IDX folder, for machines that cannot download MNIST


# Builds argv from the options and the models folder; tests swap in a scripted fake trainer.
CommandBuilder = Callable[[TrainOptions, Path], list[str]]


def have_tensorflow() -> bool:
    """Whether the `train` extra is installed, found without importing TensorFlow."""
    return importlib.util.find_spec("tensorflow") is not None


def trainer_argv() -> list[str]:
    """How to start the trainer: the `dl-train` script beside this Python, on PATH, else `python -m`."""
    beside = Path(sys.executable).with_name("dl-train")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("dl-train")
    return [found] if found else [sys.executable, "-m", "trainer.cli"]


def dl_train_command(options: TrainOptions, out: Path) -> list[str]:
    """The real `dl-train` command line for one run, writing into OUT."""
    argv = [*trainer_argv(), options.model]
    if options.invert and options.model in INVERT_MODELS:
        argv.append("--invert")
    if options.restart:
        argv.append("--restart")
    if options.data and options.model in MNIST_MODELS:
        argv += ["--data", options.data]
    return [*argv, "--epochs", str(options.epochs), "--out", str(out), "--progress", "jsonl"]


def plural(count: int, word: str, words: str = "") -> str:
    """`1 epoch`, `2 epochs`: COUNT and the word in the number it takes."""
    return f"{count} {word if count == 1 else words or word + 's'}"


class NotAnEvent(ValueError):
    """A stdout line that is not one of the trainer's JSON events."""


def parse_event(line: str) -> dict[str, Any]:
    """One stdout line as an event dict, or NotAnEvent."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError as error:
        raise NotAnEvent(line.strip()) from error
    if not isinstance(event, dict) or event.get("event") not in EVENTS:
        raise NotAnEvent(line.strip())
    return event


@dataclass
class Series:
    """One curve: x in epochs (fractional within an epoch), y the value."""

    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)

    def add(self, x: float, y: float | None) -> None:
        """Append a point, ignoring missing values."""
        if y is not None:
            self.xs.append(float(x))
            self.ys.append(float(y))


@dataclass
class TrainingState:
    """Everything the Train screen draws, folded from events one at a time."""

    model: str = ""
    epochs: int = 0
    epoch: int = 0
    steps: int = 0
    step: int = 0
    status: str = "idle"
    loss: Series = field(default_factory=Series)
    val_loss: Series = field(default_factory=Series)
    metric: Series = field(default_factory=Series)  # accuracy, or the VAE's ELBO (see metric_name)
    val_metric: Series = field(default_factory=Series)
    metric_name: str = "accuracy"
    # The run before this one: a run of the same model that resumes continues its finished epochs.
    earlier: TrainingState | None = field(default=None, repr=False, compare=False)

    @property
    def epochs_done(self) -> float:
        """Finished epochs plus the running one's share: the epoch bar's progress."""
        if not self.epoch:
            return 0.0
        # A replayed history has no batches: each of its epochs is whole.
        return self.epoch - 1 + (min(self.step, self.steps) / self.steps if self.steps else 1.0)

    def apply(self, event: dict[str, Any]) -> str:
        """Fold one event into the state and return a log line for it."""
        kind = event["event"]
        if kind == "start":
            # `dl-train all` sends one start per model: each starts fresh curves.
            fresh = TrainingState(model=event.get("model", ""), epochs=int(event.get("epochs", 0)))
            fresh.steps, fresh.status = int(event.get("steps", 0)), "training"
            if self.earlier is not None and self.earlier.model == fresh.model:
                fresh.earlier = self.earlier
            self.__dict__.update(fresh.__dict__)
            return f"start {self.model}: {plural(self.epochs, 'epoch')}, {plural(self.steps, 'batch', 'batches')} each"
        if kind == "epoch_start":
            self.epoch, self.step = int(event["epoch"]), 0
            self.epochs = int(event.get("epochs", self.epochs))
            resumed = ""
            if self.epoch > 1 and not self.loss.xs and not self.val_loss.xs:  # the run's first epoch: a resume
                resumed = f" (resuming after epoch {self.epoch - 1})"
                if self.earlier is not None:
                    self._continue(self.earlier, self.epoch - 1)
            self.earlier = None
            return f"epoch {self.epoch}/{self.epochs}{resumed}"
        if kind == "batch":
            self.epoch, self.step = int(event["epoch"]), int(event["step"])
            self.steps = int(event.get("steps", self.steps)) or 1
            x = self.epoch - 1 + self.step / self.steps
            self.loss.add(x, event.get("loss"))
            self.metric.add(x, self._metric(event.get("metrics")))
            return ""
        if kind == "epoch_end":
            return self._epoch_end(event)
        if kind == "export":
            return f"exported {event.get('path')} (parity {_num(event.get('parity'))})"
        if kind == "done":
            self.status = "done"
            return f"done {event.get('model', self.model)}: {_format(event.get('metrics'))}"
        if self.status == "cancelling":  # the trainer's answer to our SIGINT, not a failure
            self.status = "cancelled"
            return ""
        self.status = "error"
        return f"error: {event.get('message', '')}"

    def _continue(self, earlier: TrainingState, done: int) -> None:
        """Start from EARLIER's curves up to epoch DONE, the last one the resumed run kept: what came
        after it (the interrupted epoch's batches) is replaced by this run's, never drawn twice."""
        for name in ("loss", "val_loss", "metric", "val_metric"):
            old: Series = getattr(earlier, name)
            kept = [(x, y) for x, y in zip(old.xs, old.ys) if x <= done]
            setattr(self, name, Series([x for x, _ in kept], [y for _, y in kept]))
        self.metric_name = earlier.metric_name

    def _metric(self, metrics: dict[str, Any] | None) -> float | None:
        # The second chart's value: Keras's "accuracy", or the VAE's ELBO, which then names the chart.
        metrics = metrics or {}
        if "elbo" in metrics:
            self.metric_name = "elbo"
            return metrics["elbo"]
        return metrics.get("accuracy")

    def _epoch_end(self, event: dict[str, Any]) -> str:
        self.epoch, self.step = int(event["epoch"]), self.steps
        val = event.get("val_metrics") or {}
        self.loss.add(self.epoch, event.get("loss"))
        self.metric.add(self.epoch, self._metric(event.get("metrics")))
        self.val_loss.add(self.epoch, val.get("loss"))
        self.val_metric.add(self.epoch, self._metric(val))
        if self.epoch >= self.epochs and self.status == "training":
            self.status = "testing and exporting…"  # dl-train evaluates, then writes and checks each ONNX file
        seconds = event.get("seconds")
        took = f" in {seconds:.1f}s" if isinstance(seconds, (int, float)) else ""
        train = {"loss": event.get("loss"), **(event.get("metrics") or {})}
        shown_val = {f"val {k}": v for k, v in val.items()}
        return f"epoch {self.epoch}/{self.epochs}: {_format(train)} · {_format(shown_val)}{took}"


def history_event(model: str, epochs: int, row: dict[str, Any]) -> dict[str, Any]:
    """One `history` metadata row as the `epoch_end` event the trainer would have sent."""
    val = {k[4:]: v for k, v in row.items() if k.startswith("val_")}
    metrics = {k: v for k, v in row.items() if k not in {"epoch", "loss", "seconds"} and not k.startswith("val_")}
    return {
        "event": "epoch_end", "model": model, "epoch": row.get("epoch", 0), "epochs": epochs,
        "loss": row.get("loss"), "metrics": metrics, "val_metrics": val, "seconds": row.get("seconds"),
    }


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else str(value)


def _format(metrics: Any) -> str:
    if not isinstance(metrics, dict):
        return str(metrics)
    return ", ".join(f"{k} {_num(v)}" for k, v in metrics.items())


class TrainerProcess:
    """A running trainer: its stdout lines as they come, its stderr tail, and a clean cancel."""

    def __init__(self, argv: Sequence[str], cwd: Path | None = None, tail: int = 12) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # Its own session: a cancel can signal the whole group, and terminal signals meant for us miss it.
        self.proc = subprocess.Popen(
            list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace", bufsize=1,
            start_new_session=True,
        )
        self.stderr_tail: deque[str] = deque(maxlen=tail)
        self.cancelled = False
        self._stderr = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr.start()

    def _drain_stderr(self) -> None:
        # Drained on its own thread, or a chatty TensorFlow fills the pipe and the trainer blocks.
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if line.strip():
                self.stderr_tail.append(line.rstrip())

    def lines(self) -> Iterator[str]:
        """Stdout lines until the trainer closes it."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                yield line

    def wait(self) -> int:
        """Wait for exit (and the stderr reader) and return the exit code."""
        code = self.proc.wait()
        self._stderr.join(timeout=2)
        return code

    def cancel(self, grace: float = 10.0) -> None:
        """SIGINT first so the trainer can stop cleanly; terminate, then kill, if it lingers."""
        self.cancelled = True
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            if self.proc.poll() is not None:
                return
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue
