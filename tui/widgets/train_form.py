"""The training options: which model, how many epochs, --invert, --restart; start, cancel, play back.

The models, their default epochs and which options each takes come from `dl-train models` (asked
once, on a worker): until it answers, the form has no model list, and a Start then runs dl-train's
default model with the epochs typed, or its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Label, Select

from tui.trainer_client import FOLDER, Trainables, TrainOptions, default_name
from tui.widgets.checkbox import Check

# The fields that show only for the models whose `options` name them (in `dl-train models`).
OPTION_FIELDS = {"epochs": ("#train-epochs-label", "#train-epochs"), "invert": ("#train-invert",),
                 "data": ("#train-data-label", "#train-data"), "restart": ("#train-restart",),
                 "folder": ("#train-folder-label", "#train-folder", "#train-browse", "#train-name-label", "#train-name")}
# What a run on a folder takes (`dl-train folder DIR --name NAME`).
FOLDER_OPTIONS = ("folder", "epochs", "restart")
FOLDER_TITLE = "your images (a folder)"
AUTO_EPOCHS = "auto (early stopping)"


class TrainForm(VerticalScroll):
    """The left column of the Train screen; options a model does not take are hidden."""

    DEFAULT_CSS = """
    TrainForm { width: 36; padding: 0 1; border-right: vkey $primary 50%; }
    TrainForm Select, TrainForm Input, TrainForm Button { width: 100%; }
    TrainForm Button { margin-top: 1; }
    TrainForm Checkbox { margin-top: 1; }
    """

    # Inputs keep printable keys for themselves: Escape hands the screen's keys back.
    BINDINGS: ClassVar = [Binding("escape", "leave_field", "Leave field", show=False)]

    @dataclass
    class StartRequested(Message):
        """The user asked for a training run."""

        options: TrainOptions

    class CancelRequested(Message):
        """The user asked to stop the running trainer."""

    class BrowseRequested(Message):
        """The user asked to pick the folder to train on with the browser."""

    @dataclass
    class PlaybackRequested(Message):
        """The user asked to replay a shipped model's recorded history."""

        options: TrainOptions

    def __init__(self, can_train: bool, trainables: Trainables | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.can_train = can_train
        self.trainables = trainables  # None: not known yet, or dl-train cannot say (then playback only)
        self._first = ""  # the model the Select shows first

    def compose(self) -> ComposeResult:
        """Fields and buttons."""
        yield Label("Model", id="train-model-label")
        if self.trainables is not None:
            yield self._select(self.trainables.names(), self.trainables.default)
        epochs = str(self.trainables.get("").epochs) if self.trainables is not None else ""
        yield Label("Epochs", id="train-epochs-label")
        yield Input(epochs, placeholder=f"{epochs} (the notebook's)" if epochs else "", type="integer",
                    id="train-epochs")
        invert = Check("--invert", id="train-invert")
        invert.tooltip = "CNN only: train and validate on the digits and their inverses"
        yield invert
        yield Label("MNIST data (optional)", id="train-data-label")
        data = Input(placeholder="mnist.npz or IDX folder", id="train-data")
        data.tooltip = "--data: use this file or folder instead of downloading MNIST"
        yield data
        yield Label("Folder of images", id="train-folder-label")
        folder = Input(placeholder="DIR/<class>/... or DIR/train|val|test/<class>", id="train-folder")
        folder.tooltip = ("dl-train folder DIR: one subfolder a class (or train/val/test folders of them); b or "
                          "Browse picks it, and dl-train check reports on it first")
        yield folder
        yield Button("Browse…", id="train-browse")
        yield Label("Model name", id="train-name-label")
        name = Input(placeholder="letters, digits, - and _", id="train-name")
        name.tooltip = "--name: the model file dl-train writes (NAME.onnx)"
        yield name
        restart = Check("--restart", id="train-restart")
        restart.tooltip = "Start from scratch instead of resuming an interrupted run"
        yield restart
        yield Button("Start", variant="primary", id="train-start", disabled=not self.can_train)
        yield Button("Cancel", variant="error", id="train-cancel", disabled=True)
        yield Button("Play back history", id="train-playback")

    def _select(self, names: Sequence[str], value: str) -> Select[str]:
        self._first = value
        options = [(FOLDER_TITLE if name == FOLDER else name, name) for name in names]
        if self.trainables is not None and FOLDER not in names:  # dl-train's own list may not name it
            options.append((FOLDER_TITLE, FOLDER))
        return Select(options, value=value, allow_blank=False, id="train-model")

    def set_trainables(self, trainables: Trainables | None, playable: Sequence[str] = ()) -> None:
        """dl-train's models have come (or None: it cannot say; then PLAYABLE, the models whose
        recorded history can be replayed, and only the playback)."""
        self.trainables = trainables
        if not self.query("#train-model"):
            names = trainables.names() if trainables is not None else list(playable)
            if names:
                self.mount(self._select(names, names[0]), after="#train-model-label")
            if trainables is not None:
                epochs = str(trainables.get("").epochs)
                field = self.query_one("#train-epochs", Input)
                field.placeholder = f"{epochs} (the notebook's)"
                if not field.value:
                    field.value = epochs
        if trainables is None:
            self.query_one("#train-start", Button).disabled = True
        self._show_options(self.options().model)

    def options(self) -> TrainOptions:
        """The current choices; model "" before dl-train's models are known, epochs 0 for the model's own
        (a bad or missing count)."""
        try:
            epochs = max(1, int(self.query_one("#train-epochs", Input).value))
        except ValueError:
            epochs = 0
        selects = self.query("#train-model").results(Select)
        select = next(selects, None)
        # Just mounted, a Select is blank until its first refresh: its first name is the one it shows.
        model = "" if select is None else self._first if select.is_blank() else str(select.value)
        if model == FOLDER:
            folder = self.query_one("#train-folder", Input).value.strip()
            name = self.query_one("#train-name", Input).value.strip() or (default_name(folder) if folder else "")
            return TrainOptions(model=FOLDER, epochs=epochs, restart=self.query_one("#train-restart", Checkbox).value,
                                folder=folder, name=name)
        return TrainOptions(
            model=model,
            epochs=epochs,
            invert=self.query_one("#train-invert", Checkbox).value,
            restart=self.query_one("#train-restart", Checkbox).value,
            data=self.query_one("#train-data", Input).value.strip(),
        )

    def set_folder(self, folder: str) -> None:
        """Train on FOLDER (picked with the browser); the model is named after it unless a name was typed."""
        self.query_one("#train-folder", Input).value = folder
        name = self.query_one("#train-name", Input)
        if not name.value.strip():
            name.value = default_name(folder)

    def on_mount(self) -> None:
        """Show only the options the first model takes."""
        self._show_options(self.options().model)

    def set_running(self, running: bool) -> None:
        """Lock the options while a trainer runs."""
        for selector in ("#train-model", "#train-epochs", "#train-invert", "#train-data", "#train-restart",
                         "#train-playback", "#train-folder", "#train-browse", "#train-name"):
            self.query_one(selector).disabled = running
        self.query_one("#train-start", Button).disabled = running or not self.can_train or not self._known()
        self.query_one("#train-cancel", Button).disabled = not running

    @on(Select.Changed, "#train-model")
    def _model_changed(self, event: Select.Changed) -> None:
        """Show the options this model takes, and its default epochs (unless the count was changed)."""
        if self.trainables is not None:
            field = self.query_one("#train-epochs", Input)
            # A folder's run stops early by itself: no count unless one is typed.
            epochs = "" if event.value == FOLDER else str(self.trainables.get(str(event.value)).epochs)
            if field.value == field.placeholder.split(" ")[0] or (field.placeholder == AUTO_EPOCHS and not field.value):
                field.value = epochs
            field.placeholder = AUTO_EPOCHS if event.value == FOLDER else f"{epochs} (the notebook's)"
        self._show_options(str(event.value))

    def _known(self) -> bool:
        # Before dl-train answers, Start runs its default model; after a failed answer, nothing.
        return self.trainables is not None or not self.query("#train-model")

    def _show_options(self, model: str) -> None:
        spec = self.trainables.get(model) if self.trainables is not None and model else None
        for option, selectors in OPTION_FIELDS.items():
            # Until dl-train answers, the fields every model takes (epochs, restart) show.
            shown = option in FOLDER_OPTIONS if model == FOLDER else spec.takes(option) if spec is not None else (
                self.trainables is None and not self.query("#train-model") and option in ("epochs", "restart"))
            for selector in selectors:
                self.query_one(selector).display = shown

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

    @on(Button.Pressed, "#train-browse")
    def _browse(self) -> None:
        """Ask the screen for the folder browser."""
        self.post_message(self.BrowseRequested())

    @on(Button.Pressed, "#train-cancel")
    def _cancel(self) -> None:
        """Ask the screen to stop the run."""
        self.post_message(self.CancelRequested())

    @on(Button.Pressed, "#train-playback")
    def _playback(self) -> None:
        """Ask the screen to replay the recorded history."""
        self.post_message(self.PlaybackRequested(self.options()))
