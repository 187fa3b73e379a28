"""Classify: browse images, see each one beside the 28x28 input the models get, and their probability bars."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, Select, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from tui.contract import probability_problem
from tui.paths import describe_folders
from tui.runtime import ImageError, ModelInfo, load_image, to_model_input
from tui.runtime.choices import POLARITIES
from tui.runtime.display import decode, display_copy
from tui.runtime.errors import UnusableModel
from tui.runtime.preprocessing import BLACK_ON_WHITE
from tui.screens.base import AppScreen
from tui.text import clean, one_line, plain
from tui.widgets.file_browser import ImageTree, first_image
from tui.widgets.iris_pane import IrisPane
from tui.widgets.picture import from_array, picture
from tui.widgets.bar_columns import BarColumns

COMPARE = "compare"
IMAGES_TAB, IRIS_TAB = "images-tab", "iris-tab"
BLANK_RGB = (24, 24, 24)


class ClassifyScreen(AppScreen):
    """A file browser, the picture and its model input, and what each digit model thinks."""

    BINDINGS = [
        Binding("c", "compare", "Compare", tooltip="Show every digit model side by side", id="classify.compare"),
        Binding("p", "polarity", "Polarity", tooltip="Cycle polarity: auto, keep, invert", id="classify.polarity"),
        Binding("n", "normalize", "Normalise", tooltip="Toggle MNIST-style cropping and centring",
                id="classify.normalize"),
        # One key, two bindings: check_action keeps the one for the tab not shown.
        Binding("i", f"tab('{IRIS_TAB}')", "Iris", tooltip="Show the iris form", id="classify.iris"),
        Binding("i", f"tab('{IMAGES_TAB}')", "Images", tooltip="Back to the images", id="classify.images"),
    ]
    # Keys that only mean something beside the pictures.
    IMAGE_ACTIONS = {"compare", "polarity", "normalize"}

    @dataclass
    class ModelsFound(Message):
        """The digit classifiers in the models folder, and lines for those that failed to load."""

        models: list[ModelInfo]
        errors: list[str]

    @dataclass
    class Classified(Message):
        """An image and every selected model's probabilities (or error line) for it."""

        path: Path
        shown: PILImage.Image
        model_input: np.ndarray
        results: dict[str, np.ndarray | str]
        flagged: dict[str, bool] = field(default_factory=dict)  # models whose OOD check flags it

    @dataclass
    class Failed(Message):
        """An image that could not be read, and why in one line."""

        path: Path
        error: str

    def __init__(self) -> None:
        super().__init__()
        self.models: list[ModelInfo] = []
        self.model = COMPARE
        self.polarity = "auto"
        self.normalize = True
        self.current: Path | None = None
        self._input: np.ndarray | None = None
        self._first: Path | None = None
        self._last_size = (28, 28)

    def compose(self) -> ComposeResult:
        """Tabs for images and iris; the image tab is browser, pictures and bars."""
        start = self.dl_app.start_path
        # The picture shown first is also where the tree's cursor starts.
        self._first = start if start.is_file() else first_image(start)
        yield Header()
        with TabbedContent(initial=IMAGES_TAB):
            with TabPane("Images", id=IMAGES_TAB):
                with Horizontal():
                    yield ImageTree(start if start.is_dir() else start.parent, select=self._first, id="browser")
                    with Vertical(id="pictures"):
                        yield picture(self.dl_app.graphics, id="original")
                        yield picture(self.dl_app.graphics, id="model-input")
                        yield Static("", id="preprocess-info")
                    with VerticalScroll(id="predictions"):
                        yield Select([], prompt="Model", allow_blank=True, id="model-select")
                        notes = Static("", id="model-notes")  # the models left out, and why; hidden while none
                        notes.display = False
                        yield notes
                        yield Static("", id="file-error")
                        yield BarColumns(id="bars", one_key="c")
            with TabPane("Iris", id=IRIS_TAB):
                yield IrisPane(self.runtime, id="iris")
        yield Footer()

    def on_mount(self) -> None:
        """Name the pictures and open the start file, or the folder's first image."""
        self.query_one("#original").border_title = "image"
        self.query_one("#model-input").border_title = "model input 28×28"
        self._show_settings()
        if self._first is not None:
            self.open(self._first)
        self.query_one(ImageTree).focus()

    def models_changed(self) -> None:
        """Find the digit classifiers again (first show, or after training)."""
        self.load_models()
        self.query_one(IrisPane).models_changed()

    @work(thread=True, exclusive=True, group="classify-models", exit_on_error=False)
    def load_models(self) -> None:
        """Read every model's metadata off the UI thread (the first read opens its session)."""
        found, errors = [], []
        for name in self.runtime.available():
            try:
                info = self.runtime.info(name)
            except UnusableModel as error:  # off the contract: left out, and the notes say why
                errors.append(f"skipped model {name}, unusable: {one_line(error.reason)}")
                continue
            except Exception as error:  # one broken file must not hide the others
                errors.append(f"skipped model {name}: {one_line(error)}")
                continue
            if info.is_image_classifier:
                found.append(info)
        self.post_message(self.ModelsFound(found, errors))

    @on(ModelsFound)
    async def _models_found(self, event: ModelsFound) -> None:
        """Offer the models, one bar column each, and classify the current image again."""
        self.models = event.models
        notes = self.query_one("#model-notes", Static)
        notes.update(Text("\n").join(plain(f"⚠ {error}", "yellow") for error in event.errors))
        notes.display = bool(event.errors)
        select = self.query_one("#model-select", Select)
        options = [(plain(info.name), info.name) for info in self.models]
        if len(self.models) > 1:
            options.append(("all side by side", COMPARE))
        names = [value for _, value in options]
        if self.model not in names:
            self.model = "cnn" if "cnn" in names else (names[0] if names else COMPARE)
        with select.prevent(Select.Changed):
            select.set_options(options)
            if names:
                select.value = self.model
        await self.query_one(BarColumns).set_models([info.name for info in self.models],
                                                    f"no digit classifier in {describe_folders(self.runtime.folders)}")
        self.refresh_bindings()
        if not self.models:
            return
        self._show_columns()
        if self.current is not None:
            self.open(self.current)

    def _show_columns(self) -> None:
        self.query_one(BarColumns).show_only(None if self.model == COMPARE else self.model)

    def on_resize(self) -> None:
        """The terminal's size changed: fit the bar columns again once laid out."""
        self.call_after_refresh(self.query_one(BarColumns).fit)

    @on(ImageTree.ImageHighlighted)
    def _highlighted(self, event: ImageTree.ImageHighlighted) -> None:
        """Classify the image under the tree's cursor (unless it is already shown)."""
        if event.path != self.current:
            self.open(event.path)

    def open(self, path: Path) -> None:
        """Show and classify one image file."""
        self.current = path
        self.query_one("#original").border_title = plain(path.name)
        if self.models:
            self.classify(path, [info.name for info in self.models], self.polarity, self.normalize)

    @work(thread=True, exclusive=True, group="classify", exit_on_error=False)
    def classify(self, path: Path, names: list[str], polarity: str, normalize: bool) -> None:
        """Read, preprocess and run every digit model; the result comes back as a message.
        One picture is decoded at a time; moving on gives up this one's decoding, or its wait."""
        worker = get_current_worker()
        limit = self.dl_app.max_file_size

        def cancelled() -> bool:
            return worker.is_cancelled

        def pictures() -> tuple[np.ndarray, PILImage.Image]:
            grey = load_image(path, limit, cancelled)
            model_input = to_model_input(grey, polarity=polarity, normalize=normalize)
            return model_input, display_copy(path, grey, limit, cancelled)

        try:
            decoded = decode(pictures, cancelled)
        except ImageError as error:
            if not worker.is_cancelled:
                self.post_message(self.Failed(path, one_line(error)))
            return
        if decoded is None or worker.is_cancelled:
            return
        model_input, shown = decoded
        results: dict[str, np.ndarray | str] = {}
        flagged: dict[str, bool] = {}
        for name in names:
            try:
                probs, ood = self.runtime.predict_ood(name, model_input[None])
                results[name] = probability_problem(probs[0].tolist()) or probs[0]
                if ood is not None:
                    flagged[name] = bool(ood.flags[0])
            except Exception as error:  # a model that fails shows its error in its own column
                results[name] = one_line(error) or type(error).__name__
        # A newer image was chosen while this one ran: its result would flash the wrong picture.
        if not worker.is_cancelled:
            self.post_message(self.Classified(path, shown, model_input, results, flagged))

    @on(Classified)
    def _classified(self, event: Classified) -> None:
        """Show the picture, its model input and each model's bars."""
        if event.path != self.current:
            return
        self.query_one("#original").image = event.shown
        self._last_size = event.shown.size
        self.query_one("#predictions").remove_class("-failed")  # BarColumns fits itself when shown
        self._input = event.model_input
        self.dl_app.latent_inputs["classify"] = (event.path.name, event.model_input)  # marked on the latent map
        self._show_input()
        self.query_one(BarColumns).show({info.name: info.labels for info in self.models}, event.results,
                                        event.flagged)

    @on(Failed)
    def _failed(self, event: Failed) -> None:
        """Say once why the file cannot be read, where the bars were, and blank the pictures."""
        if event.path != self.current:
            return
        # A blank of the last picture's size: an empty frame keeps the layout still while browsing.
        self.query_one("#original").image = PILImage.new("RGB", self._last_size, BLANK_RGB)
        self.query_one("#model-input").image = None
        self._input = None
        self.query_one("#file-error", Static).update(Content(f"⚠ {clean(event.path.name)}: {event.error}"))
        self.query_one("#predictions").add_class("-failed")

    def _show_input(self) -> None:
        """The 28x28 the selected model receives: binarised for the VAE models, inverted for a
        black-on-white one (all side by side: what every model starts from)."""
        if self._input is None:
            return
        prep = next((info.preprocessing for info in self.models if info.name == self.model), None)
        picture = self.query_one("#model-input")
        picture.image = from_array(self._input if prep is None else prep.model_view(self._input))
        notes = [] if prep is None else [note for note, shown in (
            ("inverted", prep.polarity == BLACK_ON_WHITE), ("binarised", prep.binarize is not None)) if shown]
        picture.border_title = " ".join(["model input 28×28", *notes])

    def _show_settings(self) -> None:
        norm = "on" if self.normalize else "off"
        self.query_one("#preprocess-info", Static).update(
            f"polarity [b]{self.polarity}[/b] (p) · MNIST centring [b]{norm}[/b] (n)")

    @on(Select.Changed, "#model-select")
    def _model_selected(self, event: Select.Changed) -> None:
        """Show the chosen model's bars, or every model's."""
        if event.value is not Select.BLANK:
            self.select_model(str(event.value))

    def action_select_model(self, name: str) -> None:
        """Show the images with one model's bars (or COMPARE for all): the command palette's "Classify with"."""
        if self.query_one(TabbedContent).active != IMAGES_TAB:
            self.action_tab(IMAGES_TAB)
        self.select_model(name)

    def select_model(self, name: str) -> None:
        """Use one model (or COMPARE for all)."""
        offered = [info.name for info in self.models] + ([COMPARE] if len(self.models) > 1 else [])
        if name not in offered:
            self.notify(f"{clean(name)} is not a digit classifier here", severity="warning", markup=False)
            return
        self.model = name
        select = self.query_one("#model-select", Select)
        if select.value != name:
            with select.prevent(Select.Changed):
                select.value = name
        self._show_columns()
        self._show_input()

    def action_compare(self) -> None:
        """Toggle between one model and all side by side."""
        if self.model == COMPARE and self.models:
            self.select_model("cnn" if any(m.name == "cnn" for m in self.models) else self.models[0].name)
        elif len(self.models) > 1:
            self.select_model(COMPARE)

    def action_polarity(self) -> None:
        """Cycle how the image's polarity is handled, then classify again."""
        self.polarity = POLARITIES[(POLARITIES.index(self.polarity) + 1) % len(POLARITIES)]
        self._show_settings()
        if self.current is not None:
            self.open(self.current)

    def action_normalize(self) -> None:
        """Toggle MNIST-style centring (off: the notebook's plain squeeze to 28x28)."""
        self.normalize = not self.normalize
        self._show_settings()
        if self.current is not None:
            self.open(self.current)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Image keys only beside the images; Compare greyed with one model; `i` names the other tab."""
        active = self.query_one(TabbedContent).active
        if action in self.IMAGE_ACTIONS and active != IMAGES_TAB:
            return False
        if action == "compare":
            return len(self.models) > 1 or None
        if action == "tab":
            return parameters[0] != active
        return True

    def action_tab(self, pane: str) -> None:
        """Show a tab."""
        # Hidden with focus inside, the tree would hand focus to a visible neighbour in its own
        # pane, and focusing a pane's widget makes TabbedContent show that pane again.
        self.set_focus(None)
        self.query_one(TabbedContent).active = pane

    @on(TabbedContent.TabActivated)
    def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        """Keys go to the pane now shown: the tree, or the first iris field."""
        if event.pane.id == IMAGES_TAB:
            self.query_one(ImageTree).focus()
        else:
            self.query_one(IrisPane).focus_first()
        self.refresh_bindings()
