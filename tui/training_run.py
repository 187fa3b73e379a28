"""One `dl-train` run as an explicit state machine, with no Textual in it:

    idle → starting → running → exporting → done | failed | cancelled

`starting` lasts from Start until the trainer's `start` event (preparing the staging folder, starting
the process, the trainer importing TensorFlow); `running` from then on; `exporting` after the last
epoch (dl-train tests, then writes and checks each ONNX file); `dl-train all` goes back to `running`
at each model's `start`. A cancel is a request that the run keeps until it ends: asked before the
process exists, the process is never started (the check and the start are one step, under a lock);
asked after, the caller signals the process `cancel` returns. The Train screen's worker runs
`execute`, which reports each step; its message handlers hand the reports back to `apply` on the
UI thread and draw what the run says.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from tui.text import one_line
from tui.trainer_client import NotAnEvent, TrainerProcess, parse_event


class Phase(str, Enum):
    """Where a run is."""

    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    EXPORTING = "exporting"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        """Whether the run is under way (a cancel still means something)."""
        return self in (Phase.STARTING, Phase.RUNNING, Phase.EXPORTING)

    @property
    def over(self) -> bool:
        """Whether the run has ended, one way or another."""
        return self in (Phase.DONE, Phase.FAILED, Phase.CANCELLED)


class NotStarted(Exception):
    """Why a run could not start, in one line (raised by `execute`'s prepare)."""


class InvalidTransition(RuntimeError):
    """A step the machine cannot take from where it is (a programming error, not a user's)."""


# What `execute` reports, in this order: at most one Launched, any Events and Outputs, one Exited.
@dataclass(frozen=True)
class Launched:
    """The trainer process is running."""

    argv: list[str]


@dataclass(frozen=True)
class Event:
    """One JSON event from the trainer's stdout."""

    event: dict[str, Any]


@dataclass(frozen=True)
class Output:
    """A stdout line that is not an event (usually the trainer's error), or why it could not start."""

    line: str


@dataclass(frozen=True)
class Exited:
    """The trainer exited with CODE, or never started (None: cancelled first, or it could not)."""

    code: int | None
    stderr: list[str] = field(default_factory=list)


Report = Launched | Event | Output | Exited


class TrainingRun:
    """One run of ARGV: its phase, whether a cancel was asked for, and what went wrong."""

    def __init__(self, argv: Sequence[str], epochs: int = 0,
                 spawn: Callable[[list[str]], TrainerProcess] = TrainerProcess) -> None:
        self.argv = list(argv)
        self.epochs = epochs  # the last epoch's end starts the export (`start` events may say otherwise)
        self.phase = Phase.IDLE
        self.cancel_requested = False
        self.process: TrainerProcess | None = None
        self.code: int | None = None
        self.problems: deque[str] = deque(maxlen=12)  # lines that say what went wrong, newest last
        self.stderr: list[str] = []
        self._spawn = spawn
        self._lock = threading.Lock()  # cancel (UI thread) against launch (the worker)

    # --- the UI thread's side -----------------------------------------------------------------------

    def start(self) -> None:
        """idle → starting."""
        with self._lock:
            if self.phase is not Phase.IDLE:
                raise InvalidTransition(f"start from {self.phase.value}")
            self.phase = Phase.STARTING

    def cancel(self) -> TrainerProcess | None:
        """Ask an active run to stop. Returns the process to signal; None if there is none yet (it
        will never be started) or nothing to cancel (the run is over, or a cancel was already asked)."""
        with self._lock:
            if not self.phase.active or self.cancel_requested:
                return None
            self.cancel_requested = True
            return self.process

    @property
    def cancelling(self) -> bool:
        """A cancel was asked for and the run has not ended yet."""
        return self.cancel_requested and self.phase.active

    def apply(self, report: Report) -> Phase:
        """Take one of `execute`'s reports; returns the phase after it."""
        with self._lock:
            if isinstance(report, Event):
                self._event(report.event)
            elif isinstance(report, Output):
                self.problems.append(report.line)
            elif isinstance(report, Exited):
                self._exited(report)
            return self.phase

    def _event(self, event: dict[str, Any]) -> None:
        if not self.phase.active:
            return  # a late line after the end changes nothing
        kind = event.get("event")
        if kind == "start":  # `dl-train all`: each model starts again
            self.phase = Phase.RUNNING
            self.epochs = int(event.get("epochs", self.epochs) or self.epochs)
        elif kind == "epoch_end" and self.phase is Phase.RUNNING:
            epochs = int(event.get("epochs", self.epochs) or self.epochs)
            if epochs and int(event.get("epoch", 0)) >= epochs:
                self.phase = Phase.EXPORTING
        elif kind == "export":
            self.phase = Phase.EXPORTING
        elif kind == "error" and not self.cancel_requested:  # not the trainer's answer to our SIGINT
            self.problems.append(str(event.get("message", "")))

    def _exited(self, report: Exited) -> None:
        if self.phase.over:
            return
        if not self.phase.active:
            raise InvalidTransition(f"exit from {self.phase.value}")
        self.code, self.stderr = report.code, list(report.stderr)
        if self.cancel_requested:
            self.phase = Phase.CANCELLED
        elif report.code == 0:
            self.phase = Phase.DONE  # with problems: finished, but it printed lines that are not events
        else:
            self.phase = Phase.FAILED

    def label(self, live: str) -> str:
        """The status line's word for the run; LIVE is what the events said last ("training",
        "testing and exporting…", "done"), kept while the run goes on by itself."""
        if self.phase is Phase.CANCELLED:
            return "cancelled"
        if self.phase is Phase.FAILED:
            return "failed"
        if self.phase is Phase.DONE:
            return "finished, with output that is not an event" if self.problems else "finished"
        if self.cancelling:
            return "cancelling"
        if self.phase is Phase.STARTING:
            return "starting"
        return live

    # --- the worker's side --------------------------------------------------------------------------

    def launch(self) -> TrainerProcess | None:
        """Start the trainer, unless a cancel came first (then never). OSError if it cannot start."""
        with self._lock:
            if self.cancel_requested or self.phase is not Phase.STARTING:
                return None
            self.process = self._spawn(self.argv)
            return self.process

    def execute(self, prepare: Callable[[], Sequence[str] | None], report: Callable[[Report], None]) -> None:
        """The worker's whole part: PREPARE (the staging folder; it may return the command line, if it
        was not known before), start the trainer, REPORT each line as it comes and then the exit.
        Blocks until the trainer exits; runs on a thread."""
        try:
            if not self.cancel_requested:
                argv = prepare()
                if argv:
                    self.argv = list(argv)
        except (OSError, NotStarted) as error:
            report(Output(one_line(error)))
            return report(Exited(None))
        try:
            process = self.launch()
        except OSError as error:
            report(Output(f"cannot start {self.argv[0]}: {one_line(error)}"))
            return report(Exited(None))
        if process is None:  # cancelled while starting
            return report(Exited(None))
        report(Launched(self.argv))
        for line in process.lines():
            try:
                report(Event(parse_event(line)))
            except NotAnEvent:
                report(Output(line.rstrip()))
        code = process.wait()
        report(Exited(code, list(process.stderr_tail)))
