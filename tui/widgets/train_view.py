"""What a training run looks like: epoch and batch bars, loss and accuracy curves (over the
run it would replace), a log and errors."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, RichLog, Static

from tui.curves import SMOOTHINGS
from tui.text import clean, plain
from tui.trainer_client import TrainingState
from tui.widgets.chart import Line, LineChart

TRAIN_COLOR, VAL_COLOR = "dodger_blue1", "dark_orange"
PREVIOUS_TRAIN_COLOR, PREVIOUS_VAL_COLOR = "grey42", "grey62"


class TrainLog(RichLog):
    """The run's log: lines wrap at the log's width, and wrap again when it changes."""

    MAX_LINES = 500

    def __init__(self, *, id: str | None = None) -> None:
        # min_width 1: RichLog's default (78) renders wider than a narrow log and cuts the lines off.
        super().__init__(id=id, markup=False, wrap=True, min_width=1, max_lines=self.MAX_LINES)
        self.texts: deque[str] = deque(maxlen=self.MAX_LINES)
        self._wrapped_at = 0

    def add(self, line: str) -> None:
        """Append one line, shown literally."""
        self.texts.append(line)
        self.write(line)

    def on_resize(self, event: events.Resize) -> None:
        """Wrap every line again at the new width (RichLog keeps them as first wrapped)."""
        width = self.scrollable_content_region.width
        if self._wrapped_at and width != self._wrapped_at and self.texts:
            self.clear()
            for line in self.texts:
                self.write(line)
        self._wrapped_at = width


class TrainView(Vertical):
    """Draws a TrainingState; the screen feeds it events and lines."""

    DEFAULT_CSS = """
    TrainView { padding: 0 1; }
    #train-status { height: 1; margin-bottom: 1; }
    .bar-row { height: 1; }
    .bar-label { width: 7; }
    .bar-count { width: 12; padding-left: 1; }
    TrainView ProgressBar Bar { width: 1fr; }
    TrainView ProgressBar { width: 1fr; }
    #charts { height: 12; margin-top: 1; }
    #charts LineChart { width: 1fr; height: 100%; border: round $primary 50%; }
    #train-errors { height: auto; max-height: 14; border: round $error; padding: 0 1; }
    #train-log { height: 1fr; border: round $secondary 50%; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.previous: list[dict[str, Any]] = []  # the recorded run of the model being retrained
        self.state = TrainingState()

    def compose(self) -> ComposeResult:
        """Bars, charts, log and the error panel (hidden until needed)."""
        yield Static("", id="train-status")
        with Horizontal(classes="bar-row"):
            yield Label("Epoch", classes="bar-label")
            # A total from the start: a bar without one animates forever and keeps the CPU awake.
            yield ProgressBar(total=1, show_eta=False, id="epoch-bar")
            yield Label("", id="epoch-count", classes="bar-count")
        with Horizontal(classes="bar-row"):
            yield Label("Batch", classes="bar-label")
            yield ProgressBar(total=1, show_eta=False, id="batch-bar")
            yield Label("", id="batch-count", classes="bar-count")
        with Horizontal(id="charts"):
            yield LineChart("loss", id="loss-chart")
            yield LineChart("accuracy", id="accuracy-chart")
        yield Static("", id="train-errors")
        yield TrainLog(id="train-log")

    def charts(self) -> list[LineChart]:
        """The loss chart and the accuracy (or ELBO) chart."""
        return list(self.query(LineChart))

    def cycle_smoothing(self) -> float:
        """The next smoothing of the batch curves (off, 0.6, 0.9); returns it."""
        charts = self.charts()
        weight = SMOOTHINGS[(SMOOTHINGS.index(charts[0].smoothing) + 1) % len(SMOOTHINGS)]
        for chart in charts:
            chart.smoothing = weight
        return weight

    def toggle_log(self) -> bool:
        """Log scale on or off for the loss (where its values allow it); returns it. Accuracy, bounded
        by 0 and 1 and read near 1, stays linear, as does an ELBO."""
        chart = self.query_one("#loss-chart", LineChart)
        chart.log_y = not chart.log_y
        return chart.log_y

    def show_previous(self, history: list[dict[str, Any]]) -> None:
        """Draw a recorded run (the model a new run would replace) faintly under the curves."""
        self.previous = history
        self.draw(self.state)

    def _previous_lines(self, train_key: str, val_key: str) -> list[Line]:
        rows = [row for row in self.previous if isinstance(row.get("epoch"), (int, float))]
        lines = []
        # One legend entry for both: the legend has room for four names at most.
        for key, color, name in ((train_key, PREVIOUS_TRAIN_COLOR, "previous train"),
                                 (val_key, PREVIOUS_VAL_COLOR, "previous validation")):
            points = [(row["epoch"], row[key]) for row in rows if isinstance(row.get(key), (int, float))]
            if points:
                xs, ys = zip(*points, strict=False)
                lines.append(Line(name, xs, ys, color, legend=key == val_key))
        return lines

    def draw(self, state: TrainingState) -> None:
        """Bring the bars, counts and curves up to date with the state."""
        self.state = state
        epochs, steps = max(state.epochs, 1), max(state.steps, 1)
        # The running epoch's share too: "1/2" beside 0% would read as stuck.
        self.query_one("#epoch-bar", ProgressBar).update(total=epochs, progress=state.epochs_done)
        self.query_one("#batch-bar", ProgressBar).update(total=steps, progress=state.step)
        self.query_one("#epoch-count", Label).update(f"{state.epoch}/{state.epochs}")
        self.query_one("#batch-count", Label).update(f"{state.step}/{state.steps}")
        model = clean(state.model) or "no model"
        self.query_one("#train-status", Static).update(Text.assemble((model, "bold"), " · ", plain(state.status)))
        x_max = max(state.epochs, len(self.previous), 1)
        self.query_one("#loss-chart", LineChart).plot(
            [*self._previous_lines("loss", "val_loss"),
             Line("train", state.loss.xs, state.loss.ys, TRAIN_COLOR, smoothable=True),
             Line("validation", state.val_loss.xs, state.val_loss.ys, VAL_COLOR)], x_max)
        second = self.query_one("#accuracy-chart", LineChart)
        second.title = state.metric_name
        second.plot(
            [*self._previous_lines(state.metric_name, f"val_{state.metric_name}"),
             Line("train", state.metric.xs, state.metric.ys, TRAIN_COLOR, smoothable=True),
             Line("validation", state.val_metric.xs, state.val_metric.ys, VAL_COLOR)], x_max)

    def log_line(self, line: str) -> None:
        """Append one line to the log, shown literally."""
        if line:
            self.query_one(TrainLog).add(clean(line))

    def show_errors(self, title: str, lines: Sequence[str]) -> None:
        """Show the trainer's last error lines in place, or hide the panel when there are none."""
        panel = self.query_one("#train-errors", Static)
        panel.display = bool(title)
        body = "\n".join(clean(line) for line in lines[-12:])
        panel.update(Text.assemble((clean(title), "bold"), "\n", body) if title else "")
