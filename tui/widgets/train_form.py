"""The training options: which model, how many epochs, --invert, --restart; start, cancel, play back."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Label, Select

from tui.trainer_client import INVERT_MODELS, MNIST_MODELS, TRAINABLE, TrainOptions
from tui.widgets.checkbox import Check

DEFAULT_EPOCHS = 10


class TrainForm(VerticalScroll):
    """The left column of the Train screen; options a model does not take are hidden."""

    # Inputs keep printable keys for themselves: Escape hands the screen's keys back.
    BINDINGS = [Binding("escape", "leave_field", "Leave field", show=False)]

    @dataclass
    class StartRequested(Message):
        """The user asked for a training run."""

        options: TrainOptions

    class CancelRequested(Message):
        """The user asked to stop the running trainer."""

    @dataclass
    class PlaybackRequested(Message):
        """The user asked to replay a shipped model's recorded history."""

        options: TrainOptions

    def __init__(self, can_train: bool, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.can_train = can_train

    def compose(self) -> ComposeResult:
        """Fields and buttons."""
        yield Label("Model")
        yield Select([(name, name) for name in TRAINABLE], value="cnn", allow_blank=False, id="train-model")
        yield Label("Epochs")
        yield Input(str(DEFAULT_EPOCHS), placeholder=f"{DEFAULT_EPOCHS} (the notebook's)", type="integer",
                    id="train-epochs")
        invert = Check("--invert", id="train-invert")
        invert.tooltip = "CNN only: train and validate on the digits and their inverses"
        yield invert
        yield Label("MNIST data (optional)", id="train-data-label")
        data = Input(placeholder="mnist.npz or IDX folder", id="train-data")
        data.tooltip = "--data: use this file or folder instead of downloading MNIST"
        yield data
        restart = Check("--restart", id="train-restart")
        restart.tooltip = "Start from scratch instead of resuming an interrupted run"
        yield restart
        yield Button("Start", variant="primary", id="train-start", disabled=not self.can_train)
        yield Button("Cancel", variant="error", id="train-cancel", disabled=True)
        yield Button("Play back history", id="train-playback")

    def options(self) -> TrainOptions:
        """The current choices; a bad epoch count falls back to the default."""
        try:
            epochs = max(1, int(self.query_one("#train-epochs", Input).value))
        except ValueError:
            epochs = DEFAULT_EPOCHS
        return TrainOptions(
            model=str(self.query_one("#train-model", Select).value),
            epochs=epochs,
            invert=self.query_one("#train-invert", Checkbox).value,
            restart=self.query_one("#train-restart", Checkbox).value,
            data=self.query_one("#train-data", Input).value.strip(),
        )

    def on_mount(self) -> None:
        """Show only the options the first model takes."""
        self._show_options(self.options().model)

    def set_running(self, running: bool) -> None:
        """Lock the options while a trainer runs."""
        for selector in ("#train-model", "#train-epochs", "#train-invert", "#train-data", "#train-restart",
                         "#train-playback"):
            self.query_one(selector).disabled = running
        self.query_one("#train-start", Button).disabled = running or not self.can_train
        self.query_one("#train-cancel", Button).disabled = not running

    @on(Select.Changed, "#train-model")
    def _model_changed(self, event: Select.Changed) -> None:
        """Show the options this model takes."""
        self._show_options(str(event.value))

    def _show_options(self, model: str) -> None:
        self.query_one("#train-invert").display = model in INVERT_MODELS
        for selector in ("#train-data-label", "#train-data"):
            self.query_one(selector).display = model in MNIST_MODELS

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape is ours only inside a text field; elsewhere it goes on to the screen and app."""
        if action == "leave_field":
            return isinstance(self.screen.focused, Input)
        return True

    def action_leave_field(self) -> None:
        """Leave the text field, so `s`, `h` and the screen keys work again."""
        self.screen.set_focus(None)

    @on(Button.Pressed, "#train-start")
    def _start(self) -> None:
        """Ask the screen to start a run."""
        self.post_message(self.StartRequested(self.options()))

    @on(Button.Pressed, "#train-cancel")
    def _cancel(self) -> None:
        """Ask the screen to stop the run."""
        self.post_message(self.CancelRequested())

    @on(Button.Pressed, "#train-playback")
    def _playback(self) -> None:
        """Ask the screen to replay the recorded history."""
        self.post_message(self.PlaybackRequested(self.options()))
